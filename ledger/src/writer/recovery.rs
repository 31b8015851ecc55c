//! Recovery when a ledger is opened ([`Ledger::open`](super::Ledger::open)): re-hashing each WAL
//! up to its last valid checkpoint frame ([`WalRecovery`]), reloading or rebuilding the hash
//! tiles, and the checks that keep the writer from signing over state it cannot verify under its
//! own keys (LEDGER-FORMAT.md §5.1).
//!
//! Invariants: a WAL counts only up to the end of its last checkpoint frame that this ledger's
//! key signed and that matches the records before it; the sealed prefix must reproduce the
//! checkpoint the writer signed for its end; no checkpoint the writer signed may lie beyond the
//! records found. Damage these checks find is refused with an error naming the file, not
//! repaired; only the tail of an unfinished commit is cut.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint::SignedCheckpoint;
use crate::error::IoContext as _;
use crate::hash::{CHAIN_GENESIS, Hash, hash_record};
use crate::layout::Layout;
use crate::merkle::Frontier;
use crate::note::NoteSigner;
use crate::tiles::TileBuilder;
use crate::wal::{self, Frame, Tail, WalReader};
use crate::{Error, Result};

/// What recovery did when the ledger was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end of the WAL (an interrupted, unacknowledged commit).
    pub cut_bytes: u64,
    /// Why the tail was cut.
    pub cut_reason: Option<String>,
    /// Sealed WAL files removed (their segment was already complete).
    pub removed_wals: usize,
    /// Whether a full WAL was sealed into a segment on open.
    pub sealed: bool,
    /// Segment summaries recomputed because they were missing.
    pub rebuilt_summaries: usize,
}

/// What re-hashing one WAL found ([`replay_wal`]): the committed part, and why the rest (if any)
/// is cut.
pub(super) struct WalRecovery {
    pub(super) valid_len: u64,
    pub(super) file_len: u64,
    pub(super) hashes: Vec<(Hash, Hash)>,
    /// Each committed record's decision-id hash (`hash::decision_id_hash`).
    pub(super) ids: Vec<(u64, u64)>,
    pub(super) leaves: Vec<Hash>,
    pub(super) checkpoint: Option<SignedCheckpoint>,
    pub(super) cut_reason: Option<String>,
}

/// The tiles of the recovered tree: as found on disk when they reproduce it; else those of the
/// sealed prefix plus the WALs' leaves; else rebuilt from every record. `None` if writing fails.
pub(super) fn open_tiles(
    layout: &Layout,
    sealed: &Frontier,
    wal_leaves: &[Hash],
    tree: &Frontier,
) -> Option<TileBuilder> {
    let dir = layout.tiles_dir();
    if let Some(tiles) = TileBuilder::load(dir.clone(), tree.size(), &tree.root()) {
        return Some(tiles);
    }
    crate::layout::create_private_dir_all(&dir).ok()?;
    let mut tiles =
        TileBuilder::load(dir.clone(), sealed.size(), &sealed.root()).or_else(|| {
            let mut tiles = TileBuilder::empty(dir.clone()).ok()?;
            let mut chain = CHAIN_GENESIS;
            let mut leaves = Vec::new();
            let mut failed = false;
            crate::scan(layout.dir(), |idx, ts_us, record| {
                if idx < sealed.size() && !failed {
                    let h = hash_record(&chain, idx, ts_us, record);
                    chain = h.chain;
                    leaves.push(h.leaf);
                    if leaves.len() >= 1 << 16 {
                        failed |= tiles.append(&leaves).is_err();
                        leaves.clear();
                    }
                }
            })
            .ok()?;
            failed |= tiles.append(&leaves).is_err();
            (!failed && tiles.size() == sealed.size() && tiles.root_hash() == sealed.root())
                .then_some(tiles)
        })?;
    tiles.append(wal_leaves).ok()?;
    (tiles.root_hash() == tree.root()).then_some(tiles)
}

