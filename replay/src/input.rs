//! The input a recorded decision was taken on, rebuilt from its record (docs/REPLAY.md §3).

use serde_json::{Map, Value};

/// A record's replay input, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayable {
    /// The input document and the recorded time, in ns since the epoch.
    Yes {
        /// What `input` is for the policy.
        input: Value,
        /// What `time.now_ns()` returns.
        now_ns: i64,
    },
    /// Not a decision (a rule-set record): left out of the replay.
    NotADecision,
    /// A decision whose input the record does not hold.
    No(String),
}

/// Rebuilds the input of a record (its canonical JSON).
pub fn replay_input(record: &Value) -> Replayable {
    let get = |k: &str| record.get(k);
    let str_of = |k: &str| get(k).and_then(Value::as_str);
    if str_of("event") == Some("rule_set") {
        return Replayable::NotADecision;
    }
    let Some(ts_us) = get("ts_us").and_then(Value::as_i64) else {
        return Replayable::No("no ts_us".into());
    };
    let rem = get("ts_ns_rem").and_then(Value::as_i64).unwrap_or(0);
    let now_ns = ts_us.saturating_mul(1000).saturating_add(rem);
    let raw = || record.pointer("/source/raw").and_then(Value::as_str);
    let format = str_of("source_format").unwrap_or("native");
    let input = match format {
        f if f.starts_with("tractatus.rules") => return Replayable::NotADecision,
        f if f.starts_with("tractatus") => {
            let mut m = Map::new();
            m.insert("kind".into(), "tractatus".into());
            for (to, from) in [
                ("service", "service"),
                ("action", "event"),
                ("session_id", "session_id"),
                ("rules_checked", "rule_ids"),
                ("metadata", "metadata"),
            ] {
                if let Some(v) = get(from) {
                    m.insert(to.into(), v.clone());
                }
            }
            Value::Object(m)
        }
        "govtrail.hook" => {
            let Some(env) = raw().and_then(|r| serde_json::from_str::<Value>(r).ok()) else {
                return Replayable::No("the hook envelope is not in source.raw".into());
            };
            match env
                .get("stdin")
                .and_then(Value::as_str)
                .map(serde_json::from_str::<Value>)
            {
                Some(Ok(Value::Object(payload))) => claude_code(payload),
                _ => return Replayable::No("the hook's stdin is not a JSON object".into()),
            }
        }
        "claude-code.hook.input" => match raw().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(payload))) => claude_code(payload),
            _ => return Replayable::No("the hook payload is not in source.raw".into()),
        },
        "opa.decision-log" => match raw()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .and_then(|e| e.get("input").cloned())
        {
            Some(input) => input,
            None => return Replayable::No("the OPA event has no input".into()),
        },
        "native" => match get("input") {
            Some(input) => input.clone(),
            None => return Replayable::No("the record has no input".into()),
        },
        other => return Replayable::No(format!("{other} records hold no decision input")),
    };
    Replayable::Yes { input, now_ns }
}

fn claude_code(mut payload: Map<String, Value>) -> Value {
    payload.insert("kind".into(), "claude_code".into());
    Value::Object(payload)
}
