//! C2SP signed notes (signed-note v1.0.0) with Ed25519 keys, and the key file formats.
//!
//! ```text
//! <text, valid UTF-8, each line ending in \n>
//! <blank line>
//! — <key name> <base64(key id[4] ‖ signature[64])>\n      (one or more lines)
//! ```
//!
//! Verifier keys are `<name>+<hex key id>+<base64(0x01 ‖ public key)>`; private key files are
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`, as Go's `golang.org/x/mod/sumdb/note`
//! writes them. Key id = the first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

const ALG_ED25519: u8 = 0x01;
/// C2SP tlog-cosignature: a timestamped Ed25519 cosignature of a checkpoint.
const ALG_COSIGNATURE: u8 = 0x04;
/// Most signatures a note may carry before it is rejected (Go's limit).
pub(crate) const MAX_SIGNATURES: usize = 100;
const EM_DASH_PREFIX: &str = "\u{2014} ";

/// An Ed25519 key that signs notes under a name (for a ledger, its origin).
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: ed25519_dalek::SigningKey,
    alg: u8,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A public key that verifies notes signed under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
    alg: u8,
}

fn key_id(name: &str, alg: u8, public: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The message a cosignature signs: `cosignature/v1`, the time, then the checkpoint's text.
fn cosigned_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// A key name must be non-empty and hold no white space and no `+`.
pub fn check_key_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(Error::Key {
            what: format!("key name {name:?}"),
            message: "a key name must be non-empty, with no spaces and no '+'".into(),
        });
    }
    Ok(())
}

impl NoteSigner {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<Self> {
        check_key_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|err| Error::Key {
            what: name.into(),
            message: format!("no randomness from the operating system: {err}"),
        })?;
        Ok(Self::from_seed(name, seed))
    }

    /// The key with this 32-byte seed (for tests and benchmarks: keep real seeds secret).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Self {
        Self {
            name: name.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            alg: ALG_ED25519,
        }
    }

    /// A new random witness key (C2SP tlog-cosignature, type 0x04) named `name`.
    pub fn generate_witness(name: &str) -> Result<Self> {
        Ok(Self {
            alg: ALG_COSIGNATURE,
            ..Self::generate(name)?
        })
    }

    /// The witness key with this seed (for tests).
    pub fn witness_from_seed(name: &str, seed: [u8; 32]) -> Self {
        Self {
            alg: ALG_COSIGNATURE,
            ..Self::from_seed(name, seed)
        }
    }

    /// True for a witness (cosignature) key.
    pub fn is_witness(&self) -> bool {
        self.alg == ALG_COSIGNATURE
    }

    /// The cosignature line (C2SP tlog-cosignature v1) of a checkpoint's text at Unix `time`.
    pub fn cosignature_line(&self, checkpoint_text: &str, time: u64) -> String {
        let msg = cosigned_message(checkpoint_text, time);
        let sig = self.key.sign(msg.as_bytes());
        let mut raw = self.verifier().id.to_be_bytes().to_vec();
        raw.extend_from_slice(&time.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        format!("{EM_DASH_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// Parses a `PRIVATE+KEY+…` line.
    pub fn from_text(text: &str) -> Result<Self> {
        let bad = |message: &str| Error::Key {
            what: "private key".into(),
            message: message.into(),
        };
        let text = text.trim_end_matches(['\n', '\r']);
        let Some(rest) = text.strip_prefix("PRIVATE+KEY+") else {
            return Err(bad(if NoteVerifier::parse(text).is_ok() {
                "this is a verifier (public) key; a private key (PRIVATE+KEY+…, keygen's .key file) is needed here"
            } else {
                "does not start with PRIVATE+KEY+"
            }));
        };
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected PRIVATE+KEY+<name>+<id>+<key>"));
        };
        check_key_name(name)?;
        let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
        let (&[alg], seed) = raw.split_at_checked(1).ok_or_else(|| bad("key is empty"))? else {
            return Err(bad("key is empty"));
        };
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE {
            return Err(bad(&format!(
                "algorithm {alg:#04x} is neither Ed25519 (0x01) nor a cosignature key (0x04)"
            )));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("Ed25519 seed is not 32 bytes"))?;
        let signer = Self {
            alg,
            ..Self::from_seed(name, seed)
        };
        if id_hex != format!("{:08x}", signer.verifier().id) {
            return Err(bad("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The `PRIVATE+KEY+…` line (no newline).
    pub fn to_text(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.verifier().id,
            B64.encode(raw)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> NoteVerifier {
        let key = self.key.verifying_key();
        NoteVerifier {
            name: self.name.clone(),
            id: key_id(&self.name, self.alg, key.as_bytes()),
            key,
            alg: self.alg,
        }
    }

    /// The signature line `— <name> <base64>\n` over `text`.
    pub fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.verifier().id.to_be_bytes().to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!("{EM_DASH_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// Signs `text` (which must end in a newline) into a whole note.
    pub fn sign(&self, text: &str) -> String {
        format!("{text}\n{}", self.signature_line(text))
    }
}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<hex id>+<base64(0x01 ‖ key)>`.
    pub fn parse(vkey: &str) -> Result<Self> {
        let vkey = vkey.trim();
        if vkey.starts_with("PRIVATE+KEY+") {
            // Never echo it: the text is the secret itself.
            return Err(Error::Key {
                what: "verifier key".into(),
                message: "this is a private (signing) key, not a verifier key: give the .vkey file or the line keygen printed".into(),
            });
        }
        // Only the name and key id are echoed: a mistyped argument could hold a secret.
        let shown: String = vkey.splitn(3, '+').take(2).collect::<Vec<_>>().join("+");
        let shown: String = shown.chars().take(80).collect();
        let bad = |message: &str| Error::Key {
            what: format!("verifier key {shown:?}"),
            message: message.into(),
        };
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected <name>+<key id>+<key>"));
        };
        check_key_name(name)?;
        let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
        let alg = raw.first().copied().unwrap_or_default();
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE {
            return Err(bad("not an Ed25519 (0x01) or cosignature (0x04) key"));
        }
        let bytes: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| bad("Ed25519 public key is not 32 bytes"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("not a valid Ed25519 public key"))?;
        if id_hex.len() != 8 {
            return Err(bad("key id is not 8 hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key id is not hex"))?;
        if id != key_id(name, alg, &bytes) {
            return Err(bad("key id does not match the name and key"));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
            alg,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// True for a witness (cosignature) key.
    pub fn is_witness(&self) -> bool {
        self.alg == ALG_COSIGNATURE
    }

    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        if self.alg == ALG_COSIGNATURE {
            let Some((time, sig)) = sig.split_first_chunk::<8>() else {
                return false;
            };
            let msg = cosigned_message(text, u64::from_be_bytes(*time));
            return ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|sig| self.key.verify_strict(msg.as_bytes(), &sig).is_ok());
        }
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text.as_bytes(), &sig).is_ok()
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name on the line.
    pub name: String,
    /// The key id (first 4 bytes).
    pub id: u32,
    /// The signature bytes after the key id.
    pub sig: Vec<u8>,
}

