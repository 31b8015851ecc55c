//! Sealed segments: Parquet files holding a contiguous index range of records with their hashes
//! and typed columns (LEDGER-FORMAT.md §4).
//!
//! Invariant: the typed columns are derived from `record` by [`schemas::DecisionView`], by the
//! same code when writing and when verifying, so the two can never disagree on an honest file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, FixedSizeBinaryBuilder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{Int64Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use schemas::DecisionView;

use crate::error::IoContext as _;
use crate::hash::{Hash, RecordHashes, from_hex, hex};
use crate::merkle::Frontier;
use crate::{Error, Result};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 65_536;
/// Columns written without compression (the rest use zstd).
const UNCOMPRESSED: [&str; 12] = [
    "decision",
    "decision_native",
    "platform",
    "engine",
    "service",
    "tool_name",
    "rule_ids.list.item",
    "rule_set",
    "outcome",
    "model",
    "record_hash",
    "chain",
];
/// Rows per page of `record` (about; the writer closes a page once it passes 64 KiB, checking
/// every this many rows).
const RECORD_PAGE_ROWS: usize = 128;
/// Rows per data page (at most).
const PAGE_ROWS: usize = 8_192;
/// Rows per Arrow batch when reading.
pub(crate) const READ_BATCH_ROWS: usize = 8_192;

/// Footer key-value metadata keys.
pub(crate) mod key {
    pub(crate) const FORMAT: &str = "govtrail.format";
    pub(crate) const ORIGIN: &str = "govtrail.origin";
    pub(crate) const START: &str = "govtrail.start";
    pub(crate) const END: &str = "govtrail.end";
    pub(crate) const CHAIN_END: &str = "govtrail.chain_end";
    pub(crate) const FRONTIER: &str = "govtrail.frontier";
}

/// What a segment's footer says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    /// The ledger's origin.
    pub origin: String,
    /// First index in the segment.
    pub start: u64,
    /// One past the last index.
    pub end: u64,
    /// The chain value after the last record (a writer's hint; verifiers do not need it).
    pub chain_end: Option<Hash>,
    /// The tree frontier after the last record (a writer's hint; verifiers do not need it).
    pub frontier: Option<Frontier>,
}

/// The file name of the segment holding `[start, end)`.
pub fn file_name(start: u64, end: u64) -> String {
    format!("{start:020}-{end:020}.parquet")
}

/// Parses a segment file name into its range.
pub(crate) fn parse_file_name(name: &str) -> Option<(u64, u64)> {
    crate::layout::parse_range(name, ".parquet")
}

/// One row to seal.
pub(crate) struct SealRow<'a> {
    pub(crate) idx: u64,
    pub(crate) ts_us: i64,
    pub(crate) record: &'a [u8],
    pub(crate) hashes: RecordHashes,
}

struct Builders {
    idx: UInt64Builder,
    ts: TimestampMicrosecondBuilder,
    decision_id: StringBuilder,
    decision: StringBuilder,
    decision_native: StringBuilder,
    platform: StringBuilder,
    engine: StringBuilder,
    service: StringBuilder,
    session_id: StringBuilder,
    tool_name: StringBuilder,
    rule_ids: ListBuilder<StringBuilder>,
    rule_set: StringBuilder,
    overhead_us: Int64Builder,
    outcome: StringBuilder,
    model: StringBuilder,
    record: BinaryBuilder,
    record_hash: FixedSizeBinaryBuilder,
    chain: FixedSizeBinaryBuilder,
}

impl Builders {
    fn new() -> Self {
        let item = Arc::new(arrow_schema::Field::new(
            "item",
            arrow_schema::DataType::Utf8,
            false,
        ));
        Self {
            idx: UInt64Builder::new(),
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            decision_id: StringBuilder::new(),
            decision: StringBuilder::new(),
            decision_native: StringBuilder::new(),
            platform: StringBuilder::new(),
            engine: StringBuilder::new(),
            service: StringBuilder::new(),
            session_id: StringBuilder::new(),
            tool_name: StringBuilder::new(),
            rule_ids: ListBuilder::new(StringBuilder::new()).with_field(item),
            rule_set: StringBuilder::new(),
            overhead_us: Int64Builder::new(),
            outcome: StringBuilder::new(),
            model: StringBuilder::new(),
            record: BinaryBuilder::new(),
            record_hash: FixedSizeBinaryBuilder::new(32),
            chain: FixedSizeBinaryBuilder::new(32),
        }
    }

