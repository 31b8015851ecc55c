#!/usr/bin/env python3
"""A/B of two release binaries as cold processes: what the Trust work costs.

    benches/trust_ab.py BASE_BINARY NEW_BINARY [N] [ROUNDS]

Each round runs, for each binary in turn (the order alternates between rounds, so drift in
the machine's speed falls on both), on the same N native decisions in segments of 262,144:
`append --seal` into a new ledger, `verify` (full: records, typed columns and, in the new build,
canonical records and seal-note digests), a session lookup through `query`, and `report
overhead --by service` (from summaries). The new binary's queries run twice: without a key
(pruning as before, plus a note) and with `--pubkey` (the seal note checked, every segment's
footer, page index and blooms hashed). Prints one JSON object per measurement and a summary:
medians per command, and new/base ratios of the medians.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def decisions(n, path):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({
                "decision_id": f"ab-{i:010d}", "ts_us": 1_760_000_000_000_000 + i * 997,
                "decision": ["allow", "deny", "ask", "allow", "allow"][i % 5],
                "engine": "tractatus", "platform": "claude-code",
                "service": ["BoundaryEnforcer", "CrossReferenceValidator", "ContextPressureMonitor"][i % 3],
                "session_id": f"session-{(i // 25) % 40 + (i // 20_000) * 40:07d}", "tool_name": "Bash",
                "tool_input": {"command": f"git status && cargo test -p m{i % 13}"},
                "rule_ids": ["inst_016", f"inst_0{i % 90 + 10}"], "rule_set": "instructions-v4.4",
                "overhead_us": 65_000 + (i * 7919) % 220_000, "model": "claude-sonnet",
            }, separators=(",", ":")) + "\n")


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{cmd} failed: {r.stderr.decode()[-2000:]}")
    return dt, r.stdout


def main():
    base, new = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    tmp = tempfile.mkdtemp(prefix="trust-ab-")
    inp = os.path.join(tmp, "in.ndjson")
    decisions(n, inp)
    session = f"session-{(n // 2 // 20_000) * 40 + 7:07d}"
    sql = f"SELECT idx, ts, service, decision, overhead_us, record FROM decisions WHERE session_id = '{session}' ORDER BY ts, idx"
    times = {}
    for r in range(rounds):
        order = [("base", base), ("new", new)] if r % 2 == 0 else [("new", new), ("base", base)]
        for name, binary in order:
            d = os.path.join(tmp, name)
            subprocess.run(["rm", "-rf", d], check=True)
            os.makedirs(d)
            key = os.path.join(d, "k")
            subprocess.run([binary, "keygen", "--name", "ab.example/l", "--out", key], check=True,
                           capture_output=True)
            ledger = os.path.join(d, "l")
            subprocess.run([binary, "init", ledger, "--key", key + ".key", "--segment-records",
                            "262144"], check=True, capture_output=True)
            runs = [
                ("append", [binary, "append", ledger, "--key", key + ".key", inp, "--seal"]),
                ("verify", [binary, "verify", ledger, "--pubkey", key + ".vkey"]),
                ("session_lookup", [binary, "query", ledger, sql, "--format", "json"]),
                ("report_overhead", [binary, "report", "overhead", ledger, "--by", "service",
                                     "--json"]),
            ]
            if name == "new":
                runs += [
                    ("session_lookup_checked",
                     [binary, "query", ledger, sql, "--format", "json", "--pubkey", key + ".vkey"]),
                    ("report_overhead_checked",
                     [binary, "report", "overhead", ledger, "--by", "service", "--json",
                      "--pubkey", key + ".vkey"]),
                ]
            for what, cmd in runs:
                dt, out = timed(cmd)
                times.setdefault((name, what), []).append(dt)
                print(json.dumps({"round": r, "build": name, "what": what, "s": round(dt, 4)}),
                      flush=True)
    med = {f"{b}/{w}": statistics.median(v) for (b, w), v in times.items()}
    ratios = {}
    for w in ["append", "verify", "session_lookup", "report_overhead"]:
        ratios[w] = med[f"new/{w}"] / med[f"base/{w}"]
    for w in ["session_lookup", "report_overhead"]:
        ratios[w + "_checked"] = med[f"new/{w}_checked"] / med[f"base/{w}"]
    summary = {"n": n, "rounds": rounds, "medians_s": med, "new_over_base": ratios}
    print(json.dumps(summary, indent=1))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trust_ab.json")
    with open(out, "w") as f:
        json.dump(summary, f, indent=1)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
