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