    fn push(&mut self, row: &SealRow<'_>, view: &DecisionView<'_>) -> Result<(), String> {
        self.idx.append_value(row.idx);
        self.ts.append_value(row.ts_us);
        self.decision_id.append_value(&view.decision_id);
        self.decision.append_value(view.decision.as_str());
        self.decision_native
            .append_option(view.decision_native.as_deref());
        self.platform.append_option(view.platform.as_deref());
        self.engine.append_option(view.engine.as_deref());
        self.service.append_option(view.service.as_deref());
        self.session_id.append_option(view.session_id.as_deref());
        self.tool_name.append_option(view.tool_name.as_deref());
        for id in &view.rule_ids {
            self.rule_ids.values().append_value(id);
        }
        self.rule_ids.append(true);
        self.rule_set.append_option(view.rule_set.as_deref());
        self.overhead_us.append_option(view.overhead_us);
        self.outcome.append_option(view.outcome.as_deref());
        self.model.append_option(view.model.as_deref());
        self.record.append_value(row.record);
        self.record_hash
            .append_value(row.hashes.record_hash)
            .map_err(|e| e.to_string())?;
        self.chain
            .append_value(row.hashes.chain)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.idx.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.decision_id.finish()),
            Arc::new(self.decision.finish()),
            Arc::new(self.decision_native.finish()),
            Arc::new(self.platform.finish()),
            Arc::new(self.engine.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.tool_name.finish()),
            Arc::new(self.rule_ids.finish()),
            Arc::new(self.rule_set.finish()),
            Arc::new(self.overhead_us.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.record.finish()),
            Arc::new(self.record_hash.finish()),
            Arc::new(self.chain.finish()),
        ]
    }
}

fn frontier_text(frontier: &Frontier) -> String {
    let peaks: Vec<String> = frontier.peaks().iter().map(hex).collect();
    format!("{}:{}", frontier.size(), peaks.join(","))
}

fn parse_frontier(text: &str) -> Option<Frontier> {
    let (size, peaks) = text.split_once(':')?;
    let peaks = if peaks.is_empty() {
        Vec::new()
    } else {
        peaks.split(',').map(from_hex).collect::<Option<Vec<_>>>()?
    };
    Frontier::from_parts(size.parse().ok()?, peaks)
}

/// Streams rows into a new Parquet segment at `path` (fsynced before returning).
pub(crate) struct SegmentWriter {
    path: std::path::PathBuf,
    writer: ArrowWriter<File>,
    builders: Builders,
    pending: usize,
    summary: crate::summary::SummaryBuilder,
}

