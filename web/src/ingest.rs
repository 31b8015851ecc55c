//! The ingest endpoints (docs/SERVER.md §2), each with its client's semantics:
//!
//! | endpoint | client | success | a bad unit | busy |
//! |---|---|---|---|---|
//! | `POST /v1/decisions` | any (native NDJSON or a JSON array) | 200, counts | listed; 422 if nothing else | 429 |
//! | `POST /logs` | OPA's decision-log plugin (re-sends a chunk on any non-2xx) | 200 | kept, chunk still 200 | 503 |
//! | `POST /v1/traces`, `/v1/logs` | OTLP/HTTP exporters (protobuf or JSON) | 200 | partial success | 429 |
//! | `POST /v1/hooks/claude-code` | Claude Code `http` hook, tap mode | 200, empty | 422 | 503 |
//!
//! Every answer that says records were taken comes after they are durable. A body with rejected
//! units is kept whole, with the reasons, under the state directory's `rejected/`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledger::spool::{IngestReport, Source, append_sources};
use schemas::ingest::{Format, Options};
use serde_json::json;

use crate::State;
use crate::auth::Scope;
use crate::auth_layer::{authorize, ready};
use crate::metrics::{EndpointLabels, IngestLabels};
use crate::openapi::{Denied, IngestReply, ProblemBody, RejectedUnit};
use crate::problem::{Problem, decode_body, read_body};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Native,
    Opa,
    OtlpTraces,
    OtlpLogs,
    ClaudeCodeTap,
    GovtrailHook,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Opa => "opa",
            Self::OtlpTraces => "otlp-traces",
            Self::OtlpLogs => "otlp-logs",
            Self::ClaudeCodeTap => "claude-code",
            Self::GovtrailHook => "govtrail-hook",
        }
    }

    fn route(self) -> &'static str {
        match self {
            Self::Native => "/v1/decisions",
            Self::Opa => "/logs",
            Self::OtlpTraces => "/v1/traces",
            Self::OtlpLogs => "/v1/logs",
            Self::ClaudeCodeTap => "/v1/hooks/claude-code",
            Self::GovtrailHook => "/v1/hooks/govtrail",
        }
    }

    /// The status that tells this client to come back later: OTLP exporters retry 429 (and
    /// 503) honouring `Retry-After`; OPA retries anything and reads nothing; 503 tells Claude
    /// Code (which fails open) and operators that the service, not the request, is at fault.
    fn busy(self) -> StatusCode {
        match self {
            Self::Native | Self::OtlpTraces | Self::OtlpLogs | Self::GovtrailHook => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Opa | Self::ClaudeCodeTap => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An OTLP request's encoding, from its `Content-Type` (the answer uses the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

fn otlp_encoding(headers: &HeaderMap) -> Result<Encoding, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {other:?}: OTLP/HTTP takes application/x-protobuf or application/json"
            ),
        )),
    }
}

/// What an ingest request came to.
struct Taken {
    report: IngestReport,
    /// Units that were not decisions (other spans and log records).
    skipped: usize,
    /// Nothing in the body could be read as the endpoint's format.
    unreadable: bool,
}

/// Reads, decompresses, normalises and appends one request's body; `Ok` once every record of it
/// is durable.
async fn take(
    state: &Arc<State>,
    endpoint: Endpoint,
    format: Format,
    headers: &HeaderMap,
    body: Body,
) -> Result<Taken, Problem> {
    let token = authorize(state, headers, Scope::Ingest, endpoint.route())?;
    if !ready(state) {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ledger's writer is not running (shutting down, or a commit failed); retry",
        )
        .retry_after(5));
    }
    let Ok(_permit) = state.permits.try_acquire() else {
        state
            .metrics
            .backpressure
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.name(),
            })
            .inc();
        return Err(Problem::new(
            endpoint.busy(),
            "the server is handling as many ingest requests as it takes at once; retry",
        )
        .retry_after(1));
    };
    let limits = state.opts.limits;
    let raw = read_body(body, &limits).await?;
    let started = Instant::now();
    let bytes = match decode_body(headers, &raw, limits.decompressed_bytes) {
        Ok(b) => b,
        // OPA re-sends a chunk it was refused forever: one that does not even decompress is
        // kept, with why, and answered as taken.
        Err(p) if endpoint == Endpoint::Opa && p.status == StatusCode::BAD_REQUEST => {
            let received_us = ledger::spool::now_us();
            let seq = state.seq.fetch_add(1, Ordering::Relaxed);
            let name = format!("{}#{received_us}-{seq}", endpoint.name());
            let report = IngestReport {
                rejected: vec![ledger::spool::Rejection {
                    file: name.clone(),
                    line: 1,
                    pointer: String::new(),
                    message: p.detail,
                }],
                ..IngestReport::default()
            };
            keep_rejected(
                state,
                endpoint,
                &name,
                received_us,
                seq,
                &raw,
                &report,
                &token.id,
            )?;
            return Ok(Taken {
                report,
                skipped: 0,
                unreadable: true,
            });
        }
        Err(p) => return Err(p),
    };
    let s = Arc::clone(state);
    let taken =
        tokio::task::spawn_blocking(move || append(&s, endpoint, format, &bytes, &token.id))
            .await
            .map_err(|e| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("ingest task: {e}"),
                )
            })??;
    let m = &state.metrics;
    for (outcome, n) in [
        ("appended", taken.report.appended),
        ("duplicate", taken.report.duplicates),
        ("rejected", taken.report.rejected.len() as u64),
    ] {
        m.records
            .get_or_create(&IngestLabels {
                endpoint: endpoint.name(),
                outcome,
            })
            .inc_by(n);
    }
    m.ingest_seconds
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.name(),
        })
        .observe(started.elapsed().as_secs_f64());
    Ok(taken)
}

