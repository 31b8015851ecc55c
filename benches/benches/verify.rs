//! Full offline verification throughput, against its ceiling measured in the same run: reading
//! the same Parquet segment and re-hashing its record column.

use arrow_array::cast::AsArray as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use govtrail_benches::{append_all, records, signer};
use ledger::VerifyOptions;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const N: u64 = 200_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    drop(append_all(dir.path(), &records(N), 8192));
    let opts = VerifyOptions::new(vec![signer().verifier()]);
    let segment = ledger::Layout::new(dir.path()).segments().unwrap()[0]
        .2
        .clone();
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("full", |b| {
        b.iter(|| {
            let r = ledger::verify(dir.path(), &opts).unwrap();
            assert!(r.is_ok());
            r.verified
        })
    });
    g.bench_function("ceiling_parquet_read_and_rehash", |b| {
        b.iter(|| {
            let f = std::fs::File::open(&segment).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .with_batch_size(8192)
                .build()
                .unwrap();
            let mut n = 0u64;
            for batch in reader {
                let batch = batch.unwrap();
                let col = batch.column_by_name("record").unwrap().as_binary::<i32>();
                for v in col.iter().flatten() {
                    n += u64::from(ledger::hash::record_hash(v)[0]);
                }
            }
            n
        })
    });
    let recs = records(N);
    g.bench_function("part_decision_view_parse", |b| {
        b.iter(|| {
            recs.iter()
                .map(|r| schemas::DecisionView::parse(r.bytes()).unwrap().ts_us)
                .sum::<i64>()
        })
    });
    // The RFC 8785 check verification makes of every record (LEDGER-FORMAT.md §2), apart.
    g.bench_function("part_canonical_check", |b| {
        b.iter(|| {
            recs.iter()
                .filter(|r| schemas::is_canonical(r.bytes()))
                .count()
        })
    });
    g.bench_function("part_parquet_decode_only", |b| {
        b.iter(|| {
            let f = std::fs::File::open(&segment).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .with_batch_size(8192)
                .build()
                .unwrap();
            reader.map(|b| b.unwrap().num_rows()).sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
