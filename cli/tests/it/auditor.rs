//! The auditor's commands end to end: consistency proofs against an anchor, a witness that
//! cosigns and refuses, key rotation, evidence packs, and their exit codes.

use std::fs;
use std::path::Path;

use crate::{assert_input_error, line, run, setup, text};

fn append(ledger: &Path, key: &Path, from: u64, to: u64) {
    let input: String = (from..to).map(|i| line(i) + "\n").collect();
    let file = ledger.with_extension(format!("{from}.ndjson"));
    fs::write(&file, input).unwrap();
    let o = run(&[
        "append",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn consistency_witness_rotation_and_evidence_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 50);
    append(&ledger, &key, 0, 120);
    let anchor = tmp.path().join("anchor-120.note");
    let o = run(&["checkpoint", s(&ledger)]);
    fs::write(&anchor, &o.stdout).unwrap();
    append(&ledger, &key, 120, 200);

    // A consistency proof from the auditor's anchor to the newest checkpoint.
    let proof = tmp.path().join("c.proof");
    let o = run(&["prove", s(&ledger), "--consistency-from", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    fs::write(&proof, &o.stdout).unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("old 120\n"));
    let o = run(&[
        "verify-proof",
        s(&proof),
        "--pubkey",
        s(&vkey),
        "--anchor",
        s(&anchor),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&["verify-proof", s(&proof), "--pubkey", s(&vkey)]);
    assert_input_error(&o, "--anchor");
    // The same proof against an anchor of another size: not consistent (exit 2).
    let other = tmp.path().join("anchor-other.note");
    let o = run(&["prove", s(&ledger), "--consistency-from", "7"]);
    let mut bad = String::from_utf8_lossy(&o.stdout).into_owned();
    bad = bad.replacen("old 7\n", "old 120\n", 1);
    fs::write(&other, &bad).unwrap();
    let o = run(&[
        "verify-proof",
        s(&other),
        "--pubkey",
        s(&vkey),
        "--anchor",
        s(&anchor),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // A witness: first sight, then a consistent step; its state catches a truncated copy.
    let w = tmp.path().join("w");
    let o = run(&[
        "keygen",
        "--witness",
        "--name",
        "witness.example/w",
        "--out",
        s(&w),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let state = tmp.path().join("w.state");
    let witness = |dir: &Path| {
        run(&[
            "witness",
            s(dir),
            "--key",
            s(&w.with_extension("key")),
            "--log-key",
            s(&vkey),
            "--state",
            s(&state),
        ])
    };
    let o = witness(&ledger);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("trusting the first checkpoint"),
        "{}",
        text(&o)
    );
    append(&ledger, &key, 200, 230);
    let o = witness(&ledger);
    assert!(
        text(&o).contains("consistent with size 200"),
        "{}",
        text(&o)
    );
    let policy = tmp.path().join("policy.txt");
    fs::write(
        &policy,
        format!(
            "log {}witness w {}quorum w\n",
            fs::read_to_string(&vkey).unwrap(),
            fs::read_to_string(w.with_extension("vkey")).unwrap()
        ),
    )
    .unwrap();
    let o = run(&["verify", s(&ledger), "--policy", s(&policy)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&[
        "verify",
        s(&ledger),
        "--policy",
        s(&policy),
        "--anchor",
        s(&state),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    fs::write(&policy, "log nonsense\n").unwrap();
    assert_input_error(
        &run(&["verify", s(&ledger), "--policy", s(&policy)]),
        "line 1",
    );

    // Evidence pack of [40, 170): verifies alone; an edited record is caught (exit 1).
    let pack = tmp.path().join("pack");
    let o = run(&[
        "export-evidence",
        s(&ledger),
        "--from",
        "40",
        "--to",
        "170",
        s(&pack),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "verify",
        s(&pack),
        "--evidence",
        "--pubkey",
        s(&vkey),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (o.status.code(), &v["from"], &v["verified"]),
        (Some(0), &40.into(), &170.into())
    );
    assert!(pack.join("README.md").exists() && pack.join("LEDGER-FORMAT.md").exists());
    // A ledger is never verified as a pack, even with an EVIDENCE file dropped into it.
    fs::copy(pack.join("EVIDENCE"), ledger.join("EVIDENCE")).unwrap();
    let o = run(&["verify", s(&ledger), "--pubkey", s(&vkey), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (o.status.code(), &v["from"], &v["verified"]),
        (Some(0), &0.into(), &230.into())
    );
    assert_input_error(
        &run(&["verify", s(&ledger), "--evidence", "--pubkey", s(&vkey)]),
        "not an evidence pack",
    );
    fs::remove_file(ledger.join("EVIDENCE")).unwrap();
    let o = run(&[
        "export-evidence",
        s(&ledger),
        "--from",
        "40",
        "--to",
        "999",
        s(&tmp.path().join("p2")),
    ]);
    assert_input_error(&o, "must be non-empty");

    // Key rotation: the old key can no longer append; verification needs both keys.
    let k2 = tmp.path().join("k2");
    let o = run(&["keygen", "--name", "test.example/ledger", "--out", s(&k2)]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "rotate-key",
        s(&ledger),
        "--key",
        s(&key),
        "--new-key",
        s(&k2.with_extension("key")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let input = tmp.path().join("more.ndjson");
    fs::write(&input, line(999) + "\n").unwrap();
    let o = run(&["append", s(&ledger), "--key", s(&key), s(&input)]);
    assert_input_error(&o, "rotated");
    append(&ledger, &k2.with_extension("key"), 230, 240);
    let o = run(&[
        "verify",
        s(&ledger),
        "--pubkey",
        s(&vkey),
        "--pubkey",
        s(&k2.with_extension("vkey")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&["verify", s(&ledger), "--pubkey", s(&vkey)]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "new checkpoints are not trusted: {}",
        text(&o)
    );
}

/// An evidence pack of 20 records says it read 20 (not the index it ends at) and no
/// write-ahead log, and holds the second verifier its README names, which accepts it.
#[test]
fn an_evidence_pack_says_what_it_holds_and_carries_its_second_verifier() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let input = tmp.path().join("in.ndjson");
    let lines: Vec<String> = (0..30).map(line).collect();
    fs::write(&input, lines.join("\n") + "\n").unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let o = run(&["append", &s(&ledger), "--key", &s(&key), &s(&input)]);
    assert!(o.status.success(), "{}", text(&o));
    let pack = tmp.path().join("pack");
    let o = run(&[
        "export-evidence",
        &s(&ledger),
        &s(&pack),
        "--from",
        "5",
        "--to",
        "25",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["verify", &s(&pack), "--evidence", "--pubkey", &s(&vkey)]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out.contains("read:     20 records [5, 25) in 1 segment"),
        "{out}"
    );
    assert!(!out.contains("write-ahead"), "{out}");
    let o = run(&[
        "verify",
        &s(&pack),
        "--evidence",
        "--pubkey",
        &s(&vkey),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            v["from"].as_u64(),
            v["verified"].as_u64(),
            v["verified_records"].as_u64()
        ),
        (Some(5), Some(25), Some(20)),
        "{v}"
    );
    let readme = fs::read_to_string(pack.join("README.md")).unwrap();
    assert!(readme.contains("govtrail_verify.py"), "{readme}");
    let o = std::process::Command::new(govtrail_tests::python())
        .arg(pack.join("govtrail_verify.py"))
        .args(["--evidence", &s(&pack), "--pubkey", &s(&vkey)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"status\": \"ok\""),
        "{}",
        text(&o)
    );
}

/// `show` gives one decision (by index or id): its record, its effective outcome, and the
/// exact record bytes and inclusion proof that `verify-proof --record` checks (the proof names
/// the decision); a record file with a trailing newline fails with a hint that says so.
#[test]
fn show_writes_the_exact_record_and_its_proof() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    append(&ledger, &key, 0, 12);
    let (record, proof) = (tmp.path().join("r.json"), tmp.path().join("r.proof"));
    let want = serde_json::from_str::<serde_json::Value>(&line(7)).unwrap();
    let id = want["decision_id"].as_str().unwrap();
    let o = run(&[
        "show",
        s(&ledger),
        "--decision-id",
        id,
        "--record-out",
        s(&record),
        "--proof-out",
        s(&proof),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["index"], 7, "{shown}");
    assert_eq!(shown["record"]["decision_id"], id, "{shown}");
    assert!(shown.get("effective").is_some(), "{shown}");
    let o = run(&[
        "verify-proof",
        s(&proof),
        "--pubkey",
        s(&vkey),
        "--record",
        s(&record),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("ok: record 7 (decision_id {id:?})")),
        "the check names the decision: {}",
        text(&o)
    );
    // The proof file names the decision: shown without the record (as unchecked), checked
    // against the record by both verifiers, and a proof renamed to another decision fails both.
    let o = run(&["verify-proof", s(&proof), "--pubkey", s(&vkey)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("named decision_id {id:?}")),
        "{}",
        text(&o)
    );
    let python = |proof: &Path| {
        std::process::Command::new(govtrail_tests::python())
            .arg(govtrail_tests::repo_root().join("tests/independent-verifier/govtrail_verify.py"))
            .args([
                "--proof",
                s(proof),
                "--record",
                s(&record),
                "--pubkey",
                s(&vkey),
            ])
            .output()
            .unwrap()
    };
    let o = python(&proof);
    assert!(o.status.success(), "{}", text(&o));
    let parsed = ledger::InclusionProof::parse(&fs::read(&proof).unwrap()).unwrap();
    assert_eq!(parsed.decision_id.as_deref(), Some(id));
    let renamed = tmp.path().join("renamed.proof");
    let mut other = parsed.clone();
    other.decision_id = Some("someone-else".into());
    fs::write(&renamed, other.to_text()).unwrap();
    let o = run(&[
        "verify-proof",
        s(&renamed),
        "--pubkey",
        s(&vkey),
        "--record",
        s(&record),
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("names decision \"someone-else\""),
        "{}",
        text(&o)
    );
    let o = python(&renamed);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("someone-else"), "{}", text(&o));
    // `prove` names it too.
    let o = run(&["prove", s(&ledger), "--index", "7"]);
    assert!(o.status.success(), "{}", text(&o));
    let proved = ledger::InclusionProof::parse(&o.stdout).unwrap();
    assert_eq!(proved.decision_id.as_deref(), Some(id));

    let mut bytes = fs::read(&record).unwrap();
    bytes.push(b'\n');
    fs::write(&record, bytes).unwrap();
    let o = run(&[
        "verify-proof",
        s(&proof),
        "--pubkey",
        s(&vkey),
        "--record",
        s(&record),
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ends in a newline"), "{}", text(&o));
}
