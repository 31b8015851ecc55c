//! Inclusion proofs an auditor can carry away: C2SP tlog-proof files (draft `c2sp.org/tlog-proof@v1`).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the 81-byte leaf entry (LEDGER-FORMAT.md §3), then the decision id it names>
//! index <leaf index>
//! <base64 sibling hash>          (RFC 9162 inclusion path, leaf to root; one per line)
//!
//! <signed checkpoint note, verbatim>
//! ```
//!
//! Consistency proofs are files in the body format of C2SP tlog-witness `add-checkpoint`:
//!
//! ```text
//! old <size>
//! <base64 hash>                  (RFC 9162 consistency proof, one per line)
//!
//! <signed checkpoint note, verbatim>
//! ```
//!
//! Proofs come from the hash tiles (O(log n), `tiles.rs`) and each is checked against the
//! signed root before it is returned; when tiles are missing or wrong, from the records (O(n)).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{Checkpoint, SignedCheckpoint, parse_decimal};
use crate::hash::{
    CHAIN_GENESIS, ENTRY_LEN, Hash, entry, hash_record, leaf_hash, node_hash, record_hash,
};
use crate::layout::Layout;
use crate::merkle::{verify_consistency, verify_inclusion};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// First line of a tlog-proof file.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// An inclusion proof of one record in a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The record's index.
    pub index: u64,
    /// The 81-byte leaf entry of the record.
    pub entry: [u8; ENTRY_LEN],
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
    /// The checkpoint the proof leads to.
    pub checkpoint: SignedCheckpoint,
    /// The decision id of the record, as the proof names it (LEDGER-FORMAT.md §8): after the
    /// entry in `extra`, unauthenticated until the record is given to [`InclusionProof::verify`].
    /// [`prove`] leaves it out; [`InclusionProof::named`] adds it.
    pub decision_id: Option<String>,
}

