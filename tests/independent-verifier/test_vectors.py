#!/usr/bin/env python3
"""Tests of the independent verifier (govtrail_verify.py), with plain asserts.

- every RFC 6962 / RFC 9162 proof vector in tests/vectors/rfc6962/ (as tests/e2e/vectors.rs
  reads them);
- unit-style checks of witness cosignatures (§10), policy parsing and quorum evaluation (§11);
- end-to-end cases on copies of the committed ledger tests/vectors/ledger-v1/ (its test signer
  is the Ed25519 seed 42×32): key transitions and revoked keys (§11), witness quorums, evidence
  packs (§12) and proof files (§8), each built here from the spec.

Run: .venv/bin/python tests/independent-verifier/test_vectors.py (prints a count; exit 1 on a
failure).
"""

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import blake3  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

import govtrail_verify as gv  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
VECTORS = os.path.join(REPO, "tests", "vectors", "rfc6962")
LEDGER_V1 = os.path.join(REPO, "tests", "vectors", "ledger-v1")
ORIGIN = "test.govtrail.example/ledger"
COUNT = {"checks": 0}


def check(cond, what):
    assert cond, what
    COUNT["checks"] += 1


# RFC 6962 vectors.

def json_files(root):
    out = []
    for d, _, names in os.walk(root):
        out.extend(os.path.join(d, n) for n in names if n.endswith(".json"))
    return sorted(out)


def vec_hash(v):
    """A base64 hash as bytes, or None (which makes the case fail verification)."""
    try:
        return gv.b64decode_strict(v) if type(v) is str else None
    except ValueError:
        return None


def vec_hashes(v):
    if v is None:
        return []
    if type(v) is not list:
        return None
    out = [vec_hash(x) for x in v]
    return None if any(h is None or len(h) != 32 for h in out) else out


def vec_size(v):
    return v if type(v) is int and v >= 0 else None


def inclusion_case(c):
    idx, size, leaf = vec_size(c.get("leafIdx")), vec_size(c.get("treeSize")), vec_hash(c.get("leafHash"))
    proof, root = vec_hashes(c.get("proof")), vec_hash(c.get("root"))
    if None in (idx, size, leaf, root) or proof is None:
        return False
    return gv.verify_inclusion(idx, size, leaf, proof, root)


def consistency_case(c):
    s1, s2 = vec_size(c.get("size1")), vec_size(c.get("size2"))
    r1, r2, proof = vec_hash(c.get("root1")), vec_hash(c.get("root2")), vec_hashes(c.get("proof"))
    if None in (s1, s2, r1, r2) or proof is None:
        return False
    return gv.verify_consistency(s1, s2, r1, r2, proof)


def test_rfc6962_vectors():
    for kind, run, least in (("inclusion", inclusion_case, 80), ("consistency", consistency_case, 90)):
        files = json_files(os.path.join(VECTORS, kind))
        check(len(files) > least, f"only {len(files)} {kind} vectors")
        for path in files:
            with open(path) as f:
                c = json.load(f)
            check(run(c) == (not c["wantErr"]), f"{path}: verified={run(c)}, wantErr={c['wantErr']}")


# Keys, notes and cosignatures built from the spec.

class Signer:
    def __init__(self, name, alg=0x01, seed=None):
        self.name, self.alg = name, alg
        self.priv = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
        self.pub = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
        self.id = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + self.pub).digest()[:4]
        self.vkey = f"{name}+{self.id.hex()}+{base64.b64encode(bytes([alg]) + self.pub).decode()}"

    def sign_line(self, text):
        return f"\u2014 {self.name} {base64.b64encode(self.id + self.priv.sign(text.encode())).decode()}\n"

    def cosign_line(self, text, time):
        sig = self.priv.sign(b"cosignature/v1\ntime %d\n" % time + text.encode())
        return f"\u2014 {self.name} {base64.b64encode(self.id + struct.pack('>Q', time) + sig).decode()}\n"


LOG_A = Signer(ORIGIN, seed=bytes([42] * 32))  # the signer of tests/vectors/ledger-v1
LOG_B = Signer(ORIGIN)
W1, W2, W3 = (Signer(f"witness{i}.example", 0x04) for i in (1, 2, 3))


def note(text, signers=(), witnesses=(), time=1_760_000_000):
    return (text + "\n" + "".join(s.sign_line(text) for s in signers)
            + "".join(w.cosign_line(text, time) for w in witnesses)).encode()


