//! Evidence packs as `.tar.gz` downloads: `ledger::export_evidence` writes the pack into the
//! state directory, this packs it as a POSIX ustar archive (regular files and directories,
//! names under 100 bytes: a pack's own layout) compressed with gzip, and the answer streams
//! the file from disk (a pack holds whole segments: it is not built in memory).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::State;

/// One ustar header for `name` (a relative path) of `size` bytes.
fn header(name: &str, size: u64, dir: bool) -> Result<[u8; 512], String> {
    if name.len() >= 100 {
        return Err(format!("{name}: a name of 100 bytes or more"));
    }
    // ustar's size field holds 11 octal digits.
    if size >= 1 << 33 {
        return Err(format!(
            "{name}: {size} bytes; a .tar entry holds less than 8 GiB (export the pack to a directory: govtrail export-evidence)"
        ));
    }
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let s = format!("{v:0width$o}\0", width = len - 1);
        h[at..at + len].copy_from_slice(s.as_bytes());
    };
    octal(&mut h, 100, 8, if dir { 0o755 } else { 0o644 });
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size);
    octal(&mut h, 136, 12, 0);
    h[156] = if dir { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Ok(h)
}

/// Appends `dir` (named `prefix` in the archive) and what it holds, sorted, to `out`.
fn append(out: &mut impl std::io::Write, dir: &Path, prefix: &str) -> Result<(), String> {
    let e = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    out.write_all(&header(&format!("{prefix}/"), 0, true)?)
        .map_err(|x| e(dir, x))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|x| e(dir, x))?
        .filter_map(Result::ok)
        .map(|d| d.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = format!(
            "{prefix}/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        if path.is_dir() {
            append(out, &path, &name)?;
            continue;
        }
        let mut f = std::fs::File::open(&path).map_err(|x| e(&path, x))?;
        let size = f.metadata().map_err(|x| e(&path, x))?.len();
        out.write_all(&header(&name, size, false)?)
            .map_err(|x| e(&path, x))?;
        let copied = std::io::copy(&mut f, out).map_err(|x| e(&path, x))?;
        if copied != size {
            return Err(format!("{}: changed while packed", path.display()));
        }
        let pad = (512 - size % 512) % 512;
        out.write_all(&vec![0u8; pad as usize])
            .map_err(|x| e(&path, x))?;
    }
    Ok(())
}

/// Writes the evidence pack of records `[from, to)` and its `.tar.gz` into a directory of its
/// own under the state directory's `evidence/` (requests at once do not meet); returns the
/// archive's path and download name. [`stream`] removes the archive once it has it open.
pub(crate) fn evidence(state: &State, from: u64, to: u64) -> Result<(PathBuf, String), String> {
    let root = state.opts.state_dir.join("evidence");
    sweep(&root);
    let n = state.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = root.join(format!("{}-{n}", std::process::id()));
    let built = build(&dir, state, from, to);
    if built.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    built
}

/// Removes what earlier requests left in `root` more than an hour ago (a download the client
/// gave up on before it began, a server stopped while packing).
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if old {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn build(dir: &Path, state: &State, from: u64, to: u64) -> Result<(PathBuf, String), String> {
    let name = format!("evidence-{from}-{to}");
    ledger::create_private_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pack = dir.join(&name);
    ledger::export_evidence(&state.opts.ledger, from, to, &pack).map_err(|e| e.to_string())?;
    let archive = dir.join(format!("{name}.tar.gz"));
    let file = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&archive)
            .map_err(|e| format!("{}: {e}", archive.display()))?
    };
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    let packed = append(&mut gz, &pack, &name);
    let _ = std::fs::remove_dir_all(&pack);
    packed?;
    // The end of the archive: two empty blocks.
    gz.write_all(&[0u8; 1024])
        .and_then(|()| gz.finish())
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("{}: {e}", archive.display()))?;
    Ok((archive, format!("{name}.tar.gz")))
}

/// The archive at `path` as a streamed body; its directory is removed once the file is open
/// (the open file keeps its bytes until the download ends).
pub(crate) async fn stream(path: &Path) -> std::io::Result<axum::body::Body> {
    use tokio::io::AsyncReadExt as _;
    let file = tokio::fs::File::open(path).await;
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
    let file = file?;
    let chunks = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 << 10];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    Ok(axum::body::Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_have_a_valid_checksum() {
        let h = super::header("pack/README.md", 1234, false).unwrap();
        let stored = u64::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        let mut blank = h;
        blank[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, blank.iter().map(|&b| u64::from(b)).sum::<u64>());
        assert!(super::header(&"x".repeat(100), 0, false).is_err());
    }
}
