//! Appending normalised inputs to the ledger, and draining the spool (`govtrail ingest`, a
//! server's ingest endpoints and drain task).
//!
//! [`append_sources`] appends what the normaliser (`schemas::ingest`) made of each input
//! through a shared [`Committer`], and says per input whether every unit reached the ledger.
//! [`drain`] lists and reads the spool ([`read`]: nothing changes yet), appends its calls and
//! hook logs that way, and only after the ledger has acknowledged them removes what is now in
//! the ledger ([`SpoolRead::append`]): a call file or log with a
//! unit that did not append moves to `rejected/` instead (docs/RECORD.md §5).
//!
//! Invariant: one drain of a spool at a time. The ledger's writer lock (held by the
//! committer's ledger) keeps other processes out; a caller that drains from several tasks
//! serialises them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemas::Decision;
use schemas::ingest::{Format, Ingested, Options};

use super::hooklog;
use crate::Result;
use crate::committer::Committer;
use crate::error::IoContext as _;
use crate::writer::Record;

/// Records per submission to the committer.
const CHUNK: usize = 1024;

/// One normalised input: its name (a file, `-`, `<log>@<offset>`) and what the normaliser
/// made of it.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where the input came from, as errors and reports name it.
    pub name: String,
    /// The normaliser's output.
    pub output: Ingested,
}

/// What appending some inputs did. Its JSON is `govtrail ingest --json`'s.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// Records appended.
    pub appended: u64,
    /// Records the ledger held already (the same decision id and bytes): not appended again.
    pub duplicates: u64,
    /// The ledger index of the first appended record, when any was.
    pub first_index: Option<u64>,
    /// Each input, in order.
    pub files: Vec<InputReport>,
    /// Appended records per source format (`native` when the record names none).
    pub per_format: BTreeMap<String, u64>,
    /// Appended records per decision kind.
    pub per_decision: BTreeMap<String, u64>,
    /// Units that did not become records, and records the ledger refused.
    pub rejected: Vec<Rejection>,
}

/// What one input gave.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputReport {
    /// The input's name.
    pub file: String,
    /// The format read (detected or forced), when any could be.
    pub format: Option<&'static str>,
    /// Records the normaliser made that were appended.
    pub records: usize,
    /// Records the ledger held already: not appended again.
    pub duplicates: usize,
    /// Units it rejected, and records the ledger refused (conflicts among them).
    pub rejected: usize,
    /// OTLP log records and spans that are not decisions.
    pub skipped: usize,
    /// Every unit of the input reached the ledger.
    #[serde(skip)]
    pub complete: bool,
}

/// A unit that did not reach the ledger: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    /// The input's name.
    pub file: String,
    /// The unit's 1-based line.
    pub line: usize,
    /// A JSON pointer into the unit (empty for the whole unit).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl IngestReport {
    /// Adds `other`'s inputs and counts to this report.
    pub fn merge(&mut self, other: Self) {
        self.appended += other.appended;
        self.duplicates += other.duplicates;
        self.first_index = self.first_index.or(other.first_index);
        self.files.extend(other.files);
        for (k, v) in other.per_format {
            *self.per_format.entry(k).or_default() += v;
        }
        for (k, v) in other.per_decision {
            *self.per_decision.entry(k).or_default() += v;
        }
        self.rejected.extend(other.rejected);
    }
}

/// What a drain did: what it appended, and what it did with the spool's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    /// What the spool's calls and logs gave.
    #[serde(flatten)]
    pub ingest: IngestReport,
    /// Call files removed: all of each is in the ledger.
    #[serde(serialize_with = "crate::layout::paths_lossy")]
    pub removed: Vec<PathBuf>,
    /// Call files and logs moved to `rejected/`, and the copies of log frames kept there.
    #[serde(serialize_with = "crate::layout::paths_lossy")]
    pub kept: Vec<PathBuf>,
    /// Logs no server holds that end in bytes that are not a whole frame: a call the server
    /// was recording when it stopped, never answered. Each is moved to `rejected/`.
    pub torn: Vec<TornLog>,
}

/// A hook log that ends in a torn frame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TornLog {
    /// The log.
    #[serde(serialize_with = "crate::layout::path_lossy")]
    pub log: PathBuf,
    /// Where the torn frame begins.
    pub at: u64,
    /// Why it is not a whole frame.
    pub why: String,
}

