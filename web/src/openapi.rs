//! `/openapi.json`: the OpenAPI 3.1 document, generated with the router from the handlers'
//! `#[utoipa::path]` annotations and the reply types below (utoipa-axum's `OpenApiRouter`, so
//! a route and its path cannot drift apart). The hash tiles (`/tile/…`) are left out: their
//! paths are C2SP tlog-tiles', not expressible as one OpenAPI path.

mod reports;

pub(crate) use reports::{ReplayReport, VerifyReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "govtrail",
        description = "The ledger as a service: ingest, read, transparency (docs/SERVER.md)."
    ),
    modifiers(&Bearer),
    components(schemas(ProblemBody, RejectedUnit))
)]
pub(crate) struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("gvt_<id>_<secret>")
                        .build(),
                ),
            );
        }
    }
}

/// An error (RFC 9457 problem details).
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct ProblemBody {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The status's reason phrase.
    pub(crate) title: String,
    /// The HTTP status.
    pub(crate) status: u16,
    /// What went wrong, and where.
    pub(crate) detail: String,
    /// The units that were rejected, when the body held units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rejected: Option<Vec<RejectedUnit>>,
}

/// A unit of a request body that is not a record, and why.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct RejectedUnit {
    /// The unit's line (or, for OTLP, its item).
    pub(crate) line: usize,
    /// A JSON pointer into the unit.
    pub(crate) pointer: String,
    /// What is wrong.
    pub(crate) message: String,
}

/// What an ingest request came to.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct IngestReply {
    /// Records appended.
    pub(crate) appended: u64,
    /// Records already in the ledger with the same bytes (not appended again).
    pub(crate) duplicates: u64,
    /// The index of the first record appended.
    pub(crate) first_index: Option<u64>,
    /// Units that are not records, and conflicts.
    pub(crate) rejected: Vec<RejectedUnit>,
    /// Units that are not decisions (other spans, log records).
    pub(crate) skipped: usize,
    /// The size of the checkpoint below.
    pub(crate) size: u64,
    /// The newest signed checkpoint (C2SP signed note), covering every record appended.
    pub(crate) checkpoint: String,
}

/// The answers of every endpoint behind a token: none or an unknown one (401, with
/// `WWW-Authenticate: Bearer`), or one without the endpoint's scope (403). Only described here
/// (`auth_layer::authorize` answers them); listed in each path's responses.
#[derive(utoipa::IntoResponses)]
#[expect(
    dead_code,
    reason = "an OpenAPI description: the problems are built by authorize"
)]
pub(crate) enum Denied {
    #[response(
        status = 401,
        description = "no valid token",
        content_type = "application/problem+json"
    )]
    Unauthenticated(ProblemBody),
    #[response(
        status = 403,
        description = "the token lacks the scope",
        content_type = "application/problem+json"
    )]
    Forbidden(ProblemBody),
}

/// One decision with its inclusion proof.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct DecisionReply {
    /// Its index in the ledger.
    pub(crate) index: u64,
    /// Its time, µs since the epoch.
    pub(crate) ts_us: i64,
    /// The record (docs/RECORD.md).
    #[schema(value_type = Object)]
    pub(crate) record: Value,
    /// The record's bytes as stored (RFC 8785 JSON).
    pub(crate) record_bytes: String,
    /// BLAKE3 of the bytes, hex.
    pub(crate) record_hash: String,
    /// A c2sp.org/tlog-proof of it in the newest checkpoint.
    pub(crate) proof: String,
}

/// A page of decisions.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct DecisionList {
    /// Decisions in index order (typed columns).
    #[schema(value_type = Vec<Object>)]
    pub(crate) decisions: Vec<Value>,
    /// The cursor of the next page (`after=`), null on the last.
    pub(crate) next: Option<u64>,
}

