"""obsigna peer driver: ReceiptChain.emit() (build, JCS, Ed25519, hash link) with an
emitter that calls ReceiptStore.insert(r, hash_receipt(r)) on SQLite (default
journal, one commit per receipt); then verify_stored_chain(store, chain_id, pubkey).
Action filesystem.file.read, outcome success. Usage: obsigna_driver.py N
Prints one JSON line to stdout; library noise goes to stderr.
"""
import contextlib, json, logging, os, sys, tempfile, time

logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

from obsigna import (VERSION, ActionInput, ChainEmitInput, Issuer, Outcome, Principal,
                     ReceiptChain, ReceiptStore, generate_key_pair, hash_receipt,
                     verify_stored_chain)


class StoreEmitter:
    def __init__(self, store):
        self.store = store

    def emit(self, r):
        self.store.insert(r, hash_receipt(r))


def run(n, tmp):
    store = ReceiptStore(os.path.join(tmp, "receipts.db"))
    keys = generate_key_pair()
    chain_id = "bench-chain"
    chain = ReceiptChain(chain_id=chain_id, private_key=keys.private_key,
                         verification_method="did:agent:bench#key-1",
                         emitter=StoreEmitter(store))
    inp = ChainEmitInput(issuer=Issuer(id="did:agent:bench"),
                         principal=Principal(id="did:user:bench"),
                         action=ActionInput(type="filesystem.file.read", risk_level="low"),
                         outcome=Outcome(status="success"))
    t0 = time.perf_counter()
    for _ in range(n):
        chain.emit(inp)
    t1 = time.perf_counter()
    res = verify_stored_chain(store, chain_id, keys.public_key)
    t2 = time.perf_counter()
    store.close()
    if not res.valid or res.length != n:
        raise SystemExit(f"obsigna verification FAILED: valid={res.valid} "
                         f"length={res.length} n={n} error={res.error!r}")
    return t1 - t0, t2 - t1


def main():
    n = int(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="obsigna-bench-") as tmp:
        with contextlib.redirect_stdout(sys.stderr):
            append_s, verify_s = run(n, tmp)
    print(json.dumps({"peer": f"obsigna {VERSION}", "n": n, "append_s": append_s,
                      "verify_s": verify_s, "verified": True}))


if __name__ == "__main__":
    main()
