//! Goldens: every `query/tests/cases/NAME.sql` runs on the golden ledger and its table is
//! compared with `NAME.out`; the three reports are compared with `query/tests/golden/*`.
//! `UPDATE_EXPECT=1` rewrites the expected files.

use crate::Block as _;
use std::path::Path;

use govtrail_query::Trail;
use govtrail_query::report::{Window, overhead, rca, roi};

use crate::data::{INCIDENT_SESSION, RULE_SET_A, RULE_SET_B, golden_ledger, repo_root};

/// Compares `actual` with the file at `path` (or writes it under `UPDATE_EXPECT=1`).
pub(crate) fn expect_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the result at line {} (UPDATE_EXPECT=1 rewrites it)\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>")
        );
    }
}

fn dir(sub: &str) -> std::path::PathBuf {
    repo_root().join("query/tests").join(sub)
}

/// One partition: the approximate percentiles in the goldens are then the same on every run.
pub(crate) fn trail() -> Trail {
    Trail::open_with(golden_ledger(), Some(1)).block().unwrap()
}

#[test]
fn sql_cases() {
    let trail = trail();
    let mut cases: Vec<_> = std::fs::read_dir(dir("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "{} cases", cases.len());
    for case in cases {
        let sql = std::fs::read_to_string(&case).unwrap();
        let batches = trail
            .sql(&sql)
            .block()
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let text = govtrail_query::output::to_text(&batches).unwrap() + "\n";
        expect_file(&case.with_extension("out"), &text);
    }
}

#[test]
fn overhead_report() {
    let trail = trail();
    let r = overhead::report(
        &trail,
        &overhead::Options {
            group_by: vec![overhead::Dim::Service, overhead::Dim::Decision],
            window: Window::default(),
            compare: None,
            exact: false,
            sources: true,
        },
    )
    .block()
    .unwrap();
    expect_file(&dir("golden/overhead.txt"), &r.to_text());
    let json = serde_json::to_string_pretty(&r).unwrap() + "\n";
    expect_file(&dir("golden/overhead.json"), &json);
    // Exact percentiles agree with a sort of the same values.
    let mut values: Vec<f64> = Vec::new();
    for b in trail
        .sql("SELECT CAST(overhead_us AS DOUBLE) AS v FROM decisions WHERE overhead_us IS NOT NULL")
        .block()
        .unwrap()
    {
        use datafusion::arrow::array::AsArray as _;
        let col = b
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        values.extend(col.values().iter().copied());
    }
    values.sort_by(f64::total_cmp);
    let p = |q: f64| {
        let rank = q * (values.len() - 1) as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        values[lo] + (values[hi] - values[lo]) * (rank - lo as f64)
    };
    for (q, got) in [
        (0.5, r.total.p50_us),
        (0.95, r.total.p95_us),
        (0.99, r.total.p99_us),
    ] {
        let got = got.unwrap();
        // DataFusion interpolates with a small rounding of its own (~1e-8 relative).
        assert!((got - p(q)).abs() <= 1e-6 * p(q), "p{q}: {got} vs {}", p(q));
    }
}

#[test]
fn overhead_report_window_and_comparison() {
    let trail = trail();
    let r = overhead::report(
        &trail,
        &overhead::Options {
            group_by: vec![overhead::Dim::Tool],
            window: Window {
                since: Some("2025-10-07T00:00:00Z".into()),
                until: Some("2025-10-28T00:00:00Z".into()),
            },
            compare: Some((RULE_SET_A.into(), RULE_SET_B.into())),
            exact: false,
            sources: false,
        },
    )
    .block()
    .unwrap();
    expect_file(&dir("golden/overhead-window.txt"), &r.to_text());
}

/// By one dimension the report comes from the segment summaries: counts, means, minima and
/// maxima equal the scan's exactly, and every percentile is within 0.8% of the exact one.
#[test]
fn overhead_report_from_summaries_matches_the_scan() {
    let trail = trail();
    assert!(
        trail
            .snapshot()
            .segments
            .iter()
            .all(|s| s.summary.is_some()),
        "every sealed segment has a summary"
    );
    assert!(
        trail.snapshot().tail.is_some(),
        "the tail is summarised on the fly"
    );
    for dim in [
        overhead::Dim::Service,
        overhead::Dim::Model,
        overhead::Dim::Tool,
    ] {
        let opts = |exact| overhead::Options {
            group_by: vec![dim],
            exact,
            ..overhead::Options::default()
        };
        let fast = overhead::report(&trail, &opts(false)).block().unwrap();
        let scan = overhead::report(&trail, &opts(true)).block().unwrap();
        assert_eq!(fast.method, overhead::Method::Summaries);
        assert_eq!(scan.method, overhead::Method::Scan);
        let all_f = std::iter::once(&fast.total).chain(&fast.groups);
        let all_s = std::iter::once(&scan.total).chain(&scan.groups);
        assert_eq!(fast.groups.len(), scan.groups.len());
        for (f, s) in all_f.zip(all_s) {
            assert_eq!(f.group, s.group);
            assert_eq!(
                (f.decisions, f.measured, f.min_us, f.max_us),
                (s.decisions, s.measured, s.min_us, s.max_us),
                "{:?}",
                f.group
            );
            if let (Some(a), Some(b)) = (f.mean_us, s.mean_us) {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{:?} mean {a} vs {b}",
                    f.group
                );
            }
            for (a, b) in [
                (f.p5_approx_us, s.p5_us),
                (f.p25_approx_us, s.p25_us),
                (f.p50_approx_us, s.p50_us),
                (f.p75_approx_us, s.p75_us),
                (f.p95_approx_us, s.p95_us),
                (f.p99_approx_us, s.p99_us),
            ] {
                assert_eq!(a.is_some(), b.is_some());
                if let (Some(a), Some(b)) = (a, b) {
                    assert!(
                        (a - b).abs() <= 0.008 * b.abs() + 1e-9,
                        "{:?}: {a} vs exact {b}",
                        f.group
                    );
                }
            }
        }
    }
    let r = overhead::report(
        &trail,
        &overhead::Options {
            group_by: vec![overhead::Dim::Service],
            ..overhead::Options::default()
        },
    )
    .block()
    .unwrap();
    expect_file(&dir("golden/overhead-summaries.txt"), &r.to_text());
}

pub(crate) fn incidents() -> Vec<roi::Incident> {
    roi::read_incidents(&dir("data/incidents.json")).unwrap()
}

#[test]
fn roi_report() {
    let trail = trail();
    let cost = roi::CostModel::from_file(&dir("data/cost.json")).unwrap();
    let r = roi::report(
        &trail,
        &roi::Options {
            window: Window::default(),
            incidents: incidents(),
            cost,
        },
    )
    .block()
    .unwrap();
    expect_file(&dir("golden/roi.txt"), &r.to_text());
    // The same incidents as CSV give the same report.
    let csv = roi::read_incidents(&dir("data/incidents.csv")).unwrap();
    assert_eq!(csv, incidents());
}

#[test]
fn rca_report() {
    let trail = trail();
    for (baseline, name) in [
        (rca::Baseline::Session, "rca.txt"),
        (rca::Baseline::Ledger, "rca-ledger-baseline.txt"),
    ] {
        let r = rca::report(
            &trail,
            &rca::Options {
                session_id: INCIDENT_SESSION.into(),
                baseline,
                incident: Some("INC-001".into()),
            },
        )
        .block()
        .unwrap();
        expect_file(&dir(&format!("golden/{name}")), &r.to_text());
        if baseline == rca::Baseline::Session {
            let json = serde_json::to_string_pretty(&r).unwrap() + "\n";
            expect_file(&dir("golden/rca.json"), &json);
            // Within the session, the services that only ever blocked rank first; the first
            // deny is BoundaryEnforcer's block on inst_049; pressure rose.
            assert_eq!(r.attribution[0].baseline, 0, "{:?}", r.attribution[0]);
            let deny = &r.timeline[r.first_deny.unwrap()];
            assert_eq!(deny.service.as_deref(), Some("BoundaryEnforcer"));
            assert_eq!(deny.rule_ids, ["inst_049"]);
            assert_eq!(r.pressure.as_ref().unwrap().trend, "rising");
        } else {
            // Against the whole ledger, the incident's rule is over-represented.
            assert!(
                r.attribution
                    .iter()
                    .any(|a| a.attribute == "rule_id" && a.value == "inst_049"),
                "{:?}",
                r.attribution
            );
        }
    }
}

#[test]
fn incidents_table_in_sql() {
    let trail = trail();
    trail.register_incidents(&incidents()).unwrap();
    let b = trail
        .sql(
            "SELECT i.id, count(DISTINCT h.idx) AS blocks FROM incidents i \
             JOIN rule_hits h ON array_has(i.rule_ids, h.rule_id) \
             WHERE h.decision IN ('deny', 'ask', 'escalate') GROUP BY i.id ORDER BY i.id",
        )
        .block()
        .unwrap();
    let text = govtrail_query::output::to_text(&b).unwrap() + "\n";
    expect_file(&dir("golden/incidents-join.txt"), &text);
}

/// Progress counts the rows the scans read: it only grows, and a query that reads every row
/// (no filter the Parquet reader applies) ends at the snapshot's record count.
#[test]
fn progress_reports_rows_read() {
    use std::sync::{Arc, Mutex};
    let mut trail = trail();
    let total = trail.snapshot().records;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    trail.set_progress(
        std::time::Duration::from_millis(1),
        Arc::new(move |rows| log.lock().unwrap().push(rows)),
    );
    let batches = trail
        .sql("SELECT service, sum(length(record)) FROM ledger_rows GROUP BY service")
        .block()
        .unwrap();
    assert!(!batches.is_empty());
    let seen = seen.lock().unwrap().clone();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last().copied(), Some(total), "{seen:?}");
    assert!(total > 0);
}
