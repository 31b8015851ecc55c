//! `govtrail query` and `govtrail report`: results in every format, records visible before a
//! seal, plots written, and bad SQL, write statements, bad options and missing ledgers
//! failing with exit 4 and a message that names the problem.

use std::fs;
use std::path::Path;

use crate::{assert_input_error, line, run, setup, text};

/// `govtrail report roi LEDGER --incidents I --cost C EXTRA…`.
fn roi(ledger: &str, incidents: &Path, cost: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "report",
        "roi",
        ledger,
        "--incidents",
        incidents.to_str().unwrap(),
        "--cost",
        cost.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// A ledger with 50 decisions appended (not sealed): returns (tmp, ledger).
fn ledger_with_decisions() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let input = tmp.path().join("in.ndjson");
    let lines: Vec<String> = (0..50).map(line).collect();
    fs::write(&input, lines.join("\n") + "\n").unwrap();
    let o = run(&[
        "append",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    (tmp, ledger)
}

#[test]
fn query_formats_and_unsealed_records() {
    let (tmp, ledger) = ledger_with_decisions();
    let l = ledger.to_str().unwrap();
    let sql = "SELECT decision, count(*) AS n FROM decisions GROUP BY decision ORDER BY decision";
    let o = run(&["query", l, sql]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("| allow    | 40 |") && out.contains("| deny     | 10 |"),
        "{out}"
    );

    let o = run(&["query", l, sql, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"decision": "allow", "n": 40}, {"decision": "deny", "n": 10}])
    );

    let o = run(&["query", l, sql, "--format", "csv"]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "decision,n\nallow,40\ndeny,10\n"
    );

    // An empty result keeps its columns.
    let none = "SELECT decision, count(*) AS n FROM decisions WHERE decision = 'escalate' GROUP BY decision";
    let o = run(&["query", l, none, "--format", "csv"]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "decision,n\n");
    let o = run(&["query", l, none, "--format", "json"]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "[]\n");
    let empty_pq = tmp.path().join("empty.parquet");
    let o = run(&[
        "query",
        l,
        none,
        "--format",
        "parquet",
        "--out",
        empty_pq.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let pq = tmp.path().join("out.parquet");
    let o = run(&[
        "query",
        l,
        sql,
        "--format",
        "parquet",
        "--out",
        pq.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = fs::read(&pq).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
}

#[test]
fn reports_and_plots() {
    let (tmp, ledger) = ledger_with_decisions();
    let l = ledger.to_str().unwrap();
    let svg = tmp.path().join("o.svg");
    let png = tmp.path().join("o.png");
    let o = run(&[
        "report",
        "overhead",
        l,
        "--by",
        "service,decision",
        "--plot",
        svg.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("BoundaryEnforcer  allow     40"), "{out}");
    assert!(fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG"));

    let o = run(&["report", "overhead", l, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"]["decisions"], 50);
    assert_eq!(v["total"]["measured"], 50);

    let o = run(&["report", "rca", l, "--session", "no-such-session"]);
    assert_input_error(&o, "no decisions with session_id 'no-such-session'");

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../query/tests/data");
    let o = roi(
        l,
        &root.join("incidents.csv"),
        &root.join("cost.json"),
        &["--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cost"]["decisions"], 50);
    assert_eq!(v["incidents"][0]["incident"]["id"], "INC-001");
}

#[test]
fn bad_queries_and_options_exit_4() {
    let (tmp, ledger) = ledger_with_decisions();
    let l = ledger.to_str().unwrap();
    assert_input_error(&run(&["query", l, "SELEC 1"]), "SQL syntax error");
    assert_input_error(&run(&["query", l, "SELECT nope FROM decisions"]), "nope");
    assert_input_error(
        &run(&["query", l, "DELETE FROM decisions"]),
        "queries are read-only",
    );
    assert_input_error(
        &run(&["query", l, "COPY (SELECT 1) TO 'x.csv'"]),
        "queries are read-only",
    );
    assert_input_error(
        &run(&["query", l, "SELECT 1", "--format", "parquet"]),
        "--out FILE",
    );
    assert_input_error(
        &run(&["query", "/no/such/ledger", "SELECT 1"]),
        "no such directory",
    );
    assert_input_error(
        &run(&["query", tmp.path().to_str().unwrap(), "SELECT 1"]),
        "not a govtrail ledger",
    );
    assert_input_error(
        &run(&["report", "overhead", l, "--by", "colour"]),
        "--by colour: not a dimension",
    );
    assert_input_error(
        &run(&["report", "overhead", l, "--plot", "x.jpg"]),
        "must end in .svg or .png",
    );
    assert_input_error(
        &run(&["report", "overhead", l, "--since", "yesterday"]),
        "yesterday",
    );
    let bad = tmp.path().join("cost.json");
    fs::write(&bad, r#"{"currency": "USD", "micros_per_token": "15"}"#).unwrap();
    let inc = tmp.path().join("inc.csv");
    fs::write(
        &inc,
        "id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids\nX,,,,lots,1,\n",
    )
    .unwrap();
    assert_input_error(
        &roi(l, &inc, &bad, &[]),
        "inc.csv:2: tokens_wasted is not a non-negative integer",
    );
    // Absurd figures saturate instead of overflowing; negative prices are refused.
    let huge = tmp.path().join("huge.json");
    fs::write(
        &huge,
        r#"[{"id": "X", "tokens": 1e30, "hoursLost": 1e17, "rules": ["inst_016"]}]"#,
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../query/tests/data");
    let o = roi(l, &huge, &root.join("cost.json"), &["--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["prevented_high_micros"], i64::MAX);
    let negative = tmp.path().join("neg.json");
    fs::write(
        &negative,
        r#"{"currency": "USD", "micros_per_token": -1, "micros_per_minute": 1}"#,
    )
    .unwrap();
    assert_input_error(
        &roi(l, &huge, &negative, &[]),
        "a price must not be negative",
    );
    let good_inc = tmp.path().join("ok.csv");
    fs::write(
        &good_inc,
        "id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids\n",
    )
    .unwrap();
    assert_input_error(&roi(l, &good_inc, &bad, &[]), "micros_per_token");
}

/// `SELECT * FROM decisions` exported as CSV, JSON and Parquet reads back in DuckDB with every
/// row, every column and every NULL (a list column in CSV is its JSON text; JSON keeps null
/// keys; a table shows NULL, not an empty cell, and the record as its text).
#[test]
fn exports_round_trip_through_duckdb_with_nulls_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let l = ledger.to_str().unwrap();
    let o = run(&[
        "append",
        l,
        "--key",
        key.to_str().unwrap(),
        repo().join("examples/decisions.ndjson").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let all = "SELECT * FROM decisions";
    let mut files = Vec::new();
    for format in ["csv", "json", "parquet"] {
        let out = tmp.path().join(format!("all.{format}"));
        let o = run(&[
            "query",
            l,
            all,
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{format}: {}", text(&o));
        files.push(out);
    }
    // The ledger's own count of NULLs in each column, through the same query engine.
    let o = run(&["query", l, "--format", "json", "SELECT * FROM decisions"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 8);
    let columns: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
    let nulls = |c: &str| rows.iter().filter(|r| r[c].is_null()).count() as u64;
    assert!(
        nulls("model") == 8,
        "a column of NULLs is kept in JSON: {}",
        rows[0]
    );
    let o = std::process::Command::new(govtrail_tests::python())
        .arg(repo().join("tests/duckdb/exports.py"))
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let read: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for format in ["csv", "json", "parquet"] {
        let r = &read[format];
        assert_eq!(r["rows"], 8, "{format}: {r}");
        for c in &columns {
            assert_eq!(
                r["nulls"][c].as_u64(),
                Some(nulls(c)),
                "{format}, column {c}: {r}"
            );
        }
    }
    // A table shows NULL and the record's text.
    let o = run(&["query", l, "SELECT model, record FROM decisions LIMIT 1"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("| NULL ") && table.contains("{\"decision\":"),
        "{table}"
    );
}

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A newcomer's mistakes get one clear sentence and exit 4, never a raw engine error, an empty
/// answer that exits 0, or a message that repeats itself (issue 21).
#[test]
fn newcomer_mistakes_get_clear_errors() {
    let (tmp, ledger) = ledger_with_decisions();
    let l = ledger.to_str().unwrap();
    let fails = |args: &[&str], says: &str| {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", text(&o));
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            !err.contains("Arrow error") && !err.contains("DataFusion"),
            "{args:?}: {err}"
        );
        err
    };
    fails(
        &["report", "overhead", l, "--since", "yesterday"],
        "--since yesterday: not an RFC 3339 time",
    );
    fails(
        &["report", "overhead", l, "--compare", "A", "B"],
        "no decisions with rule_set 'A'",
    );
    let bundle = repo().join("examples/bundles/tractatus");
    fails(
        &[
            "replay",
            l,
            "--bundle",
            bundle.to_str().unwrap(),
            "--no-verify",
            "--session",
            "nope",
        ],
        "no decisions with session_id 'nope'",
    );
    let not_dir = tmp.path().join("in.ndjson").join("x");
    let vkey = tmp.path().join("k.vkey");
    let err = fails(
        &[
            "verify",
            not_dir.to_str().unwrap(),
            "--pubkey",
            vkey.to_str().unwrap(),
        ],
        "Not a directory",
    );
    assert_eq!(err.matches("(os error 20)").count(), 1, "said twice: {err}");
    // A dimension given twice groups once.
    let o = run(&["report", "overhead", l, "--by", "service,service", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["group_by"], serde_json::json!(["service"]));
}

/// An RCA plot of a day-long session reads in hours, with plain numbers on its axis (it read
/// "35000000.0 seconds since the first decision" before).
#[test]
fn an_rca_plot_reads_in_a_unit_that_suits_the_session() {
    let lines: Vec<String> = (0..10u64)
        .map(|i| {
            format!(
                r#"{{"decision_id":"day-{i}","ts_us":{},"decision":"{}","service":"BoundaryEnforcer","session_id":"long","overhead_us":1000}}"#,
                1_760_000_000_000_000u64 + i * 3 * 3_600_000_000,
                if i == 4 { "deny" } else { "allow" },
            )
        })
        .collect();
    let (tmp, ledger) = ledger_of(&lines);
    let l = ledger.to_str().unwrap();
    let svg = tmp.path().join("rca.svg");
    let o = run(&[
        "report",
        "rca",
        l,
        "--session",
        "long",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let svg = fs::read_to_string(&svg).unwrap();
    assert!(
        svg.contains("hours since the first decision"),
        "27 hours read in hours"
    );
    assert!(
        !svg.contains("seconds since") && !svg.contains(".0<"),
        "plain axis numbers"
    );
}

/// `report overhead --compare A B --plot`: the chart draws each group under A and under B,
/// and the text gives each percentile's ratio (issue 21).
#[test]
fn a_comparison_plot_shows_a_against_b() {
    let lines: Vec<String> = (0..60u64)
        .map(|i| {
            format!(
                r#"{{"decision_id":"ab-{i}","ts_us":{},"decision":"allow","service":"S","tool_name":"Bash","rule_set":"{}","overhead_us":{}}}"#,
                1_760_000_000_000_000u64 + i,
                if i % 2 == 0 { "rules-v1" } else { "rules-v2" },
                if i % 2 == 0 { 10_000 + i * 10 } else { 20_000 + i * 10 },
            )
        })
        .collect();
    let (tmp, ledger) = ledger_of(&lines);
    let l = ledger.to_str().unwrap();
    let svg = tmp.path().join("ab.svg");
    let o = run(&[
        "report",
        "overhead",
        l,
        "--compare",
        "rules-v1",
        "rules-v2",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("p50 b/a") && out.contains("p95 b/a"), "{out}");
    let svg = fs::read_to_string(&svg).unwrap();
    assert!(
        svg.contains("A rules-v1") && svg.contains("B rules-v2") && svg.contains("against A"),
        "the chart shows A against B"
    );
}

/// A ledger holding `lines` (native decisions), appended: (tmp, ledger).
fn ledger_of(lines: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let input = tmp.path().join("in.ndjson");
    fs::write(&input, lines.join("\n") + "\n").unwrap();
    let o = run(&[
        "append",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    (tmp, ledger)
}
