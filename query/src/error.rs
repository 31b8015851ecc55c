//! Errors of the query crate: why a query or report could not run, and where.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Why a query or report could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory is not a ledger.
    #[error("{}: {message}", dir.display())]
    NoLedger {
        /// The directory given.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// The SQL is not valid, names something that does not exist, or failed while running.
    #[error("{message}")]
    Sql {
        /// What DataFusion said, without its wrapping.
        message: String,
    },
    /// The statement would write or change the session: queries are read-only.
    #[error(
        "queries are read-only: {statement} is not allowed (only SELECT, WITH, EXPLAIN, SHOW and DESCRIBE)"
    )]
    ReadOnly {
        /// The kind of statement refused.
        statement: String,
    },
    /// An input file (incidents, cost model) is malformed.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A plot could not be drawn.
    #[error("cannot draw the plot: {message}")]
    Plot {
        /// What the drawing library said.
        message: String,
    },
    /// The session asked about has no decisions in the ledger (the `sessions` view lists
    /// those it has).
    #[error("no decisions with session_id '{session_id}' in this ledger")]
    NoSession {
        /// The session asked about.
        session_id: String,
    },
    /// A rule set asked about has no decisions in the ledger.
    #[error(
        "no decisions with rule_set '{rule_set}' in this ledger{}",
        if known.is_empty() { " (it records no rule set)".to_owned() } else { format!(" (it has {})", known.join(", ")) }
    )]
    NoRuleSet {
        /// The rule set asked about.
        rule_set: String,
        /// Rule sets the ledger has (up to 20).
        known: Vec<String>,
    },
    /// A segment summary holds an impossible count: the summary files are damaged (they are
    /// read without verification; scanning the records instead does not use them).
    #[error(
        "a segment summary holds an impossible count ({count}); verify the ledger, or scan the records instead of the summaries"
    )]
    DamagedSummary {
        /// The count found.
        count: i64,
    },
    /// DataFusion failed while setting up a table.
    #[error("{0}")]
    DataFusion(#[source] DataFusionError),
    /// A bug: a user should never be able to cause it.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `Result` with [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies a DataFusion error raised by a user's statement.
    pub(crate) fn sql(err: DataFusionError) -> Self {
        let root = err.find_root();
        let message = root.to_string();
        for kind in ["DDL", "DML", "Statement"] {
            if let Some(rest) = message.split(&format!("{kind} not supported: ")).nth(1) {
                return Self::ReadOnly {
                    statement: rest.trim().to_owned(),
                };
            }
        }
        let message = match root {
            DataFusionError::SQL(e, _) => format!("SQL syntax error: {e}"),
            DataFusionError::SchemaError(e, _) => format!("{e}"),
            DataFusionError::Plan(m) => format!("cannot plan the query: {m}"),
            DataFusionError::Execution(m) => format!("query failed: {m}"),
            DataFusionError::NotImplemented(m) => format!("not supported: {m}"),
            other => other.to_string(),
        };
        Self::Sql { message }
    }
}
