//! The decision-id index (LEDGER-FORMAT.md §15): which decision ids the ledger holds, so that an
//! append is idempotent. A record whose decision id is already in the ledger with the same
//! bytes is a duplicate (not appended again); with other bytes it is a conflict (refused, both
//! indices named). Exact over the whole ledger: ids compare by their 128-bit BLAKE3 hash
//! (`hash::decision_id_hash`), records by their record hash, and nothing else decides.
//!
//! ```text
//! sealed segment [s, e)  ──▶ ids/<s>-<e>.ids   run: header, bloom filter, fence, sorted entries
//! 8 adjacent runs, 1 level ──▶ ids/<s>-<e>.ids  merged run (same format), the 8 removed
//! unsealed records       ──▶ memory            hash map of the WAL's ids (one per WAL)
//! ```
//!
//! A run is a cache: written by the seal after its segment, rebuilt from the segment's
//! `decision_id` and `record_hash` columns when missing or unreadable, never evidence (no
//! verdict reads it). In memory, per sealed record: its bloom filter's 16 bits and a fence word
//! per 64 entries (about 2.1 bytes); per unsealed record: a map entry and its id (about 40
//! bytes). An append probes each run's filter (one cache line) and reads a run's entries
//! (one 2.5 KiB read) only when the filter says the id may be there: a duplicate, or about 0.1%
//! of new ids per run.
//!
//! Invariant: a lookup never misses an id the ledger holds (filters have no false negatives,
//! runs cover every sealed segment, the maps every unsealed record): a false "new" could append
//! a duplicate, and a false "present" is ruled out by comparing hashes.

mod merge;
mod shared;
mod write;

use merge::level;
pub(crate) use merge::merge_runs;
use shared::probe_runs;
pub(crate) use shared::{Looked, SealedIds};
use write::RunWriter;
pub(crate) use write::write_run;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::error::IoContext as _;
use crate::hash::Hash;
use crate::{Error, Result};

/// The first 16 bytes of every run file.
const MAGIC: &[u8; 16] = b"govtrail-ids-v2\n";
/// Magic, then `start`, `end`, `count`, `bloom_blocks` (u64 little-endian each), then the
/// BLAKE3 hash of the filter and the fence (what a load reads whole, so checks whole).
const HEADER: u64 = 80;
/// An entry: id hash (two u64 LE), index (u64 LE), the record hash's first 16 bytes.
const ENTRY: usize = 40;
/// Entries per fence word (one read of a run's entries).
const BLOCK: usize = 64;
/// Filter bits per id: about 0.1% false positives per run, so that an append to a ledger of
/// tens of segments rarely reads a run.
const BITS_PER_ID: u64 = 16;
/// A filter block: 512 bits, one cache line; an id sets 8 bits of one block.
const BLOCK_WORDS: usize = 8;
/// Runs are merged this many at a time (§15): a run's level is ⌊log_MERGE(count /
/// segment_records)⌋, and when `MERGE` adjacent runs share a level they become one run of the
/// next. A ledger of `n` segments then keeps fewer than `MERGE` runs per level, at most about
/// (MERGE − 1) × log_MERGE(n) runs to probe, and each entry is rewritten once per level.
pub(crate) const MERGE: usize = 8;

/// Hashes the map keys here, which are BLAKE3 output already: they are their own hash (the
/// standard SipHash would cost more than the lookup).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `HashMap`s keyed by id hashes.
pub(crate) type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A blocked Bloom filter over ids' first hash word.
#[derive(Debug, Clone)]
struct Bloom {
    words: Vec<u64>,
}

