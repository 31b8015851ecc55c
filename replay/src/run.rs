//! Running a replay: one read of the ledger (verified, or scanned as it is) or records handed
//! in, evaluated in blocks on worker threads and merged back in ledger order.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;

use crate::summary::{Done, Row, Summary};
use crate::{
    Bundle, Error, Evaluator, MAX_THREADS, Options, RecordView, Replayable, Report, Verification,
};

/// Verifies (unless `trust` is `None`) and replays the ledger in `dir` against `bundle`.
/// Tampering, truncation or a fork stops the replay; records after the newest trusted
/// checkpoint are replayed and counted as beyond the horizon.
pub fn replay(
    dir: &Path,
    bundle: &Bundle,
    trust: Option<&ledger::VerifyOptions>,
    opts: &Options,
) -> Result<Report, Error> {
    // One read of the ledger: verification hands on each run of records once it has checked
    // them, and the replay evaluates them meanwhile. The report is returned only once
    // verification has passed, and what lies past the verified horizon is counted then. The
    // replay reads records and their times alone, so verification checks those (hashes, chain,
    // tree, signatures) and does not compare the typed columns queries read with them
    // (docs/REPLAY.md §4).
    let (verified, (mut report, counted)) = evaluate(bundle, opts, |feed| match trust {
        Some(t) => {
            let records_only = ledger::VerifyOptions {
                check_columns: false,
                ..t.clone()
            };
            ledger::verify_with(dir, &records_only, |r| {
                tell(opts, &r);
                feed(r);
            })
            .map(Some)
            .map_err(Error::from)
        }
        None => ledger::scan_records(dir, |r| {
            tell(opts, &r);
            feed(r);
        })
        .map(|_| None)
        .map_err(Error::from),
    })?;
    let verification = match verified {
        None => Verification::Skipped,
        Some(r) => {
            if let Some(f) = &r.failure
                && f.class != ledger::FailureClass::UnverifiedTail
            {
                return Err(Error::Refused {
                    class: f.class,
                    verdict: f.class.verdict(),
                    message: format!(
                        "{}{}{}",
                        f.detail,
                        f.index.map(|i| format!(", record {i}")).unwrap_or_default(),
                        f.path
                            .as_ref()
                            .map(|p| format!(", in {}", p.display()))
                            .unwrap_or_default()
                    ),
                });
            }
            Verification::Verified {
                origin: r.origin,
                verified: r.verified,
                records: r.records,
            }
        }
    };
    if let Verification::Verified { verified, .. } = &verification {
        report.beyond_horizon = beyond(&counted, *verified);
    }
    report.verification = verification;
    Ok(report)
}

/// Tells the progress callback, if any, how far the records read reach.
fn tell(opts: &Options, r: &ledger::Records) {
    if let Some(p) = &opts.progress {
        (p.0)(r.first() + r.len() as u64);
    }
}

/// How many of `counted` (record indices, in order) lie at or past `horizon`.
fn beyond(counted: &[u64], horizon: u64) -> u64 {
    (counted.len() - counted.partition_point(|&i| i < horizon)) as u64
}

/// Replays `(index, record bytes)` pairs, already in ledger order, without verifying them (the
/// caller read them). The time range in `opts` applies to each record's own `ts_us`.
pub fn replay_records(
    records: &[(u64, Vec<u8>)],
    bundle: &Bundle,
    opts: &Options,
) -> Result<Report, Error> {
    evaluate(bundle, opts, |feed| {
        // Runs of consecutive indices.
        let mut at = 0;
        while at < records.len() {
            let mut end = at + 1;
            while end < records.len() && records[end].0 == records[end - 1].0 + 1 {
                end += 1;
            }
            feed(ledger::Records::new(
                records[at].0,
                records[at..end]
                    .iter()
                    .map(|(_, b)| (record_ts(b), b.as_slice())),
            ));
            at = end;
        }
        Ok(())
    })
    .map(|(_, (report, _))| report)
}

/// Records per block handed to a worker.
const BLOCK: usize = 2048;

/// The time a record says it was taken at, for records handed in without the ledger's.
fn record_ts(bytes: &[u8]) -> i64 {
    RecordView::parse(bytes)
        .ok()
        .and_then(|v| v.ts_us)
        .unwrap_or(0)
}

