//! Seal notes (LEDGER-FORMAT.md §14): the bytes a reader skips on, bound by the writer's key.
//!
//! ```text
//! <ledger>/seals.note
//!   <origin>
//!   govtrail-seals/v1
//!   size <N>
//!   <start> <end> <time> <footer> <page-index> <blooms> <summary|->   (one line per segment)
//!
//!   — <origin> <signature>
//! ```
//!
//! Parquet statistics, row counts, the page index, bloom filters and segment summaries let a
//! query skip rows without reading them; verification covers records, not those bytes. At
//! each seal the writer hashes them per structure (not the whole file: a query cannot rehash
//! the records, and a re-encoded segment must still verify) and re-signs one note for the
//! ledger. A reader checks the note's signature once, recomputes the digests of each segment
//! (a few hundred KB: footer, page index, blooms), and prunes only on segments whose digests
//! match; it scans the others. The note is a cache of trust, not evidence: a missing or
//! broken note makes every segment a full scan, never a verdict.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};
use parquet::file::reader::ChunkReader as _;

use crate::Result;
use crate::hash::{Hash, from_hex, hex};
use crate::layout::Layout;
use crate::note::{Note, NoteSigner};
use crate::policy::TrustPolicy;

/// The seal note's file name in the ledger directory.
pub const SEALS_FILE: &str = "seals.note";
/// The note's second line (not a number, so no checkpoint parser accepts the note).
const HEADER: &str = "govtrail-seals/v1";
const FOOTER_CONTEXT: &str = "govtrail ledger v1 seal footer";
const PAGE_INDEX_CONTEXT: &str = "govtrail ledger v1 seal page index";
const BLOOMS_CONTEXT: &str = "govtrail ledger v1 seal blooms";
const SUMMARY_CONTEXT: &str = "govtrail ledger v1 seal summary";

/// One segment's line: its range, when it was sealed, and the digests of its skip structures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealLine {
    /// First index of the segment.
    pub start: u64,
    /// One past its last index.
    pub end: u64,
    /// When the seal was written, µs since the epoch.
    pub time_us: u64,
    /// The segment's skip structures.
    pub digests: SkipDigests,
    /// The summary file's digest, when the seal wrote one.
    pub summary: Option<Hash>,
}

/// Digests of the structures a reader skips on (LEDGER-FORMAT.md §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipDigests {
    /// The Thrift footer with its length and magic.
    pub footer: Hash,
    /// Every column and offset index.
    pub page_index: Hash,
    /// Every bloom filter.
    pub blooms: Hash,
}

/// Why a reader does not vouch for a segment (or its summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unvouched {
    /// `seals.note` is missing, does not parse, names another origin, or is not signed by a
    /// key the caller trusts at its size.
    NoSealNote,
    /// The note has no line for this segment's range.
    NoSealLine,
    /// The footer (statistics, row counts, index locations) differs from the sealed one.
    Footer,
    /// The page index differs.
    PageIndex,
    /// The bloom filters differ (or cannot be located).
    Blooms,
    /// The segment is vouched for, its summary file is not.
    Summary,
}

impl serde::Serialize for Unvouched {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Unvouched {
    /// The reason as the spec and JSON reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSealNote => "no seal note",
            Self::NoSealLine => "no seal line",
            Self::Footer => "footer",
            Self::PageIndex => "page index",
            Self::Blooms => "blooms",
            Self::Summary => "summary",
        }
    }
}

/// What a reader may skip on, segment by segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentVouch {
    /// The segment's range and file.
    pub start: u64,
    /// One past its last index.
    pub end: u64,
    /// The segment file.
    pub path: PathBuf,
    /// Why its skip structures are not vouched for; `None`: prune on them freely.
    pub segment: Option<Unvouched>,
    /// Whether its summary file may answer for it (vouched, and present).
    pub summary: bool,
    /// Whether a summary file is there at all (a link counts, and is never vouched for).
    pub summary_present: bool,
}

