//! The working pages: Overhead (distributions, a rule-set comparison, an export), Verify and
//! evidence, Replay, ROI. Looking needs the read scope; what runs work or takes data away
//! (a verification, a replay, an export, an evidence pack, a JUnit report) needs the admin
//! scope and is a `POST` checked for origin and CSRF token.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::Value;

use super::chart;
use super::pages::render;
use super::{Login, UiError, count, guard, guard_change, ms, text, time};
use crate::State;
use crate::api;
use crate::auth::Scope;
use crate::problem::Problem;

fn admin(login: &Login) -> bool {
    login.token.grants(Scope::Admin)
}

fn bad(e: impl std::fmt::Display) -> UiError {
    UiError::Problem(Problem::new(StatusCode::BAD_REQUEST, e.to_string()))
}

/// A file to download, with the dashboard's headers.
fn download(body: impl Into<axum::body::Body>, content_type: &'static str, name: &str) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.into(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    super::secure_headers(&mut r, "no-store");
    r
}

/// The overhead page's parameters, as the API takes them (empty fields dropped; `by` from
/// its checkboxes).
fn overhead_params(q: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let by: Vec<&str> = q
        .iter()
        .filter(|(k, v)| k == "by" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    if !by.is_empty() {
        out.insert("by".to_owned(), by.join(","));
    }
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    if let (Some(a), Some(b)) = (get("a"), get("b"))
        && !a.is_empty()
        && !b.is_empty()
    {
        out.insert("compare".to_owned(), format!("{a},{b}"));
    }
    for k in ["since", "until"] {
        if let Some(v) = get(k).filter(|v| !v.is_empty()) {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

/// The rule sets decisions name, most used first (at most 50).
async fn rule_sets(state: &State) -> Result<Vec<(String, i64)>, UiError> {
    let rows = api::sql_rows(
        state,
        "SELECT rule_set, count(*) AS n FROM decisions WHERE rule_set IS NOT NULL AND NOT \
         is_rule_set GROUP BY rule_set ORDER BY n DESC, rule_set LIMIT 50",
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| (text(&r["rule_set"]), r["n"].as_i64().unwrap_or(0)))
        .collect())
}

fn stats_row(label: &str, s: &query::report::overhead::Stats) -> Markup {
    html! {
        tr {
            th scope="row" { (label) }
            td.num { (count(s.decisions)) } td.num { (count(s.measured)) }
            td.num { (ms(s.p50_us.or(s.p50_approx_us))) }
            td.num { (ms(s.p95_us.or(s.p95_approx_us))) }
            td.num { (ms(s.p99_us.or(s.p99_approx_us))) }
            td.num { (ms(s.max_us.map(|m| m as f64))) }
        }
    }
}

fn group_label(g: &[Option<String>]) -> String {
    if g.is_empty() {
        return "all".into();
    }
    g.iter()
        .map(|v| v.clone().unwrap_or_else(|| "(none)".into()))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `GET /ui/overhead`: the distribution by any dimensions, and two rule sets compared.
pub(crate) async fn overhead(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Overhead", |login| async move {
        let body = async {
            let params = overhead_params(&q);
            let report = api::overhead_report(&s, &params).await?;
            let sets = rule_sets(&s).await?;
            let svg = query::plot::overhead(&report, query::plot::ImageFormat::Svg)
                .map_err(bad)?;
            let by: Vec<&str> = report.group_by.iter().map(|d| d.name()).collect();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str());
            let stats_head = html! { thead { tr {
                th scope="col" { "Group" } th scope="col" { "Decisions" } th scope="col" { "Measured" }
                th scope="col" { "p50" } th scope="col" { "p95" } th scope="col" { "p99" } th scope="col" { "Max" }
            } } };
            Ok::<_, UiError>(html! {
                form.filters method="get" action="/ui/overhead" aria-label="Report" {
                    fieldset {
                        legend { "Group by" }
                        @for d in query::report::overhead::Dim::ALL {
                            @let id = format!("by-{}", d.name());
                            span.check {
                                input type="checkbox" id=(id) name="by" value=(d.name()) checked[by.contains(&d.name())];
                                label for=(id) { (d.name()) }
                            }
                        }
                    }
                    @for (k, hint) in [("a", "Compare rule set A"), ("b", "with rule set B")] {
                        div.field {
                            label for=(k) { (hint) }
                            select id=(k) name=(k) {
                                option value="" { "—" }
                                @for (rs, n) in &sets {
                                    option value=(rs) selected[get(k) == rs] { (rs) " (" (count(*n)) ")" }
                                }
                            }
                        }
                    }
                    @for (k, hint) in [("since", "from (RFC 3339)"), ("until", "until (RFC 3339)")] {
                        div.field { label for=(k) { (hint) } input id=(k) name=(k) type="text" value=(get(k)); }
                    }
                    div.actions { button type="submit" { "Show" } }
                }
                p.note { "Computed from " @if report.method == query::report::overhead::Method::Summaries {
                    "the segments' summaries: counts and maxima exact, percentiles within 1 %" } @else { "every decision" } "." }
                table #overhead-table {
                    (stats_head)
                    tbody {
                        (stats_row("all", &report.total))
                        @for g in &report.groups { (stats_row(&group_label(&g.group), g)) }
                    }
                }
                @if !report.groups.is_empty() {
                    (chart::figure(&svg, "distribution", "Overhead per group (ms): box p25–p75, whiskers p5–p95, dot p99", html! {
                        p { "The table above holds the figures." }
                    }))
                }
                @if let Some(c) = &report.comparison {
                    h2 { "Rule set " (c.a) " against " (c.b) }
                    p { "Ratios are B / A; the interval is where the ratio lies with 95 % confidence (from each \
                         percentile's order-statistic interval)." }
                    table #comparison {
                        thead { tr { th scope="col" { "Group" } th scope="col" { "A decisions" } th scope="col" { "B decisions" }
                            th scope="col" { "p50 A → B" } th scope="col" { "p50 ratio" }
                            th scope="col" { "p95 ratio" } th scope="col" { "p99 ratio" } } }
                        tbody { @for p in &c.groups { tr {
                            th scope="row" { (group_label(&p.group)) }
                            td.num { (p.a.as_ref().map_or(0, |a| a.decisions)) }
                            td.num { (p.b.as_ref().map_or(0, |b| b.decisions)) }
                            td.num { (ms(p.a.as_ref().and_then(|a| a.p50_us.or(a.p50_approx_us)))) " → "
                                (ms(p.b.as_ref().and_then(|b| b.p50_us.or(b.p50_approx_us)))) }
                            td.num { (ratio(p.p50_ratio, p.p50_ci)) }
                            td.num { (ratio(p.p95_ratio, p.p95_ci)) }
                            td.num { (ratio(p.p99_ratio, p.p99_ci)) }
                        } } }
                    }
                }
                h2 { "Export" }
                @if admin(&login) {
                    form.inline method="post" action="/ui/overhead/export" {
                        input type="hidden" name="csrf" value=(login.csrf);
                        @for (k, v) in &q { @if !v.is_empty() { input type="hidden" name=(k) value=(v); } }
                        label for="format" { "This table as" }
                        select id="format" name="format" { option value="csv" { "CSV" } option value="parquet" { "Parquet" } }
                        button type="submit" { "Export" }
                    }
                } @else {
                    p { "Exports need a token with the admin scope." }
                }
            })
        }
        .await;
        (login, body.map(|b| ("Overhead".to_owned(), b)))
    })
    .await
}

