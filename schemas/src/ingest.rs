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

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::decision::{Decision, DecisionKind};
use crate::ejson;

/// The largest unit (line or document) accepted.
pub const MAX_UNIT_BYTES: usize = 16 << 20;

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

/// How to ingest.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// The time (µs since the epoch) to stamp records whose source carries none.
    pub received_us: i64,
    /// Masking applied to every record before it is hashed (docs/RECORD.md §12).
    pub masking: Masking,
}

/// JSON pointers (RFC 6901) into the record, the same for every format: `erase` removes the
/// value, `mask` replaces it with [`MASK`]. When either applies, the exact source text is not
/// kept (it holds what was masked): `source.raw` is dropped and `source.masking` lists the
/// pointers applied.
#[derive(Debug, Clone, Default)]
pub struct Masking {
    /// Pointers whose values are removed.
    pub erase: Vec<String>,
    /// Pointers whose values are replaced with [`MASK`].
    pub mask: Vec<String>,
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

/// One unit of input: its exact text, where it starts, and its place in a container.
struct Unit<'a> {
    text: &'a str,
    line: usize,
    container: Option<Map<String, Value>>,
}

/// Line numbers of parts of `all` visited in order, counting only the text between them (a
/// whole-file rescan per element made large arrays quadratic).
struct Lines<'a> {
    all: &'a str,
    at: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(all: &'a str) -> Self {
        Self {
            all,
            at: 0,
            line: 1,
        }
    }

    fn of(&mut self, part: &str) -> usize {
        let offset = (part.as_ptr() as usize)
            .saturating_sub(self.all.as_ptr() as usize)
            .min(self.all.len());
        if offset < self.at {
            (self.at, self.line) = (0, 1);
        }
        self.line += self.all.as_bytes()[self.at..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.at = offset;
        self.line
    }
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
                    "{} bytes is more than the {} a unit may hold",
                    unit.text.len(),
                    MAX_UNIT_BYTES
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
                    out.rejected.push(reject(
                        unit.line,
                        "",
                        "unknown format: not a govtrail record, Claude Code hook payload, Tractatus audit log or rule set (force one with --format)",
                    ));
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

/// Splits the input: a JSON array → its elements; one JSON document (possibly pretty-printed)
/// → itself, or the elements of a Tractatus admin API envelope's `decisions`; else NDJSON
/// lines.
fn split<'a>(bytes: &'a [u8], rejected: &mut Vec<Rejected>) -> Option<Vec<Unit<'a>>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            // Reject the lines that are not UTF-8, keep the others.
            return Some(lines_lossy(bytes, rejected));
        }
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => {
                let (mut lines, hash) = (Lines::new(text), sha256_hex(text.as_bytes()));
                Some(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, raw)| Unit {
                            text: raw.get(),
                            line: lines.of(raw.get()),
                            container: Some(container(&hash, i, None)),
                        })
                        .collect(),
                )
            }
            Err(e) => {
                rejected.push(reject(
                    e.line().max(1),
                    "",
                    format!("not a JSON array: {e}"),
                ));
                None
            }
        };
    }
    if let Ok(doc) = serde_json::from_str::<&RawValue>(text) {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            success: bool,
            #[serde(borrow)]
            decisions: Vec<&'a RawValue>,
            #[serde(default)]
            error: Option<String>,
        }
        if let Ok(env) = serde_json::from_str::<Envelope<'_>>(text) {
            if !env.success {
                rejected.push(reject(
                    1,
                    "/success",
                    format!(
                        "the API envelope reports failure: {}",
                        env.error.unwrap_or_default()
                    ),
                ));
                return None;
            }
            let (mut lines, hash) = (Lines::new(text), sha256_hex(text.as_bytes()));
            return Some(
                env.decisions
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| Unit {
                        text: raw.get(),
                        line: lines.of(raw.get()),
                        container: Some(container(&hash, i, Some("tractatus-api"))),
                    })
                    .collect(),
            );
        }
        return Some(vec![Unit {
            text: doc.get(),
            line: Lines::new(text).of(doc.get()),
            container: None,
        }]);
    }
    Some(
        text.split('\n')
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| Unit {
                text: l.trim_end_matches('\r'),
                line: i + 1,
                container: None,
            })
            .collect(),
    )
}

fn lines_lossy<'a>(bytes: &'a [u8], rejected: &mut Vec<Rejected>) -> Vec<Unit<'a>> {
    let mut out = Vec::new();
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(l) {
            Ok(t) if !t.trim().is_empty() => out.push(Unit {
                text: t.trim_end_matches('\r'),
                line: i + 1,
                container: None,
            }),
            Ok(_) => {}
            Err(e) => rejected.push(reject(
                i + 1,
                "",
                format!("not UTF-8 (byte {} of the line)", e.valid_up_to()),
            )),
        }
    }
    out
}

