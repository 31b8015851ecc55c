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
4 usage, input or I/O error; 5 ingest kept the good units but rejected some; 6 replay found a flip \
--fail-on forbids, or a bundle test failed.";

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
        /// Make a witness key (C2SP tlog-cosignature, type 0x04) instead of a log key.
        #[arg(long)]
        witness: bool,
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
    /// Ingest decisions from other engines' files (format detected per file, or --format):
    /// Tractatus audit logs (admin API JSON, mongoexport Extended JSON, --jsonArray, the API
    /// envelope, legacy decisions-*.jsonl) and rule sets, Claude Code hook payloads and
    /// outputs, OPA decision logs (gzip too), OTLP/JSON logs and traces, and native NDJSON. Bad units are reported with file, line and JSON pointer and
    /// skipped; the rest are appended durably (exit 5 when some were rejected).
    Ingest {
        /// Ledger directory.
        ledger: PathBuf,
        /// Private key file of the ledger's origin.
        #[arg(long)]
        key: PathBuf,
        /// Input files, or '-' for standard input.
        #[arg(required_unless_present = "spool")]
        inputs: Vec<PathBuf>,
        /// Also drain this `govtrail hook` spool directory: its files are appended, then
        /// removed once durable (files with rejected units move to `SPOOL/rejected/`).
        #[arg(long)]
        spool: Option<PathBuf>,
        /// Force a format: native, claude-code, govtrail-hook, opa, otlp, otlp-proto-logs,
        /// otlp-proto-traces (binary: never detected), tractatus, tractatus-legacy,
        /// tractatus-rules.
        #[arg(long)]
        format: Option<String>,
        /// Erase the value at this JSON pointer into the record (e.g. /extra/cwd) before it is
        /// hashed; the same pointers apply to every format. Repeatable.
        #[arg(long)]
        erase: Vec<String>,
        /// Replace the value at this JSON pointer with "**MASKED**" before it is hashed.
        /// Repeatable.
        #[arg(long)]
        mask: Vec<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run as a Claude Code `command` hook in front of an existing one: pass stdin to CMD, relay
    /// its stdout, stderr and exit code unchanged, and write the call (input, output, exit
    /// status, wall time) durably to a spool that `govtrail ingest --spool` drains.
    Hook {
        /// Spool directory (created if missing); safe for many concurrent hooks.
        #[arg(long)]
        spool: PathBuf,
        /// The governance engine the wrapped hook belongs to (e.g. tractatus).
        #[arg(long)]
        engine: Option<String>,
        /// The service inside the engine (e.g. PreToolUseHook).
        #[arg(long)]
        service: Option<String>,
        /// The hook command and its arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<String>,
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
        /// Ledger directory (or, with --evidence, an evidence pack).
        ledger: PathBuf,
        /// The directory is an evidence pack written by export-evidence.
        #[arg(long, conflicts_with = "anchors")]
        evidence: bool,
        /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
        #[arg(long = "pubkey", required_unless_present = "policy")]
        pubkeys: Vec<String>,
        /// Trust policy file (C2SP tlog-policy: log, witness, group, quorum, revoked lines).
        #[arg(long)]
        policy: Option<PathBuf>,
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
            required_unless_present_any = ["decision_id", "consistency_from"]
        )]
        index: Option<u64>,
        /// The first record with this decision id.
        #[arg(long)]
        decision_id: Option<String>,
        /// Write a consistency proof from the tree of this size to the newest checkpoint
        /// instead (a tlog-witness add-checkpoint body).
        #[arg(long, conflicts_with_all = ["index", "decision_id"])]
        consistency_from: Option<u64>,
    },
    /// Check an inclusion proof (tlog-proof) or a consistency proof offline.
    VerifyProof {
        /// The proof file.
        proof: PathBuf,
        /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
        #[arg(long = "pubkey", required_unless_present = "policy")]
        pubkeys: Vec<String>,
        /// Trust policy file (C2SP tlog-policy: log, witness, group, quorum, revoked lines).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// For a consistency proof: the trusted older checkpoint it must extend.
        #[arg(long)]
        anchor: Option<PathBuf>,
        /// The record's canonical bytes, to check against the proof's record hash.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Act as a witness: check that the ledger's newest checkpoint extends the one this
    /// witness cosigned last (its state file), then cosign it (C2SP tlog-cosignature).
    Witness {
        /// Ledger directory (the cosigned note is stored in its checkpoints/).
        #[arg(required_unless_present = "request")]
        ledger: Option<PathBuf>,
        /// A consistency-proof file (tlog-witness add-checkpoint body) instead of a ledger;
        /// the cosignature line is printed.
        #[arg(long, conflicts_with = "ledger")]
        request: Option<PathBuf>,
        /// The witness's private key (keygen --witness).
        #[arg(long)]
        key: PathBuf,
        /// The log's verifier key(s). Repeatable.
        #[arg(long = "log-key", required = true)]
        log_keys: Vec<String>,
        /// The witness's state: the checkpoint it cosigned last (created if absent).
        #[arg(long)]
        state: PathBuf,
    },
    /// Rotate the ledger's signing key: seal, then write a transition note signed by both keys.
    RotateKey {
        /// Ledger directory.
        ledger: PathBuf,
        /// The current private key.
        #[arg(long)]
        key: PathBuf,
        /// The new private key (same name); use it for every later append.
        #[arg(long)]
        new_key: PathBuf,
    },
    /// Write a self-contained evidence pack of records [FROM, TO) for an auditor.
    ExportEvidence {
        /// Ledger directory.
        ledger: PathBuf,
        /// First record index.
        #[arg(long)]
        from: u64,
        /// One past the last record index.
        #[arg(long)]
        to: u64,
        /// The pack's directory (new or empty).
        out: PathBuf,
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
    /// Run one read-only SQL query over a ledger: sealed segments and every acknowledged record
    /// not yet sealed. Views: decisions, rule_hits (one row per rule id), sessions, rule_sets,
    /// ledger_rows (the raw segment columns), incidents (with --incidents). Functions:
    /// json_str / json_int / json_float / json_text(record, '/json/pointer').
    Query {
        /// Ledger directory.
        ledger: PathBuf,
        #[command(flatten)]
        trust: PruneTrust,
        /// The SQL (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE; nothing that writes).
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
        format: QueryFormat,
        /// Write the result here instead of standard output (required for parquet).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Register an incidents file (JSON or CSV, as for `report roi`) as table `incidents`.
        #[arg(long)]
        incidents: Option<PathBuf>,
    },
    /// Reports over a ledger: governance overhead, ROI, root-cause analysis of a session.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Rule bundles (Rego policies and data, OPA bundle layout): check, describe, test.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Re-evaluate recorded decisions against a bundle, after verifying the ledger: the flip
    /// matrix, each session's first divergence, and records that cannot be replayed.
    Replay {
        /// Ledger directory.
        ledger: PathBuf,
        /// The bundle directory.
        #[arg(long)]
        bundle: PathBuf,
        /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
        #[arg(long = "pubkey", required_unless_present = "no_verify")]
        pubkeys: Vec<String>,
        /// Replay without verifying (the report says so).
        #[arg(long)]
        no_verify: bool,
        /// Only this session.
        #[arg(long)]
        session: Option<String>,
        /// Only decisions at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only decisions before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Worker threads, 1 to 256 (the report is the same for any number).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: u16,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
        format: ReplayFormat,
        /// Write the report here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Exit 6 if any decision flips this way: FROM->TO, with * for any (e.g. deny->allow,
        /// *->deny, any). Repeatable.
        #[arg(long = "fail-on")]
        fail_on: Vec<String>,
        /// Incidents (JSON or CSV, as for `report roi`): the report says, per incident, whether
        /// the bundle would have denied or asked about a call of its session before it, and at
        /// what cost in extra denies and asks.
        #[arg(long)]
        incidents: Option<PathBuf>,
        /// Judge only this incident (from --incidents), replaying only its session.
        #[arg(long, requires = "incidents")]
        incident: Option<String>,
    },
    /// A Claude Code command hook that decides: reads the hook's JSON on stdin, evaluates the
    /// bundle, records the call durably in the spool, then answers. When a resident evaluator
    /// (`decide --serve`) listens on the socket, it evaluates and records the call in its hook
    /// log, and this process only answers; otherwise the bundle is loaded and the call recorded
    /// here.
    Decide {
        /// The bundle directory.
        #[arg(long)]
        bundle: PathBuf,
        /// Spool directory (drained into a ledger by `govtrail ingest`).
        #[arg(long)]
        spool: PathBuf,
        /// Allow when the bundle cannot be loaded or evaluated (the default denies).
        #[arg(long, conflicts_with = "serve")]
        fail_open: bool,
        /// The resident evaluator's Unix socket (default: SPOOL/.decide.sock).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Run the resident evaluator: keep the bundle loaded (reloading it when its files
        /// change), decide and record `govtrail decide` calls on the socket (in a hook log in
        /// the spool) until SIGINT or SIGTERM.
        #[arg(long)]
        serve: bool,
        /// Evaluate in this process even when a resident evaluator listens.
        #[arg(long, conflicts_with = "serve")]
        no_server: bool,
    },
    /// Build a demo ledger from the shipped example decisions and verify it.
    Demo {
        /// Directory to create (must not exist or be empty); a new one under the system's
        /// temporary directory by default.
        dir: Option<PathBuf>,
    },
}

/// Bundle subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Check a bundle (every file parses, data resolves, the entrypoint exists) and print its
    /// id; with --out, also write that description as JSON.
    Build {
        /// The bundle directory.
        dir: PathBuf,
        /// Write the description (id, revision, entrypoint, file digests) here.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Describe a bundle: id, revision, entrypoint, packages, files, rule-set ids, tests.
    Inspect {
        /// The bundle directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the bundle's Rego tests (rules named test_* must be true), like `opa test`.
    Test {
        /// The bundle directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A replay report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReplayFormat {
    /// Plain text.
    Text,
    /// JSON.
    Json,
    /// Markdown (for a pull request).
    Markdown,
    /// JUnit XML (for CI).
    Junit,
}

/// A query result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum QueryFormat {
    /// An aligned text table.
    Table,
    /// A JSON array of row objects.
    Json,
    /// CSV with a header line.
    Csv,
    /// A Parquet file (needs --out).
    Parquet,
}

/// The reports.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Governance overhead per decision: count, mean, exact and approximate p50/p95/p99,
    /// grouped by any of service, platform, model, rule_set, tool, decision, engine, event,
    /// overhead_source.
    Overhead {
        /// Ledger directory.
        ledger: PathBuf,
        #[command(flatten)]
        trust: PruneTrust,
        /// Group by these dimensions (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        by: Vec<String>,
        /// Only decisions at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only decisions before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Compare two rule-set versions (baseline A, then B).
        #[arg(long, num_args = 2, value_names = ["A", "B"], action = clap::ArgAction::Set)]
        compare: Vec<String>,
        /// Scan every decision for exact percentiles, even where segment summaries could
        /// answer (they give counts, mean, min and max exactly and percentiles within 0.8%).
        #[arg(long)]
        exact: bool,
        /// Also count decisions per overhead source (reads every record's JSON).
        #[arg(long)]
        sources: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also draw the distribution per group to these files (.svg or .png).
        #[arg(long)]
        plot: Vec<PathBuf>,
    },
    /// Overhead spent against waste prevented, from an incidents file and a cost model.
    Roi {
        /// Ledger directory.
        ledger: PathBuf,
        #[command(flatten)]
        trust: PruneTrust,
        /// Incidents: JSON (an array or {"incidents": [...]}, Tractatus framework-incidents
        /// keys accepted) or CSV (id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids).
        #[arg(long)]
        incidents: PathBuf,
        /// Cost model JSON: {"currency": "USD", "micros_per_token": 15,
        /// "micros_per_minute": 1500000}.
        #[arg(long)]
        cost: PathBuf,
        /// Only decisions at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only decisions before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Root-cause analysis of one session: timeline, first deny/ask/divergence, context
    /// pressure, and the attributes over-represented among adverse decisions.
    Rca {
        /// Ledger directory.
        ledger: PathBuf,
        #[command(flatten)]
        trust: PruneTrust,
        /// The session.
        #[arg(
            long,
            required_unless_present = "incident",
            conflicts_with = "incident"
        )]
        session: Option<String>,
        /// An incident (from --incidents) whose session to analyse.
        #[arg(long, requires = "incidents")]
        incident: Option<String>,
        /// The incidents file, for --incident.
        #[arg(long)]
        incidents: Option<PathBuf>,
        /// Compare adverse decisions with the rest of the session or of the whole ledger.
        #[arg(long, value_enum, default_value_t = RcaBaseline::Session)]
        baseline: RcaBaseline,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also draw the timeline to these files (.svg or .png).
        #[arg(long)]
        plot: Vec<PathBuf>,
    },
}

/// The attribution baseline of `report rca`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RcaBaseline {
    /// The session's other decisions.
    Session,
    /// Every other decision in the ledger.
    Ledger,
}

/// The keys that vouch for what a query skips on (LEDGER-FORMAT.md §14).
#[derive(Debug, clap::Args)]
pub(crate) struct PruneTrust {
    /// Trusted verifier key (a vkey, or a file with one per line; repeatable; also
    /// GOVTRAIL_PUBKEY): statistics, page indexes, bloom filters and summaries are used only
    /// where the ledger's seal note, signed by it, vouches for them; other segments are read
    /// in full. Without one, pruning rests on unverified metadata (a note says so).
    #[arg(long = "pubkey", env = "GOVTRAIL_PUBKEY")]
    pub(crate) pubkeys: Vec<String>,
}
