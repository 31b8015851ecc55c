//! Read-only views of a ledger for operators: its files and the latest checkpoint. Safe to run
//! beside the writer.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint::SignedCheckpoint;
use crate::error::IoContext as _;
use crate::layout::{Config, Layout};
use crate::records::Records;
use crate::wal::{Frame, WalReader};
use crate::{Error, Result};

/// One sealed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// First index.
    pub start: u64,
    /// One past the last index.
    pub end: u64,
    /// The file.
    pub path: PathBuf,
    /// File size.
    pub size_bytes: u64,
    /// Its summary file (LEDGER-FORMAT.md §13), when one exists (not verified).
    pub summary: Option<PathBuf>,
}

impl SegmentInfo {
    fn read(layout: &Layout, start: u64, end: u64, path: PathBuf) -> Result<Self> {
        let size_bytes = fs::metadata(&path).ctx("stat", &path)?.len();
        let summary = Some(layout.summary(start, end)).filter(|p| p.is_file());
        Ok(Self {
            start,
            end,
            path,
            size_bytes,
            summary,
        })
    }
}

/// The unsealed write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalInfo {
    /// First index.
    pub start: u64,
    /// Records covered by a checkpoint frame.
    pub committed: u64,
    /// File size.
    pub size_bytes: u64,
    /// The file.
    pub path: PathBuf,
}

/// What a ledger directory holds.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The configuration.
    pub config: Config,
    /// Sealed segments in order.
    pub segments: Vec<SegmentInfo>,
    /// WAL files in order.
    pub wals: Vec<WalInfo>,
    /// Number of stable checkpoint files.
    pub checkpoint_files: usize,
    /// The newest checkpoint (not verified: run `verify` for that).
    pub latest: Option<SignedCheckpoint>,
}

impl Inspection {
    /// Total committed records.
    pub fn records(&self) -> u64 {
        let sealed = self.segments.last().map_or(0, |s| s.end);
        self.wals
            .iter()
            .filter(|w| w.start >= sealed)
            .map(|w| w.start.saturating_add(w.committed))
            .max()
            .unwrap_or(sealed)
    }
}

/// The inspection's JSON (`govtrail inspect --json`): the configuration's origin, format and
/// segment size, the record count, each segment and WAL, and the newest checkpoint's size.
impl serde::Serialize for Inspection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct SegmentJson<'a> {
            start: u64,
            end: u64,
            bytes: u64,
            #[serde(serialize_with = "crate::layout::path_lossy")]
            path: &'a Path,
        }
        #[derive(serde::Serialize)]
        struct WalJson<'a> {
            start: u64,
            committed: u64,
            bytes: u64,
            #[serde(serialize_with = "crate::layout::path_lossy")]
            path: &'a Path,
        }
        #[derive(serde::Serialize)]
        struct InspectionJson<'a> {
            origin: &'a str,
            format: u32,
            segment_records: u64,
            records: u64,
            segments: Vec<SegmentJson<'a>>,
            wal: Vec<WalJson<'a>>,
            checkpoint_files: usize,
            latest_checkpoint_size: Option<u64>,
        }
        InspectionJson {
            origin: &self.config.origin,
            format: self.config.format,
            segment_records: self.config.segment_records,
            records: self.records(),
            segments: self
                .segments
                .iter()
                .map(|x| SegmentJson {
                    start: x.start,
                    end: x.end,
                    bytes: x.size_bytes,
                    path: &x.path,
                })
                .collect(),
            wal: self
                .wals
                .iter()
                .map(|w| WalJson {
                    start: w.start,
                    committed: w.committed,
                    bytes: w.size_bytes,
                    path: &w.path,
                })
                .collect(),
            checkpoint_files: self.checkpoint_files,
            latest_checkpoint_size: self.latest.as_ref().map(|c| c.checkpoint.size),
        }
        .serialize(s)
    }
}

