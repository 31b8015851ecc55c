//! The sealed runs as the threads that look records up before the writer see them.

use super::{Prefix, Probe, Run};
use crate::Result;

/// The runs of a ledger's sealed segments, in index order, shared between the writer (which
/// adds a run after each seal, and a merged run in place of those it merges) and the threads
/// that submit records (which probe the runs before the writer sees the records, so that the
/// writer's thread, the pipeline's bottleneck, does not wait for their cache misses).
///
/// Invariant: the runs cover the sealed records `[0, e)` of the last run's end `e` without gap
/// or overlap, and `e` only grows, so a [`Looked`] that covered `[0, e)` is completed by the
/// writer with the runs that end after `e` (a merged run may straddle `e`: the entries it
/// finds twice change no verdict).
#[derive(Debug, Clone, Default)]
pub(crate) struct SealedIds(
    std::sync::Arc<std::sync::Mutex<std::sync::Arc<Vec<std::sync::Arc<Run>>>>>,
);

impl SealedIds {
    /// The runs as they are now.
    pub(super) fn snapshot(&self) -> std::sync::Arc<Vec<std::sync::Arc<Run>>> {
        std::sync::Arc::clone(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The bytes the runs keep in memory: their filters and fences (their entries stay on
    /// disk). About 2.1 bytes a sealed record (LEDGER-FORMAT.md §15).
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.snapshot()
            .iter()
            .map(|r| ((r.bloom.words.len() + r.fence.len()) * 8) as u64)
            .sum()
    }

    /// How many runs there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Adds a run, in place of the runs it covers (a merged run covers several).
    pub(super) fn put(&self, run: Run) {
        let mut runs = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next: Vec<std::sync::Arc<Run>> = runs
            .iter()
            .filter(|r| !(run.start <= r.start && r.end <= run.end))
            .cloned()
            .collect();
        let at = next.partition_point(|r| r.start < run.start);
        next.insert(at, std::sync::Arc::new(run));
        *runs = std::sync::Arc::new(next);
    }

    /// Looks records up in the sealed runs as they are now (the part of a lookup that does not
    /// need the writer).
    pub(crate) fn look_up(&self, ids: impl ExactSizeIterator<Item = (u64, u64)>) -> Result<Looked> {
        let runs = self.snapshot();
        let ids: Vec<(u64, u64)> = ids.collect();
        let mut hits = Vec::new();
        probe_runs(&runs, &ids, |k, index, prefix| {
            hits.push((k as u32, index, prefix))
        })?;
        Ok(Looked {
            covered: runs.last().map_or(0, |r| r.end),
            count: ids.len(),
            hits,
        })
    }
}

/// What the runs of the sealed records `[0, covered)` hold of a submission's records: each
/// entry of their ids (the record's position in the submission, the entry's index and
/// record-hash prefix), by position. [`super::IdIndex::find_many`] adds what the later runs and the
/// unsealed records hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Looked {
    pub(crate) covered: u64,
    pub(super) count: usize,
    pub(crate) hits: Vec<(u32, u64, Prefix)>,
}

impl Looked {
    /// Nothing looked up yet: every run is left to the writer.
    pub(crate) fn none(count: usize) -> Self {
        Self {
            covered: 0,
            count,
            hits: Vec::new(),
        }
    }
}

/// Calls `hit(k, index, prefix)` for each entry the runs hold of `ids[k]`, in order of `k`.
/// The runs' filters are probed run by run over the whole batch: one id at a time waits for a
/// cache miss per run, a batch overlaps them (the filters of a 10M-record ledger are 20 MiB).
/// Only ids a filter may hold read entries.
pub(super) fn probe_runs(
    runs: &[std::sync::Arc<Run>],
    ids: &[(u64, u64)],
    mut hit: impl FnMut(usize, u64, Prefix),
) -> Result<()> {
    if runs.is_empty() || ids.is_empty() {
        return Ok(());
    }
    let probes: Vec<Probe> = ids.iter().map(|id| Probe::new(id.0)).collect();
    let mut maybe = vec![false; ids.len()];
    for run in runs {
        for (m, p) in maybe.iter_mut().zip(&probes) {
            *m |= run.bloom.may_hold_all_bits(p);
        }
    }
    let mut found = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        if maybe[k] {
            found.clear();
            for run in runs {
                run.find(id, &probes[k], &mut found)?;
            }
            for &(index, prefix) in &found {
                hit(k, index, prefix);
            }
        }
    }
    Ok(())
}
