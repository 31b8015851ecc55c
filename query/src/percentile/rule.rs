//! The `SharePercentiles` optimizer rule: percentiles of one input in one aggregation planned
//! as one shared accumulator, with a projection giving each its column back.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result, ScalarValue, TableReference};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable as _, LogicalPlan, Projection};
use datafusion::logical_expr::{AggregateUDF, Signature};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use super::CountingPercentileCont;
use super::shared::SharedPercentiles;

/// An optimizer rule: in an aggregation, exact `percentile_cont`s of the same Float64 input
/// (no DISTINCT, no FILTER) become one [`SharedPercentiles`], and a projection above it gives
/// each its own column back, under its own name. p50, p95 and p99 then keep one copy of the
/// values, not three, and select all three ranks in one pass (`select_many`). Likewise
/// `approx_percentile_cont`s of one input (without a t-digest size) become one
/// `crate::approx::SharedApprox`, one digest. The rewritten plan
/// must give the same columns (names, qualifiers, types, nullability) as the original, or the
/// original is kept.
#[derive(Debug, Default)]
pub(crate) struct SharePercentiles;

impl OptimizerRule for SharePercentiles {
    fn name(&self) -> &str {
        "govtrail_share_percentiles"
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }
    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        crate::rewrite::aggregate(plan, share)
    }
}

/// Which percentile an aggregate computes: the two kinds share separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `percentile_cont`, ours ([`CountingPercentileCont`]).
    Exact,
    /// DataFusion's `approx_percentile_cont` without a t-digest size argument.
    Approx,
}

/// The kind, input and rank of an aggregate expression that is one of the percentiles shared.
fn shareable(e: &Expr, input: &DFSchema) -> Option<((Kind, Expr), f64)> {
    use datafusion::functions_aggregate::approx_percentile_cont::ApproxPercentileCont;
    let e = match e {
        Expr::Alias(a) => a.expr.as_ref(),
        e => e,
    };
    let Expr::AggregateFunction(f) = e else {
        return None;
    };
    let inner = f.func.inner();
    let kind = if inner.downcast_ref::<CountingPercentileCont>().is_some() {
        Kind::Exact
    } else if inner.downcast_ref::<ApproxPercentileCont>().is_some() {
        Kind::Approx
    } else {
        return None;
    };
    let params = &f.params;
    if params.distinct || params.filter.is_some() || params.null_treatment.is_some() {
        return None;
    }
    let [x, p] = params.args.as_slice() else {
        return None;
    };
    let p = match p {
        Expr::Literal(ScalarValue::Float64(Some(p)), _) => *p,
        _ => return None,
    };
    if !(0.0..=1.0).contains(&p) || x.get_type(input).ok()? != DataType::Float64 {
        return None;
    }
    // WITHIN GROUP (ORDER BY x) gives the input and the direction; after common subexpression
    // elimination the input may be a column computed below while the order still names `x`.
    let descending = match params.order_by.as_slice() {
        [] => false,
        [sort] => !sort.asc,
        _ => return None,
    };
    Some(((kind, x.clone()), if descending { 1.0 - p } else { p }))
}

fn share(agg: &Aggregate) -> Result<Option<Projection>> {
    let input = agg.input.schema();
    let found: Vec<Option<((Kind, Expr), f64)>> =
        agg.aggr_expr.iter().map(|e| shareable(e, input)).collect();
    // (kind, input)s with two or more percentiles, in order of first appearance.
    let mut inputs: Vec<&(Kind, Expr)> = Vec::new();
    for (x, _) in found.iter().flatten() {
        let n = found.iter().flatten().filter(|(y, _)| y == x).count();
        if n >= 2 && !inputs.contains(&x) {
            inputs.push(x);
        }
    }
    if inputs.is_empty() {
        return Ok(None);
    }
    let signature = || Signature::variadic_any(datafusion::logical_expr::Volatility::Immutable);
    let exact = Arc::new(AggregateUDF::new_from_impl(SharedPercentiles {
        signature: signature(),
    }));
    let approx = Arc::new(AggregateUDF::new_from_impl(crate::approx::SharedApprox {
        signature: signature(),
    }));
    let mut aggr_expr = Vec::new();
    // Per original aggregate: which shared accumulator and which of its fields holds its value,
    // or none (kept as it was).
    let mut place: Vec<Option<(usize, usize)>> = Vec::new();
    let mut ranks: Vec<Vec<f64>> = vec![Vec::new(); inputs.len()];
    for (e, f) in agg.aggr_expr.iter().zip(&found) {
        let k = f
            .as_ref()
            .and_then(|(x, r)| Some((inputs.iter().position(|y| *y == x)?, *r)));
        match k {
            Some((k, r)) => {
                place.push(Some((k, ranks[k].len())));
                ranks[k].push(r);
            }
            None => {
                aggr_expr.push(e.clone());
                place.push(None);
            }
        }
    }
    let alias = |k: usize| format!("__govtrail_shared_percentiles_{k}");
    for (k, ((kind, x), ranks)) in inputs.iter().map(|i| (i.0, &i.1)).zip(ranks).enumerate() {
        let udaf = match kind {
            Kind::Exact => &exact,
            Kind::Approx => &approx,
        };
        let mut args = vec![x.clone()];
        args.extend(
            ranks
                .into_iter()
                .map(|r| Expr::Literal(ScalarValue::Float64(Some(r)), None)),
        );
        aggr_expr.push(
            Expr::AggregateFunction(AggregateFunction::new_udf(
                Arc::clone(udaf),
                args,
                false,
                None,
                Vec::new(),
                None,
            ))
            .alias(alias(k)),
        );
    }
    let shared = Aggregate::try_new(Arc::clone(&agg.input), agg.group_expr.clone(), aggr_expr)?;
    let groups = agg.schema.fields().len() - agg.aggr_expr.len();
    let mut exprs = Vec::new();
    for (i, (qualifier, field)) in agg.schema.iter().enumerate() {
        let column =
            |q: Option<&TableReference>, name: &str| Expr::Column(Column::new(q.cloned(), name));
        exprs.push(match i.checked_sub(groups).and_then(|a| place[a]) {
            Some((k, slot)) => datafusion::functions::core::expr_fn::get_field(
                column(None, &alias(k)),
                format!("p{slot}"),
            )
            .alias_qualified(qualifier.cloned(), field.name()),
            None => column(qualifier, field.name()),
        });
    }
    let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(shared)))?;
    Ok(Some(projection))
}