def checkpoint_text(size, root, origin=ORIGIN):
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def cosign(data, witnesses, time=1_760_000_000):
    """Adds cosignature lines to a signed note."""
    text = gv.parse_note(data)[0]
    return data + "".join(w.cosign_line(text, time) for w in witnesses).encode()


def policy(text):
    return gv.parse_policy(text, "test")


def test_cosignatures():
    text = checkpoint_text(5, bytes(32))
    p = policy(f"log {LOG_A.vkey}\nwitness w1 {W1.vkey}\nquorum w1\n")
    t = gv.Trust(p, ORIGIN)
    good = note(text, [LOG_A], [W1])
    check(t.judge(good, "good")[0] == (ORIGIN, 5, bytes(32)), "cosigned checkpoint is trusted")
    sig_line = good.decode().split("\n")[-2]
    start = good.rindex(b" ") + 1
    flips = 0
    for pos in range(start, len(good) - 1):  # every bit of the cosignature's base64
        for bit in range(8):
            bad = bytearray(good)
            bad[pos] ^= 1 << bit
            try:
                cp, _ = t.judge(bytes(bad), "flipped")
                ok = cp is not None
            except gv.Failure as f:
                ok = False
                check(f.cls in ("bad-signature", "corrupt"), f"flip gives {f.cls}")
            check(not ok, f"a flipped bit at {pos}.{bit} of the cosignature still verifies")
            flips += 1
    check(flips > 500, "flipped the cosignature's bits")
    # The time is signed: the same signature under another time fails.
    raw = bytearray(gv.b64decode_strict(sig_line.split(" ")[2]))
    raw[11] ^= 1
    moved = good[: len(good) - len(sig_line.encode()) - 1] + \
        f"\u2014 {W1.name} {base64.b64encode(bytes(raw)).decode()}\n".encode()
    try:
        t.judge(moved, "moved time")
        check(False, "a cosignature with another time verifies")
    except gv.Failure as f:
        check(f.cls == "bad-signature", f"changed time gives {f.cls}")
    # A cosignature of another text, or a log signature line used as a cosignature, fails.
    other = W1.cosign_line(checkpoint_text(6, bytes(32)), 1)
    for line in (other, f"\u2014 {W1.name} {base64.b64encode(W1.id + W1.priv.sign(text.encode())).decode()}\n"):
        try:
            t.judge(note(text, [LOG_A]) + line.encode(), "wrong cosignature")
            check(False, "a wrong cosignature verifies")
        except gv.Failure as f:
            check(f.cls == "bad-signature", f"wrong cosignature gives {f.cls}")
    # Unknown witnesses are ignored; without the quorum the checkpoint is not trusted.
    cp, why = t.judge(note(text, [LOG_A], [W2]), "unknown witness")
    check(cp is None and "quorum" in why, "unknown witness does not meet the quorum")
    check(t.judge(note(text, [LOG_A]), "bare")[0] is None, "uncosigned checkpoint is not trusted")
    # A cosignature alone is no log signature.
    cp, why = t.judge(note(text, [], [W1]), "witness only")
    check(cp is None and "no trusted log key" in why, "witness-only checkpoint is ignored")
    # Without a quorum, cosignatures are checked but not needed.
    t0 = gv.Trust(policy(f"log {LOG_A.vkey}\nwitness w1 {W1.vkey}\n"), ORIGIN)
    check(t0.judge(note(text, [LOG_A]), "no quorum")[0] is not None, "no quorum needed")


def usage(text):
    try:
        policy(text)
    except gv.Usage as e:
        return str(e)
    return None


