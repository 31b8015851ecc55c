//! Inclusion proofs an auditor can carry away: C2SP tlog-proof files (draft `c2sp.org/tlog-proof@v1`).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the 81-byte leaf entry (LEDGER-FORMAT.md §3)>
//! index <leaf index>
//! <base64 sibling hash>          (RFC 9162 inclusion path, leaf to root; one per line)
//!
//! <signed checkpoint note, verbatim>
//! ```
//!
//! Proof generation recomputes the tree from the ledger's records (O(n) per proof); stored
//! tiles, consistency-proof files, witnesses and rotation are issue 4's remaining work.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::SignedCheckpoint;
use crate::hash::{
    CHAIN_GENESIS, ENTRY_LEN, Hash, entry, hash_record, leaf_hash, node_hash, record_hash,
};
use crate::merkle::verify_inclusion;
use crate::note::{NoteFailure, NoteVerifier};
use crate::{Error, Result};

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
    dir: &std::path::Path,
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

fn leaves(dir: &std::path::Path, size: u64) -> Result<Vec<Hash>> {
    Ok(leaves_and_entry(dir, size, |_, _| false)?.0)
}

/// An RFC 9162 consistency proof from the tree of the ledger's first `old_size` records to the
/// tree of its newest checkpoint, with that checkpoint (the proof a witness or an auditor
/// holding an older checkpoint checks with [`crate::merkle::verify_consistency`]).
pub fn prove_consistency(
    dir: &std::path::Path,
    old_size: u64,
) -> Result<(Vec<Hash>, SignedCheckpoint)> {
    let bad = |message: String| Error::Layout {
        dir: dir.to_path_buf(),
        message,
    };
    let checkpoint = crate::inspect(dir)?
        .latest
        .ok_or_else(|| bad("the ledger has no checkpoint yet".into()))?;
    let size = checkpoint.checkpoint.size;
    if old_size == 0 || old_size > size {
        return Err(bad(format!(
            "a consistency proof needs 0 < old size ≤ {size}, the newest checkpoint's size"
        )));
    }
    let leaves = leaves(dir, size)?;
    if leaves.len() as u64 != size || mth(&leaves) != checkpoint.checkpoint.root {
        return Err(bad(
            "the records do not reproduce the newest checkpoint's root; run verify".into(),
        ));
    }
    Ok((subproof(old_size as usize, &leaves, true), checkpoint))
}

/// The RFC 6962 root of the ledger's first `size` records (O(n)).
pub fn root_at(dir: &std::path::Path, size: u64) -> Result<Hash> {
    let leaves = leaves(dir, size)?;
    if leaves.len() as u64 != size {
        return Err(Error::Layout {
            dir: dir.to_path_buf(),
            message: format!(
                "the ledger holds {} committed records, not {size}",
                leaves.len()
            ),
        });
    }
    Ok(mth(&leaves))
}

/// Proves that record `index` is in the ledger's newest checkpoint. `select` may instead pick
/// the record by its bytes (e.g. by decision id): the first record for which it returns true.
pub fn prove(
    dir: &std::path::Path,
    index: Option<u64>,
    select: &dyn Fn(&[u8]) -> bool,
) -> Result<InclusionProof> {
    let Some(checkpoint) = crate::inspect(dir)?.latest else {
        return Err(Error::Layout {
            dir: dir.to_path_buf(),
            message: "the ledger has no checkpoint yet".into(),
        });
    };
    let size = checkpoint.checkpoint.size;
    let not_found = |message: String| Error::Layout {
        dir: dir.to_path_buf(),
        message,
    };
    let (leaves, picked) = leaves_and_entry(dir, size, |idx, record| match index {
        Some(i) => idx == i,
        None => select(record),
    })?;
    let Some((index, entry)) = picked else {
        return Err(not_found(match index {
            Some(i) => format!("index {i} is not below the newest checkpoint's size {size}"),
            None => "no record matches".into(),
        }));
    };
    if leaves.len() as u64 != size || mth(&leaves) != checkpoint.checkpoint.root {
        return Err(not_found(
            "the records do not reproduce the newest checkpoint's root; run verify".into(),
        ));
    }
    Ok(InclusionProof {
        index,
        entry,
        path: path(index as usize, &leaves),
        checkpoint,
    })
}

impl InclusionProof {
    /// The tlog-proof file text.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{TLOG_PROOF_HEADER}\nextra {}\nindex {}\n",
            B64.encode(self.entry),
            self.index
        );
        for h in &self.path {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint.bytes);
        out
    }

    /// Parses a tlog-proof file (signatures are checked by [`InclusionProof::verify`]).
    pub fn parse(text: &[u8]) -> std::result::Result<Self, String> {
        let text = std::str::from_utf8(text).map_err(|_| "proof is not UTF-8".to_owned())?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or("proof has no blank line before its checkpoint")?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(format!("proof does not start with {TLOG_PROOF_HEADER}"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or("proof has no extra line with the leaf entry")?;
        let entry: [u8; ENTRY_LEN] = B64
            .decode(extra)
            .ok()
            .and_then(|e| e.try_into().ok())
            .ok_or("extra is not an 81-byte base64 leaf entry")?;
        let index_line = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or("proof has no index line")?;
        let canonical =
            index_line == "0" || (!index_line.starts_with('0') && !index_line.is_empty());
        let index: u64 = index_line
            .parse()
            .ok()
            .filter(|_| canonical && index_line.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("index is not a decimal without leading zeros")?;
        let path = lines
            .map(|l| B64.decode(l).ok().and_then(|h| h.try_into().ok()))
            .collect::<Option<Vec<Hash>>>()
            .ok_or("a proof line is not a base64 SHA-256 hash")?;
        if path.len() > 63 {
            return Err("proof has more than 63 hashes".into());
        }
        let checkpoint = SignedCheckpoint::parse(note.as_bytes())?;
        Ok(Self {
            index,
            entry,
            path,
            checkpoint,
        })
    }

    /// Checks the checkpoint's signature against trusted keys, that the entry is at `index`,
    /// that the path leads from its leaf to the checkpoint's root, and, when given, that the
    /// record's bytes hash to the entry's record hash.
    pub fn verify(
        &self,
        trusted: &[NoteVerifier],
        record: Option<&[u8]>,
    ) -> std::result::Result<(), String> {
        let origin = &self.checkpoint.checkpoint.origin;
        let keys: Vec<NoteVerifier> = trusted
            .iter()
            .filter(|k| k.name() == origin)
            .cloned()
            .collect();
        self.checkpoint
            .note
            .verify(&keys)
            .map_err(|e: NoteFailure| format!("checkpoint: {e}"))?;
        if self.entry[0] != crate::hash::ENTRY_VERSION
            || u64::from_be_bytes(self.entry[1..9].try_into().unwrap_or_default()) != self.index
        {
            return Err("the leaf entry's version or index differs from the proof's".into());
        }
        if let Some(record) = record
            && record_hash(record)[..] != self.entry[17..49]
        {
            return Err("the record does not hash to the entry's record hash".into());
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
