//! House rules that review alone would not keep: module docs, crate boundaries, no parking.

use std::path::{Path, PathBuf};

use govtrail_tests::repo_root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if !p.ends_with("target") && !p.ends_with(".venv") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment_and_nothing_is_parked() {
    let mut files = Vec::new();
    for krate in [
        "schemas", "ledger", "query", "replay", "web", "cli", "tests", "benches",
    ] {
        if !repo_root().join(krate).exists() {
            continue;
        }
        rust_files(&repo_root().join(krate), &mut files);
    }
    assert!(files.len() > 20);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if !text.starts_with("//!") {
            bad.push(format!("{}: no //! module doc", f.display()));
        }
        for rule in ["#[should_panic", "#[ignore", "todo!(", "dbg!("] {
            if text.contains(rule) && !f.ends_with("tidy.rs") {
                bad.push(format!("{}: contains {rule}", f.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The layers, lowest first (ARCHITECTURE.md): a crate may depend only on crates before it.
const LAYERS: [&str; 6] = ["schemas", "ledger", "query", "replay", "web", "cli"];

/// The `[dependencies]` table of a crate's manifest (not dev- or build-dependencies).
fn dependencies(krate: &str) -> String {
    let manifest = std::fs::read_to_string(repo_root().join(krate).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("\n[dependencies]")
        .nth(1)
        .unwrap_or_default();
    deps.split("\n[").next().unwrap_or_default().to_owned()
}

/// Whether a `[dependencies]` table names `dep` (`dep.workspace`, `dep = …` or the package
/// name `govtrail-dep`).
fn names(deps: &str, dep: &str) -> bool {
    deps.lines().any(|l| {
        l.starts_with(&format!("{dep} "))
            || l.starts_with(&format!("{dep}."))
            || l.starts_with(&format!("{dep}="))
            || l.contains(&format!("\"govtrail-{dep}\""))
    })
}

#[test]
fn nothing_reaches_up_the_layers() {
    let mut bad = Vec::new();
    for (rank, krate) in LAYERS.iter().enumerate() {
        if !repo_root().join(krate).join("Cargo.toml").exists() {
            continue;
        }
        let deps = dependencies(krate);
        for above in &LAYERS[rank..] {
            if names(&deps, above) {
                bad.push(format!("{krate} depends on {above}, which is not below it"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_cli_holds_no_durability_primitive_and_stays_thin() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("cli/src"), &mut files);
    assert!(files.len() > 5);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Files are written through the ledger crate, which owns fsync, rename and checksums.
        for primitive in [
            "sync_all",
            "sync_data",
            "fsync",
            "fdatasync",
            "rename(",
            "crc32",
            "set_len(",
        ] {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if code.contains(primitive) {
                    bad.push(format!("{}:{}: {primitive}", f.display(), n + 1));
                }
            }
        }
        let lines = text.lines().count();
        let limit = if f.ends_with("main.rs") { 250 } else { 500 };
        if lines > limit {
            bad.push(format!("{}: {lines} lines (limit {limit})", f.display()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn no_library_builds_a_runtime_or_blocks_on_one() {
    // A server awaits the libraries inside its own runtime: one built or blocked on inside a
    // library panics there ("Cannot start a runtime from within a runtime").
    let mut files = Vec::new();
    for krate in &LAYERS[..4] {
        rust_files(&repo_root().join(krate).join("src"), &mut files);
    }
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for call in [
                "block_on(",
                "Runtime::new(",
                "Builder::new_multi_thread(",
                "Builder::new_current_thread(",
                "executor::block_on",
            ] {
                if code.contains(call) {
                    bad.push(format!("{}:{}: {call}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn no_library_source_file_is_over_800_lines() {
    let mut files = Vec::new();
    for krate in &LAYERS[..5] {
        let src = repo_root().join(krate).join("src");
        if src.exists() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 20);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 800).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these along their seams:\n{}",
        long.join("\n")
    );
}

#[test]
fn crates_depend_only_downwards() {
    // (crate, dependencies it must not have): DESIGN.md §2 and ARCHITECTURE.md.
    let rules: &[(&str, &[&str])] = &[
        (
            "schemas",
            &[
                "govtrail-ledger",
                "tokio",
                "parquet",
                "blake3",
                "datafusion",
            ],
        ),
        (
            "ledger",
            &[
                "govtrail-cli",
                "govtrail-query",
                "datafusion",
                "tokio",
                "clap",
            ],
        ),
        // query reads through the ledger's API and leaves files and the terminal to the cli.
        ("query", &["govtrail-cli", "clap", "indicatif"]),
        // replay is a pure function of (recorded input, bundle): no terminal, no runtime.
        ("replay", &["clap", "indicatif", "tokio", "datafusion"]),
    ];
    for (krate, banned) in rules {
        let manifest = std::fs::read_to_string(repo_root().join(krate).join("Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or_default();
        let deps = deps.split("\n[").next().unwrap_or_default();
        for b in *banned {
            let short = b.trim_start_matches("govtrail-");
            assert!(
                !deps.lines().any(|l| l.starts_with(&format!("{short} "))
                    || l.starts_with(&format!("{short}."))
                    || l.contains(&format!("\"{b}\""))),
                "{krate} must not depend on {b}"
            );
        }
    }
}