impl SegmentWriter {
    pub(crate) fn create(path: &Path, meta: &SegmentMeta) -> Result<Self> {
        let file = crate::layout::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .ctx("create", path)?;
        let kv = vec![
            KeyValue::new(key::FORMAT.into(), crate::FORMAT_VERSION.to_string()),
            KeyValue::new(key::ORIGIN.into(), meta.origin.clone()),
            KeyValue::new(key::START.into(), meta.start.to_string()),
            KeyValue::new(key::END.into(), meta.end.to_string()),
        ]
        .into_iter()
        .chain(
            meta.chain_end
                .map(|c| KeyValue::new(key::CHAIN_END.into(), hex(&c))),
        )
        .chain(
            meta.frontier
                .as_ref()
                .map(|f| KeyValue::new(key::FRONTIER.into(), frontier_text(f))),
        )
        .collect();
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            // Pages of at most PAGE_ROWS rows: a proof reads one row's pages through the offset
            // index and decodes PAGE_ROWS hashes, not a megabyte page.
            .set_data_page_row_count_limit(PAGE_ROWS)
            // The writer checks page limits every this many rows; `record` pages then hold
            // about this many records (a few hundred KB), so reading one session's records
            // decompresses a page per 50-decision run instead of a 2.6 MB one.
            .set_write_batch_size(RECORD_PAGE_ROWS)
            .set_column_data_page_size_limit(ColumnPath::from("record"), 64 * 1024)
            .set_key_value_metadata(Some(kv));
        // Unique or random values gain nothing from a dictionary, and hashes and record bytes
        // nothing from min/max statistics.
        for col in [
            "idx",
            "ts",
            "decision_id",
            "overhead_us",
            "record",
            "record_hash",
            "chain",
        ] {
            props = props.set_column_dictionary_enabled(ColumnPath::from(col), false);
        }
        for col in ["record", "record_hash", "chain"] {
            props =
                props.set_column_statistics_enabled(ColumnPath::from(col), EnabledStatistics::None);
        }
        // Left uncompressed: hashes (random bytes) and the low-cardinality columns, whose
        // dictionary-encoded pages zstd shrinks by a few percent at most. A reader then makes no
        // zstd context for their column chunks, which was 6% of a GROUP BY over three of them.
        for col in UNCOMPRESSED {
            let path = ColumnPath::new(col.split('.').map(String::from).collect());
            props = props.set_column_compression(path, Compression::UNCOMPRESSED);
        }
        // Bloom filters on the ids that lookups filter by (a session's timeline, one decision):
        // page statistics cannot prune random ids. Sized for a row group of distinct values.
        for col in ["session_id", "decision_id"] {
            props = props
                .set_column_bloom_filter_enabled(ColumnPath::from(col), true)
                .set_column_bloom_filter_max_ndv(ColumnPath::from(col), ROW_GROUP_ROWS as u64);
        }
        let writer = ArrowWriter::try_new(file, schemas::segment_schema(), Some(props.build()))
            .map_err(|e| parquet_err(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            builders: Builders::new(),
            pending: 0,
            summary: crate::summary::SummaryBuilder::default(),
        })
    }

    pub(crate) fn push(&mut self, row: &SealRow<'_>) -> Result<()> {
        let view = DecisionView::parse(row.record).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            offset: None,
            message: format!("record {} is not a decision: {e}", row.idx),
        })?;
        if view.ts_us != row.ts_us {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                offset: None,
                message: format!(
                    "record {}'s ts_us is {}, its frame says {}",
                    row.idx, view.ts_us, row.ts_us
                ),
            });
        }
        self.builders
            .push(row, &view)
            .map_err(|message| Error::Parquet {
                path: self.path.clone(),
                message,
            })?;
        self.summary.push(&view);
        self.pending += 1;
        if self.pending == READ_BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new(schemas::segment_schema(), self.builders.finish())
            .map_err(|e| parquet_err(&self.path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| parquet_err(&self.path, e))?;
        self.pending = 0;
        Ok(())
    }

    /// Finishes the file and fsyncs it; returns the segment's summary (§13).
    pub(crate) fn finish(mut self) -> Result<RecordBatch> {
        self.flush()?;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| parquet_err(&self.path, e))?;
        file.sync_all().ctx("fsync", &self.path)?;
        self.summary
            .finish()
            .map_err(|message| parquet_err(&self.path, message))
    }
}

fn parquet_err(path: &Path, err: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        message: err.to_string(),
    }
}

