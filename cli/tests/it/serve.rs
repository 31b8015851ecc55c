//! `govtrail serve` (docs/SERVER.md), the real server on loopback, driven by a plain HTTP/1.1
//! client written here (so that bad and slow requests can be sent as they are), the
//! OpenTelemetry Python SDK's OTLP/HTTP exporters, and an uploader that behaves as OPA's
//! decision-log plugin does.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{bin, run, setup, text, verify_json};

/// A running server; killed when dropped.
pub(crate) struct Served {
    child: Child,
    pub(crate) addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `govtrail serve` on a free loopback port with `extra` flags.
    pub(crate) fn start(ledger: &Path, key: &Path, state_dir: &Path, extra: &[&str]) -> Self {
        let mut c = bin();
        c.args([
            "serve",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state_dir.to_str().unwrap(),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .rsplit("://")
            .next()
            .map(|a| a.trim().to_owned())
            .filter(|a| a.contains(':'))
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, addr }
    }

    /// SIGTERM, and the exit status and standard error.
    pub(crate) fn stop(mut self) -> (Option<i32>, String) {
        rustix_kill(self.child.id(), "TERM");
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), err)
    }
}

fn rustix_kill(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status();
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw `head` (request line and headers, without the blank line) and `body`, with a
/// Content-Length, and reads the answer to the end (`Connection: close`).
pub(crate) fn raw(addr: &str, head: &str, body: &[u8]) -> Answer {
    try_raw(addr, head, body).unwrap_or_else(|e| panic!("{head}: {e}"))
}

/// [`raw`], or the I/O error that cut it (a server killed mid-request).
fn try_raw(addr: &str, head: &str, body: &[u8]) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(request.as_bytes())?;
    // The server may answer (413, 401) before it reads a large body.
    let _ = s.write_all(body);
    try_read_answer(s)
}

fn read_answer(s: TcpStream) -> Answer {
    try_read_answer(s).unwrap()
}

fn try_read_answer(s: TcpStream) -> std::io::Result<Answer> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| bad(format!("chunk size {line:?}")))?;
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut body)?;
    }
    if let Some(n) = headers
        .get("content-length")
        .and_then(|n| n.parse::<usize>().ok())
        && n != body.len()
    {
        return Err(bad(format!("{} of {n} body bytes", body.len())));
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn head(method: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1");
    if let Some(t) = token {
        head.push_str(&format!("\r\nAuthorization: Bearer {t}"));
    }
    for (k, v) in headers {
        head.push_str(&format!("\r\n{k}: {v}"));
    }
    head
}

/// A request with a bearer token and more headers.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    raw(addr, &head(method, path, token, headers), body)
}

