//! Golden tests of the normalisers: every Tractatus fixture (real files and those derived from
//! the code, tests/fixtures/tractatus/PROVENANCE.md) ingests, and the records it yields are
//! pinned byte for byte in tests/golden/ (regenerate with `UPDATE_EXPECT=1`). Re-normalising a
//! record's `source.raw` yields the same record.

use govtrail_tests::repo_root;
use schemas::ingest::{Format, Options, ingest};

/// When the fixtures were "received", for sources that carry no time.
pub(crate) const RECEIVED_US: i64 = 1_764_000_000_000_000;

fn golden(fixture: &str, want_format: Format, want_records: usize) {
    golden_at("tractatus", fixture, want_format, want_records);
}

/// Re-normalises a record from its own source (its raw text, in its OTLP resource and scope)
/// and checks it comes out the same; container and context positions are carried over, as the
/// source alone does not hold them. Canonical native records are their own source.
pub(crate) fn assert_round_trip(d: &schemas::Decision, format: Option<Format>, what: &str) {
    let Some(raw) = d
        .source
        .as_ref()
        .and_then(|s| s.get("raw"))
        .and_then(|r| r.as_str())
    else {
        return;
    };
    let again = ingest(
        reconstruct(d, raw).as_bytes(),
        &Options {
            format,
            received_us: d.ts_us,
            ..Options::default()
        },
    );
    let mut again = again
        .records
        .into_iter()
        .map(|(_, r)| r)
        .find(|r| r.decision_id == d.decision_id)
        .expect("re-normalises");
    for key in ["container", "context"] {
        if let (Some(a), Some(c)) = (
            again.source.as_mut(),
            d.source.as_ref().and_then(|s| s.get(key)),
        ) {
            a.insert(key.into(), c.clone());
        }
    }
    assert_eq!(&again, d, "{what}: round trip");
}

#[test]
fn tractatus_audit_logs_admin_api_json() {
    golden(
        "derived-from-code/auditLogs.derived.jsonl",
        Format::Tractatus,
        6,
    );
}

#[test]
fn tractatus_audit_logs_mongoexport_extended_json() {
    golden(
        "derived-from-code/auditLogs.mongoexport.derived.jsonl",
        Format::Tractatus,
        2,
    );
}

#[test]
fn tractatus_legacy_decisions_jsonl() {
    golden(
        "derived-from-code/decisions-2025-10-10.derived.jsonl",
        Format::TractatusLegacy,
        2,
    );
}

#[test]
fn tractatus_rule_sets() {
    golden(
        "derived-from-code/instruction-history.derived.json",
        Format::TractatusRules,
        1,
    );
    golden("sample-governance-rules.json", Format::TractatusRules, 1);
    golden("schema.json", Format::TractatusRules, 1);
}

#[test]
fn claude_code_hook_payload_and_output() {
    golden(
        "derived-from-code/pretooluse-input.derived.json",
        Format::ClaudeCodeHook,
        1,
    );
    golden(
        "derived-from-code/pretooluse-output-deny.derived.json",
        Format::ClaudeCodeHook,
        1,
    );
}

/// Records with the new fields (source, extra, event, …) verify with both verifiers: the typed
/// columns are unchanged and untyped keys are ignored, as LEDGER-FORMAT.md §7 says.
#[test]
fn normalised_records_verify_with_both_verifiers() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = govtrail_tests::signer();
    let vkey = signer.verifier();
    let mut ledger = ledger::Ledger::create(tmp.path(), signer, 5).unwrap();
    for f in [
        "derived-from-code/auditLogs.mongoexport.derived.jsonl",
        "derived-from-code/auditLogs.derived.jsonl",
        "derived-from-code/decisions-2025-10-10.derived.jsonl",
        "derived-from-code/pretooluse-input.derived.json",
        "sample-governance-rules.json",
    ] {
        let bytes = std::fs::read(repo_root().join("tests/fixtures/tractatus").join(f)).unwrap();
        let out = ingest(
            &bytes,
            &Options {
                format: None,
                received_us: RECEIVED_US,
                ..Options::default()
            },
        );
        let recs: Vec<ledger::Record> = out
            .records
            .iter()
            .map(|(l, d)| ledger::Record::from_decision(d, &format_args!("{f}:{l}")).unwrap())
            .collect();
        ledger.append_batch(&recs).unwrap();
    }
    drop(ledger);
    let want = ("ok".to_owned(), None, None, 12);
    assert_eq!(
        govtrail_tests::rust_verdict(tmp.path(), std::slice::from_ref(&vkey), &[]),
        want
    );
    assert_eq!(
        govtrail_tests::python_verdict(tmp.path(), &[vkey], &[]),
        want
    );
}

