#!/usr/bin/env python3
"""Real OpenTelemetry clients posting to a loopback capture server (tests/e2e/otel_sdk.rs).

The OpenTelemetry Python SDK (opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http,
installed by scripts/test.sh) exports, through its OTLP/HTTP protobuf exporters and batch
processors:
  - traces: per session an agent span carrying the session and user ids, tool spans under it
    carrying the tool-call id and tool name, and guardrail spans under the tools in the three
    shapes in use (docs/research/otel-guardrail-shapes.md): OpenInference GUARDRAIL spans, the
    OpenTelemetry GenAI proposal's apply_guardrail spans (its first form, PR #3233, and a later
    revision), and the Microsoft distro's;
    gzip-compressed, as collectors are usually configured;
  - logs: Claude Code `tool_decision` log records, uncompressed.
The capture server answers 200 with an empty protobuf response and writes each request body as
it arrived to OUT_DIR/NNN-<signal>.bin (with .gz appended when the body is gzip), then this
script exits. Ids and times are fixed so the records are the same on every run.

Usage: emit.py OUT_DIR
       emit.py --endpoint URL --token TOKEN   (post to a govtrail server instead, and check that
                                               every export was answered 2xx)
"""
import http.server
import os
import sys
import threading

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Status, StatusCode, set_span_in_context

if sys.argv[1] == "--endpoint":
    ENDPOINT, TOKEN, OUT = sys.argv[2].rstrip("/"), sys.argv[4], None
else:
    ENDPOINT, TOKEN, OUT = None, None, sys.argv[1]
T0 = 1_765_000_000_000_000_000  # ns; 2025-12-06T05:46:40Z
captured = []
lock = threading.Lock()


