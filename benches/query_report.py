"""Writes the "Queries and reports" section of docs/BENCHMARKS.md from benches/query.json
(written by the query_bench binary), replacing the section if it is there already."""
import json
import re

from benchlib import write_section

q = json.load(open("benches/query.json"))
qs = q["queries"]
goals = {
    "approx_p50_p95_p99_by_service": "≤ 1.0",
    "approx_p50_p95_p99_by_model": "≤ 1.0",
    "exact_p50_p95_p99_by_service": "≤ 1.0",
    "deny_rate_by_tool_and_model": "≤ 1.0",
    "session_lookup": "≤ 1.0",
    "report_overhead_by_service": "≤ 0.1",
    "report_overhead_by_model": "≤ 0.1",
    "report_rca_one_session": "≤ 1.0",
    "group_by_untyped_field_from_json": "(informative)",
}
out = ["## Queries and reports (issue 6)", "",
       f"`query_bench` (`benches/src/bin/query_bench.rs`, release build): a seeded ledger of {q['records']:,} "
       f"decisions in {q['segments']} sealed segments of 1,048,576 (7 services with log-normal overheads "
       "from 0.3 ms to 110 ms, 5 models, 10 tools, 3 platforms, sessions of 500 decisions 50 at a time, 10% "
       "without a measured overhead), then each query through govtrail's DataFusion session (the `decisions` "
       "view) and, on the same Parquet files in the same run, through DuckDB "
       f"{q.get('duckdb_version')} (`benches/query_duckdb.py`, the same statistics in DuckDB's SQL). Each "
       f"figure is the median of {q['runs']} runs after a warm-up, in each of {q.get('passes', 1)} passes that "
       "alternate the engines (govtrail, DuckDB, govtrail, ...); times are medians over the passes and each "
       "ratio is the median of the per-pass ratios, so drift in the machine's speed does not favour one "
       "engine. Page cache warm; both engines use the 2 cores.", "",
       "| query | govtrail (s) | DuckDB (s) | govtrail / DuckDB | goal |", "|---|---|---|---|---|"]
for name, v in qs.items():
    ok = ""
    g = goals.get(name, "")
    m = re.match(r"≤ ([0-9.]+)", g)
    if m and "ratio" in v:
        ok = " (met)" if v["ratio"] <= float(m.group(1)) else " (**not met**)"
    if "duckdb_s" in v:
        out.append(f"| {name} | {v['govtrail_s']:.3f} | {v['duckdb_s']:.3f} | {v['ratio']:.2f} | {g}{ok} |")
    else:
        out.append(f"| {name} | {v['govtrail_s']:.3f} | — | — | |")
out += ["",
        "- `report_overhead_*`: the standard overhead report (count, measured, mean, min, max and",
        "  p5…p99 for all decisions and per group). govtrail answers from the segment summaries",
        "  (LEDGER-FORMAT.md §13) plus the unsealed tail; DuckDB computes the same statistics",
        "  exactly by scanning. The summaries' percentiles are within 0.8% of the exact ones",
        "  (checked by `query/tests/it/golden.rs`).",
        "- `report_rca_one_session`: the RCA report for one session (timeline with the fields it reads",
        "  from the record JSON; attribution against the session is computed from those rows) against",
        "  DuckDB running the timeline query with the same JSON extractions.",
        "- `group_by_untyped_field_from_json`: a GROUP BY on `overhead_source`, which has no typed",
        "  column (`json_str(record, ...)` against DuckDB's `json_extract_string`). It measures what",
        "  typed columns would save (docs/RECORD.md §13).",
        "",
        "What limits the ratios: govtrail's segments keep index order (the hash chain and the verifier",
        "require it), so sessions cannot be clustered; session lookups rely on page statistics and the",
        "bloom filters on `session_id`/`decision_id`. Strings are read as Utf8View (reading the",
        "low-cardinality columns as dictionaries was tried: 2.7× slower). Exact percentiles",
        "(`percentile_cont`, replaced by `query/src/percentile.rs`) count each distinct value, but",
        "overheads in µs are mostly distinct, so each group falls back to collecting its values;",
        "p50, p95 and p99 of one input share one accumulator (the optimizer rule",
        "`SharePercentiles`), which keeps the values once and selects the three ranks in one pass,",
        "so the three cost what one did (0.91 s before, for the three, in an earlier run); the",
        "same rule gives the three `approx_percentile_cont`s one t-digest (`query/src/approx.rs`;",
        "0.83-0.97 s before). The exact query's ratio stays close to 1.0 on this noisy machine",
        "(0.97 in two runs; alone it took 0.39-0.49 s): besides the percentiles, it reads",
        "`overhead_us` (zstd, 13% of its profile) and groups by the `service` strings (20%).",
        "The two-key GROUP BY with `avg(CASE ...)` spends about two thirds of its time in DataFusion",
        "55's multi-column group-by on Utf8View strings (`GroupValuesColumn`: per row, both strings",
        "hashed, then a vectorized equality check that memcmp's every string longer than 12 bytes,",
        "such as the model names; perf: `intern` 20%, `vectorized_equal_to` 20%, string hashing",
        "14%, memcmp 10%); the one-key GROUP BY tool_name takes 0.06 s and the two-key one 0.16 s",
        "without the `avg`. JSON extraction parses every record (serde_json) where",
        "DuckDB's JSON reader is faster."]
section = "\n".join(out) + "\n"
write_section("## Queries and reports (issue 6)", section)
