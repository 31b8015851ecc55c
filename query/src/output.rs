//! Query results as text tables, JSON, CSV or Parquet bytes (the caller writes them: queries
//! never write).

use datafusion::arrow::record_batch::RecordBatch;

use crate::{Error, Result};

/// A result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// A JSON array of objects.
    Json,
    /// CSV with a header line.
    Csv,
    /// A Parquet file (zstd).
    Parquet,
}

/// The batches as an aligned text table.
pub fn to_text(batches: &[RecordBatch]) -> Result<String> {
    datafusion::arrow::util::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string())
        .map_err(|e| Error::Internal(format!("formatting a table: {e}")))
}

/// The batches as a JSON array of row objects (nulls omitted).
pub fn to_json(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut w = arrow_json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    w.write_batches(&refs)
        .and_then(|()| w.finish())
        .map_err(|e| Error::Internal(format!("writing JSON: {e}")))?;
    let mut out = w.into_inner();
    if out.is_empty() {
        out.extend_from_slice(b"[]");
    }
    out.push(b'\n');
    Ok(out)
}

/// The batches as CSV with a header.
pub fn to_csv(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut w = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(Vec::new());
    for b in batches {
        w.write(b)
            .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    }
    Ok(w.into_inner())
}

/// The batches as a Parquet file (zstd), in memory.
pub fn to_parquet(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::basic::{Compression, ZstdLevel};
    use datafusion::parquet::file::properties::WriterProperties;
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("writing Parquet: {e}"));
    let schema = batches
        .first()
        .map(RecordBatch::schema)
        .ok_or_else(|| fail(&"the query returned no schema"))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(|e| fail(&e))?;
    for b in batches {
        w.write(b).map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}
