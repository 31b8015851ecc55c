//! Tractatus's published `metrics-verification.csv`, row by row: each figure that audit records
//! can carry is reproduced by SQL from the golden ledger (whose generated records have the
//! shapes and counts of the real ones, see `data.rs`); each that cannot says why. Every row of
//! the file must be classified here, so a new row fails the test until it is.

use crate::Block as _;
use datafusion::arrow::array::AsArray as _;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::data::repo_root;
use crate::golden::trail;

/// How one published figure is treated.
enum Figure {
    /// This SQL returns one value whose text must equal the figure (after stripping `+` and a
    /// percent sign's formatting as written).
    Sql(&'static str),
    /// Not derivable from decision records, and why.
    NotDerivable(&'static str),
}

/// Audit-log rows only: the generated Tractatus documents, not the hook envelopes or fixtures.
const AUDIT: &str = "decision_id LIKE 'tractatus:6900%'";

fn classify(metric: &str) -> Option<Figure> {
    use Figure::{NotDerivable, Sql};
    let service = |s: &str| -> Figure {
        Sql(Box::leak(
            format!("SELECT count(*) FROM decisions WHERE {AUDIT} AND service = '{s}'")
                .into_boxed_str(),
        ))
    };
    Some(match metric {
        "Total Audit Log Decisions" => Sql(Box::leak(
            format!("SELECT count(*) FROM decisions WHERE {AUDIT}").into_boxed_str(),
        )),
        "BoundaryEnforcer Logs" => service("BoundaryEnforcer"),
        "ContextPressureMonitor Logs" => service("ContextPressureMonitor"),
        "InstructionPersistenceClassifier Logs" => service("InstructionPersistenceClassifier"),
        "CrossReferenceValidator Logs" => service("CrossReferenceValidator"),
        "MetacognitiveVerifier Logs" => service("MetacognitiveVerifier"),
        "PluralisticDeliberationOrchestrator Logs" => {
            service("PluralisticDeliberationOrchestrator")
        }
        "Framework Services Count" => Sql(Box::leak(
            format!("SELECT count(DISTINCT service) FROM decisions WHERE {AUDIT}").into_boxed_str(),
        )),
        "BashCommandValidator Total Validations" => Sql(
            "SELECT count(*) FROM decisions WHERE service = 'BashCommandValidator' \
             AND session_id <> '2025-10-20-007'",
        ),
        "BashCommandValidator Blocks" => Sql(
            "SELECT count(*) FROM decisions WHERE service = 'BashCommandValidator' \
             AND decision = 'deny' AND session_id <> '2025-10-20-007'",
        ),
        "BashCommandValidator Block Rate" => Sql(
            "SELECT concat(CAST(round(100.0 * sum(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) \
             / count(*), 1) AS VARCHAR), '%') FROM decisions \
             WHERE service = 'BashCommandValidator' AND session_id <> '2025-10-20-007'",
        ),
        "CrossReferenceValidator Total Validations" => NotDerivable(
            "an in-process counter of framework-stats.js; only 6 of its validations became \
             audit documents, so records cannot reproduce 1,896",
        ),
        "Enforcement Coverage - Total Instructions"
        | "Enforcement Coverage - Enforced"
        | "Enforcement Coverage - Unenforced" => NotDerivable(
            "computed by audit-enforcement.js from instruction-history.json and the hook \
             scripts' source, not from decisions",
        ),
        m if m.starts_with("Wave ") => {
            NotDerivable("read from git commits (git show), not from decisions")
        }
        "Prohibited Terms Blocks (This Session)" => {
            NotDerivable("a pre-commit hook's output, which writes no audit record")
        }
        "Dev Server Kill Prevented" => NotDerivable("a manual observation"),
        "Defense-in-Depth Layers Complete" => {
            NotDerivable("a script's audit of the repository's configuration")
        }
        "Project Start Date"
        | "Framework Core Development Start"
        | "Wave Deployment Date"
        | "Total Development Timeline" => NotDerivable("git history dates"),
        "Session Handoff Documents Count" => NotDerivable("files in the repository"),
        m if m.starts_with("Token Budget") || m.starts_with("Token Checkpoint") => {
            NotDerivable("configuration in .claude/token-checkpoints.json")
        }
        "Framework Unit Tests Total" => NotDerivable("npm test output"),
        _ => return None,
    })
}

#[test]
fn published_figures_reproduced_or_explained() {
    let csv = std::fs::read_to_string(
        repo_root().join("tests/fixtures/tractatus/metrics-verification.csv"),
    )
    .unwrap();
    let trail = trail();
    let (mut reproduced, mut explained) = (Vec::new(), Vec::new());
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let (metric, value) = (fields[0], fields[1]);
        let figure = classify(metric).unwrap_or_else(|| panic!("unclassified metric {metric:?}"));
        match figure {
            Figure::Sql(sql) => {
                let b = trail.sql(sql).block().unwrap();
                let col = cast(b[0].column(0), &DataType::Utf8).unwrap();
                let got = col.as_string::<i32>().value(0).to_owned();
                let want = value.trim_end_matches('+');
                assert_eq!(got, want, "{metric}: SQL gives {got}, published {value}");
                reproduced.push(metric);
            }
            Figure::NotDerivable(why) => {
                assert!(!why.is_empty());
                explained.push(metric);
            }
        }
    }
    assert_eq!(reproduced.len(), 11, "{reproduced:?}");
    assert_eq!(reproduced.len() + explained.len(), csv.lines().count() - 1);
}
