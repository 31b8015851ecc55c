//! OTLP protobuf (`ExportLogsServiceRequest`, `ExportTraceServiceRequest`) read into the
//! OTLP/JSON shape, so that one mapping serves both encodings (docs/RECORD.md §11).
//!
//! A small wire-format reader over the fields govtrail maps (opentelemetry-proto field numbers);
//! unknown fields are skipped as the protobuf rules say. Each log record or span keeps the exact
//! bytes of its sub-message, and its resource and scope theirs.

use serde_json::{Map, Value};

type R<T> = Result<T, String>;

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32,
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    fn varint(&mut self) -> R<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i).ok_or("truncated varint")?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self
            .i
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or("truncated field")?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }

    /// The next (field number, value), or `None` at the end.
    fn next(&mut self) -> R<Option<(u64, Field<'a>)>> {
        if self.i >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let f = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| "fixed64")?,
            )),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((key >> 3, f)))
    }
}

fn text(b: &[u8]) -> R<Value> {
    std::str::from_utf8(b)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| "a string field is not UTF-8".into())
}

fn hex(b: &[u8]) -> Value {
    Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// How deep AnyValues may nest (arrays and kvlists), like serde_json's recursion limit.
const MAX_DEPTH: usize = 64;

/// AnyValue in its OTLP/JSON form.
fn any_value(b: &[u8]) -> R<Value> {
    any_value_at(b, 0)
}

fn any_value_at(b: &[u8], depth: usize) -> R<Value> {
    if depth > MAX_DEPTH {
        return Err(format!("values nest deeper than {MAX_DEPTH}"));
    }
    let mut r = Reader::new(b);
    let mut out = Map::new();
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(s)) => {
                out.insert("stringValue".into(), text(s)?);
            }
            (2, Field::Varint(v)) => {
                out.insert("boolValue".into(), Value::Bool(v != 0));
            }
            (3, Field::Varint(v)) => {
                out.insert("intValue".into(), Value::String((v as i64).to_string()));
            }
            (4, Field::Fixed64(v)) => {
                let d = f64::from_bits(v);
                let n = serde_json::Number::from_f64(d)
                    .map_or(Value::String(d.to_string()), Value::Number);
                out.insert("doubleValue".into(), n);
            }
            (5 | 6, Field::Bytes(s)) => {
                let mut items = Vec::new();
                let mut rr = Reader::new(s);
                while let Some((m, g)) = rr.next()? {
                    if let (1, Field::Bytes(x)) = (m, g) {
                        items.push(if n == 5 {
                            any_value_at(x, depth + 1)?
                        } else {
                            key_value_at(x, depth + 1)?
                        });
                    }
                }
                let key = if n == 5 { "arrayValue" } else { "kvlistValue" };
                let mut inner = Map::new();
                inner.insert("values".into(), Value::Array(items));
                out.insert(key.into(), Value::Object(inner));
            }
            (7, Field::Bytes(s)) => {
                use base64::Engine as _;
                out.insert(
                    "bytesValue".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
                );
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

fn key_value(b: &[u8]) -> R<Value> {
    key_value_at(b, 0)
}

fn key_value_at(b: &[u8], depth: usize) -> R<Value> {
    let mut r = Reader::new(b);
    let mut out = Map::new();
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(s)) => {
                out.insert("key".into(), text(s)?);
            }
            (2, Field::Bytes(s)) => {
                out.insert("value".into(), any_value_at(s, depth)?);
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

/// Maps one field of a message into its JSON object.
type FieldMap = dyn Fn(u64, Field<'_>, &mut Map<String, Value>) -> R<()>;

/// A message with `attributes` at field `attrs` and the other fields given by `map`.
fn message(b: &[u8], attrs: u64, map: &FieldMap) -> R<Value> {
    let mut r = Reader::new(b);
    let mut out = Map::new();
    let mut list = Vec::new();
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (n, Field::Bytes(s)) if n == attrs => list.push(key_value(s)?),
            (n, f) => map(n, f, &mut out)?,
        }
    }
    if !list.is_empty() {
        out.insert("attributes".into(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

fn nanos(v: u64) -> Value {
    Value::String(v.to_string())
}

fn log_record(b: &[u8]) -> R<Value> {
    message(b, 6, &|n, f, out| {
        match (n, f) {
            (1, Field::Fixed64(v)) => {
                out.insert("timeUnixNano".into(), nanos(v));
            }
            (11, Field::Fixed64(v)) => {
                out.insert("observedTimeUnixNano".into(), nanos(v));
            }
            (2, Field::Varint(v)) => {
                out.insert("severityNumber".into(), Value::from(v));
            }
            (3, Field::Bytes(s)) => {
                out.insert("severityText".into(), text(s)?);
            }
            (5, Field::Bytes(s)) => {
                out.insert("body".into(), any_value(s)?);
            }
            (9, Field::Bytes(s)) => {
                out.insert("traceId".into(), hex(s));
            }
            (10, Field::Bytes(s)) => {
                out.insert("spanId".into(), hex(s));
            }
            (12, Field::Bytes(s)) => {
                out.insert("eventName".into(), text(s)?);
            }
            _ => {}
        }
        Ok(())
    })
}

fn span(b: &[u8]) -> R<Value> {
    message(b, 9, &|n, f, out| {
        match (n, f) {
            (1, Field::Bytes(s)) => {
                out.insert("traceId".into(), hex(s));
            }
            (2, Field::Bytes(s)) => {
                out.insert("spanId".into(), hex(s));
            }
            (4, Field::Bytes(s)) => {
                out.insert("parentSpanId".into(), hex(s));
            }
            (5, Field::Bytes(s)) => {
                out.insert("name".into(), text(s)?);
            }
            (6, Field::Varint(v)) => {
                out.insert("kind".into(), Value::from(v));
            }
            (7, Field::Fixed64(v)) => {
                out.insert("startTimeUnixNano".into(), nanos(v));
            }
            (8, Field::Fixed64(v)) => {
                out.insert("endTimeUnixNano".into(), nanos(v));
            }
            (15, Field::Bytes(s)) => {
                let mut st = Map::new();
                let mut r = Reader::new(s);
                while let Some((m, g)) = r.next()? {
                    match (m, g) {
                        (2, Field::Bytes(x)) => {
                            st.insert("message".into(), text(x)?);
                        }
                        (3, Field::Varint(c)) => {
                            st.insert("code".into(), Value::from(c));
                        }
                        _ => {}
                    }
                }
                out.insert("status".into(), Value::Object(st));
            }
            _ => {}
        }
        Ok(())
    })
}

fn resource(b: &[u8]) -> R<Value> {
    message(b, 1, &|_, _, _| Ok(()))
}

fn scope(b: &[u8]) -> R<Value> {
    message(b, 3, &|n, f, out| {
        match (n, f) {
            (1, Field::Bytes(s)) => {
                out.insert("name".into(), text(s)?);
            }
            (2, Field::Bytes(s)) => {
                out.insert("version".into(), text(s)?);
            }
            _ => {}
        }
        Ok(())
    })
}

/// Which export request `b` is, without `--format`: `Some(true)` for traces, `Some(false)` for
/// logs, `None` when it is neither. Both requests nest resource → scope → record in field 1 →
/// field 2 → field 2; a span's field 1 is its 16-byte trace id (length-delimited), a log
/// record's its time (fixed64), which tells them apart (a request of empty resources is read
/// as traces: it yields nothing either way). Every byte must parse as protobuf.
pub(crate) fn detect(b: &[u8]) -> Option<bool> {
    fn first(b: &[u8], field: u64) -> Option<Option<&[u8]>> {
        let mut r = Reader::new(b);
        let mut found = None;
        while let Some((n, f)) = r.next().ok()? {
            if let (true, Field::Bytes(x)) = (n == field, f) {
                found.get_or_insert(x);
            }
        }
        Some(found)
    }
    let resource = first(b, 1)?;
    let Some(resource) = resource else {
        // Every byte parsed, but no resource: an empty request only if there were no bytes.
        return b.is_empty().then_some(true);
    };
    let Some(scope) = first(resource, 2)? else {
        return Some(true);
    };
    let Some(record) = first(scope, 2)? else {
        return Some(true);
    };
    let mut r = Reader::new(record);
    while let Some((n, f)) = r.next().ok()? {
        match (n, f) {
            (1, Field::Bytes(id)) if id.len() == 16 => return Some(true),
            (1, Field::Fixed64(_)) | (11, Field::Fixed64(_)) => return Some(false),
            _ => {}
        }
    }
    None
}

/// One log record or span, in JSON form, with the bytes it and its parents came from.
pub(crate) struct Item<'a> {
    pub(crate) value: Value,
    pub(crate) bytes: &'a [u8],
    pub(crate) resource: Value,
    pub(crate) resource_bytes: &'a [u8],
    pub(crate) scope_bytes: &'a [u8],
    pub(crate) index: [usize; 3],
}

/// Every log record (`traces` false) or span (`traces` true) of an export request.
pub(crate) fn items(b: &[u8], traces: bool) -> R<Vec<Item<'_>>> {
    let mut out = Vec::new();
    let mut top = Reader::new(b);
    let mut ri = 0;
    while let Some((n, f)) = top.next()? {
        let (1, Field::Bytes(rb)) = (n, f) else {
            continue;
        };
        let (mut res, mut res_bytes, mut scopes) = (Value::Null, &rb[..0], Vec::new());
        let mut r = Reader::new(rb);
        while let Some((m, g)) = r.next()? {
            match (m, g) {
                (1, Field::Bytes(x)) => {
                    res = resource(x)?;
                    res_bytes = x;
                }
                (2, Field::Bytes(x)) => scopes.push(x),
                _ => {}
            }
        }
        for (si, sb) in scopes.into_iter().enumerate() {
            let mut sr = Reader::new(sb);
            let mut scope_bytes = &sb[..0];
            let mut recs = Vec::new();
            while let Some((m, g)) = sr.next()? {
                match (m, g) {
                    (1, Field::Bytes(x)) => {
                        scope(x)?;
                        scope_bytes = x;
                    }
                    (2, Field::Bytes(x)) => recs.push(x),
                    _ => {}
                }
            }
            for (i, rec) in recs.into_iter().enumerate() {
                out.push(Item {
                    value: if traces { span(rec)? } else { log_record(rec)? },
                    bytes: rec,
                    resource: res.clone(),
                    resource_bytes: res_bytes,
                    scope_bytes,
                    index: [ri, si, i],
                });
            }
        }
        ri += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // AnyValue{array_value: ArrayValue{values: AnyValue{…}}} nested 1,000 deep.
        let mut v: Vec<u8> = vec![0x0a, 0x00]; // string_value ""
        for _ in 0..1_000 {
            let mut arr = vec![0x0a];
            arr.extend(varint(v.len()));
            arr.extend(&v);
            let mut any = vec![0x2a];
            any.extend(varint(arr.len()));
            any.extend(arr);
            v = any;
        }
        assert!(super::any_value(&v).is_err());
    }

    fn varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                return out;
            }
        }
    }
}
