//! The verifier's inputs and outputs: what the caller trusts ([`VerifyOptions`]), and the
//! [`Report`] with its first [`Failure`] (its [`FailureClass`] and verdict group) and any torn
//! WAL tails; plus [`Step`], the outcome of one check, and the helpers that build failures.
//!
//! Invariant: a failure is data in the [`Report`]; [`crate::Error`] means only that
//! verification could not run.

use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::note::NoteVerifier;
use crate::policy::{TransitionFault, TrustPolicy};

/// What the caller trusts.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Keys, witnesses and quorum whose signatures count (LEDGER-FORMAT.md §11). Only log keys
    /// named like the ledger's origin apply.
    pub policy: TrustPolicy,
    /// Checkpoints the auditor saved earlier; the ledger must extend each of them.
    pub anchors: Vec<(String, Vec<u8>)>,
    /// The origin the auditor expects; without it, the ledger's configuration names it (and
    /// only keys of that name are trusted).
    pub origin: Option<String>,
    /// Whether segments' typed columns and summary files (LEDGER-FORMAT.md §6, §13) are
    /// compared with the records: they are what queries read. On by default; a reader of the
    /// records alone (replay) may turn it off. Every column is decoded either way (a file that
    /// does not decode fails), and records, times, stored hashes, chain, tree and signatures
    /// are checked either way.
    pub check_columns: bool,
}

impl VerifyOptions {
    /// Options trusting `keys`, with no anchors, checking everything.
    pub fn new(trusted: Vec<NoteVerifier>) -> Self {
        Self {
            policy: TrustPolicy::from_keys(trusted),
            anchors: Vec::new(),
            origin: None,
            check_columns: true,
        }
    }
}

/// Classes of verification failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    /// A record's bytes do not match its stored hash or chain value.
    RecordAltered,
    /// A typed column differs from what the record says.
    ColumnAltered,
    /// Indices are missing, repeated or out of order, or a range does not line up.
    Sequence,
    /// The tree root at a trusted checkpoint differs from the recomputed one.
    RootMismatch,
    /// A trusted key's signature does not verify.
    BadSignature,
    /// A checkpoint is signed only by keys the policy revoked or retired (by a key transition)
    /// for its size.
    RevokedKey,
    /// A file or checkpoint names another origin.
    OriginMismatch,
    /// A file cannot be read as a segment, WAL or checkpoint.
    Corrupt,
    /// Records exist, but no checkpoint signed by a trusted key covers any of them (or an
    /// anchor or a pack's checkpoint is not signed by one): the caller's keys do not fit the
    /// ledger, or its checkpoints were removed or re-signed. Verdict `unverified`, never
    /// `ok` and never `tampered`: nothing contradicts a trusted signature.
    Untrusted,
    /// Fewer records than a trusted checkpoint or anchor vouches for.
    Truncated,
    /// Two trusted checkpoints (or an anchor) disagree on the tree at one size.
    Forked,
    /// Records after the newest trusted checkpoint.
    UnverifiedTail,
    /// A segment's summary file (a query cache, §13) differs from the summary its records give.
    SummaryAltered,
}

impl FailureClass {
    /// The kebab-case name used in JSON reports and the format spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecordAltered => "record-altered",
            Self::ColumnAltered => "column-altered",
            Self::Sequence => "sequence",
            Self::RootMismatch => "root-mismatch",
            Self::BadSignature => "bad-signature",
            Self::RevokedKey => "revoked-key",
            Self::OriginMismatch => "origin-mismatch",
            Self::Corrupt => "corrupt",
            Self::Untrusted => "untrusted",
            Self::Truncated => "truncated",
            Self::Forked => "forked",
            Self::UnverifiedTail => "unverified-tail",
            Self::SummaryAltered => "summary-altered",
        }
    }

    /// The verdict group of a failure of this class.
    pub fn verdict(self) -> Verdict {
        match self {
            Self::Truncated | Self::Forked => Verdict::TruncatedOrForked,
            Self::UnverifiedTail => Verdict::UnverifiedTail,
            Self::Untrusted => Verdict::Unverified,
            _ => Verdict::Tampered,
        }
    }
}

impl serde::Serialize for FailureClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A verification's verdict (LEDGER-FORMAT.md §7): the one outcome every front-end maps, the
/// CLI to an exit code, the server to a status. Serialized as its kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every record read is complete and unaltered as of a trusted checkpoint.
    Ok,
    /// Something a trusted signature covers was altered, or a file is not what it says.
    Tampered,
    /// Fewer records than trusted, or two trusted trees disagree.
    TruncatedOrForked,
    /// Records after the newest trusted checkpoint.
    UnverifiedTail,
    /// No checkpoint is signed by a key the caller trusts: never `ok`, never `tampered`.
    Unverified,
}

