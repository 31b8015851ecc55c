//! `govtrail show`: one decision, its exact record bytes and its inclusion proof.

use std::path::PathBuf;

use anyhow::Result;

use crate::exit;
use crate::query_cmd::{block, print_output};

/// `govtrail show`: one decision.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true)))]
pub(crate) struct ShowArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// The decision's index.
    #[arg(long, group = "which")]
    pub(crate) index: Option<u64>,
    /// The first decision with this id.
    #[arg(long, group = "which")]
    pub(crate) decision_id: Option<String>,
    /// Write the record's exact bytes here (what `verify-proof --record` checks).
    #[arg(long, value_name = "FILE")]
    pub(crate) record_out: Option<PathBuf>,
    /// Write its inclusion proof (C2SP tlog-proof) here.
    #[arg(long, value_name = "FILE")]
    pub(crate) proof_out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// One decision as `show` prints it: where it is, its record, what happened after it.
#[derive(Debug, serde::Serialize)]
struct Shown {
    index: u64,
    record_hash: String,
    /// The newest checkpoint it is proven in.
    checkpoint_size: u64,
    /// The effective outcome (the `effective` view): `ran`, `not_run`, … or null.
    effective: Option<String>,
    /// How the effective outcome diverges from the intended decision, or null.
    divergence: Option<String>,
    record: serde_json::Value,
}

pub(crate) fn show(a: ShowArgs) -> Result<u8> {
    let select = |record: &[u8]| {
        a.decision_id.as_ref().is_some_and(|want| {
            schemas::DecisionView::parse(record).is_ok_and(|v| v.decision_id == *want)
        })
    };
    let proof = ledger::prove(&a.ledger, a.index, &select)?;
    let (_, bytes, hash) = ledger::record_at(&a.ledger, proof.index)?;
    let proof = proof.named(&bytes);
    if let Some(path) = &a.record_out {
        ledger::write_output(path, &bytes)?;
    }
    if let Some(path) = &a.proof_out {
        ledger::write_output(path, proof.to_text().as_bytes())?;
    }
    // The `effective` view read for the record's own session only.
    let session = schemas::DecisionView::parse(&bytes)
        .ok()
        .and_then(|v| v.session_id.map(|s| s.into_owned()));
    let (effective, divergence) = match session {
        Some(sid) => {
            let trail = block(query::Trail::open(&a.ledger))??;
            let index = i64::try_from(proof.index).unwrap_or(i64::MAX);
            block(query::report::rca::effective_of(&trail, &sid, index))??.unwrap_or_default()
        }
        None => (None, None),
    };
    let shown = Shown {
        index: proof.index,
        record_hash: ledger::hash::hex(&hash),
        checkpoint_size: proof.checkpoint.checkpoint.size,
        effective,
        divergence,
        record: serde_json::from_slice(&bytes)?,
    };
    print_output(a.json, &shown, || {
        let mut t = format!(
            "index:        {}\nrecord hash:  {}\nproven in:    checkpoint of size {}{}\neffective:    {}{}\n",
            shown.index,
            shown.record_hash,
            shown.checkpoint_size,
            a.proof_out
                .as_ref()
                .map(|p| format!(" (proof written to {})", p.display()))
                .unwrap_or_default(),
            shown.effective.as_deref().unwrap_or("-"),
            shown
                .divergence
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
        );
        if let Some(p) = &a.record_out {
            t.push_str(&format!("record bytes: written to {}\n", p.display()));
        }
        t.push_str(&serde_json::to_string_pretty(&shown.record).unwrap_or_default());
        t
    })?;
    Ok(exit::OK)
}
