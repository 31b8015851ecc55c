//! `govtrail report rca`: what happened in one session. The timeline of decisions in time
//! order (which service and rule decided, why, intended against effective outcome), the first
//! deny, ask and divergence, the context-pressure trend, and attribution: which attribute
//! values are over-represented among the session's adverse decisions compared with a baseline
//! (the rest of the session, or the rest of the ledger), ranked by the difference of shares as
//! Honeycomb's BubbleUp ranks dimensions.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{floats, ints, quote, string_lists, strings, table};
use crate::{Error, Result, Trail};

/// Decisions that count as adverse: the policy stopped or questioned the action, failed, or
/// the platform did something other than what the policy said.
const ADVERSE_SQL: &str = "(decision IN ('deny', 'ask', 'escalate', 'error') OR \
     (decision IN ('deny', 'ask', 'escalate') AND outcome IN ('executed', 'allowed', 'overridden', 'failed_open')) OR \
     (decision = 'allow' AND outcome IN ('blocked', 'denied')))";

/// Which effective outcomes contradict an intended decision.
fn divergent(decision: &str, outcome: Option<&str>) -> bool {
    matches!(
        (decision, outcome),
        (
            "deny" | "ask" | "escalate",
            Some("executed" | "allowed" | "overridden" | "failed_open")
        ) | ("allow", Some("blocked" | "denied"))
            | ("error", Some("failed_open"))
    )
}

/// What the adverse decisions are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The session's other decisions.
    #[default]
    Session,
    /// Every other decision in the ledger.
    Ledger,
}

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The session.
    pub session_id: String,
    /// The baseline for attribution.
    pub baseline: Baseline,
    /// The incident the session is analysed for, when the analysis started from one.
    pub incident: Option<String>,
}

/// One decision of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    /// Ledger index.
    pub idx: i64,
    /// Time, RFC 3339 UTC.
    pub ts: String,
    /// Microseconds since the epoch.
    pub ts_us: i64,
    /// The decision id.
    pub decision_id: String,
    /// The service that decided.
    pub service: Option<String>,
    /// The source's event.
    pub event: Option<String>,
    /// The tool.
    pub tool_name: Option<String>,
    /// The agent platform.
    pub platform: Option<String>,
    /// The intended decision.
    pub decision: String,
    /// The engine's own decision string.
    pub decision_native: Option<String>,
    /// What the platform did, when known.
    pub outcome: Option<String>,
    /// The rules checked or fired.
    pub rule_ids: Vec<String>,
    /// The rule set in force.
    pub rule_set: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Overhead in microseconds.
    pub overhead_us: Option<i64>,
    /// Context pressure (0..1), when the record carries one.
    pub pressure: Option<f64>,
    /// Context-pressure level, when the record carries one.
    pub pressure_level: Option<String>,
    /// The platform did something other than what the policy intended.
    pub divergent: bool,
    /// What happened to the tool call after this gate decision (the `effective` view: `ran`,
    /// `failed`, `refused`, `not_run`), when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    /// The intended and the effective outcome disagree: how (`denied but ran`, `allowed but
    /// failed`, `asked and refused`, `failed open and ran`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<String>,
}

/// The pressure trend over the session.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pressure {
    /// Readings.
    pub readings: usize,
    /// First reading.
    pub first: f64,
    /// Last reading.
    pub last: f64,
    /// Highest reading.
    pub max: f64,
    /// Index of the highest reading.
    pub max_idx: i64,
    /// `rising`, `falling` or `stable` (last against first, ±0.05).
    pub trend: String,
    /// Levels in the order first seen.
    pub levels: Vec<String>,
}

/// One attribute value and how over-represented it is among adverse decisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attribution {
    /// The attribute (`tool_name`, `rule_id`, `model`, `rule_set`, `service`, `platform`).
    pub attribute: String,
    /// Its value.
    pub value: String,
    /// Adverse decisions with this value.
    pub adverse: i64,
    /// Share of adverse decisions with this value.
    pub adverse_share: f64,
    /// Baseline decisions with this value.
    pub baseline: i64,
    /// Share of baseline decisions with this value.
    pub baseline_share: f64,
    /// `adverse_share - baseline_share`.
    pub difference: f64,
}

