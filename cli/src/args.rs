//! Command-line arguments (clap derive). Parsing only: validation happens in `main.rs` before
//! any library call.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// govtrail: a tamper-evident, signed, replayable audit trail of AI-governance decisions.
#[derive(Debug, Parser)]
#[command(name = "govtrail", version, about, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok; 1 tampered; 2 truncated or forked; 3 unverified tail; \
4 usage, input or I/O error.";

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate an Ed25519 signing key: writes PREFIX.key (private, mode 0600) and PREFIX.vkey.
    Keygen {
        /// Key name: the ledger origin, e.g. example.org/governance (no spaces, no '+').
        #[arg(long)]
        name: String,
        /// Output path prefix.
        #[arg(long)]
        out: PathBuf,
    },
    /// Create an empty ledger in a new or empty directory.
    Init {
        /// Ledger directory.
        ledger: PathBuf,
        /// Private key file (from keygen); its name becomes the origin.
        #[arg(long)]
        key: PathBuf,
        /// Records per sealed Parquet segment.
        #[arg(long, default_value_t = ledger::DEFAULT_SEGMENT_RECORDS)]
        segment_records: u64,
    },
    /// Append NDJSON decision records durably (acknowledged after fsync).
    Append {
        /// Ledger directory.
        ledger: PathBuf,
        /// Private key file of the ledger's origin.
        #[arg(long)]
        key: PathBuf,
        /// NDJSON input file, or '-' for standard input.
        #[arg(default_value = "-")]
        input: PathBuf,
        /// Most records merged into one commit.
        #[arg(long, default_value_t = 8192)]
        batch: usize,
        /// Print "acked SIZE" on standard output after each durable commit (SIZE = records in
        /// the ledger).
        #[arg(long)]
        print_acks: bool,
        /// Seal the write-ahead log into a Parquet segment when done.
        #[arg(long)]
        seal: bool,
    },
    /// Seal the write-ahead log into a Parquet segment now.
    Seal {
        /// Ledger directory.
        ledger: PathBuf,
        /// Private key file of the ledger's origin.
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a ledger offline against trusted keys (and saved checkpoints as anchors).
    Verify {
        /// Ledger directory.
        ledger: PathBuf,
        /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
        #[arg(long = "pubkey", required = true)]
        pubkeys: Vec<String>,
        /// A checkpoint saved earlier, or a directory of them (`*.note`); the ledger must extend
        /// each. Repeatable.
        #[arg(long = "anchor")]
        anchors: Vec<PathBuf>,
        /// The origin this ledger must have (else the ledger's configuration names it).
        #[arg(long)]
        origin: Option<String>,
        /// Print a JSON report.
        #[arg(long)]
        json: bool,
    },
    /// Write an inclusion proof (C2SP tlog-proof) of one record in the newest checkpoint.
    Prove {
        /// Ledger directory.
        ledger: PathBuf,
        /// The record's index.
        #[arg(
            long,
            conflicts_with = "decision_id",
            required_unless_present = "decision_id"
        )]
        index: Option<u64>,
        /// The first record with this decision id.
        #[arg(long)]
        decision_id: Option<String>,
    },
    /// Check an inclusion proof offline: trusted key, path to the signed root, and the record.
    VerifyProof {
        /// The tlog-proof file.
        proof: PathBuf,
        /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
        #[arg(long = "pubkey", required = true)]
        pubkeys: Vec<String>,
        /// The record's canonical bytes, to check against the proof's record hash.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Print the latest signed checkpoint note (not verified; use verify).
    Checkpoint {
        /// Ledger directory.
        ledger: PathBuf,
    },
    /// Show a ledger's segments, write-ahead log and checkpoints.
    Inspect {
        /// Ledger directory.
        ledger: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build a demo ledger from the shipped example decisions and verify it.
    Demo {
        /// Directory to create (must not exist or be empty); a new one under the system's
        /// temporary directory by default.
        dir: Option<PathBuf>,
    },
}