/// The rows as one Arrow batch with the segment schema, typed columns derived as a seal derives
/// them (for the unsealed tail a query reads). `dir` names the ledger in errors.
pub(crate) fn batch(dir: &Path, rows: &[SealRow<'_>]) -> Result<RecordBatch> {
    let mut builders = Builders::new();
    for row in rows {
        let view = DecisionView::parse(row.record).map_err(|e| Error::Corrupt {
            path: dir.to_path_buf(),
            offset: None,
            message: format!("unsealed record {} is not a decision: {e}", row.idx),
        })?;
        builders
            .push(row, &view)
            .map_err(|message| parquet_err(dir, message))?;
    }
    RecordBatch::try_new(schemas::segment_schema(), builders.finish())
        .map_err(|e| parquet_err(dir, e))
}

/// The chain value after a segment's last record: the footer's hint when present, else the last
/// row's `chain` column.
pub(crate) fn chain_end(path: &Path) -> Result<Hash> {
    let (meta, reader) = open(path)?;
    if let Some(chain) = meta.chain_end {
        return Ok(chain);
    }
    let mut last = None;
    for batch in reader {
        let batch = batch.map_err(|e| parquet_err(path, e))?;
        let chain = batch.column(17).as_fixed_size_binary();
        if let Some(row) = batch.num_rows().checked_sub(1) {
            last = chain.value(row).try_into().ok();
        }
    }
    last.ok_or_else(|| Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message: "segment has no rows".into(),
    })
}

/// Opens a segment: checks its schema and footer metadata and returns a batch reader.
pub(crate) fn open(path: &Path) -> Result<(SegmentMeta, ParquetRecordBatchReader)> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message,
    };
    let file = File::open(path).ctx("open", path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| corrupt(format!("not a readable Parquet file: {e}")))?;
    let want = schemas::segment_schema();
    let got = builder.schema();
    let same = got.fields().len() == want.fields().len()
        && got.fields().iter().zip(want.fields()).all(|(g, w)| {
            // Re-encoding may rename the list's child field (pyarrow writes `element`) or add
            // field metadata without changing a value (LEDGER-FORMAT.md §4): equals_datatype
            // ignores nested field names and metadata and still compares every type and
            // nested nullability.
            g.name() == w.name()
                && g.data_type().equals_datatype(w.data_type())
                && g.is_nullable() == w.is_nullable()
        });
    if !same {
        return Err(corrupt(
            "columns differ from the segment schema of format version 1".into(),
        ));
    }
    let kv = builder.metadata().file_metadata().key_value_metadata();
    let find = |k: &str| -> Result<Option<String>> {
        let mut found = kv.into_iter().flatten().filter(|e| e.key == k);
        let first = found.next().map(|e| e.value.clone().unwrap_or_default());
        if found.next().is_some() {
            return Err(corrupt(format!("footer metadata has {k} more than once")));
        }
        Ok(first)
    };
    let get = |k: &str| -> Result<String> {
        find(k)?.ok_or_else(|| corrupt(format!("footer metadata has no {k}")))
    };
    let format = get(key::FORMAT)?;
    if format != crate::FORMAT_VERSION.to_string() {
        return Err(corrupt(format!(
            "format version {format} is not supported (this build reads version {})",
            crate::FORMAT_VERSION
        )));
    }
    let num = |k: &str| -> Result<u64> {
        let text = get(k)?;
        let canonical = text == "0" || (!text.starts_with('0') && !text.is_empty());
        text.parse()
            .ok()
            .filter(|_| canonical && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| corrupt(format!("footer {k} is not a decimal without leading zeros")))
    };
    let meta = SegmentMeta {
        origin: get(key::ORIGIN)?,
        start: num(key::START)?,
        end: num(key::END)?,
        chain_end: find(key::CHAIN_END)?.and_then(|t| from_hex(&t)),
        frontier: find(key::FRONTIER)?.and_then(|t| parse_frontier(&t)),
    };
    let reader = builder
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok((meta, reader))
}

/// The columns that tie each row to the tree, typed, of a batch read by [`open`].
pub(crate) struct ChainColumns<'a> {
    pub(crate) idx: &'a arrow_array::PrimitiveArray<UInt64Type>,
    pub(crate) ts: &'a arrow_array::PrimitiveArray<TimestampMicrosecondType>,
    pub(crate) record: &'a arrow_array::BinaryArray,
    pub(crate) record_hash: &'a arrow_array::FixedSizeBinaryArray,
    pub(crate) chain: &'a arrow_array::FixedSizeBinaryArray,
}