/// The root-cause report of one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = RcaReport))]
pub struct Report {
    /// The session.
    pub session_id: String,
    /// The incident it was analysed for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// Decisions by intended decision.
    pub counts: BTreeMap<String, i64>,
    /// First decision time.
    pub first_ts: Option<String>,
    /// Last decision time.
    pub last_ts: Option<String>,
    /// Position in `timeline` of the first deny.
    pub first_deny: Option<usize>,
    /// Position of the first ask.
    pub first_ask: Option<usize>,
    /// Position of the first divergence between intended decision and outcome.
    pub first_divergence: Option<usize>,
    /// The pressure trend, when records carry pressure.
    pub pressure: Option<Pressure>,
    /// The baseline used for attribution.
    pub baseline: Baseline,
    /// Adverse decisions in the session.
    pub adverse: i64,
    /// Over-represented attribute values, most over-represented first (difference > 0).
    pub attribution: Vec<Attribution>,
    /// Every decision of the session, by time (ledger order among equal times).
    pub timeline: Vec<Step>,
}

/// Attributes compared, with the SQL expression giving their values in a decision (rule ids
/// are a list: one row per distinct id).
const ATTRIBUTES: [(&str, &str); 6] = [
    ("tool_name", "tool_name"),
    ("service", "service"),
    ("model", "model"),
    ("rule_set", "rule_set"),
    ("platform", "platform"),
    ("rule_id", "unnest(array_distinct(rule_ids))"),
];

/// What happened to the tool call of gate decision `idx` of session `session_id` (the
/// `effective` view's `effective` and `divergence`, read for that session only): `None` when
/// the record is not a gate decision with a tool-use id.
pub async fn effective_of(
    trail: &Trail,
    session_id: &str,
    idx: i64,
) -> Result<Option<(Option<String>, Option<String>)>> {
    let sql = format!(
        "SELECT effective, divergence FROM ({}) WHERE idx = {idx}",
        crate::trail::effective_sql(&format!("session_id = {}", quote(session_id)))
    );
    for b in &trail.sql(&sql).await? {
        if b.num_rows() > 0 {
            let (e, d) = (strings(b, "effective")?, strings(b, "divergence")?);
            return Ok(Some((e[0].clone(), d[0].clone())));
        }
    }
    Ok(None)
}

