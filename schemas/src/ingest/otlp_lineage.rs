//! What a guardrail span inherits from its ancestors in the same export request
//! (docs/RECORD.md §11.3): the session, user and tool-use ids (and the tool's name) that an
//! instrumentation sets on the agent or tool span a guardrail runs under, not on the guardrail
//! span itself. A batch exporter sends a parent and the children that ended with it together.
//!
//! The ancestors a record inherited from are kept in its source (`context.ancestors`, each a
//! stub span: ids and the inheritable attributes only), so that the record re-normalises from
//! its own source to itself.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::otlp::{attrs_of, otlp_hex};

/// The ids a span inherits, each from the first key found, own attributes before the nearest
/// ancestor's: (record field, attribute keys).
pub(super) const INHERITED: [(&str, &[&str]); 4] = [
    (
        "session_id",
        &[
            "session.id",
            "gen_ai.conversation.id",
            "microsoft.session.id",
        ],
    ),
    ("user_id", &["user.id", "enduser.id", "gen_ai.user.id"]),
    (
        "tool_use_id",
        &["gen_ai.tool.call.id", "tool_call.id", "tool_use_id"],
    ),
    ("tool_name", &["gen_ai.tool.name", "tool.name", "tool_name"]),
];

/// Upper bound on the ancestors followed (a request can hold a parent cycle).
const MAX_DEPTH: usize = 64;

fn inheritable(key: &str) -> bool {
    INHERITED.iter().any(|(_, keys)| keys.contains(&key))
}

/// The spans of one export request, by (trace id, span id).
#[derive(Default)]
pub(super) struct Lineage {
    spans: HashMap<(String, String), Value>,
}

impl Lineage {
    /// Indexes `spans` (OTLP/JSON-shaped span objects) as stubs: ids and the inheritable
    /// attributes. A span without valid ids cannot be an ancestor and is left out.
    pub(super) fn new<'a>(spans: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut out = Self::default();
        for s in spans {
            let (Some(trace), Some(span)) = (
                otlp_hex(s.get("traceId"), 32),
                otlp_hex(s.get("spanId"), 16),
            ) else {
                continue;
            };
            let mut stub = Map::new();
            stub.insert("traceId".into(), Value::String(trace.clone()));
            stub.insert("spanId".into(), Value::String(span.clone()));
            if let Some(p) = otlp_hex(s.get("parentSpanId"), 16) {
                stub.insert("parentSpanId".into(), Value::String(p));
            }
            let kept: Vec<Value> = s
                .get("attributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|kv| {
                    kv.get("key")
                        .and_then(Value::as_str)
                        .is_some_and(inheritable)
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                stub.insert("attributes".into(), Value::Array(kept));
            }
            // The first of a repeated id wins, as for the attribute list's keys.
            out.spans
                .entry((trace, span))
                .or_insert(Value::Object(stub));
        }
        out
    }

    /// The ancestors of `span` present in the request, nearest first, as stubs.
    pub(super) fn ancestors(&self, span: &Value) -> Vec<Value> {
        let Some(trace) = otlp_hex(span.get("traceId"), 32) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        if let Some(own) = otlp_hex(span.get("spanId"), 16) {
            seen.insert(own);
        }
        let mut out = Vec::new();
        let mut parent = otlp_hex(span.get("parentSpanId"), 16);
        while let Some(p) = parent {
            if out.len() == MAX_DEPTH || !seen.insert(p.clone()) {
                break;
            }
            let Some(stub) = self.spans.get(&(trace.clone(), p)) else {
                break;
            };
            parent = otlp_hex(stub.get("parentSpanId"), 16);
            out.push(stub.clone());
        }
        out
    }
}

/// What `attrs` (a span's own attributes) and its `ancestors` (nearest first) give for each
/// inherited field: the value, and the span it came from when an ancestor gave it.
pub(super) fn resolve(
    attrs: &Map<String, Value>,
    ancestors: &[Value],
) -> Vec<(&'static str, String, Option<String>)> {
    let text = |m: &Map<String, Value>, keys: &[&str]| {
        keys.iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_owned))
    };
    let mut out = Vec::new();
    for (field, keys) in INHERITED {
        // A guardrail span's own `tool.name` is the guardrail's name (OpenAI Agents SDK
        // processors), not the tool it guards.
        let own: Vec<&str> = keys.iter().copied().filter(|k| *k != "tool.name").collect();
        if let Some(v) = text(attrs, &own) {
            out.push((field, v, None));
            continue;
        }
        for a in ancestors {
            if let Some(v) = text(&attrs_of(a), keys) {
                let from = a.get("spanId").and_then(Value::as_str).map(str::to_owned);
                out.push((field, v, from));
                break;
            }
        }
    }
    out
}
