//! The `govtrail` binary: parses arguments, calls the libraries, prints results, and maps
//! outcomes to exit codes. It holds no logic of its own.

mod args;
mod decide;
mod hook;
mod hooklog;
mod replay_cmd;

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Parser as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ledger::{
    Committer, FailureClass, Ledger, NoteSigner, NoteVerifier, Record, Report, TrustPolicy,
    VerifyOptions,
};

use crate::args::{Cli, Command};

/// Documented exit codes.
mod exit {
    pub(crate) const OK: u8 = 0;
    pub(crate) const TAMPERED: u8 = 1;
    pub(crate) const TRUNCATED_OR_FORKED: u8 = 2;
    pub(crate) const UNVERIFIED_TAIL: u8 = 3;
    pub(crate) const ERROR: u8 = 4;
    pub(crate) const PARTIAL: u8 = 5;
    pub(crate) const FLIPPED: u8 = 6;
    /// No checkpoint is signed by a key the caller trusts: a wrong key, or checkpoints removed
    /// or re-signed. Never `ok`, never `tampered`.
    pub(crate) const UNVERIFIED: u8 = 7;
}

/// The exit code of a verification verdict (LEDGER-FORMAT.md §7).
fn verdict_exit(class: FailureClass) -> u8 {
    match class {
        FailureClass::Truncated | FailureClass::Forked => exit::TRUNCATED_OR_FORKED,
        FailureClass::UnverifiedTail => exit::UNVERIFIED_TAIL,
        FailureClass::Untrusted => exit::UNVERIFIED,
        _ => exit::TAMPERED,
    }
}

