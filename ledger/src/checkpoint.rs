//! C2SP tlog-checkpoint v1.0.0: the signed statement "the log `origin` has `size` entries with
//! RFC 6962 root `root`".
//!
//! ```text
//! <origin>\n<size, decimal, no leading zeros>\n<base64 root>\n[extension lines]
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::hash::Hash;
use crate::note::{Note, NoteSigner};

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (equal to the signing key's name).
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: Hash,
}

/// A checkpoint with its whole signed note text, as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// The note, verbatim.
    pub note: Note,
    /// The note's bytes, verbatim.
    pub bytes: String,
}

/// A decimal without sign or leading zeros (the only form the text formats allow), as u64.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = text == "0" || (!text.starts_with('0') && !text.is_empty());
    text.parse()
        .ok()
        .filter(|_| canonical && text.bytes().all(|b| b.is_ascii_digit()))
}

impl Checkpoint {
    /// The note text (three lines).
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Signs the checkpoint.
    pub fn sign(&self, signer: &NoteSigner) -> SignedCheckpoint {
        let bytes = signer.sign(&self.text());
        SignedCheckpoint {
            checkpoint: self.clone(),
            note: Note {
                text: self.text(),
                signatures: Vec::new(),
            },
            bytes,
        }
        .reparsed()
    }

    /// Parses a checkpoint note's text.
    pub fn parse_text(text: &str) -> Result<Self, String> {
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err("checkpoint origin line is empty".into());
        }
        let size_line = lines.next().ok_or("checkpoint has no size line")?;
        let size = parse_decimal(size_line).ok_or_else(|| {
            format!("checkpoint size {size_line:?} is not a decimal without leading zeros")
        })?;
        let root_line = lines.next().ok_or("checkpoint has no root line")?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| format!("checkpoint root {root_line:?} is not a base64 SHA-256 hash"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint note (signatures are checked separately, against trusted keys).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_text(&note.text)?;
        Ok(Self {
            checkpoint,
            note,
            bytes: String::from_utf8_lossy(bytes).into_owned(),
        })
    }

    fn reparsed(self) -> Self {
        // A note we just signed always parses; fall back to the unparsed form if it ever did not.
        Self::parse(self.bytes.as_bytes()).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_strictness() {
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 42,
            root: [3; 32],
        };
        assert_eq!(Checkpoint::parse_text(&cp.text()), Ok(cp.clone()));
        for bad in [
            "example.org/log\n042\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n",
            "example.org/log\n+42\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n",
            "example.org/log\n42\nAwMD\n",
            "\n42\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n",
        ] {
            assert!(Checkpoint::parse_text(bad).is_err(), "{bad:?}");
        }
        let signer = NoteSigner::from_seed("example.org/log", [1; 32]);
        let signed = cp.sign(&signer);
        assert_eq!(signed.note.signatures.len(), 1);
        assert_eq!(
            SignedCheckpoint::parse(signed.bytes.as_bytes()).unwrap(),
            signed
        );
    }
}
