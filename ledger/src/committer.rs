//! Group commit: a thread that owns the [`Ledger`] and merges whatever submissions are queued
//! while the previous fsync ran into one commit (one write, one fsync, one signature).
//!
//! Callers either wait for their own commit ([`Committer::append`]), stream records and wait
//! at the end ([`Committer::appender`]), or are told of each commit through the `on_commit`
//! callback ([`Committer::submit`]). Every commit is idempotent
//! ([`Ledger::append_unique`]): a record whose decision id the ledger holds is a duplicate or a
//! conflict, never appended twice; each caller is told the fate of each of its records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ids::{Looked, SealedIds};
use crate::writer::{Commit, Fate, Ledger, Record};
use crate::{Error, Result};

/// A commit and the fates of one request's records.
type Reply = std::result::Result<(Commit, Vec<Fate>), String>;

struct Request {
    records: Vec<Record>,
    /// What the sealed runs hold of them, looked up on the submitting thread.
    looked: Looked,
    reply: Option<SyncSender<Reply>>,
}

/// A running commit thread.
#[derive(Debug)]
pub struct Committer {
    dir: std::path::PathBuf,
    /// The ledger's sealed runs: each submission is looked up in them before the commit
    /// thread sees it (see [`Committer::spawn`]).
    sealed: SealedIds,
    /// To the lookup thread, for streams ([`Committer::submit`], [`Appender`]).
    streams: Option<SyncSender<Request>>,
    lookup: Option<JoinHandle<()>>,
    /// To the commit thread.
    tx: Option<SyncSender<Request>>,
    thread: Option<JoinHandle<Result<Ledger>>>,
    /// The size of the newest stable checkpoint the heartbeat stored (0 before the first).
    stable: Arc<AtomicU64>,
}

/// When the commit thread stores the latest checkpoint as a stable one
/// ([`Ledger::store_stable_checkpoint`]): once appends have paused for `idle`, and at least
/// every `every` while they flow. Seals store one at each segment's end regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// How long without a submission counts as a pause.
    pub idle: Duration,
    /// The longest time between stable checkpoints while appends flow.
    pub every: Duration,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("records", &self.records.len())
            .finish()
    }
}

impl Committer {
    /// Starts the commit thread. `max_batch` bounds the records merged into one commit;
    /// `queue` bounds the submissions waiting; `on_commit` runs after each durable commit.
    ///
    /// The lookups of records in the sealed segments' id runs (one filter probe per run, a
    /// cache miss each) are done before the commit thread, the pipeline's bottleneck, sees them:
    /// on the caller's thread for [`Committer::append`] (many callers: they run in parallel),
    /// and on a lookup thread of their own for streams ([`Committer::submit`], [`Appender`]),
    /// whose one producer is busy parsing (an appender's last chunk, when nothing else of it
    /// is in flight, on the caller's thread). The commit thread completes each lookup with the
    /// runs sealed since and the unsealed records (`ids::Looked`).
    pub fn spawn(
        ledger: Ledger,
        max_batch: usize,
        queue: usize,
        on_commit: impl FnMut(&Commit) + Send + 'static,
    ) -> Self {
        Self::spawn_with_heartbeat(ledger, max_batch, queue, None, on_commit)
    }

    /// [`Committer::spawn`], storing stable checkpoints as `heartbeat` says (a server's
    /// writer: witnesses and auditors then find the newest records under a stable checkpoint
    /// soon after they stop coming, not only at the next seal).
    pub fn spawn_with_heartbeat(
        mut ledger: Ledger,
        max_batch: usize,
        queue: usize,
        heartbeat: Option<Heartbeat>,
        mut on_commit: impl FnMut(&Commit) + Send + 'static,
    ) -> Self {
        let dir = ledger.dir().to_path_buf();
        let sealed = ledger.sealed_ids();
        let stable = Arc::new(AtomicU64::new(0));
        let (tx, rx) = sync_channel::<Request>(queue.max(1));
        let beat = heartbeat.map(|h| (h, Arc::clone(&stable)));
        let thread = std::thread::spawn(move || {
            let result = run(&mut ledger, &rx, max_batch.max(1), beat, &mut on_commit);
            drop(rx);
            result.map(|()| ledger)
        });
        let (streams, stream_rx) = sync_channel::<Request>(queue.max(1));
        let lookup = {
            let (sealed, tx) = (sealed.clone(), tx.clone());
            std::thread::spawn(move || {
                for mut request in stream_rx {
                    request.looked = look_up(&sealed, &request.records);
                    if tx.send(request).is_err() {
                        // The commit thread stopped: dropping the receiver fails the callers.
                        return;
                    }
                }
            })
        };
        Self {
            dir,
            sealed,
            streams: Some(streams),
            lookup: Some(lookup),
            tx: Some(tx),
            thread: Some(thread),
            stable,
        }
    }

