//! One bundle's entrypoint, evaluated on inputs with a supplied clock.

use std::cell::Cell;
use std::sync::Arc;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::DeserializationResult;
use regorus::rvm::{Program, RegoVM};

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
    /// block on deny, error, ask and escalate, and say nothing otherwise. `defer` is no answer
    /// on any event, so the platform's own permission flow goes on (least privilege: a bundle
    /// that has no rule for a call defers rather than allows).
    pub fn hook_answer(&self, event: &str) -> Option<Value> {
        let reason = self.reason.clone().unwrap_or_default();
        if event == "PreToolUse" {
            let permission = match self.decision.as_str() {
                "allow" | "info" | "warn" => "allow",
                "ask" | "escalate" => "ask",
                "defer" => return None,
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

/// Which of regorus's engines evaluates an [`Evaluator`]'s policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The register VM (policies compiled to bytecode), with the interpreter for any input
    /// the VM reports an error on: the default.
    Vm,
    /// The tree-walking interpreter alone.
    Interpreter,
}

/// An engine loaded with a bundle, ready to evaluate its entrypoint. Each thread needs its own
/// (evaluation takes `&mut`); clones share the parsed policies and copy the compiled program.
///
/// Evaluation runs on regorus's VM (vendor/regorus, with the fixes in its PATCHES.md) and
/// falls back to the interpreter on any VM error, so an error is always the interpreter's,
/// with file and line; a bundle the VM cannot compile runs on the interpreter alone
/// (docs/REPLAY.md §3).
pub struct Evaluator {
    engine: regorus::Engine,
    entrypoint: String,
    vm: Option<Vm>,
    /// Evaluations the VM handed to the interpreter.
    fallbacks: u64,
}

/// A VM loaded with its own copy of a compiled program and of the bundle's data.
///
/// Values are reference-counted (atomically, for threads), so VMs sharing one program would
/// count references on the same literals and data from every thread: each VM deserialises the
/// program and parses the data afresh instead.
struct Vm {
    /// The program, serialised (postcard), and the data, as JSON: what clones copy from.
    program: Arc<[u8]>,
    data: Arc<str>,
    machine: RegoVM,
}

impl Vm {
    fn new(program: Arc<[u8]>, data: Arc<str>) -> Result<Self, String> {
        let mut own = match Program::deserialize_binary(&program)? {
            DeserializationResult::Complete(p) => p,
            DeserializationResult::Partial(_) => {
                return Err("the program did not deserialise whole".into());
            }
        };
        own.initialize_resolved_builtins()
            .map_err(|e| e.to_string())?;
        for (info, slot) in own
            .builtin_info_table
            .iter()
            .zip(own.resolved_builtins.iter_mut())
        {
            if info.name == "time.now_ns" {
                slot.0 = recorded_now_ns;
            }
        }
        let mut machine = RegoVM::new();
        machine.load_program(Arc::new(own));
        machine
            .set_data(regorus::Value::from_json_str(&data).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        // As the interpreter: builtin errors are errors, and no instruction budget (the
        // interpreter has none; a replay must not depend on one).
        machine.set_strict_builtin_errors(true);
        machine.set_max_instructions(usize::MAX);
        Ok(Self {
            program,
            data,
            machine,
        })
    }
}

impl Clone for Evaluator {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            entrypoint: self.entrypoint.clone(),
            // Loading a program into a fresh VM cannot fail where it once succeeded.
            vm: self
                .vm
                .as_ref()
                .and_then(|v| Vm::new(Arc::clone(&v.program), Arc::clone(&v.data)).ok()),
            fallbacks: 0,
        }
    }
}

impl Evaluator {
    /// Loads `bundle` into an engine whose `time.now_ns` is the time passed to [`Self::eval`],
    /// on the VM where it compiles the bundle.
    pub fn new(bundle: &Bundle) -> Result<Self, Error> {
        Self::with_engine(bundle, Engine::Vm)
    }

    /// Loads `bundle` to be evaluated by `engine`.
    pub fn with_engine(bundle: &Bundle, engine: Engine) -> Result<Self, Error> {
        let mut interpreter = bundle.engine()?;
        interpreter.set_strict_builtin_errors(true);
        let vm = match engine {
            Engine::Vm => compile(&mut interpreter.clone(), &bundle.entrypoint),
            Engine::Interpreter => None,
        };
        // Extensions are looked up before builtins, so this replaces the clock for policies.
        interpreter
            .add_extension(
                "time.now_ns".into(),
                0,
                Box::new(|_: Vec<regorus::Value>| Ok(regorus::Value::from(NOW_NS.with(Cell::get)))),
            )
            .map_err(|e| Error::rego(&bundle.root, &e))?;
        let mut this = Self {
            engine: interpreter,
            entrypoint: bundle.entrypoint.clone(),
            vm,
            fallbacks: 0,
        };
        // The first evaluation prepares the engine; clones made after it share that work.
        let _ = this.interpret(regorus::Value::new_object(), 0);
        Ok(this)
    }

    /// Which engine evaluates: the VM (with the interpreter on errors) or the interpreter.
    pub fn engine(&self) -> Engine {
        if self.vm.is_some() {
            Engine::Vm
        } else {
            Engine::Interpreter
        }
    }

    /// How many evaluations the VM handed to the interpreter (because it reported an error)
    /// since this evaluator was made or cloned.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
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
        if let Some(vm) = &mut self.vm {
            vm.machine.set_input(input.clone());
            if let Ok(value) = vm.machine.execute() {
                return Ok(value);
            }
            // Any VM error: the interpreter decides, and words the error.
            self.fallbacks += 1;
        }
        self.interpret(input, now_ns)
    }

    fn interpret(&mut self, input: regorus::Value, now_ns: i64) -> Result<regorus::Value, String> {
        NOW_NS.with(|c| c.set(now_ns));
        self.engine.set_input(input);
        self.engine
            .eval_rule(self.entrypoint.clone())
            .map_err(|e| e.to_string().trim().to_owned())
    }
}

/// The bundle's entrypoint compiled for the VM, with `time.now_ns` reading the supplied
/// clock; `None` when regorus cannot compile it (the interpreter then runs alone).
fn compile(engine: &mut regorus::Engine, entrypoint: &str) -> Option<Vm> {
    let policy = engine
        .compile_with_entrypoint(&regorus::Rc::from(entrypoint))
        .ok()?;
    let program = Compiler::compile_from_policy(&policy, &[entrypoint]).ok()?;
    let bytes = program.serialize_binary().ok()?;
    let data = engine.get_data().to_json_str().ok()?;
    Vm::new(Arc::from(bytes), Arc::from(data)).ok()
}

/// `time.now_ns()` on the VM: the time passed to [`Evaluator::eval`].
fn recorded_now_ns(
    _: &regorus::unstable::Span,
    _: &[regorus::unstable::Ref<regorus::unstable::Expr>],
    _: &[regorus::Value],
    _: bool,
) -> anyhow::Result<regorus::Value> {
    Ok(regorus::Value::from(NOW_NS.with(Cell::get)))
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
