//! Hash tiles in the C2SP tlog-tiles layout (height 8): a cache that makes proofs O(log n).
//!
//! ```text
//! <ledger>/tiles/tile/<L>/<N>          256 hashes (a full tile)
//! <ledger>/tiles/tile/<L>/<N>.p/<W>    W < 256 hashes (the right edge of the tree)
//! ```
//!
//! Tiles are never evidence (LEDGER-FORMAT.md §9): the writer writes them after each commit
//! without fsync and rebuilds them when they do not reproduce the tree; provers authenticate
//! every tile against a signed root with `tlog_tiles::TileHashReader` and fall back to the
//! records when one is missing or wrong.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tlog_tiles::{Tile, TileHashReader, TileReader};

use crate::hash::{Hash, node_hash};
use crate::merkle::Frontier;

/// Tile height: each tile holds up to 2^8 hashes.
pub(crate) const HEIGHT: u8 = 8;
const WIDTH: usize = 1 << HEIGHT;

/// The path of a tile below `root` (the ledger's `tiles` directory), in C2SP tlog-tiles form
/// (`tile/<L>/<N>[.p/<W>]`; the Go sumdb form that `Tile::path` writes also names the height).
pub(crate) fn tile_path(root: &Path, level: u8, n: u64, width: usize) -> PathBuf {
    let w = u32::try_from(width.clamp(1, WIDTH)).unwrap_or(1);
    let go = Tile::new(HEIGHT, level, n, w, false).path();
    let c2sp = go.strip_prefix("tile/8/").unwrap_or(&go);
    root.join("tile").join(c2sp)
}

fn partial_dir(root: &Path, level: u8, n: u64) -> PathBuf {
    let full = tile_path(root, level, n, WIDTH);
    let mut name = full.file_name().unwrap_or_default().to_os_string();
    name.push(".p");
    full.with_file_name(name)
}

/// Reads `width` hashes of tile (`level`, `n`): from the full tile, or from any partial tile at
/// least that wide. `None` when no such file is readable.
pub(crate) fn read_tile(root: &Path, level: u8, n: u64, width: usize) -> Option<Vec<u8>> {
    let want = width * 32;
    let full = tile_path(root, level, n, WIDTH);
    match fs::read(&full) {
        Ok(data) if data.len() == WIDTH * 32 => return Some(data[..want].to_vec()),
        Ok(_) => return None,
        Err(_) if width == WIDTH => return None,
        Err(_) => {}
    }
    // The writer replaces partial tiles as the tree grows; list again if one vanishes.
    for _ in 0..3 {
        let dir = partial_dir(root, level, n);
        // A missing directory may have just been replaced by the full tile: look again below.
        let mut widths: Vec<usize> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&w| (width..WIDTH).contains(&w))
            .collect();
        widths.sort_unstable();
        for w in widths {
            if let Ok(data) = fs::read(dir.join(w.to_string())) {
                return (data.len() == w * 32).then(|| data[..want].to_vec());
            }
        }
        if let Ok(data) = fs::read(&full) {
            return (data.len() == WIDTH * 32).then(|| data[..want].to_vec());
        }
    }
    None
}

/// The writer's side: the partial (right-edge) tile of every level, written as the tree grows.
#[derive(Debug)]
pub(crate) struct TileBuilder {
    root: PathBuf,
    size: u64,
    /// `levels[L]`: the hashes of level L's partial tile (fewer than 256).
    levels: Vec<Vec<Hash>>,
    tmp_seq: u64,
}

impl TileBuilder {
    /// The tiles of an empty tree.
    pub(crate) fn empty(root: PathBuf) -> Self {
        Self {
            root,
            size: 0,
            levels: Vec::new(),
            tmp_seq: 0,
        }
    }

    /// The tree size the tiles cover.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Loads the right edge of the tree of `size` leaves from the tiles on disk; `None` if a
    /// tile is missing or they do not reproduce `root_hash`.
    pub(crate) fn load(root: PathBuf, size: u64, root_hash: &Hash) -> Option<Self> {
        let mut levels = Vec::new();
        let mut level = 0u8;
        while level < 8 && size >> (8 * u32::from(level)) > 0 {
            let entries = size >> (8 * u32::from(level));
            let (n, w) = (entries / WIDTH as u64, (entries % WIDTH as u64) as usize);
            let hashes = if w == 0 {
                Vec::new()
            } else {
                read_tile(&root, level, n, w)?
                    .chunks_exact(32)
                    .map(|c| c.try_into().unwrap_or_default())
                    .collect()
            };
            levels.push(hashes);
            level += 1;
        }
        let builder = Self {
            root,
            size,
            levels,
            tmp_seq: 0,
        };
        (builder.root_hash() == *root_hash).then_some(builder)
    }

