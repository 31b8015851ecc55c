//! Segment summaries (LEDGER-FORMAT.md §13): for each sealed segment, the histogram of
//! `overhead_us` per value of each typed dimension, in log-linear integer buckets, with exact
//! counts, sums, minima and maxima. A query answers overhead statistics from these instead of
//! scanning the segment.
//!
//! Invariant: a summary is a function of the segment's typed columns (themselves derived from
//! the record bytes), computed with integers only, so any implementation recomputes it byte for
//! byte; `verify` does. A summary is a cache, never evidence: a missing one only makes queries
//! scan.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use schemas::DecisionView;

use crate::{Error, Result};

/// The dimensions summarised, by typed column name; `""` is the whole segment.
pub const DIMENSIONS: [&str; 8] = [
    "",
    "service",
    "platform",
    "model",
    "rule_set",
    "tool_name",
    "decision",
    "engine",
];

/// The bucket of an overhead in microseconds: the value itself below 256; above, the top eight
/// significant bits (so a bucket spans less than 1/128 of its lower bound); -1 for negative
/// values.
pub fn bucket(overhead_us: i64) -> i32 {
    if overhead_us < 0 {
        return -1;
    }
    let x = overhead_us as u64;
    if x < 256 {
        return x as i32;
    }
    let e = 63 - x.leading_zeros(); // ≥ 8
    let m = (x >> (e - 7)) as u32; // 128..=255
    (128 * (e - 6) + (m - 128)) as i32
}

/// The largest bucket: that of `i64::MAX`.
pub(crate) const MAX_BUCKET: i32 = 128 * (62 - 6) + 127;

/// The smallest and largest value in a bucket (`None` for the negative bucket and for numbers
/// no overhead maps to).
pub fn bucket_range(bucket: i32) -> Option<(i64, i64)> {
    if !(0..=MAX_BUCKET).contains(&bucket) {
        return None;
    }
    if bucket < 256 {
        return Some((i64::from(bucket), i64::from(bucket)));
    }
    let (e, m) = (bucket / 128 + 6, i128::from(bucket % 128 + 128));
    let shift = (e - 7) as u32;
    let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    Some((clamp(m << shift), clamp(((m + 1) << shift) - 1)))
}

/// The columns of a summary file.
pub fn summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("dimension", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, true),
        Field::new("bucket", DataType::Int32, true),
        Field::new("count", DataType::Int64, false),
        Field::new("sum_us", DataType::Int64, false),
        Field::new("min_us", DataType::Int64, true),
        Field::new("max_us", DataType::Int64, true),
    ]))
}

#[derive(Clone, Copy)]
struct Acc {
    count: i64,
    sum: i64,
    min: i64,
    max: i64,
}

/// Accumulates a segment's summary row by row.
#[derive(Default)]
pub(crate) struct SummaryBuilder {
    /// Per dimension: value → id (0 is "no value").
    values: [HashMap<Box<str>, u32>; 8],
    /// (dimension, value id, bucket or i32::MIN for "unmeasured") → accumulator.
    acc: HashMap<(u8, u32, i32), Acc>,
}

const UNMEASURED: i32 = i32::MIN;

impl SummaryBuilder {
    pub(crate) fn push(&mut self, view: &DecisionView<'_>) {
        let values: [Option<&str>; 8] = [
            Some(""),
            view.service.as_deref(),
            view.platform.as_deref(),
            view.model.as_deref(),
            view.rule_set.as_deref(),
            view.tool_name.as_deref(),
            Some(view.decision.as_str()),
            view.engine.as_deref(),
        ];
        let b = view.overhead_us.map_or(UNMEASURED, bucket);
        let x = view.overhead_us.unwrap_or(0);
        for (d, v) in values.into_iter().enumerate() {
            let id = match v {
                None => 0,
                Some(v) => {
                    let map = &mut self.values[d];
                    match map.get(v) {
                        Some(id) => *id,
                        None => {
                            let id = map.len() as u32 + 1;
                            map.insert(v.into(), id);
                            id
                        }
                    }
                }
            };
            let a = self.acc.entry((d as u8, id, b)).or_insert(Acc {
                count: 0,
                sum: 0,
                min: i64::MAX,
                max: i64::MIN,
            });
            a.count += 1;
            a.sum = a.sum.saturating_add(x);
            a.min = a.min.min(x);
            a.max = a.max.max(x);
        }
    }