/// Appends every record of `sources` through `committer` and waits until they are durable.
/// `on_record` is called once per record handled (for progress). A record the ledger refuses
/// is a [`Rejection`]; an input with one is not [`InputReport::complete`].
pub fn append_sources(
    committer: &Committer,
    sources: &[Source],
    on_record: &mut dyn FnMut(),
) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    let mut appender = committer.appender(CHUNK);
    // Which record each pushed one is (source, record), to name duplicates and conflicts.
    let mut pushed: Vec<(usize, usize)> = Vec::new();
    for (s, Source { name, output }) in sources.iter().enumerate() {
        let mut input = InputReport {
            file: name.clone(),
            format: output.format.map(Format::name),
            records: output.records.len(),
            duplicates: 0,
            rejected: output.rejected.len(),
            skipped: output.skipped,
            complete: output.rejected.is_empty(),
        };
        report
            .rejected
            .extend(output.rejected.iter().map(|r| Rejection {
                file: name.clone(),
                line: r.line,
                pointer: r.pointer.clone(),
                message: r.message.clone(),
            }));
        for (k, (line, d)) in output.records.iter().enumerate() {
            match Record::from_decision(d, &format_args!("{name}:{line}")) {
                Ok(rec) => {
                    let format = d.source_format.as_deref().unwrap_or("native");
                    *report.per_format.entry(format.to_owned()).or_default() += 1;
                    *report
                        .per_decision
                        .entry(d.decision.as_str().to_owned())
                        .or_default() += 1;
                    pushed.push((s, k));
                    appender.push(rec)?;
                }
                Err(e) => {
                    // The ledger refused what the normaliser made: this unit is a rejection,
                    // in the input's counts as in the report's, never a record.
                    input.complete = false;
                    input.records -= 1;
                    input.rejected += 1;
                    report.rejected.push(Rejection {
                        file: name.clone(),
                        line: *line,
                        pointer: String::new(),
                        message: e.to_string(),
                    });
                }
            }
            on_record();
        }
        report.files.push(input);
    }
    let appended = appender.finish()?;
    report.appended = appended.records;
    report.first_index = appended.first;
    // Records the ledger did not append: not counted as appended, each said apart.
    let not_appended = appended
        .duplicates
        .iter()
        .map(|&(p, i)| (p, i, false))
        .chain(appended.conflicts.iter().map(|&(p, i)| (p, i, true)));
    let not_appended: Vec<(u64, u64, bool)> = not_appended.collect();
    // The stored records of would-be conflicts that may be the same decision received again
    // (§15.1), read in one pass.
    let stored = {
        let maybe: Vec<u64> = not_appended
            .iter()
            .filter(|&&(p, _, conflict)| {
                conflict
                    && usize::try_from(p)
                        .ok()
                        .and_then(|p| pushed.get(p))
                        .is_some_and(|&(s, k)| stamped(&sources[s].output.records[k].1))
            })
            .map(|&(_, i, _)| i)
            .collect();
        if maybe.is_empty() {
            BTreeMap::new()
        } else {
            crate::proof::records_at(committer.dir(), &maybe)?
        }
    };
    for (position, index, conflict) in not_appended {
        let Some(&(s, k)) = usize::try_from(position).ok().and_then(|p| pushed.get(p)) else {
            continue;
        };
        let (line, d) = &sources[s].output.records[k];
        let format = d.source_format.as_deref().unwrap_or("native");
        for (map, key) in [
            (&mut report.per_format, format),
            (&mut report.per_decision, d.decision.as_str()),
        ] {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        let input = &mut report.files[s];
        input.records -= 1;
        let conflict = conflict
            && !stored
                .get(&index)
                .is_some_and(|bytes| same_but_received(bytes, d));
        if conflict {
            input.rejected += 1;
            input.complete = false;
            report.rejected.push(Rejection {
                file: input.file.clone(),
                line: *line,
                pointer: "/decision_id".into(),
                message: format!(
                    "decision_id {:?} is at index {index} with other bytes: a conflict, not \
                     appended",
                    d.decision_id
                ),
            });
        } else {
            input.duplicates += 1;
            report.duplicates += 1;
        }
    }
    Ok(report)
}

/// Whether a record says when it was received: `source.received_us` (a server's receipt), or
/// `source.ts_origin = "received"` (a bare hook payload, which carries no time).
fn stamped(d: &Decision) -> bool {
    d.source.as_ref().is_some_and(|s| {
        s.contains_key("received_us")
            || s.get("ts_origin").and_then(|v| v.as_str()) == Some("received")
    })
}

