//! SQL functions: `overhead_bucket(overhead_us)` (the summary bucket), and functions over a
//! record's canonical JSON, for the fields that have no typed column:
//! `json_str(record, '/reason')`, `json_int(record, '/metadata/tokens')`,
//! `json_float(record, '/metadata/overall_pressure')` and `json_text(record, '/tool_input')`
//! (the value as JSON text). Pointers are RFC 6901; a missing value, a value of another type
//! or bytes that are not JSON give NULL, never an error, so one odd record cannot stop a query.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, Float64Builder, Int64Builder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use serde_json::Value;

/// What a function returns from the value it finds.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Float,
    Text,
}

/// The JSON functions and `overhead_bucket`, ready to register.
pub(crate) fn all() -> Vec<ScalarUDF> {
    let mut out: Vec<ScalarUDF> = [
        ("json_str", Kind::Str, DataType::Utf8),
        ("json_int", Kind::Int, DataType::Int64),
        ("json_float", Kind::Float, DataType::Float64),
        ("json_text", Kind::Text, DataType::Utf8),
    ]
    .into_iter()
    .map(|(name, kind, ret)| {
        create_udf(
            name,
            vec![DataType::Binary, DataType::Utf8],
            ret,
            Volatility::Immutable,
            Arc::new(move |args: &[ColumnarValue]| eval(name, kind, args)),
        )
    })
    .collect();
    out.push(create_udf(
        "overhead_bucket",
        vec![DataType::Int64],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(bucket),
    ));
    out
}

/// `overhead_bucket(overhead_us)`: the summary bucket of LEDGER-FORMAT.md §13 (NULL stays NULL).
fn bucket(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    use datafusion::arrow::array::{Int32Array, Int64Array};
    let [arg] = args else {
        return Err(DataFusionError::Plan(
            "overhead_bucket(overhead_us) takes one argument".into(),
        ));
    };
    let (array, scalar) = match arg {
        ColumnarValue::Array(a) => (Arc::clone(a), false),
        ColumnarValue::Scalar(s) => (s.to_array()?, true),
    };
    let values = array
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| DataFusionError::Plan("overhead_bucket takes a BIGINT".into()))?;
    let out: ArrayRef = Arc::new(
        values
            .iter()
            .map(|v| v.map(ledger::overhead_bucket))
            .collect::<Int32Array>(),
    );
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// Finds the value at `pointer` in `bytes` (the whole record is parsed: one parse per
/// function call and row).
fn lookup(bytes: &[u8], pointer: &str) -> Option<Value> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if pointer.is_empty() {
        return Some(value);
    }
    value.pointer(pointer).cloned()
}

fn eval(name: &str, kind: Kind, args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let [records, pointer] = args else {
        return Err(DataFusionError::Plan(format!(
            "{name}(record, pointer) takes two arguments"
        )));
    };
    let pointer = match pointer {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(p))) => p.clone(),
        _ => {
            return Err(DataFusionError::Plan(format!(
                "{name}: the pointer must be a constant string such as '/reason'"
            )));
        }
    };
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(DataFusionError::Plan(format!(
            "{name}: '{pointer}' is not a JSON pointer (RFC 6901 pointers start with '/')"
        )));
    }
    let (array, scalar) = match records {
        ColumnarValue::Array(a) => (Arc::clone(a), false),
        ColumnarValue::Scalar(s) => (s.to_array()?, true),
    };
    let records = binary_values(&array, name)?;
    let n = records.len();
    let out: ArrayRef = match kind {
        Kind::Str | Kind::Text => {
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for i in 0..n {
                let v = (!records.is_null(i))
                    .then(|| lookup(records.value(i), &pointer))
                    .flatten();
                match (kind, v) {
                    (Kind::Str, Some(Value::String(s))) => b.append_value(s),
                    (Kind::Text, Some(v)) => b.append_value(v.to_string()),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        Kind::Int => {
            let mut b = Int64Builder::with_capacity(n);
            for i in 0..n {
                let v = (!records.is_null(i))
                    .then(|| lookup(records.value(i), &pointer))
                    .flatten();
                b.append_option(v.and_then(|v| v.as_i64()));
            }
            Arc::new(b.finish())
        }
        Kind::Float => {
            let mut b = Float64Builder::with_capacity(n);
            for i in 0..n {
                let v = (!records.is_null(i))
                    .then(|| lookup(records.value(i), &pointer))
                    .flatten();
                b.append_option(v.and_then(|v| v.as_f64()));
            }
            Arc::new(b.finish())
        }
    };
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// The argument as binary values (a string argument is read as its UTF-8 bytes).
fn binary_values(array: &ArrayRef, name: &str) -> Result<BinaryArray, DataFusionError> {
    if let Some(b) = array.as_any().downcast_ref::<BinaryArray>() {
        return Ok(b.clone());
    }
    if let Some(s) = array.as_any().downcast_ref::<StringArray>() {
        return Ok(BinaryArray::from_iter(
            s.iter().map(|v| v.map(str::as_bytes)),
        ));
    }
    Err(DataFusionError::Plan(format!(
        "{name}: the first argument must be `record` or a JSON string, not {}",
        array.data_type()
    )))
}