/// splitmix64: the bit positions of an id in its block.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Bloom {
    fn for_ids(n: usize) -> Self {
        let blocks = ((n as u64 * BITS_PER_ID).div_ceil(512)).max(1) as usize;
        Self {
            words: vec![0; blocks * BLOCK_WORDS],
        }
    }

    fn blocks(&self) -> usize {
        self.words.len() / BLOCK_WORDS
    }

    /// The block of an id (whose bits in it are the same in every filter: [`Probe`]).
    fn block(&self, h: u64) -> usize {
        ((u128::from(h) * self.blocks() as u128) >> 64) as usize
    }

    fn insert(&mut self, h: u64) {
        let block = self.block(h);
        for bit in Probe::new(h).bits {
            self.words[block * BLOCK_WORDS + usize::from(bit / 64)] |= 1 << (bit % 64);
        }
    }

    /// [`Bloom::may_hold`] without a branch per bit, so that a loop over many ids issues their
    /// (independent) loads back to back and the CPU overlaps the cache misses.
    fn may_hold_all_bits(&self, p: &Probe) -> bool {
        let words = &self.words[self.block(p.h) * BLOCK_WORDS..][..BLOCK_WORDS];
        let mut all = 1;
        for &bit in &p.bits {
            all &= words[usize::from(bit / 64)] >> (bit % 64);
        }
        all & 1 == 1
    }

    fn may_hold(&self, p: &Probe) -> bool {
        let words = &self.words[self.block(p.h) * BLOCK_WORDS..][..BLOCK_WORDS];
        p.bits
            .iter()
            .all(|&bit| words[usize::from(bit / 64)] & (1 << (bit % 64)) != 0)
    }
}

/// The 8 bits an id sets in its block, computed once for every filter it is looked up in.
#[derive(Debug, Clone, Copy)]
struct Probe {
    h: u64,
    bits: [u16; 8],
}

impl Probe {
    fn new(h: u64) -> Self {
        let (a, b) = (mix(h), mix(h ^ 0x5bd1_e995));
        let mut bits = [0u16; 8];
        for (i, bit) in bits.iter_mut().enumerate() {
            let x = if i < 4 {
                a >> (i * 16)
            } else {
                b >> ((i - 4) * 16)
            };
            *bit = (x & 511) as u16;
        }
        Self { h, bits }
    }
}

/// The first 16 bytes of a record hash: what a duplicate is told by (finding another record
/// with the same id and the same 128 bits costs about 2^128 work).
type Prefix = [u8; 16];

pub(crate) fn prefix(h: &Hash) -> Prefix {
    let mut p = [0u8; 16];
    p.copy_from_slice(&h[..16]);
    p
}

/// One record in a run: its id's hash, its index and its record hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) id: (u64, u64),
    pub(crate) index: u64,
    /// The first 16 bytes of its record hash (what a run keeps).
    pub(crate) record_hash: Prefix,
}

/// The id index of one sealed segment, `ids/<start>-<end>.ids`.
#[derive(Debug)]
struct Run {
    start: u64,
    end: u64,
    count: u64,
    bloom: Bloom,
    /// The first id word of each block of [`BLOCK`] entries.
    fence: Vec<u64>,
    /// Kept open: a lookup that reads entries (a duplicate, or a filter's false positive) is
    /// then one `pread`. (One descriptor per segment: about a thousand at a billion records.)
    file: File,
    path: PathBuf,
    entries_at: u64,
}

