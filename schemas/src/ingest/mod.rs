//! Normalisers: decision records from the formats governance engines write (docs/RECORD.md).
//!
//! A file is split into units (NDJSON lines, the elements of a JSON array or of the Tractatus
//! admin API's `decisions`, or one whole document), its format is detected from the first unit
//! (or forced), and each unit becomes a [`Decision`] that keeps the exact source text in
//! `source.raw`. A bad unit is rejected with its line and JSON pointer; the others are kept.
//!
//! Formats done: native NDJSON, Claude Code hook payloads (stdin of every hook event, and the
//! hook's output JSON), `govtrail hook` envelopes (a wrapped hook's whole call), Tractatus `auditLogs` (admin API JSON, mongoexport Extended JSON v2
//! canonical and relaxed, `--jsonArray`, the admin API envelope), the legacy
//! `decisions-YYYY-MM-DD.jsonl`, Tractatus rule sets, and OPA decision logs (gzip or plain JSON
//! array, NDJSON, console lines), and OTLP/JSON logs and traces (Claude Code `tool_decision`
//! events, OpenInference guardrail spans). OTLP protobuf is not yet.
//!
//! The shared driver (this module: [`ingest`], [`Options`], [`Format`], [`Masking`], the output
//! types and the helpers every format uses) splits the input (`units`) and hands each unit to
//! one module per format: `native`, `claude_code` (hook payloads and outputs),
//! `hook_envelope` (`govtrail.hook`), `opa`, `otlp` (OTLP/JSON and the protobuf mapping, with
//! the wire reader in `otlp_proto`), `tractatus` (audit logs, admin API, mongoexport, legacy
//! JSONL; Extended JSON in `ejson`) and `tractatus_rules`.

mod claude_code;
pub(crate) mod ejson;
mod hook_envelope;
mod native;
mod opa;
mod otlp;
mod otlp_lineage;
mod otlp_proto;
mod secrets;
mod tractatus;
mod tractatus_rules;
mod units;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::decision::{Decision, DecisionKind};
use claude_code::claude_code;
use hook_envelope::hook_envelope;
use native::native;
use opa::opa;
use otlp::{otlp, otlp_proto};
use tractatus::tractatus;
use tractatus_rules::rules;

pub use secrets::{DEFAULT_PATTERNS as DEFAULT_SECRET_PATTERNS, Secrets};
use units::{Unit, split};

/// The largest unit (line or document) accepted: the record limit, 8 MiB (a unit's record holds
/// at least what the unit says; one that still comes out larger is refused by the ledger, and
/// counted as this unit's rejection).
pub const MAX_UNIT_BYTES: usize = crate::MAX_RECORD_BYTES;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// govtrail's own NDJSON records.
    Native,
    /// A Claude Code hook's stdin payload (any hook event) or its output JSON.
    ClaudeCodeHook,
    /// A `govtrail hook` envelope: one wrapped hook call, from the spool.
    GovtrailHook,
    /// OPA decision-log events: the gzip JSON array OPA uploads, a plain array, NDJSON, or
    /// console-logger lines.
    Opa,
    /// OTLP/JSON export requests (logs or traces), one per file or line: Claude Code's
    /// `tool_decision` log events and OpenInference `GUARDRAIL` spans become records.
    Otlp,
    /// An OTLP protobuf `ExportLogsServiceRequest` (binary: only by `--format`).
    OtlpProtoLogs,
    /// An OTLP protobuf `ExportTraceServiceRequest` (binary: only by `--format`).
    OtlpProtoTraces,
    /// Tractatus `auditLogs` documents: admin API JSON or mongoexport Extended JSON.
    Tractatus,
    /// Tractatus's legacy `.memory/audit/decisions-YYYY-MM-DD.jsonl`.
    TractatusLegacy,
    /// A Tractatus rule set: `instruction-history.json`, the generic instruction schema, or
    /// `sample-governance-rules.json`.
    TractatusRules,
}

impl Format {
    /// Every format, for `--format` help.
    pub const ALL: [Format; 10] = [
        Self::Native,
        Self::ClaudeCodeHook,
        Self::GovtrailHook,
        Self::Opa,
        Self::Otlp,
        Self::OtlpProtoLogs,
        Self::OtlpProtoTraces,
        Self::Tractatus,
        Self::TractatusLegacy,
        Self::TractatusRules,
    ];

