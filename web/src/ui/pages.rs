//! The reading pages: Overview, Decisions (and one decision), Sessions (and one session's
//! root-cause timeline). Each calls the read API's own functions (`api`, `read`), so a figure
//! on a page is the figure `/v1` answers and the CLI prints.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde_json::Value;

use super::chart::{self, Bar};
use super::{UiError, count, guard, layout, ms, page, query_string, text, time};
use crate::State;
use crate::auth::Scope;
use crate::{api, read};

/// Renders the page `f` builds for a session with the read scope, or the refusal.
pub(super) async fn render<F, Fut>(
    state: &Arc<State>,
    headers: &HeaderMap,
    uri: &Uri,
    nav: &str,
    f: F,
) -> Response
where
    F: FnOnce(super::Login) -> Fut,
    Fut: Future<Output = (super::Login, Result<(String, Markup), UiError>)>,
{
    let login = match guard(state, headers, uri, Scope::Read) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    match f(login).await {
        (login, Ok((title, body))) => page(StatusCode::OK, layout(Some(&login), nav, &title, body)),
        (login, Err(e)) => e.into_response(Some(&login)),
    }
}

fn us_of(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// `GET /ui/`: the verified horizon, the checkpoint and its cosignatures, the figures.
pub(crate) async fn overview(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Overview", |login| async move {
        let body = async {
            let status = crate::admin::verify_status_of(&s).await;
            let none = BTreeMap::new();
            let overhead = api::overhead_report(&s, &none).await?;
            let series = series_chart(&s).await?;
            let live = s.live.borrow().clone();
            let size = status["checkpoint"]["size"].as_u64().unwrap_or(0);
            let t = &overhead.total;
            Ok::<_, UiError>(html! {
                section.tiles aria-label="Figures" {
                    div.tile { span.label { "Records" } span.value data-live="size" { (count(size)) } }
                    div.tile { span.label { "Decisions" } span.value #decisions { (count(t.decisions)) } }
                    div.tile { span.label { "Ingest rate" } span.value data-live="rate" { (format!("{:.1}", live.rate)) " /s" } }
                    div.tile { span.label { "Spool backlog" } span.value data-live="backlog" {
                        @match live.backlog { Some(b) => (count(b)), None => "no spool" } } }
                    div.tile { span.label { "Overhead p50" } span.value #p50 { (ms(t.p50_us.or(t.p50_approx_us))) } }
                    div.tile { span.label { "Overhead p95" } span.value #p95 { (ms(t.p95_us.or(t.p95_approx_us))) } }
                    div.tile { span.label { "Overhead p99" } span.value #p99 { (ms(t.p99_us.or(t.p99_approx_us))) } }
                }
                p.note { "Overhead of " (count(t.measured)) " measured decisions, computed from "
                    @if overhead.method == query::report::overhead::Method::Summaries {
                        "the segments' summaries (percentiles within 1 %)" } @else { "every decision" }
                    ". Records and rate update live." }
                (verified(&status))
                (series)
                (checkpoint(&status))
            })
        }
        .await;
        (login, body.map(|b| ("Overview".to_owned(), b)))
    })
    .await
}

/// The decisions-over-time chart (`/v1/reports/series`).
async fn series_chart(state: &State) -> Result<Markup, UiError> {
    let series = api::series_of(state, &BTreeMap::new()).await?;
    let bars: Vec<Bar> = series["buckets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| Bar {
                    start_us: b["start_us"].as_i64().unwrap_or(0),
                    decisions: b["decisions"].as_i64().unwrap_or(0),
                    denies: b["denies"].as_i64().unwrap_or(0),
                    asks: b["asks"].as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    let bucket_s = series["bucket_seconds"].as_u64().unwrap_or(60);
    Ok(chart::bars(&bars, bucket_s, "Decisions over time"))
}

/// `GET /ui/fragments/series`: the overview's chart alone, which the page's script swaps in
/// when decisions have arrived (at most every 10 s).
pub(crate) async fn series_fragment(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let login = match guard(&state, &headers, &uri, Scope::Read) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    match series_chart(&state).await {
        Ok(m) => page(StatusCode::OK, m),
        Err(e) => e.into_response(Some(&login)),
    }
}

/// The last verification run.
fn verified(status: &Value) -> Markup {
    let run = &status["last_run"];
    let report = &run["report"];
    html! {
        section aria-labelledby="verified-h" {
            h2 #verified-h { "Verified horizon" }
            @if run.is_null() {
                p #verdict { "No verification has run on this server yet. "
                    a href="/ui/verify" { "Run one" } " (admin)." }
            } @else {
                p #verdict.{"verdict-" (text(&report["status"]))} {
                    "Verdict " strong { (text(&report["status"])) } ": records "
                    strong #horizon { (count(report["verified"].as_u64().unwrap_or(0))) }
                    " of " (count(report["records"].as_u64().unwrap_or(0)))
                    " verified against checkpoint " (text(&report["checkpoint"]["size"]))
                    ", at " (time(run["finished_us"].as_i64().unwrap_or(0))) ". "
                    a href="/ui/verify" { "Details" }
                }
            }
        }
    }
}

/// The newest checkpoint and its cosignatures.
fn checkpoint(status: &Value) -> Markup {
    let note = status["checkpoint"]["note"].as_str().unwrap_or("");
    let mut lines = note.lines();
    let (origin, size, root) = (lines.next(), lines.next(), lines.next());
    let cosigs = status["cosignatures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    html! {
        section aria-labelledby="checkpoint-h" {
            h2 #checkpoint-h { "Latest checkpoint" }
            @if note.is_empty() {
                p { "The ledger has no checkpoint yet." }
            } @else {
                dl {
                    dt { "Origin" } dd { (origin.unwrap_or("")) }
                    dt { "Size" } dd #checkpoint-size data-live="size" { (size.unwrap_or("")) }
                    dt { "Root hash" } dd { code { (root.unwrap_or("")) } }
                }
                details { summary { "The signed note" } pre { (note) } }
                h3 { "Cosignatures" }
                @if cosigs.is_empty() {
                    p { "No witness has cosigned a stored checkpoint." }
                } @else {
                    table {
                        thead { tr { th scope="col" { "Witness" } th scope="col" { "Key id" }
                            th scope="col" { "Size" } th scope="col" { "Time" } } }
                        tbody { @for c in &cosigs { tr {
                            td { (text(&c["witness"])) } td { code { (text(&c["key_id"])) } }
                            td.num { (text(&c["size"])) }
                            td { (time(c["time"].as_i64().unwrap_or(0) * 1_000_000)) }
                        } } }
                    }
                }
            }
        }
    }
}

/// `GET /ui/decisions`: filters (every typed column, a time window), newest first, a page
/// at a time (`before`, the cursor).
pub(crate) async fn decisions(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Decisions", |login| async move {
        let body = async {
            // Empty fields of the form are no filter.
            let mut q: BTreeMap<String, String> =
                q.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            q.insert("order".into(), "desc".into());
            q.entry("limit".into()).or_insert_with(|| "50".into());
            let list = api::list_decisions(&s, &q).await?;
            let rows = list["decisions"].as_array().cloned().unwrap_or_default();
            let next = list["next"].as_u64();
            let keep: Vec<(&str, &str)> = q
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "before" | "after" | "order"))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            Ok::<_, UiError>(html! {
                form.filters method="get" action="/ui/decisions" aria-label="Filters" {
                    @for c in api::DECISION_FILTERS {
                        div.field {
                            label for=(c) { (c) }
                            input id=(c) name=(c) type="text" value=(q.get(c).map_or("", String::as_str));
                        }
                    }
                    @for (k, hint) in [("since", "from (RFC 3339)"), ("until", "until (RFC 3339)")] {
                        div.field {
                            label for=(k) { (hint) }
                            input id=(k) name=(k) type="text" placeholder="2026-01-01T00:00:00Z"
                                value=(q.get(k).map_or("", String::as_str));
                        }
                    }
                    div.actions { button type="submit" { "Filter" } " " a href="/ui/decisions" { "Clear" } }
                }
                p #shown { (rows.len()) " decisions shown, newest first." }
                table #decisions-table {
                    thead { tr {
                        th scope="col" { "Index" } th scope="col" { "Time" } th scope="col" { "Decision" }
                        th scope="col" { "Service" } th scope="col" { "Platform" } th scope="col" { "Tool" }
                        th scope="col" { "Session" } th scope="col" { "Rule set" } th scope="col" { "Model" }
                        th scope="col" { "Overhead" }
                    } }
                    tbody { @for r in &rows { tr {
                        td.num { a href=(format!("/ui/decisions/{}", text(&r["idx"]))) { (text(&r["idx"])) } }
                        td { (time(r["ts_us"].as_i64().unwrap_or(0))) }
                        td { span.{"d-" (text(&r["decision"]))} { (text(&r["decision"])) } }
                        td { (text(&r["service"])) } td { (text(&r["platform"])) } td { (text(&r["tool_name"])) }
                        td { @if let Some(sid) = r["session_id"].as_str() {
                            a href=(format!("/ui/sessions/{}", super::encode(sid))) { (sid) } } @else { "—" } }
                        td { (short(&text(&r["rule_set"]))) } td { (text(&r["model"])) }
                        td.num { (ms(us_of(&r["overhead_us"]))) }
                    } } }
                }
                nav.pager aria-label="Pages" {
                    @if q.contains_key("before") {
                        a href=(format!("/ui/decisions{}", query_string(keep.iter().copied()))) { "Newest" }
                    }
                    @if let Some(n) = next {
                        @let n = n.to_string();
                        a rel="next" href=(format!("/ui/decisions{}", query_string(keep.iter().copied().chain([("before", n.as_str())])))) { "Older" }
                    }
                }
            })
        }
        .await;
        (login, body.map(|b| ("Decisions".to_owned(), b)))
    })
    .await
}

