//! Idempotent appends (LEDGER-FORMAT.md §15): what a platform sends twice, or a drain killed
//! midway and run again, is in the ledger once; reports count it once; the same decision id
//! with other bytes is a conflict that names the index it conflicts with; the id index is a
//! cache, rebuilt from the segments when it is missing or damaged.

use std::fs;
use std::path::Path;

use crate::{bin, run, seal, setup, text, verify_json};

fn native(id: &str, reason: &str) -> String {
    format!(
        r#"{{"decision_id":"{id}","ts_us":1765000000000000,"decision":"deny","service":"S","session_id":"s","overhead_us":1000,"reason":"{reason}"}}"#
    )
}

fn ingest(ledger: &Path, key: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec![
        "ingest",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--json",
    ];
    all.extend_from_slice(args);
    let o = run(&all);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.code(), v)
}

fn decisions(ledger: &Path) -> u64 {
    let o = run(&["report", "overhead", ledger.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["total"]["decisions"].as_u64().unwrap()
}

#[test]
fn the_same_inputs_twice_leave_each_decision_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 4);
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tractatus/derived-from-code");
    let inputs = [
        dir.join("auditLogs.derived.jsonl"),
        dir.join("decisions-2025-10-10.derived.jsonl"),
    ];
    let inputs: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();
    let (code, first) = ingest(&ledger, &key, &inputs);
    assert_eq!(
        (code, first["appended"].as_u64()),
        (Some(0), Some(8)),
        "{first}"
    );
    // Some sealed (segments of 4), some not: both halves of the index answer.
    let (code, again) = ingest(&ledger, &key, &inputs);
    assert_eq!(code, Some(0), "{again}");
    assert_eq!(
        (again["appended"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(8))
    );
    assert_eq!(again["files"][0]["duplicates"], 6, "{again}");
    assert_eq!(decisions(&ledger), 8, "reports count each decision once");

    // `append` likewise, and a decision id with other bytes is a conflict naming its index.
    let file = tmp.path().join("n.ndjson");
    fs::write(
        &file,
        format!("{}\n{}\n", native("n-1", "a"), native("n-2", "b")),
    )
    .unwrap();
    let append = |f: &Path| {
        run(&[
            "append",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            f.to_str().unwrap(),
        ])
    };
    assert!(append(&file).status.success());
    let o = append(&file);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("appended 0 records") && text(&o).contains("2 duplicates"),
        "{}",
        text(&o)
    );
    let other = tmp.path().join("o.ndjson");
    fs::write(&other, format!("{}\n", native("n-2", "another reason"))).unwrap();
    let o = append(&other);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(
        text(&o).contains("o.ndjson:1: its decision_id is at index 9"),
        "{}",
        text(&o)
    );
    assert_eq!(decisions(&ledger), 10);

    // The index is a cache: removed or damaged, it is rebuilt from the segments.
    seal(&ledger, &key);
    let ids = ledger.join("ids");
    let runs: Vec<_> = fs::read_dir(&ids)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(runs.len() >= 2, "{runs:?}");
    fs::write(&runs[0], b"damaged").unwrap();
    fs::remove_file(&runs[1]).unwrap();
    if let Some(run) = runs.get(2) {
        // One byte of its filter: the size still fits, the hash does not.
        let mut bytes = fs::read(run).unwrap();
        bytes[90] ^= 0xff;
        fs::write(run, bytes).unwrap();
    }
    let (code, again) = ingest(&ledger, &key, &inputs);
    assert_eq!(
        (code, again["appended"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["duplicates"], 8);
    let (code, report) = verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verified"], 10);
}

/// A drain killed (SIGKILL) at any point and run again leaves each call in the ledger once:
/// what it appended before the kill is a duplicate the second time, and its files go.
#[test]
fn a_drain_killed_midway_and_run_again_appends_each_call_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 64);
    let spool = tmp.path().join("spool");
    fs::create_dir_all(&spool).unwrap();
    let calls: u64 = 1000;
    for i in 0..calls {
        let id = format!("call-{i:04}");
        let call = crate::spool_call(
            &id,
            1_765_000_000_000_000 + i,
            "drain",
            "PreToolUse",
            &format!("echo {i}"),
        );
        fs::write(spool.join(format!("{id}.hook.json")), call).unwrap();
    }
    for delay_ms in [3u64, 12, 40] {
        let mut child = bin()
            .args([
                "ingest",
                ledger.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "--spool",
                spool.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let (code, last) = ingest(&ledger, &key, &["--spool", spool.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{last}");
    assert_eq!(decisions(&ledger), calls, "every call once");
    let left = fs::read_dir(&spool)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".hook.json")
        })
        .count();
    assert_eq!(left, 0, "the drained files are gone");
}

/// Bare Claude Code hook payloads and outputs carry no time: each is stamped when it is received
/// (`source.ts_origin = "received"`), so ingesting one twice makes other bytes under the same
/// id. The receipt time is not the decision: such a record is a duplicate when nothing else
/// differs (LEDGER-FORMAT.md §15.1), read back from its segment or its WAL. A payload whose
/// logger added a time takes that time, and the same id with other content is still a conflict.
#[test]
fn bare_hook_payloads_received_twice_are_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 4);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/claude-code");
    let mut both = fs::read_to_string(fixtures.join("hook-events.derived.ndjson")).unwrap();
    both.push_str(&fs::read_to_string(fixtures.join("hook-outputs.derived.ndjson")).unwrap());
    let file = tmp.path().join("hooks.ndjson");
    fs::write(&file, &both).unwrap();
    let f = file.to_str().unwrap();
    let (code, first) = ingest(&ledger, &key, &[f]);
    assert_eq!(
        (code, first["appended"].as_u64()),
        (Some(0), Some(13)),
        "{first}"
    );
    // Later (another receipt time), once with the first 12 sealed and once more from the WAL.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (code, again) = ingest(&ledger, &key, &[f]);
    assert_eq!(code, Some(0), "{again}");
    assert_eq!(
        (again["appended"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(13)),
        "{again}"
    );
    seal(&ledger, &key);
    let (_, again) = ingest(&ledger, &key, &[f]);
    assert_eq!(again["duplicates"], 13, "{again}");
    assert_eq!(decisions(&ledger), 13);

    // The same call with other content: a conflict, as for any record.
    let other = tmp.path().join("other.ndjson");
    let line = both
        .lines()
        .find(|l| l.contains("\"tool_use_id\""))
        .unwrap();
    let changed = line.replacen(
        "\"session_id\"",
        "\"cwd2\":\"/elsewhere\",\"session_id\"",
        1,
    );
    fs::write(&other, format!("{changed}\n")).unwrap();
    let (code, conflict) = ingest(&ledger, &key, &[other.to_str().unwrap()]);
    assert_eq!(code, Some(5), "{conflict}");
    assert_eq!(
        conflict["rejected"].as_array().map(Vec::len),
        Some(1),
        "{conflict}"
    );

    // A time the logger added is the decision's time, not the receipt's.
    let timed = tmp.path().join("timed.ndjson");
    fs::write(
        &timed,
        "{\"hook_event_name\":\"Stop\",\"session_id\":\"s-t\",\"timestamp\":\"2025-11-20T09:15:02.123Z\"}\n\
         {\"hook_event_name\":\"Stop\",\"session_id\":\"s-u\",\"ts\":1763630102123}\n",
    )
    .unwrap();
    let (code, out) = ingest(&ledger, &key, &[timed.to_str().unwrap()]);
    assert_eq!(
        (code, out["appended"].as_u64()),
        (Some(0), Some(2)),
        "{out}"
    );
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT session_id, CAST(ts AS BIGINT) AS ts FROM decisions WHERE session_id LIKE 's-%' ORDER BY 1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "session_id,ts\ns-t,1763630102123000\ns-u,1763630102123000\n",
        "{}",
        text(&o)
    );
}