fn ratio(r: Option<f64>, ci: Option<(f64, f64)>) -> String {
    match (r, ci) {
        (Some(r), Some((lo, hi))) => format!("{r:.3} [{lo:.3}, {hi:.3}]"),
        (Some(r), None) => format!("{r:.3}"),
        _ => "—".into(),
    }
}

/// `POST /ui/overhead/export` (admin): the overhead table as CSV or Parquet.
pub(crate) async fn overhead_export(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let login = match guard_change(&state, &headers, &uri, field("csrf"), Scope::Admin) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    let run = async {
        let report = api::overhead_report(&state, &overhead_params(&f)).await?;
        let batch = report.to_batch().map_err(bad)?;
        match field("format") {
            Some("parquet") => Ok(download(
                query::output::to_parquet(&[batch]).map_err(bad)?,
                "application/vnd.apache.parquet",
                "overhead.parquet",
            )),
            Some("csv") | None => Ok(download(
                query::output::to_csv(&[batch]).map_err(bad)?,
                "text/csv; charset=utf-8",
                "overhead.csv",
            )),
            Some(other) => Err(bad(format!("format {other:?}: csv or parquet"))),
        }
    };
    run.await
        .unwrap_or_else(|e: UiError| e.into_response(Some(&login)))
}

/// `GET /ui/verify`: the last verification run, and (admin) a new run and evidence packs.
pub(crate) async fn verify(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Verify", |login| async move {
        let status = crate::admin::verify_status_of(&s).await;
        let run = &status["last_run"];
        let r = &run["report"];
        let size = status["checkpoint"]["size"].as_u64().unwrap_or(0);
        let body = html! {
            @if run.is_null() {
                p #verdict { "No verification has run on this server yet." }
            } @else {
                dl.facts #last-run {
                    dt { "Verdict" } dd #verdict { strong.{"verdict-" (text(&r["status"]))} { (text(&r["status"])) } }
                    dt { "Verified horizon" } dd #horizon { (count(r["verified"].as_u64().unwrap_or(0))) " of "
                        (count(r["records"].as_u64().unwrap_or(0))) " records" }
                    dt { "Checkpoint" } dd { (text(&r["checkpoint"]["size"])) " records, root " code { (text(&r["checkpoint"]["root"])) } }
                    dt { "Checkpoints checked" } dd { (text(&r["checkpoints_checked"])) }
                    dt { "Segments" } dd { (text(&r["segments"])) }
                    dt { "Ran" } dd { (time(run["started_us"].as_i64().unwrap_or(0))) " to "
                        (time(run["finished_us"].as_i64().unwrap_or(0))) }
                    @if !r["failure"].is_null() {
                        dt { "Failure" } dd #failure { (text(&r["failure"]["class"])) " at index "
                            (text(&r["failure"]["index"])) ": " (text(&r["failure"]["detail"])) }
                    }
                }
            }
            @if admin(&login) {
                form.inline method="post" action="/ui/verify" {
                    input type="hidden" name="csrf" value=(login.csrf);
                    button type="submit" #run-verify { "Verify the whole ledger now" }
                }
                h2 { "Evidence pack" }
                p { "Records [from, to) with their proofs against the newest checkpoint, the public key, \
                     the format's specification and an independent verifier, as a .tar.gz." }
                form.inline method="post" action="/ui/evidence" {
                    input type="hidden" name="csrf" value=(login.csrf);
                    label for="from" { "From" } input id="from" name="from" type="number" min="0" value="0";
                    label for="to" { "to" } input id="to" name="to" type="number" min="1" value=(size.min(1000));
                    button type="submit" { "Export the pack" }
                }
            } @else {
                p { "Running a verification and exporting evidence need a token with the admin scope." }
            }
        };
        (login, Ok(("Verify and evidence".to_owned(), body)))
    })
    .await
}

