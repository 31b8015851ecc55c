//! The govtrail ledger: an append-only, hash-chained, Merkle-committed log of decision records in
//! Parquet segments, with C2SP signed checkpoints and offline verification.
//!
//! ```text
//!  Record ──append_batch──▶ WAL frame + checkpoint frame ──fsync──▶ Commit (acknowledged)
//!                                   │ (segment full)
//!                                   ▼
//!                      seal ──▶ segments/<start>-<end>.parquet + checkpoints/<end>.note
//!
//!  verify(dir, trusted keys, anchors) ──▶ Report { verified horizon, failure }
//! ```
//!
//! The byte formats are specified in `docs/LEDGER-FORMAT.md`.
//!
//! ```
//! use govtrail_ledger::{Ledger, NoteSigner, Record, VerifyOptions, verify};
//! let dir = tempfile::tempdir().unwrap();
//! let signer = NoteSigner::from_seed("example.org/ledger", [1; 32]);
//! let vkey = signer.verifier();
//! let mut ledger = Ledger::create(dir.path(), signer, 1024).unwrap();
//! let rec = Record::from_json(br#"{"decision_id":"a","ts_us":1,"decision":"allow"}"#, &"doc").unwrap();
//! ledger.append(&rec).unwrap();
//! drop(ledger);
//! let report = verify(dir.path(), &VerifyOptions::new(vec![vkey])).unwrap();
//! assert!(report.is_ok() && report.verified == 1);
//! ```
#![warn(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod checkpoint;
mod committer;
mod error;
mod evidence;
pub mod hash;
mod ids;
mod inspect;
mod layout;
pub mod merkle;
mod note;
mod policy;
mod proof;
mod records;
mod seal;
mod segment;
pub mod spool;
mod summary;
mod tiles;
mod verify;
mod wal;
mod witness;
mod writer;

pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use committer::{Acked, Appended, Appender, Committer, Heartbeat};
pub use error::{Error, Result};
pub use evidence::{EVIDENCE_FILE, EVIDENCE_HEADER, Manifest, export_evidence};
pub use inspect::{
    Inspection, SegmentInfo, Snapshot, WalInfo, inspect, read_checkpoint_file, scan, scan_records,
    snapshot,
};
pub use layout::{
    CONFIG_FILE, Config, DIR_MODE, FILE_MODE, Layout, create_private_dir_all, write_new_private,
    write_output, write_replace_private,
};
pub use note::{Note, NoteFailure, NoteSignature, NoteSigner, NoteVerifier, check_key_name};
pub use policy::{
    Distrust, TRANSITION_HEADER, Transition, TransitionFault, TrustPolicy, read_transitions,
};
pub use proof::{
    ConsistencyProof, InclusionProof, TLOG_PROOF_HEADER, prove, prove_consistency, record_at,
    records_at, root_at,
};
pub use records::Records;
pub use seal::{
    SEALS_FILE, SealLine, SegmentVouch, SkipDigests, Unvouched, skip_digests, summary_digest, vouch,
};
pub use segment::{ROW_GROUP_ROWS, SegmentMeta, file_name as segment_file_name};
pub use summary::{
    DIMENSIONS as SUMMARY_DIMENSIONS, bucket as overhead_bucket,
    bucket_range as overhead_bucket_range, read as read_summary, summary_schema,
};
pub use tiles::{BadTilePath, parse_tile_path, tile_bytes, tile_path};
pub use verify::{
    Failure, FailureClass, Report, TornTail, Verdict, VerifyOptions, verify, verify_evidence,
    verify_progress, verify_with,
};
pub use witness::{Cosignature, Witnessed, cosignatures, witness, witness_ledger};
pub use writer::{
    Commit, DEFAULT_SEGMENT_RECORDS, Fate, Ledger, MAX_RECORD_BYTES, Record, Recovery,
};

/// The ledger format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
