//! `govtrail demo`: a small ledger from the shipped example decisions, verified.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use ledger::{Ledger, NoteSigner, Record, VerifyOptions};

use crate::args::DemoArgs;
use crate::{exit, keys, verify_cmd};

const EXAMPLE_DECISIONS: &str = include_str!("../../examples/decisions.ndjson");

/// `govtrail demo [DIR]`.
pub(crate) fn run(a: DemoArgs) -> Result<u8> {
    let dir = a.dir.unwrap_or_else(fresh_demo_dir);
    let signer = NoteSigner::generate("demo.govtrail.example/ledger")?;
    let vkey = signer.verifier();
    let mut ledger = Ledger::create(&dir, signer, 4)?;
    let mut records = Vec::new();
    for (i, line) in EXAMPLE_DECISIONS.lines().enumerate() {
        records.push(Record::from_json(
            line.as_bytes(),
            &format_args!("examples/decisions.ndjson:{}", i + 1),
        )?);
    }
    for r in &records {
        ledger.append(r)?;
    }
    drop(ledger);
    let vkey_path = keys::with_suffix(&dir, "vkey");
    fs::write(&vkey_path, format!("{vkey}\n"))
        .with_context(|| format!("write {}", vkey_path.display()))?;
    println!(
        "demo ledger {}: {} example decisions in 4-record segments plus the write-ahead log",
        dir.display(),
        records.len()
    );
    println!(
        "trusted key written to {} (outside the ledger)",
        vkey_path.display()
    );
    let report = ledger::verify(&dir, &VerifyOptions::new(vec![vkey]))?;
    verify_cmd::print_report(&report, false);
    println!(
        "verify it again with: govtrail verify {} --pubkey {}",
        dir.display(),
        vkey_path.display()
    );
    Ok(exit::of_verdict(report.verdict()))
}

fn fresh_demo_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("govtrail-demo-{}-{nanos}", std::process::id()))
}