def test_policy_parsing():
    p = policy(f"# a comment\n\nlog {LOG_A.vkey}\n  # indented comment\nwitness w1 {W1.vkey}\n"
               f"witness w2 {W2.vkey}\nwitness w3 {W3.vkey}\ngroup g 2 w1 w2 w3\n"
               f"group top any g w1\nquorum top\nrevoked {LOG_B.vkey}\n")
    check([k.raw for k in p.logs] == [LOG_A.pub], "log key")
    check([k.raw for k in p.revoked] == [LOG_B.pub], "revoked key")
    check(sorted(p.witnesses) == ["w1", "w2", "w3"] and p.witnesses["w3"].raw == W3.pub, "witnesses")
    check(p.groups == {"g": (2, ["w1", "w2", "w3"]), "top": (1, ["g", "w1"])}, "groups")
    check(p.quorum == "top", "quorum")
    check(policy(f"log {LOG_A.vkey}\nquorum none\n").quorum is None, "quorum none")
    check(policy(f"witness w1 {W1.vkey}\nwitness w2 {W2.vkey}\ngroup g all w1 w2\n").groups["g"][0] == 2,
          "all = every member")
    bad = {
        "unknown keyword": f"logs {LOG_A.vkey}\n",
        "log with a witness key": f"log {W1.vkey}\n",
        "witness with a log key": f"witness w {LOG_A.vkey}\n",
        "revoked with a witness key": f"revoked {W1.vkey}\n",
        "bad key id": f"log {LOG_A.vkey.replace(LOG_A.id.hex(), '00000000')}\n",
        "non-canonical base64": f"log {LOG_A.vkey[:-1]}i\n",
        "log without a key": "log\n",
        "log with two keys": f"log {LOG_A.vkey} {LOG_B.vkey}\n",
        "witness without a key": "witness w1\n",
        "group without members": "group g any\n",
        "group with a later group": f"witness w1 {W1.vkey}\ngroup a any b\ngroup b any w1\n",
        "group with an unknown member": f"witness w1 {W1.vkey}\ngroup a any w1 nobody\n",
        "threshold too high": f"witness w1 {W1.vkey}\ngroup a 2 w1\n",
        "threshold zero": f"witness w1 {W1.vkey}\ngroup a 0 w1\n",
        "threshold with a leading zero": f"witness w1 {W1.vkey}\ngroup a 01 w1\n",
        "member twice": f"witness w1 {W1.vkey}\ngroup a 1 w1 w1\n",
        "name twice": f"witness w1 {W1.vkey}\ngroup w1 any w1\n",
        "witness named none": f"witness none {W1.vkey}\n",
        "unknown quorum": "quorum nobody\n",
        "two quorums": f"witness w1 {W1.vkey}\nquorum w1\nquorum none\n",
        "group with a later witness": f"witness w1 {W1.vkey}\ngroup a any w1 w2\nwitness w2 {W2.vkey}\n",
        "one witness key twice": f"witness w1 {W1.vkey}\nwitness w2 {W1.vkey}\n",
    }
    for what, text in bad.items():
        check(usage(text) is not None, f"policy with {what} is accepted")
    check("line 2" in usage(f"log {LOG_A.vkey}\nfrobnicate\n"), "usage error names the line")


def test_quorum():
    p = policy(f"witness a {W1.vkey}\nwitness b {W2.vkey}\nwitness c {W3.vkey}\n"
               "group two 2 a b c\ngroup every all a b c\ngroup one any a b c\n"
               "group nested 2 two c\ngroup either any every one\n")
    s = {"-": set(), "a": {W1.pub}, "ab": {W1.pub, W2.pub}, "abc": {W1.pub, W2.pub, W3.pub},
         "c": {W3.pub}, "bc": {W2.pub, W3.pub}}
    want = {
        ("a", "a"): True, ("a", "-"): False,
        ("two", "a"): False, ("two", "ab"): True, ("two", "bc"): True, ("two", "abc"): True,
        ("every", "ab"): False, ("every", "abc"): True,
        ("one", "-"): False, ("one", "c"): True,
        ("nested", "ab"): False, ("nested", "bc"): True, ("nested", "abc"): True,
        ("either", "-"): False, ("either", "c"): True, ("either", "abc"): True,
    }
    for (name, signed), result in want.items():
        check(p.satisfied(name, s[signed]) == result, f"quorum {name} with {signed}: want {result}")


# End-to-end cases on copies of tests/vectors/ledger-v1.

def run(args):
    """Runs the verifier in-process: (exit code, JSON output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = gv.main([str(a) for a in args])
    return code, json.loads(out.getvalue())


def verdict(args):
    code, out = run(args)
    return code, out.get("class"), out.get("index"), out.get("verified")


def ledger_records(ledger):
    """[(idx, ts, record bytes)] of a ledger's segment and WAL (all committed)."""
    out = []
    for (a, b), path in gv.listed(os.path.join(ledger, "segments"), r"(\d{20})-(\d{20})\.parquet"):
        t = pq.read_table(path)
        out.extend(zip(t.column("idx").to_pylist(), t.column("ts").cast("int64").to_pylist(),
                       t.column("record").to_pylist()))
    for (start,), path in gv.listed(os.path.join(ledger, "wal"), r"(\d{20})\.wal"):
        for fr in gv.read_wal(path, start):
            if fr[0] == "records":
                out.extend((fr[1] + i, ts, rec) for i, (ts, rec) in enumerate(fr[2]))
    return out


