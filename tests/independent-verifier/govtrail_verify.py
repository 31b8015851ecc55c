#!/usr/bin/env python3
"""An independent verifier of govtrail ledgers, written from docs/LEDGER-FORMAT.md alone.

It shares no code with the Rust implementation: pyarrow reads the segments, blake3 and hashlib
hash, cryptography checks Ed25519. It checks a ledger directory or an evidence pack (§12)
against a trust policy (§11: --pubkey and/or --policy, key transitions, witness cosignatures) and
prints one JSON object {"status", "class", "index", "detail", "records", "verified", "torn",
"unvouched"} (packs add "from"; "unvouched" lists the segments whose skip structures seals.note
does not vouch for, §14, beside the verdict without changing it); it exits 0 ok, 1 tampered,
2 truncated-or-forked, 3 unverified-tail, 4 usage or I/O error, 7 unverified (no checkpoint
signed by a trusted key). With --proof it checks an inclusion or consistency proof file (§8)
instead and prints {"status": "ok"|"invalid", "detail"}, exit 0 or 1.
"""

import argparse
import base64
import collections
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
FOOTER_KEYS = ("govtrail.format", "govtrail.origin", "govtrail.start", "govtrail.end",
               "govtrail.chain_end", "govtrail.frontier")

MAX_SAFE = (1 << 53) - 1

def es_number(x):
    """ECMAScript Number.prototype.toString of a finite double (RFC 8785 §3.2.2.3)."""
    if x == 0:
        return "0"
    r = repr(x)                       # shortest round-trip digits, as ryu
    sign = "-" if r[0] == "-" else ""
    mant, _, exp = r.lstrip("-").partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    n += int(exp or 0)                 # value = 0.digits × 10^n
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * -n + digits
    else:
        e = n - 1
        s = (digits[0] + ("." + digits[1:] if k > 1 else "")) + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return sign + s

def jcs(v, out):
    """Appends the RFC 8785 serialisation of a json.loads value to `out` (a list of str);
    ValueError when the value has none (lone surrogate, non-finite number)."""
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif type(v) is int:
        s = str(v)
        if abs(v) > MAX_SAFE and es_number(float(v)) != s:
            raise ValueError("integer changes value through RFC 8785")
        out.append(s)
    elif type(v) is float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("non-finite number")
        out.append(es_number(v))
    elif type(v) is str:
        out.append(json.dumps(v, ensure_ascii=False))
    elif type(v) is list:
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            jcs(x, out)
        out.append("]")
    else:  # dict (DuplicateKeys included: a dropped duplicate makes the bytes differ)
        out.append("{")
        for i, k in enumerate(sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))):
            if i:
                out.append(",")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            jcs(v[k], out)
        out.append("}")

def is_canonical(record, d):
    """Are `record`'s bytes the RFC 8785 form of `d` (json.loads of them)?"""
    out = []
    try:
        jcs(d, out)
        return "".join(out).encode("utf-8") == record
    except (ValueError, UnicodeEncodeError):
        return False


# The Parquet footer, read from its Thrift compact encoding (not through pyarrow, whose metadata
# hides duplicate keys and does not give every index location as stored).

def footer_tail(f):
    """The file's last L + 8 bytes (§14: FileMetaData, then L and PAR1) from an open binary file;
    ValueError if it has no plain Parquet footer."""
    f.seek(0, 2)
    size = f.tell()
    if size < 12:
        raise ValueError("too short for Parquet")
    f.seek(size - 8)
    n, magic = struct.unpack("<I4s", f.read(8))
    if magic != b"PAR1" or n > size - 12:
        raise ValueError("no plain Parquet footer")
    f.seek(size - 8 - n)
    return f.read(n + 8)


class Compact:
    """A reader of the Thrift compact protocol over `buf`; ValueError when the bytes end early or
    are not Thrift."""

    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def byte(self):
        if self.pos >= len(self.buf):
            raise ValueError("footer ends early")
        self.pos += 1
        return self.buf[self.pos - 1]

    def varint(self):
        shift = out = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def zigzag(self):
        """An i16, i32 or i64: a zigzag varint."""
        z = self.varint()
        return (z >> 1) ^ -(z & 1)

    def binary(self):
        ln = self.varint()
        if self.pos + ln > len(self.buf):
            raise ValueError("string past the footer")
        self.pos += ln
        return self.buf[self.pos - ln: self.pos]

    def list_header(self):
        """(count, element type) of a list or set."""
        h = self.byte()
        count, et = h >> 4, h & 0x0F
        return (self.varint() if count == 15 else count), et

    def skip(self, t, depth=0):
        if depth > 64:
            raise ValueError("footer nested too deeply")
        if t in (1, 2):            # bool inside a field header: no payload
            return
        if t == 3:
            self.byte()
        elif t in (4, 5, 6):
            self.varint()
        elif t == 7:
            if self.pos + 8 > len(self.buf):
                raise ValueError("footer ends early")
            self.pos += 8
        elif t == 8:
            self.binary()
        elif t in (9, 10):
            count, et = self.list_header()
            for _ in range(count):
                if et in (1, 2):
                    self.byte()        # bools in lists take one byte
                else:
                    self.skip(et, depth + 1)
        elif t == 11:
            count = self.varint()
            if count:
                h = self.byte()
                for _ in range(count):
                    self.skip(h >> 4, depth + 1)
                    self.skip(h & 0x0F, depth + 1)
        elif t == 12:
            self.fields(lambda fid, ft: self.skip(ft, depth + 1))
        else:
            raise ValueError(f"unknown Thrift type {t}")

    def fields(self, on_field):
        """Reads a struct, calling on_field(field id, type) for each field; on_field reads (or
        skips) the value."""
        fid = 0
        while True:
            h = self.byte()
            if h == 0:
                return
            delta, t = h >> 4, h & 0x0F
            fid = fid + delta if delta else self.zigzag()
            on_field(fid, t)

    def structs(self, t, what, on_struct):
        """A list<struct>: on_struct() reads each element."""
        count, et = self.list_header() if t == 9 else (0, None)
        if et != 12:
            raise ValueError(f"{what} is not a list of structs")
        for _ in range(count):
            on_struct()

    def integer(self, t, want, what):
        """An i32 (type 5) or i64 (type 6) field whose declared type must be `want`: a location
        read with the wrong width would point elsewhere than the writer meant."""
        if t != want:
            raise ValueError(f"{what} has Thrift type {t}, not {want}")
        return self.zigzag()


