//! SQL functions: `overhead_bucket(overhead_us)` (the summary bucket), and functions over a
//! record's canonical JSON, for the fields that have no typed column:
//! `json_str(record, '/reason')`, `json_int(record, '/metadata/tokens')`,
//! `json_float(record, '/metadata/overall_pressure')` and `json_text(record, '/tool_input')`
//! (the value as JSON text). Pointers are RFC 6901; a missing value, a value of another type
//! or bytes that are not JSON give NULL, never an error, so one odd record cannot stop a query.
//! Only the values on the pointer's path are parsed into values; the rest is skipped as raw
//! JSON.

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

/// Finds the value at `pointer` in `bytes`. Each level of the path is read as a map (or
/// array) of raw, unparsed values, so only the parts on the path are built; a key with escapes
/// falls back to a full parse.
fn lookup(bytes: &[u8], pointer: &str) -> Option<Value> {
    use serde_json::value::RawValue;
    if pointer.is_empty() {
        return serde_json::from_slice(bytes).ok();
    }
    let mut raw: &RawValue = serde_json::from_slice(bytes).ok()?;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let text = raw.get();
        raw = match text.as_bytes().first() {
            Some(b'{') => {
                match serde_json::from_str::<std::collections::HashMap<&str, &RawValue>>(text) {
                    Ok(map) => *map.get(token.as_str())?,
                    // A key written with escapes cannot be borrowed: parse it all.
                    Err(_) => {
                        let value: Value = serde_json::from_slice(bytes).ok()?;
                        return value.pointer(pointer).cloned();
                    }
                }
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
                let i: usize = token
                    .parse()
                    .ok()
                    .filter(|_| token == "0" || !token.starts_with('0'))?;
                *items.get(i)?
            }
            _ => return None,
        };
    }
    serde_json::from_str(raw.get()).ok()
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::lookup;

    /// The path-only parse agrees with `Value::pointer` on every pointer of a nested record.
    #[test]
    fn lookup_agrees_with_value_pointer() {
        let record =
            json!({"a": {"b": [1, {"c": "x"}], "e~f": 2, "g/h": 3}, "k": null, "s": "t\u{00e9}"});
        let bytes = serde_json::to_vec(&record).unwrap();
        for p in [
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a/b/2",
            "/a/b/01",
            "/a/e~0f",
            "/a/g~1h",
            "/k",
            "/s",
            "/missing",
            "/a/b/1/c/d",
        ] {
            assert_eq!(lookup(&bytes, p), record.pointer(p).cloned(), "{p}");
        }
        // A key with an escape in the record itself takes the slow path, with the same answer.
        let escaped = br#"{"q\"uote": 1, "reason": "r"}"#;
        assert_eq!(lookup(escaped, "/reason"), Some(json!("r")));
        assert_eq!(lookup(b"not json", "/a"), None);
    }
}