impl SegmentVouch {
    /// True when a reader may prune this segment on its statistics, page index and blooms.
    pub fn prunable(&self) -> bool {
        self.segment.is_none()
    }

    /// The reason to report, if any: the segment's, else a present summary that is not
    /// vouched for.
    pub fn reason(&self) -> Option<Unvouched> {
        self.segment
            .or((!self.summary && self.summary_present).then_some(Unvouched::Summary))
    }
}

fn derive(context: &str) -> blake3::Hasher {
    blake3::Hasher::new_derive_key(context)
}

/// The digests of `path`'s footer, page index and bloom filters, read through the footer's
/// own locations. An error says which structure could not be read.
pub fn skip_digests(path: &Path) -> std::result::Result<SkipDigests, Unvouched> {
    if !fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return Err(Unvouched::Footer);
    }
    let file = File::open(path).map_err(|_| Unvouched::Footer)?;
    let len = file.metadata().map_err(|_| Unvouched::Footer)?.len();
    if len < 12 {
        return Err(Unvouched::Footer);
    }
    let tail = file.get_bytes(len - 8, 8).map_err(|_| Unvouched::Footer)?;
    let tail = FooterTail::try_from(&tail[..]).map_err(|_| Unvouched::Footer)?;
    if tail.is_encrypted_footer() {
        return Err(Unvouched::Footer);
    }
    let meta_len = tail.metadata_length();
    let start = len
        .checked_sub(8 + meta_len as u64)
        .ok_or(Unvouched::Footer)?;
    let footer = file
        .get_bytes(start, meta_len + 8)
        .map_err(|_| Unvouched::Footer)?;
    let meta = ParquetMetaDataReader::decode_metadata(&footer[..meta_len])
        .map_err(|_| Unvouched::Footer)?;
    let mut f = derive(FOOTER_CONTEXT);
    f.update(&footer);
    let mut pages = derive(PAGE_INDEX_CONTEXT);
    let mut blooms = derive(BLOOMS_CONTEXT);
    for rg in meta.row_groups() {
        for col in rg.columns() {
            for (offset, length) in [
                (col.column_index_offset(), col.column_index_length()),
                (col.offset_index_offset(), col.offset_index_length()),
            ] {
                range(&file, &mut pages, offset, length).map_err(|()| Unvouched::PageIndex)?;
            }
            if col.bloom_filter_offset().is_some() && col.bloom_filter_length().is_none() {
                return Err(Unvouched::Blooms);
            }
            range(
                &file,
                &mut blooms,
                col.bloom_filter_offset(),
                col.bloom_filter_length(),
            )
            .map_err(|()| Unvouched::Blooms)?;
        }
    }
    Ok(SkipDigests {
        footer: *f.finalize().as_bytes(),
        page_index: *pages.finalize().as_bytes(),
        blooms: *blooms.finalize().as_bytes(),
    })
}

/// Hashes `u64be(length) ‖ bytes` of one located structure, or `u64be(2^64 − 1)` when the
/// footer does not locate it.
fn range(
    file: &File,
    h: &mut blake3::Hasher,
    offset: Option<i64>,
    length: Option<i32>,
) -> std::result::Result<(), ()> {
    match (offset, length) {
        (Some(o), Some(l)) => {
            let o = u64::try_from(o).map_err(|_| ())?;
            let l = usize::try_from(l).map_err(|_| ())?;
            // Lengths come from the footer, which anyone may edit: never past the file's end.
            let size = file.metadata().map_err(|_| ())?.len();
            if o.checked_add(l as u64).is_none_or(|e| e > size) {
                return Err(());
            }
            h.update(&(l as u64).to_be_bytes());
            h.update(&file.get_bytes(o, l).map_err(|_| ())?);
        }
        _ => {
            h.update(&u64::MAX.to_be_bytes());
        }
    }
    Ok(())
}

