//! The read API (docs/SERVER.md §5): decisions with filters and a cursor, sessions, a
//! session's root-cause analysis, the overhead report, read-only SQL with a row and time limit,
//! and verification (its last run, and a new run for the admin scope). Each request reads the
//! ledger through a `query::Trail` over a snapshot (sealed segments and the acknowledged WAL
//! tail) and answers the same JSON as the CLI's `--json`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::State;
use crate::auth::Scope;
use crate::auth_layer::authorize;
use crate::openapi::{
    DecisionList, Denied, ProblemBody, QueryBody, QueryReply, ReplayBody, ReplayReport, RoiBody,
    SessionList, VerifyRun, VerifyStatus,
};
use crate::problem::Problem;

/// Rows a list or a query answers at most.
const MAX_ROWS: usize = 1000;
/// Time a query may run.
const QUERY_TIME: Duration = Duration::from_secs(10);

fn problem(e: impl std::fmt::Display) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, e.to_string())
}

/// A list's `limit` parameter: 1 to [`MAX_ROWS`], 100 when absent.
fn limit(q: &BTreeMap<String, String>) -> Result<usize, Problem> {
    match q.get("limit") {
        None => Ok(100),
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=MAX_ROWS).contains(n))
            .ok_or_else(|| problem(format!("limit={l:?} is not 1 to {MAX_ROWS}"))),
    }
}

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn trail(state: &State) -> Result<query::Trail, Problem> {
    query::Trail::open(&state.opts.ledger).await.map_err(|e| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the ledger cannot be read: {e}"),
        )
        .retry_after(5)
    })
}

async fn rows(trail: &query::Trail, sql: &str) -> Result<Value, Problem> {
    let batches = tokio::time::timeout(QUERY_TIME, trail.sql(sql))
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the query ran longer than {} s", QUERY_TIME.as_secs()),
            )
        })?
        .map_err(problem)?;
    let bytes = query::output::to_json(&batches).map_err(problem)?;
    serde_json::from_slice(&bytes).map_err(problem)
}

