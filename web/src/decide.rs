//! `POST /v1/hooks/claude-code/decide`: a Claude Code `http` hook in decide mode (docs/SERVER.md
//! §2.1). The payload is decided with the server's bundle (`replay::decide`, the resident
//! evaluator `govtrail decide --serve` also uses), the call recorded in the ledger (durable
//! before the answer), then answered with the hook JSON.
//!
//! Claude Code fails open on a non-2xx, a timeout or a non-JSON body, so every path that
//! reaches the handler with a valid token answers 200 as the fail mode says: failing closed is a
//! `deny` in JSON, failing open is an empty body (the platform's own flow). That includes a call
//! the server could not record: with the fail mode closed it is denied, so no call passes
//! unrecorded, as with `govtrail decide`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledger::spool::{Source, append_sources};
use replay::decide::{CallFacts, FailMode, Resident, decide_stdin, envelope};
use schemas::ingest::{Format, Options};

use crate::State;
use crate::auth::Scope;
use crate::auth_layer::authorize;
use crate::metrics::{EndpointLabels, IngestLabels};
use crate::openapi::ProblemBody;

/// The bundle a server decides with, and the fail mode of its calls.
pub(crate) struct Decider {
    /// One resident bundle per core: an evaluation takes a free one (the lock is held only to
    /// evaluate), so calls are decided in parallel.
    residents: Vec<Mutex<Resident>>,
    next: AtomicUsize,
    fail: FailMode,
}

impl Decider {
    /// Loads the bundle in `dir` (an error if it does not load: a server does not start with a
    /// broken bundle).
    pub(crate) fn load(dir: &std::path::Path, fail_open: bool) -> Result<Self, replay::Error> {
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        let residents = (0..n)
            .map(|_| Resident::load(dir).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            residents,
            next: AtomicUsize::new(0),
            fail: if fail_open {
                FailMode::Open
            } else {
                FailMode::Closed
            },
        })
    }

    /// Runs `f` on a free resident bundle (or waits for one).
    fn with_resident<R>(&self, f: impl FnOnce(&mut Resident) -> R) -> R {
        for m in &self.residents {
            if let Ok(mut r) = m.try_lock() {
                return f(&mut r);
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.residents.len();
        f(&mut self.residents[i].lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The hook's answer as an HTTP body: its JSON, or `{}` for no answer (which Claude Code reads
/// as a command hook's JSON with no decision: its own permission flow goes on), always JSON.
fn hook_json(stdout: String) -> Response {
    let stdout = if stdout.trim().is_empty() {
        "{}\n".to_owned()
    } else {
        stdout
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        stdout,
    )
        .into_response()
}

/// The answer when a call cannot be decided or recorded: the fail mode's.
fn fail_answer(fail: FailMode, why: &str) -> Response {
    match fail {
        FailMode::Open => hook_json(String::new()),
        FailMode::Closed => hook_json(format!(
            "{}\n",
            serde_json::json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": format!("govtrail: {why}"),
            }})
        )),
    }
}

/// The decide endpoint.
#[utoipa::path(post, path = "/v1/hooks/claude-code/decide", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "A Claude Code hook payload; decided with the server's bundle"),
    responses(
        (status = 200, description = "the hook JSON; `{}` for no answer (the platform's own flow)", body = Object),
        (status = 401, description = "no valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "the token lacks the scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "the server has no bundle", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn claude_code_decide(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(p) = authorize(
        &state,
        &headers,
        Scope::Ingest,
        "/v1/hooks/claude-code/decide",
    ) {
        return p.into_response();
    }
    let Some(decider) = state.decider.as_ref() else {
        return crate::problem::Problem::new(
            StatusCode::NOT_FOUND,
            "this server decides nothing: it was started without --bundle",
        )
        .into_response();
    };
    let fail = decider.fail;
    let Ok(bytes) = crate::problem::read_body(body, &state.opts.limits).await else {
        return fail_answer(fail, "the payload could not be read");
    };
    let s = Arc::clone(&state);
    let answered = tokio::task::spawn_blocking(move || decide_and_record(&s, &bytes)).await;
    match answered {
        Ok(Ok(stdout)) => hook_json(stdout),
        Ok(Err(why)) => fail_answer(fail, &why),
        Err(e) => fail_answer(fail, &format!("the decision task failed: {e}")),
    }
}

/// Decides and records one call; the hook's stdout, or why the call was not recorded.
fn decide_and_record(state: &State, stdin: &[u8]) -> Result<String, String> {
    let Some(decider) = state.decider.as_ref() else {
        return Err("no bundle".into());
    };
    let started_us = ledger::spool::now_us();
    let id = ledger::spool::call_id(started_us);
    let text = std::str::from_utf8(stdin).map_err(|e| format!("stdin is not UTF-8: {e}"));
    let decided = decide_stdin(text, |input| {
        decider.with_resident(|r| r.eval(input, started_us.saturating_mul(1000)))
    });
    let answer = decided.answer(decider.fail);
    let facts = CallFacts {
        id: &id,
        started_us,
        wall_us: ledger::spool::now_us().saturating_sub(started_us),
        fail: decider.fail,
        evaluator: "server",
        server_error: None,
        stdin,
    };
    let line = envelope(&facts, &decided, &answer).to_line();
    let output = schemas::ingest::ingest(
        &line,
        &Options {
            format: Some(Format::GovtrailHook),
            received_us: started_us,
            stamp_received: true,
            ..Options::default()
        },
    );
    let seq = state.seq.fetch_add(1, Ordering::Relaxed);
    let report = append_sources(
        &state.committer(),
        &[Source {
            name: format!("decide#{started_us}-{seq}"),
            output,
        }],
        &mut || {},
    )
    .map_err(|e| {
        state.writer_failed.store(true, Ordering::SeqCst);
        format!("the call was not recorded: {e}")
    })?;
    let m = &state.metrics;
    m.records
        .get_or_create(&IngestLabels {
            endpoint: "claude-code-decide",
            outcome: if report.appended == 1 {
                "appended"
            } else {
                "rejected"
            },
        })
        .inc();
    m.ingest_seconds
        .get_or_create(&EndpointLabels {
            endpoint: "claude-code-decide",
        })
        .observe(ledger::spool::now_us().saturating_sub(started_us) as f64 / 1e6);
    if report.appended != 1 {
        let why = report
            .rejected
            .first()
            .map_or_else(|| "no record".to_owned(), |r| r.message.clone());
        return Err(format!("the call was not recorded: {why}"));
    }
    Ok(answer.stdout)
}
