//! A DataFusion session over one ledger snapshot: the sealed Parquet segments and the committed
//! tail, as one table, with views and functions registered.
//!
//! Invariant: queries never write. Statements other than queries (DDL, DML, `COPY`, `SET`) are
//! refused before planning, and the tables are the snapshot's files and an in-memory batch.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::{Error, Result};

/// Intended vs effective (docs/REPORTS.md): each gate decision with a tool-use id (a
/// PreToolUse hook or decide answer) joined by session and tool-use id to what happened after
/// it (PostToolUse: it ran; PostToolUseFailure: it failed; PermissionDenied: the user refused;
/// none, in a session that records those events: it did not run; none in a session that
/// records none of them: unknown, NULL), and the divergences that shows. `{filter}` restricts
/// the decisions read (`TRUE` for the view; a session for `report rca`, which then reads that
/// session's records only: the join is per session and tool-use id).
const EFFECTIVE: &str = "WITH src AS (SELECT * FROM decisions WHERE {filter}), \
         after AS (\
           SELECT session_id, tool_use_id, \
             max(CASE WHEN event = 'PostToolUse' THEN 1 ELSE 0 END) AS ran, \
             max(CASE WHEN event = 'PostToolUseFailure' THEN 1 ELSE 0 END) AS failed, \
             max(CASE WHEN event = 'PermissionDenied' THEN 1 ELSE 0 END) AS refused \
           FROM src \
           WHERE tool_use_id IS NOT NULL \
             AND event IN ('PostToolUse', 'PostToolUseFailure', 'PermissionDenied') \
           GROUP BY session_id, tool_use_id), \
         observed AS (SELECT DISTINCT session_id FROM after), \
         gates AS (\
           SELECT g.idx, g.ts, g.decision_id, g.session_id, g.tool_use_id, g.tool_name, \
             g.event, g.decision, g.outcome, \
             CASE WHEN a.failed = 1 THEN 'failed' WHEN a.ran = 1 THEN 'ran' \
               WHEN a.refused = 1 THEN 'refused' \
               WHEN o.session_id IS NOT NULL THEN 'not_run' END AS effective \
           FROM src g \
             LEFT JOIN after a \
               ON g.session_id = a.session_id AND g.tool_use_id = a.tool_use_id \
             LEFT JOIN observed o ON g.session_id = o.session_id \
           WHERE g.tool_use_id IS NOT NULL AND g.event = 'PreToolUse') \
         SELECT *, CASE \
             WHEN decision IN ('deny', 'escalate') AND effective IN ('ran', 'failed') \
               THEN 'denied but ran' \
             WHEN decision = 'allow' AND effective = 'failed' THEN 'allowed but failed' \
             WHEN decision = 'allow' AND effective = 'refused' THEN 'allowed but refused' \
             WHEN decision = 'ask' AND effective = 'refused' THEN 'asked and refused' \
             WHEN decision = 'error' AND effective IN ('ran', 'failed') \
               THEN 'failed open and ran' \
             ELSE NULL END AS divergence \
         FROM gates";

/// The `effective` view's query over the decisions `filter` (an SQL condition) selects.
pub(crate) fn effective_sql(filter: &str) -> String {
    EFFECTIVE.replace("{filter}", filter)
}

/// A runtime whose memory pool holds at most `bytes` for all the queries that share it (hash
/// tables, sorts, aggregates; DataFusion does not count every buffer, so the process uses
/// somewhat more), for [`Trail::open_in`].
pub fn limited_runtime(bytes: usize) -> Result<Arc<RuntimeEnv>> {
    datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_limit(bytes, 1.0)
        // Footers and page indexes kept between queries: an eighth of the pool (DataFusion's
        // default is 50 MiB, outside the pool).
        .with_metadata_cache_limit(bytes / 8)
        .build_arc()
        .map_err(|e| Error::Internal(format!("a memory-limited runtime: {e}")))
}