fn corrupt(path: &Path, message: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset: None,
        message: message.into(),
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

impl Run {
    /// Reads a run's header, filter and fence (its entries stay on disk).
    fn load(path: &Path, start: u64, end: u64) -> Result<Self> {
        let file = File::open(path).ctx("open", path)?;
        let len = file.metadata().ctx("stat", path)?.len();
        let mut head = [0u8; HEADER as usize];
        file.read_exact_at(&mut head, 0).ctx("read", path)?;
        if &head[..16] != MAGIC {
            return Err(corrupt(path, "not a decision-id run"));
        }
        let (s, e, count, blocks) = (
            u64_at(&head, 16),
            u64_at(&head, 24),
            u64_at(&head, 32),
            u64_at(&head, 40),
        );
        let fences = count.div_ceil(BLOCK as u64);
        let expected = HEADER
            .checked_add(blocks.saturating_mul(64))
            .and_then(|x| x.checked_add(fences * 8))
            .and_then(|x| x.checked_add(count.saturating_mul(ENTRY as u64)));
        if (s, e) != (start, end) || count != end - start || blocks == 0 || expected != Some(len) {
            return Err(corrupt(path, "run does not fit its segment"));
        }
        let mut buf = vec![0u8; (blocks * 64 + fences * 8) as usize];
        file.read_exact_at(&mut buf, HEADER).ctx("read", path)?;
        if blake3::hash(&buf).as_bytes()[..] != head[48..80] {
            return Err(corrupt(
                path,
                "run's filter or fence does not match its hash",
            ));
        }
        let words: Vec<u64> = buf.chunks_exact(8).map(|c| u64_at(c, 0)).collect();
        let split = (blocks as usize) * BLOCK_WORDS;
        Ok(Self {
            start,
            end,
            count,
            bloom: Bloom {
                words: words[..split].to_vec(),
            },
            fence: words[split..].to_vec(),
            file,
            path: path.to_path_buf(),
            entries_at: HEADER + blocks * 64 + fences * 8,
        })
    }

    /// The entries of `id` (an index holds an id once; a ledger written before the index
    /// existed may hold it more than once).
    fn find(&self, id: (u64, u64), probe: &Probe, out: &mut Vec<(u64, Prefix)>) -> Result<()> {
        if !self.bloom.may_hold(probe) {
            return Ok(());
        }
        // Blocks whose range may hold id.0: from the last one starting below it to the last
        // one starting at it.
        let first = self.fence.partition_point(|&f| f < id.0).saturating_sub(1);
        let last = self.fence.partition_point(|&f| f <= id.0);
        let mut buf = [0u8; BLOCK * ENTRY];
        for b in first..last.max(first + 1) {
            let n = (self.count as usize - b * BLOCK).min(BLOCK);
            let bytes = &mut buf[..n * ENTRY];
            self.file
                .read_exact_at(bytes, self.entries_at + (b * BLOCK * ENTRY) as u64)
                .ctx("read", &self.path)?;
            for e in bytes.chunks_exact(ENTRY) {
                if (u64_at(e, 0), u64_at(e, 8)) == id {
                    let mut h = [0u8; 16];
                    h.copy_from_slice(&e[24..40]);
                    out.push((u64_at(e, 16), h));
                }
            }
        }
        Ok(())
    }
}

/// The run entries of a sealed segment, from its `decision_id` and `record_hash` columns.
pub(crate) fn entries_of_segment(path: &Path, start: u64) -> Result<Vec<Entry>> {
    use arrow_array::cast::AsArray as _;
    let (_, reader) = crate::segment::open(path)?;
    let mut out = Vec::new();
    let mut index = start;
    for batch in reader {
        let batch = batch.map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let (Some(ids), Some(hashes)) = (
            batch.column_by_name("decision_id"),
            batch.column_by_name("record_hash"),
        ) else {
            return Err(corrupt(
                path,
                "segment has no decision_id or record_hash column",
            ));
        };
        let (Some(ids), Some(hashes)) = (
            ids.as_string_opt::<i32>(),
            hashes.as_fixed_size_binary_opt(),
        ) else {
            return Err(corrupt(
                path,
                "decision_id or record_hash of an unexpected type",
            ));
        };
        for r in 0..batch.num_rows() {
            let mut h = [0u8; 16];
            h.copy_from_slice(&hashes.value(r)[..16]);
            out.push(Entry {
                id: crate::hash::decision_id_hash(ids.value(r)),
                index,
                record_hash: h,
            });
            index += 1;
        }
    }
    Ok(out)
}

/// The ids of one WAL's records, in memory.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The WAL's first index.
    start: u64,
    /// Each record's id, in index order.
    ids: Vec<(u64, u64)>,
    /// First id word → index of the first record with it.
    first: IdMap<u64, u64>,
    /// Later records whose first id word was already in `first` (rare: a collision, or an id a
    /// ledger written before the index held twice), by that word.
    more: IdMap<u64, Vec<u64>>,
}

impl Tail {
    fn new(start: u64) -> Self {
        Self {
            start,
            ..Self::default()
        }
    }

