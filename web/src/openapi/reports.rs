//! Schemas of the reports whose JSON the libraries build by hand (`govtrail verify --json`,
//! `govtrail replay --format json`), described here field by field. Each mirror refuses unknown
//! fields, and the tests below read real reports into them: a field added to a report and not
//! here fails the build's tests, not a client. (The query reports derive their schemas from
//! their own types: `query::report`, feature `openapi`.)

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A verification report, as `govtrail verify --json` (LEDGER-FORMAT.md §7).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyReport {
    /// `ok`, `tampered`, `truncated-or-forked`, `unverified-tail` or `unverified`.
    pub(crate) status: String,
    /// The ledger's origin.
    pub(crate) origin: String,
    /// The first index read (0, or an evidence pack's start).
    pub(crate) from: u64,
    /// Records read.
    pub(crate) records: u64,
    /// The verified horizon: indices below it are complete and unaltered.
    pub(crate) verified: u64,
    /// Records verified (`verified - from`).
    pub(crate) verified_records: u64,
    /// The trusted checkpoint the horizon is at.
    pub(crate) checkpoint: Option<CheckpointRoot>,
    /// Checkpoints checked.
    pub(crate) checkpoints_checked: u64,
    /// Anchors checked.
    pub(crate) anchors_checked: u64,
    /// Segments read.
    pub(crate) segments: u64,
    /// The first failure, if any.
    pub(crate) failure: Option<VerifyFailure>,
    /// Segments whose query structures no seal note vouches for.
    pub(crate) unvouched: Vec<UnvouchedSegment>,
    /// Bytes after the last whole frame of WAL files.
    pub(crate) torn: Vec<TornTail>,
}

/// A checkpoint as its size and root.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointRoot {
    /// Records under it.
    pub(crate) size: u64,
    /// Its root, hex.
    pub(crate) root: String,
}

/// The first thing verification found wrong.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyFailure {
    /// Its class (`record-altered`, `column-altered`, `sequence`, `root-mismatch`,
    /// `bad-signature`, `revoked-key`, `origin-mismatch`, `forked`, `truncated`, `corrupt`,
    /// `summary-altered`, …: LEDGER-FORMAT.md §7).
    pub(crate) class: String,
    /// The first bad index, when one is known.
    pub(crate) index: Option<u64>,
    /// The file concerned, when one is.
    pub(crate) path: Option<String>,
    /// What and where.
    pub(crate) detail: String,
}

/// A segment no seal note vouches for.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnvouchedSegment {
    /// Its file name.
    pub(crate) segment: Option<String>,
    /// Why (`no-seal-note`, `no-seal-line`, `footer`, `page-index`, `blooms`, `summary`).
    pub(crate) reason: String,
}

/// Bytes at the end of a WAL file that are not a whole frame.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TornTail {
    /// The WAL file.
    pub(crate) path: String,
    /// Where the torn bytes start.
    pub(crate) offset: u64,
    /// How many bytes follow the last whole frame.
    pub(crate) bytes: u64,
    /// Why they are not a frame.
    pub(crate) reason: String,
}

/// A replay report, as `govtrail replay --format json` (docs/REPLAY.md).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayReport {
    /// The bundle replayed against.
    pub(crate) bundle: ReplayBundle,
    /// How the records replayed were verified first.
    pub(crate) verification: ReplayVerification,
    /// The selection, in words.
    pub(crate) selection: String,
    /// Decisions selected.
    pub(crate) decisions: u64,
    /// Decisions replayed.
    pub(crate) replayed: u64,
    /// Replayed decisions the bundle decides as recorded.
    pub(crate) unchanged: u64,
    /// Replayed decisions the bundle decides otherwise.
    pub(crate) flips: u64,
    /// Flips, recorded decision → new decision.
    pub(crate) flip_matrix: Vec<FlipCell>,
    /// Unchanged decisions, by decision.
    pub(crate) unchanged_by_decision: Vec<FlipCell>,
    /// Decisions with no recorded answer, by new decision.
    pub(crate) unrecorded: Vec<Unrecorded>,
    /// Decisions that could not be replayed, by reason.
    pub(crate) not_replayable: Vec<NotReplayable>,
    /// Evaluation errors.
    pub(crate) errors: Vec<ReplayError>,
    /// Each session's first divergence.
    pub(crate) divergences: Vec<Divergence>,
    /// Incidents judged: would the bundle have stopped each.
    pub(crate) incidents: Vec<IncidentVerdict>,
}

