//! `govtrail serve`: the ledger as an HTTP service (docs/SERVER.md). A front-end like the CLI:
//! handlers parse, call the libraries (`schemas::ingest`, `ledger::spool::append_sources`,
//! `ledger::prove`, the tile cache) and map their results to status codes.
//!
//! ```text
//! POST /v1/decisions  /logs  /v1/traces  /v1/logs  /v1/hooks/claude-code[/decide]  (ingest)
//!        │ body limit, timeout, decompression limit, concurrency permit (else 429/503)
//!        ▼
//! schemas::ingest ─▶ ledger::spool::append_sources ─▶ one shared Committer (group commits)
//!        ▼                                                 │ fsync
//! reply (appended, duplicates, rejected; the checkpoint) ◀─┘
//! GET  /v1/decisions[/{index}] /v1/sessions[/{id}/rca] /v1/reports/overhead, POST /v1/query
//!      /v1/reports/roi (read)   POST /v1/verify /v1/replay (admin)
//! GET  /checkpoint  /tile/…  /healthz  /readyz  /metrics (public)
//! ```
//!
//! Invariants: a 2xx to an ingest request only after its records are durable (the commit's
//! fsync); one writer for the ledger; a body a normaliser rejected in part is kept, with the
//! reasons, in the state directory (never in the ledger, never dropped); no token, key or
//! secret in a response or a log.

mod admin;
mod api;
pub mod auth;
mod auth_layer;
mod decide;
mod ingest;
mod metrics;
mod openapi;
mod problem;
mod read;
mod ui;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use ledger::{Committer, Ledger};

/// Limits on what one request may ask (docs/SERVER.md §4).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of a request body as sent.
    pub body_bytes: usize,
    /// Bytes of a request body once decompressed (OTLP recommends 20 MiB).
    pub decompressed_bytes: usize,
    /// Records (units) in one request.
    pub records_per_request: usize,
    /// Ingest requests handled at once; more are answered 429 or 503 with `Retry-After`.
    pub concurrent_requests: usize,
    /// Time to receive a request's body (slow clients are cut off with 408).
    pub body_timeout: Duration,
    /// Time to receive a request's headers, from the connection's start or the previous
    /// answer (a client that sends them slower, or holds an idle connection longer, is
    /// disconnected).
    pub header_timeout: Duration,
    /// Bytes the read API's and the dashboard's queries may hold at once, all together (hash
    /// tables, sorts, aggregates); a query that needs more is refused (503), the server's
    /// memory does not grow.
    pub query_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 20 << 20,
            decompressed_bytes: 20 << 20,
            records_per_request: 100_000,
            concurrent_requests: 64,
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            query_memory_bytes: 96 << 20,
        }
    }
}

/// How a server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The ledger's directory.
    pub ledger: PathBuf,
    /// Where the server keeps what is not the ledger: request bodies with rejected units
    /// (`rejected/`), the access log (`access.log`).
    pub state_dir: PathBuf,
    /// The tokens file (`govtrail token`).
    pub tokens: PathBuf,
    /// Request limits.
    pub limits: Limits,
    /// Records per group commit.
    pub max_batch: usize,
    /// A directory whose subdirectories are the rule bundles `POST /v1/replay` may name (none:
    /// that endpoint answers 404).
    pub replay_bundles: Option<PathBuf>,
    /// The rule bundle `POST /v1/hooks/claude-code/decide` decides with (none: that endpoint
    /// is 404).
    pub bundle: Option<PathBuf>,
    /// Decide calls fail open (no answer) instead of closed (`deny`).
    pub fail_open: bool,
    /// The time a decide call has, from its body read to its answer: past it, the call is
    /// answered by the fail mode (and that answer recorded), unless it was decided in time and
    /// its record is being committed.
    pub decide_budget: Duration,
    /// A spool of `govtrail hook` and `decide` processes (their calls recorded while the server
    /// was unreachable) drained into the ledger in the background, every `spool_interval`.
    pub spool: Option<PathBuf>,
    /// How often the spool is drained.
    pub spool_interval: Duration,
    /// The keys `POST /v1/verify` trusts: the server's own public key.
    pub verifiers: Vec<ledger::NoteVerifier>,
    /// Serve HTTPS with this certificate chain and private key (PEM files); plain HTTP without.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// When the writer stores stable checkpoints besides each seal's (none: only at seals).
    pub heartbeat: Option<ledger::Heartbeat>,
}