def entries(ledger):
    """[(leaf entry (81 bytes), chain)] by §3."""
    chain, out = bytes(32), []
    for idx, ts, rec in ledger_records(ledger):
        rh = blake3.blake3(rec, derive_key_context=gv.RECORD_CONTEXT).digest()
        chain = blake3.blake3(chain + struct.pack(">Q", idx) + rh,
                              derive_key_context=gv.CHAIN_CONTEXT).digest()
        out.append((b"\x01" + struct.pack(">Qq", idx, ts) + rh + chain, chain))
    return out


def leaf(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def split(n):
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m, leaves):
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, complete):
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = split(n)
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def peaks(leaves):
    out, at, n = [], 0, len(leaves)
    for bit in reversed(range(64)):
        if n & (1 << bit):
            out.append(mth(leaves[at: at + (1 << bit)]))
            at += 1 << bit
    return out


def b64(raw):
    return base64.b64encode(raw).decode()


def copy_ledger(tmp, name="ledger"):
    d = os.path.join(tmp, name)
    shutil.copytree(LEDGER_V1, d)
    return d


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if type(data) is bytes else "w") as f:
        f.write(data)
    return path


def rewrite_wal_checkpoints(ledger, change):
    """Replaces every checkpoint frame `data` of the ledger's WAL by change(data)."""
    for (start,), p in gv.listed(os.path.join(ledger, "wal"), r"(\d{20})\.wal"):
        with open(p, "rb") as f:
            data = f.read()
        out, off = bytearray(data[:24]), 24
        while off + 8 <= len(data):
            length = struct.unpack(">I", data[off: off + 4])[0]
            payload = data[off + 8: off + 8 + length]
            if payload[0] == 2:
                payload = b"\x02" + change(payload[1:])
            out += struct.pack(">II", len(payload), zlib.crc32(payload)) + payload
            off += 8 + length
        write(p, bytes(out))


def checkpoint_notes(ledger):
    """{size: note bytes} of every checkpoint file and WAL checkpoint frame."""
    out = {}
    for (size,), p in gv.listed(os.path.join(ledger, "checkpoints"), r"(\d{20})\.note"):
        out[size] = open(p, "rb").read()
    for (start,), p in gv.listed(os.path.join(ledger, "wal"), r"(\d{20})\.wal"):
        for fr in gv.read_wal(p, start):
            if fr[0] == "checkpoint":
                out[int(fr[1].split(b"\n")[1])] = fr[1]
    return out


def resign(data, signers, witnesses=()):
    text = gv.parse_note(data)[0]
    return note(text, signers, witnesses)


def transition(old, new, size, signers, origin=ORIGIN):
    text = f"{origin}\ngovtrail-key-transition/v1\nold {old.vkey}\nnew {new.vkey}\nsize {size}\n"
    return note(text, signers)


def transition_path(ledger, size):
    return os.path.join(ledger, "keys", f"{size:020}.transition")


