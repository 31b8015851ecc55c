//! `govtrail decide`: a Claude Code command hook that decides with a rule bundle, records the call
//! durably in a spool, then answers; and `govtrail decide --serve`, the resident evaluator that
//! keeps the bundle loaded so a call does not pay for loading it (docs/REPLAY.md §5).
//!
//! Whichever process decides a call records it before the call is answered: the server in its
//! hook log (cli/src/hooklog.rs: one fdatasync of preallocated blocks), a call deciding in
//! process in its own spool file. A call that cannot reach the server (none listening, a
//! refusal, a timeout, a garbled answer) evaluates in process, so the server can be started,
//! stopped or restarted at any time without a call going undecided or unrecorded. The record
//! says which evaluator decided.

use std::io::{Read as _, Write as _};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::exit;
use crate::hooklog::HookLog;

/// The socket's file name in the spool directory, when `--socket` is not given.
pub(crate) const SOCKET: &str = ".decide.sock";
/// The protocol version a request carries (2: the server records what it decides).
const PROTOCOL: u32 = 2;
/// How long a call waits for the server before deciding in process, and how long the server
/// waits for a client's request.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request or answer read (a hook payload holds a tool's input).
const MAX_MESSAGE: u64 = 16 << 20;

/// One `govtrail decide` call's settings.
pub(crate) struct Call<'a> {
    pub(crate) bundle_dir: &'a Path,
    pub(crate) spool: &'a Path,
    pub(crate) fail_open: bool,
    /// The resident evaluator's socket, unless `--no-server`.
    pub(crate) socket: Option<&'a Path>,
}

/// A request to the resident evaluator.
#[derive(Serialize, Deserialize)]
struct Request {
    v: u32,
    /// The bundle directory, canonical: a server evaluates only the bundle it serves.
    bundle: String,
    /// The call's start, the time a policy's `time.now_ns` reads.
    started_us: i64,
    /// The hook's stdin.
    stdin: String,
    /// The caller's spool, canonical: a server records only into the spool it serves.
    spool: String,
    /// The record's id, chosen by the caller.
    id: String,
    /// Allow (rather than deny) when the bundle gives no decision.
    fail_open: bool,
}

/// What deciding one payload gave: the answer's event, the bundle's id when it loaded, the
/// outcome or why there is none. Also the resident evaluator's answer.
#[derive(Serialize, Deserialize)]
struct Decided {
    event: String,
    bundle_id: Option<String>,
    decision: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    rules: Vec<String>,
    error: Option<String>,
    /// Set by a server that will not answer this request (another bundle, another protocol):
    /// the caller decides in process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    /// The server recorded the call in its hook log, durably: the caller does not record it.
    #[serde(default)]
    recorded: bool,
}

impl Decided {
    fn refused(why: String) -> Self {
        Self {
            event: String::new(),
            bundle_id: None,
            decision: None,
            reason: None,
            rules: Vec::new(),
            error: None,
            refused: Some(why),
            recorded: false,
        }
    }

    fn outcome(&self) -> Result<replay::Outcome, String> {
        match (&self.error, &self.decision) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(decision)) => Ok(replay::Outcome {
                decision: decision.clone(),
                reason: self.reason.clone(),
                rules: self.rules.clone(),
            }),
            (None, None) => Err("the evaluator gave no decision".into()),
        }
    }

    /// The call's answer under the fail mode: the outcome (the fail mode's decision when there
    /// is none), the error if any, and the hook's stdout.
    fn answer(&self, fail_open: bool) -> Answer {
        let (outcome, error) = match self.outcome() {
            Ok(o) => (o, None),
            Err(e) => (
                replay::Outcome {
                    // Failing open leaves the call to the platform's own permission flow
                    // (no answer), never an `allow` that would skip the user's prompt.
                    decision: if fail_open { "defer" } else { "deny" }.into(),
                    reason: Some(format!(
                        "govtrail decide failed {}: {e}",
                        if fail_open { "open" } else { "closed" }
                    )),
                    rules: Vec::new(),
                },
                Some(e),
            ),
        };
        let stdout = outcome
            .hook_answer(&self.event)
            .map(|a| format!("{a}\n"))
            .unwrap_or_default();
        Answer {
            outcome,
            error,
            stdout,
        }
    }
}

