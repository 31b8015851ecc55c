-- Deny rate per tool, for tools with at least 10 decisions.
SELECT tool_name,
       count(*) AS decisions,
       sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS denies,
       round(100.0 * sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) / count(*), 1) AS deny_pct
FROM decisions
WHERE tool_name IS NOT NULL
GROUP BY tool_name
HAVING count(*) >= 10
ORDER BY deny_pct DESC, tool_name
