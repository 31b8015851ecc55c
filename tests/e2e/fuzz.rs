//! Property-based fuzz targets, one per normaliser (proptest). Each target starts from that
//! format's committed fixtures and applies generated edits: structural ones (replace or remove a
//! node anywhere in a unit's JSON tree with arbitrary JSON, including the strings and Extended
//! JSON wrappers the normalisers branch on) and byte-level ones (bit flips, deleted, duplicated
//! or inserted bytes, truncation). The protobuf formats get byte-level edits of their encoded
//! fixtures. Every input is normalised with the format forced and with detection.
//!
//! Properties: nothing panics; every record re-normalises from its own source to itself; every
//! record's canonical bytes parse and re-serialise to the same bytes. Bounded: a fixed number of cases
//! per target (`GOVTRAIL_FUZZ_CASES`, default 256) from a fixed seed, so a failure reproduces;
//! proptest shrinks it to a minimal input before reporting.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use schemas::ingest::{Format, Options, Secrets, ingest};
use serde_json::Value;

use crate::ingest::{RECEIVED_US, assert_round_trip};
use govtrail_tests::repo_root;

/// One generated edit of a unit.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the node reached by following these child choices (each taken modulo the
    /// node's child count; the walk stops early at a leaf).
    Replace(Vec<u16>, Value),
    /// Remove the node reached so (from its parent object or array).
    Remove(Vec<u16>),
}

/// A byte-level edit of the serialised input.
#[derive(Debug, Clone)]
enum ByteEdit {
    Flip(u32, u8),
    Delete(u32, u8),
    Duplicate(u32, u8),
    Insert(u32, u8),
    Truncate(u32),
}

/// Strings the normalisers branch on: decisions, hook events, Extended JSON keys, times.
const INTERESTING: &[&str] = &[
    "allow",
    "deny",
    "ask",
    "BLOCKED",
    "ALLOWED",
    "REQUIRE_HUMAN_DECISION",
    "PreToolUse",
    "PostToolUse",
    "UserPromptSubmit",
    "Stop",
    "$date",
    "$oid",
    "$numberLong",
    "$numberInt",
    "$numberDouble",
    "2025-10-25T03:19:07.261Z",
    "1761362347261000000",
    "-1",
    "9007199254740993",
    "1e400",
    "GUARDRAIL",
    "tool_decision",
    "openinference.span.kind",
    "parentSpanId",
    "0000000000000001",
    "session.id",
    "gen_ai.tool.call.id",
    "apply_guardrail",
    "microsoft.security.decision.type",
    "gen_ai.security.decision.type",
    "block",
    "escalate",
    "PostToolUseFailure",
    "PermissionRequest",
    "PermissionDenied",
    "SomeEventNoReleaseHas",
    "tool_use_id",
    "permissionDecision",
    "export API_TOKEN=s3cr3t-value",
    "Authorization: Bearer abc.def.ghi",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "password",
    "",
    "\u{0}",
    "\u{feff}",
];

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(INTERESTING).prop_map(str::to_owned),
        2 => "[a-zA-Z0-9_$ .:/-]{0,12}",
        1 => any::<String>(),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(arb_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let path = vec(any::<u16>(), 0..6);
    prop_oneof![
        3 => (path.clone(), arb_json()).prop_map(|(p, v)| Edit::Replace(p, v)),
        1 => path.prop_map(Edit::Remove),
    ]
}

fn arb_byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        (any::<u32>(), 0u8..8).prop_map(|(at, bit)| ByteEdit::Flip(at, bit)),
        (any::<u32>(), 1u8..40).prop_map(|(at, n)| ByteEdit::Delete(at, n)),
        (any::<u32>(), 1u8..40).prop_map(|(at, n)| ByteEdit::Duplicate(at, n)),
        (
            any::<u32>(),
            proptest::sample::select(
                &[b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', 0xff, b'\n'][..]
            )
        )
            .prop_map(|(at, b)| ByteEdit::Insert(at, b)),
        any::<u32>().prop_map(ByteEdit::Truncate),
    ]
}

