#!/usr/bin/env python3
"""Checks a /metrics body (tests: cli/tests/it/serve.rs) with the Prometheus project's own
Python parsers (prometheus-client, PyPI): it parses as OpenMetrics text (the Content-Type the
server sends) and as the Prometheus text exposition format, and follows the naming conventions
(prometheus.io/docs/practices/naming): one application prefix, counters ending in _total, base
units (seconds, bytes) named as suffixes, build_info, bounded label values.

Usage: check_metrics.py FILE   (prints one JSON line: the families and their types; exit 1 with
the reasons otherwise)
"""
import json
import re
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus

text = open(sys.argv[1]).read()
problems = []
families = {f.name: f for f in openmetrics(text)}
# The 0.0.4 text format has no "# EOF" line and no "unit"; the same body parses once that goes.
plain = {f.name for f in prometheus(text.replace("# EOF\n", ""))}
if not plain:
    problems.append("nothing parsed as Prometheus text")
for name, f in families.items():
    if not name.startswith("govtrail_"):
        problems.append(f"{name}: not under the govtrail_ prefix")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        problems.append(f"{name}: not snake_case")
    for s in f.samples:
        if f.type == "counter" and not (s.name.endswith("_total") or s.name.endswith("_created")):
            problems.append(f"{s.name}: a counter sample not ending in _total")
        for k, v in s.labels.items():
            if re.search(r"[0-9a-f]{16,}|gvt_", v):
                problems.append(f"{s.name}{{{k}={v!r}}}: an unbounded label value")
    if f.type == "histogram" and not re.search(r"_(seconds|bytes)$", name):
        problems.append(f"{name}: a histogram without a base unit")
    if "milliseconds" in name or "_ms" in name:
        problems.append(f"{name}: not a base unit")
if "govtrail_build_info" not in families:
    problems.append("no govtrail_build_info")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(json.dumps({n: f.type for n, f in sorted(families.items())}))