/// Lists a ledger's files and reads its newest checkpoint.
pub fn inspect(dir: &Path) -> Result<Inspection> {
    let layout = Layout::new(dir);
    let config = layout.read_config()?;
    let mut segments = Vec::new();
    for (start, end, path) in layout.segments()? {
        segments.push(SegmentInfo::read(&layout, start, end, path)?);
    }
    let mut latest = None;
    let checkpoints = layout.checkpoints()?;
    if let Some((_, path)) = checkpoints.last() {
        let bytes = fs::read(path).ctx("read", path)?;
        latest = SignedCheckpoint::parse(&bytes).ok();
    }
    let mut wals = Vec::new();
    for (start, path) in layout.wals()? {
        let mut reader = WalReader::open(&path)?;
        let (mut seen, mut committed) = (0u64, 0u64);
        while let Ok(frame) = reader.next_frame()? {
            match frame {
                Frame::Records { records, .. } => seen += records.len() as u64,
                Frame::Checkpoint(bytes) => {
                    committed = seen;
                    if let Ok(cp) = SignedCheckpoint::parse(&bytes)
                        && latest
                            .as_ref()
                            .is_none_or(|l| cp.checkpoint.size >= l.checkpoint.size)
                    {
                        latest = Some(cp);
                    }
                }
            }
        }
        let size_bytes = fs::metadata(&path).ctx("stat", &path)?.len();
        wals.push(WalInfo {
            start,
            committed,
            size_bytes,
            path,
        });
    }
    Ok(Inspection {
        config,
        segments,
        wals,
        checkpoint_files: checkpoints.len(),
        latest,
    })
}

/// Reads a checkpoint note file (for anchors).
pub fn read_checkpoint_file(path: &Path) -> Result<SignedCheckpoint> {
    let bytes = fs::read(path).ctx("read", path)?;
    SignedCheckpoint::parse(&bytes).map_err(|message| Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message,
    })
}

/// Calls `f(index, ts_us, record bytes)` for every committed record in index order: sealed
/// segments, then the WALs up to their last checkpoint frame. Reads only; verifies nothing.
/// Safe beside the writer: WALs are listed before segments (a seal renames its segment into
/// place before removing its WAL); if a file vanishes mid-scan, the error says so.
pub fn scan(dir: &Path, mut f: impl FnMut(u64, i64, &[u8])) -> Result<u64> {
    scan_records(dir, |records| {
        for (index, ts_us, bytes) in records.iter() {
            f(index, ts_us, bytes);
        }
    })
}

