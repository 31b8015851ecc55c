//! `govtrail_shared_percentile_cont`: several exact percentiles of one input in one
//! accumulator, as the [`SharePercentiles`](super::SharePercentiles) rule plans them.

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::functions_aggregate::percentile_cont::PercentileCont;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, GroupsAccumulator, Signature};
use datafusion::physical_expr::expressions::Literal;

use super::CountingPercentileCont;
use super::accumulator::{Groups, One, Ranks};
use super::group::Group;

/// Several exact percentiles of one input in one accumulator: `p0, p1, …` of a struct, for
/// ranks given as literals after the input (already `1 − p` for a descending order). Never
/// registered by name: only [`SharePercentiles`](super::SharePercentiles) plans it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct SharedPercentiles {
    pub(super) signature: Signature,
}

/// The struct a shared accumulator answers: `p0`, `p1`, … as Float64.
pub(crate) fn shared_fields(n: usize) -> Fields {
    (0..n)
        .map(|i| Field::new(format!("p{i}"), DataType::Float64, true))
        .collect()
}

/// The ranks a shared accumulator is given: the literals after its input.
pub(crate) fn shared_ps(args: &AccumulatorArgs) -> Result<Vec<f64>> {
    args.exprs[1..]
        .iter()
        .map(|e| match e.downcast_ref::<Literal>().map(Literal::value) {
            Some(ScalarValue::Float64(Some(p))) => Ok(*p),
            _ => internal_err!("a shared percentile's ranks must be Float64 literals"),
        })
        .collect()
}

fn shared_ranks(args: &AccumulatorArgs) -> Result<Ranks> {
    let ps = shared_ps(args)?;
    Ok(Ranks::Many(shared_fields(ps.len()), ps))
}

impl AggregateUDFImpl for SharedPercentiles {
    fn name(&self) -> &str {
        "govtrail_shared_percentile_cont"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(shared_fields(
            arg_types.len().saturating_sub(1),
        )))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        CountingPercentileCont {
            inner: PercentileCont::new(),
        }
        .state_fields(args)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(One {
            group: Group::default(),
            ranks: shared_ranks(&args)?,
        }))
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups {
            groups: Vec::new(),
            ranks: shared_ranks(&args)?,
        }))
    }
}
