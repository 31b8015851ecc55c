//! Anchors, witness cosignatures, key rotation and evidence packs (LEDGER-FORMAT.md §8-§12):
//! tail truncation, a rewritten middle and a fork are caught when an anchor or a witness
//! cosignature is supplied, each with its class and exit code; the independent Python
//! verifier agrees with the Rust one on every case.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use govtrail_tests::{ORIGIN, decision_json, python_verdict_args, record, signer};
use ledger::{Ledger, NoteSigner, Record, TrustPolicy, VerifyOptions};

type Verdict = (String, Option<String>, Option<u64>, u64);

fn witness_key(i: u8) -> NoteSigner {
    NoteSigner::witness_from_seed(&format!("witness{i}.example"), [40 + i; 32])
}

/// A policy trusting the test log key and witnesses 0..3 with a quorum of `k` (0: none).
fn policy_text(k: usize, logs: &[&NoteSigner]) -> String {
    let mut t = String::new();
    for l in logs {
        t.push_str(&format!("log {}\n", l.verifier()));
    }
    for i in 0..3 {
        t.push_str(&format!("witness w{i} {}\n", witness_key(i).verifier()));
    }
    if k > 0 {
        t.push_str(&format!("group g {k} w0 w1 w2\nquorum g\n"));
    }
    t
}

/// Verifies with both verifiers under `policy` and `anchors`; asserts they agree.
fn check(dir: &Path, policy: &str, anchors: &[PathBuf]) -> Verdict {
    let mut opts = VerifyOptions::new(Vec::new());
    opts.policy = TrustPolicy::parse(policy).unwrap();
    for a in anchors {
        opts.anchors
            .push((a.display().to_string(), fs::read(a).unwrap()));
    }
    let pack = dir.join("EVIDENCE").exists();
    let report = if pack {
        ledger::verify_evidence(dir, &opts).unwrap()
    } else {
        ledger::verify(dir, &opts).unwrap()
    };
    let rust = match &report.failure {
        None => ("ok".to_owned(), None, None, report.verified),
        Some(f) => (
            f.class.verdict().as_str().to_owned(),
            Some(f.class.as_str().to_owned()),
            f.index,
            report.verified,
        ),
    };
    let pfile = tempfile::NamedTempFile::new().unwrap();
    fs::write(pfile.path(), policy).unwrap();
    let mut args = vec!["--policy".to_owned(), pfile.path().display().to_string()];
    if pack {
        args.push("--evidence".into());
    }
    for a in anchors {
        args.push("--anchor".into());
        args.push(a.display().to_string());
    }
    let python = python_verdict_args(dir, &args);
    assert_eq!(rust, python, "Rust vs Python on {}", dir.display());
    rust
}

/// A ledger of `n` records, record `i` taken from `alter(i)` when it returns one.
fn build(dir: &Path, n: u64, alter: impl Fn(u64) -> Option<String>) {
    let mut l = Ledger::create(dir, signer(), 16).unwrap();
    let recs: Vec<Record> = (0..n)
        .map(|i| match alter(i) {
            Some(json) => Record::from_json(json.as_bytes(), &"altered").unwrap(),
            None => record(i),
        })
        .collect();
    for chunk in recs.chunks(4) {
        l.append_batch(chunk).unwrap();
    }
}

fn append(dir: &Path, from: u64, to: u64, key: NoteSigner) {
    let (mut l, _) = Ledger::open(dir, key).unwrap();
    let recs: Vec<Record> = (from..to).map(record).collect();
    for chunk in recs.chunks(4) {
        l.append_batch(chunk).unwrap();
    }
}

fn cosign(dir: &Path, w: u8, state: &Path) -> ledger::Witnessed {
    let policy = TrustPolicy::from_keys(vec![signer().verifier()]);
    ledger::witness_ledger(
        dir,
        &witness_key(w),
        &policy,
        state,
        1_764_000_000 + u64::from(w),
    )
    .unwrap()
}

fn verdict(status: &str, class: Option<&str>, index: Option<u64>, verified: u64) -> Verdict {
    (status.into(), class.map(Into::into), index, verified)
}

