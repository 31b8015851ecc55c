//! Durable-append acknowledgement latency under concurrency: `THREADS` appenders each append one
//! record at a time through the group-commit thread and time each call until it is durable.
//! Prints one JSON line: p50/p99/max latency in ms and the records/s achieved.
//!
//! Usage: `ack_latency [THREADS] [RECORDS_PER_THREAD] [SEGMENT_RECORDS]` (defaults 16, 2000 and
//! 8192, so that segments are sealed in the background while the appenders run).

use std::sync::Arc;
use std::time::Instant;

use govtrail_benches::{records, signer};
use ledger::{Committer, Ledger};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(Ok(16), |s| s.parse())?;
    let per_thread: usize = args.next().map_or(Ok(2000), |s| s.parse())?;
    let segment_records: u64 = args.next().map_or(Ok(8192), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let ledger = Ledger::create(dir.path(), signer(), segment_records)?;
    let committer = Arc::new(Committer::spawn(ledger, 65_536, 1024, |_| {}));
    let all = Arc::new(records((threads * per_thread) as u64));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let committer = Arc::clone(&committer);
            let all = Arc::clone(&all);
            std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
                let mut lat = Vec::with_capacity(per_thread);
                for i in 0..per_thread {
                    let rec = all[t * per_thread + i].clone();
                    let t0 = Instant::now();
                    committer.append(vec![rec])?;
                    lat.push(t0.elapsed().as_secs_f64() * 1e3);
                }
                Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("appender panicked"))??,
        );
    }
    let elapsed = start.elapsed().as_secs_f64();
    let committer =
        Arc::into_inner(committer).ok_or_else(|| anyhow::anyhow!("committer shared"))?;
    let ledger = committer.finish()?;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{{\"threads\":{threads},\"segment_records\":{segment_records},\"segments\":{},\"records\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"records_per_s\":{:.0}}}",
        ledger::Layout::new(dir.path()).segments()?.len(),
        ledger.size(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1],
        ledger.size() as f64 / elapsed
    );
    Ok(())
}
