//! Command-line arguments (clap derive): the commands and the arguments of those whose module
//! is small. Parsing only: each command's module validates before any library call. `query`,
//! `report`, `replay` and `bundle` define their arguments beside their code.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// govtrail: a tamper-evident, signed, replayable audit trail of AI-governance decisions.
#[derive(Debug, Parser)]
#[command(name = "govtrail", version, long_version = crate::docs::long_version(), about, after_help = crate::exit::HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate an Ed25519 signing key: writes PREFIX.key (private, mode 0600) and PREFIX.vkey.
    Keygen(KeygenArgs),
    /// Create an empty ledger in a new or empty directory.
    Init(InitArgs),
    /// Append NDJSON decision records durably (acknowledged after fsync); a record is at most
    /// 8 MiB of canonical JSON.
    Append(AppendArgs),
    /// Ingest decisions from other engines' files (format detected per file, or --format):
    /// Tractatus audit logs (admin API JSON, mongoexport Extended JSON, --jsonArray, the API
    /// envelope, legacy decisions-*.jsonl) and rule sets, Claude Code hook payloads and
    /// outputs, OPA decision logs (gzip too), OTLP/JSON logs and traces, and native NDJSON. Bad units are reported with file, line and JSON pointer and
    /// skipped; the rest are appended durably (exit 5 when some were rejected). A unit (a line,
    /// an element, a document) and its record are at most 8 MiB.
    Ingest(IngestArgs),
    /// Run as a Claude Code `command` hook in front of an existing one: pass stdin to CMD, relay
    /// its stdout, stderr and exit code unchanged, and write the call (input, output, exit
    /// status, wall time) durably to a spool that `govtrail ingest --spool` drains.
    Hook(HookArgs),
    /// Seal the write-ahead log into a Parquet segment now.
    Seal(SealArgs),
    /// Verify a ledger offline against trusted keys (and saved checkpoints as anchors).
    Verify(VerifyArgs),
    /// Write an inclusion proof (C2SP tlog-proof) of one record in the newest checkpoint.
    Prove(ProveArgs),
    /// Check an inclusion proof (tlog-proof) or a consistency proof offline.
    VerifyProof(VerifyProofArgs),
    /// Act as a witness: check that the ledger's newest checkpoint extends the one this
    /// witness cosigned last (its state file), then cosign it (C2SP tlog-cosignature).
    Witness(WitnessArgs),
    /// Rotate the ledger's signing key: seal, then write a transition note signed by both keys.
    RotateKey(RotateKeyArgs),
    /// Write a self-contained evidence pack of records [FROM, TO) for an auditor.
    ExportEvidence(ExportEvidenceArgs),
    /// Print the latest signed checkpoint note (not verified; use verify).
    Checkpoint(CheckpointArgs),
    /// Show a ledger's segments, write-ahead log and checkpoints.
    Inspect(InspectArgs),
    /// Run one read-only SQL query over a ledger: sealed segments and every acknowledged record
    /// not yet sealed. Views: decisions, rule_hits (one row per rule id), sessions, rule_sets, effective (intended vs effective, by tool-use id),
    /// ledger_rows (the raw segment columns), incidents (with --incidents). Functions:
    /// json_str / json_int / json_float / json_text(record, '/json/pointer').
    Query(crate::query_cmd::QueryArgs),
    /// Reports over a ledger: governance overhead, ROI, root-cause analysis of a session.
    #[command(subcommand)]
    Report(crate::query_cmd::ReportCommand),
    /// Rule bundles (Rego policies and data, OPA bundle layout): check, describe, test.
    #[command(subcommand)]
    Bundle(crate::replay_cmd::BundleCommand),
    /// Re-evaluate recorded decisions against a bundle, after verifying the ledger: the flip
    /// matrix, each session's first divergence, and records that cannot be replayed.
    Replay(crate::replay_cmd::ReplayArgs),
    /// A Claude Code command hook that decides: reads the hook's JSON on stdin, evaluates the
    /// bundle, records the call durably in the spool, then answers. When a resident evaluator
    /// (`decide --serve`) listens on the socket, it evaluates and records the call in its hook
    /// log, and this process only answers; otherwise the bundle is loaded and the call recorded
    /// here.
    Decide(DecideArgs),
    /// Build a realistic demo ledger (100,000 decisions: Claude Code tool calls gated by
    /// Tractatus-shaped services, two rule-set versions, incidents), verify it, and serve the
    /// dashboard on loopback until Ctrl-C.
    Demo(DemoArgs),
    /// Serve the ledger over HTTP (docs/SERVER.md): ingest from OPA, OTLP exporters, Claude
    /// Code http hooks and native clients (acknowledged after fsync, appends idempotent), one
    /// decision with its proof, the checkpoint and tiles, health and metrics. Stops cleanly on
    /// SIGTERM or SIGINT.
    Serve(crate::serve::ServeArgs),
    /// Bearer tokens for `govtrail serve` (scopes ingest, read, admin), stored hashed.
    #[command(subcommand)]
    Token(crate::serve::TokenCommand),
    /// Show one decision: its index, record (pretty JSON), record hash and effective outcome;
    /// optionally its exact record bytes and its inclusion proof written to files (the two
    /// `verify-proof --record` takes).
    Show(crate::show::ShowArgs),
    /// Print a shell completion script (generated from these definitions): for bash, source it
    /// (`govtrail completions bash > ~/.local/share/bash-completion/completions/govtrail`);
    /// zsh, fish, elvish and PowerShell likewise.
    Completions(CompletionsArgs),
    /// Print the man page (roff, generated from these definitions), or with --out DIR write
    /// govtrail.1 and one page per subcommand (govtrail-verify.1, …) there.
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// A directory to write the pages into (else the main page goes to standard output).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// Key name: the ledger origin, e.g. example.org/governance (no spaces, no '+').
    #[arg(long)]
    pub(crate) name: String,
    /// Output path prefix.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Make a witness key (C2SP tlog-cosignature, type 0x04) instead of a log key.
    #[arg(long)]
    pub(crate) witness: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Ledger directory.
    pub(crate) ledger: PathBuf,
    /// Private key file (from keygen); its name becomes the origin.
    #[arg(long, env = "GOVTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// Records per sealed Parquet segment.
    #[arg(long, default_value_t = ledger::DEFAULT_SEGMENT_RECORDS)]
    pub(crate) segment_records: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AppendArgs {
    /// Ledger directory.
    pub(crate) ledger: PathBuf,
    /// Private key file of the ledger's origin.
    #[arg(long, env = "GOVTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// NDJSON input file, or '-' for standard input.
    #[arg(default_value = "-")]
    pub(crate) input: PathBuf,
    /// Most records merged into one commit.
    #[arg(long, default_value_t = 8192)]
    pub(crate) batch: usize,
    /// Print "acked SIZE" on standard output after each durable commit (SIZE = records in
    /// the ledger).
    #[arg(long)]
    pub(crate) print_acks: bool,
    /// Seal the write-ahead log into a Parquet segment when done.
    #[arg(long)]
    pub(crate) seal: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// Ledger directory.
    pub(crate) ledger: PathBuf,
    /// Private key file of the ledger's origin.
    #[arg(long, env = "GOVTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// Input files, or '-' for standard input.
    #[arg(required_unless_present = "spool")]
    pub(crate) inputs: Vec<PathBuf>,
    /// Also drain this `govtrail hook` spool directory: its files are appended, then
    /// removed once durable (files with rejected units move to `SPOOL/rejected/`).
    #[arg(long)]
    pub(crate) spool: Option<PathBuf>,
    /// With --spool, also drain what earlier drains moved to SPOOL/rejected/ (each with its
    /// reason beside it), e.g. after an upgrade that reads them: what appends is removed, the
    /// rest stays with its new reason.
    #[arg(long, requires = "spool")]
    pub(crate) retry_rejected: bool,
    /// Force a format: native, claude-code, govtrail-hook, opa, otlp, otlp-proto-logs,
    /// otlp-proto-traces (detected too: every byte parses as the request), tractatus,
    /// tractatus-legacy,
    /// tractatus-rules.
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Erase the value at this JSON pointer into the record (e.g. /extra/cwd) before it is
    /// hashed; the same pointers apply to every format. Repeatable.
    #[arg(long)]
    pub(crate) erase: Vec<String>,
    /// Replace the value at this JSON pointer with "**MASKED**" before it is hashed.
    /// Repeatable.
    #[arg(long)]
    pub(crate) mask: Vec<String>,
    /// Also mask what this regular expression matches in hook payloads (repeatable); a group
    /// named `keep` is kept (docs/RECORD.md §12).
    #[arg(long)]
    pub(crate) secret_pattern: Vec<String>,
    /// Do not mask the default secret patterns (private keys, authorization headers, secret
    /// assignments, provider tokens) in hook payloads: they would then reach the ledger,
    /// which never forgets.
    #[arg(long)]
    pub(crate) no_secret_masking: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct HookArgs {
    /// Spool directory (created if missing); safe for many concurrent hooks.
    #[arg(long)]
    pub(crate) spool: PathBuf,
    /// The governance engine the wrapped hook belongs to (e.g. tractatus).
    #[arg(long)]
    pub(crate) engine: Option<String>,
    /// The service inside the engine (e.g. PreToolUseHook).
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// A `govtrail serve` (http://HOST:PORT or https://…) to record each call in, with its token in
    /// GOVTRAIL_TOKEN; the spool keeps the call when the server cannot be reached or refuses.
    #[arg(long)]
    pub(crate) server: Option<String>,
    /// How long to wait for --server, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub(crate) server_timeout_ms: u64,
    /// With an https:// --server: the CA certificates (PEM) to trust for it; without, the
    /// system's bundle (/etc/ssl/certs/ca-certificates.crt).
    #[arg(long, requires = "server", value_name = "PEM")]
    pub(crate) server_ca: Option<PathBuf>,
    /// The hook command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SealArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// Private key file of the ledger's origin.
    #[arg(long, env = "GOVTRAIL_KEY")]
    pub(crate) key: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("trust").required(true).multiple(true)))]
