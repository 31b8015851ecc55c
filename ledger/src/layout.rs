//! Where a ledger's files live, and the ledger's configuration file.
//!
//! ```text
//! <dir>/govtrail-ledger.json          configuration (format, origin, segment size, writer's key)
//! <dir>/LOCK                          held (flock) by the one writer
//! <dir>/wal/<start:020>.wal           the write-ahead log of unsealed records
//! <dir>/segments/<start:020>-<end:020>.parquet
//! <dir>/checkpoints/<size:020>.note   stable signed checkpoints: one per sealed segment end, the
//!                                     writer's heartbeats, witnesses' cosigned ones
//! <dir>/tiles/<L>.hashes             hash tiles, a cache for proofs (tiles.rs)
//! <dir>/keys/<size:020>.transition    key-rotation notes
//! ```
//!
//! Architecture invariant: this crate alone names and lays out ledger files; others list
//! segments through [`Layout`].

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::IoContext as _;
use crate::{Error, Result};

/// Name of the configuration file in a ledger directory.
pub const CONFIG_FILE: &str = "govtrail-ledger.json";

/// A ledger's configuration, written once by `create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Ledger format version.
    pub format: u32,
    /// The log's origin (checkpoint line 1 and key name).
    pub origin: String,
    /// Records per sealed segment.
    pub segment_records: u64,
    /// The writer's verifier key, for information only: verifiers never trust it.
    pub writer_vkey: String,
}

/// Paths of a ledger directory.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout of the ledger at `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join("LOCK")
    }
    pub(crate) fn wal_dir(&self) -> PathBuf {
        self.dir.join("wal")
    }
    pub(crate) fn segments_dir(&self) -> PathBuf {
        self.dir.join("segments")
    }
    pub(crate) fn checkpoints_dir(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }
    pub(crate) fn summaries_dir(&self) -> PathBuf {
        self.dir.join("summaries")
    }
    /// The summary file of the segment holding `[start, end)` (LEDGER-FORMAT.md §13).
    pub fn summary(&self, start: u64, end: u64) -> PathBuf {
        self.summaries_dir()
            .join(crate::segment::file_name(start, end))
    }
    pub(crate) fn tiles_dir(&self) -> PathBuf {
        self.dir.join("tiles")
    }
    pub(crate) fn keys_dir(&self) -> PathBuf {
        self.dir.join("keys")
    }
    pub(crate) fn transition(&self, size: u64) -> PathBuf {
        self.keys_dir().join(format!("{size:020}.transition"))
    }
    pub(crate) fn wal(&self, start: u64) -> PathBuf {
        self.wal_dir().join(format!("{start:020}.wal"))
    }
    pub(crate) fn segment(&self, start: u64, end: u64) -> PathBuf {
        self.segments_dir()
            .join(crate::segment::file_name(start, end))
    }
    pub(crate) fn checkpoint(&self, size: u64) -> PathBuf {
        self.checkpoints_dir().join(format!("{size:020}.note"))
    }

    /// Reads and checks the configuration.
    pub fn read_config(&self) -> Result<Config> {
        let path = self.config();
        let bytes = fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::Layout {
                dir: self.dir.clone(),
                message: format!("not a govtrail ledger (no {CONFIG_FILE})"),
            },
            _ => Error::Io {
                op: "read",
                path: path.clone(),
                source,
            },
        })?;
        let config: Config = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.clone(),
            offset: None,
            message: e.to_string(),
        })?;
        if config.format != crate::FORMAT_VERSION {
            return Err(Error::Corrupt {
                path,
                offset: None,
                message: format!(
                    "ledger format version {} is not supported (this build reads version {})",
                    config.format,
                    crate::FORMAT_VERSION
                ),
            });
        }
        Ok(config)
    }

    /// Segment files, sorted by start: `(start, end, path)`. Temporary files are skipped.
    pub fn segments(&self) -> Result<Vec<(u64, u64, PathBuf)>> {
        let mut out = list(&self.segments_dir(), |name| {
            crate::segment::parse_file_name(name)
        })?;
        out.sort_by_key(|(range, _)| *range);
        Ok(out.into_iter().map(|((s, e), p)| (s, e, p)).collect())
    }

    /// WAL files, sorted by start.
    pub(crate) fn wals(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = list(&self.wal_dir(), |name| parse_numbered(name, ".wal"))?;
        out.sort_by_key(|(s, _)| *s);
        Ok(out)
    }

    /// Decision-id run files (`ids/`, LEDGER-FORMAT.md §15), sorted by range. Temporary files
    /// are skipped.
    pub(crate) fn id_runs(&self) -> Result<Vec<((u64, u64), PathBuf)>> {
        let mut out = list(&self.dir.join("ids"), |name| parse_range(name, ".ids"))?;
        out.sort_by_key(|(range, _)| *range);
        Ok(out)
    }

    /// Stable checkpoint files, sorted by size.
    pub(crate) fn checkpoints(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = list(&self.checkpoints_dir(), |name| {
            parse_numbered(name, ".note")
        })?;
        out.sort_by_key(|(s, _)| *s);
        Ok(out)
    }
}

