//! Cross-crate end-to-end tests: format vectors, the tamper suite (Rust and the independent
//! Python verifier side by side), and reading segments with other engines.

mod claude_code_events;
mod effective;
mod format_v1;
mod fuzz;
mod ingest;
mod interop;
mod operator_day;
mod otel_sdk;
mod proofs;
mod tamper;
mod tidy;
mod vectors;
mod witness;
