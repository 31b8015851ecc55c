-- Exact percentiles of measured overhead per overhead source, in milliseconds.
SELECT overhead_source,
       count(overhead_us) AS measured,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY overhead_us) / 1000.0, 3) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY overhead_us) / 1000.0, 3) AS p95_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY overhead_us) / 1000.0, 3) AS p99_ms
FROM decisions
WHERE overhead_us IS NOT NULL
GROUP BY overhead_source
ORDER BY overhead_source
