-- Every normaliser's records reach the ledger: count per engine and source format.
SELECT engine, source_format, count(*) AS records
FROM decisions
GROUP BY engine, source_format
ORDER BY engine NULLS FIRST, source_format NULLS FIRST
