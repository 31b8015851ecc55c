#!/usr/bin/env bash
# Runs every benchmark (release build) and writes docs/BENCHMARKS.md:
#   1. criterion benches `append` and `verify` (library level, each with its ceiling);
#   2. benches/compare.sh: the CLI end to end, ack latency, and the signed peers from PyPI;
#   3. benches/proof_cli.py: cold-process proof timings at 1M records;
#   4. benches/hook_overhead.py: time `govtrail hook` adds to a Node.js hook;
#   5. query_bench: 10M decisions, queries and reports against DuckDB on the same files;
#   6. replay_bench and benches/decide_overhead.py: replay against bare regorus, and
#      `govtrail decide` against a Node.js hook;
#   7. benches/dashboard.py: the dashboard in Chromium on a 10M-decision demo ledger.
# `benches/run.sh --report-only` rewrites the report from the last results.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--report-only" ]; then
  cargo bench -p govtrail-benches --locked --bench append --bench verify --bench proof --bench ingest -- --noplot
  benches/compare.sh
  python3 benches/proof_cli.py
  python3 benches/hook_overhead.py
  [ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install --quiet duckdb; }
  cargo run --release --locked -p govtrail-benches --bin query_bench -- target/query-bench 10000000 5
  cargo run --release --locked -p govtrail-benches --bin replay_bench -- target/replay-bench 1000000 5 2 benches/bundles/minimal
  cargo run --release --locked -p govtrail-benches --bin replay_bench -- target/replay-bench-tractatus 1000000 3 2 examples/bundles/tractatus
  # The statically linked build README recommends for hooks, measured beside the default one.
  RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build --release --locked --target x86_64-unknown-linux-gnu -p govtrail-cli
  python3 benches/decide_overhead.py
fi
python3 - <<'PY'
import datetime, glob, json, os, platform
rows = {}
for est in glob.glob("target/criterion/**/new/estimates.json", recursive=True):
    bench = json.load(open(os.path.join(os.path.dirname(est), "benchmark.json")))
    med = json.load(open(est))["median"]["point_estimate"] / 1e9
    n = (bench.get("throughput") or {}).get("Elements")
    rows[bench["full_id"]] = (med, n)
rate = lambda k: rows[k][1] / rows[k][0]
cmp = json.load(open("benches/compare.json"))
m = cmp["median"]
out = [
    "# Benchmarks", "",
    f"Written by `benches/run.sh` on {datetime.date.today()}: {os.cpu_count()} cores ({platform.machine()}),",
    "release build. Machines here are noisy; compare the ratios, each taken between figures of the",
    "same run, rather than absolute times.", "",
    "## Library level (criterion, median of 10 samples)", "",
    "Records are ~400-byte decisions (`benches/src/lib.rs`). `durable_group_commit/B` appends",
    "100,000 canonical records in commits of B (each commit: one WAL write, one fdatasync, one",
    "signed checkpoint) and seals them into a Parquet segment. Its ceiling hashes the same records",
    "(record hash, chain, leaf) and encodes them to Parquet (zstd) in memory, with no WAL, fsync,",
    "signature or typed columns. `verify/full` verifies a sealed 200,000-record ledger; its ceiling",
    "reads the same Parquet file and re-hashes the record column on one thread.", "",
    "| benchmark | median (s) | records/s |", "|---|---|---|",
]
for k in sorted(rows):
    med, n = rows[k]
    if n:
        out.append(f"| {k} | {med:.4f} | {rate(k):,.0f} |")
out += ["", "Proofs (`benches/benches/proof.rs`): verifying one tlog-proof file (parse, Ed25519",
        "checkpoint signature, path); producing an inclusion or consistency proof at n = 1M from the",
        "stored tiles (each proof is also checked against the signed root before it is returned); and,",
        "as the baseline in the same run, producing one at n = 100k from the records (tiles removed:",
        "every record is re-hashed).", "",
        "| benchmark | median |", "|---|---|"]