/// The bundle of a replay.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayBundle {
    /// Its content id.
    pub(crate) id: String,
    /// Its revision (from its manifest), if any.
    pub(crate) revision: Option<String>,
    /// The rule evaluated.
    pub(crate) entrypoint: String,
}

/// How a replay's records were verified.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayVerification {
    /// `verified` or `skipped`.
    pub(crate) status: String,
    /// The ledger's origin (verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<String>,
    /// The verified horizon (verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verified: Option<u64>,
    /// Records read (verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) records: Option<u64>,
    /// Decisions replayed beyond the horizon (verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) beyond_horizon: Option<u64>,
}

/// A cell of the flip matrix.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlipCell {
    /// The recorded decision.
    pub(crate) from: String,
    /// The bundle's decision.
    pub(crate) to: String,
    /// How many.
    pub(crate) count: u64,
    /// Sample decision ids.
    pub(crate) samples: Vec<String>,
}

/// Decisions with no recorded answer.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Unrecorded {
    /// The bundle's decision.
    pub(crate) to: String,
    /// How many.
    pub(crate) count: u64,
    /// Sample decision ids.
    pub(crate) samples: Vec<String>,
}

/// Decisions that could not be replayed.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotReplayable {
    /// Why.
    pub(crate) reason: String,
    /// How many.
    pub(crate) count: u64,
    /// Sample decision ids.
    pub(crate) samples: Vec<String>,
}

/// An evaluation error.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayError {
    /// The record's index.
    pub(crate) index: u64,
    /// Its decision id.
    pub(crate) decision_id: String,
    /// What failed.
    pub(crate) message: String,
}

/// A session's first divergence.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Divergence {
    /// The session.
    pub(crate) session_id: String,
    /// The step (1-based) of its first flip.
    pub(crate) step: u64,
    /// Its steps replayed.
    pub(crate) steps: u64,
    /// The flipped record's index.
    pub(crate) index: u64,
    /// Its decision id.
    pub(crate) decision_id: String,
    /// The recorded decision.
    pub(crate) from: String,
    /// The bundle's decision.
    pub(crate) to: String,
    /// The bundle's reason.
    pub(crate) reason: Option<String>,
    /// The rules that decided.
    pub(crate) rules: Vec<String>,
    /// Flips in the session to a stricter decision.
    pub(crate) stricter: u64,
    /// Flips to a looser one.
    pub(crate) looser: u64,
}

/// Would the bundle have stopped an incident.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentVerdict {
    /// The incident.
    pub(crate) id: String,
    /// Its session.
    pub(crate) session_id: Option<String>,
    /// When it happened, µs since the epoch.
    pub(crate) ts_us: Option<i64>,
    /// Tokens it wasted.
    pub(crate) tokens_wasted: i64,
    /// Minutes it cost.
    pub(crate) minutes_lost: i64,
    /// `stopped`, `asked`, `not stopped` or `not in selection`.
    pub(crate) verdict: String,
    /// Its session's steps up to the incident.
    pub(crate) steps: u64,
    /// The first step now denied.
    pub(crate) first_deny: Option<Stop>,
    /// The first step now asked.
    pub(crate) first_ask: Option<Stop>,
    /// Steps up to the incident newly denied.
    pub(crate) extra_denies: u64,
    /// Steps up to the incident newly asked.
    pub(crate) extra_asks: u64,
}

