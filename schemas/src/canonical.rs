//! RFC 8785 (JCS) canonical JSON, written directly for the decision record.
//!
//! Keys are emitted in UTF-16 code-unit order, strings with JCS escaping (which is serde_json's:
//! `\"`, `\\`, `\b \f \n \r \t`, other controls as lower-case `\u00xx`, nothing else), integers
//! within ±(2^53−1) in decimal, other numbers in ECMAScript `Number.prototype.toString` form
//! (ryu-js). A unit test checks byte equality with serde_json_canonicalizer on random values.

use serde_json::{Map, Number, Value};

use crate::decision::{Decision, MAX_SAFE_INTEGER};
use crate::{Error, Result};

pub(crate) fn write_decision(d: &Decision, out: &mut Vec<u8>) -> Result<()> {
    let mut w = Obj::new(out);
    // Field names in sorted order (all ASCII, so byte order is UTF-16 order).
    w.opt_str("agent_id", d.agent_id.as_deref());
    w.key("decision");
    str(w.out, d.decision.as_str());
    w.key("decision_id");
    str(w.out, &d.decision_id);
    w.opt_str("decision_native", d.decision_native.as_deref());
    w.opt_str("engine", d.engine.as_deref());
    w.opt_str("event", d.event.as_deref());
    if let Some(m) = &d.extra {
        w.key("extra");
        object(w.out, m)?;
    }
    if let Some(v) = &d.input {
        w.key("input");
        value(w.out, v)?;
    }
    if let Some(m) = &d.metadata {
        w.key("metadata");
        object(w.out, m)?;
    }
    w.opt_str("model", d.model.as_deref());
    w.opt_str("outcome", d.outcome.as_deref());
    w.opt_str("overhead_source", d.overhead_source.as_deref());
    if let Some(n) = d.overhead_us {
        w.key("overhead_us");
        int(w.out, n)?;
    }
    w.opt_str("platform", d.platform.as_deref());
    w.opt_str("prompt_id", d.prompt_id.as_deref());
    w.opt_str("reason", d.reason.as_deref());
    w.str_list("rule_ids", &d.rule_ids);
    w.opt_str("rule_set", d.rule_set.as_deref());
    w.str_list("rules_fired", &d.rules_fired);
    w.opt_str("service", d.service.as_deref());
    w.opt_str("session_id", d.session_id.as_deref());
    if let Some(m) = &d.source {
        w.key("source");
        object(w.out, m)?;
    }
    w.opt_str("source_format", d.source_format.as_deref());
    w.opt_str("span_id", d.span_id.as_deref());
    if let Some(v) = &d.tool_input {
        w.key("tool_input");
        value(w.out, v)?;
    }
    w.opt_str("tool_name", d.tool_name.as_deref());
    w.opt_str("tool_use_id", d.tool_use_id.as_deref());
    w.opt_str("trace_id", d.trace_id.as_deref());
    w.key("ts_us");
    int(w.out, d.ts_us)?;
    w.key("v");
    int(w.out, i64::try_from(d.v).unwrap_or(i64::MAX))?;
    w.out.push(b'}');
    Ok(())
}

