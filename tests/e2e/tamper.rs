//! The tamper suite: one table of named mutations and the verdict each must get, from the Rust
//! verifier and from the independent Python verifier alike.

use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::Array as _;
use arrow_array::cast::AsArray as _;
use govtrail_tests::*;
use ledger::hash::{CHAIN_GENESIS, hash_record};
use ledger::{Checkpoint, NoteSigner, NoteVerifier};

/// 35 records: segments [0,10) [10,20) [20,30) and the WAL with [30,35), a commit per record.
fn fresh() -> (tempfile::TempDir, NoteVerifier, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let vkey = build_ledger(&dir, 35, 10, 1);
    let anchor = tmp.path().join("anchor-35.note");
    fs::write(
        &anchor,
        ledger::inspect(&dir).unwrap().latest.unwrap().bytes,
    )
    .unwrap();
    (tmp, vkey, anchor)
}

fn seg(dir: &Path, i: usize) -> PathBuf {
    segments(dir)[i].clone()
}

/// Re-signs every checkpoint (files and WAL frames) with `key`.
fn resign_all(dir: &Path, key: &NoteSigner) {
    for e in fs::read_dir(dir.join("checkpoints")).unwrap() {
        let p = e.unwrap().path();
        let cp = ledger::read_checkpoint_file(&p).unwrap();
        fs::write(&p, cp.checkpoint.sign(key).bytes).unwrap();
    }
    let wal = wal_path(dir);
    let (head, frames) = read_wal(&wal);
    let frames: Vec<WalFrame> = frames
        .into_iter()
        .map(|(k, body)| {
            if k == 2 {
                let cp = ledger::SignedCheckpoint::parse(&body).unwrap();
                (k, cp.checkpoint.sign(key).bytes.into_bytes())
            } else {
                (k, body)
            }
        })
        .collect();
    write_wal(&wal, &head, &frames);
}

/// Edits record 4's nested field in segment 0 and recomputes every record hash and chain value
/// in every segment, as an attacker without the key would.
fn rewrite_nested_with_hashes(dir: &Path) {
    replace_column(&seg(dir, 0), "record", |c| {
        edit_binary(c, 4, |r| {
            let s = String::from_utf8(r.clone())
                .unwrap()
                .replace("deep-4", "DEEP-4");
            *r = s.into_bytes();
        })
    });
    rehash_all(dir);
}

/// Recomputes every record hash and chain value in every segment from the records as they
/// stand, as an attacker without the key would.
fn rehash_all(dir: &Path) {
    let mut chain = CHAIN_GENESIS;
    let mut idx = 0u64;
    for path in segments(dir) {
        let (batch, _) = read_segment(&path);
        let records = batch.column_by_name("record").unwrap().as_binary::<i32>();
        let ts = batch
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        let (mut rh, mut ch) = (Vec::new(), Vec::new());
        for i in 0..records.len() {
            let h = hash_record(&chain, idx, ts.value(i), records.value(i));
            chain = h.chain;
            idx += 1;
            rh.push(h.record_hash);
            ch.push(h.chain);
        }
        replace_column(&path, "record_hash", |_| hash_column(&rh));
        replace_column(&path, "chain", |_| hash_column(&ch));
    }
}

type Case = (
    &'static str,
    fn(&Path),
    bool,
    (&'static str, Option<&'static str>, Option<u64>),
);

