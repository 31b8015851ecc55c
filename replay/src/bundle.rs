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
    /// The files' metadata, read before their contents: [`Bundle::is_current`] compares it.
    stamp: Vec<FileStamp>,
    /// When `stamp` was taken (ns since the Unix epoch).
    stamped_ns: i128,
}

/// A file changed less than this before its stamp was taken may have changed again within the
/// same timestamp tick (a jiffy on Linux, up to 2 s on some file systems) without its stamp
/// changing: such a stamp is "racy", as git calls it, and its contents are compared instead.
const RACY_NS: i128 = 2_000_000_000;

#[expect(
    clippy::disallowed_methods,
    reason = "compared with file times to tell a racy stamp, never given to a policy"
)]
fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// What `stat` says of one bundle file or directory: a write changes a file's size, mtime or
/// ctime (ctime cannot be set back), a replacement by rename changes its inode, and adding,
/// removing or renaming an entry changes its directory's mtime.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    rel: String,
    len: u64,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// The stamps of `rels` under `dir`, in order.
fn stamps<'a>(dir: &Path, rels: impl Iterator<Item = &'a String>) -> Result<Vec<FileStamp>, Error> {
    use std::os::unix::fs::MetadataExt as _;
    rels.map(|rel| {
        let path = dir.join(rel);
        let m = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Ok(FileStamp {
            rel: rel.clone(),
            len: m.len(),
            ino: m.ino(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    })
    .collect()
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
        let (mut paths, mut dirs) = (Vec::new(), Vec::new());
        walk(dir, dir, &mut paths, &mut dirs)?;
        paths.sort();
        // Stamped before reading: a file changed after this is seen as changed by is_current.
        let stamped_ns = now_ns();
        let stamp = stamps(dir, dirs.iter().chain(&paths))?;
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
            stamp,
            stamped_ns,
        };
        let mut entry = DEFAULT_ENTRYPOINT.to_owned();
        for rel in paths {
            let path = dir.join(&rel);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            let (hashed, doc) = hashed_bytes(&path, bytes)?;
            if let Some(doc) = doc {
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
                    bundle.data.push((rel.clone(), place, doc));
                }
            } else {
                let text = String::from_utf8(hashed.clone())
                    .map_err(|_| Error::bundle(&path, None, "not UTF-8 text"))?;
                bundle.policies.push((rel.clone(), text));
            }
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

    /// Whether the files under the bundle's root are still those it was loaded from: each file
    /// and directory it walked has the same size, inode, mtime and ctime (a file added, removed
    /// or renamed changes its directory's). A long-running evaluator (`govtrail decide --serve`)
    /// calls it before each decision and reloads when it is not; it costs a `stat` per file and
    /// directory, not a read.
    ///
    /// A stamp taken within 2 s of a file's last change proves nothing (the file may
    /// have changed again in the same timestamp tick), so then the files' digests are compared
    /// too, and the stamp is renewed once they match: only the first calls after an edit pay
    /// for reading the files.
    pub fn is_current(&mut self) -> bool {
        let Ok(now) = stamps(&self.root, self.stamp.iter().map(|f| &f.rel)) else {
            return false;
        };
        let is_file = |f: &FileStamp| self.files.iter().any(|(rel, _)| *rel == f.rel);
        if now
            .iter()
            .zip(&self.stamp)
            .any(|(a, b)| a != b && is_file(b))
        {
            return false;
        }
        let racy = self
            .stamp
            .iter()
            .any(|f| f.mtime_ns.max(f.ctime_ns) + RACY_NS > self.stamped_ns);
        if now == self.stamp && !racy {
            return true;
        }
        // A directory changed (an entry added, removed or renamed: perhaps a file the bundle
        // does not read) or a stamp is racy: the same files, with the same contents?
        // Anything changed after `fresh_ns` is racy for the new stamps, so seen next time.
        let fresh_ns = now_ns();
        let (mut paths, mut dirs) = (Vec::new(), Vec::new());
        if walk(&self.root, &self.root, &mut paths, &mut dirs).is_err() {
            return false;
        }
        paths.sort();
        let Ok(fresh) = stamps(&self.root, dirs.iter().chain(&paths)) else {
            return false;
        };
        let same = paths.len() == self.files.len()
            && self.files.iter().zip(&paths).all(|((rel, digest), now)| {
                let path = self.root.join(rel);
                rel == now
                    && std::fs::read(&path)
                        .ok()
                        .and_then(|b| hashed_bytes(&path, b).ok())
                        .is_some_and(|(h, _)| hex(&Sha256::digest(&h)) == *digest)
            });
        if same {
            // Taken before the contents were read, these stamps hold for them.
            self.stamp = fresh;
            self.stamped_ns = fresh_ns;
        }
        same
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

    /// The bundle's description: id, revision, entrypoint, roots, file digests, rule-set ids,
    /// and the tests when given (`govtrail bundle inspect --json`, the server's bundle list).
    pub fn describe(&self, tests: Option<&[String]>) -> BundleDescription {
        BundleDescription {
            id: self.id.clone(),
            revision: self.revision.clone(),
            entrypoint: self.entrypoint.clone(),
            roots: self.roots.clone(),
            files: self.files.iter().cloned().collect(),
            rule_set_ids: self.rule_set_ids().into_iter().collect(),
            tests: tests.map(<[String]>::to_vec),
        }
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

/// A test's result as JSON: `{"test", "result": "pass"|"fail"|"error", "message"?}`.
impl serde::Serialize for TestResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct TestJson<'a> {
            test: &'a str,
            result: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            message: Option<&'a str>,
        }
        let (result, message) = match &self.outcome {
            TestOutcome::Pass => ("pass", None),
            TestOutcome::Fail(m) => ("fail", Some(m.as_str())),
            TestOutcome::Error(m) => ("error", Some(m.as_str())),
        };
        TestJson {
            test: &self.name,
            result,
            message,
        }
        .serialize(s)
    }
}

/// A bundle's description (see [`Bundle::describe`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleDescription {
    /// The bundle's id.
    pub id: String,
    /// Its manifest's revision.
    pub revision: Option<String>,
    /// The rule its decisions come from.
    pub entrypoint: String,
    /// Its manifest's roots.
    pub roots: Vec<String>,
    /// Each file's digest, by path.
    pub files: std::collections::BTreeMap<String, String>,
    /// Each data file's rule-set id, by path (docs/RECORD.md §9).
    pub rule_set_ids: std::collections::BTreeMap<String, String>,
    /// The bundle's tests, when listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<Vec<String>>,
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

/// The bytes a file's digest is taken over (docs/REPLAY.md §2): a policy's own bytes, a JSON
/// document's canonical form (returned with the document).
fn hashed_bytes(path: &Path, bytes: Vec<u8>) -> Result<(Vec<u8>, Option<Value>), Error> {
    if path.extension().is_some_and(|e| e == "rego") {
        return Ok((bytes, None));
    }
    let doc = parse_json(path, &bytes)?;
    let canonical = serde_json_canonicalizer::to_vec(&doc)
        .map_err(|e| Error::bundle(path, None, &format!("canonical JSON: {e}")))?;
    Ok((canonical, Some(doc)))
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

/// `path` relative to `root`, with `/` between its parts.
fn relative(root: &Path, path: &Path) -> Result<String, Error> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| Error::bundle(path, None, "outside the bundle"))?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// Lists the files of the bundle under `dir` into `out`: `.rego`, `data.json` and `.manifest`,
/// relative to `root` with `/`; and the directories walked (`""` for the root) into `dirs`.
/// Hidden directories are skipped; other files (READMEs) are not part of the bundle.
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<String>,
    dirs: &mut Vec<String>,
) -> Result<(), Error> {
    dirs.push(relative(root, dir)?);
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
                walk(root, &path, out, dirs)?;
            }
            continue;
        }
        let top = dir == root;
        if name.ends_with(".rego") || name == "data.json" || (top && name == ".manifest") {
            out.push(relative(root, &path)?);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn is_current_sees_every_change_to_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, "p.rego", "package govtrail\n\ndecision := data.d.v\n");
        write(dir, "d/data.json", r#"{"v": "allow"}"#);
        let mut b = Bundle::load(dir).unwrap();
        // Just written, the stamps are racy: the contents decide, and they match, twice.
        assert!(b.is_current());
        assert!(b.is_current());

        // The same length, written in place within the same tick: only the contents differ.
        write(dir, "d/data.json", r#"{"v": "deny!"}"#);
        assert!(!b.is_current());
        let mut b = Bundle::load(dir).unwrap();
        assert!(b.is_current());

        // A file added where the bundle reads, a file removed.
        write(dir, "q.rego", "package other\n");
        assert!(!b.is_current());
        let mut b = Bundle::load(dir).unwrap();
        std::fs::remove_file(dir.join("q.rego")).unwrap();
        assert!(!b.is_current());
        let mut b = Bundle::load(dir).unwrap();

        // Files the bundle does not read do not matter, nor does a new directory without any.
        write(dir, "README.md", "notes\n");
        write(dir, "d/notes.txt", "notes\n");
        std::fs::create_dir(dir.join("e")).unwrap();
        assert!(b.is_current());
        assert!(b.is_current());
        // A policy in a new directory does, also once no stamp is racy any more.
        // (As if the stamps had been taken long after the last change.)
        b.stamped_ns += 10 * RACY_NS;
        assert!(b.is_current());
        write(dir, "e/f/r.rego", "package r\n");
        assert!(!b.is_current());

        // The directory gone.
        drop(tmp);
        assert!(!b.is_current());
    }
}
