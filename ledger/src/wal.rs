//! The write-ahead log: where appended records become durable before they are sealed into a
//! Parquet segment. Layout in LEDGER-FORMAT.md §5.
//!
//! ```text
//! file   := magic "govtrail-wal-v1\n" ‖ u64be(start index) ‖ frame*
//! frame  := u32be(len) ‖ u32be(CRC-32 of payload) ‖ payload[len]
//! payload:= 0x01 ‖ u64be(first index) ‖ u32be(count) ‖ count × (i64be(ts_us) ‖ u32be(n) ‖ record[n])
//!         | 0x02 ‖ signed checkpoint note
//! ```
//!
//! Invariant: a frame is written whole with its commit's checkpoint frame, then fsynced; a
//! reader stops at the first frame that is short or fails its CRC (a torn tail), and only
//! records followed by a checkpoint frame count as committed.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::IoContext as _;
use crate::{Error, Result};

/// The first 16 bytes of every WAL file.
pub(crate) const MAGIC: &[u8; 16] = b"govtrail-wal-v1\n";
pub(crate) const HEADER_LEN: u64 = 24;
const KIND_RECORDS: u8 = 1;
const KIND_CHECKPOINT: u8 = 2;
/// Largest frame a reader accepts (guards allocation against a corrupt length).
pub(crate) const MAX_FRAME_BYTES: u32 = 1 << 30;
/// Largest records frame the writer makes; a commit larger than this spans several frames.
pub(crate) const FRAME_TARGET_BYTES: usize = 64 << 20;

/// One record as stored in the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalRecord {
    pub(crate) ts_us: i64,
    pub(crate) bytes: Vec<u8>,
}

/// One decoded frame.
#[derive(Debug)]
pub(crate) enum Frame {
    Records { first: u64, records: Vec<WalRecord> },
    Checkpoint(Vec<u8>),
}

/// Appends a records frame to `buf`.
pub(crate) fn encode_records<'a>(
    buf: &mut Vec<u8>,
    first: u64,
    records: impl ExactSizeIterator<Item = (i64, &'a [u8])>,
) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 8]);
    buf.push(KIND_RECORDS);
    buf.extend_from_slice(&first.to_be_bytes());
    buf.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for (ts_us, bytes) in records {
        buf.extend_from_slice(&ts_us.to_be_bytes());
        buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buf.extend_from_slice(bytes);
    }
    seal_frame(buf, start);
}

/// Appends a checkpoint frame to `buf`.
pub(crate) fn encode_checkpoint(buf: &mut Vec<u8>, note: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 8]);
    buf.push(KIND_CHECKPOINT);
    buf.extend_from_slice(note);
    seal_frame(buf, start);
}

fn seal_frame(buf: &mut [u8], start: usize) {
    let payload = &buf[start + 8..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
}

/// The header of a new WAL file starting at record `start`.
pub(crate) fn header(start: u64) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&start.to_be_bytes());
    h
}

/// Streams the frames of a WAL file.
pub(crate) struct WalReader {
    path: PathBuf,
    reader: BufReader<File>,
    /// Index of the first record in this file.
    pub(crate) start: u64,
    /// Byte offset just after the last whole frame read.
    pub(crate) offset: u64,
    file_len: u64,
}

/// How a WAL file ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tail {
    /// The last frame ends exactly at the end of the file.
    Clean,
    /// The bytes from `offset` on are not a whole frame (a torn write).
    Torn { offset: u64, reason: String },
}

impl WalReader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).ctx("open", path)?;
        let file_len = file.metadata().ctx("stat", path)?.len();
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut head = [0u8; HEADER_LEN as usize];
        reader.read_exact(&mut head).map_err(|_| Error::Corrupt {
            path: path.to_path_buf(),
            offset: Some(0),
            message: "WAL file is shorter than its 24-byte header".into(),
        })?;
        if &head[..16] != MAGIC {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                offset: Some(0),
                message: "not a govtrail WAL file of format version 1 (bad magic)".into(),
            });
        }
        let start = u64::from_be_bytes(head[16..24].try_into().unwrap_or_default());
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            start,
            offset: HEADER_LEN,
            file_len,
        })
    }

    /// The next whole frame, or the way the file ends.
    pub(crate) fn next_frame(&mut self) -> Result<Result<Frame, Tail>> {
        let remaining = self.file_len - self.offset;
        if remaining == 0 {
            return Ok(Err(Tail::Clean));
        }
        let torn = |offset, reason: &str| {
            Ok(Err(Tail::Torn {
                offset,
                reason: reason.into(),
            }))
        };
        if remaining < 8 {
            return torn(self.offset, "partial frame header");
        }
        let mut head = [0u8; 8];
        self.reader.read_exact(&mut head).ctx("read", &self.path)?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if len == 0 || len > MAX_FRAME_BYTES {
            return torn(self.offset, "frame length is zero or too large");
        }
        if u64::from(len) > remaining - 8 {
            return torn(self.offset, "frame extends past the end of the file");
        }
        let mut payload = vec![0u8; len as usize];
        self.reader
            .read_exact(&mut payload)
            .ctx("read", &self.path)?;
        if crc32fast::hash(&payload) != crc {
            // A crash tears only the last commit; damage with whole frames after it is not a
            // torn write, and cutting there would drop acknowledged commits.
            if self.later_commit_follows()? {
                return Err(Error::Corrupt {
                    path: self.path.clone(),
                    offset: Some(self.offset),
                    message:
                        "frame fails its CRC but later commits follow it: damage, not a torn write"
                            .into(),
                });
            }
            return torn(self.offset, "frame CRC mismatch");
        }
        let at = self.offset;
        self.offset += 8 + u64::from(len);
        match decode_payload(&payload) {
            Some(frame) => Ok(Ok(frame)),
            None => Err(Error::Corrupt {
                path: self.path.clone(),
                offset: Some(at),
                message: "frame passes its CRC but its payload is malformed".into(),
            }),
        }
    }
}

