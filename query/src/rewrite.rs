//! What govtrail's optimizer rules share. Those that replace an aggregation
//! ([`crate::percentile::SharePercentiles`], [`crate::groupkey::InternGroupKeys`]) plan it
//! differently and put a projection on top that must give the same columns as the original;
//! those that rewrite expressions ([`crate::indicator::IndicatorCase`],
//! [`crate::viewcmp::ShortStringEquality`]) keep each expression's name.

use datafusion::common::DFSchema;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode as _};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, Projection};

/// `rewrite` applied to an aggregation (other plans are kept); its projection replaces the
/// aggregation only if it gives the same columns.
pub(crate) fn aggregate(
    plan: LogicalPlan,
    rewrite: impl FnOnce(&Aggregate) -> Result<Option<Projection>>,
) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Aggregate(agg) = &plan else {
        return Ok(Transformed::no(plan));
    };
    match rewrite(agg)? {
        Some(p) if same_columns(&p.schema, &agg.schema) => {
            Ok(Transformed::yes(LogicalPlan::Projection(p)))
        }
        _ => Ok(Transformed::no(plan)),
    }
}

/// `rewrite` applied to every subexpression of the plan node's expressions, bottom up, keeping
/// each expression's output name (an aggregate's output is named after its argument), as
/// DataFusion's own expression simplifier does.
pub(crate) fn expressions(
    plan: LogicalPlan,
    mut rewrite: impl FnMut(Expr) -> Transformed<Expr>,
) -> Result<Transformed<LogicalPlan>> {
    let names = NamePreserver::new(&plan);
    plan.map_expressions(|e| {
        let name = names.save(&e);
        let out = e.transform_up(|e| Ok(rewrite(e)))?;
        Ok(Transformed::new_transformed(
            name.restore(out.data),
            out.transformed,
        ))
    })
}

/// Same names, qualifiers, types and nullability, in the same order.
fn same_columns(new: &DFSchema, old: &DFSchema) -> bool {
    new.fields().len() == old.fields().len()
        && new
            .iter()
            .zip(old.iter())
            .all(|((q_new, f_new), (q_old, f_old))| {
                q_new == q_old
                    && f_new.name() == f_old.name()
                    && f_new.data_type() == f_old.data_type()
                    && f_new.is_nullable() == f_old.is_nullable()
            })
}

/// What the rules' tests share: the same query with and without a rule.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::optimizer::OptimizerRule;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// Two sessions over table `t` (`batch`, on two partitions): with `rule`, and without.
    pub(crate) fn contexts(
        batch: RecordBatch,
        rule: Arc<dyn OptimizerRule + Send + Sync>,
    ) -> (SessionContext, SessionContext) {
        let context = |rule: Option<Arc<dyn OptimizerRule + Send + Sync>>| {
            let ctx =
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
            let table = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]]).unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            if let Some(rule) = rule {
                ctx.add_optimizer_rule(rule);
            }
            ctx
        };
        (context(Some(rule)), context(None))
    }

    /// The result's columns (names, types, nullability) and rows, as text.
    pub(crate) async fn run(ctx: &SessionContext, sql: &str) -> String {
        let df = ctx.sql(sql).await.unwrap();
        let schema = format!("{:?}", df.schema().fields());
        let batches = df.collect().await.unwrap();
        format!("{schema}\n{}", pretty_format_batches(&batches).unwrap())
    }

    /// `sql`'s plan in `with` names `marker` exactly when `rewritten`, and `with` and `without`
    /// give the same columns and rows.
    pub(crate) async fn check(
        with: &SessionContext,
        without: &SessionContext,
        sql: &str,
        marker: &str,
        rewritten: bool,
    ) {
        let plan = run(with, &format!("EXPLAIN {sql}")).await;
        assert_eq!(plan.contains(marker), rewritten, "{sql}\n{plan}");
        assert_eq!(run(with, sql).await, run(without, sql).await, "{sql}");
    }
}
