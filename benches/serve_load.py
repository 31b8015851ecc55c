#!/usr/bin/env python3
"""`govtrail serve` under load (issue 23): the release server on loopback, driven by the
project's own compiled load client (benches/src/bin/serve_load.rs: keep-alive HTTP/1.1, closed
loops), then the ledger counted and verified (zero loss: every acknowledged record is there).

    benches/serve_load.py [SECONDS] [--soak MINUTES RATE] [--crash-cycles N] [--write]

Measured: native NDJSON in batches of 1,000 (4 clients); OPA decision-log chunks (gzip JSON
arrays of 200 events, 4 clients); OTLP/JSON guardrail spans in exports of 512 (the SDK's batch
size, 4 clients); Claude Code decide mode with the Tractatus bundle (16 closed-loop clients:
each sends its next call when answered; the durable record included). With --soak, native
NDJSON at RATE decisions/s for MINUTES, the server's resident memory sampled every 5 s. With
--crash-cycles, the SIGKILL-under-load test (cli/tests/it/serve.rs) runs N kill/restart cycles
on the release build. With --write, the section "## Server load (issue 23)" of
docs/BENCHMARKS.md is rewritten.
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


def load(addr, token, mode, clients, batch, seconds, rate=None):
    cmd = [LOAD, addr, token, mode, str(clients), str(batch), str(seconds)]
    if rate:
        cmd.append(str(rate))
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def soak(tmp, key, minutes, rate):
    """Native NDJSON at `rate` for `minutes`; the server's RSS every 5 s; then counted."""
    import threading
    ledger = os.path.join(tmp, "soak")
    state = ledger + ".server"
    subprocess.run([BIN, "init", ledger, "--key", key + ".key"], check=True, capture_output=True)
    token = subprocess.run([BIN, "token", "create", "--tokens", state + "/tokens.json", "--name",
                            "soak", "--scope", "ingest"], check=True, capture_output=True,
                           text=True).stdout.strip()
    p, addr = serve(ledger, key + ".key", state, [])
    samples, done = [], threading.Event()
    segments = os.path.join(ledger, "segments")

    def sample():
        # Every second: the RSS, the segments sealed so far, and the memory the decision-id
        # index reports (`govtrail_id_index_bytes`, from /metrics: it grows with the ledger).
        t0 = time.time()
        while not done.wait(1):
            sealed = len([f for f in os.listdir(segments) if f.endswith(".parquet")])
            samples.append((round(time.time() - t0), rss_kib(p.pid), sealed,
                            metric(addr, "govtrail_id_index_bytes") // 1024))
    threading.Thread(target=sample, daemon=True).start()
    r = load(addr, token, "native", 4, 1000, minutes * 60, rate)
    done.set()
    stop(p)
    v = verified(ledger, key + ".vkey")
    r.update({"ledger_records": v["verified"], "verify": v["status"],
              "lost": r["records"] - v["verified"], "rss_kib": samples})
    return r


def metric(addr, name):
    """One unlabelled sample of the server's /metrics."""
    import urllib.request
    with urllib.request.urlopen("http://%s/metrics" % addr, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return 0


def soak_figures(samples):
    """Per sealed segment, the lowest RSS while it was the newest (a trough of the sawtooth
    the WAL and the seal draw), less the id index the server reports then; the second quarter
    of the segments against the last."""
    low = {}
    for _, kib, sealed, index in samples:
        if sealed not in low or kib < low[sealed][0]:
            low[sealed] = (kib, index)
    keys = sorted(low)
    q = max(1, len(keys) // 4)
    def mean(ks, f):
        return sum(f(low[k]) for k in ks) / len(ks) / 1024
    early, late = keys[q:2 * q], keys[-q:]
    return {
        "trough_early_mib": mean(early, lambda v: v[0]),
        "trough_late_mib": mean(late, lambda v: v[0]),
        "index_early_mib": mean(early, lambda v: v[1]),
        "index_late_mib": mean(late, lambda v: v[1]),
        "rest_early_mib": mean(early, lambda v: v[0] - v[1]),
        "rest_late_mib": mean(late, lambda v: v[0] - v[1]),
        "segments": len(keys),
        "max_mib": max(s[1] for s in samples) / 1024,
    }


def fsync_probe(addr):
    """The run's own probe of fsync stalls: the server's `govtrail_fsync_duration_seconds`
    histogram (every WAL fsync of the run), read from /metrics before the server stops."""
    import urllib.request
    text = urllib.request.urlopen("http://%s/metrics" % addr, timeout=10).read().decode()
    buckets, count, total = [], 0, 0.0
    for line in text.splitlines():
        if line.startswith("govtrail_fsync_duration_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), int(float(line.split()[-1]))))
        elif line.startswith("govtrail_fsync_duration_seconds_count "):
            count = int(float(line.split()[-1]))
        elif line.startswith("govtrail_fsync_duration_seconds_sum "):
            total = float(line.split()[-1])

    def quantile(q):
        # The upper bound of the bucket holding the q-quantile.
        for le, n in sorted(buckets):
            if count and n >= q * count:
                return le
        return float("nan")
    at = dict(buckets)
    return {"fsyncs": count, "mean_ms": round(1000 * total / count, 3) if count else None,
            "p50_le_ms": quantile(0.5) * 1000, "p99_le_ms": quantile(0.99) * 1000,
            "over_50ms": count - at.get(0.05, count), "over_100ms": count - at.get(0.1, count),
            "over_1s": count - at.get(1.0, count)}


def verified(ledger, vkey):
    r = subprocess.run([BIN, "verify", ledger, "--pubkey", vkey, "--json"], capture_output=True,
                       text=True)
    return json.loads(r.stdout)


def main():
    args = [a for a in sys.argv[1:] if a != "--write"]
    soak_args = None
    crash_cycles = None
    if "--crash-cycles" in args:
        i = args.index("--crash-cycles")
        crash_cycles = int(args[i + 1])
        del args[i:i + 2]
    if "--soak" in args:
        i = args.index("--soak")
        soak_args = (float(args[i + 1]), float(args[i + 2]))
        del args[i:i + 3]
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
        ("opa", 4, 200, []),
        ("otlp", 4, 512, []),
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
        r["fsync"] = fsync_probe(addr)
        stop(p)
        v = verified(ledger, key + ".vkey")
        r["ledger_records"] = v["verified"]
        r["verify"] = v["status"]
        r["lost"] = r["records"] - v["verified"]
        results[mode] = r
        print(json.dumps(r), flush=True)
    if crash_cycles:
        t = time.time()
        r = subprocess.run(["cargo", "test", "--release", "--locked", "-p", "govtrail-cli", "--test",
                            "it", "serve::sigkill_under_load", "--", "--nocapture"],
                           cwd=ROOT, capture_output=True, text=True,
                           env=dict(os.environ, GOVTRAIL_SERVE_CRASH_CYCLES=str(crash_cycles)))
        line = [l for l in r.stderr.splitlines() + r.stdout.splitlines() if "SIGKILL cycles" in l]
        results["crash"] = {"cycles": crash_cycles, "ok": r.returncode == 0,
                            "summary": line[0] if line else r.stdout[-500:],
                            "seconds": round(time.time() - t)}
        print(json.dumps(results["crash"]), flush=True)
    if soak_args:
        results["soak"] = soak(tmp, key, *soak_args)
        print(json.dumps({k: v for k, v in results["soak"].items() if k != "rss_kib"}), flush=True)
    subprocess.run(["rm", "-rf", tmp])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "serve_load.json"), "w") as f:
        json.dump(results, f, indent=1)
    if "--write" in sys.argv:
        n, o, t, d = results["native"], results["opa"], results["otlp"], results["decide"]
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
            f"| OPA decision logs, gzip chunks of 200 events | {o['clients']} | {o['records_per_s']:,.0f} decisions/s | "
            f"{o['ack_ms']['p50']:.1f} ms | {o['ack_ms']['p95']:.1f} ms | {o['ack_ms']['p99']:.1f} ms | "
            f"{o['ack_ms']['max']:.1f} ms | {o['lost']} | {o['verify']} |",
            f"| OTLP/JSON guardrail spans, exports of 512 | {t['clients']} | {t['records_per_s']:,.0f} spans/s | "
            f"{t['ack_ms']['p50']:.1f} ms | {t['ack_ms']['p95']:.1f} ms | {t['ack_ms']['p99']:.1f} ms | "
            f"{t['ack_ms']['max']:.1f} ms | {t['lost']} | {t['verify']} |",
            f"| Claude Code decide (Tractatus bundle, recorded) | {d['clients']} | {d['records_per_s']:,.0f} calls/s | "
            f"{d['ack_ms']['p50']:.2f} ms | {d['ack_ms']['p95']:.2f} ms | {d['ack_ms']['p99']:.2f} ms | "
            f"{d['ack_ms']['max']:.1f} ms | {d['lost']} | {d['verify']} |",
            "",
            "fsync stalls, from the run's own probe (the server's `govtrail_fsync_duration_seconds`",
            "histogram, every WAL fsync of the run; p50/p99 are the upper bounds of their buckets):", "",
            "| load | fsyncs | mean | p50 ≤ | p99 ≤ | ≥ 50 ms | ≥ 100 ms | ≥ 1 s |",
            "|---|---|---|---|---|---|---|---|",
        ] + [
            f"| {name} | {r['fsync']['fsyncs']:,} | {r['fsync']['mean_ms']:.2f} ms | "
            f"{r['fsync']['p50_le_ms']:g} ms | {r['fsync']['p99_le_ms']:g} ms | {r['fsync']['over_50ms']} | "
            f"{r['fsync']['over_100ms']} | {r['fsync']['over_1s']} |"
            for name, r in [("native", n), ("OPA", o), ("OTLP", t), ("decide", d)]
        ] + [
            "",
            f"{seconds:.0f} s each. Targets (issue 23): native ≥ 100k decisions/s with ack p99 ≤ 50 ms;",
            "decide p99 ≤ 3 ms with 16 closed-loop clients. For scale: the OpenTelemetry Collector",
            "takes ~12k spans/s per core, OPA with decision logging ~1k decisions/s per core",
            "(shared/notes/wave2-anchors.md §C.8).",
            "",
        ])
        if "soak" in results:
            k = results["soak"]
            f = soak_figures(k["rss_kib"])
            # Flat: apart from the id index (which grows with the ledger by design), the
            # troughs of the last quarter within 10% of the second quarter's.
            flat = abs(f["rest_late_mib"] - f["rest_early_mib"]) <= 0.1 * f["rest_early_mib"]
            section += "\n" + "\n".join([
                f"Soak: native NDJSON paced at {soak_args[1]:,.0f} decisions/s for {soak_args[0]:.0f} minutes:",
                f"{k['records_per_s']:,.0f} decisions/s sustained, ack p99 {k['ack_ms']['p99']:.1f} ms, "
                f"{k['records']:,} acknowledged, {k['lost']} lost, verify {k['verify']}. The server's RSS,",
                f"sampled every second, is a sawtooth (a tooth per segment: the WAL's hashes and ids until",
                f"its seal, then the seal); its troughs, per segment, averaged over the second and the last",
                f"quarter of the {f['segments']} segments: {f['trough_early_mib']:.0f} MiB and "
                f"{f['trough_late_mib']:.0f} MiB, of which the decision-id index (the server's",
                f"`govtrail_id_index_bytes`, about 2.1 bytes a sealed record) {f['index_early_mib']:.0f} MiB and "
                f"{f['index_late_mib']:.0f} MiB; the rest {f['rest_early_mib']:.0f} MiB and "
                f"{f['rest_late_mib']:.0f} MiB: **{'flat' if flat else 'not flat'}** (within 10%: "
                f"{'yes' if flat else 'no'}). Highest sample {f['max_mib']:.0f} MiB.",
                "",
            ])
        else:
            section += "\nNot measured in this run: the soak (`--soak 10 50000`).\n"
        if "crash" in results:
            c = results["crash"]
            section += "\n" + (f"SIGKILL under load ({c['cycles']} kill/restart cycles, release build, "
                                f"{'passed' if c['ok'] else 'FAILED'}): {c['summary']}\n")
        benchlib.write_section("## Server load (issue 23)", section)


if __name__ == "__main__":
    main()
