//! The resident evaluator's hook log (docs/RECORD.md §5.2): the calls a resident evaluator
//! (`govtrail decide --serve`, a server's decide endpoint) decides, one framed envelope after
//! another in one preallocated file, each made durable (fdatasync) before its call is answered.
//!
//! ```text
//! log   := frame* ‖ zeros
//! frame := u32le(n > 0) ‖ u32le(CRC-32 IEEE of envelope) ‖ envelope[n]   (one JSON line, no newline)
//! end   := the first 8-byte header that is all zeros
//! ```
//!
//! The frame is the WAL's (a length, the payload's CRC-32, the payload: `wal.rs`), in
//! little-endian where the WAL is big-endian. The two stay apart for a stated reason: both are
//! v1 formats on disk, and an older server's log must always drain; a hook log also ends at its
//! first all-zero header (its blocks are written as zeros ahead of use), where a WAL ends at the
//! end of its file.
//!
//! A call's own spool file costs a new inode, a rename and a directory fsync: two journal
//! commits. A log's blocks are written (as zeros) before calls need them, so a call's
//! fdatasync writes data only. Each log has a fixed size; the next one is made, off any call's
//! path, once the current one is half full, so no call waits for a log to be made or grown
//! (unless calls fill a log before its successor is ready). The server holds an exclusive lock
//! on its logs while it runs; a drain reads a log up to its last whole frame, remembers how far
//! it got ([`drained_mark`]), and removes the log once no server holds it and all of it is in the
//! ledger ([`finish`]).
//!
//! Invariants: frames are written in offset order under one lock, so a frame whose fdatasync
//! returned has every earlier frame of its file durable with it; a log is never removed while
//! a server holds it, nor while bytes that are not whole frames follow its last frame (those
//! move to `rejected/`).

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::IoContext as _;
use crate::{Error, Result};

/// A log file's name ends so.
pub const HOOK_LOG_SUFFIX: &str = ".hooklog";
/// A log's size: this many bytes of zeros, written when it is made (about 20,000 calls). The
/// server then moves on to its next log, so that drained logs are removed while it runs.
const LOG_BYTES: u64 = 16 << 20;
/// A frame's header: the envelope's length and its CRC-32, little-endian `u32`s.
const HEADER: usize = 8;

/// An open log, appended to by the server's workers.
#[derive(Debug)]
pub struct HookLog {
    spool: PathBuf,
    state: Mutex<State>,
    /// [`LOG_BYTES`], smaller in tests.
    size: u64,
}

/// The log being written, and the next one once it is made.
#[derive(Debug)]
struct State {
    open: LogFile,
    next: Option<LogFile>,
    /// A worker is making the next log.
    making: bool,
    /// How many times the server moved on to another log.
    moves: u64,
}

/// A log file, where its next frame goes, and how many bytes it has.
#[derive(Debug)]
struct LogFile {
    file: Arc<File>,
    path: PathBuf,
    next: u64,
    allocated: u64,
}

impl HookLog {
    /// Creates the server's first log in `spool`.
    pub fn create(spool: &Path) -> Result<Self> {
        Self::with_size(spool, LOG_BYTES)
    }

    fn with_size(spool: &Path, size: u64) -> Result<Self> {
        super::create(spool)?;
        Ok(Self {
            spool: spool.to_path_buf(),
            state: Mutex::new(State {
                open: LogFile::create(spool, size)?,
                next: None,
                making: false,
                moves: 0,
            }),
            size,
        })
    }

