"""inalign-mcp peer driver: HOME -> fresh temp dir (Ed25519 key auto-generated there),
ProvenanceChain.record_activity(TOOL_CALL, "Read", used=[args], attributes) then
sqlite_storage.store_record() (the MCP server's _persist_store path: WAL, one commit
per record); verify via load_chain(session).verify_chain(). Usage: inalign_driver.py N
Prints one JSON line to stdout; library noise goes to stderr.
"""
import contextlib, json, logging, os, shutil, sys, tempfile, time

logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
TMP = tempfile.mkdtemp(prefix="inalign-bench-")
os.environ["HOME"] = TMP  # must precede the import: DB and key paths use Path.home()

from importlib.metadata import version
with contextlib.redirect_stdout(sys.stderr):
    from inalign_mcp import sqlite_storage
    from inalign_mcp.provenance import ActivityType, Agent, ProvenanceChain


def run(n):
    session = "bench-session"
    chain = ProvenanceChain(session, Agent(id="agent:claude:bench", type="ai_agent",
                                           name="claude"))
    sqlite_storage.store_session(session, chain.agent, "")  # server does this at seq 0
    args = {"file_path": "/tmp/example.txt"}
    t0 = time.perf_counter()
    for _ in range(n):
        rec = chain.record_activity(ActivityType.TOOL_CALL, "Read", used=[(args, "input")],
                                    attributes={"inputs": args, "outputs": {}, "client_id": ""})
        sqlite_storage.store_record(rec)
    t1 = time.perf_counter()
    loaded = sqlite_storage.load_chain(session)
    ok, err = loaded.verify_chain()
    t2 = time.perf_counter()
    signed = sum(1 for r in loaded.records if r.signature)
    sqlite_storage.close()
    if ok is not True or len(loaded.records) != n or signed != n:
        raise SystemExit(f"inalign verification FAILED: ok={ok} err={err!r} "
                         f"records={len(loaded.records)} signed={signed} n={n}")
    return t1 - t0, t2 - t1


def main():
    n = int(sys.argv[1])
    try:
        with contextlib.redirect_stdout(sys.stderr):
            append_s, verify_s = run(n)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(json.dumps({"peer": f"inalign-mcp {version('inalign-mcp')}", "n": n,
                      "append_s": append_s, "verify_s": verify_s, "verified": True}))


if __name__ == "__main__":
    main()
