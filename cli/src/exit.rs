//! Exit codes, mapped in one place: from a verification's [`ledger::Verdict`], and from an
//! error that ends a command.

use std::io;

/// Every command exits 0 when it did what was asked.
pub(crate) const OK: u8 = 0;
/// Something a trusted signature covers was altered.
pub(crate) const TAMPERED: u8 = 1;
/// Fewer records than trusted, or a fork.
pub(crate) const TRUNCATED_OR_FORKED: u8 = 2;
/// Records after the newest trusted checkpoint.
pub(crate) const UNVERIFIED_TAIL: u8 = 3;
/// A usage, input or I/O error.
pub(crate) const ERROR: u8 = 4;
/// Ingest kept the good units but rejected some.
pub(crate) const PARTIAL: u8 = 5;
/// Replay found a flip `--fail-on` forbids, or a bundle test failed.
pub(crate) const FLIPPED: u8 = 6;
/// No checkpoint is signed by a key the caller trusts: a wrong key, or checkpoints removed
/// or re-signed. Never `ok`, never `tampered`.
pub(crate) const UNVERIFIED: u8 = 7;

/// `govtrail decide` could not record a call and fails closed: Claude Code's exit code that
/// blocks the call (its stdout is then empty).
pub(crate) const BLOCK_CALL: u8 = 2;
/// `govtrail hook` could not start the wrapped command: a shell's code for that.
pub(crate) const CANNOT_RUN: u8 = 127;
/// A command stopped by SIGINT or SIGTERM after committing what it had read: a shell's code
/// for SIGINT.
pub(crate) const INTERRUPTED: u8 = 130;

/// The exit code that relays a wrapped hook's end as a shell gives it: its own code, or 128 +
/// the signal that ended it (1 when there is neither).
pub(crate) fn relayed(code: Option<i32>, signal: Option<i32>) -> u8 {
    match (code, signal) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(1),
        (None, None) => 1,
    }
}

/// The exit codes, for `--help`.
pub(crate) const HELP: &str = "Exit codes: 0 ok; 1 tampered; 2 truncated or forked; 3 unverified tail; \
4 usage, input or I/O error; 5 ingest kept the good units but rejected some; 6 replay found a flip \
--fail-on forbids, or a bundle test failed; 7 unverified: no checkpoint is signed by a trusted key; 130 append interrupted (SIGINT or SIGTERM) after committing what it had read.";

/// The exit code of a verification verdict (LEDGER-FORMAT.md §7).
pub(crate) fn of_verdict(verdict: ledger::Verdict) -> u8 {
    match verdict {
        ledger::Verdict::Ok => OK,
        ledger::Verdict::Tampered => TAMPERED,
        ledger::Verdict::TruncatedOrForked => TRUNCATED_OR_FORKED,
        ledger::Verdict::UnverifiedTail => UNVERIFIED_TAIL,
        ledger::Verdict::Unverified => UNVERIFIED,
    }
}

/// The exit code of an error that ended a command. A witness's refusal of a log that was cut
/// short or forked is a finding, not a usage error: it exits like `verify` does for one.
pub(crate) fn of_error(err: &anyhow::Error) -> u8 {
    let refused = err.chain().any(|e| {
        matches!(
            e.downcast_ref::<ledger::Error>(),
            Some(ledger::Error::Inconsistent { .. })
        )
    });
    if refused { TRUNCATED_OR_FORKED } else { ERROR }
}

/// The flag that helps with an error, where one does: libraries say what and where and never
/// name a flag; the CLI adds them.
pub(crate) fn hint(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|e| {
        if let Some(e) = e.downcast_ref::<ledger::Error>() {
            return match e {
                ledger::Error::NotAnEvidencePack { .. } => Some("verify it without --evidence"),
                ledger::Error::AnchorsWithEvidencePack => {
                    Some("check the pack's checkpoint with `govtrail verify-proof --anchor`")
                }
                ledger::Error::NotAWitnessKey { .. } => {
                    Some("make one with `govtrail keygen --witness`")
                }
                _ => None,
            };
        }
        match e.downcast_ref::<query::Error>() {
            Some(query::Error::DamagedSummary { .. }) => {
                Some("run `govtrail verify`, or --exact to scan the records instead")
            }
            Some(query::Error::NoRuleSet { .. }) => Some(
                "list rule sets with: govtrail query LEDGER \"SELECT rule_set, count(*) FROM decisions GROUP BY 1\"",
            ),
            Some(query::Error::NoSession { .. }) => Some(
                "list sessions with: govtrail query LEDGER \"SELECT session_id, decisions FROM sessions\"",
            ),
            _ => None,
        }
    })
}

/// An error's message with its causes, each said once: a cause whose text the message before
/// it already ends with (an I/O error a library error quotes) is not repeated.
pub(crate) fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// Whether the error is a closed standard output (`govtrail query … | head`): not a failure.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
