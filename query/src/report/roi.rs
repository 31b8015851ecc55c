//! `govtrail report roi`: governance overhead spent against waste prevented.
//!
//! Method (docs/REPORTS.md §ROI):
//! - **Cost.** The measured overhead of every decision in the window, summed, in minutes of
//!   waiting, priced at the cost model's `micros_per_minute`. Decisions without a measured
//!   overhead are counted and, separately, estimated at the window's mean (marked as such).
//! - **Waste prevented.** Each incident (tokens wasted, minutes lost, rules involved) is
//!   valued at `tokens × micros_per_token + minutes × micros_per_minute`. A blocking decision
//!   (deny, ask, escalate) in the window that names one of the incident's rules is a prevented
//!   recurrence. The report gives a lower bound (an incident whose rules blocked at least once
//!   counts once) and an upper bound (every such block counts as one recurrence), because the
//!   records cannot say how many blocks were real recurrences.
//! - **Traceability.** Every figure lists its inputs: the decision count and overhead sum it
//!   came from, and per incident the number of blocking decisions with sample decision ids.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Window, floats, ints, quote, strings, table};
use crate::{Error, Result, Trail};

/// Prices, in integer micro-units of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    /// The currency (e.g. `USD`).
    pub currency: String,
    /// Price of one token, in micro-units (15 = 15 per million tokens).
    pub micros_per_token: i64,
    /// Cost of one minute of a person's (or agent session's) time, in micro-units.
    pub micros_per_minute: i64,
}

impl CostModel {
    /// Reads a cost model from a JSON file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: None,
            message: e.to_string(),
        })?;
        Self::from_json(&bytes).map_err(|(line, message)| Error::Input {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Parses a cost model from JSON; an error gives the line (when known) and what is wrong
    /// where ("at /micros_per_token: …").
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, (Option<usize>, String)> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let model: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            (
                Some(e.inner().line()),
                format!(
                    "at /{}: {}",
                    e.path().to_string().replace('.', "/"),
                    e.inner()
                ),
            )
        })?;
        for (name, v) in [
            ("micros_per_token", model.micros_per_token),
            ("micros_per_minute", model.micros_per_minute),
        ] {
            if v < 0 {
                return Err((
                    None,
                    format!("at /{name}: a price must not be negative ({v})"),
                ));
            }
        }
        Ok(model)
    }
}

/// One incident (the type replay judges too): see [`schemas::Incident`].
pub use schemas::Incident;

/// Reads incidents from a JSON or CSV file (see [`schemas::parse_incidents`]).
pub fn read_incidents(path: &Path) -> Result<Vec<Incident>> {
    let err = |line: Option<usize>, message: String| Error::Input {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, e.to_string()))?;
    schemas::parse_incidents(&text).map_err(|(line, message)| err(line, message))
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct Options {
    /// The window.
    pub window: Window,
    /// The incidents.
    pub incidents: Vec<Incident>,
    /// The prices.
    pub cost: CostModel,
}

/// The cost side.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cost {
    /// Decisions in the window.
    pub decisions: i64,
    /// Decisions with a measured overhead.
    pub measured: i64,
    /// Sum of measured overhead, microseconds.
    pub overhead_us: i64,
    /// Mean measured overhead, microseconds.
    pub mean_us: Option<f64>,
    /// Overhead of unmeasured decisions estimated at the mean, microseconds (an estimate).
    pub unmeasured_estimate_us: i64,
    /// Measured overhead in minutes.
    pub minutes: f64,
    /// Measured overhead priced, micro-units.
    pub micros: i64,
}

/// One incident's prevention evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prevented {
    /// The incident.
    pub incident: Incident,
    /// Its waste, priced, micro-units.
    pub waste_micros: i64,
    /// Blocking decisions in the window that name one of its rules.
    pub blocks: i64,
    /// Up to five of their decision ids.
    pub sample_decision_ids: Vec<String>,
}

/// The ROI report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = RoiReport))]
pub struct Report {
    /// The window.
    pub window: Window,
    /// The prices.
    pub cost_model: CostModel,
    /// The cost side.
    pub cost: Cost,
    /// Per incident.
    pub incidents: Vec<Prevented>,
    /// Waste prevented, lower bound (each incident with a block counts once), micro-units.
    pub prevented_low_micros: i64,
    /// Waste prevented, upper bound (each block is a recurrence), micro-units.
    pub prevented_high_micros: i64,
    /// Minutes prevented, lower and upper bound.
    pub minutes_prevented: (i64, i64),
    /// Prevented (low) / cost.
    pub ratio_low: Option<f64>,
    /// Prevented (high) / cost.
    pub ratio_high: Option<f64>,
    /// Blocking decisions in the window (deny, ask, escalate).
    pub blocking: i64,
}

