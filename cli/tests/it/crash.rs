//! Kill a real `govtrail append` with SIGKILL at random points, many times; after each kill every
//! acknowledged record is present, the ledger verifies, and nothing unacknowledged is half there.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;
use std::time::Duration;

use crate::*;

#[test]
fn sigkill_during_append_never_loses_acknowledged_records() {
    let cycles: u64 = std::env::var("GOVTRAIL_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let tmp = tempfile::tempdir().unwrap();
    let (mut ledger, key, vkey) = setup(tmp.path(), 3000);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut kills_mid_run, mut max_acked) = (0, 0u64);
    for cycle in 0..cycles {
        // A fresh ledger every 10 cycles keeps each check's cost bounded.
        if cycle > 0 && cycle % 10 == 0 {
            ledger = tmp.path().join(format!("ledger-{cycle}"));
            init(&ledger, &key, 3000);
        }
        let have = ids(&ledger).len() as u64;
        let input = tmp.path().join("input.ndjson");
        let mut f = std::fs::File::create(&input).unwrap();
        for i in have..have + 40_000 {
            writeln!(f, "{}", line(i)).unwrap();
        }
        drop(f);
        let batch = (next_rand() % 600 + 1).to_string();
        let mut child = bin()
            .args([
                "append",
                ledger.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ])
            .args([input.to_str().unwrap(), "--print-acks", "--batch", &batch])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = 0u64;
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if let Some(n) = l.strip_prefix("acked ") {
                    acked = n.parse().unwrap();
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(next_rand() % 300));
        if child.try_wait().unwrap().is_none() {
            kills_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        max_acked = max_acked.max(acked);

        let got = ids(&ledger);
        assert!(
            got.len() as u64 >= acked,
            "cycle {cycle}: {} records, {acked} acknowledged",
            got.len()
        );
        for (i, id) in got.iter().enumerate() {
            assert_eq!(id, &format!("c-{i}"), "cycle {cycle}: record {i}");
        }
        let (code, report) = verify_json(&ledger, &vkey);
        assert_eq!(code, 0, "cycle {cycle}: {report}");
        assert_eq!(report["records"], got.len() as u64);
    }
    // The next writer recovers whatever the last kill left.
    seal(&ledger, &key);
    let (code, report) = verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{report}");
    eprintln!(
        "crash cycles: {cycles}, killed mid-append: {kills_mid_run}, records: {}, largest ack seen: {max_acked}",
        report["records"]
    );
    assert!(
        kills_mid_run * 2 >= cycles,
        "most kills must land while appending ({kills_mid_run}/{cycles})"
    );
}

/// SIGINT during a long append: it stops reading, commits what it read, says how far it got
/// and how to resume (exit 130); the ledger verifies; the same command run again appends the
/// rest, what is already there counted as duplicates (issue 21).
#[test]
fn an_interrupted_append_says_what_is_durable_and_resumes() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1 << 20);
    let input = tmp.path().join("big.ndjson");
    let n = 100_000u64;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..n {
        writeln!(f, "{}", line(i)).unwrap();
    }
    drop(f);
    let args = [
        "append",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    let child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.code() == Some(0) {
        // The machine was fast: the whole file went in before the signal.
        return;
    }
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted after line") && err.contains("run the same command again"),
        "{err}"
    );
    let (code, v) = verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{v}");
    let durable = v["verified"].as_u64().unwrap();
    assert!(durable < n, "{v}");
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("appended {} records", n - durable))
            && out.contains(&format!("{durable} duplicates")),
        "{out}"
    );
}
