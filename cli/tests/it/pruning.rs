//! Queries prune only on bytes the seal note vouches for (LEDGER-FORMAT.md §14): an edit of a
//! segment's statistics, page index or bloom filter, which leaves every record and typed value
//! intact (both verifiers say ok), must not make a session lookup or an RCA miss its rows.

use std::fs;
use std::path::Path;

use crate::{run, setup, text};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 300 decisions in one sealed segment (one row group): sessions
/// `sess-000A`, `sess-000B` (10 decisions, all in the middle) and `sess-000C`.
fn ledger(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (ledger, key, vkey) = setup(tmp, 300);
    let body: String = (0..300u64)
        .map(|i| {
            let session = match i {
                0..=144 => "sess-000A",
                145..=154 => "sess-000B",
                _ => "sess-000C",
            };
            format!(
                r#"{{"decision_id":"p-{i}","ts_us":{},"decision":"{}","session_id":"{session}","tool_name":"Bash","overhead_us":{}}}"#,
                1_760_000_000_000_000u64 + i * 1000,
                if i % 7 == 0 { "deny" } else { "allow" },
                1000 + i
            ) + "\n"
        })
        .collect();
    let input = tmp.join("in.ndjson");
    fs::write(&input, body).unwrap();
    let o = run(&["append", s(&ledger), "--key", s(&key), s(&input)]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(govtrail_tests::segments(&ledger).len(), 1);
    (ledger, vkey)
}

fn count_b(ledger: &Path, key: Option<&Path>) -> (String, String) {
    let mut args = vec![
        "query",
        s(ledger),
        "SELECT count(*) AS n FROM decisions WHERE session_id = 'sess-000B'",
        "--format",
        "json",
    ];
    if let Some(k) = key {
        args.extend(["--pubkey", s(k)]);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        v[0]["n"].to_string(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn edited_skip_structures_do_not_hide_rows_from_a_checked_query() {
    type Edit = (&'static str, fn(&Path), &'static str);
    let edits: &[Edit] = &[
        (
            "row-group statistics",
            |seg| {
                let (footer, _, _) = govtrail_tests::skip_regions(seg);
                let hits = govtrail_tests::replace_in(seg, &[footer], b"sess-000A", b"sess-000C");
                assert!(hits > 0);
            },
            "footer",
        ),
        (
            "page index",
            |seg| {
                let (_, pages, _) = govtrail_tests::skip_regions(seg);
                let hits = govtrail_tests::replace_in(seg, &pages, b"sess-000A", b"sess-000C");
                assert!(hits > 0);
            },
            "page index",
        ),
        (
            "bloom filter",
            |seg| {
                let (_, _, blooms) = govtrail_tests::skip_regions(seg);
                assert!(!blooms.is_empty());
                let mut bytes = fs::read(seg).unwrap();
                for r in &blooms {
                    // Keep each filter's header (its first 32 bytes hold the Thrift header
                    // and more), clear its bits: every value reads as absent.
                    for b in &mut bytes[r.start as usize + 32..r.end as usize] {
                        *b = 0;
                    }
                }
                fs::write(seg, bytes).unwrap();
            },
            "blooms",
        ),
    ];
    let mut failures = Vec::new();
    for (name, edit, reason) in edits {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, vkey) = ledger(tmp.path());
        assert_eq!(count_b(&ledger, Some(&vkey)).0, "10");
        let seg = govtrail_tests::segments(&ledger).pop().unwrap();
        edit(&seg);
        // The records and typed values are intact: both verifiers say ok, and name the
        // segment queries must read in full.
        let (code, v) = crate::verify_json(&ledger, &vkey);
        let (_, p) = crate::python_verify(&ledger, &vkey);
        if code != 0 || v["unvouched"][0]["reason"] != *reason {
            failures.push(format!("{name}: verify said {code} {v}"));
        }
        if p["status"] != "ok" || p["unvouched"] != v["unvouched"] {
            failures.push(format!("{name}: python said {p}, rust {}", v["unvouched"]));
        }
        // Without a key the query prunes on the edit and says it rested on unverified
        // metadata; with the key it reads the segment in full and answers right.
        let (n, note) = count_b(&ledger, None);
        if !note.contains("unverified metadata") {
            failures.push(format!("{name}: no note without a key: {note}"));
        }
        if n == "10" {
            failures.push(format!("{name}: the edit did not fool an unchecked query"));
        }
        let (n, note) = count_b(&ledger, Some(&vkey));
        if n != "10" || !note.contains(reason) {
            failures.push(format!("{name}: checked query gave {n} ({note})"));
        }
        let o = run(&[
            "report",
            "rca",
            s(&ledger),
            "--session",
            "sess-000B",
            "--json",
            "--pubkey",
            s(&vkey),
        ]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if !o.status.success() || r["timeline"].as_array().map(Vec::len) != Some(10) {
            failures.push(format!("{name}: rca said {}", text(&o)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
