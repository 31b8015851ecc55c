//! Verification of an evidence pack (LEDGER-FORMAT.md §12): its one segment from the tree
//! state in its manifest, then the consistency proof from the segment's end to the pack's
//! checkpoint.
//!
//! Invariant: a pack is verified only when the caller asks for one; a ledger directory is
//! never treated as a pack.

use std::path::Path;

use super::report::{FailureClass, Report, Step, VerifyOptions, fail, transition_failure};
use super::run::Run;
use super::segments::verify_segment;
use super::{Sink, require_keys};
use crate::checkpoint::SignedCheckpoint;
use crate::merkle::Frontier;
use crate::{Error, Result};

/// Verifies an evidence pack (LEDGER-FORMAT.md §12): its one segment from the tree state in
/// the manifest, then the consistency proof to its checkpoint. The caller asks for a pack:
/// [`verify`](super::verify) never treats a directory as one, so that a file dropped into a ledger cannot
/// narrow what is verified.
pub fn verify_evidence(dir: &Path, opts: &VerifyOptions) -> Result<Report> {
    if dir.join(crate::CONFIG_FILE).exists() {
        return Err(Error::NotAnEvidencePack {
            dir: dir.to_path_buf(),
        });
    }
    if !opts.anchors.is_empty() {
        return Err(Error::AnchorsWithEvidencePack);
    }
    require_keys(opts)?;
    let manifest_path = dir.join(crate::evidence::EVIDENCE_FILE);
    let mut report = Report::new(String::new(), 1);
    let pack = match crate::evidence::open_pack(dir)? {
        Ok(p) => p,
        Err(detail) => {
            report.failure = Some(fail(
                FailureClass::Corrupt,
                None,
                Some(&manifest_path),
                detail,
            ));
            return Ok(report);
        }
    };
    let m = &pack.manifest;
    report.origin = m.origin.clone();
    report.from = m.from;
    report.verified = m.from;
    let Some(frontier) = Frontier::from_parts(m.from, m.peaks.clone()) else {
        report.failure = Some(fail(
            FailureClass::Corrupt,
            None,
            Some(&manifest_path),
            format!(
                "{} peaks do not fit a tree of size {}",
                m.peaks.len(),
                m.from
            ),
        ));
        return Ok(report);
    };
    let mut run = Run::new(&m.origin, opts, frontier, m.chain);
    let step = (|| -> Result<Step> {
        if let Some(want) = opts.origin.as_ref().filter(|w| **w != m.origin) {
            return Ok(Err(fail(
                FailureClass::OriginMismatch,
                None,
                Some(&manifest_path),
                format!(
                    "the pack's origin is {:?}, the auditor expects {want:?}",
                    m.origin
                ),
            )));
        }
        if let Err(f) = run.policy.apply_transitions(dir, &m.origin)? {
            return Ok(Err(transition_failure(f)));
        }
        let (cp_path, cp_bytes) = &pack.checkpoint;
        let before = run.untrusted_seen.len();
        if let Err(f) = run.add_checkpoint(cp_bytes, "checkpoint.note", Some(cp_path), false) {
            return Ok(Err(f));
        }
        let cp = match SignedCheckpoint::parse(cp_bytes) {
            Ok(cp) if run.untrusted_seen.len() == before => cp.checkpoint,
            _ => {
                return Ok(Err(fail(
                    FailureClass::Untrusted,
                    Some(m.from),
                    Some(cp_path),
                    format!(
                        "checkpoint.note is not trusted: {}. Either the keys given are not the log's at that size (a wrong key, or an old key after a rotation), or the pack's checkpoint was replaced",
                        run.untrusted_seen.join("; ")
                    ),
                )));
            }
        };
        if cp.size != m.size {
            return Ok(Err(fail(
                FailureClass::Corrupt,
                None,
                Some(&manifest_path),
                format!(
                    "the manifest says size {}, checkpoint.note has {}",
                    m.size, cp.size
                ),
            )));
        }
        let mut sink = Sink::none();
        if let Err(f) = verify_segment(&mut run, m.from, m.to, &pack.segment, None, &mut sink)? {
            return Ok(Err(f));
        }
        let root_to = run.frontier.root();
        if m.to < cp.size {
            if !crate::merkle::verify_consistency(m.to, cp.size, &root_to, &cp.root, &m.consistency)
            {
                return Ok(Err(fail(
                    FailureClass::RootMismatch,
                    Some(m.from),
                    Some(&manifest_path),
                    format!(
                        "the recomputed root of size {} does not lead to checkpoint.note's root (size {}) by the manifest's consistency proof",
                        m.to, cp.size
                    ),
                )));
            }
            run.verified = m.to;
            run.checkpoint = Some(cp);
            run.checkpoints_checked += 1;
        }
        Ok(Ok(()))
    })()?;
    Ok(run.into_report(report, step.err()))
}