/// `POST /ui/verify` (admin): verifies the ledger now, then shows the run.
pub(crate) async fn verify_run(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<super::CsrfOnly>,
) -> Response {
    let login = match guard_change(&state, &headers, &uri, f.csrf.as_deref(), Scope::Admin) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    match crate::admin::verify_now(&state).await {
        Ok(_) => Redirect::to("/ui/verify").into_response(),
        Err(p) => UiError::Problem(p).into_response(Some(&login)),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct EvidenceForm {
    csrf: Option<String>,
    from: u64,
    to: u64,
}

/// `POST /ui/evidence` (admin): an evidence pack of records `[from, to)` as a `.tar.gz`.
pub(crate) async fn evidence(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<EvidenceForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = match &form {
        Ok(Form(f)) => f.csrf.clone(),
        Err(_) => None,
    };
    let login = match guard_change(&state, &headers, &uri, csrf.as_deref(), Scope::Admin) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    let Ok(Form(f)) = form else {
        return bad("the form needs from and to (record indices)").into_response(Some(&login));
    };
    let s = Arc::clone(&state);
    let packed = tokio::task::spawn_blocking(move || super::tarball::evidence(&s, f.from, f.to))
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    match packed {
        Ok(Ok((path, name))) => match super::tarball::stream(&path).await {
            Ok(body) => download(body, "application/gzip", &name),
            Err(e) => bad(e).into_response(Some(&login)),
        },
        Ok(Err(e)) => bad(e).into_response(Some(&login)),
        Err(p) => UiError::Problem(p).into_response(Some(&login)),
    }
}

/// The bundles `--replay-bundles` holds.
fn bundles(state: &State) -> Vec<String> {
    let Some(root) = &state.opts.replay_bundles else {
        return Vec::new();
    };
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Held while a finished replay takes its number and writes its files.
static RUN_NUMBERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Replay runs kept in the state directory (reports and JUnit files); older ones are removed.
const KEPT_RUNS: usize = 50;

/// The replay runs kept in the state directory, newest first.
fn runs(state: &State) -> Vec<u64> {
    let mut n: Vec<u64> = std::fs::read_dir(state.opts.state_dir.join("replays"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    n.sort_unstable_by(|a, b| b.cmp(a));
    n
}

/// `GET /ui/replay`: the replay form (admin) and the runs kept.
pub(crate) async fn replay(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Replay", |login| async move {
        let names = bundles(&s);
        let body = html! {
            p { "Re-evaluates the recorded inputs of the verified ledger against a rule bundle and shows \
                 which decisions would change, and where each session first diverges." }
            @if !admin(&login) {
                p { "Running a replay needs a token with the admin scope." }
            } @else if names.is_empty() {
                p { "This server has no replay bundles (" code { "govtrail serve --replay-bundles DIR" } ")." }
            } @else {
                form.filters method="post" action="/ui/replay" {
                    input type="hidden" name="csrf" value=(login.csrf);
                    div.field { label for="bundle" { "Bundle" }
                        select id="bundle" name="bundle" { @for n in &names { option value=(n) { (n) } } } }
                    div.field { label for="session" { "Session (optional)" } input id="session" name="session" type="text"; }
                    div.field { label for="since" { "from (RFC 3339)" } input id="since" name="since" type="text"; }
                    div.field { label for="until" { "until (RFC 3339)" } input id="until" name="until" type="text"; }
                    div.actions { button type="submit" #run-replay { "Replay" } }
                }
            }
            h2 { "Runs" }
            @let kept = runs(&s);
            @if kept.is_empty() { p { "No replay has run on this server." } }
            ul #runs { @for n in kept.iter().take(50) { li { a href=(format!("/ui/replay/{n}")) { "Run " (n) } } } }
        };
        (login, Ok(("Replay".to_owned(), body)))
    })
    .await
}

/// `POST /ui/replay` (admin): runs a replay, keeps its report and JUnit, shows it.
pub(crate) async fn replay_run(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let login = match guard_change(
        &state,
        &headers,
        &uri,
        f.get("csrf").map(String::as_str),
        Scope::Admin,
    ) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    let opt = |k: &str| f.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let body = crate::openapi::ReplayBody {
        bundle: f.get("bundle").cloned().unwrap_or_default(),
        session: opt("session"),
        since: opt("since"),
        until: opt("until"),
        incidents: None,
    };
    let run = async {
        let report = crate::admin::replay_now(&state, &body).await?;
        let dir = state.opts.state_dir.join("replays");
        // Replays that end together take numbers one after the other.
        let _numbering = RUN_NUMBERS.lock().await;
        let n = runs(&state).first().map_or(1, |n| n + 1);
        let json = serde_json::to_vec_pretty(&replay::json(&report)).map_err(bad)?;
        let junit = replay::junit(&report);
        let keep = || -> std::io::Result<()> {
            ledger::create_private_dir_all(&dir)?;
            ledger::write_replace_private(&dir.join(format!("{n}.junit.xml")), junit.as_bytes())
                .map_err(std::io::Error::other)?;
            ledger::write_replace_private(&dir.join(format!("{n}.json")), &json)
                .map_err(std::io::Error::other)
        };
        keep().map_err(|e| bad(format!("keeping the run in {}: {e}", dir.display())))?;
        // The newest runs are kept, the others removed.
        for old in runs(&state).into_iter().skip(KEPT_RUNS) {
            for ext in ["json", "junit.xml"] {
                let _ = std::fs::remove_file(dir.join(format!("{old}.{ext}")));
            }
        }
        Ok::<_, UiError>(Redirect::to(&format!("/ui/replay/{n}")).into_response())
    };
    run.await.unwrap_or_else(|e| e.into_response(Some(&login)))
}

fn run_path(state: &State, run: &str, ext: &str) -> Result<std::path::PathBuf, UiError> {
    let n: u64 = run
        .parse()
        .map_err(|_| bad(format!("{run:?} is not a run number")))?;
    let path = state
        .opts
        .state_dir
        .join("replays")
        .join(format!("{n}.{ext}"));
    if !path.is_file() {
        return Err(UiError::Problem(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no replay run {n}"),
        )));
    }
    Ok(path)
}

/// `GET /ui/replay/{run}`: a kept run: its flip matrix and each session's first divergence.
pub(crate) async fn replay_result(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Path(run): Path<String>,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Replay", |login| async move {
        let body = (|| {
            let path = run_path(&s, &run, "json")?;
            let r: Value = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| bad(format!("{} is not a replay report", path.display())))?;
            Ok::<_, UiError>(replay_report(&r, &run, admin(&login)))
        })();
        (login, body.map(|b| (format!("Replay run {run}"), b)))
    })
    .await
}