const CASES: &[Case] = &[
    ("untouched", |_| {}, false, ("ok", None, None)),
    ("untouched, with anchor", |_| {}, true, ("ok", None, None)),
    (
        "flip one byte of a record",
        |d| {
            replace_column(&seg(d, 1), "record", |c| edit_binary(c, 3, |r| r[20] ^= 1));
        },
        false,
        ("tampered", Some("record-altered"), Some(13)),
    ),
    (
        "edit a typed column only (decision)",
        |d| {
            replace_column(&seg(d, 1), "decision", |c| edit_string(c, 3, "allow"));
        },
        false,
        ("tampered", Some("column-altered"), Some(13)),
    ),
    (
        "edit the record_hash column only",
        |d| {
            replace_column(&seg(d, 2), "record_hash", |c| {
                let a = c.as_fixed_size_binary();
                let mut v: Vec<[u8; 32]> =
                    a.iter().map(|x| x.unwrap().try_into().unwrap()).collect();
                v[6][0] ^= 0x80;
                hash_column(&v)
            });
        },
        false,
        ("tampered", Some("record-altered"), Some(26)),
    ),
    (
        "delete a row",
        |d| reorder_rows(&seg(d, 1), &[0, 1, 2, 3, 4, 6, 7, 8, 9]),
        false,
        ("tampered", Some("sequence"), Some(15)),
    ),
    (
        "swap two rows",
        |d| reorder_rows(&seg(d, 1), &[0, 1, 2, 3, 4, 5, 7, 6, 8, 9]),
        false,
        ("tampered", Some("sequence"), Some(16)),
    ),
    (
        "duplicate a row",
        |d| reorder_rows(&seg(d, 1), &[0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]),
        false,
        ("tampered", Some("sequence"), Some(13)),
    ),
    (
        "insert a forged row",
        |d| {
            // A copy of row 8 with its index and record edited, placed before it.
            let path = seg(d, 1);
            reorder_rows(&path, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9]);
            replace_column(&path, "record", |c| {
                edit_binary(c, 8, |r| {
                    let s = String::from_utf8(r.clone())
                        .unwrap()
                        .replace("\"d-18\"", "\"d-forged\"");
                    *r = s.into_bytes();
                })
            });
        },
        false,
        ("tampered", Some("record-altered"), Some(18)),
    ),
    (
        "drop a whole segment",
        |d| fs::remove_file(seg(d, 1)).unwrap(),
        false,
        ("tampered", Some("sequence"), Some(10)),
    ),
    (
        "truncate the tail (no anchor: horizon reported honestly)",
        |d| {
            fs::remove_file(seg(d, 2)).unwrap();
            fs::remove_file(d.join("checkpoints/00000000000000000030.note")).unwrap();
            fs::remove_file(wal_path(d)).unwrap();
        },
        false,
        ("ok", None, None),
    ),
    (
        "truncate the tail (anchor given)",
        |d| {
            fs::remove_file(seg(d, 2)).unwrap();
            fs::remove_file(d.join("checkpoints/00000000000000000030.note")).unwrap();
            fs::remove_file(wal_path(d)).unwrap();
        },
        true,
        ("truncated-or-forked", Some("truncated"), Some(20)),
    ),
    (
        "delete the newest records with their checkpoints (anchor given)",
        |d| {
            let wal = wal_path(d);
            let (head, frames) = read_wal(&wal);
            write_wal(&wal, &head, &frames[..frames.len() - 4]);
        },
        true,
        ("truncated-or-forked", Some("truncated"), Some(33)),
    ),
    (
        "delete rows after a kept checkpoint",
        |d| reorder_rows(&seg(d, 2), &[0, 1, 2, 3, 4, 5, 6]),
        false,
        ("tampered", Some("sequence"), Some(27)),
    ),
    (
        "re-sign everything with a different key",
        |d| {
            resign_all(d, &NoteSigner::from_seed(ORIGIN, [9; 32]));
        },
        false,
        ("unverified", Some("untrusted"), Some(0)),
    ),
    (
        "keyless rewrite with every signature stripped",
        |d| {
            rewrite_nested_with_hashes(d);
            for e in fs::read_dir(d.join("checkpoints")).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
            let wal = wal_path(d);
            let (head, frames) = read_wal(&wal);
            let kept: Vec<WalFrame> = frames.into_iter().filter(|(k, _)| *k == 1).collect();
            write_wal(&wal, &head, &kept);
        },
        false,
        ("unverified", Some("untrusted"), Some(0)),
    ),
    (
        "edit a deeply nested field and recompute every hash",
        rewrite_nested_with_hashes,
        false,
        ("tampered", Some("root-mismatch"), Some(0)),
    ),
    (
        "edit a deeply nested field only",
        |d| {
            replace_column(&seg(d, 0), "record", |c| {
                edit_binary(c, 4, |r| {
                    let s = String::from_utf8(r.clone())
                        .unwrap()
                        .replace("deep-4", "DEEP-4");
                    *r = s.into_bytes();
                })
            });
        },
        false,
        ("tampered", Some("record-altered"), Some(4)),
    ),
    (
        "forked history: a second checkpoint of the same size",
        |d| {
            let fork = Checkpoint {
                origin: ORIGIN.into(),
                size: 20,
                root: [7; 32],
            }
            .sign(&signer());
            fs::write(d.join("checkpoints/00000000000000000020.note.fork"), "").unwrap();
            let cp = d.join("wal/fork");
            let _ = cp;
            let wal = wal_path(d);
            let (head, mut frames) = read_wal(&wal);
            frames.push((2, fork.bytes.into_bytes()));
            write_wal(&wal, &head, &frames);
        },
        false,
        ("truncated-or-forked", Some("forked"), None),
    ),
    (
        "strip the WAL's checkpoints (unverified tail)",
        |d| {
            let wal = wal_path(d);
            let (head, frames) = read_wal(&wal);
            let kept: Vec<WalFrame> = frames.into_iter().filter(|(k, _)| *k == 1).collect();
            write_wal(&wal, &head, &kept);
            // A commit whose checkpoint is lost is in flight: records stay unread, horizon 30.
        },
        false,
        ("ok", None, None),
    ),
    (
        "checkpoint claims more records than exist",
        |d| {
            let cp = Checkpoint {
                origin: ORIGIN.into(),
                size: 40,
                root: [1; 32],
            }
            .sign(&signer());
            fs::write(d.join("checkpoints/00000000000000000040.note"), cp.bytes).unwrap();
        },
        false,
        ("truncated-or-forked", Some("truncated"), Some(35)),
    ),
    (
        "segment footer names another origin",
        |d| {
            let path = seg(d, 0);
            let (batch, mut kv) = read_segment(&path);
            for (k, v) in &mut kv {
                if k == "govtrail.origin" {
                    *v = "evil.example/ledger".into();
                }
            }
            write_segment(&path, &batch, &kv);
        },
        false,
        ("tampered", Some("origin-mismatch"), Some(0)),
    ),
    (
        "corrupt Parquet footer",
        |d| {
            let path = seg(d, 1);
            let mut bytes = fs::read(&path).unwrap();
            let n = bytes.len();
            bytes[n - 12] ^= 0xff;
            bytes[n - 20] ^= 0xff;
            fs::write(&path, bytes).unwrap();
        },
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "flip a bit of a trusted signature",
        |d| {
            let p = d.join("checkpoints/00000000000000000020.note");
            let text = fs::read_to_string(&p).unwrap();
            let (body, sig) = text.rsplit_once(' ').unwrap();
            let mut raw =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig.trim())
                    .unwrap();
            raw[10] ^= 1;
            let sig = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
            fs::write(&p, format!("{body} {sig}\n")).unwrap();
        },
        false,
        ("tampered", Some("bad-signature"), None),
    ),
    // LEDGER-FORMAT.md §4: re-encoding without changing values verifies.
    (
        "segment re-encoded by pyarrow (list child named element)",
        |d| {
            let o = std::process::Command::new(python())
                .args([
                    "-c",
                    // The footer's govtrail.* keys carried over (read_table keeps only the
                    // Arrow schema's metadata).
                    "import sys, pyarrow.parquet as pq\n\
                     f = sys.argv[1]\n\
                     kv = {k: v for k, v in pq.read_metadata(f).metadata.items() if k.startswith(b'govtrail.')}\n\
                     t = pq.read_table(f)\n\
                     pq.write_table(t.replace_schema_metadata({**(t.schema.metadata or {}), **kv}), f)",
                ])
                .arg(seg(d, 1))
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        },
        false,
        ("ok", None, None),
    ),
    // §4: each footer key at most once; a key missing, repeated or malformed is corrupt.
    (
        "footer key govtrail.start twice (the first one right)",
        |d| footer(d, 1, "govtrail.start", Some("10"), true),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "footer key govtrail.chain_end twice",
        |d| footer(d, 1, "govtrail.chain_end", Some(&"00".repeat(32)), true),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "footer start missing",
        |d| footer(d, 1, "govtrail.start", None, false),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "footer start with a sign",
        |d| footer(d, 1, "govtrail.start", Some("+10"), false),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "footer end with a leading zero",
        |d| footer(d, 1, "govtrail.end", Some("020"), false),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "footer range well formed but not the file name's",
        |d| footer(d, 1, "govtrail.end", Some("21"), false),
        false,
        ("tampered", Some("sequence"), Some(10)),
    ),
    (
        "footer origin missing",
        |d| footer(d, 1, "govtrail.origin", None, false),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    (
        "footer format missing",
        |d| footer(d, 1, "govtrail.format", None, false),
        false,
        ("tampered", Some("corrupt"), Some(10)),
    ),
    // §7 step 1: a checkpoint of another origin signed with the log key.
    (
        "a checkpoint of another origin signed with the log key",
        |d| {
            let cp = Checkpoint {
                origin: "other.example/ledger".into(),
                size: 5,
                root: [0; 32],
            }
            .sign(&signer());
            fs::write(d.join("checkpoints/00000000000000000005.note"), cp.bytes).unwrap();
        },
        false,
        ("tampered", Some("origin-mismatch"), None),
    ),
    // §2: stored records are RFC 8785; one that is not (hashes recomputed) is column-altered.
    (
        "a record made non-canonical (a space added), every hash recomputed",
        |d| {
            replace_column(&seg(d, 0), "record", |c| {
                edit_binary(c, 4, |r| {
                    let s = String::from_utf8(r.clone()).unwrap().replacen(',', ", ", 1);
                    *r = s.into_bytes();
                })
            });
            rehash_all(d);
        },
        false,
        ("tampered", Some("column-altered"), Some(4)),
    ),
    (
        "a record with its keys out of order, every hash recomputed",
        |d| {
            replace_column(&seg(d, 0), "record", |c| {
                edit_binary(c, 4, |r| {
                    let v: serde_json::Value = serde_json::from_slice(r).unwrap();
                    let m = v.as_object().unwrap();
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.reverse();
                    let body: Vec<String> = keys
                        .iter()
                        .map(|k| format!("{}:{}", serde_json::json!(k), m[*k]))
                        .collect();
                    *r = format!("{{{}}}", body.join(",")).into_bytes();
                })
            });
            rehash_all(d);
        },
        false,
        ("tampered", Some("column-altered"), Some(4)),
    ),
];

