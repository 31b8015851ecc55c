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
