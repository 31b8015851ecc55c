//! OPA decision-log events (docs/RECORD.md §6.3, §10): from the gzip JSON array OPA uploads, a
//! plain array, NDJSON or console-logger lines.

use serde_json::{Map, Value};

use crate::decision::{Decision, DecisionKind};

use super::{Fail, ejson, empty, raw_source, rest, string_at};

/// An OPA decision-log event (docs/RECORD.md §6.3, §10).
pub(super) fn opa(text: &str, obj: &Map<String, Value>) -> Result<Decision, Fail> {
    let id =
        string_at(obj, "decision_id")?.ok_or(("/decision_id".to_owned(), "missing".to_owned()))?;
    let ts_text =
        string_at(obj, "timestamp")?.ok_or(("/timestamp".to_owned(), "missing".to_owned()))?;
    let ts_us = ejson::rfc3339_us(&ts_text).ok_or_else(|| {
        (
            "/timestamp".to_owned(),
            format!("{ts_text:?} is not an RFC 3339 time"),
        )
    })?;
    let kind_of = |s: &str| match s {
        "allow" | "approve" => Some(DecisionKind::Allow),
        "deny" | "block" => Some(DecisionKind::Deny),
        "ask" => Some(DecisionKind::Ask),
        "warn" => Some(DecisionKind::Warn),
        "escalate" => Some(DecisionKind::Escalate),
        "defer" => Some(DecisionKind::Defer),
        "info" => Some(DecisionKind::Info),
        "error" => Some(DecisionKind::Error),
        _ => None,
    };
    let (decision, native) = match (obj.get("error"), obj.get("result")) {
        (Some(e), _) if !e.is_null() => (
            DecisionKind::Error,
            Some(
                e.get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("error")
                    .to_owned(),
            ),
        ),
        (_, None) => (DecisionKind::Defer, None),
        (_, Some(Value::Bool(b))) => (
            if *b {
                DecisionKind::Allow
            } else {
                DecisionKind::Deny
            },
            Some(b.to_string()),
        ),
        (_, Some(Value::Object(r))) => {
            if let Some(b) = r
                .get("allowed")
                .or_else(|| r.get("allow"))
                .and_then(Value::as_bool)
            {
                (
                    if b {
                        DecisionKind::Allow
                    } else {
                        DecisionKind::Deny
                    },
                    Some(b.to_string()),
                )
            } else if let Some((k, s)) = r
                .get("decision")
                .and_then(Value::as_str)
                .and_then(|s| kind_of(s).map(|k| (k, s)))
            {
                (k, Some(s.to_owned()))
            } else {
                (DecisionKind::Info, Some("object".into()))
            }
        }
        (_, Some(Value::String(s))) => match kind_of(s) {
            Some(k) => (k, Some(s.clone())),
            None => (DecisionKind::Info, Some("string".into())),
        },
        (_, Some(other)) => (
            DecisionKind::Info,
            Some(
                match other {
                    Value::Array(_) => "array",
                    Value::Number(_) => "number",
                    _ => "null",
                }
                .into(),
            ),
        ),
    };
    let mut d = empty(id, ts_us, decision);
    d.decision_native = native;
    d.engine = Some("opa".into());
    d.event = Some("opa.decision".into());
    d.source_format = Some("opa.decision-log".into());
    d.service = string_at(obj, "path")?.map(|p| p.strip_prefix('/').unwrap_or(&p).to_owned());
    if let Some(Value::Object(bundles)) = obj.get("bundles") {
        let mut revs: Vec<String> = bundles
            .iter()
            .map(|(name, b)| {
                let rev = b
                    .get("revision")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("{name}@{rev}")
            })
            .collect();
        revs.sort();
        d.rule_set = (!revs.is_empty()).then(|| revs.join(","));
    } else if let Some(rev) = string_at(obj, "revision")? {
        d.rule_set = Some(rev);
    }
    let metrics = obj.get("metrics").and_then(Value::as_object);
    for name in ["timer_server_handler_ns", "timer_rego_query_eval_ns"] {
        if let Some(ns) = metrics.and_then(|m| m.get(name)).and_then(Value::as_u64) {
            d.overhead_us = Some(i64::try_from(ns.div_ceil(1000)).unwrap_or(i64::MAX));
            d.overhead_source = Some(format!("opa.{name}"));
            break;
        }
    }
    let hex = |k: &str, len: usize| -> Result<Option<String>, Fail> {
        Ok(string_at(obj, k)?
            .filter(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|s| s.to_ascii_lowercase()))
    };
    d.trace_id = hex("trace_id", 32)?;
    d.span_id = hex("span_id", 16)?;
    d.extra = rest(obj, &["decision_id", "timestamp", "trace_id", "span_id"]);
    d.source = Some(raw_source(text));
    Ok(d)
}
