-- Window functions: the gap before each blocking decision in the incident session.
SELECT idx, service, decision,
       CAST(ts AS BIGINT) - lag(CAST(ts AS BIGINT)) OVER (ORDER BY idx) AS gap_us
FROM decisions
WHERE session_id = '2025-10-20-007'
ORDER BY idx
LIMIT 40
