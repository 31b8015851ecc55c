//! The counting `percentile_cont` and the `SharePercentiles` rule against DataFusion's built-ins.

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::*;

/// Rows `(g, i, x, f)`: `x` integers with few distinct values (counting mode) and some NULLs,
/// `f` floats that are almost all distinct (the switch to a list), including -0.0 and 0.0.
fn batches(parts: usize, rows: usize) -> (Arc<Schema>, Vec<Vec<RecordBatch>>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new("i", DataType::Int64, false),
        Field::new("x", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
    ]));
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for p in 0..parts {
        let (mut g, mut i, mut x, mut f) = (vec![], vec![], vec![], vec![]);
        for r in 0..rows {
            let n = next();
            g.push((n % 5) as i64);
            i.push((p * rows + r) as i64);
            x.push((n % 11 != 0).then_some(((n >> 8) % 300) as i64 * 7));
            f.push(match n % 97 {
                0 => None,
                1 => Some(-0.0),
                2 => Some(0.0),
                _ => Some((n >> 11) as f64 / (1u64 << 40) as f64 - 1000.0),
            });
        }
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(g)),
                Arc::new(Int64Array::from(i)),
                Arc::new(Int64Array::from(x)),
                Arc::new(Float64Array::from(f)),
            ],
        )
        .unwrap();
        out.push(vec![batch]);
    }
    (schema, out)
}

