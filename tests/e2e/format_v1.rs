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
