//! Secrets kept out of the trail (docs/RECORD.md §12): tool inputs carry tokens and keys
//! (`export TOKEN=…`, `Authorization:` headers, private key blocks, provider API keys), and a
//! ledger is immutable, so a secret that reaches it stays. Before a hook record is hashed, every
//! string in it is searched for the [`DEFAULT_PATTERNS`] (and any the caller adds), each match
//! replaced with [`MASK`], and the values of object keys named like secrets masked
//! whole. When anything matched, the record's exact source text is dropped (it holds the
//! secret) and `source.masking.secrets` lists the pointers masked.
//!
//! On by default for hook payloads (Claude Code hook inputs and outputs, `govtrail hook` and
//! `decide` envelopes); [`Secrets::off`] turns it off, [`Secrets::with_patterns`] adds patterns.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::{Fail, MASK};
use crate::decision::Decision;

/// The default patterns: a name, and a regular expression whose match is masked (when the
/// expression has a group named `keep`, that part of the match is kept, e.g. a header's name).
pub const DEFAULT_PATTERNS: [(&str, &str); 8] = [
    (
        "private key block",
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----",
    ),
    (
        "authorization header",
        r"(?i)(?P<keep>\b(?:proxy-)?authorization\s*[:=]\s*(?:bearer|basic|token|digest)?\s*)[A-Za-z0-9._~+/=:-]{6,}",
    ),
    (
        "secret assignment",
        r#"(?i)(?P<keep>\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Z0-9_]*\s*=\s*)(?:"[^"]*"|'[^']*'|[^\s"';&|]+)"#,
    ),
    (
        "GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "OpenAI or Anthropic API key",
        r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}",
    ),
    ("Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    ("GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
];

/// The authorization schemes the header pattern allows before a credential.
const AUTH_SCHEMES: [&str; 4] = ["bearer", "basic", "token", "digest"];

/// Object keys whose string values are masked whole (case-insensitive substrings).
const SECRET_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "access_key",
    "private_key",
    "credential",
];

static DEFAULTS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    DEFAULT_PATTERNS
        .iter()
        .filter_map(|(_, p)| Regex::new(p).ok())
        .collect()
});

/// Which secrets are masked.
#[derive(Debug, Clone)]
pub struct Secrets {
    defaults: bool,
    extra: Vec<Regex>,
}

impl Default for Secrets {
    /// The default patterns.
    fn default() -> Self {
        Self {
            defaults: true,
            extra: Vec::new(),
        }
    }
}

impl Secrets {
    /// No secret masking.
    pub fn off() -> Self {
        Self {
            defaults: false,
            extra: Vec::new(),
        }
    }

    /// `defaults` (or not) plus `patterns` (regular expressions, `regex` crate syntax).
    pub fn with_patterns(defaults: bool, patterns: &[String]) -> Result<Self, String> {
        let extra = patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| format!("secret pattern {p:?}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { defaults, extra })
    }

    /// Whether nothing is masked.
    pub fn is_off(&self) -> bool {
        !self.defaults && self.extra.is_empty()
    }

    fn patterns(&self) -> impl Iterator<Item = &Regex> {
        let defaults: &[Regex] = if self.defaults { &DEFAULTS } else { &[] };
        defaults.iter().chain(&self.extra)
    }

    /// Masks the secrets in `text`; `None` when there are none.
    pub fn mask_text(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for re in self.patterns() {
            let cur = out.as_deref().unwrap_or(text);
            if !re.is_match(cur) {
                continue;
            }
            let keep = re.capture_names().any(|n| n == Some("keep"));
            let replaced = re.replace_all(cur, |c: &regex::Captures<'_>| {
                let kept = if keep {
                    c.name("keep").map_or("", |m| m.as_str())
                } else {
                    ""
                };
                // An authorization scheme word is not a credential: without this, an already
                // masked `Authorization: Bearer **MASKED**` would mask `Bearer` too, and a
                // masked source would not re-normalise to its record.
                let secret = &c[0][kept.len()..];
                if AUTH_SCHEMES.iter().any(|w| secret.eq_ignore_ascii_case(w)) {
                    return c[0].to_owned();
                }
                format!("{kept}{MASK}")
            });
            if replaced != cur {
                out = Some(replaced.into_owned());
            }
        }
        out
    }

    /// Masks the secrets in every string of `d` (its source's exact text too, which is then
    /// dropped); records where in `source.masking.secrets`.
    pub(super) fn apply(&self, d: &mut Decision) -> Result<(), Fail> {
        if self.is_off() {
            return Ok(());
        }
        let mut v = serde_json::to_value(&*d).map_err(|e| (String::new(), e.to_string()))?;
        let mut hits = Vec::new();
        self.walk(&mut v, &mut String::new(), false, &mut hits);
        if hits.is_empty() {
            return Ok(());
        }
        let mut out: Decision = serde_json::from_value(v)
            .map_err(|e| (String::new(), format!("after masking secrets: {e}")))?;
        let source = out.source.get_or_insert_with(Map::new);
        // The exact text held the secret: it is not kept (the pointers say what was masked).
        hits.retain(|p| !p.starts_with("/source/raw"));
        source.remove("raw");
        source.remove("raw_b64");
        let masking = source
            .entry("masking")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = masking {
            m.insert(
                "secrets".into(),
                Value::Array(hits.into_iter().map(Value::String).collect()),
            );
        }
        *d = out;
        Ok(())
    }

    fn walk(&self, v: &mut Value, at: &mut String, secret_key: bool, hits: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if secret_key && s != MASK {
                    *s = MASK.into();
                    hits.push(at.clone());
                } else if let Some(masked) = self.mask_text(s) {
                    *s = masked;
                    hits.push(at.clone());
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    self.walk(x, at, false, hits);
                    at.truncate(len);
                }
            }
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    let lower = k.to_ascii_lowercase();
                    let named = SECRET_KEYS.iter().any(|n| lower.contains(n))
                        // A decision's own keys are never secrets (`rule_set`, `tool_use_id`).
                        && at.matches('/').count() > 1;
                    self.walk(x, at, named, hits);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_pattern_compiles_and_masks_its_kind() {
        assert_eq!(DEFAULTS.len(), DEFAULT_PATTERNS.len());
        let s = Secrets::default();
        for (text, gone) in [
            (
                "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "ghp_",
            ),
            (
                "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc'",
                "eyJhbG",
            ),
            ("DB_PASSWORD=\"hunter2 hunter2\" ./run", "hunter2"),
            (
                "aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            ("OPENAI=sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abc"),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
                "b3BlbnNzaC1rZXk",
            ),
            ("token xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
            ("glpat-abcdefghijklmnopqrstu", "glpat-abcdefghijk"),
        ] {
            let masked = s.mask_text(text).unwrap_or_else(|| panic!("{text}"));
            assert!(
                !masked.contains(gone) && masked.contains(MASK),
                "{text} -> {masked}"
            );
            // Masking a masked text changes nothing (a masked source re-normalises to its
            // record; found by the fuzz targets' secret property).
            assert_eq!(s.mask_text(&masked), None, "{masked}");
        }
        assert_eq!(s.mask_text("git status && cargo test -p tokenizer"), None);
        assert!(
            s.mask_text("Authorization: Bearer abcdefgh")
                .is_some_and(|m| m.starts_with("Authorization: Bearer "))
        );
        assert_eq!(Secrets::off().mask_text("API_KEY=x"), None);
        assert!(Secrets::with_patterns(false, &["(".into()]).is_err());
    }
}