    /// The bytes the decision-id index of the sealed segments keeps in memory (its filters and
    /// fences: about 2.1 bytes a sealed record, growing with the ledger).
    pub fn id_index_bytes(&self) -> u64 {
        self.sealed.memory_bytes()
    }

    /// The size of the newest stable checkpoint the heartbeat stored (0 before the first, and
    /// without a heartbeat).
    pub fn stable_size(&self) -> u64 {
        self.stable.load(Ordering::Relaxed)
    }

    /// Whether the commit thread still runs (it stops after a failed commit, which
    /// [`Committer::finish`] then returns).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// The directory of the ledger it writes.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Queues records without waiting for their commit; blocks while the queue is full. Fails
    /// if the commit thread has stopped (after an error, which [`Committer::finish`] returns).
    pub fn submit(&self, records: Vec<Record>) -> Result<()> {
        let tx = self.streams.as_ref().ok_or(Error::Poisoned)?;
        tx.send(Request {
            looked: Looked::none(records.len()),
            records,
            reply: None,
        })
        .map_err(|_| Error::Poisoned)
    }

    /// Appends records and waits until they are durable. The commit may hold other callers'
    /// records too; [`Acked`] gives this caller's own index range.
    pub fn append(&self, records: Vec<Record>) -> Result<Acked> {
        let tx = self.tx.as_ref().ok_or(Error::Poisoned)?;
        let looked = look_up(&self.sealed, &records);
        Self::send_to(tx, records, looked)?.wait()
    }

    /// Streams records from one caller: they are submitted `chunk` at a time without waiting,
    /// and [`Appender::finish`] waits until all are durable. Other callers' records may
    /// interleave between chunks.
    pub fn appender(&self, chunk: usize) -> Appender<'_> {
        Appender {
            committer: self,
            chunk: Vec::with_capacity(chunk.max(1)),
            size: chunk.max(1),
            pending: std::collections::VecDeque::new(),
            pushed: 0,
            appended: Appended::default(),
        }
    }

    /// Queues records of a stream (through the lookup thread) and returns where their
    /// commit's acknowledgement will arrive.
    fn send(&self, records: Vec<Record>) -> Result<Pending> {
        let tx = self.streams.as_ref().ok_or(Error::Poisoned)?;
        let looked = Looked::none(records.len());
        Self::send_to(tx, records, looked)
    }

    fn send_to(tx: &SyncSender<Request>, records: Vec<Record>, looked: Looked) -> Result<Pending> {
        let (reply, rx) = sync_channel(1);
        tx.send(Request {
            records,
            looked,
            reply: Some(reply),
        })
        .map_err(|_| Error::Poisoned)?;
        Ok(Pending { rx })
    }

    /// Waits for every queued record to commit and returns the ledger, or the first error.
    pub fn finish(mut self) -> Result<Ledger> {
        drop(self.streams.take());
        if let Some(lookup) = self.lookup.take() {
            let _ = lookup.join();
        }
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(Error::Poisoned),
        }
    }
}

/// The sealed runs' part of the records' lookups. A failed read (a run's file) leaves the
/// whole lookup to the commit thread, which reports it.
fn look_up(sealed: &SealedIds, records: &[Record]) -> Looked {
    sealed
        .look_up(records.iter().map(|r| r.id))
        .unwrap_or_else(|_| Looked::none(records.len()))
}

/// A submission waiting for its commit.
#[derive(Debug)]
struct Pending {
    rx: Receiver<Reply>,
}

impl Pending {
    fn wait(self) -> Result<Acked> {
        match self.rx.recv() {
            Ok(reply) => Self::acked(reply),
            Err(_) => Err(Error::Poisoned),
        }
    }

    fn acked(reply: Reply) -> Result<Acked> {
        let (commit, fates) = reply.map_err(|message| Error::Commit { message })?;
        let appended = || {
            fates.iter().filter_map(|f| match f {
                Fate::Appended(i) => Some(*i),
                _ => None,
            })
        };
        let first = appended().min().unwrap_or(commit.size);
        let end = appended().max().map_or(first, |i| i + 1);
        Ok(Acked {
            first,
            end,
            commit,
            fates,
        })
    }
}

