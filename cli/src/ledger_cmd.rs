//! The writer's commands: `init`, `append`, `ingest` (and draining a spool), `seal`,
//! `rotate-key`. Each opens the ledger (taking its writer lock), calls the ledger crate and
//! prints what it did; durability is the library's.

use std::fs;
use std::io::{self, BufRead as _, BufReader, Read, Write as _};
use std::path::Path;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ledger::spool::{IngestReport, Source};
use ledger::{Committer, Ledger, Record};
use schemas::ingest::{Format, Options};

use crate::args::{AppendArgs, IngestArgs, InitArgs, RotateKeyArgs, SealArgs};
use crate::exit;
use crate::keys::read_key;

/// `govtrail init`.
pub(crate) fn init(a: InitArgs) -> Result<u8> {
    let signer = read_key(&a.key)?;
    let origin = signer.name().to_owned();
    Ledger::create(&a.ledger, signer, a.segment_records)?;
    println!("created ledger {} with origin {origin}", a.ledger.display());
    Ok(exit::OK)
}

/// `govtrail seal`.
pub(crate) fn seal(a: SealArgs) -> Result<u8> {
    let (mut l, _) = Ledger::open(&a.ledger, read_key(&a.key)?)?;
    match l.seal()? {
        Some((start, end)) => println!("sealed records [{start}, {end})"),
        None => println!("nothing to seal"),
    }
    Ok(exit::OK)
}

/// `govtrail rotate-key`.
pub(crate) fn rotate_key(a: RotateKeyArgs) -> Result<u8> {
    let old = read_key(&a.key)?;
    let old_vkey = old.verifier();
    let (mut l, _) = Ledger::open(&a.ledger, old)?;
    let new = read_key(&a.new_key)?;
    let vkey = new.verifier();
    let path = l.rotate_key(new)?;
    let n = l.size();
    // The lines an auditor pins in a policy file, so that deleting the transition note cannot
    // make the old key valid above N again.
    println!("log {old_vkey} until {n}\nlog {vkey} from {n}");
    eprintln!(
        "rotated at size {n}: {}; append with the new key from now on",
        path.display()
    );
    Ok(exit::OK)
}

