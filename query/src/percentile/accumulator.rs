//! The accumulators: [`One`] without GROUP BY (and in windows), [`Groups`] for GROUP BY, and
//! [`Ranks`], what either answers (one percentile or a struct of several).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, StructArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

use super::group::{Group, lists, merge_row, state};

/// What an accumulator answers: one percentile, or several as a struct of Float64 fields
/// `p0`, `p1`, … (the shared accumulator [`SharePercentiles`](super::SharePercentiles) plans).
#[derive(Debug, Clone)]
pub(super) enum Ranks {
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
pub(super) struct One {
    pub(super) group: Group,
    pub(super) ranks: Ranks,
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
pub(super) struct Groups {
    pub(super) groups: Vec<Group>,
    pub(super) ranks: Ranks,
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
