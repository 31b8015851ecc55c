//! `govtrail report overhead`: how much governance costs per action. Exact percentiles
//! (`percentile_cont`, linear interpolation between closest ranks) and approximate ones
//! (`approx_percentile_cont`, a t-digest), count and mean of `overhead_us`, grouped by any of
//! the record's dimensions, in an optional time window, optionally comparing two rule sets.

use serde::Serialize;

use super::{Window, floats, ints, ms, quote, strings, table};
use crate::{Error, Result, Trail};

/// A dimension to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    /// The service inside the engine.
    Service,
    /// The agent platform.
    Platform,
    /// The model.
    Model,
    /// The rule-set version or bundle id.
    RuleSet,
    /// The tool name.
    Tool,
    /// The intended decision.
    Decision,
    /// The governance engine.
    Engine,
    /// The source's event name.
    Event,
    /// Where the overhead figure comes from.
    OverheadSource,
}

impl Dim {
    /// Every dimension, for help texts.
    pub const ALL: [Dim; 9] = [
        Self::Service,
        Self::Platform,
        Self::Model,
        Self::RuleSet,
        Self::Tool,
        Self::Decision,
        Self::Engine,
        Self::Event,
        Self::OverheadSource,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Platform => "platform",
            Self::Model => "model",
            Self::RuleSet => "rule_set",
            Self::Tool => "tool",
            Self::Decision => "decision",
            Self::Engine => "engine",
            Self::Event => "event",
            Self::OverheadSource => "overhead_source",
        }
    }

    /// The dimension called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    pub(crate) fn column(self) -> &'static str {
        match self {
            Self::Tool => "tool_name",
            other => other.name(),
        }
    }
}

/// What to compute.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Group by these, in order (none: one row for everything).
    pub group_by: Vec<Dim>,
    /// Only decisions in this window.
    pub window: Window,
    /// Compare two rule-set versions: statistics under each and the ratio B/A.
    pub compare: Option<(String, String)>,
    /// Compute exact percentiles by scanning every decision, even when segment summaries
    /// could answer.
    pub exact: bool,
    /// Also count decisions per overhead source (reads every record's JSON).
    pub sources: bool,
}

/// How a report was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// From the segments' summaries (LEDGER-FORMAT.md §13) and the unsummarised rows: exact
    /// counts, sums, minima and maxima; percentiles from log-linear histograms.
    Summaries,
    /// By scanning every decision: exact percentiles and t-digest approximations.
    Scan,
}

/// Overhead statistics of one group, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stats {
    /// The group's values, one per dimension (`None`: the record has none).
    pub group: Vec<Option<String>>,
    /// Decisions in the group.
    pub decisions: i64,
    /// Decisions with a measured overhead.
    pub measured: i64,
    /// Mean overhead.
    pub mean_us: Option<f64>,
    /// Smallest overhead.
    pub min_us: Option<i64>,
    /// Largest overhead.
    pub max_us: Option<i64>,
    /// Exact percentiles 5, 25, 50, 75, 95, 99.
    pub p5_us: Option<f64>,
    /// 25th percentile.
    pub p25_us: Option<f64>,
    /// Median.
    pub p50_us: Option<f64>,
    /// 75th percentile.
    pub p75_us: Option<f64>,
    /// 95th percentile.
    pub p95_us: Option<f64>,
    /// 99th percentile.
    pub p99_us: Option<f64>,
    /// Approximate 5th percentile (summaries only).
    pub p5_approx_us: Option<f64>,
    /// Approximate 25th percentile (summaries only).
    pub p25_approx_us: Option<f64>,
    /// Approximate median (t-digest, or from summaries).
    pub p50_approx_us: Option<f64>,
    /// Approximate 75th percentile (summaries only).
    pub p75_approx_us: Option<f64>,
    /// Approximate 95th percentile.
    pub p95_approx_us: Option<f64>,
    /// Approximate 99th percentile.
    pub p99_approx_us: Option<f64>,
}

/// One group under two rule sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Paired {
    /// The group's values.
    pub group: Vec<Option<String>>,
    /// Statistics under rule set A.
    pub a: Option<Stats>,
    /// Statistics under rule set B.
    pub b: Option<Stats>,
    /// B's p50 / A's p50.
    pub p50_ratio: Option<f64>,
    /// B's p95 / A's p95.
    pub p95_ratio: Option<f64>,
    /// B's p99 / A's p99.
    pub p99_ratio: Option<f64>,
    /// The 95 % confidence interval of `p50_ratio` (docs/REPORTS.md; computed for the first
    /// 20 groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ci: Option<(f64, f64)>,
    /// The 95 % confidence interval of `p95_ratio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95_ci: Option<(f64, f64)>,
    /// The 95 % confidence interval of `p99_ratio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ci: Option<(f64, f64)>,
}