def test_ledger_policies(tmp):
    d = copy_ledger(tmp)
    a = ["--pubkey", LOG_A.vkey]
    check(verdict([d] + a) == (0, None, None, 23), "the committed ledger verifies")
    pol = write(os.path.join(tmp, "a.policy"), f"log {LOG_A.vkey}\n")
    check(verdict([d, "--policy", pol]) == (0, None, None, 23), "a policy of one log key")
    check(verdict([d, "--policy", pol, "--pubkey", LOG_B.vkey]) == (0, None, None, 23),
          "policy and pubkey combined")
    bad = write(os.path.join(tmp, "bad.policy"), f"log {LOG_A.vkey}\nwhatever x\n")
    code, out = run([d, "--policy", bad])
    check(code == 4 and out["status"] == "error" and "whatever" in out["detail"], "unknown keyword: usage")
    revoked = write(os.path.join(tmp, "revoked.policy"), f"log {LOG_A.vkey}\nrevoked {LOG_A.vkey}\n")
    check(verdict([d, "--policy", revoked])[:2] == (1, "revoked-key"), "revoked log key")
    only_revoked = write(os.path.join(tmp, "r2.policy"), f"log {LOG_B.vkey}\nrevoked {LOG_A.vkey}\n")
    check(verdict([d, "--policy", only_revoked])[:2] == (1, "revoked-key"), "key only in revoked")

    # Witness quorum: none cosigned → untrusted; only size 12 → unverified tail; all → ok.
    q = write(os.path.join(tmp, "q.policy"), f"log {LOG_A.vkey}\nwitness w1 {W1.vkey}\n"
              f"witness w2 {W2.vkey}\ngroup both all w1 w2\nquorum both\n")
    code, out = run([d, "--policy", q])
    check((code, out["class"], out["index"]) == (7, "untrusted", 0) and "quorum" in out["detail"],
          f"no cosigned checkpoint: {out}")
    cp12 = os.path.join(d, "checkpoints", f"{12:020}.note")
    plain12 = open(cp12, "rb").read()
    write(cp12, cosign(plain12, [W1, W2]))
    code, out = run([d, "--policy", q])
    check((code, out["class"], out["index"], out["verified"]) == (3, "unverified-tail", 12, 12)
          and "lacks the witness quorum" in out["detail"], f"cosigned up to 12: {out}")
    write(cp12, cosign(plain12, [W1]))
    check(verdict([d, "--policy", q])[:3] == (7, "untrusted", 0), "one of two witnesses")
    rewrite_wal_checkpoints(d, lambda n: cosign(n, [W1, W2]))
    write(cp12, cosign(plain12, [W2, W1]))
    check(verdict([d, "--policy", q]) == (0, None, None, 23), "every checkpoint cosigned")
    anchor = write(os.path.join(tmp, "anchor23.note"), checkpoint_notes(LEDGER_V1)[23])
    check(verdict([d, "--policy", q, "--anchor", anchor])[:3] == (7, "untrusted", None),
          "anchor without the quorum is untrusted")
    write(anchor, cosign(checkpoint_notes(LEDGER_V1)[23], [W1, W2]))
    check(verdict([d, "--policy", q, "--anchor", anchor]) == (0, None, None, 23), "cosigned anchor")
    broken = bytearray(cosign(plain12, [W1, W2]))
    broken[-5] = ord("A") if broken[-5] != ord("A") else ord("B")
    write(cp12, bytes(broken))
    check(verdict([d, "--policy", q])[:2] == (1, "bad-signature"), "bad cosignature")
    write(cp12, cosign(plain12, [W1, W2]))


def test_key_transitions(tmp):
    d = copy_ledger(tmp, "rotated")
    ab = write(os.path.join(tmp, "ab.policy"), f"log {LOG_A.vkey}\nlog {LOG_B.vkey}\n")
    # Rotation A → B at 12: the WAL's checkpoints at 16, 20, 23 are still signed by A.
    write(transition_path(d, 12), transition(LOG_A, LOG_B, 12, [LOG_A, LOG_B]))
    check(verdict([d, "--policy", ab])[:2] == (1, "revoked-key"), "old key above N is retired")
    check(verdict([d, "--pubkey", LOG_A.vkey]) == (0, None, None, 23),
          "a transition naming a key outside the policy is ignored")
    rewrite_wal_checkpoints(d, lambda n: resign(n, [LOG_B]))
    check(verdict([d, "--policy", ab]) == (0, None, None, 23), "new key signs above N")
    check(verdict([d, "--pubkey", LOG_B.vkey]) == (0, None, None, 23),
          "B alone: the checkpoint at 16 covers [0, 16)")
    anchor = write(os.path.join(tmp, "a23.note"), checkpoint_notes(LEDGER_V1)[23])
    check(verdict([d, "--policy", ab, "--anchor", anchor])[:3] == (1, "revoked-key", None),
          "an anchor by the old key above N is revoked-key")
    write(anchor, checkpoint_notes(LEDGER_V1)[12])
    check(verdict([d, "--policy", ab, "--anchor", anchor]) == (0, None, None, 23),
          "an anchor by the old key at N")
    # B's range starts at N: a checkpoint at 12 signed by B alone is valid, at 4 it is not.
    write(anchor, resign(checkpoint_notes(LEDGER_V1)[12], [LOG_B]))
    check(verdict([d, "--policy", ab, "--anchor", anchor]) == (0, None, None, 23), "new key at N")
    small = note(checkpoint_text(4, mth([leaf(e) for e, _ in entries(d)[:4]])), [LOG_B])
    write(anchor, small)
    check(verdict([d, "--policy", ab, "--anchor", anchor])[:2] == (1, "revoked-key"),
          "new key below N is revoked-key")

    cases = {
        "signed by the old key only": (transition(LOG_A, LOG_B, 12, [LOG_A]), (1, "bad-signature")),
        "signed by the new key only": (transition(LOG_A, LOG_B, 12, [LOG_B]), (1, "bad-signature")),
        "a signature that fails": (transition(LOG_A, LOG_B, 12, [LOG_A])
                                   + LOG_B.sign_line("something else").encode(), (1, "bad-signature")),
        "a size other than the name's": (transition(LOG_A, LOG_B, 11, [LOG_A, LOG_B]), (1, "corrupt")),
        "another origin": (transition(LOG_A, LOG_B, 12, [LOG_A, LOG_B], origin="other.example/log"),
                           (1, "origin-mismatch")),
        "unparsable": (b"not a note\n", (1, "corrupt")),
    }
    for what, (data, want) in cases.items():
        write(transition_path(d, 12), data)
        check(verdict([d, "--policy", ab])[:2] == want, f"transition {what}: {verdict([d, '--policy', ab])}")
    # B is the new key of two transitions.
    c = Signer(ORIGIN)
    abc = write(os.path.join(tmp, "abc.policy"), f"log {LOG_A.vkey}\nlog {LOG_B.vkey}\nlog {c.vkey}\n")
    write(transition_path(d, 12), transition(LOG_A, LOG_B, 12, [LOG_A, LOG_B]))
    write(transition_path(d, 20), transition(c, LOG_B, 20, [c, LOG_B]))
    check(verdict([d, "--policy", abc])[:2] == (1, "corrupt"), "a key is the new key twice")
    # A chain of rotations A → B at 12, B → C at 20.
    write(transition_path(d, 20), transition(LOG_B, c, 20, [LOG_B, c]))
    check(verdict([d, "--policy", abc])[:2] == (1, "revoked-key"), "B signed 23 after retiring at 20")
    rewrite_wal_checkpoints(d, lambda n: resign(n, [c] if n.split(b"\n")[1] == b"23" else [LOG_B]))
    check(verdict([d, "--policy", abc]) == (0, None, None, 23), "two rotations")


