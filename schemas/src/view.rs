//! A fast reader of canonical record bytes into a [`DecisionView`], for verification.
//!
//! Canonical records (RFC 8785, as `canonical.rs` writes them) have no white space, plain ASCII
//! keys and a fixed key order, so the typed fields can be picked out by a single forward scan
//! that skips `tool_input`, `metadata` and `reason` without building values. Anything the scan
//! does not expect (an escaped string, a non-canonical number, an unknown shape) makes it give
//! up, and the caller falls back to serde, which accepts any JSON. A unit test checks that both
//! paths give the same view on random records.

use std::borrow::Cow;

use crate::decision::{DecisionKind, DecisionView};

struct Scan<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    /// Also require RFC 8785 form everywhere (LEDGER-FORMAT.md §2): untyped values are checked
    /// by the canonical checker instead of skipped, integers stay within ±(2^53−1).
    strict: bool,
}

impl<'a> Scan<'a> {
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }

    /// A string without escapes, borrowed.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if self.s[start + len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        self.text.get(start..start + len)
    }

    fn cow(&mut self) -> Option<Cow<'a, str>> {
        self.plain_str().map(Cow::Borrowed)
    }

    fn int(&mut self) -> Option<i64> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = self.s[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        // RFC 8259 numbers have no leading zeros; canonical integers are never "-0".
        if digits == 0 || digits > 16 || (digits > 1 && self.s[self.i] == b'0') {
            return None;
        }
        if self.s[start] == b'-' && digits == 1 && self.s[self.i] == b'0' {
            return None;
        }
        self.i += digits;
        if matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let n: i64 = self.text.get(start..self.i)?.parse().ok()?;
        (!self.strict || n.unsigned_abs() <= crate::MAX_SAFE_INTEGER).then_some(n)
    }

    /// Skips one JSON value of any kind, checking its syntax strictly (RFC 8259 without white
    /// space, at most 128 levels deep); `None` on anything else.
    fn skip_value(&mut self) -> Option<()> {
        self.value(0)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > 128 {
            return None;
        }
        match *self.s.get(self.i)? {
            b'"' => self.string(),
            b'{' => {
                self.i += 1;
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.string()?;
                    self.eat(b':')?;
                    self.value(depth + 1)?;
                    if self.eat(b'}').is_some() {
                        return Some(());
                    }
                    self.eat(b',')?;
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    if self.eat(b']').is_some() {
                        return Some(());
                    }
                    self.eat(b',')?;
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        (self.s.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    fn digits(&mut self) -> usize {
        let n = self.s[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        self.i += n;
        n
    }

    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        if self.eat(b'0').is_none() && self.digits() == 0 {
            return None;
        }
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// A string with any valid escapes.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => match *self.s.get(self.i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                    b'u' => {
                        let hex = self.s.get(self.i + 2..self.i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.i += 6;
                    }
                    _ => return None,
                },
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
    }
}

/// Reads a canonical record; `None` means "not the canonical shape, use serde".
pub(crate) fn scan(bytes: &[u8]) -> Option<DecisionView<'_>> {
    scan_with(bytes, false)
}

/// [`scan`], and the whole record in RFC 8785 form: `Some` proves both (one pass; verification
/// runs it on every record). `None` says neither: the caller asks serde and
/// [`crate::is_canonical`].
pub(crate) fn scan_canonical(bytes: &[u8]) -> Option<DecisionView<'_>> {
    scan_with(bytes, true)
}