/// The views every session has (DDL run once at open). `ledger_rows` is the union of sealed
/// segments and the tail with `is_rule_set` (a rule-set record, which ingest names by its
/// content hash in both `decision_id` and `rule_set`: a test on typed columns, so that
/// excluding rule sets reads no JSON); `decisions` adds the record fields that have no typed
/// column.
const VIEWS: &[(&str, &str)] = &[
    (
        "decisions",
        "SELECT idx, ts, decision_id, decision, decision_native, platform, engine, service, \
         session_id, tool_name, rule_ids, rule_set, overhead_us, outcome, model, \
         json_str(record, '/event') AS event, \
         json_str(record, '/reason') AS reason, \
         json_str(record, '/tool_use_id') AS tool_use_id, \
         json_str(record, '/prompt_id') AS prompt_id, \
         json_str(record, '/agent_id') AS agent_id, \
         json_str(record, '/trace_id') AS trace_id, \
         json_str(record, '/span_id') AS span_id, \
         json_str(record, '/overhead_source') AS overhead_source, \
         json_str(record, '/source_format') AS source_format, \
         json_text(record, '/tool_input') AS tool_input, \
         record, record_hash, chain, is_rule_set \
         FROM ledger_rows",
    ),
    (
        "rule_hits",
        "SELECT idx, ts, decision_id, decision, service, session_id, tool_name, rule_set, \
         model, unnest(rule_ids) AS rule_id FROM ledger_rows \
         WHERE NOT is_rule_set",
    ),
    (
        "sessions",
        "SELECT session_id, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS decisions, \
         sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS denies, \
         sum(CASE WHEN decision = 'ask' THEN 1 ELSE 0 END) AS asks, \
         sum(CASE WHEN decision = 'error' THEN 1 ELSE 0 END) AS errors, \
         count(overhead_us) AS measured, sum(overhead_us) AS overhead_us_total, \
         count(DISTINCT tool_name) AS tools, count(DISTINCT model) AS models, \
         min(idx) AS first_idx, max(idx) AS last_idx \
         FROM ledger_rows WHERE session_id IS NOT NULL GROUP BY session_id",
    ),
    (
        "rule_sets",
        "SELECT rule_set, idx, ts, engine, decision_id, cardinality(rule_ids) AS n_rules, \
         rule_ids, json_str(record, '/metadata/version') AS version, \
         json_str(record, '/source_format') AS source_format \
         FROM ledger_rows WHERE is_rule_set",
    ),
];

/// A read-only SQL session over a ledger snapshot.
pub struct Trail {
    ctx: SessionContext,
    snapshot: ledger::Snapshot,
    progress: Option<(std::time::Duration, Progress)>,
    pruning: Pruning,
}

/// What the trail's pruning rests on (LEDGER-FORMAT.md §14): statistics, page indexes, bloom
/// filters and summaries are used only where the seal note vouches for them, when the caller
/// gave a key to check it with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pruning {
    /// Whether a key of the caller's checked the seal note. Without one, the trail prunes on
    /// every segment's metadata, unverified.
    pub checked: bool,
    /// Segments read in full with pruning off, and why their skip structures are not vouched
    /// for (`no seal note`, `no seal line`, `footer`, `page index`, `blooms`).
    pub scanned: Vec<Unpruned>,
    /// Segments whose summary file is present but not vouched for: scanned instead.
    pub summaries_unused: Vec<Unpruned>,
}

/// One segment a checked trail does not prune or summarise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unpruned {
    /// The segment file.
    pub segment: std::path::PathBuf,
    /// Why.
    pub reason: ledger::Unvouched,
}

/// The thread that reports a running query's progress; stopped when dropped.
struct Watcher {
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(
        plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        progress: &Progress,
        every: std::time::Duration,
    ) -> Self {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop, plan, progress) = (Arc::clone(&done), Arc::clone(plan), Arc::clone(progress));
        let thread = std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                progress(rows_read(&plan));
                std::thread::park_timeout(every);
            }
        });
        Self {
            done,
            thread: Some(thread),
        }
    }

    /// Stops the thread and waits for it (at most one progress call), so that no count it
    /// reports comes after the caller's last.
    fn stop(mut self) {
        self.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn signal(&self) {
        self.done.store(true, std::sync::atomic::Ordering::Release);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.signal();
    }
}

/// What opening a trail reads from disk (see [`Trail::read_files`]).
#[derive(Debug)]
pub struct TrailFiles {
    snapshot: ledger::Snapshot,
    vouched: Option<Vec<ledger::SegmentVouch>>,
}