for k in sorted(rows):
    med, n = rows[k]
    if not n:
        out.append(f"| {k} | {med * 1e6:,.1f} µs |" if med < 1e-3 else f"| {k} | {med * 1e3:,.1f} ms |")
pk = lambda s: rows.get(f"proof/{s}", (float("nan"),))[0]
out += ["", f"Tiles against records: producing an inclusion proof from tiles at 1M records takes "
        f"{pk('prove_inclusion_at_1m_from_tiles') / pk('prove_inclusion_at_100k_from_records'):.4f}× the time "
        "of producing one from the records at 100k (same run)."]
if os.path.exists("benches/proof_cli.json"):
    pc = json.load(open("benches/proof_cli.json"))
    out += ["", f"Cold processes (`benches/proof_cli.py`, release binary, {pc['n']:,}-record ledger, median of 51):", "",
            "| command | wall (ms) | minus process start (ms) |", "|---|---|---|",
            f"| `govtrail --version` (process start, baseline) | {pc['process_start_ms']:.2f} | — |",
            f"| `govtrail verify-proof FILE --pubkey K` | {pc['verify_proof_ms']:.2f} | {pc['verify_proof_ms'] - pc['process_start_ms']:.2f} |",
            f"| `govtrail prove --index I` (from tiles) | {pc['prove_index_ms']:.2f} | {pc['prove_index_ms'] - pc['process_start_ms']:.2f} |",
            "", f"The tlog-proof file is {pc['proof_bytes']} bytes (20 path hashes at 1M records: 640 bytes of them)."]
ceil = "append/ceiling_hash_and_parquet_encode"
out += ["", "| ratio (same run) | value | target |", "|---|---|---|"]
for k in sorted(rows):
    if k.startswith("append/durable"):
        out.append(f"| {k} / append ceiling | {rate(k)/rate(ceil):.2f} | ≥ 0.25 |")
out.append(f"| verify/full / verify ceiling | {rate('verify/full')/rate('verify/ceiling_parquet_read_and_rehash'):.2f} | ≥ 0.50 |")
out.append(f"| append/canonicalize_rfc8785 / serde_json parse alone | {rate('append/canonicalize_rfc8785')/rate('append/serde_json_parse_only'):.2f} | |")
g = m["govtrail"]
runs = [r for r in cmp["runs"] if r["tool"] == "govtrail"]
n = runs[0]["n"]
out += ["", f"## Whole program: `govtrail append` and `govtrail verify` of {n:,} decisions", "",
        "From `benches/compare.sh` (one script run): the CLI reads NDJSON, parses and canonicalises",
        "(RFC 8785), appends durably with group commit and seals (`--seal`); `verify` is a cold process",
        "checking everything against the public key. Wall time and peak RSS from `/usr/bin/time`",
        "(10 ms resolution); median of the runs listed. The peers run their documented append and",
        "verify paths on the same machine in the same script (drivers in `benches/peers/`).", "",
        "| tool | append (s) | appends/s | verify (s) | verified/s | runs |", "|---|---|---|---|---|---|",
        f"| govtrail | {g['append_s']:.2f} | {g['append_per_s']:,.0f} | {g['verify_s']:.2f} | {g['verify_per_s']:,.0f} | {len(runs)} |"]
if g.get("durable_append_s"):
    durable_note = (f"Without `--seal`, `govtrail append` makes the same {n:,} records durable (WAL, fdatasync, signed "
                    f"checkpoint per commit) in {g['durable_append_s']:.2f} s ({n / g['durable_append_s']:,.0f}/s); "
                    f"`govtrail seal` then writes the Parquet segment in {g['seal_s']:.2f} s (a separate process, "
                    "which also replays the WAL on open).")
else:
    durable_note = ""
for peer in ["inalign-mcp", "obsigna"]:
    if peer in m:
        p = m[peer]
        k = len([r for r in cmp["runs"] if r["tool"] == peer])
        out.append(f"| {peer} | {p['append_s']:.1f} | {p['append_per_s']:,.0f} | {p['verify_s']:.1f} | {p['verify_per_s']:,.0f} | {k} |")
