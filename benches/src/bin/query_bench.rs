//! Query benchmark: a seeded ledger of N realistic decisions (default 10,000,000), then the
//! overhead report, exact percentiles, a deny-rate GROUP BY and a session lookup (the RCA's
//! timeline scan) through govtrail's DataFusion session, each against DuckDB running the same
//! statistics on the same Parquet files in the same run (`benches/query_duckdb.py`).
//!
//! Usage: `query_bench DIR [RECORDS] [RUNS]`. DIR is reused when it already holds a ledger of
//! RECORDS records. Prints and writes `benches/query.json`: the median of RUNS timed runs after
//! one warm-up, per query and engine.

use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use govtrail_benches::{Rng, signer};
use ledger::{Ledger, Record};
use query::Trail;
use query::report::{Window, overhead, rca};

/// (service, weight, median overhead µs).
const SERVICES: [(&str, u32, f64); 7] = [
    ("BoundaryEnforcer", 30, 40_000.0),
    ("ContextPressureMonitor", 30, 15_000.0),
    ("BashCommandValidator", 20, 110_000.0),
    ("CrossReferenceValidator", 8, 21_000.0),
    ("MetacognitiveVerifier", 5, 30_000.0),
    ("govtrail.decide", 5, 2_000.0),
    ("opa", 2, 300.0),
];
const MODELS: [(&str, u32); 5] = [
    ("claude-sonnet-4", 50),
    ("claude-opus-4", 20),
    ("claude-haiku-4", 15),
    ("gpt-5", 10),
    ("gpt-5-mini", 5),
];
const TOOLS: [(&str, u32); 10] = [
    ("Bash", 30),
    ("Edit", 20),
    ("Read", 15),
    ("Write", 10),
    ("Grep", 8),
    ("Glob", 6),
    ("WebFetch", 4),
    ("Task", 3),
    ("NotebookEdit", 2),
    ("TodoWrite", 2),
];
const PLATFORMS: [(&str, u32); 3] = [
    ("claude-code", 80),
    ("openai-agents", 10),
    ("langchain", 10),
];

/// Decision `i` as native NDJSON: sessions of 500 decisions, 50 interleaved at a time.
fn decision(i: u64, rng: &mut Rng) -> String {
    let block = i / 25_000;
    let session = block * 50 + (i / 25) % 50;
    let (service, _, median) = SERVICES[{
        let w: Vec<(usize, u32)> = SERVICES.iter().enumerate().map(|(k, s)| (k, s.1)).collect();
        *rng.pick(&w)
    }];
    let tool = *rng.pick(&TOOLS);
    let deny_p = if tool == "Bash" { 0.15 } else { 0.05 };
    let u = rng.unit();
    let decision = if u < deny_p {
        "deny"
    } else if u < deny_p + 0.04 {
        "ask"
    } else if u < deny_p + 0.07 {
        "warn"
    } else if u < deny_p + 0.08 {
        "error"
    } else {
        "allow"
    };
    let overhead = if rng.next_u64().is_multiple_of(10) {
        String::new()
    } else {
        let source = if service == "BashCommandValidator" {
            "govtrail.hook.wall"
        } else {
            "tractatus.durationMs"
        };
        format!(
            r#","overhead_us":{},"overhead_source":"{source}""#,
            (median * (0.5 * rng.normal()).exp()).round() as i64
        )
    };
    let n_rules = 1 + rng.next_u64() % 3;
    let rules: Vec<String> = (0..n_rules)
        .map(|_| format!("\"inst_{:03}\"", 1 + rng.next_u64() % 95))
        .collect();
    let reason = if decision == "allow" {
        String::new()
    } else {
        format!(r#","reason":"{service} {decision}: rule check failed""#)
    };
    format!(
        r#"{{"decision_id":"q-{i:010}","ts_us":{},"decision":"{decision}","engine":"tractatus","platform":"{}","service":"{service}","session_id":"sess-{session:07}","tool_name":"{tool}","tool_input":{{"command":"run step {}"}},"rule_ids":[{}],"rule_set":"instructions-v4.{}","model":"{}"{overhead}{reason}}}"#,
        1_760_000_000_000_000i64 + i as i64 * 50_000,
        rng.pick(&PLATFORMS),
        i % 1000,
        rules.join(","),
        i * 4 / 10_000_000,
        rng.pick(&MODELS),
    )
}

fn build(dir: &Path, n: u64) -> anyhow::Result<()> {
    let mut rng = Rng(0x005e_ed0f_9a7e_1234);
    let mut ledger = Ledger::create(dir, signer(), 1 << 20)?;
    let t0 = Instant::now();
    let chunk = 65_536u64;
    let mut i = 0;
    while i < n {
        let end = (i + chunk).min(n);
        let records: Vec<Record> = (i..end)
            .map(|k| Record::from_json(decision(k, &mut rng).as_bytes(), &k))
            .collect::<Result<_, _>>()?;
        ledger.append_batch(&records)?;
        i = end;
    }
    ledger.seal()?;
    eprintln!("built {n} records in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    f()?;
    let mut v = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64());
    }
    Ok(median(v))
}