/// A step where the bundle would have stopped (or asked about) an incident's session.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stop {
    /// The step (1-based).
    pub(crate) step: u64,
    /// Its time, µs since the epoch.
    pub(crate) ts_us: i64,
    /// The record's index.
    pub(crate) index: u64,
    /// Its decision id.
    pub(crate) decision_id: String,
    /// The recorded decision.
    pub(crate) from: String,
    /// The bundle's decision.
    pub(crate) to: String,
    /// The bundle's reason.
    pub(crate) reason: Option<String>,
    /// The rules that decided.
    pub(crate) rules: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report's JSON read into its mirror: every field it has, the mirror knows.
    fn mirrors<T: serde::de::DeserializeOwned>(json: serde_json::Value) {
        if let Err(e) = serde_json::from_value::<T>(json.clone()) {
            panic!("the schema does not describe {json}: {e}");
        }
    }

    #[test]
    fn verification_reports_are_what_their_schema_says() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let signer = ledger::NoteSigner::from_seed("t.example/l", [5; 32]);
        let mut l = ledger::Ledger::create(&dir, signer.clone(), 4).unwrap();
        let records: Vec<ledger::Record> = (0..6)
            .map(|i| {
                let json = format!(r#"{{"decision_id":"d-{i}","ts_us":{i},"decision":"allow"}}"#);
                ledger::Record::from_json(json.as_bytes(), &i).unwrap()
            })
            .collect();
        l.append_batch(&records).unwrap();
        l.seal().unwrap();
        drop(l);
        let ok = ledger::verify(&dir, &ledger::VerifyOptions::new(vec![signer.verifier()]));
        mirrors::<VerifyReport>(serde_json::to_value(ok.unwrap()).unwrap());
        // A failure, unvouched segments and a torn WAL tail: every optional part present.
        let other = ledger::NoteSigner::from_seed("t.example/l", [6; 32]);
        let wal = std::fs::read_dir(dir.join("wal"))
            .unwrap()
            .next()
            .map(|e| e.unwrap().path());
        if let Some(wal) = wal {
            let mut f = std::fs::OpenOptions::new().append(true).open(wal).unwrap();
            std::io::Write::write_all(&mut f, b"torn").unwrap();
        }
        std::fs::remove_file(dir.join("seals.note")).unwrap();
        let bad =
            ledger::verify(&dir, &ledger::VerifyOptions::new(vec![other.verifier()])).unwrap();
        let json = serde_json::to_value(&bad).unwrap();
        assert!(json["failure"].is_object(), "{json}");
        mirrors::<VerifyReport>(json);
    }

    #[test]
    fn replay_reports_are_what_their_schema_says() {
        use replay::{Divergence, FlipCell, Flipped, IncidentVerdict, Outcome, Stop};
        let cell = || FlipCell {
            count: 2,
            samples: vec!["d-1".into(), "d-2".into()],
        };
        let flipped = || Flipped {
            index: 3,
            decision_id: "d-3".into(),
            from: "allow".into(),
            to: Outcome {
                decision: "deny".into(),
                reason: Some("risky".into()),
                rules: vec!["inst_017".into()],
            },
        };
        let incident = schemas::Incident {
            id: "INC-1".into(),
            title: Some("t".into()),
            ts: Some("2026-01-01T00:00:00Z".into()),
            session_id: Some("s".into()),
            tokens_wasted: 10,
            minutes_lost: 2,
            rule_ids: vec!["inst_017".into()],
            ts_us: Some(1),
        };
        let mut report = replay::Report {
            bundle_id: "sha256:x".into(),
            revision: Some("r1".into()),
            entrypoint: "data.govtrail.decision".into(),
            verification: replay::Verification::Verified {
                origin: "t.example/l".into(),
                verified: 9,
                records: 10,
            },
            selection: "all".into(),
            decisions: 10,
            replayed: 8,
            beyond_horizon: 1,
            matrix: [
                (("allow".into(), "deny".into()), cell()),
                (("allow".into(), "allow".into()), cell()),
            ]
            .into(),
            unrecorded: [("deny".into(), cell())].into(),
            not_replayable: [("no input".into(), cell())].into(),
            errors: vec![replay::RecordError {
                index: 4,
                decision_id: "d-4".into(),
                message: "boom".into(),
            }],
            divergences: vec![Divergence {
                session_id: "s".into(),
                step: 1,
                steps: 3,
                first: flipped(),
                stricter: 1,
                looser: 0,
            }],
            incidents: vec![IncidentVerdict {
                incident,
                steps: 3,
                first_deny: Some(Stop {
                    step: 1,
                    ts_us: 0,
                    record: flipped(),
                }),
                first_ask: None,
                extra_denies: 1,
                extra_asks: 0,
            }],
        };
        mirrors::<ReplayReport>(replay::json(&report));
        report.verification = replay::Verification::Skipped;
        mirrors::<ReplayReport>(replay::json(&report));
    }
}
