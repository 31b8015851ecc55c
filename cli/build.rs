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
///
/// A static build (`-C target-feature=+crt-static`) gets no flag here: with
/// `-C relocation-model=static` rustc links it at a fixed address itself, and a `-no-pie` on
/// top of the default static-pie gave a binary the loader crashed on.
fn main() {
    println!("cargo:rerun-if-env-changed=GOVTRAIL_PIE");
    let target = std::env::var("TARGET").unwrap_or_default();
    let crt_static = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|f| f.split(',').any(|x| x == "crt-static"));
    if target.contains("linux") && !crt_static && std::env::var_os("GOVTRAIL_PIE").is_none() {
        println!("cargo:rustc-link-arg-bin=govtrail=-no-pie");
    }
}
