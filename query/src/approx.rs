//! Several `approx_percentile_cont`s of one input from one t-digest: the approximate half of
//! [`crate::percentile::SharePercentiles`].
//!
//! DataFusion's `approx_percentile_cont` builds a t-digest per call, so p50, p95 and p99 of one
//! column sort every batch and build the same digest three times. This accumulator builds it
//! once, by the same steps (each batch sorted and merged with `merge_sorted_f64`, partial
//! digests merged with `merge_digests` in the same order, DataFusion's default size), and reads
//! each rank from it with `estimate_quantile`: each answer is the built-in's. Its state is the
//! built-in's too.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::compute::{filter, is_not_null, sort};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::functions_aggregate::approx_percentile_cont::ApproxPercentileCont;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature};
use datafusion_functions_aggregate_common::tdigest::{DEFAULT_MAX_SIZE, TDigest};

use crate::percentile::{shared_fields, shared_ps};

/// Approximate percentiles of one Float64 input at the ranks given as literals after it
/// (already `1 − p` for a descending order). Never registered by name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SharedApprox {
    pub(crate) signature: Signature,
}

impl AggregateUDFImpl for SharedApprox {
    fn name(&self) -> &str {
        "govtrail_shared_approx_percentile_cont"
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
        ApproxPercentileCont::new().state_fields(args)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let ps = shared_ps(&args)?;
        Ok(Box::new(Digest {
            digest: TDigest::new(DEFAULT_MAX_SIZE),
            ps,
        }))
    }
}

#[derive(Debug)]
struct Digest {
    digest: TDigest,
    ps: Vec<f64>,
}

impl Accumulator for Digest {
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.digest.to_scalar_state())
    }
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let mut values = Arc::clone(&values[0]);
        if values.null_count() > 0 {
            values = filter(&values, &is_not_null(&values)?)?;
        }
        let sorted = sort(&values, None)?;
        let Some(sorted) = sorted.as_primitive_opt::<Float64Type>() else {
            return internal_err!("shared approx_percentile_cont: input is not Float64");
        };
        self.digest = self.digest.merge_sorted_f64(sorted.values());
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let digests = (0..states[0].len())
            .map(|row| {
                states
                    .iter()
                    .map(|a| ScalarValue::try_from_array(a, row))
                    .collect::<Result<Vec<_>>>()
                    .map(|s| TDigest::from_scalar_state(&s))
            })
            .collect::<Result<Vec<_>>>()?;
        self.digest = TDigest::merge_digests(digests.iter().chain(std::iter::once(&self.digest)));
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let empty = self.digest.count() == 0.0;
        let columns: Vec<ArrayRef> = self
            .ps
            .iter()
            .map(|&p| -> ArrayRef {
                Arc::new(Float64Array::from(vec![
                    (!empty).then(|| self.digest.estimate_quantile(p)),
                ]))
            })
            .collect();
        let row = StructArray::new(shared_fields(self.ps.len()), columns, None);
        ScalarValue::try_from_array(&row, 0)
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.digest.size() - size_of_val(&self.digest) + self.ps.capacity() * 8
    }
}
