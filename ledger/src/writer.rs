//! The writer: append with a write-ahead log and fsync, sign a checkpoint per commit, seal full
//! WALs into Parquet segments, and recover after a crash.
//!
//! Invariants:
//! - A commit is one `write` of a records frame plus its checkpoint frame, then `fdatasync`;
//!   [`Ledger::append_batch`] returns only after that, so an acknowledged record is durable.
//! - Recovery cuts the WAL back to the end of its last valid checkpoint frame: a record whose
//!   commit did not finish never appears, whole or in part.
//! - One writer per ledger, enforced by an exclusive lock on `LOCK`.
//! - The writer never signs a checkpoint that does not extend the last checkpoint it can
//!   verify under its own key (LEDGER-FORMAT.md §5.1): on open, the sealed prefix's tree state
//!   (the last segment's footer hints) must reproduce the signed checkpoint stored for its end,
//!   and its last chain value must be the one in the signed tree (one leaf, authenticated by an
//!   inclusion proof from the tiles: O(log n)); each WAL checkpoint frame must be signed by it
//!   and match the records before it; and no checkpoint it signed may lie beyond the records
//!   found. Otherwise [`Ledger::open`] refuses, naming the file.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use schemas::Decision;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::error::IoContext as _;
use crate::hash::{CHAIN_GENESIS, Hash, hash_record};
use crate::layout::{Config, Layout, remove_temporaries, sync_dir, write_atomic};
use crate::merkle::Frontier;
use crate::note::NoteSigner;
use crate::segment::{SealRow, SegmentMeta, SegmentWriter};
use crate::tiles::TileBuilder;
use crate::wal::{self, Frame, Tail, WalReader};
use crate::{Error, Result};

/// Largest canonical record the ledger accepts.
pub const MAX_RECORD_BYTES: usize = 8 << 20;

/// Default number of records per sealed segment.
pub const DEFAULT_SEGMENT_RECORDS: u64 = 1 << 20;

/// A decision ready to append: its canonical bytes and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    ts_us: i64,
    bytes: Vec<u8>,
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
            bytes,
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

/// The result of a durable commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Index of the first record of the commit.
    pub first: u64,
    /// Tree size after the commit (one past its last index).
    pub size: u64,
    /// The checkpoint signed for `size`.
    pub checkpoint: SignedCheckpoint,
}

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

/// An open ledger with its writer lock held.
#[derive(Debug)]
pub struct Ledger {
    layout: Layout,
    config: Config,
    signer: NoteSigner,
    _lock: File,
    wal: File,
    wal_path: PathBuf,
    wal_start: u64,
    wal_len: u64,
    /// Per unsealed record: record hash and chain, kept for sealing.
    wal_hashes: Vec<(Hash, Hash)>,
    chain: Hash,
    frontier: Frontier,
    last_checkpoint: Option<SignedCheckpoint>,
    poisoned: bool,
    buf: Vec<u8>,
    /// The seal running in the background, if any.
    sealing: Option<JoinHandle<SealOutcome>>,
    /// A seal that failed, kept to be retried before the next commit.
    failed_seal: Option<Box<SealJob>>,
    /// Hash tiles for proofs; `None` after a tile write failed (the next open rebuilds them).
    tiles: Option<TileBuilder>,
    /// The checkpoints and seal notes this writer can verify under its own keys.
    own: crate::TrustPolicy,
}

type SealOutcome = std::result::Result<(u64, u64), (Error, Box<SealJob>)>;

fn lock(layout: &Layout) -> Result<File> {
    let path = layout.lock();
    let file = crate::layout::private_options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("open", &path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
            dir: layout.dir().to_path_buf(),
            lock: path,
        }),
        Err(fs::TryLockError::Error(e)) => Err(e).ctx("lock", &path),
    }
}

