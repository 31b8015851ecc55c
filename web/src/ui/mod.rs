//! The dashboard (docs/SERVER.md §9): pages rendered on the server from the read API's own
//! functions (the same reports and rows `/v1` answers), with charts as inline SVG and one small
//! script for live figures. Assets are compiled into the binary; no page loads anything from
//! elsewhere.
//!
//! Invariants: a page is answered only to a live browser session (`session.rs`) whose token
//! grants its scope; every `POST` is checked for origin and CSRF token; every answer carries a
//! Content-Security-Policy that allows only this server's own script, style and images; text
//! from records is escaped (maud escapes every splice).

mod actions;
mod chart;
mod live;
mod pages;
pub(crate) mod session;
mod tarball;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use crate::State;
use crate::auth::Scope;
use crate::problem::Problem;
pub(crate) use live::{Live, sample_live};
use session::{Login, Refused};

/// The stylesheet and the script, with the first 16 hex digits of their BLAKE3 hash in their
/// names (cached for a year: a new build names them anew).
struct Asset {
    path: String,
    body: &'static str,
    content_type: &'static str,
}

fn asset(name: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let hash = blake3::hash(body.as_bytes()).to_hex();
    Asset {
        path: format!("/ui/assets/{name}.{}.{ext}", &hash[..16]),
        body,
        content_type,
    }
}

static CSS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "css",
        include_str!("../../assets/app.css"),
        "text/css; charset=utf-8",
    )
});
static JS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "js",
        include_str!("../../assets/app.js"),
        "text/javascript; charset=utf-8",
    )
});

/// What every dashboard answer carries.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers. The referrer policy is `same-origin`, not `no-referrer`: under
/// `no-referrer` a browser sends `Origin: null` with a form's `POST`, which the origin check
/// (session.rs) must refuse; no URL of the dashboard holds a secret.
fn secure_headers(r: &mut Response, cache: &'static str) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

/// The dashboard's routes.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::overview))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/assets/{name}", get(serve_asset))
        .route("/ui/events", get(live::events))
        .route("/ui/fragments/series", get(pages::series_fragment))
        .route("/ui/decisions", get(pages::decisions))
        .route("/ui/decisions/{index}", get(pages::decision))
        .route("/ui/decisions/{index}/proof", get(pages::proof))
        .route("/ui/sessions", get(pages::sessions))
        .route("/ui/sessions/{id}", get(pages::session))
        .route("/ui/overhead", get(actions::overhead))
        .route("/ui/overhead/export", post(actions::overhead_export))
        .route("/ui/verify", get(actions::verify).post(actions::verify_run))
        .route("/ui/evidence", post(actions::evidence))
        .route("/ui/replay", get(actions::replay).post(actions::replay_run))
        .route("/ui/replay/{run}", get(actions::replay_result))
        .route("/ui/replay/{run}/junit", get(actions::replay_junit))
        .route("/ui/roi", get(actions::roi))
        .layer(axum::middleware::map_response(every_answer))
}

/// The security headers on every dashboard answer, also those no handler wrote (redirects,
/// extractor rejections, 405s); a handler's own `Cache-Control` stays.
async fn every_answer(mut r: Response) -> Response {
    if !r.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        let cache = r.headers_mut().remove(header::CACHE_CONTROL);
        secure_headers(&mut r, "no-store");
        if let Some(c) = cache {
            r.headers_mut().insert(header::CACHE_CONTROL, c);
        }
    }
    r
}

async fn serve_asset(Path(name): Path<String>) -> Response {
    for a in [&*CSS, &*JS] {
        if a.path.rsplit('/').next() == Some(name.as_str()) {
            let mut r = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                )],
                a.body,
            )
                .into_response();
            secure_headers(&mut r, "public, max-age=31536000, immutable");
            return r;
        }
    }
    error_page(None, StatusCode::NOT_FOUND, "no such asset")
}

