//! Inclusion proofs (C2SP tlog-proof files): every index of ledgers of several sizes proves and
//! verifies; a flipped bit anywhere in the proof, the record or the checkpoint makes it fail.

use govtrail_tests::{build_ledger, signer};
use ledger::InclusionProof;

fn records(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    ledger::scan(dir, |_, _, r| out.push(r.to_vec())).unwrap();
    out
}

#[test]
fn every_index_proves_and_verifies() {
    let keys = [signer().verifier()];
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
    let keys = [signer().verifier()];
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
    assert!(proof.verify(&[other], None).is_err());
}

#[test]
fn consistency_proofs_between_every_pair_of_sizes() {
    use ledger::merkle::verify_consistency;
    let tmp = tempfile::tempdir().unwrap();
    build_ledger(tmp.path(), 37, 16, 5);
    let newest = ledger::inspect(tmp.path())
        .unwrap()
        .latest
        .unwrap()
        .checkpoint;
    for old in 1..=newest.size {
        let old_root = ledger::root_at(tmp.path(), old).unwrap();
        let (proof, cp) = ledger::prove_consistency(tmp.path(), old).unwrap();
        assert_eq!(cp.checkpoint, newest);
        assert!(proof.len() <= 2 * 6, "old={old}: {} hashes", proof.len());
        assert!(
            verify_consistency(
                old,
                cp.checkpoint.size,
                &old_root,
                &cp.checkpoint.root,
                &proof
            ),
            "old={old}"
        );
        // Any flipped bit of any proof hash, or of either root, fails.
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][i % 32] ^= 1 << (old % 8);
            assert!(!verify_consistency(
                old,
                newest.size,
                &old_root,
                &newest.root,
                &p
            ));
        }
        let mut bad_root = old_root;
        bad_root[0] ^= 1;
        if old < newest.size {
            assert!(!verify_consistency(
                old,
                newest.size,
                &bad_root,
                &newest.root,
                &proof
            ));
        }
    }
    assert!(ledger::prove_consistency(tmp.path(), 0).is_err());
    assert!(ledger::prove_consistency(tmp.path(), newest.size + 1).is_err());
}
