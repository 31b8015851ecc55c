//! Re-evaluating recorded decisions against a bundle: the flip matrix, each session's first
//! divergence, and the records that could not be replayed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::{Bundle, Error, Evaluator, Outcome, Replayable, replay_input};

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only this session's records.
    pub session: Option<String>,
    /// Only records at or after this time (µs since the epoch).
    pub since_us: Option<i64>,
    /// Only records before this time (µs since the epoch).
    pub until_us: Option<i64>,
    /// Worker threads (the report does not depend on it).
    pub threads: usize,
    /// Sample decision ids kept per flip.
    pub samples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            session: None,
            since_us: None,
            until_us: None,
            threads: 1,
            samples: 5,
        }
    }
}

/// What was verified before replaying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Records `[0, verified)` are complete and unaltered under a trusted checkpoint of
    /// `checkpoint` records; the ledger held `records`.
    Verified {
        /// The ledger's origin.
        origin: String,
        /// The verified horizon.
        verified: u64,
        /// Records read.
        records: u64,
    },
    /// The caller chose not to verify.
    Skipped,
}

/// One cell of the flip matrix: recorded decision → replayed decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlipCell {
    /// How many records.
    pub count: u64,
    /// The first few decision ids, in ledger order.
    pub samples: Vec<String>,
}

/// A record whose evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Its ledger index.
    pub index: u64,
    /// Its decision id.
    pub decision_id: String,
    /// The engine's message.
    pub message: String,
}

/// A record whose decision changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flipped {
    /// Ledger index.
    pub index: u64,
    /// Decision id.
    pub decision_id: String,
    /// Recorded decision.
    pub from: String,
    /// Replayed outcome.
    pub to: Outcome,
}

/// Where a session first diverges from its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The session.
    pub session_id: String,
    /// 1-based position among the session's replayed decisions.
    pub step: u64,
    /// Of how many replayed decisions.
    pub steps: u64,
    /// The first diverging record.
    pub first: Flipped,
    /// Records of the session recorded as allowed that now deny or ask.
    pub stricter: u64,
    /// Records recorded as denied or asked that are now allowed.
    pub looser: u64,
}

/// The replay's result. Everything in it is ordered (ledger order, or sorted keys), so the same
/// ledger and bundle give the same report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The bundle's id.
    pub bundle_id: String,
    /// The bundle's revision.
    pub revision: Option<String>,
    /// The entrypoint evaluated.
    pub entrypoint: String,
    /// What was verified first.
    pub verification: Verification,
    /// What was selected (a description of the filters).
    pub selection: String,
    /// Decisions selected.
    pub decisions: u64,
    /// Decisions re-evaluated without error.
    pub replayed: u64,
    /// Selected decisions past the verified horizon (replayed, but not vouched for).
    pub beyond_horizon: u64,
    /// recorded → replayed, for every pair seen (the diagonal is the unchanged ones).
    pub matrix: BTreeMap<(String, String), FlipCell>,
    /// Inputs recorded without the decision taken on them (a bare hook payload): what the
    /// bundle decides now, by decision. Not flips: there is nothing to compare with.
    pub unrecorded: BTreeMap<String, FlipCell>,
    /// Per reason, decisions whose record holds no input.
    pub not_replayable: BTreeMap<String, FlipCell>,
    /// Records whose evaluation failed, in ledger order.
    pub errors: Vec<RecordError>,
    /// Per session (sorted), the first divergence.
    pub divergences: Vec<Divergence>,
}

impl Report {
    /// Records whose decision changed.
    pub fn flips(&self) -> u64 {
        self.matrix
            .iter()
            .filter(|((a, b), _)| a != b)
            .map(|(_, c)| c.count)
            .sum()
    }

    /// Records replayed to the decision recorded.
    pub fn unchanged(&self) -> u64 {
        self.matrix
            .iter()
            .filter(|((a, b), _)| a == b)
            .map(|(_, c)| c.count)
            .sum()
    }

    /// The count of `from → to` (`*` matches any decision; `from == to` is never a flip).
    pub fn count(&self, from: &str, to: &str) -> u64 {
        self.matrix
            .iter()
            .filter(|((a, b), _)| a != b && (from == "*" || a == from) && (to == "*" || b == to))
            .map(|(_, c)| c.count)
            .sum()
    }
}