    /// The name used by `--format` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::ClaudeCodeHook => "claude-code",
            Self::GovtrailHook => "govtrail-hook",
            Self::Opa => "opa",
            Self::Otlp => "otlp",
            Self::OtlpProtoLogs => "otlp-proto-logs",
            Self::OtlpProtoTraces => "otlp-proto-traces",
            Self::Tractatus => "tractatus",
            Self::TractatusLegacy => "tractatus-legacy",
            Self::TractatusRules => "tractatus-rules",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The rejection of a unit no format is detected for (a caller may offer to force one).
pub const UNKNOWN_FORMAT: &str = "unknown format: not a govtrail record, Claude Code hook payload, Tractatus audit log or rule set";

/// The rejection of binary input that is no format detected (a caller may offer to force one).
pub const UNKNOWN_BINARY: &str = "binary input that is neither gzip, JSON text nor an OTLP \
     protobuf export request (traces or logs)";

/// How to ingest.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// The time (µs since the epoch) to stamp records whose source carries none.
    pub received_us: i64,
    /// Masking applied to every record before it is hashed (docs/RECORD.md §12).
    pub masking: Masking,
    /// Also write `received_us` into every record as `source.received_us` (docs/RECORD.md §2):
    /// what a server does with what it receives, so that a record keeps the client's time
    /// (`ts_us`) and the receipt's apart.
    pub stamp_received: bool,
}

/// JSON pointers (RFC 6901) into the record, the same for every format: `erase` removes the
/// value, `mask` replaces it with [`MASK`]. When either applies, the exact source text is not
/// kept (it holds what was masked): `source.raw` is dropped and `source.masking` lists the
/// pointers applied. Then, for hook payloads, the secrets `secrets` finds are masked
/// (`secrets.rs`; on by default).
#[derive(Debug, Clone, Default)]
pub struct Masking {
    /// Pointers whose values are removed.
    pub erase: Vec<String>,
    /// Pointers whose values are replaced with [`MASK`].
    pub mask: Vec<String>,
    /// The secrets masked in hook payloads (the default patterns unless turned off).
    pub secrets: Secrets,
}

/// What a masked value becomes.
pub const MASK: &str = "**MASKED**";

