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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// Records the normaliser made.
    pub records: usize,
    /// Units it rejected.
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
    for Source { name, output } in sources {
        let mut input = InputReport {
            file: name.clone(),
            format: output.format.map(Format::name),
            records: output.records.len(),
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
        for (line, d) in &output.records {
            match Record::from_decision(d, &format_args!("{name}:{line}")) {
                Ok(rec) => {
                    let format = d.source_format.as_deref().unwrap_or("native");
                    *report.per_format.entry(format.to_owned()).or_default() += 1;
                    *report
                        .per_decision
                        .entry(d.decision.as_str().to_owned())
                        .or_default() += 1;
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
    Ok(report)
}

/// Drains `spool` into the ledger: [`read`], then [`SpoolRead::append`].
pub fn drain(committer: &Committer, spool: &Path, opts: &Options) -> Result<DrainReport> {
    read(spool, opts)?.append(committer, &mut || {})
}

/// What [`read`] took from a spool: its call files and the new frames of its hook logs,
/// normalised, not yet appended.
#[derive(Debug)]
pub struct SpoolRead {
    spool: PathBuf,
    calls: Vec<PathBuf>,
    logs: Vec<hooklog::Drained>,
    /// The calls' files, then the logs' new frames (`<log>@<offset>`), normalised.
    pub sources: Vec<Source>,
}

/// Lists and reads `spool`: its call files and hook logs, oldest first, normalised as
/// `govtrail.hook` envelopes with `opts` (its format is ignored). Nothing is appended or
/// changed yet, so a spool that cannot be read stops a caller before it appends anything.
pub fn read(spool: &Path, opts: &Options) -> Result<SpoolRead> {
    let opts = Options {
        format: Some(Format::GovtrailHook),
        ..opts.clone()
    };
    let calls = super::files(spool, super::CALL_SUFFIX)?;
    let mut sources = Vec::new();
    for path in &calls {
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
        logs,
        sources,
    })
}

impl SpoolRead {
    /// Appends what was read through `committer`; then each call file all of whose units are
    /// durable in the ledger is removed and the rest moved to `rejected/`; each log is marked
    /// drained to its last whole frame, and removed once no server holds it. `on_record` is
    /// called once per record handled (for progress).
    pub fn append(self, committer: &Committer, on_record: &mut dyn FnMut()) -> Result<DrainReport> {
        let ingest = append_sources(committer, &self.sources, on_record)?;
        let spool = self.spool.as_path();
        // Everything appended is durable now: the spool's copies can go.
        let mut report = DrainReport {
            ingest,
            ..DrainReport::default()
        };
        let calls = self.calls.len();
        let (call_reports, log_reports) = report.ingest.files.split_at(calls);
        for (path, input) in self.calls.iter().zip(call_reports) {
            if input.complete {
                std::fs::remove_file(path).ctx("remove", path)?;
                report.removed.push(path.clone());
            } else {
                super::reject(spool, path)?;
                report.kept.push(
                    spool
                        .join("rejected")
                        .join(path.file_name().unwrap_or_default()),
                );
            }
        }
        for (d, input) in self.logs.iter().zip(log_reports) {
            if !input.complete {
                // Kept whole beside the log, for the lines the rejections name; durable before
                // `finish` moves past these frames or removes the log.
                let dest = spool.join("rejected");
                super::create(&dest)?;
                let copy = dest.join(format!(
                    "{}@{}.ndjson",
                    d.path.file_name().unwrap_or_default().to_string_lossy(),
                    d.start
                ));
                crate::layout::write_atomic_mode(&copy, &d.ndjson, super::file_mode(&dest))?;
                report.kept.push(copy);
            }
            if let (true, Some((at, why))) = (d.finished, &d.torn) {
                report.torn.push(TornLog {
                    log: d.path.clone(),
                    at: *at,
                    why: why.clone(),
                });
                report.kept.push(
                    spool
                        .join("rejected")
                        .join(d.path.file_name().unwrap_or_default()),
                );
            }
            hooklog::finish(d)?;
        }
        if !self.calls.is_empty() || !self.logs.is_empty() {
            crate::layout::sync_dir(spool)?;
        }
        Ok(report)
    }
}