/// Computes the report.
pub async fn report(trail: &Trail, opts: &Options) -> Result<Report> {
    let sid = quote(&opts.session_id);
    let sql = format!(
        "SELECT d.idx AS idx, CAST(d.ts AS BIGINT) AS ts_us, \
         to_char(d.ts, '%Y-%m-%dT%H:%M:%S%.6fZ') AS ts_text, \
         d.decision_id AS decision_id, d.service AS service, d.event AS event, \
         d.tool_name AS tool_name, d.platform AS platform, d.decision AS decision, \
         d.decision_native AS decision_native, d.outcome AS outcome, d.rule_ids AS rule_ids, \
         d.rule_set AS rule_set, d.model AS model, d.reason AS reason, \
         d.overhead_us AS overhead_us, \
         json_float(d.record, '/metadata/overall_pressure') AS pressure, \
         json_str(d.record, '/metadata/pressure_level') AS pressure_level, \
         e.effective AS effective, e.divergence AS divergence \
         FROM decisions d LEFT JOIN ({}) e ON d.idx = e.idx \
         WHERE d.session_id = {sid} ORDER BY d.ts, d.idx",
        // The session's own gates and events only (the global view reads every record).
        crate::trail::effective_sql(&format!("session_id = {sid}"))
    );
    let mut timeline = Vec::new();
    for b in &trail.sql(&sql).await? {
        let (idx, ts_us, ts) = (ints(b, "idx")?, ints(b, "ts_us")?, strings(b, "ts_text")?);
        let s = |n: &str| strings(b, n);
        let (id, service, event, tool, decision) = (
            s("decision_id")?,
            s("service")?,
            s("event")?,
            s("tool_name")?,
            s("decision")?,
        );
        let platform = s("platform")?;
        let (native, outcome, rule_set, model, reason, level) = (
            s("decision_native")?,
            s("outcome")?,
            s("rule_set")?,
            s("model")?,
            s("reason")?,
            s("pressure_level")?,
        );
        let (effective, divergence) = (s("effective")?, s("divergence")?);
        let (rules, overhead, pressure) = (
            string_lists(b, "rule_ids")?,
            ints(b, "overhead_us")?,
            floats(b, "pressure")?,
        );
        for r in 0..b.num_rows() {
            let decision = decision[r].clone().unwrap_or_default();
            timeline.push(Step {
                idx: idx[r].unwrap_or_default(),
                ts: ts[r].clone().unwrap_or_default(),
                ts_us: ts_us[r].unwrap_or_default(),
                decision_id: id[r].clone().unwrap_or_default(),
                service: service[r].clone(),
                event: event[r].clone(),
                tool_name: tool[r].clone(),
                platform: platform[r].clone(),
                divergent: divergent(&decision, outcome[r].as_deref()) || divergence[r].is_some(),
                effective: effective[r].clone(),
                divergence: divergence[r].clone(),
                decision,
                decision_native: native[r].clone(),
                outcome: outcome[r].clone(),
                rule_ids: rules[r].clone(),
                rule_set: rule_set[r].clone(),
                model: model[r].clone(),
                reason: reason[r].clone(),
                overhead_us: overhead[r],
                pressure: pressure[r],
                pressure_level: level[r].clone(),
            });
        }
    }
    if timeline.is_empty() {
        return Err(Error::NoSession {
            session_id: opts.session_id.clone(),
        });
    }
    let mut counts = BTreeMap::new();
    for s in &timeline {
        *counts.entry(s.decision.clone()).or_insert(0) += 1;
    }
    let first = |p: &dyn Fn(&Step) -> bool| timeline.iter().position(p);
    let first_deny = first(&|s| s.decision == "deny");
    let first_ask = first(&|s| s.decision == "ask");
    let first_divergence = first(&|s| s.divergent);
    let pressure = pressure_trend(&timeline);
    let (adverse, attribution) = match opts.baseline {
        // The timeline holds every row the comparison needs: no second read.
        Baseline::Session => attribute_in_session(&timeline),
        Baseline::Ledger => attribute(trail, &sid).await?,
    };
    Ok(Report {
        session_id: opts.session_id.clone(),
        incident: opts.incident.clone(),
        counts,
        first_ts: timeline.first().map(|s| s.ts.clone()),
        last_ts: timeline.last().map(|s| s.ts.clone()),
        first_deny,
        first_ask,
        first_divergence,
        pressure,
        baseline: opts.baseline,
        adverse,
        attribution,
        timeline,
    })
}

fn pressure_trend(timeline: &[Step]) -> Option<Pressure> {
    let readings: Vec<(i64, f64)> = timeline
        .iter()
        .filter_map(|s| s.pressure.map(|p| (s.idx, p)))
        .collect();
    let (&(_, first), &(_, last)) = (readings.first()?, readings.last()?);
    let (max_idx, max) = readings
        .iter()
        .copied()
        .fold((0, f64::MIN), |m, r| if r.1 > m.1 { r } else { m });
    let mut levels: Vec<String> = Vec::new();
    for l in timeline.iter().filter_map(|s| s.pressure_level.as_ref()) {
        if !levels.contains(l) {
            levels.push(l.clone());
        }
    }
    let trend = if last - first > 0.05 {
        "rising"
    } else if first - last > 0.05 {
        "falling"
    } else {
        "stable"
    };
    Some(Pressure {
        readings: readings.len(),
        first,
        last,
        max,
        max_idx,
        trend: trend.into(),
        levels,
    })
}

/// Whether a step counts as adverse (the same rule as `ADVERSE_SQL`).
fn adverse(s: &Step) -> bool {
    matches!(s.decision.as_str(), "deny" | "ask" | "escalate" | "error") || s.divergent
}