/// A server that cannot start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tokens(#[from] auth::TokenError),
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    #[error("bundle: {0}")]
    Bundle(#[from] replay::Error),
    #[error("{0}")]
    Io(String),
}

/// What every handler shares.
struct State {
    opts: Options,
    /// The ledger's one writer; replaced by a new one after a failed commit (`keep_writer`).
    writer: std::sync::RwLock<Arc<Committer>>,
    /// Kept to reopen the ledger after a failed commit.
    signer: ledger::NoteSigner,
    /// A commit failed: the writer stopped; `keep_writer` reopens the ledger.
    writer_failed: AtomicBool,
    /// Why the first commit since the last restart failed (for the restart's log line).
    commit_error: Mutex<Option<String>>,
    /// SIGTERM or SIGINT came: no new ingest, the server drains and stops.
    stopping: AtomicBool,
    tokens: auth::Tokens,
    decider: Option<decide::Decider>,
    permits: tokio::sync::Semaphore,
    metrics: metrics::Metrics,
    /// The newest checkpoint: (size, note text).
    checkpoint: Arc<Mutex<Option<(u64, String)>>>,
    access_log: Mutex<std::fs::File>,
    seq: AtomicU64,
    /// The dashboard's browser sessions.
    sessions: ui::session::Sessions,
    /// What the dashboard's live figures show (ingest rate, spool backlog, checkpoint size).
    live: tokio::sync::watch::Sender<ui::Live>,
    /// The memory pool every read query shares (`Limits::query_memory_bytes`).
    runtime: Arc<query::RuntimeEnv>,
}

/// A server over one ledger, not yet listening.
pub struct Server {
    state: Arc<State>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("ledger", &self.state.opts.ledger)
            .finish()
    }
}

