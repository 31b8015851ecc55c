"""Helpers the benchmark scripts share (imported from benches/, the scripts' directory)."""
import json
import os
import struct
import subprocess
import zlib


def pct(xs, p):
    """The p-th percentile of xs (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def drain_spool(binary, spool, tmp, name):
    """Ingests a hook spool into a new signed ledger under tmp; returns the records appended."""
    key = os.path.join(tmp, "k")
    subprocess.run([binary, "keygen", "--name", name, "--out", key], check=True, capture_output=True)
    ledger = os.path.join(tmp, "ledger")
    subprocess.run([binary, "init", ledger, "--key", key + ".key"], check=True, capture_output=True)
    r = subprocess.run([binary, "ingest", ledger, "--key", key + ".key", "--spool", spool, "--json"],
                       check=True, capture_output=True)
    return json.loads(r.stdout)["appended"]


def spool_records(spool):
    """The envelopes in a hook spool: the calls' own files and the frames of the resident
    evaluators' hook logs (docs/RECORD.md §5.2: u32 length, u32 CRC-32, both little-endian, then
    the envelope; zeros after the last frame)."""
    out = []
    for f in sorted(os.listdir(spool)):
        path = os.path.join(spool, f)
        if f.startswith("."):
            continue
        if f.endswith(".hook.json"):
            out.append(json.load(open(path)))
        elif f.endswith(".hooklog"):
            data, at = open(path, "rb").read(), 0
            while at + 8 <= len(data):
                n, crc = struct.unpack_from("<II", data, at)
                body = data[at + 8:at + 8 + n]
                if n == 0 or len(body) < n or zlib.crc32(body) != crc:
                    break
                out.append(json.loads(body))
                at += 8 + n
    return out


def write_section(title, section, path="docs/BENCHMARKS.md"):
    """Replaces the section headed `title` in the benchmarks document (or appends it)."""
    doc = open(path).read()
    start = doc.find(title)
    if start >= 0:
        nxt = doc.find("\n## ", start + 3)
        doc = doc[:start] + section + ("\n" + doc[nxt + 1:] if nxt >= 0 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + section
    open(path, "w").write(doc)
    print(section)