/// Sets (or with `None` removes) footer key `key` of segment `i`; `twice` adds it once more.
fn footer(d: &Path, i: usize, key: &str, value: Option<&str>, twice: bool) {
    let path = seg(d, i);
    let (batch, mut kv) = read_segment(&path);
    if twice {
        kv.push((key.to_owned(), value.unwrap_or_default().to_owned()));
    } else {
        kv.retain(|(k, _)| k != key);
        if let Some(v) = value {
            kv.push((key.to_owned(), v.to_owned()));
        }
    }
    write_segment(&path, &batch, &kv);
}

#[test]
fn tamper_matrix_rust_and_python_agree() {
    let mut failures = Vec::new();
    for (name, mutate, with_anchor, want) in CASES {
        let (tmp, vkey, anchor) = fresh();
        let dir = tmp.path().join("ledger");
        mutate(&dir);
        let anchors = if *with_anchor { vec![anchor] } else { vec![] };
        let keys = [vkey];
        let rust = rust_verdict(&dir, &keys, &anchors);
        let py = python_verdict(&dir, &keys, &anchors);
        let want = (want.0.to_owned(), want.1.map(str::to_owned), want.2);
        if (rust.0.clone(), rust.1.clone(), rust.2) != want {
            failures.push(format!("{name}: rust said {rust:?}, want {want:?}"));
        }
        if (py.0.clone(), py.1.clone(), py.2, py.3) != rust {
            failures.push(format!("{name}: python said {py:?}, rust said {rust:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_false_positives_on_untouched_ledgers() {
    for (n, seg_records, per_commit) in [
        (0, 5, 1),
        (1, 5, 1),
        (64, 8, 3),
        (1000, 300, 64),
        (257, 1000, 256),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let vkey = build_ledger(tmp.path(), n, seg_records, per_commit);
        let keys = [vkey];
        let rust = rust_verdict(tmp.path(), &keys, &[]);
        assert_eq!(rust, ("ok".into(), None, None, n), "n={n}");
        assert_eq!(python_verdict(tmp.path(), &keys, &[]), rust, "n={n}");
    }
}

/// Segment summaries (LEDGER-FORMAT.md §13) are checked by the Rust verifier: an edited count
/// or a summary of other rows is `summary-altered`; a missing summary is no failure (it is a
/// cache: queries scan instead). The Python verifier does not read summaries (§13 makes
/// checking them optional), so these cases are not in the agreement table.
#[test]
fn summaries_are_recomputed_and_checked() {
    let (_tmp, vkey, _) = fresh();
    let dir = _tmp.path().join("ledger");
    let summaries: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = fs::read_dir(dir.join("summaries"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    assert_eq!(summaries.len(), 3, "one summary per sealed segment");
    assert_eq!(rust_verdict(&dir, std::slice::from_ref(&vkey), &[]).0, "ok");

    // One count changed.
    let original = fs::read(&summaries[1]).unwrap();
    let (batch, kv) = read_segment(&summaries[1]);
    let i = batch.schema().index_of("count").unwrap();
    let counts = batch
        .column(i)
        .as_primitive::<arrow_array::types::Int64Type>();
    let mut values: Vec<i64> = counts.values().to_vec();
    values[0] += 1;
    let mut cols = batch.columns().to_vec();
    cols[i] = std::sync::Arc::new(arrow_array::Int64Array::from(values));
    write_segment(
        &summaries[1],
        &arrow_array::RecordBatch::try_new(batch.schema(), cols).unwrap(),
        &kv,
    );
    let (verdict, class, index, _) = rust_verdict(&dir, std::slice::from_ref(&vkey), &[]);
    assert_eq!(
        (verdict.as_str(), class.as_deref(), index),
        ("tampered", Some("summary-altered"), Some(10))
    );

    // Another segment's summary in its place.
    fs::copy(&summaries[0], &summaries[1]).unwrap();
    let (_, class, index, _) = rust_verdict(&dir, std::slice::from_ref(&vkey), &[]);
    assert_eq!(
        (class.as_deref(), index),
        (Some("summary-altered"), Some(10))
    );

    // Not Parquet at all.
    fs::write(&summaries[1], b"not parquet").unwrap();
    let (_, class, _, _) = rust_verdict(&dir, std::slice::from_ref(&vkey), &[]);
    assert_eq!(class.as_deref(), Some("summary-altered"));

    // Missing: fine; the next writer to open the ledger recomputes it, byte for byte.
    fs::remove_file(&summaries[1]).unwrap();
    assert_eq!(rust_verdict(&dir, std::slice::from_ref(&vkey), &[]).0, "ok");
    let (ledger, recovery) = ledger::Ledger::open(&dir, signer()).unwrap();
    drop(ledger);
    assert_eq!(recovery.rebuilt_summaries, 1);
    assert_eq!(fs::read(&summaries[1]).unwrap(), original);
    assert_eq!(rust_verdict(&dir, &[vkey], &[]).0, "ok");
}

/// `verify_with` hands every record on exactly once, in index order, as `scan` reads them (three
/// segments and a WAL). Without the typed-column check (what replay asks for: it reads records
/// alone), an edited typed column passes, and an edited record is still caught.
#[test]
fn verification_hands_each_record_on_once_and_the_records_only_mode_still_checks_records() {
    let (tmp, vkey, _) = fresh();
    let dir = tmp.path().join("ledger");
    let mut scanned = Vec::new();
    ledger::scan(&dir, |i, t, b| scanned.push((i, t, b.to_vec()))).unwrap();
    assert_eq!(scanned.len(), 35);
    let verify = |check_columns: bool| {
        let opts = ledger::VerifyOptions {
            check_columns,
            ..ledger::VerifyOptions::new(vec![vkey.clone()])
        };
        let mut handed = Vec::new();
        let report = ledger::verify_with(&dir, &opts, |rs| {
            handed.extend(rs.iter().map(|(i, t, b)| (i, t, b.to_vec())));
        })
        .unwrap();
        (report.failure.map(|f| (f.class, f.index)), handed)
    };
    for check_columns in [true, false] {
        let (failure, handed) = verify(check_columns);
        assert_eq!(failure, None);
        assert_eq!(handed, scanned, "check_columns {check_columns}");
    }
    replace_column(&seg(&dir, 1), "session_id", |c| edit_string(c, 3, "forged"));
    assert_eq!(
        verify(true).0,
        Some((ledger::FailureClass::ColumnAltered, Some(13)))
    );
    assert_eq!(verify(false).0, None);
    replace_column(&seg(&dir, 2), "record", |c| {
        edit_binary(c, 4, |b| {
            let at = b.len() - 3;
            b[at] ^= 1;
        })
    });
    for check_columns in [true, false] {
        let (failure, handed) = verify(check_columns);
        let want = if check_columns { 13 } else { 24 };
        assert_eq!(failure.map(|f| f.1), Some(Some(want)));
        // Nothing from the failing segment on is handed on.
        assert!(handed.iter().all(|h| h.0 < (want / 10) * 10));
    }
    let (failure, _) = verify(false);
    assert_eq!(
        failure.map(|f| f.0),
        Some(ledger::FailureClass::RecordAltered)
    );
}

/// 30 records sealed in segments [0,10) [10,20) [20,30), an empty WAL: the fully sealed ledger
/// the writer reopens in the attacks below.
fn sealed_ledger() -> (tempfile::TempDir, PathBuf, NoteVerifier) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let vkey = build_ledger(&dir, 30, 10, 1);
    (tmp, dir, vkey)
}

/// Rewrites the last segment's footer hints (chain end and frontier) to those of the records
/// as they now stand, as an attacker without the key would after editing records.
fn recompute_hints(dir: &Path) {
    let mut chain = CHAIN_GENESIS;
    let mut frontier = ledger::merkle::Frontier::new();
    ledger::scan(dir, |idx, ts, record| {
        let h = hash_record(&chain, idx, ts, record);
        chain = h.chain;
        frontier.push(h.leaf);
    })
    .unwrap();
    let last = segments(dir).pop().unwrap();
    let (batch, kv) = read_segment(&last);
    let peaks: Vec<String> = frontier.peaks().iter().map(ledger::hash::hex).collect();
    let kv = set_key(
        set_key(kv, "govtrail.chain_end", &ledger::hash::hex(&chain)),
        "govtrail.frontier",
        &format!("{}:{}", frontier.size(), peaks.join(",")),
    );
    write_segment(&last, &batch, &kv);
}

fn set_key(mut kv: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    kv.retain(|(k, _)| k != key);
    kv.push((key.to_owned(), value.to_owned()));
    kv
}

fn remove_checkpoints(dir: &Path) {
    for e in fs::read_dir(dir.join("checkpoints")).unwrap() {
        fs::remove_file(e.unwrap().path()).unwrap();
    }
}

/// The writer never signs a state it cannot vouch for (LEDGER-FORMAT.md §5.1): each attack on
/// a sealed ledger by someone with write access and no key makes `Ledger::open` refuse, naming
/// the file, and both verifiers give the same verdict on the directory.
#[test]
fn the_writer_refuses_to_sign_over_forged_history() {
    type Attack = (
        &'static str,
        fn(&Path),
        &'static str,
        (&'static str, Option<&'static str>, Option<u64>),
    );
    let attacks: &[Attack] = &[
        (
            "footer chain hint edited",
            |d| {
                let last = segments(d).pop().unwrap();
                let (batch, kv) = read_segment(&last);
                let kv = set_key(kv, "govtrail.chain_end", &ledger::hash::hex(&[7; 32]));
                write_segment(&last, &batch, &kv);
            },
            "chain hint",
            ("ok", None, None),
        ),
        (
            "footer frontier hint edited (a fork)",
            |d| {
                let last = segments(d).pop().unwrap();
                let (batch, kv) = read_segment(&last);
                let hex = ledger::hash::hex(&[9; 32]);
                let kv = set_key(
                    kv,
                    "govtrail.frontier",
                    &format!("30:{hex},{hex},{hex},{hex}"),
                );
                write_segment(&last, &batch, &kv);
            },
            "tree state",
            ("ok", None, None),
        ),
        (
            "a sealed record forged, hashes, chain and hints recomputed, checkpoints kept",
            |d| {
                rewrite_nested_with_hashes(d);
                recompute_hints(d);
            },
            "tree state",
            ("tampered", Some("root-mismatch"), Some(0)),
        ),
        (
            "a sealed record forged, hashes, chain and hints recomputed, checkpoints and summary deleted",
            |d| {
                rewrite_nested_with_hashes(d);
                recompute_hints(d);
                remove_checkpoints(d);
                fs::remove_file(d.join("summaries").join(ledger::segment_file_name(0, 10)))
                    .unwrap();
            },
            "no checkpoint signed",
            ("unverified", Some("untrusted"), Some(0)),
        ),
        (
            "every segment replaced by another history",
            |d| {
                let other = d.with_file_name("other");
                let s = NoteSigner::from_seed(ORIGIN, [5; 32]);
                let mut l = ledger::Ledger::create(&other, s, 10).unwrap();
                let records: Vec<ledger::Record> = (100..130).map(record).collect();
                for r in &records {
                    l.append_batch(std::slice::from_ref(r)).unwrap();
                }
                drop(l);
                for (mine, theirs) in segments(d).iter().zip(segments(&other)) {
                    fs::copy(theirs, mine).unwrap();
                }
                for e in fs::read_dir(d.join("summaries")).unwrap() {
                    fs::remove_file(e.unwrap().path()).unwrap();
                }
                remove_checkpoints(d);
            },
            "no checkpoint signed",
            ("unverified", Some("untrusted"), Some(0)),
        ),
        (
            "the newest segment removed, its signed checkpoint left",
            |d| {
                let last = segments(d).pop().unwrap();
                fs::remove_file(&last).unwrap();
                fs::remove_file(d.join("wal/00000000000000000030.wal")).unwrap();
            },
            "records were removed",
            ("truncated-or-forked", Some("truncated"), Some(20)),
        ),
    ];
    let mut failures = Vec::new();
    for (name, attack, want_msg, want) in attacks {
        let (_tmp, dir, vkey) = sealed_ledger();
        attack(&dir);
        let keys = [vkey];
        let rust = rust_verdict(&dir, &keys, &[]);
        let py = python_verdict(&dir, &keys, &[]);
        let want = (want.0.to_owned(), want.1.map(str::to_owned), want.2);
        if (rust.0.clone(), rust.1.clone(), rust.2) != want {
            failures.push(format!("{name}: rust said {rust:?}, want {want:?}"));
        }
        if (py.0.clone(), py.1.clone(), py.2, py.3) != rust {
            failures.push(format!("{name}: python said {py:?}, rust said {rust:?}"));
        }
        match ledger::Ledger::open(&dir, signer()) {
            Ok(_) => failures.push(format!("{name}: the writer opened the ledger")),
            Err(e @ ledger::Error::Corrupt { .. }) => {
                let msg = e.to_string();
                if !msg.contains(want_msg) || !msg.contains(dir.to_str().unwrap()) {
                    failures.push(format!("{name}: the writer refused with {msg:?}"));
                }
            }
            Err(e) => failures.push(format!("{name}: the writer failed with {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The writer's check needs no tiles: without them it recomputes the tree from the records,
/// and an untouched ledger opens and goes on.
#[test]
fn the_writer_vouches_for_an_untouched_ledger_with_or_without_tiles() {
    for drop_tiles in [false, true] {
        let (_tmp, dir, vkey) = sealed_ledger();
        if drop_tiles {
            fs::remove_dir_all(dir.join("tiles")).unwrap();
        }
        let (mut l, _) = ledger::Ledger::open(&dir, signer()).unwrap();
        l.append_batch(&[record(30)]).unwrap();
        drop(l);
        assert_eq!(rust_verdict(&dir, &[vkey], &[]).3, 31);
    }
}
