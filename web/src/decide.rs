//! `POST /v1/hooks/claude-code/decide`: a Claude Code `http` hook in decide mode (docs/SERVER.md
//! §2.1). The payload is decided with the server's bundle (`replay::decide`, the resident
//! evaluator `govtrail decide --serve` also uses), the call recorded in the ledger (durable
//! before the answer), then answered with the hook JSON.
//!
//! Claude Code fails open on a non-2xx, a timeout or a non-JSON body, so every path that
//! reaches the handler with a valid token answers 200 as the fail mode says: failing closed is a
//! `deny` in JSON, failing open is an empty body (the platform's own flow). That includes a call
//! the server could not record: with the fail mode closed it is denied, so no call passes
//! unrecorded, as with `govtrail decide`. A call not decided within the budget is answered by
//! the fail mode at once, and its record says so (a claim decides which of the two answers).
//!
//! Invariant: the answer a call's record holds is the answer the client got.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
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
use crate::openapi::{Denied, ProblemBody};

/// The bundle a server decides with, and the fail mode of its calls.
pub(crate) struct Decider {
    /// One resident bundle per core: an evaluation takes a free one (the lock is held only to
    /// evaluate), so calls are decided in parallel.
    residents: Vec<Mutex<Resident>>,
    next: AtomicUsize,
    fail: FailMode,
}

/// How long a check that the bundle's files are unchanged holds: an edited bundle decides
/// calls within this time (each check stats every file of the bundle, which at thousands of
/// calls a second was a sixth of the server's time).
const RECHECK: std::time::Duration = std::time::Duration::from_millis(100);

impl Decider {
    /// Loads the bundle in `dir` (an error if it does not load: a server does not start with a
    /// broken bundle).
    pub(crate) fn load(dir: &std::path::Path, fail_open: bool) -> Result<Self, replay::Error> {
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        let residents = (0..n)
            .map(|_| Resident::load(dir).map(|r| Mutex::new(r.recheck_every(RECHECK))))
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
    hook_json(fail_stdout(fail, why))
}

/// The fail mode's hook stdout: a deny naming `why` (closed), or nothing (open: the platform's
/// own flow).
fn fail_stdout(fail: FailMode, why: &str) -> String {
    match fail {
        FailMode::Open => String::new(),
        FailMode::Closed => format!(
            "{}\n",
            serde_json::json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": format!("govtrail: {why}"),
            }})
        ),
    }
}

/// A call's race against its time budget: the evaluation claims it before recording its
/// answer, or the handler, when the budget runs out first, takes it for the fail mode.
const PENDING: u8 = 0;
const CLAIMED: u8 = 1;
const OVER_BUDGET: u8 = 2;

/// Why an over-budget call was answered by the fail mode.
fn over_budget_why(budget: std::time::Duration) -> String {
    format!(
        "not decided within the server's {} ms budget",
        budget.as_millis()
    )
}

/// The answer recorded for a call the handler answered by the fail mode (the same stdout).
fn over_budget_answer(fail: FailMode, budget: std::time::Duration) -> replay::decide::Answer {
    let why = over_budget_why(budget);
    replay::decide::Answer {
        outcome: replay::Outcome {
            decision: match fail {
                FailMode::Open => "defer",
                FailMode::Closed => "deny",
            }
            .into(),
            reason: Some(format!("govtrail decide failed {}: {why}", fail.name())),
            rules: Vec::new(),
        },
        stdout: fail_stdout(fail, &why),
        error: Some(why),
    }
}

/// The decide endpoint.
#[utoipa::path(post, path = "/v1/hooks/claude-code/decide", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "A Claude Code hook payload; decided with the server's bundle"),
    responses(
        (status = 200, description = "the hook JSON; `{}` for no answer (the platform's own flow)", body = Object),
        Denied,
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
    let claim = Arc::new(AtomicU8::new(PENDING));
    let c = Arc::clone(&claim);
    let mut task = tokio::task::spawn_blocking(move || decide_and_record(&s, &bytes, &c));
    let budget = state.opts.decide_budget;
    // A zero budget is spent at once (a timer would first yield for a tick).
    let in_time = if budget.is_zero() {
        None
    } else {
        tokio::time::timeout(budget, &mut task).await.ok()
    };
    let answered = match in_time {
        Some(answered) => answered,
        None => {
            if claim
                .compare_exchange(PENDING, OVER_BUDGET, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                // The evaluation will record this answer, the fail mode's, when it is done.
                state.metrics.decide_over_budget.inc();
                return hook_json(fail_stdout(fail, &over_budget_why(budget)));
            }
            // Decided in time, its record being committed: answered once it is durable.
            task.await
        }
    };
    match answered {
        Ok(Ok(stdout)) => hook_json(stdout),
        Ok(Err(why)) => fail_answer(fail, &why),
        Err(e) => fail_answer(fail, &format!("the decision task failed: {e}")),
    }
}

/// Decides and records one call; the hook's stdout, or why the call was not recorded.
fn decide_and_record(state: &State, stdin: &[u8], claim: &AtomicU8) -> Result<String, String> {
    let Some(decider) = state.decider.as_ref() else {
        return Err("no bundle".into());
    };
    let started_us = ledger::spool::now_us();
    let id = ledger::spool::call_id(started_us);
    let text = std::str::from_utf8(stdin).map_err(|e| format!("stdin is not UTF-8: {e}"));
    let decided = decide_stdin(text, |input| {
        decider.with_resident(|r| r.eval(input, started_us.saturating_mul(1000)))
    });
    // Claimed in time, the bundle's answer; else the fail mode's, which the handler gave.
    let in_time = claim
        .compare_exchange(PENDING, CLAIMED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let answer = if in_time {
        decided.answer(decider.fail)
    } else {
        over_budget_answer(decider.fail, state.opts.decide_budget)
    };
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
        state.commit_failed(&e);
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
