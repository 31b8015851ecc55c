//! Rule bundles: a directory in OPA's bundle layout (docs/REPLAY.md §1). `*.rego` files are
//! policies (`*_test.rego` hold tests), each `data.json` is placed under `data` at its directory's
//! path, and `.manifest` names the revision, the roots and govtrail's entrypoint. A bundle is
//! identified by the SHA-256 of its files' digests (§2), so any change to a policy or a data value
//! gives a new id, while JSON whitespace and key order do not.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Error;

/// The entrypoint when the manifest names none.
pub const DEFAULT_ENTRYPOINT: &str = "govtrail/decision";

/// A loaded bundle: its files' contents, checked, and its id.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Where it was loaded from.
    pub root: PathBuf,
    /// `sha256:<64 hex>` over the files (docs/REPLAY.md §2).
    pub id: String,
    /// The manifest's `revision`, if any.
    pub revision: Option<String>,
    /// The manifest's `roots` (empty: the bundle owns all of `data`).
    pub roots: Vec<String>,
    /// The rule replay and decide evaluate, as a Rego reference (`data.govtrail.decision`).
    pub entrypoint: String,
    /// Policies: path relative to the root (with `/`), and text.
    pub policies: Vec<(String, String)>,
    /// Data documents: relative path, place under `data`, and the document.
    pub data: Vec<(String, Vec<String>, Value)>,
    /// Per file: relative path and hex SHA-256 of the bytes hashed (§2).
    pub files: Vec<(String, String)>,
    /// The policies other than tests and the data, parsed once; evaluators clone it.
    engine: regorus::Engine,
}

/// Test files (`*_test.rego`, as `opa test` names them) are parsed and run by [`Bundle::tests`]
/// and [`Bundle::run_tests`], never loaded for evaluation.
fn is_test(rel: &str) -> bool {
    rel.ends_with("_test.rego")
}

