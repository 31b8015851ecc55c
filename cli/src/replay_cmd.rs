//! `govtrail bundle` and `govtrail replay`.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use crate::args::{BundleCommand, ReplayFormat};
use crate::exit;

/// `govtrail bundle build|inspect|test`.
pub(crate) fn bundle(cmd: BundleCommand) -> Result<u8> {
    match cmd {
        BundleCommand::Build { dir, out } => {
            let b = replay::Bundle::load(&dir)?;
            // Listing the tests parses the test files, so a broken one fails the build.
            let tests = b.tests()?;
            println!("{}", b.id);
            if let Some(out) = out {
                let doc = describe(&b, Some(&tests))?;
                std::fs::write(&out, serde_json::to_vec_pretty(&doc)?)
                    .with_context(|| format!("write {}", out.display()))?;
            }
            Ok(exit::OK)
        }
        BundleCommand::Inspect { dir, json } => {
            let b = replay::Bundle::load(&dir)?;
            let tests = b.tests()?;
            let doc = describe(&b, Some(&tests))?;
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
                let rows: Vec<Value> = results
                    .iter()
                    .map(|r| match &r.outcome {
                        replay::TestOutcome::Pass => json!({"test": r.name, "result": "pass"}),
                        replay::TestOutcome::Fail(m) => {
                            json!({"test": r.name, "result": "fail", "message": m})
                        }
                        replay::TestOutcome::Error(m) => {
                            json!({"test": r.name, "result": "error", "message": m})
                        }
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
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

fn describe(b: &replay::Bundle, tests: Option<&[String]>) -> Result<Value> {
    let mut doc = json!({
        "id": b.id,
        "revision": b.revision,
        "entrypoint": b.entrypoint,
        "roots": b.roots,
        "files": b.files.iter().map(|(p, d)| (p.clone(), Value::String(d.clone()))).collect::<Map<_, _>>(),
        "rule_set_ids": b.rule_set_ids().into_iter().map(|(p, id)| (p, Value::String(id))).collect::<Map<_, _>>(),
    });
    if let Some(t) = tests {
        doc["tests"] = json!(t);
    }
    Ok(doc)
}

/// The arguments of `govtrail replay`.
pub(crate) struct ReplayArgs<'a> {
    pub(crate) ledger: &'a Path,
    pub(crate) bundle: &'a Path,
    pub(crate) trusted: Option<ledger::VerifyOptions>,
    pub(crate) opts: replay::Options,
    pub(crate) format: ReplayFormat,
    pub(crate) out: Option<&'a Path>,
    pub(crate) fail_on: &'a [String],
}

/// `govtrail replay`.
pub(crate) fn replay(a: ReplayArgs<'_>) -> Result<u8> {
    let rules: Vec<(String, String)> = a
        .fail_on
        .iter()
        .map(|f| parse_fail_on(f))
        .collect::<Result<_>>()?;
    if !a.ledger.is_dir() {
        bail!("{}: not a ledger directory", a.ledger.display());
    }
    let bundle = replay::Bundle::load(a.bundle)?;
    let report = match replay::replay(a.ledger, &bundle, a.trusted.as_ref(), &a.opts) {
        Ok(r) => r,
        Err(replay::Error::Refused {
            class,
            verdict,
            message,
        }) => {
            eprintln!(
                "govtrail: the ledger did not verify ({class}: {message}); nothing was replayed"
            );
            return Ok(if verdict == "truncated-or-forked" {
                exit::TRUNCATED_OR_FORKED
            } else {
                exit::TAMPERED
            });
        }
        Err(e) => return Err(e.into()),
    };
    let text = match a.format {
        ReplayFormat::Text => replay::text(&report),
        ReplayFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&replay::json(&report))?
        ),
        ReplayFormat::Markdown => replay::markdown(&report),
        ReplayFormat::Junit => replay::junit(&report),
    };
    match a.out {
        Some(path) => crate::write_file(path, text.as_bytes())?,
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
pub(crate) fn incidents(
    file: Option<&Path>,
    only: Option<&str>,
    session: Option<String>,
) -> Result<(Vec<replay::Incident>, Option<String>)> {
    let Some(file) = file else {
        return Ok((Vec::new(), session));
    };
    let mut all = Vec::new();
    for i in query::report::roi::read_incidents(file)? {
        let ts_us = match &i.ts {
            None => None,
            Some(t) => Some(schemas::rfc3339_us(t).with_context(|| {
                format!(
                    "{}: incident {}: ts {t:?} is not an RFC 3339 time",
                    file.display(),
                    i.id
                )
            })?),
        };
        all.push(replay::Incident {
            id: i.id,
            session_id: i.session_id,
            ts_us,
            tokens_wasted: i.tokens_wasted,
            minutes_lost: i.minutes_lost,
        });
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
