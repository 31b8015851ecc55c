//! The `govtrail.hook` envelope (docs/RECORD.md §5): one hook call as `govtrail hook`, `govtrail
//! decide` (either evaluator) and a server's decide endpoint record it, before the call is
//! answered, and as the ingest normaliser reads it back.
//!
//! One type for every writer and the reader, so a field cannot be written under one name and
//! read under another. A stream that is valid UTF-8 is kept as text (`stdin`); one that is not
//! is kept as base64 (`stdin_b64`), so the bytes round-trip exactly. [`HookEnvelope::to_line`]
//! writes the keys sorted (the bytes earlier versions wrote); readers ignore keys they do not
//! know, so a newer writer's additions never make an envelope unreadable, and read the keys a
//! record does not depend on leniently (a value of another type is as if absent), as the
//! normaliser always has: only `id`, `started_us`, the streams, `exit_code`, `signal`,
//! `interrupted`, `wall_us`, the rule keys and `decision` are checked.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// The envelope version this build writes (`govtrail_hook`).
pub const HOOK_ENVELOPE_VERSION: u32 = 1;

/// One recorded hook call. Field names are the envelope's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookEnvelope {
    /// The envelope's version ([`HOOK_ENVELOPE_VERSION`]).
    #[serde(default, deserialize_with = "lenient")]
    pub govtrail_hook: u32,
    /// The call's id, unique per call: the record's decision id is `hook:<id>`, so a call
    /// drained twice is the same decision.
    pub id: String,
    /// When the call began (its stdin was read), µs since the Unix epoch.
    pub started_us: i64,
    /// The call's wall time, µs: the governance overhead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_us: Option<i64>,
    /// What `wall_us` measured, when not the whole wrapped call (`govtrail.hook.wall`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_source: Option<String>,
    /// The wrapped command line.
    #[serde(default, deserialize_with = "lenient")]
    pub argv: Vec<String>,
    /// The hook's exit code; `null` when it ended by a signal or never ran.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// The signal that ended the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// A signal govtrail received (Claude Code's timeout) and forwarded to the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<i64>,
    /// The hook's process group outlived the grace period after `interrupted` and was killed.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient"
    )]
    pub killed: bool,
    /// The policy engine (`--engine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The governance service (`--service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `open` or `closed`: what a decide call answers when it cannot decide.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub fail_mode: Option<String>,
    /// Which evaluator decided: `resident`, `in-process` or `server` (`govtrail serve`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub evaluator: Option<String>,
    /// Why the resident evaluator could not be used, when it could not.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub server_error: Option<String>,
    /// The bundle's id a decide call decided with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<String>,
    /// The rules that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_ids: Option<Vec<String>>,
    /// A decide call's intended decision (a decision kind's name): `defer` is no answer, which
    /// the answer alone cannot show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The intended decision's reason.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub reason: Option<String>,
    /// Why a decide call could not decide (it answered its fail mode).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub error: Option<String>,
    /// The hook's stdin, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// The hook's stdin, base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin_b64: Option<String>,
    /// The hook's stdout, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// The hook's stdout, base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_b64: Option<String>,
    /// The hook's stderr, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The hook's stderr, base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_b64: Option<String>,
}

/// A value of the expected type, or the default when it has another type: for keys no record
/// depends on.
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(T::deserialize(v).unwrap_or_default())
}

/// One of the call's three streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStream {
    /// What the hook read.
    Stdin,
    /// What the hook answered.
    Stdout,
    /// What the hook said on stderr.
    Stderr,
}

impl HookEnvelope {
    /// An envelope of version [`HOOK_ENVELOPE_VERSION`] for the call `id` begun at `started_us`.
    pub fn new(id: String, started_us: i64) -> Self {
        Self {
            govtrail_hook: HOOK_ENVELOPE_VERSION,
            id,
            started_us,
            ..Self::default()
        }
    }

    fn slots(&mut self, stream: HookStream) -> (&mut Option<String>, &mut Option<String>) {
        match stream {
            HookStream::Stdin => (&mut self.stdin, &mut self.stdin_b64),
            HookStream::Stdout => (&mut self.stdout, &mut self.stdout_b64),
            HookStream::Stderr => (&mut self.stderr, &mut self.stderr_b64),
        }
    }

