//! The decision record of govtrail: its Rust type, its canonical bytes and the Arrow schema of a
//! ledger segment.
//!
//! ```text
//!   NDJSON line ──parse──▶ Decision ──canonical_bytes (RFC 8785)──▶ record bytes (hashed, stored)
//!                                                                       │
//!                           DecisionView ◀──parse (verify)──────────────┘ typed columns re-derived
//! ```
//!
//! Architecture invariant: this crate does no I/O and knows nothing of files, ledger hashes or
//! keys (SHA-256 appears only to name sources by content: rule sets, anonymous payloads). It
//! alone decides what a record's bytes are, and how each input format becomes a record
//! ([`ingest`]); everything above stores or hashes those bytes verbatim and never
//! re-serialises them.
//!
//! ```
//! let line = br#"{"decision_id":"d1","ts_us":1760058123004000,"decision":"deny","engine":"tractatus"}"#;
//! let decision = govtrail_schemas::Decision::from_json(line).unwrap();
//! let bytes = decision.canonical_bytes().unwrap();
//! assert_eq!(
//!     std::str::from_utf8(&bytes).unwrap(),
//!     r#"{"decision":"deny","decision_id":"d1","engine":"tractatus","ts_us":1760058123004000,"v":1}"#
//! );
//! ```
#![warn(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod canonical;
mod decision;
pub mod demo;
mod envelope;
mod error;
mod incident;
pub mod ingest;
mod segment;
mod view;

pub use canonical::{canonical_decision_id, is_canonical};
pub use decision::{
    Decision, DecisionKind, DecisionView, MAX_RECORD_BYTES, MAX_SAFE_INTEGER, RECORD_VERSION,
};
pub use envelope::{HOOK_ENVELOPE_VERSION, HookEnvelope, HookStream};
pub use error::{Error, Result};
pub use incident::{Incident, parse_incidents};
pub use ingest::ejson::{rfc3339_us, us_rfc3339};
pub use segment::{COLUMNS, segment_schema};
