//! Merging runs (LEDGER-FORMAT.md §15): adjacent runs of one level become one run of the
//! next, streamed from their files into a new one.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::{
    BITS_PER_ID, BLOCK, BLOCK_WORDS, Bloom, ENTRY, HEADER, IdIndex, MAGIC, MERGE, Run, corrupt,
    u64_at,
};
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

/// Merges the runs of consecutive ranges `parts` into one run file covering them all;
/// returns its range. Streamed: the entries are merged from the runs' files
/// in sorted order straight into the new file, so memory holds only its filter and fence
/// (about 2.1 bytes per entry). A cache like any run: on failure the parts stay as they were.
pub(crate) fn merge_runs(root: &Path, parts: &[(u64, u64)]) -> Result<(u64, u64)> {
    use std::io::{BufReader, BufWriter, Read as _, Seek as _, Write as _};
    let (Some(&(start, _)), Some(&(_, end))) = (parts.first(), parts.last()) else {
        return Err(corrupt(root, "nothing to merge"));
    };
    if parts.windows(2).any(|w| w[0].1 != w[1].0) {
        return Err(corrupt(root, "runs to merge are not consecutive"));
    }
    let count = end - start;
    let path = IdIndex::run_path(root, start, end);
    let mut inputs = Vec::with_capacity(parts.len());
    for &(s, e) in parts {
        let run = Run::load(&IdIndex::run_path(root, s, e), s, e)?;
        let mut file = run.file.try_clone().ctx("open", &run.path)?;
        file.seek(std::io::SeekFrom::Start(run.entries_at))
            .ctx("read", &run.path)?;
        inputs.push((BufReader::with_capacity(1 << 18, file), run.count, run.path));
    }
    let blocks = (count * BITS_PER_ID).div_ceil(512).max(1);
    let fences = count.div_ceil(BLOCK as u64);
    let entries_at = HEADER + blocks * 64 + fences * 8;
    let dir = root.join("ids");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("run");
    let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    let written = (|| {
        let file = crate::layout::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .ctx("create", &tmp)?;
        let mut out = BufWriter::with_capacity(1 << 18, file);
        out.seek(std::io::SeekFrom::Start(entries_at))
            .ctx("write", &tmp)?;
        let mut bloom = Bloom {
            words: vec![0; blocks as usize * BLOCK_WORDS],
        };
        let mut fence = Vec::with_capacity(fences as usize);
        // A k-way merge by (id, index): the smallest head of each input, in a heap.
        let mut heap = std::collections::BinaryHeap::new();
        let mut left: Vec<u64> = inputs.iter().map(|i| i.1).collect();
        let mut next = |k: usize,
                        inputs: &mut Vec<(BufReader<File>, u64, PathBuf)>|
         -> Result<Option<[u8; ENTRY]>> {
            if left[k] == 0 {
                return Ok(None);
            }
            left[k] -= 1;
            let mut e = [0u8; ENTRY];
            inputs[k].0.read_exact(&mut e).ctx("read", &inputs[k].2)?;
            Ok(Some(e))
        };
        let key = |e: &[u8; ENTRY]| (u64_at(e, 0), u64_at(e, 8), u64_at(e, 16));
        for k in 0..inputs.len() {
            if let Some(e) = next(k, &mut inputs)? {
                heap.push(std::cmp::Reverse((key(&e), k, e)));
            }
        }
        let mut n = 0u64;
        while let Some(std::cmp::Reverse((_, k, e))) = heap.pop() {
            let id = u64_at(&e, 0);
            bloom.insert(id);
            if n.is_multiple_of(BLOCK as u64) {
                fence.push(id);
            }
            out.write_all(&e).ctx("write", &tmp)?;
            n += 1;
            if let Some(e) = next(k, &mut inputs)? {
                heap.push(std::cmp::Reverse((key(&e), k, e)));
            }
        }
        if n != count {
            return Err(corrupt(
                &path,
                "merged runs do not hold one entry per record",
            ));
        }
        let mut body = Vec::with_capacity((blocks * 64 + fences * 8) as usize);
        for w in &bloom.words {
            body.extend_from_slice(&w.to_le_bytes());
        }
        for f in &fence {
            body.extend_from_slice(&f.to_le_bytes());
        }
        let mut head = Vec::with_capacity(HEADER as usize);
        head.extend_from_slice(MAGIC);
        for w in [start, end, count, blocks] {
            head.extend_from_slice(&w.to_le_bytes());
        }
        head.extend_from_slice(blake3::hash(&body).as_bytes());
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .ctx("write", &tmp)?;
        file.write_all_at(&head, 0).ctx("write", &tmp)?;
        file.write_all_at(&body, HEADER).ctx("write", &tmp)?;
        file.sync_all().ctx("fsync", &tmp)?;
        std::fs::rename(&tmp, &path).ctx("rename", &path)?;
        crate::layout::sync_dir(&dir)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    // The parts' files stay until the writer has put the merged run in their place
    // (`IdIndex::merged`); a crash before that leaves them to the next open, which removes them.
    Ok((start, end))
}