/// The checkpoints this writer can verify under its own key: its key, and the older keys that
/// key-transition notes it signed (as the new key) hand over from, each valid up to its
/// transition's size.
pub(super) fn own_policy(
    dir: &Path,
    signer: &NoteSigner,
    origin: &str,
) -> Result<crate::TrustPolicy> {
    let mut keys = vec![signer.verifier()];
    for (_, path, bytes) in crate::policy::read_transitions(dir)?.iter().rev() {
        let t = crate::policy::Transition::parse(bytes).map_err(|message| Error::Corrupt {
            path: path.clone(),
            offset: None,
            message,
        })?;
        let vouched = keys.contains(&t.new)
            && t.note
                .signed_by(std::slice::from_ref(&t.new))
                .is_ok_and(|v| !v.is_empty());
        if vouched && !keys.contains(&t.old) {
            keys.push(t.old);
        }
    }
    let mut policy = crate::TrustPolicy::from_keys(keys);
    if let Err(fault) = policy.apply_transitions(dir, origin)? {
        return Err(Error::Corrupt {
            path: Layout::new(dir).keys_dir(),
            offset: None,
            message: format!("a key transition does not check: {fault:?}"),
        });
    }
    Ok(policy)
}

/// Reads and checks the checkpoint stored for `size` against the writer's own keys.
fn own_checkpoint(
    layout: &Layout,
    own: &crate::TrustPolicy,
    size: u64,
    missing: impl FnOnce() -> Error,
) -> Result<SignedCheckpoint> {
    let path = layout.checkpoint(size);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(e).ctx("read", &path),
    };
    let bad = |message: String| Error::Corrupt {
        path: path.clone(),
        offset: None,
        message,
    };
    let cp = SignedCheckpoint::parse(&bytes).map_err(&bad)?;
    own.check_checkpoint(&cp).map_err(|e| {
        bad(format!(
            "not a checkpoint this writer signed ({e}); the writer signs only over state it can verify under its own key"
        ))
    })?;
    if cp.checkpoint.size != size {
        return Err(bad(format!(
            "its size is {}, its name says {size}",
            cp.checkpoint.size
        )));
    }
    Ok(cp)
}

/// The writer's check of the sealed prefix `[0, end)` before it signs anything after it: the
/// last segment's footer hints (`frontier`, `chain_end`) must give the root of the checkpoint
/// the writer signed for `end`, and `chain_end` must be the chain value in the signed tree's
/// last leaf: that leaf (read from the segment's last row) is proven against the signed root
/// by an inclusion path from the tiles, which `tlog_tiles` authenticates against that root;
/// when the tiles cannot give one, the leaves are recomputed from the records (O(n)).
pub(super) fn vouch_sealed(
    layout: &Layout,
    own: &crate::TrustPolicy,
    (start, end, path): (u64, u64, &PathBuf),
    chain_end: &Hash,
    frontier: &Frontier,
) -> Result<()> {
    let refuse = |message: String| Error::Corrupt {
        path: path.clone(),
        offset: None,
        message,
    };
    let cp = own_checkpoint(layout, own, end, || {
        refuse(format!(
            "no checkpoint signed for the end of the sealed records ({} is missing); every seal stores one, so the directory does not match what this writer signed: refusing to sign over it",
            layout.checkpoint(end).display()
        ))
    })?;
    let root = cp.checkpoint.root;
    if frontier.root() != root {
        return Err(refuse(format!(
            "the footer's tree state gives root {} at size {end}, the checkpoint this writer signed for that size says {}: the segment or its hints were changed",
            crate::hash::hex(&frontier.root()),
            crate::hash::hex(&root)
        )));
    }
    let entry = crate::segment::read_entry(path, end - start - 1, end - 1)?;
    let leaf = crate::hash::leaf_hash(&entry);
    let proven = crate::tiles::prove_record(&layout.tiles_dir(), end, &root, end - 1)
        .is_ok_and(|p| crate::merkle::verify_inclusion(end - 1, end, &leaf, &p, &root));
    if !proven {
        // No usable tiles: recompute the tree from the records.
        let mut chain = CHAIN_GENESIS;
        let mut tree = Frontier::new();
        let mut last = None;
        crate::scan(layout.dir(), |idx, ts_us, record| {
            if idx < end {
                let h = hash_record(&chain, idx, ts_us, record);
                chain = h.chain;
                tree.push(h.leaf);
                last = Some(h.leaf);
            }
        })?;
        if tree.size() != end || tree.root() != root || last != Some(leaf) {
            return Err(refuse(format!(
                "the records do not reproduce the checkpoint this writer signed for size {end}: they were changed"
            )));
        }
    }
    let signed_chain = &entry[entry.len() - 32..];
    if signed_chain != chain_end.as_slice() {
        return Err(refuse(format!(
            "the footer's chain hint {} differs from the chain value {} in the signed tree's last leaf: the hints were changed",
            crate::hash::hex(chain_end),
            crate::hash::hex(signed_chain.try_into().unwrap_or(&[0; 32]))
        )));
    }
    Ok(())
}