impl Masking {
    /// Checks the pointers: RFC 6901 syntax, and never a required field.
    pub fn check(&self) -> Result<(), String> {
        for p in self.erase.iter().chain(&self.mask) {
            if !p.starts_with('/') {
                return Err(format!(
                    "{p:?} is not a JSON pointer (it must start with /)"
                ));
            }
            let first = p[1..].split('/').next().unwrap_or_default();
            if ["v", "decision_id", "ts_us", "decision"].contains(&first) || p == "/source" {
                return Err(format!("{p:?}: /{first} cannot be masked or erased"));
            }
            // A mask writes a string: only where the record may hold one.
            let whole = !p[1..].contains('/');
            if self.mask.contains(p)
                && ([
                    "overhead_us",
                    "rule_ids",
                    "rules_fired",
                    "metadata",
                    "extra",
                ]
                .contains(&first)
                    && whole)
            {
                return Err(format!("{p:?}: /{first} is not a string; erase it instead"));
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.erase.is_empty() && self.mask.is_empty()
    }

    /// Applies the pointers to `d`; the pointers that matched, as (erased, masked).
    fn apply(&self, d: &mut Decision) -> Result<(), Fail> {
        let mut v = serde_json::to_value(&*d).map_err(|e| (String::new(), e.to_string()))?;
        let (mut erased, mut masked) = (Vec::new(), Vec::new());
        for p in &self.erase {
            let (parent, last) = p.rsplit_once('/').unwrap_or(("", p));
            let key = last.replace("~1", "/").replace("~0", "~");
            let hit = match v.pointer_mut(parent) {
                Some(Value::Object(m)) => m.remove(&key).is_some(),
                Some(Value::Array(a)) => match key.parse::<usize>().ok().filter(|&i| i < a.len()) {
                    Some(i) => {
                        a.remove(i);
                        true
                    }
                    None => false,
                },
                _ => false,
            };
            if hit {
                erased.push(Value::String(p.clone()));
            }
        }
        for p in &self.mask {
            if let Some(x) = v.pointer_mut(p) {
                *x = Value::String(MASK.into());
                masked.push(Value::String(p.clone()));
            }
        }
        if erased.is_empty() && masked.is_empty() {
            return Ok(());
        }
        let mut out: Decision = serde_json::from_value(v)
            .map_err(|e| (String::new(), format!("after masking: {e}")))?;
        let source = out.source.get_or_insert_with(Map::new);
        source.remove("raw");
        source.remove("raw_b64");
        let mut m = Map::new();
        m.insert("erased".into(), Value::Array(erased));
        m.insert("masked".into(), Value::Array(masked));
        source.insert("masking".into(), Value::Object(m));
        *d = out;
        Ok(())
    }
}

/// A unit that could not become a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line of the unit's start.
    pub line: usize,
    /// JSON pointer into the unit ("" for the whole unit).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// What one input produced.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// The format used (detected or forced); `None` when nothing could be read.
    pub format: Option<Format>,
    /// The records, in source order, each with the line it came from.
    pub records: Vec<(usize, Decision)>,
    /// The units rejected.
    pub rejected: Vec<Rejected>,
    /// OTLP log records and spans that are not decisions (skipped, not rejected).
    pub skipped: usize,
}

fn reject(line: usize, pointer: &str, message: impl Into<String>) -> Rejected {
    Rejected {
        line,
        pointer: pointer.to_owned(),
        message: message.into(),
    }
}

/// The largest input accepted after gzip decompression.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Splits `bytes` into units and normalises each. Never panics; bad units are in `rejected`.
/// Gzip input (OPA's upload body) is decompressed first.
pub fn ingest(bytes: &[u8], opts: &Options) -> Ingested {
    let mut out = normalise_all(bytes, opts);
    if opts.stamp_received {
        for (_, d) in &mut out.records {
            d.source
                .get_or_insert_with(Map::new)
                .insert("received_us".into(), opts.received_us.into());
        }
    }
    out
}

fn normalise_all(bytes: &[u8], opts: &Options) -> Ingested {
    let mut out = Ingested::default();
    let inflated;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read as _;
        let mut buf = Vec::new();
        let read = flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut buf);
        match read {
            Ok(n) if n as u64 <= MAX_INPUT_BYTES => {
                inflated = buf;
                &inflated[..]
            }
            Ok(_) => {
                out.rejected
                    .push(reject(1, "", "gzip input inflates beyond 256 MiB"));
                return out;
            }
            Err(e) => {
                out.rejected
                    .push(reject(1, "", format!("not valid gzip: {e}")));
                return out;
            }
        }
    } else {
        bytes
    };
    if let Some(f @ (Format::OtlpProtoLogs | Format::OtlpProtoTraces)) = opts.format {
        out.format = Some(f);
        otlp_proto(bytes, f == Format::OtlpProtoTraces, opts, &mut out);
        return out;
    }
    // An OTLP protobuf export request (every byte parses as one, traces told from logs); other
    // input that does not begin as text does is one clear error, not one per "line".
    if opts.format.is_none() {
        if let Some(traces) = otlp_proto::detect(bytes) {
            let f = if traces {
                Format::OtlpProtoTraces
            } else {
                Format::OtlpProtoLogs
            };
            out.format = Some(f);
            otlp_proto(bytes, traces, opts, &mut out);
            return out;
        }
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        // Text begins with a printable character or a UTF-8 lead byte.
        if first.is_some_and(|&b| !(b.is_ascii_graphic() || (0xc2..=0xf4).contains(&b))) {
            out.rejected.push(reject(1, "", UNKNOWN_BINARY));
            return out;
        }
    }
    let units = match split(bytes, &mut out.rejected) {
        Some(u) => u,
        None => return out,
    };
    let mut format = opts.format;
    for unit in units {
        if unit.text.len() > MAX_UNIT_BYTES {
            out.rejected.push(reject(
                unit.line,
                "",
                format!(
                    "a unit of {} bytes; a unit or its record may hold {MAX_UNIT_BYTES} bytes (8 MiB)",
                    unit.text.len(),
                ),
            ));
            continue;
        }
        // Native records are parsed once, strictly, straight into the record.
        if format == Some(Format::Native) {
            match native(unit.text).and_then(|d| masked(d, opts)) {
                Ok(d) => out.records.push((unit.line, d)),
                Err((pointer, message)) => out.rejected.push(reject(unit.line, &pointer, message)),
            }
            continue;
        }
        let value: Value = match serde_json::from_str(unit.text) {
            Ok(v) => v,
            Err(e) => {
                out.rejected
                    .push(reject(unit.line, "", format!("not JSON: {e}")));
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            out.rejected
                .push(reject(unit.line, "", "not a JSON object"));
            continue;
        };
        let f = match format {
            Some(f) => f,
            None => match detect(obj) {
                Some(f) => {
                    format = Some(f);
                    f
                }
                None => {
                    out.rejected.push(reject(unit.line, "", UNKNOWN_FORMAT));
                    continue;
                }
            },
        };
        if f == Format::Otlp {
            match otlp(unit.text) {
                Ok((records, skipped)) => {
                    out.skipped += skipped;
                    for d in records {
                        match masked(d, opts).and_then(|d| {
                            d.validate()
                                .map(|()| d)
                                .map_err(|e| (String::new(), e.to_string()))
                        }) {
                            Ok(d) => out.records.push((unit.line, d)),
                            Err((pointer, message)) => {
                                out.rejected.push(reject(unit.line, &pointer, message));
                            }
                        }
                    }
                }
                Err((pointer, message)) => out.rejected.push(reject(unit.line, &pointer, message)),
            }
            continue;
        }
        match normalise(f, &unit, obj, opts).and_then(|d| masked(d, opts)) {
            Ok(d) => match d.validate() {
                Ok(()) => out.records.push((unit.line, d)),
                Err(e) => out.rejected.push(reject(unit.line, "", e.to_string())),
            },
            Err((pointer, message)) => out.rejected.push(reject(unit.line, &pointer, message)),
        }
    }
    out.format = format;
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The format of a unit, from its keys.
pub fn detect(obj: &Map<String, Value>) -> Option<Format> {
    let has = |k: &str| obj.contains_key(k);
    if has("decision_id") && has("ts_us") && has("decision") {
        return Some(Format::Native);
    }
    if has("govtrail_hook") {
        return Some(Format::GovtrailHook);
    }
    if has("resourceLogs") || has("resourceSpans") {
        return Some(Format::Otlp);
    }
    if has("decision_id") && (has("path") || has("query")) && has("timestamp") {
        return Some(Format::Opa);
    }
    if has("hook_event_name") || has("hookSpecificOutput") {
        return Some(Format::ClaudeCodeHook);
    }
    if has("sessionId") && has("action") {
        return Some(if has("_id") {
            Format::Tractatus
        } else {
            Format::TractatusLegacy
        });
    }
    let list_of = |k: &str, id: &str| {
        obj.get(k)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(|x| x.get(id).is_some()))
    };
    if list_of("instructions", "id") || list_of("rules", "rule_id") || list_of("examples", "id") {
        return Some(Format::TractatusRules);
    }
    let output_keys = [
        "continue",
        "stopReason",
        "suppressOutput",
        "systemMessage",
        "decision",
        "reason",
    ];
    // A hook output: only its keys, or one of those no other format has (then keys added
    // later are kept, not a reason to reject it).
    let distinctive = ["continue", "stopReason", "suppressOutput", "systemMessage"];
    if !obj.is_empty()
        && (obj.keys().all(|k| output_keys.contains(&k.as_str()))
            || distinctive.iter().any(|k| has(k)))
    {
        return Some(Format::ClaudeCodeHook);
    }
    None
}

