//! Browser sessions (docs/SERVER.md §9): a token is typed once into the login form and
//! exchanged for a session cookie; the token itself never reaches a URL, a page or a log.
//!
//! Invariants: the cookie is `HttpOnly; SameSite=Strict; Path=/` (`Secure` and the `__Host-`
//! prefix under TLS); the server keeps only the BLAKE3 hash of a session id; every request
//! re-checks the session's token against the tokens file (a revoked token ends its sessions);
//! a request that changes anything (every `POST` under `/ui`) must come from the server's own
//! origin (`Origin`, and `Sec-Fetch-Site` when sent) and carry the session's CSRF token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine as _;

use crate::auth::{Denied, Scope, TokenInfo};

/// Sessions kept at most; the least recently used one is dropped beyond.
const MAX_SESSIONS: usize = 256;
/// A session unused this long ends.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after its login, used or not.
const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);

/// One logged-in browser.
#[derive(Debug, Clone)]
struct Session {
    token_id: String,
    /// The CSRF token of this session's forms.
    csrf: String,
    created: Instant,
    seen: Instant,
}

/// What a request's session grants.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub(crate) token: TokenInfo,
    pub(crate) csrf: String,
}

/// Why a browser request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No session, or it ended: log in.
    NoSession,
    /// The session's token lacks the scope.
    Forbidden,
    /// A change not sent by the server's own page (cross-site, or without the CSRF token).
    CrossSite,
}

/// The server's browser sessions, in memory (a restart logs everyone out).
#[derive(Debug)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    /// Served over TLS: the cookie is `Secure` and named with the `__Host-` prefix.
    tls: bool,
}

fn random() -> [u8; 32] {
    let mut b = [0u8; 32];
    // The operating system's generator; without it no session can be made safely.
    getrandom::fill(&mut b).expect("the operating system's random generator");
    b
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Sessions {
    pub(crate) fn new(tls: bool) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            tls,
        }
    }

    /// The cookie's name.
    pub(crate) fn cookie_name(&self) -> &'static str {
        if self.tls {
            "__Host-govtrail_session"
        } else {
            "govtrail_session"
        }
    }

    fn attributes(&self) -> &'static str {
        if self.tls {
            "; Path=/; HttpOnly; SameSite=Strict; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Strict"
        }
    }

    /// A new session for `token` (already checked in full): its `Set-Cookie` value.
    pub(crate) fn start(&self, token: &TokenInfo) -> String {
        let id = random();
        let now = Instant::now();
        let session = Session {
            token_id: token.id.clone(),
            csrf: b64(&random()),
            created: now,
            seen: now,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(*blake3::hash(&id).as_bytes(), session);
        format!("{}={}{}", self.cookie_name(), b64(&id), self.attributes())
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub(crate) fn clear_cookie(&self) -> String {
        format!("{}={}; Max-Age=0", self.cookie_name(), self.attributes())
    }

    /// Ends the session of `headers`' cookie, if any.
    pub(crate) fn end(&self, headers: &HeaderMap) {
        if let Some(key) = self.key(headers) {
            self.map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }

    /// The hashed session id of the request's cookie.
    fn key(&self, headers: &HeaderMap) -> Option<[u8; 32]> {
        let name = self.cookie_name();
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .ok()?;
        (id.len() == 32).then(|| *blake3::hash(&id).as_bytes())
    }

    /// The login of a request's session cookie, if its session lives and its token (re-read
    /// from the tokens file) still grants `scope`.
    pub(crate) fn check(
        &self,
        tokens: &crate::auth::Tokens,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<Login, Refused> {
        let key = self.key(headers).ok_or(Refused::NoSession)?;
        let now = Instant::now();
        let session = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            match map.get_mut(&key) {
                Some(s) if live(s, now) => {
                    s.seen = now;
                    s.clone()
                }
                Some(_) => {
                    map.remove(&key);
                    return Err(Refused::NoSession);
                }
                None => return Err(Refused::NoSession),
            }
        };
        match tokens.check_id(&session.token_id, scope) {
            Ok(token) => Ok(Login {
                token,
                csrf: session.csrf,
            }),
            Err(Denied::Forbidden) => Err(Refused::Forbidden),
            Err(Denied::Unauthenticated) => {
                // Revoked or removed: the session ends with its token.
                self.end(headers);
                Err(Refused::NoSession)
            }
        }
    }

    /// As [`Sessions::check`], for a request that changes something: it must also come from
    /// the server's own pages (see [`same_origin`]) and carry the session's CSRF token.
    pub(crate) fn check_change(
        &self,
        tokens: &crate::auth::Tokens,
        headers: &HeaderMap,
        csrf: Option<&str>,
        scope: Scope,
    ) -> Result<Login, Refused> {
        if !same_origin(headers, self.tls) {
            return Err(Refused::CrossSite);
        }
        let login = self.check(tokens, headers, scope)?;
        // Compared as hashes: constant time.
        let sent = csrf.map(|c| blake3::hash(c.as_bytes()));
        if sent != Some(blake3::hash(login.csrf.as_bytes())) {
            return Err(Refused::CrossSite);
        }
        Ok(login)
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
}

/// Whether a state-changing request was sent by a page of this server: its `Origin` is the
/// server's own (`http[s]://` and the `Host` it was sent to), and `Sec-Fetch-Site`, when the
/// browser sends it, says `same-origin`. A request without `Origin` is refused (browsers send
/// it with every `POST`).
pub(crate) fn same_origin(headers: &HeaderMap, tls: bool) -> bool {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
    {
        return false;
    }
    let (Some(origin), Some(host)) = (get(header::ORIGIN), get(header::HOST)) else {
        return false;
    };
    let scheme = if tls { "https://" } else { "http://" };
    origin.strip_prefix(scheme) == Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origin_must_be_the_servers_own() {
        let ok = [
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(same_origin(&headers(&ok), false));
        assert!(!same_origin(&headers(&ok), true), "scheme differs");
        let foreign = [
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(!same_origin(&headers(&foreign), false));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8080")]), false));
        let cross = [
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert!(!same_origin(&headers(&cross), false));
        let null = [("origin", "null"), ("host", "127.0.0.1:8080")];
        assert!(!same_origin(&headers(&null), false));
    }

    #[test]
    fn cookies_are_parsed_by_name_and_unknown_ids_refused() {
        let s = Sessions::new(false);
        let h = headers(&[("cookie", "a=b; govtrail_session=AAAA; c=d")]);
        assert_eq!(s.key(&h), None, "not 32 bytes");
        let id = b64(&[7u8; 32]);
        let h = headers(&[("cookie", &format!("x=1; govtrail_session={id}"))]);
        assert_eq!(s.key(&h), Some(*blake3::hash(&[7u8; 32]).as_bytes()));
        assert!(
            Sessions::new(true).key(&h).is_none(),
            "TLS uses the __Host- name"
        );
    }
}
