//! The hashes of LEDGER-FORMAT.md §3: record hash and chain (BLAKE3, derive-key mode), leaf entry,
//! and RFC 6962 leaf and node hashes (SHA-256).
//!
//! Architecture invariant: these functions are the only place the domain strings appear.

use std::cell::RefCell;

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// BLAKE3 derive-key context for record hashes.
pub const RECORD_CONTEXT: &str = "govtrail ledger v1 record hash";
/// BLAKE3 derive-key context for the hash chain.
pub const CHAIN_CONTEXT: &str = "govtrail ledger v1 chain";
/// BLAKE3 derive-key context for decision-id hashes (the id index, LEDGER-FORMAT.md §15).
pub const DECISION_ID_CONTEXT: &str = "govtrail ledger v1 decision id";
/// The leaf entry's version byte.
pub const ENTRY_VERSION: u8 = 1;
/// Size of a leaf entry in bytes.
pub const ENTRY_LEN: usize = 81;
/// The chain value before the first record.
pub const CHAIN_GENESIS: Hash = [0; 32];

thread_local! {
    // One keyed hasher per purpose and thread, reset after each use: cheaper than deriving the
    // context key, or copying a 1.9 KB hasher, for every record.
    static RECORD_HASHER: RefCell<blake3::Hasher> =
        RefCell::new(blake3::Hasher::new_derive_key(RECORD_CONTEXT));
    static CHAIN_HASHER: RefCell<blake3::Hasher> =
        RefCell::new(blake3::Hasher::new_derive_key(CHAIN_CONTEXT));
    static ID_HASHER: RefCell<blake3::Hasher> =
        RefCell::new(blake3::Hasher::new_derive_key(DECISION_ID_CONTEXT));
}

fn keyed(cell: &'static std::thread::LocalKey<RefCell<blake3::Hasher>>, input: &[u8]) -> Hash {
    cell.with_borrow_mut(|h| {
        h.update(input);
        let out = *h.finalize().as_bytes();
        h.reset();
        out
    })
}

/// `record_hash = BLAKE3-derive-key(RECORD_CONTEXT, record)`.
pub fn record_hash(record: &[u8]) -> Hash {
    keyed(&RECORD_HASHER, record)
}

/// A decision id's 128-bit hash, `BLAKE3-derive-key(DECISION_ID_CONTEXT, id)`'s first 16 bytes
/// as two little-endian `u64`s: the id index's key (two ids with equal hashes are taken as one:
/// finding two that collide costs about 2^64 work).
pub fn decision_id_hash(id: &str) -> (u64, u64) {
    let h = keyed(&ID_HASHER, id.as_bytes());
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[i..i + 8]);
        u64::from_le_bytes(b)
    };
    (word(0), word(8))
}

/// `chain_i = BLAKE3-derive-key(CHAIN_CONTEXT, chain_{i-1} ‖ u64be(i) ‖ record_hash_i)`.
pub fn chain(prev: &Hash, idx: u64, record_hash: &Hash) -> Hash {
    let mut buf = [0u8; 72];
    buf[..32].copy_from_slice(prev);
    buf[32..40].copy_from_slice(&idx.to_be_bytes());
    buf[40..].copy_from_slice(record_hash);
    keyed(&CHAIN_HASHER, &buf)
}

/// `e_i = 0x01 ‖ u64be(i) ‖ u64be(ts_us) ‖ record_hash ‖ chain_i` (81 bytes).
pub fn entry(idx: u64, ts_us: i64, record_hash: &Hash, chain: &Hash) -> [u8; ENTRY_LEN] {
    let mut e = [0u8; ENTRY_LEN];
    e[0] = ENTRY_VERSION;
    e[1..9].copy_from_slice(&idx.to_be_bytes());
    // Two's complement, so times before 1970 keep their order within the sign.
    e[9..17].copy_from_slice(&(ts_us as u64).to_be_bytes());
    e[17..49].copy_from_slice(record_hash);
    e[49..81].copy_from_slice(chain);
    e
}

/// RFC 6962 leaf hash: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hashes of one record at one position: what the verifier recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHashes {
    /// BLAKE3 of the record bytes.
    pub record_hash: Hash,
    /// The chain value after this record.
    pub chain: Hash,
    /// The RFC 6962 leaf hash of the entry.
    pub leaf: Hash,
}

/// Hashes record `idx` (timestamp `ts_us`, bytes `record`) after chain value `prev`.
pub fn hash_record(prev: &Hash, idx: u64, ts_us: i64, record: &[u8]) -> RecordHashes {
    hash_record_from(prev, idx, ts_us, record_hash(record))
}

/// [`hash_record`] given the record's hash already.
pub fn hash_record_from(prev: &Hash, idx: u64, ts_us: i64, record_hash: Hash) -> RecordHashes {
    let chain = chain(prev, idx, &record_hash);
    let leaf = leaf_hash(&entry(idx, ts_us, &record_hash, &chain));
    RecordHashes {
        record_hash,
        chain,
        leaf,
    }
}

/// Lower-case hex of a hash.
pub fn hex(hash: &Hash) -> String {
    use std::fmt::Write as _;
    hash.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Parses 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // Pinned so that a change to any domain string or layout fails loudly.
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let h = hash_record(&CHAIN_GENESIS, 0, 1_760_058_123_004_000, b"{}");
        assert_eq!(
            hex(&h.record_hash),
            hex(&{
                let mut x = blake3::Hasher::new_derive_key(RECORD_CONTEXT);
                x.update(b"{}");
                *x.finalize().as_bytes()
            })
        );
        assert_eq!(from_hex(&hex(&h.leaf)), Some(h.leaf));
    }
}