out += ["", "| ratio (same run) | append | verify |", "|---|---|---|"]
for peer in ["inalign-mcp", "obsigna"]:
    r = m.get(f"ratio_vs_{peer}")
    if r:
        out.append(f"| govtrail / {peer} | {r['append']:.0f}× | {r['verify']:.0f}× |")
a = m["ack_latency"]
out += ["", durable_note, "", f"Peak RSS of `govtrail verify`: {g['verify_rss_mib']:.0f} MiB (target ≤ 256 MiB).", "",
        "## Acknowledgement latency", "",
        "`ack_latency` (`benches/src/bin/ack_latency.rs`): 16 threads each append one record at a time",
        "through the group-commit thread and time each call until it is durable (fdatasync done and",
        "checkpoint signed); 32,000 records per run with 8,192-record segments, so segments are",
        "sealed in the background during the run; median of the runs' figures.", "",
        "| p50 (ms) | p99 (ms) | max (ms) | records/s | target p99 |", "|---|---|---|---|---|",
        f"| {a['p50_ms']:.3f} | {a['p99_ms']:.3f} | {a['max_ms']:.3f} | {a['records_per_s']:,.0f} | ≤ 20 ms |"]
dur = max(rate(k) for k in rows if k.startswith("append/durable"))
ver = rate("verify/full")
ok = lambda c: "met" if c else "**not met**"
out += ["", "## Targets (issue 3), plainly", "",
        "| target | measured | status |", "|---|---|---|",
        f"| durable append ≥ 250k records/s | {dur:,.0f}/s library level (seal included); through the CLI, JSON parsing included: {n / g['durable_append_s'] if g.get('durable_append_s') else float('nan'):,.0f}/s durable, {g['append_per_s']:,.0f}/s with the final seal | {ok(dur >= 250e3)} at library level; {ok((n / g['durable_append_s'] if g.get('durable_append_s') else 0) >= 250e3)} CLI durable; {ok(g['append_per_s'] >= 250e3)} CLI with seal |",
        f"| append ≥ 25 % of its ceiling | {dur/rate(ceil):.2f} | {ok(dur/rate(ceil) >= 0.25)} |",
        f"| verify ≥ 1M rows/s | {ver:,.0f}/s library level; {g['verify_per_s']:,.0f}/s CLI cold process on {n:,} rows | {ok(ver >= 1e6)} |",
        f"| verify ≥ 50 % of its ceiling | {ver/rate('verify/ceiling_parquet_read_and_rehash'):.2f} | {ok(ver/rate('verify/ceiling_parquet_read_and_rehash') >= 0.5)} |",
        f"| verify RSS ≤ 256 MiB | {g['verify_rss_mib']:.0f} MiB | {ok(g['verify_rss_mib'] <= 256)} |",
        f"| ack latency p99 ≤ 20 ms | {a['p99_ms']:.2f} ms | {ok(a['p99_ms'] <= 20)} |",
        ]
pc = json.load(open("benches/proof_cli.json")) if os.path.exists("benches/proof_cli.json") else None
out += ["", "## Targets (issue 4), plainly", "", "| target | measured | status |", "|---|---|---|",
        f"| verify one proof file ≤ 100 µs (library) | {pk('verify_tlog_proof_file') * 1e6:.1f} µs | {ok(pk('verify_tlog_proof_file') <= 100e-6)} |",
        f"| produce an inclusion proof at n = 1M ≤ 1 ms | {pk('prove_inclusion_at_1m_from_tiles') * 1e3:.3f} ms | {ok(pk('prove_inclusion_at_1m_from_tiles') <= 1e-3)} |",
        f"| produce a consistency proof at n = 1M ≤ 1 ms | {pk('prove_consistency_at_1m_from_tiles') * 1e3:.3f} ms | {ok(pk('prove_consistency_at_1m_from_tiles') <= 1e-3)} |"]
