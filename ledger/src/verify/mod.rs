//! Offline verification: recompute everything from stored bytes and trusted keys, and report the
//! verified horizon or the first failure (LEDGER-FORMAT.md §7 gives the exact order of checks,
//! which the independent verifier follows too).
//!
//! Invariants: no key is read from the ledger directory; a failure is data in the [`Report`],
//! and [`crate::Error`] means only that verification could not run.
//!
//! - `report`: [`VerifyOptions`], [`Report`], [`Failure`] and its classes.
//! - `run`: the run's state, and the checkpoint, record and root checks.
//! - `segments`: one Parquet segment (decode and tree threads) and its summary.
//! - `wal_tail`: the committed records in the WALs.
//! - `pack`: evidence packs ([`verify_evidence`]).

mod pack;
mod report;
mod run;
mod segments;
mod wal_tail;

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint::SignedCheckpoint;
use crate::error::IoContext as _;
use crate::hash::CHAIN_GENESIS;
use crate::layout::Layout;
use crate::merkle::Frontier;
use crate::records::Records;
use crate::wal::{Frame, Tail, WalReader};
use crate::{Error, Result};

pub use pack::verify_evidence;
pub use report::{Failure, FailureClass, Report, TornTail, Verdict, VerifyOptions};
use report::{Step, fail, transition_failure};
use run::Run;
use segments::verify_segment;
use wal_tail::verify_wal;

/// A caller with no log key can trust nothing: that is a usage error, not a verdict.
fn require_keys(opts: &VerifyOptions) -> Result<()> {
    if opts.policy.has_log_keys() {
        Ok(())
    } else {
        Err(Error::Key {
            what: "verification".into(),
            message: "no trusted key given".into(),
        })
    }
}

/// Verifies the ledger at `dir` against the trusted keys and anchors in `opts`.
///
/// Safe beside a running writer: if a file listed at the start vanishes (a seal finished and
/// removed its WAL), verification starts again from fresh listings, up to five times.
pub fn verify(dir: &Path, opts: &VerifyOptions) -> Result<Report> {
    verify_into(dir, opts, &mut Sink::none())
}

/// [`verify`], calling `progress` with how far the records are checked (one past the last
/// index checked) after each run of them: for a progress bar. What it says counts only as the
/// report says, like [`verify_with`]'s records.
pub fn verify_progress(
    dir: &Path,
    opts: &VerifyOptions,
    mut progress: impl FnMut(u64),
) -> Result<Report> {
    let mut sink = Sink {
        progress: Some(&mut progress),
        ..Sink::none()
    };
    verify_into(dir, opts, &mut sink)
}

/// [`verify`], handing each run of records on to `each`, in index order, once their hashes,
/// chain (and typed columns, when [`VerifyOptions::check_columns`]) are checked and they are
/// in the tree. A record is handed on before the checkpoint that covers it is reached: what
/// was handed on counts only once the report says it is verified (its `verified` horizon),
/// and not at all when the report gives a failure. Each record is handed on once, even when
/// verification starts again. This is one read of the ledger for a reader that needs both
/// verification and the records (replay).
pub fn verify_with(
    dir: &Path,
    opts: &VerifyOptions,
    mut each: impl FnMut(Records),
) -> Result<Report> {
    let mut sink = Sink {
        each: Some(&mut each),
        ..Sink::none()
    };
    verify_into(dir, opts, &mut sink)
}