/// [`scan`], a run of records at a time: each decoded batch of a segment as it is (its Arrow
/// buffers shared, not copied), and each WAL's committed records as one run.
pub fn scan_records(dir: &Path, mut f: impl FnMut(Records)) -> Result<u64> {
    let layout = Layout::new(dir);
    layout.read_config()?;
    let wals = layout.wals()?;
    let segments = layout.segments()?;
    let mut next = 0u64;
    for (start, end, path) in segments {
        if start != next {
            return Err(Error::Corrupt {
                path,
                offset: None,
                message: format!("segment starts at {start}, records so far end at {next}"),
            });
        }
        let (_, reader) = crate::segment::open(&path)?;
        for batch in reader {
            let batch = batch.map_err(|e| Error::Parquet {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let records = Records::from_batch(next, &batch);
            next += records.len() as u64;
            f(records);
        }
        if next != end {
            return Err(Error::Corrupt {
                path,
                offset: None,
                message: format!("segment should end at {end}, its rows end at {next}"),
            });
        }
    }
    for (start, path) in wals {
        if start < next {
            continue;
        }
        if start != next {
            return Err(Error::Corrupt {
                path,
                offset: None,
                message: format!("WAL starts at {start}, records so far end at {next}"),
            });
        }
        let mut committed = Vec::new();
        committed_wal_records(&path, |r| committed.push(r))?;
        if !committed.is_empty() {
            let records = Records::new(
                next,
                committed.iter().map(|r| (r.ts_us, r.bytes.as_slice())),
            );
            next += records.len() as u64;
            f(records);
        }
    }
    Ok(next)
}

/// Calls `f` with every record of the WAL at `path` that a checkpoint frame commits, in order.
fn committed_wal_records(path: &Path, mut f: impl FnMut(crate::wal::WalRecord)) -> Result<()> {
    let mut reader = WalReader::open(path)?;
    let mut pending = Vec::new();
    while let Ok(frame) = reader.next_frame()? {
        match frame {
            Frame::Records { records, .. } => pending.extend(records),
            Frame::Checkpoint(_) => pending.drain(..).for_each(&mut f),
        }
    }
    Ok(())
}

/// A consistent read view of a ledger for queries: the sealed segments, and every committed
/// record not yet sealed (the tail) as one Arrow batch with the segment schema, its typed
/// columns derived by the same code a seal uses. Nothing is verified.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The ledger's origin.
    pub origin: String,
    /// Sealed segments in order, contiguous from index 0.
    pub segments: Vec<SegmentInfo>,
    /// The committed records after the last segment, or `None` when there are none.
    pub tail: Option<arrow_array::RecordBatch>,
    /// Total committed records: the segments' and the tail's.
    pub records: u64,
}

/// Takes a [`Snapshot`] of the ledger at `dir`. Safe beside the writer: WALs are listed and read
/// before segments are listed (a seal renames its segment into place before it removes the
/// WAL), and a WAL that a seal removes mid-read makes the snapshot start again.
pub fn snapshot(dir: &Path) -> Result<Snapshot> {
    let layout = Layout::new(dir);
    let config = layout.read_config()?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_snapshot(&layout, &config) {
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && attempt < 8 => {}
            other => return other,
        }
    }
}

fn try_snapshot(layout: &Layout, config: &Config) -> Result<Snapshot> {
    // (index, ts_us, bytes) of committed WAL records, in order.
    let mut wal_records: Vec<(u64, i64, Vec<u8>)> = Vec::new();
    for (start, path) in layout.wals()? {
        let mut next = start;
        committed_wal_records(&path, |r| {
            wal_records.push((next, r.ts_us, r.bytes));
            next += 1;
        })?;
    }
    let mut segments = Vec::new();
    let mut sealed = 0u64;
    for (start, end, path) in layout.segments()? {
        if start != sealed {
            return Err(Error::Corrupt {
                path,
                offset: None,
                message: format!("segment starts at {start}, records so far end at {sealed}"),
            });
        }
        segments.push(SegmentInfo::read(layout, start, end, path)?);
        sealed = end;
    }
    wal_records.retain(|(idx, _, _)| *idx >= sealed);
    if let Some((first, _, _)) = wal_records.first()
        && *first != sealed
    {
        return Err(Error::Layout {
            dir: layout.dir().to_path_buf(),
            message: format!(
                "the unsealed records start at index {first} but the segments end at {sealed}"
            ),
        });
    }
    let records = sealed + wal_records.len() as u64;
    let tail = if wal_records.is_empty() {
        None
    } else {
        let mut chain = match segments.last() {
            None => crate::hash::CHAIN_GENESIS,
            Some(last) => crate::segment::chain_end(&last.path)?,
        };
        let rows: Vec<crate::segment::SealRow<'_>> = wal_records
            .iter()
            .map(|(idx, ts_us, bytes)| {
                // The columns hold the record hash and chain; the tree leaf is not needed.
                let record_hash = crate::hash::record_hash(bytes);
                chain = crate::hash::chain(&chain, *idx, &record_hash);
                crate::segment::SealRow {
                    idx: *idx,
                    ts_us: *ts_us,
                    record: bytes,
                    hashes: crate::hash::RecordHashes {
                        record_hash,
                        chain,
                        leaf: [0; 32],
                    },
                }
            })
            .collect();
        Some(crate::segment::batch(layout.dir(), &rows)?)
    };
    Ok(Snapshot {
        origin: config.origin.clone(),
        segments,
        tail,
        records,
    })
}