/// Follows `path` from `root`; returns the parent and the child key or index of the node.
fn apply(root: &mut Value, edit: &Edit) {
    let path = match edit {
        Edit::Replace(p, _) | Edit::Remove(p) => p,
    };
    // Walk to the target's parent, remembering which child the target is.
    let mut node = root;
    let mut steps = path.iter().peekable();
    while let Some(&choice) = steps.next() {
        let last = steps.peek().is_none();
        let n = match &*node {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if n == 0 {
            break;
        }
        let i = usize::from(choice) % n;
        if last {
            match (node, edit) {
                (Value::Object(m), Edit::Replace(_, v)) => {
                    if let Some(slot) = m.values_mut().nth(i) {
                        *slot = v.clone();
                    }
                }
                (Value::Object(m), Edit::Remove(_)) => {
                    if let Some(k) = m.keys().nth(i).cloned() {
                        m.remove(&k);
                    }
                }
                (Value::Array(a), Edit::Replace(_, v)) => a[i] = v.clone(),
                (Value::Array(a), Edit::Remove(_)) => {
                    a.remove(i);
                }
                _ => {}
            }
            return;
        }
        node = match node {
            Value::Object(m) => match m.values_mut().nth(i) {
                Some(child) => child,
                None => return,
            },
            Value::Array(a) => &mut a[i],
            _ => return,
        };
        if !matches!(node, Value::Object(_) | Value::Array(_)) {
            return;
        }
    }
    if let Edit::Replace(_, v) = edit
        && path.is_empty()
    {
        *node = v.clone();
    }
}

fn apply_bytes(b: &mut Vec<u8>, e: &ByteEdit) {
    if b.is_empty() {
        return;
    }
    let at = |x: u32| x as usize % b.len();
    match *e {
        ByteEdit::Flip(x, bit) => {
            let i = at(x);
            b[i] ^= 1 << bit;
        }
        ByteEdit::Delete(x, n) => {
            let i = at(x);
            let end = (i + usize::from(n)).min(b.len());
            b.drain(i..end);
        }
        ByteEdit::Duplicate(x, n) => {
            let i = at(x);
            let end = (i + usize::from(n)).min(b.len());
            let dup = b[i..end].to_vec();
            b.splice(i..i, dup);
        }
        ByteEdit::Insert(x, byte) => {
            let i = at(x);
            b.insert(i, byte);
        }
        ByteEdit::Truncate(x) => {
            let i = at(x);
            b.truncate(i);
        }
    }
}

/// The JSON units of a fixture: one per non-empty line for line-oriented files, else the
/// whole document.
fn units(bytes: &[u8]) -> Vec<Value> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return vec![v];
    }
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

fn fixture(path: &str) -> Vec<u8> {
    let path = repo_root().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `govtrail hook` envelope (`schemas::HookEnvelope`, as `govtrail hook` writes it) around
/// `stdin` and the Tractatus deny output.
fn hook_envelope_seed(stdin: Vec<u8>) -> Vec<u8> {
    let stdin = String::from_utf8(stdin).unwrap();
    let stdout = String::from_utf8(fixture(
        "tests/fixtures/tractatus/derived-from-code/pretooluse-output-deny.derived.json",
    ))
    .unwrap();
    let env = serde_json::json!({
        "govtrail_hook": 1, "id": "0123456789abcdef", "started_us": 1_761_362_347_261_000i64,
        "wall_us": 65_310, "engine": "tractatus", "stdin": stdin, "stdout": stdout,
        "stderr": "", "exit_code": 0,
    });
    serde_json::to_vec(&env).unwrap()
}

/// A PreToolUse payload whose command holds secrets the default patterns match.
fn secret_payload_seed() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "hook_event_name": "PreToolUse", "session_id": "s-secret", "tool_use_id": "toolu_9",
        "cwd": "/repo", "permission_mode": "default", "tool_name": "Bash",
        "tool_input": {"command": "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 \
            && curl -H 'Authorization: Bearer abc.def.ghi' https://x", "api_key": "k-123"},
    }))
    .unwrap()
}

