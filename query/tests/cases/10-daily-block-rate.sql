-- Daily block rate of BashCommandValidator (date_trunc over the typed timestamp).
SELECT date_trunc('day', ts) AS day, count(*) AS validations,
       sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS blocks
FROM decisions
WHERE service = 'BashCommandValidator'
GROUP BY date_trunc('day', ts)
ORDER BY day
LIMIT 5