/// A long rule-set hash shortened for a table.
fn short(s: &str) -> String {
    if s.len() > 20 && s.is_ascii() {
        format!("{}…", &s[..16])
    } else {
        s.to_owned()
    }
}

/// `GET /ui/decisions/{index}`: the record, its source bytes, its effective outcome, its proof.
pub(crate) async fn decision(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Path(index): Path<String>,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Decisions", |login| async move {
        let body = async {
            let d = read::decision_of(&s, &index).await?;
            let record = &d["record"];
            let idx = d["index"].as_i64().unwrap_or(-1);
            // The effective outcome: the `effective` view, read for the session only.
            let effective = match record["session_id"].as_str() {
                Some(sid) => api::effective_of(&s, sid, idx).await?,
                None => None,
            };
            let raw = record["source"]["raw"].as_str();
            Ok::<_, UiError>(html! {
                dl.facts {
                    dt { "Decision" } dd #decision { (text(&record["decision"])) }
                    dt { "Time" } dd { (time(d["ts_us"].as_i64().unwrap_or(0))) }
                    dt { "Decision id" } dd { code { (text(&record["decision_id"])) } }
                    dt { "Session" } dd { @if let Some(sid) = record["session_id"].as_str() {
                        a href=(format!("/ui/sessions/{}", super::encode(sid))) { (sid) } } @else { "—" } }
                    dt { "Outcome recorded" } dd { (text(&record["outcome"])) }
                    dt { "Effective outcome" } dd #effective {
                        @match &effective {
                            Some((e, d)) => {
                                (e.as_deref().unwrap_or("unknown (the session records no later events)"))
                                @if let Some(d) = d { " — " strong { (d) } }
                            }
                            None => "not a gate decision with a tool-use id",
                        }
                    }
                    dt { "Record hash" } dd { code { (text(&d["record_hash"])) } }
                }
                h2 { "Inclusion proof" }
                p { "Checks offline with " code { "govtrail verify-proof --key KEY.pub decision-" (idx) ".proof" }
                    " against the ledger's public key. "
                    a href=(format!("/ui/decisions/{idx}/proof")) download=(format!("decision-{idx}.proof")) { "Download the proof" } }
                details { summary { "The proof" } pre { (text(&d["proof"])) } }
                h2 { "The record" }
                pre.record #record { (serde_json::to_string_pretty(record).unwrap_or_default()) }
                h2 { "The bytes stored" }
                p { "Exactly the bytes the proof covers (BLAKE3 " code { (text(&d["record_hash"])) } ")." }
                pre.record #record-bytes { (text(&d["record_bytes"])) }
                @if let Some(raw) = raw {
                    h2 { "The source, as received" }
                    pre.record #source-raw { (raw) }
                }
            })
        }
        .await;
        (login, body.map(|b| (format!("Decision {index}"), b)))
    })
    .await
}

