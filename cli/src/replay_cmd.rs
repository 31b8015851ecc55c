//! `govtrail bundle` and `govtrail replay`: the replay crate's bundles, tests and flip reports,
//! printed or written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::exit;
use crate::keys::read_pubkeys;

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// The bundle directory.
    #[arg(long)]
    pub(crate) bundle: PathBuf,
    /// Trusted verifier key: a vkey string or a file holding one per line. Repeatable.
    #[arg(
        long = "pubkey",
        required_unless_present = "no_verify",
        env = "GOVTRAIL_PUBKEY"
    )]
    pub(crate) pubkeys: Vec<String>,
    /// Replay without verifying (the report says so).
    #[arg(long)]
    pub(crate) no_verify: bool,
    /// Only this session.
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// Only decisions at or after this time (RFC 3339).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only decisions before this time (RFC 3339).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Worker threads, 1 to 256 (the report is the same for any number).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) threads: u16,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
    pub(crate) format: ReplayFormat,
    /// Write the report here instead of standard output.
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    /// Exit 6 if any decision flips this way: FROM->TO, with * for any (e.g. deny->allow,
    /// *->deny, any). Repeatable.
    #[arg(long = "fail-on")]
    pub(crate) fail_on: Vec<String>,
    /// Incidents (JSON or CSV, as for `report roi`): the report says, per incident, whether
    /// the bundle would have denied or asked about a call of its session before it, and at
    /// what cost in extra denies and asks.
    #[arg(long)]
    pub(crate) incidents: Option<PathBuf>,
    /// Judge only this incident (from --incidents), replaying only its session.
    #[arg(long, requires = "incidents")]
    pub(crate) incident: Option<String>,
}

/// Bundle subcommands.
#[derive(Debug, clap::Subcommand)]
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

/// `govtrail replay`: verify, replay, report, and exit 6 on a flip `--fail-on` forbids.
pub(crate) fn run(a: ReplayArgs) -> Result<u8> {
    let (incidents, session) = incidents(a.incidents.as_deref(), a.incident.as_deref(), a.session)?;
    let trusted = if a.no_verify {
        None
    } else {
        Some(ledger::VerifyOptions::new(read_pubkeys(&a.pubkeys)?))
    };
    let time = |flag: &str, v: Option<String>| -> Result<Option<i64>> {
        v.map(|t| {
            schemas::rfc3339_us(&t).with_context(|| format!("--{flag} {t}: not an RFC 3339 time"))
        })
        .transpose()
    };
    replay(Run {
        ledger: &a.ledger,
        bundle: &a.bundle,
        trusted,
        opts: replay::Options {
            session,
            since_us: time("since", a.since)?,
            until_us: time("until", a.until)?,
            threads: usize::from(a.threads),
            samples: 5,
            incidents,
            progress: None,
        },
        format: a.format,
        out: a.out.as_deref(),
        fail_on: &a.fail_on,
    })
}

/// `govtrail bundle build|inspect|test`.
pub(crate) fn bundle(cmd: BundleCommand) -> Result<u8> {
    match cmd {
        BundleCommand::Build { dir, out } => {
            let b = replay::Bundle::load(&dir)?;
            // Listing the tests parses the test files, so a broken one fails the build.
            let tests = b.tests()?;
            println!("{}", b.id);
            if let Some(out) = out {
                let doc = b.describe(Some(&tests));
                std::fs::write(&out, serde_json::to_vec_pretty(&doc)?)
                    .with_context(|| format!("write {}", out.display()))?;
            }
            Ok(exit::OK)
        }
        BundleCommand::Inspect { dir, json } => {
            let b = replay::Bundle::load(&dir)?;
            let tests = b.tests()?;
            let doc = b.describe(Some(&tests));
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!("bundle      {}", b.id);
                println!("revision    {}", b.revision.as_deref().unwrap_or("-"));
                println!("entrypoint  {}", b.entrypoint);
                println!("roots       {}", b.roots.join(", "));
                println!("policies    {}", b.policies.len());
                println!("tests       {}", tests.len());
                println!("files");
                for (path, digest) in &b.files {
                    println!("  {digest}  {path}");
                }
                println!("data files as rule-set ids (docs/RECORD.md §9)");
                for (path, id) in b.rule_set_ids() {
                    println!("  {id}  {path}");
                }
            }
            Ok(exit::OK)
        }
        BundleCommand::Test { dir, json } => {
            let b = replay::Bundle::load(&dir)?;
            let results = b.run_tests()?;
            let failed = results
                .iter()
                .filter(|r| r.outcome != replay::TestOutcome::Pass)
                .count();
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                for r in &results {
                    match &r.outcome {
                        replay::TestOutcome::Pass => println!("PASS  {}", r.name),
                        replay::TestOutcome::Fail(m) => println!("FAIL  {}: {m}", r.name),
                        replay::TestOutcome::Error(m) => {
                            println!("ERROR {}:\n{}", r.name, m.replace('\n', "\n      "));
                        }
                    }
                }
                println!(
                    "{} tests: {} passed, {failed} failed",
                    results.len(),
                    results.len() - failed
                );
            }
            if results.is_empty() {
                bail!("{}: the bundle has no test_* rules", dir.display());
            }
            Ok(if failed > 0 { exit::FLIPPED } else { exit::OK })
        }
    }
}

