//! `govtrail serve` and `govtrail token`: the server (the `web` crate) and its bearer tokens.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use ledger::Ledger;

use crate::keys::read_key;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The ledger directory.
    #[arg(env = "GOVTRAIL_LEDGER")]
    pub(crate) ledger: PathBuf,
    /// The ledger's signing key.
    #[arg(long, env = "GOVTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub(crate) listen: SocketAddr,
    /// The tokens file (`govtrail token create`); default STATE_DIR/tokens.json.
    #[arg(long)]
    pub(crate) tokens: Option<PathBuf>,
    /// Where the server keeps what is not the ledger (rejected request bodies, the access
    /// log); default LEDGER.server beside the ledger.
    #[arg(long)]
    pub(crate) state_dir: Option<PathBuf>,
    /// Largest request body accepted, in bytes, as sent and once decompressed.
    #[arg(long, default_value_t = 20 << 20)]
    pub(crate) max_body: usize,
    /// Ingest requests handled at once; more are answered 429/503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub(crate) max_concurrent: usize,
    /// Mebibytes the read API's and the dashboard's queries may hold at once, all together; a
    /// query that needs more is answered 503 (the server's memory does not grow).
    #[arg(long, default_value_t = 96, value_name = "MIB")]
    pub(crate) query_memory_mib: usize,
    /// Seconds a client has to send a request's body (slower ones get 408).
    #[arg(long, default_value_t = 30)]
    pub(crate) body_timeout: u64,
    /// Seconds a client has to send a request's headers, from connecting or from the last
    /// answer (slower or idle connections are closed).
    #[arg(long, default_value_t = 30)]
    pub(crate) header_timeout: u64,
    /// A rule bundle: POST /v1/hooks/claude-code/decide then decides Claude Code hook calls
    /// with it, records each durably, and answers the hook JSON.
    #[arg(long)]
    pub(crate) bundle: Option<PathBuf>,
    /// A directory of rule bundles (one per subdirectory) that POST /v1/replay may replay the
    /// ledger against, by name (admin scope).
    #[arg(long, value_name = "DIR")]
    pub(crate) replay_bundles: Option<PathBuf>,
    /// A decide call that cannot be decided or recorded gets no answer (the platform's own
    /// flow) instead of a deny.
    #[arg(long)]
    pub(crate) fail_open: bool,
    /// Milliseconds a decide call has from its body read to its answer; past it, it is
    /// answered by the fail mode, and that answer recorded (0: every call, for tests).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub(crate) decide_budget_ms: u64,
    /// A spool of `govtrail hook`/`decide` processes, drained into the ledger in the background
    /// (what they recorded while the server was unreachable).
    #[arg(long)]
    pub(crate) spool: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Store the latest checkpoint as a stable one (checkpoints/, for witnesses and auditors)
    /// once appends pause for a second, and at least this often (seconds) while they flow;
    /// 0: only at seals.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) stable_every: u64,
}

impl ServeArgs {
    fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            let mut name = self.ledger.file_name().unwrap_or_default().to_os_string();
            name.push(".server");
            self.ledger.with_file_name(name)
        })
    }
}

