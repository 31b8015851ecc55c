//! The decision record (format version 1) and its canonical bytes.
//!
//! A record is parsed strictly (unknown fields and wrong types are errors that name the field),
//! checked to hold only I-JSON integers, and serialised once to RFC 8785 canonical JSON. Those
//! bytes are what the ledger hashes and stores; the typed columns are derived from them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// The record format version this build writes and reads.
pub const RECORD_VERSION: u64 = 1;

/// The largest integer magnitude RFC 8785 (I-JSON, IEEE 754 doubles) represents exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The intended decision of a governance engine, normalised across engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// The action may run.
    Allow,
    /// The action is blocked.
    Deny,
    /// A human is asked to decide.
    Ask,
    /// The action runs, with a warning.
    Warn,
    /// The decision is passed to a higher authority.
    Escalate,
    /// The engine declined to decide.
    Defer,
    /// An informational record (no decision was taken).
    Info,
    /// The engine failed while deciding.
    Error,
}

impl DecisionKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::Allow,
        Self::Deny,
        Self::Ask,
        Self::Warn,
        Self::Escalate,
        Self::Defer,
        Self::Info,
        Self::Error,
    ];

    /// The kind whose [`as_str`](Self::as_str) is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The lower-case name used in records and typed columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Ask => "ask",
            Self::Warn => "warn",
            Self::Escalate => "escalate",
            Self::Defer => "defer",
            Self::Info => "info",
            Self::Error => "error",
        }
    }
}

/// The largest record, in canonical bytes: 8 MiB. A unit of input is at most as large
/// (`ingest::MAX_UNIT_BYTES`), since its record holds at least what it says.
pub const MAX_RECORD_BYTES: usize = 8 << 20;

/// One governance decision, as appended to a ledger.
///
/// Times and durations are integers (microseconds): nothing the ledger types or hashes as a
/// number is a float. Free-form JSON (`tool_input`, `metadata`) may hold any I-JSON value; its
/// numbers are written in RFC 8785 form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Record format version; absent in input means [`RECORD_VERSION`].
    #[serde(default = "default_version")]
    pub v: u64,
    /// Unique id of the decision, chosen by the source.
    pub decision_id: String,
    /// When the decision was taken, microseconds since the Unix epoch (UTC).
    pub ts_us: i64,
    /// The intended decision.
    pub decision: DecisionKind,
    /// The engine's own decision string, verbatim (e.g. `BLOCKED`, `REQUIRE_HUMAN_DECISION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_native: Option<String>,
    /// The agent platform (e.g. `claude-code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The governance engine (e.g. `tractatus`, `opa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The service inside the engine that decided (e.g. `BoundaryEnforcer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The agent session the decision belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The tool the agent asked to run (e.g. `Bash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// The tool's input, verbatim JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_input: Option<Value>,
    /// The input the policy saw, verbatim JSON (a native record's; OPA's `input`): replay
    /// evaluates a bundle with it (docs/REPLAY.md §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Why the engine decided so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ids of the rules that were checked or fired (e.g. `inst_016`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_ids: Vec<String>,
    /// The rule-set version or bundle id in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<String>,
    /// Governance overhead of this decision in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_us: Option<i64>,
    /// What the platform did in the end, when known (e.g. `blocked`, `overridden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The model acting in the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Anything else the source said, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// The source's own event name, verbatim (a hook event, a Tractatus `action`, `rule_set`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The normaliser that produced the record (docs/RECORD.md §3), e.g. `tractatus.mongoexport`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_format: Option<String>,
    /// The platform's prompt id (Claude Code `prompt_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    /// The tool call's id (Claude Code `tool_use_id`): the key that joins hook, telemetry and
    /// transcript records of one tool call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// The subagent's id, when a subagent acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// W3C trace id (32 lower-case hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// W3C span id (16 lower-case hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// What `overhead_us` measured (docs/RECORD.md §7), e.g. `govtrail.hook.wall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_source: Option<String>,
    /// Ids of the rules that fired (violations), when the source tells them apart from those
    /// checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_fired: Vec<String>,
    /// The source's other top-level fields not mapped to the core, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
    /// Where the record came from: `raw` (the exact source text), `container`, `derived`
    /// (which fields govtrail inferred, and how).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Map<String, Value>>,
}

fn default_version() -> u64 {
    RECORD_VERSION
}

