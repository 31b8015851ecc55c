//! Hash tiles (C2SP tlog-tiles, height 8) stored as one append-only file per level: a cache
//! that makes proofs O(log n).
//!
//! ```text
//! <ledger>/tiles/<L>.hashes    every level-L hash in order, 32 bytes each
//! ```
//!
//! Tile `tile/<L>/<N>[.p/<W>]` of the tlog-tiles layout is bytes `[N·8192, N·8192 + W·32)` of
//! `<L>.hashes`, so a tlog-tiles view is a byte-range mapping; one file a level keeps the writer
//! to one `write` a level a commit (a file per tile cost 1.4 µs a record).
//!
//! Tiles are never evidence (LEDGER-FORMAT.md §9): the writer appends to them after each commit
//! without fsync and, at open, cuts or rebuilds them when they do not reproduce the tree;
//! provers authenticate every tile against a signed root with `tlog_tiles::TileHashReader` and
//! fall back to the records when one is missing or wrong.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use tlog_tiles::{Tile, TileHashReader, TileReader};

use crate::hash::{Hash, node_hash};
use crate::merkle::Frontier;

/// Tile height: each tile holds up to 2^8 hashes.
pub(crate) const HEIGHT: u8 = 8;
const WIDTH: usize = 1 << HEIGHT;
/// Levels a tree of up to 2^64 leaves can have.
const LEVELS: u8 = 8;

/// The file holding every hash of `level`.
fn level_path(root: &Path, level: u8) -> PathBuf {
    root.join(format!("{level}.hashes"))
}

/// Reads `width` hashes of tile (`level`, `n`); `None` when the file does not hold them.
pub(crate) fn read_tile(root: &Path, level: u8, n: u64, width: usize) -> Option<Vec<u8>> {
    let file = File::open(level_path(root, level)).ok()?;
    let mut data = vec![0; width * 32];
    let offset = n.checked_mul(WIDTH as u64 * 32)?;
    file.read_exact_at(&mut data, offset).ok()?;
    Some(data)
}

/// The writer's side: the partial (right-edge) tile of every level, and the level files.
#[derive(Debug)]
pub(crate) struct TileBuilder {
    root: PathBuf,
    size: u64,
    /// `levels[L]`: the hashes of level L's partial tile (fewer than 256).
    levels: Vec<Vec<Hash>>,
    files: Vec<File>,
}

impl TileBuilder {
    /// The tiles of an empty tree (level files emptied).
    pub(crate) fn empty(root: PathBuf) -> std::io::Result<Self> {
        let mut b = Self {
            root,
            size: 0,
            levels: Vec::new(),
            files: Vec::new(),
        };
        for level in 0..LEVELS {
            b.file(level)?.set_len(0)?;
        }
        Ok(b)
    }

    fn file(&mut self, level: u8) -> std::io::Result<&mut File> {
        while self.files.len() <= usize::from(level) {
            let path = level_path(&self.root, self.files.len() as u8);
            let f = crate::layout::private_options()
                .create(true)
                .truncate(false)
                .read(true)
                .append(true)
                .open(path)?;
            self.files.push(f);
        }
        Ok(&mut self.files[usize::from(level)])
    }

