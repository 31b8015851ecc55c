//! Claude Code hooks: a hook's stdin payload (any hook event) or its output JSON
//! (docs/RECORD.md §6.1); the payload and output readers are shared with `hook_envelope`.

use serde_json::{Map, Value};

use crate::decision::{Decision, DecisionKind};

use super::{Fail, Options, empty, raw_source, rest, sha256_hex, string_at};

/// Fills a record from a Claude Code hook's stdin payload (documented fields; the rest go to
/// `extra`).
pub(super) fn hook_input(d: &mut Decision, obj: &Map<String, Value>) -> Result<(), Fail> {
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

pub(super) fn hook_output(
    obj: &Map<String, Value>,
    event: Option<&str>,
) -> Result<Option<Said>, Fail> {
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

/// Events whose hook can block by exit code 2 (the others cannot).
pub(super) const BLOCKING_EVENTS: [&str; 5] = [
    "PreToolUse",
    "UserPromptSubmit",
    "PreCompact",
    "Stop",
    "SubagentStop",
];
/// Events where a silent hook lets the action go on (for PreToolUse, silence is not approval).
pub(super) const SILENT_ALLOWS: [&str; 4] =
    ["UserPromptSubmit", "PreCompact", "Stop", "SubagentStop"];

/// Keys a logger adds to a saved payload for the time it saw it.
const LOGGED_TIME_KEYS: [&str; 4] = ["timestamp", "@timestamp", "time", "ts"];

/// The time a logger added to a bare payload: RFC 3339, or a number of seconds, milliseconds,
/// microseconds or nanoseconds since the epoch (told apart by magnitude).
fn logged_time(obj: &Map<String, Value>) -> Option<i64> {
    let v = LOGGED_TIME_KEYS.iter().find_map(|k| obj.get(*k))?;
    match v {
        Value::String(t) => super::ejson::rfc3339_us(t),
        Value::Number(n) => {
            let x = n.as_f64()?;
            let us = match x.abs() {
                a if a < 1e11 => x * 1e6,
                a if a < 1e14 => x * 1e3,
                a if a < 1e17 => x,
                _ => x / 1e3,
            };
            (us.is_finite() && us > 0.0 && us < 9.2e18).then_some(us as i64)
        }
        _ => None,
    }
}

/// Claude Code: a hook's stdin payload (`hook_event_name`) or its output JSON.
pub(super) fn claude_code(
    text: &str,
    obj: &Map<String, Value>,
    opts: &Options,
) -> Result<Decision, Fail> {
    let mut source = raw_source(text);
    // Claude Code sends no time; a logger that saved the payload may have added one.
    let ts_us = match logged_time(obj) {
        Some(t) => t,
        None => {
            source.insert("ts_origin".into(), Value::String("received".into()));
            opts.received_us
        }
    };
    // Any event is recorded, known or not: Claude Code adds events every few weeks, and every
    // payload carries the base fields (docs/RECORD.md §5; the events of the SDK version the
    // mapping was last checked against are in tests/fixtures/claude-code/sdk/events.json).
    if let Some(event) = string_at(obj, "hook_event_name")? {
        let id = match (
            string_at(obj, "session_id")?,
            string_at(obj, "tool_use_id")?,
        ) {
            (Some(s), Some(t)) => format!("cc:{s}:{t}:{event}"),
            _ => format!("cc:sha256:{}", &sha256_hex(text.as_bytes())[..32]),
        };
        // A payload alone carries no decision: the hook's output does (docs/RECORD.md §6.1).
        let mut d = empty(id, ts_us, DecisionKind::Info);
        hook_input(&mut d, obj)?;
        d.source_format = Some("claude-code.hook.input".into());
        d.source = Some(source);
        return Ok(d);
    }
    // A hook's output JSON: at least one of its documented keys; keys added later are kept in
    // `extra` (a unit with none of them is of another kind, and rejected).
    let output_keys = [
        "continue",
        "stopReason",
        "suppressOutput",
        "systemMessage",
        "decision",
        "reason",
        "hookSpecificOutput",
    ];
    if !obj.keys().any(|k| output_keys.contains(&k.as_str())) {
        return Err((
            String::new(),
            "neither a hook payload (no hook_event_name) nor a hook output (none of its keys)"
                .into(),
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
    // A bare output names no call: its content is its id, so identical outputs are one
    // decision (RECORD.md §6.1; `govtrail hook` envelopes keep each call apart).
    let id = format!("cc-output:sha256:{}", &sha256_hex(text.as_bytes())[..32]);
    let mut d = empty(id, ts_us, decision);
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