/// Whether `d`, whose id the stored record `bytes` holds with other bytes, is that record
/// received again (LEDGER-FORMAT.md §15.1): the two are equal once the receipt is set aside,
/// that is `source.received_us`, and `ts_us` too when both were stamped with the time they were
/// received (`source.ts_origin = "received"`). Then it is a duplicate, not a conflict.
fn same_but_received(bytes: &[u8], d: &Decision) -> bool {
    let Ok(mut stored) = Decision::from_json(bytes) else {
        return false;
    };
    let mut new = d.clone();
    let by_receipt = |d: &Decision| {
        d.source
            .as_ref()
            .and_then(|s| s.get("ts_origin"))
            .and_then(|v| v.as_str())
            == Some("received")
    };
    if by_receipt(&stored) && by_receipt(&new) {
        (stored.ts_us, new.ts_us) = (0, 0);
    }
    for d in [&mut stored, &mut new] {
        if let Some(source) = &mut d.source {
            source.remove("received_us");
            if source.is_empty() {
                d.source = None;
            }
        }
    }
    stored == new
}

/// Drains `spool` into the ledger: [`read`], then [`SpoolRead::append`].
pub fn drain(committer: &Committer, spool: &Path, opts: &Options) -> Result<DrainReport> {
    read(spool, opts, Retry::New)?.append(committer, &mut || {})
}

/// Which files a drain takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The spool's new calls and hook-log frames.
    New,
    /// Those, and what earlier drains moved to `rejected/`: call files, and the rejected frames
    /// of hook logs (`<log>@<offset>.rejected.ndjson`), for a normaliser that has learnt to
    /// read them. Torn logs there are not retried: their whole frames were appended when they
    /// were moved.
    AlsoRejected,
}

/// What [`read`] took from a spool: its call files and the new frames of its hook logs,
/// normalised, not yet appended.
#[derive(Debug)]
pub struct SpoolRead {
    spool: PathBuf,
    calls: Vec<PathBuf>,
    retried: Vec<PathBuf>,
    logs: Vec<hooklog::Drained>,
    /// The calls' files, then the retried rejected files, then the logs' new frames
    /// (`<log>@<offset>`), normalised.
    pub sources: Vec<Source>,
}

/// Lists and reads `spool`: its call files and hook logs, oldest first (and with
/// [`Retry::AlsoRejected`], the files earlier drains rejected), normalised as `govtrail.hook`
/// envelopes with `opts` (its format is ignored). Nothing is appended or changed yet, so a
/// spool that cannot be read stops a caller before it appends anything.
pub fn read(spool: &Path, opts: &Options, retry: Retry) -> Result<SpoolRead> {
    let opts = Options {
        format: Some(Format::GovtrailHook),
        ..opts.clone()
    };
    let calls = super::files(spool, super::CALL_SUFFIX)?;
    let rejected = spool.join(super::REJECTED);
    let retried = match retry {
        Retry::AlsoRejected if rejected.is_dir() => {
            let mut r = super::files(&rejected, super::CALL_SUFFIX)?;
            r.extend(super::files(&rejected, REJECTED_FRAMES)?);
            r
        }
        _ => Vec::new(),
    };
    let mut sources = Vec::new();
    for path in calls.iter().chain(&retried) {
        let bytes = std::fs::read(path).ctx("read", path)?;
        sources.push(Source {
            name: path.display().to_string(),
            output: schemas::ingest::ingest(&bytes, &opts),
        });
    }
    let logs = hooklog::logs(spool)?
        .iter()
        .map(|p| hooklog::read(p))
        .collect::<Result<Vec<_>>>()?;
    for d in &logs {
        sources.push(Source {
            name: format!("{}@{}", d.path.display(), d.start),
            output: schemas::ingest::ingest(&d.ndjson, &opts),
        });
    }
    Ok(SpoolRead {
        spool: spool.to_path_buf(),
        calls,
        retried,
        logs,
        sources,
    })
}

/// A hook log's rejected frames, kept in `rejected/` for a later retry, end so.
const REJECTED_FRAMES: &str = ".rejected.ndjson";

/// Why a file is in `rejected/`: written beside it as `<name>.reason` (JSON).
#[derive(Debug, serde::Serialize)]
struct Reason<'a> {
    /// The file the units came from.
    file: &'a str,
    /// When the drain rejected them, µs since the epoch.
    at_us: i64,
    /// The build that rejected them.
    by: &'a str,
    /// Each unit's line (in the file the units came from), pointer and message.
    rejected: Vec<&'a Rejection>,
}