/// The blocking part: normalise, append through the shared committer (waiting for the fsync),
/// keep the body when a unit was rejected.
fn append(
    state: &State,
    endpoint: Endpoint,
    format: Format,
    bytes: &[u8],
    token: &str,
) -> Result<Taken, Problem> {
    let received_us = ledger::spool::now_us();
    let output = schemas::ingest::ingest(
        bytes,
        &Options {
            format: Some(format),
            received_us,
            stamp_received: true,
            ..Options::default()
        },
    );
    let units = output.records.len() + output.rejected.len();
    let limit = state.opts.limits.records_per_request;
    if units > limit {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{units} units in one request; at most {limit} are taken"),
        ));
    }
    let skipped = output.skipped;
    let unreadable = output.records.is_empty() && skipped == 0 && !output.rejected.is_empty();
    let seq = state.seq.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}#{received_us}-{seq}", endpoint.name());
    let report = append_sources(
        &state.committer(),
        &[Source {
            name: name.clone(),
            output,
        }],
        &mut || {},
    )
    .map_err(|e| {
        // The commit thread stops after a failed commit: nothing more is acknowledged until
        // `keep_writer` has reopened the ledger (cutting the WAL's unacknowledged tail).
        state.commit_failed(&e);
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the ledger could not commit: {e}"),
        )
        .retry_after(30)
    })?;
    if !report.rejected.is_empty() {
        keep_rejected(
            state,
            endpoint,
            &name,
            received_us,
            seq,
            bytes,
            &report,
            token,
        )?;
    }
    Ok(Taken {
        report,
        skipped,
        unreadable,
    })
}

/// Keeps a body with rejected units, and why, durably: nothing a client sent is dropped.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, every argument named"
)]
fn keep_rejected(
    state: &State,
    endpoint: Endpoint,
    name: &str,
    received_us: i64,
    seq: u64,
    bytes: &[u8],
    report: &IngestReport,
    token: &str,
) -> Result<(), Problem> {
    let dir = state.opts.state_dir.join("rejected");
    let base = dir.join(format!("{received_us}-{seq}.{}", endpoint.name()));
    let reason = json!({
        "request": name, "endpoint": endpoint.route(), "at_us": received_us, "token": token,
        "rejected": report.rejected,
    });
    let fail = |e: ledger::Error| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("could not keep the rejected units: {e}"),
        )
        .retry_after(30)
    };
    ledger::write_new_private(
        &base.with_extension(format!("{}.body", endpoint.name())),
        bytes,
    )
    .map_err(fail)?;
    ledger::write_new_private(
        &base.with_extension(format!("{}.reason", endpoint.name())),
        format!("{reason:#}\n").as_bytes(),
    )
    .map_err(fail)
}

/// The units a request's body held that are not records, and conflicts.
fn rejected_units(report: &IngestReport) -> Vec<RejectedUnit> {
    report
        .rejected
        .iter()
        .map(|r| RejectedUnit {
            line: r.line,
            pointer: r.pointer.clone(),
            message: r.message.clone(),
        })
        .collect()
}

/// The 422 of a body none of whose units is a record: each unit and why.
fn none_taken(what: &str, report: &IngestReport) -> Response {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, what)
        .with(
            "rejected",
            serde_json::to_value(rejected_units(report)).unwrap_or_default(),
        )
        .into_response()
}

