//! The read API (docs/SERVER.md §5): decisions with filters and a cursor, sessions, a
//! session's root-cause analysis, the overhead, series and ROI reports, and read-only SQL with
//! a row and time limit (verification and replay: `admin.rs`). Each request reads the
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
    DecisionList, Denied, ProblemBody, QueryBody, QueryReply, RoiBody, Series, SessionList,
};
use crate::problem::Problem;

/// Rows a list or a query answers at most.
const MAX_ROWS: usize = 1000;
/// Time a query may run.
const QUERY_TIME: Duration = Duration::from_secs(10);

pub(crate) fn problem(e: impl std::fmt::Display) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, e.to_string())
}

/// A query's error: 503 when it needed more memory than the server gives queries (a retry
/// may find the pool less busy), else 400.
pub(crate) fn query_failed(e: impl std::fmt::Display) -> Problem {
    let e = e.to_string();
    if e.contains("Resources exhausted") {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the query needs more memory than this server gives queries \
                 (serve --query-memory-mib): {e}"
            ),
        )
        .retry_after(5)
    } else {
        Problem::new(StatusCode::BAD_REQUEST, e)
    }
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
    trail_in(state, None).await
}

/// A trail whose plans run in `partitions` partitions (one per core by default).
async fn trail_in(state: &State, partitions: Option<usize>) -> Result<query::Trail, Problem> {
    query::Trail::open_in(&state.opts.ledger, Arc::clone(&state.runtime), partitions)
        .await
        .map_err(|e| {
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
        .map_err(query_failed)?;
    let bytes = query::output::to_json(&batches).map_err(problem)?;
    serde_json::from_slice(&bytes).map_err(problem)
}

/// The rows of one read-only SQL statement (at most 10 s).
pub(crate) async fn sql_rows(state: &State, sql: &str) -> Result<Vec<Value>, Problem> {
    let trail = trail(state).await?;
    Ok(match rows(&trail, sql).await? {
        Value::Array(a) => a,
        other => vec![other],
    })
}

/// `GET /v1/decisions`: decisions in index order (`order=desc`: newest first) after `after`
/// or before `before` (the cursors), filtered by any of `decision_id`, `session_id`,
/// `decision`, `service`, `platform`, `engine`, `tool_name`, `event`, `tool_use_id`,
/// `rule_set`, `model`, and a time window (`since`, `until`: RFC 3339).
#[utoipa::path(get, path = "/v1/decisions", tag = "read", security(("bearer" = [])),
    params(
        ("decision_id" = Option<String>, Query, description = "exact match"),
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
        ("after" = Option<u64>, Query, description = "only indices above this (the cursor of `order=asc`: the last index of the previous page)"),
        ("before" = Option<u64>, Query, description = "only indices below this (the cursor of `order=desc`)"),
        ("order" = Option<String>, Query, description = "asc (oldest first, the default) or desc (newest first)"),
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
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/decisions")?;
        list_decisions(&state, &q).await
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// The filters of `/v1/decisions` that name a typed column.
pub(crate) const DECISION_FILTERS: [&str; 11] = [
    "decision_id",
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

/// A page of decisions (`/v1/decisions`, and the dashboard's Decisions page).
pub(crate) async fn list_decisions(
    state: &State,
    q: &BTreeMap<String, String>,
) -> Result<Value, Problem> {
    const COLUMNS: [&str; 11] = DECISION_FILTERS;
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
            "after" | "before" => {
                let idx: u64 = v
                    .parse()
                    .map_err(|_| problem(format!("{k}={v:?} is not a record index")))?;
                let op = if k == "after" { ">" } else { "<" };
                cond.push(format!("idx {op} {idx}"));
            }
            "limit" | "order" => {}
            other => {
                return Err(problem(format!(
                    "unknown filter {other:?}; filters: {}, since, until, after, before, \
                     order, limit",
                    COLUMNS.join(", ")
                )));
            }
        }
    }
    let order = match q.get("order").map(String::as_str) {
        None | Some("asc") => "ASC",
        Some("desc") => "DESC",
        Some(o) => return Err(problem(format!("order={o:?}: asc or desc"))),
    };
    let limit = limit(q)?;
    let trail = trail(state).await?;
    let sql = format!(
        "SELECT idx, CAST(ts AS BIGINT) AS ts_us, decision_id, decision, decision_native, \
         platform, engine, service, session_id, tool_name, event, tool_use_id, rule_ids, \
         rule_set, overhead_us, outcome, model, reason \
         FROM decisions WHERE {} ORDER BY idx {order} LIMIT {}",
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

/// `GET /v1/sessions`: sessions, most denials first (`sort=`: `denies`, `asks`,
/// `divergences` or `latest`; ties by latest), a page at a time (`offset`).
#[utoipa::path(get, path = "/v1/sessions", tag = "read", security(("bearer" = [])),
    params(
        ("sort" = Option<String>, Query, description = "denies (default), asks, divergences or latest"),
        ("offset" = Option<u32>, Query, description = "sessions skipped (0)"),
        ("limit" = Option<u32>, Query, description = "1 to 1000 (100)"),
    ),
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
        list_sessions(&state, &q).await
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// The divergences between an intended decision and the outcome recorded with it (typed
/// columns only: the same test as `report rca`'s `divergent`).
const DIVERGENT_SQL: &str = "(decision IN ('deny', 'ask', 'escalate') AND outcome IN \
     ('executed', 'allowed', 'overridden', 'failed_open')) \
     OR (decision = 'allow' AND outcome IN ('blocked', 'denied')) \
     OR (decision = 'error' AND outcome = 'failed_open')";

/// Records above which sessions are not sorted by divergences: counting them reads every
/// record's JSON (about 2.5 s and 90 MB per million records, docs/BENCHMARKS.md).
const EFFECTIVE_SCAN_MAX: u64 = 2_000_000;

/// A page of sessions (`/v1/sessions`, and the dashboard's Sessions page).
pub(crate) async fn list_sessions(
    state: &State,
    q: &BTreeMap<String, String>,
) -> Result<Value, Problem> {
    if let Some(other) = q
        .keys()
        .find(|k| !matches!(k.as_str(), "sort" | "offset" | "limit"))
    {
        return Err(problem(format!(
            "unknown parameter {other:?}; parameters: sort, offset, limit"
        )));
    }
    let order = match q.get("sort").map(String::as_str) {
        None | Some("denies") => "denies DESC, asks DESC, last_idx DESC",
        Some("asks") => "asks DESC, denies DESC, last_idx DESC",
        Some("divergences") => "divergences DESC, denies DESC, last_idx DESC",
        Some("latest") => "last_idx DESC",
        Some(s) => {
            return Err(problem(format!(
                "sort={s:?}: denies, asks, divergences or latest"
            )));
        }
    };
    let offset: u64 = match q.get("offset") {
        None => 0,
        Some(o) => o
            .parse()
            .map_err(|_| problem(format!("offset={o:?} is not a number")))?,
    };
    let limit = limit(q)?;
    // Divergences as `report rca` counts them: recorded outcomes that contradict the decision
    // (typed columns), and gate decisions whose tool call did otherwise (the `effective` view,
    // which reads every record's event and tool-use id: only when sorting by them).
    let by_divergence = q.get("sort").map(String::as_str) == Some("divergences");
    let trail = trail(state).await?;
    let records = trail.snapshot().records;
    if by_divergence && records > EFFECTIVE_SCAN_MAX {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "sorting sessions by divergences reads every record's event and tool-use id \
                 from its JSON; this ledger has {records} records, more than the {EFFECTIVE_SCAN_MAX} \
                 this server reads for it (docs/SERVER.md §8); a session's own divergences are \
                 on its page"
            ),
        ));
    }
    let (divergences, effective) = if by_divergence {
        (
            "recorded + coalesce(e.n, 0)",
            "LEFT JOIN (SELECT session_id, count(*) AS n FROM effective \
             WHERE divergence IS NOT NULL GROUP BY session_id) e ON s.session_id = e.session_id",
        )
    } else {
        ("CAST(NULL AS BIGINT)", "")
    };
    let sql = format!(
        "SELECT s.session_id AS session_id, first_ts_us, last_ts_us, decisions, denies, asks, \
         errors, {divergences} AS divergences, measured, overhead_us_total, \
         first_idx, last_idx FROM (\
         SELECT session_id, CAST(min(ts) AS BIGINT) AS first_ts_us, \
         CAST(max(ts) AS BIGINT) AS last_ts_us, count(*) AS decisions, \
         sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS denies, \
         sum(CASE WHEN decision = 'ask' THEN 1 ELSE 0 END) AS asks, \
         sum(CASE WHEN decision = 'error' THEN 1 ELSE 0 END) AS errors, \
         sum(CASE WHEN {DIVERGENT_SQL} THEN 1 ELSE 0 END) AS recorded, \
         count(overhead_us) AS measured, sum(overhead_us) AS overhead_us_total, \
         min(idx) AS first_idx, max(idx) AS last_idx \
         FROM ledger_rows WHERE session_id IS NOT NULL AND NOT is_rule_set \
         GROUP BY session_id) s {effective} \
         ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    );
    Ok(json!({"sessions": rows(&trail, &sql).await?}))
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
        serde_json::to_value(rca_report(&state, id).await?).map_err(problem)
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `GET /v1/reports/series`: decisions, denials and asks per time bucket (rule-set records not
/// counted).
#[utoipa::path(get, path = "/v1/reports/series", tag = "read", security(("bearer" = [])),
    params(
        ("bucket" = Option<u64>, Query, description = "seconds per bucket (default: chosen so that the ledger's time span is at most 60 buckets)"),
    ),
    responses(
        (status = 200, description = "the buckets, oldest first", body = Series),
        (status = 400, description = "a bad parameter", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 503, description = "the ledger cannot be read", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn series(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/reports/series")?;
        series_of(&state, &q).await
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// Bucket widths a series chooses from, in seconds.
const BUCKETS: [u64; 10] = [
    1,
    10,
    60,
    300,
    900,
    3600,
    6 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
];

/// Decisions, denials and asks per time bucket.
pub(crate) async fn series_of(
    state: &State,
    q: &BTreeMap<String, String>,
) -> Result<Value, Problem> {
    if let Some(other) = q.keys().find(|k| *k != "bucket") {
        return Err(problem(format!(
            "unknown parameter {other:?}; parameters: bucket"
        )));
    }
    let asked: Option<u64> = q
        .get("bucket")
        .map(|b| {
            b.parse()
                .ok()
                .filter(|b| (1..=366 * 86_400).contains(b))
                .ok_or_else(|| problem(format!("bucket={b:?} is not 1 to 31622400 seconds")))
        })
        .transpose()?;
    let trail = trail(state).await?;
    let bucket_s = match asked {
        Some(b) => b,
        None => {
            let span = rows(
                &trail,
                "SELECT CAST(min(ts) AS BIGINT) AS lo, CAST(max(ts) AS BIGINT) AS hi \
                 FROM ledger_rows WHERE NOT is_rule_set",
            )
            .await?;
            let (lo, hi) = (span[0]["lo"].as_i64(), span[0]["hi"].as_i64());
            let span_s = match (lo, hi) {
                (Some(lo), Some(hi)) => u64::try_from(hi - lo).unwrap_or(0) / 1_000_000,
                _ => 0,
            };
            BUCKETS
                .into_iter()
                .find(|b| span_s / b < 60)
                .unwrap_or(365 * 86_400)
        }
    };
    let us = bucket_s * 1_000_000;
    let sql = format!(
        "SELECT CAST(ts AS BIGINT) / {us} * {us} AS start_us, count(*) AS decisions, \
         sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS denies, \
         sum(CASE WHEN decision = 'ask' THEN 1 ELSE 0 END) AS asks \
         FROM ledger_rows WHERE NOT is_rule_set \
         GROUP BY CAST(ts AS BIGINT) / {us} * {us} ORDER BY start_us"
    );
    Ok(json!({"bucket_seconds": bucket_s, "buckets": rows(&trail, &sql).await?}))
}

/// The effective outcome of gate decision `idx` of `session_id`, and its divergence.
pub(crate) async fn effective_of(
    state: &State,
    session_id: &str,
    idx: i64,
) -> Result<Option<(Option<String>, Option<String>)>, Problem> {
    let trail = trail(state).await?;
    query::report::rca::effective_of(&trail, session_id, idx)
        .await
        .map_err(query_failed)
}

/// A session's root-cause analysis.
pub(crate) async fn rca_report(
    state: &State,
    session_id: String,
) -> Result<query::report::rca::Report, Problem> {
    let trail = trail(state).await?;
    let opts = query::report::rca::Options {
        session_id,
        ..Default::default()
    };
    query::report::rca::report(&trail, &opts)
        .await
        .map_err(|e| match e {
            query::Error::NoSession { .. } => Problem::new(StatusCode::NOT_FOUND, e.to_string()),
            other => query_failed(other),
        })
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
        serde_json::to_value(overhead_report(&state, &q).await?).map_err(problem)
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// The overhead report of `/v1/reports/overhead`'s parameters.
pub(crate) async fn overhead_report(
    state: &State,
    q: &BTreeMap<String, String>,
) -> Result<query::report::overhead::Report, Problem> {
    let mut opts = query::report::overhead::Options::default();
    for (k, v) in q {
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
    // A comparison scans for exact percentiles, whose groups hold every measured value: in one
    // partition they are held once, not once per partition and again when merged.
    let partitions = opts.compare.is_some().then_some(1);
    let trail = trail_in(state, partitions).await?;
    query::report::overhead::report(&trail, &opts)
        .await
        .map_err(query_failed)
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
    let run = async {
        authorize(&state, &headers, Scope::Read, "/v1/reports/roi")?;
        let Json(body) = body.map_err(|e| {
            problem(format!(
                "the body is not {{\"incidents\": …, \"cost\": {{…}}}}: {e}"
            ))
        })?;
        serde_json::to_value(roi_report(&state, body).await?).map_err(problem)
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// The ROI report of the incidents and cost model in `body`.
pub(crate) async fn roi_report(
    state: &State,
    body: RoiBody,
) -> Result<query::report::roi::Report, Problem> {
    use query::report::roi;
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
    let trail = trail(state).await?;
    roi::report(&trail, &opts).await.map_err(query_failed)
}

/// Incidents given as JSON (an array, or `{"incidents": [...]}`) or as CSV text.
pub(crate) fn incidents_of(v: &Value) -> Result<Vec<schemas::Incident>, Problem> {
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