pub(crate) struct VerifyArgs {
    /// Ledger directory (or, with --evidence, an evidence pack).
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// The directory is an evidence pack written by export-evidence.
    #[arg(long, conflicts_with = "anchors")]
    pub(crate) evidence: bool,
    /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
    #[arg(long = "pubkey", env = "GOVTRAIL_PUBKEY", group = "trust")]
    pub(crate) pubkeys: Vec<String>,
    /// Trust policy file (C2SP tlog-policy: log, witness, group, quorum, revoked lines).
    #[arg(long, group = "trust")]
    pub(crate) policy: Option<PathBuf>,
    /// A checkpoint saved earlier, or a directory of them (`*.note`); the ledger must extend
    /// each. Repeatable.
    #[arg(long = "anchor")]
    pub(crate) anchors: Vec<PathBuf>,
    /// The origin this ledger must have (else the ledger's configuration names it).
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Print a JSON report.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true)))]
pub(crate) struct ProveArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// The record's index.
    #[arg(long, group = "what")]
    pub(crate) index: Option<u64>,
    /// The first record with this decision id.
    #[arg(long, group = "what")]
    pub(crate) decision_id: Option<String>,
    /// Write a consistency proof from the tree of this size to the newest checkpoint
    /// instead (a tlog-witness add-checkpoint body).
    #[arg(long, group = "what")]
    pub(crate) consistency_from: Option<u64>,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("trust").required(true).multiple(true)))]