/// RFC 9162 MTH over `leaves`.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => crate::hash::empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    1 << (usize::BITS - (n - 1).leading_zeros() - 1)
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[n])`.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 `SUBPROOF(m, D[n], b)`.
fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![mth(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], complete);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// A record's index and leaf entry.
type PickedEntry = Option<(u64, [u8; ENTRY_LEN])>;

/// The leaf hashes of the ledger's first `size` records (O(n): it re-hashes the records), and
/// the leaf entry of the first record `pick(index, record)` chooses.
fn leaves_and_entry(
    dir: &Path,
    size: u64,
    mut pick: impl FnMut(u64, &[u8]) -> bool,
) -> Result<(Vec<Hash>, PickedEntry)> {
    let mut chain = CHAIN_GENESIS;
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut picked = None;
    crate::scan(dir, |idx, ts_us, record| {
        if idx < size {
            let h = hash_record(&chain, idx, ts_us, record);
            chain = h.chain;
            out.push(h.leaf);
            if picked.is_none() && pick(idx, record) {
                picked = Some((idx, entry(idx, ts_us, &h.record_hash, &h.chain)));
            }
        }
    })?;
    Ok((out, picked))
}

fn leaves(dir: &Path, size: u64) -> Result<Vec<Hash>> {
    Ok(leaves_and_entry(dir, size, |_, _| false)?.0)
}

/// The newest checkpoint of the ledger at `dir`.
fn latest(dir: &Path) -> Result<SignedCheckpoint> {
    crate::inspect(dir)?.latest.ok_or_else(|| Error::Layout {
        dir: dir.to_path_buf(),
        message: "the ledger has no checkpoint yet".into(),
    })
}

fn layout_err(dir: &Path, message: String) -> Error {
    Error::Layout {
        dir: dir.to_path_buf(),
        message,
    }
}

/// An RFC 9162 consistency proof from the ledger's first `old_size` records to its newest
/// checkpoint, with that checkpoint and the old tree's root.
pub fn prove_consistency(dir: &Path, old_size: u64) -> Result<ConsistencyProof> {
    let checkpoint = latest(dir)?;
    let (size, root) = (checkpoint.checkpoint.size, checkpoint.checkpoint.root);
    if old_size > size {
        return Err(layout_err(
            dir,
            format!("old size {old_size} is larger than the newest checkpoint's size {size}"),
        ));
    }
    let (path, old_root) = if old_size == 0 {
        (Vec::new(), crate::hash::empty_root())
    } else {
        match crate::tiles::prove_tree(&Layout::new(dir).tiles_dir(), size, &root, old_size) {
            Ok((p, r)) if verify_consistency(old_size, size, &r, &root, &p) => (p, r),
            _ => {
                let leaves = leaves(dir, size)?;
                if mth(&leaves) != root {
                    return Err(layout_err(
                        dir,
                        "the records do not reproduce the newest checkpoint's root; run verify"
                            .into(),
                    ));
                }
                let old = usize::try_from(old_size).unwrap_or(usize::MAX);
                (subproof(old, &leaves, true), mth(&leaves[..old]))
            }
        }
    };
    Ok(ConsistencyProof {
        old_size,
        old_root,
        path,
        checkpoint,
    })
}

/// The RFC 6962 root of the ledger's first `size` records, proven consistent with the newest
/// checkpoint (from tiles; from the records when tiles are missing).
pub fn root_at(dir: &Path, size: u64) -> Result<Hash> {
    Ok(prove_consistency(dir, size)?.old_root)
}

/// The leaf entry of record `index`: read from its segment's pages, or by re-hashing the WAL
/// that holds it from the chain value where the sealed records end.
fn entry_at(dir: &Path, index: u64) -> Result<[u8; ENTRY_LEN]> {
    let layout = Layout::new(dir);
    let segments = layout.segments()?;
    if let Some((start, _, path)) = segments.iter().find(|(s, e, _)| (*s..*e).contains(&index)) {
        return crate::segment::read_entry(path, index - start, index);
    }
    let sealed = segments.last().map_or(0, |s| s.1);
    let mut chain = match segments.last() {
        None => CHAIN_GENESIS,
        Some((_, _, path)) => {
            crate::segment::open(path)?
                .0
                .chain_end
                .ok_or_else(|| Error::Corrupt {
                    path: path.clone(),
                    offset: None,
                    message: "footer has no chain_end hint".into(),
                })?
        }
    };
    let mut next = sealed;
    for (start, path) in layout.wals()? {
        if start < sealed {
            continue;
        }
        let mut reader = crate::wal::WalReader::open(&path)?;
        while let Ok(frame) = reader.next_frame()? {
            if let crate::wal::Frame::Records { records, .. } = frame {
                for r in records {
                    let h = hash_record(&chain, next, r.ts_us, &r.bytes);
                    if next == index {
                        return Ok(entry(index, r.ts_us, &h.record_hash, &h.chain));
                    }
                    chain = h.chain;
                    next += 1;
                }
            }
        }
    }
    Err(layout_err(
        dir,
        format!("the ledger holds no record {index}"),
    ))
}

/// The records at `indices` (any order, each at most once in the answer): [`record_at`] for
/// each, but every WAL that holds some read once, not once per record.
pub fn records_at(dir: &Path, indices: &[u64]) -> Result<BTreeMap<u64, Vec<u8>>> {
    let layout = Layout::new(dir);
    let segments = layout.segments()?;
    let mut out = BTreeMap::new();
    let mut in_wal: Vec<u64> = Vec::new();
    for &index in indices {
        match segments.iter().find(|(s, e, _)| (*s..*e).contains(&index)) {
            Some((start, _, path)) => {
                out.insert(index, crate::segment::read_record(path, index - start)?.1);
            }
            None => in_wal.push(index),
        }
    }
    in_wal.sort_unstable();
    in_wal.dedup();
    for (start, path) in layout.wals()? {
        if in_wal.iter().all(|&i| i < start) {
            continue;
        }
        let mut reader = crate::wal::WalReader::open(&path)?;
        while let Ok(frame) = reader.next_frame()? {
            if let crate::wal::Frame::Records { first, records } = frame {
                for (k, r) in records.into_iter().enumerate() {
                    let i = first + k as u64;
                    if in_wal.binary_search(&i).is_ok() {
                        out.insert(i, r.bytes);
                    }
                }
            }
        }
    }
    if let Some(missing) = in_wal.iter().find(|i| !out.contains_key(i)) {
        return Err(layout_err(
            dir,
            format!("the ledger holds no record {missing}"),
        ));
    }
    Ok(out)
}

/// The time, bytes and record hash of record `index`: from its segment (its bytes checked
/// against the row's `record_hash`), or from the WAL that holds it. Not checked against a
/// signed root: [`prove`] proves the record it names; compare its `record_hash`.
pub fn record_at(dir: &Path, index: u64) -> Result<(i64, Vec<u8>, Hash)> {
    let layout = Layout::new(dir);
    let segments = layout.segments()?;
    if let Some((start, _, path)) = segments.iter().find(|(s, e, _)| (*s..*e).contains(&index)) {
        return crate::segment::read_record(path, index - start);
    }
    for (start, path) in layout.wals()?.into_iter().rev() {
        if start > index {
            continue;
        }
        let mut reader = crate::wal::WalReader::open(&path)?;
        while let Ok(frame) = reader.next_frame()? {
            if let crate::wal::Frame::Records { first, records } = frame
                && (first..first + records.len() as u64).contains(&index)
            {
                let r = records
                    .into_iter()
                    .nth(usize::try_from(index - first).unwrap_or(usize::MAX))
                    .ok_or_else(|| layout_err(dir, format!("no record {index}")))?;
                let h = record_hash(&r.bytes);
                return Ok((r.ts_us, r.bytes, h));
            }
        }
        break;
    }
    Err(layout_err(
        dir,
        format!("the ledger holds no record {index}"),
    ))
}

/// Proves that record `index` is in the ledger's newest checkpoint. `select` may instead pick
/// the record by its bytes (e.g. by decision id): the first record for which it returns true
/// (a scan of the records).
pub fn prove(
    dir: &Path,
    index: Option<u64>,
    select: &dyn Fn(&[u8]) -> bool,
) -> Result<InclusionProof> {
    let checkpoint = latest(dir)?;
    let (size, root) = (checkpoint.checkpoint.size, checkpoint.checkpoint.root);
    let (index, entry) = match index {
        Some(i) if i >= size => {
            return Err(layout_err(
                dir,
                format!("index {i} is not below the newest checkpoint's size {size}"),
            ));
        }
        Some(i) => (i, entry_at(dir, i)?),
        None => leaves_and_entry(dir, size, |_, record| select(record))?
            .1
            .ok_or_else(|| layout_err(dir, "no record matches".into()))?,
    };
    let leaf = leaf_hash(&entry);
    let path = match crate::tiles::prove_record(&Layout::new(dir).tiles_dir(), size, &root, index) {
        Ok(p) if verify_inclusion(index, size, &leaf, &p, &root) => p,
        _ => {
            let leaves = leaves(dir, size)?;
            let at = usize::try_from(index).unwrap_or(usize::MAX);
            if mth(&leaves) != root || leaves.get(at) != Some(&leaf) {
                return Err(layout_err(
                    dir,
                    "the records do not reproduce the newest checkpoint's root; run verify".into(),
                ));
            }
            path(at, &leaves)
        }
    };
    Ok(InclusionProof {
        index,
        entry,
        path,
        checkpoint,
        decision_id: None,
    })
}

/// A proof file's text: its head lines, the path (one base64 hash a line), a blank line, and
/// the checkpoint note.
fn proof_text(mut head: String, path: &[Hash], checkpoint: &SignedCheckpoint) -> String {
    for h in path {
        head.push_str(&B64.encode(h));
        head.push('\n');
    }
    head.push('\n');
    head.push_str(&checkpoint.bytes);
    head
}

/// Splits a proof file into its head lines and its parsed checkpoint note.
fn split_proof(
    text: &[u8],
) -> std::result::Result<(std::str::Split<'_, char>, SignedCheckpoint), String> {
    let text = std::str::from_utf8(text).map_err(|_| "proof is not UTF-8".to_owned())?;
    let (head, note) = text
        .split_once("\n\n")
        .ok_or("proof has no blank line before its checkpoint")?;
    Ok((head.split('\n'), SignedCheckpoint::parse(note.as_bytes())?))
}

/// The path lines of a proof: at most 63 base64 SHA-256 hashes.
fn parse_path<'a>(lines: impl Iterator<Item = &'a str>) -> std::result::Result<Vec<Hash>, String> {
    let path = lines
        .map(|l| B64.decode(l).ok().and_then(|h| h.try_into().ok()))
        .collect::<Option<Vec<Hash>>>()
        .ok_or("a proof line is not a base64 SHA-256 hash")?;
    if path.len() > 63 {
        return Err("proof has more than 63 hashes".into());
    }
    Ok(path)
}

/// A consistency proof from an older tree to a signed checkpoint (LEDGER-FORMAT.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub old_size: u64,
    /// The older tree's root, when the prover knows it (not part of the file).
    pub old_root: Hash,
    /// The RFC 9162 consistency proof.
    pub path: Vec<Hash>,
    /// The newer, signed checkpoint.
    pub checkpoint: SignedCheckpoint,
}

impl ConsistencyProof {
    /// The file text (a tlog-witness `add-checkpoint` body).
    pub fn to_text(&self) -> String {
        proof_text(
            format!("old {}\n", self.old_size),
            &self.path,
            &self.checkpoint,
        )
    }

    /// Parses a consistency-proof file; `old_root` is left zero (the verifier supplies it).
    pub fn parse(text: &[u8]) -> std::result::Result<Self, String> {
        let (mut lines, checkpoint) = split_proof(text)?;
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or("consistency proof does not start with an old line")?;
        let old_size =
            parse_decimal(old).ok_or("old size is not a decimal without leading zeros")?;
        let path = parse_path(lines)?;
        Ok(Self {
            old_size,
            old_root: [0; 32],
            path,
            checkpoint,
        })
    }

    /// Checks the checkpoint against the policy and that the proof leads from `anchor` (a
    /// checkpoint the caller trusts) to it.
    pub fn verify(
        &self,
        policy: &crate::TrustPolicy,
        anchor: &Checkpoint,
    ) -> std::result::Result<(), String> {
        policy
            .check_checkpoint(&self.checkpoint)
            .map_err(|e| format!("checkpoint: {e}"))?;
        let cp = &self.checkpoint.checkpoint;
        if cp.origin != anchor.origin {
            return Err(format!(
                "the checkpoint is for origin {:?}, the anchor for {:?}",
                cp.origin, anchor.origin
            ));
        }
        if self.old_size != anchor.size {
            return Err(format!(
                "the proof starts at size {}, the anchor has size {}",
                self.old_size, anchor.size
            ));
        }
        let ok = match (anchor.size, cp.size) {
            (0, _) => self.path.is_empty(),
            (m, n) if m == n => self.path.is_empty() && anchor.root == cp.root,
            (m, n) => verify_consistency(m, n, &anchor.root, &cp.root, &self.path),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the consistency proof does not lead from the anchor (size {}) to the checkpoint (size {})",
                anchor.size, cp.size
            ))
        }
    }
}

/// The longest decision id a proof names (longer ones are left out).
const MAX_NAME: usize = 1024;

impl InclusionProof {
    /// The proof naming the decision of `record` (its bytes, which the caller read for this
    /// index), when it is a decision with an id of at most 1 KiB.
    #[must_use]
    pub fn named(mut self, record: &[u8]) -> Self {
        self.decision_id = schemas::DecisionView::parse(record)
            .ok()
            .map(|v| v.decision_id.into_owned())
            .filter(|id| id.len() <= MAX_NAME);
        self
    }

    /// The tlog-proof file text.
    pub fn to_text(&self) -> String {
        let mut extra = self.entry.to_vec();
        extra.extend_from_slice(self.decision_id.as_deref().unwrap_or_default().as_bytes());
        let head = format!(
            "{TLOG_PROOF_HEADER}\nextra {}\nindex {}\n",
            B64.encode(&extra),
            self.index
        );
        proof_text(head, &self.path, &self.checkpoint)
    }

    /// Parses a tlog-proof file (signatures are checked by [`InclusionProof::verify`]).
    pub fn parse(text: &[u8]) -> std::result::Result<Self, String> {
        let (mut lines, checkpoint) = split_proof(text)?;
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(format!("proof does not start with {TLOG_PROOF_HEADER}"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or("proof has no extra line with the leaf entry")?;
        let extra = B64
            .decode(extra)
            .ok()
            .filter(|e| e.len() >= ENTRY_LEN && e.len() <= ENTRY_LEN + MAX_NAME)
            .ok_or("extra is not base64 of an 81-byte leaf entry and a decision id")?;
        let (entry, name) = extra.split_at(ENTRY_LEN);
        let entry: [u8; ENTRY_LEN] = entry.try_into().map_err(|_| "short leaf entry")?;
        let decision_id = match name {
            [] => None,
            n => Some(
                String::from_utf8(n.to_vec())
                    .map_err(|_| "the decision id after the leaf entry is not UTF-8")?,
            ),
        };
        let index_line = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or("proof has no index line")?;
        let index =
            parse_decimal(index_line).ok_or("index is not a decimal without leading zeros")?;
        let path = parse_path(lines)?;
        Ok(Self {
            index,
            entry,
            path,
            checkpoint,
            decision_id,
        })
    }

    /// Checks the checkpoint against the policy (a valid log key; the quorum if one is set),
    /// that the entry is at `index`, that the path leads from its leaf to the checkpoint's
    /// root, and, when given, that the record's bytes hash to the entry's record hash.
    pub fn verify(
        &self,
        policy: &crate::TrustPolicy,
        record: Option<&[u8]>,
    ) -> std::result::Result<(), String> {
        policy
            .check_checkpoint(&self.checkpoint)
            .map_err(|e| format!("checkpoint: {e}"))?;
        if self.entry[0] != crate::hash::ENTRY_VERSION
            || u64::from_be_bytes(self.entry[1..9].try_into().unwrap_or_default()) != self.index
        {
            return Err("the leaf entry's version or index differs from the proof's".into());
        }
        if let Some(record) = record {
            if record_hash(record)[..] != self.entry[17..49] {
                return Err("the record does not hash to the entry's record hash".into());
            }
            // The name is not covered by the proof: the record it proves must bear it.
            if let Some(named) = &self.decision_id {
                let id = schemas::DecisionView::parse(record)
                    .ok()
                    .map(|v| v.decision_id.into_owned());
                if id.as_deref() != Some(named.as_str()) {
                    return Err(format!(
                        "the proof names decision {named:?}, the record is {}",
                        id.map_or_else(
                            || "not a decision".to_owned(),
                            |i| format!("decision {i:?}")
                        )
                    ));
                }
            }
        }
        let cp = &self.checkpoint.checkpoint;
        if !verify_inclusion(
            self.index,
            cp.size,
            &leaf_hash(&self.entry),
            &self.path,
            &cp.root,
        ) {
            return Err(format!(
                "the inclusion path does not lead from leaf {} to the root of size {}",
                self.index, cp.size
            ));
        }
        Ok(())
    }
}
