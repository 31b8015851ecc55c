//! The `govtrail` binary: parses arguments, calls the libraries, prints results, and maps
//! outcomes to exit codes (`exit.rs`). It holds no logic of its own: one module per command
//! group, each a thin front-end over `schemas`, `ledger`, `query`, `replay` and `web` (the
//! server, which uses the others the same way). No durability primitive (fsync, rename, checksums) lives here: files are
//! written through `ledger`.

mod args;
mod decide;
mod demo;
mod docs;
mod exit;
mod hook;
mod keys;
mod ledger_cmd;
mod query_cmd;
mod remote;
mod replay_cmd;
mod serve;
mod show;
mod verify_cmd;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser as _;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if std::env::args().nth(1).as_deref() == Some("hook") && err.use_stderr() => {
            // A misconfigured `govtrail hook` still runs the hook after `--`.
            let args: Vec<String> = std::env::args().collect();
            return match hook::passthrough(&args, &err.to_string()) {
                Some(code) => ExitCode::from(code),
                None => {
                    let _ = err.print();
                    ExitCode::from(exit::ERROR)
                }
            };
        }
        Err(err) => {
            let code = if err.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if exit::is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("govtrail: error: {}", exit::message(&err));
            if let Some(hint) = exit::hint(&err) {
                eprintln!("govtrail: hint: {hint}");
            }
            ExitCode::from(exit::of_error(&err))
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Keygen(a) => keys::keygen(a),
        Command::Init(a) => ledger_cmd::init(a),
        Command::Append(a) => ledger_cmd::append(a),
        Command::Ingest(a) => ledger_cmd::ingest(a),
        Command::Seal(a) => ledger_cmd::seal(a),
        Command::RotateKey(a) => ledger_cmd::rotate_key(a),
        Command::Hook(a) => Ok(hook::run(
            &a.spool,
            a.engine.as_deref(),
            a.service.as_deref(),
            a.server.as_deref().map(|s| remote::Target {
                url: s,
                timeout: std::time::Duration::from_millis(a.server_timeout_ms),
                ca: a.server_ca.as_deref(),
            }),
            &a.command,
        )),
        Command::Verify(a) => verify_cmd::verify(a),
        Command::Checkpoint(a) => verify_cmd::checkpoint(a),
        Command::Inspect(a) => verify_cmd::inspect(a),
        Command::Prove(a) => verify_cmd::prove(a),
        Command::VerifyProof(a) => verify_cmd::verify_proof(a),
        Command::Witness(a) => verify_cmd::witness(a),
        Command::ExportEvidence(a) => verify_cmd::export_evidence(a),
        Command::Query(a) => query_cmd::query(a),
        Command::Report(r) => query_cmd::report(r),
        Command::Bundle(b) => replay_cmd::bundle(b),
        Command::Replay(a) => replay_cmd::run(a),
        Command::Decide(a) => decide::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve::serve(a),
        Command::Token(c) => serve::token(c),
        Command::Show(a) => show::show(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    }
}