impl Server {
    /// Takes the opened ledger (its writer lock held) and starts its commit thread; `signer`
    /// (the ledger's key) reopens the ledger after a failed commit.
    pub fn new(
        ledger: Ledger,
        signer: ledger::NoteSigner,
        opts: Options,
    ) -> Result<Self, ServeError> {
        let tokens = auth::Tokens::open(&opts.tokens)?;
        let decider = match &opts.bundle {
            Some(dir) => Some(decide::Decider::load(dir, opts.fail_open)?),
            None => None,
        };
        let io = |what: &str, e: std::io::Error| ServeError::Io(format!("{what}: {e}"));
        ledger::create_private_dir_all(&opts.state_dir.join("rejected"))
            .map_err(|e| io(&opts.state_dir.display().to_string(), e))?;
        let access_path = opts.state_dir.join("access.log");
        let access_log = {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&access_path)
                .map_err(|e| io(&access_path.display().to_string(), e))?
        };
        let checkpoint = Arc::new(Mutex::new(
            ledger
                .checkpoint()
                .map(|c| (c.checkpoint.size, c.bytes.clone())),
        ));
        let metrics = metrics::Metrics::new();
        if let Some((size, _)) = &*checkpoint.lock().unwrap_or_else(|e| e.into_inner()) {
            metrics
                .checkpoint_size
                .set(i64::try_from(*size).unwrap_or(i64::MAX));
        }
        let committer = spawn_writer(ledger, &opts, &checkpoint, &metrics);
        let permits = tokio::sync::Semaphore::new(opts.limits.concurrent_requests.max(1));
        let tls = opts.tls.is_some();
        let runtime = query::limited_runtime(opts.limits.query_memory_bytes)
            .map_err(|e| ServeError::Io(e.to_string()))?;
        Ok(Self {
            state: Arc::new(State {
                opts,
                writer: std::sync::RwLock::new(Arc::new(committer)),
                signer,
                writer_failed: AtomicBool::new(false),
                commit_error: Mutex::new(None),
                stopping: AtomicBool::new(false),
                tokens,
                decider,
                permits,
                metrics,
                checkpoint,
                access_log: Mutex::new(access_log),
                seq: AtomicU64::new(0),
                sessions: ui::session::Sessions::new(tls),
                live: tokio::sync::watch::Sender::new(ui::Live::default()),
                runtime,
            }),
        })
    }

    /// The routes (each with the scope it needs) and, built with them, the OpenAPI document
    /// served at `/openapi.json`.
    pub fn router(&self) -> Router {
        use utoipa::OpenApi as _;
        use utoipa_axum::router::OpenApiRouter;
        use utoipa_axum::routes;
        let s = Arc::clone(&self.state);
        let body_limit = s.opts.limits.body_bytes;
        let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .routes(routes!(ingest::native, api::decisions))
            .routes(routes!(read::decision))
            .routes(routes!(api::sessions))
            .routes(routes!(api::rca))
            .routes(routes!(api::overhead))
            .routes(routes!(api::series))
            .routes(routes!(api::roi))
            .routes(routes!(admin::replay_run))
            .routes(routes!(api::sql))
            .routes(routes!(admin::verify_status, admin::verify_run))
            .routes(routes!(ingest::opa))
            .routes(routes!(ingest::opa_partition))
            .routes(routes!(ingest::otlp_traces))
            .routes(routes!(ingest::otlp_logs))
            .routes(routes!(ingest::claude_code_tap))
            .routes(routes!(ingest::govtrail_hook))
            .routes(routes!(decide::claude_code_decide))
            .routes(routes!(read::checkpoint))
            .routes(routes!(read::healthz))
            .routes(routes!(read::readyz))
            .routes(routes!(read::metrics))
            .routes(routes!(openapi_json))
            .split_for_parts();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
        router
            // C2SP tlog-tiles paths: not one OpenAPI path (openapi.rs).
            .route("/tile/{*path}", get(read::tile))
            .merge(ui::routes())
            .fallback(read::not_found)
            .layer(axum::Extension(doc))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&s),
                auth_layer::count,
            ))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(s)
    }

    /// Serves on `listener` until `shutdown` resolves; then stops taking connections, lets the
    /// requests in flight finish (each durable before its answer), and closes the ledger.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let router = self.router();
        let state = Arc::clone(&self.state);
        drop(self);
        let drainer = state
            .opts
            .spool
            .clone()
            .map(|spool| tokio::spawn(drain_spool(Arc::clone(&state), spool)));
        let keeper = tokio::spawn(keep_writer(Arc::clone(&state)));
        let trimmer = tokio::spawn(trim_heap(Arc::clone(&state)));
        let sampler = tokio::spawn(ui::sample_live(Arc::clone(&state)));
        let header_timeout = state.opts.limits.header_timeout;
        let tls = match &state.opts.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        // The dashboard's live streams end when the shutdown comes, so that the connections
        // they hold do not keep the graceful shutdown waiting.
        let live = state.live.clone();
        let shutdown = async move {
            shutdown.await;
            live.send_modify(|l| l.closing = true);
        };
        let served = accept_loop(listener, router, header_timeout, tls, shutdown).await;
        state.stopping.store(true, Ordering::SeqCst);
        if let Some(d) = drainer {
            let _ = d.await;
        }
        let _ = keeper.await;
        let _ = trimmer.await;
        let _ = sampler.await;
        served?;
        let state = Arc::try_unwrap(state)
            .map_err(|_| ServeError::Io("requests still hold the ledger at shutdown".into()))?;
        let writer = state
            .writer
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let writer = Arc::try_unwrap(writer)
            .map_err(|_| ServeError::Io("requests still hold the writer at shutdown".into()))?;
        writer.finish()?;
        Ok(())
    }
}

