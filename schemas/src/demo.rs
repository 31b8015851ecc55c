//! A realistic, seeded demo trail (`govtrail demo`, the benchmarks): Claude Code tool calls
//! gated by Tractatus-shaped services, as native NDJSON records (docs/RECORD.md).
//!
//! What it holds, so that every report and dashboard page has something to show:
//! - sessions of 250 records, 20 at a time interleaved, each with one platform and model;
//! - gates (`PreToolUse`, with the hook payload as `input`, so replay re-decides them) by
//!   `BashCommandValidator`, `BoundaryEnforcer`, `CrossReferenceValidator` and
//!   `MetacognitiveVerifier`, each with its own overhead distribution (log-normal);
//! - what happened after each gate (`PostToolUse`, `PostToolUseFailure`, `PermissionDenied`,
//!   keyed by `tool_use_id`), including denied calls that ran anyway (divergences);
//! - `ContextPressureMonitor` readings rising through each session;
//! - two rule-set versions, `tractatus-2026.11` then `tractatus-2026.12` (stricter, slower),
//!   for the comparison;
//! - incidents (CSV) in sessions where a denied call ran, naming the rule that denied it.
//!
//! The same seed and count give the same records.

/// Records per session.
pub const SESSION_RECORDS: u64 = 250;
/// Sessions open at once.
const INTERLEAVE: u64 = 20;
/// Records of a session emitted in one run before the next session's.
const RUN: u64 = 5;
/// The first record's time (2026-11-02T09:00:00Z), µs.
const START_US: i64 = 1_793_610_000_000_000;
/// Time between records, µs (about a week per 100,000 records).
const STEP_US: i64 = 6_000_000;

/// The two rule-set versions.
pub const RULE_SETS: [&str; 2] = ["tractatus-2026.11", "tractatus-2026.12"];

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A standard normal value (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn pick<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|i| i.1).sum();
        let mut at = (self.next() % u64::from(total)) as u32;
        for (item, w) in items {
            if at < *w {
                return *item;
            }
            at -= w;
        }
        items[0].0
    }
}

const COMMANDS: [(&str, u32); 8] = [
    ("git status --short", 20),
    ("cargo test -p ledger", 15),
    ("npm run build", 10),
    ("ls -la src", 15),
    ("git diff HEAD~1 -- src/lib.rs", 10),
    ("grep -rn TODO src", 12),
    ("rm -rf /home/dev/app/target", 6),
    ("git push --force origin main", 4),
];
const FILES: [(&str, u32); 6] = [
    ("/home/dev/app/src/lib.rs", 30),
    ("/home/dev/app/src/server.js", 20),
    ("/home/dev/app/public/index.html", 15),
    ("/home/dev/app/README.md", 20),
    ("/home/dev/app/.claude/instruction-history.json", 3),
    ("/home/dev/app/docs/guide.md", 12),
];
const CONTENTS: [(&str, u32); 3] = [
    ("fn main() {\n    println!(\"hello\");\n}\n", 60),
    ("<div class=\"card\">Status</div>\n", 32),
    ("<script>window.x = 1;</script>\n", 8),
];
const TOOLS: [(&str, u32); 5] = [
    ("Bash", 40),
    ("Edit", 22),
    ("Write", 10),
    ("Read", 18),
    ("Task", 10),
];
const MODELS: [(&str, u32); 3] = [
    ("claude-sonnet-4-5", 60),
    ("claude-opus-4-1", 25),
    ("claude-haiku-4-5", 15),
];
const PLATFORMS: [(&str, u32); 2] = [("claude-code", 85), ("claude-code-sdk", 15)];

/// The session of record `i`, and the record's position in it.
fn place(i: u64) -> (u64, u64) {
    let block = i / (SESSION_RECORDS * INTERLEAVE);
    let within = i % (SESSION_RECORDS * INTERLEAVE);
    let session = block * INTERLEAVE + (within / RUN) % INTERLEAVE;
    let pos = (within / (RUN * INTERLEAVE)) * RUN + within % RUN;
    (session, pos)
}

/// What a session keeps between its records.
#[derive(Debug, Clone)]
struct Session {
    model: &'static str,
    platform: &'static str,
    /// The last gate: tool-use id and decision.
    gate: Option<(String, &'static str)>,
}

/// The demo's records, in order.
#[derive(Debug, Clone)]
pub struct Demo {
    rng: Rng,
    n: u64,
    i: u64,
    sessions: std::collections::HashMap<u64, Session>,
}

impl Demo {
    /// `n` records from `seed`.
    pub fn new(n: u64, seed: u64) -> Self {
        Self {
            rng: Rng(seed),
            n,
            i: 0,
            sessions: std::collections::HashMap::new(),
        }
    }

