//! SQL and reports over a govtrail ledger, read by Apache DataFusion.
//!
//! ```text
//!  ledger dir ──snapshot──▶ sealed segments (Parquet, pushdown) ─┐
//!                           committed tail (WALs, one batch)  ───┴─▶ ledger_rows
//!                                                                     │ views, JSON functions
//!                                                                     ▼
//!                 decisions · rule_hits · sessions · rule_sets · (incidents)
//!                                                                     │
//!            Trail::sql ◀─────────────────────────────────────────────┤
//!            report::overhead / roi / rca ──▶ text · JSON · SVG/PNG plots
//! ```
//!
//! A query sees every acknowledged record: the snapshot reads the WALs up to their last
//! checkpoint frame as well as the sealed segments. Queries never write (the session refuses
//! DDL, DML and `COPY`). Nothing here verifies the ledger: `govtrail verify` does.
//!
//! The API is async and runs on the caller's tokio runtime: nothing in this crate builds a
//! runtime or blocks on one, so a server's handlers call it directly; the CLI blocks on it.
//!
//! ```
//! use ledger::{Ledger, NoteSigner, Record};
//! let dir = tempfile::tempdir().unwrap();
//! let mut ledger = Ledger::create(dir.path(), NoteSigner::from_seed("example.org/q", [1; 32]), 1024).unwrap();
//! let rec = Record::from_json(br#"{"decision_id":"a","ts_us":1,"decision":"deny","service":"BoundaryEnforcer"}"#, &"doc").unwrap();
//! ledger.append(&rec).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let batches = rt.block_on(async {
//!     let trail = govtrail_query::Trail::open(dir.path()).await.unwrap();
//!     trail.sql("SELECT service, count(*) AS n FROM decisions GROUP BY service").await.unwrap()
//! });
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
//! ```
#![warn(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod approx;
mod error;
mod groupkey;
mod indicator;
pub mod output;
mod percentile;
pub mod plot;
pub mod report;
mod rewrite;
mod trail;
mod udf;
mod viewcmp;

pub use datafusion::execution::runtime_env::RuntimeEnv;
pub use error::{Error, Result};
pub use trail::{Progress, Pruning, Trail, TrailFiles, Unpruned, limited_runtime};