async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// Every shape of call gives exactly the built-in's answer (bit for bit, as printed with
/// round-trip precision), over several partitions so partial states are merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_results_as_the_builtin() {
    let config = SessionConfig::new()
        .with_target_partitions(4)
        .with_batch_size(1000);
    let ctx = SessionContext::new_with_config(config);
    let (schema, parts) = batches(4, 6000);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
        .unwrap();
    ctx.register_udaf(
        AggregateUDF::new_from_impl(PercentileCont::new()).with_aliases(["builtin_pc"]),
    );
    ctx.register_udaf(udaf());
    ctx.add_optimizer_rule(Arc::new(SharePercentiles));
    let mut checked = 0;
    for col in ["x", "f"] {
        for p in [
            "0.0", "0.1", "0.25", "0.5", "0.9", "0.95", "0.99", "0.999", "1.0",
        ] {
            for dir in ["", " DESC"] {
                let within = format!("({p}) WITHIN GROUP (ORDER BY {col}{dir})");
                for template in [
                    "SELECT g, {f}{w} AS v FROM t GROUP BY g ORDER BY g",
                    "SELECT {f}{w} AS v FROM t",
                    "SELECT g, {f}{w} FILTER (WHERE i % 3 = 0) AS v FROM t GROUP BY g ORDER BY g",
                    "SELECT g, {f}{w} AS v FROM t WHERE i < 3 GROUP BY g ORDER BY g",
                    "SELECT {f}{w} AS v FROM t WHERE i < 0",
                ] {
                    let sql = |f: &str| template.replace("{f}", f).replace("{w}", &within);
                    let ours = run(&ctx, &sql("percentile_cont")).await;
                    let theirs = run(&ctx, &sql("builtin_pc")).await;
                    assert_eq!(ours, theirs, "{}", sql("percentile_cont"));
                    checked += 1;
                }
            }
        }
    }
    // Windows retract values as the frame slides.
    let window = "(x, 0.5) OVER (PARTITION BY g ORDER BY i ROWS BETWEEN 7 PRECEDING AND CURRENT ROW) AS v FROM t ORDER BY i LIMIT 500";
    assert_eq!(
        run(&ctx, &format!("SELECT i, percentile_cont{window}")).await,
        run(&ctx, &format!("SELECT i, builtin_pc{window}")).await,
    );
    assert_eq!(checked, 180);

    // Several percentiles of one input share an accumulator; the answers do not change.
    let shared = [
        "SELECT g, {f}(0.5) WITHIN GROUP (ORDER BY x) AS p50, {f}(0.95) WITHIN GROUP (ORDER BY x) AS p95, {f}(0.99) WITHIN GROUP (ORDER BY x) AS p99, count(*) AS n FROM t GROUP BY g ORDER BY g",
        "SELECT {f}(0.5) WITHIN GROUP (ORDER BY f) AS a, {f}(0.5) WITHIN GROUP (ORDER BY f DESC) AS b, {f}(0.0) WITHIN GROUP (ORDER BY f) AS c, {f}(1.0) WITHIN GROUP (ORDER BY f) AS d, {f}(0.25) WITHIN GROUP (ORDER BY x) AS e FROM t",
        "SELECT g, {f}(0.9) WITHIN GROUP (ORDER BY f) AS a, {f}(0.9) WITHIN GROUP (ORDER BY f) FILTER (WHERE i % 2 = 0) AS b, {f}(0.1) WITHIN GROUP (ORDER BY f) AS c, {f}(0.3) WITHIN GROUP (ORDER BY x) AS d, {f}(0.7) WITHIN GROUP (ORDER BY x) AS e FROM t GROUP BY g ORDER BY g",
        "SELECT g, {f}(0.5) WITHIN GROUP (ORDER BY x) AS a, {f}(0.99) WITHIN GROUP (ORDER BY x) AS b FROM t WHERE i < 0 GROUP BY g",
        "SELECT p50 + p99 AS s FROM (SELECT g, {f}(0.5) WITHIN GROUP (ORDER BY x) AS p50, {f}(0.99) WITHIN GROUP (ORDER BY x) AS p99 FROM t GROUP BY g) ORDER BY s",
        "SELECT g, {f}(0.5) WITHIN GROUP (ORDER BY x) AS a, {f}(0.9) WITHIN GROUP (ORDER BY x) AS b FROM t GROUP BY ROLLUP (g) ORDER BY g NULLS FIRST",
        "SELECT g, {f}(0.5) WITHIN GROUP (ORDER BY x) AS a FROM t GROUP BY g HAVING {f}(0.9) WITHIN GROUP (ORDER BY x) > 1000 ORDER BY g",
    ];
    for template in shared {
        let ours = template.replace("{f}", "percentile_cont");
        let theirs = template.replace("{f}", "builtin_pc");
        let plan = run(&ctx, &format!("EXPLAIN {ours}")).await;
        assert!(plan.contains("govtrail_shared_percentile_cont"), "{plan}");
        assert_eq!(run(&ctx, &ours).await, run(&ctx, &theirs).await, "{ours}");
    }
    // Approximate percentiles share one t-digest, and each answer is the built-in's: compared
    // on one partition, where the digests merge in a fixed order.
    let single = |share: bool| {
        let ctx = SessionContext::new_with_config(
            SessionConfig::new()
                .with_target_partitions(1)
                .with_batch_size(1000),
        );
        let (schema, parts) = batches(4, 6000);
        let one = vec![parts.into_iter().flatten().collect::<Vec<_>>()];
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, one).unwrap()))
            .unwrap();
        if share {
            ctx.add_optimizer_rule(Arc::new(SharePercentiles));
        }
        ctx
    };
    let (with, without) = (single(true), single(false));
    for sql in [
        "SELECT g, approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS a, approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY x) AS b, approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY x DESC) AS c, approx_percentile_cont(f, 0.3) AS d FROM t GROUP BY g ORDER BY g",
        "SELECT approx_percentile_cont(f, 0.1) AS a, approx_percentile_cont(f, 0.9) AS b, approx_percentile_cont(f, 0.9, 50) AS c FROM t",
        "SELECT g, approx_percentile_cont(f, 0.1) AS a, approx_percentile_cont(f, 0.9) AS b FROM t WHERE i < 0 GROUP BY g",
        "SELECT approx_percentile_cont(f, 0.1) AS a, approx_percentile_cont(f, 0.9) AS b FROM t WHERE i < 0",
    ] {
        let plan = run(&with, &format!("EXPLAIN {sql}")).await;
        assert!(
            plan.contains("govtrail_shared_approx_percentile_cont"),
            "{plan}"
        );
        assert_eq!(run(&with, sql).await, run(&without, sql).await, "{sql}");
    }

    // One percentile per input, or DISTINCT: nothing to share.
    for sql in [
        "SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.5) WITHIN GROUP (ORDER BY f) FROM t GROUP BY g",
        "SELECT percentile_cont(DISTINCT x, 0.5), percentile_cont(DISTINCT x, 0.9) FROM t",
    ] {
        let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
        assert!(!plan.contains("govtrail_shared"), "{plan}");
    }
}
