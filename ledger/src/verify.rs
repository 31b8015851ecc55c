//! Offline verification: recompute everything from stored bytes and trusted keys, and report the
//! verified horizon or the first failure (LEDGER-FORMAT.md §7 gives the exact order of checks,
//! which the independent verifier follows too).
//!
//! Invariants: no key is read from the ledger directory; a failure is data in the [`Report`],
//! and [`crate::Error`] means only that verification could not run.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use schemas::DecisionView;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::error::IoContext as _;
use crate::hash::{CHAIN_GENESIS, Hash, chain, entry, leaf_hash, record_hash};
use crate::layout::Layout;
use crate::merkle::Frontier;
use crate::note::NoteVerifier;
use crate::policy::{Distrust, TransitionFault, TrustPolicy};
use crate::records::Records;
use crate::segment::{ChainColumns, SegmentColumns};
use crate::wal::{Frame, Tail, WalReader};
use crate::{Error, Result};

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

    /// The verdict group: `tampered`, `truncated-or-forked`, `unverified-tail` or
    /// `unverified`.
    pub fn verdict(self) -> &'static str {
        match self {
            Self::Truncated | Self::Forked => "truncated-or-forked",
            Self::UnverifiedTail => "unverified-tail",
            Self::Untrusted => "unverified",
            _ => "tampered",
        }
    }
}

/// The first thing that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub class: FailureClass,
    /// The first record index known to be bad, when one is.
    pub index: Option<u64>,
    /// The file concerned, when one is.
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
    /// Records read (the contiguous prefix that could be read).
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The WAL file.
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
}

#[derive(Debug)]
struct Expected {
    root: Hash,
    /// Where the checkpoint came from (a file, a WAL, an anchor).
    source: String,
    anchor: bool,
}

struct Run {
    origin: String,
    policy: TrustPolicy,
    expected: BTreeMap<u64, Expected>,
    untrusted_seen: Vec<String>,
    frontier: Frontier,
    chain: Hash,
    verified: u64,
    checkpoint: Option<Checkpoint>,
    checkpoints_checked: usize,
    anchors_checked: usize,
    /// The first summary that differs from its segment (§13): reported only when nothing
    /// else failed, so that a damaged cache never hides damage to the records.
    summary_failure: Option<Failure>,
    /// [`VerifyOptions::check_columns`].
    check_columns: bool,
    /// Torn WAL tails seen in step 1.
    torn: Vec<TornTail>,
}

type Step<T = ()> = std::result::Result<T, Failure>;

fn fail(class: FailureClass, index: Option<u64>, path: Option<&Path>, detail: String) -> Failure {
    Failure {
        class,
        index,
        path: path.map(Path::to_path_buf),
        detail,
    }
}

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

