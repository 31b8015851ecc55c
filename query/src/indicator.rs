//! `CASE WHEN p THEN 1 ELSE 0 END`, the way SQL spells an indicator (a deny rate is
//! `avg(CASE WHEN decision = 'deny' THEN 1.0 ELSE 0.0 END)`), planned as
//! `govtrail_indicator(p)`.
//!
//! DataFusion 55 evaluates that CASE by building the condition's mask without NULLs and then
//! zipping two one-row arrays into a new column row by row (6% of the deny-rate GROUP BY of
//! `query_bench`), and `CAST(p IS TRUE AS DOUBLE)` is no faster (arrow's cast from Boolean reads
//! one bit at a time). `govtrail_indicator` masks the condition's bits with its validity, 64 at
//! a time, and widens each word's bits into numbers. The answer is the CASE's for every row: a
//! true condition gives 1, a false or NULL one gives 0, and the result has the CASE's type and
//! is never NULL, as the CASE's is. `1 - indicator` is spelled `CASE WHEN p THEN 0 ELSE 1 END`
//! and planned with `NOT` inside: `govtrail_indicator(p IS NOT TRUE)`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{
    ArrowNativeType, DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::{Case, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The optimizer rule; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct IndicatorCase;

impl OptimizerRule for IndicatorCase {
    fn name(&self) -> &str {
        "govtrail_indicator_case"
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }
    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        crate::rewrite::expressions(plan, indicator)
    }
}

/// The literal's value when it is a non-NULL integer or float equal to 0 or 1, with its type.
fn zero_or_one(e: &Expr) -> Option<(bool, DataType)> {
    let Expr::Literal(v, None) = e else {
        return None;
    };
    let t = v.data_type();
    if !(t.is_integer() || t.is_floating()) || v.is_null() {
        return None;
    }
    if *v == ScalarValue::new_one(&t).ok()? {
        Some((true, t))
    } else if *v == ScalarValue::new_zero(&t).ok()? {
        Some((false, t))
    } else {
        None
    }
}

fn indicator(e: Expr) -> Transformed<Expr> {
    let Expr::Case(Case {
        expr: None,
        when_then_expr,
        else_expr: Some(otherwise),
    }) = &e
    else {
        return Transformed::no(e);
    };
    let [(when, then)] = when_then_expr.as_slice() else {
        return Transformed::no(e);
    };
    let (p, t) = match (zero_or_one(then), zero_or_one(otherwise)) {
        (Some((true, t)), Some((false, u))) if t == u => (when.as_ref().clone(), t),
        (Some((false, t)), Some((true, u))) if t == u => (when.as_ref().clone().is_not_true(), t),
        _ => return Transformed::no(e),
    };
    let udf = ScalarUDF::new_from_impl(Indicator {
        out: t,
        signature: Signature::exact(vec![DataType::Boolean], Volatility::Immutable),
    });
    Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(udf),
        vec![p],
    )))
}

/// `govtrail_indicator(p)`: 1 where `p` is true, 0 where it is false or NULL, as `out`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Indicator {
    out: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for Indicator {
    fn name(&self) -> &str {
        "govtrail_indicator"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.out.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("govtrail_indicator takes one condition");
        };
        let p = arg.to_array(args.number_rows)?;
        let Some(p) = p.as_boolean_opt() else {
            return exec_err!("govtrail_indicator: the condition is not Boolean");
        };
        let bits = match p.nulls() {
            Some(valid) => p.values() & valid.inner(),
            None => p.values().clone(),
        };
        let out: ArrayRef = match self.out {
            DataType::Float64 => Arc::new(widen::<Float64Type>(&bits)),
            DataType::Float32 => Arc::new(widen::<Float32Type>(&bits)),
            DataType::Int64 => Arc::new(widen::<Int64Type>(&bits)),
            DataType::Int32 => Arc::new(widen::<Int32Type>(&bits)),
            DataType::Int16 => Arc::new(widen::<Int16Type>(&bits)),
            DataType::Int8 => Arc::new(widen::<Int8Type>(&bits)),
            DataType::UInt64 => Arc::new(widen::<UInt64Type>(&bits)),
            DataType::UInt32 => Arc::new(widen::<UInt32Type>(&bits)),
            DataType::UInt16 => Arc::new(widen::<UInt16Type>(&bits)),
            DataType::UInt8 => Arc::new(widen::<UInt8Type>(&bits)),
            ref other => return exec_err!("govtrail_indicator cannot give {other}"),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Each bit as 1 or 0, a 64-bit word at a time.
fn widen<T: ArrowPrimitiveType>(bits: &BooleanBuffer) -> PrimitiveArray<T> {
    let (zero, one) = (T::Native::usize_as(0), T::Native::usize_as(1));
    let chunks = bits.bit_chunks();
    let mut out: Vec<T::Native> = Vec::with_capacity(bits.len());
    for word in chunks.iter() {
        out.extend((0..64).map(|j| if (word >> j) & 1 == 1 { one } else { zero }));
    }
    let rest = chunks.remainder_bits();
    out.extend((0..chunks.remainder_len()).map(|j| if (rest >> j) & 1 == 1 { one } else { zero }));
    PrimitiveArray::new(out.into(), None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{BooleanArray, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::rewrite::testing::{check, contexts};

    fn contexts_over_t() -> (SessionContext, SessionContext) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("d", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let d: Vec<Option<&str>> = (0..300)
            .map(|i| [Some("deny"), Some("allow"), None, Some("ask")][i % 4])
            .collect();
        let b: Vec<Option<bool>> = (0..300)
            .map(|i| [Some(true), None, Some(false)][i % 3])
            .collect();
        let n: Vec<Option<i64>> = (0..300).map(|i| (i % 7 != 0).then_some(i % 5)).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(d)),
                Arc::new(BooleanArray::from(b)),
                Arc::new(Int64Array::from(n)),
            ],
        )
        .unwrap();
        contexts(batch, Arc::new(IndicatorCase))
    }

    /// Same answers, names, types and nullability, NULL conditions included; other CASEs are
    /// left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn same_results_as_the_case() {
        let (with, without) = contexts_over_t();
        for (sql, rewritten) in [
            (
                "SELECT d, avg(CASE WHEN d = 'deny' THEN 1.0 ELSE 0.0 END) AS r FROM t GROUP BY d ORDER BY d",
                true,
            ),
            (
                "SELECT avg(CASE WHEN d = 'deny' THEN 1.0 ELSE 0.0 END), sum(CASE WHEN b THEN 0 ELSE 1 END) FROM t",
                true,
            ),
            (
                "SELECT n, CASE WHEN n > 2 THEN 1 ELSE 0 END AS x, CASE WHEN b THEN 1 ELSE 0 END FROM t ORDER BY n, x",
                true,
            ),
            (
                "SELECT sum(CASE WHEN n > 2 THEN CAST(1 AS TINYINT) ELSE CAST(0 AS TINYINT) END) FROM t",
                true,
            ),
            (
                "SELECT sum(CASE WHEN b THEN 1 ELSE 2 END), sum(CASE WHEN b THEN 1 END), sum(CASE d WHEN 'deny' THEN 1 ELSE 0 END) FROM t",
                false,
            ),
            (
                "SELECT sum(CASE WHEN b THEN 1 WHEN n = 1 THEN 1 ELSE 0 END) FROM t",
                false,
            ),
        ] {
            check(&with, &without, sql, "govtrail_indicator", rewritten).await;
        }
    }
}