fn create_wal(layout: &Layout, start: u64) -> Result<(File, PathBuf)> {
    let path = layout.wal(start);
    let opened = write_atomic(&path, &wal::header(start)).and_then(|()| {
        OpenOptions::new()
            .append(true)
            .open(&path)
            .ctx("open", &path)
    });
    if opened.is_err() {
        // Leave no WAL behind that the ledger does not use.
        let _ = fs::remove_file(&path);
    }
    Ok((opened?, path))
}

impl Ledger {
    /// Creates a new, empty ledger at `dir` (which must not exist or be empty) whose checkpoints
    /// `signer` signs; the origin is the signer's key name.
    pub fn create(dir: &Path, signer: NoteSigner, segment_records: u64) -> Result<Self> {
        let layout = Layout::new(dir);
        if segment_records == 0 {
            return Err(Error::Layout {
                dir: dir.to_path_buf(),
                message: "segment size must be at least one record".into(),
            });
        }
        match fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::Layout {
                        dir: dir.to_path_buf(),
                        message: "directory is not empty; a ledger is created in a new or empty directory".into(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::layout::create_private_dir_all(dir).ctx("create", dir)?;
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
            }
            Err(e) => return Err(e).ctx("list", dir),
        }
        for sub in [
            layout.wal_dir(),
            layout.segments_dir(),
            layout.checkpoints_dir(),
            layout.tiles_dir(),
        ] {
            crate::layout::create_private_dir(&sub).ctx("create", &sub)?;
        }
        let config = Config {
            format: crate::FORMAT_VERSION,
            origin: signer.name().to_owned(),
            segment_records,
            writer_vkey: signer.verifier().to_string(),
        };
        let json = serde_json::to_vec_pretty(&config).map_err(|e| Error::Layout {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(&layout.config(), &json)?;
        sync_dir(dir)?;
        let lock = lock(&layout)?;
        let (wal, wal_path) = create_wal(&layout, 0)?;
        let layout_tiles = layout.tiles_dir();
        let signer_key = signer.verifier();
        Ok(Self {
            layout,
            config,
            signer,
            _lock: lock,
            wal,
            wal_path,
            wal_start: 0,
            wal_len: wal::HEADER_LEN,
            wal_hashes: Vec::new(),
            chain: CHAIN_GENESIS,
            frontier: Frontier::new(),
            last_checkpoint: None,
            poisoned: false,
            buf: Vec::new(),
            sealing: None,
            failed_seal: None,
            tiles: TileBuilder::empty(layout_tiles).ok(),
            own: crate::TrustPolicy::from_keys(vec![signer_key]),
        })
    }

    /// Opens an existing ledger for appending, recovering from any crash.
    pub fn open(dir: &Path, signer: NoteSigner) -> Result<(Self, Recovery)> {
        let layout = Layout::new(dir);
        let config = layout.read_config()?;
        if signer.name() != config.origin {
            return Err(Error::Key {
                what: format!("key {}", signer.name()),
                message: format!(
                    "key name differs from the ledger's origin {:?}; checkpoints must be signed under the origin",
                    config.origin
                ),
            });
        }
        if let Some((size, path, bytes)) = crate::policy::read_transitions(dir)?.pop() {
            let t = crate::policy::Transition::parse(&bytes).map_err(|message| Error::Corrupt {
                path: path.clone(),
                offset: None,
                message,
            })?;
            if t.new != signer.verifier() {
                return Err(Error::Key {
                    what: format!("key {}", signer.verifier()),
                    message: format!(
                        "the ledger rotated to key {} at size {size}; open it with that key",
                        t.new
                    ),
                });
            }
        }
        let lock = lock(&layout)?;
        remove_temporaries(&layout.segments_dir())?;
        remove_temporaries(&layout.checkpoints_dir())?;
        remove_temporaries(&layout.wal_dir())?;
        remove_temporaries(&layout.tiles_dir())?;
        remove_temporaries(&layout.summaries_dir())?;
        let mut recovery = Recovery::default();

        // Sealed prefix: contiguous segments from 0.
        let mut chain = CHAIN_GENESIS;
        let mut frontier = Frontier::new();
        let mut sealed = 0u64;
        let segments = layout.segments()?;
        for (start, end, path) in &segments {
            if *start != sealed || end <= start {
                return Err(Error::Corrupt {
                    path: path.clone(),
                    offset: None,
                    message: format!(
                        "segment range [{start}, {end}) does not continue from {sealed}"
                    ),
                });
            }
            sealed = *end;
        }
        let own = own_policy(dir, &signer, &config.origin)?;
        if let Some((start, end, path)) = segments.last() {
            let (meta, _) = crate::segment::open(path)?;
            let hints = meta.chain_end.zip(meta.frontier);
            let Some((chain_end, last_frontier)) = hints.filter(|(_, f)| {
                meta.end == *end && f.size() == *end && meta.origin == config.origin
            }) else {
                return Err(Error::Corrupt {
                    path: path.clone(),
                    offset: None,
                    message: "footer range, origin or the writer's chain and frontier hints are missing or disagree with the file name or ledger".into(),
                });
            };
            vouch_sealed(
                &layout,
                &own,
                (*start, *end, path),
                &chain_end,
                &last_frontier,
            )?;
            chain = chain_end;
            frontier = last_frontier;
        }
        // Summaries are a cache (LEDGER-FORMAT.md §13): recompute any a crash or an older build
        // left missing. Best effort: without one, queries scan that segment.
        for (start, end, path) in &segments {
            let target = layout.summary(*start, *end);
            if !target.is_file() && crate::summary::rebuild(path, &target).is_ok() {
                recovery.rebuilt_summaries += 1;
            }
        }
        let sealed_frontier = frontier.clone();
        let mut wal_leaves = Vec::new();
        let mut last_checkpoint = match layout.checkpoints()?.last() {
            Some((size, path)) if *size == sealed => {
                let bytes = fs::read(path).ctx("read", path)?;
                Some(
                    SignedCheckpoint::parse(&bytes).map_err(|message| Error::Corrupt {
                        path: path.clone(),
                        offset: None,
                        message,
                    })?,
                )
            }
            _ => None,
        };

        // WALs: those below the sealed prefix are leftovers of a finished seal; the rest follow
        // one another, the last one active, the others full and waiting to be sealed.
        let mut pending = Vec::new();
        for (start, path) in layout.wals()? {
            if start < sealed {
                fs::remove_file(&path).ctx("remove", &path)?;
                recovery.removed_wals += 1;
            } else {
                pending.push((start, path));
            }
        }
        if recovery.removed_wals > 0 {
            sync_dir(&layout.wal_dir())?;
        }
        let mut full = Vec::new();
        let mut active = None;
        let mut next = sealed;
        let n_pending = pending.len();
        for (i, (start, path)) in pending.into_iter().enumerate() {
            if start != next {
                return Err(Error::Corrupt {
                    path,
                    offset: None,
                    message: format!("WAL starts at {start}, but records end at {next}"),
                });
            }
            let mut replay = replay_wal(&path, start, &signer, &mut chain, &mut frontier)?;
            wal_leaves.append(&mut replay.leaves);
            if let Some(cp) = &replay.checkpoint {
                last_checkpoint = Some(cp.clone());
            }
            next = frontier.size();
            if i + 1 < n_pending {
                // A closed WAL was written whole before its successor was created.
                if replay.cut_reason.is_some() {
                    return Err(Error::Corrupt {
                        path,
                        offset: Some(replay.valid_len),
                        message: "a closed WAL ends in a torn frame".into(),
                    });
                }
                let Some(checkpoint) = replay.checkpoint else {
                    return Err(Error::Corrupt {
                        path,
                        offset: None,
                        message: "a closed WAL has no checkpoint".into(),
                    });
                };
                full.push(SealJob {
                    layout: layout.clone(),
                    origin: config.origin.clone(),
                    signer: signer.clone(),
                    own: own.clone(),
                    wal_path: path,
                    wal_len: replay.valid_len,
                    start,
                    end: next,
                    hashes: replay.hashes,
                    chain_end: chain,
                    frontier: frontier.clone(),
                    checkpoint,
                });
                continue;
            }
            if let Some(reason) = &replay.cut_reason {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .ctx("open", &path)?;
                file.set_len(replay.valid_len).ctx("truncate", &path)?;
                file.sync_all().ctx("fsync", &path)?;
                recovery.cut_bytes = replay.file_len - replay.valid_len;
                recovery.cut_reason = Some(reason.clone());
            }
            active = Some((start, path, replay.hashes, replay.valid_len));
        }
        refuse_signed_beyond(&layout, &own, next)?;
        for job in full {
            job.run().map_err(|(err, _)| err)?;
            recovery.sealed = true;
        }
        let (wal_start, wal_path, wal_hashes, wal_len) = match active {
            Some(active) => active,
            None => (
                next,
                create_wal(&layout, next)?.1,
                Vec::new(),
                wal::HEADER_LEN,
            ),
        };
        let wal = OpenOptions::new()
            .append(true)
            .open(&wal_path)
            .ctx("open", &wal_path)?;
        let tiles = open_tiles(&layout, &sealed_frontier, &wal_leaves, &frontier);
        let mut ledger = Self {
            layout,
            config,
            signer,
            _lock: lock,
            wal,
            wal_path,
            wal_start,
            wal_len,
            wal_hashes,
            chain,
            frontier,
            last_checkpoint,
            poisoned: false,
            buf: Vec::new(),
            sealing: None,
            failed_seal: None,
            tiles,
            own,
        };
        if ledger.wal_hashes.len() as u64 >= ledger.config.segment_records {
            recovery.sealed |= ledger.seal()?.is_some();
        }
        Ok((ledger, recovery))
    }

    /// The ledger's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of committed records.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The latest signed checkpoint, if any commit happened.
    pub fn checkpoint(&self) -> Option<&SignedCheckpoint> {
        self.last_checkpoint.as_ref()
    }

    /// Appends one record durably.
    pub fn append(&mut self, record: &Record) -> Result<Commit> {
        self.append_batch(std::slice::from_ref(record))
    }

    /// Appends records as one commit: one WAL write, one fsync, one signed checkpoint. An empty
    /// batch writes a checkpoint of the current tree (a heartbeat).
    pub fn append_batch(&mut self, records: &[Record]) -> Result<Commit> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.reap_seal(false)?;
        if let Some(job) = self.failed_seal.take() {
            self.run_seal(*job)?;
        }
        let first = self.frontier.size();
        let mut chain = self.chain;
        let mut frontier = self.frontier.clone();
        let mut hashes = Vec::with_capacity(records.len());
        let mut leaves = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let h = hash_record(&chain, first + i as u64, r.ts_us, &r.bytes);
            chain = h.chain;
            frontier.push(h.leaf);
            hashes.push((h.record_hash, h.chain));
            leaves.push(h.leaf);
        }
        let checkpoint = Checkpoint {
            origin: self.config.origin.clone(),
            size: frontier.size(),
            root: frontier.root(),
        }
        .sign(&self.signer);
        self.buf.clear();
        // A commit may span several records frames (each at most wal::FRAME_TARGET_BYTES, so
        // far below the readers' limit); it counts only once its checkpoint frame follows.
        let mut at = 0;
        while at < records.len() {
            let mut bytes = 0usize;
            let mut end = at;
            while end < records.len()
                && (end == at || bytes + records[end].bytes.len() + 12 <= wal::FRAME_TARGET_BYTES)
            {
                bytes += records[end].bytes.len() + 12;
                end += 1;
            }
            wal::encode_records(
                &mut self.buf,
                first + at as u64,
                records[at..end]
                    .iter()
                    .map(|r| (r.ts_us, r.bytes.as_slice())),
            );
            at = end;
        }
        wal::encode_checkpoint(&mut self.buf, checkpoint.bytes.as_bytes());
        let written = self
            .wal
            .write_all(&self.buf)
            .ctx("write", &self.wal_path)
            .and_then(|()| self.wal.sync_data().ctx("fsync", &self.wal_path));
        if let Err(err) = written {
            // Undo the partial frame so that the WAL ends at the last commit; if even that
            // fails, refuse further appends until a reopen recovers.
            let undone = self
                .wal
                .set_len(self.wal_len)
                .and_then(|()| self.wal.sync_all());
            if undone.is_err() {
                self.poisoned = true;
            }
            return Err(err);
        }
        self.wal_len += self.buf.len() as u64;
        self.wal_hashes.extend(hashes);
        self.chain = chain;
        self.frontier = frontier;
        self.last_checkpoint = Some(checkpoint.clone());
        if let Some(tiles) = &mut self.tiles
            && tiles.append(&leaves).is_err()
        {
            // Tiles are a cache: proofs fall back to the records until the next open rebuilds them.
            self.tiles = None;
        }
        if self.wal_hashes.len() as u64 >= self.config.segment_records {
            // A full WAL is sealed on another thread while appends go on in a new WAL. One seal
            // runs at a time: if the previous one is still running, wait for it (backpressure).
            // A failure is reported by the next commit; if the new WAL cannot be created,
            // appends continue in this one and the next commit tries again.
            if self.reap_seal(true).is_ok()
                && let Ok(job) = self.rotate()
            {
                self.sealing = Some(std::thread::spawn(move || job.run()));
            }
        }
        Ok(Commit {
            first,
            size: self.frontier.size(),
            checkpoint,
        })
    }