/// The native reply: what became of each unit, and the checkpoint the records are under.
fn native_reply(state: &State, t: &Taken) -> IngestReply {
    let (size, checkpoint) = state
        .checkpoint
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    IngestReply {
        appended: t.report.appended,
        duplicates: t.report.duplicates,
        first_index: t.report.first_index,
        rejected: rejected_units(&t.report),
        skipped: t.skipped,
        size,
        checkpoint,
    }
}

/// `POST /v1/decisions`: native decisions, NDJSON or a JSON array.
#[utoipa::path(post, path = "/v1/decisions", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "Native decision records (docs/RECORD.md): NDJSON, one JSON object, or a JSON array"),
    responses(
        (status = 200, description = "taken: appended, duplicates, rejected units", body = IngestReply),
        (status = 400, description = "the body does not decompress", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "no unit is a record", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "busy; retry after Retry-After", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn native(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match take(&state, Endpoint::Native, Format::Native, &headers, body).await {
        Err(p) => p.into_response(),
        Ok(t)
            if t.report.appended == 0
                && t.report.duplicates == 0
                && !t.report.rejected.is_empty() =>
        {
            none_taken(
                "no unit of the body is a decision record (docs/RECORD.md); each is listed",
                &t.report,
            )
        }
        Ok(t) => axum::Json(native_reply(&state, &t)).into_response(),
    }
}

/// `POST /logs`: OPA's decision-log upload (a gzip JSON array). OPA re-sends a chunk on any
/// non-2xx and reads no answer, so a chunk is answered 200 once durable, whatever its events
/// were: the ones no normaliser reads are kept with their reasons, never refused.
#[utoipa::path(post, path = "/logs", tag = "ingest", security(("bearer" = [])),
    request_body(content = Vec<Object>, content_type = "application/json",
        description = "OPA decision-log events, a JSON array (gzip as OPA sends it)"),
    responses(
        (status = 200, description = "taken, or kept as rejected", body = Object),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "busy or the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn opa(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match take(&state, Endpoint::Opa, Format::Opa, &headers, body).await {
        Err(p) => p.into_response(),
        Ok(_) => axum::Json(json!({})).into_response(),
    }
}

/// `POST /logs/{partition}`: the legacy partitioned path, the same upload.
#[utoipa::path(post, path = "/logs/{partition}", tag = "ingest", security(("bearer" = [])),
    params(("partition" = String, Path, description = "OPA's legacy partition name")),
    request_body(content = Vec<Object>, content_type = "application/json"),
    responses(
        (status = 200, description = "taken, or kept as rejected", body = Object),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "busy or the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn opa_partition(
    state: Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    opa(state, headers, body).await
}

/// `POST /v1/traces`: OTLP/HTTP spans (guardrail spans become decisions).
#[utoipa::path(post, path = "/v1/traces", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "An ExportTraceServiceRequest, OTLP/JSON (or application/x-protobuf)"),
    responses(
        (status = 200, description = "an ExportTraceServiceResponse, maybe with partial success", body = Object),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 400, description = "not the signal's protobuf or JSON (a google.rpc.Status)", body = Object),
        (status = 429, description = "busy; retry after Retry-After", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn otlp_traces(
    state: Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    otlp(state, headers, body, true).await
}

/// `POST /v1/logs`: OTLP/HTTP log records (Claude Code `tool_decision` events).
#[utoipa::path(post, path = "/v1/logs", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "An ExportLogsServiceRequest, OTLP/JSON (or application/x-protobuf)"),
    responses(
        (status = 200, description = "an ExportLogsServiceResponse, maybe with partial success", body = Object),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 400, description = "not the signal's protobuf or JSON (a google.rpc.Status)", body = Object),
        (status = 429, description = "busy; retry after Retry-After", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn otlp_logs(
    state: Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    otlp(state, headers, body, false).await
}

async fn otlp(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
    traces: bool,
) -> Response {
    let encoding = match otlp_encoding(&headers) {
        Ok(e) => e,
        Err(p) => return p.into_response(),
    };
    let (endpoint, format) = match (traces, encoding) {
        (true, Encoding::Protobuf) => (Endpoint::OtlpTraces, Format::OtlpProtoTraces),
        (false, Encoding::Protobuf) => (Endpoint::OtlpLogs, Format::OtlpProtoLogs),
        (true, Encoding::Json) => (Endpoint::OtlpTraces, Format::Otlp),
        (false, Encoding::Json) => (Endpoint::OtlpLogs, Format::Otlp),
    };
    match take(&state, endpoint, format, &headers, body).await {
        Err(p) => p.into_response(),
        Ok(t) if t.unreadable => {
            let message = t
                .report
                .rejected
                .first()
                .map_or_else(String::new, |r| r.message.clone());
            otlp_status(encoding, StatusCode::BAD_REQUEST, 3, &message)
        }
        Ok(t) => {
            let rejected = t.report.rejected.len() as u64;
            let message = t
                .report
                .rejected
                .iter()
                .map(|r| format!("unit {}{}: {}", r.line, r.pointer, r.message))
                .collect::<Vec<_>>()
                .join("; ");
            otlp_success(encoding, traces, rejected, &message)
        }
    }
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn length_delimited(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// An `Export{Trace,Logs}ServiceResponse`: empty on full success, else its `partial_success`
/// (`rejected_spans`/`rejected_log_records` = 1, `error_message` = 2), which the client must
/// not retry.
fn otlp_success(encoding: Encoding, traces: bool, rejected: u64, message: &str) -> Response {
    match encoding {
        Encoding::Protobuf => {
            let mut body = Vec::new();
            if rejected > 0 {
                let mut partial = Vec::new();
                varint(&mut partial, 1 << 3);
                varint(&mut partial, rejected);
                length_delimited(&mut partial, 2, message.as_bytes());
                length_delimited(&mut body, 1, &partial);
            }
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                )],
                body,
            )
                .into_response()
        }
        Encoding::Json => {
            let key = if traces {
                "rejectedSpans"
            } else {
                "rejectedLogRecords"
            };
            let body = if rejected > 0 {
                json!({"partialSuccess": {key: rejected.to_string(), "errorMessage": message}})
            } else {
                json!({})
            };
            axum::Json(body).into_response()
        }
    }
}

/// A `google.rpc.Status` (`code` = 1, `message` = 2) in the request's encoding.
fn otlp_status(encoding: Encoding, status: StatusCode, code: u64, message: &str) -> Response {
    match encoding {
        Encoding::Protobuf => {
            let mut body = Vec::new();
            varint(&mut body, 1 << 3);
            varint(&mut body, code);
            length_delimited(&mut body, 2, message.as_bytes());
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                )],
                body,
            )
                .into_response()
        }
        Encoding::Json => (
            status,
            axum::Json(json!({"code": code, "message": message})),
        )
            .into_response(),
    }
}

