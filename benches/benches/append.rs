//! Durable append throughput with group commit, against its ceiling measured in the same run:
//! the same hashing plus a Parquet (zstd) encode of the same bytes, with no WAL and no fsync.

use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray, FixedSizeBinaryArray, RecordBatch};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use govtrail_benches::{append_all, decision_json, records};
use ledger::hash::{CHAIN_GENESIS, hash_record};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

const N: u64 = 100_000;

fn ceiling(records: &[ledger::Record]) -> usize {
    let mut chain = CHAIN_GENESIS;
    let (mut rh, mut ch) = (
        Vec::with_capacity(records.len()),
        Vec::with_capacity(records.len()),
    );
    for (i, r) in records.iter().enumerate() {
        let h = hash_record(&chain, i as u64, r.ts_us(), r.bytes());
        chain = h.chain;
        rh.push(h.record_hash);
        ch.push(h.chain);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(
            records.iter().map(|r| r.bytes()),
        )),
        Arc::new(FixedSizeBinaryArray::try_from_iter(rh.iter()).unwrap()),
        Arc::new(FixedSizeBinaryArray::try_from_iter(ch.iter()).unwrap()),
    ];
    let batch =
        RecordBatch::try_from_iter(["record", "record_hash", "chain"].into_iter().zip(cols))
            .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap().len()
}

fn bench(c: &mut Criterion) {
    let recs = records(N);
    let mut g = c.benchmark_group("append");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    for batch in [1024usize, 8192] {
        g.bench_with_input(
            BenchmarkId::new("durable_group_commit", batch),
            &batch,
            |b, &batch| {
                b.iter_with_setup(
                    || tempfile::tempdir().unwrap(),
                    |dir| drop(append_all(dir.path(), &recs, batch)),
                );
            },
        );
    }
    g.bench_function("ceiling_hash_and_parquet_encode", |b| {
        b.iter(|| ceiling(&recs))
    });
    g.bench_function("canonicalize_rfc8785", |b| {
        let lines: Vec<String> = (0..N).map(decision_json).collect();
        b.iter(|| {
            lines
                .iter()
                .map(|l| {
                    ledger::Record::from_json(l.as_bytes(), &0)
                        .unwrap()
                        .bytes()
                        .len()
                })
                .sum::<usize>()
        });
    });
    g.bench_function("serde_json_parse_only", |b| {
        let lines: Vec<String> = (0..N).map(decision_json).collect();
        b.iter(|| {
            lines
                .iter()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .unwrap()
                        .is_object() as usize
                })
                .sum::<usize>()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
