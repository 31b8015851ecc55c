//! Writing run files (LEDGER-FORMAT.md §15), for the seal and for merges.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::{BLOCK, Bloom, ENTRY, Entry, HEADER, MAGIC, corrupt, u64_at};
use crate::error::IoContext as _;
use crate::{Error, Result};

/// Writes a run file: entries pushed in sorted order go straight to a temporary file (so
/// memory holds only the filter and fence, about 2.1 bytes per entry), then the header,
/// filter and fence before them; fsync, rename, directory fsync. Used by the seal
/// ([`write_run`]) and by merges (`merge_runs`).
pub(super) struct RunWriter {
    path: PathBuf,
    tmp: PathBuf,
    /// Taken by [`RunWriter::finish`].
    out: Option<std::io::BufWriter<File>>,
    start: u64,
    end: u64,
    bloom: Bloom,
    fence: Vec<u64>,
    written: u64,
    renamed: bool,
}

impl RunWriter {
    pub(super) fn create(path: &Path, start: u64, end: u64) -> Result<Self> {
        use std::io::Seek as _;
        let count = end - start;
        let dir = path.parent().unwrap_or(Path::new("."));
        crate::layout::create_private_dir_all(dir).ctx("create", dir)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("run");
        let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
        let file = crate::layout::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .ctx("create", &tmp)?;
        let bloom = Bloom::for_ids(count as usize);
        let fences = count.div_ceil(BLOCK as u64);
        let mut out = std::io::BufWriter::with_capacity(1 << 18, file);
        let entries_at = HEADER + bloom.words.len() as u64 * 8 + fences * 8;
        let mut w = Self {
            path: path.to_path_buf(),
            tmp,
            out: None,
            start,
            end,
            bloom,
            fence: Vec::with_capacity(fences as usize),
            written: 0,
            renamed: false,
        };
        out.seek(std::io::SeekFrom::Start(entries_at))
            .ctx("write", &w.tmp)?;
        w.out = Some(out);
        Ok(w)
    }

    /// Adds the next entry, in its encoded form (pushed in (id, index) order).
    pub(super) fn push(&mut self, e: &[u8; ENTRY]) -> Result<()> {
        use std::io::Write as _;
        let id = u64_at(e, 0);
        self.bloom.insert(id);
        if self.written.is_multiple_of(BLOCK as u64) {
            self.fence.push(id);
        }
        self.written += 1;
        match &mut self.out {
            Some(out) => out.write_all(e).ctx("write", &self.tmp),
            None => Err(Error::Poisoned),
        }
    }

    /// Writes the header, filter and fence, and puts the file in place durably.
    pub(super) fn finish(mut self) -> Result<()> {
        let count = self.end - self.start;
        if self.written != count {
            return Err(corrupt(&self.path, "a run must hold one entry per record"));
        }
        let mut body = Vec::with_capacity(self.bloom.words.len() * 8 + self.fence.len() * 8);
        for w in self.bloom.words.iter().chain(&self.fence) {
            body.extend_from_slice(&w.to_le_bytes());
        }
        let mut head = Vec::with_capacity(HEADER as usize);
        head.extend_from_slice(MAGIC);
        for w in [self.start, self.end, count, self.bloom.blocks() as u64] {
            head.extend_from_slice(&w.to_le_bytes());
        }
        head.extend_from_slice(blake3::hash(&body).as_bytes());
        let file = self
            .out
            .take()
            .ok_or(Error::Poisoned)?
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .ctx("write", &self.tmp)?;
        file.write_all_at(&head, 0).ctx("write", &self.tmp)?;
        file.write_all_at(&body, HEADER).ctx("write", &self.tmp)?;
        file.sync_all().ctx("fsync", &self.tmp)?;
        std::fs::rename(&self.tmp, &self.path).ctx("rename", &self.path)?;
        self.renamed = true;
        crate::layout::sync_dir(self.path.parent().unwrap_or(Path::new(".")))
    }
}

impl Drop for RunWriter {
    /// A run not finished leaves no temporary file behind.
    fn drop(&mut self) {
        if !self.renamed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An entry's encoded form: id (two u64 LE), index (u64 LE), record-hash prefix.
fn encode(e: &Entry) -> [u8; ENTRY] {
    let mut b = [0u8; ENTRY];
    b[..8].copy_from_slice(&e.id.0.to_le_bytes());
    b[8..16].copy_from_slice(&e.id.1.to_le_bytes());
    b[16..24].copy_from_slice(&e.index.to_le_bytes());
    b[24..].copy_from_slice(&e.record_hash);
    b
}

/// Writes the run of segment `[start, end)` durably (it is a cache: a failure leaves the next
/// open to rebuild it).
pub(crate) fn write_run(path: &Path, start: u64, end: u64, mut entries: Vec<Entry>) -> Result<()> {
    entries.sort_unstable();
    let mut w = RunWriter::create(path, start, end)?;
    for e in &entries {
        w.push(&encode(e))?;
    }
    w.finish()
}
