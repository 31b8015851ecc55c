-- The sessions view: the five sessions with most decisions.
SELECT session_id, decisions, denies, asks, errors, measured, overhead_us_total, tools
FROM sessions
ORDER BY decisions DESC, session_id
LIMIT 5
