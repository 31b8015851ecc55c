//! Bearer tokens (docs/SERVER.md §3): each token has scopes (`ingest`, `read`, `admin`, where
//! admin also reads), is stored only as its BLAKE3 hash in a tokens file (mode 0600, kept apart
//! from the ledger), and is made and revoked by `govtrail token`.
//!
//! ```text
//! token := "gvt_" id "_" secret      id: 16 hex digits (public), secret: 32 random bytes, base64url
//! file  := {"version": 1, "tokens": [{"id", "name", "scopes", "created_us", "revoked_us", "blake3"}]}
//! ```
//!
//! A request's token is found by its id and its hash compared in constant time
//! (`blake3::Hash`'s equality). The server re-reads the file when it changes, so a revocation
//! takes effect on the next request.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Post decisions to the ingest endpoints.
    Ingest,
    /// Use the read API.
    Read,
    /// Run verifications, replays and exports; also reads.
    Admin,
}

impl Scope {
    /// The scope's name, as in the tokens file and `--scope`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    /// Parses a scope name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Ingest, Self::Read, Self::Admin]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// One token as the tokens file keeps it (its secret is never stored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The public part of the token, which names it in logs and `govtrail token revoke`.
    pub id: String,
    /// What it is for, as given when it was made.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was made, µs since the epoch.
    pub created_us: i64,
    /// When it was revoked, if it was.
    pub revoked_us: Option<i64>,
    /// BLAKE3 of the whole token, hex.
    #[serde(rename = "blake3")]
    hash: String,
}

impl TokenInfo {
    /// Whether it grants `scope` (admin grants read).
    pub fn grants(&self, scope: Scope) -> bool {
        self.revoked_us.is_none()
            && self
                .scopes
                .iter()
                .any(|&s| s == scope || (s == Scope::Admin && scope == Scope::Read))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    version: u32,
    tokens: Vec<TokenInfo>,
}

/// A tokens file that cannot be read, written or changed as asked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("no token {0:?} in the tokens file")]
    Unknown(String),
    #[error("a token needs at least one scope")]
    NoScope,
}

fn file_err(path: &Path, message: impl ToString) -> TokenError {
    TokenError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn read_file(path: &Path) -> Result<TokenFile, TokenError> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile {
            version: 1,
            tokens: Vec::new(),
        }),
        Err(e) => Err(file_err(path, e)),
        Ok(bytes) => {
            let f: TokenFile = serde_json::from_slice(&bytes)
                .map_err(|e| file_err(path, format!("not a tokens file: {e}")))?;
            if f.version != 1 {
                return Err(file_err(path, format!("tokens file version {}", f.version)));
            }
            Ok(f)
        }
    }
}

fn write_file(path: &Path, f: &TokenFile) -> Result<(), TokenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ledger::create_private_dir_all(dir).map_err(|e| file_err(dir, e))?;
    }
    let mut bytes = serde_json::to_vec_pretty(f).map_err(|e| file_err(path, e))?;
    bytes.push(b'\n');
    ledger::write_replace_private(path, &bytes).map_err(|e| file_err(path, e))
}

fn now_us() -> i64 {
    ledger::spool::now_us()
}

/// Makes a token with `scopes` named `name` in the tokens file at `path` (created when
/// missing): returns its entry and the token itself, which is shown once and never stored.
pub fn create(
    path: &Path,
    name: &str,
    scopes: &[Scope],
) -> Result<(TokenInfo, String), TokenError> {
    if scopes.is_empty() {
        return Err(TokenError::NoScope);
    }
    let mut f = read_file(path)?;
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| file_err(path, format!("no randomness: {e}")))?;
    getrandom::fill(&mut secret).map_err(|e| file_err(path, format!("no randomness: {e}")))?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!(
        "gvt_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let mut scopes = scopes.to_vec();
    scopes.dedup();
    let info = TokenInfo {
        id,
        name: name.to_owned(),
        scopes,
        created_us: now_us(),
        revoked_us: None,
        hash: blake3::hash(token.as_bytes()).to_hex().to_string(),
    };
    f.version = 1;
    f.tokens.push(info.clone());
    write_file(path, &f)?;
    Ok((info, token))
}

/// Revokes token `id`; revoking one twice keeps its first revocation time.
pub fn revoke(path: &Path, id: &str) -> Result<TokenInfo, TokenError> {
    let mut f = read_file(path)?;
    let t = f
        .tokens
        .iter_mut()
        .find(|t| t.id == id)
        .ok_or_else(|| TokenError::Unknown(id.to_owned()))?;
    t.revoked_us.get_or_insert_with(now_us);
    let info = t.clone();
    write_file(path, &f)?;
    Ok(info)
}

/// The tokens in the file at `path`.
pub fn list(path: &Path) -> Result<Vec<TokenInfo>, TokenError> {
    Ok(read_file(path)?.tokens)
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No bearer token, or not one the file holds (401).
    Unauthenticated,
    /// A valid token without the scope (403).
    Forbidden,
}

