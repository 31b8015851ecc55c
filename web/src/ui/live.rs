//! The dashboard's live figures: sampled once a second into a `watch` channel and sent to
//! each open page as Server-Sent Events (`GET /ui/events`, event `live`, JSON data). One
//! sample serves every page: no query, no file read and no access-log line per page per
//! second.
//!
//! Invariant: every stream ends when the server's shutdown begins (`Live::closing`), so that
//! an open page never holds the graceful shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::State;
use crate::auth::Scope;

/// Streams open at once at most (a page holds one).
const MAX_STREAMS: usize = 64;
/// The window of the ingest rate.
const RATE_WINDOW: usize = 10;

/// What the live tiles show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Live {
    /// Records under the newest checkpoint.
    pub(crate) size: u64,
    /// Records appended per second over the last 10 s.
    pub(crate) rate: f64,
    /// Spooled calls waiting to be drained (absent: the server drains no spool).
    pub(crate) backlog: Option<u64>,
    /// The server is shutting down: streams end.
    #[serde(skip)]
    pub(crate) closing: bool,
}

/// Calls waiting in `spool`: its call files and hook logs (not `rejected/`, not files being
/// written).
fn backlog(spool: &std::path::Path) -> Option<u64> {
    let entries = std::fs::read_dir(spool).ok()?;
    Some(
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                !n.starts_with('.') && (n.ends_with(".hook.json") || n.ends_with(".hooklog"))
            })
            .count() as u64,
    )
}

/// Samples the live figures every second until the server stops.
pub(crate) async fn sample_live(state: Arc<State>) {
    let mut sizes: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut tick = 0u64;
    let mut waiting = None;
    while !state.stopping.load(Ordering::SeqCst) && !state.live.borrow().closing {
        let size = state
            .checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |c| c.0);
        let now = Instant::now();
        sizes.push_back((now, size));
        if sizes.len() > RATE_WINDOW + 1 {
            sizes.pop_front();
        }
        let rate = match sizes.front() {
            Some((t, s)) if now > *t => size.saturating_sub(*s) as f64 / (now - *t).as_secs_f64(),
            _ => 0.0,
        };
        if tick.is_multiple_of(5)
            && let Some(spool) = state.opts.spool.clone()
        {
            waiting = tokio::task::spawn_blocking(move || backlog(&spool))
                .await
                .ok()
                .flatten();
        }
        tick += 1;
        state.live.send_if_modified(|l| {
            let next = Live {
                size,
                rate: (rate * 10.0).round() / 10.0,
                backlog: waiting,
                closing: l.closing,
            };
            let changed = *l != next;
            *l = next;
            changed
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `GET /ui/events`: the live figures, now and at each change, until the page closes or the
/// server stops.
pub(crate) async fn events(Extract(state): Extract<Arc<State>>, headers: HeaderMap) -> Response {
    if state
        .sessions
        .check(&state.tokens, &headers, Scope::Read)
        .is_err()
    {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    }
    if state.live.receiver_count() >= MAX_STREAMS {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "30")],
            "too many live pages open",
        )
            .into_response();
    }
    let rx = state.live.subscribe();
    let start = (rx, true, state, headers);
    let stream =
        futures_util::stream::unfold(start, |(mut rx, first, state, headers)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let live = rx.borrow_and_update().clone();
            // A logout, an expiry or a revoked token ends the stream at its next event.
            if live.closing
                || state
                    .sessions
                    .check(&state.tokens, &headers, Scope::Read)
                    .is_err()
            {
                return None;
            }
            let event = Event::default().event("live").json_data(&live).ok()?;
            Some((Ok::<_, Infallible>(event), (rx, false, state, headers)))
        });
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    super::secure_headers(&mut r, "no-store");
    r
}
