//! The auditor's commands: `verify`, `checkpoint`, `inspect`, `prove`, `verify-proof`,
//! `witness`, `export-evidence`. Verdicts map to exit codes in `exit.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use ledger::{Report, TrustPolicy, VerifyOptions};

use crate::args::{
    CheckpointArgs, ExportEvidenceArgs, InspectArgs, ProveArgs, VerifyArgs, VerifyProofArgs,
    WitnessArgs,
};
use crate::exit;
use crate::keys::{read_key, trust_policy};

/// `govtrail verify`.
pub(crate) fn verify(a: VerifyArgs) -> Result<u8> {
    let mut opts = VerifyOptions::new(Vec::new());
    opts.policy = trust_policy(&a.pubkeys, a.policy.as_deref())?;
    opts.origin = a.origin;
    for path in anchor_files(&a.anchors)? {
        let bytes = fs::read(&path).with_context(|| format!("read anchor {}", path.display()))?;
        opts.anchors.push((path.display().to_string(), bytes));
    }
    let report = if a.evidence {
        ledger::verify_evidence(&a.ledger, &opts)?
    } else {
        // A bar on a terminal (indicatif draws nothing when stderr is not one).
        let total = ledger::inspect(&a.ledger).map_or(0, |i| i.records());
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        )
        .with_style(
            indicatif::ProgressStyle::with_template(
                "verifying [{bar:30}] {human_pos}/{human_len} records {per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let report = ledger::verify_progress(&a.ledger, &opts, |done| bar.set_position(done));
        bar.finish_and_clear();
        report?
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report, a.evidence);
    }
    Ok(exit::of_verdict(report.verdict()))
}

/// `govtrail checkpoint`: the latest signed checkpoint, not verified.
pub(crate) fn checkpoint(a: CheckpointArgs) -> Result<u8> {
    let inspection = ledger::inspect(&a.ledger)?;
    let Some(cp) = inspection.latest else {
        bail!("ledger {} has no checkpoint yet", a.ledger.display());
    };
    print!("{}", cp.bytes);
    Ok(exit::OK)
}

/// `govtrail prove`: an inclusion proof, or with `--consistency-from` a consistency proof.
pub(crate) fn prove(a: ProveArgs) -> Result<u8> {
    if let Some(old) = a.consistency_from {
        print!("{}", ledger::prove_consistency(&a.ledger, old)?.to_text());
        return Ok(exit::OK);
    }
    let select = |record: &[u8]| {
        a.decision_id.as_ref().is_some_and(|want| {
            schemas::DecisionView::parse(record).is_ok_and(|v| v.decision_id == *want)
        })
    };
    let proof = ledger::prove(&a.ledger, a.index, &select)?;
    // The file names the decision it proves (its record read back by index).
    let (_, record, _) = ledger::record_at(&a.ledger, proof.index)?;
    print!("{}", proof.named(&record).to_text());
    Ok(exit::OK)
}

