//! Ingest throughput (issue 5): normalising 100,000 native NDJSON records and 100,000 Tractatus
//! mongoexport documents into records with canonical bytes, each against `serde_json` parsing
//! the same lines into values alone (the baseline, in the same run).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use govtrail_benches::{decision_json, mongoexport_json};
use schemas::ingest::{Options, ingest};

const N: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let native: String = (0..N).map(|i| decision_json(i) + "\n").collect();
    let mongo: String = (0..N).map(|i| mongoexport_json(i) + "\n").collect();
    let opts = Options {
        format: None,
        received_us: 0,
        ..Options::default()
    };
    for (name, text) in [("native", &native), ("tractatus_mongoexport", &mongo)] {
        let out = ingest(text.as_bytes(), &opts);
        assert!(
            out.rejected.is_empty() && out.records.len() == N as usize,
            "{name}"
        );
    }
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    for (name, text) in [("native", &native), ("tractatus_mongoexport", &mongo)] {
        g.bench_function(format!("{name}_normalise_and_canonicalise"), |b| {
            b.iter(|| {
                let out = ingest(text.as_bytes(), &opts);
                out.records
                    .iter()
                    .map(|(_, d)| d.canonical_bytes().map_or(0, |b| b.len()))
                    .sum::<usize>()
            })
        });
        g.bench_function(format!("{name}_serde_json_parse_only"), |b| {
            b.iter(|| {
                text.lines()
                    .map(|l| {
                        serde_json::from_str::<serde_json::Value>(l)
                            .map_or(0, |v| v.as_object().map_or(0, |o| o.len()))
                    })
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
