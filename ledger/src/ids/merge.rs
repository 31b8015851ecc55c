//! Merging runs (LEDGER-FORMAT.md §15): adjacent runs of one level become one run of the
//! next, streamed from their files into a new one.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{ENTRY, IdIndex, MERGE, Run, RunWriter, corrupt, u64_at};
use crate::Result;
use crate::error::IoContext as _;

/// A run's level (see [`MERGE`]): 0 for a segment or less.
pub(super) fn level(count: u64, segment_records: u64) -> u32 {
    let mut units = count / segment_records.max(1);
    let mut level = 0;
    while units >= MERGE as u64 {
        units /= MERGE as u64;
        level += 1;
    }
    level
}

/// One run's entries, read in order.
struct Input {
    reader: std::io::BufReader<File>,
    left: u64,
    path: PathBuf,
}

impl Input {
    fn next(&mut self) -> Result<Option<[u8; ENTRY]>> {
        use std::io::Read as _;
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut e = [0u8; ENTRY];
        self.reader.read_exact(&mut e).ctx("read", &self.path)?;
        Ok(Some(e))
    }
}

/// Merges the runs of consecutive ranges `parts` into one run file covering them all;
/// returns its range. Streamed: the entries are merged from the runs' files
/// in sorted order straight into the new file, so memory holds only its filter and fence
/// (about 2.1 bytes per entry). A cache like any run: on failure the parts stay as they were.
pub(crate) fn merge_runs(root: &Path, parts: &[(u64, u64)]) -> Result<(u64, u64)> {
    use std::io::{BufReader, Seek as _};
    let (Some(&(start, _)), Some(&(_, end))) = (parts.first(), parts.last()) else {
        return Err(corrupt(root, "nothing to merge"));
    };
    if parts.windows(2).any(|w| w[0].1 != w[1].0) {
        return Err(corrupt(root, "runs to merge are not consecutive"));
    }
    let path = IdIndex::run_path(root, start, end);
    let mut inputs = Vec::with_capacity(parts.len());
    for &(s, e) in parts {
        let run = Run::load(&IdIndex::run_path(root, s, e), s, e)?;
        let mut file = run.file.try_clone().ctx("open", &run.path)?;
        file.seek(std::io::SeekFrom::Start(run.entries_at))
            .ctx("read", &run.path)?;
        inputs.push(Input {
            reader: BufReader::with_capacity(1 << 18, file),
            left: run.count,
            path: run.path,
        });
    }
    {
        let mut out = RunWriter::create(&path, start, end)?;
        // A k-way merge by (id, index): the smallest head of each input, in a heap.
        let mut heap = std::collections::BinaryHeap::new();
        let key = |e: &[u8; ENTRY]| (u64_at(e, 0), u64_at(e, 8), u64_at(e, 16));
        for (k, input) in inputs.iter_mut().enumerate() {
            if let Some(e) = input.next()? {
                heap.push(std::cmp::Reverse((key(&e), k, e)));
            }
        }
        while let Some(std::cmp::Reverse((_, k, e))) = heap.pop() {
            out.push(&e)?;
            if let Some(e) = inputs[k].next()? {
                heap.push(std::cmp::Reverse((key(&e), k, e)));
            }
        }
        out.finish()?;
    }
    // The parts' files stay until the writer has put the merged run in their place
    // (`IdIndex::merged`); a crash before that leaves them to the next open, which removes them.
    Ok((start, end))
}
