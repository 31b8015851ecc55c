//! The state of one verification run ([`Run`]) and the checks every checkpoint and record
//! passes through: a checkpoint counts only when the trust policy accepts it for the ledger's
//! origin ([`Run::add_checkpoint`]); each record's bytes must give its stored hashes and extend
//! the chain ([`check_record`]); and at each trusted checkpoint's size the recomputed tree
//! root must equal the signed one ([`Run::push`]).
//!
//! Invariant: `verified` only moves to a size whose root a trusted checkpoint (or an anchor)
//! vouches for, directly or (for an evidence pack) by a consistency proof.

use std::collections::BTreeMap;
use std::path::Path;

use super::report::{Failure, FailureClass, Report, Step, TornTail, VerifyOptions, fail};
use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::hash::{Hash, chain, entry, leaf_hash};
use crate::merkle::Frontier;
use crate::policy::{Distrust, TrustPolicy};

#[derive(Debug)]
pub(super) struct Expected {
    root: Hash,
    /// Where the checkpoint came from (a file, a WAL, an anchor).
    pub(super) source: String,
    anchor: bool,
}

pub(super) struct Run {
    pub(super) origin: String,
    pub(super) policy: TrustPolicy,
    pub(super) expected: BTreeMap<u64, Expected>,
    pub(super) untrusted_seen: Vec<String>,
    pub(super) frontier: Frontier,
    chain: Hash,
    pub(super) verified: u64,
    pub(super) checkpoint: Option<Checkpoint>,
    pub(super) checkpoints_checked: usize,
    anchors_checked: usize,
    /// The first summary that differs from its segment (§13): reported only when nothing
    /// else failed, so that a damaged cache never hides damage to the records.
    pub(super) summary_failure: Option<Failure>,
    /// [`VerifyOptions::check_columns`].
    pub(super) check_columns: bool,
    /// Torn WAL tails seen in step 1.
    pub(super) torn: Vec<TornTail>,
}

impl Run {
    /// A run for `origin` whose tree and chain start at `frontier` and `chain` (the empty tree
    /// for a ledger; the manifest's state for an evidence pack).
    pub(super) fn new(origin: &str, opts: &VerifyOptions, frontier: Frontier, chain: Hash) -> Self {
        Self {
            origin: origin.to_owned(),
            policy: opts.policy.for_origin(origin),
            expected: BTreeMap::new(),
            untrusted_seen: Vec::new(),
            verified: frontier.size(),
            frontier,
            chain,
            checkpoint: None,
            checkpoints_checked: 0,
            anchors_checked: 0,
            summary_failure: None,
            check_columns: opts.check_columns,
            torn: Vec::new(),
        }
    }

    /// What the run established, into `report`.
    pub(super) fn into_report(self, mut report: Report, failure: Option<Failure>) -> Report {
        report.records = self.frontier.size();
        report.verified = self.verified;
        report.checkpoint = self.checkpoint;
        report.checkpoints_checked = self.checkpoints_checked;
        report.anchors_checked = self.anchors_checked;
        report.failure = failure;
        report.torn = self.torn;
        report
    }
    /// Adds a checkpoint note to the expected roots, after checking it against trusted keys.
    pub(super) fn add_checkpoint(
        &mut self,
        bytes: &[u8],
        source: &str,
        path: Option<&Path>,
        anchor: bool,
    ) -> Step {
        let cp = SignedCheckpoint::parse(bytes)
            .map_err(|e| fail(FailureClass::Corrupt, None, path, format!("{source}: {e}")))?;
        match self.policy.check_checkpoint_as(&cp, &self.origin) {
            Ok(()) => {}
            Err(Distrust::Untrusted(why) | Distrust::NoQuorum(why)) => {
                if anchor {
                    return Err(fail(
                        FailureClass::Untrusted,
                        None,
                        path,
                        format!(
                            "{source} is not trusted: {why}. Either the keys given do not sign it (a wrong key, or keys that do not cover a rotation), or it is not this log's checkpoint"
                        ),
                    ));
                }
                self.untrusted_seen.push(format!("{source} ({why})"));
                return Ok(());
            }
            Err(Distrust::Revoked(why)) => {
                return Err(fail(
                    FailureClass::RevokedKey,
                    None,
                    path,
                    format!("{source}: {why}"),
                ));
            }
            Err(Distrust::BadSignature(why)) => {
                let detail = format!("{source}: {why}");
                return Err(fail(FailureClass::BadSignature, None, path, detail));
            }
        }
        let c = cp.checkpoint;
        if c.origin != self.origin {
            return Err(fail(
                FailureClass::OriginMismatch,
                None,
                path,
                format!(
                    "{source} is for origin {:?}, the ledger is {:?}",
                    c.origin, self.origin
                ),
            ));
        }
        match self.expected.get_mut(&c.size) {
            Some(prev) if prev.root != c.root => {
                return Err(fail(
                    FailureClass::Forked,
                    None,
                    path,
                    format!(
                        "two trusted checkpoints of size {} with different roots: {} and {source}",
                        c.size, prev.source
                    ),
                ));
            }
            Some(prev) => prev.anchor |= anchor,
            None => {
                self.expected.insert(
                    c.size,
                    Expected {
                        root: c.root,
                        source: source.to_owned(),
                        anchor,
                    },
                );
            }
        }
        Ok(())
    }

    /// Adds one record at the next index and compares roots at any checkpoint of the new size.
    pub(super) fn push(&mut self, leaf: Hash, path: Option<&Path>) -> Step {
        self.frontier.push(leaf);
        let size = self.frontier.size();
        if let Some(exp) = self.expected.get(&size) {
            if self.frontier.root() != exp.root {
                let class = if exp.anchor {
                    FailureClass::Forked
                } else {
                    FailureClass::RootMismatch
                };
                return Err(fail(
                    class,
                    Some(self.verified),
                    path,
                    format!(
                        "the recomputed root at size {size} differs from {}; the difference lies in [{}, {size})",
                        exp.source, self.verified
                    ),
                ));
            }
            self.verified = size;
            self.checkpoint = Some(Checkpoint {
                origin: self.origin.clone(),
                size,
                root: exp.root,
            });
            self.checkpoints_checked += 1;
            self.anchors_checked += usize::from(exp.anchor);
        }
        Ok(())
    }
}

/// Checks one record at `idx`; returns its leaf hash.
pub(super) fn check_record(
    run: &mut Run,
    idx: u64,
    ts_us: i64,
    rh: Hash,
    stored: Option<(&[u8], &[u8])>,
    path: &Path,
) -> Step<Hash> {
    if let Some((stored_rh, _)) = stored
        && stored_rh != rh
    {
        {
            return Err(fail(
                FailureClass::RecordAltered,
                Some(idx),
                Some(path),
                format!("record {idx}: its bytes do not hash to the stored record_hash"),
            ));
        }
    }
    let ch = chain(&run.chain, idx, &rh);
    if let Some((_, stored_chain)) = stored
        && stored_chain != ch
    {
        {
            return Err(fail(
                FailureClass::RecordAltered,
                Some(idx),
                Some(path),
                format!("record {idx}: the stored chain value differs from the recomputed chain"),
            ));
        }
    }
    run.chain = ch;
    Ok(leaf_hash(&entry(idx, ts_us, &rh, &ch)))
}