    /// The session id of session number `s`.
    pub fn session_id(s: u64) -> String {
        format!("demo-{s:05}")
    }

    /// The incidents (CSV, `parse_incidents`'s header): one for every 40th session, in
    /// sessions where a denied `rm -rf` ran anyway, naming the rule that denied it.
    pub fn incidents(n: u64) -> String {
        let mut out = "id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids\n".to_owned();
        let sessions = n.div_ceil(SESSION_RECORDS);
        for (k, s) in (0..sessions).step_by(40).enumerate() {
            let first = (s / INTERLEAVE) * SESSION_RECORDS * INTERLEAVE;
            let ts_us = START_US + (first + SESSION_RECORDS * INTERLEAVE) as i64 * STEP_US;
            out.push_str(&format!(
                "INC-{:03},Build directory removed during a release,{},{},{},{},inst_064;inst_038\n",
                k + 1,
                crate::us_rfc3339(ts_us),
                Self::session_id(s),
                40_000 + 5_000 * (k as i64 % 7),
                30 + 15 * (k as i64 % 5),
            ));
        }
        out
    }

    fn record(&mut self, i: u64) -> String {
        let (s, pos) = place(i);
        let rng = &mut self.rng;
        let session = self.sessions.entry(s).or_insert_with(|| Session {
            model: rng.pick(&MODELS),
            platform: rng.pick(&PLATFORMS),
            gate: None,
        });
        let ts_us = START_US + i as i64 * STEP_US + (rng.next() % 1_000_000) as i64;
        let second_half = i >= self.n / 2;
        let rule_set = RULE_SETS[usize::from(second_half)];
        let sid = Self::session_id(s);
        let common = |decision: &str| {
            format!(
                r#""decision_id":"demo-{i:09}","ts_us":{ts_us},"decision":"{decision}","engine":"tractatus","platform":"{}","session_id":"{sid}","model":"{}","rule_set":"{rule_set}""#,
                session.platform, session.model
            )
        };
        if pos % 25 == 24 {
            // A context-pressure reading, rising through the session.
            let pressure = (pos as f64 / SESSION_RECORDS as f64 * 0.8 + 0.05 * rng.unit()).min(1.0);
            let level = match pressure {
                p if p < 0.3 => "NORMAL",
                p if p < 0.5 => "ELEVATED",
                p if p < 0.7 => "HIGH",
                _ => "CRITICAL",
            };
            let overhead = (1200.0 * (0.4 * rng.normal()).exp()).round() as i64;
            return format!(
                r#"{{{},"service":"ContextPressureMonitor","event":"context_pressure_analysis","rule_ids":["inst_049"],"overhead_us":{overhead},"overhead_source":"tractatus.durationMs","metadata":{{"overall_pressure":{pressure:.3},"pressure_level":"{level}"}}}}"#,
                common(if level == "CRITICAL" { "warn" } else { "allow" })
            );
        }
        if pos % 2 == 1
            && let Some((tool_use_id, gate)) = session.gate.take()
        {
            // What happened to the gated call.
            let u = rng.unit();
            let event = match gate {
                "allow" if u < 0.03 => "PostToolUseFailure",
                "allow" => "PostToolUse",
                "ask" if u < 0.4 => "PermissionDenied",
                "ask" => "PostToolUse",
                // A denied call that ran anyway (a hook bypassed): rare, and what incidents
                // are made of.
                "deny" if s % 40 == 0 || u < 0.02 => "PostToolUse",
                _ => "UserPromptSubmit",
            };
            let tool = if event == "UserPromptSubmit" {
                String::new()
            } else {
                format!(r#","tool_use_id":"{tool_use_id}""#)
            };
            return format!(
                r#"{{{},"service":"ClaudeCodeHooks","event":"{event}"{tool}}}"#,
                common("info")
            );
        }
        let tool = rng.pick(&TOOLS);
        let input = match tool {
            "Bash" => format!(
                r#"{{"command":"{}","description":"step {pos}"}}"#,
                rng.pick(&COMMANDS)
            ),
            "Edit" => format!(
                r#"{{"file_path":"{}","old_string":"a","new_string":{}}}"#,
                rng.pick(&FILES),
                json_string(rng.pick(&CONTENTS))
            ),
            "Write" => format!(
                r#"{{"file_path":"{}","content":{}}}"#,
                rng.pick(&FILES),
                json_string(rng.pick(&CONTENTS))
            ),
            "Read" => format!(r#"{{"file_path":"{}"}}"#, rng.pick(&FILES)),
            _ => r#"{"description":"review the change","prompt":"check the diff"}"#.to_owned(),
        };
        let (service, median_us, rules): (&str, f64, &[&str]) = match tool {
            "Bash" => ("BashCommandValidator", 1800.0, &["inst_038", "inst_064"]),
            "Edit" | "Write" => (
                "BoundaryEnforcer",
                2600.0,
                &["inst_008", "inst_016", "inst_027"],
            ),
            "Read" => ("CrossReferenceValidator", 4200.0, &["inst_016", "inst_017"]),
            _ => ("MetacognitiveVerifier", 9000.0, &["inst_049", "inst_052"]),
        };
        // The simulated policy: destructive commands, inline scripts and the instruction
        // history are stopped; 2026.12 denies a force push that 2026.11 only asked about.
        let (decision, fired): (&'static str, &[&str]) = if input.contains("rm -rf") {
            ("deny", &["inst_064"])
        } else if input.contains("--force") {
            (if second_half { "deny" } else { "ask" }, &["inst_038"])
        } else if input.contains("<script>") {
            ("deny", &["inst_008"])
        } else if input.contains("instruction-history") {
            ("deny", &["inst_027"])
        } else if rng.unit() < 0.004 {
            ("error", &[])
        } else {
            ("allow", &[])
        };
        let slower = if second_half { 1.12 } else { 1.0 };
        let overhead = if rng.next().is_multiple_of(10) {
            String::new()
        } else {
            format!(
                r#","overhead_us":{},"overhead_source":"govtrail.hook.wall""#,
                (median_us * slower * (0.5 * rng.normal()).exp()).round() as i64
            )
        };
        let tool_use_id = format!("toolu_demo_{i:09}");
        let reason = if decision == "allow" {
            String::new()
        } else {
            format!(
                r#","reason":"{service}: {decision} by {}""#,
                fired.join(", ")
            )
        };
        let payload = format!(
            r#"{{"kind":"claude_code","session_id":"{sid}","cwd":"/home/dev/app","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"{tool}","tool_input":{input},"tool_use_id":"{tool_use_id}"}}"#
        );
        session.gate = Some((tool_use_id.clone(), decision));
        let rule_ids: Vec<String> = rules.iter().map(|r| format!("\"{r}\"")).collect();
        let fired: Vec<String> = fired.iter().map(|r| format!("\"{r}\"")).collect();
        format!(
            r#"{{{},"service":"{service}","event":"PreToolUse","tool_name":"{tool}","tool_use_id":"{tool_use_id}","tool_input":{input},"rule_ids":[{}],"rules_fired":[{}]{overhead}{reason},"input":{payload}}}"#,
            common(decision),
            rule_ids.join(","),
            fired.join(","),
        )
    }
}

impl Iterator for Demo {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if self.i >= self.n {
            return None;
        }
        let i = self.i;
        self.i += 1;
        Some(self.record(i))
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_and_repeat_with_the_seed() {
        let a: Vec<String> = Demo::new(2_000, 7).collect();
        assert_eq!(a, Demo::new(2_000, 7).collect::<Vec<_>>());
        let mut decisions = std::collections::BTreeMap::new();
        for line in &a {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            *decisions
                .entry(v["decision"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        for d in ["allow", "deny", "info"] {
            assert!(decisions.get(d).copied().unwrap_or(0) > 10, "{decisions:?}");
        }
        let incidents = crate::parse_incidents(&Demo::incidents(100_000)).unwrap();
        assert_eq!(incidents.len(), 10);
        assert_eq!(crate::us_rfc3339(START_US), "2026-11-02T09:00:00.000Z");
    }

    #[test]
    fn sessions_interleave_and_fill() {
        let mut seen = std::collections::BTreeMap::new();
        for i in 0..SESSION_RECORDS * INTERLEAVE {
            let (s, pos) = place(i);
            assert!(seen.insert((s, pos), i).is_none());
        }
        assert_eq!(seen.len() as u64, SESSION_RECORDS * INTERLEAVE);
        assert!(
            seen.keys()
                .all(|(s, p)| *s < INTERLEAVE && *p < SESSION_RECORDS)
        );
    }
}