    /// The log being written.
    pub fn path(&self) -> PathBuf {
        self.lock().open.path.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next log if the current one is half full and none is made or being made. A
    /// worker calls it after answering a call, so that making a log (writing its zeros and
    /// syncing them) is on no call's path; appends go on meanwhile.
    pub fn prepare(&self) -> Result<()> {
        let moves = {
            let mut state = self.lock();
            if state.next.is_some() || state.making || state.open.next < state.open.allocated / 2 {
                return Ok(());
            }
            state.making = true;
            state.moves
        };
        let made = LogFile::create(&self.spool, self.size);
        let mut state = self.lock();
        state.making = false;
        // Logs are drained in the order of their names, which begin with the time they were
        // made: one made before the log now written must not take later calls. Dropped, it is
        // an empty log no server holds, which a drain removes.
        if state.moves == moves {
            state.next = Some(made?);
        }
        Ok(())
    }

    /// Appends one envelope (JSON, one line without its newline) and makes it durable. When it
    /// does not fit in the current log, that log is closed (a drain then takes the rest of it
    /// and removes it) and the next one begun: the one [`Self::prepare`] made, or, when it is
    /// not ready or too small for this frame, one made now (of the frame's size at least).
    pub fn append(&self, envelope: &[u8]) -> Result<()> {
        let len = u32::try_from(envelope.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::Spool {
                path: self.spool.clone(),
                message: format!("an envelope of {} bytes cannot be framed", envelope.len()),
            })?;
        let mut frame = Vec::with_capacity(HEADER + envelope.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(envelope).to_le_bytes());
        frame.extend_from_slice(envelope);
        let (file, path) = {
            // Frames are written in offset order under the lock, so a frame whose fdatasync
            // returned has every earlier frame of its file durable with it.
            let mut state = self.lock();
            let need = frame.len() as u64;
            if state.open.next + need > state.open.allocated {
                // A made log too small for this frame is dropped (see `prepare`).
                state.open = match state.next.take() {
                    Some(next) if need <= next.allocated => next,
                    _ => LogFile::create(&self.spool, self.size.max(need))?,
                };
                state.moves += 1;
            }
            let open = &mut state.open;
            let at = open.next;
            open.file
                .write_all_at(&frame, at)
                .ctx("write", &open.path)?;
            open.next = at + frame.len() as u64;
            (Arc::clone(&open.file), open.path.clone())
        };
        file.sync_data().ctx("fsync", &path)
    }
}

impl LogFile {
    /// Creates `<spool>/<now µs>-<pid>-<n>.hooklog`, locked, with `size` bytes of zeros written
    /// and synced. It is made under a dot-name and renamed once locked, so a drain never sees
    /// it unlocked.
    fn create(spool: &Path, size: u64) -> Result<Self> {
        // The sequence number keeps two logs begun in one microsecond apart.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "{}-{}-{}{HOOK_LOG_SUFFIX}",
            super::now_us(),
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let tmp = spool.join(format!(".tmp-{name}"));
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = std::fs::OpenOptions::new()
            .mode(super::file_mode(spool))
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .ctx("create", &tmp)?;
        file.try_lock().map_err(|e| Error::Spool {
            path: tmp.clone(),
            message: format!("lock: {e}"),
        })?;
        let mut open = Self {
            file: Arc::new(file),
            path: tmp,
            next: 0,
            allocated: 0,
        };
        open.fill(size)?;
        let path = spool.join(name);
        std::fs::rename(&open.path, &path).ctx("rename", &open.path)?;
        open.path = path;
        crate::layout::sync_dir(spool)?;
        Ok(open)
    }