/// Computes the report.
pub async fn report(trail: &Trail, opts: &Options) -> Result<Report> {
    let filter = opts.window.condition();
    let b = trail.sql(&format!(
        "SELECT count(*) AS decisions, count(overhead_us) AS measured, \
         CAST(coalesce(sum(overhead_us), 0) AS BIGINT) AS overhead_us, avg(CAST(overhead_us AS DOUBLE)) AS mean_us, \
         CAST(sum(CASE WHEN decision IN ('deny', 'ask', 'escalate') THEN 1 ELSE 0 END) AS BIGINT) AS blocking \
         FROM decisions WHERE {filter} AND NOT is_rule_set"
    )).await?;
    let b = b
        .first()
        .ok_or_else(|| Error::Internal("a total has one row".into()))?;
    let decisions = ints(b, "decisions")?[0].unwrap_or_default();
    let measured = ints(b, "measured")?[0].unwrap_or_default();
    let overhead_us = ints(b, "overhead_us")?[0].unwrap_or_default();
    let mean_us = floats(b, "mean_us")?[0];
    let blocking = ints(b, "blocking")?[0].unwrap_or_default();
    let minutes = overhead_us as f64 / 60e6;
    let price = |minutes: f64| (minutes * opts.cost.micros_per_minute as f64).round() as i64;
    let cost = Cost {
        decisions,
        measured,
        overhead_us,
        mean_us,
        unmeasured_estimate_us: mean_us
            .map_or(0, |m| (m * (decisions - measured) as f64).round() as i64),
        minutes,
        micros: price(minutes),
    };
    // One scan for every incident: the blocking decisions naming any incident's rule, as
    // (rule id, index, decision id), grouped per incident below.
    let mut all_rules: Vec<&str> = opts
        .incidents
        .iter()
        .flat_map(|i| i.rule_ids.iter().map(String::as_str))
        .collect();
    all_rules.sort_unstable();
    all_rules.dedup();
    let mut hits: std::collections::BTreeMap<String, Vec<(i64, String)>> = Default::default();
    if !all_rules.is_empty() {
        let rules = all_rules
            .iter()
            .map(|r| quote(r))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT DISTINCT rule_id, idx, decision_id FROM rule_hits \
             WHERE rule_id IN ({rules}) AND decision IN ('deny', 'ask', 'escalate') AND {filter}"
        );
        for b in &trail.sql(&sql).await? {
            let (rule, idx, id) = (
                strings(b, "rule_id")?,
                ints(b, "idx")?,
                strings(b, "decision_id")?,
            );
            for r in 0..b.num_rows() {
                if let (Some(rule), Some(idx), Some(id)) = (&rule[r], idx[r], &id[r]) {
                    hits.entry(rule.clone())
                        .or_default()
                        .push((idx, id.clone()));
                }
            }
        }
    }
    let mut incidents = Vec::new();
    // Incidents naming the same rules share their blocks: counted once per set of rules (a
    // thousand incidents of one rule would otherwise sort its hits a thousand times).
    let mut by_rules: std::collections::BTreeMap<Vec<&str>, (i64, Vec<String>)> =
        Default::default();
    for inc in &opts.incidents {
        let waste_micros = inc
            .tokens_wasted
            .saturating_mul(opts.cost.micros_per_token)
            .saturating_add(inc.minutes_lost.saturating_mul(opts.cost.micros_per_minute));
        let mut rules: Vec<&str> = inc.rule_ids.iter().map(String::as_str).collect();
        rules.sort_unstable();
        rules.dedup();
        let (blocks, samples) = by_rules
            .entry(rules)
            .or_insert_with_key(|rules| {
                // Decisions naming several of the incident's rules count once.
                let mut blocks: Vec<&(i64, String)> = rules
                    .iter()
                    .filter_map(|r| hits.get(*r))
                    .flatten()
                    .collect();
                blocks.sort_unstable();
                blocks.dedup_by_key(|b| b.0);
                (
                    blocks.len() as i64,
                    blocks.iter().take(5).map(|b| b.1.clone()).collect(),
                )
            })
            .clone();
        incidents.push(Prevented {
            incident: inc.clone(),
            waste_micros,
            blocks,
            sample_decision_ids: samples,
        });
    }
    // Saturating: incidents come from a file and may hold absurd figures.
    let sum = |it: &mut dyn Iterator<Item = i64>| it.fold(0i64, i64::saturating_add);
    let low = sum(&mut incidents
        .iter()
        .filter(|p| p.blocks > 0)
        .map(|p| p.waste_micros));
    let high = sum(&mut incidents
        .iter()
        .map(|p| p.waste_micros.saturating_mul(p.blocks)));
    let min_low = sum(&mut incidents
        .iter()
        .filter(|p| p.blocks > 0)
        .map(|p| p.incident.minutes_lost));
    let min_high = sum(&mut incidents
        .iter()
        .map(|p| p.incident.minutes_lost.saturating_mul(p.blocks)));
    let ratio = |x: i64| (cost.micros > 0).then(|| x as f64 / cost.micros as f64);
    Ok(Report {
        window: opts.window.clone(),
        cost_model: opts.cost.clone(),
        ratio_low: ratio(low),
        ratio_high: ratio(high),
        cost,
        incidents,
        prevented_low_micros: low,
        prevented_high_micros: high,
        minutes_prevented: (min_low, min_high),
        blocking,
    })
}

