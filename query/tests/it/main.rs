//! Integration tests of the query crate on real ledgers: SQL and report goldens
//! (`tests/cases/*.sql` → `*.out`, `tests/golden/*`; regenerate with `UPDATE_EXPECT=1`), the
//! published Tractatus figures reproduced from records shaped like theirs, a query seeing an
//! acknowledged record before any seal, bad input, and plots.

mod data;
mod golden;
mod metrics;
mod plots;
mod reads;

/// Runs the query crate's async API to completion on one shared runtime (the crate builds
/// none), as the CLI does.
pub(crate) trait Block: Future + Sized {
    fn block(self) -> Self::Output {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap()
            })
            .block_on(self)
    }
}

impl<F: Future> Block for F {}