/// What a call answers.
struct Answer {
    outcome: replay::Outcome,
    error: Option<String>,
    stdout: String,
}

/// The facts of one call that its record keeps besides the decision.
struct CallFacts<'a> {
    id: &'a str,
    started_us: i64,
    wall_us: i64,
    fail_open: bool,
    /// `resident` or `in-process`.
    evaluator: &'a str,
    server_error: Option<&'a str>,
    stdin: &'a [u8],
}

/// The `govtrail.hook` envelope of a decided call (docs/RECORD.md §5), as either evaluator
/// records it.
fn envelope(call: &CallFacts<'_>, decided: &Decided, answer: &Answer) -> Value {
    let mut env = Map::new();
    env.insert("govtrail_hook".into(), Value::from(1));
    env.insert("id".into(), Value::String(call.id.to_owned()));
    env.insert("started_us".into(), Value::from(call.started_us));
    env.insert("wall_us".into(), Value::from(call.wall_us));
    env.insert("overhead_source".into(), "govtrail.decide.eval".into());
    env.insert("argv".into(), json!(["govtrail", "decide"]));
    env.insert("exit_code".into(), Value::from(0));
    env.insert("engine".into(), "govtrail".into());
    env.insert("service".into(), "govtrail.decide".into());
    env.insert(
        "fail_mode".into(),
        if call.fail_open { "open" } else { "closed" }.into(),
    );
    env.insert("evaluator".into(), call.evaluator.into());
    if let Some(e) = call.server_error {
        env.insert("server_error".into(), Value::String(e.to_owned()));
    }
    if let Some(id) = &decided.bundle_id {
        env.insert("rule_set".into(), Value::String(id.clone()));
    }
    env.insert("rule_ids".into(), json!(answer.outcome.rules));
    // The intended decision, which the answer alone cannot always show: `defer` is no answer.
    env.insert("decision".into(), answer.outcome.decision.clone().into());
    if let Some(r) = &answer.outcome.reason {
        env.insert("reason".into(), Value::String(r.clone()));
    }
    if let Some(e) = &answer.error {
        env.insert("error".into(), Value::String(e.clone()));
    }
    match std::str::from_utf8(call.stdin) {
        Ok(t) => env.insert("stdin".into(), Value::String(t.to_owned())),
        Err(_) => env.insert(
            "stdin_b64".into(),
            Value::String({
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(call.stdin)
            }),
        ),
    };
    env.insert("stdout".into(), Value::String(answer.stdout.clone()));
    env.insert("stderr".into(), Value::String(String::new()));
    Value::Object(env)
}

