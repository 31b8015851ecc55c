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