/// Told the rows a query's scans have read so far (see [`Trail::set_progress`]).
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// The rows the scans under `plan` (its leaves) have produced so far: DataFusion's own
/// `output_rows` counters, which the Parquet scans update batch by batch while the query runs.
/// A scan that keeps no such counter (the unsealed tail, already in memory) counts its rows
/// from the start.
fn rows_read(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> u64 {
    let children = plan.children();
    if children.is_empty() {
        use datafusion::catalog::memory::{DataSourceExec, MemorySourceConfig};
        if let Some(n) = plan.metrics().and_then(|m| m.output_rows()) {
            return n as u64;
        }
        let source = plan
            .downcast_ref::<DataSourceExec>()
            .map(|d| d.data_source());
        let memory = source
            .and_then(|s| (s.as_ref() as &dyn std::any::Any).downcast_ref::<MemorySourceConfig>());
        return memory.map_or(0, |m| {
            m.partitions()
                .iter()
                .flatten()
                .map(|b| b.num_rows() as u64)
                .sum()
        });
    }
    children.into_iter().map(rows_read).sum()
}

/// `schema` with every Utf8 field as Utf8View. (Reading the low-cardinality columns as
/// dictionaries instead was measured twice: the Parquet reader rebuilds the dictionaries batch by
/// batch, and the deny-rate GROUP BY of `query_bench` became 2.7× slower, and 3.6× slower with
/// `crate::groupkey`'s ids: 0.54 s against 0.15 s.)
fn view_schema(
    schema: &datafusion::arrow::datatypes::Schema,
) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => {
                    Arc::new(Field::new(f.name(), DataType::Utf8View, f.is_nullable()))
                }
                _ => Arc::clone(f),
            })
            .collect::<Vec<_>>(),
    ))
}

/// The tail batch cast to the view schema.
fn to_view(
    batch: &RecordBatch,
    schema: &datafusion::arrow::datatypes::SchemaRef,
) -> Result<RecordBatch> {
    let cols = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("tail to view types: {e}")))?;
    RecordBatch::try_new(Arc::clone(schema), cols)
        .map_err(|e| Error::Internal(format!("tail to view types: {e}")))
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail")
            .field("origin", &self.snapshot.origin)
            .field("records", &self.snapshot.records)
            .finish_non_exhaustive()
    }
}

