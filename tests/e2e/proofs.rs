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
