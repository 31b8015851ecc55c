//! `govtrail keygen`, and reading the keys and trust policies other commands take.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use ledger::{NoteSigner, NoteVerifier, TrustPolicy};

use crate::args::KeygenArgs;
use crate::exit;

/// `govtrail keygen`: PREFIX.key (private, 0600, never overwritten) and PREFIX.vkey.
pub(crate) fn keygen(a: KeygenArgs) -> Result<u8> {
    let signer = if a.witness {
        NoteSigner::generate_witness(&a.name)?
    } else {
        NoteSigner::generate(&a.name)?
    };
    let key_path = with_suffix(&a.out, "key");
    let vkey_path = with_suffix(&a.out, "vkey");
    for path in [&key_path, &vkey_path] {
        if path.exists() {
            bail!("{} exists; refusing to overwrite a key", path.display());
        }
    }
    ledger::write_new_private(&key_path, format!("{}\n", signer.to_text()).as_bytes())?;
    fs::write(&vkey_path, format!("{}\n", signer.verifier()))
        .with_context(|| format!("write {}", vkey_path.display()))?;
    println!("{}", signer.verifier());
    eprintln!(
        "wrote {} (private) and {}",
        key_path.display(),
        vkey_path.display()
    );
    Ok(exit::OK)
}

/// `PREFIX.ext`.
pub(crate) fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// A private key file (from keygen).
pub(crate) fn read_key(path: &Path) -> Result<NoteSigner> {
    let text = fs::read_to_string(path).with_context(|| format!("read key {}", path.display()))?;
    NoteSigner::from_text(&text).with_context(|| format!("key file {}", path.display()))
}

/// `--pubkey` arguments: vkey strings, or files holding one per line.
pub(crate) fn read_pubkeys(args: &[String]) -> Result<Vec<NoteVerifier>> {
    let mut keys = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if path.exists() {
            let text = fs::read_to_string(path)
                .with_context(|| format!("read public key {}", path.display()))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                keys.push(
                    NoteVerifier::parse(line)
                        .with_context(|| format!("public key file {}", path.display()))?,
                );
            }
        } else if arg.contains('+') {
            keys.push(NoteVerifier::parse(arg)?);
        } else {
            bail!("--pubkey {arg}: no such file, and not a verifier key (name+id+key)");
        }
    }
    Ok(keys)
}

/// The trust policy from `--pubkey` keys and an optional `--policy` file.
pub(crate) fn trust_policy(pubkeys: &[String], policy: Option<&Path>) -> Result<TrustPolicy> {
    let mut p = match policy {
        Some(path) => {
            let text = fs::read_to_string(path)
                .with_context(|| format!("read policy {}", path.display()))?;
            TrustPolicy::parse(&text)
                .map_err(|e| anyhow::anyhow!("policy {}: {e}", path.display()))?
        }
        None => TrustPolicy::default(),
    };
    for key in read_pubkeys(pubkeys)? {
        p.add_log_key(key).map_err(anyhow::Error::msg)?;
    }
    Ok(p)
}