fn money(micros: i64, currency: &str) -> String {
    format!("{:.2} {currency}", micros as f64 / 1e6)
}

impl Report {
    /// The report as text.
    pub fn to_text(&self) -> String {
        let c = &self.cost;
        let cur = &self.cost_model.currency;
        let mut out = String::from("Governance ROI\n");
        out.push_str(&format!(
            "Cost: {} decisions, {} with measured overhead ({:.1}%), {:.1} s in total ({:.2} min) = {}\n",
            c.decisions,
            c.measured,
            if c.decisions > 0 { 100.0 * c.measured as f64 / c.decisions as f64 } else { 0.0 },
            c.overhead_us as f64 / 1e6,
            c.minutes,
            money(c.micros, cur)
        ));
        if c.decisions > c.measured {
            out.push_str(&format!(
                "      (estimate for the {} unmeasured decisions at the mean: +{:.1} s, not included)\n",
                c.decisions - c.measured,
                c.unmeasured_estimate_us as f64 / 1e6
            ));
        }
        out.push_str(&format!(
            "Blocking decisions (deny/ask/escalate): {}\n\n",
            self.blocking
        ));
        let rows: Vec<Vec<String>> = self
            .incidents
            .iter()
            .map(|p| {
                vec![
                    p.incident.id.clone(),
                    p.incident.tokens_wasted.to_string(),
                    p.incident.minutes_lost.to_string(),
                    money(p.waste_micros, cur),
                    p.incident.rule_ids.join(","),
                    p.blocks.to_string(),
                    p.sample_decision_ids.join(" "),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "incident",
                "tokens",
                "minutes",
                "waste",
                "rules",
                "blocks",
                "sample decisions",
            ],
            &rows,
        ));
        out.push_str(&format!(
            "\nWaste prevented: {} (each incident with a block once) to {} (each block a recurrence)\n",
            money(self.prevented_low_micros, cur),
            money(self.prevented_high_micros, cur)
        ));
        out.push_str(&format!(
            "Minutes prevented: {} to {}, against {:.2} minutes of overhead\n",
            self.minutes_prevented.0, self.minutes_prevented.1, c.minutes
        ));
        let r = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.0}"));
        out.push_str(&format!(
            "Benefit / cost: {} to {}\n",
            r(self.ratio_low),
            r(self.ratio_high)
        ));
        out.push_str("Caveat: a block on an incident's rule is evidence, not proof, that it prevented a recurrence; no baseline without governance exists in these records.\n");
        out
    }
}

/// The incidents as an Arrow batch: `id`, `title`, `ts`, `session_id`, `tokens_wasted`,
/// `minutes_lost`, `rule_ids`.
pub(crate) fn incidents_batch(
    incidents: &[Incident],
) -> Result<datafusion::arrow::record_batch::RecordBatch> {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array, ListBuilder, StringArray, StringBuilder};
    use datafusion::arrow::record_batch::RecordBatch;
    let text = |f: fn(&Incident) -> Option<&str>| -> ArrayRef {
        Arc::new(incidents.iter().map(f).collect::<StringArray>())
    };
    let mut rules = ListBuilder::new(StringBuilder::new());
    for i in incidents {
        for r in &i.rule_ids {
            rules.values().append_value(r);
        }
        rules.append(true);
    }
    RecordBatch::try_from_iter(vec![
        ("id", text(|i| Some(i.id.as_str()))),
        ("title", text(|i| i.title.as_deref())),
        ("ts", text(|i| i.ts.as_deref())),
        ("session_id", text(|i| i.session_id.as_deref())),
        (
            "tokens_wasted",
            Arc::new(
                incidents
                    .iter()
                    .map(|i| i.tokens_wasted)
                    .collect::<Int64Array>(),
            ) as ArrayRef,
        ),
        (
            "minutes_lost",
            Arc::new(
                incidents
                    .iter()
                    .map(|i| i.minutes_lost)
                    .collect::<Int64Array>(),
            ) as ArrayRef,
        ),
        ("rule_ids", Arc::new(rules.finish()) as ArrayRef),
    ])
    .map_err(|e| Error::Internal(format!("incidents table: {e}")))
}