    /// Collects the background seal: waits for it when `wait`, else only if it has finished.
    /// A failed seal is kept for a retry and its error returned.
    fn reap_seal(&mut self, wait: bool) -> Result<()> {
        let done = self.sealing.as_ref().is_some_and(JoinHandle::is_finished);
        if !(wait || done) {
            return Ok(());
        }
        let Some(handle) = self.sealing.take() else {
            return Ok(());
        };
        match handle.join() {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((err, job))) => {
                self.failed_seal = Some(job);
                Err(err)
            }
            Err(_) => {
                self.poisoned = true;
                Err(Error::Poisoned)
            }
        }
    }

    fn run_seal(&mut self, job: SealJob) -> Result<(u64, u64)> {
        job.run().map_err(|(err, job)| {
            self.failed_seal = Some(job);
            err
        })
    }

    /// Closes the current WAL and starts a new one at the current size; returns the job that
    /// seals the closed WAL.
    fn rotate(&mut self) -> Result<SealJob> {
        let Some(checkpoint) = self.last_checkpoint.clone() else {
            return Err(Error::Poisoned);
        };
        let end = self.frontier.size();
        let (wal, wal_path) = create_wal(&self.layout, end)?;
        let job = SealJob {
            layout: self.layout.clone(),
            origin: self.config.origin.clone(),
            signer: self.signer.clone(),
            own: self.own.clone(),
            wal_path: std::mem::replace(&mut self.wal_path, wal_path),
            wal_len: self.wal_len,
            start: self.wal_start,
            end,
            hashes: std::mem::take(&mut self.wal_hashes),
            chain_end: self.chain,
            frontier: self.frontier.clone(),
            checkpoint,
        };
        self.wal = wal;
        self.wal_start = end;
        self.wal_len = wal::HEADER_LEN;
        Ok(job)
    }

    /// Seals the WAL's records into a Parquet segment now (after any seal running in the
    /// background), stores a stable checkpoint for its end, and starts a new WAL. Returns the
    /// sealed range, or `None` when nothing was unsealed.
    pub fn seal(&mut self) -> Result<Option<(u64, u64)>> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.reap_seal(true)?;
        if let Some(job) = self.failed_seal.take() {
            self.run_seal(*job)?;
        }
        if self.wal_start == self.frontier.size() {
            return Ok(None);
        }
        let job = self.rotate()?;
        self.run_seal(job).map(Some)
    }
}

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