def footer_key_values(path):
    """The footer's key-value metadata as a list of (key, value) in file order, duplicates kept
    (pyarrow's FileMetaData.metadata is a dict that keeps only the first). Parses the Thrift
    compact FileMetaData (field 5: list<KeyValue{1: key, 2: optional value}>); ValueError if
    the footer does not parse."""
    with open(path, "rb") as f:
        r = Compact(footer_tail(f)[:-8])
    pairs = []

    def key_value():
        kv = [None, b""]

        def field(fid, t):
            if fid in (1, 2) and t == 8:
                kv[fid - 1] = r.binary()
            else:
                r.skip(t, 1)
        r.fields(field)
        if kv[0] is None:
            raise ValueError("footer KeyValue without a key")
        pairs.append((kv[0].decode("utf-8"), kv[1].decode("utf-8")))

    r.fields(lambda fid, t: r.structs(t, "key_value_metadata", key_value) if (fid, t) == (5, 9)
             else r.skip(t))
    return pairs


# Where each column chunk's skip structures lie (parquet.thrift): ColumnChunk 4 offset_index_offset
# (i64), 5 offset_index_length (i32), 6 column_index_offset (i64), 7 column_index_length (i32);
# ColumnMetaData (ColumnChunk field 3) 14 bloom_filter_offset (i64), 15 bloom_filter_length (i32).
CHUNK_FIELDS = {4: ("offset_index_offset", 6), 5: ("offset_index_length", 5),
                6: ("column_index_offset", 6), 7: ("column_index_length", 5)}
META_FIELDS = {14: ("bloom_filter_offset", 6), 15: ("bloom_filter_length", 5)}


def column_chunks(meta):
    """Per row group (FileMetaData field 4, in footer order), per column chunk (RowGroup field 1,
    in order), a dict of the CHUNK_FIELDS and META_FIELDS it gives, from the FileMetaData bytes
    `meta`; absent fields are absent keys. ValueError if the footer does not parse."""
    r, groups = Compact(meta), []

    def take(names, chunk):
        def field(fid, t):
            if fid in names:
                chunk[names[fid][0]] = r.integer(t, names[fid][1], names[fid][0])
            elif fid == 3 and names is CHUNK_FIELDS:
                if t != 12:
                    raise ValueError("ColumnChunk.meta_data is not a struct")
                r.fields(take(META_FIELDS, chunk))
            else:
                r.skip(t, 2)
        return field

    def column_chunk():
        groups[-1].append({})
        r.fields(take(CHUNK_FIELDS, groups[-1][-1]))

    def row_group():
        groups.append([])
        r.fields(lambda fid, t: r.structs(t, "RowGroup.columns", column_chunk) if fid == 1
                 else r.skip(t, 1))

    r.fields(lambda fid, t: r.structs(t, "FileMetaData.row_groups", row_group) if fid == 4
             else r.skip(t))
    return groups


def same_type(got, want):
    """Arrow types equal up to a list's child field name and metadata (what re-encoding may
    change without changing values, §4); nullability still counts."""
    if pa.types.is_list(want):
        return (pa.types.is_list(got) and got.value_field.nullable == want.value_field.nullable
                and same_type(got.value_type, want.value_type))
    return got == want


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
    if not is_canonical(record, d):  # §2: stored bytes are RFC 8785
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
           "unverified-tail": ("unverified-tail", 3), "untrusted": ("unverified", 7)}
LOG_KEY, WITNESS_KEY = 0x01, 0x04
MAX_PROOF_HASHES = 63
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
TRANSITION_HEADER = "govtrail-key-transition/v1"
EVIDENCE_HEADER = "govtrail-evidence/v1"
POLICY_KEYWORDS = {"log": "log <vkey> [from <N>] [until <M>]", "witness": "witness <name> <vkey>",
                   "group": "group <name> <k|all|any> <member>...",
                   "quorum": "quorum <group or witness name|none>", "revoked": "revoked <vkey>"}
Key = collections.namedtuple("Key", "name id raw pub")


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


def b64hash(text, what):
    """A strict base64 SHA-256 hash (32 bytes)."""
    raw = b64decode_strict(text)
    if len(raw) != 32:
        raise ValueError(f"{what} is {len(raw)} bytes, not 32")
    return raw


def decimal(text, what):
    """A u64 written in decimal without sign or leading zeros."""
    if not (text.isascii() and text.isdigit()) or (text != "0" and text.startswith("0")):
        raise ValueError(f"{what} {text!r} is not a decimal without leading zeros")
    n = int(text)
    if n >= 1 << 64:
        raise ValueError(f"{what} {text} does not fit in 64 bits")
    return n


def key_id(name, alg, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]


def valid_name(name):
    return name and "+" not in name and not any(c.isspace() for c in name)


