#!/usr/bin/env python3
"""Whole-process wall time of `govtrail decide` (benches/run.sh step 6).

Runs the release `govtrail decide --bundle examples/bundles/tractatus --spool S` (read the
Claude Code PreToolUse payload, load and check the bundle, evaluate it with regorus, write the
decision envelope and fsync the file and its directory, answer) and, as the baseline in the same
run, a minimal Node.js PreToolUse hook (benches/hooks/framework-audit-hook.js, the shape of
Tractatus's hooks, recording nothing): 201 calls each, interleaved, alternating a payload both
deny (an Edit of .claude/instruction-history.json, inst_027) and one both allow (a Bash `git
status`). Then 16 `govtrail decide` processes at once, on the same spool. Every answer is
checked; the spool is ingested into a signed ledger and every call must be in it. Writes
benches/decide_overhead.json with the median of three such runs.
"""
import json, os, statistics, subprocess, sys, tempfile, time

from benchlib import drain_spool, pct

BIN = os.path.abspath("target/release/govtrail")
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
        node_t, decide_t = [], []
        for i in range(N):
            body, want = payloads()[i % 2]
            order = ((NODE_HOOK, node_t), (decide, decide_t))
            for cmd, out in order if i % 4 < 2 else order[::-1]:
                t = time.perf_counter()
                r = subprocess.run(cmd, input=body, capture_output=True)
                out.append(time.perf_counter() - t)
                assert r.returncode == 0 and answer(r.stdout) == want, (cmd, r)
        # 16 hooks at once, as when an agent runs tools in parallel.
        body, want = payloads()[0]
        procs = [subprocess.Popen(decide, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(CONCURRENT)]
        for p in procs:
            p.stdin.write(body)
            p.stdin.close()
        for p in procs:
            out = p.stdout.read()
            assert p.wait() == 0 and answer(out) == want, p.stderr.read()
        recorded = drain_spool(BIN, spool, tmp, "bench.example/decide")
    ms = lambda s: s * 1e3  # noqa: E731
    return {"node_p50_ms": ms(pct(node_t, 50)), "node_p99_ms": ms(pct(node_t, 99)),
            "decide_p50_ms": ms(pct(decide_t, 50)), "decide_p99_ms": ms(pct(decide_t, 99)),
            "decide_max_ms": ms(max(decide_t)),
            "p50_ratio": pct(decide_t, 50) / pct(node_t, 50),
            "calls": N + CONCURRENT, "recorded": recorded}


def main():
    runs = [one_run() for _ in range(3)]
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