/// One caller's stream of records through a [`Committer`] (see [`Committer::appender`]): the
/// one loop that batches records into submissions, for every front-end. Acknowledgements are
/// taken as they arrive, so its memory stays that of the submissions in flight (and the
/// positions of duplicates and conflicts).
#[derive(Debug)]
pub struct Appender<'a> {
    committer: &'a Committer,
    chunk: Vec<Record>,
    size: usize,
    pending: std::collections::VecDeque<(Pending, u64)>,
    /// Records pushed so far: the position of the next.
    pushed: u64,
    appended: Appended,
}

/// What an [`Appender`] appended, all of it durable, and what it did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appended {
    /// The ledger index of its first appended record, when it appended any.
    pub first: Option<u64>,
    /// How many records were appended.
    pub records: u64,
    /// The positions (in push order, from 0) of records the ledger held already, with the index
    /// of the record they duplicate: not appended again.
    pub duplicates: Vec<(u64, u64)>,
    /// The positions of records whose decision id the ledger holds with other bytes, with that
    /// record's index: refused.
    pub conflicts: Vec<(u64, u64)>,
}

impl Appended {
    fn add(&mut self, acked: &Acked, at: u64) {
        for (k, fate) in acked.fates.iter().enumerate() {
            let position = at + k as u64;
            match *fate {
                Fate::Appended(i) => {
                    self.first.get_or_insert(i);
                    self.records += 1;
                }
                Fate::Duplicate(i) => self.duplicates.push((position, i)),
                Fate::Conflict(i) => self.conflicts.push((position, i)),
            }
        }
    }
}

impl Appender<'_> {
    /// Adds a record; submits the chunk when it is full (blocking while the queue is). Fails
    /// if the commit thread has stopped ([`Committer::finish`] says why).
    pub fn push(&mut self, record: Record) -> Result<()> {
        self.chunk.push(record);
        if self.chunk.len() >= self.size {
            self.submit(false)?;
            // Take the acknowledgements that have arrived (in order).
            while let Some((p, at)) = self.pending.front() {
                match p.rx.try_recv() {
                    Ok(reply) => {
                        let at = *at;
                        self.pending.pop_front();
                        self.appended.add(&Pending::acked(reply)?, at);
                    }
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }

    /// Submits the chunk: through the lookup thread while the caller goes on pushing, or,
    /// when `last` and nothing is in flight (a request of one chunk, as a server's mostly
    /// are), looked up on this thread, which is about to wait anyway: no hop, and callers on
    /// many threads look up in parallel. (Never past a chunk in flight: records stay in push
    /// order.)
    fn submit(&mut self, last: bool) -> Result<()> {
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.size));
        let n = chunk.len() as u64;
        let pending = if last && self.pending.is_empty() {
            let tx = self.committer.tx.as_ref().ok_or(Error::Poisoned)?;
            let looked = look_up(&self.committer.sealed, &chunk);
            Committer::send_to(tx, chunk, looked)?
        } else {
            self.committer.send(chunk)?
        };
        self.pending.push_back((pending, self.pushed));
        self.pushed += n;
        Ok(())
    }

    /// Submits what is left and waits until every record pushed is durable (or known a
    /// duplicate or a conflict).
    pub fn finish(mut self) -> Result<Appended> {
        if !self.chunk.is_empty() {
            self.submit(true)?;
        }
        while let Some((p, at)) = self.pending.pop_front() {
            let acked = p.wait()?;
            self.appended.add(&acked, at);
        }
        Ok(self.appended)
    }
}

/// The acknowledgement of one [`Committer::append`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// Index of this caller's first appended record (the commit's size when none was).
    pub first: u64,
    /// One past this caller's last appended record.
    pub end: u64,
    /// The commit (checkpoint) that made them durable.
    pub commit: Commit,
    /// What became of each of this caller's records, in order.
    pub fates: Vec<Fate>,
}

/// The heartbeat's store of a stable checkpoint. Best effort: a failure (a full disk) leaves
/// the newest records under the WAL's checkpoints only, and is tried again at the next beat.
fn beat(ledger: &mut Ledger, stable: &AtomicU64, last: &mut Instant) {
    *last = Instant::now();
    if let Ok(Some(size)) = ledger.store_stable_checkpoint() {
        stable.store(size, Ordering::Relaxed);
    }
}

