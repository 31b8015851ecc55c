//! Runs of consecutive records as readers hand them on: [`crate::scan_records`] and
//! [`crate::verify_with`]. A run read from a segment shares the decoded Arrow buffers (no copy
//! per record); one read from a WAL is copied once into the same shape.

use arrow_array::builder::BinaryBuilder;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, BinaryArray, PrimitiveArray, RecordBatch};

use crate::segment::ChainColumns;

/// Consecutive records `first..first + len()`: each one's time (µs since the epoch, the value
/// the tree's leaf entry commits to) and canonical bytes.
#[derive(Debug, Clone)]
pub struct Records {
    first: u64,
    ts: PrimitiveArray<TimestampMicrosecondType>,
    bytes: BinaryArray,
}

impl Records {
    /// The rows of a batch read from a schema-checked segment, the first being record `first`.
    pub(crate) fn from_batch(first: u64, batch: &RecordBatch) -> Self {
        let cols = ChainColumns::new(batch);
        Self {
            first,
            ts: cols.ts.clone(),
            bytes: cols.record.clone(),
        }
    }

    /// Records given as `(ts_us, bytes)`, the first being record `first`.
    pub fn new<'a>(first: u64, records: impl IntoIterator<Item = (i64, &'a [u8])>) -> Self {
        let mut ts = Vec::new();
        let mut bytes = BinaryBuilder::new();
        for (t, b) in records {
            ts.push(t);
            bytes.append_value(b);
        }
        Self {
            first,
            ts: PrimitiveArray::from(ts),
            bytes: bytes.finish(),
        }
    }

    /// The index of the first record.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `first() + i`: its index, time and bytes.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn get(&self, i: usize) -> (u64, i64, &[u8]) {
        (self.first + i as u64, self.ts.value(i), self.bytes.value(i))
    }

    /// The records in order: index, time, bytes.
    pub fn iter(&self) -> impl Iterator<Item = (u64, i64, &[u8])> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The records split into runs of at most `max` (at least 1), sharing these buffers.
    pub fn chunks(&self, max: usize) -> impl Iterator<Item = Records> + '_ {
        let max = max.max(1);
        (0..self.len()).step_by(max).map(move |at| {
            let n = max.min(self.len() - at);
            Self {
                first: self.first + at as u64,
                ts: self.ts.slice(at, n),
                bytes: self.bytes.slice(at, n),
            }
        })
    }

    /// The records from index `from` on (all of them when `from <= first()`).
    pub(crate) fn starting_at(&self, from: u64) -> Self {
        let skip = (from.saturating_sub(self.first) as usize).min(self.len());
        Self {
            first: self.first + skip as u64,
            ts: self.ts.slice(skip, self.len() - skip),
            bytes: self.bytes.slice(skip, self.len() - skip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_suffixes_keep_indices_times_and_bytes() {
        let items: Vec<(i64, Vec<u8>)> = (0..10).map(|i| (100 + i, vec![i as u8; 3])).collect();
        let r = Records::new(40, items.iter().map(|(t, b)| (*t, b.as_slice())));
        let all: Vec<_> = r.iter().map(|(i, t, b)| (i, t, b.to_vec())).collect();
        let chunked: Vec<_> = r
            .chunks(4)
            .flat_map(|c| {
                c.iter()
                    .map(|(i, t, b)| (i, t, b.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(all, chunked);
        assert_eq!(r.chunks(4).map(|c| c.len()).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(all[3], (43, 103, vec![3; 3]));
        let tail = r.starting_at(47);
        assert_eq!((tail.first(), tail.len()), (47, 3));
        assert_eq!(tail.get(0), (47, 107, &[7u8; 3][..]));
        assert!(r.starting_at(60).is_empty());
        assert_eq!(r.starting_at(0).len(), 10);
    }
}