impl Drop for Ledger {
    fn drop(&mut self) {
        // Let a background seal finish; if it fails, the next open seals the WAL again.
        let _ = self.reap_seal(true);
    }
}

/// Everything needed to seal one closed WAL; it runs on its own thread.
#[derive(Debug)]
struct SealJob {
    layout: Layout,
    origin: String,
    /// Signs the seal note; `own` checks the note it extends.
    signer: NoteSigner,
    own: crate::TrustPolicy,
    wal_path: PathBuf,
    wal_len: u64,
    start: u64,
    end: u64,
    hashes: Vec<(Hash, Hash)>,
    chain_end: Hash,
    frontier: Frontier,
    checkpoint: SignedCheckpoint,
}

impl SealJob {
    /// Reads the closed WAL's records frames up to the committed length, checks each record
    /// against the hash committed for its index, and sends them on, in order.
    fn read_checked(&self, tx: std::sync::mpsc::SyncSender<Vec<wal::WalRecord>>) -> Result<()> {
        let mut reader = WalReader::open(&self.wal_path)?;
        let mut idx = self.start;
        while reader.offset < self.wal_len {
            match reader.next_frame()? {
                Ok(Frame::Records { records, .. }) => {
                    for r in &records {
                        let committed = self.hashes.get((idx - self.start) as usize);
                        if committed.is_some_and(|h| crate::hash::record_hash(&r.bytes) != h.0) {
                            return Err(Error::Corrupt {
                                path: self.wal_path.clone(),
                                offset: None,
                                message: format!(
                                    "record {idx} differs from the one committed: refusing to seal it"
                                ),
                            });
                        }
                        idx += 1;
                    }
                    if tx.send(records).is_err() {
                        return Ok(());
                    }
                }
                Ok(Frame::Checkpoint(_)) => {}
                Err(Tail::Clean) => break,
                Err(Tail::Torn { offset, reason }) => {
                    return Err(Error::Corrupt {
                        path: self.wal_path.clone(),
                        offset: Some(offset),
                        message: reason,
                    });
                }
            }
        }
        Ok(())
    }