/// Verifies (unless `trust` is `None`) and replays the ledger in `dir` against `bundle`.
/// Tampering, truncation or a fork stops the replay; records after the newest trusted
/// checkpoint are replayed and counted as beyond the horizon.
pub fn replay(
    dir: &Path,
    bundle: &Bundle,
    trust: Option<&ledger::VerifyOptions>,
    opts: &Options,
) -> Result<Report, Error> {
    let verification = match trust {
        None => Verification::Skipped,
        Some(t) => {
            let r = ledger::verify(dir, t)?;
            if let Some(f) = &r.failure
                && f.class != ledger::FailureClass::UnverifiedTail
            {
                return Err(Error::Refused {
                    class: f.class.as_str(),
                    verdict: f.class.verdict(),
                    message: format!(
                        "{}{}",
                        f.detail,
                        f.index.map(|i| format!(", record {i}")).unwrap_or_default()
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
    let mut records = Vec::new();
    ledger::scan(dir, |index, ts_us, bytes| {
        if opts.since_us.is_some_and(|s| ts_us < s) || opts.until_us.is_some_and(|u| ts_us >= u) {
            return;
        }
        records.push((index, bytes.to_vec()));
    })?;
    let mut report = replay_records(&records, bundle, opts)?;
    if let Verification::Verified { verified, .. } = &verification {
        report.beyond_horizon = records.iter().filter(|(i, _)| i >= verified).count() as u64;
    }
    report.verification = verification;
    Ok(report)
}

/// What one record gave.
enum Done {
    Skip,
    NoInput(String),
    Failed(String),
    Evaluated(Outcome),
}

struct Row {
    index: u64,
    decision_id: String,
    session_id: Option<String>,
    recorded: String,
    /// The record holds the input but not the decision taken on it.
    unrecorded: bool,
    done: Done,
}

/// Replays `(index, record bytes)` pairs, already in ledger order.
pub fn replay_records(
    records: &[(u64, Vec<u8>)],
    bundle: &Bundle,
    opts: &Options,
) -> Result<Report, Error> {
    let base = Evaluator::new(bundle)?;
    let threads = opts.threads.max(1);
    let chunk = records.len().div_ceil(threads).max(1);
    let rows: Vec<Row> = std::thread::scope(|s| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                let mut eval = base.clone();
                s.spawn(move || {
                    part.iter()
                        .map(|(index, bytes)| one(&mut eval, *index, bytes, opts))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if rows.len() != records.len() {
        return Err(Error::Invalid("a replay worker panicked".into()));
    }
    Ok(summarise(rows, bundle, opts))
}

fn one(eval: &mut Evaluator, index: u64, bytes: &[u8], opts: &Options) -> Row {
    let mut row = Row {
        index,
        decision_id: String::new(),
        session_id: None,
        recorded: String::new(),
        unrecorded: false,
        done: Done::Skip,
    };
    let record: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            row.done = Done::Failed(format!("record {index} is not JSON: {e}"));
            return row;
        }
    };
    let s = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_owned);
    row.session_id = s("session_id");
    if opts.session.is_some() && row.session_id != opts.session {
        return row;
    }
    row.decision_id = s("decision_id").unwrap_or_default();
    row.recorded = s("decision").unwrap_or_default();
    row.unrecorded = s("source_format").as_deref() == Some("claude-code.hook.input");
    row.done = match replay_input(&record) {
        Replayable::NotADecision => Done::Skip,
        Replayable::No(why) => Done::NoInput(why),
        Replayable::Yes { input, now_ns } => match eval.eval(&input, now_ns) {
            Ok(o) => Done::Evaluated(o),
            Err(e) => Done::Failed(e),
        },
    };
    row
}

fn summarise(rows: Vec<Row>, bundle: &Bundle, opts: &Options) -> Report {
    let mut report = Report {
        bundle_id: bundle.id.clone(),
        revision: bundle.revision.clone(),
        entrypoint: bundle.entrypoint.clone(),
        verification: Verification::Skipped,
        selection: selection(opts),
        decisions: 0,
        replayed: 0,
        beyond_horizon: 0,
        matrix: BTreeMap::new(),
        unrecorded: BTreeMap::new(),
        not_replayable: BTreeMap::new(),
        errors: Vec::new(),
        divergences: Vec::new(),
    };
    let add = |cell: &mut FlipCell, id: &str| {
        cell.count += 1;
        if cell.samples.len() < opts.samples {
            cell.samples.push(id.to_owned());
        }
    };
    // Per session: steps so far, and the divergence once found.
    let mut sessions: BTreeMap<String, Divergence> = BTreeMap::new();
    let mut steps: BTreeMap<String, u64> = BTreeMap::new();
    let mut diverged: BTreeSet<String> = BTreeSet::new();
    for row in rows {
        match row.done {
            Done::Skip => continue,
            Done::NoInput(why) => {
                report.decisions += 1;
                add(
                    report.not_replayable.entry(why).or_default(),
                    &row.decision_id,
                );
            }
            Done::Failed(message) => {
                report.decisions += 1;
                report.errors.push(RecordError {
                    index: row.index,
                    decision_id: row.decision_id,
                    message,
                });
            }
            Done::Evaluated(outcome) if row.unrecorded => {
                report.decisions += 1;
                report.replayed += 1;
                add(
                    report.unrecorded.entry(outcome.decision).or_default(),
                    &row.decision_id,
                );
            }
            Done::Evaluated(outcome) => {
                report.decisions += 1;
                report.replayed += 1;
                let key = (row.recorded.clone(), outcome.decision.clone());
                add(report.matrix.entry(key).or_default(), &row.decision_id);
                let Some(session) = row.session_id else {
                    continue;
                };
                let step = steps.entry(session.clone()).or_default();
                *step += 1;
                let changed = row.recorded != outcome.decision;
                let permissive = |d: &str| matches!(d, "allow" | "info" | "warn");
                let stricter =
                    changed && permissive(&row.recorded) && !permissive(&outcome.decision);
                let looser = changed && !permissive(&row.recorded) && permissive(&outcome.decision);
                if changed && diverged.insert(session.clone()) {
                    sessions.insert(
                        session.clone(),
                        Divergence {
                            session_id: session.clone(),
                            step: *step,
                            steps: 0,
                            first: Flipped {
                                index: row.index,
                                decision_id: row.decision_id.clone(),
                                from: row.recorded.clone(),
                                to: outcome,
                            },
                            stricter: 0,
                            looser: 0,
                        },
                    );
                }
                if let Some(d) = sessions.get_mut(&session) {
                    d.stricter += u64::from(stricter);
                    d.looser += u64::from(looser);
                }
            }
        }
    }
    for (session, mut d) in sessions {
        d.steps = steps.get(&session).copied().unwrap_or(0);
        report.divergences.push(d);
    }
    report
}

fn selection(opts: &Options) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &opts.session {
        parts.push(format!("session {s}"));
    }
    if let Some(t) = opts.since_us {
        parts.push(format!("ts_us >= {t}"));
    }
    if let Some(t) = opts.until_us {
        parts.push(format!("ts_us < {t}"));
    }
    if parts.is_empty() {
        "the whole ledger".into()
    } else {
        parts.join(", ")
    }
}
