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

/// How NULL reads in a text table (as in DuckDB's and psql's), never like an empty string.
const NULL_TEXT: &str = "NULL";

/// The batches as an aligned text table: NULL as `NULL`, binary columns that hold text (the
/// `record` column: canonical JSON) as that text.
pub fn to_text(batches: &[RecordBatch]) -> Result<String> {
    use datafusion::arrow::util::display::FormatOptions;
    let batches = batches
        .iter()
        .map(binary_as_text)
        .collect::<Result<Vec<_>>>()?;
    datafusion::arrow::util::pretty::pretty_format_batches_with_options(
        &batches,
        &FormatOptions::default().with_null(NULL_TEXT),
    )
    .map(|t| t.to_string())
    .map_err(|e| Error::Internal(format!("formatting a table: {e}")))
}

/// The batches as a JSON array of row objects: every column in every object, NULL as `null`;
/// binary columns that hold text as strings.
pub fn to_json(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let batches = batches
        .iter()
        .map(binary_as_text)
        .collect::<Result<Vec<_>>>()?;
    let mut w = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::JsonArray>(Vec::new());
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

/// The batches as CSV with a header: NULL as an empty field, lists and structs (`rule_ids`) as
/// their JSON text, binary columns that hold text as that text.
pub fn to_csv(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut w = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(Vec::new());
    for b in batches {
        let b = nested_as_json(&binary_as_text(b)?)?;
        w.write(&b)
            .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    }
    Ok(w.into_inner())
}

/// `batch` with each binary column whose every value is UTF-8 cast to text (others as they are).
fn binary_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let text = match f.data_type() {
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                datafusion::arrow::compute::cast(c, &DataType::Utf8).ok()
            }
            _ => None,
        };
        match text {
            Some(t) => {
                fields.push(std::sync::Arc::new(Field::new(
                    f.name(),
                    DataType::Utf8,
                    true,
                )));
                columns.push(t);
            }
            None => {
                fields.push(std::sync::Arc::clone(f));
                columns.push(std::sync::Arc::clone(c));
            }
        }
    }
    RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::Internal(format!("converting binary columns: {e}")))
}

/// `batch` with each nested column (list, struct, map) replaced by its values' JSON text, NULL
/// kept NULL: what CSV, which has no nested values, can hold.
fn nested_as_json(batch: &RecordBatch) -> Result<RecordBatch> {
    use datafusion::arrow::array::{Array as _, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("writing CSV: {e}"));
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        if !f.data_type().is_nested() {
            fields.push(std::sync::Arc::clone(f));
            columns.push(std::sync::Arc::clone(c));
            continue;
        }
        // One column, as JSON lines with explicit nulls; each line's one value.
        let one = RecordBatch::try_new(
            std::sync::Arc::new(Schema::new(vec![Field::new(
                "v",
                f.data_type().clone(),
                true,
            )])),
            vec![std::sync::Arc::clone(c)],
        )
        .map_err(|e| fail(&e))?;
        let mut w = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
        w.write(&one)
            .and_then(|()| w.finish())
            .map_err(|e| fail(&e))?;
        let lines = w.into_inner();
        let mut values = Vec::with_capacity(c.len());
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let row: serde_json::Value = serde_json::from_slice(line).map_err(|e| fail(&e))?;
            values.push(match &row["v"] {
                serde_json::Value::Null => None,
                v => Some(v.to_string()),
            });
        }
        if values.len() != c.len() {
            return Err(fail(&"a nested column's rows did not all convert"));
        }
        fields.push(std::sync::Arc::new(Field::new(
            f.name(),
            DataType::Utf8,
            true,
        )));
        columns.push(std::sync::Arc::new(StringArray::from(values)) as _);
        debug_assert_eq!(columns.last().map(|a| a.len()), Some(c.len()));
    }
    RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns).map_err(|e| fail(&e))
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