    /// Room for `n` ids from the start (the size of the WAL before: growing a map of a million
    /// ids one doubling at a time costs more than its lookups).
    fn with_capacity(start: u64, n: usize) -> Self {
        Self {
            start,
            ids: Vec::with_capacity(n),
            first: IdMap::with_capacity_and_hasher(n, Default::default()),
            more: IdMap::default(),
        }
    }

    fn push(&mut self, id: (u64, u64)) {
        use std::collections::hash_map::Entry as Slot;
        let index = self.start + self.ids.len() as u64;
        self.ids.push(id);
        match self.first.entry(id.0) {
            Slot::Occupied(_) => self.more.entry(id.0).or_default().push(index),
            Slot::Vacant(slot) => {
                slot.insert(index);
            }
        }
    }

    fn find(&self, id: (u64, u64), hashes: &[(Hash, Hash)], out: &mut Vec<(u64, Prefix)>) {
        let hit = |index: u64| {
            let at = (index - self.start) as usize;
            (self.ids.get(at) == Some(&id))
                .then(|| hashes.get(at).map(|h| (index, prefix(&h.0))))
                .flatten()
        };
        if let Some(&index) = self.first.get(&id.0) {
            out.extend(hit(index));
            if let Some(more) = self.more.get(&id.0) {
                out.extend(more.iter().filter_map(|&i| hit(i)));
            }
        }
    }
}

/// A WAL's record hashes and chain values, shared with the seal that reads them.
pub(crate) type WalHashes = std::sync::Arc<Vec<(Hash, Hash)>>;

/// The whole index: a run per sealed segment, the ids of the WAL being sealed, and of the
/// current WAL.
#[derive(Debug)]
pub(crate) struct IdIndex {
    /// The ledger directory.
    root: PathBuf,
    /// The ledger's segment size (what a run's level is counted in).
    segment_records: u64,
    /// The runs of the sealed segments, shared with the threads that look records up before
    /// they reach the writer ([`SealedIds`]).
    runs: SealedIds,
    /// The WALs closed but not yet covered by a run (the one a background seal is sealing; one
    /// whose run could not be loaded or rebuilt stays here until the next open), and their
    /// record hashes.
    sealing: Vec<(Tail, WalHashes)>,
    current: Tail,
}

/// What `hits` (the index's entries of a record's id) say of a record with `record_hash`.
fn verdict(hits: &[(u64, Prefix)], record_hash: &Hash) -> Found {
    let record = prefix(record_hash);
    match hits.iter().find(|(_, h)| *h == record) {
        Some(&(index, _)) => Found::Duplicate(index),
        None => hits
            .first()
            .map_or(Found::New, |&(index, _)| Found::Conflict(index)),
    }
}

/// What the index knows of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// No record of its id.
    New,
    /// A record with its id and its bytes, at this index.
    Duplicate(u64),
    /// A record with its id and other bytes, at this index.
    Conflict(u64),
}

impl IdIndex {
    /// The index of a ledger: runs covering its sealed segments (a merged run where one
    /// loads, else the segment's own, loaded or rebuilt from the segment when missing or
    /// unreadable), and the ids of the current WAL (from `start`). Run files no run uses (the
    /// parts of a merge a crash left behind, a merged run that did not load) are removed.
    pub(crate) fn open(
        layout: &crate::layout::Layout,
        segment_records: u64,
        current_start: u64,
        current_ids: Vec<(u64, u64)>,
    ) -> Result<Self> {
        let mut index = Self {
            root: layout.dir().to_path_buf(),
            segment_records,
            runs: SealedIds::default(),
            sealing: Vec::new(),
            current: Tail::new(current_start),
        };
        let dir = layout.dir().join("ids");
        crate::layout::remove_temporaries(&dir)?;
        // The run files there are: start → ends.
        let mut files: HashMap<u64, Vec<u64>> = HashMap::new();
        for ((s, e), _) in layout.id_runs()? {
            files.entry(s).or_default().push(e);
        }
        let segments = layout.segments()?;
        let mut used = std::collections::HashSet::new();
        let mut i = 0;
        while i < segments.len() {
            let (start, end, ref path) = segments[i];
            // The longest merged run from here that ends on a segment's end and loads.
            let mut ends = files.get(&start).cloned().unwrap_or_default();
            ends.sort_unstable_by(|a, b| b.cmp(a));
            let merged = ends.into_iter().filter(|&e| e > end).find_map(|e| {
                let j = segments[i..].iter().position(|s| s.1 == e)?;
                let run = Run::load(&Self::run_path(&index.root, start, e), start, e).ok()?;
                Some((j, run))
            });
            if let Some((j, run)) = merged {
                used.insert((start, run.end));
                index.runs.put(run);
                i += j + 1;
            } else {
                index.add_run(start, end, path)?;
                used.insert((start, end));
                i += 1;
            }
        }
        for (s, ends) in files {
            for e in ends.into_iter().filter(|&e| !used.contains(&(s, e))) {
                let _ = std::fs::remove_file(Self::run_path(&index.root, s, e));
            }
        }
        for id in current_ids {
            index.current.push(id);
        }
        Ok(index)
    }