/// Two rule sets side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    /// Rule set A (the baseline).
    pub a: String,
    /// Rule set B.
    pub b: String,
    /// Per group.
    pub groups: Vec<Paired>,
}

/// The overhead report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = OverheadReport))]
pub struct Report {
    /// How it was computed.
    pub method: Method,
    /// The dimensions grouped by.
    pub group_by: Vec<Dim>,
    /// The window.
    pub window: Window,
    /// All decisions in the window together.
    pub total: Stats,
    /// One row per group.
    pub groups: Vec<Stats>,
    /// Decisions per overhead source (how each figure was measured), when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overhead_sources: Vec<(Option<String>, i64)>,
    /// The rule-set comparison, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

const STATS_SQL: &str = "count(*) AS decisions, count(o) AS measured, avg(o) AS mean_us, \
     min(overhead_us) AS min_us, max(overhead_us) AS max_us, \
     percentile_cont(0.05) WITHIN GROUP (ORDER BY o) AS p5_us, \
     percentile_cont(0.25) WITHIN GROUP (ORDER BY o) AS p25_us, \
     percentile_cont(0.5) WITHIN GROUP (ORDER BY o) AS p50_us, \
     percentile_cont(0.75) WITHIN GROUP (ORDER BY o) AS p75_us, \
     percentile_cont(0.95) WITHIN GROUP (ORDER BY o) AS p95_us, \
     percentile_cont(0.99) WITHIN GROUP (ORDER BY o) AS p99_us, \
     approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY o) AS p50_approx_us, \
     approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY o) AS p95_approx_us, \
     approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY o) AS p99_approx_us";

/// Computes the report: from segment summaries when they can answer (no window, at most one
/// dimension, no comparison, `exact` not asked), else by scanning.
pub async fn report(trail: &Trail, opts: &Options) -> Result<Report> {
    let summarised = |d: &Dim| !matches!(d, Dim::Event | Dim::OverheadSource);
    let method = if !opts.exact
        && opts.window == Window::default()
        && opts.compare.is_none()
        && opts.group_by.len() <= 1
        && opts.group_by.iter().all(summarised)
    {
        Method::Summaries
    } else {
        Method::Scan
    };
    let filter = opts.window.condition();
    let (total, groups) = match method {
        Method::Summaries => {
            let total = from_summaries(trail, None)
                .await?
                .into_iter()
                .next()
                .unwrap_or_else(|| empty(Vec::new()));
            let groups = match opts.group_by.first() {
                Some(d) => from_summaries(trail, Some(*d)).await?,
                None => Vec::new(),
            };
            (total, groups)
        }
        Method::Scan => {
            let total = stats(trail, &[], &filter)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Internal("a total has one row".into()))?;
            let groups = if opts.group_by.is_empty() {
                Vec::new()
            } else {
                stats(trail, &opts.group_by, &filter).await?
            };
            (total, groups)
        }
    };
    let mut overhead_sources = Vec::new();
    if opts.sources {
        let batches = trail
            .sql(&format!(
                "SELECT overhead_source, count(*) AS n FROM decisions WHERE {filter} \
             GROUP BY overhead_source ORDER BY overhead_source NULLS FIRST"
            ))
            .await?;
        for b in &batches {
            overhead_sources.extend(
                strings(b, "overhead_source")?
                    .into_iter()
                    .zip(ints(b, "n")?.into_iter().map(Option::unwrap_or_default)),
            );
        }
    }
    let comparison = match &opts.compare {
        None => None,
        Some((a, b)) => Some(compare(trail, &opts.group_by, &filter, a, b).await?),
    };
    Ok(Report {
        method,
        group_by: opts.group_by.clone(),
        window: opts.window.clone(),
        total,
        groups,
        overhead_sources,
        comparison,
    })
}