fn verify_into(dir: &Path, opts: &VerifyOptions, sink: &mut Sink<'_>) -> Result<Report> {
    let mut attempt = 0;
    loop {
        match verify_once(dir, opts, sink) {
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && attempt < 4 =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Where verified records go, if anywhere, and how many went already.
struct Sink<'a> {
    each: Option<&'a mut dyn FnMut(Records)>,
    handed: u64,
    /// Told how far the records are checked.
    progress: Option<&'a mut dyn FnMut(u64)>,
}

impl Sink<'_> {
    /// Nowhere: records are checked and dropped, and no run of them is built.
    fn none() -> Self {
        Self {
            each: None,
            handed: 0,
            progress: None,
        }
    }

    /// Hands on the records `make` builds (`n` of them from index `first`) that were not
    /// handed on before; `make` runs only when there is a taker.
    fn hand(&mut self, first: u64, n: u64, make: impl FnOnce() -> Records) {
        if let Some(progress) = self.progress.as_mut() {
            progress(first + n);
        }
        let Some(each) = self.each.as_mut() else {
            return;
        };
        let fresh = make().starting_at(self.handed);
        if !fresh.is_empty() {
            self.handed = fresh.first() + fresh.len() as u64;
            each(fresh);
        }
    }
}

fn verify_once(dir: &Path, opts: &VerifyOptions, sink: &mut Sink<'_>) -> Result<Report> {
    let layout = Layout::new(dir);
    let config = layout.read_config()?;
    require_keys(opts)?;
    let mut run = Run::new(&config.origin, opts, Frontier::new(), CHAIN_GENESIS);
    // WALs are listed before segments: a seal running beside us renames its segment into place
    // before it removes the WAL, so every record is in one listing or the other.
    let wals = layout.wals()?;
    let segments = layout.segments()?;
    let report = Report::new(config.origin.clone(), segments.len());
    let failure = match &opts.origin {
        Some(want) if *want != config.origin => Some(fail(
            FailureClass::OriginMismatch,
            None,
            Some(&layout.dir().join(crate::CONFIG_FILE)),
            format!(
                "the ledger's origin is {:?}, the auditor expects {want:?}",
                config.origin
            ),
        )),
        _ => verify_inner(&layout, opts, &mut run, &segments, &wals, sink)?.err(),
    };
    let mut report = run.into_report(report, failure);
    if opts.check_columns {
        // What queries may skip on (§14): reported, never a verdict. (Records-only
        // verification, replay's, reads no skip structure and checks none.)
        for v in crate::seal::vouch(dir, &opts.policy)? {
            if let Some(reason) = v.reason() {
                report.unvouched.push((v.path, reason));
            }
        }
    }
    Ok(report)
}

fn verify_inner(
    layout: &Layout,
    opts: &VerifyOptions,
    run: &mut Run,
    segments: &[(u64, u64, PathBuf)],
    wals: &[(u64, PathBuf)],
    sink: &mut Sink<'_>,
) -> Result<Step> {
    // 1. Checkpoints: key transitions, anchors, stable checkpoint files, then WAL frames.
    if let Err(f) = run.policy.apply_transitions(layout.dir(), &run.origin)? {
        return Ok(Err(transition_failure(f)));
    }
    for (name, bytes) in &opts.anchors {
        // The caller's own file: one that is not a checkpoint is a usage error, not a finding.
        if let Err(e) = SignedCheckpoint::parse(bytes) {
            return Err(Error::Key {
                what: format!("anchor {name}"),
                message: format!(
                    "not a checkpoint note ({e}); an anchor is a checkpoint note saved earlier"
                ),
            });
        }
        if let Err(f) = run.add_checkpoint(bytes, &format!("anchor {name}"), None, true) {
            return Ok(Err(f));
        }
    }
    for (_, path) in layout.checkpoints()? {
        let bytes = fs::read(&path).ctx("read", &path)?;
        let source = format!("checkpoint file {}", path.display());
        if let Err(f) = run.add_checkpoint(&bytes, &source, Some(&path), false) {
            return Ok(Err(f));
        }
    }
    // How far each WAL was read here; the records pass stops there, so that a commit made by a
    // writer running beside us after this pass is not counted without its checkpoint.
    let mut wal_limits = Vec::with_capacity(wals.len());
    for (start, path) in wals {
        let mut reader = match WalReader::open(path) {
            Ok(r) if r.start == *start => r,
            Ok(r) => {
                let detail = format!(
                    "WAL header says it starts at {}, its name says {start}",
                    r.start
                );
                return Ok(Err(fail(FailureClass::Corrupt, None, Some(path), detail)));
            }
            Err(Error::Corrupt { message, .. }) => {
                return Ok(Err(fail(FailureClass::Corrupt, None, Some(path), message)));
            }
            Err(e) => return Err(e),
        };
        loop {
            let at = reader.offset;
            match reader.next_frame() {
                Ok(Ok(Frame::Checkpoint(bytes))) => {
                    let source = format!("checkpoint in {} at byte {at}", path.display());
                    if let Err(f) = run.add_checkpoint(&bytes, &source, Some(path), false) {
                        return Ok(Err(f));
                    }
                }
                Ok(Ok(Frame::Records { .. })) => {}
                Ok(Err(tail)) => {
                    if let Tail::Torn { offset, reason } = tail {
                        let bytes =
                            fs::metadata(path).map_or(0, |m| m.len().saturating_sub(offset));
                        run.torn.push(TornTail {
                            path: path.clone(),
                            offset,
                            bytes,
                            reason,
                        });
                    }
                    wal_limits.push(reader.offset);
                    break;
                }
                Err(Error::Corrupt {
                    message, offset, ..
                }) => {
                    let detail = format!("{message} (byte {})", offset.unwrap_or(at));
                    return Ok(Err(fail(FailureClass::Corrupt, None, Some(path), detail)));
                }
                Err(e) => return Err(e),
            }
        }
    }

    // 2. Records: segments in order, then the WAL.
    for (start, end, path) in segments {
        let summary = layout.summary(*start, *end);
        let summary = summary.is_file().then_some(summary.as_path());
        if let Err(f) = verify_segment(run, *start, *end, path, summary, sink)? {
            return Ok(Err(f));
        }
    }
    for ((start, path), limit) in wals.iter().zip(wal_limits) {
        if let Err(f) = verify_wal(run, *start, path, limit, sink)? {
            return Ok(Err(f));
        }
    }

    // 3. What the data cannot show by itself.
    let size = run.frontier.size();
    if let Some((&cp_size, exp)) = run.expected.range(size + 1..).next() {
        return Ok(Err(fail(
            FailureClass::Truncated,
            Some(size),
            None,
            format!(
                "{} vouches for {cp_size} records, only {size} are present",
                exp.source
            ),
        )));
    }
    if size > run.verified {
        if run.checkpoints_checked == 0 {
            let seen = if !run.policy.has_key_named(&run.origin) {
                format!(
                    "none of the trusted keys is named like the ledger's origin {:?}",
                    run.origin
                )
            } else if run.untrusted_seen.is_empty() {
                "no checkpoint was found".to_owned()
            } else {
                format!(
                    "checkpoints found are not signed by a trusted key: {}",
                    run.untrusted_seen.join("; ")
                )
            };
            return Ok(Err(fail(
                FailureClass::Untrusted,
                Some(0),
                None,
                format!(
                    "{size} records, none covered by a checkpoint signed by a trusted key; {seen}. Either the keys given are not this ledger's (a wrong key, or keys that do not cover a rotation), or its checkpoints were removed or re-signed by someone else"
                ),
            )));
        }
        return Ok(Err(fail(
            FailureClass::UnverifiedTail,
            Some(run.verified),
            None,
            format!(
                "records [{}, {size}) follow the newest trusted checkpoint",
                run.verified
            ),
        )));
    }
    if let Some(f) = run.summary_failure.take() {
        return Ok(Err(f));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use crate::{Ledger, NoteSigner, Record, VerifyOptions};

    /// Progress rises run by run to the records read, over segments and the WAL.
    #[test]
    fn progress_reaches_every_record_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let signer = NoteSigner::from_seed("t.example/l", [3; 32]);
        let keys = vec![signer.verifier()];
        let mut l = Ledger::create(&dir, signer, 10).unwrap();
        for k in 0..5u64 {
            let batch: Vec<Record> = (k * 7..k * 7 + 7)
                .map(|i| {
                    let json = format!(r#"{{"decision_id":"p-{i}","ts_us":1,"decision":"allow"}}"#);
                    Record::from_json(json.as_bytes(), &i).unwrap()
                })
                .collect();
            l.append_batch(&batch).unwrap();
        }
        drop(l);
        let mut seen = Vec::new();
        let report =
            super::verify_progress(&dir, &VerifyOptions::new(keys), |n| seen.push(n)).unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert_eq!(seen.last().copied(), Some(report.records), "{seen:?}");
        assert_eq!(report.records, 35);
    }
}