    /// The runs to merge once segment `[start, end)` has its run (see [`MERGE`]): the first
    /// `MERGE` of the last runs that share a level with it, when there are that many.
    pub(crate) fn merge_plan(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        let runs = self.runs.snapshot();
        if runs.last().map_or(0, |r| r.end) != start {
            return None;
        }
        let mut ranges: Vec<(u64, u64)> = runs.iter().map(|r| (r.start, r.end)).collect();
        ranges.push((start, end));
        let level_of = |r: &(u64, u64)| level(r.1 - r.0, self.segment_records);
        let last = level_of(&(start, end));
        let group = ranges
            .iter()
            .rev()
            .take_while(|r| level_of(r) == last)
            .count();
        (group >= MERGE).then(|| {
            let first = ranges.len() - group;
            ranges[first..first + MERGE].to_vec()
        })
    }

    /// The run file of segment `[start, end)` in the ledger `root`.
    pub(crate) fn run_path(root: &Path, start: u64, end: u64) -> PathBuf {
        root.join("ids").join(format!("{start:020}-{end:020}.ids"))
    }

    /// Loads the run of a sealed segment, rebuilding it from the segment when needed.
    fn add_run(&mut self, start: u64, end: u64, segment: &Path) -> Result<()> {
        let path = Self::run_path(&self.root, start, end);
        let run = match Run::load(&path, start, end) {
            Ok(run) => run,
            Err(_) => {
                write_run(&path, start, end, entries_of_segment(segment, start)?)?;
                Run::load(&path, start, end)?
            }
        };
        self.runs.put(run);
        Ok(())
    }

    /// The sealed runs, for lookups on other threads ([`SealedIds::look_up`]).
    pub(crate) fn sealed_ids(&self) -> SealedIds {
        self.runs.clone()
    }

