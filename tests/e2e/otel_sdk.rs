//! Real OpenTelemetry clients: the OpenTelemetry Python SDK's OTLP/HTTP protobuf exporters,
//! behind its batch processors, post spans and log records to a loopback capture server
//! (tests/otel/emit.py). The bodies they sent ingest without a format named: the guardrail
//! spans in each shape in use map to their verdicts and rule ids, and inherit the session, user
//! and tool-use ids of the agent and tool spans they ran under (docs/RECORD.md §11).

use govtrail_tests::{python, repo_root};
use schemas::ingest::{Format, Options, ingest};
use serde_json::Value;
use std::fmt::Write as _;
use std::process::Command;

#[test]
fn otel_sdk_exports_ingest_with_verdicts_rule_ids_and_inherited_ids() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("tests/otel/emit.py"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "emit.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What the exporters sent, as the capture server logged it: one protobuf body per signal.
    let captured = String::from_utf8(out.stdout).unwrap();
    let mut names: Vec<&str> = Vec::new();
    for line in captured.lines() {
        let (name, content_type) = line.split_once(' ').unwrap();
        assert_eq!(content_type, "application/x-protobuf", "{name}");
        names.push(name);
    }
    assert!(
        names.iter().any(|n| n.ends_with("-traces.bin.gz")),
        "the trace exporter sends gzip: {names:?}"
    );

    let mut text = String::new();
    let mut records = Vec::new();
    for name in &names {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        // No format named: detected from the bytes (gzip, then protobuf).
        let got = ingest(
            &bytes,
            &Options {
                received_us: 1,
                ..Options::default()
            },
        );
        assert!(got.rejected.is_empty(), "{name}: {:?}", got.rejected);
        let want = if name.contains("traces") {
            Format::OtlpProtoTraces
        } else {
            Format::OtlpProtoLogs
        };
        assert_eq!(got.format, Some(want), "{name}");
        writeln!(
            text,
            "{}: {} records, {} skipped",
            name.split_once('-').unwrap().1,
            got.records.len(),
            got.skipped
        )
        .unwrap();
        records.extend(got.records.into_iter().map(|(_, d)| d));
    }
    records.sort_by_key(|d| d.ts_us);
    for d in &records {
        let extra = d.extra.clone().unwrap_or_default();
        let inherited: Vec<String> = extra
            .get("inherited")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}<{}", v["span_id"].as_str().unwrap()))
            .collect();
        writeln!(
            text,
            "{} {} {:?} rules={:?} session={} user={} tool={}/{} reason={} inherited=[{}]",
            d.decision.as_str(),
            d.event.as_deref().unwrap_or("-"),
            d.decision_native.as_deref().unwrap_or("-"),
            d.rule_ids,
            d.session_id.as_deref().unwrap_or("-"),
            extra.get("user_id").and_then(Value::as_str).unwrap_or("-"),
            d.tool_name.as_deref().unwrap_or("-"),
            d.tool_use_id.as_deref().unwrap_or("-"),
            d.reason.as_deref().unwrap_or("-"),
            inherited.join(" "),
        )
        .unwrap();
        // The ancestors it inherited from are in its source, so a verifier of the record
        // holds what its ids came from.
        let ancestors = d.source.as_ref().unwrap()["context"]
            .get("ancestors")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        assert_eq!(
            ancestors > 0,
            !inherited.is_empty(),
            "{}: ancestors kept",
            d.decision_id
        );
    }
    // A span saying it blocked is never info.
    assert!(records.iter().all(|d| d.decision.as_str() != "info"));
    expect_test::expect_file![repo_root().join("tests/golden/otel-sdk.txt")].assert_eq(&text);
}