/// Evaluates the records `produce` feeds (in ledger order) on `opts.threads` workers and
/// summarises them. Blocks go to whichever worker is free while the producer reads on; results
/// are merged back in block order, so the report does not depend on the thread count or on
/// which worker took which block (each record's result depends on the record alone). Memory
/// holds a few blocks per worker, never the whole ledger. Also gives the indices of the
/// records the report counts, in order, for [`beyond`].
fn evaluate<T>(
    bundle: &Bundle,
    opts: &Options,
    produce: impl FnOnce(&mut dyn FnMut(ledger::Records)) -> Result<T, Error>,
) -> Result<(T, (Report, Vec<u64>)), Error> {
    let base = Evaluator::new(bundle)?;
    let threads = opts.threads.clamp(1, MAX_THREADS);
    let mut summary = Summary::new(bundle, opts);
    let mut pending: BTreeMap<u64, Vec<Row>> = BTreeMap::new();
    let mut next_done = 0u64;
    let mut merge = |seq: u64, rows: Vec<Row>, summary: &mut Summary| {
        pending.insert(seq, rows);
        while let Some(rows) = pending.remove(&next_done) {
            for row in rows {
                summary.add(row);
            }
            next_done += 1;
        }
    };
    // One queue: whichever worker is free takes the next block.
    let (workers, queue) = mpsc::sync_channel::<(u64, ledger::Records)>(2 * threads);
    let queue = std::sync::Mutex::new(queue);
    let sent = std::thread::scope(|s| -> Result<(u64, T), Error> {
        let (done_tx, done_rx) = mpsc::channel::<(u64, Vec<Row>)>();
        let mut handles = Vec::new();
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let mut eval = base.clone();
            let queue = &queue;
            handles.push(s.spawn(move || {
                loop {
                    let next = queue.lock().map(|q| q.recv());
                    let Ok(Ok((seq, block))) = next else { return };
                    let rows = block
                        .iter()
                        .filter(|&(_, ts_us, _)| in_range(ts_us, opts))
                        .map(|(index, _, bytes)| one(&mut eval, index, bytes, opts))
                        .collect();
                    if done_tx.send((seq, rows)).is_err() {
                        return;
                    }
                }
            }));
        }
        drop(done_tx);
        let mut seq = 0u64;
        let mut failed = false;
        let produced = produce(&mut |records| {
            for block in records.chunks(BLOCK) {
                if workers.send((seq, block)).is_err() {
                    failed = true;
                }
                seq += 1;
                while let Ok((done, rows)) = done_rx.try_recv() {
                    merge(done, rows, &mut summary);
                }
            }
        });
        drop(workers);
        for (done, rows) in done_rx {
            merge(done, rows, &mut summary);
        }
        // A worker that panicked is joined here (its panic does not reach the caller).
        for h in handles {
            failed |= h.join().is_err();
        }
        let produced = produced?;
        if failed {
            return Err(Error::Invalid("a replay worker stopped".into()));
        }
        Ok((seq, produced))
    })?;
    let (sent, produced) = sent;
    if next_done != sent {
        return Err(Error::Invalid("a replay worker panicked".into()));
    }
    let counted = std::mem::take(&mut summary.counted);
    Ok((produced, (summary.finish(), counted)))
}

/// Whether a record taken at `ts_us` lies in the replay's time range.
fn in_range(ts_us: i64, opts: &Options) -> bool {
    !(opts.since_us.is_some_and(|s| ts_us < s) || opts.until_us.is_some_and(|u| ts_us >= u))
}

