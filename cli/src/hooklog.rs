//! The resident evaluator's hook log (docs/RECORD.md §5.2): the calls `govtrail decide --serve`
//! decides, one framed envelope after another in one preallocated file, each made durable
//! (fdatasync) before its call is answered.
//!
//! A call's own spool file costs a new inode, a rename and a directory fsync: two journal
//! commits. The log's blocks are written (as zeros) before calls need them, so a call's
//! fdatasync writes data only. The server holds an exclusive lock on its log while it runs;
//! `govtrail ingest --spool` drains a log up to its last whole frame, remembers how far it got,
//! and removes the log once no server holds it and all of it is in the ledger.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};

/// A log file's name ends so.
pub(crate) const SUFFIX: &str = ".hooklog";
/// The log grows by this many bytes of zeros at a time.
const CHUNK: u64 = 4 << 20;
/// A frame's header: the envelope's length and its CRC-32, little-endian `u32`s.
const HEADER: usize = 8;

/// An open log, appended to by the server's workers.
pub(crate) struct HookLog {
    file: File,
    path: PathBuf,
    /// Where the next frame goes, and how many bytes the file has.
    ends: Mutex<(u64, u64)>,
}

impl HookLog {
    /// Creates `<spool>/<now µs>-<pid>.hooklog`, locked, with its first chunk written. It is
    /// made under a dot-name and renamed once locked, so a drain never sees it unlocked.
    pub(crate) fn create(spool: &Path) -> Result<Self> {
        std::fs::create_dir_all(spool).with_context(|| format!("create {}", spool.display()))?;
        let name = format!("{}-{}{SUFFIX}", crate::hook::now_us(), std::process::id());
        let tmp = spool.join(format!(".tmp-{name}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?;
        file.try_lock()
            .with_context(|| format!("lock {}", tmp.display()))?;
        let mut log = Self {
            file,
            path: tmp,
            ends: Mutex::new((0, 0)),
        };
        log.grow(&mut log.ends.lock().unwrap_or_else(|p| p.into_inner()), 0)?;
        let path = spool.join(name);
        std::fs::rename(&log.path, &path)
            .with_context(|| format!("rename {}", log.path.display()))?;
        log.path = path;
        File::open(spool)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("fsync {}", spool.display()))?;
        Ok(log)
    }

    /// The log's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one envelope (JSON, one line without its newline) and makes it durable.
    pub(crate) fn append(&self, envelope: &[u8]) -> Result<()> {
        let len = u32::try_from(envelope.len())
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("an envelope of {} bytes", envelope.len()))?;
        let mut frame = Vec::with_capacity(HEADER + envelope.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(envelope).to_le_bytes());
        frame.extend_from_slice(envelope);
        {
            // Frames are written in offset order under the lock, so a frame whose fdatasync
            // returned has every earlier frame durable with it.
            let mut ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
            let at = ends.0;
            if at + frame.len() as u64 > ends.1 {
                self.grow(&mut ends, frame.len() as u64)?;
            }
            self.file
                .write_all_at(&frame, at)
                .with_context(|| format!("write {} at {at}", self.path.display()))?;
            ends.0 = at + frame.len() as u64;
        }
        self.file
            .sync_data()
            .with_context(|| format!("fsync {}", self.path.display()))
    }

    /// Extends the file by zeros (at least `need` bytes past the next frame) and syncs it with
    /// its new size.
    fn grow(&self, ends: &mut (u64, u64), need: u64) -> Result<()> {
        let add = CHUNK.max(need.next_multiple_of(CHUNK));
        let zeros = vec![0u8; 1 << 20];
        let mut at = ends.1;
        while at < ends.1 + add {
            self.file
                .write_all_at(&zeros, at)
                .with_context(|| format!("extend {}", self.path.display()))?;
            at += zeros.len() as u64;
        }
        self.file
            .sync_all()
            .with_context(|| format!("fsync {}", self.path.display()))?;
        ends.1 = at;
        Ok(())
    }
}

/// The logs in `spool`, oldest first.
pub(crate) fn logs(spool: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(spool).with_context(|| format!("list {}", spool.display()))? {
        let e = e.with_context(|| format!("list {}", spool.display()))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(SUFFIX) && !name.starts_with('.') && e.file_type()?.is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// What a drain read from one log.
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
fn mark(log: &Path) -> PathBuf {
    let name = log.file_name().map(|n| n.to_string_lossy().into_owned());
    log.with_file_name(format!(".{}.drained", name.unwrap_or_default()))
}

/// Reads the frames of `log` a previous drain did not take.
pub(crate) fn read(log: &Path) -> Result<Drained> {
    let file = File::open(log).with_context(|| format!("open {}", log.display()))?;
    // A server holds its log exclusively: a shared lock means none writes it any more.
    let finished = file.try_lock_shared().is_ok();
    let from = match std::fs::read_to_string(mark(log)) {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .with_context(|| format!("{}: not an offset", mark(log).display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("read {}", mark(log).display())),
    };
    let bytes = std::fs::read(log).with_context(|| format!("read {}", log.display()))?;
    let mut at = usize::try_from(from).unwrap_or(usize::MAX);
    if at > bytes.len() {
        bail!(
            "{}: drained to {at}, but the log has {} bytes",
            log.display(),
            bytes.len()
        );
    }
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
                out.end = at as u64;
            }
            _ => {
                out.torn = Some((
                    at as u64,
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
    Ok(out)
}

/// After the drained frames are in the ledger: removes a finished log (moving it to
/// `rejected/` when it ends in a torn frame), or remembers where the next drain starts.
pub(crate) fn done(d: &Drained) -> Result<()> {
    let spool = d.path.parent().unwrap_or_else(|| Path::new("."));
    let mark = mark(&d.path);
    if d.finished {
        if d.torn.is_some() {
            let dest = spool.join("rejected");
            std::fs::create_dir_all(&dest).with_context(|| format!("create {}", dest.display()))?;
            let name = d.path.file_name().unwrap_or_default();
            std::fs::rename(&d.path, dest.join(name))
                .with_context(|| format!("move {}", d.path.display()))?;
        } else {
            std::fs::remove_file(&d.path)
                .with_context(|| format!("remove {}", d.path.display()))?;
        }
        match std::fs::remove_file(&mark) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("remove {}", mark.display()));
            }
            _ => {}
        }
    } else {
        let tmp = mark.with_extension("tmp");
        let mut f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        writeln!(f, "{}", d.end).with_context(|| format!("write {}", tmp.display()))?;
        f.sync_data()
            .with_context(|| format!("fsync {}", tmp.display()))?;
        std::fs::rename(&tmp, &mark).with_context(|| format!("rename {}", tmp.display()))?;
    }
    Ok(())
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
        let path = log.path().to_path_buf();
        let d = read(&path).unwrap();
        assert_eq!(d.ndjson, b"{\"a\":1}\n{\"b\":2}\n");
        assert!(!d.finished, "the server still holds it");
        assert!(d.torn.is_none());
        done(&d).unwrap();
        log.append(br#"{"c":3}"#).unwrap();
        let d = read(&path).unwrap();
        assert_eq!(
            d.ndjson, b"{\"c\":3}\n",
            "a drain starts where the last ended"
        );
        done(&d).unwrap();
        // A frame whose bytes were not all written, then the server gone.
        log.file
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
        done(&d).unwrap();
        assert!(!path.exists());
        assert!(
            tmp.path()
                .join("rejected")
                .join(path.file_name().unwrap())
                .exists()
        );
    }
}
