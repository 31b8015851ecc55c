//! Confidence intervals of the rule-set comparison's percentile ratios (docs/REPORTS.md,
//! "Comparing rule sets").
//!
//! For a percentile p of n measured values the distribution-free interval is the pair of
//! order statistics whose ranks lie z·√(n·p·(1−p)) either side of n·p (the normal
//! approximation to the binomial count of values below the true percentile). With z = 2.2414
//! each side's interval holds with 97.5 %, so both hold at once with at least 95 %, and then
//! the ratio B/A lies in [B_lo / A_hi, B_hi / A_lo]: a 95 % interval that assumes nothing about
//! the distribution.

use super::overhead::{Dim, Paired, Stats};
use super::{floats, quote};
use crate::{Result, Trail};

/// z of a two-sided 97.5 % interval.
const Z: f64 = 2.2414;
/// Groups that get intervals at most (each costs one scan per rule set).
pub(crate) const MAX_GROUPS: usize = 20;

/// The fractions `percentile_cont` reads for the interval of percentile `p` over `n` values.
fn fractions(n: i64, p: f64) -> (f64, f64) {
    let n = n as f64;
    let half = Z * (n * p * (1.0 - p)).sqrt();
    // Ranks are 1-based; percentile_cont's fraction f reads rank 1 + f·(n − 1).
    let lo = ((n * p - half).floor().max(1.0) - 1.0) / (n - 1.0).max(1.0);
    let hi = ((n * p + half).ceil().min(n) - 1.0) / (n - 1.0).max(1.0);
    (lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0))
}

/// The 97.5 % intervals of p50, p95 and p99 of one group under one rule set.
async fn intervals(trail: &Trail, filter: &str, stats: &Stats) -> Result<Option<[(f64, f64); 3]>> {
    if stats.measured < 2 {
        return Ok(None);
    }
    let mut select = Vec::new();
    for (i, p) in [0.5, 0.95, 0.99].into_iter().enumerate() {
        let (lo, hi) = fractions(stats.measured, p);
        select.push(format!(
            "percentile_cont({lo}) WITHIN GROUP (ORDER BY o) AS lo{i}, \
             percentile_cont({hi}) WITHIN GROUP (ORDER BY o) AS hi{i}"
        ));
    }
    let sql = format!(
        "SELECT {} FROM (SELECT CAST(overhead_us AS DOUBLE) AS o FROM decisions WHERE {filter} \
         AND overhead_us IS NOT NULL)",
        select.join(", ")
    );
    let batches = trail.sql(&sql).await?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let mut out = [(0.0, 0.0); 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let (lo, hi) = (
            floats(b, &format!("lo{i}"))?[0],
            floats(b, &format!("hi{i}"))?[0],
        );
        match (lo, hi) {
            (Some(lo), Some(hi)) => *slot = (lo, hi),
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Fills the ratio intervals of the first [`MAX_GROUPS`] groups of a comparison.
pub(crate) async fn fill(
    trail: &Trail,
    dims: &[Dim],
    filter: &str,
    (a, b): (&str, &str),
    groups: &mut [Paired],
) -> Result<()> {
    let dims: Vec<Dim> = dims
        .iter()
        .copied()
        .filter(|d| *d != Dim::RuleSet)
        .collect();
    for g in groups.iter_mut().take(MAX_GROUPS) {
        let (Some(sa), Some(sb)) = (g.a.clone(), g.b.clone()) else {
            continue;
        };
        let mut cond = vec![filter.to_owned()];
        for (d, v) in dims.iter().zip(&g.group) {
            cond.push(match v {
                Some(v) => format!("{} = {}", d.column(), quote(v)),
                None => format!("{} IS NULL", d.column()),
            });
        }
        let cond = cond.join(" AND ");
        let ia = intervals(trail, &format!("{cond} AND rule_set = {}", quote(a)), &sa).await?;
        let ib = intervals(trail, &format!("{cond} AND rule_set = {}", quote(b)), &sb).await?;
        let (Some(ia), Some(ib)) = (ia, ib) else {
            continue;
        };
        let ratio = |i: usize| {
            let ((alo, ahi), (blo, bhi)) = (ia[i], ib[i]);
            (alo > 0.0).then(|| (blo / ahi, bhi / alo))
        };
        g.p50_ci = ratio(0);
        g.p95_ci = ratio(1);
        g.p99_ci = ratio(2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fractions;

    /// `percentile_cont` at fraction `f` of sorted `v`: linear between closest ranks.
    fn cont(v: &[f64], f: f64) -> f64 {
        let at = f * (v.len() - 1) as f64;
        let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
    }

    /// Two samples from the same distribution (true ratio 1): the ratio's interval, built as
    /// `fill` builds it, holds 1 in at least 95 % of 400 seeded trials, for each percentile.
    #[test]
    fn the_ratio_interval_covers_the_true_ratio_at_least_95_percent_of_the_time() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut unit = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        for (p, n) in [(0.5, 200), (0.95, 400), (0.99, 1000)] {
            let mut covered = 0;
            for _ in 0..400 {
                let mut draw = || {
                    let mut v: Vec<f64> = (0..n).map(|_| (-unit().ln()) * 1000.0).collect();
                    v.sort_by(f64::total_cmp);
                    let (lo, hi) = fractions(n as i64, p);
                    (cont(&v, lo), cont(&v, hi))
                };
                let ((alo, ahi), (blo, bhi)) = (draw(), draw());
                if blo / ahi <= 1.0 && 1.0 <= bhi / alo {
                    covered += 1;
                }
            }
            assert!(covered >= 380, "p{p}: {covered} of 400");
        }
    }

    #[test]
    fn fractions_bracket_the_percentile_and_narrow_with_n() {
        let (lo, hi) = fractions(100, 0.5);
        assert!(lo < 0.5 && hi > 0.5, "{lo} {hi}");
        let (lo2, hi2) = fractions(1_000_000, 0.5);
        assert!(hi2 - lo2 < (hi - lo) / 50.0);
        let (lo, hi) = fractions(10, 0.99);
        assert!((0.0..=1.0).contains(&lo) && hi == 1.0);
    }
}