/// The pages of the navigation, with their paths.
const NAV: [(&str, &str); 7] = [
    ("Overview", "/ui/"),
    ("Decisions", "/ui/decisions"),
    ("Sessions", "/ui/sessions"),
    ("Overhead", "/ui/overhead"),
    ("Replay", "/ui/replay"),
    ("Verify", "/ui/verify"),
    ("ROI", "/ui/roi"),
];

/// A whole page: the navigation (with `current` marked), the heading `title` and `body`.
fn layout(login: Option<&Login>, current: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · govtrail" }
                link rel="stylesheet" href=(CSS.path);
                @if let Some(l) = login {
                    meta name="csrf-token" content=(l.csrf);
                }
                script type="module" src=(JS.path) {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "govtrail" }
                    @if let Some(l) = login {
                        nav aria-label="Pages" {
                            ul {
                                @for (name, path) in NAV {
                                    li {
                                        @if name == current {
                                            a href=(path) aria-current="page" { (name) }
                                        } @else {
                                            a href=(path) { (name) }
                                        }
                                    }
                                }
                            }
                        }
                        form.logout method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(l.csrf);
                            span.who { "Token " (l.token.name) " (" (scopes(l)) ")" }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
                footer { "govtrail " (env!("CARGO_PKG_VERSION")) }
            }
        }
    }
}

fn scopes(l: &Login) -> String {
    l.token
        .scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A rendered page as an answer.
fn page(status: StatusCode, markup: Markup) -> Response {
    let mut r = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response();
    secure_headers(&mut r, "no-store");
    r
}

/// A page saying what went wrong.
fn error_page(login: Option<&Login>, status: StatusCode, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    page(
        status,
        layout(
            login,
            "",
            title,
            html! { p.error role="alert" { (detail) } },
        ),
    )
}

impl From<Problem> for UiError {
    fn from(p: Problem) -> Self {
        Self::Problem(p)
    }
}

/// Why a dashboard request was not answered with its page.
enum UiError {
    Refused(Refused, Uri),
    Problem(Problem),
}

/// The session of a page request that needs `scope`, or the answer that refuses it: a
/// redirect to the login form (which comes back here), or 403. The view is written to the
/// access log as the API's reads are.
fn guard(state: &State, headers: &HeaderMap, uri: &Uri, scope: Scope) -> Result<Login, UiError> {
    let login = state
        .sessions
        .check(&state.tokens, headers, scope)
        .map_err(|r| UiError::Refused(r, uri.clone()))?;
    crate::auth_layer::log_access(state, &login.token.id, scope, uri.path());
    Ok(login)
}

/// As [`guard`], for a `POST` that changes something or runs work: also checked for origin
/// and CSRF token.
fn guard_change(
    state: &State,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: Option<&str>,
    scope: Scope,
) -> Result<Login, UiError> {
    let login = state
        .sessions
        .check_change(&state.tokens, headers, csrf, scope)
        // A logged-out POST logs in again to the overview: its own path has no page.
        .map_err(|r| UiError::Refused(r, Uri::from_static("/ui/")))?;
    crate::auth_layer::log_access(state, &login.token.id, scope, uri.path());
    Ok(login)
}

impl UiError {
    fn into_response(self, login: Option<&Login>) -> Response {
        match self {
            UiError::Refused(Refused::NoSession, uri) => {
                let next = uri
                    .path_and_query()
                    .map_or("/ui/", |p| p.as_str())
                    .to_owned();
                let to = format!("/ui/login?next={}", encode(&next));
                let mut r = Redirect::to(&to).into_response();
                secure_headers(&mut r, "no-store");
                r
            }
            UiError::Refused(Refused::Forbidden, _) => error_page(
                login,
                StatusCode::FORBIDDEN,
                "Your token does not have the scope this needs (running replays, verifications \
                 and exports needs the admin scope).",
            ),
            UiError::Refused(Refused::CrossSite, _) => error_page(
                login,
                StatusCode::FORBIDDEN,
                "This request did not come from this dashboard's own page (its origin or its \
                 form token is missing or wrong); nothing was done.",
            ),
            UiError::Problem(p) => error_page(login, p.status, &p.detail),
        }
    }
}

/// Percent-encodes a path segment or a query parameter's value (all but RFC 3986's
/// unreserved characters, so a session id with `/` or `?` stays one segment).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string of `pairs` (the empty values left out).
fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Where a login goes back to: a path of this dashboard, never elsewhere (and only visible
/// ASCII: it becomes a `Location` header).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && n.bytes().all(|b| b.is_ascii_graphic())
                && !n.contains("//")
                && !n.contains("..")
                && !n.contains('\\') =>
        {
            n
        }
        _ => "/ui/",
    }
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

fn login_page(status: StatusCode, next: &str, message: Option<&str>) -> Response {
    page(
        status,
        layout(
            None,
            "",
            "Log in",
            html! {
                @if let Some(m) = message {
                    p.error role="alert" { (m) }
                }
                p { "Paste a token made with " code { "govtrail token create" } ". A read token \
                     shows every page; running replays, verifications and exports needs an admin \
                     token. The token is exchanged for a session cookie and is not kept by the \
                     browser." }
                form.login method="post" action="/ui/login" {
                    input type="hidden" name="next" value=(next);
                    label for="token" { "Token" }
                    input id="token" name="token" type="password" autocomplete="off" required
                        spellcheck="false";
                    button type="submit" { "Log in" }
                }
            },
        ),
    )
}

async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    login_page(StatusCode::OK, safe_next(q.next.as_deref()), None)
}