/// A range-named file: `<start:020>-<end:020><suffix>` (segments, id runs).
pub(crate) fn parse_range(name: &str, suffix: &str) -> Option<(u64, u64)> {
    let (a, b) = name.strip_suffix(suffix)?.split_once('-')?;
    if a.len() != 20 || b.len() != 20 {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn parse_numbered(name: &str, suffix: &str) -> Option<u64> {
    let stem = name.strip_suffix(suffix)?;
    (stem.len() == 20).then(|| stem.parse().ok())?
}

fn list<K>(dir: &Path, parse: impl Fn(&str) -> Option<K>) -> Result<Vec<(K, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).ctx("list", dir),
    };
    for entry in entries {
        let entry = entry.ctx("list", dir)?;
        if let Some(key) = entry.file_name().to_str().and_then(&parse) {
            let path = entry.path();
            // A link could point outside the ledger; ledger files are regular files in it.
            if !entry.file_type().ctx("stat", &path)?.is_file() {
                return Err(Error::Layout {
                    dir: dir.to_path_buf(),
                    message: format!(
                        "{} is not a regular file (a symbolic link or directory); ledger files must be regular files inside the ledger",
                        path.display()
                    ),
                });
            }
            out.push((key, path));
        }
    }
    Ok(out)
}

/// Mode of every file the ledger creates: records, inputs and keys are for the owner alone.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the ledger creates.
pub const DIR_MODE: u32 = 0o700;

/// `OpenOptions` for a new file of mode [`FILE_MODE`].
pub(crate) fn private_options() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut o = fs::OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates `dir` and any missing parents with mode [`DIR_MODE`] (existing ones keep theirs).
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Creates `dir` (its parent must exist) with mode [`DIR_MODE`].
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new().mode(DIR_MODE).create(dir)
}

/// fsyncs a directory, so that a rename or create in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .ctx("open", dir)?
        .sync_all()
        .ctx("fsync", dir)
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, FILE_MODE)
}

/// [`write_atomic`] with the new file's mode (a shared spool's files are 0640).
pub(crate) fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Unique per process and call: a witness may write into checkpoints/ beside a sealing writer.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".tmp-{name}-{}-{seq}", std::process::id()));
    let result = (|| {
        let create = || {
            use std::os::unix::fs::OpenOptionsExt as _;
            fs::OpenOptions::new()
                .mode(mode)
                .write(true)
                .create_new(true)
                .open(&tmp)
        };
        let mut f = match create() {
            // Left by a crashed process that had the same pid: it is ours to replace.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp).ctx("remove", &tmp)?;
                create()
            }
            other => other,
        }
        .ctx("create", &tmp)?;
        f.write_all(bytes).ctx("write", &tmp)?;
        f.sync_all().ctx("fsync", &tmp)?;
        fs::rename(&tmp, path).ctx("rename", path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes leftover temporary files of interrupted writes.
pub(crate) fn remove_temporaries(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("list", dir),
    };
    for entry in entries {
        let entry = entry.ctx("list", dir)?;
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            fs::remove_file(entry.path()).ctx("remove", &entry.path())?;
        }
    }
    Ok(())
}

/// Creates `path` (mode [`FILE_MODE`]; an existing file is an error, never overwritten) and
/// writes `bytes` durably: a private key, a new credential.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_synced(private_options().write(true).create_new(true), path, bytes)
}

/// Replaces `path` atomically and durably with `bytes`, mode [`FILE_MODE`]: a file of
/// credentials that is rewritten whole (a server's tokens file).
pub fn write_replace_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, FILE_MODE)
}

/// Writes an output file a user asked for (a query result, a report, a plot, a proof):
/// created with mode [`FILE_MODE`] (outputs hold records) or replaced in place (its mode
/// kept), and fsynced.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    write_synced(
        private_options().write(true).create(true).truncate(true),
        path,
        bytes,
    )
}

fn write_synced(options: &fs::OpenOptions, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = options.open(path).ctx("create", path)?;
    f.write_all(bytes).ctx("write", path)?;
    f.sync_all().ctx("fsync", path)
}

/// Serializes a path as text, lossily: a report's JSON never fails on a name that is not UTF-8.
pub(crate) fn path_lossy<S: serde::Serializer>(
    p: &Path,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// [`path_lossy`] for an optional path.
pub(crate) fn opt_path_lossy<S: serde::Serializer>(
    p: &Option<PathBuf>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match p {
        Some(p) => path_lossy(p, s),
        None => s.serialize_none(),
    }
}

/// [`path_lossy`] for a list of paths.
pub(crate) fn paths_lossy<S: serde::Serializer>(
    ps: &[PathBuf],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(ps.iter().map(|p| p.to_string_lossy()))
}