type Fail = (String, String);

fn masked(mut d: Decision, opts: &Options) -> Result<Decision, Fail> {
    if !opts.masking.is_empty() {
        opts.masking.apply(&mut d)?;
    }
    // Hook payloads carry tool inputs verbatim: secrets in them are masked by default.
    let hook = d
        .source_format
        .as_deref()
        .is_some_and(|f| f.starts_with("claude-code.hook") || f == "govtrail.hook");
    if hook {
        opts.masking.secrets.apply(&mut d)?;
    }
    Ok(d)
}

fn normalise(
    f: Format,
    unit: &Unit<'_>,
    obj: &Map<String, Value>,
    opts: &Options,
) -> Result<Decision, Fail> {
    let mut d = match f {
        Format::Native => native(unit.text)?,
        Format::ClaudeCodeHook => claude_code(unit.text, obj, opts)?,
        Format::GovtrailHook => hook_envelope(unit.text, obj)?,
        Format::Opa => opa(unit.text, obj)?,
        Format::Otlp | Format::OtlpProtoLogs | Format::OtlpProtoTraces => {
            return Err((String::new(), "OTLP units yield several records".into()));
        }
        Format::Tractatus | Format::TractatusLegacy => tractatus(unit.text, obj, f)?,
        Format::TractatusRules => rules(unit.text, obj, opts)?,
    };
    if let Some(c) = &unit.container {
        d.source
            .get_or_insert_with(Map::new)
            .insert("container".into(), Value::Object(c.clone()));
    }
    Ok(d)
}