/// `govtrail verify-proof`.
pub(crate) fn verify_proof(a: VerifyProofArgs) -> Result<u8> {
    let trusted = trust_policy(&a.pubkeys, a.policy.as_deref())?;
    let proof = &a.proof;
    let text = fs::read(proof).with_context(|| format!("read {}", proof.display()))?;
    if text.starts_with(b"old ") {
        return verify_consistency_file(proof, &text, &trusted, a.anchor.as_deref());
    }
    let parsed = match ledger::InclusionProof::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            println!("proof {}: not a valid tlog-proof: {e}", proof.display());
            return Ok(exit::TAMPERED);
        }
    };
    let record = match &a.record {
        Some(path) => Some(fs::read(path).with_context(|| format!("read {}", path.display()))?),
        None => None,
    };
    match parsed.verify(&trusted, record.as_deref()) {
        Ok(()) => {
            let cp = &parsed.checkpoint.checkpoint;
            // With the record given, name the decision it proves; without, the name the
            // proof gives, which nothing checked.
            let named = match (record.as_deref(), &parsed.decision_id) {
                (Some(r), _) => schemas::DecisionView::parse(r)
                    .map(|v| format!(" (decision_id {:?})", v.decision_id))
                    .unwrap_or_default(),
                (None, Some(id)) => {
                    format!(" (named decision_id {id:?}: give --record to check the name)")
                }
                (None, None) => String::new(),
            };
            println!(
                "ok: record {}{named} is in {} at size {} (root {})",
                parsed.index,
                cp.origin,
                cp.size,
                ledger::hash::hex(&cp.root)
            );
            Ok(exit::OK)
        }
        Err(e) => {
            println!("proof {} FAILS: {e}", proof.display());
            // A record file saved with a trailing newline (an editor, `echo`) is not the
            // record's bytes: say so when that is the only difference.
            if let Some(r) = &record
                && let Some(stripped) = r.strip_suffix(b"\n")
                && parsed.verify(&trusted, Some(stripped)).is_ok()
            {
                eprintln!(
                    "govtrail: hint: the record file ends in a newline the record does not have; \
                     write the exact bytes (`govtrail show LEDGER --index {} --record-out FILE`) \
                     or strip it",
                    parsed.index
                );
            }
            Ok(exit::TAMPERED)
        }
    }
}

/// `govtrail witness`.
pub(crate) fn witness(a: WitnessArgs) -> Result<u8> {
    let key = read_key(&a.key)?;
    let policy = trust_policy(&a.log_keys, None)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let out = match (&a.ledger, &a.request) {
        (Some(dir), _) => ledger::witness_ledger(dir, &key, &policy, &a.state, now)?,
        (None, Some(req)) => {
            let text = fs::read(req).with_context(|| format!("read {}", req.display()))?;
            let parsed = ledger::ConsistencyProof::parse(&text).map_err(|e| {
                anyhow::anyhow!("{}: not a consistency-proof file: {e}", req.display())
            })?;
            ledger::witness(&key, &policy, &a.state, &parsed, now)?
        }
        (None, None) => bail!("give a ledger directory or --request FILE"),
    };
    if out.first_seen {
        eprintln!(
            "witness {}: no state yet, trusting the first checkpoint seen (size {})",
            key.name(),
            out.cosigned.checkpoint.size
        );
    }
    eprintln!(
        "cosigned size {} (consistent with size {} seen before)",
        out.cosigned.checkpoint.size, out.old_size
    );
    print!("{}", out.line);
    Ok(exit::OK)
}

/// `govtrail export-evidence`.
pub(crate) fn export_evidence(a: ExportEvidenceArgs) -> Result<u8> {
    let m = ledger::export_evidence(&a.ledger, a.from, a.to, &a.out)?;
    println!(
        "wrote {}: records [{}, {}) proven against checkpoint size {}",
        a.out.display(),
        m.from,
        m.to,
        m.size
    );
    Ok(exit::OK)
}

fn verify_consistency_file(
    path: &Path,
    text: &[u8],
    policy: &TrustPolicy,
    anchor: Option<&Path>,
) -> Result<u8> {
    let Some(anchor) = anchor else {
        bail!("a consistency proof is checked against a trusted older checkpoint: give --anchor");
    };
    let bytes = fs::read(anchor).with_context(|| format!("read {}", anchor.display()))?;
    let old = ledger::SignedCheckpoint::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("anchor {}: {e}", anchor.display()))?;
    if let Err(e) = policy.check_checkpoint(&old) {
        println!("anchor {} is not trusted: {e}", anchor.display());
        return Ok(exit::TAMPERED);
    }
    let parsed = match ledger::ConsistencyProof::parse(text) {
        Ok(p) => p,
        Err(e) => {
            println!(
                "proof {}: not a valid consistency proof: {e}",
                path.display()
            );
            return Ok(exit::TAMPERED);
        }
    };
    match parsed.verify(policy, &old.checkpoint) {
        Ok(()) => {
            println!(
                "ok: size {} extends the anchor's size {} ({})",
                parsed.checkpoint.checkpoint.size, old.checkpoint.size, old.checkpoint.origin
            );
            Ok(exit::OK)
        }
        Err(e) => {
            println!("proof {} FAILS: {e}", path.display());
            Ok(exit::TRUNCATED_OR_FORKED)
        }
    }
}