/// Refuses a ledger holding fewer records than a checkpoint this writer signed: records it
/// vouched for were removed, and signing on would fork the log.
pub(super) fn refuse_signed_beyond(
    layout: &Layout,
    own: &crate::TrustPolicy,
    records: u64,
) -> Result<()> {
    for (size, path) in layout.checkpoints()? {
        if size <= records {
            continue;
        }
        let signed = fs::read(&path)
            .ok()
            .and_then(|b| SignedCheckpoint::parse(&b).ok())
            .is_some_and(|cp| own.check_checkpoint(&cp).is_ok());
        if signed {
            return Err(Error::Corrupt {
                path,
                offset: None,
                message: format!(
                    "this writer signed a checkpoint of size {size}, but the ledger holds {records} records: records were removed; refusing to sign a fork"
                ),
            });
        }
    }
    Ok(())
}

/// A WAL record's decision-id hash; a record whose id cannot be read (never one this writer
/// appended) gets its bytes' hash instead, which no other id has.
pub(super) fn record_id(bytes: &[u8]) -> (u64, u64) {
    let id = schemas::canonical_decision_id(bytes).or_else(|| {
        schemas::DecisionView::parse(bytes)
            .ok()
            .map(|v| v.decision_id.into_owned())
    });
    match id {
        Some(id) => crate::hash::decision_id_hash(&id),
        None => {
            let h = crate::hash::record_hash(bytes);
            (
                u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]),
                u64::from_le_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
            )
        }
    }
}

