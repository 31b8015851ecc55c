//! Cross-crate end-to-end tests: format vectors, the tamper suite (Rust and the independent
//! Python verifier side by side), and reading segments with other engines.

mod interop;
mod tamper;
mod vectors;
