//! Replay and live decisions: rule bundles evaluated by regorus, deterministic re-evaluation of
//! recorded decisions, and the flip report (docs/REPLAY.md).
//!
//! A replay is a pure function of (recorded input, bundle): policies read the recorded time
//! through `time.now_ns`, never the clock; records are evaluated in index order in fixed chunks
//! and merged in order, so the report is the same bytes whatever the thread count. This crate's
//! clippy.toml forbids the clock and hash-ordered maps.

mod bundle;
pub mod decide;
mod eval;
mod input;
mod options;
mod render;
mod report;
mod run;
mod summary;

pub use bundle::{Bundle, BundleDescription, DEFAULT_ENTRYPOINT, TestOutcome, TestResult};
pub use eval::{DECISIONS, Engine, Evaluator, Outcome};
pub use input::{RecordView, Replayable, claude_code, replay_input};
pub use options::{Incident, MAX_THREADS, Options, Progress};
/// The Rego engine, for callers of [`Evaluator::eval_value`].
pub use regorus;
pub use render::{json, junit, markdown, text};
pub use report::{
    Divergence, FlipCell, Flipped, IncidentVerdict, RecordError, Report, Stop, Verification,
};
pub use run::{replay, replay_records};

use std::path::{Path, PathBuf};

/// What went wrong, with the file (and line when known).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A bundle file is wrong.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Bundle {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The Rego engine's message (it carries `--> file:line:col` and the source line).
    #[error("{}: {message}", path.display())]
    Rego {
        /// The bundle or file concerned.
        path: PathBuf,
        /// regorus's message.
        message: String,
    },
    /// The ledger did not verify.
    #[error("the ledger did not verify ({}: {message}); nothing was replayed", class.as_str())]
    Refused {
        /// The failure class.
        class: ledger::FailureClass,
        /// Its verdict group.
        verdict: ledger::Verdict,
        /// What differs.
        message: String,
    },
    /// The ledger could not be read or verified.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// Something else about the request.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn bundle(path: &Path, line: Option<usize>, message: &str) -> Self {
        Self::Bundle {
            path: path.to_path_buf(),
            line,
            message: message.to_owned(),
        }
    }
    pub(crate) fn rego(path: &Path, e: &impl std::fmt::Display) -> Self {
        Self::Rego {
            path: path.to_path_buf(),
            message: e.to_string().trim().to_owned(),
        }
    }
}
