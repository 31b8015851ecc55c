"""DuckDB side of benches/src/bin/query_bench.rs: the same statistics on the same Parquet
segment files, median of RUNS timed runs after one warm-up. Prints JSON {query: seconds}.

Usage: query_duckdb.py LEDGER_DIR RUNS SESSION_ID
"""
import json
import statistics
import sys
import time

import duckdb

ledger, runs, session = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = duckdb.connect()
con.execute(f"CREATE VIEW decisions AS SELECT * FROM read_parquet('{ledger}/segments/*.parquet')")

STATS = ("count(*) AS decisions, count(overhead_us) AS measured, avg(overhead_us) AS mean_us, "
         "min(overhead_us), max(overhead_us), "
         + ", ".join(f"quantile_cont(overhead_us, {q})" for q in (0.05, 0.25, 0.5, 0.75, 0.95, 0.99))
         + ", " + ", ".join(f"approx_quantile(overhead_us, {q})" for q in (0.5, 0.95, 0.99)))

QUERIES = {
    "approx_p50_p95_p99_by_service":
        "SELECT service, count(*) AS n, approx_quantile(overhead_us, 0.5), approx_quantile(overhead_us, 0.95), "
        "approx_quantile(overhead_us, 0.99) FROM decisions GROUP BY service",
    "approx_p50_p95_p99_by_model":
        "SELECT model, count(*) AS n, approx_quantile(overhead_us, 0.5), approx_quantile(overhead_us, 0.95), "
        "approx_quantile(overhead_us, 0.99) FROM decisions GROUP BY model",
    "exact_p50_p95_p99_by_service":
        "SELECT service, quantile_cont(overhead_us, 0.5), quantile_cont(overhead_us, 0.95), "
        "quantile_cont(overhead_us, 0.99) FROM decisions GROUP BY service",
    "deny_rate_by_tool_and_model":
        "SELECT tool_name, model, count(*) AS n, avg(CASE WHEN decision = 'deny' THEN 1.0 ELSE 0.0 END) "
        "FROM decisions GROUP BY tool_name, model",
    "group_by_untyped_field_from_json":
        "SELECT json_extract_string(decode(record), '$.overhead_source') AS s, count(*) AS n FROM decisions "
        "GROUP BY s",
    "session_lookup":
        f"SELECT idx, ts, service, tool_name, decision, rule_ids, overhead_us, record FROM decisions "
        f"WHERE session_id = '{session}' ORDER BY ts, idx",
    # The overhead report's statistics (total, then per group), as the report runs them.
    "report_overhead_by_service":
        f"SELECT {STATS} FROM decisions; SELECT service, {STATS} FROM decisions GROUP BY service",
    "report_overhead_by_model":
        f"SELECT {STATS} FROM decisions; SELECT model, {STATS} FROM decisions GROUP BY model",
    # The RCA report's one read (its timeline, with the fields it takes from the record JSON);
    # attribution against the rest of the session is computed from these rows.
    "report_rca_one_session":
        "SELECT idx, CAST(epoch_us(ts) AS BIGINT) AS ts_us, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts_text, "
        "decision_id, service, json_extract_string(decode(record), '$.event') AS event, tool_name, platform, "
        "decision, decision_native, outcome, rule_ids, rule_set, model, "
        "json_extract_string(decode(record), '$.reason') AS reason, overhead_us, "
        "CAST(json_extract(decode(record), '$.metadata.overall_pressure') AS DOUBLE) AS pressure, "
        "json_extract_string(decode(record), '$.metadata.pressure_level') AS pressure_level "
        f"FROM decisions WHERE session_id = '{session}' ORDER BY ts, idx",
}


def run(sql):
    for stmt in sql.split("; "):
        con.execute(stmt).fetchall()


out = {"version": duckdb.__version__}
for name, sql in QUERIES.items():
    run(sql)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run(sql)
        times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
    print(f"duckdb {name}: {out[name]:.3f} s", file=sys.stderr)
print(json.dumps(out))
