//! Whom a verifier trusts: log keys and their validity ranges (key rotation), revoked keys,
//! witnesses and the quorum of cosignatures a checkpoint needs (LEDGER-FORMAT.md §11).
//!
//! The policy file is a C2SP tlog-policy (draft) file plus a `revoked` line:
//!
//! ```text
//! log <vkey> [from <N>] [until <M>]
//! witness <name> <vkey>
//! group <name> <k|all|any> <member>…
//! quorum <name|none>
//! revoked <vkey>
//! ```

use std::fs;
use std::path::Path;

use crate::checkpoint::{SignedCheckpoint, parse_decimal};
use crate::error::IoContext as _;
use crate::layout::Layout;
use crate::note::{Note, NoteSigner, NoteVerifier};
use crate::{Error, Result};

/// Second line of a key-transition note.
pub const TRANSITION_HEADER: &str = "govtrail-key-transition/v1";

/// A log key and the checkpoint sizes it may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogKey {
    key: NoteVerifier,
    from: u64,
    until: u64,
    revoked: bool,
}

/// A quorum member: a witness or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    need: usize,
    members: Vec<Member>,
}

/// What a verifier trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustPolicy {
    logs: Vec<LogKey>,
    witnesses: Vec<(String, NoteVerifier)>,
    groups: Vec<Group>,
    quorum: Option<Member>,
}

/// Why a checkpoint is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// No signature by a log key of the policy (the keys found are named).
    Untrusted(String),
    /// Signed by policy log keys, but only revoked ones or outside their validity range.
    Revoked(String),
    /// A policy key's signature or cosignature does not verify.
    BadSignature(String),
    /// Signed by a valid log key, but the quorum of witness cosignatures is not met.
    NoQuorum(String),
}

impl std::fmt::Display for Distrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Untrusted(m) | Self::Revoked(m) | Self::BadSignature(m) | Self::NoQuorum(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Why a ledger's key transitions cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionFault {
    /// Not signed by both of its keys.
    BadSignature(String),
    /// For another origin.
    OriginMismatch(String),
    /// Unreadable, or its size disagrees with its name, or a key is new twice.
    Corrupt(String),
}

/// A key transition read from a ledger (LEDGER-FORMAT.md §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The ledger's origin.
    pub origin: String,
    /// The retiring key: valid for checkpoints of size ≤ `size`.
    pub old: NoteVerifier,
    /// The new key: valid for checkpoints of size ≥ `size`.
    pub new: NoteVerifier,
    /// The size at which the keys change.
    pub size: u64,
    /// The note.
    pub note: Note,
}

impl Transition {
    /// The note text (unsigned).
    pub fn text(origin: &str, old: &NoteVerifier, new: &NoteVerifier, size: u64) -> String {
        format!("{origin}\n{TRANSITION_HEADER}\nold {old}\nnew {new}\nsize {size}\n")
    }

    /// The transition note signed by both keys.
    pub fn sign(old: &NoteSigner, new: &NoteSigner, size: u64) -> String {
        let text = Self::text(old.name(), &old.verifier(), &new.verifier(), size);
        format!(
            "{text}\n{}{}",
            old.signature_line(&text),
            new.signature_line(&text)
        )
    }

    /// Parses a transition note (signatures are checked by the policy).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let note = Note::parse(bytes)?;
        let lines: Vec<&str> = note.text.trim_end_matches('\n').split('\n').collect();
        let [origin, header, old, new, size] = lines[..] else {
            return Err("a key transition has five lines".into());
        };
        if header != TRANSITION_HEADER {
            return Err(format!("second line is not {TRANSITION_HEADER}"));
        }
        let key = |line: &str, word: &str| {
            line.strip_prefix(word)
                .ok_or_else(|| format!("expected a line starting {word:?}"))
                .and_then(|v| NoteVerifier::parse(v).map_err(|e| e.to_string()))
        };
        let size = size
            .strip_prefix("size ")
            .and_then(parse_decimal)
            .ok_or("size is not a decimal without leading zeros")?;
        Ok(Self {
            origin: origin.to_owned(),
            old: key(old, "old ")?,
            new: key(new, "new ")?,
            size,
            note,
        })
    }
}