/// True when `bytes` are the RFC 8785 serialisation of the JSON they parse to
/// (LEDGER-FORMAT.md §2): no white space, object keys strictly increasing in UTF-16 code units
/// (so no key twice), only the escapes JCS writes, numbers in ECMAScript form, and integers
/// RFC 8785 keeps. One pass over the bytes, no allocation (verification runs it on every
/// record); the tests check it against re-serialising the parsed value.
pub fn is_canonical(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut c = Check {
        b: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    c.value().is_some() && c.at == c.b.len()
}

/// The `decision_id` of a record's canonical bytes, read without parsing the record (the
/// writer's id index reads every WAL record's on open): keys are sorted (as `write_decision` writes them),
/// so after `{` come only `"agent_id":…,` when present and `"decision":…,`, then the id.
/// `None` for bytes not laid out so (the caller then parses).
pub fn canonical_decision_id(bytes: &[u8]) -> Option<String> {
    use serde::Deserialize as _;
    let text = std::str::from_utf8(bytes).ok()?;
    let b = text.as_bytes();
    let mut i = 1;
    for (key, optional) in [(&br#""agent_id":"#[..], true), (br#""decision":"#, false)] {
        if b.get(i..i + key.len()) == Some(key) {
            i = canonical_value_end(b, i + key.len())?;
            if b.get(i) != Some(&b',') {
                return None;
            }
            i += 1;
        } else if !optional {
            return None;
        }
    }
    let key = br#""decision_id":"#;
    if b.get(i..i + key.len()) != Some(&key[..]) {
        return None;
    }
    let mut de = serde_json::Deserializer::from_slice(&b[i + key.len()..]);
    String::deserialize(&mut de).ok()
}

/// Where the canonical JSON value starting at `at` in `b` (valid UTF-8) ends, if it is one.
pub(crate) fn canonical_value_end(b: &[u8], at: usize) -> Option<usize> {
    let mut c = Check { b, at, depth: 1 };
    c.value()?;
    Some(c.at)
}

/// The canonical-form checker's cursor over valid UTF-8.
struct Check<'a> {
    b: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Check<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.at..]
            .starts_with(word)
            .then(|| self.at += word.len())
    }

    fn nest(&mut self) -> Option<()> {
        // serde_json, which wrote the record, refuses deeper nesting too.
        self.depth += 1;
        (self.depth <= 128).then_some(())
    }

    fn array(&mut self) -> Option<()> {
        self.nest()?;
        self.eat(b'[')?;
        if self.eat(b']').is_none() {
            loop {
                self.value()?;
                if self.eat(b',').is_none() {
                    self.eat(b']')?;
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn object(&mut self) -> Option<()> {
        self.nest()?;
        self.eat(b'{')?;
        if self.eat(b'}').is_none() {
            let bytes: &'a [u8] = self.b;
            let mut prev: Option<&str> = None;
            loop {
                let (s, e) = self.string()?;
                let key = std::str::from_utf8(&bytes[s..e]).ok()?;
                if prev.is_some_and(|p| utf16_cmp(p, key) != std::cmp::Ordering::Less) {
                    return None;
                }
                prev = Some(key);
                self.eat(b':')?;
                self.value()?;
                if self.eat(b',').is_none() {
                    self.eat(b'}')?;
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A canonical string; returns where its raw contents lie (between the quotes, escapes as
    /// written).
    fn string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            // Runs of plain bytes in one step (most strings hold no escape).
            let rest = &self.b[self.at..];
            self.at += rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            // Only control characters without a short form, as `\u00xx`.
                            let hex = self.b.get(self.at + 1..self.at + 5)?;
                            let ok = hex[..2] == *b"00"
                                && matches!(hex[2], b'0' | b'1')
                                && matches!(hex[3], b'0'..=b'9' | b'a'..=b'f')
                                && !matches!(&hex[2..], b"08" | b"09" | b"0a" | b"0c" | b"0d");
                            if !ok {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let end = self.at;
        self.at += 1;
        Some((start, end))
    }

    fn number(&mut self) -> Option<()> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.at]).ok()?;
        let digits = text.strip_prefix('-').unwrap_or(text);
        let integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        if integer && digits.len() <= 16 {
            // Within ±(2^53−1): canonical when it has no leading zero and is not -0.
            let safe = digits.parse::<u64>().is_ok_and(|n| n <= MAX_SAFE_INTEGER);
            if safe {
                return (digits == "0" && text == "0" || !digits.starts_with('0')).then_some(());
            }
        }
        if plain_decimal(digits) {
            return Some(());
        }
        // Anything else is canonical when it is its own ECMAScript form (serde_json reads it as
        // written; RFC 8785 writes a double's shortest round-trip digits).
        let n: Number = text.parse().ok()?;
        let mut out = Vec::with_capacity(text.len());
        number(&mut out, &n).ok()?;
        (out == text.as_bytes()).then_some(())
    }
}

/// A decimal `int.frac` (sign removed) that is its own ECMAScript form without converting it:
/// no leading zero, a fraction not ending in 0, at most 15 significant digits (so it is the
/// shortest digits that give its double: a shorter string giving the same double would be this
/// one with trailing zeros), and at least 1e-6 (below, ECMAScript writes an exponent; at most
/// 15 digits keep it below 1e21). Anything else takes the slow path.
fn plain_decimal(digits: &str) -> bool {
    let Some((int, frac)) = digits.split_once('.') else {
        return false;
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) || frac.ends_with('0') {
        return false;
    }
    if int.len() > 1 && int.starts_with('0') {
        return false;
    }
    let significant = if int == "0" {
        let zeros = frac.len() - frac.trim_start_matches('0').len();
        if zeros > 5 {
            return false;
        }
        frac.len() - zeros
    } else {
        int.len() + frac.len()
    };
    significant <= 15
}

/// Orders two canonical raw strings as JCS does: by the UTF-16 code units of what they decode
/// to. Escapes only stand for characters below U+0020, `"` and `\`, so raw bytes compare like
/// decoded ones except around an escape (decoded then) or characters at or above U+E000
/// (UTF-16 then).
pub(crate) fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let plain = |s: &str| {
        !s.as_bytes().contains(&b'\\') && (s.is_ascii() || !s.chars().any(|c| c >= '\u{e000}'))
    };
    if plain(a) && plain(b) {
        return a.as_bytes().cmp(b.as_bytes());
    }
    let decode = |s: &str| serde_json::from_str::<String>(&format!("\"{s}\"")).unwrap_or_default();
    decode(a).encode_utf16().cmp(decode(b).encode_utf16())
}

/// The reference: re-serialise and compare (tests only).
#[cfg(test)]
fn is_canonical_by_reserialising(bytes: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let mut out = Vec::with_capacity(bytes.len());
    write_value(&mut out, &v).is_ok() && out == bytes
}

/// Writes any I-JSON value canonically (RFC 8785).
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<()> {
    value(out, v)
}

struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    fn str_list(&mut self, k: &str, items: &[String]) {
        if items.is_empty() {
            return;
        }
        self.key(k);
        self.out.push(b'[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            str(self.out, s);
        }
        self.out.push(b']');
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        str(self.out, k);
        self.out.push(b':');
    }

    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.key(k);
            str(self.out, v);
        }
    }
}

fn str(out: &mut Vec<u8>, s: &str) {
    // serde_json's string escaping is exactly JCS's; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn int(out: &mut Vec<u8>, n: i64) -> Result<()> {
    if n.unsigned_abs() > MAX_SAFE_INTEGER {
        return Err(Error::Encode(format!("integer {n} is outside ±(2^53-1)")));
    }
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    Ok(())
}

/// Whether an integer literal keeps its value through RFC 8785 (which reads numbers as IEEE 754
/// doubles): true within ±(2^53−1), and beyond that only when the literal is already the
/// canonical form of its double (e.g. 3000000000000000000).
pub(crate) fn exact_integer(n: &Number) -> bool {
    let as_f64 = match (n.as_i64(), n.as_u64()) {
        (Some(i), _) if i.unsigned_abs() <= MAX_SAFE_INTEGER => return true,
        (Some(i), _) => i as f64,
        (None, Some(u)) => u as f64,
        (None, None) => return true,
    };
    ryu_js::Buffer::new().format_finite(as_f64) == n.to_string()
}

fn number(out: &mut Vec<u8>, n: &Number) -> Result<()> {
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
        return int(out, i);
    }
    if n.is_i64() || n.is_u64() {
        if !exact_integer(n) {
            return Err(Error::Encode(format!("integer {n} is outside ±(2^53-1)")));
        }
        out.extend_from_slice(n.to_string().as_bytes());
        return Ok(());
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
            Ok(())
        }
        _ => Err(Error::Encode(format!("number {n} is not finite"))),
    }
}

