//! `/metrics`: Prometheus text exposition (`govtrail_*`, base units, counters ending in
//! `_total`, no unbounded label values: routes are the router's patterns, never a session or a
//! decision id).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) route: String,
    pub(crate) code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct IngestLabels {
    pub(crate) endpoint: &'static str,
    pub(crate) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EndpointLabels {
    pub(crate) endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The server's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) records: Family<IngestLabels, Counter>,
    pub(crate) ingest_seconds: Family<EndpointLabels, Histogram>,
    pub(crate) checkpoint_size: Gauge,
    pub(crate) stable_checkpoint_size: Gauge,
    pub(crate) id_index_bytes: Gauge,
    pub(crate) backpressure: Family<EndpointLabels, Counter>,
    pub(crate) writer_restarts: Counter,
    pub(crate) commit_seconds: Histogram,
    pub(crate) fsync_seconds: Histogram,
    pub(crate) fsync_stalls: Counter,
    pub(crate) decide_over_budget: Counter,
}

/// Buckets for the writer's timings: 100 µs to 2.5 s.
const WRITER_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5,
];

/// An fsync at least this long counts as a stall.
pub(crate) const FSYNC_STALL_SECONDS: f64 = 0.1;

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("govtrail");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status code",
            requests.clone(),
        );
        let records = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_records",
            "Units received on the ingest endpoints, by outcome (appended, duplicate, rejected)",
            records.clone(),
        );
        let ingest_seconds = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "ingest_request_duration_seconds",
            "Time from an ingest request's body being read to its durable answer",
            ingest_seconds.clone(),
        );
        let checkpoint_size = Gauge::default();
        registry.register(
            "checkpoint_size",
            "Records under the newest signed checkpoint",
            checkpoint_size.clone(),
        );
        let stable_checkpoint_size = Gauge::default();
        registry.register(
            "stable_checkpoint_size",
            "Records under the newest stable checkpoint the writer's heartbeat stored (checkpoints/)",
            stable_checkpoint_size.clone(),
        );
        let id_index_bytes = Gauge::default();
        registry.register_with_unit(
            "id_index",
            "Memory the decision-id index of the sealed segments keeps (filters and fences; it grows with the ledger, about 2.1 bytes a record)",
            prometheus_client::registry::Unit::Bytes,
            id_index_bytes.clone(),
        );
        let backpressure = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "backpressure_refusals",
            "Requests refused with 429 or 503 because the server was at its concurrency limit",
            backpressure.clone(),
        );
        let writer_restarts = Counter::default();
        registry.register(
            "writer_restarts",
            "Times the ledger was reopened after a failed commit (a full disk, an I/O error)",
            writer_restarts.clone(),
        );
        let commit_seconds = Histogram::new(WRITER_BUCKETS);
        registry.register(
            "commit_duration_seconds",
            "Time of one group commit on the writer's thread: hashing, signing, WAL write and fsync",
            commit_seconds.clone(),
        );
        let fsync_seconds = Histogram::new(WRITER_BUCKETS);
        registry.register(
            "fsync_duration_seconds",
            "Time of the WAL fsync of each group commit",
            fsync_seconds.clone(),
        );
        let fsync_stalls = Counter::default();
        registry.register(
            "fsync_stalls",
            "WAL fsyncs that took 100 ms or more",
            fsync_stalls.clone(),
        );
        let decide_over_budget = Counter::default();
        registry.register(
            "decide_over_budget",
            "Decide calls answered by the fail mode because they were not decided within the budget",
            decide_over_budget.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        registry.register("build_info", "The running build (value 1)", build.clone());
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        Self {
            registry,
            requests,
            records,
            ingest_seconds,
            checkpoint_size,
            stable_checkpoint_size,
            id_index_bytes,
            backpressure,
            writer_restarts,
            commit_seconds,
            fsync_seconds,
            fsync_stalls,
            decide_over_budget,
        }
    }

    /// The exposition text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