fn golden_at(dir: &str, fixture: &str, want_format: Format, want_records: usize) {
    let path = repo_root().join("tests/fixtures").join(dir).join(fixture);
    let bytes = std::fs::read(&path).unwrap();
    let out = ingest(
        &bytes,
        &Options {
            format: None,
            received_us: RECEIVED_US,
            ..Options::default()
        },
    );
    assert!(out.rejected.is_empty(), "{fixture}: {:?}", out.rejected);
    assert_eq!(
        (out.format, out.records.len()),
        (Some(want_format), want_records),
        "{fixture}"
    );
    let mut text = String::new();
    for (_, d) in &out.records {
        text.push_str(std::str::from_utf8(&d.canonical_bytes().unwrap()).unwrap());
        text.push('\n');
        assert_round_trip(d, Some(want_format), fixture);
    }
    let name = fixture.rsplit('/').next().unwrap_or(fixture);
    expect_test::expect_file![repo_root().join(format!("tests/golden/{name}.ndjson"))]
        .assert_eq(&text);
}

/// Claude Code: the stdin payload of every hook event, and hook outputs of each kind.
#[test]
fn claude_code_every_hook_event_and_output() {
    golden_at(
        "claude-code",
        "hook-events.derived.ndjson",
        Format::ClaudeCodeHook,
        9,
    );
    golden_at(
        "claude-code",
        "hook-outputs.derived.ndjson",
        Format::ClaudeCodeHook,
        4,
    );
}

/// OTLP/JSON: Claude Code `tool_decision` log events and OpenInference guardrail spans become
/// records; other log records and spans are skipped, not rejected.
#[test]
fn otlp_json_logs_and_traces() {
    golden_at("otlp", "claude-code-logs.derived.json", Format::Otlp, 2);
    golden_at("otlp", "guardrail-spans.derived.ndjson", Format::Otlp, 2);
    let bytes =
        std::fs::read(repo_root().join("tests/fixtures/otlp/claude-code-logs.derived.json"))
            .unwrap();
    assert_eq!(ingest(&bytes, &Options::default()).skipped, 1);
}

/// OPA decision logs as the documented upload body (gzip JSON array), a plain array and console
/// lines: the same three decisions (allow, deny, an undefined decision as defer) each time.
#[test]
fn opa_decision_logs_in_every_container() {
    golden_at("opa", "decision-logs.derived.json", Format::Opa, 3);
    golden_at("opa", "decision-logs.derived.json.gz", Format::Opa, 3);
    golden_at("opa", "console.derived.ndjson", Format::Opa, 3);
}

