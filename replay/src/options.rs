//! What to replay and how: the [`Options`] of a replay, and the [`Incident`]s it judges.

/// The most worker threads a replay uses.
pub const MAX_THREADS: usize = 256;

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only this session's records.
    pub session: Option<String>,
    /// Only records at or after this time (µs since the epoch).
    pub since_us: Option<i64>,
    /// Only records before this time (µs since the epoch).
    pub until_us: Option<i64>,
    /// Worker threads (the report does not depend on it), 1 to [`MAX_THREADS`]: more are
    /// clamped (each holds an engine and a queue slot; the CLI refuses more).
    pub threads: usize,
    /// Sample decision ids kept per flip.
    pub samples: usize,
    /// Incidents to judge: would the bundle have stopped each, and at what cost.
    pub incidents: Vec<Incident>,
    /// Told how far the ledger has been read (one past the last index handed to the
    /// evaluators), run by run: for a progress bar.
    pub progress: Option<Progress>,
}

/// A progress callback ([`Options::progress`]).
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            session: None,
            since_us: None,
            until_us: None,
            threads: 1,
            samples: 5,
            incidents: Vec::new(),
            progress: None,
        }
    }
}

/// Something that went wrong in a governed session (an incidents file, as `report roi`
/// reads): the one incident type, judged at its `ts_us` (without one, at the end of the
/// session).
pub use schemas::Incident;
