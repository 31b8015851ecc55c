//! Live decisions: a Claude Code hook payload decided with a rule bundle, as `govtrail decide`
//! (either evaluator) and a server's decide endpoint do (docs/REPLAY.md §5).
//!
//! The crate stays clock-free: the caller passes the time policies read (`time.now_ns`, the
//! call's start, which its record keeps so a replay gives the policy the same time) and the
//! wall time it measured. What this module owns:
//! - [`decide_stdin`]: the payload → the input replay rebuilds from the recorded stdin
//!   ([`crate::claude_code`]) → an evaluation, with a panic guard: a panicking engine is an
//!   evaluation error, never an exit Claude Code would read as a non-blocking failure;
//! - [`Decided::answer`]: the answer under the fail mode. Failing open is no answer (`defer`:
//!   the platform's own permission flow), never an `allow`; failing closed is `deny`;
//! - [`Resident`]: a bundle kept loaded and reloaded when its files change;
//! - [`envelope`]: the record of a decided call, the same for every evaluator.
//!
//! Transports (the Unix socket of `govtrail decide --serve`, HTTP) live with their front-ends.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Bundle, Engine, Evaluator, Outcome};

/// What a call answers when it cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// No answer: the platform's own permission flow decides.
    Open,
    /// `deny`.
    Closed,
}

impl FailMode {
    /// `open` or `closed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// What deciding one payload gave: the answer's event, the bundle's id when it loaded, the
/// outcome or why there is none. Also the resident evaluator's answer on its socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// The payload's `hook_event_name` (`PreToolUse` when it has none).
    pub event: String,
    /// The bundle's id, when it loaded.
    pub bundle_id: Option<String>,
    /// The decision, when the bundle gave one.
    pub decision: Option<String>,
    /// Its reason.
    pub reason: Option<String>,
    /// The rules that decided.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Why there is no decision.
    pub error: Option<String>,
    /// Set by a resident evaluator that will not answer this request (another bundle, another
    /// protocol): the caller decides in process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The resident evaluator recorded the call, durably: the caller does not record it.
    #[serde(default)]
    pub recorded: bool,
}

/// What a call answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The outcome, the fail mode's when the bundle gave none.
    pub outcome: Outcome,
    /// Why the bundle gave none.
    pub error: Option<String>,
    /// The hook's stdout: the answer's JSON and a newline, or nothing for no answer.
    pub stdout: String,
}

impl Decided {
    /// An answer refusing the request.
    pub fn refused(why: String) -> Self {
        Self {
            event: String::new(),
            bundle_id: None,
            decision: None,
            reason: None,
            rules: Vec::new(),
            error: None,
            refused: Some(why),
            recorded: false,
        }
    }

    /// The bundle's outcome, or why there is none.
    pub fn outcome(&self) -> Result<Outcome, String> {
        match (&self.error, &self.decision) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(decision)) => Ok(Outcome {
                decision: decision.clone(),
                reason: self.reason.clone(),
                rules: self.rules.clone(),
            }),
            (None, None) => Err("the evaluator gave no decision".into()),
        }
    }

    /// The call's answer under `fail`: the outcome (the fail mode's decision when there is
    /// none), the error if any, and the hook's stdout.
    pub fn answer(&self, fail: FailMode) -> Answer {
        let (outcome, error) = match self.outcome() {
            Ok(o) => (o, None),
            Err(e) => (
                Outcome {
                    // Failing open leaves the call to the platform's own permission flow
                    // (no answer), never an `allow` that would skip the user's prompt.
                    decision: match fail {
                        FailMode::Open => "defer",
                        FailMode::Closed => "deny",
                    }
                    .into(),
                    reason: Some(format!("govtrail decide failed {}: {e}", fail.name())),
                    rules: Vec::new(),
                },
                Some(e),
            ),
        };
        let stdout = outcome
            .hook_answer(&self.event)
            .map(|a| format!("{a}\n"))
            .unwrap_or_default();
        Answer {
            outcome,
            error,
            stdout,
        }
    }
}

