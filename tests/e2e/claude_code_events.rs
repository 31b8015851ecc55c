//! Every Claude Code hook event, as the pinned Agent SDK's type definitions list them
//! (tests/fixtures/claude-code/sdk/events.json, extracted by `extract.py` beside it), plus
//! event names no release has: each payload is detected, recorded (never rejected for being
//! new), round-trips from its source bytes, and its event, session, tool-use id and tool are
//! queryable.

use govtrail_tests::{repo_root, signer};
use schemas::ingest::{Format, Options, ingest};
use serde_json::{Map, Value, json};

/// Events no SDK release has, standing for the ones Claude Code adds next.
const NEW_EVENTS: [&str; 3] = ["PreDeploy", "ContextWindowFull", "ToolApprovalGranted"];

/// A value of a TypeScript field type, as the SDK writes it.
fn sample(field: &str, event: &str, ty: &str) -> Value {
    let ty = ty.trim();
    if let Some(lit) = ty.strip_prefix('\'') {
        return Value::String(lit.split('\'').next().unwrap_or_default().to_owned());
    }
    if ty.starts_with("string") {
        return Value::String(format!("{field}-{event}"));
    }
    if ty == "number" {
        return json!(7);
    }
    if ty == "boolean" {
        return json!(true);
    }
    if ty.ends_with("[]") {
        return json!([]);
    }
    json!({"k": "v"})
}

/// The payload of `event`: every base field, the event's own fields, and a tool use where the
/// event has one.
fn payload(n: usize, event: &str, base: &Map<String, Value>, own: &Map<String, Value>) -> Value {
    let mut p = Map::new();
    for (k, f) in base.iter().chain(own) {
        p.insert(k.clone(), sample(k, event, f["type"].as_str().unwrap()));
    }
    p.insert("session_id".into(), json!(format!("sdk-session-{}", n % 3)));
    p.insert("hook_event_name".into(), json!(event));
    if own.contains_key("tool_name") {
        p.insert("tool_name".into(), json!("Bash"));
        p.insert(
            "tool_input".into(),
            json!({"command": format!("echo {event}")}),
        );
    }
    if own.contains_key("tool_use_id") {
        p.insert("tool_use_id".into(), json!(format!("toolu_{event}")));
    }
    Value::Object(p)
}

#[test]
fn every_sdk_hook_event_and_new_ones_are_recorded_and_queryable() {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("tests/fixtures/claude-code/sdk/events.json")).unwrap(),
    )
    .unwrap();
    let base = doc["base"].as_object().unwrap();
    let mut events: Vec<(String, Map<String, Value>)> = doc["events"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(e, f)| (e.clone(), f.as_object().unwrap().clone()))
        .collect();
    assert!(events.len() >= 30, "{} events", events.len());
    events.extend(NEW_EVENTS.iter().map(|e| ((*e).to_owned(), Map::new())));
    let lines: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(n, (e, own))| payload(n, e, base, own).to_string())
        .collect();
    let out = ingest(
        lines.join("\n").as_bytes(),
        &Options {
            received_us: 1_765_000_000_000_000,
            ..Options::default()
        },
    );
    assert_eq!(out.format, Some(Format::ClaudeCodeHook));
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.records.len(), events.len());
    for ((line, d), (event, own)) in out.records.iter().zip(&events) {
        assert_eq!(d.event.as_deref(), Some(event.as_str()), "line {line}");
        assert_eq!(
            d.session_id.as_deref(),
            Some(format!("sdk-session-{}", (line - 1) % 3).as_str())
        );
        assert_eq!(
            d.tool_name.is_some(),
            own.contains_key("tool_name"),
            "{event}"
        );
        assert_eq!(
            d.tool_use_id.is_some(),
            own.contains_key("tool_use_id"),
            "{event}"
        );
        // The source bytes are the payload, and re-normalised they give the same record.
        let raw = d
            .source
            .as_ref()
            .and_then(|s| s.get("raw"))
            .and_then(Value::as_str);
        assert_eq!(raw, Some(lines[line - 1].as_str()), "{event}");
        crate::ingest::assert_round_trip(d, None, event);
    }

    // In a ledger, what queries read: the event, session, tool-use id and tool of each.
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = ledger::Ledger::create(tmp.path(), signer(), 1024).unwrap();
    let records: Vec<ledger::Record> = out
        .records
        .iter()
        .map(|(line, d)| ledger::Record::from_decision(d, &format_args!("line {line}")).unwrap())
        .collect();
    ledger.append_batch(&records).unwrap();
    drop(ledger);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let rows = rt.block_on(async {
        let trail = query::Trail::open(tmp.path()).await.unwrap();
        trail
            .sql(
                "SELECT json_str(record, '/event') AS event, session_id, \
                 json_str(record, '/tool_use_id') AS tool_use_id, tool_name \
                 FROM decisions ORDER BY idx",
            )
            .await
            .unwrap()
    });
    let text = query::output::to_json(&rows).unwrap();
    let got: Vec<Value> = serde_json::from_slice(&text).unwrap();
    assert_eq!(got.len(), events.len());
    for (n, (row, (event, own))) in got.iter().zip(&events).enumerate() {
        assert_eq!(row["event"], json!(event));
        assert_eq!(row["session_id"], json!(format!("sdk-session-{}", n % 3)));
        let tool_use = own
            .contains_key("tool_use_id")
            .then(|| format!("toolu_{event}"));
        assert_eq!(
            row.get("tool_use_id").and_then(Value::as_str),
            tool_use.as_deref(),
            "{event}"
        );
        let tool = own.contains_key("tool_name").then_some("Bash");
        assert_eq!(
            row.get("tool_name").and_then(Value::as_str),
            tool,
            "{event}"
        );
    }
}
