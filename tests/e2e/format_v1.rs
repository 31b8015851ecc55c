//! The committed format-v1 ledger in `tests/vectors/ledger-v1/`, its root pinned in
//! `tests/vectors/ledger-v1.ROOT`: written once by this test when absent (then committed), and from then on every build and the independent verifier must
//! verify it and reproduce its pinned root. A change that breaks it is a format change and
//! needs a new version.

use govtrail_tests::{build_ledger, python_verdict, repo_root, rust_verdict, signer};

#[test]
fn committed_v1_ledger_still_verifies() {
    let dir = repo_root().join("tests/vectors/ledger-v1");
    let root_file = repo_root().join("tests/vectors/ledger-v1.ROOT");
    if !dir.exists() {
        build_ledger(&dir, 23, 10, 4);
        let _ = std::fs::remove_file(dir.join("LOCK"));
        let cp = ledger::inspect(&dir).unwrap().latest.unwrap();
        std::fs::write(
            &root_file,
            format!("{}\n", ledger::hash::hex(&cp.checkpoint.root)),
        )
        .unwrap();
    }
    let keys = [signer().verifier()];
    let rust = rust_verdict(&dir, &keys, &[]);
    assert_eq!(rust, ("ok".into(), None, None, 23));
    assert_eq!(python_verdict(&dir, &keys, &[]), rust);
    let report = ledger::verify(&dir, &ledger::VerifyOptions::new(keys.to_vec())).unwrap();
    let want = std::fs::read_to_string(&root_file).unwrap();
    assert_eq!(
        ledger::hash::hex(&report.checkpoint.unwrap().root),
        want.trim()
    );
}

/// Copies `from` (files, dot-files included) into a new directory `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The files under `dir`, relative, sorted.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(
                listing(&e.path())
                    .into_iter()
                    .map(|n| format!("{name}/{n}")),
            );
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

/// The committed v1 spool in `tests/vectors/spool-v1/` (written by `make-spool-v1.sh` with
/// the binary of the commit its PROVENANCE names: `govtrail hook` call files, one of them with a
/// stdout that is not UTF-8, an in-process `govtrail decide` call, a resident evaluator's hook
/// log with a drain mark after its first frame, and a call file a drain must reject) drains to
/// the result pinned in `tests/vectors/spool-v1.DRAINED`: written once by this test when absent
/// (then committed), and from then on every build must reproduce it, so that a log an older
/// writer left always drains the same way. Against the drain of 964eb82 itself (its release
/// binary's `ingest --spool` on the same files): the same six records under the same ids,
/// decisions and native decisions, five of them byte for byte, and the same files left; the
/// record of the call whose stdout is not UTF-8 now keeps it (`source.hook.stdout_b64`, read
/// since the envelope became one type), and the rejection's message is serde's.
#[test]
fn committed_v1_spool_drains_to_its_pinned_result() {
    use arrow_array::cast::AsArray as _;
    let fixture = repo_root().join("tests/vectors/spool-v1");
    let pinned = repo_root().join("tests/vectors/spool-v1.DRAINED");
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    copy_dir(&fixture, &spool);
    let dir = tmp.path().join("ledger");
    let ledger = ledger::Ledger::create(&dir, signer(), 1024).unwrap();
    let committer = ledger::Committer::spawn(ledger, 1024, 4, |_| {});
    let opts = schemas::ingest::Options {
        received_us: 1_700_000_000_000_000,
        ..schemas::ingest::Options::default()
    };
    let report = ledger::spool::drain(&committer, &spool, &opts).unwrap();
    let ledger = committer.finish().unwrap();
    let mut text = String::new();
    let report = serde_json::to_value(&report).unwrap().to_string();
    // The report names files by path: the spool's place is not part of the result.
    text.push_str(&report.replace(&format!("{}/", spool.display()), "SPOOL/"));
    text.push('\n');
    text.push_str(&format!("left in the spool: {:?}\n", listing(&spool)));
    let snap = ledger::snapshot(&dir).unwrap();
    let tail = snap
        .tail
        .expect("the drained records are in the write-ahead log");
    let records = tail
        .column_by_name("record")
        .unwrap()
        .as_binary::<i32>()
        .clone();
    for (i, bytes) in records.iter().enumerate() {
        let v = schemas::DecisionView::parse(bytes.unwrap()).unwrap();
        text.push_str(&format!(
            "{i} {} {} {}\n",
            v.decision_id,
            v.decision.as_str(),
            v.decision_native.as_deref().unwrap_or("-")
        ));
    }
    let cp = ledger::inspect(&dir).unwrap().latest.unwrap();
    text.push_str(&format!(
        "size {} root {}\n",
        cp.checkpoint.size,
        ledger::hash::hex(&cp.checkpoint.root)
    ));
    drop(ledger);
    if !pinned.exists() {
        std::fs::write(&pinned, &text).unwrap();
    }
    let want = std::fs::read_to_string(&pinned).unwrap();
    assert_eq!(
        text, want,
        "the v1 spool no longer drains to its pinned result"
    );
}