    /// Stores the stable checkpoint, then writes the segment (temporary name, fsync, rename,
    /// directory fsync), then removes the WAL. Gives the job back on failure, for a retry.
    fn run(self) -> SealOutcome {
        match self.write() {
            Ok(()) => Ok((self.start, self.end)),
            Err(err) => Err((err, Box::new(self))),
        }
    }

    fn write(&self) -> Result<()> {
        let (start, end) = (self.start, self.end);
        let final_path = self.layout.segment(start, end);
        let tmp = self
            .layout
            .segments_dir()
            .join(format!(".tmp-{}", crate::segment::file_name(start, end)));
        let meta = SegmentMeta {
            origin: self.origin.clone(),
            start,
            end,
            chain_end: Some(self.chain_end),
            frontier: Some(self.frontier.clone()),
        };
        // The checkpoint for `end` is stored before the segment appears: a reader skips the WAL
        // once a segment covers its records, and with it the WAL's checkpoint frames, so a
        // segment must never be visible without a stored checkpoint for its end. (Stored after
        // the rename, a kill between the two left records that verified only as an unverified
        // tail.) A witness may have stored this checkpoint already, with its cosignatures: keep it.
        let stored = self.layout.checkpoint(end);
        let kept = fs::read(&stored)
            .ok()
            .and_then(|b| SignedCheckpoint::parse(&b).ok())
            .is_some_and(|cp| {
                cp.note.text == self.checkpoint.note.text && self.own.check_checkpoint(&cp).is_ok()
            });
        if !kept {
            write_atomic(&stored, self.checkpoint.bytes.as_bytes())?;
        }
        let written = (|| {
            let mut writer = SegmentWriter::create(&tmp, &meta)?;
            // One thread reads the closed WAL and checks each record against the hash the
            // writer committed (the WAL sat on disk since: seal only the bytes the writer
            // hashed and signed, never what is there now); this one encodes Parquet. The check
            // costs a BLAKE3 per record, beside the encoding rather than after it.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<wal::WalRecord>>(4);
            let mut idx = start;
            let read = std::thread::scope(|scope| {
                let reader = scope.spawn(move || self.read_checked(tx));
                let mut pushed = Ok(());
                for records in rx {
                    for r in records {
                        let Some(&(record_hash, chain)) = self.hashes.get((idx - start) as usize)
                        else {
                            break;
                        };
                        pushed = writer.push(&SealRow {
                            idx,
                            ts_us: r.ts_us,
                            record: &r.bytes,
                            hashes: crate::hash::RecordHashes {
                                record_hash,
                                chain,
                                leaf: [0; 32],
                            },
                        });
                        if pushed.is_err() {
                            break;
                        }
                        idx += 1;
                    }
                    if pushed.is_err() {
                        break;
                    }
                }
                // Dropping the receiver (end of the loop) stops the reader at its next send.
                let read = reader.join().unwrap_or(Err(Error::Poisoned));
                pushed.and(read)
            });
            read?;
            if idx != end {
                return Err(Error::Corrupt {
                    path: self.wal_path.clone(),
                    offset: None,
                    message: format!("WAL holds records up to {idx}, expected {end}"),
                });
            }
            let summary = writer.finish()?;
            // Digests of the file as written, before anyone else can reach it (§14).
            let digests = crate::seal::skip_digests(&tmp).ok();
            fs::rename(&tmp, &final_path).ctx("rename", &final_path)?;
            sync_dir(&self.layout.segments_dir())?;
            Ok((summary, digests))
        })();
        let (summary, digests) = match written {
            Ok(written) => written,
            Err(err) => {
                let _ = fs::remove_file(&tmp);
                return Err(err);
            }
        };
        // The summary is a query cache (§13): if it cannot be written, queries scan the
        // segment instead, so its failure does not fail the seal.
        let summary = crate::summary::encode(&summary).ok().filter(|bytes| {
            crate::layout::create_private_dir_all(&self.layout.summaries_dir())
                .ctx("create", &self.layout.summaries_dir())
                .and_then(|()| write_atomic(&self.layout.summary(start, end), bytes))
                .is_ok()
        });
        // The seal note (§14) binds what readers skip on. Best effort too: a segment without
        // a line is scanned, never pruned.
        if let Some(digests) = digests {
            let line = crate::seal::line_for(start, end, digests, summary.as_deref());
            let _ = crate::seal::record(&self.layout, &self.origin, &self.own, &self.signer, line);
        }
        fs::remove_file(&self.wal_path).ctx("remove", &self.wal_path)?;
        sync_dir(&self.layout.wal_dir())
    }
}