    /// Keeps `bytes` as the stream: as text when UTF-8, else base64.
    pub fn set(&mut self, stream: HookStream, bytes: &[u8]) {
        let (text, b64) = self.slots(stream);
        match std::str::from_utf8(bytes) {
            Ok(t) => {
                *text = Some(t.to_owned());
                *b64 = None;
            }
            Err(_) => {
                *text = None;
                *b64 = Some(B64.encode(bytes));
            }
        }
    }

    /// The stream's bytes (empty when absent). `Err` is the JSON pointer of the key whose
    /// base64 is invalid, and why.
    pub fn bytes(&self, stream: HookStream) -> Result<Vec<u8>, (String, String)> {
        let (text, b64, key) = match stream {
            HookStream::Stdin => (&self.stdin, &self.stdin_b64, "stdin_b64"),
            HookStream::Stdout => (&self.stdout, &self.stdout_b64, "stdout_b64"),
            HookStream::Stderr => (&self.stderr, &self.stderr_b64, "stderr_b64"),
        };
        match (text, b64) {
            (Some(t), _) => Ok(t.as_bytes().to_vec()),
            (None, Some(b)) => B64
                .decode(b)
                .map_err(|e| (format!("/{key}"), format!("not base64: {e}"))),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// The envelope as one JSON line without its newline, keys sorted: what a spool file holds
    /// (with a newline) and a hook log's frame holds.
    pub fn to_line(&self) -> Vec<u8> {
        // Through a `Value`, whose maps are sorted: the bytes earlier writers produced.
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// Reads an envelope from its JSON object. `Err` is a JSON pointer and what is wrong there.
    pub fn from_map(
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, (String, String)> {
        use serde::de::IntoDeserializer as _;
        let env: Self =
            serde_path_to_error::deserialize(object.into_deserializer()).map_err(|e| {
                let mut pointer = crate::decision::pointer_of(e.path());
                let message = e.inner().to_string();
                // A missing key is reported at its own place, not at its parent's.
                if let Some(key) = message
                    .strip_prefix("missing field `")
                    .and_then(|m| m.strip_suffix('`'))
                {
                    pointer = format!("{pointer}/{key}");
                }
                (pointer, message)
            })?;
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_round_trip_as_text_or_base64() {
        let mut env = HookEnvelope::new("1-2-3".into(), 7);
        env.set(HookStream::Stdin, b"{\"a\":1}");
        env.set(HookStream::Stdout, &[0xff, 0x00, b'x']);
        let line = env.to_line();
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.contains("\"stdout_b64\":\"/wB4\""), "{text}");
        assert!(text.starts_with("{\"argv\":[],\"exit_code\":null,\"govtrail_hook\":1"));
        let back = HookEnvelope::from_map(&serde_json::from_slice(&line).unwrap()).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.bytes(HookStream::Stdout).unwrap(), [0xff, 0x00, b'x']);
        assert_eq!(back.bytes(HookStream::Stderr).unwrap(), b"");
    }

    #[test]
    fn errors_name_where() {
        let v = serde_json::json!({"govtrail_hook": 1, "id": "x", "started_us": "soon"});
        let (at, _) = HookEnvelope::from_map(v.as_object().unwrap()).unwrap_err();
        assert_eq!(at, "/started_us");
        let v = serde_json::json!({"govtrail_hook": 1, "started_us": 1});
        let (at, msg) = HookEnvelope::from_map(v.as_object().unwrap()).unwrap_err();
        assert_eq!((at.as_str(), msg.as_str()), ("/id", "missing field `id`"));
        let v = serde_json::json!({"govtrail_hook": 1, "id": "x", "started_us": 1, "later": true});
        assert!(
            HookEnvelope::from_map(v.as_object().unwrap()).is_ok(),
            "unknown keys are ignored"
        );
    }

    #[test]
    fn keys_no_record_depends_on_are_read_leniently() {
        let v = serde_json::json!({
            "id": "x", "started_us": 1, "argv": null, "killed": "yes", "evaluator": 3,
            "stdout_b64": "%%",
        });
        let env = HookEnvelope::from_map(v.as_object().unwrap()).unwrap();
        assert_eq!(
            (env.argv.len(), env.killed, env.evaluator.as_deref()),
            (0, false, None)
        );
        let (at, _) = env.bytes(HookStream::Stdout).unwrap_err();
        assert_eq!(at, "/stdout_b64");
    }
}