/// `govtrail serve`.
pub(crate) fn serve(a: ServeArgs) -> Result<u8> {
    let state_dir = a.state_dir();
    let tokens = a
        .tokens
        .clone()
        .unwrap_or_else(|| state_dir.join("tokens.json"));
    let signer = read_key(&a.key)?;
    let verifiers = vec![signer.verifier()];
    let (ledger, recovery) = Ledger::open(&a.ledger, signer.clone())?;
    if let Some(reason) = &recovery.cut_reason {
        eprintln!(
            "govtrail: recovered: cut {} bytes of an unacknowledged commit from the write-ahead log ({reason})",
            recovery.cut_bytes
        );
    }
    let opts = web::Options {
        ledger: a.ledger.clone(),
        state_dir,
        tokens,
        limits: web::Limits {
            body_bytes: a.max_body,
            decompressed_bytes: a.max_body,
            concurrent_requests: a.max_concurrent,
            body_timeout: std::time::Duration::from_secs(a.body_timeout),
            header_timeout: std::time::Duration::from_secs(a.header_timeout),
            query_memory_bytes: a.query_memory_mib << 20,
            ..web::Limits::default()
        },
        max_batch: 8192,
        bundle: a.bundle.clone(),
        replay_bundles: a.replay_bundles.clone(),
        fail_open: a.fail_open,
        decide_budget: std::time::Duration::from_millis(a.decide_budget_ms),
        spool: a.spool.clone(),
        spool_interval: std::time::Duration::from_secs(1),
        verifiers,
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
        heartbeat: (a.stable_every > 0).then(|| ledger::Heartbeat {
            idle: std::time::Duration::from_secs(1),
            every: std::time::Duration::from_secs(a.stable_every),
        }),
    };
    let server = web::Server::new(ledger, signer, opts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listen on {}", a.listen))?;
        let addr = listener.local_addr().context("the bound address")?;
        let scheme = if a.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        // One write: a reader that takes the first line and closes the pipe does not make a
        // second write fail.
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(
            format!(
                "govtrail: serving {} on {scheme}://{addr}\ngovtrail: dashboard at {scheme}://{addr}/ui/\n",
                a.ledger.display()
            )
            .as_bytes(),
        );
        let _ = out.flush();
        drop(out);
        server.serve(listener, shutdown_signal()).await?;
        eprintln!("govtrail: stopped; every acknowledged record is durable");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(crate::exit::OK)
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers the server runs until it is killed.
        _ => std::future::pending().await,
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Make a bearer token for `govtrail serve`: printed once, stored only hashed.
    Create(TokenCreateArgs),
    /// List the tokens (ids, names, scopes, revocation; never the tokens themselves).
    List(TokenListArgs),
    /// Revoke a token by its id; the server refuses it from its next request on.
    Revoke(TokenRevokeArgs),
}

#[derive(Args, Debug)]
pub(crate) struct TokenCreateArgs {
    /// The tokens file (created when missing, mode 0600).
    #[arg(long)]
    pub(crate) tokens: PathBuf,
    /// What the token is for.
    #[arg(long)]
    pub(crate) name: String,
    /// What it may do: ingest, read, admin (admin also reads); repeat for several.
    #[arg(long = "scope", required = true)]
    pub(crate) scopes: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct TokenListArgs {
    /// The tokens file.
    #[arg(long)]
    pub(crate) tokens: PathBuf,
    /// JSON output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct TokenRevokeArgs {
    /// The tokens file.
    #[arg(long)]
    pub(crate) tokens: PathBuf,
    /// The token's id (the hex after `gvt_`).
    pub(crate) id: String,
}

/// `govtrail token …`.
pub(crate) fn token(c: TokenCommand) -> Result<u8> {
    match c {
        TokenCommand::Create(a) => {
            let scopes = a
                .scopes
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| {
                    web::auth::Scope::from_name(s.trim()).ok_or_else(|| {
                        anyhow::anyhow!("unknown scope {s:?}; one of ingest, read, admin")
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let (info, token) = web::auth::create(&a.tokens, &a.name, &scopes)?;
            eprintln!(
                "govtrail: token {} ({}) made with scopes {}; it is shown once, here:",
                info.id,
                info.name,
                scopes
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            println!("{token}");
            Ok(crate::exit::OK)
        }
        TokenCommand::List(a) => {
            let tokens = web::auth::list(&a.tokens)?;
            if a.json {
                let public: Vec<serde_json::Value> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id, "name": t.name, "scopes": t.scopes,
                            "created_us": t.created_us, "revoked_us": t.revoked_us,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&public)?);
            } else {
                for t in tokens {
                    let scopes: Vec<&str> = t.scopes.iter().map(|s| s.name()).collect();
                    let state = if t.revoked_us.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!("{}  {:<8} {:<20} {}", t.id, state, scopes.join(","), t.name);
                }
            }
            Ok(crate::exit::OK)
        }
        TokenCommand::Revoke(a) => {
            let t = web::auth::revoke(&a.tokens, &a.id)?;
            println!("revoked token {} ({})", t.id, t.name);
            Ok(crate::exit::OK)
        }
    }
}
