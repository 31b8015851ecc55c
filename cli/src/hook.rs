//! `govtrail hook -- CMD ARGS…`: runs in place of a Claude Code `command` hook, passes stdin to
//! the wrapped hook, relays its stdout, stderr and exit code unchanged, and writes the whole
//! call (input, output, exit status, wall time) durably to a spool directory (`ledger::spool`) that `govtrail
//! ingest --spool` drains into the ledger.
//!
//! The spool is the multi-writer path: Claude Code runs hooks concurrently while a ledger has
//! one writer, so each call writes its own file (temporary name, fsync, rename, directory
//! fsync) and never touches the ledger. If recording fails, the hook's behaviour does not
//! change: its output and exit code are relayed as they were, and the failure is reported on
//! stderr. Governance never fails open or closed because of govtrail.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use schemas::{HookEnvelope, HookStream};

/// Runs the wrapped hook; returns the exit code to leave with (the hook's own).
pub(crate) fn run(
    spool: &Path,
    engine: Option<&str>,
    service: Option<&str>,
    server: Option<crate::remote::Target<'_>>,
    command: &[String],
) -> u8 {
    let mut stdin = Vec::new();
    let _ = std::io::stdin().lock().read_to_end(&mut stdin);
    let started_us = ledger::spool::now_us();
    let clock = Instant::now();
    let Called {
        code,
        signal,
        stdout,
        stderr,
        interrupted,
        killed,
    } = call(command, &stdin);
    let wall_us = i64::try_from(clock.elapsed().as_micros()).unwrap_or(i64::MAX);

    let mut env = HookEnvelope::new(ledger::spool::call_id(started_us), started_us);
    env.wall_us = Some(wall_us);
    env.argv = command.to_vec();
    env.exit_code = code.map(i64::from);
    env.signal = signal.map(|s| s.to_string());
    env.interrupted = interrupted.map(i64::from);
    env.killed = killed;
    env.engine = engine.map(str::to_owned);
    env.service = service.map(str::to_owned);
    env.set(HookStream::Stdin, &stdin);
    env.set(HookStream::Stdout, &stdout);
    env.set(HookStream::Stderr, &stderr);
    // Sent to the server when one is named; spooled otherwise, or when it cannot be reached or
    // refuses. The spooled envelope is the same bytes: a server that stored it but whose answer
    // was lost makes the drained copy a duplicate, not a second call.
    let sent = server.is_some_and(|target| {
        crate::remote::Remote::new(&target)
            .and_then(|r| r.post("/v1/hooks/govtrail", &env.to_line()))
            .is_ok()
    });
    let recorded = if sent {
        Ok(())
    } else {
        ledger::spool::write_call(spool, &env).map(drop)
    };

    // Relay exactly what the hook said, then report a recording failure after it.
    let _ = std::io::stdout().lock().write_all(&stdout);
    let _ = std::io::stdout().lock().flush();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(&stderr);
    if let Err(e) = recorded {
        let _ = writeln!(err, "govtrail hook: this call was not recorded: {e:#}");
    }
    let _ = err.flush();
    drop(err);
    if let Some(n) = interrupted {
        // Die of the signal Claude Code sent (its timeout), as the hook would have.
        let _ = signal_hook::low_level::emulate_default_handler(n);
        return crate::exit::relayed(None, Some(n));
    }
    crate::exit::relayed(code, signal)
}

/// What a call of the wrapped hook gave.
struct Called {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// A signal govtrail itself received (SIGTERM, SIGINT, SIGHUP: Claude Code's timeout, or
    /// the user), forwarded to the hook.
    interrupted: Option<i32>,
    /// The hook's process group was killed (SIGKILL) after such a signal: the hook outlived
    /// the grace period, or left children holding its output open.
    killed: bool,
}

/// How long a hook's process group may outlive a forwarded signal before it is killed.
const GRACE: std::time::Duration = std::time::Duration::from_millis(1500);
/// After the kill, how long to wait for the hook's exit and for each output pipe (a child that
/// escaped the group may hold one): at most 1.5 + 3 × 0.1 s in all.
const PIPE_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

enum Event {
    Exit(std::io::Result<std::process::ExitStatus>),
    Signal(i32),
}