    /// The RFC 6962 root of the tree the builder covers.
    pub(crate) fn root_hash(&self) -> Hash {
        let mut peaks = Vec::with_capacity(self.size.count_ones() as usize);
        for hashes in self.levels.iter().rev() {
            let mut f = Frontier::new();
            for h in hashes {
                f.push(*h);
            }
            peaks.extend_from_slice(f.peaks());
        }
        Frontier::from_parts(self.size, peaks).map_or_else(crate::hash::empty_root, |f| f.root())
    }

    /// Appends leaf hashes and writes the tiles that changed: each tile that became full, and
    /// the new partial tile of each level whose right edge moved (the old one is removed).
    pub(crate) fn append(&mut self, leaves: &[Hash]) -> std::io::Result<()> {
        if leaves.is_empty() {
            return Ok(());
        }
        let old_size = self.size;
        let mut full: Vec<(u8, u64, Vec<Hash>)> = Vec::new();
        for leaf in leaves {
            let mut hash = *leaf;
            let mut level = 0usize;
            loop {
                if self.levels.len() <= level {
                    self.levels.push(Vec::new());
                }
                self.levels[level].push(hash);
                if self.levels[level].len() < WIDTH {
                    break;
                }
                let tile = std::mem::take(&mut self.levels[level]);
                hash = subtree_root(&tile);
                let n = (self.size >> (8 * level)) / WIDTH as u64;
                full.push((level as u8, n, tile));
                level += 1;
            }
            self.size += 1;
        }
        for (level, n, hashes) in &full {
            write_tile(
                &self.root,
                &mut self.tmp_seq,
                &tile_path(&self.root, *level, *n, WIDTH),
                hashes,
            )?;
            let _ = fs::remove_dir_all(partial_dir(&self.root, *level, *n));
        }
        for (level, hashes) in self.levels.iter().enumerate() {
            let shift = 8 * level as u32;
            if hashes.is_empty() || old_size >> shift == self.size >> shift {
                continue;
            }
            let n = (self.size >> shift) / WIDTH as u64;
            let path = tile_path(&self.root, level as u8, n, hashes.len());
            write_tile(&self.root, &mut self.tmp_seq, &path, hashes)?;
            let old = old_size >> shift;
            if old / WIDTH as u64 == n && !old.is_multiple_of(WIDTH as u64) {
                let stale = tile_path(&self.root, level as u8, n, (old % WIDTH as u64) as usize);
                let _ = fs::remove_file(stale);
            }
        }
        Ok(())
    }
}

/// Writes a tile under a temporary name, then renames it into place (no fsync: a cache).
fn write_tile(root: &Path, seq: &mut u64, path: &Path, hashes: &[Hash]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    *seq += 1;
    let tmp = root.join(format!(".tmp-{}-{seq}", std::process::id()));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(hashes.as_flattened())?;
    drop(f);
    fs::rename(&tmp, path)
}

/// The root of a full tile's 256 hashes.
fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level.first().copied().unwrap_or_default()
}

/// Reads tiles from a ledger's `tiles` directory for `tlog_tiles::TileHashReader`.
struct FsTiles<'a>(&'a Path);