/// A parsed signed note (signatures not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

/// Why a note failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteFailure {
    /// No signature line is from a trusted key; the names and ids found are listed.
    Untrusted(Vec<(String, u32)>),
    /// A trusted key's signature does not verify.
    BadSignature(String),
}

impl std::fmt::Display for NoteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Untrusted(found) if found.is_empty() => write!(f, "the note has no signature"),
            Self::Untrusted(found) => {
                write!(f, "no signature from a trusted key (signed by ")?;
                for (i, (name, id)) in found.iter().enumerate() {
                    write!(f, "{}{name}+{id:08x}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, ")")
            }
            Self::BadSignature(name) => {
                write!(f, "the signature of trusted key {name} does not verify")
            }
        }
    }
}

impl Note {
    /// Parses a signed note strictly per C2SP signed-note v1.0.0.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let msg = std::str::from_utf8(bytes).map_err(|_| "note is not valid UTF-8".to_owned())?;
        if msg.chars().any(|c| c.is_control() && c != '\n') {
            return Err("note contains a control character other than newline".into());
        }
        let split = msg
            .rfind("\n\n")
            .ok_or_else(|| "note has no blank line before its signatures".to_owned())?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err("note signatures must end with a newline".into());
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line
                .strip_prefix(EM_DASH_PREFIX)
                .ok_or_else(|| format!("signature line {line:?} does not start with an em dash"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| format!("signature line {line:?} has no key name"))?;
            check_key_name(name).map_err(|e| e.to_string())?;
            let raw = B64
                .decode(b64)
                .map_err(|_| format!("signature of {name} is not canonical base64"))?;
            if raw.len() < 5 {
                return Err(format!("signature of {name} is too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                sig: raw[4..].to_vec(),
            });
            if signatures.len() > MAX_SIGNATURES {
                return Err(format!("note has more than {MAX_SIGNATURES} signatures"));
            }
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The positions in `keys` of the keys whose signature the note carries and that verifies;
    /// a known key's bad signature rejects the note.
    pub fn signed_by(&self, keys: &[NoteVerifier]) -> std::result::Result<Vec<usize>, NoteFailure> {
        let mut out = Vec::new();
        for s in &self.signatures {
            for (i, key) in keys.iter().enumerate() {
                if key.name == s.name && key.id == s.id {
                    if !key.verify(&self.text, &s.sig) {
                        return Err(NoteFailure::BadSignature(format!(
                            "{}+{:08x}",
                            key.name, key.id
                        )));
                    }
                    out.push(i);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Checks the signatures against trusted keys: signatures from unknown keys are ignored, a
    /// trusted key's failing signature rejects the note, and at least one must verify. Returns
    /// the names of the trusted keys that signed.
    pub fn verify(
        &self,
        trusted: &[NoteVerifier],
    ) -> std::result::Result<Vec<String>, NoteFailure> {
        let mut signed_by = Vec::new();
        for s in &self.signatures {
            let Some(key) = trusted.iter().find(|k| k.name == s.name && k.id == s.id) else {
                continue;
            };
            if !key.verify(&self.text, &s.sig) {
                return Err(NoteFailure::BadSignature(key.name.clone()));
            }
            signed_by.push(key.name.clone());
        }
        if signed_by.is_empty() {
            let found = self
                .signatures
                .iter()
                .map(|s| (s.name.clone(), s.id))
                .collect();
            return Err(NoteFailure::Untrusted(found));
        }
        Ok(signed_by)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn sign_parse_verify_round_trip() {
        let signer = NoteSigner::from_seed("log.example/a", [7; 32]);
        let note = signer.sign("hello\n");
        let parsed = Note::parse(note.as_bytes()).unwrap();
        assert_eq!(
            parsed.verify(&[signer.verifier()]),
            Ok(vec!["log.example/a".to_owned()])
        );
        let again = NoteSigner::from_text(&signer.to_text()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        assert_eq!(
            NoteVerifier::parse(&signer.verifier().to_string()).unwrap(),
            signer.verifier()
        );
        let other = NoteSigner::from_seed("log.example/a", [8; 32]).verifier();
        assert!(matches!(
            parsed.verify(&[other]),
            Err(NoteFailure::Untrusted(_))
        ));
    }

    #[test]
    fn spec_example_mutations() {
        let key = NoteVerifier::parse(VKEY).unwrap();
        assert!(
            Note::parse(NOTE.as_bytes())
                .unwrap()
                .verify(std::slice::from_ref(&key))
                .is_ok()
        );
        let rejected_at_parse = [
            NOTE.replace('\u{2014}', "-"),
            NOTE.replace("\n\n", "\r\n\r\n"),
            NOTE.trim_end().to_owned(),
            NOTE.replace("This", "Th\u{7}is"),
            NOTE.replace("example.com/foo U", "example.com/foo+x U"),
            NOTE.replace("aQM=", "aQN="),
        ];
        for bad in rejected_at_parse {
            assert!(Note::parse(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        let bad_sig = NOTE.replace("Uw2QOkn8", "Uw2QOkn9");
        let parsed = Note::parse(bad_sig.as_bytes()).unwrap();
        assert_eq!(
            parsed.verify(std::slice::from_ref(&key)),
            Err(NoteFailure::BadSignature("example.com/foo".into()))
        );
        let altered = NOTE.replace("example message", "exemplary message");
        assert!(
            Note::parse(altered.as_bytes())
                .unwrap()
                .verify(&[key])
                .is_err()
        );
    }
}