impl<'a> ChainColumns<'a> {
    const NAMES: [&'static str; 5] = ["idx", "ts", "record", "record_hash", "chain"];

    /// Views a batch read by [`open`] (whose schema was checked there).
    pub(crate) fn new(batch: &'a RecordBatch) -> Self {
        let [idx, ts, record, record_hash, chain] = Self::NAMES.map(|n| {
            batch
                .column_by_name(n)
                .unwrap_or_else(|| unreachable!("open checked the schema"))
        });
        Self {
            idx: idx.as_primitive::<UInt64Type>(),
            ts: ts.as_primitive::<TimestampMicrosecondType>(),
            record: record.as_binary::<i32>(),
            record_hash: record_hash.as_fixed_size_binary(),
            chain: chain.as_fixed_size_binary(),
        }
    }
}

/// Reads columns `names` of the row at `offset` in a segment, decoding only the pages that
/// hold it (the offset index locates them). Nothing read is checked here.
fn read_row(path: &Path, offset: u64, names: &[&str]) -> Result<RecordBatch> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, RowSelection, RowSelector};
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message,
    };
    let file = File::open(path).ctx("open", path)?;
    let options = ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .map_err(|e| corrupt(format!("not a readable Parquet file: {e}")))?;
    let schema = Arc::clone(builder.schema());
    let mut roots = Vec::with_capacity(names.len());
    for name in names {
        roots.push(
            schema
                .index_of(name)
                .map_err(|_| corrupt(format!("segment has no {name} column")))?,
        );
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut rg = 0;
    let mut skip = offset;
    for meta in builder.metadata().row_groups() {
        let rows = u64::try_from(meta.num_rows()).unwrap_or(0);
        if skip < rows {
            break;
        }
        skip -= rows;
        rg += 1;
    }
    if rg >= builder.metadata().num_row_groups() {
        return Err(corrupt(format!("segment has no row at offset {offset}")));
    }
    let selection = RowSelection::from(vec![
        RowSelector::skip(skip as usize),
        RowSelector::select(1),
    ]);
    let reader = builder
        .with_projection(mask)
        .with_row_groups(vec![rg])
        .with_row_selection(selection)
        .build()
        .map_err(|e| corrupt(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| parquet_err(path, e))?;
        if batch.num_rows() > 0 {
            return Ok(batch);
        }
    }
    Err(corrupt(format!(
        "could not read the row at offset {offset} ({})",
        names.join(", ")
    )))
}

/// Reads the leaf entry (LEDGER-FORMAT.md §3) of record `index`, the row at `offset` in a
/// segment. The entry is not checked here: a prover checks it against a signed root.
pub(crate) fn read_entry(
    path: &Path,
    offset: u64,
    index: u64,
) -> Result<[u8; crate::hash::ENTRY_LEN]> {
    let batch = read_row(path, offset, &["ts", "record_hash", "chain"])?;
    let col = |name: &str| batch.column_by_name(name).cloned();
    let bad = || Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message: format!("the row at offset {offset} has ts, record_hash or chain mistyped"),
    };
    let (Some(ts), Some(rh), Some(chain)) = (col("ts"), col("record_hash"), col("chain")) else {
        return Err(bad());
    };
    let ts = ts
        .as_primitive_opt::<TimestampMicrosecondType>()
        .map(|a| a.value(0));
    let rh = rh.as_fixed_size_binary_opt().map(|a| a.value(0));
    let chain = chain.as_fixed_size_binary_opt().map(|a| a.value(0));
    let (Some(ts), Some(rh), Some(chain)) = (ts, rh, chain) else {
        return Err(bad());
    };
    let (Ok(rh), Ok(chain)) = (<Hash>::try_from(rh), <Hash>::try_from(chain)) else {
        return Err(bad());
    };
    Ok(crate::hash::entry(index, ts, &rh, &chain))
}

