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
    for krate in ["schemas", "ledger", "query", "cli", "tests", "benches"] {
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
