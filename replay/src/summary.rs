//! The report built one evaluated record at a time, in ledger order: the flip matrix, each
//! session's first divergence, and the incidents judged on their sessions' records.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    Bundle, Divergence, FlipCell, Flipped, Incident, IncidentVerdict, Options, Outcome,
    RecordError, Report, Stop, Verification,
};

/// What one record gave.
pub(crate) enum Done {
    Skip,
    NoInput(String),
    Failed(String),
    Evaluated(Outcome),
}

pub(crate) struct Row {
    pub(crate) index: u64,
    pub(crate) ts_us: i64,
    pub(crate) decision_id: String,
    pub(crate) session_id: Option<String>,
    pub(crate) recorded: String,
    /// The record holds the input but not the decision taken on it.
    pub(crate) unrecorded: bool,
    pub(crate) done: Done,
}

/// The report, built one row at a time in ledger order.
pub(crate) struct Summary<'a> {
    opts: &'a Options,
    report: Report,
    /// Per session: decisions replayed so far, and the first divergence once found.
    sessions: BTreeMap<String, (u64, Option<Divergence>)>,
    /// Sessions incidents name, and their evaluated rows.
    incident_sessions: BTreeSet<String>,
    incident_rows: Vec<Row>,
    /// Indices of the records counted, in order.
    pub(crate) counted: Vec<u64>,
}

impl<'a> Summary<'a> {
    pub(crate) fn new(bundle: &Bundle, opts: &'a Options) -> Self {
        Self {
            opts,
            report: Report {
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
                incidents: Vec::new(),
            },
            sessions: BTreeMap::new(),
            incident_sessions: opts
                .incidents
                .iter()
                .filter_map(|i| i.session_id.clone())
                .collect(),
            incident_rows: Vec::new(),
            counted: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, row: Row) {
        let samples = self.opts.samples;
        let add = |cell: &mut FlipCell, id: &str| {
            cell.count += 1;
            if cell.samples.len() < samples {
                cell.samples.push(id.to_owned());
            }
        };
        let report = &mut self.report;
        if matches!(row.done, Done::Skip) {
            return;
        }
        self.counted.push(row.index);
        let outcome = match &row.done {
            Done::Skip => return,
            Done::NoInput(why) => {
                report.decisions += 1;
                add(
                    report.not_replayable.entry(why.clone()).or_default(),
                    &row.decision_id,
                );
                return;
            }
            Done::Failed(message) => {
                report.decisions += 1;
                report.errors.push(RecordError {
                    index: row.index,
                    decision_id: row.decision_id.clone(),
                    message: message.clone(),
                });
                return;
            }
            Done::Evaluated(outcome) => outcome,
        };
        report.decisions += 1;
        report.replayed += 1;
        if row.unrecorded {
            add(
                report
                    .unrecorded
                    .entry(outcome.decision.clone())
                    .or_default(),
                &row.decision_id,
            );
            return;
        }
        // The matrix has a few dozen cells at most: finding one by its strings costs less than
        // building the key to look it up.
        match report
            .matrix
            .iter_mut()
            .find(|((a, b), _)| *a == row.recorded && *b == outcome.decision)
        {
            Some((_, cell)) => add(cell, &row.decision_id),
            None => {
                let mut cell = FlipCell::default();
                add(&mut cell, &row.decision_id);
                report
                    .matrix
                    .insert((row.recorded.clone(), outcome.decision.clone()), cell);
            }
        }
        let Some(session) = &row.session_id else {
            return;
        };
        if !self.sessions.contains_key(session) {
            self.sessions.insert(session.clone(), (0, None));
        }
        let Some((step, divergence)) = self.sessions.get_mut(session) else {
            return;
        };
        *step += 1;
        let changed = row.recorded != outcome.decision;
        if changed && divergence.is_none() {
            *divergence = Some(Divergence {
                session_id: session.clone(),
                step: *step,
                steps: 0,
                first: Flipped {
                    index: row.index,
                    decision_id: row.decision_id.clone(),
                    from: row.recorded.clone(),
                    to: outcome.clone(),
                },
                stricter: 0,
                looser: 0,
            });
        }
        if let Some(d) = divergence {
            let (was, now) = (permissive(&row.recorded), permissive(&outcome.decision));
            d.stricter += u64::from(changed && was && !now);
            d.looser += u64::from(changed && !was && now);
        }
        if self.incident_sessions.contains(session) {
            self.incident_rows.push(row);
        }
    }

    pub(crate) fn finish(mut self) -> Report {
        for (_, (steps, divergence)) in self.sessions {
            if let Some(mut d) = divergence {
                d.steps = steps;
                self.report.divergences.push(d);
            }
        }
        self.report.incidents = judge(&self.opts.incidents, &self.incident_rows);
        self.report
    }
}

/// Decisions that let the call through.
fn permissive(d: &str) -> bool {
    matches!(d, "allow" | "info" | "warn")
}

/// Judges each incident on the replayed records (with a recorded decision, in ledger order) of
/// its session up to it.
fn judge(incidents: &[Incident], rows: &[Row]) -> Vec<IncidentVerdict> {
    let mut by_session: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        if let Some(s) = row.session_id.as_deref() {
            by_session.entry(s).or_default().push(row);
        }
    }
    incidents
        .iter()
        .map(|incident| {
            let mut v = IncidentVerdict {
                incident: incident.clone(),
                steps: 0,
                first_deny: None,
                first_ask: None,
                extra_denies: 0,
                extra_asks: 0,
            };
            let session = incident.session_id.as_deref().unwrap_or_default();
            let upto = incident.ts_us.unwrap_or(i64::MAX);
            for row in by_session.get(session).into_iter().flatten() {
                let Done::Evaluated(o) = &row.done else {
                    continue;
                };
                // Ledger order need not be time order: each record is judged on its own time.
                if row.ts_us > upto {
                    continue;
                }
                v.steps += 1;
                if !permissive(&row.recorded) {
                    continue;
                }
                let first = match o.decision.as_str() {
                    "deny" | "error" => {
                        v.extra_denies += 1;
                        &mut v.first_deny
                    }
                    "ask" | "escalate" => {
                        v.extra_asks += 1;
                        &mut v.first_ask
                    }
                    _ => continue,
                };
                if first.is_none() {
                    *first = Some(Stop {
                        step: v.steps,
                        ts_us: row.ts_us,
                        record: Flipped {
                            index: row.index,
                            decision_id: row.decision_id.clone(),
                            from: row.recorded.clone(),
                            to: o.clone(),
                        },
                    });
                }
            }
            v
        })
        .collect()
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