/// The ad-hoc queries, as govtrail users write them over the `decisions` view.
const QUERIES: [(&str, &str); 6] = [
    (
        "approx_p50_p95_p99_by_service",
        "SELECT service, count(*) AS n, approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY overhead_us) AS p50, approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY overhead_us) AS p95, approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY overhead_us) AS p99 FROM decisions GROUP BY service",
    ),
    (
        "approx_p50_p95_p99_by_model",
        "SELECT model, count(*) AS n, approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY overhead_us) AS p50, approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY overhead_us) AS p95, approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY overhead_us) AS p99 FROM decisions GROUP BY model",
    ),
    (
        "exact_p50_p95_p99_by_service",
        "SELECT service, percentile_cont(0.5) WITHIN GROUP (ORDER BY overhead_us) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY overhead_us) AS p95, percentile_cont(0.99) WITHIN GROUP (ORDER BY overhead_us) AS p99 FROM decisions GROUP BY service",
    ),
    (
        "deny_rate_by_tool_and_model",
        "SELECT tool_name, model, count(*) AS n, avg(CASE WHEN decision = 'deny' THEN 1.0 ELSE 0.0 END) AS deny_rate FROM decisions GROUP BY tool_name, model",
    ),
    (
        "group_by_untyped_field_from_json",
        "SELECT overhead_source, count(*) AS n FROM decisions GROUP BY overhead_source",
    ),
    (
        "session_lookup",
        "SELECT idx, ts, service, tool_name, decision, rule_ids, overhead_us, record FROM decisions WHERE session_id = '{SESSION}' ORDER BY ts, idx",
    ),
];

/// The median time of `sql` over `runs` runs after a warm-up, and its row count.
fn time_sql(trail: &Trail, sql: &str, runs: usize) -> anyhow::Result<(f64, usize)> {
    let rows = trail
        .sql(sql)
        .block()?
        .iter()
        .map(|b| b.num_rows())
        .sum::<usize>();
    let secs = time(runs, || {
        trail.sql(sql).block()?;
        Ok(())
    })?;
    Ok((secs, rows))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/query-bench".into()));
    let n: u64 = args.next().map_or(Ok(10_000_000), |s| s.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let have = ledger::inspect(&dir).map(|i| i.records()).unwrap_or(0);
    if have != n {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        build(&dir, n)?;
    }
    let trail = Trail::open(&dir).block()?;
    // Session settings to try, e.g. GOVTRAIL_BENCH_SET="datafusion.execution.batch_size=32768".
    if let Ok(settings) = std::env::var("GOVTRAIL_BENCH_SET") {
        for kv in settings.split(';').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let set = async {
                trail
                    .context()
                    .sql(&format!("SET {k} = {v}"))
                    .await?
                    .collect()
                    .await
            };
            set.block()?;
            eprintln!("set {k} = {v}");
        }
    }
    // A session in the middle of the ledger.
    let session = format!("sess-{:07}", (n / 2 / 25_000) * 50 + 7);
    // Experiments: GOVTRAIL_BENCH_SQL="SQL;SQL" times only those statements, without DuckDB.
    if let Ok(sqls) = std::env::var("GOVTRAIL_BENCH_SQL") {
        for sql in sqls.split(';').filter(|s| !s.trim().is_empty()) {
            let (secs, rows) = time_sql(&trail, &sql.replace("{SESSION}", &session), runs)?;
            eprintln!("{secs:.3} s ({rows} rows): {sql}");
        }
        return Ok(());
    }
    // Passes alternate the engines (govtrail, DuckDB, govtrail, ...): on a noisy machine the
    // speed drifts over minutes, so each ratio is taken within a pass and the median kept.
    let passes: usize = std::env::var("GOVTRAIL_BENCH_PASSES").map_or(Ok(3), |s| s.parse())?;
    let mut per_pass: Vec<(Figures, Figures)> = Vec::new();
    let mut version = None;
    for pass in 0..passes.max(1) {
        let g = govtrail_pass(&trail, &session, runs)?;
        let d = duckdb_pass(&dir, runs, &session)?;
        eprintln!("pass {pass} done");
        version = d.get("version").cloned();
        per_pass.push((g, d));
    }
    let mut results = serde_json::Map::new();
    for (name, first) in &per_pass[0].0 {
        let mut v = serde_json::json!({});
        let col = |f: &dyn Fn(&(Figures, Figures)) -> Option<f64>| {
            let xs: Vec<f64> = per_pass.iter().filter_map(f).collect();
            (xs.len() == per_pass.len()).then(|| median(xs))
        };
        let g = col(&|(g, _)| g.get(name).and_then(|x| x["govtrail_s"].as_f64()));
        v["govtrail_s"] = g.into();
        if let Some(rows) = first.get("rows") {
            v["rows"] = rows.clone();
        }
        if let Some(d) = col(&|(_, d)| d.get(name).and_then(serde_json::Value::as_f64)) {
            v["duckdb_s"] = d.into();
            v["ratio"] =
                col(&|(g, d)| Some(g.get(name)?["govtrail_s"].as_f64()? / d.get(name)?.as_f64()?))
                    .into();
            eprintln!(
                "{name}: govtrail {:.3} s, duckdb {d:.3} s, ratio {:.2}",
                g.unwrap_or(f64::NAN),
                v["ratio"].as_f64().unwrap_or(f64::NAN)
            );
        }
        results.insert(name.clone(), v);
    }
    let report = serde_json::json!({
        "records": n,
        "runs": runs,
        "passes": per_pass.len(),
        "segments": trail.snapshot().segments.len(),
        "duckdb_version": version,
        "queries": results,
    });
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::write("benches/query.json", &text)?;
    println!("{text}");
    Ok(())
}

