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

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, StructArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::common::{HashMap, Result, ScalarValue, internal_err, plan_err};
use datafusion::functions_aggregate::percentile_cont::PercentileCont;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    Signature,
};
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable as _, LogicalPlan, Projection};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use datafusion::physical_expr::expressions::Literal;

/// DataFusion's interpolation weight is quantised to this many steps.
const INTERPOLATION_PRECISION: f64 = 1_000_000.0;
/// A group switches from counts to a list once it has seen this many values and more than a
/// quarter of them were distinct.
const SWITCH_AFTER: u64 = 4096;

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

/// One group's values: counts per distinct value (keyed by bits, so `-0.0`, `0.0` and each NaN
/// stay apart as `total_cmp` orders them), or, once mostly distinct, the values themselves.
#[derive(Debug, Default)]
struct Group {
    counts: HashMap<u64, u64>,
    list: Option<Vec<f64>>,
    seen: u64,
}

impl Group {
    fn add(&mut self, v: f64) {
        if let Some(list) = &mut self.list {
            list.push(v);
            return;
        }
        *self.counts.entry(v.to_bits()).or_insert(0) += 1;
        self.seen += 1;
        if self.seen >= SWITCH_AFTER && self.counts.len() as u64 * 4 > self.seen {
            let mut list = Vec::with_capacity(self.seen as usize * 2);
            for (&bits, &n) in &self.counts {
                list.extend(std::iter::repeat_n(f64::from_bits(bits), n as usize));
            }
            self.counts = HashMap::default();
            self.list = Some(list);
        }
    }

    fn add_n(&mut self, v: f64, n: u64) {
        match &mut self.list {
            Some(list) => list.extend(std::iter::repeat_n(v, n as usize)),
            None => {
                *self.counts.entry(v.to_bits()).or_insert(0) += n;
                self.seen += n;
            }
        }
    }

    fn remove(&mut self, v: f64) -> Result<()> {
        let gone = match &mut self.list {
            Some(list) => match list.iter().position(|x| x.to_bits() == v.to_bits()) {
                Some(i) => {
                    list.swap_remove(i);
                    true
                }
                None => false,
            },
            None => match self.counts.get_mut(&v.to_bits()) {
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(&v.to_bits());
                    }
                    self.seen -= 1;
                    true
                }
                None => false,
            },
        };
        if !gone {
            return internal_err!("percentile_cont: retracted a value that is not in the window");
        }
        Ok(())
    }

    /// The distinct values in `total_cmp` order with their counts (counting mode).
    fn sorted(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = self
            .counts
            .iter()
            .map(|(&bits, &n)| (f64::from_bits(bits), n))
            .collect();
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// DataFusion's `calculate_percentile` for each of `ps`, over counts or over the list
    /// (reordered in place).
    fn percentiles(&mut self, ps: &[f64]) -> Vec<Option<f64>> {
        if let Some(list) = &mut self.list {
            return select_many(list, ps);
        }
        let sorted = self.sorted();
        let len: u64 = sorted.iter().map(|(_, n)| n).sum();
        let at = |rank: u64| -> f64 {
            let mut below = 0;
            for &(v, n) in &sorted {
                below += n;
                if rank < below {
                    return v;
                }
            }
            sorted[sorted.len() - 1].0
        };
        let one = |p: f64| match len {
            0 => None,
            1 => Some(sorted[0].0),
            _ if p == 0.0 => Some(sorted[0].0),
            _ if p == 1.0 => Some(sorted[sorted.len() - 1].0),
            _ => {
                let index = p * ((len - 1) as f64);
                let (lower, upper) = (index.floor() as u64, index.ceil() as u64);
                let lower_value = at(lower);
                if lower == upper {
                    return Some(lower_value);
                }
                let upper_value = at(upper);
                Some(interpolate(index, lower, lower_value, upper_value))
            }
        };
        ps.iter().map(|&p| one(p)).collect()
    }

    #[cfg(test)]
    fn percentile(&mut self, p: f64) -> Option<f64> {
        self.percentiles(&[p])[0]
    }

    fn size(&self) -> usize {
        self.counts.capacity() * 17 + self.list.as_ref().map_or(0, |l| l.capacity() * 8)
    }
}