impl TileReader for FsTiles<'_> {
    fn height(&self) -> u8 {
        HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                read_tile(self.0, t.level(), t.level_index(), t.width() as usize)
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

fn to_hashes(v: Vec<tlog_tiles::Hash>) -> Vec<Hash> {
    v.into_iter().map(|h| h.0).collect()
}

/// The inclusion path of leaf `index` in the tree of `size` leaves with root `root_hash`, read
/// from tiles that are authenticated against that root.
pub(crate) fn prove_record(
    root: &Path,
    size: u64,
    root_hash: &Hash,
    index: u64,
) -> Result<Vec<Hash>, String> {
    let tiles = FsTiles(root);
    let reader = TileHashReader::new(size, tlog_tiles::Hash(*root_hash), &tiles);
    tlog_tiles::prove_record(size, index, &reader)
        .map(to_hashes)
        .map_err(|e| e.to_string())
}

/// The consistency proof from the tree of `old` leaves to the tree of `size` leaves with root
/// `root_hash`, and the old tree's root, read from authenticated tiles.
pub(crate) fn prove_tree(
    root: &Path,
    size: u64,
    root_hash: &Hash,
    old: u64,
) -> Result<(Vec<Hash>, Hash), String> {
    let tiles = FsTiles(root);
    let reader = TileHashReader::new(size, tlog_tiles::Hash(*root_hash), &tiles);
    let proof = tlog_tiles::prove_tree(size, old, &reader).map_err(|e| e.to_string())?;
    let old_root = tlog_tiles::tree_hash(old, &reader).map_err(|e| e.to_string())?;
    Ok((to_hashes(proof), old_root.0))
}

/// Reads the hashes of the tree's stored nodes (for tests).
#[cfg(test)]
fn tree_hash(root: &Path, size: u64, root_hash: &Hash) -> Result<Hash, String> {
    use tlog_tiles::HashReader as _;
    let tiles = FsTiles(root);
    let reader = TileHashReader::new(size, tlog_tiles::Hash(*root_hash), &tiles);
    let idx = tlog_tiles::stored_hash_index(0, size.saturating_sub(1));
    reader
        .read_hashes(&[idx])
        .map(|h| h[0].0)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{verify_consistency, verify_inclusion};

    fn tree_root(leaves: &[Hash]) -> Hash {
        let mut f = Frontier::new();
        leaves.iter().for_each(|h| f.push(*h));
        f.root()
    }

    fn leaf(i: u64) -> Hash {
        crate::hash::leaf_hash(&[i as u8; crate::hash::ENTRY_LEN])
    }

    #[test]
    fn tiles_give_the_same_proofs_as_the_tree_at_every_size_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tiles");
        fs::create_dir_all(&root).unwrap();
        let mut b = TileBuilder::empty(root.clone());
        let mut f = Frontier::new();
        let sizes = [
            1u64, 2, 255, 256, 257, 511, 700, 65_535, 65_536, 65_537, 70_000,
        ];
        let mut leaves = Vec::new();
        for &size in &sizes {
            let new: Vec<Hash> = (f.size()..size).map(leaf).collect();
            for h in &new {
                f.push(*h);
            }
            leaves.extend_from_slice(&new);
            // Commits of uneven sizes.
            for chunk in new.chunks(97) {
                b.append(chunk).unwrap();
            }
            let r = f.root();
            assert_eq!(b.root_hash(), r, "size {size}");
            let reloaded = TileBuilder::load(root.clone(), size, &r).unwrap();
            assert_eq!(reloaded.levels, b.levels);
            for index in [0, size / 2, size - 1] {
                let p = prove_record(&root, size, &r, index).unwrap();
                assert!(verify_inclusion(
                    index,
                    size,
                    &leaves[index as usize],
                    &p,
                    &r
                ));
            }
            for old in [1, size / 3 + 1, size] {
                let (p, old_root) = prove_tree(&root, size, &r, old).unwrap();
                let mut fo = Frontier::new();
                leaves[..old as usize].iter().for_each(|h| fo.push(*h));
                assert_eq!(old_root, fo.root());
                assert!(verify_consistency(old, size, &old_root, &r, &p));
            }
            assert_eq!(
                tree_hash(&root, size, &r).unwrap(),
                leaves[size as usize - 1]
            );
        }
        // A damaged tile never yields a proof that verifies. (tlog_tiles 0.2, like Go's tlog,
        // skips authenticating some tiles when several peaks share one tile, so callers must
        // check each proof; `proof::prove` does.)
        let t = tile_path(&root, 0, 0, WIDTH);
        let mut data = fs::read(&t).unwrap();
        data[5] ^= 1;
        fs::write(&t, data).unwrap();
        for size in [65_536u64, 70_000] {
            let r = &f.root();
            let r = if size == 70_000 {
                *r
            } else {
                tree_root(&leaves[..65_536])
            };
            let p = prove_record(&root, size, &r, 3);
            assert!(p.map_or(true, |p| !verify_inclusion(3, size, &leaves[3], &p, &r)));
        }
        assert!(
            TileBuilder::load(root, 70_000, &f.root()).is_some(),
            "the edge is intact"
        );
    }
}