const EXAMPLE_DECISIONS: &str = include_str!("../../examples/decisions.ndjson");

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if std::env::args().nth(1).as_deref() == Some("hook") && err.use_stderr() => {
            // A misconfigured `govtrail hook` still runs the hook after `--`.
            let args: Vec<String> = std::env::args().collect();
            return match hook::passthrough(&args, &err.to_string()) {
                Some(code) => ExitCode::from(code),
                None => {
                    let _ = err.print();
                    ExitCode::from(exit::ERROR)
                }
            };
        }
        Err(err) => {
            let code = if err.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(exit::OK);
            }
            eprintln!("govtrail: error: {err:#}");
            // A witness's refusal of a log that was cut short or forked is a finding, not a
            // usage error: it exits like `verify` does for one.
            let refused = err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<ledger::Error>(),
                    Some(ledger::Error::Inconsistent { .. })
                )
            });
            ExitCode::from(if refused {
                exit::TRUNCATED_OR_FORKED
            } else {
                exit::ERROR
            })
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Keygen { name, out, witness } => keygen(&name, &out, witness),
        Command::Init {
            ledger,
            key,
            segment_records,
        } => {
            let signer = read_key(&key)?;
            let origin = signer.name().to_owned();
            Ledger::create(&ledger, signer, segment_records)?;
            println!("created ledger {} with origin {origin}", ledger.display());
            Ok(exit::OK)
        }
        Command::Append {
            ledger,
            key,
            input,
            batch,
            print_acks,
            seal,
        } => append(&ledger, &key, &input, batch, print_acks, seal),
        Command::Ingest {
            ledger,
            key,
            inputs,
            spool,
            format,
            erase,
            mask,
            json,
        } => ingest(
            &ledger,
            &key,
            &inputs,
            spool.as_deref(),
            format.as_deref(),
            schemas::ingest::Masking { erase, mask },
            json,
        ),
        Command::Hook {
            spool,
            engine,
            service,
            command,
        } => Ok(hook::run(
            &spool,
            engine.as_deref(),
            service.as_deref(),
            &command,
        )),
        Command::Seal { ledger, key } => {
            let (mut l, _) = Ledger::open(&ledger, read_key(&key)?)?;
            match l.seal()? {
                Some((start, end)) => println!("sealed records [{start}, {end})"),
                None => println!("nothing to seal"),
            }
            Ok(exit::OK)
        }
        Command::Verify {
            ledger,
            evidence,
            pubkeys,
            policy,
            anchors,
            origin,
            json,
        } => verify(
            &ledger,
            evidence,
            &trust_policy(&pubkeys, policy.as_deref())?,
            &anchors,
            origin,
            json,
        ),
        Command::Checkpoint { ledger } => {
            let inspection = ledger::inspect(&ledger)?;
            let Some(cp) = inspection.latest else {
                bail!("ledger {} has no checkpoint yet", ledger.display());
            };
            print!("{}", cp.bytes);
            Ok(exit::OK)
        }
        Command::Inspect { ledger, json } => inspect(&ledger, json),
        Command::Prove {
            consistency_from: Some(old),
            ledger,
            ..
        } => {
            print!("{}", ledger::prove_consistency(&ledger, old)?.to_text());
            Ok(exit::OK)
        }
        Command::Prove {
            ledger,
            index,
            decision_id,
            consistency_from: None,
        } => {
            let select = |record: &[u8]| {
                decision_id.as_ref().is_some_and(|want| {
                    schemas::DecisionView::parse(record).is_ok_and(|v| v.decision_id == *want)
                })
            };
            let proof = ledger::prove(&ledger, index, &select)?;
            print!("{}", proof.to_text());
            Ok(exit::OK)
        }
        Command::VerifyProof {
            proof,
            pubkeys,
            policy,
            record,
            anchor,
        } => {
            let trusted = trust_policy(&pubkeys, policy.as_deref())?;
            let text = fs::read(&proof).with_context(|| format!("read {}", proof.display()))?;
            if text.starts_with(b"old ") {
                return verify_consistency_file(&proof, &text, &trusted, anchor.as_deref());
            }
            let parsed = match ledger::InclusionProof::parse(&text) {
                Ok(p) => p,
                Err(e) => {
                    println!("proof {}: not a valid tlog-proof: {e}", proof.display());
                    return Ok(exit::TAMPERED);
                }
            };
            let record = match &record {
                Some(path) => {
                    Some(fs::read(path).with_context(|| format!("read {}", path.display()))?)
                }
                None => None,
            };
            match parsed.verify(&trusted, record.as_deref()) {
                Ok(()) => {
                    let cp = &parsed.checkpoint.checkpoint;
                    println!(
                        "ok: record {} is in {} at size {} (root {})",
                        parsed.index,
                        cp.origin,
                        cp.size,
                        ledger::hash::hex(&cp.root)
                    );
                    Ok(exit::OK)
                }
                Err(e) => {
                    println!("proof {} FAILS: {e}", proof.display());
                    Ok(exit::TAMPERED)
                }
            }
        }
        Command::Witness {
            ledger,
            request,
            key,
            log_keys,
            state,
        } => {
            let key = read_key(&key)?;
            let policy = trust_policy(&log_keys, None)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let out = match (&ledger, &request) {
                (Some(dir), _) => ledger::witness_ledger(dir, &key, &policy, &state, now)?,
                (None, Some(req)) => {
                    let text = fs::read(req).with_context(|| format!("read {}", req.display()))?;
                    let parsed = ledger::ConsistencyProof::parse(&text).map_err(|e| {
                        anyhow::anyhow!("{}: not a consistency-proof file: {e}", req.display())
                    })?;
                    ledger::witness(&key, &policy, &state, &parsed, now)?
                }
                (None, None) => bail!("give a ledger directory or --request FILE"),
            };
            if out.first_seen {
                eprintln!(
                    "witness {}: no state yet, trusting the first checkpoint seen (size {})",
                    key.name(),
                    out.cosigned.checkpoint.size
                );
            }
            eprintln!(
                "cosigned size {} (consistent with size {} seen before)",
                out.cosigned.checkpoint.size, out.old_size
            );
            print!("{}", out.line);
            Ok(exit::OK)
        }
        Command::RotateKey {
            ledger,
            key,
            new_key,
        } => {
            let old = read_key(&key)?;
            let old_vkey = old.verifier();
            let (mut l, _) = Ledger::open(&ledger, old)?;
            let new = read_key(&new_key)?;
            let vkey = new.verifier();
            let path = l.rotate_key(new)?;
            let n = l.size();
            // The lines an auditor pins in a policy file, so that deleting the transition
            // note cannot make the old key valid above N again.
            println!("log {old_vkey} until {n}\nlog {vkey} from {n}");
            eprintln!(
                "rotated at size {n}: {}; append with the new key from now on",
                path.display()
            );
            Ok(exit::OK)
        }
        Command::ExportEvidence {
            ledger,
            from,
            to,
            out,
        } => {
            let m = ledger::export_evidence(&ledger, from, to, &out)?;
            println!(
                "wrote {}: records [{}, {}) proven against checkpoint size {}",
                out.display(),
                m.from,
                m.to,
                m.size
            );
            Ok(exit::OK)
        }
        Command::Query {
            ledger,
            trust,
            sql,
            format,
            out,
            incidents,
        } => query(
            &ledger,
            &trust,
            &sql,
            format,
            out.as_deref(),
            incidents.as_deref(),
        ),
        Command::Report(report) => run_report(report),
        Command::Bundle(cmd) => replay_cmd::bundle(cmd),
        Command::Replay {
            ledger,
            bundle,
            pubkeys,
            no_verify,
            session,
            since,
            until,
            threads,
            format,
            out,
            fail_on,
            incidents,
            incident,
        } => {
            let (incidents, session) =
                replay_cmd::incidents(incidents.as_deref(), incident.as_deref(), session)?;
            let trusted = if no_verify {
                None
            } else {
                Some(VerifyOptions::new(read_pubkeys(&pubkeys)?))
            };
            let time = |flag: &str, v: Option<String>| -> Result<Option<i64>> {
                v.map(|t| {
                    schemas::rfc3339_us(&t)
                        .with_context(|| format!("--{flag} {t}: not an RFC 3339 time"))
                })
                .transpose()
            };
            replay_cmd::replay(replay_cmd::ReplayArgs {
                ledger: &ledger,
                bundle: &bundle,
                trusted,
                opts: replay::Options {
                    session,
                    since_us: time("since", since)?,
                    until_us: time("until", until)?,
                    threads: usize::from(threads),
                    samples: 5,
                    incidents,
                },
                format,
                out: out.as_deref(),
                fail_on: &fail_on,
            })
        }
        Command::Decide {
            bundle,
            spool,
            fail_open,
            socket,
            serve,
            no_server,
        } => {
            let socket = socket.unwrap_or_else(|| spool.join(decide::SOCKET));
            if serve {
                decide::serve(&bundle, &socket, &spool).map(|()| exit::OK)
            } else {
                Ok(decide::decide(&decide::Call {
                    bundle_dir: &bundle,
                    spool: &spool,
                    fail_open,
                    socket: (!no_server).then_some(socket.as_path()),
                }))
            }
        }
        Command::Demo { dir } => demo(&dir.unwrap_or_else(fresh_demo_dir)),
    }
}