fn cases() -> u32 {
    std::env::var("GOVTRAIL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Normalises `input` with `format` forced and detected, and checks the properties. Returns
/// the records and rejected units of the forced run.
fn check(input: &[u8], format: Format) -> (usize, usize) {
    let mut counts = (0, 0);
    for forced in [Some(format), None] {
        let out = ingest(
            input,
            &Options {
                format: forced,
                received_us: RECEIVED_US,
                ..Options::default()
            },
        );
        for (_, d) in &out.records {
            let bytes = d
                .canonical_bytes()
                .expect("a normalised record is canonical");
            // The ledger stores these bytes: parsing them back and writing them again is the
            // identity (RFC 8785 writes -0 as 0, so the bytes, not the structs, are compared).
            let back = schemas::Decision::from_json(&bytes).expect("canonical bytes parse");
            let again = back.canonical_bytes().expect("still canonical");
            assert_eq!(
                String::from_utf8_lossy(&again),
                String::from_utf8_lossy(&bytes),
                "canonical bytes round trip"
            );
            assert_round_trip(d, out.format, format.name());
            assert_no_secret(&back);
        }
        if forced.is_some() {
            counts = (out.records.len(), out.rejected.len());
        }
    }
    counts
}

/// A hook record holds no string the default secret patterns would still mask (masking is on
/// by default for hook payloads, docs/RECORD.md §12.1): each string masks to itself or not at all.
fn assert_no_secret(d: &schemas::Decision) {
    let hook = d
        .source_format
        .as_deref()
        .is_some_and(|f| f.starts_with("claude-code.hook") || f == "govtrail.hook");
    if !hook {
        return;
    }
    fn walk(v: &Value, secrets: &Secrets) {
        match v {
            Value::String(s) => {
                if let Some(m) = secrets.mask_text(s) {
                    assert_eq!(&m, s, "a secret left in a hook record");
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, secrets)),
            Value::Object(o) => o.values().for_each(|x| walk(x, secrets)),
            _ => {}
        }
    }
    walk(&serde_json::to_value(d).unwrap(), &Secrets::default());
}

/// Fails unless the generated inputs both produced records and were rejected: a target whose
/// every input is rejected (or accepted) explores nothing.
fn assert_explored(format: Format, totals: (usize, usize)) {
    let (records, rejected) = totals;
    assert!(
        records > 0 && rejected > 0,
        "{}: {records} records, {rejected} rejected units over the run",
        format.name()
    );
}

/// Runs the JSON-structured target for `format` over `seeds` (each a whole fixture file).
fn fuzz_json(format: Format, seeds: Vec<Vec<u8>>, seed: u8) {
    let units: Vec<Value> = seeds.iter().flat_map(|s| units(s)).collect();
    assert!(
        !units.is_empty(),
        "{}: no JSON units in the seeds",
        format.name()
    );
    let n_units = units.len();
    let strategy = (
        0..n_units,
        vec(arb_edit(), 0..4),
        vec(arb_byte_edit(), 0..2),
        any::<bool>(),
    );
    let totals = std::cell::Cell::new((0, 0));
    let add = |(r, j): (usize, usize)| {
        let (a, b) = totals.get();
        totals.set((a + r, b + j));
    };
    runner(seed)
        .run(&strategy, |(which, edits, byte_edits, whole_file)| {
            let mut bytes = if whole_file && byte_edits.is_empty() && edits.is_empty() {
                seeds[which % seeds.len()].clone()
            } else {
                let mut unit = units[which].clone();
                for e in &edits {
                    apply(&mut unit, e);
                }
                serde_json::to_vec(&unit).unwrap()
            };
            for e in &byte_edits {
                apply_bytes(&mut bytes, e);
            }
            add(check(&bytes, format));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{}: {e}", format.name()));
    assert_explored(format, totals.get());
}

/// Runs the byte-level target for a binary format over `seed_files`.
fn fuzz_bytes(format: Format, seed_files: &[&str], seed: u8) {
    let originals: Vec<Vec<u8>> = seed_files.iter().map(|f| fixture(f)).collect();
    let totals = std::cell::Cell::new((0, 0));
    runner(seed)
        .run(
            &(0..originals.len(), vec(arb_byte_edit(), 0..4)),
            |(which, edits)| {
                let mut bytes = originals[which].clone();
                for e in &edits {
                    apply_bytes(&mut bytes, e);
                }
                let (r, j) = check(&bytes, format);
                let (a, b) = totals.get();
                totals.set((a + r, b + j));
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", format.name()));
    assert_explored(format, totals.get());
}

fn runner(seed: u8) -> TestRunner {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

#[test]
fn fuzz_native() {
    fuzz_json(
        Format::Native,
        vec![fixture("examples/decisions.ndjson")],
        1,
    );
}

#[test]
fn fuzz_claude_code_hook() {
    fuzz_json(
        Format::ClaudeCodeHook,
        vec![
            fixture("tests/fixtures/claude-code/hook-events.derived.ndjson"),
            fixture("tests/fixtures/claude-code/hook-outputs.derived.ndjson"),
            fixture("tests/fixtures/tractatus/derived-from-code/pretooluse-input.derived.json"),
            fixture(
                "tests/fixtures/tractatus/derived-from-code/pretooluse-output-deny.derived.json",
            ),
            secret_payload_seed(),
        ],
        2,
    );
}

#[test]
fn fuzz_govtrail_hook() {
    fuzz_json(
        Format::GovtrailHook,
        vec![
            hook_envelope_seed(fixture(
                "tests/fixtures/tractatus/derived-from-code/pretooluse-input.derived.json",
            )),
            hook_envelope_seed(secret_payload_seed()),
        ],
        3,
    );
}

#[test]
fn fuzz_opa() {
    fuzz_json(
        Format::Opa,
        vec![
            fixture("tests/fixtures/opa/decision-logs.derived.json"),
            fixture("tests/fixtures/opa/console.derived.ndjson"),
        ],
        4,
    );
}

#[test]
fn fuzz_otlp_json() {
    fuzz_json(
        Format::Otlp,
        vec![
            fixture("tests/fixtures/otlp/claude-code-logs.derived.json"),
            fixture("tests/fixtures/otlp/guardrail-spans.derived.ndjson"),
        ],
        5,
    );
}

#[test]
fn fuzz_otlp_proto_logs() {
    fuzz_bytes(
        Format::OtlpProtoLogs,
        &[
            "tests/fixtures/otlp/claude-code-logs.derived.pb",
            "tests/fixtures/otlp/otel-sdk-logs.captured.pb",
        ],
        6,
    );
}

#[test]
fn fuzz_otlp_proto_traces() {
    fuzz_bytes(
        Format::OtlpProtoTraces,
        &[
            "tests/fixtures/otlp/guardrail-spans.derived.pb",
            "tests/fixtures/otlp/otel-sdk-traces.captured.pb",
        ],
        7,
    );
}

#[test]
fn fuzz_tractatus() {
    fuzz_json(
        Format::Tractatus,
        vec![
            fixture("tests/fixtures/tractatus/derived-from-code/auditLogs.derived.jsonl"),
            fixture(
                "tests/fixtures/tractatus/derived-from-code/auditLogs.mongoexport.derived.jsonl",
            ),
        ],
        8,
    );
}

#[test]
fn fuzz_tractatus_legacy() {
    fuzz_json(
        Format::TractatusLegacy,
        vec![fixture(
            "tests/fixtures/tractatus/derived-from-code/decisions-2025-10-10.derived.jsonl",
        )],
        9,
    );
}

#[test]
fn fuzz_tractatus_rules() {
    fuzz_json(
        Format::TractatusRules,
        vec![
            fixture("tests/fixtures/tractatus/derived-from-code/instruction-history.derived.json"),
            fixture("tests/fixtures/tractatus/sample-governance-rules.json"),
            fixture("tests/fixtures/tractatus/schema.json"),
        ],
        10,
    );
}

/// Every format has a target above: the match is exhaustive, so a new format does not compile
/// until it has one.
#[test]
fn every_format_has_a_target() {
    for f in Format::ALL {
        let target: fn() = match f {
            Format::Native => fuzz_native,
            Format::ClaudeCodeHook => fuzz_claude_code_hook,
            Format::GovtrailHook => fuzz_govtrail_hook,
            Format::Opa => fuzz_opa,
            Format::Otlp => fuzz_otlp_json,
            Format::OtlpProtoLogs => fuzz_otlp_proto_logs,
            Format::OtlpProtoTraces => fuzz_otlp_proto_traces,
            Format::Tractatus => fuzz_tractatus,
            Format::TractatusLegacy => fuzz_tractatus_legacy,
            Format::TractatusRules => fuzz_tractatus_rules,
        };
        assert!(!f.name().is_empty(), "{target:p}");
    }
}