#[test]
fn witnesses_and_anchors_catch_truncation_rewrites_and_forks() {
    let tmp = tempfile::tempdir().unwrap();
    let honest = tmp.path().join("honest");
    build(&honest, 60, |_| None);
    let states: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("w{i}.state")))
        .collect();
    let first = cosign(&honest, 0, &states[0]);
    assert!(first.first_seen && first.cosigned.checkpoint.size == 60);
    cosign(&honest, 1, &states[1]);
    let s = signer();
    let one = policy_text(1, &[&s]);
    let two = policy_text(2, &[&s]);
    let three = policy_text(3, &[&s]);
    let plain = policy_text(0, &[&s]);

    // Honest: the cosigned checkpoint meets a 2-of-3 quorum; 3-of-3 trusts no checkpoint.
    assert_eq!(check(&honest, &two, &[]), verdict("ok", None, None, 60));
    assert_eq!(
        check(&honest, &three, &[]),
        verdict("unverified", Some("untrusted"), Some(0), 0)
    );
    // A damaged cosignature by a policy witness is a bad signature, quorum or not.
    let damaged = tmp.path().join("damaged");
    copy_dir(&honest, &damaged);
    let note = damaged.join(format!("checkpoints/{:020}.note", 60));
    let text = fs::read_to_string(&note).unwrap();
    let last = text.trim_end().rsplit('\n').next().unwrap().to_owned();
    let (head, sig) = last.rsplit_once(' ').unwrap();
    let mut raw = B64.decode(sig).unwrap();
    raw[20] ^= 1;
    fs::write(
        &note,
        text.replace(&last, &format!("{head} {}", B64.encode(raw))),
    )
    .unwrap();
    for p in [&plain, &two] {
        let (status, class, _, _) = check(&damaged, p, &[]);
        assert_eq!(
            (status.as_str(), class.as_deref()),
            ("tampered", Some("bad-signature"))
        );
    }

    // Records after the newest witnessed checkpoint are an unverified tail.
    append(&honest, 60, 80, signer());
    assert_eq!(
        check(&honest, &two, &[]),
        verdict("unverified-tail", Some("unverified-tail"), Some(60), 60)
    );
    assert_eq!(check(&honest, &plain, &[]), verdict("ok", None, None, 80));
    // The witness moves on from 60 to 80 with a consistency proof.
    let second = cosign(&honest, 0, &states[0]);
    assert_eq!((second.old_size, second.cosigned.checkpoint.size), (60, 80));

    // Tail truncation (records 40.. and their checkpoints deleted): invisible without an anchor
    // (the horizon says 40), caught with the witness's cosigned checkpoint as anchor.
    let cut = tmp.path().join("cut");
    build(&cut, 40, |_| None);
    assert_eq!(check(&cut, &plain, &[]), verdict("ok", None, None, 40));
    assert_eq!(
        check(&cut, &plain, &[states[0].clone()]),
        verdict("truncated-or-forked", Some("truncated"), Some(40), 40)
    );
    assert_eq!(
        check(&cut, &one, &[states[1].clone()]),
        verdict("truncated-or-forked", Some("truncated"), Some(40), 0)
    );

    // A middle record rewritten and everything re-signed with the real key.
    let rewritten = tmp.path().join("rewritten");
    build(&rewritten, 80, |i| {
        (i == 9).then(|| decision_json(9).replace("\"deny\"", "\"allow\""))
    });
    assert_eq!(
        check(&rewritten, &plain, &[]),
        verdict("ok", None, None, 80)
    );
    let (status, class, _, _) = check(&rewritten, &plain, &[states[0].clone()]);
    assert_eq!(
        (status.as_str(), class.as_deref()),
        ("truncated-or-forked", Some("forked"))
    );
    assert_eq!(
        check(&rewritten, &two, &[]),
        verdict("unverified", Some("untrusted"), Some(0), 0)
    );
    // The witness refuses to cosign it.
    let refused = ledger::witness_ledger(
        &rewritten,
        &witness_key(0),
        &TrustPolicy::from_keys(vec![signer().verifier()]),
        &states[0],
        1_764_000_100,
    )
    .unwrap_err()
    .to_string();
    assert!(refused.contains("not consistent"), "{refused}");

    // A fork: the same prefix, different records from 40 on.
    let fork = tmp.path().join("fork");
    build(&fork, 80, |i| (i >= 40).then(|| decision_json(i + 1000)));
    let (status, class, _, _) = check(&fork, &plain, &[states[1].clone()]);
    assert_eq!(
        (status.as_str(), class.as_deref()),
        ("truncated-or-forked", Some("forked"))
    );
    assert!(
        ledger::witness_ledger(
            &fork,
            &witness_key(1),
            &TrustPolicy::from_keys(vec![signer().verifier()]),
            &states[1],
            1_764_000_200,
        )
        .is_err()
    );
}

