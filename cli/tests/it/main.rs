//! Black-box tests of the `govtrail` binary: crash safety under SIGKILL, bad input, ingest,
//! the hook, the auditor's commands, queries and reports.

mod auditor;
mod bad_input;
mod crash;
mod dashboard;
mod docs;
mod hook;
mod idempotent;
mod ingest;
mod pruning;
mod query;
mod replay;
mod serve;
mod trust;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_govtrail"))
}

pub(crate) fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// Runs `cmd` with `stdin` on its standard input and collects its output.
pub(crate) fn call(mut cmd: Command, stdin: impl AsRef<[u8]>) -> Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_ref())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A key pair and an empty ledger in `tmp`: returns (ledger, key, vkey).
pub(crate) fn setup(tmp: &Path, segment_records: u64) -> (PathBuf, PathBuf, PathBuf) {
    let prefix = tmp.join("k");
    let o = run(&[
        "keygen",
        "--name",
        "test.example/ledger",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ledger = tmp.join("ledger");
    let key = tmp.join("k.key");
    init(&ledger, &key, segment_records);
    (ledger, key, tmp.join("k.vkey"))
}

/// `govtrail init LEDGER --key KEY --segment-records N`, which must succeed.
pub(crate) fn init(ledger: &Path, key: &Path, segment_records: u64) {
    let o = run(&[
        "init",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--segment-records",
        &segment_records.to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

/// `govtrail seal LEDGER --key KEY`, which must succeed.
pub(crate) fn seal(ledger: &Path, key: &Path) {
    let o = run(&[
        "seal",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

/// The command failed as bad input should: exit 4, no panic, and a message containing `want`.
pub(crate) fn assert_input_error(o: &Output, want: &str) {
    let t = text(o);
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(o.status.code(), Some(4), "{t}");
    assert!(t.contains(want), "want {want:?} in:\n{t}");
}

pub(crate) fn line(i: u64) -> String {
    format!(
        r#"{{"decision_id":"c-{i}","ts_us":{},"decision":"{}","service":"BoundaryEnforcer","tool_name":"Bash","tool_input":{{"command":"ls {i}"}},"rule_ids":["inst_016"],"overhead_us":{}}}"#,
        1_760_000_000_000_000u64 + i,
        if i.is_multiple_of(5) { "deny" } else { "allow" },
        50_000 + i % 1000
    )
}

/// Decision ids in the ledger, in index order.
pub(crate) fn ids(ledger: &Path) -> Vec<String> {
    let mut out = Vec::new();
    ledger::scan(ledger, |_, _, bytes| {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        out.push(v["decision_id"].as_str().unwrap().to_owned());
    })
    .unwrap();
    out
}

pub(crate) fn verify_json(ledger: &Path, vkey: &Path) -> (i32, serde_json::Value) {
    let o = run(&[
        "verify",
        ledger.to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
        "--json",
    ]);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    (o.status.code().unwrap(), v)
}

/// The independent Python verifier on `ledger` with `--pubkey vkey`: its exit code and JSON.
pub(crate) fn python_verify(ledger: &Path, vkey: &Path) -> (Option<i32>, serde_json::Value) {
    let o = Command::new(govtrail_tests::python())
        .arg(govtrail_tests::repo_root().join("tests/independent-verifier/govtrail_verify.py"))
        .arg(ledger)
        .arg("--pubkey")
        .arg(vkey)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    (o.status.code(), v)
}

/// Spool files `govtrail hook` wrote and `ingest --spool` has not drained.
pub(crate) fn hook_spool_len(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.filter(|e| {
                e.as_ref().is_ok_and(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".hook.json") && !name.starts_with('.')
                })
            })
            .count()
        })
        .unwrap_or(0)
}

/// A `govtrail hook` envelope of call `id` as a spool file holds it (one line): a Bash call of
/// `event` in `session` running `command`, exit 0.
pub(crate) fn spool_call(
    id: &str,
    started_us: u64,
    session: &str,
    event: &str,
    command: &str,
) -> String {
    let stdin = serde_json::json!({
        "session_id": session, "cwd": "/w", "hook_event_name": event, "tool_name": "Bash",
        "tool_input": {"command": command}, "tool_use_id": format!("toolu_{id}"),
    })
    .to_string();
    serde_json::json!({
        "govtrail_hook": 1, "id": id, "started_us": started_us, "wall_us": 10,
        "argv": ["hook.sh"], "exit_code": 0, "stdin": stdin, "stdout": "", "stderr": "",
    })
    .to_string()
        + "\n"
}