/// Attribution against the rest of the session, from the timeline itself.
fn attribute_in_session(timeline: &[Step]) -> (i64, Vec<Attribution>) {
    let n_adverse = timeline.iter().filter(|s| adverse(s)).count() as i64;
    let n_base = timeline.len() as i64 - n_adverse;
    if n_adverse == 0 {
        return (0, Vec::new());
    }
    // (attribute, value) → (adverse, baseline) decision counts.
    let mut counts: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    for s in timeline {
        let mut values: Vec<(&str, &str)> = [
            ("tool_name", &s.tool_name),
            ("service", &s.service),
            ("model", &s.model),
            ("rule_set", &s.rule_set),
            ("platform", &s.platform),
        ]
        .into_iter()
        .filter_map(|(a, v)| v.as_deref().map(|v| (a, v)))
        .collect();
        let mut rules: Vec<&str> = s.rule_ids.iter().map(String::as_str).collect();
        rules.sort_unstable();
        rules.dedup();
        values.extend(rules.into_iter().map(|r| ("rule_id", r)));
        for key in values {
            let c = counts.entry(key).or_default();
            if adverse(s) {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
    }
    let mut out: Vec<Attribution> = counts
        .into_iter()
        .filter_map(|((attribute, value), (a, b))| {
            let adverse_share = a as f64 / n_adverse as f64;
            let baseline_share = if n_base > 0 {
                b as f64 / n_base as f64
            } else {
                0.0
            };
            let difference = adverse_share - baseline_share;
            (a > 0 && difference > 0.0).then(|| Attribution {
                attribute: attribute.into(),
                value: value.into(),
                adverse: a,
                adverse_share,
                baseline: b,
                baseline_share,
                difference,
            })
        })
        .collect();
    rank(&mut out);
    (n_adverse, out)
}

fn rank(out: &mut Vec<Attribution>) {
    out.sort_by(|x, y| {
        y.difference
            .total_cmp(&x.difference)
            .then_with(|| x.attribute.cmp(&y.attribute))
            .then_with(|| x.value.cmp(&y.value))
    });
    out.truncate(15);
}

/// Counts per attribute value among the session's adverse decisions and among every other
/// decision of the ledger: one scan for the totals and one aggregate per attribute, each
/// decision counted once per value (its distinct rule ids, for `rule_id`).
async fn attribute(trail: &Trail, sid: &str) -> Result<(i64, Vec<Attribution>)> {
    // `adv` is 1 for the session's adverse decisions, 0 for every other decision.
    let adv = format!("CASE WHEN session_id = {sid} AND {ADVERSE_SQL} THEN 1 ELSE 0 END");
    let totals = trail.sql(&format!(
        "SELECT CAST(sum(adv) AS BIGINT) AS adverse, CAST(count(*) - sum(adv) AS BIGINT) AS base \
         FROM (SELECT {adv} AS adv FROM decisions WHERE NOT is_rule_set)"
    )).await?;
    let (adverse, base) = match totals.first() {
        Some(b) if b.num_rows() > 0 => (
            ints(b, "adverse")?[0].unwrap_or_default(),
            ints(b, "base")?[0].unwrap_or_default(),
        ),
        _ => (0, 0),
    };
    let mut out = Vec::new();
    if adverse == 0 {
        return Ok((0, out));
    }
    for (name, value) in ATTRIBUTES {
        let sql = format!(
            "SELECT CAST(value AS VARCHAR) AS value, CAST(sum(adv) AS BIGINT) AS a, \
             CAST(count(*) - sum(adv) AS BIGINT) AS b \
             FROM (SELECT {value} AS value, {adv} AS adv FROM decisions WHERE NOT is_rule_set) \
             WHERE value IS NOT NULL GROUP BY value"
        );
        for b in &trail.sql(&sql).await? {
            let (values, a, bs) = (strings(b, "value")?, ints(b, "a")?, ints(b, "b")?);
            for r in 0..b.num_rows() {
                let (a, bn) = (a[r].unwrap_or_default(), bs[r].unwrap_or_default());
                let adverse_share = a as f64 / adverse as f64;
                let baseline_share = if base > 0 {
                    bn as f64 / base as f64
                } else {
                    0.0
                };
                let difference = adverse_share - baseline_share;
                if a > 0 && difference > 0.0 {
                    out.push(Attribution {
                        attribute: name.into(),
                        value: values[r].clone().unwrap_or_default(),
                        adverse: a,
                        adverse_share,
                        baseline: bn,
                        baseline_share,
                        difference,
                    });
                }
            }
        }
    }
    rank(&mut out);
    Ok((adverse, out))
}

impl Report {
    /// The report as text.
    pub fn to_text(&self) -> String {
        let mut out = format!("Session {}", self.session_id);
        if let Some(i) = &self.incident {
            out.push_str(&format!(" (incident {i})"));
        }
        out.push_str(&format!(
            "\n{} decisions from {} to {}: {}\n",
            self.timeline.len(),
            self.first_ts.as_deref().unwrap_or("-"),
            self.last_ts.as_deref().unwrap_or("-"),
            self.counts
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let at = |p: Option<usize>, what: &str| -> String {
            match p.and_then(|p| self.timeline.get(p)) {
                Some(s) => format!(
                    "first {what}: #{} at {} by {} on {} ({})\n",
                    s.idx,
                    s.ts,
                    s.service.as_deref().unwrap_or("?"),
                    s.tool_name.as_deref().or(s.event.as_deref()).unwrap_or("?"),
                    s.reason.as_deref().unwrap_or("no reason recorded")
                ),
                None => format!("first {what}: none\n"),
            }
        };
        out.push_str(&at(self.first_deny, "deny"));
        out.push_str(&at(self.first_ask, "ask"));
        out.push_str(&at(
            self.first_divergence,
            "divergence (intended ≠ effective)",
        ));
        match &self.pressure {
            Some(p) => out.push_str(&format!(
                "context pressure: {} ({:.3} → {:.3}, max {:.3} at #{}; {} readings; levels {})\n",
                p.trend,
                p.first,
                p.last,
                p.max,
                p.max_idx,
                p.readings,
                p.levels.join(" → ")
            )),
            None => out.push_str("context pressure: not recorded\n"),
        }
        out.push_str(&format!(
            "\nAttribution: {} adverse decisions against the {} baseline\n",
            self.adverse,
            match self.baseline {
                Baseline::Session => "rest-of-session",
                Baseline::Ledger => "rest-of-ledger",
            }
        ));
        if self.attribution.is_empty() {
            out.push_str("(nothing over-represented)\n");
        } else {
            let rows: Vec<Vec<String>> = self
                .attribution
                .iter()
                .map(|a| {
                    vec![
                        a.attribute.clone(),
                        a.value.clone(),
                        format!("{} ({:.0}%)", a.adverse, 100.0 * a.adverse_share),
                        format!("{} ({:.0}%)", a.baseline, 100.0 * a.baseline_share),
                        format!("{:+.0} pp", 100.0 * a.difference),
                    ]
                })
                .collect();
            out.push_str(&table(
                &["attribute", "value", "adverse", "baseline", "difference"],
                &rows,
            ));
        }
        out.push_str("\nTimeline\n");
        let rows: Vec<Vec<String>> = self
            .timeline
            .iter()
            .map(|s| {
                vec![
                    s.idx.to_string(),
                    s.ts.clone(),
                    s.service.clone().unwrap_or_default(),
                    s.tool_name
                        .clone()
                        .or_else(|| s.event.clone())
                        .unwrap_or_default(),
                    s.decision.clone(),
                    match (&s.outcome, &s.effective) {
                        (Some(o), Some(e)) => format!("{o}, {e}"),
                        (o, e) => o.clone().or_else(|| e.clone()).unwrap_or_default(),
                    },
                    if s.divergent {
                        "≠".into()
                    } else {
                        String::new()
                    },
                    s.rule_ids.join(","),
                    s.reason
                        .clone()
                        .unwrap_or_default()
                        .chars()
                        .take(60)
                        .collect(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "idx",
                "ts",
                "service",
                "tool/event",
                "decision",
                "outcome",
                "",
                "rules",
                "reason",
            ],
            &rows,
        ));
        out
    }
}
