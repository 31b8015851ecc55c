"""The dashboard on a large demo ledger (issue 24, acceptance 3): the overview's and one
session's page load time in Debian's Chromium (navigation start to the load event's end,
playwright-core: tests/browser/run.mjs --perf), and the server's peak resident memory (VmHWM)
while every page is browsed (run.mjs browse mode: no action runs).

Usage: python3 benches/dashboard.py [DECISIONS (10000000)] [RUNS (5)] [--write]
       python3 benches/dashboard.py --section-only   (rewrites the section from the last run)
Needs a release build (benches/run.sh builds one), node, tests/browser/node_modules (scripts/
test.sh installs them) and /usr/bin/chromium. Writes benches/dashboard.json; with --write, the
section "## Dashboard (issue 24)" of docs/BENCHMARKS.md. REUSE=1 keeps the ledger of an
earlier run."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/govtrail")
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(ARGS[0]) if ARGS else 10_000_000
RUNS = int(ARGS[1]) if len(ARGS) > 1 else 5
DIR = os.path.join(os.environ.get("TMPDIR", "/tmp"), "govtrail-dashboard-bench")


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def node(mode, env):
    r = subprocess.run(["node", os.path.join(ROOT, "tests/browser/run.mjs")],
                       cwd=os.path.join(ROOT, "tests/browser"), env={**os.environ, **env, "GOVTRAIL_MODE": mode},
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"run.mjs {mode} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def main():
    t0 = time.time()
    built_s = None
    if os.environ.get("REUSE") and os.path.exists(os.path.join(DIR, "read.token")):
        pass  # the ledger of an earlier run, as it is
    else:
        shutil.rmtree(DIR, ignore_errors=True)
        subprocess.run([BIN, "demo", DIR, "--decisions", str(N), "--no-serve"], check=True, capture_output=True)
        built_s = round(time.time() - t0, 1)
    state = os.path.join(DIR, "ledger.server")
    p = subprocess.Popen([BIN, "serve", os.path.join(DIR, "ledger"), "--key", os.path.join(DIR, "ledger.key"),
                          "--listen", "127.0.0.1:0", "--state-dir", state,
                          "--replay-bundles", os.path.join(DIR, "bundles")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        addr = p.stdout.readline().rsplit("://", 1)[1].strip()
        idle_kib = status(p.pid, "VmRSS")
        # The session with the most denials: the page an incident responder opens first.
        out = subprocess.run([BIN, "query", os.path.join(DIR, "ledger"), "--format", "json",
                              "SELECT session_id, count(*) AS n FROM decisions WHERE decision = 'deny' "
                              "GROUP BY session_id ORDER BY n DESC, session_id LIMIT 1"],
                             check=True, capture_output=True, text=True)
        session = json.loads(out.stdout)[0]["session_id"]
        env = {"GOVTRAIL_URL": f"http://{addr}", "GOVTRAIL_SESSION": session, "GOVTRAIL_RUNS": str(RUNS),
               "GOVTRAIL_ADMIN_TOKEN": open(os.path.join(DIR, "admin.token")).read().strip(),
               "GOVTRAIL_READ_TOKEN": open(os.path.join(DIR, "read.token")).read().strip()}
        browse = node("browse", env)
        hwm_browse = status(p.pid, "VmHWM")
        perf = node("perf", env)
        hwm = status(p.pid, "VmHWM")
    finally:
        p.terminate()
        p.wait()
    load = {}
    for page in perf["pages"]:
        load.setdefault(page["name"], []).append(page["load_ms"])
    result = {
        "decisions": N, "runs": RUNS, "built_s": built_s, "session": session,
        "load_ms": {k: {"median": statistics.median(v), "all": v} for k, v in load.items()},
        "browse_ms": {pg["name"]: round(pg["load_ms"]) for pg in browse["pages"]},
        "browse_status": {pg["name"]: pg["status"] for pg in browse["pages"]},
        "rss_idle_mib": round(idle_kib / 1024, 1),
        "rss_peak_browse_mib": round(hwm_browse / 1024, 1),
        "rss_peak_mib": round(hwm / 1024, 1),
    }
    json.dump(result, open(os.path.join(ROOT, "benches/dashboard.json"), "w"), indent=1)
    print(json.dumps(result, indent=1))


def section(r):
    load = r["load_ms"]
    rows = [f"| {name} | {r['browse_status'][name]} | {ms:,} |" for name, ms in r["browse_ms"].items()]
    return [
        "## Dashboard (issue 24)", "",
        f"`benches/dashboard.py`: a `govtrail demo` ledger of {r['decisions']:,} decisions (sealed",
        "segments of 1,048,576 records, the writer's default), served by the release `govtrail serve`",
        "on loopback and browsed in Debian's Chromium (headless, playwright-core: tests/browser/run.mjs).",
        "A page's time is the browser's, from navigation start to the end of the load event",
        "(`performance.getEntriesByType('navigation')`); the server's peak resident memory is its",
        "`VmHWM`, read after every page was browsed (no action run) and again after the timed runs.", "",
        "| target | measured | bound |", "|---|---|---|",
        f"| overview renders (median of {r['runs']}) | {load['overview']['median']:.0f} ms "
        f"(runs: {', '.join(f'{x:.0f}' for x in load['overview']['all'])}) | ≤ 1,000 ms |",
        f"| a session's timeline renders (`{r['session']}`, the session with most denials; median of {r['runs']}) | "
        f"{load['session']['median']:.0f} ms (runs: {', '.join(f'{x:.0f}' for x in load['session']['all'])}) | ≤ 500 ms |",
        f"| server's peak RSS, every page browsed | {r['rss_peak_browse_mib']} MiB | ≤ 256 MiB |",
        f"| server's peak RSS, after the timed runs too | {r['rss_peak_mib']} MiB | ≤ 256 MiB |",
        f"| server's RSS at start | {r['rss_idle_mib']} MiB | |", "",
        "Every page once (status, ms):", "", "| page | status | ms |", "|---|---|---|", *rows, "",
        "`sessions-divergences` is refused (422) on purpose above 2,000,000 records: counting each",
        "session's divergences reads every record's `event` and `tool_use_id` from its JSON, which",
        "took 178 s and 2.3 GB through the `effective` view (25 s and 900 MB for the two fields alone):",
        "docs/SERVER.md §8. What brought the rest within bounds, each measured on the same 10M",
        "decisions (then in 65,536-record segments): `report rca` reads the `effective` view for its own session only",
        "(167 s and 2 GB → 0.17 s); `report roi` counts blocks once per set of rules (20.8 s → 1.0 s);",
        "an overhead comparison scans in one partition (its exact percentiles hold every measured",
        "value: peak 296 → 203 MiB, 2.1 → 2.9 s); the queries share one 96 MiB DataFusion pool with",
        "an eighth of it for file metadata. On 65,536-record segments (153 files) the same browsing",
        "peaked at 259.9 MiB and the overview took 500 ms: the per-file metadata costs memory.",
    ]


if "--section-only" in sys.argv:
    benchlib.write_section("## Dashboard (issue 24)", "\n".join(section(json.load(open(os.path.join(ROOT, "benches/dashboard.json"))))) + "\n")
else:
    main()
    if "--write" in sys.argv:
        benchlib.write_section("## Dashboard (issue 24)", "\n".join(section(json.load(open(os.path.join(ROOT, "benches/dashboard.json"))))) + "\n")
