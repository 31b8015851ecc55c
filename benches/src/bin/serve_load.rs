//! A load client for `govtrail serve` (benches/serve_load.py): keep-alive HTTP/1.1 connections
//! on loopback, each a closed loop (it sends its next request when the last is answered), for a
//! fixed time. Prints one JSON line: requests, records, rate, and ack latency percentiles.
//!
//! ```text
//! serve_load ADDR TOKEN native CLIENTS BATCH SECONDS [RATE]  POST /v1/decisions, BATCH records each
//! serve_load ADDR TOKEN opa CLIENTS BATCH SECONDS [RATE]     POST /logs, gzip JSON arrays of OPA events
//! serve_load ADDR TOKEN otlp CLIENTS BATCH SECONDS [RATE]    POST /v1/traces, OTLP/JSON guardrail spans
//! serve_load ADDR TOKEN decide CLIENTS 1 SECONDS             POST /v1/hooks/claude-code/decide
//! ```
//!
//! With RATE (records per second over all clients), each client paces its requests to its
//! share instead of sending the next at once (an open loop at that rate while the server keeps
//! up).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: &str) -> Result<Self> {
        let s = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        s.set_nodelay(true)?;
        Ok(Self {
            writer: s.try_clone()?,
            reader: BufReader::with_capacity(1 << 16, s),
        })
    }

    /// One request on the kept-alive connection; the status and body of its answer.
    fn post(&mut self, head: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let mut req = Vec::with_capacity(head.len() + body.len() + 64);
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        self.writer.write_all(&req)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("status line {line:?}"))?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse()?;
            }
        }
        let mut out = vec![0; len];
        self.reader.read_exact(&mut out)?;
        Ok((status, out))
    }
}

fn native_batch(client: usize, seq: u64, batch: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch * 260);
    for i in 0..batch as u64 {
        let n = seq * batch as u64 + i;
        out.extend_from_slice(
            format!(
                r#"{{"decision_id":"load-{client}-{n}","ts_us":{},"decision":"{}","engine":"tractatus","service":"BoundaryEnforcer","session_id":"s-{client}-{}","tool_name":"Bash","overhead_us":{},"rule_ids":["inst_016"]}}"#,
                1_765_000_000_000_000u64 + n,
                ["allow", "deny", "ask", "allow"][(n % 4) as usize],
                n / 50,
                60_000 + n % 9_000
            )
            .as_bytes(),
        );
        out.push(b'\n');
    }
    out
}

fn opa_batch(client: usize, seq: u64, batch: usize) -> Vec<u8> {
    let events: Vec<String> = (0..batch as u64)
        .map(|i| {
            let n = seq * batch as u64 + i;
            format!(
                r#"{{"decision_id":"opa-{client}-{n}","path":"agents/tools/allow","input":{{"tool_name":"Bash","tool_input":{{"command":"git status"}},"session_id":"s-{client}-{}"}},"result":{},"timestamp":"2025-11-20T09:15:02.{:06}Z","labels":{{"app":"gateway","id":"opa-1","version":"v1.4.0"}},"metrics":{{"timer_server_handler_ns":{}}}}}"#,
                n / 50,
                !n.is_multiple_of(3),
                n % 1_000_000,
                300_000 + n % 9_000
            )
        })
        .collect();
    let json = format!("[{}]", events.join(","));
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(json.as_bytes());
    e.finish().unwrap_or_default()
}

fn otlp_batch(client: usize, seq: u64, batch: usize) -> Vec<u8> {
    let spans: Vec<String> = (0..batch as u64)
        .map(|i| {
            let n = seq * batch as u64 + i;
            let start = 1_765_000_000_000_000_000u64 + n * 1_000_000;
            format!(
                r#"{{"traceId":"{:016x}{:016x}","spanId":"{:016x}","name":"apply_guardrail pii tool_call","startTimeUnixNano":"{start}","endTimeUnixNano":"{}","attributes":[{{"key":"gen_ai.operation.name","value":{{"stringValue":"apply_guardrail"}}}},{{"key":"microsoft.guardian.name","value":{{"stringValue":"pii"}}}},{{"key":"microsoft.security.decision.type","value":{{"stringValue":"{}"}}}},{{"key":"session.id","value":{{"stringValue":"s-{client}-{}"}}}}]}}"#,
                client + 1,
                n / 16 + 1,
                n + 1,
                start + 3_000_000,
                if n.is_multiple_of(5) { "deny" } else { "allow" },
                n / 50
            )
        })
        .collect();
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"agent"}}}}]}},"scopeSpans":[{{"scope":{{"name":"load"}},"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
    .into_bytes()
}

const DECIDE_PAYLOAD: &str = r#"{"hook_event_name":"PreToolUse","session_id":"s-load","cwd":"/work","permission_mode":"default","tool_name":"Bash","tool_input":{"command":"git status"},"tool_use_id":"toolu_load"}"#;

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 && a.len() != 8 {
        bail!("usage: serve_load ADDR TOKEN native|opa|otlp|decide CLIENTS BATCH SECONDS [RATE]");
    }
    let rate: Option<f64> = a.get(7).map(|r| r.parse()).transpose()?;
    let (addr, token, mode) = (a[1].clone(), a[2].clone(), a[3].clone());
    let clients: usize = a[4].parse()?;
    let batch: usize = a[5].parse()?;
    let seconds: f64 = a[6].parse()?;
    let (path, extra) = match mode.as_str() {
        "native" => ("/v1/decisions", ""),
        "opa" => ("/logs", "Content-Encoding: gzip\r\n"),
        "otlp" => ("/v1/traces", ""),
        "decide" => ("/v1/hooks/claude-code/decide", ""),
        other => bail!("mode {other:?}"),
    };
    // Seconds between one client's requests at RATE.
    let pace = rate.map(|r| Duration::from_secs_f64(batch as f64 * clients as f64 / r));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut threads = Vec::new();
    for c in 0..clients {
        let (addr, token, mode) = (addr.clone(), token.clone(), mode.clone());
        threads.push(std::thread::spawn(move || -> Result<(Vec<u32>, u64, u64)> {
            let mut conn = Conn::open(&addr)?;
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{extra}"
            );
            let mut due = Instant::now();
            let mut lat = Vec::new();
            let (mut records, mut refused) = (0u64, 0u64);
            let mut seq = 0u64;
            while Instant::now() < until {
                if let Some(p) = pace {
                    due += p;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                let body = match mode.as_str() {
                    "native" => native_batch(c, seq, batch),
                    "opa" => opa_batch(c, seq, batch),
                    "otlp" => otlp_batch(c, seq, batch),
                    _ => DECIDE_PAYLOAD.as_bytes().to_vec(),
                };
                let t = Instant::now();
                let (status, _) = conn.post(&head, &body)?;
                let us = t.elapsed().as_micros() as u32;
                if status == 200 {
                    lat.push(us);
                    records += batch as u64;
                    seq += 1;
                } else {
                    refused += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Ok((lat, records, refused))
        }));
    }
    let mut lat = Vec::new();
    let (mut records, mut refused) = (0u64, 0u64);
    for t in threads {
        let (l, r, x) = t
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
        lat.extend(l);
        records += r;
        refused += x;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "mode": mode, "clients": clients, "batch": batch, "seconds": elapsed,
            "requests": lat.len(), "refused": refused, "records": records,
            "records_per_s": records as f64 / elapsed,
            "ack_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)},
        })
    );
    Ok(())
}
