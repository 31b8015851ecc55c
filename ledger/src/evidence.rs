//! Evidence packs (LEDGER-FORMAT.md §12): a self-contained folder proving records `[from, to)`
//! against a signed checkpoint ([`export_evidence`]), its [`Manifest`], and the reading of a
//! pack's files for the verifier. Witnessing is in `witness.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::SignedCheckpoint;
use crate::error::IoContext as _;
use crate::hash::{CHAIN_GENESIS, Hash, hash_record};
use crate::layout::{Layout, write_atomic};
use crate::merkle::Frontier;
use crate::policy::read_transitions;
use crate::segment::{SealRow, SegmentMeta, SegmentWriter};
use crate::{Error, Result};

/// First line of an evidence pack's manifest.
pub const EVIDENCE_HEADER: &str = "govtrail-evidence/v1";
/// The manifest's file name in a pack.
pub const EVIDENCE_FILE: &str = "EVIDENCE";

/// An evidence pack's manifest (LEDGER-FORMAT.md §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The ledger's origin.
    pub origin: String,
    /// First index in the pack.
    pub from: u64,
    /// One past the last index.
    pub to: u64,
    /// Chain value of record `from − 1` (zeros when `from` is 0).
    pub chain: Hash,
    /// Peaks of the tree of size `from`, largest first.
    pub peaks: Vec<Hash>,
    /// Size of the checkpoint the pack proves against.
    pub size: u64,
    /// Consistency proof from `to` to `size`.
    pub consistency: Vec<Hash>,
}

impl Manifest {
    /// The manifest text.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{EVIDENCE_HEADER}\norigin {}\nfrom {}\nto {}\nchain {}\n",
            self.origin,
            self.from,
            self.to,
            B64.encode(self.chain)
        );
        for p in &self.peaks {
            out.push_str(&format!("peak {}\n", B64.encode(p)));
        }
        out.push_str(&format!("size {}\n", self.size));
        for h in &self.consistency {
            out.push_str(&format!("consistency {}\n", B64.encode(h)));
        }
        out
    }

    /// Parses a manifest.
    pub fn parse(text: &[u8]) -> std::result::Result<Self, String> {
        let text = std::str::from_utf8(text).map_err(|_| "manifest is not UTF-8".to_owned())?;
        let text = text
            .strip_suffix('\n')
            .ok_or("manifest does not end with a newline")?;
        let mut lines = text.split('\n');
        if lines.next() != Some(EVIDENCE_HEADER) {
            return Err(format!("manifest does not start with {EVIDENCE_HEADER}"));
        }
        let hash = |v: &str| -> std::result::Result<Hash, String> {
            B64.decode(v)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| format!("{v:?} is not a base64 SHA-256 hash"))
        };
        let num = |v: &str| -> std::result::Result<u64, String> {
            crate::checkpoint::parse_decimal(v)
                .ok_or_else(|| format!("{v:?} is not a decimal without leading zeros"))
        };
        let mut field = |name: &str| -> std::result::Result<String, String> {
            let line = lines.next().unwrap_or_default();
            line.strip_prefix(name)
                .and_then(|l| l.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| format!("expected a {name} line, found {line:?}"))
        };
        let origin = field("origin")?;
        crate::note::check_key_name(&origin).map_err(|e| e.to_string())?;
        let from = num(&field("from")?)?;
        let to = num(&field("to")?)?;
        let chain = hash(&field("chain")?)?;
        let rest: Vec<&str> = lines.collect();
        let mut peaks = Vec::new();
        let mut i = 0;
        while let Some(p) = rest.get(i).and_then(|l| l.strip_prefix("peak ")) {
            peaks.push(hash(p)?);
            i += 1;
        }
        let size = rest
            .get(i)
            .and_then(|l| l.strip_prefix("size "))
            .ok_or("expected a size line after the peaks")?;
        let size = num(size)?;
        let consistency = rest[i + 1..]
            .iter()
            .map(|l| {
                l.strip_prefix("consistency ")
                    .ok_or_else(|| format!("unexpected line {l:?}"))
                    .and_then(hash)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if from >= to || to > size {
            return Err(format!(
                "range [{from}, {to}) is empty or beyond the checkpoint size {size}"
            ));
        }
        if consistency.len() > 63 {
            return Err("more than 63 consistency hashes".into());
        }
        Ok(Self {
            origin,
            from,
            to,
            chain,
            peaks,
            size,
            consistency,
        })
    }
}

