//! Verification and replay over HTTP (docs/SERVER.md §5): the last verification run (read),
//! a new run and replays against the server's bundles (admin). Each is a function the
//! dashboard calls too (`verify_status_of`, `verify_now`, `replay_now`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::State;
use crate::api::{incidents_of, problem};
use crate::auth::Scope;
use crate::auth_layer::authorize;
use crate::openapi::{Denied, ProblemBody, ReplayBody, ReplayReport, VerifyRun, VerifyStatus};
use crate::problem::Problem;

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
        let done = replay_now(&state, &body).await?;
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

/// Replays the verified ledger against the replay bundle `body` names.
pub(crate) async fn replay_now(
    state: &Arc<State>,
    body: &ReplayBody,
) -> Result<replay::Report, Problem> {
    let dir = bundle_dir(state, &body.bundle)?;
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
    let s = Arc::clone(state);
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
    Ok(done)
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
    Json(verify_status_of(&state).await).into_response()
}

/// The newest checkpoint, its cosignatures and the last verification run.
pub(crate) async fn verify_status_of(state: &State) -> Value {
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
    json!({
        "checkpoint": checkpoint.map(|(size, note)| json!({"size": size, "note": note})),
        "last_run": last,
        "cosignatures": cosignatures,
    })
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
    match verify_now(&state).await {
        Ok(run) => Json(run).into_response(),
        Err(p) => p.into_response(),
    }
}

/// Verifies the whole ledger against the server's own key and keeps the run (with its start
/// and end times) as the last one.
pub(crate) async fn verify_now(state: &Arc<State>) -> Result<Value, Problem> {
    let s = Arc::clone(state);
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
        Ok(Ok(run)) => Ok(run),
        Ok(Err(e)) => Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
        Err(e) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}
