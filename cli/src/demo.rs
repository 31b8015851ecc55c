//! `govtrail demo`: a realistic demo ledger (`schemas::demo`), verified, served with its
//! dashboard on loopback.
//!
//! ```text
//! DIR/ledger            the ledger (sealed segments of 65,536 records; 1,048,576 from 8M)
//! DIR/ledger.key        its signing key (0600)        DIR/ledger.vkey   its public key
//! DIR/ledger.server/    the server's state: tokens.json, verify.json (the run below),
//!                       roi/incidents.csv and roi/cost.json (the ROI page's inputs)
//! DIR/admin.token       a token with the admin scope (0600)   DIR/read.token  read only
//! DIR/bundles/tractatus the example rule bundle, for the Replay page
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use ledger::{Ledger, NoteSigner, Record, VerifyOptions};

use crate::args::DemoArgs;
use crate::{exit, keys, verify_cmd};

/// The example bundle's files, compiled in (the binary builds the demo anywhere).
const BUNDLE: &[(&str, &str)] = &[
    (
        ".manifest",
        include_str!("../../examples/bundles/tractatus/.manifest"),
    ),
    (
        "README.md",
        include_str!("../../examples/bundles/tractatus/README.md"),
    ),
    (
        "govtrail/decision.rego",
        include_str!("../../examples/bundles/tractatus/govtrail/decision.rego"),
    ),
    (
        "tractatus/boundary.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/boundary.rego"),
    ),
    (
        "tractatus/classifier.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/classifier.rego"),
    ),
    (
        "tractatus/crossref.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/crossref.rego"),
    ),
    (
        "tractatus/hooks.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/hooks.rego"),
    ),
    (
        "tractatus/lib.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/lib.rego"),
    ),
    (
        "tractatus/pressure.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/pressure.rego"),
    ),
    (
        "tractatus/verifier.rego",
        include_str!("../../examples/bundles/tractatus/tractatus/verifier.rego"),
    ),
    (
        "tractatus/config/data.json",
        include_str!("../../examples/bundles/tractatus/tractatus/config/data.json"),
    ),
    (
        "tractatus/instructions/data.json",
        include_str!("../../examples/bundles/tractatus/tractatus/instructions/data.json"),
    ),
    (
        "tractatus/rules/data.json",
        include_str!("../../examples/bundles/tractatus/tractatus/rules/data.json"),
    ),
];

/// The ROI page's prices: tokens at 15 per million, a person's minute at 1.50 (USD).
const COST: &str = r#"{"currency": "USD", "micros_per_token": 15, "micros_per_minute": 1500000}"#;

/// Records per sealed segment: small enough that the default demo has sealed segments (and so
/// summaries, seal notes, pruning), and the writer's default (1,048,576) for large demos.
fn segment_records(n: u64) -> u64 {
    if n >= 8 << 20 { 1 << 20 } else { 1 << 16 }
}

const EXAMPLE_DECISIONS: &str = include_str!("../../examples/decisions.ndjson");

/// `govtrail demo --examples [DIR]`: the shipped example decisions, verified.
fn examples(dir: PathBuf) -> Result<u8> {
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
    Ok(exit::of_verdict(report.verdict()))
}