/// Reads the time and record bytes of the row at `offset` in a segment, with its
/// `record_hash`, checking that the bytes hash to it. The row is not checked against the
/// tree here: a caller that must trust it proves it against a signed root.
pub(crate) fn read_record(path: &Path, offset: u64) -> Result<(i64, Vec<u8>, Hash)> {
    let batch = read_row(path, offset, &["ts", "record", "record_hash"])?;
    let ts = batch
        .column_by_name("ts")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .map(|a| a.value(0));
    let record = batch
        .column_by_name("record")
        .and_then(|c| c.as_binary_opt::<i32>())
        .map(|a| a.value(0).to_vec());
    let rh = batch
        .column_by_name("record_hash")
        .and_then(|c| c.as_fixed_size_binary_opt())
        .and_then(|a| <Hash>::try_from(a.value(0)).ok());
    match (ts, record, rh) {
        (Some(ts), Some(record), Some(rh)) if crate::hash::record_hash(&record) == rh => {
            Ok((ts, record, rh))
        }
        _ => Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: None,
            message: format!(
                "the row at offset {offset} has a record that does not hash to its record_hash"
            ),
        }),
    }
}

/// The columns of a batch of a schema-checked segment, typed.
pub(crate) struct SegmentColumns<'a> {
    pub(crate) ts: &'a arrow_array::PrimitiveArray<TimestampMicrosecondType>,
    pub(crate) record: &'a arrow_array::BinaryArray,
    /// Utf8 columns 2..=9 and 11, 13, 14, by column index.
    strings: [(&'static str, &'a arrow_array::StringArray); 11],
    rule_ids: &'a arrow_array::ListArray,
    rule_id_values: &'a arrow_array::StringArray,
    overhead_us: &'a arrow_array::PrimitiveArray<Int64Type>,
}

impl<'a> SegmentColumns<'a> {
    /// Views a batch read by [`open`] (whose schema was checked there).
    pub(crate) fn new(batch: &'a RecordBatch) -> Self {
        let s = |i: usize| (schemas::COLUMNS[i], batch.column(i).as_string::<i32>());
        let rule_ids = batch.column(10).as_list::<i32>();
        Self {
            ts: batch.column(1).as_primitive::<TimestampMicrosecondType>(),
            record: batch.column(15).as_binary::<i32>(),
            strings: [
                s(2),
                s(3),
                s(4),
                s(5),
                s(6),
                s(7),
                s(8),
                s(9),
                s(11),
                s(13),
                s(14),
            ],
            rule_ids,
            rule_id_values: rule_ids.values().as_string::<i32>(),
            overhead_us: batch.column(12).as_primitive::<Int64Type>(),
        }
    }

    /// The name of the first typed column of `row` that differs from what `record` says, or
    /// `None` when all agree.
    pub(crate) fn typed_mismatch(
        &self,
        row: usize,
        view: &DecisionView<'_>,
    ) -> Option<&'static str> {
        if self.ts.is_null(row) || self.ts.value(row) != view.ts_us {
            return Some("ts");
        }
        let wanted: [Option<&str>; 11] = [
            Some(&view.decision_id),
            Some(view.decision.as_str()),
            view.decision_native.as_deref(),
            view.platform.as_deref(),
            view.engine.as_deref(),
            view.service.as_deref(),
            view.session_id.as_deref(),
            view.tool_name.as_deref(),
            view.rule_set.as_deref(),
            view.outcome.as_deref(),
            view.model.as_deref(),
        ];
        // In column order: decision_id … tool_name, rule_ids, rule_set, overhead_us, outcome, model.
        for (i, ((name, col), want)) in self.strings.iter().zip(wanted).enumerate() {
            if i == 8 && !self.rule_ids_match(row, view) {
                return Some("rule_ids");
            }
            if i == 9
                && (!self.overhead_us.is_null(row)).then(|| self.overhead_us.value(row))
                    != view.overhead_us
            {
                return Some("overhead_us");
            }
            let got = (!col.is_null(row)).then(|| col.value(row));
            if got != want {
                return Some(name);
            }
        }
        None
    }

    fn rule_ids_match(&self, row: usize, view: &DecisionView<'_>) -> bool {
        let offsets = self.rule_ids.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        !self.rule_ids.is_null(row)
            && end - start == view.rule_ids.len()
            && (start..end)
                .zip(&view.rule_ids)
                .all(|(i, w)| !self.rule_id_values.is_null(i) && self.rule_id_values.value(i) == w)
    }
}