def make_pack(tmp, name, first, last, size, notes=None):
    """An evidence pack of ledger-v1 records [first, last) against its checkpoint of `size`."""
    out = os.path.join(tmp, name)
    es = entries(LEDGER_V1)
    leaves = [leaf(e) for e, _ in es]
    chain = es[first - 1][1] if first else bytes(32)
    manifest = (f"govtrail-evidence/v1\norigin {ORIGIN}\nfrom {first}\nto {last}\nchain {b64(chain)}\n"
                + "".join(f"peak {b64(p)}\n" for p in peaks(leaves[:first]))
                + f"size {size}\n"
                + "".join(f"consistency {b64(h)}\n"
                          for h in (subproof(last, leaves[:size], True) if last else [])))
    write(os.path.join(out, "EVIDENCE"), manifest)
    write(os.path.join(out, "checkpoint.note"), (notes or checkpoint_notes(LEDGER_V1))[size])
    seg = os.path.join(LEDGER_V1, "segments", f"{0:020}-{12:020}.parquet")
    table = pq.read_table(seg).slice(first, last - first)
    meta = {"govtrail.format": "1", "govtrail.origin": ORIGIN, "govtrail.start": str(first),
            "govtrail.end": str(last)}
    os.makedirs(os.path.join(out, "segments"))
    with pq.ParquetWriter(os.path.join(out, "segments", f"{first:020}-{last:020}.parquet"),
                          table.schema.with_metadata(meta)) as w:
        w.write_table(table.replace_schema_metadata(meta))
    write(os.path.join(out, "log.vkey"), LOG_A.vkey + "\n")
    return out


def edit_manifest(pack, old, new):
    p = os.path.join(pack, "EVIDENCE")
    text = open(p).read()
    assert old in text, old
    write(p, text.replace(old, new, 1))


