#!/usr/bin/env python3
"""`govtrail serve` under load (issue 23): the release server on loopback, driven by the
project's own compiled load client (benches/src/bin/serve_load.rs: keep-alive HTTP/1.1, closed
loops), then the ledger counted and verified (zero loss: every acknowledged record is there).

    benches/serve_load.py [SECONDS] [--write]

Measured: native NDJSON in batches of 1,000 (4 clients), and Claude Code decide mode with the
Tractatus bundle (16 closed-loop clients: each sends its next call when answered; the durable
record included). With --write, the section "## Server load (issue 23)" of docs/BENCHMARKS.md
is rewritten.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/govtrail")
LOAD = os.path.join(ROOT, "target/release/serve_load")


def serve(ledger, key, state, extra):
    p = subprocess.Popen([BIN, "serve", ledger, "--key", key, "--listen", "127.0.0.1:0",
                          "--state-dir", state] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    return p, line.rsplit("http://", 1)[1].strip()


def stop(p):
    p.terminate()
    p.wait(timeout=60)
    if p.returncode != 0:
        raise SystemExit("server exit %s: %s" % (p.returncode, p.stderr.read()[-2000:]))


def load(addr, token, mode, clients, batch, seconds):
    r = subprocess.run([LOAD, addr, token, mode, str(clients), str(batch), str(seconds)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def verified(ledger, vkey):
    r = subprocess.run([BIN, "verify", ledger, "--pubkey", vkey, "--json"], capture_output=True,
                       text=True)
    return json.loads(r.stdout)


def main():
    args = [a for a in sys.argv[1:] if a != "--write"]
    seconds = float(args[0]) if args else 20
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "govtrail-cli",
                    "-p", "govtrail-benches", "--bin", "govtrail", "--bin", "serve_load"],
                   cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="serve-load-")
    key = os.path.join(tmp, "k")
    subprocess.run([BIN, "keygen", "--name", "load.example/s", "--out", key], check=True,
                   capture_output=True)
    results = {}
    for mode, clients, batch, extra in [
        ("native", 4, 1000, []),
        ("decide", 16, 1, ["--bundle", os.path.join(ROOT, "examples/bundles/tractatus")]),
    ]:
        ledger = os.path.join(tmp, mode)
        state = ledger + ".server"
        subprocess.run([BIN, "init", ledger, "--key", key + ".key"], check=True,
                       capture_output=True)
        token = subprocess.run([BIN, "token", "create", "--tokens", state + "/tokens.json",
                                "--name", "load", "--scope", "ingest"], check=True,
                               capture_output=True, text=True).stdout.strip()
        p, addr = serve(ledger, key + ".key", state, extra)
        r = load(addr, token, mode, clients, batch, seconds)
        stop(p)
        v = verified(ledger, key + ".vkey")
        r["ledger_records"] = v["verified"]
        r["verify"] = v["status"]
        r["lost"] = r["records"] - v["verified"]
        results[mode] = r
        print(json.dumps(r), flush=True)
    subprocess.run(["rm", "-rf", tmp])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "serve_load.json"), "w") as f:
        json.dump(results, f, indent=1)
    if "--write" in sys.argv:
        n, d = results["native"], results["decide"]
        section = "\n".join([
            "## Server load (issue 23)", "",
            "`benches/serve_load.py SECONDS`: the release `govtrail serve` on loopback, driven by",
            "`serve_load` (benches/src/bin/serve_load.rs, keep-alive HTTP/1.1, each client a closed",
            "loop), both on the same 2 cores; every answer is after the commit's fsync; afterwards",
            "the ledger is verified and counted against the records acknowledged.", "",
            "| load | clients | rate | ack p50 | p95 | p99 | max | lost | verify |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| native NDJSON, batches of 1,000 | {n['clients']} | {n['records_per_s']:,.0f} decisions/s | "
            f"{n['ack_ms']['p50']:.1f} ms | {n['ack_ms']['p95']:.1f} ms | {n['ack_ms']['p99']:.1f} ms | "
            f"{n['ack_ms']['max']:.1f} ms | {n['lost']} | {n['verify']} |",
            f"| Claude Code decide (Tractatus bundle, recorded) | {d['clients']} | {d['records_per_s']:,.0f} calls/s | "
            f"{d['ack_ms']['p50']:.2f} ms | {d['ack_ms']['p95']:.2f} ms | {d['ack_ms']['p99']:.2f} ms | "
            f"{d['ack_ms']['max']:.1f} ms | {d['lost']} | {d['verify']} |",
            "",
            f"{seconds:.0f} s each. Targets (issue 23): native ≥ 100k decisions/s with ack p99 ≤ 50 ms;",
            "decide p99 ≤ 3 ms with 16 closed-loop clients. Not measured yet: OPA and OTLP",
            "endpoints' rates, a 10-minute soak at 50k/s, fsync stalls from a probe of the run.",
            "",
        ])
        benchlib.write_section("## Server load (issue 23)", section)


if __name__ == "__main__":
    main()