fn value(out: &mut Vec<u8>, v: &Value) -> Result<()> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => number(out, n)?,
        Value::String(s) => str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => object(out, map)?,
    }
    Ok(())
}

fn object(out: &mut Vec<u8>, map: &Map<String, Value>) -> Result<()> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // serde_json's map is ordered by UTF-8 bytes; JCS orders by UTF-16 code units, which differ
    // only when a key holds characters at or above U+E000.
    if map.keys().any(|k| k.chars().any(|c| c >= '\u{e000}')) {
        entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        str(out, k);
        out.push(b':');
        value(out, v)?;
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecisionKind;

    /// xorshift: a seeded generator so that failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Characters JSON writes as they are come first; the rest need escapes.
    const POOL: &[char] = &[
        'a',
        'Z',
        '0',
        ' ',
        '/',
        '\u{7f}',
        'é',
        '€',
        '\u{2028}',
        '\u{e000}',
        '\u{fffd}',
        '😀',
        '\u{10000}',
        '\u{10ffff}',
        ',',
        '}',
        ']',
        ':',
        '"',
        '\\',
        '\n',
        '\t',
        '\u{0}',
        '\u{1f}',
    ];
    const PLAIN: u64 = 18;

    fn string(r: &mut Rng) -> String {
        (0..r.below(8))
            .map(|_| POOL[r.below(POOL.len() as u64) as usize])
            .collect()
    }

    fn plain_string(r: &mut Rng) -> String {
        (0..r.below(8))
            .map(|_| POOL[r.below(PLAIN) as usize])
            .collect()
    }

    fn random_value(r: &mut Rng, depth: u32) -> Value {
        match r.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(r.below(2) == 1),
            2 => {
                let n = (r.next() % (2 * MAX_SAFE_INTEGER)) as i64 - MAX_SAFE_INTEGER as i64;
                Value::from(n >> r.below(53))
            }
            3 => {
                let f = f64::from_bits(r.next());
                Value::from(if f.is_finite() { f } else { 0.5 })
            }
            4 => Value::String(string(r)),
            5 => Value::Array(
                (0..r.below(4))
                    .map(|_| random_value(r, depth + 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..r.below(5))
                    .map(|_| (string(r), random_value(r, depth + 1)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn equals_serde_json_canonicalizer_on_random_records() {
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let mut scanned = 0;
        for case in 0..20_000 {
            // Half the cases keep typed fields free of escapes, so the fast scan reads them.
            let text = if case % 2 == 0 { string } else { plain_string };
            let opt = |r: &mut Rng| (r.below(2) == 1).then(|| text(r));
            let d = Decision {
                v: 1,
                decision_id: text(&mut r),
                ts_us: (r.next() % MAX_SAFE_INTEGER) as i64 - (MAX_SAFE_INTEGER / 2) as i64,
                decision: DecisionKind::Deny,
                decision_native: opt(&mut r),
                platform: opt(&mut r),
                engine: opt(&mut r),
                service: opt(&mut r),
                session_id: opt(&mut r),
                tool_name: opt(&mut r),
                tool_input: Some(random_value(&mut r, 0)).filter(|v| !v.is_null()),
                input: Some(random_value(&mut r, 0)).filter(|v| !v.is_null()),
                reason: opt(&mut r),
                rule_ids: (0..r.below(3)).map(|_| text(&mut r)).collect(),
                rule_set: opt(&mut r),
                overhead_us: (r.below(2) == 1).then(|| r.below(1 << 40) as i64),
                outcome: opt(&mut r),
                model: opt(&mut r),
                metadata: match random_value(&mut r, 1) {
                    Value::Object(m) => Some(m),
                    _ => None,
                },
                event: opt(&mut r),
                source_format: opt(&mut r),
                prompt_id: opt(&mut r),
                tool_use_id: opt(&mut r),
                agent_id: opt(&mut r),
                trace_id: opt(&mut r),
                span_id: opt(&mut r),
                overhead_source: opt(&mut r),
                rules_fired: (0..r.below(3)).map(|_| text(&mut r)).collect(),
                extra: match random_value(&mut r, 1) {
                    Value::Object(m) if r.below(2) == 1 => Some(m),
                    _ => None,
                },
                source: match random_value(&mut r, 1) {
                    Value::Object(m) if r.below(2) == 1 => Some(m),
                    _ => None,
                },
            };
            let mut mine = Vec::new();
            write_decision(&d, &mut mine).unwrap();
            let oracle = serde_json_canonicalizer::to_vec(&d).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&mine),
                String::from_utf8_lossy(&oracle),
                "case {case}"
            );
            // The fast scan and serde read the same view from canonical bytes.
            // (It gives up on escaped strings, which the random strings often hold.)
            if let Some(fast) = crate::view::scan(&mine) {
                scanned += 1;
                assert_eq!(
                    fast,
                    crate::DecisionView::parse_any(&mine).unwrap(),
                    "case {case}: {}",
                    String::from_utf8_lossy(&mine)
                );
            }
            // Idempotent: parsing the canonical bytes and writing again changes nothing.
            let again = Decision::from_json(&mine).unwrap();
            assert_eq!(again.canonical_bytes().unwrap(), mine, "case {case}");
            // The canonical-form check says yes, and agrees with the reference on mutations.
            assert!(is_canonical(&mine), "case {case}");
            let (view, canonical) = crate::DecisionView::parse_checking_canonical(&mine).unwrap();
            assert!(canonical, "case {case}");
            assert_eq!(view, crate::DecisionView::parse_any(&mine).unwrap());
            for m in 0..6 {
                let bent = mutate(&mut r, &mine, m);
                let want = is_canonical_by_reserialising(&bent);
                assert_eq!(
                    is_canonical(&bent),
                    want,
                    "case {case}, mutation {m}: {}",
                    String::from_utf8_lossy(&bent)
                );
                // Verification's one-pass path says the same, and reads the same view.
                if let Ok((view, canonical)) = crate::DecisionView::parse_checking_canonical(&bent)
                {
                    assert_eq!(canonical, want, "case {case}, mutation {m}");
                    if canonical {
                        assert_eq!(view, crate::DecisionView::parse_any(&bent).unwrap());
                    }
                }
            }
        }
        assert!(scanned > 8000, "only {scanned} records took the fast scan");
    }

    /// One edit of canonical bytes: white space, a byte changed, two members swapped, a
    /// number re-spelled, an escape re-spelled, or a member repeated.
    fn mutate(r: &mut Rng, bytes: &[u8], kind: u64) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = r.below(out.len() as u64) as usize;
        match kind {
            0 => out.insert(at, b' '),
            1 => out[at] = b"0123456789,:{}[]\"-e.u\\/ "[r.below(20) as usize],
            2 => {
                let text = String::from_utf8_lossy(bytes).into_owned();
                if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&text) {
                    let mut parts: Vec<String> = m
                        .iter()
                        .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
                        .collect();
                    if parts.len() > 1 {
                        let (i, j) = (r.below(parts.len() as u64) as usize, 0);
                        parts.swap(i, j);
                        if r.below(3) == 0 {
                            let dup = parts[0].clone();
                            parts.push(dup);
                        }
                    }
                    out = format!("{{{}}}", parts.join(",")).into_bytes();
                }
            }
            3 => {
                let text = String::from_utf8_lossy(bytes)
                    .replacen(",\"ts_us\":", ",\"ts_us\":-0", 1)
                    .replacen("e+", "E+", 1)
                    .replacen(".5", ".50", 1);
                out = text.into_bytes();
            }
            4 => {
                let text = String::from_utf8_lossy(bytes)
                    .replacen("\\n", "\\u000a", 1)
                    .replacen("\\u001f", "\\u001F", 1)
                    .replacen('/', "\\/", 1);
                out = text.into_bytes();
            }
            _ => out.splice(at..at, b"1".iter().copied()).for_each(drop),
        }
        out
    }

    #[test]
    fn canonical_check_agrees_with_reserialising_on_edge_cases() {
        for (text, want) in [
            (r#"{"a":1,"b":2}"#, true),
            (r#"{"b":1,"a":2}"#, false),
            (r#"{"a":1,"a":1}"#, false),
            (r#"{"a":-0}"#, false),
            (r#"{"a":0}"#, true),
            (r#"{"a":1.0}"#, false),
            (r#"{"a":1.5}"#, true),
            (r#"{"a":0.000001}"#, true),
            (r#"{"a":0.0000001}"#, false),
            (r#"{"a":1e-7}"#, true),
            (r#"{"a":0.10}"#, false),
            (r#"{"a":00.1}"#, false),
            (r#"{"a":-0.25}"#, true),
            (r#"{"a":123456789012345.6}"#, true),
            (r#"{"a":12345678901234.5}"#, true),
            (r#"{"a":0.30000000000000004}"#, true),
            (r#"{"a":0.3000000000000000}"#, false),
            (r#"{"a":1e21}"#, false),
            (r#"{"a":1e+21}"#, true),
            (r#"{"a":9007199254740993}"#, false),
            (r#"{"a":3000000000000000000}"#, true),
            (r#"{"a":"\u000a"}"#, false),
            (r#"{"a":"\n"}"#, true),
            (r#"{"a":"\u001f"}"#, true),
            (r#"{"a":"\u001F"}"#, false),
            (r#"{"a":"\/"}"#, false),
            (r#"{"\u0001":1,"a":2}"#, true),
            // UTF-16 order: U+10000 is D800 DC00, below U+E000 (UTF-8 orders them the other
            // way round).
            ("{\"\u{e000}\":1,\"\u{10000}\":2}", false),
            ("{\"\u{10000}\":1,\"\u{e000}\":2}", true),
            (r#"{"a":[1,2,{"c":null,"d":true}]}"#, true),
            (r#"{"a":[1, 2]}"#, false),
            (r#" {"a":1}"#, false),
        ] {
            let b = text.as_bytes();
            assert_eq!(is_canonical(b), want, "{text}");
            assert_eq!(is_canonical_by_reserialising(b), want, "{text}");
        }
    }
}

#[cfg(test)]
mod id_tests {
    #[test]
    fn the_decision_id_is_read_from_canonical_bytes_as_a_parse_reads_it() {
        for id in ["a", "with \"quotes\" and \\ and é", "\u{1}", ""] {
            for agent in [None, Some("x\"decision_id\":\"forged")] {
                let mut d = crate::Decision::new(id.into(), 1, crate::DecisionKind::Deny);
                d.agent_id = agent.map(str::to_owned);
                let bytes = d.canonical_bytes().unwrap();
                assert_eq!(super::canonical_decision_id(&bytes).as_deref(), Some(id));
            }
        }
    }
}
