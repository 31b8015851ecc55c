#!/usr/bin/env python3
"""Whole-process wall time of `govtrail decide` (benches/run.sh step 6).

Runs the release `govtrail decide --bundle examples/bundles/tractatus --spool S` (read the
Claude Code PreToolUse payload, evaluate the bundle, record the decision envelope durably,
answer) in its two modes:
- resident: a `govtrail decide --serve` listens on the spool's socket, evaluates with the
  bundle it keeps loaded and records the call in its hook log (one fdatasync) before answering;
- in-process (`--no-server`): the call loads and checks the bundle itself, evaluates, and
  writes its own spool file (fdatasync, rename, directory fsync);
and, as baselines in the same run, a minimal Node.js PreToolUse hook
(benches/hooks/framework-audit-hook.js, the shape of Tractatus's hooks, recording nothing) and
`/bin/true` (what starting any process from this harness costs). When the statically linked
build exists (target/x86_64-unknown-linux-gnu/release/govtrail, which benches/run.sh builds),
its resident calls are measured too, against the same server. 201 calls each, interleaved
(the order rotates each round); then 201 resident calls per build and 201 `/bin/true` alone;
payloads alternate one both deny (an Edit of .claude/instruction-history.json, inst_027) and
one both allow (a Bash `git status`). Then 16 resident `govtrail decide` processes at once, and
16 in-process ones, on the same spool. Every answer is checked; the spool is ingested into a
signed ledger and every call must be in it, each resident call recorded as such. Writes
benches/decide_overhead.json with the median of three runs.
"""
import json, os, statistics, subprocess, sys, tempfile, time

from benchlib import drain_spool, pct, spool_records

BIN = os.path.abspath("target/release/govtrail")
# The same code linked statically (benches/run.sh builds it: `--target x86_64-unknown-linux-gnu`
# with `+crt-static`), the build README recommends for hooks; measured beside BIN when present.
STATIC_BIN = os.path.abspath("target/x86_64-unknown-linux-gnu/release/govtrail")
BUNDLE = os.path.abspath("examples/bundles/tractatus")
NODE_HOOK = ["node", os.path.abspath("benches/hooks/framework-audit-hook.js")]
N = 201
CONCURRENT = 16


def payloads():
    base = {"session_id": "5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10", "transcript_path": "/t.jsonl",
            "cwd": "/w", "permission_mode": "default", "hook_event_name": "PreToolUse",
            "tool_use_id": "toolu_01"}
    deny = dict(base, tool_name="Edit", tool_input={"file_path": "/w/.claude/instruction-history.json",
                                                     "old_string": "a", "new_string": "b"})
    allow = dict(base, tool_name="Bash", tool_input={"command": "git status --short"})
    return [(json.dumps(deny).encode(), "deny"), (json.dumps(allow).encode(), "allow")]


def answer(stdout):
    return json.loads(stdout)["hookSpecificOutput"]["permissionDecision"]


