//! Key rotation (LEDGER-FORMAT.md §11): [`Ledger::rotate_key`](super::Ledger::rotate_key).
//!
//! Invariant: once the transition note is durable, only the new key signs; a key the ledger
//! used before is never used again.

use std::path::PathBuf;

use super::Ledger;
use super::recovery::own_policy;
use crate::error::IoContext as _;
use crate::layout::{sync_dir, write_atomic};
use crate::note::NoteSigner;
use crate::wal;
use crate::{Error, Result};

impl Ledger {
    /// Rotates the signing key (LEDGER-FORMAT.md §11): seals the WAL, writes a key-transition
    /// note at the current size signed by the old and the new key, and signs every later
    /// checkpoint with `new`. Returns the transition file.
    pub fn rotate_key(&mut self, new: NoteSigner) -> Result<PathBuf> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let refuse = |message: String| Error::Key {
            what: format!("key {}", new.verifier()),
            message,
        };
        if new.name() != self.config.origin || new.is_witness() {
            return Err(refuse(format!(
                "the new key must be an Ed25519 log key named like the origin {:?}",
                self.config.origin
            )));
        }
        if new.verifier() == self.signer.verifier() {
            return Err(refuse("the new key is the current key".into()));
        }
        // A key that signed before cannot come back: its validity range would be empty.
        for (_, _, bytes) in crate::policy::read_transitions(self.layout.dir())? {
            if let Ok(t) = crate::policy::Transition::parse(&bytes)
                && (t.old == new.verifier() || t.new == new.verifier())
            {
                return Err(refuse(format!(
                    "the ledger used this key before (transition at size {}); rotate to a new key",
                    t.size
                )));
            }
        }
        self.seal()?;
        // After the seal the WAL holds no records; drop any heartbeat checkpoint frames signed
        // with the old key, so that no WAL mixes keys (open replays a WAL with one key).
        if self.wal_len > wal::HEADER_LEN {
            self.wal
                .set_len(wal::HEADER_LEN)
                .ctx("truncate", &self.wal_path)?;
            self.wal.sync_all().ctx("fsync", &self.wal_path)?;
            self.wal_len = wal::HEADER_LEN;
        }
        let size = self.size();
        let note = crate::policy::Transition::sign(&self.signer, &new, size);
        let keys = self.layout.keys_dir();
        crate::layout::create_private_dir_all(&keys).ctx("create", &keys)?;
        let path = self.layout.transition(size);
        if path.exists() {
            return Err(refuse(format!(
                "the key was already rotated at size {size}; append first"
            )));
        }
        write_atomic(&path, note.as_bytes())?;
        sync_dir(&keys)?;
        // The transition is durable: from here on only the new key may sign. If the policy
        // cannot be read back, nothing more is signed until the ledger is reopened.
        self.signer = new;
        self.own = match own_policy(self.layout.dir(), &self.signer, &self.config.origin) {
            Ok(own) => own,
            Err(e) => {
                self.poisoned = true;
                return Err(e);
            }
        };
        self.config.writer_vkey = self.signer.verifier().to_string();
        let json = serde_json::to_vec_pretty(&self.config).map_err(|e| Error::Layout {
            dir: self.layout.dir().to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(&self.layout.config(), &json)?;
        Ok(path)
    }
}