/// Re-hashes the active WAL, keeping what its last valid checkpoint frame covers.
pub(super) fn replay_wal(
    path: &Path,
    start: u64,
    signer: &NoteSigner,
    chain: &mut Hash,
    frontier: &mut Frontier,
) -> Result<WalRecovery> {
    let file_len = fs::metadata(path).ctx("stat", path)?.len();
    if file_len < wal::HEADER_LEN {
        // A WAL is created by an atomic rename, so a short one is damage, not a torn write.
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: Some(0),
            message: "WAL file is shorter than its header".into(),
        });
    }
    let mut reader = WalReader::open(path)?;
    if reader.start != start {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: Some(16),
            message: format!(
                "WAL header says it starts at {}, its name says {start}",
                reader.start
            ),
        });
    }
    let verifier = signer.verifier();
    let mut out = WalRecovery {
        valid_len: wal::HEADER_LEN,
        file_len,
        hashes: Vec::new(),
        ids: Vec::new(),
        leaves: Vec::new(),
        checkpoint: None,
        cut_reason: None,
    };
    let mut pending_ids = Vec::new();
    let (mut t_chain, mut t_frontier) = (*chain, frontier.clone());
    let mut pending = Vec::new();
    let mut pending_leaves = Vec::new();
    loop {
        let at = reader.offset;
        match reader.next_frame()? {
            Ok(Frame::Records { first, records }) => {
                if first != t_frontier.size() {
                    return Err(Error::Corrupt {
                        path: path.to_path_buf(),
                        offset: Some(at),
                        message: format!(
                            "records frame starts at {first}, expected {}",
                            t_frontier.size()
                        ),
                    });
                }
                for r in records {
                    let h = hash_record(&t_chain, t_frontier.size(), r.ts_us, &r.bytes);
                    t_chain = h.chain;
                    t_frontier.push(h.leaf);
                    pending.push((h.record_hash, h.chain));
                    pending_leaves.push(h.leaf);
                    pending_ids.push(record_id(&r.bytes));
                }
            }
            Ok(Frame::Checkpoint(bytes)) => {
                let cp = SignedCheckpoint::parse(&bytes)
                    .ok()
                    .filter(|cp| cp.note.verify(std::slice::from_ref(&verifier)).is_ok());
                let Some(cp) = cp else {
                    return Err(Error::Corrupt {
                        path: path.to_path_buf(),
                        offset: Some(at),
                        message: "checkpoint frame is not a checkpoint signed by this ledger's key"
                            .into(),
                    });
                };
                if cp.checkpoint.size != t_frontier.size()
                    || cp.checkpoint.root != t_frontier.root()
                {
                    return Err(Error::Corrupt {
                        path: path.to_path_buf(),
                        offset: Some(at),
                        message: format!(
                            "checkpoint for size {} does not match the records before it",
                            cp.checkpoint.size
                        ),
                    });
                }
                *chain = t_chain;
                *frontier = t_frontier.clone();
                out.hashes.append(&mut pending);
                out.ids.append(&mut pending_ids);
                out.leaves.append(&mut pending_leaves);
                out.checkpoint = Some(cp);
                out.valid_len = reader.offset;
            }
            Err(Tail::Clean) => {
                if !pending.is_empty() {
                    out.cut_reason =
                        Some("records after the last checkpoint (commit interrupted)".into());
                }
                break;
            }
            Err(Tail::Torn { offset, reason }) => {
                out.cut_reason = Some(format!("{reason} at byte {offset}"));
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ledger, Record, VerifyOptions, verify};

    fn rec(i: u64) -> Record {
        let json = format!(r#"{{"decision_id":"r-{i}","ts_us":{i},"decision":"allow"}}"#);
        Record::from_json(json.as_bytes(), &i).unwrap()
    }

    fn ids(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        crate::scan(dir, |_, _, b| {
            let v: serde_json::Value = serde_json::from_slice(b).unwrap();
            out.push(v["decision_id"].as_str().unwrap().to_owned());
        })
        .unwrap();
        out
    }

    #[test]
    fn nothing_is_acknowledged_once_the_ledger_directory_is_deleted_under_the_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let mut l =
            Ledger::create(&dir, NoteSigner::from_seed("t.example/l", [3; 32]), 1000).unwrap();
        l.append(&rec(0)).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        // The WAL's descriptor still writes and fsyncs, into a file no directory holds.
        let err = l.append(&rec(1)).unwrap_err().to_string();
        assert!(err.contains("write-ahead log was removed"), "{err}");
        assert!(l.append(&rec(2)).is_err());
        assert_eq!(l.size(), 1, "nothing acknowledged after the removal");
    }

    #[test]
    fn recovery_seals_a_closed_wal_left_by_a_crash_during_a_background_seal() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let signer = || NoteSigner::from_seed("t.example/l", [3; 32]);
        let mut l = Ledger::create(&dir, signer(), 1000).unwrap();
        for i in 0..10 {
            l.append(&rec(i)).unwrap();
        }
        drop(l);
        let saved = fs::read(dir.join("wal/00000000000000000000.wal")).unwrap();
        // Shrink the segment size: the next open seals the full WAL, then appends go on.
        let config = dir.join(crate::CONFIG_FILE);
        let text = fs::read_to_string(&config).unwrap();
        fs::write(
            &config,
            text.replace("\"segment_records\": 1000", "\"segment_records\": 10"),
        )
        .unwrap();
        let (mut l, recovery) = Ledger::open(&dir, signer()).unwrap();
        assert!(recovery.sealed);
        for i in 10..15 {
            l.append(&rec(i)).unwrap();
        }
        drop(l);
        // The state a kill leaves after rotating but before the seal finished: the closed WAL
        // and the new one, no segment, no stable checkpoint for 10.
        fs::remove_file(dir.join("segments").join(crate::segment::file_name(0, 10))).unwrap();
        fs::remove_file(dir.join("checkpoints/00000000000000000010.note")).unwrap();
        fs::write(dir.join("wal/00000000000000000000.wal"), saved).unwrap();
        let keys = vec![signer().verifier()];
        let report = verify(&dir, &VerifyOptions::new(keys.clone())).unwrap();
        assert!(report.is_ok() && report.verified == 15, "{report:?}");

        let (l, recovery) = Ledger::open(&dir, signer()).unwrap();
        assert!(recovery.sealed, "{recovery:?}");
        assert_eq!(l.size(), 15);
        drop(l);
        assert!(
            dir.join("segments")
                .join(crate::segment::file_name(0, 10))
                .exists()
        );
        assert!(!dir.join("wal/00000000000000000000.wal").exists());
        let report = verify(&dir, &VerifyOptions::new(keys)).unwrap();
        assert!(report.is_ok() && report.verified == 15, "{report:?}");
        let want: Vec<String> = (0..15).map(|i| format!("r-{i}")).collect();
        assert_eq!(ids(&dir), want);
    }
}
