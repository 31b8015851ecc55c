//! OTLP logs and traces (docs/RECORD.md §6.4, §11): OTLP/JSON export requests, and OTLP
//! protobuf ones read into the same shape by `otlp_proto`. Claude Code `tool_decision` log
//! events and OpenInference `GUARDRAIL` spans become records; other log records and spans are
//! skipped.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::decision::{Decision, DecisionKind};

use super::otlp_lineage::{Lineage, resolve};
use super::{Fail, Ingested, Options, ejson, empty, masked, raw_source, reject, sha256_hex};

/// An OTLP AnyValue as plain JSON (docs/RECORD.md §11).
fn any_value(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = o.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = o.get("boolValue") {
        return b.clone();
    }
    if let Some(d) = o.get("doubleValue") {
        return d.clone();
    }
    if let Some(i) = o.get("intValue") {
        // 64-bit integers are decimal strings in OTLP/JSON; kept as integers when exact.
        let n = i
            .as_i64()
            .or_else(|| i.as_str().and_then(|s| s.parse().ok()));
        return match n {
            Some(n) if n.unsigned_abs() <= crate::MAX_SAFE_INTEGER => Value::from(n),
            _ => Value::String(i.as_str().map_or_else(|| i.to_string(), str::to_owned)),
        };
    }
    if let Some(a) = o
        .get("arrayValue")
        .and_then(|a| a.get("values"))
        .and_then(Value::as_array)
    {
        return Value::Array(a.iter().map(any_value).collect());
    }
    if let Some(kv) = o
        .get("kvlistValue")
        .and_then(|a| a.get("values"))
        .and_then(Value::as_array)
    {
        return Value::Object(attributes(kv));
    }
    if let Some(b) = o.get("bytesValue") {
        return b.clone();
    }
    Value::Null
}

/// OTLP attributes (`[{"key", "value": AnyValue}]`) as an object; the last of a repeated key
/// wins.
fn attributes(list: &[Value]) -> Map<String, Value> {
    let mut m = Map::new();
    for kv in list {
        if let Some(k) = kv.get("key").and_then(Value::as_str) {
            m.insert(k.to_owned(), kv.get("value").map_or(Value::Null, any_value));
        }
    }
    m
}

pub(super) fn attrs_of(v: &Value) -> Map<String, Value> {
    v.get("attributes")
        .and_then(Value::as_array)
        .map(|a| attributes(a))
        .unwrap_or_default()
}

/// Nanoseconds since the epoch (decimal string or number) as floor(µs).
fn unix_nano_us(v: Option<&Value>) -> Option<i64> {
    let ns: u64 = match v? {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    i64::try_from(ns / 1000).ok().filter(|&us| us > 0)
}

pub(super) fn otlp_hex(v: Option<&Value>, len: usize) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .filter(|s| s.bytes().any(|b| b != b'0'))
        .map(str::to_ascii_lowercase)
}

