//! The ledger the goldens run on, built deterministically from the committed fixtures plus
//! records generated in the shapes of the real ones:
//!
//! - every decision-bearing fixture in `tests/fixtures/` (Tractatus, Claude Code, OPA, OTLP),
//!   through the same normalisers `govtrail ingest` uses;
//! - Tractatus `auditLogs` documents (admin API JSON, the shape of
//!   `auditLogs.derived.jsonl`) in the per-service counts `metrics-verification.csv` publishes
//!   (BoundaryEnforcer 623, ContextPressureMonitor 623, InstructionPersistenceClassifier 8,
//!   CrossReferenceValidator 6, MetacognitiveVerifier 5, PluralisticDeliberationOrchestrator 1);
//! - 1,332 BashCommandValidator PreToolUse calls as `govtrail hook` envelopes (exit 2 for the
//!   162 blocks), with wall times drawn from a log-normal around Tractatus's published
//!   65–285 ms;
//! - one incident session, `2025-10-20-001`, in the shape of the inst_049 incident (the user's
//!   hypothesis ignored through repeated failed attempts, pressure rising, then blocks).
//!
//! Segments hold 256 records, so the data spans sealed segments and an unsealed tail.

use std::path::{Path, PathBuf};

use ledger::{Ledger, NoteSigner, Record};
use schemas::ingest::{Format, Options, ingest};
use serde_json::{Value, json};

/// When sources without a time were "received".
pub(crate) const RECEIVED_US: i64 = 1_764_000_000_000_000;

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A small deterministic generator (xorshift64*).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Fixture files that hold decisions, with the format each is detected as.
const FIXTURES: &[&str] = &[
    "tractatus/derived-from-code/auditLogs.derived.jsonl",
    "tractatus/derived-from-code/auditLogs.mongoexport.derived.jsonl",
    "tractatus/derived-from-code/decisions-2025-10-10.derived.jsonl",
    "tractatus/derived-from-code/instruction-history.derived.json",
    "tractatus/sample-governance-rules.json",
    "tractatus/derived-from-code/pretooluse-output-deny.derived.json",
    "claude-code/hook-events.derived.ndjson",
    "claude-code/hook-outputs.derived.ndjson",
    "opa/decision-logs.derived.json",
    "otlp/claude-code-logs.derived.json",
    "otlp/guardrail-spans.derived.ndjson",
];

fn normalise(bytes: &[u8], format: Option<Format>, what: &str) -> Vec<schemas::Decision> {
    let out = ingest(
        bytes,
        &Options {
            format,
            received_us: RECEIVED_US,
            ..Options::default()
        },
    );
    assert!(out.rejected.is_empty(), "{what}: {:?}", out.rejected);
    out.records.into_iter().map(|(_, d)| d).collect()
}

/// A Tractatus `auditLogs` document (admin API JSON).
/// `at` is (document number, time in ms, session).
fn audit_log(
    (n, ts_ms, session): (u128, i64, &str),
    service: &str,
    action: &str,
    allowed: bool,
    rules: &[&str],
    metadata: Value,
    duration_ms: Option<f64>,
) -> Value {
    let ts = iso(ts_ms);
    json!({
        "_id": format!("69{n:022x}"),
        "sessionId": session,
        "action": action,
        "allowed": allowed,
        "rulesChecked": rules,
        "violations": if allowed { json!([]) } else { json!(["inst_049"]) },
        "metadata": metadata,
        "domain": "UNKNOWN",
        "boundary": null,
        "tractatus_section": null,
        "durationMs": duration_ms,
        "service": service,
        "userId": null,
        "ipAddress": null,
        "userAgent": null,
        "timestamp": ts,
        "createdAt": ts,
        "updatedAt": ts,
        "__v": 0
    })
}

/// RFC 3339 with milliseconds, from milliseconds since the epoch.
pub(crate) fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// 2025-10-07T00:00:00Z in milliseconds.
const OCT_7_MS: i64 = 1_759_795_200_000;