/// Sessions.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct SessionList {
    /// Per session: `session_id`, `first_ts_us`, `last_ts_us`, `decisions`, `denies`,
    /// `asks`, `errors`, `divergences`, `measured`, `overhead_us_total`, `first_idx`,
    /// `last_idx`.
    #[schema(value_type = Vec<Object>)]
    pub(crate) sessions: Vec<Value>,
}

/// Decisions per time bucket.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct Series {
    /// Seconds per bucket.
    pub(crate) bucket_seconds: u64,
    /// `{"start_us", "decisions", "denies", "asks"}` per bucket that has decisions, oldest
    /// first.
    #[schema(value_type = Vec<Object>)]
    pub(crate) buckets: Vec<Value>,
}

/// A read-only SQL statement.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct QueryBody {
    /// One statement over `govtrail query`'s views.
    pub(crate) sql: String,
}

/// The inputs of the ROI report (docs/REPORTS.md, "ROI"): what `govtrail report roi` reads
/// from its two files, in one body.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoiBody {
    /// The incidents: a JSON array (or `{"incidents": [...]}`) with the keys REPORTS.md lists,
    /// or the text of a CSV file.
    #[schema(value_type = Object)]
    pub(crate) incidents: Value,
    /// The cost model: `{"currency": "USD", "micros_per_token": 15, "micros_per_minute":
    /// 1000000}`.
    #[schema(value_type = Object)]
    pub(crate) cost: Value,
    /// The window's start, RFC 3339.
    #[serde(default)]
    pub(crate) since: Option<String>,
    /// The window's end, RFC 3339.
    #[serde(default)]
    pub(crate) until: Option<String>,
}

/// A replay run: which bundle, and which recorded decisions.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayBody {
    /// The name of one of the server's replay bundles (a subdirectory of `--replay-bundles`).
    pub(crate) bundle: String,
    /// Only this session's decisions.
    #[serde(default)]
    pub(crate) session: Option<String>,
    /// Only decisions at or after this time, RFC 3339.
    #[serde(default)]
    pub(crate) since: Option<String>,
    /// Only decisions before this time, RFC 3339.
    #[serde(default)]
    pub(crate) until: Option<String>,
    /// Incidents to judge (as for `POST /v1/reports/roi`): would the bundle have stopped each.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub(crate) incidents: Option<Value>,
}

/// A query's rows.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct QueryReply {
    /// At most 1,000 rows, as JSON objects.
    #[schema(value_type = Vec<Object>)]
    pub(crate) rows: Vec<Value>,
    /// There were more.
    pub(crate) truncated: bool,
}

/// A signed checkpoint.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct CheckpointInfo {
    /// Records under it.
    pub(crate) size: u64,
    /// The signed note.
    pub(crate) note: String,
}

/// The verification status.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct VerifyStatus {
    /// The newest checkpoint.
    pub(crate) checkpoint: Option<CheckpointInfo>,
    /// The last verification run, as stored, or null.
    #[schema(value_type = Option<VerifyRun>)]
    pub(crate) last_run: Value,
    /// Witnesses' cosignatures on the stored checkpoints, newest checkpoint first, as found:
    /// the server holds no witness keys, so none is checked here (`govtrail verify --policy`
    /// with the witnesses' keys checks them).
    pub(crate) cosignatures: Vec<CosignatureInfo>,
}

/// One witness cosignature (C2SP tlog-cosignature), as found on a stored checkpoint.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct CosignatureInfo {
    /// The witness's key name.
    pub(crate) witness: String,
    /// Its key id, 8 hex digits.
    pub(crate) key_id: String,
    /// The size of the checkpoint it cosigned.
    pub(crate) size: u64,
    /// When it cosigned, Unix seconds (its claim).
    pub(crate) time: u64,
}

/// A verification run.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct VerifyRun {
    /// When it began, µs since the epoch.
    pub(crate) started_us: i64,
    /// When it ended.
    pub(crate) finished_us: i64,
    /// As `govtrail verify --json`.
    #[schema(value_type = VerifyReport)]
    pub(crate) report: Value,
}