/// `GET /ui/decisions/{index}/proof`: the record's inclusion proof as a file.
pub(crate) async fn proof(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Path(index): Path<String>,
) -> Response {
    let login = match guard(&state, &headers, &uri, Scope::Read) {
        Ok(l) => l,
        Err(e) => return e.into_response(None),
    };
    match read::decision_of(&state, &index).await {
        Ok(d) => {
            let mut r = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                text(&d["proof"]),
            )
                .into_response();
            let name = format!(
                "attachment; filename=\"decision-{}.proof\"",
                text(&d["index"])
            );
            if let Ok(v) = HeaderValue::from_str(&name) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            super::secure_headers(&mut r, "no-store");
            r
        }
        Err(p) => UiError::Problem(p).into_response(Some(&login)),
    }
}

/// The sorts of the Sessions page.
const SORTS: [(&str, &str); 4] = [
    ("denies", "most denials"),
    ("asks", "most asks"),
    ("divergences", "most divergences"),
    ("latest", "latest"),
];
/// Sessions per page.
const SESSIONS_PAGE: u64 = 50;

/// `GET /ui/sessions`: sessions sorted by denials, asks, divergences or time, a page at a time.
pub(crate) async fn sessions(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Sessions", |login| async move {
        let body = async {
            let sort = q.get("sort").cloned().unwrap_or_else(|| "denies".into());
            let offset: u64 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let mut api_q = BTreeMap::new();
            api_q.insert("sort".to_owned(), sort.clone());
            api_q.insert("offset".to_owned(), offset.to_string());
            api_q.insert("limit".to_owned(), SESSIONS_PAGE.to_string());
            let list = api::list_sessions(&s, &api_q).await?;
            let rows = list["sessions"].as_array().cloned().unwrap_or_default();
            let at = |o: u64| format!("/ui/sessions?sort={sort}&offset={o}");
            Ok::<_, UiError>(html! {
                form.filters method="get" action="/ui/sessions" aria-label="Sort" {
                    div.field {
                        label for="sort" { "Sort by" }
                        select id="sort" name="sort" {
                            @for (k, name) in SORTS {
                                option value=(k) selected[k == sort] { (name) }
                            }
                        }
                    }
                    div.actions { button type="submit" { "Sort" } }
                }
                table #sessions-table {
                    thead { tr {
                        th scope="col" { "Session" } th scope="col" { "Decisions" } th scope="col" { "Denied" }
                        th scope="col" { "Asked" }
                        @if sort == "divergences" { th scope="col" { "Divergences" } }
                        th scope="col" { "Errors" }
                        th scope="col" { "First" } th scope="col" { "Last" }
                    } }
                    tbody { @for r in &rows { tr {
                        td { @let sid = text(&r["session_id"]);
                            a href=(format!("/ui/sessions/{}", super::encode(&sid))) { (sid) } }
                        td.num { (text(&r["decisions"])) } td.num { (text(&r["denies"])) }
                        td.num { (text(&r["asks"])) }
                        @if sort == "divergences" { td.num { (text(&r["divergences"])) } }
                        td.num { (text(&r["errors"])) }
                        td { (time(r["first_ts_us"].as_i64().unwrap_or(0))) }
                        td { (time(r["last_ts_us"].as_i64().unwrap_or(0))) }
                    } } }
                }
                nav.pager aria-label="Pages" {
                    @if offset > 0 {
                        a rel="prev" href=(at(offset.saturating_sub(SESSIONS_PAGE))) { "Previous" }
                    }
                    @if rows.len() as u64 == SESSIONS_PAGE {
                        a rel="next" href=(at(offset + SESSIONS_PAGE)) { "Next" }
                    }
                }
            })
        }
        .await;
        (login, body.map(|b| ("Sessions".to_owned(), b)))
    })
    .await
}