/// The per-service audit logs of `metrics-verification.csv`, spread over 19 days.
fn service_logs(rng: &mut Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let services: [(&str, &str, usize); 6] = [
        ("BoundaryEnforcer", "boundary_enforcement", 623),
        ("ContextPressureMonitor", "context_pressure_analysis", 623),
        (
            "InstructionPersistenceClassifier",
            "instruction_classification",
            8,
        ),
        ("CrossReferenceValidator", "cross_reference_validation", 6),
        ("MetacognitiveVerifier", "metacognitive_verification", 5),
        (
            "PluralisticDeliberationOrchestrator",
            "pluralistic_deliberation",
            1,
        ),
    ];
    let mut n = 0u128;
    for (service, action, count) in services {
        for i in 0..count {
            n += 1;
            let ts = OCT_7_MS
                + (i as i64 * 19 * 86_400_000) / count as i64
                + (rng.next() % 60_000) as i64;
            let session = format!("2025-10-{:02}-001", 7 + (ts - OCT_7_MS) / 86_400_000);
            let (allowed, metadata) = match action {
                "boundary_enforcement" => {
                    let values = rng.next().is_multiple_of(25);
                    let action_type = ["file_edit", "command_execution", "content_generation"]
                        [(rng.next() % 3) as usize];
                    (
                        !values,
                        json!({
                            "boundary": if values { "VALUES" } else { "none" },
                            "domain": if values { "VALUES" } else { "TECHNICAL_IMPLEMENTATION" },
                            "requirementType": if values { "APPROVAL_REQUIRED" } else { "NONE" },
                            "actionType": action_type,
                            "enforcement_decision": if values { "BLOCKED" } else { "ALLOWED" }
                        }),
                    )
                }
                "context_pressure_analysis" => {
                    let p = (i as f64 / count as f64 * 0.5 + rng.unit() * 0.2).min(0.99);
                    let (level, num, act) = match p {
                        x if x < 0.3 => ("NORMAL", 0, "PROCEED"),
                        x if x < 0.5 => ("ELEVATED", 1, "INCREASE_VERIFICATION"),
                        _ => ("HIGH", 2, "MANDATORY_VERIFICATION"),
                    };
                    (
                        true,
                        json!({"overall_pressure": (p * 1e4).round() / 1e4, "pressure_level": level,
                               "pressure_level_numeric": num, "action_required": act}),
                    )
                }
                "cross_reference_validation" => (true, json!({"validation_status": "APPROVED"})),
                "metacognitive_verification" => (true, json!({"decision": "PROCEED_WITH_CAUTION"})),
                _ => (true, json!({})),
            };
            out.push(audit_log(
                (n, ts, &session),
                service,
                action,
                allowed,
                &["inst_016", "inst_017", "inst_018"],
                metadata,
                None,
            ));
        }
    }
    out
}

/// A `govtrail hook` envelope of one PreToolUse call.
fn envelope(
    id: u64,
    ts_ms: i64,
    session: &str,
    command: &str,
    wall_us: i64,
    blocked: bool,
    reason: &str,
) -> Value {
    let stdin = json!({
        "session_id": session,
        "transcript_path": "/home/dev/.claude/projects/app/transcript.jsonl",
        "cwd": "/home/dev/app",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_use_id": format!("toolu_{id:012}")
    });
    json!({
        "govtrail_hook": 1,
        "id": format!("{id:016x}"),
        "started_us": ts_ms * 1000,
        "wall_us": wall_us,
        "engine": "tractatus",
        "service": "BashCommandValidator",
        "stdin": stdin.to_string(),
        "stdout": "",
        "stderr": if blocked { format!("{reason}\n") } else { String::new() },
        "exit_code": if blocked { 2 } else { 0 }
    })
}