def test_evidence_packs(tmp):
    a = ["--pubkey", LOG_A.vkey]
    for first, last, size in ((10, 12, 23), (0, 12, 23), (3, 12, 12), (5, 12, 16)):
        pack = make_pack(tmp, f"pack-{first}-{last}-{size}", first, last, size)
        code, out = run([pack, "--evidence"] + a)
        check((code, out["status"], out["verified"], out["from"], out["records"])
              == (0, "ok", last, first, last), f"pack [{first},{last}) of {size}: {out}")
    pack = make_pack(tmp, "pack", 10, 12, 23)
    good = open(os.path.join(pack, "EVIDENCE")).read()
    lines = good.split("\n")
    peak, cons = lines[5], [x for x in lines if x.startswith("consistency ")][0]
    flipped = lambda line: line[:-2] + ("A" if line[-2] != "A" else "B") + line[-1]  # noqa: E731
    cases = {
        "a wrong peak": (peak, flipped(peak), (1, "root-mismatch", 10)),
        "a wrong consistency hash": (cons, flipped(cons), (1, "root-mismatch", 10)),
        "a missing consistency hash": (cons + "\n", "", (1, "root-mismatch", 10)),
        "a wrong chain": (lines[4], flipped(lines[4]), (1, "record-altered", 10)),
        "a missing peak": (peak + "\n", "", (1, "corrupt", None)),
        "another origin": (f"origin {ORIGIN}", "origin other.example", (7, "untrusted", 10)),
        "another size": ("size 23", "size 22", (1, "corrupt", None)),
        "a later start": ("from 10", "from 11", (1, "corrupt", None)),
        "a range past the checkpoint": ("to 12", "to 24", (1, "corrupt", None)),
        "an end before the start": ("to 12", "to 9", (1, "corrupt", None)),
        "a bad header": ("govtrail-evidence/v1", "govtrail-evidence/v2", (1, "corrupt", None)),
        "a leading zero": ("to 12", "to 012", (1, "corrupt", None)),
        "an unknown line": ("size 23\n", "size 23\nextra x\n", (1, "corrupt", None)),
    }
    for what, (old, new, want) in cases.items():
        write(os.path.join(pack, "EVIDENCE"), good)
        edit_manifest(pack, old, new)
        got = verdict([pack, "--evidence"] + a)[:3]
        check(got == want, f"pack with {what}: {got}, want {want}")
    write(os.path.join(pack, "EVIDENCE"), good)
    check(verdict([pack, "--evidence"] + a)[:3] == (0, None, None), "pack restored")
    check(verdict([pack] + a)[0] == 4, "a pack is only a pack with --evidence")
    check(run([pack, "--evidence", "--pubkey", LOG_B.vkey])[1]["class"] == "untrusted",
          "pack under another key")
    code, out = run([pack, "--evidence"] + a + ["--anchor", os.path.join(pack, "checkpoint.note")])
    check(code == 4, "anchors do not apply to packs")
    q = write(os.path.join(tmp, "pack-q.policy"), f"log {LOG_A.vkey}\nwitness w1 {W1.vkey}\nquorum w1\n")
    check(verdict([pack, "--evidence", "--policy", q])[:3] == (7, "untrusted", 10),
          "pack checkpoint lacks the quorum")
    note23 = os.path.join(pack, "checkpoint.note")
    write(note23, cosign(open(note23, "rb").read(), [W1]))
    check(verdict([pack, "--evidence", "--policy", q]) == (0, None, None, 12), "cosigned pack checkpoint")
    # Only segments/<I>-<J>.parquet counts: another file there is ignored, a missing one is corrupt.
    seg = gv.listed(os.path.join(pack, "segments"), r"(\d{20})-(\d{20})\.parquet")[0][1]
    shutil.copy(seg, os.path.join(pack, "segments", f"{12:020}-{13:020}.parquet"))
    check(verdict([pack, "--evidence"] + a)[:3] == (0, None, None), "another segment file is ignored")
    os.remove(os.path.join(pack, "segments", f"{12:020}-{13:020}.parquet"))
    os.rename(seg, seg.replace(f"-{12:020}", f"-{13:020}"))
    check(verdict([pack, "--evidence"] + a)[:3] == (1, "corrupt", None), "segment name past the range")


def inclusion_file(index, es, size, note_bytes):
    leaves = [leaf(e) for e, _ in es[:size]]
    return (f"c2sp.org/tlog-proof@v1\nextra {b64(es[index][0])}\nindex {index}\n"
            + "".join(b64(h) + "\n" for h in path(index, leaves)) + "\n").encode() + note_bytes


def consistency_file(m, n, leaves, note_bytes):
    proof = subproof(m, leaves[:n], True) if m else []
    return (f"old {m}\n" + "".join(b64(h) + "\n" for h in proof) + "\n").encode() + note_bytes


def proof_verdict(args):
    code, out = run(args)
    return code, out["status"]


