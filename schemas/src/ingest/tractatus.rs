//! Tractatus `auditLogs` records (docs/RECORD.md §6.2, §8): admin API JSON, mongoexport
//! Extended JSON v2 (canonical and relaxed) and the legacy `decisions-YYYY-MM-DD.jsonl`.

use serde_json::{Map, Value};

use crate::decision::{Decision, DecisionKind};

use super::{Fail, Format, ejson, empty, raw_source, rest, sha256_hex, string_at, strings_at};

/// The service that wrote a Tractatus audit record of `action`, for records from before
/// `service` was set (2025-10-24).
fn service_of(action: &str) -> Option<&'static str> {
    Some(match action {
        "boundary_enforcement" => "BoundaryEnforcer",
        "context_pressure_analysis" => "ContextPressureMonitor",
        "instruction_classification" => "InstructionPersistenceClassifier",
        "cross_reference_validation" => "CrossReferenceValidator",
        "metacognitive_verification" => "MetacognitiveVerifier",
        "hook_denial" => "PreToolUseHook",
        _ => return None,
    })
}

/// The intended decision of a Tractatus audit record (docs/RECORD.md §6.2): the native value,
/// its pointer, and the decision.
fn tractatus_decision(
    action: &str,
    metadata: Option<&Map<String, Value>>,
    allowed: Option<bool>,
) -> (Option<String>, &'static str, DecisionKind) {
    let meta = |k: &str| metadata.and_then(|m| m.get(k)).and_then(Value::as_str);
    let by_allowed = |allowed: Option<bool>| {
        if allowed == Some(false) {
            DecisionKind::Deny
        } else {
            DecisionKind::Allow
        }
    };
    let table: &[(&str, &[(&str, DecisionKind)])] = &[
        (
            "boundary_enforcement",
            &[
                ("NONE", DecisionKind::Allow),
                ("REVIEW_RECOMMENDED", DecisionKind::Warn),
                ("APPROVAL_REQUIRED", DecisionKind::Ask),
                ("MANDATORY", DecisionKind::Escalate),
            ],
        ),
        (
            "context_pressure_analysis",
            &[
                ("PROCEED", DecisionKind::Allow),
                ("INCREASE_VERIFICATION", DecisionKind::Warn),
                ("MANDATORY_VERIFICATION", DecisionKind::Warn),
                ("RECOMMEND_REFRESH", DecisionKind::Warn),
                ("REQUIRE_HUMAN_INTERVENTION", DecisionKind::Escalate),
            ],
        ),
        (
            "cross_reference_validation",
            &[
                ("APPROVED", DecisionKind::Allow),
                ("WARNING", DecisionKind::Warn),
                ("REJECTED", DecisionKind::Ask),
                ("ESCALATE", DecisionKind::Escalate),
            ],
        ),
        (
            "metacognitive_verification",
            &[
                ("PROCEED", DecisionKind::Allow),
                ("PROCEED_WITH_CAUTION", DecisionKind::Warn),
                ("REQUEST_CONFIRMATION", DecisionKind::Ask),
                ("REQUEST_CLARIFICATION", DecisionKind::Ask),
                ("REQUIRE_REVIEW", DecisionKind::Escalate),
                ("BLOCK", DecisionKind::Deny),
            ],
        ),
    ];
    let key = match action {
        "boundary_enforcement" => "requirementType",
        "context_pressure_analysis" => "action_required",
        "cross_reference_validation" => "validation_status",
        "metacognitive_verification" => "decision",
        "instruction_classification" => return (None, "", DecisionKind::Info),
        _ => {
            let native = allowed.map(|a| a.to_string());
            return (native, "/allowed", by_allowed(allowed));
        }
    };
    let pointer: &'static str = match key {
        "requirementType" => "/metadata/requirementType",
        "action_required" => "/metadata/action_required",
        "validation_status" => "/metadata/validation_status",
        _ => "/metadata/decision",
    };
    if let Some(native) = meta(key) {
        let found = table
            .iter()
            .find(|(a, _)| *a == action)
            .and_then(|(_, rows)| rows.iter().find(|(n, _)| *n == native));
        if let Some((_, kind)) = found {
            return (Some(native.to_owned()), pointer, *kind);
        }
    }
    // The second pointer of docs/RECORD.md §6.2.
    let fallback: Option<(&'static str, &str, DecisionKind)> = match action {
        "boundary_enforcement" => meta("enforcement_decision").and_then(|n| match n {
            "ALLOWED" => Some(("/metadata/enforcement_decision", n, DecisionKind::Allow)),
            "BLOCKED" => Some(("/metadata/enforcement_decision", n, DecisionKind::Deny)),
            _ => None,
        }),
        "context_pressure_analysis" => meta("pressure_level").and_then(|n| match n {
            "NORMAL" => Some(("/metadata/pressure_level", n, DecisionKind::Allow)),
            "ELEVATED" | "HIGH" | "CRITICAL" => {
                Some(("/metadata/pressure_level", n, DecisionKind::Warn))
            }
            "DANGEROUS" => Some(("/metadata/pressure_level", n, DecisionKind::Escalate)),
            _ => None,
        }),
        _ => None,
    };
    if let Some((ptr, native, kind)) = fallback {
        return (Some(native.to_owned()), ptr, kind);
    }
    // An unknown or missing native value: fall back on `allowed` (absent in legacy means true).
    (
        allowed.map(|a| a.to_string()),
        "/allowed",
        by_allowed(allowed),
    )
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A Tractatus audit record (admin API JSON, mongoexport Extended JSON, or legacy JSONL).
pub(super) fn tractatus(text: &str, raw: &Map<String, Value>, f: Format) -> Result<Decision, Fail> {
    let decoded = ejson::decode(raw)?;
    let Value::Object(obj) = decoded.value else {
        return Err((String::new(), "not an object".into()));
    };
    let action = string_at(&obj, "action")?.unwrap_or_default();
    let ts_text = string_at(&obj, "timestamp")?.ok_or_else(|| {
        (
            "/timestamp".to_owned(),
            "a Tractatus record needs a timestamp".to_owned(),
        )
    })?;
    let ts_us = ejson::rfc3339_us(&ts_text).ok_or_else(|| {
        (
            "/timestamp".to_owned(),
            format!("{ts_text:?} is not an RFC 3339 time"),
        )
    })?;
    let allowed = match obj.get("allowed") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(("/allowed".into(), "allowed must be true or false".into())),
    };
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(("/metadata".into(), "metadata must be an object".into())),
    };
    let (id, format_name) = match f {
        Format::TractatusLegacy => (
            format!("tractatus-legacy:{}", &sha256_hex(text.as_bytes())[..32]),
            "tractatus.legacy",
        ),
        _ => {
            let id = string_at(&obj, "_id")?.ok_or_else(|| {
                (
                    "/_id".to_owned(),
                    "a Tractatus audit record needs _id".to_owned(),
                )
            })?;
            let name = match (decoded.wrappers, decoded.canonical) {
                (true, true) => "tractatus.mongoexport.canonical",
                (true, false) => "tractatus.mongoexport.relaxed",
                _ => "tractatus.json",
            };
            (format!("tractatus:{id}"), name)
        }
    };
    let (native, pointer, decision) = tractatus_decision(&action, metadata.as_ref(), allowed);
    let mut d = empty(id, ts_us, decision);
    let mut source = raw_source(text);
    if !pointer.is_empty() {
        source.insert("native_ptr".into(), Value::String(pointer.into()));
    }
    d.decision_native = native;
    d.engine = Some("tractatus".into());
    d.event = Some(action.clone());
    d.source_format = Some(format_name.into());
    let mut derived = Map::new();
    d.service = match string_at(&obj, "service")? {
        Some(s) => Some(s),
        None => {
            let inferred = metadata
                .as_ref()
                .and_then(|m| m.get("service"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| service_of(&action).map(str::to_owned));
            if inferred.is_some() {
                derived.insert(
                    "service".into(),
                    Value::String("inferred_from_action".into()),
                );
            }
            inferred
        }
    };
    d.session_id = string_at(&obj, "sessionId")?;
    if d.session_id.as_deref().is_some_and(is_uuid) {
        d.platform = Some("claude-code".into());
    }
    d.rule_ids = strings_at(&obj, "rulesChecked")?;
    let mut reasons = Vec::new();
    if let Some(Value::Array(violations)) = obj.get("violations") {
        for v in violations {
            match v {
                Value::String(s) => reasons.push(s.clone()),
                Value::Object(o) => {
                    let rule = o.get("ruleId").and_then(Value::as_str);
                    let details = o.get("details").and_then(Value::as_str).unwrap_or_default();
                    if let Some(r) = rule {
                        d.rules_fired.push(r.to_owned());
                        reasons.push(format!("{r}: {details}"));
                    } else {
                        reasons.push(details.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    d.reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    if action == "hook_denial" {
        d.tool_name = metadata
            .as_ref()
            .and_then(|m| m.get("tool"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    if let Some(ms) = obj.get("durationMs").and_then(Value::as_f64) {
        d.overhead_us = Some((ms * 1000.0).round() as i64);
        d.overhead_source = Some("tractatus.durationMs".into());
    }
    d.metadata = metadata;
    d.extra = rest(
        &obj,
        &[
            "_id",
            "sessionId",
            "action",
            "rulesChecked",
            "metadata",
            "service",
            "timestamp",
        ],
    );
    if !derived.is_empty() {
        source.insert("derived".into(), Value::Object(derived));
    }
    d.source = Some(source);
    Ok(d)
}
