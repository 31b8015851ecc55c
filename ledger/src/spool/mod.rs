//! The spool: where hook calls are recorded, durably and by many writers at once, before a
//! drain appends them to the ledger (docs/RECORD.md §5).
//!
//! A ledger has one writer, but Claude Code runs hooks concurrently, so a call never touches
//! the ledger: it writes its [`HookEnvelope`] into the spool, and [`drain()`] (run by the one
//! writer: `govtrail ingest --spool`, or a server) appends what the spool holds.
//!
//! ```text
//! SPOOL/
//!   <id>.hook.json             one call (`govtrail hook`, `govtrail decide`): one envelope line
//!   <µs>-<pid>-<n>.hooklog     a resident evaluator's hook log: framed envelopes (hooklog.rs)
//!   .<log>.drained             how far a drain has taken a log still held by its server
//!   .tmp-*                     being written; never read
//!   rejected/                  what a drain could not append, each with <name>.reason beside it:
//!     <id>.hook.json             a call file whose unit was rejected
//!     <log>@<offset>.rejected.ndjson  a log's rejected frames (the others are in the ledger)
//!     <log>.hooklog              a log no server holds that ends in a torn frame
//! ```
//!
//! Invariants:
//! - A file a drain lists is whole: calls are written under a dot-name, fsynced, renamed and
//!   the directory fsynced ([`write_call`]); logs are locked before they are renamed into view.
//! - Nothing is removed from the spool before the ledger has acknowledged (fsynced) every
//!   record it yields; a unit that could not be appended moves to `rejected/`, never away.
//! - Nothing in `rejected/` is discarded: `read` with `Retry::AlsoRejected` takes its call
//!   files and rejected frames again (after an upgrade taught the normaliser to read them).
//! - A drain is at-least-once: a crash between the ledger's fsync and a file's removal drains
//!   it again, under the same decision ids (`hook:<id>`).
//! - Files are 0600, or 0640 when the spool directory grants its group read and search (a
//!   spool shared with the group a draining server runs as); directories made here are 0700.

mod drain;
mod hooklog;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use schemas::HookEnvelope;

use crate::Result;
use crate::error::IoContext as _;

pub use drain::{
    DrainReport, IngestReport, InputReport, Rejection, Retry, Source, SpoolRead, TornLog,
    append_sources, drain, read,
};
pub use hooklog::{HOOK_LOG_SUFFIX, HookLog};

/// A call's own file in the spool ends so.
pub const CALL_SUFFIX: &str = ".hook.json";

/// Creates the spool directory (and missing parents), mode 0700, unless it exists (an
/// existing one keeps its mode).
pub fn create(spool: &Path) -> Result<()> {
    crate::layout::create_private_dir_all(spool).ctx("create", spool)
}

/// The mode of a new file in `spool`: 0600, or 0640 when the directory grants its group read
/// and search (`install -d -m 2770 -g GROUP SPOOL`, docs/RECORD.md §5). Records hold full tool
/// inputs: nobody else ever reads them.
pub(crate) fn file_mode(spool: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    let shared = std::fs::metadata(spool).is_ok_and(|m| m.permissions().mode() & 0o050 == 0o050);
    if shared { 0o640 } else { crate::FILE_MODE }
}

/// Records one call as `<spool>/<id>.hook.json`, durably (temporary name, fsync, rename,
/// directory fsync), so that a drain only ever sees it whole. Returns its path.
pub fn write_call(spool: &Path, envelope: &HookEnvelope) -> Result<PathBuf> {
    create(spool)?;
    let mut line = envelope.to_line();
    line.push(b'\n');
    let path = spool.join(format!("{}{CALL_SUFFIX}", envelope.id));
    crate::layout::write_atomic_mode(&path, &line, file_mode(spool))?;
    Ok(path)
}

/// The spool's files named `*<suffix>` (not dot-files, which are being written), oldest first:
/// [`CALL_SUFFIX`] for the calls' own files, [`HOOK_LOG_SUFFIX`] for the servers' logs.
pub fn files(spool: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(spool).ctx("list", spool)? {
        let e = e.ctx("list", spool)?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(suffix)
            && !name.starts_with('.')
            && e.file_type().ctx("stat", &e.path())?.is_file()
        {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Where a drain keeps what it could not append, with the reason beside each file.
const REJECTED: &str = "rejected";

/// Moves `path` into `spool/rejected/` (made if missing), durably.
fn reject(spool: &Path, path: &Path) -> Result<()> {
    let dest = spool.join(REJECTED);
    create(&dest)?;
    let name = path.file_name().unwrap_or_default();
    std::fs::rename(path, dest.join(name)).ctx("move", path)?;
    crate::layout::sync_dir(&dest)
}

/// Now, in µs since the Unix epoch (0 before it, saturating far after).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A new call id, `<started µs>-<pid>-<64 random bits>`: unique across processes and calls,
/// and sorting by start time.
pub fn call_id(started_us: i64) -> String {
    format!("{started_us}-{}-{:016x}", std::process::id(), nonce())
}

/// 64 random bits from the standard library's per-process random hasher keys.
fn nonce() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