/// Decides `stdin` with `eval`, which maps the input to the bundle's id and outcome. Shared by
/// both evaluators, so a resident and an in-process decision differ only in where they ran.
fn decide_stdin(
    stdin: Result<&str, String>,
    eval: impl FnOnce(replay::regorus::Value) -> (Option<String>, Result<replay::Outcome, String>),
) -> Decided {
    // The input replay rebuilds from the recorded stdin (replay::claude_code), built the same way.
    let payload = stdin.and_then(|text| {
        replay::claude_code(text).ok_or_else(|| {
            match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => "stdin is not a JSON object".to_owned(),
                Err(e) => format!("stdin is not JSON: {e}"),
            }
        })
    });
    let event = payload
        .as_ref()
        .ok()
        .and_then(|p| p["hook_event_name"].as_string().ok().map(|s| s.to_string()))
        .unwrap_or_else(|| "PreToolUse".into());
    let (bundle_id, outcome) = match payload {
        Err(e) => (None, Err(e)),
        // A panic in the engine is an evaluation error, never an exit Claude Code would read as
        // a non-blocking failure (which lets the call through).
        Ok(input) => {
            std::panic::catch_unwind(AssertUnwindSafe(|| eval(input))).unwrap_or_else(|p| {
                (
                    None,
                    Err(format!("the evaluator panicked: {}", panic_text(&p))),
                )
            })
        }
    };
    let (decision, reason, rules, error) = match outcome {
        Ok(o) => (Some(o.decision), o.reason, o.rules, None),
        Err(e) => (None, None, Vec::new(), Some(e)),
    };
    Decided {
        event,
        bundle_id,
        decision,
        reason,
        rules,
        error,
        refused: None,
        recorded: false,
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Loads the bundle and evaluates `input` at `now_ns`: the in-process evaluator. One
/// evaluation runs on the interpreter: compiling the bundle for the VM costs more than it saves
/// (both give the same answers: replay/tests/vm_vs_interpreter.rs).
fn load_and_eval(
    dir: &Path,
    input: replay::regorus::Value,
    now_ns: i64,
) -> (Option<String>, Result<replay::Outcome, String>) {
    match replay::Bundle::load(dir) {
        Err(e) => (None, Err(format!("bundle: {e}"))),
        Ok(b) => {
            let outcome = replay::Evaluator::with_engine(&b, replay::Engine::Interpreter)
                .map_err(|e| format!("bundle: {e}"))
                .and_then(|mut ev| ev.eval(input, now_ns));
            (Some(b.id), outcome)
        }
    }
}

/// Asks the server on `socket`. `Err(None)`: no server listens; `Err(Some(why))`: one does
/// but gave no usable answer.
fn ask(socket: &Path, request: &Request) -> Result<Decided, Option<String>> {
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(None);
        }
        Err(e) => return Err(Some(format!("connect {}: {e}", socket.display()))),
    };
    let io = |e: std::io::Error| Some(format!("{}: {e}", socket.display()));
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let body = serde_json::to_vec(request).map_err(|e| Some(e.to_string()))?;
    stream.write_all(&body).map_err(io)?;
    stream.shutdown(Shutdown::Write).map_err(io)?;
    let mut answer = Vec::new();
    (&stream)
        .take(MAX_MESSAGE)
        .read_to_end(&mut answer)
        .map_err(io)?;
    let decided: Decided = serde_json::from_slice(&answer)
        .map_err(|e| Some(format!("{}: unreadable answer: {e}", socket.display())))?;
    match decided.refused {
        Some(why) => Err(Some(format!("{}: refused: {why}", socket.display()))),
        None => Ok(decided),
    }
}

/// `govtrail decide`: stdin hook JSON → bundle → durable spool record → hook answer.
pub(crate) fn decide(call: &Call<'_>) -> u8 {
    no_library_backtraces();
    let mut stdin = Vec::new();
    let read = std::io::stdin().lock().read_to_end(&mut stdin);
    let started_us = crate::hook::now_us();
    let clock = Instant::now();
    let text: Result<&str, String> = match read {
        Err(e) => Err(format!("reading stdin: {e}")),
        Ok(_) => std::str::from_utf8(&stdin).map_err(|e| format!("stdin is not UTF-8: {e}")),
    };
    // The clock policies read is the call's start, which the record keeps: replay gives the
    // policy the same time.
    let now_ns = started_us.saturating_mul(1000);

    let id = format!(
        "{started_us}-{}-{:016x}",
        std::process::id(),
        crate::hook::nonce()
    );
    let mut server_error = None;
    let canonical = |p: &Path| {
        std::fs::canonicalize(p)
            .ok()
            .and_then(|d| d.to_str().map(str::to_owned))
    };
    let resident = match (call.socket, &text) {
        (Some(socket), Ok(text)) => canonical(call.bundle_dir)
            .zip(canonical(call.spool))
            .and_then(|(bundle, spool)| {
                let request = Request {
                    v: PROTOCOL,
                    bundle,
                    spool,
                    started_us,
                    stdin: (*text).to_owned(),
                    id: id.clone(),
                    fail_open: call.fail_open,
                };
                ask(socket, &request).map_err(|e| server_error = e).ok()
            }),
        _ => None,
    };
    let evaluator = if resident.is_some() {
        "resident"
    } else {
        "in-process"
    };
    let decided = resident.unwrap_or_else(|| {
        decide_stdin(text.clone(), |input| {
            load_and_eval(call.bundle_dir, input, now_ns)
        })
    });
    let answer = decided.answer(call.fail_open);
    let recorded = if decided.recorded {
        Ok(())
    } else {
        let wall_us = i64::try_from(clock.elapsed().as_micros()).unwrap_or(i64::MAX);
        let facts = CallFacts {
            id: &id,
            started_us,
            wall_us,
            fail_open: call.fail_open,
            evaluator,
            server_error: server_error.as_deref(),
            stdin: &stdin,
        };
        crate::hook::write_spool(call.spool, &id, &envelope(&facts, &decided, &answer))
    };
    let Answer { error, stdout, .. } = answer;

    if let Some(e) = &error {
        eprintln!("govtrail decide: {e}");
    }
    if let Err(e) = &recorded {
        // Unrecorded, the call must not pass silently: exit 2 blocks it, with no answer on
        // stdout that could read as another decision, unless fail-open.
        eprintln!("govtrail decide: this call was not recorded: {e:#}");
        if !call.fail_open {
            return 2;
        }
    }
    let _ = std::io::stdout().lock().write_all(stdout.as_bytes());
    let _ = std::io::stdout().lock().flush();
    exit::OK
}