/// Per query or report name, what a pass measured.
type Figures = serde_json::Map<String, serde_json::Value>;

/// One pass of govtrail's queries and reports: per name, `{"govtrail_s", "rows"?}`.
fn govtrail_pass(trail: &Trail, session: &str, runs: usize) -> anyhow::Result<Figures> {
    let mut results = serde_json::Map::new();
    for (name, sql) in QUERIES {
        let (secs, rows) = time_sql(trail, &sql.replace("{SESSION}", session), runs)?;
        eprintln!("govtrail {name}: {secs:.3} s ({rows} rows)");
        results.insert(
            name.into(),
            serde_json::json!({"govtrail_s": secs, "rows": rows}),
        );
    }
    // The reports themselves.
    let opts = |dims: Vec<overhead::Dim>| overhead::Options {
        group_by: dims,
        window: Window::default(),
        compare: None,
        exact: false,
        sources: false,
    };
    for (name, dim) in [
        ("report_overhead_by_service", overhead::Dim::Service),
        ("report_overhead_by_model", overhead::Dim::Model),
    ] {
        let secs = time(runs, || {
            overhead::report(trail, &opts(vec![dim])).block()?;
            Ok(())
        })?;
        eprintln!("govtrail {name}: {secs:.3} s");
        results.insert(name.into(), serde_json::json!({"govtrail_s": secs}));
    }
    let secs = time(runs, || {
        rca::report(
            trail,
            &rca::Options {
                session_id: session.to_owned(),
                ..rca::Options::default()
            },
        )
        .block()?;
        Ok(())
    })?;
    eprintln!("govtrail report_rca_one_session: {secs:.3} s");
    results.insert(
        "report_rca_one_session".into(),
        serde_json::json!({"govtrail_s": secs}),
    );
    Ok(results)
}

/// One pass of the same statistics in DuckDB (`benches/query_duckdb.py`): per name, seconds,
/// and `version`.
fn duckdb_pass(dir: &Path, runs: usize, session: &str) -> anyhow::Result<Figures> {
    let py = std::env::var("GOVTRAIL_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into());
    let out = Command::new(py)
        .args([
            "benches/query_duckdb.py",
            &dir.display().to_string(),
            &runs.to_string(),
            session,
        ])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Runs the query crate's async API to completion on this binary's runtime (the crate builds
/// none), as the CLI does.
trait Block: Future + Sized {
    fn block(self) -> Self::Output {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap_or_else(|e| panic!("runtime: {e}"))
            })
            .block_on(self)
    }
}

impl<F: Future> Block for F {}
