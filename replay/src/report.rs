//! The replay's [`Report`] and its parts: the flip matrix, each session's first divergence, the
//! records that could not be replayed, and a verdict per incident.

use std::collections::BTreeMap;

use crate::{Incident, Outcome};

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

/// A record of the incident's session that the replayed bundle would have stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// 1-based position among the session's replayed decisions.
    pub step: u64,
    /// Its time (µs since the epoch).
    pub ts_us: i64,
    /// The record, its recorded decision and the replayed outcome.
    pub record: Flipped,
}

/// Whether the replayed bundle would have stopped an incident: only records of its session
/// up to the incident count, and only those the recording let through (allow, info, warn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentVerdict {
    /// The incident.
    pub incident: Incident,
    /// The session's replayed decisions up to the incident (0: the session is not in the
    /// selection, or the incident names none).
    pub steps: u64,
    /// The first such record the bundle now denies (deny, or error: evaluation fails closed).
    pub first_deny: Option<Stop>,
    /// The first such record the bundle now asks a human about (ask, escalate).
    pub first_ask: Option<Stop>,
    /// Such records now denied: the cost in blocked calls, up to the incident.
    pub extra_denies: u64,
    /// Such records now asked about: the cost in interruptions, up to the incident.
    pub extra_asks: u64,
}

impl IncidentVerdict {
    /// `stopped` (a deny before or at the incident), `asked` (a human would have been asked
    /// first), `not stopped`, or `not in selection`.
    pub fn verdict(&self) -> &'static str {
        if self.steps == 0 {
            "not in selection"
        } else if self.first_deny.is_some() {
            "stopped"
        } else if self.first_ask.is_some() {
            "asked"
        } else {
            "not stopped"
        }
    }
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
    /// Per incident (in the order given), whether the bundle would have stopped it.
    pub incidents: Vec<IncidentVerdict>,
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