/// The interpolation DataFusion 55 does, step for step.
fn interpolate(index: f64, lower: u64, lower_value: f64, upper_value: f64) -> f64 {
    let fraction = index - lower as f64;
    let scaled = (fraction * INTERPOLATION_PRECISION) as usize;
    let weight = scaled as f64 / INTERPOLATION_PRECISION;
    lower_value + (upper_value - lower_value) * weight
}

/// DataFusion's `calculate_percentile` on a list of values (the reference [`select_many`] is
/// tested against).
#[cfg(test)]
fn select(values: &mut [f64], p: f64) -> Option<f64> {
    let len = values.len();
    match len {
        0 => None,
        1 => Some(values[0]),
        _ if p == 0.0 => values.iter().copied().min_by(f64::total_cmp),
        _ if p == 1.0 => values.iter().copied().max_by(f64::total_cmp),
        _ => {
            let index = p * ((len - 1) as f64);
            let (lower, upper) = (index.floor() as usize, index.ceil() as usize);
            let lower_value = *values.select_nth_unstable_by(lower, f64::total_cmp).1;
            if lower == upper {
                return Some(lower_value);
            }
            let upper_value = *values.select_nth_unstable_by(upper, f64::total_cmp).1;
            Some(interpolate(index, lower as u64, lower_value, upper_value))
        }
    }
}

/// DataFusion's `calculate_percentile` (`select`, which the tests keep) for each of `ps`,
/// sharing the work: the ranks they need are selected in increasing order, each in the part of
/// the list above the one before (which holds exactly the values of higher rank), so p50, p95
/// and p99 cost about one selection over the list, not three.
/// The k-th value in `total_cmp` order is one value whatever the method, so each answer is
/// `select`'s bit for bit.
fn select_many(values: &mut [f64], ps: &[f64]) -> Vec<Option<f64>> {
    let len = values.len();
    if len <= 1 {
        return ps.iter().map(|_| values.first().copied()).collect();
    }
    let ranks_of = |p: f64| -> (usize, usize, f64) {
        if p == 0.0 {
            (0, 0, 0.0)
        } else if p == 1.0 {
            (len - 1, len - 1, 0.0)
        } else {
            let index = p * ((len - 1) as f64);
            (index.floor() as usize, index.ceil() as usize, index)
        }
    };
    let mut wanted: Vec<usize> = ps
        .iter()
        .flat_map(|&p| {
            let (lower, upper, _) = ranks_of(p);
            [lower, upper]
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found = Vec::with_capacity(wanted.len());
    let mut start = 0;
    for rank in wanted {
        let value = *values[start..]
            .select_nth_unstable_by(rank - start, f64::total_cmp)
            .1;
        found.push((rank, value));
        start = rank + 1;
    }
    let at = |rank: usize| {
        found
            .iter()
            .find(|(r, _)| *r == rank)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    ps.iter()
        .map(|&p| {
            let (lower, upper, index) = ranks_of(p);
            Some(if lower == upper {
                at(lower)
            } else {
                interpolate(index, lower as u64, at(lower), at(upper))
            })
        })
        .collect()
}

/// Groups as the two state lists. A group in counting mode gives its distinct values in order
/// and their counts; a group in list mode gives its values as they came and no counts (each
/// counts once), so shipping it costs what the built-in's list does.
fn state(groups: &[Group]) -> Vec<ArrayRef> {
    let (mut values, mut counts) = (Vec::new(), Vec::new());
    let (mut value_lens, mut count_lens) = (Vec::new(), Vec::new());
    for g in groups {
        match &g.list {
            Some(list) => {
                values.extend_from_slice(list);
                value_lens.push(list.len());
                count_lens.push(0);
            }
            None => {
                let sorted = g.sorted();
                values.extend(sorted.iter().map(|(v, _)| *v));
                counts.extend(sorted.iter().map(|(_, n)| *n));
                value_lens.push(sorted.len());
                count_lens.push(sorted.len());
            }
        }
    }
    let list = |dt: DataType, lens: Vec<usize>, array: ArrayRef| -> ArrayRef {
        Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(dt, true)),
            OffsetBuffer::<i32>::from_lengths(lens),
            array,
            None,
        ))
    };
    vec![
        list(
            DataType::Float64,
            value_lens,
            Arc::new(Float64Array::from(values)),
        ),
        list(
            DataType::UInt64,
            count_lens,
            Arc::new(UInt64Array::from(counts)),
        ),
    ]
}

