#!/usr/bin/env python3
"""Whole-process proof timings with the release `govtrail` binary (benches/run.sh step 3).

Builds a 1,000,000-record ledger through the CLI, then times cold processes: `verify-proof` of
one tlog-proof file (target: ≤ 2 ms wall) and `prove --index` from tiles, each against the
baseline of a cold `govtrail --version` (process start alone) in the same run. Writes
benches/proof_cli.json. Median of 51 runs each.
"""
import json, os, statistics, subprocess, sys, tempfile, time

BIN = os.path.abspath("target/release/govtrail")
N = 1_000_000


def timed(args, runs=51):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "k")
        subprocess.run([BIN, "keygen", "--name", "bench.example/ledger", "--out", key], check=True,
                       capture_output=True)
        ledger = os.path.join(tmp, "ledger")
        subprocess.run([BIN, "init", ledger, "--key", key + ".key"], check=True)
        src = os.path.join(tmp, "in.ndjson")
        with open(src, "w") as f:
            for i in range(N):
                f.write(json.dumps({"decision_id": f"d-{i}", "ts_us": 1_760_000_000_000_000 + i,
                                    "decision": ["allow", "deny", "ask"][i % 3], "service": "BoundaryEnforcer",
                                    "tool_name": "Bash", "tool_input": {"command": f"ls {i}"},
                                    "rule_ids": ["inst_016"], "overhead_us": 60_000 + i % 1000}) + "\n")
        subprocess.run([BIN, "append", ledger, "--key", key + ".key", src, "--seal"], check=True,
                       stderr=subprocess.DEVNULL)
        proof = os.path.join(tmp, "p.tlog-proof")
        with open(proof, "wb") as f:
            f.write(subprocess.run([BIN, "prove", ledger, "--index", "654321"], check=True,
                                   capture_output=True).stdout)
        base = timed([BIN, "--version"])
        verify = timed([BIN, "verify-proof", proof, "--pubkey", key + ".vkey"])
        prove = timed([BIN, "prove", ledger, "--index", "777777"])
        res = {"n": N, "process_start_ms": base * 1e3, "verify_proof_ms": verify * 1e3,
               "prove_index_ms": prove * 1e3, "proof_bytes": os.path.getsize(proof)}
    json.dump(res, open("benches/proof_cli.json", "w"), indent=1)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