def parse_vkey(text, alg=LOG_KEY):
    """A verifier key `<name>+<8 hex id>+<base64(alg ‖ public key)>` (§6; witnesses §10)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise ValueError(f"verifier key {text.strip()!r} is not <name>+<id>+<key>")
    name, kid, b64 = parts
    raw = b64decode_strict(b64)
    if not valid_name(name) or len(raw) != 33:
        raise ValueError(f"bad verifier key {text.strip()!r}")
    if raw[0] != alg:
        raise ValueError(f"verifier key {name} has type 0x{raw[0]:02x}, not 0x{alg:02x}")
    if key_id(name, alg, raw[1:]).hex() != kid:
        raise ValueError(f"verifier key {name}: key id mismatch")
    return Key(name, bytes.fromhex(kid), raw[1:], Ed25519PublicKey.from_public_bytes(raw[1:]))


def key_label(k):
    return f"{k.name}+{k.id.hex()}"


def verifies(key, message, sig):
    try:
        key.pub.verify(sig, message)
        return True
    except InvalidSignature:
        return False


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


def cosignature_message(time, text):
    """What a witness signs (§10): the cosignature/v1 header, then the checkpoint text."""
    return f"cosignature/v1\ntime {time}\n".encode() + text.encode()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tree:
    def __init__(self, size=0, peaks=()):
        self.size, self.peaks = size, list(peaks)

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


# RFC 9162 proof verification. Sizes and indices are integers, hashes bytes; a wrong type or
# length is a failed proof, never an exception.

def is_hash(h):
    return type(h) is bytes and len(h) == 32


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2: does `proof` lead from `leaf` at `index` to `root` of a tree of `size`?"""
    if not (is_hash(leaf) and is_hash(root) and all(is_hash(p) for p in proof)):
        return False
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 §2.1.4.2 between trees of size1 ≤ size2 leaves. Equal sizes need an empty proof
    and equal roots; size1 = 0 fails, as in the transparency-dev vectors (see `consistent`)."""
    if not all(is_hash(p) for p in proof) or size1 <= 0 or size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not (is_hash(root1) and is_hash(root2)) or not proof:
        return False
    path = ([root1] if size1 & (size1 - 1) == 0 else []) + list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


def consistent(m, n, old_root, new_root, proof):
    """A consistency proof as §8 reads it: m = 0 needs an empty proof (every tree extends the
    empty tree); m = n an empty proof and equal roots; otherwise RFC 9162 §2.1.4.2."""
    if m == 0:
        return n >= 0 and not proof
    return verify_consistency(m, n, old_root, new_root, proof)


# Trust policy (§11).

class Policy:
    """Log keys, witnesses, groups, the quorum (None: no quorum) and revoked keys."""

    def __init__(self):
        self.logs, self.revoked, self.witnesses, self.groups, self.quorum = [], [], {}, {}, None
        self.pinned = {}  # raw log key -> (from, until) sizes the policy itself pins (§11)

    def satisfied(self, name, signed):
        """Do the witness keys in `signed` (raw public keys) meet witness or group `name`?
        A group counts each distinct witness key once, and each satisfied subgroup once."""
        if name in self.witnesses:
            return self.witnesses[name].raw in signed
        k, members = self.groups[name]
        keys, groups = set(), 0
        for m in members:
            if m in self.witnesses:
                if self.witnesses[m].raw in signed:
                    keys.add(self.witnesses[m].raw)
            elif self.satisfied(m, signed):
                groups += 1
        return len(keys) + groups >= k


def policy_key(text, alg, at):
    try:
        return parse_vkey(text, alg)
    except ValueError as e:
        raise Usage(f"{at}: {e}")


def group_threshold(text, members, at):
    if text == "all":
        return len(members)
    if text == "any":
        return 1
    try:
        k = decimal(text, "threshold")
    except ValueError as e:
        raise Usage(f"{at}: {e}; use a number, all or any")
    if not 1 <= k <= len(members):
        raise Usage(f"{at}: threshold {k} is not between 1 and the {len(members)} members")
    return k


def parse_policy(text, where, policy=None):
    """Parses a tlog-policy file (§11) into `policy`; any malformed line is a Usage error."""
    p = policy or Policy()
    quorum_at = None
    for n, line in enumerate(text.split("\n"), 1):
        words, at = line.split(), f"policy {where} line {n}"
        if not words or words[0].startswith("#"):
            continue
        kw, args = words[0], words[1:]
        if kw not in POLICY_KEYWORDS:
            raise Usage(f"{at}: unknown keyword {kw!r}")
        want = {"revoked": 1, "witness": 2, "quorum": 1}.get(kw)
        if (want is not None and len(args) != want) or (kw == "group" and len(args) < 3) \
                or (kw == "log" and len(args) not in (1, 3, 5)):
            raise Usage(f"{at}: expected `{POLICY_KEYWORDS[kw]}`")
        if kw == "log":
            key = policy_key(args[0], LOG_KEY, at)
            p.logs.append(key)
            lo, hi = p.pinned.get(key.raw, (0, None))
            for word, n in zip(args[1::2], args[2::2]):
                try:
                    n = decimal(n, word)
                except ValueError:
                    n = None
                if word not in ("from", "until") or n is None:
                    raise Usage(f"{at}: expected `{POLICY_KEYWORDS[kw]}`")
                if word == "from":
                    lo = max(lo, n)
                else:
                    hi = n if hi is None else min(hi, n)
            p.pinned[key.raw] = (lo, hi)
        elif kw == "revoked":
            p.revoked.append(policy_key(args[0], LOG_KEY, at))
        elif kw == "quorum":
            if quorum_at is not None:
                raise Usage(f"{at}: a second quorum line (the first is {quorum_at})")
            if args[0] != "none" and args[0] not in p.witnesses and args[0] not in p.groups:
                raise Usage(f"{at}: quorum {args[0]} is neither an earlier witness nor an earlier group")
            quorum_at, p.quorum = at, (None if args[0] == "none" else (args[0], at))
        else:
            name = args[0]
            if not valid_name(name) or name == "none":
                raise Usage(f"{at}: bad name {name!r}")
            if name in p.witnesses or name in p.groups:
                raise Usage(f"{at}: {name} is defined twice")
            if kw == "witness":
                key = policy_key(args[1], WITNESS_KEY, at)
                if any(k.raw == key.raw for k in p.witnesses.values()):
                    raise Usage(f"{at}: witness key {args[1]} is listed twice")
                p.witnesses[name] = key
                continue
            members = args[2:]
            if len(set(members)) != len(members):
                raise Usage(f"{at}: group {name} names a member twice")
            for m in members:
                if m not in p.groups and m not in p.witnesses:
                    raise Usage(f"{at}: member {m} is neither an earlier witness nor an earlier group")
            p.groups[name] = (group_threshold(args[1], members, at), members)
    if p.quorum is not None:
        name, at = p.quorum
        if name not in p.witnesses and name not in p.groups:
            raise Usage(f"{at}: quorum {name} is neither a witness nor a group")
        p.quorum = name
    return p


def parse_transition(text):
    """(origin, old key, new key, N) of a key-transition note's text (§11), or ValueError."""
    lines = text.split("\n")
    if len(lines) != 6 or lines[5] != "" or not lines[0]:
        raise ValueError("a key transition has exactly five lines")
    if lines[1] != TRANSITION_HEADER:
        raise ValueError(f"second line is not {TRANSITION_HEADER}")
    for line, word in zip(lines[2:5], ("old", "new", "size")):
        if not line.startswith(word + " "):
            raise ValueError(f"expected a line `{word} ...`, found {line!r}")
    old, new = parse_vkey(lines[2][4:]), parse_vkey(lines[3][4:])
    return lines[0], old, new, decimal(lines[4][5:], "size")