#[test]
fn key_rotation_bounds_each_key_and_revocation_has_its_own_class() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let old = signer();
    let new = NoteSigner::from_seed(ORIGIN, [77; 32]);
    build(&dir, 30, |_| None);
    {
        let (mut l, _) = Ledger::open(&dir, signer()).unwrap();
        l.rotate_key(NoteSigner::from_seed(ORIGIN, [77; 32]))
            .unwrap();
    }
    append(&dir, 30, 50, NoteSigner::from_seed(ORIGIN, [77; 32]));
    let err = Ledger::open(&dir, signer()).unwrap_err().to_string();
    assert!(err.contains("rotated"), "{err}");
    let both = policy_text(0, &[&old, &new]);
    assert_eq!(check(&dir, &both, &[]), verdict("ok", None, None, 50));

    // A checkpoint above the rotation signed with the retired key.
    let forged = tmp.path().join("forged");
    copy_dir(&dir, &forged);
    let cp = ledger::inspect(&forged).unwrap().latest.unwrap().checkpoint;
    fs::write(
        forged.join(format!("checkpoints/{:020}.note", cp.size)),
        cp.sign(&old).bytes,
    )
    .unwrap();
    let (status, class, _, _) = check(&forged, &both, &[]);
    assert_eq!(
        (status.as_str(), class.as_deref()),
        ("tampered", Some("revoked-key"))
    );

    // Revoking the old key invalidates the checkpoints only it signed.
    let revoked = format!("{both}revoked {}\n", old.verifier());
    let (status, class, _, _) = check(&dir, &revoked, &[]);
    assert_eq!(
        (status.as_str(), class.as_deref()),
        ("tampered", Some("revoked-key"))
    );

    // A transition signed by the old key alone.
    let lone = tmp.path().join("lone");
    copy_dir(&dir, &lone);
    let t = ledger::read_transitions(&lone).unwrap().pop().unwrap();
    let text = ledger::Transition::text(ORIGIN, &old.verifier(), &new.verifier(), t.0);
    fs::write(&t.1, format!("{text}\n{}", old.signature_line(&text))).unwrap();
    let (status, class, _, _) = check(&lone, &both, &[]);
    assert_eq!(
        (status.as_str(), class.as_deref()),
        ("tampered", Some("bad-signature"))
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "LOCK" {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn evidence_packs_verify_alone_and_reject_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    build(&dir, 60, |_| None);
    cosign(&dir, 2, &tmp.path().join("w2.state"));
    let s = signer();
    let plain = policy_text(0, &[&s]);
    let quorum = policy_text(1, &[&s]);
    for (from, to) in [(13u64, 41u64), (0, 60), (59, 60), (0, 1), (16, 32)] {
        let pack = tmp.path().join(format!("pack-{from}-{to}"));
        let m = ledger::export_evidence(&dir, from, to, &pack).unwrap();
        assert_eq!((m.from, m.to, m.size), (from, to, 60));
        assert_eq!(check(&pack, &plain, &[]), verdict("ok", None, None, to));
        assert_eq!(check(&pack, &quorum, &[]), verdict("ok", None, None, to));
    }
    let pack = tmp.path().join("pack-13-41");
    let edit = |name: &str, f: &dyn Fn(&Path)| {
        let copy = tmp.path().join(name);
        copy_dir(&pack, &copy);
        f(&copy);
        check(&copy, &plain, &[])
    };
    let manifest = |p: &Path, f: &dyn Fn(String) -> String| {
        let m = p.join("EVIDENCE");
        fs::write(&m, f(fs::read_to_string(&m).unwrap())).unwrap();
    };
    // A record edited in the pack's segment.
    let (_, class, index, _) = edit("rec", &|p| {
        let seg = govtrail_tests::segments(p).pop().unwrap();
        govtrail_tests::replace_column(&seg, "record", |c| {
            govtrail_tests::edit_binary(c, 3, |b| b[20] ^= 1)
        });
    });
    assert_eq!(
        (class.as_deref(), index),
        (Some("record-altered"), Some(16))
    );
    // A peak of the tree state before the range.
    let (_, class, _, _) = edit("peak", &|p| {
        manifest(p, &|t| {
            let line = t
                .lines()
                .find(|l| l.starts_with("peak "))
                .unwrap()
                .to_owned();
            t.replace(&line, &format!("peak {}", "A".repeat(43) + "="))
        })
    });
    assert_eq!(class.as_deref(), Some("root-mismatch"));
    // The consistency proof cut short.
    let (_, class, _, _) = edit("proof", &|p| {
        manifest(p, &|t| {
            let last = t
                .lines()
                .rfind(|l| l.starts_with("consistency "))
                .unwrap()
                .to_owned();
            t.replace(&format!("{last}\n"), "")
        })
    });
    assert_eq!(class.as_deref(), Some("root-mismatch"));
    // The chain value before the range.
    let (_, class, index, _) = edit("chain", &|p| {
        manifest(p, &|t| {
            let line = t
                .lines()
                .find(|l| l.starts_with("chain "))
                .unwrap()
                .to_owned();
            t.replace(&line, &format!("chain {}", B64.encode([7u8; 32])))
        })
    });
    assert_eq!(
        (class.as_deref(), index),
        (Some("record-altered"), Some(13))
    );
    // An unsigned checkpoint.
    let (_, class, _, _) = edit("unsigned", &|p| {
        let other = NoteSigner::from_seed(ORIGIN, [9; 32]);
        let cp =
            ledger::SignedCheckpoint::parse(&fs::read(p.join("checkpoint.note")).unwrap()).unwrap();
        fs::write(p.join("checkpoint.note"), cp.checkpoint.sign(&other).bytes).unwrap();
    });
    assert_eq!(class.as_deref(), Some("untrusted"));
}