/// Anchor arguments: files, or directories whose `*.note` files are all anchors (an auditor's
/// folder of saved checkpoints).
fn anchor_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut notes: Vec<PathBuf> = fs::read_dir(arg)
                .with_context(|| format!("list anchors in {}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "note"))
                .collect();
            if notes.is_empty() {
                bail!(
                    "--anchor {}: the directory holds no .note files",
                    arg.display()
                );
            }
            notes.sort();
            out.extend(notes);
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

/// The report as text: origin, what was read and checked, the horizon, the verdict.
/// An evidence pack (`pack`) holds one segment and no write-ahead log.
pub(crate) fn print_report(report: &Report, pack: bool) {
    let horizon = match &report.checkpoint {
        Some(c) => format!(
            "indices [{}, {}) complete and unaltered as of checkpoint {} (root {})",
            report.from,
            report.verified,
            c.size,
            ledger::hash::hex(&c.root)
        ),
        None => "no record is verified".to_owned(),
    };
    println!("origin:   {}", report.origin);
    let read = report.records.saturating_sub(report.from);
    println!(
        "read:     {read} record{} [{}, {}) in {} segment{}{}",
        if read == 1 { "" } else { "s" },
        report.from,
        report.records,
        report.segments,
        if report.segments == 1 { "" } else { "s" },
        if pack {
            " (an evidence pack)"
        } else {
            " and the write-ahead log"
        },
    );
    println!(
        "checked:  {} trusted checkpoints, {} anchors",
        report.checkpoints_checked, report.anchors_checked
    );
    println!("verified: {horizon}");
    for (p, r) in &report.unvouched {
        println!(
            "unvouched: {} ({}): queries read it in full, its skip structures are not vouched for by the seal note",
            p.display(),
            r.as_str()
        );
    }
    for t in &report.torn {
        println!(
            "torn:     {} ends in {} bytes that are not a whole frame, from byte {} ({}): a commit that was interrupted and never acknowledged; not counted",
            t.path.display(),
            t.bytes,
            t.offset,
            t.reason
        );
    }
    match &report.failure {
        None => println!("status:   ok"),
        Some(f) => {
            println!(
                "status:   {} ({})",
                f.class.verdict().as_str().to_uppercase(),
                f.class.as_str()
            );
            if let Some(i) = f.index {
                println!("index:    {i}");
            }
            if let Some(p) = &f.path {
                println!("file:     {}", p.display());
            }
            println!("detail:   {}", f.detail);
        }
    }
}

/// `govtrail inspect`.
pub(crate) fn inspect(a: InspectArgs) -> Result<u8> {
    let (dir, json) = (a.ledger.as_path(), a.json);

    let ins = ledger::inspect(dir)?;
    if json {
        println!("{}", serde_json::to_string(&ins)?);
        return Ok(exit::OK);
    }
    println!(
        "ledger {} (format {}, origin {})",
        dir.display(),
        ins.config.format,
        ins.config.origin
    );
    println!("records: {}", ins.records());
    for s in &ins.segments {
        println!(
            "segment [{}, {})  {} bytes  {}",
            s.start,
            s.end,
            s.size_bytes,
            s.path.display()
        );
    }
    for w in &ins.wals {
        println!(
            "wal     [{}, {})  {} bytes  {}",
            w.start,
            w.start + w.committed,
            w.size_bytes,
            w.path.display()
        );
    }
    println!("checkpoint files: {}", ins.checkpoint_files);
    if let Some(cp) = &ins.latest {
        println!("latest checkpoint: size {}", cp.checkpoint.size);
    }
    Ok(exit::OK)
}
