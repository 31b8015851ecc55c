#!/usr/bin/env bash
# Whole-program comparison, one run of the script: `govtrail append` and `govtrail verify` of N
# decisions (release build) against the signed peers installable from PyPI (obsigna,
# inalign-mcp) doing the same, plus durable-ack latency under 16 concurrent appenders.
# Prints one JSON object per measurement to stdout and a summary to benches/compare.json.
#   N=100000 RUNS=3 PEER_RUNS=1 benches/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100000}"
RUNS="${RUNS:-3}"
PEER_RUNS="${PEER_RUNS:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -p govtrail-cli -p govtrail-benches --bin govtrail --bin ack_latency
gt="$PWD/target/release/govtrail"
peers_venv="benches/peers/.venv"
if [ ! -x "$peers_venv/bin/python" ]; then
  python3 -m venv "$peers_venv"
  "$peers_venv/bin/pip" install --quiet --disable-pip-version-check -r benches/peers/requirements.txt
fi

python3 - "$N" > "$work/input.ndjson" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    print(json.dumps({
        "decision_id": f"bench-{i:012d}", "ts_us": 1_760_000_000_000_000 + i * 997,
        "decision": ["allow", "deny", "ask", "allow", "allow"][i % 5], "engine": "tractatus",
        "platform": "claude-code", "service": "BoundaryEnforcer", "session_id": f"session-{i // 50}",
        "tool_name": "Bash", "tool_input": {"command": f"git status --short && cargo test -p module{i % 13}"},
        "rule_ids": ["inst_016", "inst_017", f"inst_0{i % 90 + 10}"], "rule_set": "instructions-v4.4",
        "overhead_us": 65_000 + (i * 7919) % 220_000, "model": "claude-sonnet",
        "metadata": {"boundary": "none", "pressure": round((i % 97) / 100, 2)}}, separators=(",", ":")))
PY

"$gt" keygen --name bench.govtrail.example/ledger --out "$work/k" >/dev/null 2>&1
: > "$work/results.jsonl"
for run in $(seq "$RUNS"); do
  rm -rf "$work/l"
  "$gt" init "$work/l" --key "$work/k.key" --segment-records 1048576 >/dev/null
  # Durable append alone (acknowledged in the WAL; the seal is left for later), then a seal.
  /usr/bin/time -f '%e %M' -o "$work/t.durable" "$gt" append "$work/l" --key "$work/k.key" "$work/input.ndjson" 2>/dev/null
  /usr/bin/time -f '%e %M' -o "$work/t.seal" "$gt" seal "$work/l" --key "$work/k.key" >/dev/null
  rm -rf "$work/l"
  "$gt" init "$work/l" --key "$work/k.key" --segment-records 1048576 >/dev/null
  /usr/bin/time -f '%e %M' -o "$work/t.append" "$gt" append "$work/l" --key "$work/k.key" "$work/input.ndjson" --seal 2>/dev/null
  /usr/bin/time -f '%e %M' -o "$work/t.verify" "$gt" verify "$work/l" --pubkey "$work/k.vkey" >/dev/null
  read -r d_s d_kb < "$work/t.durable"
  read -r s_s s_kb < "$work/t.seal"
  read -r a_s a_kb < "$work/t.append"
  read -r v_s v_kb < "$work/t.verify"
  echo "{\"tool\":\"govtrail\",\"n\":$N,\"append_s\":$a_s,\"durable_append_s\":$d_s,\"seal_s\":$s_s,\"verify_s\":$v_s,\"append_rss_kb\":$a_kb,\"verify_rss_kb\":$v_kb}" | tee -a "$work/results.jsonl"
done
for run in $(seq "$RUNS"); do
  "target/release/ack_latency" 16 2000 | sed 's/^{/{"tool":"ack_latency",/' | tee -a "$work/results.jsonl"
done
for run in $(seq "$PEER_RUNS"); do
  "$peers_venv/bin/python" benches/peers/inalign_driver.py "$N" | sed 's/^{/{"tool":"inalign-mcp",/' | tee -a "$work/results.jsonl"
  "$peers_venv/bin/python" benches/peers/obsigna_driver.py "$N" | sed 's/^{/{"tool":"obsigna",/' | tee -a "$work/results.jsonl"
done
python3 - "$work/results.jsonl" > benches/compare.json <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(tool, key):
    vals = [r[key] for r in rows if r["tool"] == tool and key in r]
    return statistics.median(vals) if vals else None
out = {"runs": rows, "median": {}}
for tool in ["govtrail", "inalign-mcp", "obsigna"]:
    a, v = med(tool, "append_s"), med(tool, "verify_s")
    if a:
        out["median"][tool] = {"append_s": a, "verify_s": v, "append_per_s": rows[0]["n"] / a, "verify_per_s": rows[0]["n"] / v}
out["median"]["govtrail"]["verify_rss_mib"] = med("govtrail", "verify_rss_kb") / 1024
out["median"]["govtrail"]["durable_append_s"] = med("govtrail", "durable_append_s")
out["median"]["govtrail"]["seal_s"] = med("govtrail", "seal_s")
out["median"]["ack_latency"] = {k: med("ack_latency", k) for k in ["p50_ms", "p99_ms", "max_ms", "records_per_s"]}
g = out["median"]["govtrail"]
for peer in ["inalign-mcp", "obsigna"]:
    if peer in out["median"]:
        p = out["median"][peer]
        out["median"][f"ratio_vs_{peer}"] = {"append": g["append_per_s"] / p["append_per_s"], "verify": g["verify_per_s"] / p["verify_per_s"]}
print(json.dumps(out, indent=1))
PY
cat benches/compare.json