/// Drains `spool` into the ledger every `spool_interval` until the server stops: the calls
/// hooks and decide processes recorded while they could not reach the server. A drain that
/// fails is said once on standard error and tried again (nothing in a spool is removed before
/// the ledger holds it).
async fn drain_spool(state: Arc<State>, spool: PathBuf) {
    let mut said = String::new();
    while !state.stopping.load(Ordering::SeqCst) {
        let s = Arc::clone(&state);
        let dir = spool.clone();
        let drained = tokio::task::spawn_blocking(move || {
            let opts = schemas::ingest::Options {
                received_us: ledger::spool::now_us(),
                ..schemas::ingest::Options::default()
            };
            ledger::spool::drain(&s.committer(), &dir, &opts)
        })
        .await;
        match drained {
            Ok(Ok(report)) => {
                said.clear();
                if report.ingest.appended > 0 || !report.kept.is_empty() {
                    eprintln!(
                        "govtrail serve: drained {}: {} appended, {} duplicates, {} kept in rejected/",
                        spool.display(),
                        report.ingest.appended,
                        report.ingest.duplicates,
                        report.kept.len()
                    );
                }
            }
            Ok(Err(e)) => {
                let e = e.to_string();
                if e != said {
                    eprintln!("govtrail serve: draining {}: {e}", spool.display());
                    said = e;
                }
            }
            Err(e) => eprintln!("govtrail serve: draining {}: {e}", spool.display()),
        }
        // Sleep in short steps, so that a shutdown does not wait a whole interval.
        let mut left = state.opts.spool_interval;
        while !left.is_zero() && !state.stopping.load(Ordering::SeqCst) {
            let step = left.min(Duration::from_millis(100));
            tokio::time::sleep(step).await;
            left -= step;
        }
    }
}

