//! The Trust issue's CLI-facing promises: no secret in any output, files for the owner alone,
//! a verdict of its own for the caller's mistakes, torn WAL bytes reported, bounded threads.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::{run, setup, text};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Appends `line(from..to)` with `key`.
fn append(ledger: &Path, key: &Path, from: u64, to: u64) {
    let input = ledger.with_extension(format!("{from}.ndjson"));
    let body: String = (from..to).map(|i| crate::line(i) + "\n").collect();
    fs::write(&input, body).unwrap();
    let o = run(&["append", s(ledger), "--key", s(key), s(&input)]);
    assert!(o.status.success(), "{}", text(&o));
}

/// The base64 seed of a private key file: the part that must never be printed.
fn secret_of(key: &Path) -> String {
    let text = fs::read_to_string(key).unwrap();
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 may itself hold '+'.
    text.trim().splitn(5, '+').nth(4).unwrap().to_owned()
}

#[test]
fn no_error_path_that_takes_a_key_prints_the_private_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 10);
    append(&ledger, &key, 0, 25);
    let secret = secret_of(&key);
    assert!(secret.len() >= 40, "{secret}");
    let key_text = fs::read_to_string(&key).unwrap();
    let key_line = key_text.trim().to_owned();
    // A damaged private key: one character of the seed changed, and one cut short.
    let bent = tmp.path().join("bent.key");
    let mut b = key_line.clone().into_bytes();
    let last = b.len() - 3;
    b[last] = if b[last] == b'A' { b'B' } else { b'A' };
    fs::write(&bent, &b).unwrap();
    let short = tmp.path().join("short.key");
    fs::write(&short, &key_line[..key_line.len() - 10]).unwrap();
    let proof = tmp.path().join("p.proof");
    let o = run(&["prove", s(&ledger), "--index", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    fs::write(&proof, &o.stdout).unwrap();
    let state = tmp.path().join("w.state");
    let l = s(&ledger);
    // Every place a public key is expected, given the private key (as a file and as text).
    let mut calls: Vec<Vec<String>> = Vec::new();
    for k in [s(&key).to_owned(), key_line.clone()] {
        calls.push(vec![
            "verify".into(),
            l.into(),
            "--pubkey".into(),
            k.clone(),
        ]);
        calls.push(vec![
            "verify-proof".into(),
            s(&proof).into(),
            "--pubkey".into(),
            k.clone(),
        ]);
        calls.push(vec![
            "replay".into(),
            l.into(),
            "--bundle".into(),
            "../examples/bundles/tractatus".into(),
            "--pubkey".into(),
            k.clone(),
        ]);
        calls.push(vec![
            "witness".into(),
            l.into(),
            "--key".into(),
            s(&key).into(),
            "--log-key".into(),
            k.clone(),
            "--state".into(),
            s(&state).into(),
        ]);
        let policy = tmp.path().join("policy.txt");
        fs::write(&policy, format!("log {k}\n")).unwrap();
        calls.push(vec![
            "verify".into(),
            l.into(),
            "--policy".into(),
            s(&policy).into(),
        ]);
    }
    // The private key file itself given as a policy.
    calls.push(vec![
        "verify".into(),
        l.into(),
        "--policy".into(),
        s(&key).into(),
    ]);
    // Every place a private key is expected, given a damaged one or the public one.
    for k in [&bent, &short, &vkey] {
        let k = s(k).to_owned();
        let input = tmp.path().join("one.ndjson");
        fs::write(&input, crate::line(99) + "\n").unwrap();
        calls.push(vec![
            "append".into(),
            l.into(),
            "--key".into(),
            k.clone(),
            s(&input).into(),
        ]);
        calls.push(vec![
            "ingest".into(),
            l.into(),
            "--key".into(),
            k.clone(),
            s(&input).into(),
        ]);
        calls.push(vec![
            "witness".into(),
            l.into(),
            "--key".into(),
            k.clone(),
            "--log-key".into(),
            s(&vkey).into(),
            "--state".into(),
            s(&state).into(),
        ]);
        calls.push(vec!["seal".into(), l.into(), "--key".into(), k.clone()]);
        calls.push(vec![
            "init".into(),
            s(&tmp.path().join("new")).into(),
            "--key".into(),
            k.clone(),
        ]);
        calls.push(vec![
            "rotate-key".into(),
            l.into(),
            "--key".into(),
            s(&key).into(),
            "--new-key".into(),
            k.clone(),
        ]);
    }
    for args in &calls {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = crate::bin()
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded: {t}");
        assert!(!t.contains("panicked"), "{args:?}: {t}");
        for bad in [secret.as_str(), &secret[..20]] {
            assert!(!t.contains(bad), "{args:?} printed the private key: {t}");
        }
    }
    // The private key where a public one is expected is named as such.
    let o = run(&["verify", l, "--pubkey", s(&key)]);
    assert!(text(&o).contains("private"), "{}", text(&o));
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    // And the public key where a private one is expected.
    let input = tmp.path().join("one.ndjson");
    let o = run(&["append", l, "--key", s(&vkey), s(&input)]);
    assert!(text(&o).contains("public"), "{}", text(&o));
}

/// Every file and directory the ledger, the spool and keygen create is the owner's alone.
#[test]
fn created_files_are_0600_and_directories_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 10);
    append(&ledger, &key, 0, 25);
    let spool = tmp.path().join("spool");
    let o = crate::call(
        {
            let mut c = crate::bin();
            c.args(["hook", "--spool", s(&spool), "--", "true"]);
            c
        },
        b"{}",
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = tmp.path().join("q.csv");
    let o = run(&[
        "query",
        s(&ledger),
        "SELECT decision_id, record FROM decisions",
        "--format",
        "csv",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mut seen = 0;
    let mut check = |p: &Path| {
        let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", p.display());
        seen += 1;
    };
    fn walk(p: &Path, f: &mut dyn FnMut(&Path)) {
        f(p);
        if p.is_dir() {
            for e in fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), f);
            }
        }
    }
    walk(&ledger, &mut check);
    walk(&spool, &mut check);
    check(&key);
    check(&out);
    assert!(seen > 15, "{seen}");
    // A spool shared with a group: files there are group-readable, nothing more.
    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o2770)).unwrap();
    let o = crate::call(
        {
            let mut c = crate::bin();
            c.args(["hook", "--spool", s(&shared), "--", "true"]);
            c
        },
        b"{}",
    );
    assert!(o.status.success(), "{}", text(&o));
    for e in fs::read_dir(&shared).unwrap() {
        let mode = e.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}