impl Verdict {
    /// `ok`, `tampered`, `truncated-or-forked`, `unverified-tail` or `unverified`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Tampered => "tampered",
            Self::TruncatedOrForked => "truncated-or-forked",
            Self::UnverifiedTail => "unverified-tail",
            Self::Unverified => "unverified",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first thing that failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// What kind of failure.
    pub class: FailureClass,
    /// The first record index known to be bad, when one is.
    pub index: Option<u64>,
    /// The file concerned, when one is.
    #[serde(serialize_with = "crate::layout::opt_path_lossy")]
    pub path: Option<PathBuf>,
    /// A sentence saying what differs.
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The ledger's origin.
    pub origin: String,
    /// First index verified: 0 for a ledger, the range's start for an evidence pack.
    pub from: u64,
    /// One past the last record read (the contiguous prefix that could be read): an index, so
    /// for an evidence pack the records read are `records - from`, as `verified` is an index.
    pub records: u64,
    /// Records `[from, verified)` are complete and unaltered as of `checkpoint`.
    pub verified: u64,
    /// The newest trusted checkpoint whose root was reproduced.
    pub checkpoint: Option<Checkpoint>,
    /// Trusted checkpoints whose roots were compared.
    pub checkpoints_checked: usize,
    /// Anchors the ledger was shown to extend.
    pub anchors_checked: usize,
    /// Segment files read.
    pub segments: usize,
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// WAL files that end in bytes which are not a whole frame (a commit a crash interrupted,
    /// never acknowledged): not a failure, and not counted, but reported.
    pub torn: Vec<TornTail>,
    /// Segments (and summaries) the seal note does not vouch for (LEDGER-FORMAT.md §14):
    /// queries read them in full. Not a failure.
    pub unvouched: Vec<(PathBuf, crate::Unvouched)>,
}

/// Bytes at the end of a WAL file that are not a whole frame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TornTail {
    /// The WAL file.
    #[serde(serialize_with = "crate::layout::path_lossy")]
    pub path: PathBuf,
    /// Where the torn bytes start (just after the last whole frame).
    pub offset: u64,
    /// How many bytes follow the last whole frame.
    pub bytes: u64,
    /// Why they are not a frame.
    pub reason: String,
}

impl Report {
    /// True when everything read verified up to a trusted checkpoint with nothing after it.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }

    /// The verdict: `ok`, or the verdict group of the first failure.
    pub fn verdict(&self) -> Verdict {
        self.failure
            .as_ref()
            .map_or(Verdict::Ok, |f| f.class.verdict())
    }
}

/// The report's JSON (`govtrail verify --json`, the server's verification status): its fields,
/// with `status` (the [`Verdict`]) first, the checkpoint as its size and hex root, and each
/// unvouched segment by file name.
impl serde::Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct CheckpointJson {
            size: u64,
            root: String,
        }
        #[derive(serde::Serialize)]
        struct UnvouchedJson {
            segment: Option<String>,
            reason: crate::Unvouched,
        }
        #[derive(serde::Serialize)]
        struct ReportJson<'a> {
            status: Verdict,
            origin: &'a str,
            from: u64,
            records: u64,
            verified: u64,
            /// How many records are verified (`verified - from`): for an evidence pack, its
            /// records, where `verified` is the index its range ends at.
            verified_records: u64,
            checkpoint: Option<CheckpointJson>,
            checkpoints_checked: usize,
            anchors_checked: usize,
            segments: usize,
            failure: Option<&'a Failure>,
            unvouched: Vec<UnvouchedJson>,
            torn: &'a [TornTail],
        }
        ReportJson {
            status: self.verdict(),
            origin: &self.origin,
            from: self.from,
            records: self.records,
            verified: self.verified,
            verified_records: self.verified.saturating_sub(self.from),
            checkpoint: self.checkpoint.as_ref().map(|c| CheckpointJson {
                size: c.size,
                root: crate::hash::hex(&c.root),
            }),
            checkpoints_checked: self.checkpoints_checked,
            anchors_checked: self.anchors_checked,
            segments: self.segments,
            failure: self.failure.as_ref(),
            unvouched: self
                .unvouched
                .iter()
                .map(|(p, r)| UnvouchedJson {
                    segment: p.file_name().map(|n| n.to_string_lossy().into_owned()),
                    reason: *r,
                })
                .collect(),
            torn: &self.torn,
        }
        .serialize(s)
    }
}

pub(super) type Step<T = ()> = Result<T, Failure>;

pub(super) fn fail(
    class: FailureClass,
    index: Option<u64>,
    path: Option<&Path>,
    detail: String,
) -> Failure {
    Failure {
        class,
        index,
        path: path.map(Path::to_path_buf),
        detail,
    }
}

impl Report {
    pub(super) fn new(origin: String, segments: usize) -> Self {
        Self {
            origin,
            from: 0,
            records: 0,
            verified: 0,
            checkpoint: None,
            checkpoints_checked: 0,
            anchors_checked: 0,
            segments,
            failure: None,
            torn: Vec::new(),
            unvouched: Vec::new(),
        }
    }
}

pub(super) fn transition_failure(f: TransitionFault) -> Failure {
    let (class, detail) = match f {
        TransitionFault::BadSignature(d) => (FailureClass::BadSignature, d),
        TransitionFault::OriginMismatch(d) => (FailureClass::OriginMismatch, d),
        TransitionFault::Corrupt(d) => (FailureClass::Corrupt, d),
    };
    fail(class, None, None, detail)
}