fn run(
    ledger: &mut Ledger,
    rx: &Receiver<Request>,
    max_batch: usize,
    heartbeat: Option<(Heartbeat, Arc<AtomicU64>)>,
    on_commit: &mut dyn FnMut(&Commit),
) -> Result<()> {
    let mut waiting = Vec::new();
    let mut looked = Vec::new();
    let mut last_beat = Instant::now();
    loop {
        let first = match &heartbeat {
            None => match rx.recv() {
                Ok(first) => first,
                Err(_) => break,
            },
            Some((h, stable)) => match rx.recv_timeout(h.idle) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => {
                    beat(ledger, stable, &mut last_beat);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
        };
        let mut batch = first.records;
        waiting.clear();
        looked.clear();
        waiting.push((0usize, batch.len(), first.reply));
        looked.push(first.looked);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(more) => {
                    waiting.push((batch.len(), more.records.len(), more.reply));
                    looked.push(more.looked);
                    batch.extend(more.records);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        match ledger.append_unique_looked(&batch, &looked) {
            Ok((commit, fates)) => {
                on_commit(&commit);
                for (offset, len, reply) in waiting.drain(..) {
                    if let Some(reply) = reply {
                        let _ =
                            reply.send(Ok((commit.clone(), fates[offset..offset + len].to_vec())));
                    }
                }
            }
            Err(err) => {
                for (_, _, reply) in waiting.drain(..) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(err.to_string()));
                    }
                }
                return Err(err);
            }
        }
        // After the replies: a stable checkpoint's fsyncs never delay an acknowledgement.
        if let Some((h, stable)) = &heartbeat
            && last_beat.elapsed() >= h.every
        {
            beat(ledger, stable, &mut last_beat);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoteSigner;

    fn rec(id: &str, decision: &str) -> Record {
        let json = format!(r#"{{"decision_id":"{id}","ts_us":1,"decision":"{decision}"}}"#);
        Record::from_json(json.as_bytes(), &id).unwrap()
    }

    /// Waits until the ledger's sealed runs number `n` (seals run on another thread and are
    /// collected by the next commit).
    fn sealed_runs(l: &mut Ledger, n: usize) {
        for _ in 0..500 {
            l.append_batch(&[]).unwrap();
            if l.sealed_ids().len() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fewer than {n} runs");
    }

    #[test]
    fn a_lookup_made_before_a_seal_is_completed_by_the_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = NoteSigner::from_seed("t.example/l", [3; 32]);
        let mut l = Ledger::create(&tmp.path().join("l"), signer, 10).unwrap();
        let batch = |from: usize, to: usize| -> Vec<Record> {
            (from..to)
                .map(|i| rec(&format!("d-{i}"), "allow"))
                .collect()
        };
        l.append_batch(&batch(0, 10)).unwrap();
        sealed_runs(&mut l, 1);
        // Looked up against one run; then 10..20 is sealed (a second run) and 20..25 stays in
        // the WAL before the writer sees the submission.
        let probe = [
            rec("d-3", "allow"),  // in the first run: duplicate
            rec("d-12", "allow"), // sealed after the lookup: duplicate
            rec("d-15", "deny"),  // sealed after the lookup, other bytes: conflict
            rec("d-22", "allow"), // in the current WAL: duplicate
            rec("d-4", "deny"),   // in the first run, other bytes: conflict
            rec("new-1", "allow"),
        ];
        let sealed = l.sealed_ids();
        let looked = sealed.look_up(probe.iter().map(|r| r.id)).unwrap();
        assert_eq!(looked.covered, 10);
        assert_eq!(looked.hits.len(), 2, "{looked:?}");
        l.append_batch(&batch(10, 20)).unwrap();
        sealed_runs(&mut l, 2);
        l.append_batch(&batch(20, 25)).unwrap();
        let want = vec![
            Fate::Duplicate(3),
            Fate::Duplicate(12),
            Fate::Conflict(15),
            Fate::Duplicate(22),
            Fate::Conflict(4),
            Fate::Appended(25),
        ];
        // The stale lookup, a part with no lookup, and a lookup split in two parts all give
        // what the writer alone gives.
        let (_, fates) = l.append_unique_looked(&probe, &[looked]).unwrap();
        assert_eq!(fates, want);
        let repeat: Vec<Fate> = want[..5]
            .iter()
            .copied()
            .chain([Fate::Duplicate(25)])
            .collect();
        let (_, alone) = l.append_unique(&probe).unwrap();
        assert_eq!(alone, repeat);
        let (a, b) = probe.split_at(2);
        let parts = [
            sealed.look_up(a.iter().map(|r| r.id)).unwrap(),
            Looked::none(b.len()),
        ];
        let (_, fates) = l.append_unique_looked(&probe, &parts).unwrap();
        assert_eq!(fates, repeat);

        // Through the committer: the lookups run on the caller's thread.
        let committer = Committer::spawn(l, 1000, 4, |_| {});
        let acked = committer.append(probe.to_vec()).unwrap();
        assert_eq!(acked.fates, repeat);
        let mut appender = committer.appender(2);
        for r in batch(0, 30) {
            appender.push(r).unwrap();
        }
        let appended = appender.finish().unwrap();
        assert_eq!((appended.records, appended.duplicates.len()), (5, 25));
        assert_eq!(committer.finish().unwrap().size(), 31);
    }

    fn run_files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("ids"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| {
                let (s, e) = n.trim_end_matches(".ids").split_once('-').unwrap();
                format!(
                    "{}-{}",
                    s.parse::<u64>().unwrap(),
                    e.parse::<u64>().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn runs_merge_eight_at_a_time_and_lookups_across_a_merge_stay_exact() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let signer = || NoteSigner::from_seed("t.example/l", [3; 32]);
        let mut l = Ledger::create(&dir, signer(), 10).unwrap();
        let rec_i = |i: usize| rec(&format!("d-{i}"), "allow");
        for k in 0..7 {
            l.append_batch(&(k * 10..k * 10 + 10).map(rec_i).collect::<Vec<_>>())
                .unwrap();
        }
        sealed_runs(&mut l, 7);
        // Looked up against seven runs; the eighth seal merges all eight into one run.
        let probe: Vec<Record> = [5, 65, 75, 79].into_iter().map(rec_i).collect();
        let looked = l.sealed_ids().look_up(probe.iter().map(|r| r.id)).unwrap();
        assert_eq!((looked.covered, looked.hits.len()), (70, 2));
        l.append_batch(&(70..80).map(rec_i).collect::<Vec<_>>())
            .unwrap();
        sealed_runs(&mut l, 1);
        for _ in 0..100 {
            if l.sealed_ids().len() == 1 {
                break;
            }
            l.append_batch(&[]).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(l.sealed_ids().len(), 1, "the eight runs became one");
        assert_eq!(run_files(&dir), ["0-80"]);
        let (_, fates) = l.append_unique_looked(&probe, &[looked]).unwrap();
        assert_eq!(
            fates,
            [5, 65, 75, 79].map(Fate::Duplicate),
            "a lookup made before the merge"
        );
        // Two more segments: runs of levels 1, 0, 0; every id found, and other bytes conflict.
        for k in 8..10 {
            l.append_batch(&(k * 10..k * 10 + 10).map(rec_i).collect::<Vec<_>>())
                .unwrap();
        }
        l.append_batch(&[rec_i(100)]).unwrap();
        sealed_runs(&mut l, 3);
        assert_eq!(run_files(&dir), ["0-80", "80-90", "90-100"]);
        let all: Vec<Record> = (0..101).map(rec_i).collect();
        let want: Vec<Fate> = (0..101).map(Fate::Duplicate).collect();
        assert_eq!(l.append_unique(&all).unwrap().1, want);
        let other: Vec<Record> = (0..101).map(|i| rec(&format!("d-{i}"), "deny")).collect();
        let conflicts: Vec<Fate> = (0..101).map(Fate::Conflict).collect();
        assert_eq!(l.append_unique(&other).unwrap().1, conflicts);
        drop(l);

        // Reopened: the merged run is used. A damaged one is removed and the segments' runs
        // rebuilt; a part a crash left beside its merged run is removed.
        let (mut l, _) = Ledger::open(&dir, signer()).unwrap();
        assert_eq!(l.sealed_ids().len(), 3);
        assert_eq!(l.append_unique(&all).unwrap().1, want);
        drop(l);
        let merged = run_path(&dir, 0, 80);
        let mut bytes = std::fs::read(&merged).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&merged, bytes).unwrap();
        let (mut l, _) = Ledger::open(&dir, signer()).unwrap();
        assert_eq!(l.sealed_ids().len(), 10);
        assert_eq!(l.append_unique(&all).unwrap().1, want);
        assert_eq!(run_files(&dir).len(), 10);
        // Eleven runs of one level: the seal of [100, 111) merges the first eight, and its own
        // run stays (a merge of other runs than the seal's must not drop it).
        l.append_batch(&(101..111).map(rec_i).collect::<Vec<_>>())
            .unwrap();
        for _ in 0..100 {
            if l.sealed_ids().len() == 4 {
                break;
            }
            l.append_batch(&[]).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(l.sealed_ids().len(), 4);
        assert_eq!(run_files(&dir), ["0-80", "80-90", "90-100", "100-111"]);
        let more: Vec<Record> = (0..111).map(rec_i).collect();
        let want_more: Vec<Fate> = (0..111).map(Fate::Duplicate).collect();
        assert_eq!(l.append_unique(&more).unwrap().1, want_more);
        drop(l);
        // A merge a crash interrupted after its rename: the parts are left beside it, and the
        // next open uses the merged run and removes them.
        let parts: Vec<(u64, u64)> = (0..8).map(|k| (k * 10, k * 10 + 10)).collect();
        for &(s, e) in &parts {
            std::fs::copy(run_path(&dir, 80, 90), run_path(&dir, s, e)).unwrap();
        }
        std::fs::remove_file(run_path(&dir, 0, 80)).unwrap();
        let (l, _) = Ledger::open(&dir, signer()).unwrap();
        assert_eq!(
            l.sealed_ids().len(),
            11,
            "runs of other segments are rebuilt"
        );
        drop(l);
        crate::ids::merge_runs(&dir, &parts).unwrap();
        assert_eq!(run_files(&dir).len(), 12);
        let (mut l, _) = Ledger::open(&dir, signer()).unwrap();
        assert_eq!(l.sealed_ids().len(), 4);
        assert_eq!(run_files(&dir), ["0-80", "80-90", "90-100", "100-111"]);
        assert_eq!(l.append_unique(&more).unwrap().1, want_more);
    }

    fn run_path(dir: &std::path::Path, s: u64, e: u64) -> std::path::PathBuf {
        crate::ids::IdIndex::run_path(dir, s, e)
    }

    fn stable_within(c: &Committer, size: u64) {
        for _ in 0..500 {
            if c.stable_size() == size {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no stable checkpoint of size {size}: {}", c.stable_size());
    }

    #[test]
    fn the_heartbeat_stores_a_stable_checkpoint_when_appends_pause_and_while_they_flow() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let signer = NoteSigner::from_seed("t.example/l", [4; 32]);
        let layout = crate::layout::Layout::new(&dir);
        let l = Ledger::create(&dir, signer.clone(), 1000).unwrap();
        let pause = Heartbeat {
            idle: Duration::from_millis(20),
            every: Duration::from_secs(3600),
        };
        let c = Committer::spawn_with_heartbeat(l, 100, 4, Some(pause), |_| {});
        assert_eq!(c.stable_size(), 0);
        let acked = c.append(vec![rec("a", "allow"), rec("b", "deny")]).unwrap();
        stable_within(&c, 2);
        // The stored note is the checkpoint the commit signed, under the writer's own key.
        let stored = std::fs::read_to_string(layout.checkpoint(2)).unwrap();
        assert_eq!(stored, acked.commit.checkpoint.bytes);
        // Nothing new: no other file.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(layout.checkpoints().unwrap().len(), 1);
        let l = c.finish().unwrap();
        drop(l);

        // Reopened with a stable checkpoint inside the WAL; appends flow (no pause of 1 h), a
        // beat after every commit.
        let (l, _) = Ledger::open(&dir, signer.clone()).unwrap();
        let flow = Heartbeat {
            idle: Duration::from_secs(3600),
            every: Duration::ZERO,
        };
        let c = Committer::spawn_with_heartbeat(l, 100, 4, Some(flow), |_| {});
        c.append(vec![rec("c", "allow")]).unwrap();
        c.append(vec![rec("d", "allow")]).unwrap();
        stable_within(&c, 4);
        let sizes: Vec<u64> = layout.checkpoints().unwrap().iter().map(|c| c.0).collect();
        assert_eq!(sizes, vec![2, 3, 4]);
        let mut l = c.finish().unwrap();
        // The seal keeps the heartbeat's note for its end, and the ledger verifies.
        assert_eq!(l.seal().unwrap(), Some((0, 4)));
        drop(l);
        let opts = crate::VerifyOptions::new(vec![signer.verifier()]);
        let report = crate::verify(&dir, &opts).unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.verified, 4);
    }
}