/// A caller's mistakes get the verdict `unverified` (exit 7), never `tampered` (1) or `ok`;
/// a file that is not a checkpoint given as an anchor is a usage error (4).
#[test]
fn the_callers_mistakes_are_unverified_not_tampered() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 10);
    append(&ledger, &key, 0, 25);
    let l = s(&ledger);
    let verdict = |args: &[&str]| {
        let mut all = vec!["verify"];
        all.extend_from_slice(args);
        all.push("--json");
        let o = run(&all);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
        (
            o.status.code(),
            v["status"].as_str().map(str::to_owned),
            text(&o),
        )
    };
    // A wrong public key.
    let other = tmp.path().join("other");
    let o = run(&[
        "keygen",
        "--name",
        "test.example/ledger",
        "--out",
        s(&other),
    ]);
    assert!(o.status.success());
    let other_vkey = other.with_extension("vkey");
    let (code, status, t) = verdict(&[l, "--pubkey", s(&other_vkey)]);
    assert_eq!(
        (code, status.as_deref()),
        (Some(7), Some("unverified")),
        "{t}"
    );
    assert!(
        t.contains("not this ledger's") && t.contains("re-signed"),
        "{t}"
    );
    // A garbage anchor: a usage error.
    let garbage = tmp.path().join("garbage.note");
    fs::write(&garbage, "not a checkpoint\n").unwrap();
    let o = run(&["verify", l, "--pubkey", s(&vkey), "--anchor", s(&garbage)]);
    crate::assert_input_error(&o, "not a checkpoint note");
    // An evidence pack checked with another key.
    let pack = tmp.path().join("pack");
    let o = run(&["export-evidence", l, "--from", "3", "--to", "12", s(&pack)]);
    assert!(o.status.success(), "{}", text(&o));
    let (code, status, t) = verdict(&[s(&pack), "--evidence", "--pubkey", s(&other_vkey)]);
    assert_eq!(
        (code, status.as_deref()),
        (Some(7), Some("unverified")),
        "{t}"
    );
    // Right after a rotation, only the new key: nothing is signed by it yet.
    let k2 = tmp.path().join("k2");
    let o = run(&["keygen", "--name", "test.example/ledger", "--out", s(&k2)]);
    assert!(o.status.success());
    let o = run(&[
        "rotate-key",
        l,
        "--key",
        s(&key),
        "--new-key",
        s(&k2.with_extension("key")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (code, status, t) = verdict(&[l, "--pubkey", s(&k2.with_extension("vkey"))]);
    assert_eq!(
        (code, status.as_deref()),
        (Some(7), Some("unverified")),
        "{t}"
    );
    // A key that signed before cannot come back (its validity range would be empty).
    let o = run(&[
        "rotate-key",
        l,
        "--key",
        s(&k2.with_extension("key")),
        "--new-key",
        s(&key),
    ]);
    crate::assert_input_error(&o, "used this key before");
    // Both keys: ok.
    let (code, _, t) = verdict(&[
        l,
        "--pubkey",
        s(&vkey),
        "--pubkey",
        s(&k2.with_extension("vkey")),
    ]);
    assert_eq!(code, Some(0), "{t}");
    // The Python verifier gives the same verdict and code.
    let (code, v) = crate::python_verify(&ledger, &other_vkey);
    assert_eq!((code, v["status"].as_str()), (Some(7), Some("unverified")));
}

/// A WAL cut mid-frame verifies over the records before it, and says so.
#[test]
fn a_torn_wal_tail_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    append(&ledger, &key, 0, 5);
    append(&ledger, &key, 5, 9);
    let wal = ledger.join("wal/00000000000000000000.wal");
    let len = fs::metadata(&wal).unwrap().len();
    // Half of a records frame: what a crash mid-write leaves.
    let mut bytes = fs::read(&wal).unwrap();
    bytes.extend_from_slice(&[0, 0, 0, 100, 1, 2, 3, 4, 1, 0, 0]);
    fs::write(&wal, &bytes).unwrap();
    let (code, v) = crate::verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["verified"], 9, "{v:#}");
    assert_eq!(v["torn"][0]["offset"], len, "{v:#}");
    assert_eq!(v["torn"][0]["bytes"], 11, "{v:#}");
    let o = run(&["verify", s(&ledger), "--pubkey", s(&vkey)]);
    assert!(text(&o).contains("torn:"), "{}", text(&o));
    let (_, p) = crate::python_verify(&ledger, &vkey);
    assert_eq!(p["torn"][0]["offset"], len, "{p:#}");
    assert_eq!(p["torn"][0]["bytes"], 11, "{p:#}");
}

#[test]
fn thread_counts_are_bounded() {
    for n in ["0", "257", "100000"] {
        let o = run(&[
            "replay",
            "nowhere",
            "--bundle",
            "nowhere",
            "--no-verify",
            "--threads",
            n,
        ]);
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
        assert!(text(&o).contains("--threads"), "{}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
}