/// Runs the command with `stdin`. A command that cannot start behaves like a shell's: exit
/// 127 and a message on stderr. A SIGTERM, SIGINT or SIGHUP sent to govtrail is forwarded to
/// the hook, so that a timeout ends both, and the call is still recorded.
fn call(command: &[String], stdin: &[u8]) -> Called {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let failed = |msg: String| Called {
        code: Some(i32::from(crate::exit::CANNOT_RUN)),
        signal: None,
        stdout: Vec::new(),
        stderr: msg.into_bytes(),
        interrupted: None,
        killed: false,
    };
    let Some((program, args)) = command.split_first() else {
        return failed("govtrail hook: no command\n".into());
    };
    use std::os::unix::process::CommandExt as _;
    let signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]).ok();
    // Its own process group, so that a signal reaches the hook's children too (a shell hook's
    // `node …`, a `sleep` it started) and nothing it started outlives the call.
    let child = Command::new(program)
        .process_group(0)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return failed(format!("govtrail hook: cannot run {program}: {e}\n")),
    };
    let pid = child.id();
    let input = stdin.to_vec();
    let mut pipe_in = child.stdin.take();
    // Write stdin on its own thread: a hook may print before it reads everything.
    let writer = std::thread::spawn(move || {
        if let Some(p) = pipe_in.as_mut() {
            let _ = p.write_all(&input);
        }
    });
    // Each pipe is read into a shared buffer, so that what was read so far can be taken
    // without waiting for a pipe that a stray child keeps open.
    type Buffer = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        let buf: Buffer = Buffer::default();
        let shared = std::sync::Arc::clone(&buf);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Some(mut p) = pipe {
                let mut chunk = [0u8; 8192];
                loop {
                    match p.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => shared
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .extend_from_slice(&chunk[..n]),
                    }
                }
            }
            let _ = done_tx.send(());
        });
        (buf, done_rx)
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let exit_tx = tx.clone();
    std::thread::spawn(move || {
        let _ = exit_tx.send(Event::Exit(child.wait()));
    });
    if let Some(mut signals) = signals {
        std::thread::spawn(move || {
            if let Some(n) = signals.forever().next() {
                let _ = tx.send(Event::Signal(n));
            }
        });
    }
    let mut interrupted = None;
    let mut killed = false;
    // The hook's process group (its pid: it leads the group made at spawn).
    let group = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    // A signal (Claude Code's timeout) goes to the hook's whole group; whatever of the group
    // is left by the deadline, 1.9 s after the signal, is killed, so the call ends within 2 s.
    let forward = |n: i32| {
        if let (Some(g), Some(sig)) = (group, rustix::process::Signal::from_named_raw(n)) {
            let _ = rustix::process::kill_process_group(g, sig);
        }
        Instant::now() + GRACE
    };
    let kill_group = || {
        group.is_some_and(|g| {
            rustix::process::kill_process_group(g, rustix::process::Signal::KILL).is_ok()
        })
    };
    let mut deadline = None;
    let mut status = None;
    match rx.recv() {
        Ok(Event::Exit(s)) => status = s.ok(),
        Ok(Event::Signal(n)) => {
            interrupted = Some(n);
            let until = forward(n);
            deadline = Some(until);
            if let Ok(Event::Exit(s)) =
                rx.recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                status = s.ok();
            }
            // Children the hook left behind would hold its output pipes open: the group goes
            // too, and then the hook itself if it had not exited.
            killed |= kill_group();
            if status.is_none()
                && let Ok(Event::Exit(s)) = rx.recv_timeout(PIPE_GRACE)
            {
                status = s.ok();
            }
        }
        Err(_) => {}
    }
    // The output pipes close when the last process holding them ends. Children a hook left
    // running (`cmd &`) may hold them: a signal while waiting for them is forwarded and the
    // group killed by the deadline, as above.
    let mut take = |(buf, done): (Buffer, std::sync::mpsc::Receiver<()>)| {
        loop {
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => std::time::Duration::from_millis(50),
            };
            match done.recv_timeout(wait) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    killed |= kill_group();
                    let _ = done.recv_timeout(PIPE_GRACE);
                    break;
                }
            } else if let Ok(Event::Signal(n)) = rx.try_recv() {
                interrupted = Some(n);
                deadline = Some(forward(n));
            }
        }
        std::mem::take(
            &mut *buf
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    };
    let stdout = take(out);
    let stderr = take(err);
    // The stdin writer is not waited for: a child that holds stdin and never reads it would
    // block it; it ends with the process.
    drop(writer);
    use std::os::unix::process::ExitStatusExt as _;
    Called {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        stdout,
        stderr,
        interrupted,
        killed,
    }
}

/// Runs the command after `--` with the caller's stdin, stdout and stderr, when `govtrail hook`
/// itself was called wrongly: the hook still decides (governance does not fail open because
/// of govtrail), nothing is recorded, and the usage error follows the hook's own stderr.
pub(crate) fn passthrough(args: &[String], usage: &str) -> Option<u8> {
    let at = args.iter().position(|a| a == "--")?;
    let command = &args[at + 1..];
    let (program, rest) = command.split_first()?;
    let status = Command::new(program).args(rest).status();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "govtrail hook: not recorded: {}",
        usage.lines().next().unwrap_or(usage)
    );
    Some(match status {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt as _;
            crate::exit::relayed(s.code(), s.signal())
        }
        Err(e) => {
            let _ = writeln!(err, "govtrail hook: cannot run {program}: {e}");
            crate::exit::CANNOT_RUN
        }
    })
}
