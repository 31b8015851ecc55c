//! Tractatus rule sets: `instruction-history.json`, the generic instruction schema and
//! `sample-governance-rules.json`, each one record named by its canonical bytes' SHA-256.

use serde_json::{Map, Value};

use crate::decision::{Decision, DecisionKind};

use super::{Fail, Options, ejson, empty, raw_source, rest, sha256_hex};

/// A Tractatus rule set, identified by the SHA-256 of its RFC 8785 canonical bytes.
pub(super) fn rules(
    text: &str,
    obj: &Map<String, Value>,
    opts: &Options,
) -> Result<Decision, Fail> {
    let mut canonical = Vec::new();
    crate::canonical::write_value(&mut canonical, &Value::Object(obj.clone()))
        .map_err(|e| (String::new(), e.to_string()))?;
    let id = format!("sha256:{}", sha256_hex(&canonical));
    let (list, key, kind) = if let Some(Value::Array(a)) = obj.get("instructions") {
        (a, "id", "instruction-history")
    } else if let Some(Value::Array(a)) = obj.get("rules") {
        (a, "rule_id", "sample-governance-rules")
    } else if let Some(Value::Array(a)) = obj.get("examples") {
        (a, "id", "instruction-schema")
    } else {
        return Err((
            String::new(),
            "a rule set needs instructions, rules or examples".into(),
        ));
    };
    let ids = list
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    (
                        format!(
                            "/{}/{i}/{key}",
                            if kind == "instruction-history" {
                                "instructions"
                            } else if kind == "sample-governance-rules" {
                                "rules"
                            } else {
                                "examples"
                            }
                        ),
                        format!("{key} must be a string"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let time = ["last_updated", "lastUpdated"]
        .iter()
        .find_map(|k| {
            obj.get(*k)
                .and_then(Value::as_str)
                .and_then(ejson::rfc3339_us)
        })
        .or_else(|| {
            obj.get("metadata")
                .and_then(|m| m.get("created"))
                .and_then(Value::as_str)
                .and_then(ejson::rfc3339_us)
        });
    let mut source = raw_source(text);
    let ts_us = time.unwrap_or_else(|| {
        source.insert("ts_origin".into(), Value::String("received".into()));
        opts.received_us
    });
    let mut d = empty(id.clone(), ts_us, DecisionKind::Info);
    d.engine = Some("tractatus".into());
    d.event = Some("rule_set".into());
    d.source_format = Some(format!("tractatus.rules.{kind}"));
    d.rule_set = Some(id);
    d.rule_ids = ids;
    d.metadata = rest(obj, &["instructions", "rules", "examples"]);
    d.source = Some(source);
    Ok(d)
}
