//! RFC 6962 / RFC 9162 Merkle tree over SHA-256: the append frontier and proof verification.
//!
//! The frontier holds one hash per set bit of the tree size (at most 64), so appending and
//! computing the root need O(log n) memory whatever the ledger's size.

use crate::hash::{Hash, empty_root, node_hash};

/// The right edge of an RFC 6962 tree: the roots of its perfect subtrees, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its size and peaks; `None` if they do not fit together.
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Self { size, peaks })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut n = self.size;
        while n & 1 == 1 {
            // The invariant peaks.len() == size.count_ones() guarantees a peak per set bit.
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            n >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The RFC 6962 root hash of the tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

/// Verifies an RFC 9162 §2.1.3.2 inclusion proof of `leaf` at `index` in a tree of `size`
/// leaves with root `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Verifies an RFC 9162 §2.1.4.2 consistency proof between a tree of `size1` leaves with root
/// `root1` and a tree of `size2` leaves with root `root2`. Roots are byte strings: for equal
/// sizes they are compared as given (as the RFC 9162 reference does), otherwise each must be a
/// 32-byte hash.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[Hash],
) -> bool {
    if size1 == 0 || size1 > size2 {
        // Every tree extends the empty tree; RFC 9162 gives no proof for it, and neither do we.
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    let (Ok(root1), Ok(root2)) = (<&Hash>::try_from(root1), <&Hash>::try_from(root2)) else {
        return false;
    };
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (size1 - 1, size2 - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == *root1 && sr == *root2 && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    /// Reference root by the recursive definition of RFC 6962 §2.1.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - (n - 1).leading_zeros() - 1);
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn frontier_matches_recursive_definition() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for (i, leaf) in leaves.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(f.root(), reference_root(&leaves[..=i]), "size {}", i + 1);
        }
        assert_eq!(Frontier::from_parts(f.size(), f.peaks().to_vec()), Some(f));
    }
}