/// A ledger file's bytes; a symbolic link or anything but a regular file is refused
/// (LEDGER-FORMAT.md §1: a link could point outside the ledger).
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    if !fs::symlink_metadata(path)?.file_type().is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    fs::read(path)
}

/// The digest of a summary file's bytes (a link is refused).
pub fn summary_digest(path: &Path) -> std::io::Result<Hash> {
    Ok(summary_digest_of(&read_regular(path)?))
}

/// The digest of a summary's bytes.
pub(crate) fn summary_digest_of(bytes: &[u8]) -> Hash {
    let mut h = derive(SUMMARY_CONTEXT);
    h.update(bytes);
    *h.finalize().as_bytes()
}

/// The note's text (unsigned), lines in order.
fn text(origin: &str, lines: &[SealLine]) -> String {
    let size = lines.last().map_or(0, |l| l.end);
    let mut t = format!("{origin}\n{HEADER}\nsize {size}\n");
    for l in lines {
        t.push_str(&format!(
            "{} {} {} {} {} {} {}\n",
            l.start,
            l.end,
            l.time_us,
            hex(&l.digests.footer),
            hex(&l.digests.page_index),
            hex(&l.digests.blooms),
            l.summary.as_ref().map_or("-".to_owned(), hex)
        ));
    }
    t
}

/// A parsed seal note: origin, size and lines (signatures not checked).
struct Parsed {
    origin: String,
    size: u64,
    lines: Vec<SealLine>,
    note: Note,
}

fn parse(bytes: &[u8]) -> std::result::Result<Parsed, String> {
    let note = Note::parse(bytes)?;
    let mut it = note.text.lines();
    let origin = it.next().unwrap_or_default().to_owned();
    if it.next() != Some(HEADER) {
        return Err(format!("second line is not {HEADER}"));
    }
    let number = |s: &str| crate::checkpoint::parse_decimal(s).ok_or(format!("bad number {s:?}"));
    let size = number(
        it.next()
            .and_then(|l| l.strip_prefix("size "))
            .ok_or("no size line")?,
    )?;
    let mut lines: Vec<SealLine> = Vec::new();
    for line in it {
        let f: Vec<&str> = line.split(' ').collect();
        let [start, end, time, footer, pages, blooms, summary] = f[..] else {
            return Err(format!("bad seal line {line:?}"));
        };
        // 64 lowercase hex digits exactly (one spelling per note).
        let digest = |s: &str| {
            s.bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                .then(|| from_hex(s))
                .flatten()
                .ok_or(format!("bad digest {s:?}"))
        };
        let l = SealLine {
            start: number(start)?,
            end: number(end)?,
            time_us: number(time)?,
            digests: SkipDigests {
                footer: digest(footer)?,
                page_index: digest(pages)?,
                blooms: digest(blooms)?,
            },
            summary: if summary == "-" {
                None
            } else {
                Some(digest(summary)?)
            },
        };
        if l.start >= l.end || lines.last().is_some_and(|p| p.end > l.start) {
            return Err(format!("seal line {line:?} is out of order"));
        }
        lines.push(l);
    }
    if lines.last().map(|l| l.end) != Some(size) {
        return Err("size is not the end of the last line".into());
    }
    Ok(Parsed {
        origin,
        size,
        lines,
        note,
    })
}

/// The lines of the ledger's seal note when a key of `policy` vouches for it (see the module
/// header); `None` otherwise.
pub(crate) fn trusted_lines(
    layout: &Layout,
    origin: &str,
    policy: &TrustPolicy,
) -> Option<Vec<SealLine>> {
    let bytes = read_regular(&layout.dir().join(SEALS_FILE)).ok()?;
    let p = parse(&bytes).ok()?;
    (p.origin == origin && policy.check_seal_note(&p.note, p.size, origin).is_ok())
        .then_some(p.lines)
}