/// Timeline rows a session page lists at most (the chart and counts cover all).
const TIMELINE_ROWS: usize = 500;
/// Decisions a session's timeline chart draws at most (one SVG mark each).
const CHART_STEPS: usize = 5000;

/// `GET /ui/sessions/{id}`: the session's root-cause analysis: counts, first deny, ask and
/// divergence, pressure, attribution, and its timeline.
pub(crate) async fn session(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let s = Arc::clone(&state);
    render(&state, &headers, &uri, "Sessions", |login| async move {
        let title = format!("Session {id}");
        let body = async {
            let r = api::rca_report(&s, id.clone()).await?;
            // The chart draws a mark per decision: beyond CHART_STEPS it is left out.
            let svg = if r.timeline.len() <= CHART_STEPS {
                Some(query::plot::rca(&r, query::plot::ImageFormat::Svg)
                    .map_err(|e| UiError::Problem(crate::problem::Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))?)
            } else {
                None
            };
            let link = |pos: Option<usize>| {
                pos.and_then(|p| r.timeline.get(p)).map(|st| (st.idx, time(st.ts_us)))
            };
            Ok::<_, UiError>(html! {
                dl.facts {
                    @for (k, v) in &r.counts { dt { (k) } dd data-count=(k) { (count(*v)) } }
                    @for (name, pos) in [("First deny", r.first_deny), ("First ask", r.first_ask), ("First divergence", r.first_divergence)] {
                        dt { (name) } dd { @match link(pos) {
                            Some((idx, t)) => { a href=(format!("/ui/decisions/{idx}")) { "#" (idx) } " at " (t) }
                            None => "none",
                        } }
                    }
                    @if let Some(p) = &r.pressure {
                        dt { "Context pressure" } dd { (p.trend) ", " (format!("{:.2}", p.first)) " → "
                            (format!("{:.2}", p.last)) " (max " (format!("{:.2}", p.max)) ")" }
                    }
                    dt { "Adverse decisions" } dd #adverse { (r.adverse) }
                }
                @match &svg {
                    Some(svg) => (chart::figure(svg, "timeline", &format!("Session {}: decisions over time", r.session_id), html! {
                        p { "Every decision is a row of the timeline below." }
                    })),
                    None => p.note { "The session has " (count(r.timeline.len() as i64)) " decisions: more than the "
                        (count(CHART_STEPS as i64)) " the timeline chart draws (one mark each)." },
                }
                h2 { "Attribution" }
                @if r.attribution.is_empty() {
                    p { "No attribute value is over-represented among the adverse decisions." }
                } @else {
                    table #attribution {
                        thead { tr { th scope="col" { "Attribute" } th scope="col" { "Value" }
                            th scope="col" { "Adverse" } th scope="col" { "Share" }
                            th scope="col" { "Baseline share" } th scope="col" { "Difference" } } }
                        tbody { @for a in &r.attribution { tr {
                            td { (a.attribute) } td { (a.value) } td.num { (a.adverse) }
                            td.num { (format!("{:.1} %", a.adverse_share * 100.0)) }
                            td.num { (format!("{:.1} %", a.baseline_share * 100.0)) }
                            td.num { (format!("{:+.1} pp", a.difference * 100.0)) }
                        } } }
                    }
                }
                h2 { "Timeline" }
                @if r.timeline.len() > TIMELINE_ROWS {
                    p { "The first " (TIMELINE_ROWS) " of " (r.timeline.len()) " decisions; "
                        a href=(format!("/ui/decisions?session_id={}", super::encode(&r.session_id))) { "all of them" } "." }
                }
                table #timeline {
                    thead { tr { th scope="col" { "Index" } th scope="col" { "Time" } th scope="col" { "Service" }
                        th scope="col" { "Event" } th scope="col" { "Tool" } th scope="col" { "Decision" }
                        th scope="col" { "Effective" } th scope="col" { "Rules" } th scope="col" { "Overhead" } } }
                    tbody { @for st in r.timeline.iter().take(TIMELINE_ROWS) {
                        tr.divergent[st.divergent] {
                            td.num { a href=(format!("/ui/decisions/{}", st.idx)) { (st.idx) } }
                            td { (st.ts) } td { (st.service.as_deref().unwrap_or("—")) }
                            td { (st.event.as_deref().unwrap_or("—")) } td { (st.tool_name.as_deref().unwrap_or("—")) }
                            td { span.{"d-" (st.decision)} { (st.decision) } }
                            td { (st.effective.as_deref().unwrap_or("—"))
                                @if let Some(d) = &st.divergence { " (" (d) ")" } }
                            td { (st.rule_ids.join(", ")) }
                            td.num { (ms(st.overhead_us.map(|u| u as f64))) }
                        }
                    } }
                }
            })
        }
        .await;
        (login, body.map(|b| (title, b)))
    })
    .await
}
