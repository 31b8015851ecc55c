//! `govtrail decide`: a Claude Code command hook that decides with a rule bundle, records the call
//! durably in a spool, then answers; and `govtrail decide --serve`, the resident evaluator that
//! keeps the bundle loaded so a call does not pay for loading it (docs/REPLAY.md §5).
//!
//! Deciding is `replay::decide`'s (the payload, the fail mode, the panic guard, the bundle kept
//! loaded); recording is `ledger::spool`'s. This module is the transport: the Unix socket, its
//! request, and which evaluator a call uses. Whichever process decides a call records it before
//! the call is answered: the server in its hook log (`ledger::spool::HookLog`: one fdatasync of
//! preallocated blocks), a call deciding in process in its own spool file. A call that cannot reach the server (none listening, a
//! refusal, a timeout, a garbled answer) evaluates in process, so the server can be started,
//! stopped or restarted at any time without a call going undecided or unrecorded. The record
//! says which evaluator decided.

use std::io::{Read as _, Write as _};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ledger::spool::HookLog;
use replay::decide::{
    CallFacts, Decided, FailMode, Resident, decide_stdin, envelope, load_and_eval,
};
use serde::{Deserialize, Serialize};

use crate::args::DecideArgs;
use crate::exit;

/// The socket's file name in the spool directory, when `--socket` is not given.
const SOCKET: &str = ".decide.sock";
/// The protocol version a request carries (2: the server records what it decides).
const PROTOCOL: u32 = 2;
/// How long a call waits for the server before deciding in process, and how long the server
/// waits for a client's request.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request or answer read (a hook payload holds a tool's input).
const MAX_MESSAGE: u64 = 16 << 20;

/// One `govtrail decide` call's settings.
struct Call<'a> {
    bundle_dir: &'a Path,
    spool: &'a Path,
    fail_open: bool,
    /// The resident evaluator's socket, unless `--no-server`.
    socket: Option<&'a Path>,
    /// A `govtrail serve` to decide and record the call first (`--server`).
    remote: Option<Result<crate::remote::Remote, String>>,
}

impl Call<'_> {
    fn fail(&self) -> FailMode {
        if self.fail_open {
            FailMode::Open
        } else {
            FailMode::Closed
        }
    }
}