fn empty(group: Vec<Option<String>>) -> Stats {
    Stats {
        group,
        decisions: 0,
        measured: 0,
        mean_us: None,
        min_us: None,
        max_us: None,
        p5_us: None,
        p25_us: None,
        p50_us: None,
        p75_us: None,
        p95_us: None,
        p99_us: None,
        p5_approx_us: None,
        p25_approx_us: None,
        p50_approx_us: None,
        p75_approx_us: None,
        p95_approx_us: None,
        p99_approx_us: None,
    }
}

/// One histogram bucket of a group: (bucket, count, min, max).
type Bucket = (i32, i64, i64, i64);

/// The `k`-th smallest value (0-based) of a histogram, interpolated by position between the
/// bucket's smallest and largest value (exact when the bucket holds one distinct value).
fn value_at(buckets: &[Bucket], k: i64) -> f64 {
    let mut seen = 0i64;
    for &(_, count, lo, hi) in buckets {
        if k < seen.saturating_add(count) {
            let j = k - seen;
            return if count <= 1 || lo == hi {
                lo as f64
            } else {
                lo as f64 + (hi - lo) as f64 * j as f64 / (count - 1) as f64
            };
        }
        seen = seen.saturating_add(count);
    }
    buckets.last().map_or(0.0, |b| b.3 as f64)
}

/// The `q` quantile of a histogram of `n` values, interpolated between closest ranks as
/// `percentile_cont` does on the values themselves.
fn quantile(buckets: &[Bucket], n: i64, q: f64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let r = q * (n - 1) as f64;
    let (a, b) = (r.floor() as i64, r.ceil() as i64);
    let (va, vb) = (value_at(buckets, a), value_at(buckets, b));
    Some(va + (vb - va) * (r - a as f64))
}

/// Statistics per value of `dim` (or the total) from `overhead_summary`.
async fn from_summaries(trail: &Trail, dim: Option<Dim>) -> Result<Vec<Stats>> {
    let name = dim.map_or("", |d| d.column());
    let sql = format!(
        "SELECT value, bucket, CAST(sum(count) AS BIGINT) AS n, CAST(sum(sum_us) AS BIGINT) AS s, \
         min(min_us) AS lo, max(max_us) AS hi FROM overhead_summary \
         WHERE dimension = {} GROUP BY value, bucket",
        quote(name)
    );
    // value → (decisions, measured, sum, buckets)
    let mut groups: std::collections::BTreeMap<Option<String>, (i64, i64, i64, Vec<Bucket>)> =
        std::collections::BTreeMap::new();
    for b in &trail.sql(&sql).await? {
        let (value, bucket, n, sum, lo, hi) = (
            strings(b, "value")?,
            ints(b, "bucket")?,
            ints(b, "n")?,
            ints(b, "s")?,
            ints(b, "lo")?,
            ints(b, "hi")?,
        );
        for r in 0..b.num_rows() {
            let g = groups.entry(value[r].clone()).or_default();
            let count = n[r].unwrap_or_default();
            // Summary files are read without verification: a count that is negative or
            // overflows is a damaged file, reported rather than trusted.
            let bad = || Error::DamagedSummary { count };
            if count < 0 {
                return Err(bad());
            }
            g.0 = g.0.checked_add(count).ok_or_else(bad)?;
            if let (Some(bucket), Some(lo), Some(hi)) = (bucket[r], lo[r], hi[r]) {
                g.1 = g.1.checked_add(count).ok_or_else(bad)?;
                g.2 = g.2.saturating_add(sum[r].unwrap_or_default());
                g.3.push((bucket as i32, count, lo, hi));
            }
        }
    }
    let mut out = Vec::new();
    for (value, (decisions, measured, sum, mut buckets)) in groups {
        buckets.sort_unstable();
        let group = if dim.is_some() {
            vec![value]
        } else {
            Vec::new()
        };
        let q = |p: f64| quantile(&buckets, measured, p);
        out.push(Stats {
            decisions,
            measured,
            mean_us: (measured > 0).then(|| sum as f64 / measured as f64),
            min_us: buckets.first().map(|b| b.2),
            max_us: buckets.iter().map(|b| b.3).max(),
            p5_approx_us: q(0.05),
            p25_approx_us: q(0.25),
            p50_approx_us: q(0.5),
            p75_approx_us: q(0.75),
            p95_approx_us: q(0.95),
            p99_approx_us: q(0.99),
            ..empty(group)
        });
    }
    Ok(out)
}