def test_proof_files(tmp):
    es, notes = entries(LEDGER_V1), checkpoint_notes(LEDGER_V1)
    leaves = [leaf(e) for e, _ in es]
    records = ledger_records(LEDGER_V1)
    a = ["--pubkey", LOG_A.vkey]
    for size in sorted(notes):
        for index in range(size):
            p = write(os.path.join(tmp, "p.proof"), inclusion_file(index, es, size, notes[size]))
            r = write(os.path.join(tmp, "r.json"), records[index][2])
            check(proof_verdict(["--proof", p, "--record", r] + a) == (0, "ok"), f"proof {index} in {size}")
    p = write(os.path.join(tmp, "p.proof"), inclusion_file(5, es, 23, notes[23]))
    r = write(os.path.join(tmp, "r.json"), records[6][2])
    check(proof_verdict(["--proof", p, "--record", r] + a) == (1, "invalid"), "another record")
    check(proof_verdict(["--proof", p, "--pubkey", LOG_B.vkey]) == (1, "invalid"), "untrusted key")
    check(run(["--proof", p] + a + ["--anchor", p])[0] == 4, "--anchor with an inclusion proof")
    good = open(p, "rb").read()
    for pos in range(len(good)):
        for bit in range(8):
            bad = bytearray(good)
            bad[pos] ^= 1 << bit
            write(p, bytes(bad))
            check(proof_verdict(["--proof", p] + a) == (1, "invalid"), f"inclusion flip {pos}.{bit}")
    q = write(os.path.join(tmp, "proof-q.policy"), f"log {LOG_A.vkey}\nwitness w1 {W1.vkey}\nquorum w1\n")
    write(p, good)
    check(proof_verdict(["--proof", p, "--policy", q]) == (1, "invalid"), "proof lacks the quorum")
    write(p, inclusion_file(5, es, 23, cosign(notes[23], [W1])))
    check(proof_verdict(["--proof", p, "--policy", q]) == (0, "ok"), "cosigned proof")

    # Consistency files between every pair of checkpoints (and from the empty tree).
    notes[0] = note(checkpoint_text(0, mth([])), [LOG_A])
    for m in sorted(notes):
        for n in sorted(notes):
            anchor = write(os.path.join(tmp, "old.note"), notes[m])
            f = write(os.path.join(tmp, "c.proof"), consistency_file(m, n, leaves, notes[n]) if m <= n
                      else consistency_file(0, n, leaves, notes[n]).replace(b"old 0", f"old {m}".encode()))
            want = (0, "ok") if m <= n else (1, "invalid")
            check(proof_verdict(["--proof", f, "--anchor", anchor] + a) == want, f"consistency {m}→{n}")
    anchor = write(os.path.join(tmp, "old.note"), notes[12])
    f = write(os.path.join(tmp, "c.proof"), consistency_file(12, 23, leaves, notes[23]))
    check(run(["--proof", f] + a)[0] == 4, "consistency proof without an anchor")
    wrong_old = consistency_file(12, 23, leaves, notes[23]).replace(b"old 12", b"old 16")
    write(f, wrong_old)
    check(proof_verdict(["--proof", f, "--anchor", anchor] + a) == (1, "invalid"), "old ≠ anchor size")
    good = consistency_file(12, 23, leaves, notes[23])
    for pos in range(len(good)):
        for bit in range(8):
            bad = bytearray(good)
            bad[pos] ^= 1 << bit
            write(f, bytes(bad))
            check(proof_verdict(["--proof", f, "--anchor", anchor] + a) == (1, "invalid"),
                  f"consistency flip {pos}.{bit}")
    forked = note(checkpoint_text(12, bytes(32)), [LOG_A])
    write(anchor, forked)
    write(f, good)
    check(proof_verdict(["--proof", f, "--anchor", anchor] + a) == (1, "invalid"), "forked anchor")
    other = note(checkpoint_text(12, mth(leaves[:12]), origin="other.example"), [Signer("other.example")])
    write(anchor, other)
    check(proof_verdict(["--proof", f, "--anchor", anchor] + a) == (1, "invalid"), "anchor of another log")


def main():
    tests = [test_rfc6962_vectors, test_cosignatures, test_policy_parsing, test_quorum]
    with_dir = [test_ledger_policies, test_key_transitions, test_evidence_packs, test_proof_files]
    failed = 0
    for t in tests + with_dir:
        try:
            if t in with_dir:
                with tempfile.TemporaryDirectory() as tmp:
                    t(tmp)
            else:
                t()
        except AssertionError as e:
            failed += 1
            print(f"FAIL {t.__name__}: {e}")
    print(f"{COUNT['checks']} checks passed, {failed} of {len(tests + with_dir)} tests failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
