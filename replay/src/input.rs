//! The input a recorded decision was taken on, rebuilt from its record (docs/REPLAY.md §3).
//!
//! Records are read through a borrowed view of the fields replay needs, and inputs are built
//! directly as regorus values: a replay reads every record once, and a full `serde_json::Value`
//! of each (with its escaped `source.raw`) would cost more than evaluating a small policy.

use std::borrow::Cow;

use regorus::Value as Rego;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A record's replay input, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayable {
    /// The input document and the recorded time, in ns since the epoch.
    Yes {
        /// What `input` is for the policy.
        input: Rego,
        /// What `time.now_ns()` returns.
        now_ns: i64,
    },
    /// Not a decision (a rule-set record): left out of the replay.
    NotADecision,
    /// A decision whose input the record does not hold.
    No(String),
}

/// The fields of a record (docs/RECORD.md) that replay reads.
#[derive(Debug, Default, Deserialize)]
pub struct RecordView<'a> {
    /// The decision id.
    #[serde(borrow, default)]
    pub decision_id: Option<Cow<'a, str>>,
    /// The session.
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
    /// The recorded decision.
    #[serde(borrow, default)]
    pub decision: Option<Cow<'a, str>>,
    /// The source format (`native` when absent).
    #[serde(borrow, default)]
    pub source_format: Option<Cow<'a, str>>,
    /// Time, µs since the epoch.
    #[serde(default)]
    pub ts_us: Option<i64>,
    /// Nanoseconds below the microsecond.
    #[serde(default)]
    pub ts_ns_rem: Option<i64>,
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    service: Option<&'a RawValue>,
    #[serde(borrow, default)]
    rule_ids: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    source: Option<SourceView<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct SourceView<'a> {
    /// Unescaped as it is read: one pass over the longest string of a hook record, where
    /// skipping it and unescaping it later would take two. `None` when it is not a string.
    #[serde(borrow, default, deserialize_with = "text")]
    raw: Option<Cow<'a, str>>,
}

/// A JSON string, borrowed when it has no escapes; `None` for any other JSON value.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(s)))
        }
        fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(s.to_owned())))
        }
        fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(s)))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(Text)
}

#[derive(Deserialize)]
struct EnvelopeView<'a> {
    #[serde(borrow, default)]
    stdin: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OpaEventView<'a> {
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

impl<'a> RecordView<'a> {
    /// Reads the view of a record's canonical JSON.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// Whether the record holds a bare hook payload: the input, without the decision taken.
    pub fn unrecorded(&self) -> bool {
        self.source_format.as_deref() == Some("claude-code.hook.input")
    }

    /// Rebuilds the record's input.
    pub fn input(&self) -> Replayable {
        let event = self.event.map(RawValue::get);
        if event == Some("\"rule_set\"") {
            return Replayable::NotADecision;
        }
        let Some(ts_us) = self.ts_us else {
            return Replayable::No("no ts_us".into());
        };
        let now_ns = ts_us
            .saturating_mul(1000)
            .saturating_add(self.ts_ns_rem.unwrap_or(0));
        // source.raw unescaped, for the formats whose input is in it.
        let raw = || -> Option<&str> { self.source.as_ref()?.raw.as_deref() };
        let format = self.source_format.as_deref().unwrap_or("native");
        let input = match format {
            f if f.starts_with("tractatus.rules") => return Replayable::NotADecision,
            f if f.starts_with("tractatus") => {
                let mut m = regorus::Value::new_object();
                if let Ok(o) = m.as_object_mut() {
                    o.insert(Rego::from("kind"), Rego::from("tractatus"));
                    for (to, from) in [
                        ("service", self.service),
                        ("action", self.event),
                        ("rules_checked", self.rule_ids),
                        ("metadata", self.metadata),
                    ] {
                        if let Some(v) = from.and_then(|r| parse(r.get()).ok()) {
                            o.insert(Rego::from(to), v);
                        }
                    }
                    if let Some(s) = &self.session_id {
                        o.insert(Rego::from("session_id"), Rego::from(s.as_ref()));
                    }
                }
                m
            }
            "govtrail.hook" => {
                let Some(env) =
                    raw().and_then(|r| serde_json::from_str::<EnvelopeView<'_>>(r).ok())
                else {
                    return Replayable::No("the hook envelope is not in source.raw".into());
                };
                match env.stdin.as_deref().map(claude_code) {
                    Some(Some(input)) => input,
                    _ => return Replayable::No("the hook's stdin is not a JSON object".into()),
                }
            }
            "claude-code.hook.input" => match raw().and_then(claude_code) {
                Some(input) => input,
                None => return Replayable::No("the hook payload is not in source.raw".into()),
            },
            "opa.decision-log" => match raw()
                .and_then(|r| serde_json::from_str::<OpaEventView<'_>>(r).ok())
                .and_then(|e| e.input)
                .and_then(|i| parse(i.get()).ok())
            {
                Some(input) => input,
                None => return Replayable::No("the OPA event has no input".into()),
            },
            "native" => match self.input.and_then(|i| parse(i.get()).ok()) {
                Some(input) => input,
                None => return Replayable::No("the record has no input".into()),
            },
            other => return Replayable::No(format!("{other} records hold no decision input")),
        };
        Replayable::Yes { input, now_ns }
    }
}

/// Rebuilds the input of a record from its canonical JSON bytes.
pub fn replay_input(record: &[u8]) -> Result<Replayable, String> {
    Ok(RecordView::parse(record)?.input())
}

/// JSON text as a regorus value: the same conversion `govtrail decide` applies to its stdin.
pub(crate) fn parse(json: &str) -> Result<Rego, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

/// A Claude Code hook payload (JSON text) as the input `govtrail decide` evaluates: the payload
/// object with `kind: "claude_code"`; `None` when it is not a JSON object.
pub fn claude_code(payload: &str) -> Option<Rego> {
    let mut v = parse(payload).ok()?;
    v.as_object_mut()
        .ok()?
        .insert(Rego::from("kind"), Rego::from("claude_code"));
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_raw_is_read_unescaped_and_any_other_value_leaves_no_input() {
        let payload = r#"{"tool_name":"Bash","tool_input":{"command":"echo \"hi\""}}"#;
        let envelope = serde_json::json!({"govtrail_hook": 1, "stdin": payload}).to_string();
        let record = |raw: serde_json::Value| {
            serde_json::json!({
                "decision_id": "d", "ts_us": 5, "decision": "allow",
                "source_format": "govtrail.hook", "source": {"raw": raw},
            })
            .to_string()
        };
        let got = replay_input(record(envelope.into()).as_bytes()).unwrap();
        let Replayable::Yes { input, now_ns } = got else {
            panic!("{got:?}")
        };
        assert_eq!(now_ns, 5000);
        assert_eq!(input, claude_code(payload).unwrap());
        for other in [
            serde_json::json!(5),
            serde_json::json!(null),
            serde_json::json!([1, {"a": "b"}]),
            serde_json::json!({"stdin": payload}),
        ] {
            assert!(
                matches!(
                    replay_input(record(other.clone()).as_bytes()),
                    Ok(Replayable::No(_))
                ),
                "{other}"
            );
        }
    }
}
