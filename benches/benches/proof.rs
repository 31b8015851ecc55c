//! Inclusion proofs: verifying one tlog-proof file (parse, checkpoint signature, path) and
//! producing one from a 100,000-record ledger (which re-hashes every record: O(n) until proofs
//! are served from stored tiles).

use criterion::{Criterion, criterion_group, criterion_main};
use govtrail_benches::{append_all, records, signer};
use ledger::InclusionProof;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    drop(append_all(dir.path(), &records(100_000), 8192));
    let keys = [signer().verifier()];
    let text = ledger::prove(dir.path(), Some(54_321), &|_| false)
        .unwrap()
        .to_text();
    let mut g = c.benchmark_group("proof");
    g.sample_size(10);
    g.bench_function("verify_tlog_proof_file", |b| {
        b.iter(|| {
            let p = InclusionProof::parse(text.as_bytes()).unwrap();
            p.verify(&keys, None).unwrap();
            p.index
        })
    });
    g.bench_function("prove_at_100k_from_records", |b| {
        b.iter(|| {
            ledger::prove(dir.path(), Some(54_321), &|_| false)
                .unwrap()
                .index
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
