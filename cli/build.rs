//! Link flags for the `govtrail` binary.
//!
//! `govtrail decide` runs once per tool call, so its start is on every call's critical path.
//! The binary is large (DataFusion, Parquet, regorus), and as a position-independent executable
//! the loader must relocate ~228,000 pointers at each start: every page of `.data.rel.ro` is
//! copied on write, ~1,000 page faults and ~1.7 ms, half of what a call to a resident evaluator
//! costs in all (docs/BENCHMARKS.md, "Replay and decide"). Packed relative relocations (DT_RELR)
//! shrink the table but not the page copies, so on Linux the binary is linked at a fixed
//! address instead. Shared libraries, the stack, the heap and mmap regions stay randomised; only
//! the executable's own image does not. Build with `GOVTRAIL_PIE=1` for a PIE binary.
fn main() {
    println!("cargo:rerun-if-env-changed=GOVTRAIL_PIE");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") && std::env::var_os("GOVTRAIL_PIE").is_none() {
        println!("cargo:rustc-link-arg-bin=govtrail=-no-pie");
    }
}