#[derive(serde::Deserialize)]
struct LoginBody {
    token: String,
    next: Option<String>,
}

async fn login(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    form: Result<Form<LoginBody>, axum::extract::rejection::FormRejection>,
) -> Response {
    let tls = state.opts.tls.is_some();
    if !session::same_origin(&headers, tls) {
        return error_page(
            None,
            StatusCode::FORBIDDEN,
            "A login must be sent from this dashboard's own login page.",
        );
    }
    let Ok(Form(body)) = form else {
        return login_page(
            StatusCode::BAD_REQUEST,
            "/ui/",
            Some("The form was not sent whole."),
        );
    };
    let next = safe_next(body.next.as_deref()).to_owned();
    let bearer = format!("Bearer {}", body.token.trim());
    match state.tokens.check(Some(&bearer), Scope::Read) {
        Ok(token) => {
            let cookie = state.sessions.start(&token);
            crate::auth_layer::log_access(&state, &token.id, Scope::Read, "/ui/login");
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            secure_headers(&mut r, "no-store");
            r
        }
        Err(crate::auth::Denied::Forbidden) => login_page(
            StatusCode::FORBIDDEN,
            &next,
            Some("That token has neither the read nor the admin scope."),
        ),
        Err(crate::auth::Denied::Unauthenticated) => login_page(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That is not a valid token of this server (or it was revoked)."),
        ),
    }
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

async fn logout(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = guard_change(&state, &headers, &uri, f.csrf.as_deref(), Scope::Read) {
        return e.into_response(None);
    }
    state.sessions.end(&headers);
    let mut r = Redirect::to("/ui/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&state.sessions.clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    secure_headers(&mut r, "no-store");
    r
}

/// A number with thousands separators.
fn count(n: impl Into<i128>) -> String {
    let s = n.into().to_string();
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Microseconds as milliseconds, 2 decimals (`—` when absent).
fn ms(us: Option<f64>) -> String {
    us.map_or_else(|| "—".into(), |u| format!("{:.2} ms", u / 1000.0))
}

/// Microseconds since the epoch as RFC 3339 UTC, to the millisecond.
fn time(us: i64) -> String {
    schemas::us_rfc3339(us)
}

/// A JSON value as a table cell: a string as itself, null as a dash.
fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{encode, safe_next};

    #[test]
    fn a_login_goes_back_only_to_a_dashboard_path() {
        for ok in ["/ui/", "/ui/sessions?sort=asks", "/ui/decisions/5"] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil.example",
            "/ui/../../x",
            "/ui/\\evil",
            "/ui/a\nLocation: x",
            "/uix",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(encode("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(encode("demo-00001_x.~"), "demo-00001_x.~");
    }
}
