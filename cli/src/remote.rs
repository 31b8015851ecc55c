//! Sending a call to `govtrail serve` (docs/SERVER.md §2): `hook` and `decide` pointed at a
//! server post their calls there, and fall back to the local spool when it cannot be reached
//! or refuses them. The token comes from the environment (`GOVTRAIL_TOKEN`), never from the
//! command line, and never appears in an error.

use std::time::Duration;

/// A server to send calls to.
pub(crate) struct Remote {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Remote {
    /// The server at `url` (`http://host:port`), with the token in `GOVTRAIL_TOKEN`, each
    /// request given at most `timeout`.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let token = std::env::var("GOVTRAIL_TOKEN")
            .map_err(|_| "--server needs the server's token in GOVTRAIL_TOKEN".to_owned())?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            token,
            agent,
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