/// `govtrail demo [DIR]`.
pub(crate) fn run(a: DemoArgs) -> Result<u8> {
    let dir = a.dir.clone().unwrap_or_else(fresh_demo_dir);
    if a.examples {
        return examples(dir);
    }
    if dir.exists()
        && fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{}: exists and is not empty; give a new directory",
            dir.display()
        );
    }
    ledger::create_private_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let ledger_dir = dir.join("ledger");
    let state_dir = dir.join("ledger.server");
    let key_path = dir.join("ledger.key");
    let signer = NoteSigner::generate("demo.govtrail.example/ledger")?;
    ledger::write_new_private(&key_path, format!("{}\n", signer.to_text()).as_bytes())?;
    let vkey = signer.verifier();
    let vkey_path = keys::with_suffix(&ledger_dir, "vkey");
    fs::write(&vkey_path, format!("{vkey}\n"))
        .with_context(|| format!("write {}", vkey_path.display()))?;

    let started = std::time::Instant::now();
    eprintln!("govtrail demo: generating {} decisions…", a.decisions);
    build(&ledger_dir, signer, a.decisions, a.seed)?;
    println!(
        "demo ledger {}: {} decisions in sealed segments of {} records ({:.1} s)",
        ledger_dir.display(),
        a.decisions,
        segment_records(a.decisions),
        started.elapsed().as_secs_f64()
    );

    // The verification the dashboard's overview shows (the server's last run).
    let started_us = ledger::spool::now_us();
    let report = ledger::verify(&ledger_dir, &VerifyOptions::new(vec![vkey]))?;
    verify_cmd::print_report(&report, false);
    let run = serde_json::json!({
        "started_us": started_us, "finished_us": ledger::spool::now_us(), "report": report,
    });
    ledger::create_private_dir_all(&state_dir.join("roi"))?;
    ledger::write_replace_private(
        &state_dir.join("verify.json"),
        &serde_json::to_vec_pretty(&run)?,
    )?;
    ledger::write_replace_private(
        &state_dir.join("roi/incidents.csv"),
        schemas::demo::Demo::incidents(a.decisions).as_bytes(),
    )?;
    ledger::write_replace_private(&state_dir.join("roi/cost.json"), COST.as_bytes())?;
    let bundles = dir.join("bundles");
    for (path, text) in BUNDLE {
        let to = bundles.join("tractatus").join(path);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        fs::write(&to, text).with_context(|| format!("write {}", to.display()))?;
    }
    let tokens = state_dir.join("tokens.json");
    for (name, scope) in [
        ("admin", web::auth::Scope::Admin),
        ("read", web::auth::Scope::Read),
    ] {
        let (_, token) = web::auth::create(&tokens, &format!("demo {name}"), &[scope])?;
        ledger::write_new_private(
            &dir.join(format!("{name}.token")),
            format!("{token}\n").as_bytes(),
        )?;
    }
    println!(
        "verify it again with: govtrail verify {} --pubkey {}",
        ledger_dir.display(),
        vkey_path.display()
    );
    if a.no_serve {
        return Ok(exit::of_verdict(report.verdict()));
    }
    println!(
        "log in to the dashboard with the admin token in {} (or the read-only one in {})",
        dir.join("admin.token").display(),
        dir.join("read.token").display()
    );
    println!("serving until Ctrl-C");
    crate::serve::serve(crate::serve::ServeArgs {
        ledger: ledger_dir,
        key: key_path,
        listen: a.listen,
        tokens: Some(tokens),
        state_dir: Some(state_dir),
        max_body: 20 << 20,
        max_concurrent: 64,
        query_memory_mib: 96,
        body_timeout: 30,
        header_timeout: 30,
        bundle: None,
        replay_bundles: Some(bundles),
        fail_open: false,
        decide_budget_ms: 1000,
        spool: None,
        tls_cert: None,
        tls_key: None,
        stable_every: 60,
    })
}

/// Appends the generator's records in batches and seals the ledger.
fn build(dir: &Path, signer: NoteSigner, n: u64, seed: u64) -> Result<()> {
    let mut ledger = Ledger::create(dir, signer, segment_records(n))?;
    let mut records_of = schemas::demo::Demo::new(n, seed);
    let opts = schemas::ingest::Options {
        format: Some(schemas::ingest::Format::Native),
        ..schemas::ingest::Options::default()
    };
    loop {
        let chunk: Vec<String> = records_of.by_ref().take(16_384).collect();
        if chunk.is_empty() {
            break;
        }
        let text = chunk.join("\n");
        let got = schemas::ingest::ingest(text.as_bytes(), &opts);
        if let Some(r) = got.rejected.first() {
            bail!("the demo generator made a record ingest rejects: {r:?}");
        }
        let records = got
            .records
            .iter()
            .map(|(line, d)| Record::from_decision(d, line))
            .collect::<Result<Vec<_>, _>>()?;
        ledger.append_batch(&records)?;
    }
    ledger.seal()?;
    Ok(())
}

fn fresh_demo_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("govtrail-demo-{}-{nanos}", std::process::id()))
}