/// `govtrail decide [--serve]`.
pub(crate) fn run(a: DecideArgs) -> Result<u8> {
    let socket = a.socket.unwrap_or_else(|| a.spool.join(SOCKET));
    if a.serve {
        serve(&a.bundle, &socket, &a.spool).map(|()| exit::OK)
    } else {
        let timeout = Duration::from_millis(a.server_timeout_ms);
        Ok(decide(&Call {
            bundle_dir: &a.bundle,
            spool: &a.spool,
            fail_open: a.fail_open,
            socket: (!a.no_server).then_some(socket.as_path()),
            remote: a.server.as_deref().map(|url| {
                crate::remote::Remote::new(&crate::remote::Target {
                    url,
                    timeout,
                    ca: a.server_ca.as_deref(),
                })
            }),
        }))
    }
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
fn decide(call: &Call<'_>) -> u8 {
    no_library_backtraces();
    let mut stdin = Vec::new();
    let read = std::io::stdin().lock().read_to_end(&mut stdin);
    let started_us = ledger::spool::now_us();
    let clock = Instant::now();
    let text: Result<&str, String> = match read {
        Err(e) => Err(format!("reading stdin: {e}")),
        Ok(_) => std::str::from_utf8(&stdin).map_err(|e| format!("stdin is not UTF-8: {e}")),
    };
    // The clock policies read is the call's start, which the record keeps: replay gives the
    // policy the same time.
    let now_ns = started_us.saturating_mul(1000);

    // A server pointed at decides and records the call; when it cannot be reached or refuses,
    // the call is decided here and spooled, and its record says why (`server_error`).
    let mut server_error = None;
    if let (Some(remote), Ok(_)) = (&call.remote, &text) {
        match remote
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|r| r.post("/v1/hooks/claude-code/decide", &stdin))
        {
            Ok(answer) => {
                let _ = std::io::stdout().lock().write_all(&answer);
                let _ = std::io::stdout().lock().flush();
                return exit::OK;
            }
            Err(e) => server_error = Some(format!("govtrail serve: {e}")),
        }
    }
    let id = ledger::spool::call_id(started_us);
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
                ask(socket, &request)
                    .map_err(|e| {
                        if let Some(e) = e {
                            server_error = Some(match server_error.take() {
                                Some(first) => format!("{first}; {e}"),
                                None => e,
                            });
                        }
                    })
                    .ok()
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
    let answer = decided.answer(call.fail());
    let recorded = if decided.recorded {
        Ok(())
    } else {
        let wall_us = i64::try_from(clock.elapsed().as_micros()).unwrap_or(i64::MAX);
        let facts = CallFacts {
            id: &id,
            started_us,
            wall_us,
            fail: call.fail(),
            evaluator,
            server_error: server_error.as_deref(),
            stdin: &stdin,
        };
        ledger::spool::write_call(call.spool, &envelope(&facts, &decided, &answer)).map(drop)
    };
    let replay::decide::Answer { error, stdout, .. } = answer;

    if let Some(e) = &error {
        eprintln!("govtrail decide: {e}");
    }
    if let Err(e) = &recorded {
        // Unrecorded, the call must not pass silently: exit 2 blocks it, with no answer on
        // stdout that could read as another decision, unless fail-open.
        eprintln!("govtrail decide: this call was not recorded: {e:#}");
        if !call.fail_open {
            return exit::BLOCK_CALL;
        }
    }
    let _ = std::io::stdout().lock().write_all(stdout.as_bytes());
    let _ = std::io::stdout().lock().flush();
    exit::OK
}

/// A worker of the resident evaluator: its bundle (reloaded when the bundle's files change)
/// and the server's hook log.
struct Worker {
    resident: Resident,
    log: Arc<HookLog>,
    /// The spool the log is in, canonical.
    spool: String,
}

impl Worker {
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
                    let mut decided =
                        decide_stdin(Ok(&r.stdin), |input| self.resident.eval(input, now_ns));
                    let fail = if r.fail_open {
                        FailMode::Open
                    } else {
                        FailMode::Closed
                    };
                    let answer = decided.answer(fail);
                    let facts = CallFacts {
                        id: &r.id,
                        started_us: r.started_us,
                        wall_us: ledger::spool::now_us().saturating_sub(r.started_us),
                        fail,
                        evaluator: "resident",
                        server_error: None,
                        stdin: r.stdin.as_bytes(),
                    };
                    let line = envelope(&facts, &decided, &answer).to_line();
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
fn serve(bundle_dir: &Path, socket: &Path, spool: &Path) -> Result<()> {
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
    let resident = Resident::load(&dir)?;
    let bundle_id = resident.bundle_id().unwrap_or_default().to_owned();
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
        let mut worker = Worker {
            resident: resident.clone(),
            log: Arc::clone(&log),
            spool: spool_path.clone(),
        };
        let serves = serves.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answered = worker.answer(&stream, &serves);
                // The caller reads to the end: closing the stream gives it its answer.
                drop(stream);
                if let Err(e) = answered {
                    eprintln!("govtrail decide --serve: a call: {e}");
                }
                // Off the call's path: the next hook log, if one is due.
                if let Err(e) = worker.log.prepare() {
                    eprintln!("govtrail decide --serve: making the next hook log: {e:#}");
                }
            }
        });
    }
    eprintln!(
        "govtrail decide --serve: bundle {} ({}) on {}, {workers} workers, recording in {}",
        dir.display(),
        bundle_id,
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
        ledger::spool::create(parent)?;
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
