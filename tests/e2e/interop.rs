//! Segments open unmodified in pyarrow and DuckDB, which count the rows and re-check hashes.

use govtrail_tests::{build_ledger, python, repo_root};

#[test]
fn pyarrow_and_duckdb_read_segments() {
    let dir = tempfile::tempdir().unwrap();
    build_ledger(dir.path(), 2500, 1000, 100);
    let script = repo_root().join("tests/independent-verifier/read_with_engines.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(dir.path().join("segments"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["files"], 2);
    assert_eq!(v["pyarrow_rows"], 2000);
    assert_eq!(v["duckdb_rows"], 2000);
    assert_eq!(v["duckdb_hashes_ok"], 2000);
    assert_eq!(v["duckdb_deny"], 500);
}

/// The ledger's checkpoints are C2SP signed notes that an independent implementation
/// (Cloudflare's `signed_note` crate) verifies with the same verifier key, and notes it signs
/// with our key file verify with ours.
#[test]
fn checkpoints_interoperate_with_an_independent_signed_note_implementation() {
    use govtrail_tests::signer;
    let dir = tempfile::tempdir().unwrap();
    build_ledger(dir.path(), 30, 10, 3);
    let vkey = signer().verifier().to_string();
    let theirs = signed_note::StandardVerifier::new(&vkey).unwrap();
    let known = signed_note::VerifierList::new(vec![Box::new(theirs)]);
    let mut notes: Vec<Vec<u8>> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    notes.push(
        ledger::inspect(dir.path())
            .unwrap()
            .latest
            .unwrap()
            .bytes
            .into_bytes(),
    );
    assert_eq!(
        notes.len(),
        3,
        "stable checkpoints at 12 and 24, and the newest"
    );
    for note in &notes {
        let parsed = signed_note::Note::from_bytes(note).unwrap();
        let (verified, unverified) = parsed.verify(&known).unwrap();
        assert_eq!((verified.len(), unverified.len()), (1, 0));
    }
    // The other way round: their signer, our private key file format, our verifier.
    let their_signer = signed_note::StandardSigner::new(&signer().to_text()).unwrap();
    let text = ledger::Checkpoint {
        origin: govtrail_tests::ORIGIN.into(),
        size: 7,
        root: [9; 32],
    }
    .text();
    let mut note = signed_note::Note::new(text.as_bytes(), &[]).unwrap();
    note.add_sigs(&[&their_signer]).unwrap();
    let ours = ledger::Note::parse(&note.to_bytes()).unwrap();
    assert_eq!(
        ours.verify(&[signer().verifier()]),
        Ok(vec![govtrail_tests::ORIGIN.to_owned()])
    );
    assert_eq!(ours.text, text);
}