    /// The tree size the tiles cover.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Loads the right edge of the tree of `size` leaves from the level files and cuts each
    /// file back to that tree (dropping what a crash left beyond it); `None` if a file is
    /// short or they do not reproduce `root_hash`.
    pub(crate) fn load(root: PathBuf, size: u64, root_hash: &Hash) -> Option<Self> {
        let mut levels = Vec::new();
        for level in 0..LEVELS {
            let entries = size >> (8 * u32::from(level));
            if entries == 0 {
                break;
            }
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
        }
        let mut b = Self {
            root,
            size,
            levels,
            files: Vec::new(),
        };
        if b.root_hash() != *root_hash {
            return None;
        }
        for level in 0..LEVELS {
            let entries = size >> (8 * u32::from(level));
            let f = b.file(level).ok()?;
            if f.metadata().ok()?.len() < entries * 32 {
                return None;
            }
            f.set_len(entries * 32).ok()?;
        }
        Some(b)
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

    /// Appends leaf hashes: one write to each level file that grows.
    pub(crate) fn append(&mut self, leaves: &[Hash]) -> std::io::Result<()> {
        if leaves.is_empty() {
            return Ok(());
        }
        let mut out: Vec<Vec<u8>> = vec![leaves.as_flattened().to_vec()];
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
                hash = subtree_root(&std::mem::take(&mut self.levels[level]));
                level += 1;
                if out.len() <= level {
                    out.push(Vec::new());
                }
                out[level].extend_from_slice(&hash);
            }
            self.size += 1;
        }
        for (level, bytes) in out.iter().enumerate() {
            if !bytes.is_empty() {
                self.file(level as u8)?.write_all(bytes)?;
            }
        }
        Ok(())
    }
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
    fn tile_paths_parse_only_in_their_canonical_spelling() {
        for (level, n, width) in [(0, 0, 256), (0, 1234, 256), (2, 1_000_000, 17), (63, 5, 1)] {
            let path = tile_path(level, n, width);
            assert_eq!(parse_tile_path(&path).unwrap(), (level, n, width), "{path}");
        }
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(1, 5, 3), "tile/1/005.p/3");
        for bad in [
            "tile/0/5",
            "tile/00/005",
            "tile/64/005",
            "tile/0/001/234",
            "tile/0/x000/234",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/07",
            "tile/entries/005",
            "tile/0/../005",
            "tiles/0/005",
        ] {
            assert!(parse_tile_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiles_give_the_same_proofs_as_the_tree_at_every_size_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tiles");
        std::fs::create_dir_all(&root).unwrap();
        let mut b = TileBuilder::empty(root.clone()).unwrap();
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
        let t = level_path(&root, 0);
        let mut data = std::fs::read(&t).unwrap();
        data[5] ^= 1;
        std::fs::write(&t, data).unwrap();
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

/// A C2SP tlog-tiles hash tile path (`tile/<L>/<N>[.p/<W>]`) that is not one: what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("not a tlog-tiles hash tile path ({0})")]
pub struct BadTilePath(&'static str);

/// Parses a C2SP tlog-tiles hash tile path `tile/<L>/<N>[.p/<W>]` (N in zero-padded groups of
/// three digits, all but the last prefixed with `x`; W from 1 to 255): (level, N, width). Only
/// the canonical spelling is accepted.
pub fn parse_tile_path(path: &str) -> Result<(u8, u64, usize), BadTilePath> {
    let rest = path
        .strip_prefix("tile/")
        .ok_or(BadTilePath("no tile/ prefix"))?;
    let (level, rest) = rest.split_once('/').ok_or(BadTilePath("no level"))?;
    let level: u8 = level
        .parse()
        .ok()
        .filter(|l: &u8| *l < 64 && l.to_string() == level)
        .ok_or(BadTilePath("level is not 0 to 63"))?;
    let (index, width) = match rest.split_once(".p/") {
        Some((n, w)) => {
            let w: usize = w
                .parse()
                .ok()
                .filter(|x: &usize| (1..WIDTH).contains(x))
                .ok_or(BadTilePath("partial width is not 1 to 255"))?;
            (n, w)
        }
        None => (rest, WIDTH),
    };
    let groups: Vec<&str> = index.split('/').collect();
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() {
            g.strip_prefix('x')
                .ok_or(BadTilePath("index group without x"))?
        } else {
            g
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadTilePath("index group is not three digits"));
        }
        let d: u64 = digits.parse().map_err(|_| BadTilePath("index"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(d))
            .ok_or(BadTilePath("index too large"))?;
    }
    let canonical = tile_path(level, n, width);
    if canonical != path {
        return Err(BadTilePath("not the canonical spelling"));
    }
    Ok((level, n, width))
}

/// The C2SP tlog-tiles path of hash tile (level, n) with `width` hashes.
pub fn tile_path(level: u8, n: u64, width: usize) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    let partial = if width == WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    };
    format!("tile/{level}/{}{partial}", groups.join("/"))
}

/// The bytes of hash tile (level, n) with `width` hashes of the ledger at `dir`, if a tree of
/// `size` records has them (the tile lies within it: `n·256 + width` hashes at that level) and
/// the tile cache holds them yet. Tiles are a cache, not evidence: a client checks them against
/// a signed checkpoint of `size` (C2SP tlog-tiles).
pub fn tile_bytes(dir: &Path, level: u8, n: u64, width: usize, size: u64) -> Option<Vec<u8>> {
    let hashes_at_level = size.checked_shr(u32::from(level) * u32::from(HEIGHT))?;
    let end = n.checked_mul(WIDTH as u64)?.checked_add(width as u64)?;
    if end > hashes_at_level {
        return None;
    }
    read_tile(
        &crate::layout::Layout::new(dir).tiles_dir(),
        level,
        n,
        width,
    )
}