/// Adds row `row` of the two state lists to `group`.
fn merge_row(group: &mut Group, values: &ListArray, counts: &ListArray, row: usize) {
    if values.is_null(row) {
        return;
    }
    let v = values.value(row);
    let v = v.as_primitive::<Float64Type>().values();
    let n = counts.value(row);
    let n = n
        .as_primitive::<datafusion::arrow::datatypes::UInt64Type>()
        .values();
    if n.is_empty() {
        // A list: each value once.
        match &mut group.list {
            Some(list) => list.extend_from_slice(v),
            None => v.iter().for_each(|&v| group.add(v)),
        }
        return;
    }
    for (v, n) in v.iter().zip(n.iter()) {
        group.add_n(*v, *n);
    }
}

fn lists(states: &[ArrayRef]) -> Result<(&ListArray, &ListArray)> {
    match states {
        [values, counts] => Ok((values.as_list::<i32>(), counts.as_list::<i32>())),
        _ => internal_err!("percentile_cont: expected two state columns"),
    }
}

/// What an accumulator answers: one percentile, or several as a struct of Float64 fields
/// `p0`, `p1`, … (the shared accumulator [`SharePercentiles`] plans).
#[derive(Debug, Clone)]
enum Ranks {
    One(f64),
    Many(Fields, Vec<f64>),
}

impl Ranks {
    fn ps(&self) -> &[f64] {
        match self {
            Ranks::One(p) => std::slice::from_ref(p),
            Ranks::Many(_, ps) => ps,
        }
    }

    /// The answer column for groups whose percentiles are `rows` (one entry per rank each).
    fn column(&self, rows: &[Vec<Option<f64>>]) -> ArrayRef {
        let column = |i: usize| -> ArrayRef {
            Arc::new(rows.iter().map(|r| r[i]).collect::<Float64Array>())
        };
        match self {
            Ranks::One(_) => column(0),
            Ranks::Many(fields, ps) => Arc::new(StructArray::new(
                fields.clone(),
                (0..ps.len()).map(column).collect(),
                None,
            )),
        }
    }
}

/// The accumulator without GROUP BY (and in windows, where values are also retracted).
#[derive(Debug)]
struct One {
    group: Group,
    ranks: Ranks,
}

impl Accumulator for One {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.group.add(v);
        }
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, counts) = lists(states)?;
        for row in 0..values.len() {
            merge_row(&mut self.group, values, counts, row);
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        state(std::slice::from_ref(&self.group))
            .into_iter()
            .map(|a| ScalarValue::try_from_array(&a, 0))
            .collect()
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let row = self.group.percentiles(self.ranks.ps());
        ScalarValue::try_from_array(&self.ranks.column(&[row]), 0)
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.group.size()
    }
    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.group.remove(v)?;
        }
        Ok(())
    }
    fn supports_retract_batch(&self) -> bool {
        true
    }
}