/// The trust policy from `--pubkey` keys and an optional `--policy` file.
fn trust_policy(pubkeys: &[String], policy: Option<&Path>) -> Result<TrustPolicy> {
    let mut p = match policy {
        Some(path) => {
            let text = fs::read_to_string(path)
                .with_context(|| format!("read policy {}", path.display()))?;
            TrustPolicy::parse(&text)
                .map_err(|e| anyhow::anyhow!("policy {}: {e}", path.display()))?
        }
        None => TrustPolicy::default(),
    };
    for key in read_pubkeys(pubkeys)? {
        p.add_log_key(key).map_err(anyhow::Error::msg)?;
    }
    Ok(p)
}

fn verify_consistency_file(
    path: &Path,
    text: &[u8],
    policy: &TrustPolicy,
    anchor: Option<&Path>,
) -> Result<u8> {
    let Some(anchor) = anchor else {
        bail!("a consistency proof is checked against a trusted older checkpoint: give --anchor");
    };
    let bytes = fs::read(anchor).with_context(|| format!("read {}", anchor.display()))?;
    let old = ledger::SignedCheckpoint::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("anchor {}: {e}", anchor.display()))?;
    if let Err(e) = policy.check_checkpoint(&old) {
        println!("anchor {} is not trusted: {e}", anchor.display());
        return Ok(exit::TAMPERED);
    }
    let parsed = match ledger::ConsistencyProof::parse(text) {
        Ok(p) => p,
        Err(e) => {
            println!(
                "proof {}: not a valid consistency proof: {e}",
                path.display()
            );
            return Ok(exit::TAMPERED);
        }
    };
    match parsed.verify(policy, &old.checkpoint) {
        Ok(()) => {
            println!(
                "ok: size {} extends the anchor's size {} ({})",
                parsed.checkpoint.checkpoint.size, old.checkpoint.size, old.checkpoint.origin
            );
            Ok(exit::OK)
        }
        Err(e) => {
            println!("proof {} FAILS: {e}", path.display());
            Ok(exit::TRUNCATED_OR_FORKED)
        }
    }
}

fn keygen(name: &str, out: &Path, witness: bool) -> Result<u8> {
    let signer = if witness {
        NoteSigner::generate_witness(name)?
    } else {
        NoteSigner::generate(name)?
    };
    let key_path = with_suffix(out, "key");
    let vkey_path = with_suffix(out, "vkey");
    for path in [&key_path, &vkey_path] {
        if path.exists() {
            bail!("{} exists; refusing to overwrite a key", path.display());
        }
    }
    write_private(&key_path, &format!("{}\n", signer.to_text()))?;
    fs::write(&vkey_path, format!("{}\n", signer.verifier()))
        .with_context(|| format!("write {}", vkey_path.display()))?;
    println!("{}", signer.verifier());
    eprintln!(
        "wrote {} (private) and {}",
        key_path.display(),
        vkey_path.display()
    );
    Ok(exit::OK)
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("write {}", path.display()))
}

fn read_key(path: &Path) -> Result<NoteSigner> {
    let text = fs::read_to_string(path).with_context(|| format!("read key {}", path.display()))?;
    NoteSigner::from_text(&text).with_context(|| format!("key file {}", path.display()))
}

fn read_pubkeys(args: &[String]) -> Result<Vec<NoteVerifier>> {
    let mut keys = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if path.exists() {
            let text = fs::read_to_string(path)
                .with_context(|| format!("read public key {}", path.display()))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                keys.push(
                    NoteVerifier::parse(line)
                        .with_context(|| format!("public key file {}", path.display()))?,
                );
            }
        } else if arg.contains('+') {
            keys.push(NoteVerifier::parse(arg)?);
        } else {
            bail!("--pubkey {arg}: no such file, and not a verifier key (name+id+key)");
        }
    }
    Ok(keys)
}