/// `GET /v1/decisions`: decisions in index order after `after` (the cursor), filtered by any
/// of `session_id`, `decision`, `service`, `platform`, `engine`, `tool_name`, `event`,
/// `tool_use_id`, `rule_set`, `model`, and a time window (`since`, `until`: RFC 3339).
#[utoipa::path(get, path = "/v1/decisions", tag = "read", security(("bearer" = [])),
    params(
        ("session_id" = Option<String>, Query, description = "exact match"),
        ("decision" = Option<String>, Query, description = "exact match"),
        ("service" = Option<String>, Query, description = "exact match"),
        ("platform" = Option<String>, Query, description = "exact match"),
        ("engine" = Option<String>, Query, description = "exact match"),
        ("tool_name" = Option<String>, Query, description = "exact match"),
        ("event" = Option<String>, Query, description = "exact match"),
        ("tool_use_id" = Option<String>, Query, description = "exact match"),
        ("rule_set" = Option<String>, Query, description = "exact match"),
        ("model" = Option<String>, Query, description = "exact match"),
        ("since" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("until" = Option<String>, Query, description = "RFC 3339, exclusive"),
        ("after" = Option<u64>, Query, description = "the cursor: the last index of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 1000 (100)"),
    ),
    responses(
        (status = 200, description = "a page of decisions", body = DecisionList),
        (status = 400, description = "a bad parameter", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn decisions(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    match list_decisions(&state, &headers, &q).await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

async fn list_decisions(
    state: &State,
    headers: &HeaderMap,
    q: &BTreeMap<String, String>,
) -> Result<Value, Problem> {
    authorize(state, headers, Scope::Read, "/v1/decisions")?;
    const COLUMNS: [&str; 10] = [
        "session_id",
        "decision",
        "service",
        "platform",
        "engine",
        "tool_name",
        "event",
        "tool_use_id",
        "rule_set",
        "model",
    ];
    let mut cond = vec!["TRUE".to_owned()];
    for (k, v) in q {
        match k.as_str() {
            c if COLUMNS.contains(&c) => cond.push(format!("{c} = {}", quote(v))),
            "since" | "until" => {
                let us = schemas::rfc3339_us(v)
                    .ok_or_else(|| problem(format!("{k}={v:?} is not an RFC 3339 time")))?;
                let op = if k == "since" { ">=" } else { "<" };
                cond.push(format!("ts {op} to_timestamp_micros({us})"));
            }
            "after" => {
                let idx: u64 = v
                    .parse()
                    .map_err(|_| problem(format!("after={v:?} is not a record index")))?;
                cond.push(format!("idx > {idx}"));
            }
            "limit" => {}
            other => {
                return Err(problem(format!(
                    "unknown filter {other:?}; filters: {}, since, until, after, limit",
                    COLUMNS.join(", ")
                )));
            }
        }
    }
    let limit = limit(q)?;
    let trail = trail(state).await?;
    let sql = format!(
        "SELECT idx, CAST(ts AS BIGINT) AS ts_us, decision_id, decision, decision_native, \
         platform, engine, service, session_id, tool_name, event, tool_use_id, rule_ids, \
         rule_set, overhead_us, outcome, model, reason \
         FROM decisions WHERE {} ORDER BY idx LIMIT {}",
        cond.join(" AND "),
        limit + 1
    );
    let mut list = match rows(&trail, &sql).await? {
        Value::Array(a) => a,
        other => vec![other],
    };
    let next = if list.len() > limit {
        list.truncate(limit);
        list.last().and_then(|r| r["idx"].as_u64())
    } else {
        None
    };
    Ok(json!({"decisions": list, "next": next}))
}

/// `GET /v1/sessions`: sessions, most denials first (then most asks, then latest).
#[utoipa::path(get, path = "/v1/sessions", tag = "read", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1 to 1000 (100)")),
    responses(
        (status = 200, description = "sessions", body = SessionList),
        (status = 400, description = "a bad parameter", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sessions(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/sessions")?;
        let limit = limit(&q)?;
        let trail = trail(&state).await?;
        let sql = format!(
            "SELECT session_id, CAST(first_ts AS BIGINT) AS first_ts_us, \
             CAST(last_ts AS BIGINT) AS last_ts_us, decisions, denies, asks, errors, measured, \
             overhead_us_total, tools, models, first_idx, last_idx FROM sessions \
             ORDER BY denies DESC, asks DESC, last_idx DESC LIMIT {limit}"
        );
        Ok::<_, Problem>(json!({"sessions": rows(&trail, &sql).await?}))
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `GET /v1/sessions/{id}/rca`: the session's root-cause analysis (REPORTS.md), as
/// `govtrail report rca --json`.
#[utoipa::path(get, path = "/v1/sessions/{id}/rca", tag = "read", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session id")),
    responses(
        (status = 200, description = "as `govtrail report rca --json` (docs/REPORTS.md)", body = query::report::rca::Report),
        (status = 400, description = "a bad parameter", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "no such session", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn rca(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/sessions/{id}/rca")?;
        let trail = trail(&state).await?;
        let opts = query::report::rca::Options {
            session_id: id,
            ..Default::default()
        };
        let report = query::report::rca::report(&trail, &opts)
            .await
            .map_err(|e| Problem::new(StatusCode::NOT_FOUND, e.to_string()))?;
        serde_json::to_value(&report).map_err(problem)
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `GET /v1/reports/overhead?by=service,tool&since=&until=`: the overhead report, as
/// `govtrail report overhead --json`.
#[utoipa::path(get, path = "/v1/reports/overhead", tag = "read", security(("bearer" = [])),
    params(
        ("by" = Option<String>, Query, description = "dimensions, comma-separated (docs/REPORTS.md)"),
        ("since" = Option<String>, Query, description = "RFC 3339"),
        ("until" = Option<String>, Query, description = "RFC 3339"),
        ("compare" = Option<String>, Query, description = "two rule sets, A,B"),
    ),
    responses(
        (status = 200, description = "as `govtrail report overhead --json` (docs/REPORTS.md)", body = query::report::overhead::Report),
        (status = 400, description = "a bad parameter", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn overhead(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/reports/overhead")?;
        let mut opts = query::report::overhead::Options::default();
        for (k, v) in &q {
            match k.as_str() {
                "by" => {
                    for d in v.split(',').filter(|d| !d.is_empty()) {
                        let dim = query::report::overhead::Dim::from_name(d)
                            .ok_or_else(|| problem(format!("by={d:?} is not a dimension")))?;
                        if !opts.group_by.contains(&dim) {
                            opts.group_by.push(dim);
                        }
                    }
                }
                "since" => opts.window.since = Some(v.clone()),
                "until" => opts.window.until = Some(v.clone()),
                "compare" => {
                    let (a, b) = v
                        .split_once(',')
                        .ok_or_else(|| problem("compare=A,B names two rule sets"))?;
                    opts.compare = Some((a.to_owned(), b.to_owned()));
                }
                other => return Err(problem(format!("unknown parameter {other:?}"))),
            }
        }
        for t in [&opts.window.since, &opts.window.until]
            .into_iter()
            .flatten()
        {
            if schemas::rfc3339_us(t).is_none() {
                return Err(problem(format!("{t:?} is not an RFC 3339 time")));
            }
        }
        let trail = trail(&state).await?;
        let report = query::report::overhead::report(&trail, &opts)
            .await
            .map_err(problem)?;
        serde_json::to_value(&report).map_err(problem)
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `POST /v1/reports/roi`: the ROI report of the incidents and cost model in the body, as
/// `govtrail report roi --json` with the same inputs in files.
#[utoipa::path(post, path = "/v1/reports/roi", tag = "read", security(("bearer" = [])),
    request_body(content = RoiBody, content_type = "application/json"),
    responses(
        (status = 200, description = "as `govtrail report roi --json` (docs/REPORTS.md)", body = query::report::roi::Report),
        (status = 400, description = "a bad body: incidents, cost model or window", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn roi(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Result<Json<RoiBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    use query::report::roi;
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/reports/roi")?;
        let Json(body) = body.map_err(|e| {
            problem(format!(
                "the body is not {{\"incidents\": …, \"cost\": {{…}}}}: {e}"
            ))
        })?;
        let incidents = incidents_of(&body.incidents)?;
        let cost = roi::CostModel::from_json(body.cost.to_string().as_bytes())
            .map_err(|(_, message)| problem(format!("cost: {message}")))?;
        for t in [&body.since, &body.until].into_iter().flatten() {
            if schemas::rfc3339_us(t).is_none() {
                return Err(problem(format!("{t:?} is not an RFC 3339 time")));
            }
        }
        let mut opts = roi::Options {
            window: query::report::Window::default(),
            incidents,
            cost,
        };
        opts.window.since = body.since;
        opts.window.until = body.until;
        let trail = trail(&state).await?;
        let report = roi::report(&trail, &opts).await.map_err(problem)?;
        serde_json::to_value(&report).map_err(problem)
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// Incidents given as JSON (an array, or `{"incidents": [...]}`) or as CSV text.
fn incidents_of(v: &Value) -> Result<Vec<schemas::Incident>, Problem> {
    let text = match v {
        Value::String(csv) => csv.clone(),
        other => other.to_string(),
    };
    schemas::parse_incidents(&text).map_err(|(line, message)| {
        problem(match line {
            Some(l) => format!("incidents, line {l}: {message}"),
            None => format!("incidents: {message}"),
        })
    })
}

/// An RFC 3339 time parameter, in µs.
fn time_us(name: &str, t: Option<&String>) -> Result<Option<i64>, Problem> {
    t.map(|t| {
        schemas::rfc3339_us(t)
            .ok_or_else(|| problem(format!("{name}: {t:?} is not an RFC 3339 time")))
    })
    .transpose()
}

/// `POST /v1/replay` (admin): replays the verified ledger against one of the server's replay
/// bundles, as `govtrail replay --format json` (or `?format=junit`, as `--format junit`).
#[utoipa::path(post, path = "/v1/replay", tag = "admin", security(("bearer" = [])),
    params(("format" = Option<String>, Query, description = "json (default) or junit")),
    request_body(content = ReplayBody, content_type = "application/json"),
    responses(
        (status = 200, description = "as `govtrail replay --format json` (docs/REPLAY.md), or its JUnit XML", body = ReplayReport),
        (status = 400, description = "a bad body or parameter, or a bundle that does not load", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "no replay bundle of that name", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "the ledger did not verify: nothing was replayed", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn replay_run(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    body: Result<Json<ReplayBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let run = async {
        authorize(&state, &headers, Scope::Admin, "/v1/replay")?;
        let junit = match q.get("format").map(String::as_str) {
            None | Some("json") => false,
            Some("junit") => true,
            Some(other) => return Err(problem(format!("format={other:?}: json or junit"))),
        };
        if let Some(other) = q.keys().find(|k| *k != "format") {
            return Err(problem(format!("unknown parameter {other:?}")));
        }
        let Json(body) =
            body.map_err(|e| problem(format!("the body is not {{\"bundle\": \"…\"}}: {e}")))?;
        let dir = bundle_dir(&state, &body.bundle)?;
        let opts = replay::Options {
            session: body.session.clone(),
            since_us: time_us("since", body.since.as_ref())?,
            until_us: time_us("until", body.until.as_ref())?,
            threads: 1,
            incidents: body
                .incidents
                .as_ref()
                .map(incidents_of)
                .transpose()?
                .unwrap_or_default(),
            ..replay::Options::default()
        };
        let s = Arc::clone(&state);
        let done = tokio::task::spawn_blocking(move || {
            let bundle = replay::Bundle::load(&dir)
                .map_err(|e| problem(format!("bundle {}: {e}", dir.display())))?;
            let trust = ledger::VerifyOptions::new(s.opts.verifiers.clone());
            replay::replay(&s.opts.ledger, &bundle, Some(&trust), &opts).map_err(|e| match e {
                replay::Error::Refused { class, message, .. } => Problem::new(
                    StatusCode::CONFLICT,
                    format!(
                        "the ledger did not verify ({}: {message}); nothing was replayed",
                        class.as_str()
                    ),
                ),
                other => Problem::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
            })
        })
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
        Ok::<_, Problem>((done, junit))
    };
    match run.await {
        Ok((report, true)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/xml; charset=utf-8",
            )],
            replay::junit(&report),
        )
            .into_response(),
        Ok((report, false)) => match serde_json::to_value(&report) {
            Ok(v) => Json(v).into_response(),
            Err(e) => {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
            }
        },
        Err(p) => p.into_response(),
    }
}

/// The directory of the replay bundle `name`: a subdirectory of `--replay-bundles`, named by one
/// plain path component (never a path outside it).
fn bundle_dir(state: &State, name: &str) -> Result<std::path::PathBuf, Problem> {
    let not_found = |m: String| Problem::new(StatusCode::NOT_FOUND, m);
    let Some(root) = &state.opts.replay_bundles else {
        return Err(not_found(
            "this server has no replay bundles (serve --replay-bundles DIR)".into(),
        ));
    };
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain {
        return Err(problem(format!(
            "bundle {name:?}: a bundle is named by letters, digits, '.', '_' and '-'"
        )));
    }
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(not_found(format!("no replay bundle named {name:?}")));
    }
    Ok(dir)
}

/// `POST /v1/query`: one read-only SQL statement over the views `govtrail query` has, at most
/// 1,000 rows (`truncated` says when there were more) and 10 s.
#[utoipa::path(post, path = "/v1/query", tag = "read", security(("bearer" = [])),
    request_body(content = QueryBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the rows", body = QueryReply),
        (status = 400, description = "a bad parameter", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "the query ran too long", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sql(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Result<Json<QueryBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/query")?;
        let Json(body) =
            body.map_err(|e| problem(format!("the body is not {{\"sql\": \"…\"}}: {e}")))?;
        let trail = trail(&state).await?;
        let mut list = match rows(&trail, &body.sql).await? {
            Value::Array(a) => a,
            other => vec![other],
        };
        let truncated = list.len() > MAX_ROWS;
        list.truncate(MAX_ROWS);
        Ok::<_, Problem>(json!({"rows": list, "truncated": truncated}))
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `GET /v1/verify`: the newest checkpoint and the last verification run (kept in the state
/// directory), never a verification per request.
#[utoipa::path(get, path = "/v1/verify", tag = "read", security(("bearer" = [])),
    responses(
        (status = 200, description = "the newest checkpoint and the last run", body = VerifyStatus),
        Denied,
    ))]
pub(crate) async fn verify_status(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
) -> Response {
    if let Err(p) = authorize(&state, &headers, Scope::Read, "/v1/verify") {
        return p.into_response();
    }
    let checkpoint = state
        .checkpoint
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let last: Value = std::fs::read(state.opts.state_dir.join("verify.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let dir = state.opts.ledger.clone();
    let cosignatures = tokio::task::spawn_blocking(move || ledger::cosignatures(&dir))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Json(json!({
        "checkpoint": checkpoint.map(|(size, note)| json!({"size": size, "note": note})),
        "last_run": last,
        "cosignatures": cosignatures,
    }))
    .into_response()
}

/// `POST /v1/verify` (admin): verifies the whole ledger against the server's own public key
/// (as `govtrail verify --json`), keeps the report as the last run, and answers it.
#[utoipa::path(post, path = "/v1/verify", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "the run", body = VerifyRun),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify_run(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
) -> Response {
    if let Err(p) = authorize(&state, &headers, Scope::Admin, "/v1/verify") {
        return p.into_response();
    }
    let s = Arc::clone(&state);
    let done = tokio::task::spawn_blocking(move || {
        let opts = ledger::VerifyOptions::new(s.opts.verifiers.clone());
        let started_us = ledger::spool::now_us();
        let report = ledger::verify(&s.opts.ledger, &opts)?;
        let run = json!({"started_us": started_us, "finished_us": ledger::spool::now_us(), "report": report});
        let bytes = serde_json::to_vec_pretty(&run).unwrap_or_default();
        ledger::write_replace_private(&s.opts.state_dir.join("verify.json"), &bytes)?;
        Ok::<_, ledger::Error>(run)
    })
    .await;
    match done {
        Ok(Ok(run)) => Json(run).into_response(),
        Ok(Err(e)) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        Err(e) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