/// The transition notes of the ledger at `dir`, by size, as (file, bytes).
pub fn read_transitions(dir: &Path) -> Result<Vec<(u64, std::path::PathBuf, Vec<u8>)>> {
    let keys = Layout::new(dir).keys_dir();
    let entries = match fs::read_dir(&keys) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx("list", &keys),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.ctx("list", &keys)?;
        let name = entry.file_name();
        let Some(size) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".transition"))
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let path = entry.path();
        if !entry.file_type().ctx("stat", &path)?.is_file() {
            return Err(Error::Layout {
                dir: dir.to_path_buf(),
                message: format!("{} is not a regular file", path.display()),
            });
        }
        let bytes = fs::read(&path).ctx("read", &path)?;
        out.push((size, path, bytes));
    }
    out.sort();
    Ok(out)
}

impl TrustPolicy {
    /// The policy `log K` for each key.
    pub fn from_keys(keys: Vec<NoteVerifier>) -> Self {
        let mut p = Self::default();
        for key in keys {
            // A witness key never signs as the log.
            if !key.is_witness() {
                p.add_log(key, false);
            }
        }
        p
    }

    fn add_log(&mut self, key: NoteVerifier, revoked: bool) {
        match self.logs.iter_mut().find(|l| l.key == key) {
            Some(l) => l.revoked |= revoked,
            None => self.logs.push(LogKey {
                key,
                from: 0,
                until: u64::MAX,
                revoked,
            }),
        }
    }

    /// Adds a log key (as `--pubkey` does); a witness key is refused.
    pub fn add_log_key(&mut self, key: NoteVerifier) -> std::result::Result<(), String> {
        if key.is_witness() {
            return Err(format!(
                "{key} is a witness (cosignature) key, not a log key; list witnesses as `witness` lines of a trust policy"
            ));
        }
        self.add_log(key, false);
        Ok(())
    }

    /// Parses a policy file.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut p = Self::default();
        let mut seen_quorum = false;
        for (n, line) in text.lines().enumerate() {
            let at = |m: String| format!("line {}: {m}", n + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Never echoed: a line holding a private key is named as such, nothing more.
            if line.contains("PRIVATE+KEY+") {
                return Err(at(
                    "holds a private key; a policy names public (verifier) keys only".into(),
                ));
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let vkey = |v: &str, witness: bool| {
                let k = NoteVerifier::parse(v).map_err(|e| at(e.to_string()))?;
                if k.is_witness() != witness {
                    return Err(at(format!(
                        "{v} is not a {} key",
                        if witness {
                            "witness (0x04)"
                        } else {
                            "log (0x01)"
                        }
                    )));
                }
                Ok(k)
            };
            match words[..] {
                ["log", v, ref range @ ..] => {
                    let key = vkey(v, false)?;
                    p.add_log(key.clone(), false);
                    let Some(l) = p.logs.iter_mut().find(|l| l.key == key) else {
                        continue;
                    };
                    let mut rest = range.iter();
                    while let Some(word) = rest.next() {
                        let n = rest
                            .next()
                            .and_then(|n| parse_decimal(n))
                            .ok_or_else(|| at(format!("{word} needs a size")))?;
                        match *word {
                            "from" => l.from = l.from.max(n),
                            "until" => l.until = l.until.min(n),
                            _ => return Err(at(format!("cannot read {word:?} after a log key"))),
                        }
                    }
                }
                ["revoked", v] => p.add_log(vkey(v, false)?, true),
                ["witness", name, v] => {
                    if p.member(name).is_some() {
                        return Err(at(format!("{name} is defined twice")));
                    }
                    let key = vkey(v, true)?;
                    if p.witnesses.iter().any(|(_, k)| *k == key) {
                        return Err(at(format!("witness key {v} is listed twice")));
                    }
                    p.witnesses.push((name.to_owned(), key));
                }
                ["group", name, k, ref members @ ..] if !members.is_empty() => {
                    if p.member(name).is_some() {
                        return Err(at(format!("{name} is defined twice")));
                    }
                    let members = members
                        .iter()
                        .map(|m| p.member(m).ok_or_else(|| at(format!("unknown member {m}"))))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    if (1..members.len()).any(|i| members[..i].contains(&members[i])) {
                        return Err(at(format!("group {name} names a member twice")));
                    }
                    let need = match k {
                        "all" => members.len(),
                        "any" => 1,
                        k => parse_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|k| (1..=members.len()).contains(k))
                            .ok_or_else(|| {
                                at(format!(
                                    "threshold {k} is not all, any or 1..={}",
                                    members.len()
                                ))
                            })?,
                    };
                    p.groups.push(Group {
                        name: name.to_owned(),
                        need,
                        members,
                    });
                }
                ["quorum", _] if seen_quorum => {
                    return Err(at("a policy has at most one quorum line".into()));
                }
                ["quorum", "none"] => seen_quorum = true,
                ["quorum", name] => {
                    seen_quorum = true;
                    p.quorum = Some(
                        p.member(name)
                            .ok_or_else(|| at(format!("unknown quorum {name}")))?,
                    );
                }
                // Only a keyword is echoed, never the line.
                [word, ..] if word.len() <= 20 && word.bytes().all(|b| b.is_ascii_lowercase()) => {
                    return Err(at(format!("unknown keyword {word:?}")));
                }
                _ => {
                    return Err(at(
                        "not a policy line (log, witness, group, quorum, revoked)".into(),
                    ));
                }
            }
        }
        Ok(p)
    }