impl Report {
    fn new(origin: String, segments: usize) -> Self {
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

impl Run {
    /// A run for `origin` whose tree and chain start at `frontier` and `chain` (the empty tree
    /// for a ledger; the manifest's state for an evidence pack).
    fn new(origin: &str, opts: &VerifyOptions, frontier: Frontier, chain: Hash) -> Self {
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
    fn into_report(self, mut report: Report, failure: Option<Failure>) -> Report {
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
    fn add_checkpoint(
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
    fn push(&mut self, leaf: Hash, path: Option<&Path>) -> Step {
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

/// Verifies the ledger at `dir` against the trusted keys and anchors in `opts`.
///
/// Safe beside a running writer: if a file listed at the start vanishes (a seal finished and
/// removed its WAL), verification starts again from fresh listings, up to five times.
pub fn verify(dir: &Path, opts: &VerifyOptions) -> Result<Report> {
    verify_into(dir, opts, &mut Sink::none())
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
        handed: 0,
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
}

impl Sink<'_> {
    /// Nowhere: records are checked and dropped, and no run of them is built.
    fn none() -> Self {
        Self {
            each: None,
            handed: 0,
        }
    }

    /// Hands on the records `make` builds that were not handed on before; `make` runs only
    /// when there is a taker.
    fn hand(&mut self, make: impl FnOnce() -> Records) {
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

fn transition_failure(f: TransitionFault) -> Failure {
    let (class, detail) = match f {
        TransitionFault::BadSignature(d) => (FailureClass::BadSignature, d),
        TransitionFault::OriginMismatch(d) => (FailureClass::OriginMismatch, d),
        TransitionFault::Corrupt(d) => (FailureClass::Corrupt, d),
    };
    fail(class, None, None, detail)
}

/// Verifies an evidence pack (LEDGER-FORMAT.md §12): its one segment from the tree state in
/// the manifest, then the consistency proof to its checkpoint. The caller asks for a pack:
/// [`verify`] never treats a directory as one, so that a file dropped into a ledger cannot
/// narrow what is verified.
pub fn verify_evidence(dir: &Path, opts: &VerifyOptions) -> Result<Report> {
    if dir.join(crate::CONFIG_FILE).exists() {
        return Err(Error::Layout {
            dir: dir.to_path_buf(),
            message: "this is a ledger, not an evidence pack: verify it without --evidence".into(),
        });
    }
    if !opts.anchors.is_empty() {
        return Err(Error::Key {
            what: "verification".into(),
            message: "anchors are not used with an evidence pack: it proves its range against its own checkpoint; check that checkpoint against your anchor with a consistency proof (verify-proof --anchor)".into(),
        });
    }
    require_keys(opts)?;
    let manifest_path = dir.join(crate::evidence::EVIDENCE_FILE);
    let mut report = Report::new(String::new(), 1);
    let pack = match crate::evidence::open_pack(dir)? {
        Ok(p) => p,
        Err(detail) => {
            report.failure = Some(fail(
                FailureClass::Corrupt,
                None,
                Some(&manifest_path),
                detail,
            ));
            return Ok(report);
        }
    };
    let m = &pack.manifest;
    report.origin = m.origin.clone();
    report.from = m.from;
    report.verified = m.from;
    let Some(frontier) = Frontier::from_parts(m.from, m.peaks.clone()) else {
        report.failure = Some(fail(
            FailureClass::Corrupt,
            None,
            Some(&manifest_path),
            format!(
                "{} peaks do not fit a tree of size {}",
                m.peaks.len(),
                m.from
            ),
        ));
        return Ok(report);
    };
    let mut run = Run::new(&m.origin, opts, frontier, m.chain);
    let step = (|| -> Result<Step> {
        if let Some(want) = opts.origin.as_ref().filter(|w| **w != m.origin) {
            return Ok(Err(fail(
                FailureClass::OriginMismatch,
                None,
                Some(&manifest_path),
                format!(
                    "the pack's origin is {:?}, the auditor expects {want:?}",
                    m.origin
                ),
            )));
        }
        if let Err(f) = run.policy.apply_transitions(dir, &m.origin)? {
            return Ok(Err(transition_failure(f)));
        }
        let (cp_path, cp_bytes) = &pack.checkpoint;
        let before = run.untrusted_seen.len();
        if let Err(f) = run.add_checkpoint(cp_bytes, "checkpoint.note", Some(cp_path), false) {
            return Ok(Err(f));
        }
        let cp = match SignedCheckpoint::parse(cp_bytes) {
            Ok(cp) if run.untrusted_seen.len() == before => cp.checkpoint,
            _ => {
                return Ok(Err(fail(
                    FailureClass::Untrusted,
                    Some(m.from),
                    Some(cp_path),
                    format!(
                        "checkpoint.note is not trusted: {}. Either the keys given are not the log's at that size (a wrong key, or an old key after a rotation), or the pack's checkpoint was replaced",
                        run.untrusted_seen.join("; ")
                    ),
                )));
            }
        };
        if cp.size != m.size {
            return Ok(Err(fail(
                FailureClass::Corrupt,
                None,
                Some(&manifest_path),
                format!(
                    "the manifest says size {}, checkpoint.note has {}",
                    m.size, cp.size
                ),
            )));
        }
        let mut sink = Sink::none();
        if let Err(f) = verify_segment(&mut run, m.from, m.to, &pack.segment, None, &mut sink)? {
            return Ok(Err(f));
        }
        let root_to = run.frontier.root();
        if m.to < cp.size {
            if !crate::merkle::verify_consistency(m.to, cp.size, &root_to, &cp.root, &m.consistency)
            {
                return Ok(Err(fail(
                    FailureClass::RootMismatch,
                    Some(m.from),
                    Some(&manifest_path),
                    format!(
                        "the recomputed root of size {} does not lead to checkpoint.note's root (size {}) by the manifest's consistency proof",
                        m.to, cp.size
                    ),
                )));
            }
            run.verified = m.to;
            run.checkpoint = Some(cp);
            run.checkpoints_checked += 1;
        }
        Ok(Ok(()))
    })()?;
    Ok(run.into_report(report, step.err()))
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
                    "not a checkpoint note ({e}); an anchor is a checkpoint saved earlier (govtrail checkpoint)"
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

/// Checks one record at `idx`; returns its leaf hash.
fn check_record(
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

fn verify_segment(
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
        sink.hand(|| Records::from_batch(first, &decoded.batch));
    }
    Ok(())
}

fn verify_wal(
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
                sink.hand(|| Records::new(first, pending.iter().map(|(t, b)| (*t, b.as_slice()))));
                pending.clear();
            }
            Err(Tail::Clean | Tail::Torn { .. }) => break,
        }
    }
    Ok(Ok(()))
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