class Capture(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        signal = self.path.rstrip("/").rsplit("/", 1)[-1]
        gz = self.headers.get("Content-Encoding", "") == "gzip"
        with lock:
            name = "%03d-%s.bin%s" % (len(captured), signal, ".gz" if gz else "")
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(body)
            captured.append((name, self.headers.get("Content-Type")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Counter(IdGenerator):
    """Deterministic ids: one trace per session, span ids counting up."""

    def __init__(self):
        self.span = 0x1000
        self.trace = 0xA0

    def generate_span_id(self):
        self.span += 1
        return self.span

    def generate_trace_id(self):
        self.trace += 1
        return (0x4BF92F3577B34DA6 << 64) | self.trace


if ENDPOINT is None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    HEADERS = {}
else:
    server = None
    base = ENDPOINT
    HEADERS = {"Authorization": "Bearer " + TOKEN}


class Checked:
    """Wraps an exporter to record each export's result (the SDK logs failures only)."""

    results = []

    def __init__(self, exporter):
        self.exporter = exporter

    def export(self, batch):
        r = self.exporter.export(batch)
        Checked.results.append(r)
        return r

    def __getattr__(self, name):
        return getattr(self.exporter, name)

# Fixed where the SDK would pick a new value per process (service.instance.id, the log records'
# observed time), so that a second run sends what a retrying exporter re-sends.
resource = Resource.create(
    {"service.name": "support-agent", "service.version": "3.2.0", "service.instance.id": "agent-1"}
)
tracer_provider = TracerProvider(resource=resource, id_generator=Counter())
tracer_provider.add_span_processor(
    BatchSpanProcessor(
        Checked(OTLPSpanExporter(endpoint=base + "/v1/traces", compression=Compression.Gzip, headers=HEADERS)),
        schedule_delay_millis=60_000,
    )
)
tracer = tracer_provider.get_tracer("govtrail.test.agent", "1.0")


def at(ms):
    return T0 + ms * 1_000_000


def guardrail(parent, shape, name, verdict, start, reason=None):
    """A guardrail span under `parent` in `shape`, with `verdict` in that shape's words."""
    ctx = set_span_in_context(parent)
    if shape == "openinference":
        attrs = {"openinference.span.kind": "GUARDRAIL", "output.value": verdict}
        span_name = name
    elif shape == "genai":  # the GenAI proposal, rev B
        attrs = {
            "gen_ai.operation.name": "apply_guardrail",
            "gen_ai.guardrail.component.name": name,
            "gen_ai.guardrail.verdict.type": verdict,
            "gen_ai.guardrail.action.type": {"deny": "block", "escalate": "escalate"}.get(
                verdict, verdict
            ),
            "gen_ai.guardrail.policy.rule.id": name.upper() + "-1",
        }
        if reason:
            attrs["gen_ai.guardrail.verdict.reason"] = reason
        span_name = "apply_guardrail " + name
    elif shape == "pr3233":  # the GenAI proposal's first form, semantic-conventions PR #3233
        attrs = {
            "gen_ai.operation.name": "apply_guardrail",
            "gen_ai.guardian.name": name,
            "gen_ai.security.decision.type": verdict,
            "gen_ai.security.target.type": "tool_call",
        }
        span_name = "apply_guardrail %s tool_call" % name
    else:  # the Microsoft OpenTelemetry distro (ApplyGuardrailScope)
        attrs = {
            "gen_ai.operation.name": "apply_guardrail",
            "microsoft.guardian.name": name,
            "microsoft.security.decision.type": verdict,
            "microsoft.security.target.type": "tool_call",
        }
        if reason:
            attrs["microsoft.security.decision.reason"] = reason
        span_name = "apply_guardrail %s tool_call" % name
    span = tracer.start_span(span_name, context=ctx, attributes=attrs, start_time=at(start))
    span.end(end_time=at(start + 3))


# (session, user, [(tool, call id, [(shape, guardrail, verdict, reason)])])
SESSIONS = [
    (
        "sess-oi-1",
        "alice",
        [
            ("Bash", "call_1", [("openinference", "secret-scanner", "BLOCKED", None)]),
            ("Read", "call_2", [("openinference", "pii-filter", "FLAGGED", None)]),
            ("Write", "call_3", [("openinference", "path-guard", "PASSED", None)]),
        ],
    ),
    (
        "sess-genai-2",
        "bob",
        [
            ("Bash", "call_4", [("genai", "shell-policy", "deny", "rm -rf outside the repo")]),
            ("WebFetch", "call_5", [("genai", "egress", "escalate", None)]),
            ("Edit", "call_6", [("genai", "style", "warn", None), ("genai", "lint", "allow", None)]),
        ],
    ),
    (
        "sess-ms-3",
        "carol",
        [
            ("Bash", "call_7", [("microsoft", "Azure Content Safety", "deny", "violence")]),
            ("Read", "call_8", [("microsoft", "Prompt Shields", "audit", None)]),
            ("Grep", "call_9", [("pr3233", "Model Armor", "warn", None)]),
        ],
    ),
]

for s, (session, user, tools) in enumerate(SESSIONS):
    t = s * 10_000
    agent = tracer.start_span(
        "invoke_agent support",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "support",
            "session.id" if s != 1 else "gen_ai.conversation.id": session,
            "user.id": user,
        },
        start_time=at(t),
    )
    for k, (tool, call, guards) in enumerate(tools):
        start = t + 100 + k * 1000
        tool_span = tracer.start_span(
            "execute_tool " + tool,
            context=set_span_in_context(agent),
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.call.id": call,
            },
            start_time=at(start),
        )
        for g, (shape, name, verdict, reason) in enumerate(guards):
            guardrail(tool_span, shape, name, verdict, start + 10 + g * 10, reason)
        blocked = any(v.lower() in ("blocked", "deny") for _, _, v, _ in guards)
        if blocked:
            tool_span.set_status(Status(StatusCode.ERROR, "blocked by a guardrail"))
        tool_span.end(end_time=at(start + 500))
    agent.end(end_time=at(t + 5000))
tracer_provider.force_flush()
tracer_provider.shutdown()

logger_provider = LoggerProvider(
    resource=Resource.create(
        {"service.name": "claude-code", "service.version": "2.1.3", "service.instance.id": "cc-1"}
    )
)
logger_provider.add_log_record_processor(
    BatchLogRecordProcessor(
        Checked(OTLPLogExporter(endpoint=base + "/v1/logs", compression=Compression.NoCompression, headers=HEADERS)),
        schedule_delay_millis=60_000,
    )
)
logger = logger_provider.get_logger("com.anthropic.claude_code.events", "2.1.3")
for seq, (tool, use, decision, source) in enumerate(
    [
        ("Bash", "toolu_01", "accept", "config"),
        ("Edit", "toolu_02", "reject", "user_reject"),
        ("Write", "toolu_03", "accept", "user_temporary"),
    ]
):
    logger.emit(
        timestamp=at(40_000 + seq * 1000),
        observed_timestamp=at(40_000 + seq * 1000 + 1),
        severity_number=SeverityNumber.INFO,
        body="claude_code.tool_decision",
        attributes={
            "event.name": "tool_decision",
            "event.sequence": seq + 1,
            "session.id": "cc-session-4",
            "tool_name": tool,
            "tool_use_id": use,
            "decision": decision,
            "source": source,
        },
    )
logger_provider.force_flush()
logger_provider.shutdown()
if server is None:
    names = [getattr(r, "name", str(r)) for r in Checked.results]
    print(" ".join(names))
    if len(names) < 2 or any(n != "SUCCESS" for n in names):
        sys.exit("exports not all taken: %r" % names)
    sys.exit(0)
server.shutdown()

for name, content_type in captured:
    print(name, content_type)
if not any("traces" in n for n, _ in captured) or not any("logs" in n for n, _ in captured):
    sys.exit("expected both a traces and a logs export, got %r" % captured)
