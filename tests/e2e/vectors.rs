//! RFC 6962 proof vectors and the C2SP signed-note example, byte-exact.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use govtrail_tests::repo_root;
use ledger::merkle::{verify_consistency, verify_inclusion};
use ledger::{Note, NoteVerifier};
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Decodes a base64 hash; anything not 32 bytes makes the case fail verification.
fn hash(v: &serde_json::Value) -> Option<[u8; 32]> {
    B64.decode(v.as_str()?).ok()?.try_into().ok()
}

fn hashes(v: &serde_json::Value) -> Option<Vec<[u8; 32]>> {
    match v {
        serde_json::Value::Null => Some(Vec::new()),
        v => v.as_array()?.iter().map(hash).collect(),
    }
}

#[test]
fn rfc6962_inclusion_vectors() {
    let all = files(&repo_root().join("tests/vectors/rfc6962/inclusion"));
    assert!(all.len() > 80, "{} files", all.len());
    for path in all {
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ok = (|| {
            Some(verify_inclusion(
                c["leafIdx"].as_u64()?,
                c["treeSize"].as_u64()?,
                &hash(&c["leafHash"])?,
                &hashes(&c["proof"])?,
                &hash(&c["root"])?,
            ))
        })()
        .unwrap_or(false);
        assert_eq!(ok, !c["wantErr"].as_bool().unwrap(), "{}", path.display());
    }
}

#[test]
fn rfc6962_consistency_vectors() {
    let all = files(&repo_root().join("tests/vectors/rfc6962/consistency"));
    assert!(all.len() > 90, "{} files", all.len());
    for path in all {
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ok = (|| {
            Some(verify_consistency(
                c["size1"].as_u64()?,
                c["size2"].as_u64()?,
                &B64.decode(c["root1"].as_str()?).ok()?,
                &B64.decode(c["root2"].as_str()?).ok()?,
                &hashes(&c["proof"])?,
            ))
        })()
        .unwrap_or(false);
        assert_eq!(ok, !c["wantErr"].as_bool().unwrap(), "{}", path.display());
    }
}

#[test]
fn signed_note_spec_example() {
    let dir = repo_root().join("tests/vectors/signed-note");
    let vkey = std::fs::read_to_string(dir.join("example.vkey")).unwrap();
    let key = NoteVerifier::parse(vkey.trim()).unwrap();
    assert_eq!(key.to_string(), vkey.trim());
    let note = Note::parse(&std::fs::read(dir.join("example.note")).unwrap()).unwrap();
    assert_eq!(note.text, "This is an example message.\n");
    assert_eq!(note.verify(&[key]), Ok(vec!["example.com/foo".to_owned()]));
}

/// The consistency vectors through the public file API: each becomes a consistency-proof file
/// (`old`, proof lines, a checkpoint of size2/root2 signed by the test key) checked against an
/// anchor of size1/root1. Vectors with size1 = 0 are left to `verify_consistency` above: the
/// file format accepts `old 0` with an empty proof (a witness's first checkpoint,
/// LEDGER-FORMAT.md §8), which RFC 9162 leaves undefined.
#[test]
fn rfc6962_consistency_vectors_through_proof_files() {
    use ledger::{Checkpoint, ConsistencyProof, TrustPolicy};
    let signer = govtrail_tests::signer();
    let policy = TrustPolicy::from_keys(vec![signer.verifier()]);
    let mut checked = 0;
    for path in files(&repo_root().join("tests/vectors/rfc6962/consistency")) {
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let want = !c["wantErr"].as_bool().unwrap();
        let size1 = c["size1"].as_u64().unwrap();
        if size1 == 0 {
            continue;
        }
        let (Some(root1), Some(root2)) = (hash(&c["root1"]), hash(&c["root2"])) else {
            // "Don't care" roots of equal-size cases are not 32-byte hashes: no checkpoint can
            // carry them.
            continue;
        };
        let Some(proof) = hashes(&c["proof"]) else {
            assert!(!want, "{}: malformed but valid?", path.display());
            continue;
        };
        let signed = Checkpoint {
            origin: govtrail_tests::ORIGIN.into(),
            size: c["size2"].as_u64().unwrap(),
            root: root2,
        }
        .sign(&signer);
        let mut text = format!("old {size1}\n");
        for h in &proof {
            text.push_str(&B64.encode(h));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&signed.bytes);
        let anchor = Checkpoint {
            origin: govtrail_tests::ORIGIN.into(),
            size: size1,
            root: root1,
        };
        let ok = ConsistencyProof::parse(text.as_bytes())
            .is_ok_and(|p| p.verify(&policy, &anchor).is_ok());
        assert_eq!(ok, want, "{}", path.display());
        checked += 1;
    }
    assert_eq!(checked, 67, "vectors expressible as proof files");
}

/// The same vectors through a second implementation, `tlog_tiles` (a port of Go's
/// `sumdb/tlog`, which govtrail uses to produce proofs from tiles).
#[test]
fn rfc6962_vectors_through_tlog_tiles() {
    for path in files(&repo_root().join("tests/vectors/rfc6962/inclusion")) {
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ok = (|| {
            let proof: Vec<tlog_tiles::Hash> = hashes(&c["proof"])?
                .into_iter()
                .map(tlog_tiles::Hash)
                .collect();
            Some(
                tlog_tiles::check_record(
                    &proof,
                    c["treeSize"].as_u64()?,
                    tlog_tiles::Hash(hash(&c["root"])?),
                    c["leafIdx"].as_u64()?,
                    tlog_tiles::Hash(hash(&c["leafHash"])?),
                )
                .is_ok(),
            )
        })()
        .unwrap_or(false);
        assert_eq!(ok, !c["wantErr"].as_bool().unwrap(), "{}", path.display());
    }
    for path in files(&repo_root().join("tests/vectors/rfc6962/consistency")) {
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ok = (|| {
            let proof: Vec<tlog_tiles::Hash> = hashes(&c["proof"])?
                .into_iter()
                .map(tlog_tiles::Hash)
                .collect();
            let (size1, size2) = (c["size1"].as_u64()?, c["size2"].as_u64()?);
            let (Some(root1), Some(root2)) = (hash(&c["root1"]), hash(&c["root2"])) else {
                // Not 32-byte roots ("don't care" in equal-size cases): not expressible here.
                return Some(!c["wantErr"].as_bool()?);
            };
            if size1 == size2 {
                // check_tree needs n < t; equal sizes are consistent when roots and proof agree.
                return Some(size1 > 0 && proof.is_empty() && root1 == root2);
            }
            Some(
                tlog_tiles::check_tree(
                    &proof,
                    size2,
                    tlog_tiles::Hash(root2),
                    size1,
                    tlog_tiles::Hash(root1),
                )
                .is_ok(),
            )
        })()
        .unwrap_or(false);
        assert_eq!(ok, !c["wantErr"].as_bool().unwrap(), "{}", path.display());
    }
}

/// The independent verifier's own tests: every RFC 6962 vector through its Python RFC 9162
/// functions, cosignatures, policy parsing and quorum, transitions, packs and proof files.
#[test]
fn independent_verifier_self_tests() {
    let out = std::process::Command::new(govtrail_tests::python())
        .arg(repo_root().join("tests/independent-verifier/test_vectors.py"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("0 of 8 tests failed"), "{text}");
}