impl Decision {
    /// A record with only the required fields.
    pub fn new(decision_id: String, ts_us: i64, decision: DecisionKind) -> Self {
        Self {
            v: RECORD_VERSION,
            decision_id,
            ts_us,
            decision,
            decision_native: None,
            platform: None,
            engine: None,
            service: None,
            session_id: None,
            tool_name: None,
            tool_input: None,
            input: None,
            reason: None,
            rule_ids: Vec::new(),
            rule_set: None,
            overhead_us: None,
            outcome: None,
            model: None,
            metadata: None,
            event: None,
            source_format: None,
            prompt_id: None,
            tool_use_id: None,
            agent_id: None,
            trace_id: None,
            span_id: None,
            overhead_source: None,
            rules_fired: Vec::new(),
            extra: None,
            source: None,
        }
    }

    /// Parses one JSON record strictly: unknown fields, wrong types, an unsupported version and
    /// integers outside ±(2^53-1) are errors naming the JSON pointer.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        // Fast path; on failure, parse again while tracking the path for the error message.
        if let Ok(decision) = serde_json::from_slice::<Decision>(bytes) {
            decision.validate()?;
            return Ok(decision);
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let decision: Decision =
            serde_path_to_error::deserialize(&mut de).map_err(|err| Error::Invalid {
                pointer: pointer_of(err.path()),
                message: strip_position(err.inner()),
            })?;
        de.end().map_err(|err| Error::Invalid {
            pointer: String::new(),
            message: err.to_string(),
        })?;
        decision.validate()?;
        Ok(decision)
    }

    /// Checks what serde cannot: the version and the I-JSON integer range.
    pub fn validate(&self) -> Result<()> {
        if self.v != RECORD_VERSION {
            return Err(Error::UnsupportedVersion {
                found: self.v,
                supported: RECORD_VERSION,
            });
        }
        check_safe_int("/ts_us", self.ts_us)?;
        if let Some(overhead) = self.overhead_us {
            check_safe_int("/overhead_us", overhead)?;
        }
        if let Some(input) = &self.tool_input {
            check_value("/tool_input", input)?;
        }
        if let Some(input) = &self.input {
            check_value("/input", input)?;
        }
        for (name, map) in [
            ("metadata", &self.metadata),
            ("extra", &self.extra),
            ("source", &self.source),
        ] {
            for (key, value) in map.iter().flatten() {
                check_value(&format!("/{name}/{}", escape_pointer(key)), value)?;
            }
        }
        Ok(())
    }

    /// The record's canonical bytes (RFC 8785 JSON canonicalisation scheme).
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        crate::canonical::write_decision(self, &mut out)?;
        Ok(out)
    }
}

/// The fields of a stored record that typed columns are derived from, borrowed from the
/// record bytes. The verifier parses each record into this view and compares.
#[derive(Debug, PartialEq, Deserialize)]
pub struct DecisionView<'a> {
    /// See [`Decision::v`].
    pub v: u64,
    /// See [`Decision::decision_id`].
    #[serde(borrow)]
    pub decision_id: Cow<'a, str>,
    /// See [`Decision::ts_us`].
    pub ts_us: i64,
    /// See [`Decision::decision`].
    pub decision: DecisionKind,
    /// See [`Decision::decision_native`].
    #[serde(borrow, default)]
    pub decision_native: Option<Cow<'a, str>>,
    /// See [`Decision::platform`].
    #[serde(borrow, default)]
    pub platform: Option<Cow<'a, str>>,
    /// See [`Decision::engine`].
    #[serde(borrow, default)]
    pub engine: Option<Cow<'a, str>>,
    /// See [`Decision::service`].
    #[serde(borrow, default)]
    pub service: Option<Cow<'a, str>>,
    /// See [`Decision::session_id`].
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
    /// See [`Decision::tool_name`].
    #[serde(borrow, default)]
    pub tool_name: Option<Cow<'a, str>>,
    /// See [`Decision::rule_ids`].
    #[serde(borrow, default)]
    pub rule_ids: Vec<Cow<'a, str>>,
    /// See [`Decision::rule_set`].
    #[serde(borrow, default)]
    pub rule_set: Option<Cow<'a, str>>,
    /// See [`Decision::overhead_us`].
    #[serde(default)]
    pub overhead_us: Option<i64>,
    /// See [`Decision::outcome`].
    #[serde(borrow, default)]
    pub outcome: Option<Cow<'a, str>>,
    /// See [`Decision::model`].
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
}

impl<'a> DecisionView<'a> {
    /// Parses stored record bytes into the view: a fast scan of the canonical form, or serde
    /// for anything else.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if let Some(view) = crate::view::scan(bytes) {
            return Ok(view);
        }
        Self::parse_any(bytes)
    }

    /// Parses stored record bytes into the view and says whether they are in RFC 8785 form
    /// (LEDGER-FORMAT.md §2): one strict scan for canonical records, serde and the full check
    /// for anything else.
    pub fn parse_checking_canonical(bytes: &'a [u8]) -> Result<(Self, bool)> {
        if let Some(view) = crate::view::scan_canonical(bytes) {
            return Ok((view, true));
        }
        Ok((Self::parse(bytes)?, crate::is_canonical(bytes)))
    }

    /// Parses any JSON record into the view (serde).
    pub fn parse_any(bytes: &'a [u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|err| Error::Invalid {
            pointer: String::new(),
            message: err.to_string(),
        })
    }
}

