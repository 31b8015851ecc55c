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
//!
//! Its parts: `record` ([`Record`], what is appended); `recovery` (what [`Ledger::open`] does
//! after a crash, and the checks of §5.1); `sealing` (rotating a full WAL and sealing it into a
//! segment on its own thread); `key_rotation` ([`Ledger::rotate_key`]).

mod key_rotation;
mod record;
mod recovery;
mod sealing;

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::error::IoContext as _;
use crate::hash::{CHAIN_GENESIS, Hash};
use crate::ids::{Found, IdIndex, IdMap, Looked, SealedIds};
use crate::layout::{Config, Layout, remove_temporaries, sync_dir, write_atomic};
use crate::merkle::Frontier;
use crate::note::NoteSigner;
use crate::tiles::TileBuilder;
use crate::wal;
use crate::{Error, Result};

pub use record::{MAX_RECORD_BYTES, Record};
pub use recovery::Recovery;
use recovery::{open_tiles, own_policy, refuse_signed_beyond, replay_wal, vouch_sealed};
use sealing::{SealJob, SealOutcome};

/// Default number of records per sealed segment.
pub const DEFAULT_SEGMENT_RECORDS: u64 = 1 << 20;

/// The result of a durable commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Index of the first record of the commit.
    pub first: u64,
    /// Tree size after the commit (one past its last index).
    pub size: u64,
    /// The checkpoint signed for `size`.
    pub checkpoint: SignedCheckpoint,
    /// How long the commit took on the writer's thread (hashing, signing, the WAL write and
    /// its fsync), in microseconds; 0 when nothing was written.
    pub commit_us: u64,
    /// How long the WAL's fsync took, in microseconds (0 when nothing was written): what a
    /// stall of the disk shows in.
    pub fsync_us: u64,
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
    /// The size of the newest stable checkpoint stored (`checkpoints/`), as far as known.
    stable_size: u64,
    poisoned: bool,
    buf: Vec<u8>,
    /// The seal running in the background, if any.
    sealing: Option<JoinHandle<SealOutcome>>,
    /// The merge of id runs running in the background, if any.
    merging: Option<sealing::Merging>,
    /// A seal that failed, kept to be retried before the next commit.
    failed_seal: Option<Box<SealJob>>,
    /// Hash tiles for proofs; `None` after a tile write failed (the next open rebuilds them).
    tiles: Option<TileBuilder>,
    /// The checkpoints and seal notes this writer can verify under its own keys.
    own: crate::TrustPolicy,
    /// Which decision ids the ledger holds (idempotent appends, `ids/`).
    ids: IdIndex,
}