fn empty(id: String, ts_us: i64, decision: DecisionKind) -> Decision {
    Decision::new(id, ts_us, decision)
}

fn raw_source(text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("raw".into(), Value::String(text.to_owned()));
    m
}

fn string_at(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, Fail> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err((format!("/{key}"), format!("{key} must be a string"))),
    }
}

fn strings_at(obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, Fail> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| (format!("/{key}/{i}"), format!("{key} must hold strings")))
            })
            .collect(),
        Some(_) => Err((format!("/{key}"), format!("{key} must be an array"))),
    }
}

fn rest(obj: &Map<String, Value>, mapped: &[&str]) -> Option<Map<String, Value>> {
    let m: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !mapped.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!m.is_empty()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_units_are_rejected_with_line_and_pointer_and_the_rest_kept() {
        let input = concat!(
            r#"{"_id":"68fc3a10c1d2e3f4a5b6c701","sessionId":"s","action":"hook_denial","allowed":false,"timestamp":"2025-10-28T00:12:44.910Z"}"#,
            "\n",
            r#"{"_id":"68fc3a10c1d2e3f4a5b6c702","sessionId":"s","action":"x","allowed":"no","timestamp":"2025-10-28T00:12:44.910Z"}"#,
            "\n",
            r#"{"_id":"68fc3a10c1d2e3f4a5b6c703","sessionId":"s","action":"x","timestamp":"#,
            "\n",
            r#"{"_id":{"$oid":7},"sessionId":"s","action":"x","timestamp":"2025-10-28T00:12:44.910Z"}"#,
            "\n",
            r#"{"_id":"68fc3a10c1d2e3f4a5b6c705","sessionId":"s","action":"x","allowed":true,"timestamp":"2025-10-28T00:12:44.910Z"}"#,
            "\n"
        );
        let out = ingest(input.as_bytes(), &Options::default());
        assert_eq!(out.format, Some(Format::Tractatus));
        let lines: Vec<usize> = out.records.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 5]);
        assert_eq!(out.records[0].1.decision, DecisionKind::Deny);
        let rejected: Vec<(usize, &str)> = out
            .rejected
            .iter()
            .map(|r| (r.line, r.pointer.as_str()))
            .collect();
        assert_eq!(rejected, [(2, "/allowed"), (3, ""), (4, "/_id/$oid")]);
        // A line larger than MAX_UNIT_BYTES is rejected; the lines around it are kept.
        let good = r#"{"decision_id":"a","ts_us":1,"decision":"allow"}"#;
        let huge = format!(
            "{good}\n{{\"x\":\"{}\"}}\n{good}\n",
            "y".repeat(MAX_UNIT_BYTES)
        );
        let out = ingest(huge.as_bytes(), &Options::default());
        // Masking: the same record pointers for every format; the source text is dropped.
        let opts = Options {
            masking: Masking {
                erase: vec!["/extra/cwd".into()],
                mask: vec!["/tool_input/command".into(), "/nothing/here".into()],
                ..Masking::default()
            },
            ..Options::default()
        };
        let hook = r#"{"hook_event_name":"PreToolUse","session_id":"s","tool_use_id":"t","cwd":"/secret","tool_name":"Bash","tool_input":{"command":"export TOKEN=abc"}}"#;
        let d = &ingest(hook.as_bytes(), &opts).records[0].1;
        let text = String::from_utf8(d.canonical_bytes().unwrap()).unwrap();
        assert!(!text.contains("abc") && !text.contains("/secret"), "{text}");
        assert!(
            text.contains(MASK)
                && text.contains(
                    r#""masking":{"erased":["/extra/cwd"],"masked":["/tool_input/command"]}"#
                ),
            "{text}"
        );
        assert!(
            Masking {
                erase: vec!["/decision".into()],
                ..Masking::default()
            }
            .check()
            .is_err()
        );
        assert_eq!(out.records.len(), 2);
        assert_eq!((out.rejected[0].line, out.rejected.len()), (2, 1));
        assert!(out.rejected[0].message.contains("may hold"));
        let bad_utf8 = b"{\"decision_id\":\"a\",\"ts_us\":1,\"decision\":\"allow\"}\n\xff\xfe\n";
        let out = ingest(bad_utf8, &Options::default());
        assert_eq!((out.records.len(), out.rejected[0].line), (1, 2));
    }
}