    fn member(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|(n, _)| n == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    /// True when the policy has a log key (a verifier with none can trust nothing).
    pub fn has_log_keys(&self) -> bool {
        self.logs.iter().any(|l| !l.revoked)
    }

    /// The policy with only the log keys named `origin`.
    pub fn for_origin(&self, origin: &str) -> Self {
        let mut p = self.clone();
        p.logs.retain(|l| l.key.name() == origin);
        p
    }

    /// True when any log key is named `origin`.
    pub fn has_key_named(&self, origin: &str) -> bool {
        self.logs.iter().any(|l| l.key.name() == origin)
    }

    /// True when checkpoints need witness cosignatures.
    pub fn needs_quorum(&self) -> bool {
        self.quorum.is_some()
    }

    /// Applies the key transitions of the ledger at `dir` for `origin`: narrows each rotated
    /// key's validity range. Checks, in order (LEDGER-FORMAT.md §11): parse, both keys in the
    /// policy (else the transition is ignored), both signatures, origin, size, one transition
    /// per new key.
    pub fn apply_transitions(
        &mut self,
        dir: &Path,
        origin: &str,
    ) -> Result<std::result::Result<(), TransitionFault>> {
        let mut seen_new = Vec::new();
        for (size, path, bytes) in read_transitions(dir)? {
            let where_ = path.display().to_string();
            let t = match Transition::parse(&bytes) {
                Ok(t) => t,
                Err(e) => return Ok(Err(TransitionFault::Corrupt(format!("{where_}: {e}")))),
            };
            let old = self.logs.iter().position(|l| l.key == t.old);
            let new = self.logs.iter().position(|l| l.key == t.new);
            let (Some(old), Some(new)) = (old, new) else {
                continue;
            };
            for key in [&t.old, &t.new] {
                if t.note
                    .signed_by(std::slice::from_ref(key))
                    .is_ok_and(|v| !v.is_empty())
                {
                    continue;
                }
                return Ok(Err(TransitionFault::BadSignature(format!(
                    "{where_}: not validly signed by {key}"
                ))));
            }
            if t.origin != origin || t.old.name() != origin || t.new.name() != origin {
                return Ok(Err(TransitionFault::OriginMismatch(format!(
                    "{where_}: transition for origin {:?}, the ledger is {origin:?}",
                    t.origin
                ))));
            }
            if t.size != size {
                return Ok(Err(TransitionFault::Corrupt(format!(
                    "{where_}: its size line says {}, its file name {size}",
                    t.size
                ))));
            }
            if seen_new.contains(&new) {
                return Ok(Err(TransitionFault::Corrupt(format!(
                    "{where_}: {} is the new key of two transitions",
                    t.new
                ))));
            }
            seen_new.push(new);
            self.logs[old].until = self.logs[old].until.min(t.size);
            self.logs[new].from = self.logs[new].from.max(t.size);
        }
        Ok(Ok(()))
    }

    /// Checks a checkpoint's log signature (a policy key valid at its size, not revoked) and,
    /// when a quorum is set, its witness cosignatures.
    pub fn check_checkpoint(&self, cp: &SignedCheckpoint) -> std::result::Result<(), Distrust> {
        self.check_checkpoint_as(cp, &cp.checkpoint.origin)
    }

    /// [`Self::check_checkpoint`], counting the log keys named `origin` (the ledger's) whatever
    /// origin the note names: a verifier then reports a note of another origin signed by the
    /// ledger's key as `origin-mismatch` (LEDGER-FORMAT.md §7 step 1) instead of ignoring it.
    pub fn check_checkpoint_as(
        &self,
        cp: &SignedCheckpoint,
        origin: &str,
    ) -> std::result::Result<(), Distrust> {
        let size = cp.checkpoint.size;
        self.check_log_signature(&cp.note, size, origin)?;
        self.check_cosignatures(&cp.note, size)
    }

    /// Checks a seal note (LEDGER-FORMAT.md §14) covering `size` records as a checkpoint of
    /// that size is checked, without the witness quorum (witnesses cosign checkpoints only).
    pub fn check_seal_note(
        &self,
        note: &Note,
        size: u64,
        origin: &str,
    ) -> std::result::Result<(), Distrust> {
        self.check_log_signature(note, size, origin)
    }

    /// A valid signature by a log key named `origin`, not revoked and valid at `size`.
    fn check_log_signature(
        &self,
        note: &Note,
        size: u64,
        origin: &str,
    ) -> std::result::Result<(), Distrust> {
        let keys: Vec<NoteVerifier> = self.logs.iter().map(|l| l.key.clone()).collect();
        let signed = note
            .signed_by(&keys)
            .map_err(|e| Distrust::BadSignature(e.to_string()))?;
        let mut refused = Vec::new();
        let mut valid = false;
        for i in signed {
            let l = &self.logs[i];
            if l.key.name() != origin {
                continue;
            }
            if l.revoked {
                refused.push(format!("{} is revoked", l.key));
            } else if size < l.from || size > l.until {
                refused.push(format!(
                    "{} is valid only for sizes {}..={} (rotation), not {size}",
                    l.key,
                    l.from,
                    if l.until == u64::MAX {
                        "∞".to_owned()
                    } else {
                        l.until.to_string()
                    }
                ));
            } else {
                valid = true;
            }
        }
        if !valid {
            if !refused.is_empty() {
                return Err(Distrust::Revoked(format!(
                    "checkpoint of size {size} is signed only by keys not valid for it: {}",
                    refused.join("; ")
                )));
            }
            let found: Vec<String> = note
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.id))
                .collect();
            return Err(Distrust::Untrusted(if found.is_empty() {
                "the note has no signature".into()
            } else {
                format!(
                    "no signature from a trusted key (signed by {})",
                    found.join(", ")
                )
            }));
        }
        Ok(())
    }

    /// Cosignatures by policy witnesses, checked whether or not a quorum is set, and the
    /// quorum when one is.
    fn check_cosignatures(&self, note: &Note, size: u64) -> std::result::Result<(), Distrust> {
        let wkeys: Vec<NoteVerifier> = self.witnesses.iter().map(|(_, k)| k.clone()).collect();
        let cosigned = note
            .signed_by(&wkeys)
            .map_err(|e| Distrust::BadSignature(format!("cosignature: {e}")))?;
        let Some(quorum) = &self.quorum else {
            return Ok(());
        };
        if self.met(quorum, &cosigned) {
            Ok(())
        } else {
            let names: Vec<&str> = cosigned
                .iter()
                .map(|&i| self.witnesses[i].0.as_str())
                .collect();
            Err(Distrust::NoQuorum(format!(
                "checkpoint of size {size} lacks the witness quorum (cosigned by {})",
                if names.is_empty() {
                    "no policy witness".to_owned()
                } else {
                    names.join(", ")
                }
            )))
        }
    }

    fn met(&self, m: &Member, cosigned: &[usize]) -> bool {
        match m {
            Member::Witness(i) => cosigned.contains(i),
            Member::Group(g) => {
                let g = &self.groups[*g];
                g.members.iter().filter(|m| self.met(m, cosigned)).count() >= g.need
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;

    fn cp(signer: &NoteSigner, size: u64) -> SignedCheckpoint {
        Checkpoint {
            origin: signer.name().into(),
            size,
            root: [size as u8; 32],
        }
        .sign(signer)
    }

    fn cosign(cp: &SignedCheckpoint, w: &NoteSigner) -> SignedCheckpoint {
        let text = cp.checkpoint.text();
        let bytes = format!("{}{}", cp.bytes, w.cosignature_line(&text, 1_700_000_000));
        SignedCheckpoint::parse(bytes.as_bytes()).unwrap()
    }

    #[test]
    fn quorum_groups_revocation_and_parse_errors() {
        let log = NoteSigner::from_seed("example.org/log", [1; 32]);
        let w: Vec<NoteSigner> = (0..3)
            .map(|i| NoteSigner::witness_from_seed(&format!("w{i}.example"), [10 + i; 32]))
            .collect();
        let text = format!(
            "# auditors' policy\nlog {}\nwitness a {}\nwitness b {}\nwitness c {}\ngroup two 2 a b c\nquorum two\n",
            log.verifier(),
            w[0].verifier(),
            w[1].verifier(),
            w[2].verifier()
        );
        let p = TrustPolicy::parse(&text).unwrap();
        let c = cp(&log, 5);
        assert!(matches!(p.check_checkpoint(&c), Err(Distrust::NoQuorum(_))));
        let c1 = cosign(&c, &w[0]);
        assert!(matches!(
            p.check_checkpoint(&c1),
            Err(Distrust::NoQuorum(_))
        ));
        let c2 = cosign(&c1, &w[2]);
        assert_eq!(p.check_checkpoint(&c2), Ok(()));
        // The same witness twice is one witness.
        assert!(p.check_checkpoint(&cosign(&c1, &w[0])).is_err());
        // A flipped cosignature is a bad signature, not an absent one.
        let mut bad = c2.bytes.clone().into_bytes();
        let at = bad.len() - 10;
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        if let Ok(bad) = SignedCheckpoint::parse(&bad) {
            assert!(matches!(
                p.check_checkpoint(&bad),
                Err(Distrust::BadSignature(_))
            ));
        }
        let revoked = TrustPolicy::parse(&format!(
            "log {}\nrevoked {}\n",
            log.verifier(),
            log.verifier()
        ))
        .unwrap();
        assert!(matches!(
            revoked.check_checkpoint(&c),
            Err(Distrust::Revoked(_))
        ));
        for bad in [
            "frobnicate x",
            "group g 3 a",
            "quorum nobody",
            "log notakey",
            "quorum none\nquorum none",
            "log example.org/x+00000000+AQ== until",
        ] {
            assert!(TrustPolicy::parse(bad).is_err(), "{bad}");
        }
        let other = NoteSigner::from_seed("example.org/log", [2; 32]);
        assert!(matches!(
            TrustPolicy::from_keys(vec![log.verifier()]).check_checkpoint(&cp(&other, 3)),
            Err(Distrust::Untrusted(_))
        ));
    }

    #[test]
    fn transitions_bound_each_key_to_its_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let old = NoteSigner::from_seed("example.org/log", [1; 32]);
        let new = NoteSigner::from_seed("example.org/log", [2; 32]);
        let keys = dir.path().join("keys");
        fs::create_dir_all(&keys).unwrap();
        fs::write(
            keys.join(format!("{:020}.transition", 10)),
            Transition::sign(&old, &new, 10),
        )
        .unwrap();
        let mut p = TrustPolicy::from_keys(vec![old.verifier(), new.verifier()]);
        p.apply_transitions(dir.path(), "example.org/log")
            .unwrap()
            .unwrap();
        assert_eq!(p.check_checkpoint(&cp(&old, 10)), Ok(()));
        assert!(matches!(
            p.check_checkpoint(&cp(&old, 11)),
            Err(Distrust::Revoked(_))
        ));
        assert!(matches!(
            p.check_checkpoint(&cp(&new, 9)),
            Err(Distrust::Revoked(_))
        ));
        assert_eq!(p.check_checkpoint(&cp(&new, 11)), Ok(()));
        // Ranges pinned in the policy hold even when the transition file is gone.
        let pinned = TrustPolicy::parse(&format!(
            "log {} until 10\nlog {} from 10\n",
            old.verifier(),
            new.verifier()
        ))
        .unwrap();
        assert!(matches!(
            pinned.check_checkpoint(&cp(&old, 11)),
            Err(Distrust::Revoked(_))
        ));
        assert!(matches!(
            pinned.check_checkpoint(&cp(&new, 9)),
            Err(Distrust::Revoked(_))
        ));
        assert_eq!(pinned.check_checkpoint(&cp(&new, 10)), Ok(()));
        // Signed by the old key alone: a bad transition.
        let text = Transition::text("example.org/log", &old.verifier(), &new.verifier(), 10);
        fs::write(
            keys.join(format!("{:020}.transition", 10)),
            format!("{text}\n{}", old.signature_line(&text)),
        )
        .unwrap();
        let mut p = TrustPolicy::from_keys(vec![old.verifier(), new.verifier()]);
        assert!(matches!(
            p.apply_transitions(dir.path(), "example.org/log").unwrap(),
            Err(TransitionFault::BadSignature(_))
        ));
    }
}
