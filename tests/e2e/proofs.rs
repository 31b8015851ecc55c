//! Inclusion proofs (C2SP tlog-proof files): every index of ledgers of several sizes proves and
//! verifies; a flipped bit anywhere in the proof, the record or the checkpoint makes it fail.

use govtrail_tests::{build_ledger, signer};
use ledger::merkle::verify_consistency;
use ledger::{ConsistencyProof, InclusionProof, TrustPolicy};

fn records(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    ledger::scan(dir, |_, _, r| out.push(r.to_vec())).unwrap();
    out
}

#[test]
fn every_index_proves_and_verifies() {
    let keys = TrustPolicy::from_keys(vec![signer().verifier()]);
    for n in [1u64, 2, 3, 5, 8, 13, 64, 100] {
        let tmp = tempfile::tempdir().unwrap();
        build_ledger(tmp.path(), n, 16, 7);
        let recs = records(tmp.path());
        for i in 0..n {
            let proof = ledger::prove(tmp.path(), Some(i), &|_| false).unwrap();
            let text = proof.to_text();
            let parsed = InclusionProof::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed, proof);
            parsed.verify(&keys, Some(&recs[i as usize])).unwrap();
            let bound = 32 * (n as f64).log2().ceil() as usize;
            assert!(
                proof.path.len() * 32 <= bound,
                "n={n} i={i}: {} hashes",
                proof.path.len()
            );
        }
        assert!(ledger::prove(tmp.path(), Some(n), &|_| false).is_err());
    }
}

#[test]
fn any_flipped_bit_fails() {
    let keys = TrustPolicy::from_keys(vec![signer().verifier()]);
    let tmp = tempfile::tempdir().unwrap();
    build_ledger(tmp.path(), 13, 16, 7);
    let recs = records(tmp.path());
    let proof = ledger::prove(tmp.path(), Some(6), &|_| false).unwrap();
    let text = proof.to_text().into_bytes();
    // Every bit of the proof file: the header, entry, index, path and signed checkpoint.
    let mut accepted = Vec::new();
    for byte in 0..text.len() {
        for bit in 0..8 {
            let mut t = text.clone();
            t[byte] ^= 1 << bit;
            let ok =
                InclusionProof::parse(&t).is_ok_and(|p| p.verify(&keys, Some(&recs[6])).is_ok());
            if ok {
                accepted.push((byte, bit));
            }
        }
    }
    // Flips that turn one base64 padding or unused bit into an equivalent encoding would be
    // accepted; strict base64 rejects them, so nothing may pass.
    assert!(accepted.is_empty(), "accepted flips: {accepted:?}");
    for byte in 0..recs[6].len() {
        let mut r = recs[6].clone();
        r[byte] ^= 0x20;
        assert!(proof.verify(&keys, Some(&r)).is_err(), "record byte {byte}");
    }
    let other = ledger::NoteSigner::from_seed(govtrail_tests::ORIGIN, [1; 32]).verifier();
    assert!(
        proof
            .verify(&TrustPolicy::from_keys(vec![other]), None)
            .is_err()
    );
}

#[test]
fn consistency_proofs_between_every_pair_of_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    build_ledger(tmp.path(), 37, 16, 5);
    let newest = ledger::inspect(tmp.path())
        .unwrap()
        .latest
        .unwrap()
        .checkpoint;
    let policy = TrustPolicy::from_keys(vec![signer().verifier()]);
    for old in 0..=newest.size {
        let old_root = ledger::root_at(tmp.path(), old).unwrap();
        let proof = ledger::prove_consistency(tmp.path(), old).unwrap();
        assert_eq!(proof.checkpoint.checkpoint, newest);
        assert_eq!(proof.old_root, old_root);
        assert!(
            proof.path.len() <= 2 * 6,
            "old={old}: {} hashes",
            proof.path.len()
        );
        let anchor = ledger::Checkpoint {
            origin: newest.origin.clone(),
            size: old,
            root: old_root,
        };
        let parsed = ConsistencyProof::parse(proof.to_text().as_bytes()).unwrap();
        parsed.verify(&policy, &anchor).unwrap();
        // Any flipped bit of any proof hash, or of the old root, fails.
        for i in 0..proof.path.len() {
            let mut p = proof.path.clone();
            p[i][i % 32] ^= 1 << (old % 8);
            assert!(!verify_consistency(
                old,
                newest.size,
                &old_root,
                &newest.root,
                &p
            ));
        }
        let mut bad = anchor.clone();
        bad.root[0] ^= 1;
        if old > 0 {
            assert!(parsed.verify(&policy, &bad).is_err(), "old={old}");
        }
    }
    assert!(ledger::prove_consistency(tmp.path(), newest.size + 1).is_err());
}