/// 1,332 Bash validations, 162 of them blocked, wall time log-normal (median ~110 ms).
fn bash_validations(rng: &mut Rng) -> Vec<Value> {
    let commands = [
        "npm test",
        "git status",
        "ls -la",
        "npm run build",
        "git push --force",
        "rm -rf node_modules",
    ];
    let mut blocked_left = 162;
    (0..1332u64)
        .map(|i| {
            // Exactly 162 blocks, spread evenly.
            let blocked = blocked_left > 0 && (i * 162 / 1332) != ((i + 1) * 162 / 1332);
            if blocked {
                blocked_left -= 1;
            }
            let ts = OCT_7_MS + (i as i64 * 19 * 86_400_000) / 1332;
            let session = format!("2025-10-{:02}-001", 7 + (ts - OCT_7_MS) / 86_400_000);
            let wall_us = (110_000.0 * (0.45 * rng.normal()).exp()).round() as i64;
            let cmd = if blocked {
                commands[4 + (i % 2) as usize]
            } else {
                commands[(i % 4) as usize]
            };
            envelope(
                100_000 + i,
                ts,
                &session,
                cmd,
                wall_us,
                blocked,
                "inst_038: destructive command blocked by BashCommandValidator",
            )
        })
        .collect()
}

/// The incident session: 2025-10-20, the user says "Tailwind issue"; the agent ignores it
/// through 12 failed attempts while pressure rises; inst_049 then asks, is overridden once,
/// and finally denies.
pub(crate) const INCIDENT_SESSION: &str = "2025-10-20-007";

fn incident_session(rng: &mut Rng) -> (Vec<Value>, Vec<Value>) {
    let start = OCT_7_MS + 13 * 86_400_000 + 9 * 3_600_000;
    let mut logs = Vec::new();
    let mut hooks = Vec::new();
    let mut n = 1u128 << 80;
    for step in 0..16i64 {
        let ts = start + step * 240_000;
        n += 1;
        let p = 0.2 + step as f64 * 0.045;
        let (level, act) = match p {
            x if x < 0.3 => ("NORMAL", "PROCEED"),
            x if x < 0.5 => ("ELEVATED", "INCREASE_VERIFICATION"),
            x if x < 0.7 => ("HIGH", "MANDATORY_VERIFICATION"),
            _ => ("CRITICAL", "RECOMMEND_REFRESH"),
        };
        logs.push(audit_log(
            (n, ts, INCIDENT_SESSION),
            "ContextPressureMonitor",
            "context_pressure_analysis",
            true,
            &["inst_001", "inst_049"],
            json!({"overall_pressure": (p * 1e4).round() / 1e4, "pressure_level": level, "action_required": act}),
            Some(12.0 + (rng.next() % 8) as f64),
        ));
        let wall = (90_000.0 * (0.3 * rng.normal()).exp()).round() as i64;
        let cmd = [
            "npx vite build",
            "npm run dev",
            "edit src/App.css",
            "npm run build",
        ][(step % 4) as usize];
        if step < 12 {
            hooks.push(envelope(
                200_000 + step as u64,
                ts + 5_000,
                INCIDENT_SESSION,
                cmd,
                wall,
                false,
                "",
            ));
        }
        if step == 12 || step == 13 {
            n += 1;
            logs.push(audit_log(
                (n, ts + 6_000, INCIDENT_SESSION),
                "CrossReferenceValidator",
                "cross_reference_validation",
                true,
                &["inst_049"],
                json!({"validation_status": "REJECTED", "conflicts": ["user hypothesis (Tailwind) not tested"]}),
                Some(21.0),
            ));
        }
        if step >= 14 {
            n += 1;
            logs.push(audit_log(
                (n, ts + 7_000, INCIDENT_SESSION),
                "BoundaryEnforcer",
                "boundary_enforcement",
                false,
                &["inst_049"],
                json!({"boundary": "none", "actionType": "command_execution", "enforcement_decision": "BLOCKED"}),
                Some(35.0),
            ));
            hooks.push(envelope(
                200_000 + step as u64,
                ts + 8_000,
                INCIDENT_SESSION,
                "npm run build",
                wall,
                true,
                "inst_049: test the user's hypothesis (Tailwind) before another attempt",
            ));
        }
    }
    (logs, hooks)
}

