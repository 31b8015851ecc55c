"""Reads `govtrail query` exports of one result with DuckDB (issue 21): a CSV, a JSON and a
Parquet file. Prints, per format, the row count, the columns, and per column its NULL count,
as JSON, for the Rust test to compare with the ledger's own counts.

    python exports.py CSV JSON PARQUET
"""
import json
import sys

import duckdb

csv_path, json_path, parquet_path = sys.argv[1:4]
con = duckdb.connect()
out = {}
for name, rel in [
    ("csv", con.read_csv(csv_path, header=True)),
    ("json", con.read_json(json_path, format="array")),
    ("parquet", con.read_parquet(parquet_path)),
]:
    cols = rel.columns
    nulls = {}
    for c in cols:
        q = '"' + c.replace('"', '""') + '"'
        nulls[c] = rel.aggregate(f"count(*) - count({q})").fetchall()[0][0]
    out[name] = {"rows": rel.aggregate("count(*)").fetchall()[0][0], "columns": cols, "nulls": nulls}
print(json.dumps(out))
