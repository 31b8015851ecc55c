//! Proofs: verifying one tlog-proof file (parse, checkpoint signature, path); producing an
//! inclusion or consistency proof at n = 1M from the stored tiles; and, as the baseline in the
//! same run, producing one at n = 100k from the records (tiles removed: O(n)).

use criterion::{Criterion, criterion_group, criterion_main};
use govtrail_benches::{append_all, records, signer};
use ledger::{InclusionProof, TrustPolicy};

fn bench(c: &mut Criterion) {
    let big = tempfile::tempdir().unwrap();
    drop(append_all(big.path(), &records(1_000_000), 8192));
    let small = tempfile::tempdir().unwrap();
    drop(append_all(small.path(), &records(100_000), 8192));
    std::fs::remove_dir_all(small.path().join("tiles")).unwrap();
    let policy = TrustPolicy::from_keys(vec![signer().verifier()]);
    let text = ledger::prove(big.path(), Some(654_321), &|_| false)
        .unwrap()
        .to_text();
    let mut g = c.benchmark_group("proof");
    g.sample_size(10);
    g.bench_function("verify_tlog_proof_file", |b| {
        b.iter(|| {
            let p = InclusionProof::parse(text.as_bytes()).unwrap();
            p.verify(&policy, None).unwrap();
            p.index
        })
    });
    let mut i = 0u64;
    g.bench_function("prove_inclusion_at_1m_from_tiles", |b| {
        b.iter(|| {
            i = (i + 7_919) % 1_000_000;
            ledger::prove(big.path(), Some(i), &|_| false)
                .unwrap()
                .index
        })
    });
    let mut old = 1u64;
    g.bench_function("prove_consistency_at_1m_from_tiles", |b| {
        b.iter(|| {
            old = old % 999_999 + 104_729;
            ledger::prove_consistency(big.path(), old.min(1_000_000))
                .unwrap()
                .path
                .len()
        })
    });
    g.bench_function("prove_inclusion_at_100k_from_records", |b| {
        b.iter(|| {
            ledger::prove(small.path(), Some(54_321), &|_| false)
                .unwrap()
                .index
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
