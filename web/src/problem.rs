//! Error responses: RFC 9457 problem details (`application/problem+json`), with a
//! `Retry-After` where the client should come back, and the request bodies' decoding (size
//! limits before and after decompression).

use std::io::Read as _;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answered as problem details.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) detail: String,
    /// Seconds after which a retry may succeed (429, 503).
    pub(crate) retry_after: Option<u64>,
    /// More members of the problem object.
    pub(crate) extra: Map<String, Value>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            retry_after: None,
            extra: Map::new(),
        }
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(o) = &mut body {
            o.extend(self.extra);
        }
        let mut r = (self.status, body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"govtrail\""),
            );
        }
        r
    }
}

/// The body of a request, decompressed as its `Content-Encoding` says (identity, gzip or zstd),
/// refused past `limit` bytes once decompressed (413: a gzip bomb stops there, the rest is
/// never inflated).
pub(crate) fn decode_body(
    headers: &HeaderMap,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, Problem> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body decompresses to more than {limit} bytes"),
        )
    };
    let inflate = |reader: &mut dyn std::io::Read, name: &str| {
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, format!("not valid {name}: {e}")))?;
        if out.len() > limit {
            return Err(too_large());
        }
        Ok(out)
    };
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(too_large());
            }
            Ok(body.to_vec())
        }
        "gzip" | "x-gzip" => inflate(&mut flate2::read::MultiGzDecoder::new(body), "gzip"),
        "zstd" => {
            let mut d = zstd::stream::read::Decoder::new(body).map_err(|e| {
                Problem::new(StatusCode::BAD_REQUEST, format!("not valid zstd: {e}"))
            })?;
            inflate(&mut d, "zstd")
        }
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {other:?} is not supported (identity, gzip or zstd)"),
        )),
    }
}

/// A request's body as sent, within `limits`: 408 when it does not arrive within the body
/// timeout, 413 past the body size.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limits: &crate::Limits,
) -> Result<axum::body::Bytes, Problem> {
    match tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.body_bytes),
    )
    .await
    {
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                limits.body_timeout.as_secs()
            ),
        )),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is larger than {} bytes",
                        limits.body_bytes
                    ),
                )
            } else {
                Problem::new(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
            })
        }
        Ok(Ok(b)) => Ok(b),
    }
}