fn append(
    dir: &Path,
    key: &Path,
    input: &Path,
    batch: usize,
    print_acks: bool,
    seal: bool,
) -> Result<u8> {
    let (ledger, recovery) = Ledger::open(dir, read_key(key)?)?;
    if let Some(reason) = &recovery.cut_reason {
        eprintln!(
            "govtrail: recovered: cut {} bytes of an unacknowledged commit from the write-ahead log ({reason})",
            recovery.cut_bytes
        );
    }
    let start_size = ledger.size();
    let (reader, total_bytes): (Box<dyn Read>, Option<u64>) = if input == Path::new("-") {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f = fs::File::open(input).with_context(|| format!("open {}", input.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let progress = match total_bytes {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let committer = Committer::spawn(ledger, batch, 4, move |commit| {
        if print_acks {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "acked {}", commit.size);
            let _ = out.flush();
        }
    });
    let name = input.display().to_string();
    let mut lines = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::new();
    let mut chunk = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    let mut bad_line = None;
    loop {
        line.clear();
        let n = lines
            .read_until(b'\n', &mut line)
            .with_context(|| format!("read {name}"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        progress.inc(n as u64);
        let text = trim_line(&line);
        if text.is_empty() {
            continue;
        }
        match Record::from_json(text, &format_args!("{name}:{line_no}")) {
            Ok(r) => chunk.push(r),
            Err(e) => {
                bad_line = Some(e);
                break;
            }
        }
        // A refused submission means the commit thread stopped; finish() returns why.
        if chunk.len() == 1024 && committer.submit(std::mem::take(&mut chunk)).is_err() {
            break;
        }
    }
    if !chunk.is_empty() {
        let _ = committer.submit(chunk);
    }
    let mut ledger = committer.finish()?;
    progress.finish_and_clear();
    let appended = ledger.size() - start_size;
    if seal {
        ledger.seal()?;
    }
    eprintln!(
        "appended {appended} records (indices [{start_size}, {})) to {}",
        ledger.size(),
        dir.display()
    );
    if let Some(err) = bad_line {
        eprintln!("govtrail: error: {err}");
        eprintln!("govtrail: stopped there; the records before it are committed");
        return Ok(exit::ERROR);
    }
    Ok(exit::OK)
}

/// `govtrail ingest`: normalise each input (schemas::ingest) and append what it yields.
fn ingest(
    dir: &Path,
    key: &Path,
    inputs: &[PathBuf],
    spool: Option<&Path>,
    format: Option<&str>,
    masking: schemas::ingest::Masking,
    json: bool,
) -> Result<u8> {
    masking.check().map_err(anyhow::Error::msg)?;
    use schemas::ingest::{Format, Options};
    use std::collections::BTreeMap;
    let forced = match format {
        None => None,
        Some(name) => Some(Format::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            anyhow::anyhow!("unknown --format {name:?}; one of {}", names.join(", "))
        })?),
    };
    let received_us = hook::now_us();
    let opts = Options {
        format: forced,
        received_us,
        masking: masking.clone(),
    };
    // Read and normalise everything first: a file that cannot be read stops before any append.
    let mut files = Vec::new();
    for input in inputs {
        let bytes = if input == Path::new("-") {
            let mut b = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut b)
                .context("read standard input")?;
            b
        } else {
            fs::read(input).with_context(|| format!("read {}", input.display()))?
        };
        files.push((
            input.display().to_string(),
            schemas::ingest::ingest(&bytes, &opts),
        ));
    }
    // The writer lock is taken before the spool is listed, so two drains never read one file.
    let (ledger, _) = Ledger::open(dir, read_key(key)?)?;
    let spooled = match spool {
        Some(dir) => hook::spool_files(dir, ".hook.json")?,
        None => Vec::new(),
    };
    let hook_opts = Options {
        format: Some(Format::GovtrailHook),
        received_us,
        masking,
    };
    for path in &spooled {
        let bytes = fs::read(path).with_context(|| format!("read {}", path.display()))?;
        files.push((
            path.display().to_string(),
            schemas::ingest::ingest(&bytes, &hook_opts),
        ));
    }
    // The resident evaluators' hook logs, from where the last drain ended.
    let logs = match spool {
        Some(dir) => hooklog::logs(dir)?
            .iter()
            .map(|p| hooklog::read(p))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    for d in &logs {
        files.push((
            format!("{}@{}", d.path.display(), d.start),
            schemas::ingest::ingest(&d.ndjson, &hook_opts),
        ));
    }
    let start = ledger.size();
    let progress = ProgressBar::with_draw_target(
        Some(files.iter().map(|(_, f)| f.records.len() as u64).sum()),
        ProgressDrawTarget::stderr(),
    );
    let committer = Committer::spawn(ledger, 8192, 4, |_| {});
    let mut per_format: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_decision: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut rejected = Vec::new();
    let mut chunk = Vec::with_capacity(1024);
    // Files with a unit that did not reach the ledger (kept, not removed, when spooled).
    let mut incomplete = vec![false; files.len()];
    for (fi, (name, out)) in files.iter().enumerate() {
        incomplete[fi] = !out.rejected.is_empty();
        for r in &out.rejected {
            rejected.push(serde_json::json!({
                "file": name, "line": r.line, "pointer": r.pointer, "message": r.message,
            }));
        }
        for (line, d) in &out.records {
            match Record::from_decision(d, &format_args!("{name}:{line}")) {
                Ok(rec) => {
                    *per_format
                        .entry(d.source_format.clone().unwrap_or_else(|| "native".into()))
                        .or_default() += 1;
                    *per_decision.entry(d.decision.as_str()).or_default() += 1;
                    chunk.push(rec);
                }
                Err(e) => {
                    incomplete[fi] = true;
                    rejected.push(serde_json::json!({
                        "file": name, "line": line, "pointer": "", "message": e.to_string(),
                    }));
                }
            }
            progress.inc(1);
            if chunk.len() == 1024 && committer.submit(std::mem::take(&mut chunk)).is_err() {
                break;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = committer.submit(chunk);
    }
    let ledger = committer.finish()?;
    progress.finish_and_clear();
    let appended = ledger.size() - start;
    // The spooled calls are durable in the ledger now: remove their files (at least once: a
    // crash before this line ingests them again, under the same decision ids).
    let first_spooled = files.len() - spooled.len() - logs.len();
    for (path, bad) in spooled.iter().zip(&incomplete[first_spooled..]) {
        if !bad {
            fs::remove_file(path).with_context(|| format!("remove {}", path.display()))?;
        } else if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
            let dest = parent.join("rejected");
            hook::create_spool(&dest)?;
            fs::rename(path, dest.join(name))
                .with_context(|| format!("move {}", path.display()))?;
        }
    }
    for (d, bad) in logs
        .iter()
        .zip(&incomplete[first_spooled + spooled.len()..])
    {
        if *bad {
            // Kept whole beside the log, for the lines the rejections name.
            let dest = d.path.with_file_name("rejected");
            hook::create_spool(&dest)?;
            let name = format!(
                "{}@{}.ndjson",
                d.path.file_name().unwrap_or_default().to_string_lossy(),
                d.start
            );
            let copy = dest.join(&name);
            // Durable before `done` moves past these frames or removes the log.
            hook::spool_file_options(&dest)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&copy)
                .and_then(|mut f| f.write_all(&d.ndjson).and_then(|()| f.sync_all()))
                .and_then(|()| fs::File::open(&dest)?.sync_all())
                .with_context(|| format!("write {}", copy.display()))?;
        }
        if let (true, Some((at, why))) = (d.finished, &d.torn) {
            eprintln!(
                "govtrail: {}: at byte {at}, {why} (a call the server was recording when it stopped, never answered): the log is moved to rejected/",
                d.path.display()
            );
        }
        hooklog::done(d)?;
    }
    if let Some(dir) = spool.filter(|_| !spooled.is_empty() || !logs.is_empty()) {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("fsync {}", dir.display()))?;
    }
    for r in &rejected {
        let pointer = r["pointer"].as_str().unwrap_or_default();
        eprintln!(
            "govtrail: rejected {}:{}{}: {}",
            r["file"].as_str().unwrap_or_default(),
            r["line"],
            if pointer.is_empty() {
                String::new()
            } else {
                format!(" at {pointer}")
            },
            r["message"].as_str().unwrap_or_default()
        );
    }
    if json {
        let v = serde_json::json!({
            "appended": appended,
            "first_index": start,
            "files": files.iter().map(|(name, out)| serde_json::json!({
                "file": name,
                "format": out.format.map(|f| f.name()),
                "records": out.records.len(),
                "rejected": out.rejected.len(),
                "skipped": out.skipped,
            })).collect::<Vec<_>>(),
            "per_format": per_format,
            "per_decision": per_decision,
            "rejected": rejected,
        });
        println!("{v}");
    } else {
        for (name, out) in &files {
            println!(
                "{name}: {} ({} records, {} rejected{})",
                out.format.map_or("unknown format", |f| f.name()),
                out.records.len(),
                out.rejected.len(),
                if out.skipped > 0 {
                    format!(", {} not decisions skipped", out.skipped)
                } else {
                    String::new()
                }
            );
        }
        fn fmt<K: std::fmt::Display>(m: &BTreeMap<K, u64>) -> String {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
        println!("by source format: {}", fmt(&per_format));
        println!("by decision: {}", fmt(&per_decision));
        println!(
            "appended {appended} records (indices [{start}, {})) to {}; {} rejected",
            ledger.size(),
            dir.display(),
            rejected.len()
        );
    }
    Ok(if rejected.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

fn verify(
    dir: &Path,
    evidence: bool,
    policy: &TrustPolicy,
    anchors: &[PathBuf],
    origin: Option<String>,
    json: bool,
) -> Result<u8> {
    let mut opts = VerifyOptions::new(Vec::new());
    opts.policy = policy.clone();
    opts.origin = origin;
    for path in anchor_files(anchors)? {
        let bytes = fs::read(&path).with_context(|| format!("read anchor {}", path.display()))?;
        opts.anchors.push((path.display().to_string(), bytes));
    }
    let report = if evidence {
        ledger::verify_evidence(dir, &opts)?
    } else {
        ledger::verify(dir, &opts)?
    };
    if json {
        println!("{}", report_json(&report));
    } else {
        print_report(&report);
    }
    Ok(report
        .failure
        .as_ref()
        .map_or(exit::OK, |f| verdict_exit(f.class)))
}

/// Anchor arguments: files, or directories whose `*.note` files are all anchors (an auditor's
/// folder of saved checkpoints).
fn anchor_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut notes: Vec<PathBuf> = fs::read_dir(arg)
                .with_context(|| format!("list anchors in {}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "note"))
                .collect();
            if notes.is_empty() {
                bail!(
                    "--anchor {}: the directory holds no .note files",
                    arg.display()
                );
            }
            notes.sort();
            out.extend(notes);
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

fn status(report: &Report) -> &'static str {
    report.failure.as_ref().map_or("ok", |f| f.class.verdict())
}

fn report_json(report: &Report) -> serde_json::Value {
    let failure = report.failure.as_ref().map(|f| {
        serde_json::json!({
            "class": f.class.as_str(),
            "index": f.index,
            "path": f.path.as_ref().map(|p| p.display().to_string()),
            "detail": f.detail,
        })
    });
    serde_json::json!({
        "status": status(report),
        "origin": report.origin,
        "from": report.from,
        "records": report.records,
        "verified": report.verified,
        "checkpoint": report.checkpoint.as_ref().map(|c| serde_json::json!({
            "size": c.size,
            "root": ledger::hash::hex(&c.root),
        })),
        "checkpoints_checked": report.checkpoints_checked,
        "anchors_checked": report.anchors_checked,
        "segments": report.segments,
        "failure": failure,
        "unvouched": report.unvouched.iter().map(|(p, r)| serde_json::json!({
            "segment": p.file_name().map(|n| n.to_string_lossy().into_owned()),
            "reason": r.as_str(),
        })).collect::<Vec<_>>(),
        "torn": report.torn.iter().map(|t| serde_json::json!({
            "path": t.path.display().to_string(),
            "offset": t.offset,
            "bytes": t.bytes,
            "reason": t.reason,
        })).collect::<Vec<_>>(),
    })
}

fn print_report(report: &Report) {
    let horizon = match &report.checkpoint {
        Some(c) => format!(
            "indices [{}, {}) complete and unaltered as of checkpoint {} (root {})",
            report.from,
            report.verified,
            c.size,
            ledger::hash::hex(&c.root)
        ),
        None => "no record is verified".to_owned(),
    };
    println!("origin:   {}", report.origin);
    println!(
        "read:     {} records in {} segments and the write-ahead log",
        report.records, report.segments
    );
    println!(
        "checked:  {} trusted checkpoints, {} anchors",
        report.checkpoints_checked, report.anchors_checked
    );
    println!("verified: {horizon}");
    for (p, r) in &report.unvouched {
        println!(
            "unvouched: {} ({}): queries read it in full, its skip structures are not vouched for by the seal note",
            p.display(),
            r.as_str()
        );
    }
    for t in &report.torn {
        println!(
            "torn:     {} ends in {} bytes that are not a whole frame, from byte {} ({}): a commit that was interrupted and never acknowledged; not counted",
            t.path.display(),
            t.bytes,
            t.offset,
            t.reason
        );
    }
    match &report.failure {
        None => println!("status:   ok"),
        Some(f) => {
            println!(
                "status:   {} ({})",
                f.class.verdict().to_uppercase(),
                f.class.as_str()
            );
            if let Some(i) = f.index {
                println!("index:    {i}");
            }
            if let Some(p) = &f.path {
                println!("file:     {}", p.display());
            }
            println!("detail:   {}", f.detail);
        }
    }
}

fn inspect(dir: &Path, json: bool) -> Result<u8> {
    let ins = ledger::inspect(dir)?;
    if json {
        let v = serde_json::json!({
            "origin": ins.config.origin,
            "format": ins.config.format,
            "segment_records": ins.config.segment_records,
            "records": ins.records(),
            "segments": ins.segments.iter().map(|s| serde_json::json!({
                "start": s.start, "end": s.end, "bytes": s.size_bytes,
                "path": s.path.display().to_string(),
            })).collect::<Vec<_>>(),
            "wal": ins.wals.iter().map(|w| serde_json::json!({
                "start": w.start, "committed": w.committed, "bytes": w.size_bytes,
                "path": w.path.display().to_string(),
            })).collect::<Vec<_>>(),
            "checkpoint_files": ins.checkpoint_files,
            "latest_checkpoint_size": ins.latest.as_ref().map(|c| c.checkpoint.size),
        });
        println!("{v}");
        return Ok(exit::OK);
    }
    println!(
        "ledger {} (format {}, origin {})",
        dir.display(),
        ins.config.format,
        ins.config.origin
    );
    println!("records: {}", ins.records());
    for s in &ins.segments {
        println!(
            "segment [{}, {})  {} bytes  {}",
            s.start,
            s.end,
            s.size_bytes,
            s.path.display()
        );
    }
    for w in &ins.wals {
        println!(
            "wal     [{}, {})  {} bytes  {}",
            w.start,
            w.start + w.committed,
            w.size_bytes,
            w.path.display()
        );
    }
    println!("checkpoint files: {}", ins.checkpoint_files);
    if let Some(cp) = &ins.latest {
        println!("latest checkpoint: size {}", cp.checkpoint.size);
    }
    Ok(exit::OK)
}

fn fresh_demo_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("govtrail-demo-{}-{nanos}", std::process::id()))
}

fn demo(dir: &Path) -> Result<u8> {
    let signer = NoteSigner::generate("demo.govtrail.example/ledger")?;
    let vkey = signer.verifier();
    let mut ledger = Ledger::create(dir, signer, 4)?;
    let mut records = Vec::new();
    for (i, line) in EXAMPLE_DECISIONS.lines().enumerate() {
        records.push(Record::from_json(
            line.as_bytes(),
            &format_args!("examples/decisions.ndjson:{}", i + 1),
        )?);
    }
    for r in &records {
        ledger.append(r)?;
    }
    drop(ledger);
    let vkey_path = with_suffix(dir, "vkey");
    fs::write(&vkey_path, format!("{vkey}\n"))
        .with_context(|| format!("write {}", vkey_path.display()))?;
    println!(
        "demo ledger {}: {} example decisions in 4-record segments plus the write-ahead log",
        dir.display(),
        records.len()
    );
    println!(
        "trusted key written to {} (outside the ledger)",
        vkey_path.display()
    );
    let report = ledger::verify(dir, &VerifyOptions::new(vec![vkey]))?;
    print_report(&report);
    println!(
        "verify it again with: govtrail verify {} --pubkey {}",
        dir.display(),
        vkey_path.display()
    );
    Ok(report
        .failure
        .as_ref()
        .map_or(exit::OK, |f| verdict_exit(f.class)))
}

/// Says on standard error what the query's pruning rests on (LEDGER-FORMAT.md §14): unverified
/// metadata without a key, and the segments read in full with one.
fn print_pruning(trail: &query::Trail) {
    let p = trail.pruning();
    if trail.snapshot().segments.is_empty() {
        return;
    }
    if !p.checked {
        eprintln!(
            "note: no --pubkey (or GOVTRAIL_PUBKEY): pruning on segment statistics, page indexes, bloom filters and summaries rests on unverified metadata"
        );
        return;
    }
    for u in p.scanned.iter().chain(&p.summaries_unused) {
        let what = if u.reason == ledger::Unvouched::Summary {
            "its summary is not used"
        } else {
            "read in full, nothing skipped"
        };
        eprintln!(
            "note: {}: {what} (not vouched for by the seal note: {})",
            u.segment.display(),
            u.reason.as_str()
        );
    }
}

/// Opens the ledger for queries. On a terminal, standard error shows a spinner while the snapshot
/// is read, then a bar of the rows each query's scans have read out of the snapshot's records,
/// until the returned bar is cleared. (A query whose filters skip rows inside the Parquet reader
/// ends before the bar fills.)
fn open_trail(ledger: &Path, trust: &args::PruneTrust) -> Result<(query::Trail, ProgressBar)> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message("reading the ledger");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let policy = if trust.pubkeys.is_empty() {
        None
    } else {
        Some(trust_policy(&trust.pubkeys, None)?)
    };
    let mut trail = query::Trail::open_checked(ledger, None, policy.as_ref())?;
    print_pruning(&trail);
    let snap = trail.snapshot();
    bar.set_length(snap.records);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} rows read {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!(
        "querying {} sealed segments{}",
        snap.segments.len(),
        if snap.tail.is_some() {
            " and the unsealed tail"
        } else {
            ""
        }
    ));
    let shown = bar.clone();
    trail.set_progress(
        std::time::Duration::from_millis(100),
        std::sync::Arc::new(move |rows| shown.set_position(rows)),
    );
    Ok((trail, bar))
}

fn query(
    ledger: &Path,
    trust: &args::PruneTrust,
    sql: &str,
    format: args::QueryFormat,
    out: Option<&Path>,
    incidents: Option<&Path>,
) -> Result<u8> {
    use args::QueryFormat;
    let (trail, spinner) = open_trail(ledger, trust)?;
    if let Some(path) = incidents {
        trail.register_incidents(&query::report::roi::read_incidents(path)?)?;
    }
    let batches = trail.sql(sql)?;
    spinner.finish_and_clear();
    let bytes = match format {
        QueryFormat::Table => query::output::to_text(&batches)?.into_bytes(),
        QueryFormat::Json => query::output::to_json(&batches)?,
        QueryFormat::Csv => query::output::to_csv(&batches)?,
        QueryFormat::Parquet => {
            let Some(out) = out else {
                bail!("--format parquet writes a file: give it with --out FILE");
            };
            write_file(out, &query::output::to_parquet(&batches)?)?;
            return Ok(exit::OK);
        }
    };
    match out {
        Some(path) => write_file(path, &bytes)?,
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(&bytes)?;
            if format == QueryFormat::Table {
                stdout.write_all(b"\n")?;
            }
        }
    }
    Ok(exit::OK)
}

/// Writes an output file the user asked for: created (mode 0600: outputs hold records) or
/// replaced (its mode kept), fsynced.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(ledger::FILE_MODE)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("write {}", path.display()))
}

