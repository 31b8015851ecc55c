//! Shared inputs for govtrail's benchmarks: seeded decision records of realistic size.

use ledger::{Ledger, NoteSigner, Record};

/// A decision record of about 400 bytes for index `i`.
pub fn decision_json(i: u64) -> String {
    let decision = ["allow", "deny", "ask", "allow", "allow"][(i % 5) as usize];
    format!(
        r#"{{"decision_id":"bench-{i:012}","ts_us":{},"decision":"{decision}","engine":"tractatus","platform":"claude-code","service":"BoundaryEnforcer","session_id":"session-{}","tool_name":"Bash","tool_input":{{"command":"git status --short && cargo test -p module{}"}},"rule_ids":["inst_016","inst_017","inst_0{}"],"rule_set":"instructions-v4.4","overhead_us":{},"model":"claude-sonnet","metadata":{{"boundary":"none","pressure":0.{}}}}}"#,
        1_760_000_000_000_000 + i * 997,
        i / 50,
        i % 13,
        i % 90 + 10,
        65_000 + (i * 7919) % 220_000,
        i % 97
    )
}

/// A Tractatus `auditLogs` document as `mongoexport` writes it (relaxed Extended JSON v2),
/// shaped like tests/fixtures/tractatus/derived-from-code/auditLogs.mongoexport.derived.jsonl.
pub fn mongoexport_json(i: u64) -> String {
    let ms = 1_761_362_347_261u64 + i * 37;
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let ts = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    );
    let allowed = !i.is_multiple_of(7);
    format!(
        r#"{{"_id":{{"$oid":"68fc3a10c1d2e3f4{i:08x}"}},"sessionId":"2025-10-07-{:03}","action":"boundary_enforcement","allowed":{allowed},"rulesChecked":["inst_016","inst_017","inst_018"],"violations":[],"metadata":{{"boundary":"none","domain":"TECHNICAL_IMPLEMENTATION","requirementType":"{}","actionType":"file_edit","enforcement_decision":"{}"}},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"BoundaryEnforcer","userId":null,"ipAddress":null,"userAgent":null,"timestamp":{{"$date":"{ts}"}},"createdAt":{{"$date":"{ts}"}},"updatedAt":{{"$date":"{ts}"}},"__v":0}}"#,
        i / 40,
        if allowed { "NONE" } else { "MANDATORY" },
        if allowed { "ALLOWED" } else { "BLOCKED" },
    )
}

/// `n` canonical records.
pub fn records(n: u64) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::from_json(decision_json(i).as_bytes(), &i).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// The benchmark signer.
pub fn signer() -> NoteSigner {
    NoteSigner::from_seed("bench.govtrail.example/ledger", [5; 32])
}

/// Appends `records` in commits of `batch` to a new ledger at `dir` and seals it.
pub fn append_all(dir: &std::path::Path, records: &[Record], batch: usize) -> Ledger {
    let mut l = Ledger::create(dir, signer(), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
    for chunk in records.chunks(batch) {
        l.append_batch(chunk).unwrap_or_else(|e| panic!("{e}"));
    }
    l.seal().unwrap_or_else(|e| panic!("{e}"));
    l
}

/// A seeded generator (xorshift64*) for benchmark inputs.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// A value picked with probability proportional to its weight.
    pub fn pick<'a, T>(&mut self, weighted: &'a [(T, u32)]) -> &'a T {
        let total: u32 = weighted.iter().map(|w| w.1).sum();
        let mut r = (self.next_u64() % u64::from(total)) as u32;
        for (v, w) in weighted {
            if r < *w {
                return v;
            }
            r -= w;
        }
        &weighted[0].0
    }
}
