//! Sealing: a full WAL is rotated after the commit that fills it and sealed into a Parquet
//! segment by a [`SealJob`] on its own thread (one at a time), while appends go on in a new WAL.
//!
//! Invariants: the stable checkpoint for a segment's end is stored before the segment appears;
//! the segment is written under a temporary name, fsynced and renamed into place, and holds only
//! the bytes the writer committed (each WAL record is checked against its committed hash); the
//! WAL is removed last. A failed seal is kept and retried before the next commit.

use std::fs;
use std::path::PathBuf;
use std::thread::JoinHandle;

use super::{Ledger, create_wal};
use crate::checkpoint::SignedCheckpoint;
use crate::error::IoContext as _;
use crate::hash::Hash;
use crate::layout::{Layout, sync_dir, write_atomic};
use crate::merkle::Frontier;
use crate::note::NoteSigner;
use crate::segment::{SealRow, SegmentMeta, SegmentWriter};
use crate::wal::{self, Frame, Tail, WalReader};
use crate::{Error, Result};

/// A merge of id runs running on its own thread (`ids::merge_runs`).
pub(super) type Merging = JoinHandle<Result<(u64, u64)>>;
/// A finished seal: its range, and the merge of id runs it started, if it started one.
pub(super) type Sealed = ((u64, u64), Option<Merging>);
pub(super) type SealOutcome = std::result::Result<Sealed, (Error, Box<SealJob>)>;

/// Stores `checkpoint` as the stable checkpoint of its size, unless the one stored there is
/// the same note under the writer's own keys (a witness may have stored it already, with its
/// cosignatures: keep it). Returns whether it wrote the file.
fn store_stable(
    layout: &Layout,
    own: &crate::TrustPolicy,
    checkpoint: &SignedCheckpoint,
) -> Result<bool> {
    let stored = layout.checkpoint(checkpoint.checkpoint.size);
    let kept = fs::read(&stored)
        .ok()
        .and_then(|b| SignedCheckpoint::parse(&b).ok())
        .is_some_and(|cp| {
            cp.note.text == checkpoint.note.text && own.check_checkpoint(&cp).is_ok()
        });
    if !kept {
        write_atomic(&stored, checkpoint.bytes.as_bytes())?;
    }
    Ok(!kept)
}

