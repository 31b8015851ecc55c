//! `govtrail hook` envelopes (`govtrail.hook`): one wrapped hook call from the spool, its
//! stdin, stdout, stderr, exit status and wall time (docs/RECORD.md §5, §6.1).

use serde_json::{Map, Value};

use crate::decision::{Decision, DecisionKind};
use crate::envelope::{HookEnvelope, HookStream};

use super::claude_code::{BLOCKING_EVENTS, SILENT_ALLOWS, hook_input, hook_output};
use super::{Fail, empty, raw_source};

/// A `govtrail hook` envelope: the wrapped hook's stdin, stdout, stderr, exit status and wall
/// time (docs/RECORD.md §5, §6.1).
pub(super) fn hook_envelope(text: &str, env: &Map<String, Value>) -> Result<Decision, Fail> {
    let e = HookEnvelope::from_map(env)?;
    let started = e.started_us;
    // A stream that is not UTF-8 was kept as base64; decoded, it is read as the hook saw it.
    let stream = |s: HookStream| -> Result<String, Fail> {
        let bytes = e.bytes(s)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let stdin = stream(HookStream::Stdin)?;
    let stdout = stream(HookStream::Stdout)?;
    let stderr = stream(HookStream::Stderr)?;
    let input: Option<Map<String, Value>> = serde_json::from_str(&stdin).ok();
    let event = input
        .as_ref()
        .and_then(|i| i.get("hook_event_name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let output: Option<Map<String, Value>> = serde_json::from_str(stdout.trim()).ok();
    let exit = e.exit_code;
    let signal = e.signal.clone();
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

    let interrupted = e.interrupted;
    let killed = e.killed;
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
    let decided = match &e.decision {
        None => None,
        Some(s) => Some(DecisionKind::from_name(s).ok_or_else(|| {
            (
                "/decision".to_owned(),
                format!("{s:?} is not a decision kind"),
            )
        })?),
    };
    let (decision, reason) = match decided {
        Some(k) if interrupted.is_none() && signal.is_none() => (k, e.reason.clone().or(reason)),
        _ => (decision, reason),
    };
    let mut d = empty(format!("hook:{}", e.id), started, decision);
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
    d.engine = e.engine.clone();
    d.service = e.service.clone().or_else(|| d.engine.clone());
    d.overhead_us = e.wall_us;
    // `govtrail decide` names what it measured (its evaluation) and the bundle it decided with.
    d.overhead_source = match e.overhead_source.clone() {
        Some(s) => d.overhead_us.map(|_| s),
        None => d.overhead_us.map(|_| "govtrail.hook.wall".to_owned()),
    };
    d.rule_set = e.rule_set.clone();
    d.rule_ids = e.rule_ids.clone().unwrap_or_default();
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
        "stdout_b64",
        "stderr",
        "stderr_b64",
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
