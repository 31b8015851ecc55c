//! Witnessing (C2SP tlog-cosignature, LEDGER-FORMAT.md §10): check that a new checkpoint is
//! consistent with the one the witness cosigned last, cosign it, and keep it as the witness's
//! state.
//!
//! Invariants: one witness run at a time per state file (an exclusive lock beside it); the new
//! state is stored (fsync, rename) before the cosignature is returned; a checkpoint that does not
//! extend the state is refused, never cosigned.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::error::IoContext as _;
use crate::layout::{Layout, write_atomic};
use crate::note::NoteSigner;
use crate::policy::TrustPolicy;
use crate::proof::ConsistencyProof;
use crate::{Error, Result};

/// What a witness did.
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// The checkpoint with the witness's cosignature added.
    pub cosigned: SignedCheckpoint,
    /// The cosignature line.
    pub line: String,
    /// The size the witness had seen before (0 when it had no state).
    pub old_size: u64,
    /// True when the witness had no state and trusted this first checkpoint.
    pub first_seen: bool,
}

/// Acts as a witness: checks `request` (a consistency proof from the size in `state` to a new
/// checkpoint) against the log keys in `policy` and the witness's state file, cosigns the
/// checkpoint at Unix `time`, and stores it as the new state (fsync, rename) before returning.
/// Refusals are `Error::Key` with a sentence saying why.
pub fn witness(
    key: &NoteSigner,
    policy: &TrustPolicy,
    state: &Path,
    request: &ConsistencyProof,
    time: u64,
) -> Result<Witnessed> {
    let refuse = |message: String| Error::Key {
        what: format!("witness {}", key.name()),
        message,
    };
    if !key.is_witness() {
        return Err(Error::NotAWitnessKey {
            what: format!("witness {}", key.name()),
        });
    }
    let new = &request.checkpoint;
    policy
        .check_checkpoint(new)
        .map_err(|e| refuse(format!("the checkpoint's log signature: {e}")))?;
    if let Some(parent) = state.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::layout::create_private_dir_all(parent).ctx("create", parent)?;
    }
    // One witness run at a time per state: two concurrent runs could otherwise each extend
    // the same state with a different (forked) checkpoint.
    let mut lock_name = state.as_os_str().to_owned();
    lock_name.push(".lock");
    let lock_path = PathBuf::from(lock_name);
    let lock = crate::layout::private_options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ctx("open", &lock_path)?;
    lock.lock().ctx("lock", &lock_path)?;
    let previous = match fs::read(state) {
        Ok(bytes) => Some(
            SignedCheckpoint::parse(&bytes).map_err(|message| Error::Corrupt {
                path: state.to_path_buf(),
                offset: None,
                message,
            })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).ctx("read", state),
    };
    let anchor = match &previous {
        Some(p) => p.checkpoint.clone(),
        None => Checkpoint {
            origin: new.checkpoint.origin.clone(),
            size: 0,
            root: crate::hash::empty_root(),
        },
    };
    if anchor.origin != new.checkpoint.origin {
        return Err(refuse(format!(
            "the state is for origin {:?}, the checkpoint for {:?}",
            anchor.origin, new.checkpoint.origin
        )));
    }
    if request.old_size != anchor.size {
        return Err(refuse(format!(
            "the proof starts at size {}, but this witness last cosigned size {} (tlog-witness 409)",
            request.old_size, anchor.size
        )));
    }
    let inconsistent = |message: String| Error::Inconsistent {
        what: format!("witness {}", key.name()),
        message,
    };
    if new.checkpoint.size < anchor.size {
        return Err(inconsistent(format!(
            "the checkpoint's size {} is smaller than the {} this witness cosigned: the log was cut short",
            new.checkpoint.size, anchor.size
        )));
    }
    request
        .verify(policy, &anchor)
        .map_err(|e| inconsistent(format!("not consistent with what this witness saw: {e}")))?;
    let line = key.cosignature_line(&new.note.text, time);
    let cosigned = add_signature_lines(new, std::slice::from_ref(&line))?;
    write_atomic(state, cosigned.bytes.as_bytes())?;
    drop(lock);
    Ok(Witnessed {
        cosigned,
        line,
        old_size: anchor.size,
        first_seen: previous.is_none(),
    })
}