fn replay_report(r: &Value, run: &str, admin: bool) -> Markup {
    let list = |k: &str| r[k].as_array().cloned().unwrap_or_default();
    html! {
        dl.facts {
            dt { "Bundle" } dd { (text(&r["bundle"]["id"])) " " (text(&r["bundle"]["revision"])) }
            dt { "Selection" } dd { (text(&r["selection"])) }
            dt { "Verification" } dd { (text(&r["verification"]["status"])) ", "
                (text(&r["verification"]["verified"])) " records" }
            dt { "Decisions replayed" } dd #replayed { (text(&r["replayed"])) " of " (text(&r["decisions"])) }
            dt { "Unchanged" } dd #unchanged { (text(&r["unchanged"])) }
            dt { "Flipped" } dd #flips { (text(&r["flips"])) }
            dt { "Errors" } dd { (list("errors").len()) }
        }
        @if admin {
            p { a href=(format!("/ui/replay/{run}/junit")) download=(format!("replay-{run}.junit.xml")) { "Download the JUnit report" } }
        }
        h2 { "Flip matrix" }
        table #flip-matrix {
            thead { tr { th scope="col" { "Recorded" } th scope="col" { "Replayed" } th scope="col" { "Decisions" } th scope="col" { "Examples" } } }
            tbody {
                @for c in list("flip_matrix").iter().chain(list("unchanged_by_decision").iter()) { tr.flip[c["from"] != c["to"]] {
                    td { (text(&c["from"])) } td { (text(&c["to"])) } td.num { (text(&c["count"])) }
                    td { @for s in c["samples"].as_array().cloned().unwrap_or_default().iter().take(3) { code { (text(s)) } " " } }
                } }
            }
        }
        h2 { "First divergence per session" }
        @let div = list("divergences");
        @if div.is_empty() { p { "No session diverges." } }
        @else {
            table #divergences {
                thead { tr { th scope="col" { "Session" } th scope="col" { "Step" } th scope="col" { "Record" }
                    th scope="col" { "Recorded → replayed" } th scope="col" { "Rules" } th scope="col" { "Stricter" } th scope="col" { "Looser" } } }
                tbody { @for d in &div { tr {
                    td { a href=(format!("/ui/sessions/{}", super::encode(&text(&d["session_id"])))) { (text(&d["session_id"])) } }
                    td.num { (text(&d["step"])) " of " (text(&d["steps"])) }
                    td.num { a href=(format!("/ui/decisions/{}", text(&d["index"]))) { (text(&d["index"])) } }
                    td { (text(&d["from"])) " → " (text(&d["to"])) }
                    td { (d["rules"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                    td.num { (text(&d["stricter"])) } td.num { (text(&d["looser"])) }
                } } }
            }
        }
    }
}

/// `GET /ui/replay/{run}/junit` (admin): the run's JUnit report.
pub(crate) async fn replay_junit(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Path(run): Path<String>,
) -> Response {
    let login = match guard(&state, &headers, &uri, Scope::Admin) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    match run_path(&state, &run, "junit.xml").and_then(|p| std::fs::read(&p).map_err(bad)) {
        Ok(bytes) => download(
            bytes,
            "application/xml; charset=utf-8",
            &format!("replay-{run}.junit.xml"),
        ),
        Err(e) => e.into_response(Some(&login)),
    }
}

/// `GET /ui/roi`: overhead spent against waste prevented, from the incidents and cost model
/// kept in the state directory (`roi/incidents.csv` or `.json`, `roi/cost.json`), each figure
/// with the records it comes from.
pub(crate) async fn roi(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "ROI", |login| async move {
        let body = async {
            let dir = s.opts.state_dir.join("roi");
            let read = |n: &str| std::fs::read_to_string(dir.join(n)).ok();
            let incidents = read("incidents.csv").or_else(|| read("incidents.json"));
            let (Some(incidents), Some(cost)) = (incidents, read("cost.json")) else {
                return Ok(html! {
                    p #no-inputs { "The ROI report needs the incidents and a cost model: put them in "
                        code { (dir.display()) "/incidents.csv" } " (or " code { "incidents.json" } ") and "
                        code { "cost.json" } " (docs/REPORTS.md, \"ROI\"). " code { "govtrail demo" } " writes both." }
                });
            };
            let cost: Value = serde_json::from_str(&cost).map_err(|e| bad(format!("cost.json: {e}")))?;
            let body = crate::openapi::RoiBody {
                incidents: Value::String(incidents),
                cost,
                since: None,
                until: None,
            };
            let r = api::roi_report(&s, body).await?;
            let money = |m: i64| format!("{:.2} {}", m as f64 / 1e6, r.cost_model.currency);
            Ok::<_, UiError>(html! {
                section.tiles aria-label="Figures" {
                    div.tile { span.label { "Overhead spent" } span.value #cost { (money(r.cost.micros)) } }
                    div.tile { span.label { "Prevented, low" } span.value #prevented-low { (money(r.prevented_low_micros)) } }
                    div.tile { span.label { "Prevented, high" } span.value #prevented-high { (money(r.prevented_high_micros)) } }
                    div.tile { span.label { "Ratio" } span.value #ratio {
                        (r.ratio_low.map_or("—".into(), |x| format!("{x:.1}"))) " – "
                        (r.ratio_high.map_or("—".into(), |x| format!("{x:.1}"))) } }
                }
                h2 { "The cost" }
                p { (count(r.cost.measured)) " of " (count(r.cost.decisions)) " decisions measured, "
                    (format!("{:.1}", r.cost.minutes)) " minutes of overhead (mean " (ms(r.cost.mean_us)) "); "
                    a href="/ui/overhead" { "their distribution" } "." }
                h2 { "Waste prevented" }
                table #incidents {
                    thead { tr { th scope="col" { "Incident" } th scope="col" { "Waste" } th scope="col" { "Blocks" } th scope="col" { "Records" } } }
                    tbody { @for p in &r.incidents { tr {
                        th scope="row" { (p.incident.id) @if let Some(t) = &p.incident.title { ": " (t) } }
                        td.num { (money(p.waste_micros)) } td.num { (p.blocks) }
                        td { @for id in &p.sample_decision_ids {
                            a href=(format!("/ui/decisions?decision_id={}", super::encode(id))) { code { (id) } } " "
                        } }
                    } } }
                }
            })
        }
        .await;
        (login, body.map(|b| ("ROI".to_owned(), b)))
    })
    .await
}
