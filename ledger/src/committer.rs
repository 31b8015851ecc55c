//! Group commit: a thread that owns the [`Ledger`] and merges whatever submissions are queued
//! while the previous fsync ran into one commit (one write, one fsync, one signature).

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use crate::writer::{Commit, Ledger, Record};
use crate::{Error, Result};

/// A running commit thread.
#[derive(Debug)]
pub struct Committer {
    tx: Option<SyncSender<Vec<Record>>>,
    thread: Option<JoinHandle<Result<Ledger>>>,
}

impl Committer {
    /// Starts the commit thread. `max_batch` bounds the records merged into one commit;
    /// `on_commit` runs after each durable commit (it is the acknowledgement).
    pub fn spawn(
        mut ledger: Ledger,
        max_batch: usize,
        queue: usize,
        mut on_commit: impl FnMut(&Commit) + Send + 'static,
    ) -> Self {
        let (tx, rx) = sync_channel::<Vec<Record>>(queue.max(1));
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

    /// Queues records; blocks while the queue is full. Fails if the commit thread has stopped
    /// (after an error, which [`Committer::finish`] returns).
    pub fn submit(&self, records: Vec<Record>) -> Result<()> {
        let tx = self.tx.as_ref().ok_or(Error::Poisoned)?;
        tx.send(records).map_err(|_| Error::Poisoned)
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

fn run(
    ledger: &mut Ledger,
    rx: &Receiver<Vec<Record>>,
    max_batch: usize,
    on_commit: &mut dyn FnMut(&Commit),
) -> Result<()> {
    while let Ok(mut batch) = rx.recv() {
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let commit = ledger.append_batch(&batch)?;
        on_commit(&commit);
    }
    Ok(())
}
