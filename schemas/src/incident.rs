//! Incidents: waste a governance decision could have prevented, as an incidents file gives
//! them (JSON in Tractatus's `framework-incidents.json` shape or govtrail's own keys, or CSV).
//! One type for every reader: ROI counts them, RCA starts from one, replay judges whether a
//! bundle would have stopped each.

use serde::Serialize;
use serde_json::Value;

/// One incident: waste that a governance decision could have prevented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// `ts` as µs since the epoch, when it is an RFC 3339 time (`None` when there is no `ts`
    /// or it is not one: a reader that needs the time says so).
    #[serde(skip)]
    pub ts_us: Option<i64>,
}

/// Reads incidents from a JSON file (an array, or `{"incidents": [...]}`, in Tractatus's
/// `framework-incidents.json` shape or govtrail's own keys) or a CSV file with the header
/// `id,title,ts,session_id,tokens_wasted,minutes_lost,rule_ids` (rule ids separated by `;`;
/// plain CSV without quoting: fields may not contain commas).
pub fn parse_incidents(text: &str) -> Result<Vec<Incident>, (Option<usize>, String)> {
    let err = |line: Option<usize>, message: String| (line, message);
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(text)
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
            .map(|r| r.map(Incident::with_time))
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
            let int = |i: usize| -> Result<i64, (Option<usize>, String)> {
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
                ts_us: None,
            });
        }
        Ok(out.into_iter().map(Incident::with_time).collect())
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
        ts_us: None,
    })
}

impl Incident {
    /// Fills [`Incident::ts_us`] from `ts`.
    fn with_time(mut self) -> Self {
        self.ts_us = self.ts.as_deref().and_then(crate::rfc3339_us);
        self
    }
}
