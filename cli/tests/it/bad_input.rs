//! Bad input gets a clear error naming what and where, exit code 4, no panic, and nothing
//! already in the ledger is lost.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::*;

fn append_text(ledger: &Path, key: &Path, input: &str, dir: &Path) -> Output {
    let path = dir.join("in.ndjson");
    std::fs::write(&path, input).unwrap();
    run(&[
        "append",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        path.to_str().unwrap(),
    ])
}

/// A ledger with records 0..n appended and sealed; returns it, its keys and its first segment.
fn sealed_ledger(tmp: &Path, segment_records: u64, n: u64) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let (ledger, key, vkey) = setup(tmp, segment_records);
    let input: String = (0..n).map(|i| line(i) + "\n").collect();
    assert!(append_text(&ledger, &key, &input, tmp).status.success());
    seal(&ledger, &key);
    let seg = ledger::Layout::new(&ledger).segments().unwrap()[0]
        .2
        .clone();
    (ledger, key, vkey, seg)
}

#[test]
fn bad_lines_are_named_and_earlier_records_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 100);
    let good = format!("{}\n{}\n", line(0), line(1));
    let o = append_text(&ledger, &key, &good, tmp.path());
    assert!(o.status.success(), "{}", text(&o));
    let cases: &[(String, &str)] = &[
        (format!("{}\n{{\"decision_id\": \"x\", \"ts_us\": 1,\n", line(2)), "in.ndjson:2: invalid record at the top level: EOF while parsing a value"),
        (r#"{"decision_id":"x","ts_us":"yesterday","decision":"deny"}"#.to_owned(), "in.ndjson:1: invalid record at /ts_us: invalid type: string \"yesterday\", expected i64"),
        (r#"{"decision_id":"x","ts_us":1,"decision":"deny","rule_ids":["a",7]}"#.to_owned(), "invalid record at /rule_ids/1: invalid type: integer `7`, expected a string"),
        (r#"{"v":2,"decision_id":"x","ts_us":1,"decision":"deny"}"#.to_owned(), "unsupported record version 2 at /v (this build reads version 1)"),
        ("{\"decision_id\":\"\u{fffd}\",\"ts_us\":1,\"decision\":\"deny\"}".replace('\u{fffd}', "\u{1}"), "control character"),
        (r#"{"decision_id":"x","ts_us":1,"decision":"deny","tool_input":{"n":12345678901234567890}}"#.to_owned(), "integer 12345678901234567890 at /tool_input/n is outside"),
    ];
    for (input, want) in cases {
        let o = append_text(&ledger, &key, input, tmp.path());
        assert_input_error(&o, want);
    }
    // In the first case, line 1 (record c-2) was committed before bad line 2.
    assert_eq!(ids(&ledger), vec!["c-0", "c-1", "c-2"]);
    assert_eq!(verify_json(&ledger, &vkey).0, 0);

    // Invalid UTF-8 in a line.
    let path = tmp.path().join("bin.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"{\"decision_id\":\"\xff\xfe\",\"ts_us\":1,\"decision\":\"deny\"}\n")
        .unwrap();
    let o = run(&[
        "append",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_input_error(&o, "bin.ndjson:1: invalid record");
}

#[test]
fn usage_key_and_layout_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 100);
    let l = ledger.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["append", l, "--key", "/nonexistent/k.key"],
            "read key /nonexistent/k.key: No such file or directory",
        ),
        (
            vec!["append", l, "--key", vkey.to_str().unwrap()],
            "a private key (PRIVATE+KEY+…",
        ),
        (
            vec![
                "verify",
                tmp.path().to_str().unwrap(),
                "--pubkey",
                vkey.to_str().unwrap(),
            ],
            "not a govtrail ledger (no govtrail-ledger.json)",
        ),
        (
            vec!["verify", l, "--pubkey", "not-a-key"],
            "no such file, and not a verifier key",
        ),
        (vec!["verify", l], "--pubkey"),
        (
            vec!["init", l, "--key", key.to_str().unwrap()],
            "directory is not empty",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, want) in cases {
        let o = run(&args);
        assert_input_error(&o, want);
    }
    // A key of another origin cannot append.
    let other = tmp.path().join("other");
    run(&[
        "keygen",
        "--name",
        "other.example/x",
        "--out",
        other.to_str().unwrap(),
    ]);
    let o = run(&[
        "append",
        l,
        "--key",
        tmp.path().join("other.key").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        text(&o).contains("differs from the ledger's origin"),
        "{}",
        text(&o)
    );
}

#[test]
fn second_writer_is_refused_while_readers_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 100);
    append_text(&ledger, &key, &format!("{}\n", line(0)), tmp.path());
    let signer = ledger::NoteSigner::from_text(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let (held, _) = ledger::Ledger::open(&ledger, signer).unwrap();
    let o = append_text(&ledger, &key, &format!("{}\n", line(1)), tmp.path());
    assert_eq!(o.status.code(), Some(4));
    assert!(
        text(&o).contains("is locked by another writer"),
        "{}",
        text(&o)
    );
    assert_eq!(
        verify_json(&ledger, &vkey).0,
        0,
        "a verifier runs beside the writer"
    );
    drop(held);
    assert_eq!(ids(&ledger), vec!["c-0"]);
}

#[test]
fn corrupt_segment_footer_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey, seg) = sealed_ledger(tmp.path(), 3, 5);
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    std::fs::write(&seg, bytes).unwrap();
    let o = append_text(&ledger, &key, &format!("{}\n", line(5)), tmp.path());
    assert_input_error(&o, seg.file_name().unwrap().to_str().unwrap());
    let (code, report) = verify_json(&ledger, &vkey);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["class"], "corrupt");
}

