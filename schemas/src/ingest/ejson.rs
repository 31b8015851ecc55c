//! MongoDB Extended JSON v2 (canonical and relaxed), decoded to plain JSON for the record.
//!
//! `mongoexport` writes relaxed Extended JSON by default and canonical with
//! `--jsonFormat=canonical`. Wrappers become: `$oid` → the lower-case hex string; `$date` → an
//! RFC 3339 UTC string with milliseconds; `$numberInt`/`$numberLong` → integers (strings when
//! outside ±(2^53−1)); `$numberDouble` → a number (non-finite → its string); `$numberDecimal` →
//! its string. Other `$` wrappers are kept verbatim. A wrapper of the wrong shape is an error
//! naming its JSON pointer (docs/RECORD.md §8).

use serde_json::{Map, Number, Value};

use crate::decision::MAX_SAFE_INTEGER;

/// The result of decoding: the plain value, and whether any wrapper was seen.
pub(crate) struct Decoded {
    pub(crate) value: Value,
    pub(crate) wrappers: bool,
    /// A canonical-form wrapper (`$numberLong`, `$numberInt`, `$numberDouble`, or a `$date`
    /// holding `$numberLong`) was seen.
    pub(crate) canonical: bool,
}

/// Decodes every Extended JSON wrapper in the object `m`; `Err((pointer, message))` for a
/// malformed one.
pub(crate) fn decode(m: &Map<String, Value>) -> Result<Decoded, (String, String)> {
    let mut d = Decoded {
        value: Value::Null,
        wrappers: false,
        canonical: false,
    };
    let mut path = Vec::new();
    let mut out = Map::new();
    for (k, x) in m {
        path.push(k.as_str().into());
        out.insert(k.clone(), walk(x, &mut path, &mut d)?);
        path.pop();
    }
    d.value = Value::Object(out);
    Ok(d)
}

/// A path segment: a key, or an array index (the pointer is only built for an error).
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> From<&'a str> for Seg<'a> {
    fn from(k: &'a str) -> Self {
        Seg::Key(k)
    }
}

fn pointer(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for s in path {
        out.push('/');
        match s {
            Seg::Key(k) => out.push_str(&escape(k)),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk<'a>(
    v: &'a Value,
    path: &mut Vec<Seg<'a>>,
    d: &mut Decoded,
) -> Result<Value, (String, String)> {
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, x) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                out.push(walk(x, path, d)?);
                path.pop();
            }
            Ok(Value::Array(out))
        }
        Value::Object(m) => {
            if let Some(plain) = wrapper(m, path, d)? {
                return Ok(plain);
            }
            let mut out = Map::new();
            for (k, x) in m {
                path.push(Seg::Key(k));
                out.insert(k.clone(), walk(x, path, d)?);
                path.pop();
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn bad(path: &[Seg<'_>], key: &str, message: &str) -> (String, String) {
    (
        format!("{}/{}", pointer(path), escape(key)),
        message.to_owned(),
    )
}

/// The plain value of a one-key wrapper object, `None` if `m` is not a wrapper.
fn wrapper(
    m: &Map<String, Value>,
    at: &[Seg<'_>],
    d: &mut Decoded,
) -> Result<Option<Value>, (String, String)> {
    let Some((key, inner)) = m.iter().next().filter(|_| m.len() == 1) else {
        if let Some(k) = m.keys().find(|k| {
            [
                "$oid",
                "$date",
                "$numberLong",
                "$numberInt",
                "$numberDouble",
            ]
            .contains(&k.as_str())
        }) {
            return Err(bad(
                at,
                k,
                "an Extended JSON wrapper must be the object's only key",
            ));
        }
        return Ok(None);
    };
    if !key.starts_with('$') {
        return Ok(None);
    }
    let text = |what: &str| {
        inner
            .as_str()
            .ok_or_else(|| bad(at, key, &format!("{key} must hold a string ({what})")))
    };
    let plain = match key.as_str() {
        "$oid" => {
            let hex = text("24 hex digits")?;
            if hex.len() != 24 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(at, key, "$oid must be 24 hex digits"));
            }
            Value::String(hex.to_ascii_lowercase())
        }
        "$date" => {
            let ms = match inner {
                Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|e| bad(at, key, &format!("$date {s:?} is not RFC 3339: {e}")))?
                    .timestamp_millis(),
                Value::Object(o) if o.len() == 1 => {
                    d.canonical = true;
                    o.get("$numberLong")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<i64>().ok())
                        .ok_or_else(|| {
                            bad(
                                at,
                                key,
                                "$date must hold an RFC 3339 string or {\"$numberLong\": \"<ms>\"}",
                            )
                        })?
                }
                _ => {
                    return Err(bad(
                        at,
                        key,
                        "$date must hold an RFC 3339 string or {\"$numberLong\": \"<ms>\"}",
                    ));
                }
            };
            let t = chrono::DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| bad(at, key, "$date is out of range"))?;
            Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        }
        "$numberLong" | "$numberInt" => {
            d.canonical = true;
            let n: i64 = text("a decimal integer")?
                .parse()
                .map_err(|_| bad(at, key, &format!("{key} must hold a decimal integer")))?;
            if n.unsigned_abs() <= MAX_SAFE_INTEGER {
                Value::Number(n.into())
            } else {
                Value::String(n.to_string())
            }
        }
        "$numberDouble" => {
            d.canonical = true;
            let s = text("a decimal number, Infinity, -Infinity or NaN")?;
            match s.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) if !matches!(s, "Infinity" | "-Infinity" | "NaN") => Value::Number(n),
                _ if matches!(s, "Infinity" | "-Infinity" | "NaN") => Value::String(s.to_owned()),
                _ => return Err(bad(at, key, "$numberDouble must hold a decimal number")),
            }
        }
        "$numberDecimal" => Value::String(text("a decimal")?.to_owned()),
        _ => return Ok(None),
    };
    d.wrappers = true;
    Ok(Some(plain))
}