fn container(file_sha256: &str, index: usize, kind: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sha256".into(), Value::String(file_sha256.to_owned()));
    m.insert("index".into(), Value::from(index));
    if let Some(k) = kind {
        m.insert("kind".into(), Value::String(k.into()));
    }
    m
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
    if !obj.is_empty() && obj.keys().all(|k| output_keys.contains(&k.as_str())) {
        return Some(Format::ClaudeCodeHook);
    }
    None
}

type Fail = (String, String);

fn masked(mut d: Decision, opts: &Options) -> Result<Decision, Fail> {
    if !opts.masking.is_empty() {
        opts.masking.apply(&mut d)?;
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

fn native(text: &str) -> Result<Decision, Fail> {
    let mut d = Decision::from_json(text.as_bytes()).map_err(|e| match e {
        crate::Error::Invalid { pointer, message } => (pointer, message),
        other => (String::new(), other.to_string()),
    })?;
    // A native line is its record; when it is not already canonical, keep its exact text so
    // that the source bytes stay recoverable (docs/RECORD.md §4d).
    if d.source.is_none() {
        let canonical = d
            .canonical_bytes()
            .map_err(|e| (String::new(), e.to_string()))?;
        if canonical != text.as_bytes() {
            d.source = Some(raw_source(text));
        }
    }
    Ok(d)
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

/// Fills a record from a Claude Code hook's stdin payload (documented fields; the rest go to
/// `extra`).
fn hook_input(d: &mut Decision, obj: &Map<String, Value>) -> Result<(), Fail> {
    d.platform = Some("claude-code".into());
    d.event = string_at(obj, "hook_event_name")?;
    d.session_id = string_at(obj, "session_id")?;
    d.tool_use_id = string_at(obj, "tool_use_id")?;
    d.prompt_id = string_at(obj, "prompt_id")?;
    d.agent_id = string_at(obj, "agent_id")?;
    d.tool_name = string_at(obj, "tool_name")?;
    d.tool_input = obj.get("tool_input").cloned();
    d.model = match obj.get("model") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let mapped = [
        "hook_event_name",
        "session_id",
        "tool_use_id",
        "prompt_id",
        "agent_id",
        "tool_name",
        "tool_input",
        "model",
    ];
    d.extra = rest(obj, &mapped);
    Ok(())
}

/// What a hook's output JSON decides (docs/RECORD.md §6.1 rows 4–10): decision, native value,
/// outcome and reason; `None` when it states no decision.
type Said = (DecisionKind, String, Option<&'static str>, Option<String>);

fn hook_output(obj: &Map<String, Value>, event: Option<&str>) -> Result<Option<Said>, Fail> {
    let specific = obj.get("hookSpecificOutput").and_then(Value::as_object);
    let reason = specific
        .and_then(|s| s.get("permissionDecisionReason"))
        .or_else(|| obj.get("reason"))
        .or_else(|| obj.get("stopReason"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if obj.get("continue") == Some(&Value::Bool(false)) {
        return Ok(Some((
            DecisionKind::Deny,
            "continue:false".into(),
            Some("stopped"),
            reason,
        )));
    }
    if let Some(p) = specific
        .and_then(|s| s.get("permissionDecision"))
        .and_then(Value::as_str)
    {
        let kind = match p {
            "allow" => DecisionKind::Allow,
            "deny" => DecisionKind::Deny,
            "ask" => DecisionKind::Ask,
            "defer" => DecisionKind::Defer,
            other => {
                return Err((
                    "/hookSpecificOutput/permissionDecision".into(),
                    format!("{other:?} is not allow, deny, ask or defer"),
                ));
            }
        };
        let outcome = match kind {
            DecisionKind::Deny => Some("blocked"),
            DecisionKind::Ask => Some("asked"),
            _ => None,
        };
        return Ok(Some((kind, p.to_owned(), outcome, reason)));
    }
    match (obj.get("decision").and_then(Value::as_str), event) {
        (None, _) => Ok(None),
        (Some("approve"), _) => Ok(Some((DecisionKind::Allow, "approve".into(), None, reason))),
        (Some("block"), Some("PostToolUse")) => Ok(Some((
            DecisionKind::Warn,
            "block".into(),
            Some("no_effect"),
            reason,
        ))),
        (Some("block"), Some("Notification" | "SessionStart" | "SessionEnd")) => Ok(Some((
            DecisionKind::Info,
            "block".into(),
            Some("no_effect"),
            reason,
        ))),
        (Some("block"), _) => Ok(Some((
            DecisionKind::Deny,
            "block".into(),
            Some("blocked"),
            reason,
        ))),
        (Some(other), _) => Err((
            "/decision".into(),
            format!("{other:?} is not approve or block"),
        )),
    }
}

/// The hook events of the Claude Code hooks reference; a payload naming another is rejected.
const HOOK_EVENTS: [&str; 12] = [
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "Notification",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "SessionStart",
    "SessionEnd",
];

/// Events whose hook can block by exit code 2 (the others cannot).
const BLOCKING_EVENTS: [&str; 5] = [
    "PreToolUse",
    "UserPromptSubmit",
    "PreCompact",
    "Stop",
    "SubagentStop",
];
/// Events where a silent hook lets the action go on (for PreToolUse, silence is not approval).
const SILENT_ALLOWS: [&str; 4] = ["UserPromptSubmit", "PreCompact", "Stop", "SubagentStop"];

/// Claude Code: a hook's stdin payload (`hook_event_name`) or its output JSON.
fn claude_code(text: &str, obj: &Map<String, Value>, opts: &Options) -> Result<Decision, Fail> {
    let mut source = raw_source(text);
    source.insert("ts_origin".into(), Value::String("received".into()));
    if let Some(event) = string_at(obj, "hook_event_name")? {
        if !HOOK_EVENTS.contains(&event.as_str()) {
            return Err((
                "/hook_event_name".into(),
                format!(
                    "unknown hook event {event:?}; known: {}",
                    HOOK_EVENTS.join(", ")
                ),
            ));
        }
        let id = match (
            string_at(obj, "session_id")?,
            string_at(obj, "tool_use_id")?,
        ) {
            (Some(s), Some(t)) => format!("cc:{s}:{t}:{event}"),
            _ => format!("cc:sha256:{}", &sha256_hex(text.as_bytes())[..32]),
        };
        // A payload alone carries no decision: the hook's output does (docs/RECORD.md §6.1).
        let mut d = empty(id, opts.received_us, DecisionKind::Info);
        hook_input(&mut d, obj)?;
        d.source_format = Some("claude-code.hook.input".into());
        d.source = Some(source);
        return Ok(d);
    }
    // A hook's output JSON: only its documented keys (a unit of another kind is rejected).
    let output_keys = [
        "continue",
        "stopReason",
        "suppressOutput",
        "systemMessage",
        "decision",
        "reason",
        "hookSpecificOutput",
    ];
    if let Some(k) = obj.keys().find(|k| !output_keys.contains(&k.as_str())) {
        return Err((
            format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            "neither a hook payload (no hook_event_name) nor a hook output (unknown key)".into(),
        ));
    }
    let event = obj
        .get("hookSpecificOutput")
        .and_then(|s| s.get("hookEventName"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (decision, native, outcome, reason) = hook_output(obj, event.as_deref())?.unwrap_or((
        DecisionKind::Info,
        "none".into(),
        None,
        None,
    ));
    // Identical outputs of distinct calls differ by when they were received.
    let id = format!(
        "cc-output:{}:sha256:{}",
        opts.received_us,
        &sha256_hex(text.as_bytes())[..32]
    );
    let mut d = empty(id, opts.received_us, decision);
    d.platform = Some("claude-code".into());
    d.event = event;
    d.source_format = Some("claude-code.hook.output".into());
    d.decision_native = Some(native);
    d.outcome = outcome.map(str::to_owned);
    d.reason = reason;
    d.extra = rest(obj, &[]);
    d.source = Some(source);
    Ok(d)
}

/// A `govtrail hook` envelope: the wrapped hook's stdin, stdout, stderr, exit status and wall
/// time (docs/RECORD.md §5, §6.1).
fn hook_envelope(text: &str, env: &Map<String, Value>) -> Result<Decision, Fail> {
    let id =
        string_at(env, "id")?.ok_or(("/id".to_owned(), "an envelope needs an id".to_owned()))?;
    let int = |k: &str| -> Result<Option<i64>, Fail> {
        match env.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| (format!("/{k}"), format!("{k} must be an integer"))),
        }
    };
    let started = int("started_us")?.ok_or(("/started_us".to_owned(), "missing".to_owned()))?;
    let stream = |k: &str| string_at(env, k);
    let stdin = stream("stdin")?.unwrap_or_default();
    let stdout = stream("stdout")?.unwrap_or_default();
    let stderr = stream("stderr")?.unwrap_or_default();
    let input: Option<Map<String, Value>> = serde_json::from_str(&stdin).ok();
    let event = input
        .as_ref()
        .and_then(|i| i.get("hook_event_name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let output: Option<Map<String, Value>> = serde_json::from_str(stdout.trim()).ok();
    let exit = int("exit_code")?;
    let signal = stream("signal")?;
    let ev = event.as_deref().unwrap_or_default();
    let err_text = (!stderr.trim().is_empty()).then(|| stderr.trim_end().to_owned());
    // The call happened and must be recorded: output Claude Code would refuse is the error row
    // (the action proceeds), never a rejected unit.
    let mut derived = Map::new();
    let said = match output.as_ref().map(|o| hook_output(o, event.as_deref())) {
        Some(Ok(s)) => s,
        Some(Err((p, m))) => {
            derived.insert(
                "output_error".into(),
                Value::String(format!("/stdout{p}: {m}")),
            );
            let n = exit.map_or("none".to_owned(), |n| n.to_string());
            Some((
                DecisionKind::Error,
                format!("invalid-output:exit:{n}"),
                Some("failed_open"),
                None,
            ))
        }
        None => None,
    };

    let interrupted = int("interrupted")?;
    let killed = matches!(env.get("killed"), Some(Value::Bool(true)));
    let (decision, native, outcome, reason) = if let Some(n) = interrupted {
        // govtrail was signalled (Claude Code's timeout): the hook rendered no decision. When
        // its process group outlived the grace period, govtrail killed it.
        (
            DecisionKind::Error,
            if killed {
                format!("interrupted:{n}:killed")
            } else {
                format!("interrupted:{n}")
            },
            Some("failed_open"),
            err_text,
        )
    } else if let Some(s) = &signal {
        (
            DecisionKind::Error,
            format!("signal:{s}"),
            Some("failed_open"),
            err_text,
        )
    } else if exit == Some(2) {
        if BLOCKING_EVENTS.contains(&ev) {
            (
                DecisionKind::Deny,
                "exit:2".into(),
                Some("blocked"),
                err_text,
            )
        } else if ev == "PostToolUse" {
            (
                DecisionKind::Warn,
                "exit:2".into(),
                Some("no_effect"),
                err_text,
            )
        } else {
            (
                DecisionKind::Info,
                "exit:2".into(),
                Some("no_effect"),
                err_text,
            )
        }
    } else if let Some(s) = said {
        s
    } else if exit != Some(0) {
        let n = exit.map_or("none".to_owned(), |n| n.to_string());
        (
            DecisionKind::Error,
            format!("exit:{n}"),
            Some("failed_open"),
            err_text,
        )
    } else if SILENT_ALLOWS.contains(&ev) {
        (DecisionKind::Allow, "none".into(), None, None)
    } else {
        (DecisionKind::Info, "none".into(), None, None)
    };
    // `govtrail decide` records its intended decision and reason (an empty answer is `defer`:
    // no rule covered the call); the answer it gave stays in `decision_native`.
    let decided = match env.get("decision") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(DecisionKind::from_name(s).ok_or_else(|| {
            (
                "/decision".to_owned(),
                format!("{s:?} is not a decision kind"),
            )
        })?),
        Some(_) => return Err(("/decision".into(), "decision must be a string".into())),
    };
    let (decision, reason) = match decided {
        Some(k) if interrupted.is_none() && signal.is_none() => {
            (k, string_at(env, "reason")?.or(reason))
        }
        _ => (decision, reason),
    };
    let mut d = empty(format!("hook:{id}"), started, decision);
    if let Some(i) = &input
        && let Err((p, m)) = hook_input(&mut d, i)
    {
        derived.insert(
            "input_error".into(),
            Value::String(format!("/stdin{p}: {m}")),
        );
    }
    d.platform = Some("claude-code".into());
    d.decision_native = Some(native);
    d.outcome = outcome.map(str::to_owned);
    d.reason = reason;
    d.engine = string_at(env, "engine")?;
    d.service = string_at(env, "service")?.or_else(|| d.engine.clone());
    d.overhead_us = int("wall_us")?;
    // `govtrail decide` names what it measured (its evaluation) and the bundle it decided with.
    d.overhead_source = match string_at(env, "overhead_source")? {
        Some(s) => d.overhead_us.map(|_| s),
        None => d.overhead_us.map(|_| "govtrail.hook.wall".to_owned()),
    };
    d.rule_set = string_at(env, "rule_set")?;
    d.rule_ids = strings_at(env, "rule_ids")?;
    d.source_format = Some("govtrail.hook".into());
    let mut source = raw_source(text);
    let mut hook = Map::new();
    for k in [
        "argv",
        "exit_code",
        "signal",
        "interrupted",
        "killed",
        "stdout",
        "stderr",
    ] {
        if let Some(v) = env.get(k).filter(|v| !v.is_null()) {
            hook.insert(k.into(), v.clone());
        }
    }
    source.insert("hook".into(), Value::Object(hook));
    // Numbers a record cannot hold exactly (beyond ±(2^53−1)) stay only in the raw text.
    if d.validate().is_err() {
        d.tool_input = None;
        d.extra = None;
        derived.insert(
            "dropped".into(),
            Value::String("tool_input and extra hold numbers beyond I-JSON; see raw".into()),
        );
    }
    if !derived.is_empty() {
        source.insert("derived".into(), Value::Object(derived));
    }
    d.source = Some(source);
    Ok(d)
}

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

fn attrs_of(v: &Value) -> Map<String, Value> {
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

fn otlp_hex(v: Option<&Value>, len: usize) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .filter(|s| s.bytes().any(|b| b != b'0'))
        .map(str::to_ascii_lowercase)
}

/// An OTLP/JSON export request: (decision records, log records or spans that are none).
fn otlp(text: &str) -> Result<(Vec<Decision>, usize), Fail> {
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
        for (ri, r) in list.iter().enumerate() {
            let resource: Value = r
                .resource
                .and_then(|x| serde_json::from_str(x.get()).ok())
                .unwrap_or(Value::Null);
            let service = attrs_of(&resource)
                .get("service.name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            for (si, scope) in r.scope_logs.iter().enumerate() {
                for (i, raw) in scope.log_records.iter().enumerate() {
                    let item: Value = serde_json::from_str(raw.get())
                        .map_err(|e| (format!("/{signal}/{ri}/{si}/{i}"), e.to_string()))?;
                    let made = if signal == "logs" {
                        otlp_log(&item, service.as_deref())
                    } else {
                        otlp_span(&item, service.as_deref())
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
                    ctx.insert("index".into(), Value::from(vec![ri, si, i]));
                    source.insert("context".into(), Value::Object(ctx));
                    d.source = Some(source);
                    out.push(d);
                }
            }
        }
    }
    Ok((out, skipped))
}

/// An OTLP protobuf export request: each log record or span that is a decision, keeping the
/// exact bytes of its sub-message (and its resource's and scope's) in base64.
fn otlp_proto(bytes: &[u8], traces: bool, opts: &Options, out: &mut Ingested) {
    use base64::Engine as _;
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    let items = match crate::otlp_proto::items(bytes, traces) {
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
    for it in items {
        let service = attrs_of(&it.resource)
            .get("service.name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let made = if traces {
            otlp_span(&it.value, service.as_deref())
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
fn otlp_span(item: &Value, service_name: Option<&str>) -> Option<Decision> {
    let attrs = attrs_of(item);
    if attrs.get("openinference.span.kind").and_then(Value::as_str) != Some("GUARDRAIL") {
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
    let (decision, native) = if error {
        (DecisionKind::Error, "status:ERROR")
    } else {
        (DecisionKind::Info, "status:OK")
    };
    let id = match (&trace, &span) {
        (Some(t), Some(s)) => format!("otel:{t}:{s}"),
        _ => format!(
            "otel:sha256:{}",
            &sha256_hex(item.to_string().as_bytes())[..32]
        ),
    };
    let mut d = empty(id, ts_us, decision);
    d.decision_native = Some(native.into());
    d.event = Some("openinference.GUARDRAIL".into());
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

/// An OPA decision-log event (docs/RECORD.md §6.3, §10).
fn opa(text: &str, obj: &Map<String, Value>) -> Result<Decision, Fail> {
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
fn tractatus(text: &str, raw: &Map<String, Value>, f: Format) -> Result<Decision, Fail> {
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

/// A Tractatus rule set, identified by the SHA-256 of its RFC 8785 canonical bytes.
fn rules(text: &str, obj: &Map<String, Value>, opts: &Options) -> Result<Decision, Fail> {
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
                mask: vec![]
            }
            .check()
            .is_err()
        );
        assert_eq!(out.records.len(), 2);
        assert_eq!((out.rejected[0].line, out.rejected.len()), (2, 1));
        assert!(out.rejected[0].message.contains("more than"));
        let bad_utf8 = b"{\"decision_id\":\"a\",\"ts_us\":1,\"decision\":\"allow\"}\n\xff\xfe\n";
        let out = ingest(bad_utf8, &Options::default());
        assert_eq!((out.records.len(), out.rejected[0].line), (1, 2));
    }
}