/// The server's view of the tokens file, re-read when its modification time changes.
#[derive(Debug)]
pub struct Tokens {
    path: PathBuf,
    /// The file's mtime when read, its tokens, and when its mtime was last looked at.
    cache: Mutex<(Option<SystemTime>, Vec<TokenInfo>, std::time::Instant)>,
}

/// How long a look at the tokens file's mtime holds: a token made or revoked by `govtrail
/// token` counts within this time (a look per request was a stat per request).
const RECHECK: std::time::Duration = std::time::Duration::from_millis(100);

impl Tokens {
    /// The tokens in `path` (which must be readable: a server does not start without them).
    pub fn open(path: &Path) -> Result<Self, TokenError> {
        let tokens = read_file(path)?.tokens;
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(Self {
            path: path.to_path_buf(),
            cache: Mutex::new((mtime, tokens, std::time::Instant::now())),
        })
    }

    /// The token of an `Authorization: Bearer …` header value, if it grants `scope`.
    pub fn check(&self, authorization: Option<&str>, scope: Scope) -> Result<TokenInfo, Denied> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(Denied::Unauthenticated)?;
        let id = token
            .strip_prefix("gvt_")
            .and_then(|t| t.split_once('_'))
            .map(|(id, _)| id)
            .ok_or(Denied::Unauthenticated)?;
        let cache = self.current();
        let info = cache
            .1
            .iter()
            .find(|t| t.id == id)
            .ok_or(Denied::Unauthenticated)?;
        let stored = blake3::Hash::from_hex(&info.hash).map_err(|_| Denied::Unauthenticated)?;
        // blake3::Hash compares in constant time.
        if blake3::hash(token.as_bytes()) != stored || info.revoked_us.is_some() {
            return Err(Denied::Unauthenticated);
        }
        if !info.grants(scope) {
            return Err(Denied::Forbidden);
        }
        Ok(info.clone())
    }

    /// The token named `id` (a browser session's, checked in full when the session began), if
    /// it is still in the file, not revoked, and grants `scope`.
    pub fn check_id(&self, id: &str, scope: Scope) -> Result<TokenInfo, Denied> {
        let cache = self.current();
        let info = cache
            .1
            .iter()
            .find(|t| t.id == id && t.revoked_us.is_none())
            .ok_or(Denied::Unauthenticated)?;
        if !info.grants(scope) {
            return Err(Denied::Forbidden);
        }
        Ok(info.clone())
    }

    /// The tokens, re-read when the file changed (looked at most every [`RECHECK`]).
    fn current(
        &self,
    ) -> std::sync::MutexGuard<'_, (Option<SystemTime>, Vec<TokenInfo>, std::time::Instant)> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if now.duration_since(cache.2) >= RECHECK {
            cache.2 = now;
            let mtime = std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok();
            if mtime != cache.0 {
                // A file being rewritten is replaced atomically; one that cannot be read keeps
                // the tokens last read.
                if let Ok(f) = read_file(&self.path) {
                    (cache.0, cache.1) = (mtime, f.tokens);
                }
            }
        }
        cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_checked_by_scope_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let (info, token) = create(&path, "otel collector", &[Scope::Ingest]).unwrap();
        let (_, admin) = create(&path, "auditor", &[Scope::Admin]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // The secret is everything after the id; base64url may itself hold '_'.
        let secret = token.splitn(3, '_').nth(2).unwrap();
        assert_eq!(secret.len(), 43);
        assert!(!text.contains(&token) && !text.contains(secret));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let tokens = Tokens::open(&path).unwrap();
        let bearer = |t: &str| format!("Bearer {t}");
        assert_eq!(
            tokens
                .check(Some(&bearer(&token)), Scope::Ingest)
                .unwrap()
                .id,
            info.id
        );
        assert_eq!(
            tokens
                .check(Some(&bearer(&token)), Scope::Read)
                .unwrap_err(),
            Denied::Forbidden
        );
        assert!(tokens.check(Some(&bearer(&admin)), Scope::Read).is_ok());
        let mut wrong = token.clone();
        let last = wrong.pop();
        wrong.push(if last == Some('A') { 'B' } else { 'A' });
        for bad in [None, Some("Basic x".to_owned()), Some(bearer(&wrong))] {
            assert_eq!(
                tokens.check(bad.as_deref(), Scope::Ingest).unwrap_err(),
                Denied::Unauthenticated
            );
        }
        // Revoked in the file: refused once the file is looked at again (at most RECHECK
        // later; the file's time must move).
        std::thread::sleep(std::time::Duration::from_millis(20));
        revoke(&path, &info.id).unwrap();
        std::thread::sleep(RECHECK);
        assert_eq!(
            tokens
                .check(Some(&bearer(&token)), Scope::Ingest)
                .unwrap_err(),
            Denied::Unauthenticated
        );
        assert!(matches!(revoke(&path, "nope"), Err(TokenError::Unknown(_))));
    }
}
