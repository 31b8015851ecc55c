//! Group commit: a thread that owns the [`Ledger`] and merges whatever submissions are queued
//! while the previous fsync ran into one commit (one write, one fsync, one signature).
//!
//! Callers either wait for their own commit ([`Committer::append`]), stream records and wait
//! at the end ([`Committer::appender`]), or are told of each commit through the `on_commit`
//! callback ([`Committer::submit`]). Every commit is idempotent
//! ([`Ledger::append_unique`]): a record whose decision id the ledger holds is a duplicate or a
//! conflict, never appended twice; each caller is told the fate of each of its records.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use crate::writer::{Commit, Fate, Ledger, Record};
use crate::{Error, Result};

/// A commit and the fates of one request's records.
type Reply = std::result::Result<(Commit, Vec<Fate>), String>;

struct Request {
    records: Vec<Record>,
    reply: Option<SyncSender<Reply>>,
}

/// A running commit thread.
#[derive(Debug)]
pub struct Committer {
    dir: std::path::PathBuf,
    tx: Option<SyncSender<Request>>,
    thread: Option<JoinHandle<Result<Ledger>>>,
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
    pub fn spawn(
        mut ledger: Ledger,
        max_batch: usize,
        queue: usize,
        mut on_commit: impl FnMut(&Commit) + Send + 'static,
    ) -> Self {
        let dir = ledger.dir().to_path_buf();
        let (tx, rx) = sync_channel::<Request>(queue.max(1));
        let thread = std::thread::spawn(move || {
            let result = run(&mut ledger, &rx, max_batch.max(1), &mut on_commit);
            drop(rx);
            result.map(|()| ledger)
        });
        Self {
            dir,
            tx: Some(tx),
            thread: Some(thread),
        }
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
        let tx = self.tx.as_ref().ok_or(Error::Poisoned)?;
        tx.send(Request {
            records,
            reply: None,
        })
        .map_err(|_| Error::Poisoned)
    }

    /// Appends records and waits until they are durable. The commit may hold other callers'
    /// records too; [`Acked`] gives this caller's own index range.
    pub fn append(&self, records: Vec<Record>) -> Result<Acked> {
        self.send(records)?.wait()
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

    /// Queues records and returns where their commit's acknowledgement will arrive.
    fn send(&self, records: Vec<Record>) -> Result<Pending> {
        let tx = self.tx.as_ref().ok_or(Error::Poisoned)?;
        let (reply, rx) = sync_channel(1);
        tx.send(Request {
            records,
            reply: Some(reply),
        })
        .map_err(|_| Error::Poisoned)?;
        Ok(Pending { rx })
    }

    /// Waits for every queued record to commit and returns the ledger, or the first error.
    pub fn finish(mut self) -> Result<Ledger> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(Error::Poisoned),
        }
    }
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
            self.submit()?;
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

    fn submit(&mut self) -> Result<()> {
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.size));
        let n = chunk.len() as u64;
        let pending = self.committer.send(chunk)?;
        self.pending.push_back((pending, self.pushed));
        self.pushed += n;
        Ok(())
    }

    /// Submits what is left and waits until every record pushed is durable (or known a
    /// duplicate or a conflict).
    pub fn finish(mut self) -> Result<Appended> {
        if !self.chunk.is_empty() {
            self.submit()?;
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

fn run(
    ledger: &mut Ledger,
    rx: &Receiver<Request>,
    max_batch: usize,
    on_commit: &mut dyn FnMut(&Commit),
) -> Result<()> {
    let mut waiting = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut batch = first.records;
        waiting.clear();
        waiting.push((0usize, batch.len(), first.reply));
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(more) => {
                    waiting.push((batch.len(), more.records.len(), more.reply));
                    batch.extend(more.records);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        match ledger.append_unique(&batch) {
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
    }
    Ok(())
}
