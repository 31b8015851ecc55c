-- Fields without a typed column, through the JSON functions.
SELECT decision_id,
       json_str(record, '/event') AS event,
       json_text(record, '/tool_input') AS tool_input,
       json_int(record, '/overhead_us') AS overhead_us,
       json_float(record, '/metadata/overall_pressure') AS pressure,
       json_str(record, '/no/such/field') AS missing
FROM decisions
WHERE session_id = '2025-10-20-007'
ORDER BY idx
LIMIT 6
