//! Native NDJSON: govtrail's own records, parsed strictly straight into the record.

use crate::decision::Decision;

use super::{Fail, raw_source};

pub(super) fn native(text: &str) -> Result<Decision, Fail> {
    let mut d = Decision::from_json(text.as_bytes()).map_err(|e| match e {
        crate::Error::Invalid { pointer, message } => (pointer, message),
        other => (String::new(), other.to_string()),
    })?;
    // A native line is its record; when it is not already canonical, keep its exact text so
    // that the source bytes stay recoverable (docs/RECORD.md §4d).
    if d.source.is_none() {
        let canonical = d
            .canonical_bytes()
            .map_err(|e| (String::new(), e.to_string()))?;
        if canonical != text.as_bytes() {
            d.source = Some(raw_source(text));
        }
    }
    Ok(d)
}