def one_run():
    with tempfile.TemporaryDirectory() as tmp:
        spool = os.path.join(tmp, "spool")
        decide = [BIN, "decide", "--bundle", BUNDLE, "--spool", spool]
        server = subprocess.Popen(decide + ["--serve"], stderr=subprocess.DEVNULL)
        try:
            socket = os.path.join(spool, ".decide.sock")
            deadline = time.time() + 30
            while not os.path.exists(socket):
                assert time.time() < deadline and server.poll() is None, "decide --serve did not start"
                time.sleep(0.01)
            modes = {"true": (["/bin/true"], None), "node": (NODE_HOOK, "answer"),
                     "resident": (decide, "answer"), "in_process": (decide + ["--no-server"], "answer")}
            if os.path.exists(STATIC_BIN):
                modes["resident_static"] = ([STATIC_BIN] + decide[1:], "answer")
            # Phase 1 interleaves every command with the Node.js hook; phase 2 runs the resident
            # calls with /bin/true only. After a process that frees tens of MB, as Node.js does
            # at exit (and an in-process decide, less so), this machine's fdatasync stalls for up
            # to hundreds of ms (measured by fsync_probe), which only the recording commands pay.
            times = {k: [] for k in modes}
            alone = {k: [] for k in ("true", "resident", "resident_static") if k in modes}
            for phase in (times, alone):
                names = list(phase)
                for i in range(N):
                    body, want = payloads()[i % 2]
                    for k in names[i % len(names):] + names[:i % len(names)]:
                        cmd, check = modes[k]
                        t = time.perf_counter()
                        r = subprocess.run(cmd, input=body, capture_output=True)
                        phase[k].append(time.perf_counter() - t)
                        assert r.returncode == 0 and (check is None or answer(r.stdout) == want), (cmd, r)
            # 16 hooks at once, as when an agent runs tools in parallel, in each mode.
            body, want = payloads()[0]
            for cmd in (decide, decide + ["--no-server"]):
                procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE) for _ in range(CONCURRENT)]
                for p in procs:
                    p.stdin.write(body)
                    p.stdin.close()
                for p in procs:
                    out = p.stdout.read()
                    assert p.wait() == 0 and answer(out) == want, p.stderr.read()
            evaluators = [r["evaluator"] for r in spool_records(spool)]
            resident_calls = len([k for k in times if k.startswith("resident")]) * 2 * N + CONCURRENT
            assert evaluators.count("resident") == resident_calls, evaluators
            assert evaluators.count("in-process") == N + CONCURRENT, evaluators
        finally:
            server.terminate()
            server.wait()
        recorded = drain_spool(BIN, spool, tmp, "bench.example/decide")
    ms = lambda s: s * 1e3  # noqa: E731
    res = {}
    for k, ts in times.items():
        res[f"{k}_p50_ms"] = ms(pct(ts, 50))
        res[f"{k}_p99_ms"] = ms(pct(ts, 99))
    for k, ts in alone.items():
        res[f"alone_{k}_p50_ms"] = ms(pct(ts, 50))
        res[f"alone_{k}_p99_ms"] = ms(pct(ts, 99))
    res["resident_max_ms"] = ms(max(times["resident"]))
    if "resident_static" in times:
        res["static_vs_dynamic_p50"] = pct(times["resident_static"], 50) / pct(times["resident"], 50)
    res["resident_vs_node_p50"] = pct(times["resident"], 50) / pct(times["node"], 50)
    res["in_process_vs_node_p50"] = pct(times["in_process"], 50) / pct(times["node"], 50)
    res["calls"] = sum(len(ts) for k, ts in list(times.items()) + list(alone.items())
                       if k not in ("true", "node")) + 2 * CONCURRENT
    res["recorded"] = recorded
    return res


def fsync_probe(n=40):
    """fdatasync of a new 800-byte file right after /bin/true and right after the Node.js hook:
    (p50, p99, max) in ms for each."""
    out = {}
    with tempfile.TemporaryDirectory(dir=os.path.dirname(BIN)) as tmp:
        for name, cmd in (("true", ["/bin/true"]), ("node", NODE_HOOK)):
            ts = []
            for i in range(n):
                subprocess.run(cmd, input=payloads()[1][0], capture_output=True)
                fd = os.open(os.path.join(tmp, f"{name}{i}"), os.O_CREAT | os.O_WRONLY)
                os.write(fd, b"x" * 800)
                t = time.perf_counter()
                os.fdatasync(fd)
                ts.append(time.perf_counter() - t)
                os.close(fd)
            out[f"fdatasync_after_{name}_p50_ms"] = pct(ts, 50) * 1e3
            out[f"fdatasync_after_{name}_p99_ms"] = pct(ts, 99) * 1e3
            out[f"fdatasync_after_{name}_max_ms"] = max(ts) * 1e3
    return out


def main():
    runs = [dict(one_run(), **fsync_probe()) for _ in range(3)]
    res = {k: statistics.median(r[k] for r in runs) if isinstance(runs[0][k], float) else runs[0][k]
           for k in runs[0]}
    res["runs"] = len(runs)
    res["calls"] = sum(r["calls"] for r in runs)
    res["recorded"] = sum(r["recorded"] for r in runs)
    assert res["recorded"] == res["calls"], res
    json.dump(res, open("benches/decide_overhead.json", "w"), indent=1)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
