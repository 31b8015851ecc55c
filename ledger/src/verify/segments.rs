//! Verification of one Parquet segment (LEDGER-FORMAT.md §7): its range and footer, then two
//! stages on two threads, one decoding every column (and checking the typed columns against the
//! records, and recomputing the summary, when asked), the other checking order, stored hashes,
//! chain and tree in index order; then the segment's summary file (§13).
//!
//! Invariant: a summary that differs is kept in the run and reported only when nothing else
//! failed, so that a damaged cache never hides damage to the records.

use std::path::Path;

use schemas::DecisionView;

use super::Sink;
use super::report::{Failure, FailureClass, Step, fail};
use super::run::{Run, check_record};
use crate::hash::record_hash;
use crate::records::Records;
use crate::segment::{ChainColumns, SegmentColumns};
use crate::{Error, Result};

pub(super) fn verify_segment(
    run: &mut Run,
    start: u64,
    end: u64,
    path: &Path,
    summary: Option<&Path>,
    sink: &mut Sink<'_>,
) -> Result<Step> {
    let expect = run.frontier.size();
    if start != expect {
        return Ok(Err(fail(
            FailureClass::Sequence,
            Some(expect),
            Some(path),
            format!(
                "segment starts at {start}, expected {expect} (a segment is missing or overlaps)"
            ),
        )));
    }
    let (meta, reader) = match crate::segment::open(path) {
        Ok(x) => x,
        Err(Error::Corrupt { message, .. }) => {
            return Ok(Err(fail(
                FailureClass::Corrupt,
                Some(start),
                Some(path),
                message,
            )));
        }
        Err(e) => return Err(e),
    };
    if meta.origin != run.origin {
        return Ok(Err(fail(
            FailureClass::OriginMismatch,
            Some(start),
            Some(path),
            format!(
                "segment footer names origin {:?}, the ledger is {:?}",
                meta.origin, run.origin
            ),
        )));
    }
    if meta.start != start || meta.end != end {
        return Ok(Err(fail(
            FailureClass::Sequence,
            Some(start),
            Some(path),
            format!(
                "footer range [{}, {}) differs from the file name's [{start}, {end})",
                meta.start, meta.end
            ),
        )));
    }
    // Two stages on two threads of about equal cost: one decodes Parquet (every column, so that
    // a damaged file fails whatever is checked) and checks the typed columns unless told not
    // to; the caller's thread hashes records and checks order, stored hashes, chain and tree,
    // in index order.
    let consumed = std::thread::scope(
        |scope| -> std::result::Result<Option<crate::summary::SummaryBuilder>, Failure> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<std::result::Result<Decoded, String>>(2);
            let want_summary = summary.is_some() && run.check_columns;
            let check = run.check_columns;
            let decoder = scope.spawn(move || decode_batches(reader, &tx, check, want_summary));
            let result = check_decoded(run, &rx, end, path, sink);
            drop(rx);
            match decoder.join() {
                // A panic in the Parquet decoder on hostile input is a corrupt file, not a crash.
                Err(_) if result.is_ok() => Err(fail(
                    FailureClass::Corrupt,
                    Some(run.frontier.size()),
                    Some(path),
                    "the Parquet decoder failed on this file".into(),
                )),
                Err(_) => result.map(|()| None),
                Ok(recomputed) => result.map(|()| recomputed),
            }
        },
    );
    let recomputed = match consumed {
        Err(f) => return Ok(Err(f)),
        Ok(r) => r,
    };
    let got = run.frontier.size();
    if got != end {
        return Ok(Err(fail(
            FailureClass::Sequence,
            Some(got),
            Some(path),
            format!("segment [{start}, {end}) holds only records up to {got}"),
        )));
    }
    // The summary is a cache derived from records now known to be intact; a difference is
    // reported after every other check (§7).
    if let (Some(file), Some(recomputed)) = (summary, recomputed)
        && let Err(f) = check_summary(file, recomputed, start)
    {
        run.summary_failure.get_or_insert(f);
    }
    Ok(Ok(()))
}