async fn stats(trail: &Trail, dims: &[Dim], filter: &str) -> Result<Vec<Stats>> {
    let cols: Vec<&str> = dims.iter().map(|d| d.column()).collect();
    let (select, group) = if cols.is_empty() {
        (String::new(), String::new())
    } else {
        let list = cols.join(", ");
        (
            format!("{list}, "),
            format!(" GROUP BY {list} ORDER BY {}", order(&cols)),
        )
    };
    let sql = format!(
        "SELECT {select}{STATS_SQL} FROM \
         (SELECT *, CAST(overhead_us AS DOUBLE) AS o FROM decisions WHERE {filter}){group}"
    );
    let mut out = Vec::new();
    for b in &trail.sql(&sql).await? {
        let groups: Vec<Vec<Option<String>>> =
            cols.iter().map(|c| strings(b, c)).collect::<Result<_>>()?;
        let f = |n: &str| floats(b, n);
        let i = |n: &str| ints(b, n);
        let (decisions, measured, min, max) =
            (i("decisions")?, i("measured")?, i("min_us")?, i("max_us")?);
        let (mean, p5, p25, p50, p75, p95, p99) = (
            f("mean_us")?,
            f("p5_us")?,
            f("p25_us")?,
            f("p50_us")?,
            f("p75_us")?,
            f("p95_us")?,
            f("p99_us")?,
        );
        let (a50, a95, a99) = (
            f("p50_approx_us")?,
            f("p95_approx_us")?,
            f("p99_approx_us")?,
        );
        for r in 0..b.num_rows() {
            out.push(Stats {
                group: groups.iter().map(|g| g[r].clone()).collect(),
                decisions: decisions[r].unwrap_or_default(),
                measured: measured[r].unwrap_or_default(),
                mean_us: mean[r],
                min_us: min[r],
                max_us: max[r],
                p5_us: p5[r],
                p25_us: p25[r],
                p50_us: p50[r],
                p75_us: p75[r],
                p95_us: p95[r],
                p99_us: p99[r],
                p5_approx_us: None,
                p25_approx_us: None,
                p50_approx_us: a50[r],
                p75_approx_us: None,
                p95_approx_us: a95[r],
                p99_approx_us: a99[r],
            });
        }
    }
    Ok(out)
}

