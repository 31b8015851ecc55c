//! The read side: one decision with its record and inclusion proof (read scope), the
//! transparency view (the checkpoint and C2SP tlog-tiles hash tiles, public: monitors and
//! witnesses follow the log without a token), and operations (`/healthz`, `/readyz`,
//! `/metrics`).

use std::sync::Arc;

use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::State;
use crate::auth::Scope;
use crate::auth_layer::{authorize, ready};
use crate::openapi::{DecisionReply, Denied, ProblemBody};
use crate::problem::Problem;

fn text(body: String, content_type: &'static str, cache: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}

/// `GET /checkpoint`: the newest signed checkpoint (a C2SP signed note).
#[utoipa::path(get, path = "/checkpoint", tag = "transparency",
    responses(
        (status = 200, description = "a C2SP signed note", body = String, content_type = "text/plain"),
        (status = 404, description = "no checkpoint yet", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn checkpoint(Extract(state): Extract<Arc<State>>) -> Response {
    let latest = state
        .checkpoint
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match latest {
        Some((_, note)) => text(note, "text/plain; charset=utf-8", "no-store"),
        None => {
            Problem::new(StatusCode::NOT_FOUND, "the ledger has no checkpoint yet").into_response()
        }
    }
}

/// `GET /tile/<L>/<N>[.p/<W>]`: a hash tile of the tree under the served checkpoint, from the
/// tile cache. Full tiles never change (cached for a year); a tile beyond the checkpoint, or
/// not yet in the cache, is 404 and a client retries.
pub(crate) async fn tile(
    Extract(state): Extract<Arc<State>>,
    Path(path): Path<String>,
) -> Response {
    let full = format!("tile/{path}");
    let (level, n, width) = match ledger::parse_tile_path(&full) {
        Ok(t) => t,
        Err(e) => return Problem::new(StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let size = state
        .checkpoint
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or(0, |c| c.0);
    let dir = state.opts.ledger.clone();
    let bytes =
        tokio::task::spawn_blocking(move || ledger::tile_bytes(&dir, level, n, width, size))
            .await
            .ok()
            .flatten();
    match bytes {
        Some(b) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(if width == 256 {
                        "public, max-age=31536000, immutable"
                    } else {
                        "no-store"
                    }),
                ),
            ],
            b,
        )
            .into_response(),
        None => Problem::new(
            StatusCode::NOT_FOUND,
            format!("{full} is not within the tree of size {size} the checkpoint signs"),
        )
        .into_response(),
    }
}

/// `GET /v1/decisions/{index}`: one record, as stored, with its inclusion proof in the newest
/// checkpoint (c2sp.org/tlog-proof text, which `govtrail verify-proof` checks offline).
#[utoipa::path(get, path = "/v1/decisions/{index}", tag = "read", security(("bearer" = [])),
    params(("index" = String, Path, description = "The record's index")),
    responses(
        (status = 200, description = "the record and its proof", body = DecisionReply),
        (status = 400, description = "not an index", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "no such record", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn decision(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> Response {
    if let Err(p) = authorize(&state, &headers, Scope::Read, "/v1/decisions/{index}") {
        return p.into_response();
    }
    match decision_of(&state, &index).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(p) => p.into_response(),
    }
}

/// One record (`index`, as the path gave it), its bytes and its inclusion proof in the newest
/// checkpoint.
pub(crate) async fn decision_of(state: &State, index: &str) -> Result<serde_json::Value, Problem> {
    let Ok(index) = index.parse::<u64>() else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("{index:?} is not a record index (a decimal number)"),
        ));
    };
    let dir = state.opts.ledger.clone();
    let found = tokio::task::spawn_blocking(move || {
        let proof = ledger::prove(&dir, Some(index), &|_| false)?;
        let (ts_us, bytes, record_hash) = ledger::record_at(&dir, index)?;
        let proof = proof.named(&bytes);
        Ok::<_, ledger::Error>((proof, ts_us, bytes, record_hash))
    })
    .await;
    match found {
        Ok(Ok((proof, ts_us, bytes, record_hash))) => {
            // The bytes served are those the proof covers: their hash is the proof's leaf's.
            // (LEDGER-FORMAT.md §3: version, idx, ts, record_hash, chain.)
            if proof.entry[17..49] != record_hash[..] || proof.entry[9..17] != ts_us.to_be_bytes() {
                return Err(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("record {index} does not match the tree's leaf; verify the ledger"),
                ));
            }
            let record: serde_json::Value =
                serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            Ok(json!({
                "index": index,
                "ts_us": ts_us,
                "record": record,
                "record_bytes": String::from_utf8_lossy(&bytes),
                "record_hash": record_hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "proof": proof.to_text(),
            }))
        }
        Ok(Err(e)) => Err(Problem::new(StatusCode::NOT_FOUND, e.to_string())),
        Err(e) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "ok", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> Response {
    text("ok\n".into(), "text/plain; charset=utf-8", "no-store")
}

/// `GET /readyz`: ingest is accepted (the writer runs and the server is not shutting down).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = String, content_type = "text/plain"),
        (status = 503, description = "not accepting ingest", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(Extract(state): Extract<Arc<State>>) -> Response {
    if ready(&state) {
        text("ready\n".into(), "text/plain; charset=utf-8", "no-store")
    } else {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not accepting ingest").into_response()
    }
}

/// `GET /metrics`: Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub(crate) async fn metrics(Extract(state): Extract<Arc<State>>) -> Response {
    let committer = state.committer();
    let index = i64::try_from(committer.id_index_bytes()).unwrap_or(i64::MAX);
    state.metrics.id_index_bytes.set(index);
    let stable = i64::try_from(committer.stable_size()).unwrap_or(i64::MAX);
    let gauge = &state.metrics.stable_checkpoint_size;
    if stable > gauge.get() {
        gauge.set(stable);
    }
    text(
        state.metrics.render(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "no-store",
    )
}

/// Any other path.
pub(crate) async fn not_found(uri: Uri) -> Response {
    Problem::new(StatusCode::NOT_FOUND, format!("no endpoint {}", uri.path())).into_response()
}