    /// The summary as one batch, rows sorted by (dimension order, value, bucket) with absent
    /// values and unmeasured rows first: the same rows always give the same bytes.
    pub(crate) fn finish(self) -> Result<RecordBatch, String> {
        let names: Vec<Vec<Option<&str>>> = self
            .values
            .iter()
            .map(|m| {
                let mut by_id = vec![None; m.len() + 1];
                for (v, id) in m {
                    by_id[*id as usize] = Some(&**v);
                }
                by_id
            })
            .collect();
        let mut rows: Vec<(u8, Option<&str>, Option<i32>, Acc)> = self
            .acc
            .iter()
            .map(|(&(d, id, b), a)| {
                let bucket = (b != UNMEASURED).then_some(b);
                (d, names[d as usize][id as usize], bucket, *a)
            })
            .collect();
        rows.sort_by(|x, y| (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)));
        let n = rows.len();
        let (mut dim, mut value) = (StringBuilder::new(), StringBuilder::new());
        let mut bucket_b = Int32Builder::with_capacity(n);
        let (mut count, mut sum) = (
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
        );
        let (mut min, mut max) = (
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
        );
        for (d, v, b, a) in rows {
            dim.append_value(DIMENSIONS[d as usize]);
            value.append_option(v);
            bucket_b.append_option(b);
            count.append_value(a.count);
            sum.append_value(if b.is_some() { a.sum } else { 0 });
            min.append_option(b.map(|_| a.min));
            max.append_option(b.map(|_| a.max));
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(dim.finish()),
            Arc::new(value.finish()),
            Arc::new(bucket_b.finish()),
            Arc::new(count.finish()),
            Arc::new(sum.finish()),
            Arc::new(min.finish()),
            Arc::new(max.finish()),
        ];
        RecordBatch::try_new(summary_schema(), cols).map_err(|e| e.to_string())
    }
}

/// Encodes a summary as a Parquet file's bytes.
pub(crate) fn encode(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w =
        ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(|e| e.to_string())?;
    w.write(batch).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())
}

/// Recomputes the summary of the segment at `path` from its records and writes it to
/// `target` (temporary name, fsync, rename): for segments sealed without one (by an older build,
/// or a process that stopped between the segment's rename and its summary).
pub(crate) fn rebuild(path: &Path, target: &Path) -> Result<()> {
    let (_, reader) = crate::segment::open(path)?;
    let mut builder = SummaryBuilder::default();
    for batch in reader {
        let batch = batch.map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let cols = crate::segment::SegmentColumns::new(&batch);
        for row in 0..batch.num_rows() {
            let view = DecisionView::parse(cols.record.value(row)).map_err(|e| Error::Corrupt {
                path: path.to_path_buf(),
                offset: None,
                message: format!("row {row} is not a decision: {e}"),
            })?;
            builder.push(&view);
        }
    }
    let fail = |message: String| Error::Parquet {
        path: target.to_path_buf(),
        message,
    };
    let bytes = encode(&builder.finish().map_err(fail)?).map_err(fail)?;
    if let Some(dir) = target.parent() {
        crate::layout::create_private_dir_all(dir).map_err(|source| Error::Io {
            op: "create",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    crate::layout::write_atomic(target, &bytes)
}

/// Reads a summary file into one batch, checking its columns.
pub fn read(path: &Path) -> Result<RecordBatch> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        op: "open",
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| corrupt(format!("not a readable Parquet file: {e}")))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| corrupt(e.to_string()))?;
    let schema = summary_schema();
    for b in &batches {
        let same = b.schema().fields().len() == schema.fields().len()
            && b.schema()
                .fields()
                .iter()
                .zip(schema.fields())
                .all(|(g, w)| g.name() == w.name() && g.data_type() == w.data_type());
        if !same {
            return Err(corrupt("columns differ from the summary schema".into()));
        }
    }
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_contiguous_and_tight() {
        let mut prev = bucket(0);
        assert_eq!(prev, 0);
        for x in 1..300_000i64 {
            let b = bucket(x);
            assert!(b == prev || b == prev + 1, "{x}: {prev} → {b}");
            let (lo, hi) = bucket_range(b).unwrap();
            assert!(lo <= x && x <= hi, "{x} not in {lo}..={hi}");
            // Exact below 256; above, a bucket's width is at most 1/128 of its lower bound.
            if lo < 256 {
                assert_eq!(lo, hi);
            } else {
                assert!((hi - lo + 1) * 128 <= lo, "{x}: {lo}..={hi}");
            }
            prev = b;
        }
        for x in [1i64 << 40, (1 << 53) - 1, i64::MAX] {
            let (lo, hi) = bucket_range(bucket(x)).unwrap();
            assert!(lo <= x && x <= hi);
        }
        assert_eq!(bucket(-5), -1);
        assert_eq!(bucket_range(-1), None);
        assert_eq!(bucket(i64::MAX), MAX_BUCKET);
        assert_eq!(bucket_range(MAX_BUCKET + 1), None);
        assert_eq!(bucket_range(i32::MAX), None);
    }
}
