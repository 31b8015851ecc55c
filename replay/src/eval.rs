//! One bundle's entrypoint, evaluated on inputs with a supplied clock.

use std::cell::Cell;

use serde_json::Value;

use crate::{Bundle, Error};

/// The decisions an entrypoint may give (docs/RECORD.md §2).
pub const DECISIONS: [&str; 8] = [
    "allow", "deny", "ask", "warn", "escalate", "defer", "info", "error",
];

thread_local! {
    /// The time `time.now_ns()` returns to policies evaluated on this thread.
    static NOW_NS: Cell<i64> = const { Cell::new(0) };
}

/// What the entrypoint decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One of [`DECISIONS`].
    pub decision: String,
    /// The policy's reason, if it gave one.
    pub reason: Option<String>,
    /// Rule ids the decision rests on.
    pub rules: Vec<String>,
}

impl Outcome {
    /// The answer a Claude Code hook gives for this outcome on `event` (the hook protocol,
    /// docs/RECORD.md §5): PreToolUse maps the decision to a `permissionDecision`; other events
    /// block on deny, error, ask and escalate, and say nothing otherwise.
    pub fn hook_answer(&self, event: &str) -> Option<Value> {
        let reason = self.reason.clone().unwrap_or_default();
        if event == "PreToolUse" {
            let permission = match self.decision.as_str() {
                "allow" | "info" | "warn" => "allow",
                "ask" | "escalate" => "ask",
                "defer" => "defer",
                _ => "deny",
            };
            return Some(serde_json::json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": permission,
                "permissionDecisionReason": reason,
            }}));
        }
        match self.decision.as_str() {
            "deny" | "error" | "ask" | "escalate" => {
                Some(serde_json::json!({"decision": "block", "reason": reason}))
            }
            _ => None,
        }
    }
}

/// An engine loaded with a bundle, ready to evaluate its entrypoint. Each thread needs its own
/// (evaluation takes `&mut`); clones share the parsed policies.
#[derive(Clone)]
pub struct Evaluator {
    engine: regorus::Engine,
    entrypoint: String,
}

impl Evaluator {
    /// Loads `bundle` into an engine whose `time.now_ns` is the time passed to [`Self::eval`].
    pub fn new(bundle: &Bundle) -> Result<Self, Error> {
        let mut engine = bundle.engine()?;
        // Extensions are looked up before builtins, so this replaces the clock for policies.
        engine
            .add_extension(
                "time.now_ns".into(),
                0,
                Box::new(|_: Vec<regorus::Value>| Ok(regorus::Value::from(NOW_NS.with(Cell::get)))),
            )
            .map_err(|e| Error::rego(&bundle.root, &e))?;
        let mut this = Self {
            engine,
            entrypoint: bundle.entrypoint.clone(),
        };
        // The first evaluation prepares the engine; clones made after it share that work.
        let _ = this.eval(regorus::Value::new_object(), 0);
        Ok(this)
    }

    /// Evaluates the entrypoint on `input` at time `now_ns`. An error is the engine's message
    /// (with file and line) or what is wrong with the entrypoint's value.
    pub fn eval(&mut self, input: regorus::Value, now_ns: i64) -> Result<Outcome, String> {
        let value = self.eval_value(input, now_ns)?;
        outcome(&self.entrypoint, &value)
    }

    /// The entrypoint's value on `input` at time `now_ns`: regorus alone, which the replay
    /// benchmark compares replay with.
    pub fn eval_value(
        &mut self,
        input: regorus::Value,
        now_ns: i64,
    ) -> Result<regorus::Value, String> {
        NOW_NS.with(|c| c.set(now_ns));
        self.engine.set_input(input);
        self.engine
            .eval_rule(self.entrypoint.clone())
            .map_err(|e| e.to_string().trim().to_owned())
    }
}

/// Reads `{"decision": …, "reason": …, "rules": […]}` (a bare decision string is accepted too).
fn outcome(entry: &str, value: &regorus::Value) -> Result<Outcome, String> {
    let bad = |what: &str| format!("{entry} {what}, not {value}");
    let (decision, reason, rules) = match value {
        regorus::Value::Undefined => return Err(format!("{entry} is undefined for this input")),
        regorus::Value::String(s) => (s.to_string(), None, Vec::new()),
        regorus::Value::Object(o) => {
            let get = |k: &str| o.get(&regorus::Value::from(k));
            let decision = match get("decision") {
                Some(regorus::Value::String(s)) => s.to_string(),
                _ => return Err(bad("must give an object with a string \"decision\"")),
            };
            let reason = match get("reason") {
                None | Some(regorus::Value::Null) => None,
                Some(regorus::Value::String(s)) => Some(s.to_string()),
                Some(_) => return Err(bad("must give \"reason\" as a string")),
            };
            let rules = match get("rules") {
                None | Some(regorus::Value::Null) => Vec::new(),
                Some(regorus::Value::Array(a)) => {
                    strings(a.iter()).ok_or_else(|| bad("must give \"rules\" as strings"))?
                }
                Some(regorus::Value::Set(s)) => {
                    strings(s.iter()).ok_or_else(|| bad("must give \"rules\" as strings"))?
                }
                Some(_) => return Err(bad("must give \"rules\" as an array of strings")),
            };
            (decision, reason, rules)
        }
        _ => return Err(bad("must give an object with a \"decision\"")),
    };
    if !DECISIONS.contains(&decision.as_str()) {
        return Err(format!(
            "{entry} gave decision {decision:?}; expected one of {}",
            DECISIONS.join(", ")
        ));
    }
    Ok(Outcome {
        decision,
        reason,
        rules,
    })
}

fn strings<'a>(values: impl Iterator<Item = &'a regorus::Value>) -> Option<Vec<String>> {
    values
        .map(|v| match v {
            regorus::Value::String(s) => Some(s.to_string()),
            _ => None,
        })
        .collect()
}
