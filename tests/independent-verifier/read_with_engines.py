#!/usr/bin/env python3
"""Reads govtrail segments with pyarrow and DuckDB (no govtrail code) and re-checks hashes."""
import glob, json, os, sys

import blake3
import duckdb
import pyarrow.parquet as pq

seg_dir = sys.argv[1]
files = sorted(glob.glob(os.path.join(seg_dir, "*.parquet")))
rows = sum(pq.read_table(f).num_rows for f in files)
con = duckdb.connect()
glob_path = os.path.join(seg_dir, "*.parquet")
n = con.execute(f"SELECT count(*) FROM read_parquet('{glob_path}')").fetchone()[0]
deny = con.execute(f"SELECT count(*) FROM read_parquet('{glob_path}') WHERE decision = 'deny'").fetchone()[0]
ok = 0
for record, rh in con.execute(f"SELECT record, record_hash FROM read_parquet('{glob_path}') ORDER BY idx").fetchall():
    if blake3.blake3(record, derive_key_context="govtrail ledger v1 record hash").digest() == rh:
        ok += 1
print(json.dumps({"files": len(files), "pyarrow_rows": rows, "duckdb_rows": n,
                  "duckdb_hashes_ok": ok, "duckdb_deny": deny}))