/// The checkpoint with extra signature lines (lines it already has are not repeated).
fn add_signature_lines(cp: &SignedCheckpoint, lines: &[String]) -> Result<SignedCheckpoint> {
    let mut bytes = cp.bytes.clone();
    for line in lines {
        if !bytes.contains(line.as_str()) {
            bytes.push_str(line);
        }
    }
    SignedCheckpoint::parse(bytes.as_bytes()).map_err(|message| Error::Key {
        what: "cosigned checkpoint".into(),
        message,
    })
}

/// Witnesses the ledger at `dir` directly: computes the consistency proof from the witness's
/// state to the newest checkpoint, cosigns it, and stores the cosigned note in the ledger as
/// `checkpoints/<size>.note` (merging with a note already there).
pub fn witness_ledger(
    dir: &Path,
    key: &NoteSigner,
    policy: &TrustPolicy,
    state: &Path,
    time: u64,
) -> Result<Witnessed> {
    let seen = match fs::read(state) {
        Ok(bytes) => {
            SignedCheckpoint::parse(&bytes)
                .map_err(|message| Error::Corrupt {
                    path: state.to_path_buf(),
                    offset: None,
                    message,
                })?
                .checkpoint
                .size
        }
        Err(_) => 0,
    };
    let newest = crate::inspect(dir)?.latest.map_or(0, |c| c.checkpoint.size);
    if seen > newest {
        return Err(Error::Inconsistent {
            what: format!("witness {}", key.name()),
            message: format!(
                "the ledger's newest checkpoint has size {newest}, smaller than the {seen} this witness cosigned: the log was cut short"
            ),
        });
    }
    let request = crate::proof::prove_consistency(dir, seen)?;
    let out = witness(key, policy, state, &request, time)?;
    let layout = Layout::new(dir);
    let path = layout.checkpoint(out.cosigned.checkpoint.size);
    let stored = match fs::read(&path)
        .ok()
        .and_then(|b| SignedCheckpoint::parse(&b).ok())
        .filter(|cp| cp.note.text == out.cosigned.note.text)
    {
        Some(existing) => add_signature_lines(&existing, std::slice::from_ref(&out.line))?,
        None => out.cosigned.clone(),
    };
    write_atomic(&path, stored.bytes.as_bytes())?;
    Ok(out)
}

/// A witness's cosignature on one of a ledger's stored checkpoints (C2SP tlog-cosignature: the
/// key id, then the time and the Ed25519 signature), as found; not checked against a key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cosignature {
    /// The witness's key name.
    pub witness: String,
    /// Its key id, 8 hex digits.
    pub key_id: String,
    /// The size of the checkpoint it cosigned.
    pub size: u64,
    /// When it cosigned, Unix seconds (its claim).
    pub time: u64,
}

/// How many of the newest stored checkpoints [`cosignatures`] reads (a status page reads them
/// on every view: its cost stays bounded as the ledger grows).
pub(crate) const COSIGNED_CHECKPOINTS_READ: usize = 64;

/// The cosignatures on the ledger's newest stored checkpoints (`checkpoints/<size>.note`, at
/// most 64 of them), newest checkpoint first: each signature line
/// that is not `origin`'s and has a cosignature's form (72 bytes after the key id). None is
/// checked: a verifier given the witnesses' keys checks them (`govtrail verify --policy`).
pub fn cosignatures(dir: &Path) -> Result<Vec<Cosignature>> {
    let layout = Layout::new(dir);
    let origin = layout.read_config()?.origin;
    let mut out = Vec::new();
    for (size, path) in layout
        .checkpoints()?
        .into_iter()
        .rev()
        .take(COSIGNED_CHECKPOINTS_READ)
    {
        let Ok(cp) = fs::read(&path)
            .map_err(|_| ())
            .and_then(|b| SignedCheckpoint::parse(&b).map_err(|_| ()))
        else {
            continue;
        };
        for sig in &cp.note.signatures {
            if sig.name != origin && sig.sig.len() == 72 {
                let mut t = [0u8; 8];
                t.copy_from_slice(&sig.sig[..8]);
                out.push(Cosignature {
                    witness: sig.name.clone(),
                    key_id: format!("{:08x}", sig.id),
                    size,
                    time: u64::from_be_bytes(t),
                });
            }
        }
    }
    Ok(out)
}
