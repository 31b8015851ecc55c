//! [`Record`]: one decision as it is appended, its canonical (RFC 8785) bytes and its time.
//!
//! Invariant: a `Record` holds only a validated decision's canonical bytes, at most
//! [`MAX_RECORD_BYTES`] long.

use schemas::Decision;

use crate::{Error, Result};

/// Largest canonical record the ledger accepts.
pub use schemas::MAX_RECORD_BYTES;

/// A decision ready to append: its canonical bytes and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub(super) ts_us: i64,
    pub(super) bytes: Vec<u8>,
    /// Its decision id's hash (`hash::decision_id_hash`): what the id index keys on.
    pub(crate) id: (u64, u64),
    /// Its record hash (`hash::record_hash` of `bytes`), computed where the record is built
    /// (the caller's thread, not the writer's).
    pub(super) hash: crate::hash::Hash,
}

impl Record {
    /// Canonicalises a decision. `position` names it in errors (e.g. "input.ndjson:12").
    pub fn from_decision(decision: &Decision, position: &dyn std::fmt::Display) -> Result<Self> {
        decision.validate().map_err(|source| Error::Record {
            position: position.to_string(),
            source,
        })?;
        let bytes = decision.canonical_bytes().map_err(|source| Error::Record {
            position: position.to_string(),
            source,
        })?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(Error::TooLarge {
                position: position.to_string(),
                size_bytes: bytes.len(),
                limit_bytes: MAX_RECORD_BYTES,
            });
        }
        Ok(Self {
            ts_us: decision.ts_us,
            hash: crate::hash::record_hash(&bytes),
            bytes,
            id: crate::hash::decision_id_hash(&decision.decision_id),
        })
    }

    /// Parses and canonicalises one JSON decision.
    pub fn from_json(json: &[u8], position: &dyn std::fmt::Display) -> Result<Self> {
        if json.len() > 4 * MAX_RECORD_BYTES {
            return Err(Error::TooLarge {
                position: position.to_string(),
                size_bytes: json.len(),
                limit_bytes: MAX_RECORD_BYTES,
            });
        }
        let decision = Decision::from_json(json).map_err(|source| Error::Record {
            position: position.to_string(),
            source,
        })?;
        Self::from_decision(&decision, position)
    }

    /// The canonical bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The decision time.
    pub fn ts_us(&self) -> i64 {
        self.ts_us
    }
}