/// Every 10 s until the server stops, hands the free pages glibc's allocator keeps back to the
/// system (`malloc_trim`). Each seal allocates and frees hundreds of megabytes (the sealed WAL's
/// hashes and ids, the segment's columns); without this the freed pages stay in the process
/// and its resident memory drifts up by about 4 bytes a record over a long run (measured:
/// docs/BENCHMARKS.md, the soak). A trim walks the allocator's free lists: a few ms, off the
/// runtime's threads.
async fn trim_heap(state: Arc<State>) {
    while !state.stopping.load(Ordering::SeqCst) {
        let mut left = Duration::from_secs(10);
        while !left.is_zero() && !state.stopping.load(Ordering::SeqCst) {
            let step = left.min(Duration::from_millis(100));
            tokio::time::sleep(step).await;
            left -= step;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

/// glibc's `malloc_trim(0)`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "an FFI call to glibc; malloc_trim takes no pointer and only returns free pages"
)]
fn trim() {
    // SAFETY: malloc_trim(0) takes no pointer and touches no memory the program holds; glibc
    // locks each arena while it trims it.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
async fn openapi_json(
    axum::Extension(doc): axum::Extension<Arc<String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc.as_str().to_owned(),
    )
        .into_response()
}

/// Starts a commit thread for `ledger` that keeps the served checkpoint and its gauge current.
fn spawn_writer(
    ledger: Ledger,
    opts: &Options,
    checkpoint: &Arc<Mutex<Option<(u64, String)>>>,
    metrics: &metrics::Metrics,
) -> Committer {
    let latest = Arc::clone(checkpoint);
    let gauge = metrics.checkpoint_size.clone();
    let (commit_seconds, fsync_seconds, stalls) = (
        metrics.commit_seconds.clone(),
        metrics.fsync_seconds.clone(),
        metrics.fsync_stalls.clone(),
    );
    Committer::spawn_with_heartbeat(ledger, opts.max_batch, 64, opts.heartbeat, move |commit| {
        gauge.set(i64::try_from(commit.size).unwrap_or(i64::MAX));
        if commit.commit_us > 0 {
            let fsync = commit.fsync_us as f64 / 1e6;
            commit_seconds.observe(commit.commit_us as f64 / 1e6);
            fsync_seconds.observe(fsync);
            if fsync >= metrics::FSYNC_STALL_SECONDS {
                stalls.inc();
            }
        }
        *latest.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((commit.size, commit.checkpoint.bytes.clone()));
    })
}

impl State {
    /// The current writer.
    fn committer(&self) -> Arc<Committer> {
        Arc::clone(&self.writer.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether ingest is accepted: the writer runs and the server is not stopping.
    fn ready(&self) -> bool {
        !self.stopping.load(Ordering::SeqCst) && !self.writer_failed.load(Ordering::SeqCst)
    }

    /// A commit failed with `error`: the commit thread has stopped, and `keep_writer` reopens
    /// the ledger (cutting the WAL's unacknowledged tail) and says why in its log line.
    fn commit_failed(&self, error: &dyn std::fmt::Display) {
        self.commit_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(|| error.to_string());
        self.writer_failed.store(true, Ordering::SeqCst);
    }
}

/// After a failed commit (a full disk, an I/O error) the commit thread stops and nothing more is
/// acknowledged. Every second until the server stops, this reopens the ledger when that
/// happened (the open recovers the WAL: the failed commit was never acknowledged, so cutting it
/// loses nothing) and puts a new writer in place; ingest is 503 until then.
async fn keep_writer(state: Arc<State>) {
    let mut said = String::new();
    while !state.stopping.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if !state.writer_failed.load(Ordering::SeqCst) {
            continue;
        }
        if state.committer().is_running() {
            // The error was not a failed commit (the writer still runs): nothing to reopen.
            state.writer_failed.store(false, Ordering::SeqCst);
            continue;
        }
        let s = Arc::clone(&state);
        let reopened = tokio::task::spawn_blocking(move || {
            // The stopped thread has dropped its ledger (and the writer lock) when its commit
            // failed; a request still holding the old writer only gets errors from it.
            let (ledger, recovery) = Ledger::open(&s.opts.ledger, s.signer.clone())?;
            let committer = spawn_writer(ledger, &s.opts, &s.checkpoint, &s.metrics);
            *s.writer.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(committer);
            Ok::<_, ledger::Error>(recovery)
        })
        .await;
        match reopened {
            Ok(Ok(recovery)) => {
                state.metrics.writer_restarts.inc();
                state.writer_failed.store(false, Ordering::SeqCst);
                said.clear();
                let why = state
                    .commit_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                eprintln!(
                    "govtrail serve: the ledger's writer restarted after a failed commit{why}{}",
                    recovery
                        .cut_reason
                        .map(|r| format!(" (cut {} unacknowledged bytes: {r})", recovery.cut_bytes))
                        .unwrap_or_default()
                );
            }
            Ok(Err(e)) => {
                let e = e.to_string();
                if e != said {
                    eprintln!("govtrail serve: reopening the ledger: {e}; retrying");
                    said = e;
                }
            }
            Err(e) => eprintln!("govtrail serve: reopening the ledger: {e}"),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// the connections' requests in flight to be answered. HTTP/1.1 with a header-read timeout
/// (axum's own `serve` sets no timer, so a client could hold a connection open sending one
/// header byte at a time).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // A connection that failed before it was accepted (reset, too many files):
                // the listener goes on after a pause.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (http, service, watcher) = (http.clone(), service.clone(), graceful.watcher());
        let tls = tls.clone();
        tokio::spawn(async move {
            // A connection that ends in an error (cut, too slow, a failed handshake) concerns
            // only its client.
            match tls {
                None => {
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
                Some(acceptor) => {
                    // The handshake gets the header timeout too.
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
                    {
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A TLS acceptor for the certificate chain and private key in PEM files `cert` and `key`
/// (TLS 1.2 and 1.3, rustls's safe defaults). Errors name the file, never its contents.
fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| {
            ServeError::Io(format!(
                "{}: not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(ServeError::Io(format!(
            "{}: no certificate",
            cert.display()
        )));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| ServeError::Io(format!("{}: not a PEM private key", key.display())))?;
    #[expect(
        deprecated,
        reason = "ring keeps the build free of aws-lc's C and CMake toolchain; it offers no \
                  post-quantum key exchange (docs/SERVER.md §3)"
    )]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key_der))
        .map_err(|e| ServeError::Io(format!("TLS with {}: {e}", cert.display())))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
