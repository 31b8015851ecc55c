//! Errors of the ledger crate: why an operation could not run, and where.
//!
//! Verification failures are not errors: they are data in a [`crate::Report`].

use std::path::PathBuf;

/// Why a ledger operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed on a file of the ledger or a key.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (e.g. "fsync", "open").
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the ledger's writer lock.
    #[error(
        "ledger {} is locked by another writer (lock file {}); only one process may append at a time",
        dir.display(), lock.display()
    )]
    Locked {
        /// The ledger directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The directory holds no ledger, or the ledger already exists.
    #[error("{}: {message}", dir.display())]
    Layout {
        /// The ledger directory.
        dir: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A ledger file is damaged or not of a format this build reads.
    #[error("corrupt {}{}: {message}", path.display(), offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damage, when known.
        offset: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// A witness refused a checkpoint that does not extend the one it cosigned last: the log
    /// was cut short or forked.
    #[error("{what} refuses: {message}")]
    Inconsistent {
        /// The witness.
        what: String,
        /// What does not extend what.
        message: String,
    },
    /// A key or note could not be parsed.
    #[error("{what}: {message}")]
    Key {
        /// Which key or note (a path or a key name).
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// A record was refused before it reached the ledger.
    #[error("record {position}: {source}")]
    Record {
        /// Where the record came from (its position in the batch, or a file and line).
        position: String,
        /// What is wrong with it.
        #[source]
        source: schemas::Error,
    },
    /// A record is larger than the ledger accepts.
    #[error(
        "record {position} is {size_bytes} bytes; a record may hold {limit_bytes} bytes (8 MiB)"
    )]
    TooLarge {
        /// Where the record came from.
        position: String,
        /// Its canonical size.
        size_bytes: usize,
        /// The limit.
        limit_bytes: usize,
    },
    /// The commit that held these records failed.
    #[error("commit failed: {message}")]
    Commit {
        /// Why, as the commit thread reported it.
        message: String,
    },
    /// An earlier write failed and could not be undone; reopen the ledger to recover.
    #[error("ledger writer is unusable after an earlier failure; reopen the ledger to recover")]
    Poisoned,
    /// A spool file or hook log is not what the spool's layout says (docs/RECORD.md §5).
    #[error("{}: {message}", path.display())]
    Spool {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A directory given as an evidence pack is a ledger.
    #[error("{}: a ledger, not an evidence pack", dir.display())]
    NotAnEvidencePack {
        /// The directory.
        dir: PathBuf,
    },
    /// Anchors were given with an evidence pack, which proves its range against its own
    /// checkpoint: that checkpoint is checked against an anchor with a consistency proof.
    #[error(
        "anchors are not used with an evidence pack: it proves its range against its own checkpoint; check that checkpoint against your anchor with a consistency proof"
    )]
    AnchorsWithEvidencePack,
    /// A witness was given a key that is not a cosignature key.
    #[error("{what}: the witness key must be a cosignature key")]
    NotAWitnessKey {
        /// The witness.
        what: String,
    },
    /// Parquet encoding or decoding failed.
    #[error("parquet {}: {message}", path.display())]
    Parquet {
        /// The segment file.
        path: PathBuf,
        /// What the Parquet library said.
        message: String,
    },
}

/// `Result` with [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches an operation and a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}