/// A worker's bundle and evaluator, reloaded when the bundle's files change, and the server's
/// hook log.
struct Resident {
    dir: PathBuf,
    loaded: Option<(replay::Bundle, replay::Evaluator)>,
    log: Arc<HookLog>,
    /// The spool the log is in, canonical.
    spool: String,
}

impl Resident {
    fn eval(
        &mut self,
        input: replay::regorus::Value,
        now_ns: i64,
    ) -> (Option<String>, Result<replay::Outcome, String>) {
        if self.loaded.as_mut().is_none_or(|(b, _)| !b.is_current()) {
            self.loaded = None;
            let loaded = replay::Bundle::load(&self.dir).and_then(|b| {
                let ev = replay::Evaluator::new(&b)?;
                Ok((b, ev))
            });
            match loaded {
                Ok(l) => self.loaded = Some(l),
                // Retried on the next call: an edit may be half written.
                Err(e) => return (None, Err(format!("bundle: {e}"))),
            }
        }
        let Some((bundle, evaluator)) = self.loaded.as_mut() else {
            return (None, Err("bundle: not loaded".into()));
        };
        let id = bundle.id.clone();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| evaluator.eval(input, now_ns)));
        match outcome {
            Ok(o) => (Some(id), o),
            Err(p) => {
                // The engine's state after a panic is unknown: build it again next time.
                self.loaded = None;
                (
                    Some(id),
                    Err(format!("the evaluator panicked: {}", panic_text(&p))),
                )
            }
        }
    }

    /// Answers one connection: reads a request to EOF, writes the answer.
    fn answer(&mut self, stream: &UnixStream, serves: &str) -> std::io::Result<()> {
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let mut body = Vec::new();
        stream.take(MAX_MESSAGE + 1).read_to_end(&mut body)?;
        let decided = if body.len() as u64 > MAX_MESSAGE {
            Decided::refused(format!("request over {MAX_MESSAGE} bytes"))
        } else {
            match serde_json::from_slice::<Request>(&body) {
                Err(e) => Decided::refused(format!("bad request: {e}")),
                Ok(r) if r.v != PROTOCOL => {
                    Decided::refused(format!("protocol {} (this server speaks {PROTOCOL})", r.v))
                }
                Ok(r) if r.bundle != serves => {
                    Decided::refused(format!("serves the bundle {serves}, not {}", r.bundle))
                }
                Ok(r) if r.spool != self.spool => Decided::refused(format!(
                    "records into the spool {}, not {}",
                    self.spool, r.spool
                )),
                Ok(r) => {
                    let now_ns = r.started_us.saturating_mul(1000);
                    let mut decided = decide_stdin(Ok(&r.stdin), |input| self.eval(input, now_ns));
                    let answer = decided.answer(r.fail_open);
                    let facts = CallFacts {
                        id: &r.id,
                        started_us: r.started_us,
                        wall_us: crate::hook::now_us().saturating_sub(r.started_us),
                        fail_open: r.fail_open,
                        evaluator: "resident",
                        server_error: None,
                        stdin: r.stdin.as_bytes(),
                    };
                    let line = serde_json::to_vec(&envelope(&facts, &decided, &answer))
                        .map_err(std::io::Error::other)?;
                    // Unrecorded here, the caller records the call itself.
                    match self.log.append(&line) {
                        Ok(()) => decided.recorded = true,
                        Err(e) => eprintln!(
                            "govtrail decide --serve: call {}: not recorded here: {e:#}",
                            r.id
                        ),
                    }
                    decided
                }
            }
        };
        let mut out = serde_json::to_vec(&decided).map_err(std::io::Error::other)?;
        out.push(b'\n');
        (&*stream).write_all(&out)
    }
}