fn check_safe_int(pointer: &str, n: i64) -> Result<()> {
    if n.unsigned_abs() > MAX_SAFE_INTEGER {
        return Err(Error::UnsafeInteger {
            pointer: pointer.to_owned(),
            value: n.to_string(),
        });
    }
    Ok(())
}

fn check_value(pointer: &str, value: &Value) -> Result<()> {
    match value {
        Value::Number(n) => {
            if !crate::canonical::exact_integer(n) {
                return Err(Error::UnsafeInteger {
                    pointer: pointer.to_owned(),
                    value: n.to_string(),
                });
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_value(&format!("{pointer}/{i}"), item)?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                check_value(&format!("{pointer}/{}", escape_pointer(key)), item)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
    Ok(())
}

fn escape_pointer(key: &str) -> Cow<'_, str> {
    if key.contains(['~', '/']) {
        Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(key)
    }
}

pub(crate) fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&escape_pointer(key)),
            Segment::Enum { variant } => pointer.push_str(&escape_pointer(variant)),
            Segment::Unknown => {
                pointer.pop();
            }
        }
    }
    pointer
}

/// serde_json appends " at line L column C"; the caller reports the line itself.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &text[..at], err.column()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_are_sorted_and_minimal() {
        let line = br#"{ "ts_us": 5, "decision_id": "x", "decision": "allow",
            "metadata": {"b": 1.50, "a": [1e2, "\u00e9"]}, "rule_ids": [] }"#;
        let d = Decision::from_json(line).unwrap();
        let bytes = d.canonical_bytes().unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"decision":"allow","decision_id":"x","metadata":{"a":[100,"é"],"b":1.5},"ts_us":5,"v":1}"#
        );
        let again = Decision::from_json(&bytes).unwrap();
        assert_eq!(again.canonical_bytes().unwrap(), bytes);
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"decision_id":"x","ts_us":"soon","decision":"allow"}"#,
                "invalid record at /ts_us: invalid type: string \"soon\", expected i64 (column 33)",
            ),
            (
                br#"{"decision_id":"x","ts_us":1,"decision":"maybe"}"#,
                "invalid record at /decision: unknown variant `maybe`, expected one of `allow`, `deny`, `ask`, `warn`, `escalate`, `defer`, `info`, `error` (column 47)",
            ),
            (
                br#"{"decision_id":"x","ts_us":1,"decision":"allow","v":2}"#,
                "unsupported record version 2 at /v (this build reads version 1)",
            ),
            (
                br#"{"decision_id":"x","ts_us":1,"decision":"allow","metadata":{"a/b":[9007199254740993]}}"#,
                "integer 9007199254740993 at /metadata/a~1b/0 is outside ±(2^53-1), which canonical JSON (RFC 8785) cannot hold exactly",
            ),
            (
                br#"{"decision_id":"x","ts_us":1,"decision":"allow","colour":"red"}"#,
                "invalid record at /colour: unknown field `colour`, expected one of `v`, `decision_id`, `ts_us`, `decision`, `decision_native`, `platform`, `engine`, `service`, `session_id`, `tool_name`, `tool_input`, `input`, `reason`, `rule_ids`, `rule_set`, `overhead_us`, `outcome`, `model`, `metadata`, `event`, `source_format`, `prompt_id`, `tool_use_id`, `agent_id`, `trace_id`, `span_id`, `overhead_source`, `rules_fired`, `extra`, `source` (column 56)",
            ),
            (
                br#"{"decision_id":"x","ts_us":1,"#,
                "invalid record at the top level: EOF while parsing a value (column 29)",
            ),
        ];
        for (input, want) in cases {
            let got = Decision::from_json(input).unwrap_err().to_string();
            assert_eq!(&got, want, "input {}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn view_reads_what_the_record_says() {
        let line = br#"{"decision_id":"d\"1","ts_us":7,"decision":"deny","rule_ids":["inst_016"],"overhead_us":135000}"#;
        let bytes = Decision::from_json(line)
            .unwrap()
            .canonical_bytes()
            .unwrap();
        let view = DecisionView::parse(&bytes).unwrap();
        assert_eq!(view.decision_id, "d\"1");
        assert_eq!(view.decision, DecisionKind::Deny);
        assert_eq!(view.rule_ids, vec!["inst_016"]);
        assert_eq!(view.overhead_us, Some(135000));
    }
}
