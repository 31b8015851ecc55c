-- Intended decisions per service.
SELECT service, decision, count(*) AS n
FROM decisions
WHERE service IS NOT NULL
GROUP BY service, decision
ORDER BY service, decision