fn one(eval: &mut Evaluator, index: u64, bytes: &[u8], opts: &Options) -> Row {
    let mut row = Row {
        index,
        ts_us: 0,
        decision_id: String::new(),
        session_id: None,
        recorded: String::new(),
        unrecorded: false,
        done: Done::Skip,
    };
    let record = match RecordView::parse(bytes) {
        Ok(v) => v,
        Err(e) => {
            row.done = Done::Failed(format!("record {index} is not JSON: {e}"));
            return row;
        }
    };
    let s = |v: &Option<std::borrow::Cow<'_, str>>| v.as_deref().map(str::to_owned);
    row.session_id = s(&record.session_id);
    row.ts_us = record.ts_us.unwrap_or(0);
    if opts.session.is_some() && row.session_id != opts.session {
        return row;
    }
    row.decision_id = s(&record.decision_id).unwrap_or_default();
    row.recorded = s(&record.decision).unwrap_or_default();
    row.unrecorded = record.unrecorded();
    row.done = match record.input() {
        Replayable::NotADecision => Done::Skip,
        Replayable::No(why) => Done::NoInput(why),
        Replayable::Yes { input, now_ns } => match eval.eval(input, now_ns) {
            Ok(o) => Done::Evaluated(o),
            Err(e) => Done::Failed(e),
        },
    };
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Incident;

    /// A bundle that denies multiples of 3 and asks on multiples of 7 (not of 3).
    fn bundle(dir: &Path) -> Bundle {
        std::fs::write(
            dir.join("p.rego"),
            "package govtrail\n\ndecision := \"deny\" if {\n  input.x % 3 == 0\n} else := \"ask\" if {\n  input.x % 7 == 0\n} else := \"allow\"\n",
        )
        .unwrap();
        Bundle::load(dir).unwrap()
    }

    /// Native records: recorded as denied every 5th, in 37 interleaved sessions, with an
    /// unreplayable record every 101st and a record the policy fails on every 211th.
    fn records(n: u64) -> Vec<(u64, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let input = if i % 211 == 0 {
                    serde_json::json!({"x": "not a number"})
                } else {
                    serde_json::json!({"x": i})
                };
                let mut r = serde_json::json!({
                    "decision_id": format!("d{i}"),
                    "ts_us": 1_700_000_000_000_000u64 + i,
                    "decision": if i % 5 == 0 { "deny" } else { "allow" },
                    "session_id": format!("s{}", i % 37),
                    "input": input,
                });
                if i % 101 == 0 {
                    r.as_object_mut().unwrap().remove("input");
                }
                (i, serde_json::to_vec(&r).unwrap())
            })
            .collect()
    }

    #[test]
    fn many_blocks_on_any_number_of_threads_give_the_same_report() {
        let tmp = tempfile::tempdir().unwrap();
        let b = bundle(tmp.path());
        // Several blocks, the last one partial.
        let recs = records(BLOCK as u64 * 5 + 123);
        let report = |threads| {
            let opts = Options {
                threads,
                incidents: vec![Incident {
                    id: "I".into(),
                    session_id: Some("s4".into()),
                    ts_us: Some(1_700_000_000_000_000 + 4 + 37 * 40),
                    tokens_wasted: 1,
                    minutes_lost: 1,
                    title: None,
                    ts: None,
                    rule_ids: Vec::new(),
                }],
                ..Options::default()
            };
            replay_records(&recs, &b, &opts).unwrap()
        };
        let one = report(1);
        for threads in [2, 3, 8] {
            assert_eq!(one, report(threads), "{threads} threads");
        }
        // Hand-checked counts: every record is a decision; 1/101 has no input; x = "not a
        // number" fails (i % 211 == 0, except i = 0, which has no input either).
        let n = recs.len() as u64;
        let no_input = n.div_ceil(101);
        let failed = (1..n).filter(|i| i % 211 == 0 && i % 101 != 0).count() as u64;
        assert_eq!(one.decisions, n);
        assert_eq!(
            one.not_replayable.values().map(|c| c.count).sum::<u64>(),
            no_input
        );
        assert_eq!(one.errors.len() as u64, failed);
        assert_eq!(one.replayed, n - no_input - failed);
        let evaluated = |i: &u64| !i.is_multiple_of(101) && !i.is_multiple_of(211);
        let expect = |i: u64| match (i % 3, i % 7) {
            (0, _) => "deny",
            (_, 0) => "ask",
            _ => "allow",
        };
        let allow_to_deny = (0..n)
            .filter(evaluated)
            .filter(|i| i % 5 != 0 && expect(*i) == "deny")
            .count() as u64;
        assert_eq!(one.count("allow", "deny"), allow_to_deny);
        // Samples are the first ids in ledger order.
        let cell = &one.matrix[&("allow".to_owned(), "deny".to_owned())];
        assert_eq!(cell.samples, ["d3", "d6", "d9", "d12", "d18"]);
        // Session s1's first divergence: i = 1 + 37k, the first with a changed decision.
        let d = one
            .divergences
            .iter()
            .find(|d| d.session_id == "s1")
            .unwrap();
        let first = (0..n)
            .filter(|i| i % 37 == 1 && evaluated(i))
            .find(|i| expect(*i) != if i % 5 == 0 { "deny" } else { "allow" })
            .unwrap();
        assert_eq!(d.first.decision_id, format!("d{first}"));
        // The incident in s4 after 41 of its records.
        let v = &one.incidents[0];
        let s4: Vec<u64> = (0..=4 + 37 * 40)
            .filter(|i| i % 37 == 4 && evaluated(i))
            .collect();
        assert_eq!(v.steps, s4.len() as u64);
        let stopped = s4.iter().position(|i| i % 5 != 0 && expect(*i) == "deny");
        assert_eq!(
            v.first_deny.as_ref().map(|s| s.step),
            stopped.map(|p| p as u64 + 1)
        );
        assert_eq!(v.verdict(), "stopped");
    }

    #[test]
    fn only_selected_decisions_past_the_horizon_count_as_beyond_it() {
        let tmp = tempfile::tempdir().unwrap();
        let b = bundle(tmp.path());
        let mut recs = records(10);
        // Index 7 is a rule set: not a decision. Indices are 0..10.
        recs[7].1 =
            br#"{"decision_id":"r","ts_us":1,"decision":"info","event":"rule_set"}"#.to_vec();
        // The horizon is known only after the replay (verification hands records on as it goes): what lies
        // past it is counted from the indices the report counted.
        let past = |opts: &Options| {
            let (_, (_, counted)) = evaluate(&b, opts, |feed| {
                feed(ledger::Records::new(
                    0,
                    recs.iter().map(|(_, b)| (record_ts(b), b.as_slice())),
                ));
                Ok(())
            })
            .unwrap();
            beyond(&counted, 6)
        };
        assert_eq!(past(&Options::default()), 3);
        // Session s8 holds index 8 only (of 0..10, i % 37 == 8).
        let one = Options {
            session: Some("s8".into()),
            ..Options::default()
        };
        assert_eq!(past(&one), 1);
    }
}
