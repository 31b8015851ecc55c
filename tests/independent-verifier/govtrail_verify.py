#!/usr/bin/env python3
"""An independent verifier of govtrail ledgers, written from docs/LEDGER-FORMAT.md alone.

It shares no code with the Rust implementation: pyarrow reads the segments, blake3 and hashlib
hash, cryptography checks Ed25519. It prints one JSON object:
{"status", "class", "index", "records", "verified"} and exits 0 ok, 1 tampered,
2 truncated-or-forked, 3 unverified-tail, 4 usage or I/O error.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import struct
import sys
import zlib

import blake3
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

RECORD_CONTEXT = "govtrail ledger v1 record hash"
CHAIN_CONTEXT = "govtrail ledger v1 chain"
WAL_MAGIC = b"govtrail-wal-v1\n"
EXPECTED_COLUMNS = [
    ("idx", pa.uint64(), False), ("ts", pa.timestamp("us", tz="UTC"), False),
    ("decision_id", pa.string(), False), ("decision", pa.string(), False),
    ("decision_native", pa.string(), True), ("platform", pa.string(), True),
    ("engine", pa.string(), True), ("service", pa.string(), True),
    ("session_id", pa.string(), True), ("tool_name", pa.string(), True),
    ("rule_ids", pa.list_(pa.field("item", pa.string(), nullable=False)), False),
    ("rule_set", pa.string(), True), ("overhead_us", pa.int64(), True),
    ("outcome", pa.string(), True), ("model", pa.string(), True),
    ("record", pa.binary(), False), ("record_hash", pa.binary(32), False),
    ("chain", pa.binary(32), False),
]
OPTIONAL_STRINGS = ["decision_native", "platform", "engine", "service", "session_id",
                    "tool_name", "rule_set", "outcome", "model"]
KINDS = {"allow", "deny", "ask", "warn", "escalate", "defer", "info", "error"}
I64 = (-(1 << 63), (1 << 63) - 1)


class DuplicateKeys(dict):
    pass


def _pairs(pairs):
    d = dict(pairs)
    return DuplicateKeys(d) if len(d) != len(pairs) else d


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def is_int(x):
    return type(x) is int and I64[0] <= x <= I64[1]


def decision(record):
    """The typed fields of a version-1 decision record (LEDGER-FORMAT.md §7), or None."""
    try:
        d = json.loads(record.decode("utf-8"), object_pairs_hook=_pairs,
                       parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        return None
    if type(d) is not dict:  # top-level duplicates (DuplicateKeys) are not a decision
        return None
    if d.get("v") != 1 or not is_int(d.get("v")) or type(d.get("decision_id")) is not str:
        return None
    if not is_int(d.get("ts_us")) or d.get("decision") not in KINDS:
        return None
    rule_ids = d.get("rule_ids", [])
    if type(rule_ids) is not list or any(type(x) is not str for x in rule_ids):
        return None
    overhead = d.get("overhead_us")
    if overhead is not None and not is_int(overhead):
        return None
    out = {"decision_id": d["decision_id"], "ts_us": d["ts_us"], "decision": d["decision"],
           "rule_ids": rule_ids, "overhead_us": overhead}
    for k in OPTIONAL_STRINGS:
        v = d.get(k)
        if v is not None and type(v) is not str:
            return None
        out[k] = v
    return out
VERDICT = {"truncated": ("truncated-or-forked", 2), "forked": ("truncated-or-forked", 2),
           "unverified-tail": ("unverified-tail", 3)}


class Usage(Exception):
    """The verifier could not run (exit 4)."""


class Failure(Exception):
    def __init__(self, cls, index=None, detail=""):
        super().__init__(detail)
        self.cls, self.index, self.detail = cls, index, detail


def b64decode_strict(text):
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name, alg, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]


def valid_name(name):
    return name and "+" not in name and not any(c.isspace() for c in name)


def parse_vkey(text):
    name, kid, b64 = text.strip().split("+", 2)
    raw = b64decode_strict(b64)
    if not valid_name(name) or raw[:1] != b"\x01" or len(raw) != 33:
        raise ValueError("bad verifier key")
    if key_id(name, 1, raw[1:]).hex() != kid:
        raise ValueError("key id mismatch")
    return (name, bytes.fromhex(kid), Ed25519PublicKey.from_public_bytes(raw[1:]))


def parse_note(data):
    """Returns (text, [(name, id, sig)]) or raises ValueError (C2SP signed-note)."""
    msg = data.decode("utf-8")
    if any((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f for c in msg):
        raise ValueError("control character")
    split = msg.rfind("\n\n")
    if split < 0:
        raise ValueError("no blank line")
    text, sigs = msg[: split + 1], msg[split + 2:]
    if not sigs.endswith("\n"):
        raise ValueError("signatures must end with newline")
    out = []
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise ValueError("signature line without em dash")
        name, _, b64 = line[2:].partition(" ")
        if not valid_name(name):
            raise ValueError("bad key name")
        raw = b64decode_strict(b64)
        if len(raw) < 5:
            raise ValueError("short signature")
        out.append((name, raw[:4], raw[4:]))
    if len(out) > 100:
        raise ValueError("too many signatures")
    return text, out


def parse_checkpoint_text(text):
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise ValueError("short checkpoint")
    size_s = lines[1]
    if not size_s.isdigit() or not size_s.isascii() or (size_s != "0" and size_s.startswith("0")):
        raise ValueError("bad size")
    root = b64decode_strict(lines[2])
    if len(root) != 32:
        raise ValueError("bad root")
    return lines[0], int(size_s), root


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tree:
    def __init__(self):
        self.size, self.peaks = 0, []

    def push(self, leaf):
        h, n = leaf, self.size
        while n & 1:
            h = node(self.peaks.pop(), h)
            n >>= 1
        self.peaks.append(h)
        self.size += 1

    def root(self):
        if not self.peaks:
            return hashlib.sha256(b"").digest()
        r = self.peaks[-1]
        for p in reversed(self.peaks[:-1]):
            r = node(p, r)
        return r


def later_commit_follows(data, off):
    """After a bad frame: does a whole checkpoint frame precede another whole frame? Commits are
    fsynced one at a time, so then the bad frame was durable: damage, not a torn write."""
    seen_checkpoint = False
    while off + 8 <= len(data):
        length, crc = struct.unpack(">II", data[off: off + 8])
        payload = data[off + 8: off + 8 + length]
        if length == 0 or len(payload) != length or zlib.crc32(payload) != crc:
            return False
        if seen_checkpoint:
            return True
        seen_checkpoint = payload[0] == 2
        off += 8 + length
    return False


def read_wal(path, start):
    """Yields ('records', first, [(ts, bytes)]) and ('checkpoint', bytes) in file order until a
    torn tail; raises Failure('corrupt') where the file is damaged, after the frames before."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24 or data[:16] != WAL_MAGIC:
        raise Failure("corrupt", None, f"{path}: bad WAL header")
    if struct.unpack(">Q", data[16:24])[0] != start:
        raise Failure("corrupt", None, f"{path}: header start differs from the file name")
    off = 24
    while off + 8 <= len(data):
        length, crc = struct.unpack(">II", data[off: off + 8])
        payload = data[off + 8: off + 8 + length]
        if length == 0 or len(payload) != length or zlib.crc32(payload) != crc:
            if length and len(payload) == length and later_commit_follows(data, off + 8 + length):
                raise Failure("corrupt", None, f"{path}: damaged frame before later commits")
            break
        off += 8 + length
        if payload[0] == 1:
            try:
                first, count = struct.unpack(">QI", payload[1:13])
                recs, at = [], 13
                for _ in range(count):
                    ts, n = struct.unpack(">qI", payload[at: at + 12])
                    if at + 12 + n > len(payload):
                        raise struct.error("record past the end of the frame")
                    recs.append((ts, payload[at + 12: at + 12 + n]))
                    at += 12 + n
            except struct.error:
                raise Failure("corrupt", None, f"{path}: malformed records frame")
            if at != len(payload):
                raise Failure("corrupt", None, f"{path}: malformed records frame")
            yield ("records", first, recs)
        elif payload[0] == 2:
            yield ("checkpoint", payload[1:])
        else:
            raise Failure("corrupt", None, f"{path}: unknown frame kind")