impl Trail {
    /// Opens the ledger at `dir`: takes a snapshot (every acknowledged record, sealed or not)
    /// and registers `ledger_rows`, the views and the JSON functions.
    pub async fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, None).await
    }

    /// Like [`Trail::open`], with `partitions` parallel partitions per plan instead of one per
    /// core. With one partition, approximate percentiles (whose t-digests merge in arrival
    /// order) are the same on every run; exact results never depend on it.
    pub async fn open_with(dir: &Path, partitions: Option<usize>) -> Result<Self> {
        Self::open_checked(dir, partitions, None).await
    }

    /// Like [`Trail::open_with`]; with `trust`, the seal note (LEDGER-FORMAT.md §14) is
    /// checked against the caller's keys once, each segment's skip structures against it, and
    /// only vouched segments are pruned or answered from summaries: the others are scanned in
    /// full. [`Trail::pruning`] says what was found. Without `trust`, pruning rests on
    /// unverified metadata. The files are read on the runtime's blocking pool
    /// ([`Trail::read_files`]), never on the thread that awaits.
    pub async fn open_checked(
        dir: &Path,
        partitions: Option<usize>,
        trust: Option<&ledger::TrustPolicy>,
    ) -> Result<Self> {
        let (dir, trust) = (dir.to_path_buf(), trust.cloned());
        let files = tokio::task::spawn_blocking(move || Self::read_files(&dir, trust.as_ref()))
            .await
            .map_err(|e| Error::Internal(format!("reading the ledger's files: {e}")))??;
        Self::from_files(files, partitions).await
    }

    /// What a trail reads from the ledger's directory: the snapshot and, with `trust`, the seal
    /// note checked. Blocking file I/O, and the only I/O of opening a trail.
    pub fn read_files(dir: &Path, trust: Option<&ledger::TrustPolicy>) -> Result<TrailFiles> {
        if !dir.is_dir() {
            return Err(Error::NoLedger {
                dir: dir.to_path_buf(),
                message: "no such directory".into(),
            });
        }
        let snapshot = ledger::snapshot(dir)?;
        let vouched = trust.map(|t| ledger::vouch(dir, t)).transpose()?;
        Ok(TrailFiles { snapshot, vouched })
    }

    /// The session over files already read ([`Trail::read_files`]): no blocking I/O.
    pub async fn from_files(files: TrailFiles, partitions: Option<usize>) -> Result<Self> {
        Self::from_snapshot(files.snapshot, partitions, files.vouched, None).await
    }

    /// Like [`Trail::open`], with the memory pool and caches of `runtime` (a server shares one
    /// among all its trails, so that their queries together stay within its memory limit: see
    /// [`limited_runtime`]). A query that needs more fails with [`Error::Sql`] saying
    /// "Resources exhausted" instead of growing the process.
    /// `partitions` as for [`Trail::open_with`].
    pub async fn open_in(
        dir: &Path,
        runtime: Arc<RuntimeEnv>,
        partitions: Option<usize>,
    ) -> Result<Self> {
        let dir = dir.to_path_buf();
        let files = tokio::task::spawn_blocking(move || Self::read_files(&dir, None))
            .await
            .map_err(|e| Error::Internal(format!("reading the ledger's files: {e}")))??;
        Self::from_snapshot(files.snapshot, partitions, files.vouched, Some(runtime)).await
    }

    /// What pruning rested on.
    pub fn pruning(&self) -> &Pruning {
        &self.pruning
    }

    /// Builds the session over a snapshot already taken; `vouched` says which segments (and
    /// summaries) may be pruned on, `None` for all of them (unchecked).
    async fn from_snapshot(
        mut snapshot: ledger::Snapshot,
        partitions: Option<usize>,
        vouched: Option<Vec<ledger::SegmentVouch>>,
        runtime: Option<Arc<RuntimeEnv>>,
    ) -> Result<Self> {
        let mut pruning = Pruning {
            checked: vouched.is_some(),
            scanned: Vec::new(),
            summaries_unused: Vec::new(),
        };
        let mut prunable = vec![true; snapshot.segments.len()];
        if let Some(vouched) = &vouched {
            for (i, seg) in snapshot.segments.iter_mut().enumerate() {
                let v = vouched
                    .iter()
                    .find(|v| v.start == seg.start && v.end == seg.end);
                let reason = v.map_or(Some(ledger::Unvouched::NoSealLine), |v| v.segment);
                if let Some(r) = reason {
                    prunable[i] = false;
                    pruning.scanned.push(Unpruned {
                        segment: seg.path.clone(),
                        reason: r,
                    });
                }
                if seg.summary.is_some() && !v.is_some_and(|v| v.summary) {
                    // Scanned instead: its summary answers nothing.
                    seg.summary = None;
                    if reason.is_none() {
                        pruning.summaries_unused.push(Unpruned {
                            segment: seg.path.clone(),
                            reason: ledger::Unvouched::Summary,
                        });
                    }
                }
            }
        }
        let mut config = SessionConfig::new().with_information_schema(true);
        if let Some(n) = partitions {
            config = config.with_target_partitions(n.max(1));
        }
        {
            let opts = config.options_mut();
            // Late materialisation: filters on typed columns run inside the Parquet decoder,
            // so a session lookup decodes `record` only for the rows that match.
            opts.execution.parquet.pushdown_filters = true;
            opts.execution.parquet.reorder_filters = true;
            opts.execution.parquet.enable_page_index = true;
            opts.execution.parquet.bloom_filter_on_read = true;
            if prunable.contains(&false) {
                // Statistics also reach answers outside the table's pruning switches: file
                // statistics (count(*) from row counts, file pruning, sort orders) and dynamic
                // filters (TopK, joins, aggregates prune row groups on min/max). Both are
                // session-wide: off whenever one segment is unvouched.
                opts.execution.collect_statistics = false;
                opts.optimizer.enable_dynamic_filter_pushdown = false;
                opts.optimizer.enable_topk_dynamic_filter_pushdown = false;
                opts.optimizer.enable_join_dynamic_filter_pushdown = false;
                opts.optimizer.enable_aggregate_dynamic_filter_pushdown = false;
            }
        }
        let ctx = match runtime {
            Some(rt) => SessionContext::new_with_config_rt(config, rt),
            None => SessionContext::new_with_config(config),
        };
        for udf in crate::udf::all() {
            ctx.register_udf(udf);
        }
        // Exact percentiles by counting values (same results as the built-in, far less memory).
        ctx.register_udaf(crate::percentile::udaf());
        // …and several of one input share one accumulator.
        ctx.add_optimizer_rule(Arc::new(crate::percentile::SharePercentiles));
        // GROUP BY string columns groups by packed integer ids (query/src/groupkey.rs).
        ctx.add_optimizer_rule(Arc::new(crate::groupkey::InternGroupKeys));
        // CASE WHEN p THEN 1 ELSE 0 END as a word-at-a-time kernel (query/src/indicator.rs).
        ctx.add_optimizer_rule(Arc::new(crate::indicator::IndicatorCase));
        // `column = 'short literal'` compares 16-byte views (query/src/viewcmp.rs).
        ctx.add_optimizer_rule(Arc::new(crate::viewcmp::ShortStringEquality));
        let trail = Self {
            ctx,
            snapshot,
            progress: None,
            pruning,
        };
        trail.register(&prunable).await?;
        Ok(trail)
    }

    /// A Parquet table over `paths` with `schema`; with `prune` off, the reader skips nothing
    /// on the files' statistics, page index or bloom filters (LEDGER-FORMAT.md §14).
    fn parquet_table(
        &self,
        name: &str,
        paths: &[&Path],
        schema: datafusion::arrow::datatypes::SchemaRef,
        prune: bool,
    ) -> Result<()> {
        let urls = paths
            .iter()
            .map(|p| {
                // From a file URL, not a path string: `[`, `*` or `?` in a ledger's path are
                // not glob patterns.
                let path = std::path::absolute(p).map_err(|e| Error::NoLedger {
                    dir: p.to_path_buf(),
                    message: e.to_string(),
                })?;
                let url = url::Url::from_file_path(&path).map_err(|()| Error::NoLedger {
                    dir: p.to_path_buf(),
                    message: "cannot be named as a file URL".into(),
                })?;
                ListingTableUrl::try_new(url, None).map_err(Error::DataFusion)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut format = ParquetFormat::default();
        if !prune {
            let mut options = datafusion::config::TableParquetOptions::default();
            options.global.pruning = false;
            options.global.enable_page_index = false;
            options.global.bloom_filter_on_read = false;
            format = format.with_options(options);
        }
        let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        let table = ListingTable::try_new(config).map_err(Error::DataFusion)?;
        self.ctx
            .register_table(name, Arc::new(table))
            .map_err(Error::DataFusion)?;
        Ok(())
    }

    async fn register(&self, prunable: &[bool]) -> Result<()> {
        // Strings are read as Utf8View: the reader points into its pages instead of copying
        // every value (the two-key GROUP BY of `query_bench` went from 2.4× to 1.5× DuckDB).
        let schema = view_schema(&schemas::segment_schema());
        let segments = &self.snapshot.segments;
        let mut parts = Vec::new();
        for (name, prune) in [("sealed_rows", true), ("scanned_rows", false)] {
            let paths: Vec<&Path> = segments
                .iter()
                .zip(prunable)
                .filter(|(_, p)| **p == prune)
                .map(|(s, _)| s.path.as_path())
                .collect();
            if !paths.is_empty() {
                self.parquet_table(name, &paths, Arc::clone(&schema), prune)?;
                parts.push(if prune {
                    "SELECT * FROM sealed_rows"
                } else {
                    "SELECT * FROM scanned_rows"
                });
            }
        }
        let prune_all = !prunable.contains(&false);
        let tail: Vec<RecordBatch> = self
            .snapshot
            .tail
            .iter()
            .map(|b| to_view(b, &schema))
            .collect::<Result<_>>()?;
        if !tail.is_empty() || parts.is_empty() {
            let mem =
                MemTable::try_new(Arc::clone(&schema), vec![tail]).map_err(Error::DataFusion)?;
            self.ctx
                .register_table("tail_rows", Arc::new(mem))
                .map_err(Error::DataFusion)?;
            parts.push("SELECT * FROM tail_rows");
        }
        let mut ddl = vec![format!(
            "CREATE VIEW ledger_rows AS SELECT *, \
             coalesce(decision_id = rule_set AND decision = 'info', false) AS is_rule_set \
             FROM ({})",
            parts.join(" UNION ALL ")
        )];
        for (name, body) in VIEWS {
            ddl.push(format!("CREATE VIEW {name} AS {body}"));
        }
        ddl.push(format!(
            "CREATE VIEW effective AS {}",
            effective_sql("TRUE")
        ));
        ddl.push(self.register_summaries(prune_all)?);
        for stmt in ddl {
            let registered = async { self.ctx.sql(&stmt).await?.collect().await };
            registered
                .await
                .map_err(|e| Error::Internal(format!("registering views: {e}")))?;
        }
        Ok(())
    }

    /// Registers the segments' summary files (LEDGER-FORMAT.md §13) and returns the DDL of
    /// `overhead_summary`: those files, plus the same rows computed from the segments that have
    /// no summary file and from the tail, so that it covers every acknowledged record.
    fn register_summaries(&self, prune: bool) -> Result<String> {
        let segments = &self.snapshot.segments;
        let summarised: Vec<&Path> = segments
            .iter()
            .filter_map(|s| s.summary.as_deref())
            .collect();
        let unsummarised: Vec<&Path> = segments
            .iter()
            .filter(|s| s.summary.is_none())
            .map(|s| s.path.as_path())
            .collect();
        let mut parts = Vec::new();
        if !summarised.is_empty() {
            self.parquet_table(
                "segment_summaries",
                &summarised,
                ledger::summary_schema(),
                true,
            )?;
            parts.push(
                "SELECT dimension, value, bucket, count, sum_us, min_us, max_us FROM segment_summaries"
                    .to_owned(),
            );
        }
        let mut rest = Vec::new();
        if !unsummarised.is_empty() {
            self.parquet_table(
                "unsummarised_rows",
                &unsummarised,
                schemas::segment_schema(),
                prune,
            )?;
            rest.push("SELECT * FROM unsummarised_rows");
        }
        if self.snapshot.tail.is_some() {
            rest.push("SELECT * FROM tail_rows");
        }
        if !rest.is_empty() {
            let rows = rest.join(" UNION ALL ");
            for dim in ledger::SUMMARY_DIMENSIONS {
                let value = if dim.is_empty() {
                    "''".to_owned()
                } else {
                    dim.to_owned()
                };
                parts.push(format!(
                    "SELECT '{dim}' AS dimension, CAST({value} AS VARCHAR) AS value, \
                     overhead_bucket(overhead_us) AS bucket, count(*) AS count, \
                     coalesce(sum(overhead_us), 0) AS sum_us, min(overhead_us) AS min_us, \
                     max(overhead_us) AS max_us FROM ({rows}) \
                     GROUP BY {value}, overhead_bucket(overhead_us)"
                ));
            }
        }
        if parts.is_empty() {
            parts.push(
                "SELECT CAST(NULL AS VARCHAR) AS dimension, CAST(NULL AS VARCHAR) AS value, \
                 CAST(NULL AS INT) AS bucket, CAST(0 AS BIGINT) AS count, CAST(0 AS BIGINT) AS sum_us, \
                 CAST(NULL AS BIGINT) AS min_us, CAST(NULL AS BIGINT) AS max_us WHERE FALSE"
                    .to_owned(),
            );
        }
        Ok(format!(
            "CREATE VIEW overhead_summary AS {}",
            parts.join(" UNION ALL ")
        ))
    }

    /// The snapshot this session reads.
    pub fn snapshot(&self) -> &ledger::Snapshot {
        &self.snapshot
    }

    /// The DataFusion session (for registering more tables, such as an incidents table).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers incidents (see [`crate::report::roi::read_incidents`]) as table `incidents`.
    pub fn register_incidents(&self, incidents: &[crate::report::roi::Incident]) -> Result<()> {
        let batch = crate::report::roi::incidents_batch(incidents)?;
        let mem =
            MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(Error::DataFusion)?;
        self.ctx
            .register_table("incidents", Arc::new(mem))
            .map_err(Error::DataFusion)?;
        Ok(())
    }

    /// Asks each query to report the rows its scans have read, every `every` while it runs and
    /// once when it ends (for a query without filters, the snapshot's records at the end).
    pub fn set_progress(&mut self, every: std::time::Duration, progress: Progress) {
        self.progress = Some((every, progress));
    }

    /// Runs one read-only SQL query and collects its result: at least one batch, so that an
    /// empty result still carries its schema. Runs on the caller's tokio runtime (any flavour);
    /// nothing here builds a runtime or blocks on one.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(Error::sql)?;
        let schema = Arc::clone(df.schema().inner());
        let plan = df.create_physical_plan().await.map_err(Error::sql)?;
        let run = datafusion::physical_plan::collect(Arc::clone(&plan), self.ctx.task_ctx());
        let collected = match &self.progress {
            None => run.await,
            Some((every, progress)) => {
                // A watcher thread reads the scans' counters while the query runs. It stops
                // when the query ends, or when this future is dropped (the guard tells it).
                let watcher = Watcher::start(&plan, progress, *every);
                let collected = run.await;
                watcher.stop();
                collected.inspect(|_| progress(rows_read(&plan)))
            }
        };
        let mut batches = collected.map_err(Error::sql)?;
        // An empty result still has its columns (a CSV header, a Parquet schema).
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(schema));
        }
        Ok(batches)
    }
}