    /// Writes `size` bytes of zeros and syncs them with the file's size.
    fn fill(&mut self, size: u64) -> Result<()> {
        let zeros = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < size {
            let n = (size - at).min(zeros.len() as u64);
            self.file
                .write_all_at(&zeros[..n as usize], at)
                .ctx("write", &self.path)?;
            at += n;
        }
        self.file.sync_all().ctx("fsync", &self.path)?;
        self.allocated = size;
        Ok(())
    }
}

/// The logs in `spool`, oldest first.
pub(crate) fn logs(spool: &Path) -> Result<Vec<PathBuf>> {
    super::files(spool, HOOK_LOG_SUFFIX)
}

/// What a drain read from one log.
#[derive(Debug)]
pub(crate) struct Drained {
    pub(crate) path: PathBuf,
    /// Where this drain started.
    pub(crate) start: u64,
    /// The frames from the last drain's end on, as NDJSON envelopes.
    pub(crate) ndjson: Vec<u8>,
    /// How many frames.
    pub(crate) frames: u64,
    /// Where the last whole frame ends.
    pub(crate) end: u64,
    /// No server holds the log: nothing more will be written to it.
    pub(crate) finished: bool,
    /// A frame that is not whole (a call the server was writing when it died, never
    /// answered): where, and why.
    pub(crate) torn: Option<(u64, String)>,
}

/// The file remembering how far a log was drained.
fn drained_mark(log: &Path) -> PathBuf {
    let name = log.file_name().map(|n| n.to_string_lossy().into_owned());
    log.with_file_name(format!(".{}.drained", name.unwrap_or_default()))
}

/// Reads the frames of `log` a previous drain did not take.
pub(crate) fn read(log: &Path) -> Result<Drained> {
    let file = File::open(log).ctx("open", log)?;
    // A server holds its log exclusively: a shared lock means none writes it any more.
    let finished = file.try_lock_shared().is_ok();
    let from = match std::fs::read_to_string(drained_mark(log)) {
        Ok(s) => s.trim().parse::<u64>().map_err(|e| Error::Spool {
            path: drained_mark(log),
            message: format!("not an offset: {e}"),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).ctx("read", &drained_mark(log)),
    };
    // Only what the last drain did not take is read.
    let size = file.metadata().ctx("stat", log)?.len();
    if from > size {
        return Err(Error::Spool {
            path: log.to_path_buf(),
            message: format!("drained to {from}, but the log has {size} bytes"),
        });
    }
    let mut bytes = Vec::new();
    {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let mut f = &file;
        f.seek(SeekFrom::Start(from))
            .and_then(|_| f.read_to_end(&mut bytes))
            .ctx("read", log)?;
    }
    let base = from;
    let mut at = 0usize;
    let mut out = Drained {
        path: log.to_path_buf(),
        start: from,
        ndjson: Vec::new(),
        frames: 0,
        end: from,
        finished,
        torn: None,
    };
    while let Some(header) = bytes.get(at..at + HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 && crc == 0 {
            // The zeros after the last frame.
            break;
        }
        let body = bytes.get(at + HEADER..at + HEADER + len);
        match body {
            Some(b) if crc32fast::hash(b) == crc => {
                out.ndjson.extend_from_slice(b);
                out.ndjson.push(b'\n');
                out.frames += 1;
                at += HEADER + len;
                out.end = base + at as u64;
            }
            _ => {
                out.torn = Some((
                    base + at as u64,
                    if body.is_none() {
                        format!("a frame of {len} bytes runs past the end of the file")
                    } else {
                        "a frame's CRC-32 does not match its bytes".to_owned()
                    },
                ));
                break;
            }
        }
    }
    // After the last frame only zeros may follow: anything else is kept, never removed.
    if out.torn.is_none() && bytes[at..].iter().any(|&b| b != 0) {
        out.torn = Some((
            base + at as u64,
            "bytes that are not a whole frame follow the last frame".to_owned(),
        ));
    }
    Ok(out)
}

/// After the drained frames are in the ledger: removes a finished log (moving it to
/// `rejected/` when it ends in a torn frame), or remembers where the next drain starts.
pub(crate) fn finish(d: &Drained) -> Result<()> {
    let spool = d.path.parent().unwrap_or_else(|| Path::new("."));
    let mark = drained_mark(&d.path);
    if d.finished {
        if d.torn.is_some() {
            super::reject(spool, &d.path)?;
        } else {
            std::fs::remove_file(&d.path).ctx("remove", &d.path)?;
        }
        match std::fs::remove_file(&mark) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).ctx("remove", &mark);
            }
            _ => {}
        }
        Ok(())
    } else {
        crate::layout::write_atomic_mode(
            &mark,
            format!("{}\n", d.end).as_bytes(),
            super::file_mode(spool),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_torn_one_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let log = HookLog::create(tmp.path()).unwrap();
        log.append(br#"{"a":1}"#).unwrap();
        log.append(br#"{"b":2}"#).unwrap();
        let path = log.path();
        let d = read(&path).unwrap();
        assert_eq!(d.ndjson, b"{\"a\":1}\n{\"b\":2}\n");
        assert!(!d.finished, "the server still holds it");
        assert!(d.torn.is_none());
        finish(&d).unwrap();
        log.append(br#"{"c":3}"#).unwrap();
        let d = read(&path).unwrap();
        assert_eq!(
            d.ndjson, b"{\"c\":3}\n",
            "a drain starts where the last ended"
        );
        finish(&d).unwrap();
        // A frame whose bytes were not all written, then the server gone.
        log.lock()
            .open
            .file
            .write_all_at(&[9, 0, 0, 0, 1, 2, 3, 4, b'{'], d.end)
            .unwrap();
        drop(log);
        let d = read(&path).unwrap();
        assert!(d.finished);
        assert_eq!(d.frames, 0);
        assert!(
            d.torn
                .as_ref()
                .is_some_and(|(at, why)| *at == d.end && why.contains("CRC"))
        );
        finish(&d).unwrap();
        assert!(!path.exists());
        assert!(
            tmp.path()
                .join("rejected")
                .join(path.file_name().unwrap())
                .exists()
        );
    }

    #[test]
    fn a_file_that_is_not_a_log_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("1-2-0.hooklog");
        std::fs::write(&path, b"garbage").unwrap();
        let d = read(&path).unwrap();
        assert!(d.finished && d.frames == 0);
        assert!(d.torn.as_ref().is_some_and(|(at, _)| *at == 0));
        finish(&d).unwrap();
        assert!(tmp.path().join("rejected/1-2-0.hooklog").exists());
    }

    #[test]
    fn a_full_log_is_closed_and_a_drain_then_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let log = HookLog::with_size(tmp.path(), 40).unwrap();
        let first = log.path();
        log.prepare().unwrap();
        assert_eq!(logs(tmp.path()).unwrap().len(), 1, "not half full yet");
        log.append(br#"{"a":1}"#).unwrap();
        log.append(br#"{"b":2}"#).unwrap();
        // 30 of 40 bytes: the next log is made, empty, held, and drains to nothing.
        log.prepare().unwrap();
        assert_eq!(logs(tmp.path()).unwrap().len(), 2);
        // Past 40 bytes: this frame goes to the next log, and the first is no longer held.
        log.append(br#"{"c":3}"#).unwrap();
        assert_ne!(log.path(), first);
        // A frame larger than a log gets a log of its own.
        let big = format!(r#"{{"d":"{}"}}"#, "x".repeat(60));
        log.append(big.as_bytes()).unwrap();
        let drained: Vec<Drained> = logs(tmp.path())
            .unwrap()
            .iter()
            .map(|p| read(p).unwrap())
            .collect();
        let text: Vec<u8> = drained.iter().flat_map(|d| d.ndjson.clone()).collect();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            format!("{{\"a\":1}}\n{{\"b\":2}}\n{{\"c\":3}}\n{big}\n")
        );
        assert_eq!(
            drained.iter().map(|d| d.finished).collect::<Vec<_>>(),
            [true, true, false]
        );
        drained.iter().for_each(|d| finish(d).unwrap());
        assert!(!first.exists());
        assert!(log.path().exists());
        // The server stops with a next log made and never written: it drains to nothing, and
        // every log is then removed.
        log.prepare().unwrap();
        assert_eq!(logs(tmp.path()).unwrap().len(), 2);
        drop(log);
        for p in logs(tmp.path()).unwrap() {
            let d = read(&p).unwrap();
            assert!(d.finished && d.torn.is_none(), "{}", p.display());
            finish(&d).unwrap();
        }
        assert!(logs(tmp.path()).unwrap().is_empty());
    }
}