fn scan_with(bytes: &[u8], strict: bool) -> Option<DecisionView<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut p = Scan {
        s: bytes,
        text,
        i: 0,
        strict,
    };
    let mut v = DecisionView {
        v: 0,
        decision_id: Cow::Borrowed(""),
        ts_us: 0,
        decision: DecisionKind::Info,
        decision_native: None,
        platform: None,
        engine: None,
        service: None,
        session_id: None,
        tool_name: None,
        rule_ids: Vec::new(),
        rule_set: None,
        overhead_us: None,
        outcome: None,
        model: None,
    };
    let (mut have_v, mut have_id, mut have_ts, mut have_decision) = (false, false, false, false);
    p.eat(b'{')?;
    let mut last_key: &str = "";
    loop {
        let key = p.plain_str()?;
        // Canonical order is strictly increasing; a repeat or disorder is not canonical. (JCS
        // orders by UTF-16 code units, which differ from bytes only beyond ASCII.)
        let ordered = if strict && !(key.is_ascii() && last_key.is_ascii()) {
            crate::canonical::utf16_cmp(last_key, key) == std::cmp::Ordering::Less
        } else {
            key > last_key
        };
        if !ordered {
            return None;
        }
        last_key = key;
        p.eat(b':')?;
        match key {
            "decision" => {
                v.decision = match p.plain_str()? {
                    "allow" => DecisionKind::Allow,
                    "deny" => DecisionKind::Deny,
                    "ask" => DecisionKind::Ask,
                    "warn" => DecisionKind::Warn,
                    "escalate" => DecisionKind::Escalate,
                    "defer" => DecisionKind::Defer,
                    "info" => DecisionKind::Info,
                    "error" => DecisionKind::Error,
                    _ => return None,
                };
                have_decision = true;
            }
            "decision_id" => {
                v.decision_id = Cow::Borrowed(p.plain_str()?);
                have_id = true;
            }
            "decision_native" => v.decision_native = Some(p.cow()?),
            "engine" => v.engine = Some(p.cow()?),
            "model" => v.model = Some(p.cow()?),
            "outcome" => v.outcome = Some(p.cow()?),
            "overhead_us" => v.overhead_us = Some(p.int()?),
            "platform" => v.platform = Some(p.cow()?),
            "rule_ids" => {
                p.eat(b'[')?;
                if p.eat(b']').is_none() {
                    loop {
                        v.rule_ids.push(Cow::Borrowed(p.plain_str()?));
                        if p.eat(b']').is_some() {
                            break;
                        }
                        p.eat(b',')?;
                    }
                }
            }
            "rule_set" => v.rule_set = Some(p.cow()?),
            "service" => v.service = Some(p.cow()?),
            "session_id" => v.session_id = Some(p.cow()?),
            "tool_name" => v.tool_name = Some(p.cow()?),
            "ts_us" => {
                v.ts_us = p.int()?;
                have_ts = true;
            }
            "v" => {
                v.v = u64::try_from(p.int()?).ok()?;
                have_v = true;
            }
            // Other keys (metadata, tool_input, reason, source, …) are not typed: the format
            // says verifiers ignore them (LEDGER-FORMAT.md §7).
            _ if strict => p.i = crate::canonical::canonical_value_end(p.s, p.i)?,
            _ => p.skip_value()?,
        }
        if p.eat(b'}').is_some() {
            break;
        }
        p.eat(b',')?;
    }
    (p.i == bytes.len() && have_v && have_id && have_ts && have_decision).then_some(v)
}

#[cfg(test)]
mod tests {
    use crate::DecisionView;

    #[test]
    fn scan_is_as_strict_as_serde() {
        let ok = br#"{"decision":"deny","decision_id":"x","metadata":{"a":[true,null,-0.5e+3,"\u00e9\n"]},"ts_us":1,"v":1}"#;
        assert!(super::scan(ok).is_some());
        for bad in [
            &br#"{"decision":"deny","decision_id":"x","metadata":{"a":tru},"ts_us":1,"v":1}"#[..],
            br#"{"decision":"deny","decision_id":"x","metadata":{"a":1,,"b":2},"ts_us":1,"v":1}"#,
            br#"{"decision":"deny","decision_id":"x","ts_us":01,"v":1}"#,
            br#"{"decision":"deny","decision_id":"x","reason":"a\qb","ts_us":1,"v":1}"#,
            br#"{"decision":"deny","decision_id":"x","tool_input":01.5,"ts_us":1,"v":1}"#,
            br#"{"decision":"deny","decision_id":"x","ts_us":1,"v":1}junk"#,
        ] {
            assert!(
                super::scan(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert!(
                DecisionView::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
