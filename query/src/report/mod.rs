//! The reports: governance overhead statistics, ROI and root-cause analysis of a session.
//! Each is computed by SQL over the trail's views, returned as a serialisable struct, and
//! rendered as text; `crate::plot` draws them.

mod interval;
pub mod overhead;
pub mod rca;
pub mod roi;

use datafusion::arrow::array::{Array, ArrayRef, AsArray as _};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;

use crate::{Error, Result};

/// A time window, as RFC 3339 times (inclusive start, exclusive end).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Window {
    /// Decisions at or after this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Decisions before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl Window {
    /// The SQL condition on `ts` (`TRUE` when open).
    pub(crate) fn condition(&self) -> String {
        let mut parts = vec!["TRUE".to_owned()];
        if let Some(s) = &self.since {
            parts.push(format!("ts >= to_timestamp_micros({})", quote(s)));
        }
        if let Some(u) = &self.until {
            parts.push(format!("ts < to_timestamp_micros({})", quote(u)));
        }
        parts.join(" AND ")
    }
}

/// A SQL string literal.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One column of a result, cast to `ty`, by name.
pub(crate) fn column(batch: &RecordBatch, name: &str, ty: &DataType) -> Result<ArrayRef> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("result has no column {name}")))?;
    cast(col, ty).map_err(|e| Error::Internal(format!("column {name}: {e}")))
}

/// Column `name` as optional strings.
pub(crate) fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let a = column(batch, name, &DataType::Utf8)?;
    let a = a.as_string::<i32>();
    Ok((0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_owned()))
        .collect())
}

/// Column `name` as optional integers.
pub(crate) fn ints(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let a = column(batch, name, &DataType::Int64)?;
    let a = a.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect())
}

/// Column `name` as optional floats.
pub(crate) fn floats(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    let a = column(batch, name, &DataType::Float64)?;
    let a = a.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect())
}

/// Column `name` (a list of strings) as vectors.
pub(crate) fn string_lists(batch: &RecordBatch, name: &str) -> Result<Vec<Vec<String>>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("result has no column {name}")))?;
    let list = col.as_list::<i32>();
    let mut out = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        if list.is_null(i) {
            out.push(Vec::new());
            continue;
        }
        let values = list.value(i);
        let values = cast(&values, &DataType::Utf8)
            .map_err(|e| Error::Internal(format!("column {name}: {e}")))?;
        let values = values.as_string::<i32>();
        out.push(
            (0..values.len())
                .filter(|&j| !values.is_null(j))
                .map(|j| values.value(j).to_owned())
                .collect(),
        );
    }
    Ok(out)
}

/// Formats microseconds as milliseconds with one decimal (`65.3`), or `-`.
pub(crate) fn ms(us: Option<f64>) -> String {
    us.map_or_else(|| "-".to_owned(), |v| format!("{:.1}", v / 1000.0))
}

/// Formats a table of rows with a header, columns left-aligned and padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            if i + 1 < widths.len() {
                s.push_str(&" ".repeat(w - c.chars().count()));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}