    /// What the index knows of each of `ids` with its record hash (`current_hashes` are the
    /// current WAL's record hashes), each against the index as it is (not against each other).
    /// `looked` covers `ids` in order, part by part: what each part's submitter found in the
    /// first runs ([`SealedIds::look_up`]); the runs added since, the WALs being sealed and the
    /// current WAL are looked up here.
    pub(crate) fn find_many(
        &self,
        ids: &[(u64, u64)],
        record_hashes: &[Hash],
        current_hashes: &[(Hash, Hash)],
        looked: &[Looked],
    ) -> Result<Vec<Found>> {
        let runs = self.runs.snapshot();
        // Every entry the runs hold of each id: (position, index, prefix), by position.
        let mut held: Vec<(usize, u64, Prefix)> = Vec::new();
        let mut at = 0usize;
        for part in looked {
            let end = (at + part.count).min(ids.len());
            let rest = &runs[runs.partition_point(|r| r.end <= part.covered)..];
            let mut found: Vec<(usize, u64, Prefix)> = part
                .hits
                .iter()
                .map(|&(k, index, prefix)| (at + k as usize, index, prefix))
                .filter(|h| h.0 < end)
                .collect();
            probe_runs(rest, &ids[at..end], |k, index, prefix| {
                found.push((at + k, index, prefix));
            })?;
            found.sort_by_key(|h| h.0);
            held.extend(found);
            at = end;
        }
        if at < ids.len() {
            probe_runs(&runs, &ids[at..], |k, index, prefix| {
                held.push((at + k, index, prefix));
            })?;
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut hits = Vec::new();
        let mut next = held.iter().peekable();
        for (k, (&id, record_hash)) in ids.iter().zip(record_hashes).enumerate() {
            hits.clear();
            while let Some(&(_, index, prefix)) = next.next_if(|h| h.0 == k) {
                hits.push((index, prefix));
            }
            for (tail, hashes) in &self.sealing {
                tail.find(id, hashes, &mut hits);
            }
            self.current.find(id, current_hashes, &mut hits);
            out.push(verdict(&hits, record_hash));
        }
        Ok(out)
    }

    /// Records an appended record's id (its index is the current WAL's next).
    pub(crate) fn push(&mut self, id: (u64, u64)) {
        self.current.push(id);
    }

    /// The current WAL was closed at `end` and is being sealed with these record hashes;
    /// returns its records' ids, in index order, for the seal's run.
    pub(crate) fn rotate(&mut self, end: u64, hashes: WalHashes) -> Vec<(u64, u64)> {
        let room = self.current.ids.len();
        let tail = std::mem::replace(&mut self.current, Tail::with_capacity(end, room));
        let ids = tail.ids.clone();
        self.sealing.push((tail, hashes));
        ids
    }

    /// The WAL being sealed is now segment `[start, end)`: its run replaces its ids in memory.
    pub(crate) fn sealed(&mut self, start: u64, end: u64, segment: &Path) -> Result<()> {
        let covered = self
            .runs
            .snapshot()
            .iter()
            .any(|r| r.start <= start && end <= r.end);
        if !covered {
            // The WAL's ids stay in memory until a run covers them.
            self.add_run(start, end, segment)?;
        }
        self.sealing.retain(|(t, _)| t.start != start);
        Ok(())
    }

    /// A merge (`merge_runs`) wrote the run of `[start, end)`: it replaces the runs it covers,
    /// whose files are then removed. One that does not load, or no longer fits the runs,
    /// leaves them as they are (and the next open removes the file it does not use).
    pub(crate) fn merged(&mut self, start: u64, end: u64) {
        let Ok(run) = Run::load(&Self::run_path(&self.root, start, end), start, end) else {
            return;
        };
        let parts: Vec<(u64, u64)> = self
            .runs
            .snapshot()
            .iter()
            .filter(|r| start <= r.start && r.end <= end)
            .map(|r| (r.start, r.end))
            .collect();
        if parts.first().map(|p| p.0) != Some(start) || parts.last().map(|p| p.1) != Some(end) {
            return;
        }
        self.runs.put(run);
        for (s, e) in parts {
            if (s, e) != (start, end) {
                let _ = std::fs::remove_file(Self::run_path(&self.root, s, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_finds_every_id_it_holds_and_its_filter_few_it_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ids/run.ids");
        let entries: Vec<Entry> = (0..10_000u64)
            .map(|i| Entry {
                id: crate::hash::decision_id_hash(&format!("id-{i}")),
                index: 100 + i,
                record_hash: [i as u8; 16],
            })
            .collect();
        write_run(&path, 100, 10_100, entries.clone()).unwrap();
        let run = Run::load(&path, 100, 10_100).unwrap();
        for e in &entries {
            let mut out = Vec::new();
            run.find(e.id, &Probe::new(e.id.0), &mut out).unwrap();
            assert_eq!(out, [(e.index, e.record_hash)]);
        }
        let maybe = (0..100_000u64)
            .filter(|i| {
                run.bloom.may_hold(&Probe::new(
                    crate::hash::decision_id_hash(&format!("other-{i}")).0,
                ))
            })
            .count();
        assert!(maybe < 300, "{maybe} false positives in 100,000");
        assert!(
            Run::load(&path, 100, 10_101).is_err(),
            "a run of another segment"
        );
    }
}
