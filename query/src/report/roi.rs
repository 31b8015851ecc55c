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
use serde_json::Value;

use super::{Window, floats, ints, quote, strings, table};
use crate::{Error, Result, Trail};

/// Prices, in integer micro-units of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let model: Self = serde_path_to_error::deserialize(de).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: Some(e.inner().line()),
            message: format!(
                "at /{}: {}",
                e.path().to_string().replace('.', "/"),
                e.inner()
            ),
        })?;
        for (name, v) in [
            ("micros_per_token", model.micros_per_token),
            ("micros_per_minute", model.micros_per_minute),
        ] {
            if v < 0 {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    line: None,
                    message: format!("at /{name}: a price must not be negative ({v})"),
                });
            }
        }
        Ok(model)
    }
}

/// One incident: waste that a governance decision could have prevented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// Its id (e.g. `INC-001`).
    pub id: String,
    /// A short title.
    pub title: Option<String>,
    /// When it happened (RFC 3339), when known.
    pub ts: Option<String>,
    /// The session it happened in, when known.
    pub session_id: Option<String>,
    /// Tokens wasted.
    pub tokens_wasted: i64,
    /// Minutes lost.
    pub minutes_lost: i64,
    /// Rules whose enforcement would have prevented it.
    pub rule_ids: Vec<String>,
}

/// Reads incidents from a JSON file (an array, or `{"incidents": [...]}`, in Tractatus's
/// `framework-incidents.json` shape or govtrail's own keys) or a CSV file with the header
/// `id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids` (rule ids separated by `;`;
/// plain CSV without quoting: fields may not contain commas).
pub fn read_incidents(path: &Path) -> Result<Vec<Incident>> {
    let err = |line: Option<usize>, message: String| Error::Input {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, e.to_string()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| err(Some(e.line()), format!("not JSON: {e}")))?;
        let list = match &v {
            Value::Array(a) => a,
            Value::Object(o) => o
                .get("incidents")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    err(
                        None,
                        "expected an array or an object with \"incidents\": [...]".into(),
                    )
                })?,
            _ => return Err(err(None, "expected an array of incidents".into())),
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| {
                incident_from_json(v).map_err(|m| err(None, format!("/incidents/{i}{m}")))
            })
            .collect()
    } else {
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = lines
            .next()
            .map(|(_, h)| h.split(',').map(str::trim).collect())
            .unwrap_or_default();
        let want = [
            "id",
            "title",
            "ts",
            "session_id",
            "tokens_wasted",
            "minutes_lost",
            "rule_ids",
        ];
        if header != want {
            return Err(err(
                Some(1),
                format!("CSV header must be {}", want.join(",")),
            ));
        }
        let mut out = Vec::new();
        for (n, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != want.len() {
                return Err(err(
                    Some(n + 1),
                    format!("{} fields, expected {}", f.len(), want.len()),
                ));
            }
            let int = |i: usize| -> Result<i64> {
                f[i].parse().ok().filter(|v: &i64| *v >= 0).ok_or_else(|| {
                    err(
                        Some(n + 1),
                        format!("{} is not a non-negative integer: {:?}", want[i], f[i]),
                    )
                })
            };
            let opt = |i: usize| (!f[i].is_empty()).then(|| f[i].to_owned());
            out.push(Incident {
                id: f[0].to_owned(),
                title: opt(1),
                ts: opt(2),
                session_id: opt(3),
                tokens_wasted: int(4)?,
                minutes_lost: int(5)?,
                rule_ids: f[6]
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// Maps one incident object; the error is a JSON pointer suffix and a message.
fn incident_from_json(v: &Value) -> Result<Incident, String> {
    let o = v.as_object().ok_or(": an incident must be an object")?;
    let first = |keys: &[&'static str]| -> Option<(&'static str, &Value)> {
        keys.iter()
            .find_map(|k| o.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
    };
    let text = |keys: &[&'static str]| -> Result<Option<String>, String> {
        match first(keys) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((k, _)) => Err(format!("/{k}: must be a string")),
        }
    };
    let number = |keys: &[&'static str], scale: f64| -> Result<i64, String> {
        match first(keys) {
            None => Ok(0),
            Some((k, v)) => v
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| (f * scale).round() as i64)
                .ok_or(format!("/{k}: must be a non-negative number")),
        }
    };
    let id =
        text(&["id", "incident_id", "incidentId"])?.ok_or("/id: every incident needs an id")?;
    let minutes = match first(&["minutes_lost", "minutesLost"]) {
        Some(_) => number(&["minutes_lost", "minutesLost"], 1.0)?,
        None => number(
            &[
                "hours_lost",
                "hoursLost",
                "time_lost_hours",
                "timeLostHours",
            ],
            60.0,
        )?,
    };
    let rule_ids = match first(&[
        "rule_ids",
        "rules",
        "rulesInvolved",
        "instructions",
        "related_instructions",
    ]) {
        None => Vec::new(),
        Some((k, Value::Array(a))) => a
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("/{k}: rule ids must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some((k, _)) => return Err(format!("/{k}: must be an array of rule ids")),
    };
    Ok(Incident {
        id,
        title: text(&["title", "description", "summary"])?,
        ts: text(&["ts", "timestamp", "date"])?,
        session_id: text(&["session_id", "sessionId"])?,
        tokens_wasted: number(&["tokens_wasted", "tokensWasted", "tokens"], 1.0)?,
        minutes_lost: minutes,
        rule_ids,
    })
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
pub fn report(trail: &Trail, opts: &Options) -> Result<Report> {
    let filter = opts.window.condition();
    let b = trail.sql(&format!(
        "SELECT count(*) AS decisions, count(overhead_us) AS measured, \
         CAST(coalesce(sum(overhead_us), 0) AS BIGINT) AS overhead_us, avg(CAST(overhead_us AS DOUBLE)) AS mean_us, \
         CAST(sum(CASE WHEN decision IN ('deny', 'ask', 'escalate') THEN 1 ELSE 0 END) AS BIGINT) AS blocking \
         FROM decisions WHERE {filter} AND NOT is_rule_set"
    ))?;
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
        for b in &trail.sql(&sql)? {
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
    for inc in &opts.incidents {
        let waste_micros = inc
            .tokens_wasted
            .saturating_mul(opts.cost.micros_per_token)
            .saturating_add(inc.minutes_lost.saturating_mul(opts.cost.micros_per_minute));
        // Decisions naming several of the incident's rules count once.
        let mut blocks: Vec<&(i64, String)> = inc
            .rule_ids
            .iter()
            .filter_map(|r| hits.get(r))
            .flatten()
            .collect();
        blocks.sort_unstable();
        blocks.dedup_by_key(|b| b.0);
        incidents.push(Prevented {
            incident: inc.clone(),
            waste_micros,
            blocks: blocks.len() as i64,
            sample_decision_ids: blocks.iter().take(5).map(|b| b.1.clone()).collect(),
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
