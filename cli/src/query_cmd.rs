//! `govtrail query` and `govtrail report overhead|roi|rca`: a trail opened on the ledger
//! (checked against `--pubkey` for pruning), SQL or a report, printed or written. The query
//! crate is async; the CLI blocks on it here, on a runtime of its own.

use std::future::Future;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit;
use crate::keys::trust_policy;

/// Runs a future of the query crate to completion on the CLI's runtime (two workers, built on
/// first use).
pub(crate) fn block<F: Future>(f: F) -> Result<F::Output> {
    static RUNTIME: std::sync::OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("govtrail-query")
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => bail!("cannot start the query runtime: {e}"),
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    /// Ledger directory.
    pub(crate) ledger: PathBuf,
    #[command(flatten)]
    pub(crate) trust: PruneTrust,
    /// The SQL (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE; nothing that writes).
    pub(crate) sql: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub(crate) format: QueryFormat,
    /// Write the result here instead of standard output (required for parquet).
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    /// Register an incidents file (JSON or CSV, as for `report roi`) as table `incidents`.
    #[arg(long)]
    pub(crate) incidents: Option<PathBuf>,
}

/// The reports.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReportCommand {
    /// Governance overhead per decision: count, mean, exact and approximate p50/p95/p99,
    /// grouped by any of service, platform, model, rule_set, tool, decision, engine, event,
    /// overhead_source.
    Overhead(OverheadArgs),
    /// Overhead spent against waste prevented, from an incidents file and a cost model.
    Roi(RoiArgs),
    /// Root-cause analysis of one session: timeline, first deny/ask/divergence, context
    /// pressure, and the attributes over-represented among adverse decisions.
    Rca(RcaArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct OverheadArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    #[command(flatten)]
    pub(crate) trust: PruneTrust,
    /// Group by these dimensions (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub(crate) by: Vec<String>,
    /// Only decisions at or after this time (RFC 3339).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only decisions before this time (RFC 3339).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Compare two rule-set versions (baseline A, then B).
    #[arg(long, num_args = 2, value_names = ["A", "B"], action = clap::ArgAction::Set)]
    pub(crate) compare: Vec<String>,
    /// Scan every decision for exact percentiles, even where segment summaries could
    /// answer (they give counts, mean, min and max exactly and percentiles within 0.8%).
    #[arg(long)]
    pub(crate) exact: bool,
    /// Also count decisions per overhead source (reads every record's JSON).
    #[arg(long)]
    pub(crate) sources: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also draw the distribution per group to these files (.svg or .png).
    #[arg(long)]
    pub(crate) plot: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RoiArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    #[command(flatten)]
    pub(crate) trust: PruneTrust,
    /// Incidents: JSON (an array or {"incidents": [...]}, Tractatus framework-incidents
    /// keys accepted) or CSV (id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids).
    #[arg(long)]
    pub(crate) incidents: PathBuf,
    /// Cost model JSON: {"currency": "USD", "micros_per_token": 15,
    /// "micros_per_minute": 1500000}.
    #[arg(long)]
    pub(crate) cost: PathBuf,
    /// Only decisions at or after this time (RFC 3339).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only decisions before this time (RFC 3339).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RcaArgs {
    /// Ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    #[command(flatten)]
    pub(crate) trust: PruneTrust,
    /// The session.
    #[arg(
        long,
        required_unless_present = "incident",
        conflicts_with = "incident"
    )]
    pub(crate) session: Option<String>,
    /// An incident (from --incidents) whose session to analyse.
    #[arg(long, requires = "incidents")]
    pub(crate) incident: Option<String>,
    /// The incidents file, for --incident.
    #[arg(long)]
    pub(crate) incidents: Option<PathBuf>,
    /// Compare adverse decisions with the rest of the session or of the whole ledger.
    #[arg(long, value_enum, default_value_t = RcaBaseline::Session)]
    pub(crate) baseline: RcaBaseline,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also draw the timeline to these files (.svg or .png).
    #[arg(long)]
    pub(crate) plot: Vec<PathBuf>,
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
fn open_trail(ledger: &Path, trust: &PruneTrust) -> Result<(query::Trail, ProgressBar)> {
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
    let mut trail = block(query::Trail::open_checked(ledger, None, policy.as_ref()))??;
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

/// `govtrail query`.
pub(crate) fn query(a: QueryArgs) -> Result<u8> {
    let (ledger, trust, sql, format, out, incidents) = (
        &a.ledger,
        &a.trust,
        &a.sql,
        a.format,
        a.out.as_deref(),
        a.incidents.as_deref(),
    );
    let (trail, spinner) = open_trail(ledger, trust)?;
    if let Some(path) = incidents {
        trail.register_incidents(&query::report::roi::read_incidents(path)?)?;
    }
    let batches = block(trail.sql(sql))??;
    spinner.finish_and_clear();
    let bytes = match format {
        QueryFormat::Table => query::output::to_text(&batches)?.into_bytes(),
        QueryFormat::Json => query::output::to_json(&batches)?,
        QueryFormat::Csv => query::output::to_csv(&batches)?,
        QueryFormat::Parquet => {
            let Some(out) = out else {
                bail!("--format parquet writes a file: give it with --out FILE");
            };
            ledger::write_output(out, &query::output::to_parquet(&batches)?)?;
            return Ok(exit::OK);
        }
    };
    match out {
        Some(path) => ledger::write_output(path, &bytes)?,
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

/// A report's window, each bound checked to be an RFC 3339 time.
fn window(since: Option<String>, until: Option<String>) -> Result<query::report::Window> {
    for (flag, t) in [("since", &since), ("until", &until)] {
        if let Some(t) = t
            && schemas::rfc3339_us(t).is_none()
        {
            bail!("--{flag} {t}: not an RFC 3339 time (for example 2025-10-07T00:00:00Z)");
        }
    }
    Ok(query::report::Window { since, until })
}

pub(crate) fn print_output(
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
        ledger::write_output(path, &draw(format)?)?;
    }
    Ok(())
}

/// `govtrail report overhead|roi|rca`.
pub(crate) fn report(report: ReportCommand) -> Result<u8> {
    use query::report::{overhead, rca, roi};
    match report {
        ReportCommand::Overhead(OverheadArgs {
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
        }) => {
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
            // A dimension given twice groups once.
            let mut group_by = group_by;
            let mut seen = Vec::new();
            group_by.retain(|d| {
                let first = !seen.contains(d);
                seen.push(*d);
                first
            });
            let (trail, spinner) = open_trail(&ledger, &trust)?;
            let opts = overhead::Options {
                group_by,
                window: window(since, until)?,
                compare: match compare.as_slice() {
                    [a, b] => Some((a.clone(), b.clone())),
                    _ => None,
                },
                exact,
                sources,
            };
            let r = block(overhead::report(&trail, &opts))??;
            spinner.finish_and_clear();
            plot_to(&plot, |f| query::plot::overhead(&r, f))?;
            print_output(json, &r, || r.to_text())?;
        }
        ReportCommand::Roi(RoiArgs {
            ledger,
            trust,
            incidents,
            cost,
            since,
            until,
            json,
        }) => {
            let opts = roi::Options {
                window: window(since, until)?,
                incidents: roi::read_incidents(&incidents)?,
                cost: roi::CostModel::from_file(&cost)?,
            };
            let (trail, spinner) = open_trail(&ledger, &trust)?;
            let r = block(roi::report(&trail, &opts))??;
            spinner.finish_and_clear();
            print_output(json, &r, || r.to_text())?;
        }
        ReportCommand::Rca(RcaArgs {
            ledger,
            trust,
            session,
            incident,
            incidents,
            baseline,
            json,
            plot,
        }) => {
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
                    RcaBaseline::Session => rca::Baseline::Session,
                    RcaBaseline::Ledger => rca::Baseline::Ledger,
                },
                incident,
            };
            let r = block(rca::report(&trail, &opts))??;
            spinner.finish_and_clear();
            plot_to(&plot, |f| query::plot::rca(&r, f))?;
            print_output(json, &r, || r.to_text())?;
        }
    }
    Ok(exit::OK)
}
