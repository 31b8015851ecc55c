//! `govtrail completions` and `govtrail man`: shell completions and man pages generated from the
//! clap definitions, so they name every command and flag the binary has.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::exit;

/// The version line and the formats this build reads and writes (`govtrail --version`),
/// made once per process (clap keeps a `&'static str`).
pub(crate) fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| format!(
        "{}\nledger format {} (docs/LEDGER-FORMAT.md), records v{} (docs/RECORD.md), hook envelopes v{}, \
         C2SP signed-note checkpoints, tlog-proof and tlog-tiles",
        env!("CARGO_PKG_VERSION"),
        ledger::FORMAT_VERSION,
        schemas::RECORD_VERSION,
        schemas::HOOK_ENVELOPE_VERSION,
    ))
}

/// Prints the completion script for a shell.
pub(crate) fn completions(a: CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "govtrail", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(exit::OK)
}

/// Prints the main man page, or writes every page into a directory.
pub(crate) fn man(a: ManArgs) -> Result<u8> {
    let cmd = Cli::command();
    match a.out {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::stdout().lock().write_all(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("write the man pages into {}", dir.display()))?;
        }
    }
    Ok(exit::OK)
}