#[test]
fn full_disk_fails_cleanly_and_keeps_committed_records() {
    // A 1 MiB tmpfs in a private mount namespace stands in for a full disk. With large segments
    // the WAL fills it; with small ones a seal (Parquet segment) runs out of space too.
    let tmp = tempfile::tempdir().unwrap();
    let (_, key, vkey) = setup(tmp.path(), 1_000_000);
    let input = tmp.path().join("big.ndjson");
    let mut f = std::fs::File::create(&input).unwrap();
    for i in 0..20_000 {
        writeln!(f, "{}", line(i)).unwrap();
    }
    drop(f);
    for segment_records in [1_000_000, 700] {
        let out = tmp.path().join(format!("out-{segment_records}"));
        std::fs::create_dir(&out).unwrap();
        let script = format!(
            "set -e; mkdir -p {m}; mount -t tmpfs -o size=1m tmpfs {m}; \
             {bin} init {m}/l --key {key} --segment-records {segment_records} >/dev/null; \
             set +e; {bin} append {m}/l --key {key} {input} --batch 500 --print-acks > {out}/acks 2> {out}/err; echo $? > {out}/code; \
             {bin} verify {m}/l --pubkey {vkey} --json > {out}/verify; echo $? > {out}/vcode; \
             {bin} inspect {m}/l > {out}/inspect",
            m = tmp.path().join("mnt").display(),
            bin = env!("CARGO_BIN_EXE_govtrail"),
            key = key.display(),
            vkey = vkey.display(),
            input = input.display(),
            out = out.display(),
        );
        let o = Command::new("unshare")
            .args(["-rm", "sh", "-c", &script])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
        let err = read("err");
        assert_eq!(read("code").trim(), "4", "{err}");
        assert!(err.contains("No space left on device"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let acked: u64 = read("acks")
            .lines()
            .filter_map(|l| l.strip_prefix("acked ")?.parse().ok())
            .max()
            .unwrap_or(0);
        assert!(acked > 0, "some commits fit before the disk filled");
        let report: serde_json::Value = serde_json::from_str(&read("verify")).unwrap();
        assert_eq!(read("vcode").trim(), "0", "{report}\n{}", read("inspect"));
        assert!(
            report["records"].as_u64().unwrap() >= acked,
            "{report} acked {acked}"
        );
    }
}

#[test]
fn unknown_format_version_and_links_outside_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey, seg) = sealed_ledger(tmp.path(), 2, 3);

    // A segment replaced by a link to a file outside the ledger.
    let outside = tmp.path().join("outside.parquet");
    std::fs::rename(&seg, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &seg).unwrap();
    let o = run(&[
        "verify",
        ledger.to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
    ]);
    assert_input_error(&o, "is not a regular file");
    std::fs::remove_file(&seg).unwrap();
    std::fs::rename(&outside, &seg).unwrap();

    // A ledger of a format this build does not know.
    let config = ledger.join("govtrail-ledger.json");
    let text_v1 = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text_v1.replace("\"format\": 1", "\"format\": 2")).unwrap();
    for args in [
        vec![
            "verify",
            ledger.to_str().unwrap(),
            "--pubkey",
            vkey.to_str().unwrap(),
        ],
        vec![
            "append",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    ] {
        let o = run(&args);
        assert_input_error(
            &o,
            "ledger format version 2 is not supported (this build reads version 1)",
        );
    }
    std::fs::write(&config, text_v1).unwrap();
    assert_eq!(verify_json(&ledger, &vkey).0, 0);
    assert_eq!(ids(&ledger).len(), 3, "nothing was lost");
}

#[test]
fn an_auditors_anchor_directory_catches_truncation() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let anchors = tmp.path().join("anchors");
    std::fs::create_dir(&anchors).unwrap();
    let l = ledger.to_str().unwrap();
    for round in 0..3u64 {
        let input: String = (round * 5..round * 5 + 5).map(|i| line(i) + "\n").collect();
        assert!(
            append_text(&ledger, &key, &input, tmp.path())
                .status
                .success()
        );
        let o = run(&["checkpoint", l]);
        std::fs::write(anchors.join(format!("{round}.note")), &o.stdout).unwrap();
    }
    let a = anchors.to_str().unwrap();
    let o = run(&[
        "verify",
        l,
        "--pubkey",
        vkey.to_str().unwrap(),
        "--anchor",
        a,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["anchors_checked"], 3);
    // Cut the newest commit (records 10..15) with its checkpoint out of the WAL.
    let wal = ledger::Layout::new(&ledger)
        .dir()
        .join("wal/00000000000000000000.wal");
    let bytes = std::fs::read(&wal).unwrap();
    let cut = find_commit_end(&bytes, 2);
    std::fs::write(&wal, &bytes[..cut]).unwrap();
    let o = run(&[
        "verify",
        l,
        "--pubkey",
        vkey.to_str().unwrap(),
        "--anchor",
        a,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(2), "{v}");
    assert_eq!(v["failure"]["class"], "truncated");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = run(&[
        "verify",
        l,
        "--pubkey",
        vkey.to_str().unwrap(),
        "--anchor",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(text(&o).contains("holds no .note files"), "{}", text(&o));
}

/// Byte offset just after the `n`-th checkpoint frame of a WAL (frames per LEDGER-FORMAT.md §5).
fn find_commit_end(wal: &[u8], n: usize) -> usize {
    let (mut at, mut seen) = (24usize, 0);
    while at + 8 <= wal.len() {
        let len = u32::from_be_bytes(wal[at..at + 4].try_into().unwrap()) as usize;
        let kind = wal[at + 8];
        at += 8 + len;
        if kind == 2 {
            seen += 1;
            if seen == n {
                return at;
            }
        }
    }
    panic!("fewer than {n} commits");
}