/// A seeded mutation fuzzer over every fixture, for every normaliser: flipped, deleted,
/// duplicated and inserted bytes and truncations never panic, and every record that comes out
/// re-normalises from its own `source.raw` to itself (the round-trip property). Bounded: a
/// fixed number of mutants per fixture.
#[test]
fn fuzzed_fixtures_never_panic_and_every_record_round_trips() {
    let fixtures = [
        "tractatus/derived-from-code/auditLogs.derived.jsonl",
        "tractatus/derived-from-code/auditLogs.mongoexport.derived.jsonl",
        "tractatus/derived-from-code/decisions-2025-10-10.derived.jsonl",
        "tractatus/derived-from-code/instruction-history.derived.json",
        "tractatus/derived-from-code/pretooluse-input.derived.json",
        "tractatus/derived-from-code/pretooluse-output-deny.derived.json",
        "tractatus/sample-governance-rules.json",
        "tractatus/schema.json",
        "opa/decision-logs.derived.json",
        "opa/decision-logs.derived.json.gz",
        "opa/console.derived.ndjson",
        "otlp/claude-code-logs.derived.json",
        "claude-code/hook-events.derived.ndjson",
        "claude-code/hook-outputs.derived.ndjson",
        "otlp/guardrail-spans.derived.ndjson",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let (mut records, mut rejected) = (0, 0);
    for f in fixtures {
        let original = std::fs::read(repo_root().join("tests/fixtures").join(f)).unwrap();
        for _ in 0..300 {
            let mut b = original.clone();
            for _ in 0..1 + rand(3) {
                let at = rand(b.len());
                match rand(5) {
                    0 => b[at] ^= 1 << rand(8),
                    1 => {
                        let end = (at + rand(40)).min(b.len());
                        b.drain(at..end);
                    }
                    2 => {
                        let end = (at + rand(40)).min(b.len());
                        let dup = b[at..end].to_vec();
                        b.splice(at..at, dup);
                    }
                    3 => b.insert(
                        at,
                        [b'"', b'{', b'}', b'[', b',', b'\\', 0xff, b'\n'][rand(8)],
                    ),
                    _ => b.truncate(at),
                }
                if b.is_empty() {
                    break;
                }
            }
            let out = ingest(
                &b,
                &Options {
                    format: None,
                    received_us: RECEIVED_US,
                    ..Options::default()
                },
            );
            rejected += out.rejected.len();
            for (_, d) in &out.records {
                records += 1;
                assert_round_trip(d, out.format, f);
            }
        }
    }
    assert!(
        records > 1000 && rejected > 500,
        "{records} records, {rejected} rejected"
    );
}

/// The smallest input that holds a record's source again: its raw text, wrapped in its OTLP
/// resource and scope when it came from an OTLP request.
fn reconstruct(d: &schemas::Decision, raw: &str) -> String {
    let Some(ctx) = d.source.as_ref().and_then(|s| s.get("context")) else {
        return raw.to_owned();
    };
    let part = |k: &str| {
        ctx.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("{}")
            .to_owned()
    };
    let (outer, mid, inner) = if ctx["signal"] == "logs" {
        ("resourceLogs", "scopeLogs", "logRecords")
    } else {
        ("resourceSpans", "scopeSpans", "spans")
    };
    // The ancestors a span inherited from go beside it, as the request that held them did.
    let mut items = vec![raw.to_owned()];
    if let Some(a) = ctx.get("ancestors").and_then(|a| a.as_array()) {
        items.extend(a.iter().map(|s| s.to_string()));
    }
    format!(
        r#"{{"{outer}":[{{"resource":{},"{mid}":[{{"scope":{},"{inner}":[{}]}}]}}]}}"#,
        part("resource"),
        part("scope"),
        items.join(",")
    )
}

/// Secrets the default patterns match, in a hook payload (bare, inside a `govtrail hook`
/// envelope's stdin and stdout, under a key named like a secret) never reach the ledger's
/// bytes: its records as the write-ahead log holds them. With masking off they do (so the
/// check below can see them).
#[test]
fn secrets_in_hook_payloads_never_reach_the_ledger() {
    const SECRETS: [&str; 8] = [
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
        "hunter2-hunter2",
        "AKIAIOSFODNN7EXAMPLE",
        "sk-ant-abcdefghijklmnopqrstuvwx",
        "b3BlbnNzaC1rZXktdjEAAAAA",
        "xoxb-1234567890-abcdefghij",
        "correct-horse-battery",
    ];
    let command = format!(
        "export GITHUB_TOKEN={} && curl -H 'Authorization: Bearer {}' -u x:y https://x \
         && DB_PASSWORD={} AWS={} ANTHROPIC={} ./deploy && echo '-----BEGIN OPENSSH PRIVATE \
         KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----' && notify {}",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[4], SECRETS[5], SECRETS[6]
    );
    let payload = serde_json::json!({
        "hook_event_name": "PreToolUse", "session_id": "s", "tool_use_id": "t1",
        "tool_name": "Bash", "tool_input": {"command": command, "password": SECRETS[7]},
    })
    .to_string();
    let mut env = schemas::HookEnvelope::new("secret-call".into(), 1_765_000_000_000_000);
    env.set(schemas::HookStream::Stdin, payload.as_bytes());
    env.set(
        schemas::HookStream::Stdout,
        format!("token={}", SECRETS[0]).as_bytes(),
    );
    let input = format!("{payload}\n{}\n", String::from_utf8(env.to_line()).unwrap());
    let ledger_bytes = |secrets: schemas::ingest::Secrets| {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = Options {
            received_us: 1_765_000_000_000_000,
            ..Options::default()
        };
        opts.masking.secrets = secrets;
        let mut records = Vec::new();
        for (format, text) in [
            (None, payload.as_str()),
            (None, input.lines().nth(1).unwrap()),
        ] {
            opts.format = format;
            let out = ingest(text.as_bytes(), &opts);
            assert!(out.rejected.is_empty(), "{:?}", out.rejected);
            records.extend(
                out.records
                    .into_iter()
                    .map(|(_, d)| ledger::Record::from_decision(&d, &"secret").unwrap()),
            );
        }
        assert_eq!(records.len(), 2);
        let mut l = ledger::Ledger::create(tmp.path(), govtrail_tests::signer(), 1024).unwrap();
        // Unsealed: the write-ahead log holds the records' bytes as they are (a sealed
        // segment compresses them, where a search would find nothing either way).
        l.append_batch(&records).unwrap();
        drop(l);
        let mut all = Vec::new();
        let mut stack = vec![tmp.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    all.extend(std::fs::read(&p).unwrap());
                }
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    let masked = ledger_bytes(schemas::ingest::Secrets::default());
    for s in SECRETS {
        assert!(!masked.contains(s), "{s} reached the ledger");
    }
    assert!(masked.contains("**MASKED**"));
    let unmasked = ledger_bytes(schemas::ingest::Secrets::off());
    assert!(
        SECRETS.iter().all(|s| unmasked.contains(s)),
        "the check sees secrets"
    );
}

/// OTLP protobuf export requests are detected without a format (traces apart from logs), with
/// the same records as with it; binary input that is none of the formats is one rejection,
/// not one per "line".
#[test]
fn otlp_protobuf_is_detected_without_a_format() {
    for (file, format) in [
        ("claude-code-logs.derived.pb", Format::OtlpProtoLogs),
        ("guardrail-spans.derived.pb", Format::OtlpProtoTraces),
    ] {
        let bytes = std::fs::read(repo_root().join("tests/fixtures/otlp").join(file)).unwrap();
        let opts = |format| Options {
            format,
            received_us: 1_765_000_000_000_000,
            ..Options::default()
        };
        let detected = ingest(&bytes, &opts(None));
        let forced = ingest(&bytes, &opts(Some(format)));
        assert_eq!(detected.format, Some(format), "{file}");
        assert!(
            detected.rejected.is_empty(),
            "{file}: {:?}",
            detected.rejected
        );
        assert!(!detected.records.is_empty(), "{file}");
        assert_eq!(detected.records, forced.records, "{file}");
    }
    let junk = [
        0x0a_u8, 0xff, 0x01, 0x02, 0x80, 0x80, 0x00, 0x9c, 0x0a, 0x0a,
    ];
    let out = ingest(&junk, &Options::default());
    assert_eq!(out.records.len(), 0);
    assert_eq!(out.rejected.len(), 1, "{:?}", out.rejected);
    assert_eq!(out.rejected[0].message, schemas::ingest::UNKNOWN_BINARY);
}

/// Guardrail spans say what they decided, in each shape in use (docs/research/
/// otel-guardrail-shapes.md): the OpenTelemetry GenAI proposal's enforced action and verdict,
/// the Microsoft distro's `microsoft.security.decision.type`, and OpenInference emitters'
/// `guardrail.triggered`, guardrails-ai's `validation_passed` and a textual `output.value`. A
/// span that blocked is never `info`; the guardrail's name is the rule id.
#[test]
fn guardrail_spans_map_their_verdicts_in_every_shape() {
    let attr = |k: &str, v: serde_json::Value| {
        let value = match v {
            serde_json::Value::Bool(b) => serde_json::json!({"boolValue": b}),
            serde_json::Value::String(s) => serde_json::json!({"stringValue": s}),
            other => other,
        };
        serde_json::json!({"key": k, "value": value})
    };
    let span = |n: u8, name: &str, attrs: Vec<serde_json::Value>| {
        serde_json::json!({
            "traceId": "5b8aa5a2d2c872e8321cf37308d69df2", "spanId": format!("{n:016x}"),
            "name": name, "startTimeUnixNano": "1765000000000000000",
            "endTimeUnixNano": "1765000000002000000", "attributes": attrs,
        })
    };
    let s = serde_json::Value::String;
    let spans = vec![
        span(
            1,
            "run_guardrail pii",
            vec![
                attr("gen_ai.operation.name", s("apply_guardrail".into())),
                attr("gen_ai.security.guardrail.name", s("pii-filter".into())),
                attr("gen_ai.security.verdict.type", s("warn".into())),
                attr("gen_ai.security.action.type", s("block".into())),
                attr("gen_ai.security.policy.rule.id", s("PII-7".into())),
                attr(
                    "gen_ai.security.verdict.reason",
                    s("an email address".into()),
                ),
                attr("gen_ai.conversation.id", s("conv-1".into())),
            ],
        ),
        span(
            2,
            "run_guardrail approval",
            vec![
                attr(
                    "gen_ai.guardrail.component.name",
                    s("human-approval".into()),
                ),
                attr("gen_ai.guardrail.verdict.type", s("escalate".into())),
            ],
        ),
        span(
            3,
            "apply_guardrail content tool_call",
            vec![
                attr("gen_ai.operation.name", s("apply_guardrail".into())),
                attr("microsoft.guardian.name", s("content-safety".into())),
                attr("microsoft.security.decision.type", s("deny".into())),
                attr("microsoft.security.decision.reason", s("violence".into())),
            ],
        ),
        span(
            4,
            "no_secrets",
            vec![
                attr("openinference.span.kind", s("GUARDRAIL".into())),
                attr("guardrail.triggered", serde_json::Value::Bool(true)),
            ],
        ),
        span(
            5,
            "guard",
            vec![
                attr("openinference.span.kind", s("GUARDRAIL".into())),
                attr("guard.name", s("json-guard".into())),
                attr("validation_passed", serde_json::Value::Bool(true)),
            ],
        ),
        span(
            6,
            "topic",
            vec![
                attr("openinference.span.kind", s("GUARDRAIL".into())),
                attr("output.value", s("FLAGGED".into())),
            ],
        ),
        span(
            7,
            "plain tool span",
            vec![
                attr("gen_ai.tool.name", s("Bash".into())),
                attr("gen_ai.tool.call.id", s("call-7".into())),
            ],
        ),
        span(
            8,
            "invoke_agent",
            vec![
                attr("session.id", s("sess-8".into())),
                attr("user.id", s("dana".into())),
                attr("input.value", s("not inherited".into())),
            ],
        ),
        // A parent cycle (10 -> 11 -> 10) ends the walk; nothing is inherited from it.
        span(
            10,
            "cycle",
            vec![
                attr("openinference.span.kind", s("GUARDRAIL".into())),
                attr("guardrail.triggered", serde_json::Value::Bool(false)),
            ],
        ),
        span(11, "cycle parent", vec![]),
    ];
    // The OpenInference guardrails run under the tool span, which runs under the agent's.
    let mut spans = spans;
    for (child, parent) in [(3, 7), (4, 7), (5, 7), (6, 8), (8, 11), (9, 10)] {
        spans[child]["parentSpanId"] = s(format!("{parent:016x}"));
    }
    let request = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", s("agent".into()))]},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}],
    }]});
    let out = ingest(
        request.to_string().as_bytes(),
        &Options {
            received_us: 1,
            ..Options::default()
        },
    );
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(
        out.skipped, 3,
        "the tool, agent and cycle spans are not decisions"
    );
    let got: Vec<(String, Vec<String>, Option<String>)> = out
        .records
        .iter()
        .map(|(_, d)| {
            (
                d.decision.as_str().to_owned(),
                d.rule_ids.clone(),
                d.reason.clone(),
            )
        })
        .collect();
    let want = |d: &str, rules: &[&str], reason: Option<&str>| {
        (
            d.to_owned(),
            rules.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>(),
            reason.map(str::to_owned),
        )
    };
    assert_eq!(
        got,
        [
            want("deny", &["pii-filter", "PII-7"], Some("an email address")),
            want("ask", &["human-approval"], None),
            want("deny", &["content-safety"], Some("violence")),
            want("deny", &["no_secrets"], None),
            want("allow", &["json-guard"], None),
            want("warn", &["topic"], None),
            want("allow", &["cycle"], None),
        ]
    );
    assert_eq!(out.records[0].1.session_id.as_deref(), Some("conv-1"));
    // Inherited from the tool and agent spans above them, and said so.
    for (_, d) in &out.records[3..6] {
        assert_eq!(d.session_id.as_deref(), Some("sess-8"));
        assert_eq!(d.tool_use_id.as_deref(), Some("call-7"));
        assert_eq!(d.tool_name.as_deref(), Some("Bash"));
        let extra = d.extra.as_ref().unwrap();
        assert_eq!(extra["user_id"], "dana");
        assert_eq!(
            extra["inherited"]["session_id"]["span_id"],
            "0000000000000008"
        );
        assert_eq!(
            extra["inherited"]["tool_use_id"]["span_id"],
            "0000000000000007"
        );
        let ancestors = &d.source.as_ref().unwrap()["context"]["ancestors"];
        assert_eq!(ancestors.as_array().unwrap().len(), 2);
        assert!(!ancestors.to_string().contains("not inherited"));
    }
    let cycle = &out.records[6].1;
    assert!(cycle.session_id.is_none() && cycle.extra.is_none());
    for (_, d) in &out.records {
        assert_round_trip(d, out.format, "guardrail span");
    }
}