impl Ledger {
    /// Stores the latest checkpoint as a stable one (`checkpoints/<size>.note`, which
    /// witnesses cosign and auditors take as anchors), as the seal does for a segment's end:
    /// a heartbeat when appends pause, so the newest records are under a stable checkpoint
    /// without waiting for the next seal (DESIGN §3.4). The checkpoint was signed after its
    /// records' fsync. Returns its size when it stored one (nothing when the ledger is empty
    /// or that size is stored already).
    pub fn store_stable_checkpoint(&mut self) -> Result<Option<u64>> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let Some(checkpoint) = self.last_checkpoint.as_ref() else {
            return Ok(None);
        };
        let size = checkpoint.checkpoint.size;
        if size == 0 || self.stable_size == size {
            return Ok(None);
        }
        let wrote = store_stable(&self.layout, &self.own, checkpoint)?;
        self.stable_size = size;
        Ok(wrote.then_some(size))
    }

    /// Collects the background seal: waits for it when `wait`, else only if it has finished.
    /// A failed seal is kept for a retry and its error returned.
    pub(super) fn reap_seal(&mut self, wait: bool) -> Result<()> {
        let done = self.sealing.as_ref().is_some_and(JoinHandle::is_finished);
        if !(wait || done) {
            return Ok(());
        }
        let Some(handle) = self.sealing.take() else {
            return Ok(());
        };
        match handle.join() {
            Ok(Ok(((start, end), merging))) => self.ids_sealed(start, end, merging),
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

    pub(super) fn run_seal(&mut self, job: SealJob) -> Result<(u64, u64)> {
        let ((start, end), merging) = job.run().map_err(|(err, job)| {
            self.failed_seal = Some(job);
            err
        })?;
        self.ids_sealed(start, end, merging)?;
        Ok((start, end))
    }

    /// A seal finished: the segment's id run replaces its ids in memory; the merge it
    /// started, if any, is collected later ([`Ledger::reap_merge`]).
    fn ids_sealed(&mut self, start: u64, end: u64, merging: Option<Merging>) -> Result<()> {
        let segment = self.layout.segment(start, end);
        if merging.is_some() {
            self.merging = merging;
        }
        self.ids.sealed(start, end, &segment)
    }

    /// Collects the background merge of id runs: waits for it when `wait`, else only if it
    /// has finished. It is a cache: a failed merge leaves the runs as they were.
    pub(super) fn reap_merge(&mut self, wait: bool) {
        let done = self.merging.as_ref().is_some_and(JoinHandle::is_finished);
        if !(wait || done) {
            return;
        }
        if let Some(Ok(Ok((start, end)))) = self.merging.take().map(JoinHandle::join) {
            self.ids.merged(start, end);
        }
    }

    /// Closes the current WAL and starts a new one at the current size; returns the job that
    /// seals the closed WAL.
    pub(super) fn rotate(&mut self) -> Result<SealJob> {
        let Some(checkpoint) = self.last_checkpoint.clone() else {
            return Err(Error::Poisoned);
        };
        let end = self.frontier.size();
        let room = self.wal_hashes.len();
        let (wal, wal_path) = create_wal(&self.layout, end)?;
        let mut job = SealJob {
            ids: None,
            // One merge at a time: while one runs, the runs it merges stay as they are.
            merge: self
                .merging
                .is_none()
                .then(|| self.ids.merge_plan(self.wal_start, end))
                .flatten(),
            layout: self.layout.clone(),
            origin: self.config.origin.clone(),
            signer: self.signer.clone(),
            own: self.own.clone(),
            wal_path: std::mem::replace(&mut self.wal_path, wal_path),
            wal_len: self.wal_len,
            start: self.wal_start,
            end,
            // The next WAL gets room for as many (a vector of a million hashes grown one
            // doubling at a time is copied and faulted in again at each).
            hashes: std::sync::Arc::new(std::mem::replace(
                &mut self.wal_hashes,
                Vec::with_capacity(room),
            )),
            chain_end: self.chain,
            frontier: self.frontier.clone(),
            checkpoint,
        };
        job.ids = Some(self.ids.rotate(end, std::sync::Arc::clone(&job.hashes)));
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

impl Drop for Ledger {
    fn drop(&mut self) {
        // Let a background seal finish; if it fails, the next open seals the WAL again. Then
        // the merge it may have started.
        let _ = self.reap_seal(true);
        self.reap_merge(true);
    }
}

/// Everything needed to seal one closed WAL; it runs on its own thread.
#[derive(Debug)]
pub(super) struct SealJob {
    pub(super) layout: Layout,
    pub(super) origin: String,
    /// Signs the seal note; `own` checks the note it extends.
    pub(super) signer: NoteSigner,
    pub(super) own: crate::TrustPolicy,
    pub(super) wal_path: PathBuf,
    pub(super) wal_len: u64,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) hashes: std::sync::Arc<Vec<(Hash, Hash)>>,
    /// The records' decision-id hashes, in index order, when the writer has them (else the
    /// seal reads them from the records).
    pub(super) ids: Option<Vec<(u64, u64)>>,
    /// The id runs to merge once this segment's run is written (its own the last of them):
    /// `ids::IdIndex::merge_plan`.
    pub(super) merge: Option<Vec<(u64, u64)>>,
    pub(super) chain_end: Hash,
    pub(super) frontier: Frontier,
    pub(super) checkpoint: SignedCheckpoint,
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
    pub(super) fn run(self) -> SealOutcome {
        match self.write() {
            Ok(()) => {
                // On its own thread, so that a large merge never holds up the next seal (and
                // with it the appends). Best effort, like the run itself: a failed merge
                // leaves the runs it would have merged as they were.
                let merging = self.merge.clone().map(|parts| {
                    let root = self.layout.dir().to_path_buf();
                    std::thread::spawn(move || crate::ids::merge_runs(&root, &parts))
                });
                Ok(((self.start, self.end), merging))
            }
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
        store_stable(&self.layout, &self.own, &self.checkpoint)?;
        let written = (|| {
            let mut writer = SegmentWriter::create(&tmp, &meta)?;
            // One thread reads the closed WAL and checks each record against the hash the
            // writer committed (the WAL sat on disk since: seal only the bytes the writer
            // hashed and signed, never what is there now); this one encodes Parquet. The check
            // costs a BLAKE3 per record, beside the encoding rather than after it.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<wal::WalRecord>>(4);
            let mut idx = start;
            // The segment's decision-id run (`ids/`), written beside it.
            let mut ids = Vec::with_capacity((end - start) as usize);
            let read = std::thread::scope(|scope| {
                let reader = scope.spawn(move || self.read_checked(tx));
                let mut pushed = Ok(());
                for records in rx {
                    for r in records {
                        let Some(&(record_hash, chain)) = self.hashes.get((idx - start) as usize)
                        else {
                            break;
                        };
                        let k = (idx - start) as usize;
                        let id = match &self.ids {
                            Some(known) if k < known.len() => known[k],
                            _ => super::recovery::record_id(&r.bytes),
                        };
                        ids.push(crate::ids::Entry {
                            id,
                            index: idx,
                            record_hash: crate::ids::prefix(&record_hash),
                        });
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
            Ok((summary, digests, ids))
        })();
        let (summary, digests, ids) = match written {
            Ok(written) => written,
            Err(err) => {
                let _ = fs::remove_file(&tmp);
                return Err(err);
            }
        };
        // The id run is a cache (§15): if it cannot be written, the writer rebuilds it from
        // the segment.
        let run = crate::ids::IdIndex::run_path(self.layout.dir(), start, end);
        let _ = crate::ids::write_run(&run, start, end, ids);
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