/// Compares a summary file with the summary recomputed from the segment's records (§13).
fn check_summary(
    file: &Path,
    recomputed: crate::summary::SummaryBuilder,
    start: u64,
) -> std::result::Result<(), Failure> {
    let altered = |detail: String| {
        fail(
            FailureClass::SummaryAltered,
            Some(start),
            Some(file),
            detail,
        )
    };
    let want = recomputed.finish().map_err(&altered)?;
    let got = crate::summary::read(file).map_err(|e| altered(e.to_string()))?;
    if got != want {
        let first = (0..want.num_rows().min(got.num_rows()))
            .find(|&r| got.slice(r, 1) != want.slice(r, 1))
            .unwrap_or(want.num_rows().min(got.num_rows()));
        return Err(altered(format!(
            "summary differs from the segment's records at row {first} ({} rows stored, {} recomputed)",
            got.num_rows(),
            want.num_rows()
        )));
    }
    Ok(())
}

/// The tree stage of [`verify_segment`]: checks decoded batches in index order.
fn check_decoded(
    run: &mut Run,
    rx: &std::sync::mpsc::Receiver<std::result::Result<Decoded, String>>,
    end: u64,
    path: &Path,
    sink: &mut Sink<'_>,
) -> Step {
    for item in rx {
        let decoded = match item {
            Ok(d) => d,
            Err(e) => {
                let idx = run.frontier.size();
                return Err(fail(
                    FailureClass::Corrupt,
                    Some(idx),
                    Some(path),
                    format!("cannot decode rows from {idx} on: {e}"),
                ));
            }
        };
        let cols = ChainColumns::new(&decoded.batch);
        for row in 0..decoded.batch.num_rows() {
            let idx = run.frontier.size();
            let stored_idx = cols.idx.value(row);
            if stored_idx != idx || idx >= end {
                return Err(fail(
                    FailureClass::Sequence,
                    Some(idx),
                    Some(path),
                    format!(
                        "row holds index {stored_idx} where index {idx} belongs (range ends at {end})"
                    ),
                ));
            }
            let stored = (cols.record_hash.value(row), cols.chain.value(row));
            let rh = record_hash(cols.record.value(row));
            let leaf = check_record(run, idx, cols.ts.value(row), rh, Some(stored), path)?;
            if let Some((_, column)) = decoded.mismatch.filter(|(r, _)| *r == row) {
                return Err(fail(
                    FailureClass::ColumnAltered,
                    Some(idx),
                    Some(path),
                    format!("record {idx}: column {column} differs from what the record says"),
                ));
            }
            run.push(leaf, Some(path))?;
        }
        let first = run.frontier.size() - decoded.batch.num_rows() as u64;
        let n = decoded.batch.num_rows() as u64;
        sink.hand(first, n, || Records::from_batch(first, &decoded.batch));
    }
    Ok(())
}

/// A decoded batch and the first row whose typed columns disagree with its record.
struct Decoded {
    batch: arrow_array::RecordBatch,
    mismatch: Option<(usize, &'static str)>,
}

/// The decode stage of [`verify_segment`]: decodes batches, checks typed columns, and, when
/// there is a summary file to check, recomputes the segment's summary (§13).
fn decode_batches(
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    tx: &std::sync::mpsc::SyncSender<std::result::Result<Decoded, String>>,
    check_columns: bool,
    want_summary: bool,
) -> Option<crate::summary::SummaryBuilder> {
    let mut summary = want_summary.then(crate::summary::SummaryBuilder::default);
    for batch in reader {
        let item = batch.map_err(|e| e.to_string()).map(|batch| {
            if !check_columns {
                return Decoded {
                    batch,
                    mismatch: None,
                };
            }
            let cols = SegmentColumns::new(&batch);
            let mut mismatch = None;
            for row in 0..batch.num_rows() {
                let record = cols.record.value(row);
                mismatch = match DecisionView::parse_checking_canonical(record) {
                    Ok((view, canonical)) if view.v == schemas::RECORD_VERSION => {
                        if let Some(s) = summary.as_mut() {
                            s.push(&view);
                        }
                        cols.typed_mismatch(row, &view)
                            .or_else(|| (!canonical).then_some("record (not RFC 8785)"))
                    }
                    Ok(_) => Some("v"),
                    Err(_) => Some("record"),
                }
                .map(|column| (row, column));
                if mismatch.is_some() {
                    break;
                }
            }
            Decoded { batch, mismatch }
        });
        let stop = item.is_err();
        if tx.send(item).is_err() || stop {
            break;
        }
    }
    summary
}