/// Adds (or replaces) `line` in the ledger's seal note and signs it with `signer`, keeping the
/// lines of the current note only when `own` vouches for it: the writer never re-signs what
/// it did not sign. Written atomically.
pub(crate) fn record(
    layout: &Layout,
    origin: &str,
    own: &TrustPolicy,
    signer: &NoteSigner,
    line: SealLine,
) -> Result<()> {
    let mut lines = trusted_lines(layout, origin, own).unwrap_or_default();
    lines.retain(|l| l.end <= line.start);
    lines.push(line);
    let note = signer.sign(&text(origin, &lines));
    crate::layout::write_atomic(&layout.dir().join(SEALS_FILE), note.as_bytes())
}

/// The seal line of a segment just written, from its digests and the bytes of the summary
/// written beside it, if any.
pub(crate) fn line_for(
    start: u64,
    end: u64,
    digests: SkipDigests,
    summary: Option<&[u8]>,
) -> SealLine {
    let time_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    SealLine {
        start,
        end,
        time_us,
        digests,
        summary: summary.map(summary_digest_of),
    }
}

/// What the ledger at `dir` lets a reader trusting `policy` skip on: each sealed segment
/// (and its summary) checked against the seal note (LEDGER-FORMAT.md §14). Reads each
/// segment's footer, page index and bloom filters, not its pages.
pub fn vouch(dir: &Path, policy: &TrustPolicy) -> Result<Vec<SegmentVouch>> {
    let layout = Layout::new(dir);
    let config = layout.read_config()?;
    let mut policy = policy.for_origin(&config.origin);
    if policy.apply_transitions(dir, &config.origin)?.is_err() {
        policy = TrustPolicy::default();
    }
    let lines = trusted_lines(&layout, &config.origin, &policy);
    let segments = layout.segments()?;
    // Hashing is I/O and BLAKE3 over a few hundred KB a segment: spread over the cores.
    let digests = if lines.is_some() {
        digests_of(&segments)
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for (i, (start, end, path)) in segments.into_iter().enumerate() {
        let line = lines
            .as_ref()
            .map(|ls| ls.iter().find(|l| l.start == start && l.end == end));
        let segment = match line {
            None => Some(Unvouched::NoSealNote),
            Some(None) => Some(Unvouched::NoSealLine),
            Some(Some(l)) => match digests[i] {
                Err(why) => Some(why),
                Ok(d) if d.footer != l.digests.footer => Some(Unvouched::Footer),
                Ok(d) if d.page_index != l.digests.page_index => Some(Unvouched::PageIndex),
                Ok(d) if d.blooms != l.digests.blooms => Some(Unvouched::Blooms),
                Ok(_) => None,
            },
        };
        let summary_path = layout.summary(start, end);
        let summary_present = fs::symlink_metadata(&summary_path).is_ok();
        let summary = segment.is_none()
            && summary_present
            && line
                .flatten()
                .and_then(|l| l.summary)
                .is_some_and(|want| summary_digest(&summary_path).is_ok_and(|got| got == want));
        out.push(SegmentVouch {
            start,
            end,
            path,
            segment,
            summary,
            summary_present,
        });
    }
    Ok(out)
}

/// [`skip_digests`] of each segment, in order, on as many threads as there are cores.
fn digests_of(
    segments: &[(u64, u64, PathBuf)],
) -> Vec<std::result::Result<SkipDigests, Unvouched>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, segments.len().max(1));
    let chunk = segments.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = segments
            .chunks(chunk)
            .map(|part| {
                let h = s.spawn(move || {
                    part.iter()
                        .map(|(_, _, p)| skip_digests(p))
                        .collect::<Vec<_>>()
                });
                (part.len(), h)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                // A thread that died vouches for nothing of its part.
                h.join().unwrap_or_else(|_| vec![Err(Unvouched::Footer); n])
            })
            .collect()
    })
}