/// Rule-set versions compared by the overhead report: the two instruction sets in the fixtures,
/// identified by the SHA-256 of their RFC 8785 bytes as ingest names them.
pub(crate) const RULE_SET_A: &str =
    "sha256:027d442622b4a98fd1a3788ebec89b952dcb104abfb34c148ebd41ebee64380b";
pub(crate) const RULE_SET_B: &str =
    "sha256:41ad75fa625b5d2df13c23f22b108f268b0514e612e1af0b94f73733f12baa28";

/// 200 native decisions of an in-process evaluator under rule set A, then B (B slower).
fn native_under_rule_sets(rng: &mut Rng) -> Vec<Value> {
    let tools = ["Bash", "Edit", "Write", "Read"];
    (0..200i64)
        .map(|i| {
            let (rule_set, median) = if i < 100 {
                (RULE_SET_A, 2_000.0)
            } else {
                (RULE_SET_B, 2_600.0)
            };
            let tool = tools[(rng.next() % 4) as usize];
            let deny = rng.next().is_multiple_of(10);
            json!({
                "decision_id": format!("decide-{i:04}"),
                "ts_us": (OCT_7_MS + 20 * 86_400_000 + i * 30_000) * 1000,
                "decision": if deny { "deny" } else { "allow" },
                "engine": "govtrail",
                "service": "govtrail.decide",
                "platform": "claude-code",
                "session_id": format!("2025-10-27-00{}", 2 + i / 100),
                "tool_name": tool,
                "rule_set": rule_set,
                "rule_ids": if deny { json!(["inst_038"]) } else { json!([]) },
                "overhead_us": (median * (0.25 * rng.normal()).exp()).round() as i64,
                "overhead_source": "govtrail.decide.eval",
                "model": if i % 3 == 0 { "claude-opus-4" } else { "claude-sonnet-4" }
            })
        })
        .collect()
}

/// The generated records as NDJSON per format: (Tractatus audit logs, hook envelopes,
/// native records).
pub(crate) fn generated() -> (String, String, String) {
    let mut rng = Rng::new(0x6f76_7472_6169_6c21);
    let mut logs = service_logs(&mut rng);
    let mut hooks = bash_validations(&mut rng);
    let (l, h) = incident_session(&mut rng);
    logs.extend(l);
    hooks.extend(h);
    let native = native_under_rule_sets(&mut rng);
    let nd = |v: Vec<Value>| v.iter().map(|v| v.to_string() + "\n").collect::<String>();
    (nd(logs), nd(hooks), nd(native))
}

/// Every decision of the golden ledger, in append order.
pub(crate) fn decisions() -> Vec<schemas::Decision> {
    let mut out = Vec::new();
    for f in FIXTURES {
        let path = repo_root().join("tests/fixtures").join(f);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.extend(normalise(&bytes, None, f));
    }
    let (logs, hooks, native) = generated();
    out.extend(normalise(
        logs.as_bytes(),
        Some(Format::Tractatus),
        "generated audit logs",
    ));
    out.extend(normalise(
        hooks.as_bytes(),
        Some(Format::GovtrailHook),
        "generated hook envelopes",
    ));
    out.extend(normalise(
        native.as_bytes(),
        Some(Format::Native),
        "generated native records",
    ));
    out
}

/// Builds the golden ledger in `dir`: 256-record segments, the last records left unsealed.
pub(crate) fn build(dir: &Path) {
    let signer = NoteSigner::from_seed("example.org/govtrail-query-golden", [7; 32]);
    let mut ledger = Ledger::create(dir, signer, 256).unwrap();
    let records: Vec<Record> = decisions()
        .iter()
        .enumerate()
        .map(|(i, d)| Record::from_decision(d, &i).unwrap())
        .collect();
    for chunk in records.chunks(100) {
        ledger.append_batch(chunk).unwrap();
    }
}

/// A golden ledger shared by the tests of one run (built once).
pub(crate) fn golden_ledger() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        dir
    })
    .path()
}
