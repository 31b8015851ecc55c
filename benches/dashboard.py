"""The dashboard on a large demo ledger (issue 24, acceptance 3): the overview's and one
session's page load time in Debian's Chromium (navigation start to the load event's end,
playwright-core: tests/browser/run.mjs --perf), and the server's peak resident memory (VmHWM)
while every page is browsed (run.mjs browse mode: no action runs).

Usage: python3 benches/dashboard.py [DECISIONS (10000000)] [RUNS (5)]
Needs a release build (benches/run.sh builds one), node, tests/browser/node_modules (scripts/
test.sh installs them) and /usr/bin/chromium. Writes benches/dashboard.json."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/govtrail")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
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


main()