/// The facts of one call that its record keeps besides the decision.
#[derive(Debug, Clone)]
pub struct CallFacts<'a> {
    /// The call's id (`ledger::spool::call_id`).
    pub id: &'a str,
    /// When the call began, µs since the epoch.
    pub started_us: i64,
    /// How long deciding took, µs.
    pub wall_us: i64,
    /// The call's fail mode.
    pub fail: FailMode,
    /// `resident`, `in-process` or `server`.
    pub evaluator: &'a str,
    /// Why the resident evaluator could not be used.
    pub server_error: Option<&'a str>,
    /// The hook's stdin.
    pub stdin: &'a [u8],
}

/// The `govtrail.hook` envelope of a decided call (docs/RECORD.md §5), as every evaluator
/// records it.
pub fn envelope(call: &CallFacts<'_>, decided: &Decided, answer: &Answer) -> schemas::HookEnvelope {
    use schemas::HookStream;
    let mut env = schemas::HookEnvelope::new(call.id.to_owned(), call.started_us);
    env.wall_us = Some(call.wall_us);
    env.overhead_source = Some("govtrail.decide.eval".into());
    env.argv = vec!["govtrail".into(), "decide".into()];
    env.exit_code = Some(0);
    env.engine = Some("govtrail".into());
    env.service = Some("govtrail.decide".into());
    env.fail_mode = Some(call.fail.name().into());
    env.evaluator = Some(call.evaluator.into());
    env.server_error = call.server_error.map(str::to_owned);
    env.rule_set = decided.bundle_id.clone();
    env.rule_ids = Some(answer.outcome.rules.clone());
    // The intended decision, which the answer alone cannot always show: `defer` is no answer.
    env.decision = Some(answer.outcome.decision.clone());
    env.reason = answer.outcome.reason.clone();
    env.error = answer.error.clone();
    env.set(HookStream::Stdin, call.stdin);
    env.set(HookStream::Stdout, answer.stdout.as_bytes());
    env.set(HookStream::Stderr, b"");
    env
}

/// What an evaluation gives: the bundle's id when it loaded, and the outcome or an error.
pub type Evaluated = (Option<String>, Result<Outcome, String>);

/// Decides `stdin` with `eval`, which maps the input to the bundle's id and outcome. Shared by
/// every evaluator, so a resident and an in-process decision differ only in where they ran.
pub fn decide_stdin(
    stdin: Result<&str, String>,
    eval: impl FnOnce(regorus::Value) -> Evaluated,
) -> Decided {
    // The input replay rebuilds from the recorded stdin (crate::claude_code), built the same way.
    let payload = stdin.and_then(|text| {
        crate::claude_code(text).ok_or_else(|| {
            match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => "stdin is not a JSON object".to_owned(),
                Err(e) => format!("stdin is not JSON: {e}"),
            }
        })
    });
    let event = payload
        .as_ref()
        .ok()
        .and_then(|p| p["hook_event_name"].as_string().ok().map(|s| s.to_string()))
        .unwrap_or_else(|| "PreToolUse".into());
    let (bundle_id, outcome) = match payload {
        Err(e) => (None, Err(e)),
        // A panic in the engine is an evaluation error, never an exit Claude Code would read as
        // a non-blocking failure (which lets the call through).
        Ok(input) => {
            std::panic::catch_unwind(AssertUnwindSafe(|| eval(input))).unwrap_or_else(|p| {
                (
                    None,
                    Err(format!("the evaluator panicked: {}", panic_text(&p))),
                )
            })
        }
    };
    let (decision, reason, rules, error) = match outcome {
        Ok(o) => (Some(o.decision), o.reason, o.rules, None),
        Err(e) => (None, None, Vec::new(), Some(e)),
    };
    Decided {
        event,
        bundle_id,
        decision,
        reason,
        rules,
        error,
        refused: None,
        recorded: false,
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Loads the bundle in `dir` and evaluates `input` at `now_ns`: one call's in-process
/// evaluation. It runs on the interpreter: compiling the bundle for the VM costs more than it
/// saves for one evaluation (both give the same answers: replay/tests/vm_vs_interpreter.rs).
pub fn load_and_eval(dir: &Path, input: regorus::Value, now_ns: i64) -> Evaluated {
    match Bundle::load(dir) {
        Err(e) => (None, Err(format!("bundle: {e}"))),
        Ok(b) => {
            let outcome = Evaluator::with_engine(&b, Engine::Interpreter)
                .map_err(|e| format!("bundle: {e}"))
                .and_then(|mut ev| ev.eval(input, now_ns));
            (Some(b.id), outcome)
        }
    }
}

/// A bundle kept loaded for many calls, reloaded when its files change: a resident
/// evaluator's, one per worker.
#[derive(Clone)]
#[expect(
    missing_debug_implementations,
    reason = "the evaluator holds regorus engines, which have no Debug"
)]
pub struct Resident {
    dir: PathBuf,
    loaded: Option<(Bundle, Evaluator)>,
    /// How long a check that the files are unchanged holds (zero: every call checks).
    recheck: std::time::Duration,
    checked: Option<std::time::Instant>,
}