/// One replay's settings, checked.
struct Run<'a> {
    ledger: &'a Path,
    bundle: &'a Path,
    trusted: Option<ledger::VerifyOptions>,
    opts: replay::Options,
    format: ReplayFormat,
    out: Option<&'a Path>,
    fail_on: &'a [String],
}

fn replay(a: Run<'_>) -> Result<u8> {
    let rules: Vec<(String, String)> = a
        .fail_on
        .iter()
        .map(|f| parse_fail_on(f))
        .collect::<Result<_>>()?;
    if !a.ledger.is_dir() {
        bail!("{}: not a ledger directory", a.ledger.display());
    }
    let bundle = replay::Bundle::load(a.bundle)?;
    // A bar on a terminal (indicatif draws nothing when stderr is not one).
    let total = ledger::inspect(a.ledger).map_or(0, |i| i.records());
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    )
    .with_style(
        indicatif::ProgressStyle::with_template(
            "replaying [{bar:30}] {human_pos}/{human_len} records {per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut opts = a.opts.clone();
    let shown = bar.clone();
    opts.progress = Some(replay::Progress(std::sync::Arc::new(move |n| {
        shown.set_position(n);
    })));
    let replayed = replay::replay(a.ledger, &bundle, a.trusted.as_ref(), &opts);
    bar.finish_and_clear();
    let report = match replayed {
        Ok(r) => r,
        Err(replay::Error::Refused {
            class,
            verdict,
            message,
        }) => {
            eprintln!(
                "govtrail: the ledger did not verify ({}: {message}); nothing was replayed",
                class.as_str()
            );
            return Ok(exit::of_verdict(verdict));
        }
        Err(e) => return Err(e.into()),
    };
    // A session that is not there is a mistake (as for `report rca`), not an empty replay.
    if let Some(session) = &a.opts.session
        && report.decisions == 0
    {
        return Err(query::Error::NoSession {
            session_id: session.clone(),
        }
        .into());
    }
    let text = match a.format {
        ReplayFormat::Text => replay::text(&report),
        ReplayFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        ReplayFormat::Markdown => replay::markdown(&report),
        ReplayFormat::Junit => replay::junit(&report),
    };
    match a.out {
        Some(path) => ledger::write_output(path, text.as_bytes())?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    let hit: Vec<String> = rules
        .iter()
        .filter(|(f, t)| report.count(f, t) > 0)
        .map(|(f, t)| format!("{f}->{t} ({})", report.count(f, t)))
        .collect();
    if !hit.is_empty() {
        eprintln!("govtrail: --fail-on: {}", hit.join(", "));
        return Ok(exit::FLIPPED);
    }
    Ok(exit::OK)
}

/// The incidents to judge, from `--incidents FILE` (only `--incident ID` when given), and the
/// session to replay: `--incident` narrows the replay to its incident's session.
fn incidents(
    file: Option<&Path>,
    only: Option<&str>,
    session: Option<String>,
) -> Result<(Vec<replay::Incident>, Option<String>)> {
    let Some(file) = file else {
        return Ok((Vec::new(), session));
    };
    let all = query::report::roi::read_incidents(file)?;
    // Replay judges each incident at its time: one that does not parse is an error here.
    if let Some(i) = all.iter().find(|i| i.ts.is_some() && i.ts_us.is_none()) {
        bail!(
            "{}: incident {}: ts {:?} is not an RFC 3339 time",
            file.display(),
            i.id,
            i.ts.as_deref().unwrap_or_default()
        );
    }
    let Some(id) = only else {
        return Ok((all, session));
    };
    let Some(one) = all.into_iter().find(|i| i.id == id) else {
        bail!("{}: no incident {id:?}", file.display());
    };
    let session = match (session, &one.session_id) {
        (Some(s), _) => Some(s),
        (None, Some(s)) => Some(s.clone()),
        (None, None) => bail!(
            "{}: incident {id:?} names no session_id; give --session",
            file.display()
        ),
    };
    Ok((vec![one], session))
}

/// `deny->allow`, `deny→allow`, `*->deny`, `any`.
fn parse_fail_on(spec: &str) -> Result<(String, String)> {
    if spec == "any" {
        return Ok(("*".into(), "*".into()));
    }
    let (from, to) = spec
        .split_once("->")
        .or_else(|| spec.split_once('→'))
        .with_context(|| {
            format!("--fail-on {spec}: expected FROM->TO (e.g. deny->allow) or any")
        })?;
    for d in [from, to] {
        if d != "*" && !replay::DECISIONS.contains(&d) {
            bail!(
                "--fail-on {spec}: {d:?} is not a decision ({} or *)",
                replay::DECISIONS.join(", ")
            );
        }
    }
    Ok((from.into(), to.into()))
}