impl Bundle {
    /// Loads and checks the bundle in `dir`: every file parses, data documents do not collide,
    /// every `data.…` reference in a policy resolves to a package or to data, and the
    /// entrypoint is a rule.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
        if !meta.is_dir() {
            return Err(Error::bundle(
                dir,
                None,
                "not a directory (a bundle is a directory of .rego and data.json files)",
            ));
        }
        let mut paths = Vec::new();
        walk(dir, dir, &mut paths)?;
        paths.sort();
        let mut bundle = Bundle {
            root: dir.to_path_buf(),
            id: String::new(),
            revision: None,
            roots: Vec::new(),
            entrypoint: String::new(),
            policies: Vec::new(),
            data: Vec::new(),
            files: Vec::new(),
            engine: regorus::Engine::new(),
        };
        let mut entry = DEFAULT_ENTRYPOINT.to_owned();
        for rel in paths {
            let path = dir.join(&rel);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            let hashed = if name.ends_with(".rego") {
                let text = String::from_utf8(bytes.clone())
                    .map_err(|_| Error::bundle(&path, None, "not UTF-8 text"))?;
                bundle.policies.push((rel.clone(), text));
                bytes
            } else {
                let doc = parse_json(&path, &bytes)?;
                if name == ".manifest" {
                    read_manifest(&path, &doc, &mut bundle, &mut entry)?;
                } else {
                    if !doc.is_object() {
                        return Err(Error::bundle(
                            &path,
                            None,
                            "a data.json file must hold a JSON object",
                        ));
                    }
                    let place: Vec<String> = rel
                        .split('/')
                        .filter(|s| *s != "data.json")
                        .map(str::to_owned)
                        .collect();
                    bundle.data.push((rel.clone(), place, doc.clone()));
                }
                serde_json_canonicalizer::to_vec(&doc)
                    .map_err(|e| Error::bundle(&path, None, &format!("canonical JSON: {e}")))?
            };
            bundle.files.push((rel, hex(&Sha256::digest(&hashed))));
        }
        if bundle.policies.is_empty() {
            return Err(Error::bundle(dir, None, "no .rego files"));
        }
        bundle.entrypoint = entrypoint_ref(&entry);
        bundle.id = bundle_id(&bundle.files);
        bundle.check_roots()?;
        bundle.check_references()?;
        // Parsing every policy and placing the data is the rest of the check (test files are
        // parsed when tests are listed or run).
        bundle.engine = bundle.new_engine(false)?;
        if !has_rule(&mut bundle.engine, &bundle.entrypoint)? {
            return Err(Error::bundle(
                dir,
                None,
                &format!(
                    "the entrypoint {} is not a rule of any policy (set metadata.govtrail.entrypoint in .manifest)",
                    bundle.entrypoint
                ),
            ));
        }
        Ok(bundle)
    }

    /// An engine with every policy but the tests and every data document loaded (a clone of
    /// the one parsed when the bundle was loaded).
    pub fn engine(&self) -> Result<regorus::Engine, Error> {
        Ok(self.engine.clone())
    }

    /// A fresh engine with the policies (and the test files, with `tests`) and the data.
    fn new_engine(&self, tests: bool) -> Result<regorus::Engine, Error> {
        let mut engine = regorus::Engine::new();
        for (rel, text) in self
            .policies
            .iter()
            .filter(|(rel, _)| tests || !is_test(rel))
        {
            engine
                .add_policy(rel.clone(), text.clone())
                .map_err(|e| Error::rego(&self.root.join(rel), &e))?;
        }
        for (rel, place, doc) in &self.data {
            let mut wrapped = doc.clone();
            for key in place.iter().rev() {
                wrapped = Value::Object([(key.clone(), wrapped)].into_iter().collect());
            }
            engine
                .add_data(regorus::Value::from(wrapped))
                .map_err(|e| Error::bundle(&self.root.join(rel), None, &format!("{e}")))?;
        }
        Ok(engine)
    }

    /// Every `test_*` rule, as `data.<package>.<rule>`, in order. Parses the test files: a
    /// syntax error in one is an error here.
    pub fn tests(&self) -> Result<Vec<String>, Error> {
        self.test_names(&mut self.new_engine(true)?)
    }

    /// The `test_*` rules of the modules in `engine`.
    fn test_names(&self, engine: &mut regorus::Engine) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for m in engine.get_modules().iter() {
            let pkg = regorus::utils::get_path_string(&m.package.refr, Some("data"))
                .map_err(|e| Error::rego(&self.root, &e))?;
            for rule in &m.policy {
                if let regorus::unstable::Rule::Spec {
                    head: regorus::unstable::RuleHead::Compr { refr, .. },
                    ..
                } = rule.as_ref()
                {
                    let name = regorus::utils::get_path_string(refr, None)
                        .map_err(|e| Error::rego(&self.root, &e))?;
                    if name.starts_with("test_") {
                        out.push(format!("{pkg}.{name}"));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Runs every test rule, like `opa test`: each must evaluate to `true`.
    pub fn run_tests(&self) -> Result<Vec<TestResult>, Error> {
        let mut engine = self.new_engine(true)?;
        let tests = self.test_names(&mut engine)?;
        let mut out = Vec::new();
        for name in tests {
            engine.set_input(regorus::Value::Undefined);
            let outcome = match engine.eval_rule(name.clone()) {
                Ok(regorus::Value::Bool(true)) => TestOutcome::Pass,
                Ok(regorus::Value::Undefined) => TestOutcome::Fail("undefined".into()),
                Ok(v) => TestOutcome::Fail(format!("evaluated to {v}")),
                Err(e) => TestOutcome::Error(e.to_string().trim().to_owned()),
            };
            out.push(TestResult { name, outcome });
        }
        Ok(out)
    }

    /// Each data file that is a Tractatus rule set, with the rule-set id a decision recorded
    /// under it carries (docs/RECORD.md §9: SHA-256 of the file's RFC 8785 bytes).
    pub fn rule_set_ids(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(rel, _)| rel.ends_with("data.json"))
            .map(|(rel, digest)| (rel.clone(), format!("sha256:{digest}")))
            .collect()
    }

    fn check_roots(&self) -> Result<(), Error> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let under = |path: &str| {
            self.roots
                .iter()
                .any(|r| path == r || path.starts_with(&format!("{r}/")) || r.is_empty())
        };
        for (rel, place, _) in &self.data {
            let p = place.join("/");
            if !p.is_empty() && !under(&p) {
                return Err(Error::bundle(
                    &self.root.join(rel),
                    None,
                    &format!(
                        "data at {p} is outside the manifest's roots {:?}",
                        self.roots
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every `data.a.b…` reference in a policy must name a package (or something under one) or a
    /// value in the bundle's data: a reference into missing data would silently be undefined.
    fn check_references(&self) -> Result<(), Error> {
        let mut packages = Vec::new();
        for (_, text) in &self.policies {
            for line in text.lines() {
                if let Some(rest) = line.trim_start().strip_prefix("package ") {
                    packages.push(format!("data.{}", rest.trim()));
                }
            }
        }
        let mut tree = Value::Object(Default::default());
        for (_, place, doc) in &self.data {
            merge(&mut tree, place, doc);
        }
        let pattern = regex::Regex::new(r"(?-u:\b)data((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
            .map_err(|e| Error::bundle(&self.root, None, &e.to_string()))?;
        for (rel, text) in &self.policies {
            for (n, line) in text.lines().enumerate() {
                let code = strip_comment(line);
                for m in pattern.captures_iter(code) {
                    let full = format!("data{}", &m[1]);
                    if packages.iter().any(|p| {
                        full == *p
                            || full.starts_with(&format!("{p}."))
                            || p.starts_with(&format!("{full}."))
                    }) {
                        continue;
                    }
                    let keys: Vec<&str> = m[1].split('.').skip(1).collect();
                    let mut at = &tree;
                    for (i, key) in keys.iter().enumerate() {
                        match at.get(*key) {
                            Some(v) => at = v,
                            None if at.is_object() => {
                                let found = if i == 0 {
                                    "data".to_owned()
                                } else {
                                    format!("data.{}", keys[..i].join("."))
                                };
                                return Err(Error::bundle(
                                    &self.root.join(rel),
                                    Some(n + 1),
                                    &format!(
                                        "{full} is neither a package nor in the bundle's data ({found} has no key {key:?}; is a data.json missing?)"
                                    ),
                                ));
                            }
                            // Into a non-object (an array index, a string): not checked further.
                            None => break,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A test's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// `data.<package>.test_<name>`.
    pub name: String,
    /// What it gave.
    pub outcome: TestOutcome,
}

/// Pass, fail (false or undefined) or error (the evaluation failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// Evaluated to `true`.
    Pass,
    /// Evaluated to something else.
    Fail(String),
    /// Evaluation failed; the message has the file and line.
    Error(String),
}

fn read_manifest(
    path: &Path,
    doc: &Value,
    bundle: &mut Bundle,
    entry: &mut String,
) -> Result<(), Error> {
    let bad = |what: &str| Error::bundle(path, None, what);
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("the manifest must be a JSON object"))?;
    if let Some(r) = obj.get("revision") {
        bundle.revision = Some(
            r.as_str()
                .ok_or_else(|| bad("revision must be a string"))?
                .to_owned(),
        );
    }
    if let Some(roots) = obj.get("roots") {
        let roots = roots
            .as_array()
            .ok_or_else(|| bad("roots must be an array of strings"))?;
        for r in roots {
            let r = r
                .as_str()
                .ok_or_else(|| bad("roots must be an array of strings"))?;
            bundle.roots.push(r.trim_matches('/').to_owned());
        }
    }
    if let Some(e) = doc.pointer("/metadata/govtrail/entrypoint") {
        *entry = e
            .as_str()
            .ok_or_else(|| bad("metadata.govtrail.entrypoint must be a string"))?
            .to_owned();
    }
    Ok(())
}

/// `govtrail/decision` or `data.govtrail.decision` → `data.govtrail.decision`.
fn entrypoint_ref(entry: &str) -> String {
    let path = entry.trim_matches('/').replace('/', ".");
    if path.starts_with("data.") {
        path
    } else {
        format!("data.{path}")
    }
}

/// Whether some policy defines the rule `reference` (`data.pkg.rule`).
fn has_rule(engine: &mut regorus::Engine, reference: &str) -> Result<bool, Error> {
    let Some((pkg, rule)) = reference.rsplit_once('.') else {
        return Ok(false);
    };
    for m in engine.get_modules().iter() {
        let Ok(p) = regorus::utils::get_path_string(&m.package.refr, Some("data")) else {
            continue;
        };
        if p != pkg {
            continue;
        }
        for r in &m.policy {
            let refr = match r.as_ref() {
                regorus::unstable::Rule::Spec { head, .. } => match head {
                    regorus::unstable::RuleHead::Compr { refr, .. }
                    | regorus::unstable::RuleHead::Set { refr, .. }
                    | regorus::unstable::RuleHead::Func { refr, .. } => refr,
                },
                regorus::unstable::Rule::Default { refr, .. } => refr,
            };
            if regorus::utils::get_path_string(refr, None).is_ok_and(|n| n == rule) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// `sha256:` + hex SHA-256 of the RFC 8785 bytes of `{"files": {path: hex digest}}`.
fn bundle_id(files: &[(String, String)]) -> String {
    let listing: serde_json::Map<String, Value> = files
        .iter()
        .map(|(p, d)| (p.clone(), Value::String(d.clone())))
        .collect();
    let doc = serde_json::json!({ "files": listing });
    let bytes = serde_json_canonicalizer::to_vec(&doc).unwrap_or_default();
    format!("sha256:{}", hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_json(path: &Path, bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::bundle(
            path,
            Some(e.line()),
            &format!("invalid JSON at column {}: {e}", e.column()),
        )
    })
}

/// The part of a Rego line before a `#` comment that is outside a string.
fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_str => escaped = !escaped,
            '"' if !escaped => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    line
}

/// Files of the bundle, relative to `root` with `/`: `.rego`, `data.json` and `.manifest`.
/// Hidden directories are skipped; other files (READMEs) are not part of the bundle.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let kind = e.file_type().map_err(|err| Error::io(&path, err))?;
        if kind.is_dir() {
            if !name.starts_with('.') {
                walk(root, &path, out)?;
            }
            continue;
        }
        let top = dir == root;
        if name.ends_with(".rego") || name == "data.json" || (top && name == ".manifest") {
            let rel = path
                .strip_prefix(root)
                .map_err(|_| Error::bundle(&path, None, "outside the bundle"))?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Places `doc` at `place` under `tree` (objects merge key by key).
fn merge(tree: &mut Value, place: &[String], doc: &Value) {
    let Some(obj) = tree.as_object_mut() else {
        return;
    };
    match place.split_first() {
        Some((key, rest)) => {
            let child = obj
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Default::default()));
            merge(child, rest, doc);
        }
        None => {
            if let Some(d) = doc.as_object() {
                for (k, v) in d {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
    }
}