class Trust:
    """A policy applied to one origin: which checkpoints are trusted (§11)."""

    def __init__(self, policy, origin):
        self.policy, self.origin = policy, origin
        self.logs = [k for k in policy.logs if k.name == origin]
        self.revoked = {k.raw for k in policy.revoked if k.name == origin}
        self.keys = self.logs + [k for k in policy.revoked
                                 if k.name == origin and k.raw not in {x.raw for x in self.logs}]
        # raw key -> (lowest, highest) size it may sign: pinned by the policy, narrowed by transitions
        self.ranges = {k.raw: policy.pinned[k.raw] for k in self.logs if k.raw in policy.pinned}

    def valid(self, key, size):
        lo, hi = self.ranges.get(key.raw, (0, None))
        return key.raw not in self.revoked and lo <= size and (hi is None or size <= hi)

    def is_log_key(self, key):
        return any(k[:3] == key[:3] for k in self.logs)

    def add_transitions(self, files):
        """Reads key-transition notes `[(size in the name, path, bytes)]` in name order."""
        new_of = {}
        for named, path, data in files:
            try:
                text, sigs = parse_note(data)
                origin, old, new, size = parse_transition(text)
            except (ValueError, UnicodeDecodeError) as e:
                raise Failure("corrupt", None, f"key transition {path}: {e}")
            if not (self.is_log_key(old) and self.is_log_key(new)):
                continue  # names a key outside the policy: ignored
            signed = self.log_signatures(text, sigs, f"key transition {path}")
            for role, k in (("old", old), ("new", new)):
                if k.raw not in signed:
                    raise Failure("bad-signature", None,
                                  f"key transition {path} lacks a signature by its {role} key {key_label(k)}")
            if origin != self.origin:
                raise Failure("origin-mismatch", None,
                              f"key transition {path} is for origin {origin!r}, not {self.origin!r}")
            if named != size:
                raise Failure("corrupt", None, f"key transition {path} holds size {size}, not {named}")
            if new.raw in new_of:
                raise Failure("corrupt", None, f"key {key_label(new)} is the new key of two "
                              f"transitions: {new_of[new.raw]} and {path}")
            new_of[new.raw] = path
            lo, hi = self.ranges.get(old.raw, (0, None))
            self.ranges[old.raw] = (lo, size if hi is None else min(hi, size))
            lo, hi = self.ranges.get(new.raw, (0, None))
            self.ranges[new.raw] = (max(lo, size), hi)

    def log_signatures(self, text, sigs, where):
        """Raw keys of the policy's log (and revoked) keys whose signatures verify; a policy key's
        failing signature is `bad-signature`."""
        out = {}
        for name, kid, sig in sigs:
            for k in self.keys:
                if (k.name, k.id) == (name, kid):
                    if not verifies(k, text.encode(), sig):
                        raise Failure("bad-signature", None,
                                      f"{where}: the signature by {key_label(k)} fails")
                    out[k.raw] = k
        return out

    def cosignatures(self, text, sigs, where):
        """Raw keys of the policy's witnesses whose cosignatures (§10) verify; a policy witness's
        failing cosignature is `bad-signature`."""
        out = set()
        for name, kid, rest in sigs:
            for wname, w in self.policy.witnesses.items():
                if (w.name, w.id) != (name, kid):
                    continue
                ok = len(rest) == 72 and verifies(
                    w, cosignature_message(struct.unpack(">Q", rest[:8])[0], text), rest[8:])
                if not ok:
                    raise Failure("bad-signature", None,
                                  f"{where}: the cosignature by witness {wname} ({key_label(w)}) fails")
                out.add(w.raw)
        return out

    def judge(self, data, where):
        """((origin, size, root), None) for a trusted checkpoint; (None, why) for one that is not
        trusted and is ignored; raises Failure for corrupt, bad-signature or revoked-key."""
        try:
            text, sigs = parse_note(data)
            origin, size, root = parse_checkpoint_text(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise Failure("corrupt", None, f"{where}: {e}")
        signed = self.log_signatures(text, sigs, where)
        cosigned = self.cosignatures(text, sigs, where)
        good = [k for k in signed.values() if self.valid(k, size)]
        if not good:
            if signed:
                names = ", ".join(key_label(k) for k in signed.values())
                raise Failure("revoked-key", None, f"{where} (size {size}) is signed only by "
                              f"revoked keys or keys outside their validity range: {names}")
            found = ", ".join(f"{n}+{i.hex()}" for n, i, _ in sigs) or "nobody"
            return None, f"{where} (signed by {found}, no trusted log key)"
        q = self.policy.quorum
        if q is not None and not self.policy.satisfied(q, cosigned):
            return None, f"{where} (size {size}) lacks the witness quorum {q}"
        return (origin, size, root), None


# Ledger files.

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
            yield ("torn", off, len(data) - off)
            return
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
    if off < len(data):
        yield ("torn", off, len(data) - off)


def regular_file(path):
    """Refuses a symbolic link or anything but a regular file (§1): could not run, exit 4."""
    if not os.path.lexists(path):
        raise Usage(f"{path}: no such file")
    if os.path.islink(path) or not os.path.isfile(path):
        raise Usage(f"{path} is a symbolic link or not a regular file")
    return path


def read_bytes(path):
    with open(regular_file(path), "rb") as f:
        return f.read()


def listed(directory, pattern):
    """Files in `directory` whose names match `pattern`, sorted, as ([numbers], path); a missing
    directory holds none; links are refused."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        m = re.fullmatch(pattern, name)
        if m:
            path = os.path.join(directory, name)
            out.append(([int(g) for g in m.groups()], regular_file(path)))
    return out


def transition_files(directory):
    return [(n, path, read_bytes(path))
            for (n,), path in listed(os.path.join(directory, "keys"), r"(\d{20})\.transition")]


def parse_manifest(text):
    """The evidence manifest (§12) as a dict, or ValueError naming the line."""
    lines = text.split("\n")
    if lines[-1] != "":
        raise ValueError("EVIDENCE does not end with a newline")
    lines = lines[:-1]
    if not lines or lines[0] != EVIDENCE_HEADER:
        raise ValueError(f"EVIDENCE line 1 is not {EVIDENCE_HEADER}")
    m, at = {"peaks": [], "consistency": []}, 1

    def field(word):
        nonlocal at
        if at >= len(lines) or not lines[at].startswith(word + " "):
            raise ValueError(f"EVIDENCE line {at + 1}: expected `{word} ...`")
        at += 1
        return lines[at - 1][len(word) + 1:]

    m["origin"] = field("origin")
    if not valid_name(m["origin"]):
        raise ValueError(f"EVIDENCE line 2: bad origin {m['origin']!r}")
    m["from"] = decimal(field("from"), "from")
    m["to"] = decimal(field("to"), "to")
    m["chain"] = b64hash(field("chain"), "chain")
    while at < len(lines) and lines[at].startswith("peak "):
        m["peaks"].append(b64hash(field("peak"), f"peak on line {at + 1}"))
    m["size"] = decimal(field("size"), "size")
    while at < len(lines):
        m["consistency"].append(b64hash(field("consistency"), f"consistency hash on line {at + 1}"))
    if len(m["consistency"]) > MAX_PROOF_HASHES:
        raise ValueError("EVIDENCE holds more than 63 consistency hashes")
    return m


# Seal notes (§14): which segments' skip structures (footer, page index, bloom filters, summary) a
# reader may rely on. Reported next to the verdict, never part of it: a segment not vouched for is
# one that queries scan in full, not tampering.

SEALS_HEADER = "govtrail-seals/v1"
SEAL_CONTEXTS = {w: f"govtrail ledger v1 seal {w}"
                 for w in ("footer", "page index", "blooms", "summary")}
ABSENT = struct.pack(">Q", (1 << 64) - 1)   # a structure whose offset or length the chunk omits
HEX64 = re.compile(r"[0-9a-f]{64}")
SEGMENT_NAME = r"(\d{20})-(\d{20})\.parquet"


def seal_hash(what, data):
    return blake3.blake3(data, derive_key_context=SEAL_CONTEXTS[what]).hexdigest()


def parse_seals(text):
    """(origin, N, {(start, end): (footer, page index, blooms, summary or None)}) of a seal note's
    text (§14), or ValueError: no line, a malformed one, lines out of order or overlapping, or N
    other than the last line's end."""
    lines = text.split("\n")  # parse_note leaves the text's final newline: lines[-1] == ""
    if len(lines) < 5 or lines[1] != SEALS_HEADER or not lines[2].startswith("size "):
        raise ValueError(f"not `<origin>`, `{SEALS_HEADER}`, `size <N>` and at least one line")
    size, seals, last = decimal(lines[2][5:], "size"), {}, None
    for line in lines[3:-1]:
        w = line.split(" ")
        if len(w) != 7 or not all(HEX64.fullmatch(x) for x in w[3:6]) \
                or not (w[6] == "-" or HEX64.fullmatch(w[6])):
            raise ValueError(f"malformed seal line {line!r}")
        start, end, _ = (decimal(x, "seal line number") for x in w[:3])
        if start >= end or (last is not None and start < last):
            raise ValueError(f"seal line {line!r} is empty, out of order or overlaps")
        seals[(start, end)], last = (w[3], w[4], w[5], None if w[6] == "-" else w[6]), end
    if last != size:
        raise ValueError(f"size {size} is not the end of the last line ({last})")
    return lines[0], size, seals


def vouched_seals(directory, origin, policy):
    """The seal lines of `<directory>/seals.note` if the note vouches (§14): it parses, its origin
    line is `origin`, and a log key of the policy valid at its size N signs it, as a checkpoint of
    size N would need (transitions apply, quorum not); else None. Any failure, a policy key's bad
    signature or a file that is missing or not regular included, only means nothing is vouched
    for: the note never changes a verdict."""
    path = os.path.join(directory, "seals.note")
    try:
        text, sigs = parse_note(read_bytes(path))
        note_origin, size, seals = parse_seals(text)
        trust = Trust(policy, origin)  # afresh: the run may have stopped before its transitions
        trust.add_transitions(transition_files(directory))
        signed = trust.log_signatures(text, sigs, path)
    except (Usage, Failure, OSError, ValueError, UnicodeDecodeError):
        return None
    if note_origin != origin or not any(trust.valid(k, size) for k in signed.values()):
        return None
    return seals


def ranges_digest(f, size, what, ranges):
    """The `what` digest (§14) over (offset, length) pairs of the open file `f` of `size`
    bytes: u64be(length) ‖ bytes for each, u64be(2^64 − 1) when either is absent; ValueError for
    a range outside the file (a negative i32 length included)."""
    h = blake3.blake3(derive_key_context=SEAL_CONTEXTS[what])
    for off, ln in ranges:
        if off is None or ln is None:
            h.update(ABSENT)
            continue
        if off < 0 or ln < 0 or off + ln > size:
            raise ValueError(f"{what} range {off}+{ln} is outside the file")
        f.seek(off)
        h.update(struct.pack(">Q", ln) + f.read(ln))
    return h.hexdigest()


def locations(chunks, *fields):
    """(offset, length) of each chunk for each (offset field, length field) of `fields`."""
    return [(c.get(off), c.get(ln)) for c in chunks for off, ln in fields]


def seal_reason(path, line):
    """The first reason (§14) not to vouch for the segment at `path` whose seal line is `line`
    (None: no line): "no seal line", "footer", "page index", "blooms"; None if it is vouched for.
    Raises if the file cannot be read or has no Parquet footer (the caller says "footer")."""
    if line is None:
        return "no seal line"
    with open(regular_file(path), "rb") as f:
        tail = footer_tail(f)
        size = f.seek(0, 2)
        if seal_hash("footer", tail) != line[0]:
            return "footer"
        try:  # a footer the writer signed but that does not parse cannot locate the indexes
            chunks = [c for group in column_chunks(tail[:-8]) for c in group]
            pages = locations(chunks, ("column_index_offset", "column_index_length"),
                              ("offset_index_offset", "offset_index_length"))
            if ranges_digest(f, size, "page index", pages) != line[1]:
                return "page index"
        except ValueError:
            return "page index"
        blooms = locations(chunks, ("bloom_filter_offset", "bloom_filter_length"))
        if any(off is not None and ln is None for off, ln in blooms):
            return "blooms"  # a reader would find the filter's end from its header: not bounded
        try:
            if ranges_digest(f, size, "blooms", blooms) != line[2]:
                return "blooms"
        except ValueError:
            return "blooms"
    return None


def summary_vouched(directory, name, digest):
    """Is the summary of segment `name` vouched for by the line's `digest` (None: `-`)? A missing
    summary is (a reader scans instead); one that is a link or unreadable is not."""
    path = os.path.join(directory, "summaries", name)
    if not os.path.lexists(path):
        return True
    try:
        return digest is not None and seal_hash("summary", read_bytes(path)) == digest
    except (Usage, OSError):
        return False


def unvouched(directory, origin, policy):
    """[{segment, reason}] for every segment file present (§14), in start order; never raises.
    Lists the directory itself, without `listed`, so that a link is reported, not an exit 4."""
    try:
        names = sorted(n for n in os.listdir(os.path.join(directory, "segments"))
                       if re.fullmatch(SEGMENT_NAME, n))
    except OSError:
        return []
    seals = vouched_seals(directory, origin, policy) if origin is not None else None
    out = []
    for name in names:
        start, end = (int(g) for g in re.fullmatch(SEGMENT_NAME, name).groups())
        line = seals.get((start, end)) if seals is not None else None
        try:
            reason = "no seal note" if seals is None else seal_reason(
                os.path.join(directory, "segments", name), line)
        except Exception:  # unreadable or not Parquet: none of its structures can be vouched for
            reason = "footer"
        if reason is None and not summary_vouched(directory, name, line[3]):
            reason = "summary"
        if reason is not None:
            out.append({"segment": name, "reason": reason})
    return out


class Verifier:
    def __init__(self, ledger, policy, anchors, origin=None, evidence=False):
        self.dir, self.policy, self.anchors, self.want_origin = ledger, policy, anchors, origin
        # Only the caller makes a directory a pack (§12): a file dropped into a ledger must not
        # narrow what is verified.
        self.pack = evidence
        if evidence and os.path.lexists(os.path.join(ledger, "govtrail-ledger.json")):
            raise Usage(f"{ledger} is a ledger, not an evidence pack: verify it without --evidence")
        self.origin, self.trust, self.start = None, None, None
        self.expected, self.ignored = {}, []
        self.tree, self.chain = Tree(), bytes(32)
        self.verified, self.checked = 0, 0
        self.torn = []

    def set_origin(self, origin):
        self.origin, self.trust = origin, Trust(self.policy, origin)
        if self.want_origin is not None and self.want_origin != origin:
            raise Failure("origin-mismatch", None,
                          f"the ledger's origin {origin!r} differs from --origin {self.want_origin!r}")

    def add_checkpoint(self, data, where, anchor):
        cp, why = self.trust.judge(data, where)
        if cp is None:
            if anchor:
                raise Failure("untrusted", None, why)
            self.ignored.append(why)
            return
        origin, size, root = cp
        if origin != self.origin:
            raise Failure("origin-mismatch", None, f"{where} is for origin {origin!r}")
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
            kv = footer_key_values(path)  # raw: pyarrow's dict hides duplicate keys
        except Exception as e:  # any unreadable file is corrupt
            raise Failure("corrupt", start, str(e))
        if len(schema) != len(EXPECTED_COLUMNS) or not all(
                f.name == n and f.nullable == nl and same_type(f.type, t)
                for f, (n, t, nl) in zip(schema, EXPECTED_COLUMNS)):
            raise Failure("corrupt", start, "schema")
        meta = {}
        for k, v in kv:
            if k in FOOTER_KEYS and k in meta:
                raise Failure("corrupt", start, f"footer metadata has {k} more than once")
            meta.setdefault(k, v)
        if meta.get("govtrail.format") != "1":
            raise Failure("corrupt", start, "format")
        try:  # missing or malformed: corrupt, before any comparison (as the Rust reader)
            origin = meta["govtrail.origin"]
            first = decimal(meta["govtrail.start"], "footer start")
            last = decimal(meta["govtrail.end"], "footer end")
        except (KeyError, ValueError) as e:
            raise Failure("corrupt", start, f"footer: {e}")
        if origin != self.origin:
            raise Failure("origin-mismatch", start, "segment origin")
        if (first, last) != (start, end):
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
        return listed(os.path.join(self.dir, sub), pattern)

    def not_trusted(self):
        """What the message says about checkpoints that were ignored."""
        return "; ignored: " + "; ".join(self.ignored) if self.ignored else ""

    def run(self):
        if self.pack:
            self.run_pack()
        else:
            self.run_ledger()

    def run_ledger(self):
        path = os.path.join(self.dir, "govtrail-ledger.json")
        try:
            config = json.loads(read_bytes(path))
        except ValueError as e:
            raise Usage(f"{path}: {e}")
        if type(config) is not dict or config.get("format") != 1:
            raise Usage(f"{path}: format is not 1")
        if type(config.get("origin")) is not str:
            raise Usage(f"{path}: no origin")
        self.set_origin(config["origin"])
        self.trust.add_transitions(transition_files(self.dir))
        for name, data in self.anchors:
            try:
                parse_checkpoint_text(parse_note(data)[0])
            except (ValueError, UnicodeDecodeError) as e:
                raise Usage(f"anchor {name}: not a checkpoint note ({e})")
            self.add_checkpoint(data, f"anchor {name}", True)
        for _, path in self.files("checkpoints", r"(\d{20})\.note"):
            self.add_checkpoint(read_bytes(path), path, False)
        wals = []
        for (start,), path in self.files("wal", r"(\d{20})\.wal"):
            frames = []
            for fr in read_wal(path, start):
                if fr[0] == "torn":
                    self.torn.append({"file": os.path.basename(path), "offset": fr[1], "bytes": fr[2]})
                    continue
                frames.append(fr)
                if fr[0] == "checkpoint":
                    self.add_checkpoint(fr[1], f"{path} checkpoint frame", False)
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
                raise Failure("untrusted", 0, "no trusted checkpoint" + self.not_trusted())
            raise Failure("unverified-tail", self.verified, "tail" + self.not_trusted())

    def run_pack(self):
        """An evidence pack (§12): records [I, J) proven against a checkpoint of size C ≥ J."""
        if self.anchors:
            raise Usage("--anchor does not apply to an evidence pack (it holds no records before "
                        "its range and no proof to an anchor)")
        try:
            m = parse_manifest(read_bytes(os.path.join(self.dir, "EVIDENCE")).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Failure("corrupt", None, f"evidence manifest: {e}")
        first, last, size = m["from"], m["to"], m["size"]
        self.start = self.verified = first
        # Malformed manifests are `corrupt` without an index (§12), checked before anything else.
        if not first < last <= size:
            raise Failure("corrupt", None, f"range [{first}, {last}) is not within 0 < J ≤ {size}")
        if len(m["peaks"]) != bin(first).count("1"):
            raise Failure("corrupt", None, f"{len(m['peaks'])} peaks for a tree of size {first}")
        path = os.path.join(self.dir, "segments", f"{first:020}-{last:020}.parquet")
        if os.path.islink(path) or not os.path.isfile(path):
            raise Failure("corrupt", None, f"{path} is missing or not a regular file")
        note = os.path.join(self.dir, "checkpoint.note")
        if os.path.islink(note) or not os.path.isfile(note):
            raise Failure("corrupt", None, "the evidence pack has no checkpoint.note")
        self.set_origin(m["origin"])
        self.trust.add_transitions(transition_files(self.dir))
        cp, why = self.trust.judge(read_bytes(note), note)
        if cp is None:
            raise Failure("untrusted", first, why)
        if cp[0] != self.origin:
            raise Failure("origin-mismatch", None, f"{note} is for origin {cp[0]!r}")
        if cp[1] != size:
            raise Failure("corrupt", None, f"{note} has size {cp[1]}, the manifest says {size}")
        self.tree, self.chain = Tree(first, m["peaks"]), m["chain"]
        start, end = first, last
        self.segment(start, end, path)
        if not consistent(last, size, self.tree.root(), cp[2], m["consistency"]):
            raise Failure("root-mismatch", first, f"the consistency proof does not lead from the "
                          f"recomputed root at {last} to the root of {note} (size {size})")
        self.verified = last


# Proof files (§8).

def split_proof(data, what):
    """(head lines, note bytes) of a proof file: hash lines end at the first blank line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("corrupt", None, f"{what} is not UTF-8")
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Failure("corrupt", None, f"{what} has no blank line before its checkpoint")
    return head.split("\n"), note.encode("utf-8")


def proof_hashes(lines, what):
    if len(lines) > MAX_PROOF_HASHES:
        raise Failure("corrupt", None, f"{what} has more than {MAX_PROOF_HASHES} hashes")
    try:
        return [b64hash(line, f"{what} hash {n}") for n, line in enumerate(lines, 1)]
    except ValueError as e:
        raise Failure("corrupt", None, str(e))


def trusted_note(policy, note, where, origin, transitions):
    """(origin, size, root) of a checkpoint note signed by a log key named like its origin and
    valid at its size, meeting the quorum (§8, §11); else Failure."""
    try:
        text, _ = parse_note(note)
        claimed = parse_checkpoint_text(text)[0]
    except (ValueError, UnicodeDecodeError) as e:
        raise Failure("corrupt", None, f"{where}: {e}")
    if origin is not None and claimed != origin:
        raise Failure("origin-mismatch", None, f"{where} is for origin {claimed!r}, not {origin!r}")
    trust = Trust(policy, claimed)
    trust.add_transitions(transitions)
    cp, why = trust.judge(note, where)
    if cp is None:
        raise Failure("untrusted", None, why)
    return cp


def check_inclusion(data, policy, record, origin, transitions):
    lines, note = split_proof(data, "the proof")
    if len(lines) < 3 or lines[0] != PROOF_HEADER:
        raise Failure("corrupt", None, f"the proof does not start with {PROOF_HEADER}, extra, index")
    try:
        if not lines[1].startswith("extra ") or not lines[2].startswith("index "):
            raise ValueError("the proof's second and third lines must be `extra` and `index`")
        extra = b64decode_strict(lines[1][6:])
        index = decimal(lines[2][6:], "index")
        # The 81-byte leaf entry, then the decision id the proof names (§8), if any.
        entry, name = extra[:81], extra[81:]
        if len(name) > 1024:
            raise ValueError("extra is not base64 of an 81-byte leaf entry and a decision id")
        name = name.decode("utf-8") if name else None
    except (ValueError, UnicodeDecodeError) as e:
        raise Failure("corrupt", None, str(e))
    path = proof_hashes(lines[3:], "the inclusion path")
    cp_origin, size, root = trusted_note(policy, note, "the proof's checkpoint", origin, transitions)
    if len(entry) != 81 or entry[0] != 0x01:
        raise Failure("corrupt", None, "the leaf entry is not 81 bytes of version 0x01")
    if struct.unpack(">Q", entry[1:9])[0] != index:
        raise Failure("sequence", index, "the leaf entry's index differs from the proof's index")
    if not verify_inclusion(index, size, hashlib.sha256(b"\x00" + entry).digest(), path, root):
        raise Failure("root-mismatch", index,
                      f"the inclusion path does not lead from leaf {index} to the root of size {size}")
    if record is not None:
        if blake3.blake3(record, derive_key_context=RECORD_CONTEXT).digest() != entry[17:49]:
            raise Failure("record-altered", index, "the record does not hash to the entry's record hash")
        if name is not None:
            fields = decision(record)
            got = fields["decision_id"] if fields is not None else None
            if got != name:
                raise Failure("corrupt", index, f"the proof names decision {name!r}, the record is "
                              + (f"decision {got!r}" if got is not None else "not a decision"))
    what = "record" if record is not None else "leaf entry"
    return f"{what} {index} is in the checkpoint of {cp_origin} at size {size}"


def check_consistency(data, policy, anchors, origin, transitions):
    lines, note = split_proof(data, "the consistency proof")
    try:
        old = decimal(lines[0][4:], "old") if lines[0].startswith("old ") else None
    except ValueError as e:
        raise Failure("corrupt", None, str(e))
    if old is None:
        raise Failure("corrupt", None, "the consistency proof does not start with `old <size>`")
    proof = proof_hashes(lines[1:], "the consistency proof")
    name, anchor = anchors[0]
    a_origin, a_size, a_root = trusted_note(policy, anchor, f"anchor {name}", origin, transitions)
    n_origin, n_size, n_root = trusted_note(policy, note, "the proof's checkpoint", a_origin, transitions)
    if old != a_size:
        raise Failure("sequence", None, f"the proof is from size {old}, the anchor has size {a_size}")
    if old > n_size:
        raise Failure("truncated", None, f"the checkpoint's size {n_size} is below the anchor's {old}")
    if not consistent(old, n_size, a_root, n_root, proof):
        raise Failure("forked", None, f"the proof does not lead from the anchor's root at {old} "
                      f"to the checkpoint's root at {n_size}")
    return f"the checkpoint of {n_origin} at size {n_size} extends the anchor at size {old}"


def run_proof(a, policy, anchors):
    """`--proof`: an inclusion (tlog-proof) or consistency file; prints {status, detail}."""
    try:
        data = read_bytes(a.proof)
        record = read_bytes(a.record) if a.record is not None else None
    except OSError as e:
        raise Usage(str(e))
    transitions = transition_files(a.ledger) if a.ledger is not None else []
    is_inclusion = data.startswith((PROOF_HEADER + "\n").encode())
    if is_inclusion and anchors:
        raise Usage("--anchor applies to consistency proofs, not to an inclusion proof")
    if data.startswith(b"old ") and len(anchors) != 1:
        raise Usage("a consistency proof needs exactly one --anchor (the older checkpoint)")
    if not is_inclusion and record is not None:
        raise Usage("--record applies to inclusion proofs only")
    try:
        if is_inclusion:
            detail = check_inclusion(data, policy, record, a.origin, transitions)
        elif data.startswith(b"old "):
            detail = check_consistency(data, policy, anchors, a.origin, transitions)
        else:
            raise Failure("corrupt", None, f"{a.proof} starts neither with {PROOF_HEADER} nor with `old `")
    except Failure as f:
        print(json.dumps({"status": "invalid", "detail": f"{f.cls}: {f.detail}"}))
        return 1
    print(json.dumps({"status": "ok", "detail": detail}))
    return 0


# Command line.

class Arguments(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def parse_args(argv):
    ap = Arguments(description="Independent verifier of govtrail ledgers, evidence packs and "
                               "proof files (docs/LEDGER-FORMAT.md).")
    ap.add_argument("ledger", nargs="?", help="ledger directory or evidence pack (with --proof: "
                    "optional, a ledger whose key transitions apply)")
    ap.add_argument("--pubkey", action="append", default=[], help="log vkey or a file of them")
    ap.add_argument("--policy", action="append", default=[], help="tlog-policy file (§11)")
    ap.add_argument("--anchor", action="append", default=[], help="saved checkpoint, or a directory of *.note")
    ap.add_argument("--origin")
    ap.add_argument("--evidence", action="store_true", help="the directory is an evidence pack (§12)")
    ap.add_argument("--proof", help="an inclusion (c2sp.org/tlog-proof@v1) or consistency proof file")
    ap.add_argument("--record", help="with --proof: the record's bytes")
    a = ap.parse_args(argv)
    if a.proof is None and a.ledger is None:
        raise Usage("give a ledger directory (or --proof FILE)")
    if a.proof is None and a.record is not None:
        raise Usage("--record applies to --proof only")
    if not a.pubkey and not a.policy:
        raise Usage("no trusted key: give --pubkey or --policy")
    if len(a.policy) > 1:
        raise Usage("give --policy once")
    return a


def load_policy(a):
    policy = Policy()
    try:
        if a.policy:
            with open(a.policy[0], encoding="utf-8") as f:
                parse_policy(f.read(), a.policy[0], policy)
        for k in a.pubkey:
            text = open(k, encoding="utf-8").read() if os.path.exists(k) else k
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    policy.logs.append(policy_key(line, LOG_KEY, f"--pubkey {k} line {n}"))
    except (OSError, UnicodeDecodeError) as e:
        raise Usage(str(e))
    return policy


def load_anchors(paths):
    """Anchor files, or directories whose `*.note` files are all anchors."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            notes = sorted(n for n in os.listdir(p) if n.endswith(".note"))
            if not notes:
                raise Usage(f"--anchor {p}: the directory holds no .note files")
            out.extend(os.path.join(p, n) for n in notes)
        else:
            out.append(p)
    try:
        return [(p, open(p, "rb").read()) for p in out]
    except OSError as e:
        raise Usage(str(e))


def main(argv=None):
    v = None
    try:
        a = parse_args(argv)
        policy, anchors = load_policy(a), load_anchors(a.anchor)
        if a.proof is not None:
            return run_proof(a, policy, anchors)
        v = Verifier(a.ledger, policy, anchors, a.origin, a.evidence)
        out, code = {"status": "ok", "class": None, "index": None}, 0
        try:
            v.run()
        except Failure as f:
            status, code = VERDICT.get(f.cls, ("tampered", 1))
            out = {"status": status, "class": f.cls, "index": f.index, "detail": f.detail}
    except (Usage, OSError) as e:
        print(json.dumps({"status": "error", "detail": str(e)}))
        return 4
    out["records"], out["verified"] = v.tree.size, v.verified
    out["torn"] = v.torn
    if v.pack:
        out["from"] = v.start
    # §14, after the verdict and whatever it was: packs carry no seal note.
    out["unvouched"] = [] if v.pack else unvouched(v.dir, v.origin, v.policy)
    print(json.dumps(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