/// `govtrail decide --serve`: the resident evaluator on `socket`, recording in a hook log in
/// `spool`, until SIGINT or SIGTERM.
pub(crate) fn serve(bundle_dir: &Path, socket: &Path, spool: &Path) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    no_library_backtraces();
    let dir = std::fs::canonicalize(bundle_dir)
        .with_context(|| format!("bundle {}", bundle_dir.display()))?;
    let serves = dir
        .to_str()
        .with_context(|| format!("bundle {}: the path is not UTF-8", dir.display()))?
        .to_owned();
    // The bundle is checked before the socket exists: a broken one is an error here, not on
    // every call.
    let bundle = replay::Bundle::load(&dir)?;
    let evaluator = replay::Evaluator::new(&bundle)?;
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing signal handlers")?;
    let listener = bind(socket)?;
    // The calls this server decides are recorded in its log, in the spool.
    let log = Arc::new(HookLog::create(spool)?);
    let spool_path = std::fs::canonicalize(spool)
        .ok()
        .and_then(|d| d.to_str().map(str::to_owned))
        .with_context(|| format!("spool {}: the path is not UTF-8", spool.display()))?;
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().max(4));
    for _ in 0..workers {
        let listener = listener.try_clone().context("cloning the listener")?;
        let mut resident = Resident {
            dir: dir.clone(),
            loaded: Some((bundle.clone(), evaluator.clone())),
            log: Arc::clone(&log),
            spool: spool_path.clone(),
        };
        let serves = serves.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answered = resident.answer(&stream, &serves);
                // The caller reads to the end: closing the stream gives it its answer.
                drop(stream);
                if let Err(e) = answered {
                    eprintln!("govtrail decide --serve: a call: {e}");
                }
                // Off the call's path: the next hook log, if one is due.
                if let Err(e) = resident.log.prepare() {
                    eprintln!("govtrail decide --serve: making the next hook log: {e:#}");
                }
            }
        });
    }
    eprintln!(
        "govtrail decide --serve: bundle {} ({}) on {}, {workers} workers, recording in {}",
        dir.display(),
        bundle.id,
        socket.display(),
        log.path().display()
    );
    let mut signals = signals;
    let _ = signals.forever().next();
    let _ = std::fs::remove_file(socket);
    Ok(())
}

/// Binds `socket`, readable and writable by this user only. A socket file nobody listens on
/// (a server that was killed) is replaced; one with a live server is an error.
fn bind(socket: &Path) -> Result<UnixListener> {
    if let Some(parent) = socket.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::hook::create_spool(parent)?;
    }
    if std::fs::symlink_metadata(socket).is_ok() {
        if UnixStream::connect(socket).is_ok() {
            bail!(
                "{}: a resident evaluator already listens there",
                socket.display()
            );
        }
        let is_socket = {
            use std::os::unix::fs::FileTypeExt as _;
            std::fs::symlink_metadata(socket).is_ok_and(|m| m.file_type().is_socket())
        };
        if !is_socket {
            bail!("{}: exists and is not a socket", socket.display());
        }
        std::fs::remove_file(socket)
            .with_context(|| format!("remove the stale socket {}", socket.display()))?;
    }
    // Only this user may connect: the mask applies while the socket file is created.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(socket);
    rustix::process::umask(old);
    bound.with_context(|| format!("listen on {}", socket.display()))
}

/// regorus builds `anyhow` errors while it parses and evaluates (most are discarded), and each
/// captures a backtrace when `RUST_BACKTRACE` is set, as it often is in a Rust developer's
/// shell: that costs `decide` milliseconds per call. Library backtraces are switched off
/// unless `RUST_LIB_BACKTRACE` asks for them; panics still honour `RUST_BACKTRACE`.
fn no_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        #[expect(
            unsafe_code,
            reason = "set_var is unsafe with other threads running; decide has spawned none yet"
        )]
        // SAFETY: called first thing in `decide` and `serve`, before any thread exists in this
        // process.
        unsafe {
            std::env::set_var("RUST_LIB_BACKTRACE", "0");
        }
    }
}