/// Microseconds since the epoch as RFC 3339 UTC to the millisecond (`2026-11-02T09:00:00.000Z`);
/// the inverse of [`rfc3339_us`] to the millisecond. A time outside chrono's range is empty.
pub fn us_rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Microseconds since the epoch of an RFC 3339 time, `None` if it is not one.
pub fn rfc3339_us(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_and_relaxed_decode_alike_and_bad_shapes_name_the_pointer() {
        let relaxed = json!({"_id": {"$oid": "68FC3A10C1D2E3F4A5B6C701"}, "timestamp": {"$date": "2025-10-25T03:19:07.261Z"}, "n": 5});
        let canonical = json!({"_id": {"$oid": "68fc3a10c1d2e3f4a5b6c701"}, "timestamp": {"$date": {"$numberLong": "1761362347261"}}, "n": {"$numberInt": "5"}});
        let obj = |v: Value| v.as_object().cloned().unwrap();
        let (a, b) = (
            decode(&obj(relaxed)).unwrap(),
            decode(&obj(canonical)).unwrap(),
        );
        assert_eq!(a.value, b.value);
        assert!(!a.canonical && b.canonical && a.wrappers);
        assert_eq!(a.value["timestamp"], "2025-10-25T03:19:07.261Z");
        assert_eq!(
            rfc3339_us("2025-10-25T03:19:07.261Z"),
            Some(1_761_362_347_261_000)
        );
        for (bad, ptr) in [
            (json!({"_id": {"$oid": 7}}), "/_id/$oid"),
            (json!({"t": {"$date": {"$numberLong": "x"}}}), "/t/$date"),
            (
                json!({"v": [{"$numberLong": "1", "extra": 1}]}),
                "/v/0/$numberLong",
            ),
        ] {
            assert_eq!(
                decode(bad.as_object().unwrap())
                    .err()
                    .map(|e| e.0)
                    .as_deref(),
                Some(ptr),
                "{bad}"
            );
        }
        let big = decode(&obj(json!({"x": {"$numberLong": "9007199254740993"}}))).unwrap();
        assert_eq!(big.value["x"], "9007199254740993");
    }
}
