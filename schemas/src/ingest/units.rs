//! Splitting an input into units: the elements of a JSON array or of a Tractatus admin API
//! envelope's `decisions`, one whole document, or NDJSON lines (the bad ones rejected), each
//! with the line it starts on.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{Rejected, reject, sha256_hex};

/// One unit of input: its exact text, where it starts, and its place in a container.
pub(super) struct Unit<'a> {
    pub(super) text: &'a str,
    pub(super) line: usize,
    pub(super) container: Option<Map<String, Value>>,
}

/// Line numbers of parts of `all` visited in order, counting only the text between them (a
/// whole-file rescan per element made large arrays quadratic).
struct Lines<'a> {
    all: &'a str,
    at: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(all: &'a str) -> Self {
        Self {
            all,
            at: 0,
            line: 1,
        }
    }

    fn of(&mut self, part: &str) -> usize {
        let offset = (part.as_ptr() as usize)
            .saturating_sub(self.all.as_ptr() as usize)
            .min(self.all.len());
        if offset < self.at {
            (self.at, self.line) = (0, 1);
        }
        self.line += self.all.as_bytes()[self.at..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.at = offset;
        self.line
    }
}

/// Splits the input: a JSON array → its elements; one JSON document (possibly pretty-printed)
/// → itself, or the elements of a Tractatus admin API envelope's `decisions`; else NDJSON
/// lines.
pub(super) fn split<'a>(bytes: &'a [u8], rejected: &mut Vec<Rejected>) -> Option<Vec<Unit<'a>>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            // Reject the lines that are not UTF-8, keep the others.
            return Some(lines_lossy(bytes, rejected));
        }
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => {
                let (mut lines, hash) = (Lines::new(text), sha256_hex(text.as_bytes()));
                Some(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, raw)| Unit {
                            text: raw.get(),
                            line: lines.of(raw.get()),
                            container: Some(container(&hash, i, None)),
                        })
                        .collect(),
                )
            }
            Err(e) => {
                rejected.push(reject(
                    e.line().max(1),
                    "",
                    format!("not a JSON array: {e}"),
                ));
                None
            }
        };
    }
    if let Ok(doc) = serde_json::from_str::<&RawValue>(text) {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            success: bool,
            #[serde(borrow)]
            decisions: Vec<&'a RawValue>,
            #[serde(default)]
            error: Option<String>,
        }
        if let Ok(env) = serde_json::from_str::<Envelope<'_>>(text) {
            if !env.success {
                rejected.push(reject(
                    1,
                    "/success",
                    format!(
                        "the API envelope reports failure: {}",
                        env.error.unwrap_or_default()
                    ),
                ));
                return None;
            }
            let (mut lines, hash) = (Lines::new(text), sha256_hex(text.as_bytes()));
            return Some(
                env.decisions
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| Unit {
                        text: raw.get(),
                        line: lines.of(raw.get()),
                        container: Some(container(&hash, i, Some("tractatus-api"))),
                    })
                    .collect(),
            );
        }
        return Some(vec![Unit {
            text: doc.get(),
            line: Lines::new(text).of(doc.get()),
            container: None,
        }]);
    }
    Some(
        text.split('\n')
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| Unit {
                text: l.trim_end_matches('\r'),
                line: i + 1,
                container: None,
            })
            .collect(),
    )
}

fn lines_lossy<'a>(bytes: &'a [u8], rejected: &mut Vec<Rejected>) -> Vec<Unit<'a>> {
    let mut out = Vec::new();
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(l) {
            Ok(t) if !t.trim().is_empty() => out.push(Unit {
                text: t.trim_end_matches('\r'),
                line: i + 1,
                container: None,
            }),
            Ok(_) => {}
            Err(e) => rejected.push(reject(
                i + 1,
                "",
                format!("not UTF-8 (byte {} of the line)", e.valid_up_to()),
            )),
        }
    }
    out
}

fn container(file_sha256: &str, index: usize, kind: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sha256".into(), Value::String(file_sha256.to_owned()));
    m.insert("index".into(), Value::from(index));
    if let Some(k) = kind {
        m.insert("kind".into(), Value::String(k.into()));
    }
    m
}