pub(crate) struct VerifyProofArgs {
    /// The proof file.
    pub(crate) proof: PathBuf,
    /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
    #[arg(long = "pubkey", env = "GOVTRAIL_PUBKEY", group = "trust")]
    pub(crate) pubkeys: Vec<String>,
    /// Trust policy file (C2SP tlog-policy: log, witness, group, quorum, revoked lines).
    #[arg(long, group = "trust")]
    pub(crate) policy: Option<PathBuf>,
    /// For a consistency proof: the trusted older checkpoint it must extend.
    #[arg(long)]
    pub(crate) anchor: Option<PathBuf>,
    /// The record's canonical bytes, to check against the proof's record hash.
    #[arg(long)]
    pub(crate) record: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WitnessArgs {
    /// Ledger directory (the cosigned note is stored in its checkpoints/).
    #[arg(required_unless_present = "request")]
    pub(crate) ledger: Option<PathBuf>,
    /// A consistency-proof file (tlog-witness add-checkpoint body) instead of a ledger;
    /// the cosignature line is printed.
    #[arg(long, conflicts_with = "ledger")]
    pub(crate) request: Option<PathBuf>,
    /// The witness's private key (keygen --witness).
    #[arg(long, env = "GOVTRAIL_WITNESS_KEY")]
    pub(crate) key: PathBuf,
    /// The log's verifier key(s). Repeatable.
    #[arg(long = "log-key", required = true)]
    pub(crate) log_keys: Vec<String>,
    /// The witness's state: the checkpoint it cosigned last (created if absent).
    #[arg(long)]
    pub(crate) state: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RotateKeyArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// The current private key.
    #[arg(long, env = "GOVTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// The new private key (same name); use it for every later append.
    #[arg(long)]
    pub(crate) new_key: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportEvidenceArgs {
    /// Ledger directory.
    pub(crate) ledger: PathBuf,
    /// First record index.
    #[arg(long)]
    pub(crate) from: u64,
    /// One past the last record index.
    #[arg(long)]
    pub(crate) to: u64,
    /// The pack's directory (new or empty).
    pub(crate) out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckpointArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DecideArgs {
    /// The bundle directory.
    #[arg(long)]
    pub(crate) bundle: PathBuf,
    /// Spool directory (drained into a ledger by `govtrail ingest`).
    #[arg(long)]
    pub(crate) spool: PathBuf,
    /// Answer nothing (the platform's own permission flow; recorded as `defer`) when the bundle
    /// cannot be loaded or evaluated, or the call cannot be recorded (the default denies).
    #[arg(long, conflicts_with = "serve")]
    pub(crate) fail_open: bool,
    /// The resident evaluator's Unix socket (default: SPOOL/.decide.sock).
    #[arg(long)]
    pub(crate) socket: Option<PathBuf>,
    /// Run the resident evaluator: keep the bundle loaded (reloading it when its files
    /// change), decide and record `govtrail decide` calls on the socket (in a hook log in
    /// the spool) until SIGINT or SIGTERM.
    #[arg(long)]
    pub(crate) serve: bool,
    /// Evaluate in this process even when a resident evaluator listens.
    #[arg(long, conflicts_with = "serve")]
    pub(crate) no_server: bool,
    /// A `govtrail serve` (http:// or https://HOST:PORT, started with --bundle) that decides and records
    /// each call, with its token in GOVTRAIL_TOKEN; when it cannot be reached or refuses, the
    /// call is decided here and spooled, and its record says why.
    #[arg(long, conflicts_with = "serve")]
    pub(crate) server: Option<String>,
    /// How long to wait for --server, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub(crate) server_timeout_ms: u64,
    /// With an https:// --server: the CA certificates (PEM) to trust for it; without, the
    /// system's bundle (/etc/ssl/certs/ca-certificates.crt).
    #[arg(long, requires = "server", value_name = "PEM")]
    pub(crate) server_ca: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Directory to create (must not exist or be empty); a new one under the system's
    /// temporary directory by default.
    pub(crate) dir: Option<PathBuf>,
    /// Decisions to generate (records, including what happened after each gated call).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) decisions: u64,
    /// The generator's seed: the same seed and count give the same records.
    #[arg(long, default_value_t = 2026)]
    pub(crate) seed: u64,
    /// Address to serve the dashboard on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// Build and verify only: do not serve (for scripts).
    #[arg(long)]
    pub(crate) no_serve: bool,
    /// Only the 8 shipped example decisions (examples/decisions.ndjson) in 4-record segments,
    /// DIR being the ledger and DIR.vkey its key; verified, not served.
    #[arg(long, conflicts_with_all = ["decisions", "seed", "listen", "no_serve"])]
    pub(crate) examples: bool,
}