impl SpoolRead {
    /// Appends what was read through `committer`; then each call file (or retried file) all of
    /// whose units are durable in the ledger is removed, and the rest moved to (or left in)
    /// `rejected/` with the reason beside them; each log's rejected frames are copied there,
    /// the log marked drained to its last whole frame, and removed once no server holds it.
    /// `on_record` is called once per record handled (for progress).
    pub fn append(self, committer: &Committer, on_record: &mut dyn FnMut()) -> Result<DrainReport> {
        let ingest = append_sources(committer, &self.sources, on_record)?;
        let spool = self.spool.as_path();
        let dest = spool.join(super::REJECTED);
        // Everything appended is durable now: the spool's copies can go.
        let mut report = DrainReport {
            ingest,
            ..DrainReport::default()
        };
        let files = report.ingest.files.clone();
        let (call_reports, rest) = files.split_at(self.calls.len());
        let (retried_reports, log_reports) = rest.split_at(self.retried.len());
        for (path, input) in self.calls.iter().zip(call_reports) {
            if input.complete {
                std::fs::remove_file(path).ctx("remove", path)?;
                report.removed.push(path.clone());
            } else {
                let kept = dest.join(path.file_name().unwrap_or_default());
                write_reason(&report.ingest, &input.file, &kept)?;
                super::reject(spool, path)?;
                report.kept.push(kept);
            }
        }
        for (path, input) in self.retried.iter().zip(retried_reports) {
            let reason = reason_path(path);
            if input.complete {
                std::fs::remove_file(path).ctx("remove", path)?;
                match std::fs::remove_file(&reason) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).ctx("remove", &reason);
                    }
                    _ => {}
                }
                report.removed.push(path.clone());
            } else {
                write_reason(&report.ingest, &input.file, path)?;
                report.kept.push(path.clone());
            }
        }
        if !self.retried.is_empty() {
            crate::layout::sync_dir(&dest)?;
        }
        for (d, input) in self.logs.iter().zip(log_reports) {
            if !input.complete {
                // The rejected frames alone (the others are in the ledger), durable before
                // `finish` moves past them or removes the log, with the reason beside them.
                let lines: BTreeSet<usize> = report
                    .ingest
                    .rejected
                    .iter()
                    .filter(|r| r.file == input.file)
                    .map(|r| r.line)
                    .collect();
                let mut frames = Vec::new();
                for (n, line) in d.ndjson.split_inclusive(|&b| b == b'\n').enumerate() {
                    if lines.contains(&(n + 1)) {
                        frames.extend_from_slice(line);
                    }
                }
                super::create(&dest)?;
                let copy = dest.join(format!(
                    "{}@{}{REJECTED_FRAMES}",
                    d.path.file_name().unwrap_or_default().to_string_lossy(),
                    d.start
                ));
                crate::layout::write_atomic_mode(&copy, &frames, super::file_mode(&dest))?;
                write_reason(&report.ingest, &input.file, &copy)?;
                report.kept.push(copy);
            }
            if let (true, Some((at, why))) = (d.finished, &d.torn) {
                report.torn.push(TornLog {
                    log: d.path.clone(),
                    at: *at,
                    why: why.clone(),
                });
                report
                    .kept
                    .push(dest.join(d.path.file_name().unwrap_or_default()));
            }
            hooklog::finish(d)?;
        }
        if !self.calls.is_empty() || !self.logs.is_empty() {
            crate::layout::sync_dir(spool)?;
        }
        Ok(report)
    }
}

/// `rejected/<name>.reason` of a file in `rejected/`.
fn reason_path(kept: &Path) -> PathBuf {
    let mut name = kept.file_name().unwrap_or_default().to_os_string();
    name.push(".reason");
    kept.with_file_name(name)
}

/// Writes why the units of `file` (a source's name) were rejected beside `kept`, durably.
fn write_reason(report: &IngestReport, file: &str, kept: &Path) -> Result<()> {
    let reason = Reason {
        file,
        at_us: super::now_us(),
        by: concat!("govtrail ", env!("CARGO_PKG_VERSION")),
        rejected: report.rejected.iter().filter(|r| r.file == file).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&reason).unwrap_or_default();
    bytes.push(b'\n');
    let dir = kept.parent().unwrap_or_else(|| Path::new("."));
    super::create(dir)?;
    crate::layout::write_atomic_mode(&reason_path(kept), &bytes, super::file_mode(dir))
}