/// Makes a token with `scopes` in `tokens`.
pub(crate) fn token(tokens: &Path, name: &str, scopes: &[&str]) -> String {
    let mut args = vec![
        "token",
        "create",
        "--tokens",
        tokens.to_str().unwrap(),
        "--name",
        name,
    ];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn assert_problem(a: &Answer, status: u16, detail: &str) {
    assert_eq!(a.status, status, "{}", a.text());
    assert_eq!(
        a.headers.get("content-type").map(String::as_str),
        Some("application/problem+json"),
        "{a:?}"
    );
    let p = a.json();
    assert_eq!(p["status"], status, "{p}");
    assert!(
        p["detail"].as_str().unwrap_or_default().contains(detail),
        "{detail:?} not in {p}"
    );
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every ingest endpoint with good and bad input; the read endpoints; the ledger verifies
/// after a SIGTERM and holds each decision once.
#[test]
fn serve_answers_each_client_as_its_protocol_says_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let tokens = state.join("tokens.json");
    let ingest = token(&tokens, "collector", &["ingest"]);
    let reader = token(&tokens, "auditor", &["read"]);
    let s = Served::start(
        &ledger,
        &key,
        &state,
        &["--max-body", "65536", "--body-timeout", "1"],
    );
    let addr = s.addr.as_str();
    let examples = std::fs::read(repo().join("examples/decisions.ndjson")).unwrap();

    // Native: appended, then the same body again is duplicates; nothing stored twice.
    let a = request(addr, "POST", "/v1/decisions", Some(&ingest), &[], &examples);
    assert_eq!(a.status, 200, "{}", a.text());
    let r = a.json();
    assert_eq!(
        (r["appended"].as_u64(), r["first_index"].as_u64()),
        (Some(8), Some(0)),
        "{r}"
    );
    assert!(r["checkpoint"].as_str().unwrap().contains("\n8\n"), "{r}");
    // The same body gzip-compressed, as a retrying client may send it.
    let again = request(
        addr,
        "POST",
        "/v1/decisions",
        Some(&ingest),
        &[("Content-Encoding", "gzip")],
        &gzip(&examples),
    );
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        (
            again.json()["appended"].as_u64(),
            again.json()["duplicates"].as_u64()
        ),
        (Some(0), Some(8))
    );

    // Bad input, each with its status and a problem body.
    let bad = request(
        addr,
        "POST",
        "/v1/decisions",
        Some(&ingest),
        &[],
        b"{not json}\n",
    );
    assert_problem(&bad, 422, "no unit");
    assert_eq!(bad.json()["rejected"][0]["line"], 1, "{}", bad.text());
    let schema = request(
        addr,
        "POST",
        "/v1/decisions",
        Some(&ingest),
        &[],
        br#"{"decision_id":"x"}"#,
    );
    assert_problem(&schema, 422, "no unit");
    assert_problem(
        &request(addr, "POST", "/v1/decisions", None, &[], &examples),
        401,
        "bearer token",
    );
    assert_eq!(
        request(addr, "POST", "/v1/decisions", None, &[], b"")
            .headers
            .get("www-authenticate")
            .map(String::as_str),
        Some("Bearer realm=\"govtrail\"")
    );
    assert_problem(
        &request(
            addr,
            "POST",
            "/v1/decisions",
            Some("gvt_00_nope"),
            &[],
            &examples,
        ),
        401,
        "not valid",
    );
    assert_problem(
        &request(addr, "POST", "/v1/decisions", Some(&reader), &[], &examples),
        403,
        "ingest scope",
    );
    assert_problem(
        &request(
            addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[],
            &vec![b' '; 70_000],
        ),
        413,
        "larger than 65536",
    );
    // A gzip bomb: 64 MiB of zeros in about 64 KiB; refused at the limit, not inflated.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 65536, "{}", bomb.len());
    assert_problem(
        &request(
            addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[("Content-Encoding", "gzip")],
            &bomb,
        ),
        413,
        "decompresses to more than",
    );
    assert_problem(
        &request(
            addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[("Content-Encoding", "br")],
            &examples,
        ),
        415,
        "not supported",
    );
    assert_problem(
        &request(addr, "GET", "/nope", None, &[], b""),
        404,
        "no endpoint /nope",
    );
    assert_problem(
        &request(
            addr,
            "GET",
            "/tile/0/../../govtrail-ledger.json",
            None,
            &[],
            b"",
        ),
        404,
        "",
    );
    assert_problem(
        &request(addr, "GET", "/tile/0/001", None, &[], b""),
        404,
        "not within the tree",
    );
    // A slow client: the body never finishes.
    {
        let mut c = TcpStream::connect(addr).unwrap();
        write!(
            c,
            "POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ingest}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"deci"
        )
        .unwrap();
        assert_problem(&read_answer(c), 408, "did not arrive within 1 s");
    }

    // OPA: a gzip chunk of events, one of them bad, answered 200 (OPA would re-send a refused
    // chunk forever); the bad one kept with its reason; the chunk sent twice stored once.
    let opa: Value = serde_json::from_slice(
        &std::fs::read(repo().join("tests/fixtures/opa/decision-logs.derived.json")).unwrap(),
    )
    .unwrap();
    let mut events = opa.as_array().unwrap().clone();
    let good = events.len() as u64;
    events.push(serde_json::json!({"decision_id": 7, "timestamp": "yesterday"}));
    let chunk = gzip(serde_json::to_string(&events).unwrap().as_bytes());
    let gz = [
        ("Content-Encoding", "gzip"),
        ("Content-Type", "application/json"),
    ];
    for _ in 0..2 {
        let a = request(addr, "POST", "/logs", Some(&ingest), &gz, &chunk);
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let kept: Vec<_> = std::fs::read_dir(state.join("rejected"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        kept.iter().filter(|n| n.ends_with(".opa.body")).count(),
        2,
        "{kept:?}"
    );
    // A chunk that is not even gzip: still 200, kept.
    assert_eq!(
        request(addr, "POST", "/logs", Some(&ingest), &gz, b"not gzip").status,
        200
    );

    // OTLP: protobuf (the SDK's captured body) and JSON; a body that is neither is 400 with a
    // google.rpc.Status; another Content-Type is 415.
    let pb = std::fs::read(repo().join("tests/fixtures/otlp/otel-sdk-traces.captured.pb")).unwrap();
    let a = request(
        addr,
        "POST",
        "/v1/traces",
        Some(&ingest),
        &[("Content-Type", "application/x-protobuf")],
        &pb,
    );
    assert_eq!(
        (a.status, a.body.len()),
        (200, 0),
        "full success: an empty response message"
    );
    let js =
        std::fs::read(repo().join("tests/fixtures/otlp/claude-code-logs.derived.json")).unwrap();
    let a = request(
        addr,
        "POST",
        "/v1/logs",
        Some(&ingest),
        &[("Content-Type", "application/json")],
        &js,
    );
    assert_eq!(
        (a.status, a.json()),
        (200, serde_json::json!({})),
        "{}",
        a.text()
    );
    let a = request(
        addr,
        "POST",
        "/v1/traces",
        Some(&ingest),
        &[("Content-Type", "application/json")],
        b"[1,2]",
    );
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.json()["code"], 3);
    let a = request(
        addr,
        "POST",
        "/v1/traces",
        Some(&ingest),
        &[("Content-Type", "text/plain")],
        &pb,
    );
    assert_problem(&a, 415, "application/x-protobuf");

    // Claude Code tap mode: an empty 200, the payload recorded.
    let payload = br#"{"hook_event_name":"PreToolUse","session_id":"s-tap","tool_use_id":"toolu_tap","tool_name":"Bash","tool_input":{"command":"export TOKEN=hunter2hunter2 && ls"},"cwd":"/w"}"#;
    let a = request(
        addr,
        "POST",
        "/v1/hooks/claude-code",
        Some(&ingest),
        &[("Content-Type", "application/json")],
        payload,
    );
    assert_eq!((a.status, a.body.len()), (200, 0), "{}", a.text());

    // Reads: one decision with its proof, which verifies offline; the checkpoint; a tile.
    let a = request(addr, "GET", "/v1/decisions/3", Some(&reader), &[], b"");
    assert_eq!(a.status, 200, "{}", a.text());
    let d = a.json();
    assert_eq!(d["index"], 3);
    let record = tmp.path().join("record.json");
    let proof = tmp.path().join("proof.txt");
    std::fs::write(&record, d["record_bytes"].as_str().unwrap()).unwrap();
    std::fs::write(&proof, d["proof"].as_str().unwrap()).unwrap();
    let o = run(&[
        "verify-proof",
        proof.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_problem(
        &request(addr, "GET", "/v1/decisions/3", Some(&ingest), &[], b""),
        403,
        "read scope",
    );
    assert_problem(
        &request(addr, "GET", "/v1/decisions/999999", Some(&reader), &[], b""),
        404,
        "",
    );
    assert_problem(
        &request(addr, "GET", "/v1/decisions/x", Some(&reader), &[], b""),
        400,
        "not a record index",
    );
    let log = std::fs::read_to_string(state.join("access.log")).unwrap();
    assert!(
        log.contains("/v1/decisions/{index}") && !log.contains(&reader),
        "{log}"
    );
    let cp = request(addr, "GET", "/checkpoint", None, &[], b"");
    assert_eq!(cp.status, 200);
    let size: u64 = cp.text().lines().nth(1).unwrap().parse().unwrap();
    let t = request(
        addr,
        "GET",
        &format!("/tile/0/000.p/{}", size.min(255)),
        None,
        &[],
        b"",
    );
    assert_eq!((t.status, t.body.len() as u64), (200, 32 * size.min(255)));
    assert_eq!(request(addr, "GET", "/healthz", None, &[], b"").status, 200);
    assert_eq!(request(addr, "GET", "/readyz", None, &[], b"").status, 200);
    let m = request(addr, "GET", "/metrics", None, &[], b"").text();
    assert!(
        m.contains("govtrail_ingest_records_total{endpoint=\"native\",outcome=\"duplicate\"} 8"),
        "{m}"
    );
    // No token in any answer or log.
    for secret in [&ingest, &reader] {
        assert!(!m.contains(secret.as_str()));
    }
    // The exposition parses with the Prometheus project's own parsers and follows its naming
    // conventions (tests/metrics/check_metrics.py).
    let metrics_file = tmp.path().join("metrics.txt");
    std::fs::write(&metrics_file, &m).unwrap();
    let o = std::process::Command::new(govtrail_tests::python())
        .arg(repo().join("tests/metrics/check_metrics.py"))
        .arg(&metrics_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let families: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(families["govtrail_ingest_records"], "counter", "{families}");
    assert_eq!(
        families["govtrail_ingest_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(families["govtrail_fsync_duration_seconds"], "histogram");
    assert_eq!(families["govtrail_commit_duration_seconds"], "histogram");
    assert_eq!(families["govtrail_fsync_stalls"], "counter");
    // Every commit that wrote was observed: the records above took at least one fsync.
    let fsyncs = m
        .lines()
        .find_map(|l| l.strip_prefix("govtrail_fsync_duration_seconds_count "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(fsyncs >= 1, "{m}");

    // SIGTERM: a clean stop; every acknowledged record is there, each once, and verifies.
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains(&ingest) && !err.contains(&reader), "{err}");
    let (code, v) = verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{v}");
    // 8 native, OPA's good events once, the SDK's 10 guardrail spans, 2 Claude Code log
    // decisions, 1 tap payload.
    assert_eq!(v["verified"].as_u64(), Some(8 + good + 10 + 2 + 1), "{v}");
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT json_str(record, '/tool_input/command') AS c FROM decisions WHERE session_id = 's-tap'",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "c\nexport TOKEN=**MASKED** && ls\n",
        "secrets masked in hook payloads: {}",
        text(&o)
    );
}

/// The OpenTelemetry Python SDK's OTLP/HTTP exporters (batch processors, gzip traces,
/// bearer token) post to the server; every export is answered success; sent again (as an
/// exporter retries), the same spans and log records are duplicates, stored once.
#[test]
fn otel_sdk_exporters_post_to_the_server_and_a_resend_is_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "otel", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    for _ in 0..2 {
        let o = std::process::Command::new(govtrail_tests::python())
            .arg(repo().join("tests/otel/emit.py"))
            .args([
                "--endpoint",
                &format!("http://{}", s.addr),
                "--token",
                &ingest,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "SUCCESS SUCCESS");
    }
    let m = request(&s.addr, "GET", "/metrics", None, &[], b"").text();
    for (endpoint, n) in [("otlp-traces", 10), ("otlp-logs", 3)] {
        for outcome in ["appended", "duplicate"] {
            let line = format!(
                "govtrail_ingest_records_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {n}"
            );
            assert!(m.contains(&line), "{line} not in {m}");
        }
    }
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT decision, count(*) AS n FROM decisions GROUP BY 1 ORDER BY 1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "decision,n\nallow,4\nask,1\ndeny,4\nwarn,4\n",
        "{}",
        text(&o)
    );
}

/// An uploader that behaves as OPA's decision-log plugin does: gzip JSON-array chunks of at
/// most 32 KiB, each re-sent after any non-2xx or connection error with a backoff from 100 ms,
/// reading nothing of the answer. Four of them against a server that takes one request at a
/// time (the others are answered 503 and come back), one chunk sent twice on purpose: every
/// decision is stored exactly once.
#[test]
fn opa_shaped_uploaders_retrying_on_503_store_each_decision_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 500);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "opa", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &["--max-concurrent", "1"]);
    let template: Value = serde_json::from_slice(
        &std::fs::read(repo().join("tests/fixtures/opa/decision-logs.derived.json")).unwrap(),
    )
    .unwrap();
    let template = template[0].clone();
    let per_uploader = 600;
    let mut handles = Vec::new();
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for u in 0..4 {
        let (addr, ingest, template) = (s.addr.clone(), ingest.clone(), template.clone());
        let refused = std::sync::Arc::clone(&refused);
        handles.push(std::thread::spawn(move || {
            let events: Vec<Value> = (0..per_uploader)
                .map(|i| {
                    let mut e = template.clone();
                    e["decision_id"] = Value::String(format!("opa-{u}-{i}"));
                    e["req_id"] = Value::from(i);
                    e
                })
                .collect();
            // Chunks as OPA cuts them: as many events as fit 32 KiB gzip.
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            let mut start = 0;
            while start < events.len() {
                let mut end = events.len();
                loop {
                    let body = gzip(
                        serde_json::to_string(&events[start..end])
                            .unwrap()
                            .as_bytes(),
                    );
                    if body.len() <= 32 << 10 || end == start + 1 {
                        chunks.push(body);
                        break;
                    }
                    end = start + (end - start) / 2;
                }
                start = end;
            }
            if u == 0 {
                chunks.push(chunks[0].clone());
            }
            for chunk in &chunks {
                let mut delay = Duration::from_millis(100);
                loop {
                    let ok = try_raw(
                        &addr,
                        &head(
                            "POST",
                            "/logs",
                            Some(&ingest),
                            &[
                                ("Content-Encoding", "gzip"),
                                ("Content-Type", "application/json"),
                            ],
                        ),
                        chunk,
                    )
                    .map(|a| a.status);
                    if matches!(ok, Ok(200..=299)) {
                        break;
                    }
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "verify",
        ledger.to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"].as_u64(), Some(4 * per_uploader), "{v}");
    // Not a proof that the limit was reached (the uploaders may have interleaved politely),
    // but it almost always is; the count above holds either way.
    eprintln!(
        "uploads refused and re-sent: {}",
        refused.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// SIGKILL of the server under load, then a restart, over and over: every record a 200
/// acknowledged is in the ledger, each decision once (clients re-send what was not
/// acknowledged), and the ledger verifies. `GOVTRAIL_SERVE_CRASH_CYCLES` cycles (100 by
/// default; scripts/test.sh runs the default).
#[test]
fn sigkill_under_load_loses_no_acknowledged_record() {
    let cycles: u64 = std::env::var("GOVTRAIL_SERVE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 300);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "load", &["ingest"]);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    // Batches sent but not acknowledged: re-sent in a later cycle, as a client would.
    let pending = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<u64>>::new()));
    let batch_body = |ids: &[u64]| {
        ids.iter()
            .map(|i| {
                format!(
                    r#"{{"decision_id":"load-{i}","ts_us":{},"decision":"allow","service":"S","session_id":"s-{}"}}"#,
                    1_765_000_000_000_000 + i,
                    i / 50
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut sent_total = 0;
    for cycle in 0..cycles {
        let s = Served::start(&ledger, &key, &state, &[]);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (addr, ingest) = (s.addr.clone(), ingest.clone());
            let (acked, next, pending, stop) = (
                std::sync::Arc::clone(&acked),
                std::sync::Arc::clone(&next),
                std::sync::Arc::clone(&pending),
                std::sync::Arc::clone(&stop),
            );
            clients.push(std::thread::spawn(move || {
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let ids = pending.lock().unwrap().pop().unwrap_or_else(|| {
                        let first = next.fetch_add(20, std::sync::atomic::Ordering::Relaxed);
                        (first..first + 20).collect()
                    });
                    let body = batch_body(&ids);
                    let answer = try_raw(
                        &addr,
                        &head("POST", "/v1/decisions", Some(&ingest), &[]),
                        body.as_bytes(),
                    );
                    sent += 1;
                    match answer {
                        Ok(a) if a.status == 200 => {
                            let r = a.json();
                            assert_eq!(
                                r["appended"].as_u64().unwrap() + r["duplicates"].as_u64().unwrap(),
                                ids.len() as u64,
                                "{r}"
                            );
                            acked.lock().unwrap().extend(ids);
                        }
                        _ => {
                            pending.lock().unwrap().push(ids);
                            break;
                        }
                    }
                }
                sent
            }));
        }
        // Load for a while, then SIGKILL (no warning, in-flight requests cut).
        std::thread::sleep(Duration::from_millis(20 + (cycle * 37) % 120));
        rustix_kill(s.child.id(), "KILL");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in clients {
            sent_total += c.join().unwrap();
        }
        drop(s);
    }
    // The last batches, on a server that is then stopped cleanly.
    let s = Served::start(&ledger, &key, &state, &[]);
    for ids in std::mem::take(&mut *pending.lock().unwrap()) {
        let a = request(
            &s.addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[],
            batch_body(&ids).as_bytes(),
        );
        assert_eq!(a.status, 200, "{}", a.text());
        acked.lock().unwrap().extend(ids);
    }
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "verify",
        ledger.to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT decision_id FROM decisions",
    ]);
    let stored: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    let unique: std::collections::BTreeSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "a decision stored twice");
    let acked = acked.lock().unwrap();
    for id in acked.iter() {
        assert!(
            unique.contains(&format!("load-{id}")),
            "acknowledged load-{id} lost"
        );
    }
    eprintln!(
        "{cycles} SIGKILL cycles: {sent_total} requests, {} decisions acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
    assert!(acked.len() as u64 > cycles, "the load reached the server");
}

/// Claude Code decide mode: the payload decided with the server's bundle, the call recorded
/// durably, the hook JSON answered; a call no rule covers gets no answer (`{}`: the platform's
/// own flow), and one that cannot be decided is denied under the default fail mode,
/// never let through by a non-2xx.
#[test]
fn claude_code_decide_mode_records_then_answers_the_hook_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "claude-code", &["ingest"]);
    let bundle = repo().join("examples/bundles/tractatus");
    let s = Served::start(
        &ledger,
        &key,
        &state,
        &["--bundle", bundle.to_str().unwrap()],
    );
    let decide = |body: &[u8]| {
        request(
            &s.addr,
            "POST",
            "/v1/hooks/claude-code/decide",
            Some(&ingest),
            &[("Content-Type", "application/json")],
            body,
        )
    };
    let protected = std::fs::read(
        repo().join("tests/fixtures/tractatus/derived-from-code/pretooluse-input.derived.json"),
    )
    .unwrap();
    let a = decide(&protected);
    assert_eq!(a.status, 200, "{}", a.text());
    let answer = a.json();
    assert_eq!(
        answer["hookSpecificOutput"]["permissionDecision"], "deny",
        "{answer}"
    );
    let uncovered = br#"{"hook_event_name":"PreToolUse","session_id":"s-d","tool_use_id":"toolu_d2","tool_name":"SomeNewTool","tool_input":{},"cwd":"/w","permission_mode":"default"}"#;
    let a = decide(uncovered);
    assert_eq!(
        (a.status, a.json()),
        (200, serde_json::json!({})),
        "{}",
        a.text()
    );
    let a = decide(b"{not json");
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["hookSpecificOutput"]["permissionDecision"], "deny");
    // Without a token Claude Code would fail open: the status says so (configure the hook with
    // onFailure: block, docs/SERVER.md).
    assert_eq!(
        request(
            &s.addr,
            "POST",
            "/v1/hooks/claude-code/decide",
            None,
            &[],
            uncovered
        )
        .status,
        401
    );
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT decision, strpos(json_str(record, '/source/raw'), '\"evaluator\":\"server\"') > 0 AS by_server FROM decisions ORDER BY idx",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "decision,by_server\ndeny,true\ndefer,true\ndeny,true\n",
        "{}",
        text(&o)
    );
}

/// A decide call not decided within `--decide-budget-ms` is answered by the fail mode (here
/// closed: a deny naming the budget), and that answer, not the bundle's, is what its record
/// says was given.
#[test]
fn a_decide_call_over_its_budget_is_answered_and_recorded_by_the_fail_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let tokens = state.join("tokens.json");
    let ingest = token(&tokens, "claude-code", &["ingest"]);
    let reader = token(&tokens, "r", &["read"]);
    let bundle = repo().join("examples/bundles/tractatus");
    let s = Served::start(
        &ledger,
        &key,
        &state,
        &[
            "--bundle",
            bundle.to_str().unwrap(),
            "--decide-budget-ms",
            "0",
        ],
    );
    // The bundle defers on this one (`{}`); over the budget, fail closed denies it.
    let uncovered = br#"{"hook_event_name":"PreToolUse","session_id":"s-b","tool_use_id":"toolu_b","tool_name":"SomeNewTool","tool_input":{},"cwd":"/w","permission_mode":"default"}"#;
    let a = request(
        &s.addr,
        "POST",
        "/v1/hooks/claude-code/decide",
        Some(&ingest),
        &[("Content-Type", "application/json")],
        uncovered,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let answer = a.json();
    assert_eq!(
        answer["hookSpecificOutput"]["permissionDecision"], "deny",
        "{answer}"
    );
    assert!(
        answer["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("0 ms budget"),
        "{answer}"
    );
    // The record lands once the evaluation is done.
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = request(&s.addr, "GET", "/v1/decisions", Some(&reader), &[], b"").json();
        if listed["decisions"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = &listed["decisions"][0];
    assert_eq!(d["decision"], "deny", "{listed}");
    let m = request(&s.addr, "GET", "/metrics", None, &[], b"").text();
    assert!(m.contains("govtrail_decide_over_budget_total 1"), "{m}");
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT decision, strpos(json_str(record, '/source/raw'), '0 ms budget') > 0 AS says_why FROM decisions",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "decision,says_why\ndeny,true\n",
        "{}",
        text(&o)
    );
}

/// An existing tlog client follows the served log without a token: `signed_note` verifies the
/// checkpoint with the log's public key, `tlog_tiles` (a port of Go's sumdb/tlog) reads the hash
/// tiles over HTTP through its `TileHashReader`, which authenticates every tile against the
/// signed root, and proves and checks records' inclusion; the leaves are the served records'.
#[test]
fn a_tlog_client_follows_the_checkpoint_and_tiles_and_checks_inclusion() {
    struct Http<'a>(&'a str);
    impl tlog_tiles::TileReader for Http<'_> {
        fn height(&self) -> u8 {
            8
        }
        fn read_tiles(
            &self,
            tiles: &[tlog_tiles::Tile],
        ) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
            tiles
                .iter()
                .map(|t| {
                    // C2SP tlog-tiles paths (height 8, no height in the path).
                    let path = ledger::tile_path(t.level(), t.level_index(), t.width() as usize);
                    let a = request(self.0, "GET", &format!("/{path}"), None, &[], b"");
                    if a.status != 200 || a.body.len() != t.width() as usize * 32 {
                        return Err(tlog_tiles::Error::InvalidTile);
                    }
                    Ok(a.body)
                })
                .collect()
        }
        fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
    }
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "w", &["ingest"]);
    let reader = token(&state.join("tokens.json"), "r", &["read"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    let lines: Vec<String> = (0..700)
        .map(|i| {
            format!(
                r#"{{"decision_id":"t-{i}","ts_us":{},"decision":"allow","service":"S"}}"#,
                1_765_000_000_000_000u64 + i
            )
        })
        .collect();
    for chunk in lines.chunks(100) {
        let a = request(
            &s.addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[],
            chunk.join("\n").as_bytes(),
        );
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let note = request(&s.addr, "GET", "/checkpoint", None, &[], b"").body;
    let n = signed_note::Note::from_bytes(&note).unwrap();
    let vkey_text = std::fs::read_to_string(&vkey).unwrap();
    let known = signed_note::VerifierList::new(vec![Box::new(
        signed_note::StandardVerifier::new(vkey_text.trim()).unwrap(),
    )]);
    let (verified, _) = n.verify(&known).unwrap();
    assert_eq!(verified.len(), 1);
    let cp = tlog_tiles::Checkpoint::from_bytes(n.text()).unwrap();
    assert_eq!(cp.size(), 700);
    let http = Http(&s.addr);
    let hashes = tlog_tiles::TileHashReader::new(cp.size(), *cp.hash(), &http);
    for index in [0u64, 255, 256, 511, 600, 699] {
        let proof = tlog_tiles::prove_record(cp.size(), index, &hashes).unwrap();
        let d = request(
            &s.addr,
            "GET",
            &format!("/v1/decisions/{index}"),
            Some(&reader),
            &[],
            b"",
        )
        .json();
        let served =
            ledger::InclusionProof::parse(d["proof"].as_str().unwrap().as_bytes()).unwrap();
        // The served bytes are the leaf's record.
        let bytes = d["record_bytes"].as_str().unwrap().as_bytes();
        assert_eq!(served.entry[17..49], ledger::hash::record_hash(bytes)[..]);
        let leaf = tlog_tiles::Hash(ledger::hash::leaf_hash(&served.entry));
        tlog_tiles::check_record(&proof, cp.size(), *cp.hash(), index, leaf).unwrap();
    }
    // A tile of another tree size, or past this one, is not served.
    assert_eq!(
        request(&s.addr, "GET", "/tile/0/002.p/189", None, &[], b"").status,
        404
    );
    assert_eq!(
        request(&s.addr, "GET", "/tile/0/003", None, &[], b"").status,
        404
    );
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// Graceful degradation: `decide` and `hook` pointed at a server send their calls there; with
/// the server stopped they answer exactly as configured, spool the calls (a decided call's
/// record says why it was decided here), and the server drains that spool once it is back.
#[test]
fn hooks_pointed_at_a_stopped_server_answer_the_same_and_their_spool_reaches_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "hooks", &["ingest"]);
    let spool = tmp.path().join("spool");
    let bundle = repo().join("examples/bundles/tractatus");
    let flags = [
        "--bundle",
        bundle.to_str().unwrap(),
        "--spool",
        spool.to_str().unwrap(),
    ];
    let s = Served::start(&ledger, &key, &state, &flags);
    let url = format!("http://{}", s.addr);
    let payload = std::fs::read(
        repo().join("tests/fixtures/tractatus/derived-from-code/pretooluse-input.derived.json"),
    )
    .unwrap();
    let decide = || {
        let mut c = bin();
        c.args(["decide", "--bundle", bundle.to_str().unwrap(), "--spool"])
            .arg(&spool)
            .args([
                "--no-server",
                "--server",
                &url,
                "--server-timeout-ms",
                "1000",
            ])
            .env("GOVTRAIL_TOKEN", &ingest);
        let o = crate::call(c, &payload);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let answer: Value = serde_json::from_slice(&o.stdout).unwrap();
        answer["hookSpecificOutput"]["permissionDecision"].clone()
    };
    let hook = || {
        let mut c = bin();
        c.args(["hook", "--spool"])
            .arg(&spool)
            .args([
                "--server",
                &url,
                "--",
                "sh",
                "-c",
                "cat >/dev/null; echo '{}'",
            ])
            .env("GOVTRAIL_TOKEN", &ingest);
        let o = crate::call(c, &payload);
        assert_eq!(
            (o.status.code(), o.stdout.as_slice()),
            (Some(0), &b"{}\n"[..]),
            "{}",
            text(&o)
        );
    };
    let spooled = || {
        std::fs::read_dir(&spool)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".hook.json")
                })
                .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(decide(), "deny");
    hook();
    assert_eq!(spooled(), 0, "the server took both calls");
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");

    // The server is down: the same answers, the calls spooled.
    assert_eq!(decide(), "deny");
    hook();
    assert_eq!(spooled(), 2);

    // Back: the spool drains into the ledger in the background.
    let s = Served::start(&ledger, &key, &state, &flags);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while spooled() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(spooled(), 0, "the spool drained");
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT service, decision, strpos(json_str(record, '/source/raw'), 'server_error') > 0 AS said FROM decisions ORDER BY idx",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "service,decision,said\ngovtrail.decide,deny,false\n,info,false\ngovtrail.decide,deny,true\n,info,false\n",
        "{}",
        text(&o)
    );
}

/// The read API: decisions filtered and paged with a cursor, sessions by denials, a session's
/// RCA, the overhead report, read-only SQL, and verification (the last run stored; a new run
/// for the admin scope only); bad parameters are 400 problems.
#[test]
fn the_read_api_lists_pages_reports_queries_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let tokens = state.join("tokens.json");
    let ingest = token(&tokens, "w", &["ingest"]);
    let reader = token(&tokens, "r", &["read"]);
    let admin = token(&tokens, "a", &["admin"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    let addr = s.addr.as_str();
    let examples = std::fs::read(repo().join("examples/decisions.ndjson")).unwrap();
    assert_eq!(
        request(addr, "POST", "/v1/decisions", Some(&ingest), &[], &examples).status,
        200
    );
    let get = |path: &str, t: &str| request(addr, "GET", path, Some(t), &[], b"");

    // Pages of 3 follow the cursor to the end, each decision once, in index order.
    let mut seen = Vec::new();
    let mut path = "/v1/decisions?limit=3".to_owned();
    loop {
        let page = get(&path, &reader);
        assert_eq!(page.status, 200, "{}", page.text());
        let v = page.json();
        seen.extend(
            v["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["idx"].as_u64().unwrap()),
        );
        match v["next"].as_u64() {
            Some(n) => path = format!("/v1/decisions?limit=3&after={n}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
    let denies = get("/v1/decisions?decision=deny", &reader).json();
    assert!(
        denies["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["decision"] == "deny")
    );
    let quoted = get(
        "/v1/decisions?session_id=x%27%20OR%20%271%27%3D%271",
        &reader,
    )
    .json();
    assert_eq!(
        quoted["decisions"],
        serde_json::json!([]),
        "a filter is a literal, not SQL"
    );
    assert_problem(
        &get("/v1/decisions?bogus=1", &reader),
        400,
        "unknown filter",
    );
    assert_problem(&get("/v1/decisions?limit=0", &reader), 400, "limit");
    assert_problem(
        &get("/v1/decisions?since=yesterday", &reader),
        400,
        "RFC 3339",
    );

    let sessions = get("/v1/sessions", &reader).json();
    let first = &sessions["sessions"][0];
    assert!(first["denies"].as_u64().unwrap() >= 1, "{sessions}");
    let rca = get(
        &format!("/v1/sessions/{}/rca", first["session_id"].as_str().unwrap()),
        &reader,
    );
    assert_eq!(rca.status, 200, "{}", rca.text());
    assert!(rca.json()["timeline"].is_array(), "{}", rca.text());
    assert_problem(&get("/v1/sessions/none/rca", &reader), 404, "");
    let overhead = get("/v1/reports/overhead?by=service", &reader);
    assert_eq!(overhead.status, 200, "{}", overhead.text());
    assert_eq!(overhead.json()["group_by"], serde_json::json!(["service"]));
    assert_problem(
        &get("/v1/reports/overhead?by=colour", &reader),
        400,
        "not a dimension",
    );

    // ROI: the body holds what `report roi` reads from its two files; the same JSON comes back.
    let incidents = serde_json::json!([
        {"id": "INC-1", "title": "force push", "ts": "2025-10-01T00:00:00Z",
         "tokens_wasted": 40000, "minutes_lost": 30, "rule_ids": ["inst_027"]},
        {"id": "INC-2", "title": "boundary", "ts": "2025-10-02T00:00:00Z",
         "tokens_wasted": 1000, "minutes_lost": 5, "rule_ids": ["inst_016"]}
    ]);
    let cost = serde_json::json!({"currency": "USD", "micros_per_token": 15, "micros_per_minute": 1000000});
    let (inc_file, cost_file) = (tmp.path().join("inc.json"), tmp.path().join("cost.json"));
    std::fs::write(&inc_file, incidents.to_string()).unwrap();
    std::fs::write(&cost_file, cost.to_string()).unwrap();
    let cli = run(&[
        "report",
        "roi",
        ledger.to_str().unwrap(),
        "--incidents",
        inc_file.to_str().unwrap(),
        "--cost",
        cost_file.to_str().unwrap(),
        "--json",
    ]);
    assert!(cli.status.success(), "{}", text(&cli));
    let post = |t: &str, body: &Value| {
        request(
            addr,
            "POST",
            "/v1/reports/roi",
            Some(t),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    let roi = post(
        &reader,
        &serde_json::json!({"incidents": incidents, "cost": cost}),
    );
    assert_eq!(roi.status, 200, "{}", roi.text());
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(roi.json(), cli);
    assert_eq!(roi.json()["incidents"][0]["blocks"], 1, "{}", roi.text());
    assert_problem(
        &post(
            &reader,
            &serde_json::json!({"incidents": incidents, "cost": {"currency": "USD", "micros_per_token": -1, "micros_per_minute": 0}}),
        ),
        400,
        "negative",
    );
    assert_problem(
        &post(
            &reader,
            &serde_json::json!({"incidents": "id,title\n", "cost": cost, "since": "yesterday"}),
        ),
        400,
        "",
    );
    assert_problem(
        &post(&ingest, &serde_json::json!({"incidents": [], "cost": cost})),
        403,
        "",
    );

    let q = |sql: &str| {
        request(
            addr,
            "POST",
            "/v1/query",
            Some(&reader),
            &[("Content-Type", "application/json")],
            serde_json::json!({ "sql": sql }).to_string().as_bytes(),
        )
    };
    let a = q("SELECT count(*) AS n FROM decisions");
    assert_eq!(
        a.json(),
        serde_json::json!({"rows": [{"n": 8}], "truncated": false})
    );
    assert_problem(&q("DROP TABLE decisions"), 400, "");
    assert_problem(&q("SELECT * FROM nowhere"), 400, "nowhere");

    // Verification: none run yet; a reader may not run one; an admin does, and it is kept.
    assert_eq!(get("/v1/verify", &reader).json()["last_run"], Value::Null);
    assert_eq!(
        get("/v1/verify", &reader).json()["cosignatures"],
        serde_json::json!([])
    );
    // A witness cosigns the served log; the status lists its cosignature.
    let w = tmp.path().join("w");
    let o = run(&[
        "keygen",
        "--witness",
        "--name",
        "witness.example/w",
        "--out",
        w.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "witness",
        ledger.to_str().unwrap(),
        "--key",
        w.with_extension("key").to_str().unwrap(),
        "--log-key",
        vkey.to_str().unwrap(),
        "--state",
        tmp.path().join("w.state").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let cosigned = get("/v1/verify", &reader).json();
    assert_eq!(
        cosigned["cosignatures"][0]["witness"], "witness.example/w",
        "{cosigned}"
    );
    assert_eq!(cosigned["cosignatures"][0]["size"], 8, "{cosigned}");
    assert_problem(
        &request(addr, "POST", "/v1/verify", Some(&reader), &[], b""),
        403,
        "admin scope",
    );
    let run = request(addr, "POST", "/v1/verify", Some(&admin), &[], b"");
    assert_eq!(run.status, 200, "{}", run.text());
    assert_eq!(run.json()["report"]["status"], "ok");
    let status = get("/v1/verify", &reader).json();
    assert_eq!(status["last_run"]["report"]["verified"], 8, "{status}");
    assert_eq!(status["checkpoint"]["size"], 8);
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// The endpoints SERVER.md documents, the paths of `/openapi.json` and the router's routes are
/// one set (the hash tiles, C2SP tlog-tiles paths, only in the first and the last); and
/// schemathesis (PyPI), generating requests from `/openapi.json`, finds no 5xx and no answer
/// that breaks the document (status codes, content types, schemas, headers).
#[test]
fn openapi_paths_are_the_routes_and_schemathesis_finds_no_5xx() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let admin = token(&state.join("tokens.json"), "st", &["ingest", "admin"]);
    let bundle = repo().join("examples/bundles/tractatus");
    let s = Served::start(
        &ledger,
        &key,
        &state,
        &["--bundle", bundle.to_str().unwrap()],
    );
    let doc = request(&s.addr, "GET", "/openapi.json", None, &[], b"").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut spec = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            spec.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let server_md = std::fs::read_to_string(repo().join("docs/SERVER.md")).unwrap();
    let documented: std::collections::BTreeSet<String> = server_md
        .split('`')
        .filter(|t| (t.starts_with("GET /") || t.starts_with("POST /")) && !t.contains("/tile/"))
        // The dashboard's pages (§9) are HTML for browsers, not endpoints of the document.
        .filter(|t| !t.contains(" /ui/"))
        .map(str::to_owned)
        .collect();
    assert_eq!(documented, spec, "SERVER.md and /openapi.json");
    // Every path is routed (the fallback says "no endpoint"), the tiles too.
    for op in spec
        .iter()
        .chain(std::iter::once(&"GET /tile/0/000".to_owned()))
    {
        let (method, path) = op.split_once(' ').unwrap();
        let path = path
            .replace("{index}", "0")
            .replace("{id}", "s")
            .replace("{partition}", "p");
        let a = request(&s.addr, method, &path, Some(&admin), &[], b"");
        assert!(
            !(a.status == 404 && a.text().contains("no endpoint")) && a.status != 405,
            "{op}: {} {}",
            a.status,
            a.text()
        );
    }
    let o = std::process::Command::new(govtrail_tests::python())
        // Its cache of found failures stays in the test's directory, not the repository.
        .current_dir(tmp.path())
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("http://{}/openapi.json", s.addr))
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args(["--max-examples", "15", "--seed", "7", "--checks"])
        .arg("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// A full disk: the commit that cannot be written is answered 503 (never acknowledged), ingest
/// and `/readyz` stay 503 while the disk is full, and once space is freed the server reopens the
/// ledger on its own (the WAL's unacknowledged tail cut) and takes records again; every
/// acknowledged record is there and the ledger verifies. The ledger lives on a small tmpfs
/// (mounting one needs root, as CI runs; otherwise the test says it is skipped).
#[test]
fn a_full_disk_is_503_and_recovered_from_without_loss() {
    if !rustix_is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    struct Mount(PathBuf);
    impl Drop for Mount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let fs = tmp.path().join("fs");
    std::fs::create_dir(&fs).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&fs)
        .status()
        .unwrap();
    assert!(ok.success(), "mount a tmpfs at {}", fs.display());
    let _mount = Mount(fs.clone());
    let (_, key, vkey) = setup(tmp.path(), 1000);
    let ledger = fs.join("ledger");
    let o = run(&[
        "init",
        ledger.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "w", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    let batch = |from: u64| {
        (from..from + 50)
            .map(|i| {
                format!(
                    r#"{{"decision_id":"full-{i}","ts_us":{},"decision":"allow","service":"S","reason":"{}"}}"#,
                    1_765_000_000_000_000u64 + i,
                    "x".repeat(200)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let post = |from: u64| {
        request(
            &s.addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[],
            batch(from).as_bytes(),
        )
    };
    let mut acked = 0u64;
    for k in 0..4 {
        assert_eq!(post(k * 50).status, 200);
        acked += 50;
    }
    // Fill the disk.
    let filler = fs.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![7u8; 1 << 16];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    drop(f);
    let mut refused = 0;
    for k in 4..20 {
        let a = post(k * 50);
        match a.status {
            200 => acked = acked.max((k + 1) * 50),
            503 => {
                refused += 1;
                assert!(a.headers.contains_key("retry-after"), "{a:?}");
            }
            other => panic!("{other}: {}", a.text()),
        }
    }
    assert!(refused > 0, "a full disk refused nothing");
    assert_eq!(
        request(&s.addr, "GET", "/readyz", None, &[], b"").status,
        503
    );
    // Space again: the writer comes back by itself.
    std::fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while request(&s.addr, "GET", "/readyz", None, &[], b"").status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not come back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The refused batches are sent again (as clients do) and taken, each once.
    for k in 4..20 {
        let a = post(k * 50);
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let m = request(&s.addr, "GET", "/metrics", None, &[], b"").text();
    assert!(m.contains("govtrail_writer_restarts_total 1"), "{m}");
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    // The restart says why the commit failed.
    assert!(
        err.contains("writer restarted after a failed commit (") && err.contains("space"),
        "{err}"
    );
    let (code, v) = verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verified"], 20 * 50, "every batch once: {v}");
    assert!(acked >= 200);
}

fn rustix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A client that sends its headers one byte at a time, or keeps a connection open without a
/// request, is disconnected after the header timeout (a slowloris holds no connection).
#[test]
fn slow_headers_and_idle_connections_are_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let _ = token(&state.join("tokens.json"), "w", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &["--header-timeout", "1"]);
    let cut_within = |mut c: TcpStream, what: &str| {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t = std::time::Instant::now();
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        let took = t.elapsed();
        assert!(took < Duration::from_secs(5), "{what}: open for {took:?}");
        let text = String::from_utf8_lossy(&rest);
        assert!(
            rest.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{what}: {text}"
        );
    };
    // Headers begun, never finished.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        .unwrap();
    cut_within(c, "slow headers");
    // Connected, nothing sent.
    cut_within(TcpStream::connect(&s.addr).unwrap(), "silent connection");
    // One request answered, then idle on a kept-alive connection.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The whole first answer (its body is "ok\n"), then nothing more is sent.
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while !first.ends_with(b"\r\n\r\nok\n") {
        c.read_exact(&mut byte).unwrap();
        first.push(byte[0]);
    }
    assert!(first.starts_with(b"HTTP/1.1 200 OK"));
    cut_within(c, "idle kept-alive connection");
    // The server still answers.
    assert_eq!(
        request(&s.addr, "GET", "/healthz", None, &[], b"").status,
        200
    );
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// The short version of the load benchmark CI runs (benches/serve_load.py has the release
/// figures): the debug build, 4 keep-alive closed-loop clients posting native batches of 500
/// for 4 s. It prints the rate and ack latency it saw (measured, not asserted: CI machines
/// are noisy) and checks that every acknowledged decision is in the ledger once.
#[test]
fn a_short_load_in_ci_loses_nothing_and_reports_its_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 20_000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "load", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    let until = std::time::Instant::now() + Duration::from_secs(4);
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (addr, ingest) = (s.addr.clone(), ingest.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let (mut acked, mut lat) = (0u64, Vec::new());
                let mut seq = 0u64;
                while std::time::Instant::now() < until {
                    let body: String = (0..500)
                        .map(|i| {
                            format!(
                                "{{\"decision_id\":\"ci-{c}-{seq}-{i}\",\"ts_us\":{},\"decision\":\"allow\",\"service\":\"S\",\"session_id\":\"s-{c}\"}}\n",
                                1_765_000_000_000_000u64 + seq * 500 + i
                            )
                        })
                        .collect();
                    let t = std::time::Instant::now();
                    write!(
                        writer,
                        "POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ingest}\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
                    let mut len = 0;
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut answer = vec![0; len];
                    reader.read_exact(&mut answer).unwrap();
                    lat.push(t.elapsed());
                    let r: Value = serde_json::from_slice(&answer).unwrap();
                    assert_eq!(r["appended"], 500, "{r}");
                    acked += 500;
                    seq += 1;
                }
                (acked, lat)
            })
        })
        .collect();
    let (mut acked, mut lat) = (0u64, Vec::new());
    for c in clients {
        let (a, l) = c.join().unwrap();
        acked += a;
        lat.extend(l);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    eprintln!(
        "CI short load (debug build): {:.0} decisions/s over {secs:.1} s, ack p50 {:?}, p99 {p99:?}, {acked} acknowledged",
        acked as f64 / secs,
        lat[lat.len() / 2]
    );
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "verify",
        ledger.to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"].as_u64(), Some(acked), "{v}");
}

/// TLS when given a certificate: HTTPS (rustls) with the server's certificate, checked by
/// Python's own TLS stack trusting only that certificate; a client that does not trust it is
/// refused; plain HTTP to the TLS port gets no answer.
#[test]
fn tls_when_given_a_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "w", &["ingest"]);
    let script = repo().join("tests/tls/tls_check.py");
    let py = |args: &[&str]| {
        let o = std::process::Command::new(govtrail_tests::python())
            .arg(&script)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let dir = tmp.path().to_str().unwrap();
    py(&["make", dir]);
    let (cert, key_pem) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let s = Served::start(
        &ledger,
        &key,
        &state,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key_pem.to_str().unwrap(),
        ],
    );
    let url = format!("https://{}/healthz", s.addr);
    let ca = tmp.path().join("ca.pem");
    assert_eq!(py(&["get", &url, ca.to_str().unwrap()]).trim(), "200 ok 11");
    assert!(py(&["untrusted", &url]).starts_with("refused:"));
    // `hook --server https://…` records there when given the CA, and spools (the same answer)
    // when it does not trust the server: the system's bundle does not hold this test CA.
    let spool = tmp.path().join("spool");
    let hook = |ca: Option<&Path>| {
        let mut c = bin();
        c.args(["hook", "--spool"])
            .arg(&spool)
            .args(["--server", &format!("https://{}", s.addr)]);
        if let Some(ca) = ca {
            c.arg("--server-ca").arg(ca);
        }
        c.args(["--", "sh", "-c", "cat >/dev/null; echo '{}'"])
            .env("GOVTRAIL_TOKEN", &ingest);
        let o = crate::call(
            c,
            b"{\"hook_event_name\":\"PreToolUse\",\"session_id\":\"tls\"}",
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    };
    let spooled = || std::fs::read_dir(&spool).map_or(0, Iterator::count);
    hook(Some(&ca));
    assert_eq!(spooled(), 0, "sent over TLS");
    hook(None);
    assert_eq!(spooled(), 1, "an untrusted server: spooled");
    // Plain HTTP on the TLS port: the handshake fails, no answer.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    // The call sent over TLS is in the ledger.
    let (code, v) = verify_json(&ledger, &vkey);
    assert_eq!((code, v["verified"].as_u64()), (0, Some(1)), "{v}");
}

/// `POST /v1/replay`: an admin replays the verified ledger against one of the server's replay
/// bundles by name; the JSON is `govtrail replay --format json`'s, the JUnit its `--format
/// junit`; a name that is a path, an unknown name and a reader are refused.
#[test]
fn replay_runs_name_a_server_bundle_and_answer_as_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let tokens = state.join("tokens.json");
    let ingest = token(&tokens, "w", &["ingest"]);
    let reader = token(&tokens, "r", &["read"]);
    let admin = token(&tokens, "a", &["admin"]);
    let bundles = repo().join("examples/bundles");
    let s = Served::start(
        &ledger,
        &key,
        &state,
        &["--replay-bundles", bundles.to_str().unwrap()],
    );
    let addr = s.addr.as_str();
    let examples = std::fs::read(repo().join("examples/decisions.ndjson")).unwrap();
    assert_eq!(
        request(addr, "POST", "/v1/decisions", Some(&ingest), &[], &examples).status,
        200
    );
    let post = |path: &str, t: &str, body: Value| {
        request(
            addr,
            "POST",
            path,
            Some(t),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    let served = post(
        "/v1/replay",
        &admin,
        serde_json::json!({"bundle": "tractatus"}),
    );
    assert_eq!(served.status, 200, "{}", served.text());
    let cli = run(&[
        "replay",
        ledger.to_str().unwrap(),
        "--bundle",
        bundles.join("tractatus").to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(served.json(), cli);
    assert_eq!(served.json()["decisions"], 8, "{}", served.text());
    let junit = post(
        "/v1/replay?format=junit",
        &admin,
        serde_json::json!({"bundle": "tractatus", "session": "2025-10-07-001"}),
    );
    assert_eq!(junit.status, 200, "{}", junit.text());
    assert!(junit.text().contains("<testsuite"), "{}", junit.text());
    for (name, status) in [
        ("../tractatus", 400),
        ("/etc", 400),
        ("nope", 404),
        ("", 400),
    ] {
        assert_problem(
            &post("/v1/replay", &admin, serde_json::json!({ "bundle": name })),
            status,
            "",
        );
    }
    assert_problem(
        &post(
            "/v1/replay",
            &reader,
            serde_json::json!({"bundle": "tractatus"}),
        ),
        403,
        "admin scope",
    );
    assert_problem(
        &post(
            "/v1/replay",
            &admin,
            serde_json::json!({"bundle": "tractatus", "since": "yesterday"}),
        ),
        400,
        "RFC 3339",
    );
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// Every record the server stores keeps the client's time (`ts_us`) and the receipt's
/// (`source.received_us`); a retry received later is a duplicate, not a conflict (the receipt
/// is set aside, LEDGER-FORMAT.md §15.1), and the stored receipt stays the first; other content
/// under the same id is still a conflict.
#[test]
fn records_keep_the_clients_time_and_the_receipt_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, _) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "w", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    let client_ts = 1_700_000_000_000_000i64;
    let body = |decision: &str| {
        format!(r#"{{"decision_id":"skew-1","ts_us":{client_ts},"decision":"{decision}"}}"#)
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64
    };
    let before = now();
    let post = |b: String| {
        request(
            &s.addr,
            "POST",
            "/v1/decisions",
            Some(&ingest),
            &[],
            b.as_bytes(),
        )
    };
    let first = post(body("allow"));
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["appended"], 1);
    let after = now();
    std::thread::sleep(Duration::from_millis(5));
    let again = post(body("allow"));
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        (
            again.json()["appended"].as_u64(),
            again.json()["duplicates"].as_u64()
        ),
        (Some(0), Some(1)),
        "{}",
        again.text()
    );
    let other = post(body("deny"));
    assert_eq!(
        other.json()["rejected"].as_array().map(Vec::len),
        Some(1),
        "{}",
        other.text()
    );
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let o = run(&[
        "query",
        ledger.to_str().unwrap(),
        "--format",
        "json",
        "SELECT arrow_cast(record, 'Utf8') AS r FROM decisions",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let record: Value = serde_json::from_str(rows[0]["r"].as_str().unwrap()).unwrap();
    assert_eq!(record["ts_us"], client_ts, "{record}");
    let received = record["source"]["received_us"].as_i64().unwrap();
    assert!((before..=after).contains(&received), "{record}");
}

#[test]
fn when_appends_pause_the_newest_records_get_a_stable_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = setup(tmp.path(), 1000);
    let state = tmp.path().join("server");
    let ingest = token(&state.join("tokens.json"), "w", &["ingest"]);
    let s = Served::start(&ledger, &key, &state, &[]);
    let body: String = (0..3)
        .map(|i| {
            format!("{{\"decision_id\":\"pause-{i}\",\"ts_us\":{i},\"decision\":\"allow\"}}\n")
        })
        .collect();
    let a = request(
        &s.addr,
        "POST",
        "/v1/decisions",
        Some(&ingest),
        &[],
        body.as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    // No seal (segments of 1,000): the heartbeat stores it about a second after the pause.
    let stored = ledger.join("checkpoints").join(format!("{:020}.note", 3));
    let mut gauge = String::new();
    for _ in 0..100 {
        let m = request(&s.addr, "GET", "/metrics", None, &[], b"").text();
        gauge = m
            .lines()
            .find(|l| l.starts_with("govtrail_stable_checkpoint_size "))
            .unwrap_or_default()
            .to_owned();
        if gauge.ends_with(" 3") && stored.is_file() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(gauge, "govtrail_stable_checkpoint_size 3");
    let served = request(&s.addr, "GET", "/checkpoint", None, &[], b"").text();
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), served);
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    // An auditor with only the public key takes it as the horizon.
    let (code, v) = verify_json(&ledger, &vkey);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verified"], 3, "{v}");
}