/// `govtrail append`: NDJSON records, acknowledged after fsync; stops at the first bad line
/// (the records before it are committed).
pub(crate) fn append(a: AppendArgs) -> Result<u8> {
    let (ledger, recovery) = Ledger::open(&a.ledger, read_key(&a.key)?)?;
    if let Some(reason) = &recovery.cut_reason {
        eprintln!(
            "govtrail: recovered: cut {} bytes of an unacknowledged commit from the write-ahead log ({reason})",
            recovery.cut_bytes
        );
    }
    let start_size = ledger.size();
    let (reader, total_bytes): (Box<dyn Read>, Option<u64>) = if a.input == Path::new("-") {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f = fs::File::open(&a.input).with_context(|| format!("open {}", a.input.display()))?;
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
    let print_acks = a.print_acks;
    let committer = Committer::spawn(ledger, a.batch, 4, move |commit| {
        if print_acks {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "acked {}", commit.size);
            let _ = out.flush();
        }
    });
    let name = a.input.display().to_string();
    let mut lines = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut bad_line = None;
    let mut appender = committer.appender(1024);
    // Line numbers of pushed records, as (position, line) where they stop counting together
    // (blank lines): to name a conflict's line without a number per record.
    let mut anchors: Vec<(u64, u64)> = Vec::new();
    let mut position = 0u64;
    let mut unshown = 0u64;
    // SIGINT or SIGTERM: stop reading, commit what was read, say how far it got.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .context("install a signal handler")?;
    }
    let mut interrupted = false;
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        line.clear();
        let n = lines
            .read_until(b'\n', &mut line)
            .with_context(|| format!("read {name}"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        // The bar moves every 1,024 lines: an update per line cost more than the parse.
        unshown += n as u64;
        if line_no.is_multiple_of(1024) {
            progress.inc(std::mem::take(&mut unshown));
        }
        let text = trim_line(&line);
        if text.is_empty() {
            continue;
        }
        match Record::from_json(text, &format_args!("{name}:{line_no}")) {
            // A refused submission means the commit thread stopped; finish() says why.
            Ok(r) => {
                if anchors
                    .last()
                    .is_none_or(|&(p, l)| l + (position - p) != line_no)
                {
                    anchors.push((position, line_no));
                }
                position += 1;
                if appender.push(r).is_err() {
                    break;
                }
            }
            Err(e) => {
                bad_line = Some(e);
                break;
            }
        }
    }
    progress.inc(unshown);
    let appended = appender.finish();
    let mut ledger = committer.finish()?;
    let appended = appended?;
    progress.finish_and_clear();
    if a.seal {
        ledger.seal()?;
    }
    let line_of = |p: u64| {
        let k = anchors.partition_point(|&(q, _)| q <= p).saturating_sub(1);
        anchors.get(k).map_or(0, |&(q, l)| l + (p - q))
    };
    for &(p, index) in &appended.conflicts {
        eprintln!(
            "govtrail: conflict: {name}:{}: its decision_id is at index {index} with other bytes; not appended",
            line_of(p)
        );
    }
    eprintln!(
        "appended {} records (indices [{start_size}, {})) to {}{}",
        appended.records,
        ledger.size(),
        a.ledger.display(),
        if appended.duplicates.is_empty() {
            String::new()
        } else {
            format!(
                "; {} duplicates (already in the ledger, not appended again)",
                appended.duplicates.len()
            )
        }
    );
    if let Some(err) = bad_line {
        eprintln!("govtrail: error: {err}");
        eprintln!("govtrail: stopped there; the records before it are committed");
        return Ok(exit::ERROR);
    }
    if interrupted {
        eprintln!(
            "govtrail: interrupted after line {line_no} of {name}: every record up to it is durable \
             (the ledger holds [0, {})); run the same command again to resume: what the ledger \
             holds already is counted as a duplicate, not appended again",
            ledger.size()
        );
        return Ok(exit::INTERRUPTED);
    }
    Ok(if appended.conflicts.is_empty() {
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

/// `govtrail ingest`: normalise each input (schemas::ingest), append what it yields, then
/// drain the spool if one is given (ledger::spool::drain).
pub(crate) fn ingest(a: IngestArgs) -> Result<u8> {
    let masking = schemas::ingest::Masking {
        erase: a.erase,
        mask: a.mask,
        secrets: schemas::ingest::Secrets::with_patterns(!a.no_secret_masking, &a.secret_pattern)
            .map_err(anyhow::Error::msg)?,
    };
    masking.check().map_err(anyhow::Error::msg)?;
    let forced = match a.format.as_deref() {
        None => None,
        Some(name) => Some(Format::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            anyhow::anyhow!("unknown --format {name:?}; one of {}", names.join(", "))
        })?),
    };
    let opts = Options {
        format: forced,
        received_us: ledger::spool::now_us(),
        masking,
        // Files carry their own times; only a server stamps its receipt.
        stamp_received: false,
    };
    // Read and normalise everything first: a file that cannot be read stops before any append.
    let mut sources = Vec::new();
    for input in &a.inputs {
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
        sources.push(Source {
            name: input.display().to_string(),
            output: schemas::ingest::ingest(&bytes, &opts),
        });
    }
    // The writer lock is taken before the spool is listed, so two drains never read one file;
    // the spool is read before anything is appended, so one that cannot be read stops here.
    let (ledger, _) = Ledger::open(&a.ledger, read_key(&a.key)?)?;
    let spooled = match &a.spool {
        Some(spool) => {
            let retry = if a.retry_rejected {
                ledger::spool::Retry::AlsoRejected
            } else {
                ledger::spool::Retry::New
            };
            Some(ledger::spool::read(spool, &opts, retry)?)
        }
        None => None,
    };
    let start = ledger.size();
    let total = sources
        .iter()
        .chain(spooled.iter().flat_map(|s| &s.sources))
        .map(|s| s.output.records.len() as u64)
        .sum();
    let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let committer = Committer::spawn(ledger, 8192, 4, |_| {});
    let appended = (|| {
        let mut report =
            ledger::spool::append_sources(&committer, &sources, &mut || progress.inc(1))?;
        let mut torn = Vec::new();
        if let Some(spooled) = spooled {
            let drained = spooled.append(&committer, &mut || progress.inc(1))?;
            report.merge(drained.ingest);
            torn = drained.torn;
        }
        Ok::<_, ledger::Error>((report, torn))
    })();
    let ledger = committer.finish()?;
    let (report, torn) = appended?;
    progress.finish_and_clear();
    for t in &torn {
        eprintln!(
            "govtrail: {}: at byte {}, {} (a call the server was recording when it stopped, never answered): the log is moved to rejected/",
            t.log.display(),
            t.at,
            t.why
        );
    }
    print_ingest(&report, a.json, start, ledger.size(), &a.ledger)?;
    Ok(if report.rejected.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

fn print_ingest(r: &IngestReport, json: bool, start: u64, end: u64, dir: &Path) -> Result<()> {
    for x in &r.rejected {
        eprintln!(
            "govtrail: rejected {}:{}{}: {}",
            x.file,
            x.line,
            if x.pointer.is_empty() {
                String::new()
            } else {
                format!(" at {}", x.pointer)
            },
            x.message
        );
    }
    if r.rejected.iter().any(|x| {
        [
            schemas::ingest::UNKNOWN_FORMAT,
            schemas::ingest::UNKNOWN_BINARY,
        ]
        .contains(&x.message.as_str())
    }) {
        eprintln!("govtrail: hint: force a format with --format");
    }
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    for f in &r.files {
        println!(
            "{}: {} ({} records, {}{} rejected{})",
            f.file,
            f.format.unwrap_or("unknown format"),
            f.records,
            if f.duplicates > 0 {
                format!("{} duplicates, ", f.duplicates)
            } else {
                String::new()
            },
            f.rejected,
            if f.skipped > 0 {
                format!(", {} not decisions skipped", f.skipped)
            } else {
                String::new()
            }
        );
    }
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("by source format: {}", list(&r.per_format));
    println!("by decision: {}", list(&r.per_decision));
    println!(
        "appended {} records (indices [{start}, {end})) to {}; {}{} rejected",
        r.appended,
        dir.display(),
        if r.duplicates > 0 {
            format!(
                "{} duplicates (already in the ledger, not appended again); ",
                r.duplicates
            )
        } else {
            String::new()
        },
        r.rejected.len()
    );
    Ok(())
}
