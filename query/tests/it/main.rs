//! Integration tests of the query crate on real ledgers: SQL and report goldens
//! (`tests/cases/*.sql` → `*.out`, `tests/golden/*`; regenerate with `UPDATE_EXPECT=1`), the
//! published Tractatus figures reproduced from records shaped like theirs, a query seeing an
//! acknowledged record before any seal, bad input, and plots.

mod data;
mod golden;
mod metrics;
mod plots;
mod reads;
