//! `govtrail hook` in front of a real hook script (shaped like Tractatus's
//! framework-audit-hook.js): output and exit code byte-identical to calling the hook directly,
//! 16 concurrent calls all recorded through the spool, a failed recording changes nothing but
//! one stderr line, and `ingest --spool` turns the calls into verified decisions.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{bin, call, run, setup, text};

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hooks/audit_hook.py")
}

fn payload(i: usize, tool: &str, input: &str) -> String {
    format!(
        r#"{{"session_id":"5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10","transcript_path":"/t.jsonl","cwd":"/w","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"{tool}","tool_input":{input},"tool_use_id":"toolu_{i:04}"}}"#
    )
}

fn direct() -> Command {
    let mut c = Command::new("python3");
    c.arg(script());
    c
}

fn wrapped(spool: &Path) -> Command {
    let mut c = bin();
    c.args([
        "hook",
        "--spool",
        spool.to_str().unwrap(),
        "--engine",
        "tractatus",
        "--service",
        "PreToolUseHook",
        "--",
        "python3",
    ])
    .arg(script());
    c
}

#[test]
fn hook_relays_exactly_records_every_call_and_never_changes_the_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let cases = [
        payload(
            1,
            "Edit",
            r#"{"file_path":"/w/.claude/instruction-history.json","old_string":"a","new_string":"b"}"#,
        ),
        payload(2, "Bash", r#"{"command":"rm -rf /"}"#),
        payload(3, "Bash", r#"{"command":"ls"}"#),
    ];
    for p in &cases {
        let (a, b) = (call(direct(), p), call(wrapped(&spool), p));
        assert_eq!(
            (a.status.code(), &a.stdout, &a.stderr),
            (b.status.code(), &b.stdout, &b.stderr)
        );
    }
    // 16 hooks at once, as Claude Code runs parallel tool calls.
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let spool = spool.clone();
            std::thread::spawn(move || {
                call(
                    wrapped(&spool),
                    payload(100 + i, "Bash", r#"{"command":"ls"}"#),
                )
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().status.code(), Some(0));
    }
    assert_eq!(crate::hook_spool_len(&spool), 19);

    // Recording fails (the spool is a file): the hook's output and exit code are unchanged.
    let blocked = tmp.path().join("not-a-dir");
    std::fs::write(&blocked, "x").unwrap();
    let (a, b) = (
        call(direct(), &cases[1]),
        call(wrapped(&blocked), &cases[1]),
    );
    assert_eq!((a.status.code(), &a.stdout), (b.status.code(), &b.stdout));
    assert!(b.stderr.starts_with(&a.stderr));
    assert!(String::from_utf8_lossy(&b.stderr[a.stderr.len()..]).contains("not recorded"));

    // A misconfigured `govtrail hook` (no --spool) still runs the hook: same stdout and exit
    // code; the usage error follows the hook's own stderr.
    let mut c = bin();
    c.args(["hook", "--", "python3"]).arg(script());
    let (a, b) = (call(direct(), &cases[1]), call(c, &cases[1]));
    assert_eq!((a.status.code(), &a.stdout), (b.status.code(), &b.stdout));
    assert!(b.stderr.starts_with(&a.stderr));
    assert!(String::from_utf8_lossy(&b.stderr).contains("not recorded"));

    // Drain the spool into a ledger.
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    crate::assert_input_error(
        &run(&[
            "ingest",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--spool",
            spool.to_str().unwrap(),
            "--erase",
            "/decision",
        ]),
        "cannot be masked",
    );
    let o = run(&[
        "ingest",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--spool",
        spool.to_str().unwrap(),
        "--erase",
        "/extra/transcript_path",
        "--mask",
        "/tool_input/command",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["appended"], 19);
    assert_eq!(
        (
            v["per_decision"]["deny"].as_u64(),
            v["per_decision"]["allow"].as_u64()
        ),
        (Some(2), Some(17))
    );
    assert_eq!(crate::hook_spool_len(&spool), 0);
    let (code, report) = crate::verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{report}");
    let mut overheads = Vec::new();
    ledger::scan(&ledger, |_, _, r| {
        let d: serde_json::Value = serde_json::from_slice(r).unwrap();
        assert_eq!(d["overhead_source"], "govtrail.hook.wall");
        // Masked before hashing: neither the erased path nor the command is in the ledger.
        let text = String::from_utf8_lossy(r);
        assert!(
            !text.contains("/t.jsonl") && !text.contains("rm -rf"),
            "{text}"
        );
        assert_eq!(d["service"], "PreToolUseHook");
        overheads.push(d["overhead_us"].as_i64().unwrap());
    })
    .unwrap();
    assert!(overheads.iter().all(|&us| us > 0));
}

/// Claude Code's timeout: govtrail is sent SIGTERM while the hook runs. The hook gets the same
/// signal, govtrail dies of it as the hook would, and the call is recorded as interrupted (the
/// error row: the action proceeds).
#[test]
fn a_signal_to_govtrail_reaches_the_hook_and_the_call_is_recorded() {
    use std::os::unix::process::ExitStatusExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let pidfile = tmp.path().join("hook.pid");
    let slow = format!(
        "import os,sys,time; sys.stdin.read(); open({:?},'w').write(str(os.getpid())); time.sleep(30)",
        pidfile.to_str().unwrap()
    );
    let mut child = bin()
        .args([
            "hook",
            "--spool",
            spool.to_str().unwrap(),
            "--",
            "python3",
            "-c",
            &slow,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let mut waited = 0;
    while !pidfile.exists() && waited < 100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    let hook_pid = std::fs::read_to_string(&pidfile).unwrap();
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");
    // Gone, or a zombie (dead, waiting for whoever inherited it to reap it): a loaded machine
    // may take a while to deliver the signal and to reap.
    let running = || {
        std::fs::read_to_string(format!("/proc/{hook_pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat
                    .rsplit(')')
                    .next()?
                    .split_whitespace()
                    .next()?
                    .to_owned();
                Some(state != "Z")
            })
            .unwrap_or(false)
    };
    let mut waited = 0;
    while running() && waited < 100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert!(!running(), "the hook still runs");
    assert_eq!(crate::hook_spool_len(&spool), 1);
    for d in drained(tmp.path(), &spool) {
        assert_eq!(
            (d["decision"].as_str(), d["decision_native"].as_str()),
            (Some("error"), Some("interrupted:15"))
        );
        assert_eq!(d["outcome"], "failed_open");
    }
}

/// Drains `spool` into a new ledger in `tmp`: its records, in order.
fn drained(tmp: &Path, spool: &Path) -> Vec<serde_json::Value> {
    let (ledger, key, _) = setup(tmp, 1000);
    let o = run(&[
        "ingest",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--spool",
        spool.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut out = Vec::new();
    ledger::scan(&ledger, |_, _, r| {
        out.push(serde_json::from_slice(r).unwrap());
    })
    .unwrap();
    out
}

/// `govtrail hook --spool SPOOL -- sh -c SCRIPT` with `{}` on stdin; returns the process
/// and the pid the script wrote to `pidfile` (its long-running child).
fn spawn_sh_hook(spool: &Path, script: &str, pidfile: &Path) -> (std::process::Child, String) {
    let mut child = bin()
        .args(["hook", "--spool", spool.to_str().unwrap(), "--", "sh", "-c"])
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let mut waited = 0;
    while std::fs::read_to_string(pidfile).map_or(true, |t| t.trim().is_empty()) && waited < 200 {
        std::thread::sleep(std::time::Duration::from_millis(25));
        waited += 1;
    }
    let pid = std::fs::read_to_string(pidfile).unwrap().trim().to_owned();
    (child, pid)
}

/// Sends SIGTERM to `govtrail hook`: it must die of it within 2 s, and `stray` (a process the
/// hook started) must be gone.
fn terminate_within_two_seconds(mut child: std::process::Child, stray: &str) {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let sent = std::time::Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert_eq!(status.signal(), Some(15), "{status:?}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let alive =
        std::fs::read_to_string(format!("/proc/{stray}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "the hook's child {stray} still runs");
}

/// A hook that ignores SIGTERM and leaves a long child holding its output open: govtrail still
/// returns within 2 s of its own SIGTERM, with the output read so far and the call recorded as
/// killed, and nothing of the hook's process group survives.
#[test]
fn sigterm_ends_the_hooks_whole_process_group_within_two_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let pidfile = tmp.path().join("child.pid");
    // An ignored signal stays ignored across exec: neither the shell nor its sleep reacts.
    let script = format!(
        "trap '' TERM; cat >/dev/null; echo partial-output; sleep 30 & echo $! > {}; wait",
        pidfile.to_str().unwrap()
    );
    let (child, grandchild) = spawn_sh_hook(&spool, &script, &pidfile);
    terminate_within_two_seconds(child, &grandchild);
    let records = drained(tmp.path(), &spool);
    assert_eq!(records.len(), 1);
    let d = &records[0];
    assert_eq!(d["decision_native"], "interrupted:15:killed", "{d:#}");
    assert_eq!(d["source"]["hook"]["killed"], true, "{d:#}");
    assert!(
        d["source"]["hook"]["stdout"]
            .as_str()
            .is_some_and(|o| o.contains("partial-output")),
        "{d:#}"
    );
}

/// A hook that exits but leaves a child holding its output open: govtrail waits for the
/// output, as Claude Code would, but a SIGTERM then still ends the call within 2 s.
#[test]
fn sigterm_after_the_hook_exited_ends_its_stray_children_too() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let pidfile = tmp.path().join("child.pid");
    let script = format!(
        "cat >/dev/null; echo done-output; sleep 30 & echo $! > {}; exit 0",
        pidfile.to_str().unwrap()
    );
    let (child, stray) = spawn_sh_hook(&spool, &script, &pidfile);
    std::thread::sleep(std::time::Duration::from_millis(300));
    terminate_within_two_seconds(child, &stray);
    let records = drained(tmp.path(), &spool);
    assert_eq!(records.len(), 1);
    assert!(
        records[0]["source"]["hook"]["stdout"]
            .as_str()
            .is_some_and(|o| o.contains("done-output")),
        "{:#}",
        records[0]
    );
}

/// Nothing a drain rejects is discarded: it stays in `rejected/` with the reason beside it,
/// and `ingest --spool --retry-rejected` drains it again once the normaliser reads it (here:
/// calls of events an older normaliser refused). What appends is removed; what still does not
/// stays, with its new reason.
#[test]
fn rejected_calls_keep_their_reason_and_drain_again_with_retry_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let spool = tmp.path().join("spool");
    let rejected = spool.join("rejected");
    std::fs::create_dir_all(&rejected).unwrap();
    // As an older drain left them: moved, no reason file (events it did not know).
    for (id, event) in [("old-1", "TaskCreated"), ("old-2", "PermissionDenied")] {
        std::fs::write(
            rejected.join(format!("{id}.hook.json")),
            crate::spool_call(id, 1_765_000_000_000_000, "retry", event, "echo"),
        )
        .unwrap();
    }
    let ingest = |extra: &[&str]| {
        let mut args = vec![
            "ingest",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--spool",
            spool.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        (o.status.code(), v)
    };
    // A drain without the flag leaves rejected/ alone.
    let (code, v) = ingest(&[]);
    assert_eq!((code, v["appended"].as_u64()), (Some(0), Some(0)), "{v}");
    assert_eq!(std::fs::read_dir(&rejected).unwrap().count(), 2);
    let (code, v) = ingest(&["--retry-rejected"]);
    assert_eq!((code, v["appended"].as_u64()), (Some(0), Some(2)), "{v}");
    assert_eq!(v["rejected"], serde_json::json!([]), "{v}");
    assert_eq!(
        std::fs::read_dir(&rejected).unwrap().count(),
        0,
        "retried files are removed"
    );

    // A call file no normaliser reads: moved with its reason, kept by a retry, reason renewed.
    let bad = r#"{"govtrail_hook":1,"id":"bad","started_us":"soon"}"#;
    std::fs::write(spool.join("bad.hook.json"), bad).unwrap();
    let (code, v) = ingest(&[]);
    assert_eq!(code, Some(5), "{v}");
    let reason = rejected.join("bad.hook.json.reason");
    let said: serde_json::Value = serde_json::from_slice(&std::fs::read(&reason).unwrap()).unwrap();
    assert_eq!(said["rejected"][0]["pointer"], "/started_us", "{said}");
    assert_eq!(
        std::fs::read(rejected.join("bad.hook.json")).unwrap(),
        bad.as_bytes()
    );
    let (code, v) = ingest(&["--retry-rejected"]);
    assert_eq!((code, v["appended"].as_u64()), (Some(5), Some(0)), "{v}");
    assert!(rejected.join("bad.hook.json").exists() && reason.exists());
}

/// The same for a resident evaluator's hook log (docs/RECORD.md §5.2): a frame the drain
/// rejects is copied alone to `rejected/<log>@<offset>.rejected.ndjson` with its reason, its
/// whole neighbours are appended, and the log goes; `--retry-rejected` drains such copies (here
/// as an older drain left them, of events it did not know) and keeps, with a renewed reason,
/// what still does not read.
#[test]
fn rejected_hook_log_frames_keep_their_reason_and_drain_again_with_retry_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let spool = tmp.path().join("spool");
    let rejected = spool.join("rejected");
    std::fs::create_dir_all(&spool).unwrap();
    let frame = |envelope: &str| {
        let body = envelope.trim_end().as_bytes();
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        f.extend_from_slice(body);
        f
    };
    let bad = r#"{"govtrail_hook":1,"id":"bad","started_us":"soon"}"#;
    let mut log = Vec::new();
    log.extend(frame(&crate::spool_call(
        "f-1",
        1_765_000_000_000_000,
        "s",
        "PreToolUse",
        "ls",
    )));
    log.extend(frame(bad));
    log.extend(frame(&crate::spool_call(
        "f-3",
        1_765_000_000_000_100,
        "s",
        "PostToolUse",
        "ls",
    )));
    log.extend([0u8; 64]);
    std::fs::write(spool.join("srv-1.hooklog"), &log).unwrap();
    let ingest = |extra: &[&str]| {
        let mut args = vec![
            "ingest",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--spool",
            spool.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        (o.status.code(), v)
    };
    let (code, v) = ingest(&[]);
    assert_eq!((code, v["appended"].as_u64()), (Some(5), Some(2)), "{v}");
    assert!(
        !spool.join("srv-1.hooklog").exists(),
        "the drained log goes"
    );
    let copy = rejected.join("srv-1.hooklog@0.rejected.ndjson");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), format!("{bad}\n"));
    let reason = rejected.join("srv-1.hooklog@0.rejected.ndjson.reason");
    let said: serde_json::Value = serde_json::from_slice(&std::fs::read(&reason).unwrap()).unwrap();
    assert_eq!(said["rejected"][0]["pointer"], "/started_us", "{said}");

    // As an older drain left them: frames of events it did not know, no reason file.
    let old = rejected.join("srv-0.hooklog@4096.rejected.ndjson");
    let mut frames = crate::spool_call("o-1", 1_764_000_000_000_000, "o", "TaskCreated", "x");
    frames.push_str(&crate::spool_call(
        "o-2",
        1_764_000_000_000_100,
        "o",
        "Elicitation",
        "x",
    ));
    std::fs::write(&old, frames).unwrap();
    let (code, v) = ingest(&["--retry-rejected"]);
    assert_eq!((code, v["appended"].as_u64()), (Some(5), Some(2)), "{v}");
    assert!(!old.exists(), "retried frames that append are removed");
    assert!(
        copy.exists() && reason.exists(),
        "frames that still do not read stay"
    );
    let said: serde_json::Value = serde_json::from_slice(&std::fs::read(&reason).unwrap()).unwrap();
    assert_eq!(said["rejected"][0]["pointer"], "/started_us", "{said}");
    // Retried again: nothing appended twice.
    let (_, v) = ingest(&["--retry-rejected"]);
    assert_eq!(v["appended"], 0, "{v}");
}
