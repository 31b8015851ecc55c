//! `govtrail ingest`: every Tractatus and Claude Code fixture appends and verifies (with the
//! independent verifier too); bad units are rejected with file, line and pointer, the good
//! ones around them kept, and the exit code says so.

use std::fs;

use crate::{run, setup, text};

#[test]
fn fixtures_ingest_and_bad_units_are_reported_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tractatus");
    let mut args = vec![
        "ingest".to_owned(),
        ledger.display().to_string(),
        "--key".into(),
        key.display().to_string(),
        "--json".into(),
    ];
    for f in [
        "derived-from-code/auditLogs.derived.jsonl",
        "derived-from-code/auditLogs.mongoexport.derived.jsonl",
        "derived-from-code/decisions-2025-10-10.derived.jsonl",
        "derived-from-code/instruction-history.derived.json",
        "derived-from-code/pretooluse-input.derived.json",
        "derived-from-code/pretooluse-output-deny.derived.json",
        "sample-governance-rules.json",
        "schema.json",
    ] {
        args.push(root.join(f).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&args);
    // The mongoexport file holds two of the admin-API file's audit records: the same decision
    // ids with other bytes (their source text differs), so conflicts, each naming the index of
    // the record already appended (exit 5), never appended twice.
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["appended"], 13);
    assert_eq!(v["per_decision"]["deny"], 2);
    let conflicts: Vec<&str> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(conflicts.len(), 2, "{v}");
    assert!(
        conflicts
            .iter()
            .all(|m| m.contains("at index") && m.contains("conflict"))
    );

    // A file with a truncated line, a wrong type, a bad Extended JSON wrapper and bad UTF-8
    // between good lines.
    let bad = tmp.path().join("bad.jsonl");
    let mut bytes = Vec::new();
    for line in [
        r#"{"_id":{"$oid":"68fc3a10c1d2e3f4a5b6c7aa"},"sessionId":"s","action":"hook_denial","allowed":false,"timestamp":{"$date":"2025-10-28T00:12:44.910Z"}}"#,
        r#"{"_id":{"$oid":"68fc3a10c1d2e3f4a5b6c7ab"},"sessionId":"s","action":"x","allowed":"#,
        r#"{"_id":{"$oid":"68fc3a10c1d2e3f4a5b6c7ac"},"sessionId":"s","action":"x","rulesChecked":[1],"timestamp":{"$date":"2025-10-28T00:12:44.910Z"}}"#,
        r#"{"_id":{"$oid":12},"sessionId":"s","action":"x","timestamp":{"$date":"2025-10-28T00:12:44.910Z"}}"#,
    ] {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(b"{\"sessionId\":\"\xff\"}\n");
    bytes.extend_from_slice(br#"{"_id":{"$oid":"68fc3a10c1d2e3f4a5b6c7ad"},"sessionId":"s","action":"x","allowed":true,"timestamp":{"$date":"2025-10-28T00:12:45.000Z"}}"#);
    fs::write(&bad, bytes).unwrap();
    let o = run(&[
        "ingest",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    for want in [
        "bad.jsonl:2:",
        "bad.jsonl:3 at /rulesChecked/0",
        "bad.jsonl:4 at /_id/$oid",
        "bad.jsonl:5: not UTF-8",
    ] {
        assert!(t.contains(want), "want {want:?} in:\n{t}");
    }
    assert!(t.contains("appended 2 records"), "{t}");
    let (code, report) = crate::verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{report}");
    let o = run(&[
        "ingest",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--format",
        "cedar",
        bad.to_str().unwrap(),
    ]);
    crate::assert_input_error(&o, "unknown --format");
}

/// One limit, 8 MiB, the same in the error, the docs and the summary: a unit above it is one
/// rejection; a unit below it whose record comes out above it (a hook payload's record keeps
/// its text and its fields) is one rejection too, and the file's line never says otherwise;
/// a unit and record within it is appended.
#[test]
fn one_size_limit_and_the_summary_agrees_with_the_append() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let native = |id: &str, n: usize| {
        format!(
            r#"{{"decision_id":"{id}","ts_us":1,"decision":"allow","reason":"{}"}}"#,
            "x".repeat(n)
        )
    };
    let big = tmp.path().join("big.ndjson");
    fs::write(&big, native("ten-mib", 10 << 20) + "\n").unwrap();
    let hook = tmp.path().join("hook.json");
    // 5 MiB of command: the record holds it twice (source.raw and tool_input).
    let payload = format!(
        r#"{{"hook_event_name":"PreToolUse","session_id":"s","tool_use_id":"t","tool_name":"Bash","tool_input":{{"command":"{}"}}}}"#,
        "y".repeat(5 << 20)
    );
    fs::write(&hook, payload).unwrap();
    // Canonical, so its record is its own bytes (no `source.raw` beside them).
    let fits = tmp.path().join("fits.ndjson");
    let canonical = format!(
        r#"{{"decision":"allow","decision_id":"seven-mib","reason":"{}","ts_us":1,"v":1}}"#,
        "x".repeat(7 << 20)
    );
    fs::write(&fits, canonical + "\n").unwrap();
    let o = run(&[
        "ingest",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        big.to_str().unwrap(),
        hook.to_str().unwrap(),
        fits.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(
        t.contains("big.ndjson: unknown format (0 records, 1 rejected)"),
        "{t}"
    );
    assert!(
        t.contains("hook.json: claude-code (0 records, 1 rejected)"),
        "{t}"
    );
    assert!(
        t.contains("fits.ndjson: native (1 records, 0 rejected)"),
        "{t}"
    );
    assert!(t.contains("appended 1 records"), "{t}");
    assert!(t.contains("; 2 rejected"), "{t}");
    // The limit named in both errors is the documented one.
    assert_eq!(
        t.matches("may hold 8388608 bytes (8 MiB)").count(),
        2,
        "{t}"
    );
    let doc = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RECORD.md"),
    )
    .unwrap();
    assert!(doc.contains("8 MiB (8,388,608 bytes)"));
}
