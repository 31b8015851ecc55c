//! What a query reads: every acknowledged record, sealed or not, and nothing else; and how bad
//! SQL and bad ledgers fail.

use crate::Block as _;
use govtrail_query::{Error, Trail};
use ledger::{Committer, Ledger, NoteSigner, Record};

fn record(i: u64, decision: &str) -> Record {
    let json = format!(
        r#"{{"decision_id":"r{i}","ts_us":{},"decision":"{decision}","service":"svc","session_id":"s{}","overhead_us":{}}}"#,
        1_760_000_000_000_000u64 + i,
        i % 3,
        100 + i
    );
    Record::from_json(json.as_bytes(), &i).unwrap()
}

fn count(trail: &Trail, sql: &str) -> i64 {
    use datafusion::arrow::array::AsArray as _;
    let b = trail.sql(sql).block().unwrap();
    let col = datafusion::arrow::compute::cast(
        b[0].column(0),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .unwrap();
    col.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0)
}

/// A record is visible as soon as its append returned, with the writer still open and nothing
/// sealed; then across a seal, with sealed and unsealed records together.
#[test]
fn acknowledged_records_are_visible_before_any_seal() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed("example.org/q", [3; 32]);
    let mut ledger = Ledger::create(dir.path(), signer, 1_000).unwrap();
    for i in 0..10 {
        ledger.append(&record(i, "allow")).unwrap();
        // Writer open, nothing sealed: the query sees exactly the records acknowledged so far.
        let trail = Trail::open(dir.path()).block().unwrap();
        assert!(trail.snapshot().segments.is_empty());
        assert_eq!(
            count(&trail, "SELECT count(*) FROM decisions"),
            i as i64 + 1
        );
        assert_eq!(
            count(
                &trail,
                &format!("SELECT count(*) FROM decisions WHERE decision_id = 'r{i}'")
            ),
            1
        );
    }
    ledger.seal().unwrap();
    ledger.append(&record(10, "deny")).unwrap();
    let trail = Trail::open(dir.path()).block().unwrap();
    assert_eq!(trail.snapshot().segments.len(), 1);
    assert!(trail.snapshot().tail.is_some());
    assert_eq!(count(&trail, "SELECT count(*) FROM decisions"), 11);
    assert_eq!(count(&trail, "SELECT max(idx) FROM decisions"), 10);
    // The tail's hashes continue the chain: the ledger's own verifier would agree.
    assert_eq!(
        count(&trail, "SELECT count(DISTINCT chain) FROM decisions"),
        11
    );
}

/// Through the group committer with concurrent appenders: every acknowledged record is seen.
#[test]
fn concurrent_acks_are_visible() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed("example.org/q", [4; 32]);
    let ledger = Ledger::create(dir.path(), signer, 64).unwrap();
    let committer = Committer::spawn(ledger, 64, 16, |_| {});
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let c = &committer;
            s.spawn(move || {
                for i in 0..50u64 {
                    c.append(vec![record(t * 1000 + i, "allow")]).unwrap();
                }
            });
        }
        // While appends flow, each snapshot is a prefix of the log.
        for _ in 0..5 {
            let trail = Trail::open(dir.path()).block().unwrap();
            let n = count(&trail, "SELECT count(*) FROM decisions");
            let max = count(&trail, "SELECT coalesce(max(idx), -1) FROM decisions");
            assert_eq!(max + 1, n);
        }
    });
    let trail = Trail::open(dir.path()).block().unwrap();
    assert_eq!(count(&trail, "SELECT count(*) FROM decisions"), 200);
    committer.finish().unwrap();
}

fn small_trail() -> (tempfile::TempDir, Trail) {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed("example.org/q", [5; 32]);
    let mut ledger = Ledger::create(dir.path(), signer, 1_000).unwrap();
    ledger.append(&record(0, "allow")).unwrap();
    let trail = Trail::open(dir.path()).block().unwrap();
    (dir, trail)
}

#[test]
fn bad_sql_is_a_clear_error() {
    let (_dir, trail) = small_trail();
    let cases: &[(&str, &str)] = &[
        ("SELEC 1", "SQL syntax error"),
        ("SELECT no_such_column FROM decisions", "no_such_column"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        (
            "SELECT json_str(record, 'reason') FROM decisions",
            "not a JSON pointer",
        ),
    ];
    for (sql, want) in cases {
        let err = trail.sql(sql).block().unwrap_err();
        assert!(matches!(err, Error::Sql { .. }), "{sql}: {err:?}");
        assert!(err.to_string().contains(want), "{sql}: {err}");
    }
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO decisions SELECT * FROM decisions",
        "DROP VIEW decisions",
        "COPY (SELECT 1) TO '/tmp/govtrail-should-not-exist.csv'",
        "SET datafusion.execution.batch_size = 1",
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc'",
    ] {
        let err = trail.sql(sql).block().unwrap_err();
        assert!(matches!(err, Error::ReadOnly { .. }), "{sql}: {err:?}");
        assert!(err.to_string().contains("read-only"), "{sql}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/govtrail-should-not-exist.csv").exists());
    // The session still works after refusals.
    assert_eq!(count(&trail, "SELECT count(*) FROM decisions"), 1);
}

#[test]
fn missing_or_foreign_directory_is_a_clear_error() {
    let err = Trail::open(std::path::Path::new("/no/such/ledger"))
        .block()
        .unwrap_err();
    assert!(err.to_string().contains("no such directory"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = Trail::open(empty.path()).block().unwrap_err();
    assert!(err.to_string().contains("not a govtrail ledger"), "{err}");
}

/// A damaged segment is named in the error of the query that reads it, not a panic.
#[test]
fn corrupt_segment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed("example.org/q", [6; 32]);
    let mut ledger = Ledger::create(dir.path(), signer, 1_000).unwrap();
    for i in 0..20 {
        ledger.append(&record(i, "allow")).unwrap();
    }
    ledger.seal().unwrap();
    drop(ledger);
    let seg = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 12..n - 8].copy_from_slice(&[0xff; 4]);
    std::fs::write(&seg, &bytes).unwrap();
    let result = Trail::open(dir.path()).block().and_then(|t| {
        t.sql("SELECT count(*), sum(overhead_us) FROM decisions")
            .block()
    });
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains(".parquet") || err.to_lowercase().contains("parquet"),
        "{err}"
    );
}