/// An OTLP/JSON export request: (decision records, log records or spans that are none).
pub(super) fn otlp(text: &str) -> Result<(Vec<Decision>, usize), Fail> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Request<'a> {
        #[serde(borrow, default)]
        resource_logs: Vec<Resource<'a>>,
        #[serde(borrow, default)]
        resource_spans: Vec<Resource<'a>>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Resource<'a> {
        #[serde(borrow, default)]
        resource: Option<&'a RawValue>,
        #[serde(borrow, default, alias = "scopeSpans")]
        scope_logs: Vec<Scope<'a>>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Scope<'a> {
        #[serde(borrow, default)]
        scope: Option<&'a RawValue>,
        #[serde(borrow, default, alias = "spans")]
        log_records: Vec<&'a RawValue>,
    }
    let req: Request<'_> = serde_json::from_str(text).map_err(|e| {
        (
            String::new(),
            format!("not an OTLP/JSON export request: {e}"),
        )
    })?;
    let (mut out, mut skipped) = (Vec::new(), 0);
    for (signal, list) in [
        ("logs", &req.resource_logs),
        ("traces", &req.resource_spans),
    ] {
        // Every item of the signal first: a span inherits from ancestors anywhere in the request.
        let mut items = Vec::new();
        for (ri, r) in list.iter().enumerate() {
            for (si, scope) in r.scope_logs.iter().enumerate() {
                for (i, raw) in scope.log_records.iter().enumerate() {
                    let item: Value = serde_json::from_str(raw.get())
                        .map_err(|e| (format!("/{signal}/{ri}/{si}/{i}"), e.to_string()))?;
                    items.push(([ri, si, i], *raw, item));
                }
            }
        }
        let lineage = if signal == "traces" {
            Lineage::new(items.iter().map(|(_, _, item)| item))
        } else {
            Lineage::default()
        };
        let services: Vec<Option<String>> = list
            .iter()
            .map(|r| {
                let resource: Value = r
                    .resource
                    .and_then(|x| serde_json::from_str(x.get()).ok())
                    .unwrap_or(Value::Null);
                attrs_of(&resource)
                    .get("service.name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        for ([ri, si, i], raw, item) in &items {
            let (r, scope) = (&list[*ri], &list[*ri].scope_logs[*si]);
            let service = services[*ri].as_deref();
            let mut ancestors = Vec::new();
            let made = if signal == "logs" {
                otlp_log(item, service)
            } else {
                otlp_span(item, service, &lineage, &mut ancestors)
            };
            let Some(mut d) = made else {
                skipped += 1;
                continue;
            };
            let mut source = raw_source(raw.get());
            let mut ctx = Map::new();
            for (k, x) in [("resource", r.resource), ("scope", scope.scope)] {
                if let Some(x) = x {
                    ctx.insert(k.into(), Value::String(x.get().to_owned()));
                }
            }
            ctx.insert("signal".into(), Value::String(signal.into()));
            ctx.insert("index".into(), Value::from(vec![*ri, *si, *i]));
            if !ancestors.is_empty() {
                ctx.insert("ancestors".into(), Value::Array(ancestors));
            }
            source.insert("context".into(), Value::Object(ctx));
            d.source = Some(source);
            out.push(d);
        }
    }
    Ok((out, skipped))
}

/// An OTLP protobuf export request: each log record or span that is a decision, keeping the
/// exact bytes of its sub-message (and its resource's and scope's) in base64.
pub(super) fn otlp_proto(bytes: &[u8], traces: bool, opts: &Options, out: &mut Ingested) {
    use base64::Engine as _;
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    let items = match super::otlp_proto::items(bytes, traces) {
        Ok(items) => items,
        Err(e) => {
            out.rejected.push(reject(
                1,
                "",
                format!("not an OTLP protobuf export request: {e}"),
            ));
            return;
        }
    };
    let lineage = if traces {
        Lineage::new(items.iter().map(|it| &it.value))
    } else {
        Lineage::default()
    };
    for it in items {
        let service = attrs_of(&it.resource)
            .get("service.name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut ancestors = Vec::new();
        let made = if traces {
            otlp_span(&it.value, service.as_deref(), &lineage, &mut ancestors)
        } else {
            otlp_log(&it.value, service.as_deref())
        };
        let Some(mut d) = made else {
            out.skipped += 1;
            continue;
        };
        d.source_format = Some(
            if traces {
                "otlp.proto.traces"
            } else {
                "otlp.proto.logs"
            }
            .into(),
        );
        let mut source = Map::new();
        source.insert("raw_b64".into(), b64(it.bytes));
        let mut ctx = Map::new();
        ctx.insert("resource_b64".into(), b64(it.resource_bytes));
        ctx.insert("scope_b64".into(), b64(it.scope_bytes));
        ctx.insert(
            "signal".into(),
            Value::String(if traces { "traces" } else { "logs" }.into()),
        );
        ctx.insert("index".into(), Value::from(it.index.to_vec()));
        if !ancestors.is_empty() {
            ctx.insert("ancestors".into(), Value::Array(ancestors));
        }
        source.insert("context".into(), Value::Object(ctx));
        d.source = Some(source);
        match masked(d, opts).and_then(|d| {
            d.validate()
                .map(|()| d)
                .map_err(|e| (String::new(), e.to_string()))
        }) {
            Ok(d) => out.records.push((1, d)),
            Err((pointer, message)) => out.rejected.push(reject(1, &pointer, message)),
        }
    }
}

/// A Claude Code `tool_decision` log record (docs/RECORD.md §6.4), or `None` for other logs.
fn otlp_log(item: &Value, service_name: Option<&str>) -> Option<Decision> {
    let attrs = attrs_of(item);
    let name = attrs
        .get("event.name")
        .and_then(Value::as_str)
        .or_else(|| {
            item.get("body")
                .and_then(|b| b.get("stringValue"))
                .and_then(Value::as_str)
        })?;
    if name != "tool_decision" && name != "claude_code.tool_decision" {
        return None;
    }
    let native = attrs.get("decision").and_then(Value::as_str)?.to_owned();
    let decision = match native.as_str() {
        "accept" => DecisionKind::Allow,
        "reject" => DecisionKind::Deny,
        _ => DecisionKind::Info,
    };
    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_owned);
    let ts_us = unix_nano_us(item.get("timeUnixNano"))
        .or_else(|| unix_nano_us(item.get("observedTimeUnixNano")))
        .or_else(|| {
            text("event.timestamp")
                .as_deref()
                .and_then(ejson::rfc3339_us)
        })?;
    let session = text("session.id");
    let seq = attrs.get("event.sequence").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let id = match (&session, &seq) {
        (Some(s), Some(q)) => format!("cc-otel:{s}:{q}"),
        _ => format!(
            "cc-otel:sha256:{}",
            &sha256_hex(item.to_string().as_bytes())[..32]
        ),
    };
    let mut d = empty(id, ts_us, decision);
    d.decision_native = Some(native);
    d.event = Some("claude_code.tool_decision".into());
    d.source_format = Some("otlp.json.logs".into());
    d.platform = service_name
        .map(str::to_owned)
        .or(Some("claude-code".into()));
    d.engine = Some("claude-code".into());
    d.service = text("source");
    d.session_id = session;
    d.prompt_id = text("prompt.id");
    d.tool_name = text("tool_name");
    d.tool_use_id = text("tool_use_id");
    d.outcome = Some(
        if decision == DecisionKind::Deny {
            "rejected"
        } else {
            "allowed"
        }
        .into(),
    );
    d.trace_id = otlp_hex(item.get("traceId"), 32);
    d.span_id = otlp_hex(item.get("spanId"), 16);
    d.metadata = Some(attrs);
    Some(d)
}

/// An OpenInference `GUARDRAIL` span (docs/RECORD.md §6.4), or `None` for other spans.
/// A guardrail span's verdict, in the shapes in use (docs/RECORD.md §11,
/// docs/research/otel-guardrail-shapes.md): the enforced action first, then the verdict, of
/// the OpenTelemetry GenAI proposal (`gen_ai.security.*`, `gen_ai.guardrail.*`) and the
/// Microsoft distro (`microsoft.security.*`); then OpenInference emitters' own attributes
/// (`guardrail.triggered`, guardrails-ai's `validation_passed` and validator outcome, a
/// textual `output.value`). `None` when the span states none.
fn guardrail_verdict(attrs: &Map<String, Value>) -> Option<(DecisionKind, String)> {
    let text = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    for key in [
        "gen_ai.guardrail.action.type",
        "gen_ai.security.action.type",
        "gen_ai.guardrail.verdict.type",
        "gen_ai.security.verdict.type",
        "gen_ai.security.decision.type",
        "microsoft.security.decision.type",
    ] {
        if let Some(v) = text(key) {
            let kind = match v.as_str() {
                "block" | "deny" => DecisionKind::Deny,
                "escalate" => DecisionKind::Ask,
                "warn" | "audit" | "modify" => DecisionKind::Warn,
                "allow" => DecisionKind::Allow,
                _ => continue,
            };
            return Some((kind, format!("{key}:{v}")));
        }
    }
    if let Some(t) = attrs.get("guardrail.triggered").and_then(Value::as_bool) {
        let kind = if t {
            DecisionKind::Deny
        } else {
            DecisionKind::Allow
        };
        return Some((kind, format!("guardrail.triggered:{t}")));
    }
    if let Some(p) = attrs.get("validation_passed").and_then(Value::as_bool) {
        let kind = if p {
            DecisionKind::Allow
        } else {
            DecisionKind::Deny
        };
        return Some((kind, format!("validation_passed:{p}")));
    }
    let on_fail = text("validator.on_fail").or_else(|| text("validator_on_fail"));
    let failed = |native: String| {
        // A failed validator blocks when its on-fail action stops the call.
        let blocks = on_fail
            .as_deref()
            .is_some_and(|a| matches!(a, "exception" | "refrain" | "filter"));
        let kind = if blocks {
            DecisionKind::Deny
        } else {
            DecisionKind::Warn
        };
        (kind, native)
    };
    if let Some(v) = text("validator.validate.output.outcome") {
        return match v.as_str() {
            "pass" => Some((DecisionKind::Allow, format!("outcome:{v}"))),
            "fail" => Some(failed(format!("outcome:{v}"))),
            _ => None,
        };
    }
    let output = text("output.value")?;
    let word = output.trim().trim_matches('"');
    match word {
        "blocked" | "block" | "deny" | "denied" | "guardrail_intervened" => {
            Some((DecisionKind::Deny, format!("output.value:{word}")))
        }
        "flagged" | "warn" => Some((DecisionKind::Warn, format!("output.value:{word}"))),
        "passed" | "pass" | "allowed" | "allow" | "none" => {
            Some((DecisionKind::Allow, format!("output.value:{word}")))
        }
        "fail" | "failed" => Some(failed(format!("output.value:{word}"))),
        _ if output.contains("\"action\":\"guardrail_intervened\"") => Some((
            DecisionKind::Deny,
            "output.value:guardrail_intervened".into(),
        )),
        _ => None,
    }
}

/// Whether a span is a guardrail's: OpenInference's kind, or the GenAI proposal's or the
/// Microsoft distro's operation and attributes.
fn is_guardrail(item: &Value, attrs: &Map<String, Value>) -> bool {
    let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
    attrs.get("openinference.span.kind").and_then(Value::as_str) == Some("GUARDRAIL")
        || attrs.get("gen_ai.operation.name").and_then(Value::as_str) == Some("apply_guardrail")
        || name.starts_with("apply_guardrail")
        || name.starts_with("run_guardrail")
        || name.starts_with("gen_ai.run_guardrail")
        || attrs.keys().any(|k| {
            k.starts_with("gen_ai.guardrail.")
                || k.starts_with("gen_ai.security.")
                || k.starts_with("microsoft.security.decision")
        })
}

/// A guardrail span, or `None` for other spans. `ancestors` receives the stubs of the
/// ancestors it inherited from (otlp_lineage.rs), for its source.
fn otlp_span(
    item: &Value,
    service_name: Option<&str>,
    lineage: &Lineage,
    ancestors: &mut Vec<Value>,
) -> Option<Decision> {
    let attrs = attrs_of(item);
    if !is_guardrail(item, &attrs) {
        return None;
    }
    let trace = otlp_hex(item.get("traceId"), 32);
    let span = otlp_hex(item.get("spanId"), 16);
    // A guardrail span is a decision even without ids or times (ids then come from its
    // content, the time from the Unix epoch: both stated in the record).
    let ts_us = unix_nano_us(item.get("endTimeUnixNano"))
        .or_else(|| unix_nano_us(item.get("startTimeUnixNano")))
        .unwrap_or(0);
    let status = item.get("status").and_then(|s| s.get("code"));
    let error = status.and_then(Value::as_i64) == Some(2)
        || status.and_then(Value::as_str) == Some("STATUS_CODE_ERROR");
    // A span saying what its guardrail decided is that decision; one saying nothing is its
    // status (an error, or info).
    let (decision, native) = match guardrail_verdict(&attrs) {
        Some(v) => v,
        None if error => (DecisionKind::Error, "status:ERROR".to_owned()),
        None => (DecisionKind::Info, "status:OK".to_owned()),
    };
    let id = match (&trace, &span) {
        (Some(t), Some(s)) => format!("otel:{t}:{s}"),
        _ => format!(
            "otel:sha256:{}",
            &sha256_hex(item.to_string().as_bytes())[..32]
        ),
    };
    let mut d = empty(id, ts_us, decision);
    d.decision_native = Some(native);
    d.event = Some(
        if attrs.get("openinference.span.kind").is_some() {
            "openinference.GUARDRAIL"
        } else {
            "gen_ai.guardrail"
        }
        .into(),
    );
    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_owned);
    // The guardrail is the rule; a policy rule id, when given, is one more.
    let guardrail = [
        "gen_ai.guardrail.component.name",
        "gen_ai.security.guardrail.name",
        "gen_ai.guardian.name",
        "microsoft.guardian.name",
        "guard.name",
        "validator.name",
        "validator_name",
        "tool.name",
    ]
    .iter()
    .find_map(|k| text(k))
    // An OpenInference guardrail is named by its span when no attribute names it.
    .or_else(|| {
        let oi = attrs.get("openinference.span.kind").is_some();
        oi.then(|| item.get("name").and_then(Value::as_str).map(str::to_owned))
            .flatten()
    });
    d.rule_ids = guardrail.into_iter().collect();
    d.rule_ids.extend(
        [
            "gen_ai.guardrail.security.policy.rule.id",
            "gen_ai.guardrail.policy.rule.id",
            "gen_ai.security.policy.rule.id",
        ]
        .iter()
        .find_map(|k| text(k)),
    );
    d.reason = [
        "gen_ai.guardrail.verdict.reason",
        "gen_ai.security.verdict.reason",
        "gen_ai.security.decision.reason",
        "microsoft.security.decision.reason",
    ]
    .iter()
    .find_map(|k| text(k));
    // Session, user and tool use: own attributes, else the nearest ancestor's.
    let chain = lineage.ancestors(item);
    let mut inherited = Map::new();
    let mut used = 0;
    for (field, value, from) in resolve(&attrs, &chain) {
        if let Some(span) = &from {
            let depth = chain
                .iter()
                .position(|a| a.get("spanId").and_then(Value::as_str) == Some(span.as_str()))
                .map_or(0, |p| p + 1);
            used = used.max(depth);
            let mut o = Map::new();
            o.insert("value".into(), Value::String(value.clone()));
            o.insert("span_id".into(), Value::String(span.clone()));
            inherited.insert(field.into(), Value::Object(o));
        }
        match field {
            "session_id" => d.session_id = Some(value),
            "tool_use_id" => d.tool_use_id = Some(value),
            "tool_name" => d.tool_name = Some(value),
            _ => {
                d.extra
                    .get_or_insert_with(Map::new)
                    .insert(field.into(), Value::String(value));
            }
        }
    }
    if !inherited.is_empty() {
        d.extra
            .get_or_insert_with(Map::new)
            .insert("inherited".into(), Value::Object(inherited));
    }
    // The source keeps the ancestors up to the farthest one used (the chain between is what
    // links it).
    ancestors.extend(chain.into_iter().take(used));
    d.source_format = Some("otlp.json.traces".into());
    d.platform = service_name.map(str::to_owned);
    d.service = item.get("name").and_then(Value::as_str).map(str::to_owned);
    d.trace_id = trace;
    d.span_id = span;
    if let (Some(s), Some(e)) = (
        unix_nano_us(item.get("startTimeUnixNano")),
        unix_nano_us(item.get("endTimeUnixNano")),
    ) && e >= s
    {
        d.overhead_us = Some(e - s);
        d.overhead_source = Some("otel.span.duration".into());
    }
    d.metadata = Some(attrs);
    Some(d)
}
