//! One group's values for the exact percentile: counts per distinct value or a list, the
//! selection of ranks from either, and the two state lists partial aggregations ship.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::{HashMap, Result, internal_err};

/// DataFusion's interpolation weight is quantised to this many steps.
const INTERPOLATION_PRECISION: f64 = 1_000_000.0;
/// A group switches from counts to a list once it has seen this many values and more than a
/// quarter of them were distinct.
const SWITCH_AFTER: u64 = 4096;

/// One group's values: counts per distinct value (keyed by bits, so `-0.0`, `0.0` and each NaN
/// stay apart as `total_cmp` orders them), or, once mostly distinct, the values themselves.
#[derive(Debug, Default)]
pub(super) struct Group {
    counts: HashMap<u64, u64>,
    list: Option<Vec<f64>>,
    seen: u64,
}

impl Group {
    pub(super) fn add(&mut self, v: f64) {
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

    pub(super) fn remove(&mut self, v: f64) -> Result<()> {
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
    pub(super) fn percentiles(&mut self, ps: &[f64]) -> Vec<Option<f64>> {
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

    pub(super) fn size(&self) -> usize {
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
pub(super) fn state(groups: &[Group]) -> Vec<ArrayRef> {
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
pub(super) fn merge_row(group: &mut Group, values: &ListArray, counts: &ListArray, row: usize) {
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

pub(super) fn lists(states: &[ArrayRef]) -> Result<(&ListArray, &ListArray)> {
    match states {
        [values, counts] => Ok((values.as_list::<i32>(), counts.as_list::<i32>())),
        _ => internal_err!("percentile_cont: expected two state columns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
