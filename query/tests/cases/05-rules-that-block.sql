-- Rules named by blocking decisions (one row per rule id, from the rule_hits view).
SELECT rule_id, count(DISTINCT idx) AS blocking_decisions, min(ts) AS first_seen
FROM rule_hits
WHERE decision IN ('deny', 'ask', 'escalate')
GROUP BY rule_id
ORDER BY blocking_decisions DESC, rule_id