/// What became of one record given to [`Ledger::append_unique`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "fate", content = "index")]
pub enum Fate {
    /// Appended at this index.
    Appended(u64),
    /// Its decision id is at this index with the same bytes: not appended again.
    Duplicate(u64),
    /// Its decision id is at this index with other bytes: refused.
    Conflict(u64),
}

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
        let ids = IdIndex::open(&layout, config.segment_records, 0, Vec::new())?;
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
            stable_size: 0,
            poisoned: false,
            buf: Vec::new(),
            sealing: None,
            merging: None,
            failed_seal: None,
            tiles: TileBuilder::empty(layout_tiles).ok(),
            own: crate::TrustPolicy::from_keys(vec![signer_key]),
            ids,
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
                    hashes: std::sync::Arc::new(replay.hashes),
                    ids: Some(replay.ids),
                    merge: None,
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
            active = Some((start, path, replay.hashes, replay.valid_len, replay.ids));
        }
        refuse_signed_beyond(&layout, &own, next)?;
        let layout_stable = layout.checkpoints()?.last().map_or(0, |c| c.0);
        for job in full {
            job.run().map_err(|(err, _)| err)?;
            recovery.sealed = true;
        }
        let (wal_start, wal_path, wal_hashes, wal_len, wal_ids) = match active {
            Some(active) => active,
            None => (
                next,
                create_wal(&layout, next)?.1,
                Vec::new(),
                wal::HEADER_LEN,
                Vec::new(),
            ),
        };
        // After the closed WALs are sealed: a run for every segment, the active WAL's ids.
        let ids = IdIndex::open(&layout, config.segment_records, wal_start, wal_ids)?;
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
            stable_size: layout_stable,
            poisoned: false,
            buf: Vec::new(),
            sealing: None,
            merging: None,
            failed_seal: None,
            tiles,
            own,
            ids,
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
    /// batch writes a checkpoint of the current tree (a heartbeat). Every record is appended,
    /// whatever the ledger holds already: [`Ledger::append_unique`] is the idempotent append.
    pub fn append_batch(&mut self, records: &[Record]) -> Result<Commit> {
        self.before_commit()?;
        let hashed: Vec<(&Record, Hash)> = records.iter().map(|r| (r, r.hash)).collect();
        self.commit(&hashed)
    }

    /// The ledger's directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// Appends the records whose decision ids the ledger does not hold yet, as one commit, and
    /// says what became of each (LEDGER-FORMAT.md §15): a record whose id is in the ledger with
    /// the same bytes is a duplicate, not appended again; with other bytes, a conflict, refused
    /// (both indices named); the second of two with one id in `records` likewise. When nothing
    /// is new, nothing is written and the commit is the current tree's.
    pub fn append_unique(&mut self, records: &[Record]) -> Result<(Commit, Vec<Fate>)> {
        self.append_unique_looked(records, &[])
    }

    /// The lookups in the sealed segments' runs that can be done before the writer sees the
    /// records, on another thread ([`Ledger::append_unique_looked`]).
    pub(crate) fn sealed_ids(&self) -> SealedIds {
        self.ids.sealed_ids()
    }

    /// [`Ledger::append_unique`] of records part of which were looked up already: `looked`
    /// covers a prefix of `records`, part by part, each made by [`SealedIds::look_up`] of this
    /// ledger (the rest is looked up here).
    pub(crate) fn append_unique_looked(
        &mut self,
        records: &[Record],
        looked: &[Looked],
    ) -> Result<(Commit, Vec<Fate>)> {
        self.before_commit()?;
        let first = self.frontier.size();
        let mut fates = Vec::with_capacity(records.len());
        let mut kept: Vec<(&Record, Hash)> = Vec::with_capacity(records.len());
        let mut in_batch: IdMap<(u64, u64), usize> = IdMap::default();
        let hashes: Vec<Hash> = records.iter().map(|r| r.hash).collect();
        let ids: Vec<(u64, u64)> = records.iter().map(|r| r.id).collect();
        let in_ledger = self
            .ids
            .find_many(&ids, &hashes, &self.wal_hashes, looked)?;
        for ((r, record_hash), in_ledger) in records.iter().zip(hashes).zip(in_ledger) {
            let found = match in_batch.get(&r.id) {
                Some(&k) if kept[k].1 == record_hash => Found::Duplicate(first + k as u64),
                Some(&k) => Found::Conflict(first + k as u64),
                None => in_ledger,
            };
            fates.push(match found {
                Found::New => {
                    in_batch.insert(r.id, kept.len());
                    kept.push((r, record_hash));
                    Fate::Appended(first + kept.len() as u64 - 1)
                }
                Found::Duplicate(i) => Fate::Duplicate(i),
                Found::Conflict(i) => Fate::Conflict(i),
            });
        }
        if kept.is_empty()
            && let Some(checkpoint) = &self.last_checkpoint
        {
            let commit = Commit {
                first,
                size: first,
                checkpoint: checkpoint.clone(),
                commit_us: 0,
                fsync_us: 0,
            };
            return Ok((commit, fates));
        }
        Ok((self.commit(&kept)?, fates))
    }

    /// Collects a finished seal (so the id index covers it) and retries a failed one.
    fn before_commit(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.reap_seal(false)?;
        self.reap_merge(false);
        if let Some(job) = self.failed_seal.take() {
            self.run_seal(*job)?;
        }
        Ok(())
    }

    /// One commit of `records` with their record hashes.
    /// After a commit's fsync: the WAL must still be a file of the ledger's directory. One
    /// removed while the ledger was open (its directory deleted under a running writer) takes
    /// what is written to it along when the last descriptor closes: nothing written there is
    /// durable, so nothing is acknowledged (an `fstat`, about a microsecond a commit).
    fn wal_still_linked(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = self.wal.metadata().ctx("stat", &self.wal_path)?;
        if meta.nlink() == 0 {
            return Err(Error::Corrupt {
                path: self.wal_path.clone(),
                offset: None,
                message: "the write-ahead log was removed while the ledger was open (the ledger's directory deleted or moved away?): what is written to it is not durable, so nothing more is acknowledged".into(),
            });
        }
        Ok(())
    }

    fn commit(&mut self, records: &[(&Record, Hash)]) -> Result<Commit> {
        let started = std::time::Instant::now();
        let first = self.frontier.size();
        let mut chain = self.chain;
        let mut frontier = self.frontier.clone();
        let mut hashes = Vec::with_capacity(records.len());
        let mut leaves = Vec::with_capacity(records.len());
        for (i, (r, record_hash)) in records.iter().enumerate() {
            let h = crate::hash::hash_record_from(&chain, first + i as u64, r.ts_us, *record_hash);
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
                && (end == at || bytes + records[end].0.bytes.len() + 12 <= wal::FRAME_TARGET_BYTES)
            {
                bytes += records[end].0.bytes.len() + 12;
                end += 1;
            }
            wal::encode_records(
                &mut self.buf,
                first + at as u64,
                records[at..end]
                    .iter()
                    .map(|(r, _)| (r.ts_us, r.bytes.as_slice())),
            );
            at = end;
        }
        wal::encode_checkpoint(&mut self.buf, checkpoint.bytes.as_bytes());
        let mut fsync_us = 0;
        let written = self
            .wal
            .write_all(&self.buf)
            .ctx("write", &self.wal_path)
            .and_then(|()| {
                let t = std::time::Instant::now();
                let synced = self.wal.sync_data().ctx("fsync", &self.wal_path);
                fsync_us = micros(t.elapsed());
                synced
            })
            .and_then(|()| self.wal_still_linked());
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
        for (r, _) in records {
            self.ids.push(r.id);
        }
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
            commit_us: micros(started.elapsed()),
            fsync_us,
        })
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
