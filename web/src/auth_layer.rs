//! What every request passes through: its count by route pattern and status code, and the
//! scope checks the handlers call (with the access log of reads).

use std::io::Write as _;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::State;
use crate::auth::{Denied, Scope, TokenInfo};
use crate::problem::Problem;

/// Counts each answered request by its route pattern (bounded) and status code.
pub(crate) async fn count(
    Extract(state): Extract<Arc<State>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    state
        .metrics
        .requests
        .get_or_create(&crate::metrics::RequestLabels {
            route,
            code: response.status().as_u16(),
        })
        .inc();
    response
}

/// The token of a request if it grants `scope`; a read is written to the access log (token id,
/// route, time), kept apart from the ledger.
pub(crate) fn authorize(
    state: &State,
    headers: &HeaderMap,
    scope: Scope,
    route: &str,
) -> Result<TokenInfo, Problem> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.tokens.check(value, scope) {
        Ok(t) => {
            if scope != Scope::Ingest {
                log_access(state, &t.id, scope, route);
            }
            Ok(t)
        }
        Err(Denied::Unauthenticated) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "a bearer token is needed (Authorization: Bearer gvt_…); none was given or it is not valid",
        )),
        Err(Denied::Forbidden) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("the token does not have the {} scope", scope.name()),
        )),
    }
}

/// Writes a read (or an admin action) to the access log: token id, scope, route, time.
pub(crate) fn log_access(state: &State, token_id: &str, scope: Scope, route: &str) {
    let line = serde_json::json!({
        "at_us": ledger::spool::now_us(), "token": token_id, "scope": scope.name(),
        "route": route,
    });
    let mut log = state.access_log.lock().unwrap_or_else(|e| e.into_inner());
    // The access log is an operator's record, not the ledger: a failed write does not refuse
    // the read.
    let _ = writeln!(log, "{line}");
}

/// Whether the writer is up and the server is not shutting down.
pub(crate) fn ready(state: &State) -> bool {
    state.ready()
}