/// A small deterministic generator (xorshift64*), so that failures reproduce.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// Random ledger sizes up to 100k, random indices and old sizes: every proof (from tiles)
/// verifies, its size stays within 32·⌈log2 n⌉ bytes, and random single-bit flips of the proof
/// file or the record fail.
#[test]
fn random_sizes_round_trip_and_reject_flips() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let policy = TrustPolicy::from_keys(vec![signer().verifier()]);
    let mut sizes: Vec<u64> = (0..6).map(|_| 1 + rng.below(3_000)).collect();
    sizes.extend([1 + rng.below(100_000), 65_536, 100_000]);
    for n in sizes {
        let tmp = tempfile::tempdir().unwrap();
        let seg = 1 + rng.below(n.max(2) * 2);
        build_ledger(tmp.path(), n, seg, 1 + rng.below(4_000) as usize);
        let size = ledger::inspect(tmp.path())
            .unwrap()
            .latest
            .unwrap()
            .checkpoint
            .size;
        assert_eq!(size, n);
        let bound = 32 * (n as f64).log2().ceil() as usize;
        for _ in 0..6 {
            let i = rng.below(n);
            let proof = ledger::prove(tmp.path(), Some(i), &|_| false).unwrap();
            assert!(proof.path.len() * 32 <= bound, "n={n} i={i}");
            let mut record = None;
            ledger::scan(tmp.path(), |idx, _, r| {
                if idx == i {
                    record = Some(r.to_vec());
                }
            })
            .unwrap();
            let record = record.unwrap();
            proof.verify(&policy, Some(&record)).unwrap();
            let text = proof.to_text().into_bytes();
            for _ in 0..48 {
                let mut t = text.clone();
                let at = rng.below(t.len() as u64) as usize;
                t[at] ^= 1 << rng.below(8);
                let ok = InclusionProof::parse(&t)
                    .is_ok_and(|p| p.verify(&policy, Some(&record)).is_ok());
                assert!(!ok, "n={n} i={i}: flipped byte {at} accepted");
            }
            let mut r = record.clone();
            let at = rng.below(r.len() as u64) as usize;
            r[at] ^= 1 << rng.below(8);
            assert!(proof.verify(&policy, Some(&r)).is_err());
        }
        for _ in 0..3 {
            let old = 1 + rng.below(n);
            let c = ledger::prove_consistency(tmp.path(), old).unwrap();
            assert!(c.path.len() <= 2 * 64);
            let anchor = ledger::Checkpoint {
                origin: govtrail_tests::ORIGIN.into(),
                size: old,
                root: ledger::root_at(tmp.path(), old).unwrap(),
            };
            let text = c.to_text().into_bytes();
            ConsistencyProof::parse(&text)
                .unwrap()
                .verify(&policy, &anchor)
                .unwrap();
            for _ in 0..48 {
                let mut t = text.clone();
                let at = rng.below(t.len() as u64) as usize;
                t[at] ^= 1 << rng.below(8);
                let ok =
                    ConsistencyProof::parse(&t).is_ok_and(|p| p.verify(&policy, &anchor).is_ok());
                assert!(!ok, "n={n} old={old}: flipped byte {at} accepted");
            }
        }
    }
}