fn window(since: Option<String>, until: Option<String>) -> query::report::Window {
    query::report::Window { since, until }
}

fn print_output(
    json: bool,
    value: &impl serde::Serialize,
    text: impl FnOnce() -> String,
) -> Result<()> {
    let mut stdout = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, value)?;
        stdout.write_all(b"\n")?;
    } else {
        stdout.write_all(text().as_bytes())?;
    }
    Ok(())
}

fn plot_to(
    paths: &[PathBuf],
    draw: impl Fn(query::plot::ImageFormat) -> query::Result<Vec<u8>>,
) -> Result<()> {
    for path in paths {
        let Some(format) = query::plot::ImageFormat::from_path(path) else {
            bail!(
                "--plot {}: the file name must end in .svg or .png",
                path.display()
            );
        };
        write_file(path, &draw(format)?)?;
    }
    Ok(())
}

fn run_report(report: args::ReportCommand) -> Result<u8> {
    use args::ReportCommand;
    use query::report::{overhead, rca, roi};
    match report {
        ReportCommand::Overhead {
            ledger,
            trust,
            by,
            since,
            until,
            compare,
            exact,
            sources,
            json,
            plot,
        } => {
            let group_by = by
                .iter()
                .map(|b| {
                    overhead::Dim::from_name(b).with_context(|| {
                        format!(
                            "--by {b}: not a dimension (one of {})",
                            overhead::Dim::ALL.map(|d| d.name()).join(", ")
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let (trail, spinner) = open_trail(&ledger, &trust)?;
            let opts = overhead::Options {
                group_by,
                window: window(since, until),
                compare: match compare.as_slice() {
                    [a, b] => Some((a.clone(), b.clone())),
                    _ => None,
                },
                exact,
                sources,
            };
            let r = overhead::report(&trail, &opts)?;
            spinner.finish_and_clear();
            plot_to(&plot, |f| query::plot::overhead(&r, f))?;
            print_output(json, &r, || r.to_text())?;
        }
        ReportCommand::Roi {
            ledger,
            trust,
            incidents,
            cost,
            since,
            until,
            json,
        } => {
            let opts = roi::Options {
                window: window(since, until),
                incidents: roi::read_incidents(&incidents)?,
                cost: roi::CostModel::from_file(&cost)?,
            };
            let (trail, spinner) = open_trail(&ledger, &trust)?;
            let r = roi::report(&trail, &opts)?;
            spinner.finish_and_clear();
            print_output(json, &r, || r.to_text())?;
        }
        ReportCommand::Rca {
            ledger,
            trust,
            session,
            incident,
            incidents,
            baseline,
            json,
            plot,
        } => {
            let session_id = match (session, &incident, &incidents) {
                (Some(s), _, _) => s,
                (None, Some(id), Some(path)) => {
                    let all = roi::read_incidents(path)?;
                    let inc = all
                        .iter()
                        .find(|i| &i.id == id)
                        .with_context(|| format!("--incident {id}: not in {}", path.display()))?;
                    inc.session_id.clone().with_context(|| {
                        format!("incident {id} names no session_id; give --session instead")
                    })?
                }
                _ => bail!("give --session ID, or --incident ID with --incidents FILE"),
            };
            let (trail, spinner) = open_trail(&ledger, &trust)?;
            let opts = rca::Options {
                session_id,
                baseline: match baseline {
                    args::RcaBaseline::Session => rca::Baseline::Session,
                    args::RcaBaseline::Ledger => rca::Baseline::Ledger,
                },
                incident,
            };
            let r = rca::report(&trail, &opts)?;
            spinner.finish_and_clear();
            plot_to(&plot, |f| query::plot::rca(&r, f))?;
            print_output(json, &r, || r.to_text())?;
        }
    }
    Ok(exit::OK)
}