/// `POST /v1/hooks/govtrail`: calls `govtrail hook` recorded (its envelopes, NDJSON), sent by
/// hooks pointed at the server; answered as the native endpoint is.
#[utoipa::path(post, path = "/v1/hooks/govtrail", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "govtrail.hook envelopes (docs/RECORD.md §5), NDJSON"),
    responses(
        (status = 200, description = "taken", body = IngestReply),
        (status = 400, description = "the body does not decompress", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "no unit is an envelope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "busy; retry after Retry-After", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn govtrail_hook(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match take(
        &state,
        Endpoint::GovtrailHook,
        Format::GovtrailHook,
        &headers,
        body,
    )
    .await
    {
        Err(p) => p.into_response(),
        Ok(t) if t.report.appended == 0 && t.report.duplicates == 0 => none_taken(
            "no unit of the body is a govtrail.hook envelope (docs/RECORD.md §5)",
            &t.report,
        ),
        Ok(t) => axum::Json(native_reply(&state, &t)).into_response(),
    }
}

/// `POST /v1/hooks/claude-code`: a Claude Code `http` hook in tap mode: the payload is recorded
/// and answered with an empty 200, which Claude Code takes as success with no output (so the
/// platform's own flow goes on unchanged).
#[utoipa::path(post, path = "/v1/hooks/claude-code", tag = "ingest", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "A Claude Code hook payload (what a command hook reads on stdin)"),
    responses(
        (status = 200, description = "recorded; no output"),
        (status = 400, description = "the body does not decompress", body = ProblemBody, content_type = "application/problem+json"),
        Denied,
        (status = 408, description = "the body was too slow", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "the body or its units are too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "an unsupported encoding or type", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "not a hook payload", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "busy or the writer stopped", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn claude_code_tap(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match take(
        &state,
        Endpoint::ClaudeCodeTap,
        Format::ClaudeCodeHook,
        &headers,
        body,
    )
    .await
    {
        Err(p) => p.into_response(),
        Ok(t) if t.report.appended == 0 && t.report.duplicates == 0 => {
            none_taken("the body is not a Claude Code hook payload", &t.report)
        }
        Ok(_) => StatusCode::OK.into_response(),
    }
}