const SPEC: &str = include_str!("../../docs/LEDGER-FORMAT.md");
/// The independent verifier (Python; blake3 and cryptography from PyPI), so that the pack
/// holds the second verifier its README names.
const VERIFIER: &str = include_str!("../../tests/independent-verifier/govtrail_verify.py");

/// Writes an evidence pack of records `[from, to)` of the ledger at `dir` into the new
/// directory `out`, proving them against the newest checkpoint. Returns the manifest.
pub fn export_evidence(dir: &Path, from: u64, to: u64, out: &Path) -> Result<Manifest> {
    let bad = |message: String| Error::Layout {
        dir: dir.to_path_buf(),
        message,
    };
    let config = Layout::new(dir).read_config()?;
    let newest = crate::inspect(dir)?.latest.map_or(0, |c| c.checkpoint.size);
    if from >= to || to > newest {
        return Err(bad(format!(
            "range [{from}, {to}) must be non-empty and end at most at the newest checkpoint's size {newest}"
        )));
    }
    let consistency = crate::proof::prove_consistency(dir, to)?;
    let checkpoint = consistency.checkpoint.clone();
    let size = checkpoint.checkpoint.size;
    if to > size {
        return Err(bad(format!(
            "range [{from}, {to}) must be non-empty and end at most at the newest checkpoint's size {size}"
        )));
    }
    if out.exists() && fs::read_dir(out).ctx("list", out)?.next().is_some() {
        return Err(Error::Layout {
            dir: out.to_path_buf(),
            message: "the evidence pack's directory exists and is not empty".into(),
        });
    }
    let segments = out.join("segments");
    crate::layout::create_private_dir_all(&segments).ctx("create", &segments)?;
    let seg_path = segments.join(crate::segment::file_name(from, to));
    let meta = SegmentMeta {
        origin: config.origin.clone(),
        start: from,
        end: to,
        chain_end: None,
        frontier: None,
    };
    let mut writer = SegmentWriter::create(&seg_path, &meta)?;
    let mut chain = CHAIN_GENESIS;
    let mut start_chain = CHAIN_GENESIS;
    let mut frontier = Frontier::new();
    let mut peaks = None;
    let mut failed = None;
    crate::scan(dir, |idx, ts_us, record| {
        if idx >= to || failed.is_some() {
            return;
        }
        if idx == from {
            start_chain = chain;
            peaks = Some(frontier.peaks().to_vec());
        }
        let h = hash_record(&chain, idx, ts_us, record);
        chain = h.chain;
        if idx < from {
            frontier.push(h.leaf);
        } else if let Err(e) = writer.push(&SealRow {
            idx,
            ts_us,
            record,
            hashes: h,
        }) {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    writer.finish()?;
    let manifest = Manifest {
        origin: config.origin.clone(),
        from,
        to,
        chain: start_chain,
        peaks: peaks.ok_or_else(|| bad(format!("the ledger holds no record {from}")))?,
        size,
        consistency: consistency.path,
    };
    // The stored note of that size may carry witness cosignatures.
    let note = fs::read(Layout::new(dir).checkpoint(size))
        .ok()
        .filter(|b| SignedCheckpoint::parse(b).is_ok_and(|cp| cp.note.text == checkpoint.note.text))
        .unwrap_or_else(|| checkpoint.bytes.clone().into_bytes());
    fs::write(out.join("checkpoint.note"), note).ctx("write", out)?;
    let transitions = read_transitions(dir)?;
    let mut vkeys = vec![config.writer_vkey.clone()];
    if !transitions.is_empty() {
        let keys = out.join("keys");
        crate::layout::create_private_dir_all(&keys).ctx("create", &keys)?;
        for (_, path, bytes) in &transitions {
            if let Some(name) = path.file_name() {
                fs::write(keys.join(name), bytes).ctx("write", &keys)?;
            }
            if let Ok(t) = crate::policy::Transition::parse(bytes) {
                vkeys.push(t.old.to_string());
            }
        }
    }
    vkeys.sort();
    vkeys.dedup();
    fs::write(out.join("log.vkey"), vkeys.join("\n") + "\n").ctx("write", out)?;
    fs::write(out.join("LEDGER-FORMAT.md"), SPEC).ctx("write", out)?;
    fs::write(out.join("govtrail_verify.py"), VERIFIER).ctx("write", out)?;
    fs::write(out.join("README.md"), readme(&manifest)).ctx("write", out)?;
    write_atomic(&out.join(EVIDENCE_FILE), manifest.to_text().as_bytes())?;
    Ok(manifest)
}

fn readme(m: &Manifest) -> String {
    format!(
        "# Evidence pack: records [{from}, {to}) of {origin}\n\n\
This folder proves that decision records {from} to {last} (inclusive) are, byte for byte, records\n\
{from}..{last} of the ledger `{origin}` whose signed checkpoint of size {size} is\n\
`checkpoint.note`. It needs nothing else: no network, no other part of the ledger.\n\n\
| file | what it is |\n|---|---|\n\
| `EVIDENCE` | manifest: range, the tree state before the range, the consistency proof |\n\
| `segments/*.parquet` | the records, one Parquet file readable by any engine (`record` holds the exact bytes) |\n\
| `checkpoint.note` | the log's signed checkpoint (C2SP tlog-checkpoint), with any witness cosignatures |\n\
| `keys/` | key-rotation notes, if the log rotated its key |\n\
| `log.vkey` | the log's public key(s) **as the exporter stated them**: compare them with a copy you trust |\n\
| `LEDGER-FORMAT.md` | the format specification (version 1); §12 says how a pack is verified |\n\
| `govtrail_verify.py` | an independent verifier written from that specification (Python 3 with `pip install blake3 cryptography`) |\n\n\
Verify with a public key you trust (or a policy file, `--policy`):\n\n\
```sh\ngovtrail verify --evidence . --pubkey TRUSTED.vkey\n\
python3 govtrail_verify.py --evidence . --pubkey TRUSTED.vkey   # the independent verifier\n```\n\n\
Nothing in the manifest is trusted: a wrong peak, chain value or proof changes the recomputed\n\
root and verification fails.\n",
        from = m.from,
        to = m.to,
        last = m.to - 1,
        origin = m.origin,
        size = m.size,
    )
}

/// Files of an evidence pack, for the verifier.
pub(crate) struct Pack {
    pub(crate) manifest: Manifest,
    pub(crate) checkpoint: (PathBuf, Vec<u8>),
    pub(crate) segment: PathBuf,
}

/// Reads a pack's manifest and locates its files; `Err(detail)` when malformed.
pub(crate) fn open_pack(dir: &Path) -> Result<std::result::Result<Pack, String>> {
    let regular = |p: &Path| -> Result<Vec<u8>> {
        if !fs::symlink_metadata(p).ctx("stat", p)?.is_file() {
            return Err(Error::Layout {
                dir: dir.to_path_buf(),
                message: format!("{} is not a regular file", p.display()),
            });
        }
        fs::read(p).ctx("read", p)
    };
    let path = dir.join(EVIDENCE_FILE);
    let bytes = regular(&path)?;
    let manifest = match Manifest::parse(&bytes) {
        Ok(m) => m,
        Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
    };
    let cp_path = dir.join("checkpoint.note");
    if !fs::symlink_metadata(&cp_path).is_ok_and(|m| m.is_file()) {
        return Ok(Err(format!(
            "{} is missing or not a regular file",
            cp_path.display()
        )));
    }
    let checkpoint = regular(&cp_path)?;
    let segment = dir
        .join("segments")
        .join(crate::segment::file_name(manifest.from, manifest.to));
    if !fs::symlink_metadata(&segment).is_ok_and(|m| m.is_file()) {
        return Ok(Err(format!(
            "{} is missing or not a regular file",
            segment.display()
        )));
    }
    Ok(Ok(Pack {
        manifest,
        checkpoint: (cp_path, checkpoint),
        segment,
    }))
}
