//! `percentile_cont` with the same results as DataFusion's, but counting values instead of keeping
//! each one.
//!
//! DataFusion's exact `percentile_cont` keeps every input value of every group in a `Vec`, ships
//! all of them between the partial and the final aggregation as a list, and selects the ranks
//! from the whole list; a query with three percentiles keeps three copies. Overheads are integers
//! with few distinct values (tens of thousands in ten million rows), so this version keeps a
//! count per distinct value, ships the sorted `(value, count)` pairs, and finds each rank by a
//! walk over the cumulative counts. A group whose values turn out to be mostly distinct switches
//! to a plain list of values, so the worst case costs what DataFusion's does.
//!
//! Several percentiles of one input in one aggregation (p50, p95 and p99) share one accumulator:
//! the optimizer rule [`SharePercentiles`] plans them as one `govtrail_shared_percentile_cont`
//! whose struct holds each rank, so the values are kept once and the ranks selected in one pass;
//! several `approx_percentile_cont`s of one input share one t-digest the same way
//! (`crate::approx`).
//!
//! The result is bit for bit DataFusion 55's: the same rank arithmetic `p × (n − 1)`, the same
//! quantised interpolation weight (1/1,000,000), the same `total_cmp` order. It replaces the
//! built-in function of the same name on Float64 input (integers are coerced to Float64 by the
//! built-in's signature, which is kept); `DISTINCT` and other float widths go to the built-in.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions_aggregate::percentile_cont::PercentileCont;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, Signature,
};
use datafusion::physical_expr::expressions::Literal;

use accumulator::{Groups, One, Ranks};
use group::Group;
pub(crate) use rule::SharePercentiles;
pub(crate) use shared::{shared_fields, shared_ps};

mod accumulator;
mod group;
mod rule;
mod shared;
#[cfg(test)]
mod tests;

/// The replacement `percentile_cont`, ready to register.
pub(crate) fn udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(CountingPercentileCont {
        inner: PercentileCont::new(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CountingPercentileCont {
    inner: PercentileCont,
}

/// Whether this implementation handles an input (else the built-in does, state and all).
fn counts(input: &DataType, distinct: bool) -> bool {
    !distinct && *input == DataType::Float64
}

/// The rank to select, as DataFusion reads it: `p`, or `1 - p` for `ORDER BY … DESC`. The
/// built-in validates the argument first, so errors read as DataFusion's.
fn percentile(inner: &PercentileCont, args: &AccumulatorArgs) -> Result<f64> {
    inner.accumulator(args.clone())?;
    let literal = args.exprs.get(1).and_then(|e| e.downcast_ref::<Literal>());
    let p = match literal.map(Literal::value) {
        Some(ScalarValue::Float64(Some(p))) => *p,
        Some(ScalarValue::Float32(Some(p))) => f64::from(*p),
        _ => return plan_err!("Percentile value for 'percentile_cont' must be a literal"),
    };
    let descending = args.order_bys.first().is_some_and(|s| s.options.descending);
    Ok(if descending { 1.0 - p } else { p })
}

impl AggregateUDFImpl for CountingPercentileCont {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn supports_within_group_clause(&self) -> bool {
        self.inner.supports_within_group_clause()
    }
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        self.inner.simplify()
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if !counts(args.input_fields[0].data_type(), args.is_distinct) {
            return self.inner.state_fields(args);
        }
        let list = |name: &str, dt: DataType| -> FieldRef {
            Field::new(
                format_state_name(args.name, name),
                DataType::List(Arc::new(Field::new_list_field(dt, true))),
                true,
            )
            .into()
        };
        Ok(vec![
            list("percentile_cont_values", DataType::Float64),
            list("percentile_cont_counts", DataType::UInt64),
        ])
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if !counts(args.expr_fields[0].data_type(), args.is_distinct) {
            return self.inner.accumulator(args);
        }
        Ok(Box::new(One {
            group: Group::default(),
            ranks: Ranks::One(percentile(&self.inner, &args)?),
        }))
    }
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }
    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if !counts(args.expr_fields[0].data_type(), args.is_distinct) {
            return self.inner.create_groups_accumulator(args);
        }
        Ok(Box::new(Groups {
            groups: Vec::new(),
            ranks: Ranks::One(percentile(&self.inner, &args)?),
        }))
    }
    fn reverse_expr(&self) -> datafusion::logical_expr::ReversedUDAF {
        self.inner.reverse_expr()
    }
    fn is_descending(&self) -> Option<bool> {
        self.inner.is_descending()
    }
}