impl WalReader {
    /// Whether, after the frame just read, a whole checkpoint frame is followed by another
    /// whole frame. Commits are written one at a time, each fsynced before the next starts, so
    /// that means the bad frame belongs to a commit that was already durable: damage, not a
    /// torn write. (Bad records followed only by the last commit's own frames is ambiguous and
    /// is treated as a torn tail.)
    fn later_commit_follows(&mut self) -> Result<bool> {
        let mut seen_checkpoint = false;
        loop {
            let mut head = [0u8; 8];
            if self.reader.read_exact(&mut head).is_err() {
                return Ok(false);
            }
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            if len == 0 || len > MAX_FRAME_BYTES {
                return Ok(false);
            }
            let mut payload = vec![0u8; len as usize];
            if self.reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
                return Ok(false);
            }
            if seen_checkpoint {
                return Ok(true);
            }
            seen_checkpoint = payload.first() == Some(&KIND_CHECKPOINT);
        }
    }
}

fn decode_payload(payload: &[u8]) -> Option<Frame> {
    let (&kind, body) = payload.split_first()?;
    match kind {
        KIND_RECORDS => {
            let first = u64::from_be_bytes(body.get(..8)?.try_into().ok()?);
            let count = u32::from_be_bytes(body.get(8..12)?.try_into().ok()?);
            let mut at = 12usize;
            let mut records = Vec::with_capacity(count.min(1 << 16) as usize);
            for _ in 0..count {
                let ts_us = i64::from_be_bytes(body.get(at..at + 8)?.try_into().ok()?);
                let n = u32::from_be_bytes(body.get(at + 8..at + 12)?.try_into().ok()?) as usize;
                let bytes = body.get(at + 12..at + 12 + n)?.to_vec();
                at += 12 + n;
                records.push(WalRecord { ts_us, bytes });
            }
            (at == body.len()).then_some(Frame::Records { first, records })
        }
        KIND_CHECKPOINT => Some(Frame::Checkpoint(body.to_vec())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn frames_round_trip_and_torn_tail_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.wal");
        let mut buf = header(5);
        let recs: Vec<(i64, &[u8])> = vec![(1, b"{}"), (2, b"{\"a\":1}")];
        encode_records(&mut buf, 5, recs.into_iter());
        encode_checkpoint(&mut buf, b"note\n");
        let whole = buf.len() as u64;
        encode_records(&mut buf, 7, std::iter::once((3i64, &b"xyz"[..])));
        buf.truncate(buf.len() - 2);
        File::create(&path).unwrap().write_all(&buf).unwrap();
        let mut r = WalReader::open(&path).unwrap();
        assert_eq!(r.start, 5);
        assert!(
            matches!(r.next_frame().unwrap(), Ok(Frame::Records { first: 5, ref records }) if records.len() == 2)
        );
        assert!(matches!(r.next_frame().unwrap(), Ok(Frame::Checkpoint(ref n)) if n == b"note\n"));
        assert_eq!(r.offset, whole);
        assert!(
            matches!(r.next_frame().unwrap(), Err(Tail::Torn { offset, .. }) if offset == whole)
        );
    }

    #[test]
    fn damage_before_a_later_commit_is_corruption_not_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.wal");
        let mut buf = header(0);
        encode_records(&mut buf, 0, std::iter::once((1i64, &b"{}"[..])));
        let first_frame_end = buf.len();
        encode_checkpoint(&mut buf, b"cp1\n");
        let last_commit = buf.len();
        encode_records(&mut buf, 1, std::iter::once((2i64, &b"{}"[..])));
        encode_checkpoint(&mut buf, b"cp2\n");
        // Damage the first commit's records frame: a later commit follows, so it is corruption.
        let mut damaged = buf.clone();
        damaged[first_frame_end - 1] ^= 1;
        File::create(&path).unwrap().write_all(&damaged).unwrap();
        let mut r = WalReader::open(&path).unwrap();
        assert!(matches!(
            r.next_frame(),
            Err(Error::Corrupt {
                offset: Some(24),
                ..
            })
        ));
        // Damage the last commit's records frame only: that may be a torn write.
        let mut torn_last = buf.clone();
        torn_last[last_commit + 10] ^= 1;
        File::create(&path).unwrap().write_all(&torn_last).unwrap();
        let mut r = WalReader::open(&path).unwrap();
        assert!(matches!(r.next_frame().unwrap(), Ok(Frame::Records { .. })));
        assert!(matches!(r.next_frame().unwrap(), Ok(Frame::Checkpoint(_))));
        assert!(matches!(r.next_frame().unwrap(), Err(Tail::Torn { .. })));
    }
}