struct Replay {
    valid_len: u64,
    file_len: u64,
    hashes: Vec<(Hash, Hash)>,
    leaves: Vec<Hash>,
    checkpoint: Option<SignedCheckpoint>,
    cut_reason: Option<String>,
}

/// The tiles of the recovered tree: as found on disk when they reproduce it; else those of the
/// sealed prefix plus the WALs' leaves; else rebuilt from every record. `None` if writing fails.
fn open_tiles(
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
fn own_policy(dir: &Path, signer: &NoteSigner, origin: &str) -> Result<crate::TrustPolicy> {
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
fn vouch_sealed(
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
fn refuse_signed_beyond(layout: &Layout, own: &crate::TrustPolicy, records: u64) -> Result<()> {
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

/// Re-hashes the active WAL, keeping what its last valid checkpoint frame covers.
fn replay_wal(
    path: &Path,
    start: u64,
    signer: &NoteSigner,
    chain: &mut Hash,
    frontier: &mut Frontier,
) -> Result<Replay> {
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
    let mut out = Replay {
        valid_len: wal::HEADER_LEN,
        file_len,
        hashes: Vec::new(),
        leaves: Vec::new(),
        checkpoint: None,
        cut_reason: None,
    };
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
    use crate::{VerifyOptions, verify};

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