impl Resident {
    /// Loads the bundle in `dir`: a broken bundle is an error here, not on every call.
    pub fn load(dir: &Path) -> Result<Self, crate::Error> {
        let bundle = Bundle::load(dir)?;
        let evaluator = Evaluator::new(&bundle)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            loaded: Some((bundle, evaluator)),
            recheck: std::time::Duration::ZERO,
            checked: None,
        })
    }

    /// Checks the bundle's files at most once per `every` instead of at every call: a change
    /// is then seen up to `every` late. A server deciding thousands of calls a second sets
    /// it (a check stats every file of the bundle); one call per process leaves it at zero.
    pub fn recheck_every(mut self, every: std::time::Duration) -> Self {
        self.recheck = every;
        self
    }

    /// Whether the loaded bundle is the one in the files (or was, less than `recheck` ago).
    #[expect(
        clippy::disallowed_methods,
        reason = "times the checks of the bundle's files, never given to a policy"
    )]
    fn current(&mut self) -> bool {
        let now = std::time::Instant::now();
        if !self.recheck.is_zero()
            && self.loaded.is_some()
            && self
                .checked
                .is_some_and(|t| now.duration_since(t) < self.recheck)
        {
            return true;
        }
        let current = self.loaded.as_mut().is_some_and(|(b, _)| b.is_current());
        self.checked = current.then_some(now);
        current
    }

    /// The loaded bundle's id, if one is loaded.
    pub fn bundle_id(&self) -> Option<&str> {
        self.loaded.as_ref().map(|(b, _)| b.id.as_str())
    }

    /// Evaluates `input` at `now_ns`, reloading the bundle first when its files changed (a
    /// bundle that does not load is retried on the next call: an edit may be half written).
    pub fn eval(&mut self, input: regorus::Value, now_ns: i64) -> Evaluated {
        if !self.current() {
            self.loaded = None;
            let loaded = Bundle::load(&self.dir).and_then(|b| {
                let ev = Evaluator::new(&b)?;
                Ok((b, ev))
            });
            match loaded {
                Ok(l) => self.loaded = Some(l),
                Err(e) => return (None, Err(format!("bundle: {e}"))),
            }
        }
        let Some((bundle, evaluator)) = self.loaded.as_mut() else {
            return (None, Err("bundle: not loaded".into()));
        };
        let id = bundle.id.clone();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| evaluator.eval(input, now_ns)));
        match outcome {
            Ok(o) => (Some(id), o),
            Err(p) => {
                // The engine's state after a panic is unknown: build it again next time.
                self.loaded = None;
                (
                    Some(id),
                    Err(format!("the evaluator panicked: {}", panic_text(&p))),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resident_sees_an_edited_bundle_at_once_or_within_its_recheck_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let write = |v: &str| {
            std::fs::write(
                dir.join("p.rego"),
                format!("package govtrail\n\ndecision := \"{v}\"\n"),
            )
            .unwrap();
        };
        write("allow");
        let input = || regorus::Value::from_json_str("{}").unwrap();
        let mut every_call = Resident::load(dir).unwrap();
        let mut lazy = Resident::load(dir)
            .unwrap()
            .recheck_every(std::time::Duration::from_millis(300));
        let first = every_call.bundle_id().unwrap().to_owned();
        assert_eq!(every_call.eval(input(), 0).0.as_deref(), Some(&*first));
        assert_eq!(lazy.eval(input(), 0).0.as_deref(), Some(&*first));
        write("deny!");
        let edited = every_call.eval(input(), 0).0.unwrap();
        assert_ne!(edited, first);
        // Checked less than 300 ms ago: the loaded bundle still decides.
        assert_eq!(lazy.eval(input(), 0).0.as_deref(), Some(&*first));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(lazy.eval(input(), 0).0.as_deref(), Some(&*edited));
    }
}