class Verifier:
    def __init__(self, ledger, keys, anchors):
        self.dir = ledger
        with open(os.path.join(ledger, "govtrail-ledger.json")) as f:
            config = json.load(f)
        if config.get("format") != 1:
            raise SystemExit(4)
        self.origin = config["origin"]
        self.keys = [k for k in keys if k[0] == self.origin]
        self.expected = {}
        self.tree, self.chain = Tree(), bytes(32)
        self.verified, self.checked, self.trusted_seen = 0, 0, False
        self.anchors = anchors

    def add_checkpoint(self, data, anchor):
        try:
            text, sigs = parse_note(data)
            origin, size, root = parse_checkpoint_text(text)
        except (ValueError, UnicodeDecodeError, binascii.Error) as e:
            raise Failure("corrupt", None, f"checkpoint: {e}")
        signed = False
        for name, kid, sig in sigs:
            for kname, kkid, pub in self.keys:
                if kname == name and kkid == kid:
                    try:
                        pub.verify(sig, text.encode())
                    except InvalidSignature:
                        raise Failure("bad-signature", None, "trusted signature fails")
                    signed = True
        if not signed:
            if anchor:
                raise Failure("untrusted", None, "anchor not signed by a trusted key")
            return
        if origin != self.origin:
            raise Failure("origin-mismatch", None, "checkpoint origin")
        prev = self.expected.get(size)
        if prev is not None and prev[0] != root:
            raise Failure("forked", None, f"two roots at size {size}")
        self.expected[size] = (root, anchor or (prev is not None and prev[1]))

    def push(self, idx, ts, record, stored_hash=None, stored_chain=None):
        rh = blake3.blake3(record, derive_key_context=RECORD_CONTEXT).digest()
        if stored_hash is not None and stored_hash != rh:
            raise Failure("record-altered", idx, "record hash")
        ch = blake3.blake3(self.chain + struct.pack(">Q", idx) + rh,
                           derive_key_context=CHAIN_CONTEXT).digest()
        if stored_chain is not None and stored_chain != ch:
            raise Failure("record-altered", idx, "chain")
        self.chain = ch
        return hashlib.sha256(b"\x00" + b"\x01" + struct.pack(">Qq", idx, ts) + rh + ch).digest()

    def add_leaf(self, leaf):
        self.tree.push(leaf)
        size = self.tree.size
        if size in self.expected:
            root, anchor = self.expected[size]
            if self.tree.root() != root:
                raise Failure("forked" if anchor else "root-mismatch", self.verified, f"root at {size}")
            self.verified, self.checked = size, self.checked + 1

    def segment(self, start, end, path):
        if start != self.tree.size:
            raise Failure("sequence", self.tree.size, "segment start")
        try:
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            meta = {k.decode(): v.decode() for k, v in (pf.metadata.metadata or {}).items()}
        except Exception as e:  # any unreadable file is corrupt
            raise Failure("corrupt", start, str(e))
        if [(f.name, f.type, f.nullable) for f in schema] != EXPECTED_COLUMNS:
            raise Failure("corrupt", start, "schema")
        if meta.get("govtrail.format") != "1":
            raise Failure("corrupt", start, "format")
        if meta.get("govtrail.origin") != self.origin:
            raise Failure("origin-mismatch", start, "segment origin")
        if meta.get("govtrail.start") != str(start) or meta.get("govtrail.end") != str(end):
            # (str(n) is the only accepted spelling: decimal, no sign, no leading zeros)
            raise Failure("sequence", start, "footer range")
        try:
            batches = list(pf.iter_batches(batch_size=8192))
        except Exception as e:
            raise Failure("corrupt", start, str(e))
        for batch in batches:
            cols = {name: batch.column(name) for name in batch.schema.names}
            ts = cols["ts"].cast(pa.int64()).to_pylist()
            idxs = cols["idx"].to_pylist()
            rows = {n: cols[n].to_pylist() for n in cols if n not in ("ts", "idx")}
            for r in range(batch.num_rows):
                idx = self.tree.size
                if idxs[r] != idx or idx >= end:
                    raise Failure("sequence", idx, "index")
                record = rows["record"][r]
                leaf = self.push(idx, ts[r], record, rows["record_hash"][r], rows["chain"][r])
                want = decision(record)
                ok = want is not None and want.pop("ts_us") == ts[r] and all(
                    rows[k][r] == v for k, v in want.items())
                if not ok:
                    raise Failure("column-altered", idx, "typed column")
                self.add_leaf(leaf)
        if self.tree.size != end:
            raise Failure("sequence", self.tree.size, "short segment")

    def wal_records(self, start, frames):
        if start < self.tree.size:
            return
        if start > self.tree.size:
            raise Failure("sequence", self.tree.size, "WAL start")
        pending, nxt = [], start
        for fr in frames:
            if fr[0] == "records":
                if fr[1] != nxt:
                    raise Failure("sequence", nxt, "WAL frame")
                nxt += len(fr[2])
                pending.extend(fr[2])
            else:
                for ts, rec in pending:
                    idx = self.tree.size
                    leaf = self.push(idx, ts, rec)
                    d = decision(rec)
                    if d is None or d["ts_us"] != ts:
                        raise Failure("column-altered", idx, "WAL record or its time")
                    self.add_leaf(leaf)
                pending = []

    def files(self, sub, pattern):
        """Ledger files in `sub` whose names match `pattern`, sorted; links are refused."""
        out = []
        for name in sorted(os.listdir(os.path.join(self.dir, sub))):
            m = re.fullmatch(pattern, name)
            if m:
                path = os.path.join(self.dir, sub, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    raise Usage(f"{path} is not a regular file inside the ledger")
                out.append(([int(g) for g in m.groups()], path))
        return out

    def run(self):
        for name, data in self.anchors:
            self.add_checkpoint(data, True)
        for _, path in self.files("checkpoints", r"(\d{20})\.note"):
            with open(path, "rb") as f:
                self.add_checkpoint(f.read(), False)
        wals = []
        for (start,), path in self.files("wal", r"(\d{20})\.wal"):
            frames = []
            for fr in read_wal(path, start):
                frames.append(fr)
                if fr[0] == "checkpoint":
                    self.add_checkpoint(fr[1], False)
            wals.append((start, frames))
        segs = [(a, b, path) for (a, b), path in self.files("segments", r"(\d{20})-(\d{20})\.parquet")]
        for start, end, path in sorted(segs):
            self.segment(start, end, path)
        for start, frames in wals:
            self.wal_records(start, frames)
        size = self.tree.size
        bigger = [s for s in self.expected if s > size]
        if bigger:
            raise Failure("truncated", size, "missing records")
        if size > self.verified:
            if self.checked == 0:
                raise Failure("untrusted", 0, "no trusted checkpoint")
            raise Failure("unverified-tail", self.verified, "tail")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ledger")
    ap.add_argument("--pubkey", action="append", required=True)
    ap.add_argument("--anchor", action="append", default=[])
    ap.add_argument("--origin")
    a = ap.parse_args()
    keys = []
    for k in a.pubkey:
        text = open(k).read() if os.path.exists(k) else k
        keys.extend(parse_vkey(line) for line in text.splitlines() if line.strip())
    anchors = [(p, open(p, "rb").read()) for p in a.anchor]
    v = Verifier(a.ledger, keys, anchors)
    out = {"status": "ok", "class": None, "index": None}
    code = 0
    try:
        if a.origin is not None and a.origin != v.origin:
            raise Failure("origin-mismatch", None, "origin differs from --origin")
        v.run()
    except Usage as e:
        print(json.dumps({"status": "error", "detail": str(e)}))
        return 4
    except Failure as f:
        status, code = VERDICT.get(f.cls, ("tampered", 1))
        out = {"status": status, "class": f.cls, "index": f.index, "detail": f.detail}
    out["records"], out["verified"] = v.tree.size, v.verified
    print(json.dumps(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