fn order(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("{c} NULLS FIRST"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn compare(
    trail: &Trail,
    dims: &[Dim],
    filter: &str,
    a: &str,
    b: &str,
) -> Result<Comparison> {
    let mut all = vec![Dim::RuleSet];
    all.extend(dims.iter().copied().filter(|d| *d != Dim::RuleSet));
    let filter = format!("{filter} AND rule_set IN ({}, {})", quote(a), quote(b));
    let rows = stats(trail, &all, &filter).await?;
    let mut groups: Vec<Paired> = Vec::new();
    for mut s in rows {
        let rule_set = s.group.remove(0);
        let key = s.group.clone();
        let at = match groups.iter().position(|g| g.group == key) {
            Some(at) => at,
            None => {
                groups.push(Paired {
                    group: key,
                    a: None,
                    b: None,
                    p50_ratio: None,
                    p95_ratio: None,
                    p99_ratio: None,
                    p50_ci: None,
                    p95_ci: None,
                    p99_ci: None,
                });
                groups.len() - 1
            }
        };
        if rule_set.as_deref() == Some(a) {
            groups[at].a = Some(s);
        } else {
            groups[at].b = Some(s);
        }
    }
    // A rule set the window holds no decision of compares nothing: say so, with those it has.
    for (name, found) in [
        (a, groups.iter().any(|g| g.a.is_some())),
        (b, groups.iter().any(|g| g.b.is_some())),
    ] {
        if !found {
            let known = trail
                .sql("SELECT DISTINCT rule_set FROM decisions WHERE rule_set IS NOT NULL ORDER BY 1 LIMIT 20")
                .await?;
            let mut names = Vec::new();
            for batch in &known {
                names.extend(strings(batch, "rule_set")?.into_iter().flatten());
            }
            return Err(Error::NoRuleSet {
                rule_set: name.to_owned(),
                known: names,
            });
        }
    }
    for g in &mut groups {
        let ratio = |f: fn(&Stats) -> Option<f64>| {
            let (x, y) = (g.a.as_ref().and_then(f)?, g.b.as_ref().and_then(f)?);
            (x > 0.0).then(|| y / x)
        };
        g.p50_ratio = ratio(|s| s.p50_us);
        g.p95_ratio = ratio(|s| s.p95_us);
        g.p99_ratio = ratio(|s| s.p99_us);
    }
    super::interval::fill(trail, dims, &filter, (a, b), &mut groups).await?;
    Ok(Comparison {
        a: a.to_owned(),
        b: b.to_owned(),
        groups,
    })
}

impl Report {
    /// The report as one table (what the dashboard exports as CSV or Parquet): a row for all
    /// decisions (`group` columns null) and one per group; with a comparison, one row per
    /// group and rule set, and the B/A ratios on B's rows.
    pub fn to_batch(&self) -> Result<datafusion::arrow::record_batch::RecordBatch> {
        use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;
        let mut rows: Vec<(Option<&str>, &Stats, Option<&Paired>)> = Vec::new();
        match &self.comparison {
            None => {
                rows.push((None, &self.total, None));
                rows.extend(self.groups.iter().map(|g| (None, g, None)));
            }
            Some(c) => {
                for p in &c.groups {
                    if let Some(a) = &p.a {
                        rows.push((Some(c.a.as_str()), a, None));
                    }
                    if let Some(b) = &p.b {
                        rows.push((Some(c.b.as_str()), b, Some(p)));
                    }
                }
            }
        }
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (i, d) in self.group_by.iter().enumerate() {
            fields.push(Field::new(d.name(), DataType::Utf8, true));
            cols.push(Arc::new(StringArray::from_iter(
                rows.iter()
                    .map(|(_, s, _)| s.group.get(i).cloned().flatten()),
            )));
        }
        if self.comparison.is_some() {
            fields.push(Field::new("compared_rule_set", DataType::Utf8, true));
            cols.push(Arc::new(StringArray::from_iter(
                rows.iter().map(|(r, _, _)| r.map(str::to_owned)),
            )));
        }
        let int = |f: fn(&Stats) -> Option<i64>| -> ArrayRef {
            Arc::new(Int64Array::from_iter(rows.iter().map(|(_, s, _)| f(s))))
        };
        let float = |f: fn(&Stats) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from_iter(rows.iter().map(|(_, s, _)| f(s))))
        };
        type Of<T, U> = fn(&T) -> Option<U>;
        let ints: [(&str, Of<Stats, i64>); 4] = [
            ("decisions", |s| Some(s.decisions)),
            ("measured", |s| Some(s.measured)),
            ("min_us", |s| s.min_us),
            ("max_us", |s| s.max_us),
        ];
        for (name, f) in ints {
            fields.push(Field::new(name, DataType::Int64, true));
            cols.push(int(f));
        }
        let floats: [(&str, Of<Stats, f64>); 7] = [
            ("mean_us", |s| s.mean_us),
            ("p5_us", |s| s.p5_us.or(s.p5_approx_us)),
            ("p25_us", |s| s.p25_us.or(s.p25_approx_us)),
            ("p50_us", |s| s.p50_us.or(s.p50_approx_us)),
            ("p75_us", |s| s.p75_us.or(s.p75_approx_us)),
            ("p95_us", |s| s.p95_us.or(s.p95_approx_us)),
            ("p99_us", |s| s.p99_us.or(s.p99_approx_us)),
        ];
        for (name, f) in floats {
            fields.push(Field::new(name, DataType::Float64, true));
            cols.push(float(f));
        }
        if self.comparison.is_some() {
            let ratios: [(&str, Of<Paired, f64>); 3] = [
                ("p50_ratio", |p| p.p50_ratio),
                ("p95_ratio", |p| p.p95_ratio),
                ("p99_ratio", |p| p.p99_ratio),
            ];
            for (name, f) in ratios {
                fields.push(Field::new(name, DataType::Float64, true));
                cols.push(Arc::new(Float64Array::from_iter(
                    rows.iter().map(|(_, _, p)| p.and_then(f)),
                )));
            }
        }
        datafusion::arrow::record_batch::RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
            .map_err(|e| Error::Internal(format!("the overhead table: {e}")))
    }

    /// The report as text: one line per group, times in milliseconds.
    pub fn to_text(&self) -> String {
        let summaries = self.method == Method::Summaries;
        let mut header: Vec<&str> = self.group_by.iter().map(|d| d.name()).collect();
        header.extend(["decisions", "measured", "mean_ms", "min_ms", "max_ms"]);
        if summaries {
            header.extend(["p50~", "p95~", "p99~"]);
        } else {
            header.extend(["p50_ms", "p95_ms", "p99_ms", "p50~", "p95~", "p99~"]);
        }
        let row = |s: &Stats, label: Option<&str>| -> Vec<String> {
            let mut r: Vec<String> = match label {
                Some(l) => std::iter::once(l.to_owned())
                    .chain((1..self.group_by.len()).map(|_| String::new()))
                    .collect(),
                None => s
                    .group
                    .iter()
                    .map(|g| g.clone().unwrap_or_else(|| "(none)".into()))
                    .collect(),
            };
            r.extend([
                s.decisions.to_string(),
                s.measured.to_string(),
                ms(s.mean_us),
                ms(s.min_us.map(|v| v as f64)),
                ms(s.max_us.map(|v| v as f64)),
            ]);
            if !summaries {
                r.extend([ms(s.p50_us), ms(s.p95_us), ms(s.p99_us)]);
            }
            r.extend([
                ms(s.p50_approx_us),
                ms(s.p95_approx_us),
                ms(s.p99_approx_us),
            ]);
            r
        };
        let mut rows: Vec<Vec<String>> = self.groups.iter().map(|s| row(s, None)).collect();
        if self.group_by.is_empty() {
            rows.push(row(&self.total, None));
        } else {
            rows.push(row(&self.total, Some("(all)")));
        }
        let mut out = String::from(if summaries {
            "Governance overhead per decision (ms), from segment summaries: counts, mean, min and \
             max exact; ~ = from log-linear histograms, within 0.8% (--exact scans for exact \
             percentiles)\n"
        } else {
            "Governance overhead per decision (ms; ~ = t-digest approximation)\n"
        });
        if self.window != Window::default() {
            out.push_str(&format!(
                "window: {} .. {}\n",
                self.window.since.as_deref().unwrap_or("start"),
                self.window.until.as_deref().unwrap_or("end")
            ));
        }
        out.push_str(&table(&header, &rows));
        let share = if self.total.decisions > 0 {
            100.0 * self.total.measured as f64 / self.total.decisions as f64
        } else {
            0.0
        };
        out.push_str(&format!(
            "\n{} of {} decisions carry a measured overhead ({share:.1}%)",
            self.total.measured, self.total.decisions,
        ));
        if self.overhead_sources.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!(
                "; sources: {}\n",
                self.overhead_sources
                    .iter()
                    .map(|(s, n)| format!("{} {n}", s.as_deref().unwrap_or("(none)")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(c) = &self.comparison {
            out.push_str(&format!("\nRule set B ({}) against A ({}):\n", c.b, c.a));
            let mut header: Vec<&str> = self
                .group_by
                .iter()
                .filter(|d| **d != Dim::RuleSet)
                .map(|d| d.name())
                .collect();
            header.extend([
                "n_a", "n_b", "p50_a", "p50_b", "p95_a", "p95_b", "p99_a", "p99_b", "p50 b/a",
                "p95 b/a", "p99 b/a",
            ]);
            let rows: Vec<Vec<String>> = c
                .groups
                .iter()
                .map(|g| {
                    let mut r: Vec<String> = g
                        .group
                        .iter()
                        .map(|v| v.clone().unwrap_or_else(|| "(none)".into()))
                        .collect();
                    let n = |s: &Option<Stats>| s.as_ref().map_or(0, |s| s.measured).to_string();
                    // The ratio and its 95 % interval, when computed.
                    let ratio = |r: Option<f64>, ci: Option<(f64, f64)>| match (r, ci) {
                        (Some(r), Some((lo, hi))) => format!("{r:.2} [{lo:.2}, {hi:.2}]"),
                        (Some(r), None) => format!("{r:.2}"),
                        _ => "-".into(),
                    };
                    let p = |s: &Option<Stats>, f: fn(&Stats) -> Option<f64>| {
                        ms(s.as_ref().and_then(f))
                    };
                    r.extend([
                        n(&g.a),
                        n(&g.b),
                        p(&g.a, |s| s.p50_us),
                        p(&g.b, |s| s.p50_us),
                        p(&g.a, |s| s.p95_us),
                        p(&g.b, |s| s.p95_us),
                        p(&g.a, |s| s.p99_us),
                        p(&g.b, |s| s.p99_us),
                        ratio(g.p50_ratio, g.p50_ci),
                        ratio(g.p95_ratio, g.p95_ci),
                        ratio(g.p99_ratio, g.p99_ci),
                    ]);
                    r
                })
                .collect();
            out.push_str(&table(&header, &rows));
        }
        out
    }
}
