//! Group commit: a thread that owns the [`Ledger`] and merges whatever submissions are queued
//! while the previous fsync ran into one commit (one write, one fsync, one signature).
//!
//! Callers either wait for their own commit ([`Committer::append`]) or stream records and are
//! told of each commit through the `on_commit` callback ([`Committer::submit`]).

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use crate::writer::{Commit, Ledger, Record};
use crate::{Error, Result};

struct Request {
    records: Vec<Record>,
    reply: Option<SyncSender<Result<Commit, String>>>,
}

/// A running commit thread.
#[derive(Debug)]
pub struct Committer {
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
        let (tx, rx) = sync_channel::<Request>(queue.max(1));
        let thread = std::thread::spawn(move || {
            let result = run(&mut ledger, &rx, max_batch.max(1), &mut on_commit);
            drop(rx);
            result.map(|()| ledger)
        });
        Self {
            tx: Some(tx),
            thread: Some(thread),
        }
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
        let tx = self.tx.as_ref().ok_or(Error::Poisoned)?;
        let (reply, rx) = sync_channel(1);
        let n = records.len() as u64;
        tx.send(Request {
            records,
            reply: Some(reply),
        })
        .map_err(|_| Error::Poisoned)?;
        match rx.recv() {
            Ok(Ok(commit)) => Ok(Acked {
                first: commit.first,
                end: commit.first + n,
                commit,
            }),
            Ok(Err(message)) => Err(Error::Commit { message }),
            Err(_) => Err(Error::Poisoned),
        }
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

/// The acknowledgement of one [`Committer::append`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// Index of this caller's first record.
    pub first: u64,
    /// One past this caller's last record.
    pub end: u64,
    /// The commit (checkpoint) that made them durable.
    pub commit: Commit,
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
        waiting.push((0usize, first.reply));
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(more) => {
                    waiting.push((batch.len(), more.reply));
                    batch.extend(more.records);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        match ledger.append_batch(&batch) {
            Ok(commit) => {
                on_commit(&commit);
                for (offset, reply) in waiting.drain(..) {
                    if let Some(reply) = reply {
                        let mut mine = commit.clone();
                        mine.first = commit.first + offset as u64;
                        let _ = reply.send(Ok(mine));
                    }
                }
            }
            Err(err) => {
                for (_, reply) in waiting.drain(..) {
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