/// The accumulator for GROUP BY.
#[derive(Debug)]
struct Groups {
    groups: Vec<Group>,
    ranks: Ranks,
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Group::default);
        let values = values[0].as_primitive::<Float64Type>();
        for (row, &g) in group_indices.iter().enumerate() {
            if values.is_null(row) || opt_filter.is_some_and(|f| !f.is_valid(row) || !f.value(row))
            {
                continue;
            }
            self.groups[g].add(values.value(row));
        }
        Ok(())
    }
    fn merge_batch(
        &mut self,
        states: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Group::default);
        let (values, counts) = lists(states)?;
        for (row, &g) in group_indices.iter().enumerate() {
            merge_row(&mut self.groups[g], values, counts, row);
        }
        Ok(())
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let rows: Vec<Vec<Option<f64>>> = emit_to
            .take_needed(&mut self.groups)
            .iter_mut()
            .map(|g| g.percentiles(self.ranks.ps()))
            .collect();
        Ok(self.ranks.column(&rows))
    }
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(state(&emit_to.take_needed(&mut self.groups)))
    }
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row becomes a group of its own: one value with count 1, or an empty list.
        let values = values[0].as_primitive::<Float64Type>();
        let keep = |row: usize| {
            values.is_valid(row) && opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row))
        };
        let kept: Vec<f64> = (0..values.len())
            .filter(|&r| keep(r))
            .map(|r| values.value(r))
            .collect();
        let offsets =
            OffsetBuffer::<i32>::from_lengths((0..values.len()).map(|r| usize::from(keep(r))));
        let none = OffsetBuffer::<i32>::new_zeroed(values.len());
        Ok(vec![
            Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::Float64, true)),
                offsets.clone(),
                Arc::new(Float64Array::from(kept)),
                None,
            )),
            Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::UInt64, true)),
                none,
                Arc::new(UInt64Array::from(Vec::<u64>::new())),
                None,
            )),
        ])
    }
    fn size(&self) -> usize {
        self.groups.iter().map(Group::size).sum::<usize>()
            + self.groups.capacity() * size_of::<Group>()
    }
}

/// Several exact percentiles of one input in one accumulator: `p0, p1, …` of a struct, for
/// ranks given as literals after the input (already `1 − p` for a descending order). Never
/// registered by name: only [`SharePercentiles`] plans it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SharedPercentiles {
    signature: Signature,
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

#[cfg(test)]
mod tests {
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

    #[test]
    fn select_many_agrees_with_select() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in [0usize, 1, 2, 3, 10, 1000, 4097] {
            let base: Vec<f64> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    match state % 50 {
                        0 => -0.0,
                        1 => 0.0,
                        2 => f64::NAN,
                        n => (state >> 20) as f64 / 1e6 * if n % 2 == 0 { 1.0 } else { -1.0 },
                    }
                })
                .collect();
            let ps = [0.99, 0.0, 0.5, 0.95, 1.0, 0.5, 0.123_456_7, 0.999_999];
            let many = select_many(&mut base.clone(), &ps);
            for (p, got) in ps.iter().zip(many) {
                let want = select(&mut base.clone(), *p);
                assert_eq!(
                    got.map(f64::to_bits),
                    want.map(f64::to_bits),
                    "len {len} p {p}"
                );
            }
        }
    }

    #[test]
    fn counting_mode_switches_to_a_list_when_values_are_distinct() {
        let mut g = Group::default();
        for v in 0..SWITCH_AFTER {
            g.add(v as f64);
        }
        assert!(g.list.is_some());
        let mut h = Group::default();
        for v in 0..SWITCH_AFTER * 10 {
            h.add((v % 100) as f64);
        }
        assert!(h.list.is_none());
        assert_eq!(h.counts.len(), 100);
        let mut all: Vec<f64> = (0..SWITCH_AFTER * 10).map(|v| (v % 100) as f64).collect();
        let mut distinct: Vec<f64> = (0..SWITCH_AFTER).map(|v| v as f64).collect();
        for p in [0.0, 0.3, 0.5, 0.77, 1.0] {
            assert_eq!(h.percentile(p), select(&mut all, p));
            assert_eq!(g.percentile(p), select(&mut distinct, p));
        }
    }
}