if pc:
    out.append(f"| verify one proof file from the CLI ≤ 2 ms wall (cold) | {pc['verify_proof_ms']:.2f} ms | {ok(pc['verify_proof_ms'] <= 2)} |")
out += [
        "",
        "What limits them: the CLI's append runs a parsing thread (NDJSON to canonical RFC 8785",
        "bytes: `canonicalize_rfc8785` above, bounded by serde_json's parse into values) and a commit",
        "thread (hashes, WAL, fdatasync, signature); full WALs are sealed into Parquet on a third",
        "thread. With `--seal` the CLI waits for the last seal, which for a single 100,000-record",
        "segment runs after the appends rather than beside them (about 0.2 s of the total), so the",
        "end-to-end figure is below the library one. Verification runs two stages on the two cores",
        "(Parquet decode plus typed-column check; record hash, chain and tree), each about 1 µs per",
        "row: it is CPU-bound on 2 cores, and the ceiling is one thread doing less work (no typed",
        "columns, chain or tree). The ledger lives on the root disk (virtio, ext4), so every commit",
        "pays a real fdatasync; neither peer batches commits."]
if "ingest/native_normalise_and_canonicalise" in rows:
    out += ["", "## Ingest (issue 5)", "",
            "`benches/benches/ingest.rs`: 100,000 records normalised into decisions and canonical bytes by",
            "`schemas::ingest` (format detection, parsing, Extended JSON decoding, mapping, the exact source",
            "text kept in `source.raw`), against `serde_json` parsing the same lines into values alone.", "",
            "| input | records/s | serde_json parse alone | ratio |", "|---|---|---|---|"]
    for name in ["native", "tractatus_mongoexport"]:
        a, b = rate(f"ingest/{name}_normalise_and_canonicalise"), rate(f"ingest/{name}_serde_json_parse_only")
        out.append(f"| {name} | {a:,.0f} | {b:,.0f} | {a / b:.2f} |")
if os.path.exists("benches/hook_overhead.json"):
    h = json.load(open("benches/hook_overhead.json"))
    out += ["", "## `govtrail hook` (issue 5)", "",
            f"`benches/hook_overhead.py`: a PreToolUse hook shaped like Tractatus's framework-audit-hook.js "
            f"(`{h['hook']}`) called directly and through `govtrail hook` (which also writes each call durably "
            f"to its spool: fdatasync of the file, fsync of the directory), interleaved; {h['calls']} calls of each "
            f"in {h['runs']} runs, median of the runs' figures; all {h['recorded']} wrapped calls were drained into "
            "a ledger. Added time is per call: the wrapper's process time minus the hook's wall time it measured.", "",
            "| | p50 (ms) | p99 (ms) |", "|---|---|---|",
            f"| hook called directly | {h['direct_p50_ms']:.1f} | {h['direct_p99_ms']:.1f} |",
            f"| through `govtrail hook` | {h['wrapped_p50_ms']:.1f} | {h['wrapped_p99_ms']:.1f} |",
            f"| added by govtrail | {h['added_p50_ms']:.2f} | {h['added_p99_ms']:.2f} (target ≤ 5) |"]
open("docs/BENCHMARKS.md", "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
python3 benches/query_report.py
python3 benches/replay_report.py
# The dashboard in Chromium on a 10M-decision demo ledger (needs scripts/test.sh's Chromium and
# npm packages).
if [ "${1:-}" != "--report-only" ]; then
  python3 benches/dashboard.py 10000000 5 --write
else
  python3 benches/dashboard.py --section-only
fi
# The Trust A/B needs the base commit's release binary (see the section's text for the build).
if [ -n "${TRUST_AB_BASE:-}" ]; then
  python3 benches/trust_ab.py "$TRUST_AB_BASE" target/release/govtrail 1000000:6 4000000:5 --write
fi
# The One house A/B needs the release binary of the commit before it (see the section's text).
if [ -n "${HOUSE_AB_BASE:-}" ]; then
  python3 benches/house_ab.py "$HOUSE_AB_BASE" target/release/govtrail 5 --write
fi
