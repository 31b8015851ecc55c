//! Verification of the records in WAL files, after the sealed segments: only records a
//! checkpoint frame follows (committed) count, and each must be a canonical version-1 decision
//! whose time equals the frame's.
//!
//! Invariant: a WAL is read only up to where the checkpoint pass stopped, so that a commit a
//! writer made beside the verifier after that pass is not counted without its checkpoint.

use std::path::Path;

use schemas::DecisionView;

use super::Sink;
use super::report::{FailureClass, Step, fail};
use super::run::{Run, check_record};
use crate::Result;
use crate::hash::record_hash;
use crate::records::Records;
use crate::wal::{Frame, Tail, WalReader};

pub(super) fn verify_wal(
    run: &mut Run,
    start: u64,
    path: &Path,
    limit: u64,
    sink: &mut Sink<'_>,
) -> Result<Step> {
    let expect = run.frontier.size();
    if start < expect {
        // A WAL whose records are all sealed already (left by an interrupted seal) is skipped;
        // its checkpoints were read above.
        return Ok(Ok(()));
    }
    if start > expect {
        return Ok(Err(fail(
            FailureClass::Sequence,
            Some(expect),
            Some(path),
            format!("WAL starts at {start}, but records end at {expect} (a segment is missing)"),
        )));
    }
    let mut reader = WalReader::open(path)?;
    // Records count once a checkpoint frame follows them (a commit); later ones are in flight.
    let mut pending: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut next = start;
    while reader.offset < limit {
        match reader.next_frame()? {
            Ok(Frame::Records { first, records }) => {
                if first != next {
                    return Ok(Err(fail(
                        FailureClass::Sequence,
                        Some(next),
                        Some(path),
                        format!("WAL records frame starts at {first}, expected {next}"),
                    )));
                }
                next += records.len() as u64;
                pending.extend(records.into_iter().map(|r| (r.ts_us, r.bytes)));
            }
            Ok(Frame::Checkpoint(_)) => {
                let first = run.frontier.size();
                for (ts_us, bytes) in &pending {
                    let (ts_us, bytes) = (*ts_us, bytes.as_slice());
                    let idx = run.frontier.size();
                    let leaf = match check_record(run, idx, ts_us, record_hash(bytes), None, path) {
                        Ok(l) => l,
                        Err(f) => return Ok(Err(f)),
                    };
                    // The frame's time is a copy of the record's (it enters the leaf entry).
                    let agrees = DecisionView::parse_checking_canonical(bytes).is_ok_and(
                        |(v, canonical)| {
                            canonical && v.v == schemas::RECORD_VERSION && v.ts_us == ts_us
                        },
                    );
                    if !agrees {
                        return Ok(Err(fail(
                            FailureClass::ColumnAltered,
                            Some(idx),
                            Some(path),
                            format!(
                                "record {idx} is not a version-1 decision in RFC 8785 form whose ts_us equals the WAL frame's"
                            ),
                        )));
                    }
                    if let Err(f) = run.push(leaf, Some(path)) {
                        return Ok(Err(f));
                    }
                }
                let n = pending.len() as u64;
                sink.hand(first, n, || {
                    Records::new(first, pending.iter().map(|(t, b)| (*t, b.as_slice())))
                });
                pending.clear();
            }
            Err(Tail::Clean | Tail::Torn { .. }) => break,
        }
    }
    Ok(Ok(()))
}
