//! Sending a call to `govtrail serve` (docs/SERVER.md §2): `hook` and `decide` pointed at a
//! server post their calls there, and fall back to the local spool when it cannot be reached
//! or refuses them. The token comes from the environment (`GOVTRAIL_TOKEN`), never from the
//! command line, and never appears in an error. An `https://` server is reached through rustls
//! (ring), trusting the certificates of `--server-ca` or else the system's CA bundle.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The system's CA bundle (Debian's `ca-certificates`).
const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Where to send calls: `--server`, `--server-timeout-ms`, `--server-ca`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) url: &'a str,
    pub(crate) timeout: Duration,
    pub(crate) ca: Option<&'a Path>,
}

/// A server to send calls to.
pub(crate) struct Remote {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Remote {
    /// The server at the target's URL (`http://host:port` or `https://…`), with the token in
    /// `GOVTRAIL_TOKEN`, each request given at most its timeout.
    pub(crate) fn new(target: &Target<'_>) -> Result<Self, String> {
        let url = target.url;
        let token = std::env::var("GOVTRAIL_TOKEN")
            .map_err(|_| "--server needs the server's token in GOVTRAIL_TOKEN".to_owned())?;
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(target.timeout))
            .http_status_as_error(false);
        if url.starts_with("https://") {
            config = config.tls_config(tls(target.ca.unwrap_or(Path::new(SYSTEM_CA)))?);
        } else if !url.starts_with("http://") {
            return Err(format!("--server {url}: not an http:// or https:// URL"));
        }
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            token,
            agent: config.build().into(),
        })
    }

    /// POSTs `body` to `path`: the status and body of a 2xx answer, or why there is none.
    pub(crate) fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        let url = format!("{}{path}", self.base);
        let mut resp = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("{url}: reading the answer: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(format!("{url}: answered {status}"));
        }
        Ok(bytes)
    }
}

/// TLS trusting the PEM certificates in `ca`, verified by rustls with ring.
#[expect(
    deprecated,
    reason = "ring, as the server: no aws-lc C and CMake toolchain; it offers no post-quantum \
              key exchange (docs/SERVER.md §3)"
)]
fn tls(ca: &Path) -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, TlsProvider, parse_pem};
    let pem = std::fs::read(ca).map_err(|e| format!("--server-ca {}: {e}", ca.display()))?;
    let certs: Vec<_> = parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "--server-ca {}: no PEM certificate in it",
            ca.display()
        ));
    }
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::from(certs))
        .build())
}
