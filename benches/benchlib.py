"""Helpers the benchmark scripts share (imported from benches/, the scripts' directory)."""
import json
import os
import subprocess


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
