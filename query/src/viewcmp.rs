//! `column = 'short literal'` on a Utf8View column, planned as `govtrail_view_eq(column,
//! 'literal')` where it computes a value (projections, aggregate arguments).
//!
//! A string of at most 12 bytes lives entirely inside its 16-byte view, zero-padded (arrow
//! validates the padding), so two such strings are equal exactly when their views are. The
//! kernel compares each row's view with the literal's as one 128-bit integer and packs the
//! answers 64 to a word; arrow's comparison goes through the general string path row by row
//! (14% of the deny-rate GROUP BY of `query_bench`, whose `decision = 'deny'` sits inside
//! `avg(CASE ...)`). NULL rows give NULL, as `=` does; `<>` becomes `NOT govtrail_view_eq`.
//! Filters are left alone: the Parquet reader prunes row groups and pages with a plain `=`.

use std::sync::Arc;

use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable as _, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The optimizer rule; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct ShortStringEquality;

impl OptimizerRule for ShortStringEquality {
    fn name(&self) -> &str {
        "govtrail_short_string_equality"
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }
    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !matches!(plan, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_)) {
            return Ok(Transformed::no(plan));
        }
        let Some(input) = plan.inputs().first().map(|p| Arc::clone(p.schema())) else {
            return Ok(Transformed::no(plan));
        };
        crate::rewrite::expressions(plan, |e| rewrite(e, &input))
    }
}

/// The literal's bytes when it is a non-NULL string of at most 12 bytes.
fn short_literal(e: &Expr) -> Option<&str> {
    let Expr::Literal(
        ScalarValue::Utf8View(Some(s))
        | ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s)),
        None,
    ) = e
    else {
        return None;
    };
    (s.len() <= 12).then_some(s.as_str())
}

fn rewrite(e: Expr, input: &DFSchema) -> Transformed<Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
        return Transformed::no(e);
    };
    if !matches!(op, Operator::Eq | Operator::NotEq) {
        return Transformed::no(e);
    }
    let (column, literal) = match (left.as_ref(), right.as_ref()) {
        (c @ Expr::Column(_), l) | (l, c @ Expr::Column(_)) => match short_literal(l) {
            Some(s) => (c.clone(), s.to_owned()),
            None => return Transformed::no(e),
        },
        _ => return Transformed::no(e),
    };
    if column.get_type(input).ok() != Some(DataType::Utf8View) {
        return Transformed::no(e);
    }
    let udf = ScalarUDF::new_from_impl(ViewEq {
        signature: Signature::any(2, Volatility::Immutable),
    });
    let eq = Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(udf),
        vec![
            column,
            Expr::Literal(ScalarValue::Utf8View(Some(literal)), None),
        ],
    ));
    Transformed::yes(if *op == Operator::Eq { eq } else { !eq })
}

/// `govtrail_view_eq(column, literal)`: `column = literal` for a literal of at most 12 bytes.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ViewEq {
    signature: Signature,
}

impl ScalarUDFImpl for ViewEq {
    fn name(&self) -> &str {
        "govtrail_view_eq"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [
            column,
            ColumnarValue::Scalar(ScalarValue::Utf8View(Some(literal))),
        ] = args.args.as_slice()
        else {
            return exec_err!("govtrail_view_eq takes a column and a string literal");
        };
        if literal.len() > 12 {
            return exec_err!("govtrail_view_eq: '{literal}' is longer than 12 bytes");
        }
        let column = column.to_array(args.number_rows)?;
        let Some(views) = column.as_string_view_opt() else {
            return exec_err!("govtrail_view_eq: the column is not Utf8View");
        };
        let target = make_view(literal.as_bytes(), 0, 0);
        let v = views.views();
        let bits = BooleanBuffer::collect_bool(v.len(), |i| v[i] == target);
        let out = BooleanArray::new(bits, views.logical_nulls());
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{RecordBatch, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::rewrite::testing::{check, contexts};

    fn contexts_over_t() -> (SessionContext, SessionContext) {
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Utf8View, true)]));
        let values = [
            Some("deny"),
            Some("allow"),
            None,
            Some(""),
            Some("denyx"),
            Some("twelve bytes"),
            Some("twelve bytes!"),
            Some("a longer string than twelve"),
            Some("den"),
        ];
        let d: Vec<Option<&str>> = (0..500).map(|i| values[i % values.len()]).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringViewArray::from(d))],
        )
        .unwrap();
        contexts(batch, Arc::new(ShortStringEquality))
    }

    /// Same answers as `=` and `<>`, NULLs, the empty string, prefixes and 12-byte strings
    /// included; long literals and filters keep the built-in comparison.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn same_results_as_equality() {
        let (with, without) = contexts_over_t();
        for (sql, rewritten) in [
            (
                "SELECT d, d = 'deny' AS a, 'deny' = d AS b, d <> 'deny' AS c, d = '' AS e, d = 'twelve bytes' AS f FROM t ORDER BY d, a",
                true,
            ),
            (
                "SELECT d, count(*), sum(CASE WHEN d = 'den' THEN 1 ELSE 0 END) AS s FROM t GROUP BY d ORDER BY d",
                true,
            ),
            (
                "SELECT count(*) FILTER (WHERE d = 'allow') AS n, avg(CASE WHEN d = 'deny' THEN 1.0 ELSE 0.0 END) AS r FROM t",
                true,
            ),
            (
                "SELECT d = 'a longer string than twelve' AS a, d = 'twelve bytes!' AS b FROM t ORDER BY a, b",
                false,
            ),
            ("SELECT count(*) FROM t WHERE d = 'deny'", false),
        ] {
            check(&with, &without, sql, "govtrail_view_eq", rewritten).await;
        }
    }
}
