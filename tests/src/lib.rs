//! Helpers for govtrail's integration tests: temporary ledgers with deterministic keys and
//! records, the independent Python verifier, and tamper tools that edit ledger files the way an
//! attacker would.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use ledger::{Ledger, NoteSigner, NoteVerifier, Record, VerifyOptions};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The origin used by test ledgers.
pub const ORIGIN: &str = "test.govtrail.example/ledger";

/// The deterministic signer of test ledgers.
pub fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, [42; 32])
}

/// A decision record as JSON for index `i` (varied fields, nested metadata).
pub fn decision_json(i: u64) -> String {
    let decision = ["allow", "deny", "ask", "warn"][(i % 4) as usize];
    let tool = ["Bash", "Edit", "Write"][(i % 3) as usize];
    format!(
        r#"{{"decision_id":"d-{i}","ts_us":{},"decision":"{decision}","engine":"tractatus","service":"BoundaryEnforcer","session_id":"s-{}","tool_name":"{tool}","tool_input":{{"command":"echo {i}"}},"rule_ids":["inst_016","inst_0{}"],"overhead_us":{},"metadata":{{"level1":{{"level2":{{"level3":{{"score":0.{i},"tag":"deep-{i}"}}}}}}}}}}"#,
        1_760_000_000_000_000 + i * 1000,
        i / 7,
        10 + i % 80,
        60_000 + (i * 7919) % 200_000
    )
}

/// A prepared record for index `i`.
pub fn record(i: u64) -> Record {
    Record::from_json(
        decision_json(i).as_bytes(),
        &format_args!("test record {i}"),
    )
    .unwrap()
}

/// Creates a ledger in `dir` with `n` records appended in commits of `per_commit`.
pub fn build_ledger(dir: &Path, n: u64, segment_records: u64, per_commit: usize) -> NoteVerifier {
    let s = signer();
    let vkey = s.verifier();
    let mut l = Ledger::create(dir, s, segment_records).unwrap();
    let records: Vec<Record> = (0..n).map(record).collect();
    for chunk in records.chunks(per_commit.max(1)) {
        l.append_batch(chunk).unwrap();
    }
    vkey
}

/// `(status, class, index)` as the Rust verifier reports them.
pub fn rust_verdict(
    dir: &Path,
    keys: &[NoteVerifier],
    anchors: &[PathBuf],
) -> (String, Option<String>, Option<u64>, u64) {
    let mut opts = VerifyOptions::new(keys.to_vec());
    for a in anchors {
        opts.anchors
            .push((a.display().to_string(), fs::read(a).unwrap()));
    }
    let report = ledger::verify(dir, &opts).unwrap();
    match report.failure {
        None => ("ok".into(), None, None, report.verified),
        Some(f) => (
            f.class.verdict().as_str().into(),
            Some(f.class.as_str().into()),
            f.index,
            report.verified,
        ),
    }
}

/// The Python interpreter of the test virtualenv (made by scripts/test.sh).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("GOVTRAIL_PYTHON") {
        return PathBuf::from(p);
    }
    let p = repo_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "no {}: run scripts/test.sh, which installs pyarrow, blake3, cryptography and duckdb",
        p.display()
    );
    p
}

/// `(status, class, index)` as the independent Python verifier reports them.
pub fn python_verdict(
    dir: &Path,
    keys: &[NoteVerifier],
    anchors: &[PathBuf],
) -> (String, Option<String>, Option<u64>, u64) {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/independent-verifier/govtrail_verify.py"))
        .arg(dir);
    for k in keys {
        cmd.arg("--pubkey").arg(k.to_string());
    }
    for a in anchors {
        cmd.arg("--anchor").arg(a);
    }
    let out = cmd.output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "python verifier said: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        v["status"].as_str().unwrap().to_owned(),
        v["class"].as_str().map(str::to_owned),
        v["index"].as_u64(),
        v["verified"].as_u64().unwrap(),
    )
}

/// `(status, class, index, verified)` from the independent Python verifier run with `args`
/// after the directory (e.g. `--pubkey K`, `--policy FILE`, `--anchor FILE`).
pub fn python_verdict_args(
    dir: &Path,
    args: &[String],
) -> (String, Option<String>, Option<u64>, u64) {
    let out = Command::new(python())
        .arg(repo_root().join("tests/independent-verifier/govtrail_verify.py"))
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "python verifier said: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        v["status"].as_str().unwrap_or("?").to_owned(),
        v["class"].as_str().map(str::to_owned),
        v["index"].as_u64(),
        v["verified"].as_u64().unwrap_or(u64::MAX),
    )
}

/// Segment paths of a ledger, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    ledger::Layout::new(dir)
        .segments()
        .unwrap()
        .into_iter()
        .map(|(_, _, p)| p)
        .collect()
}

/// Reads a segment as one batch plus its footer key-value metadata.
pub fn read_segment(path: &Path) -> (RecordBatch, Vec<(String, String)>) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = Arc::clone(b.schema());
    let batches: Vec<RecordBatch> = b.build().unwrap().map(Result::unwrap).collect();
    (
        arrow_select::concat::concat_batches(&schema, &batches).unwrap(),
        kv,
    )
}

/// Writes a segment back with the given footer metadata.
pub fn write_segment(path: &Path, batch: &RecordBatch, kv: &[(String, String)]) {
    let kv = kv
        .iter()
        .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
        .collect();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Rewrites a segment with its rows reordered, dropped or repeated as `rows` lists them.
pub fn reorder_rows(path: &Path, rows: &[u32]) {
    let (batch, kv) = read_segment(path);
    let idx = UInt32Array::from(rows.to_vec());
    let out = arrow_select::take::take_record_batch(&batch, &idx).unwrap();
    write_segment(path, &out, &kv);
}

/// Rewrites one column of a segment.
pub fn replace_column(path: &Path, name: &str, f: impl FnOnce(&ArrayRef) -> ArrayRef) {
    let (batch, kv) = read_segment(path);
    let i = batch.schema().index_of(name).unwrap();
    let mut cols = batch.columns().to_vec();
    cols[i] = f(&cols[i]);
    write_segment(
        path,
        &RecordBatch::try_new(batch.schema(), cols).unwrap(),
        &kv,
    );
}

/// Rebuilds a binary column with row `row` changed by `f`.
pub fn edit_binary(col: &ArrayRef, row: usize, f: impl FnOnce(&mut Vec<u8>)) -> ArrayRef {
    use arrow_array::cast::AsArray as _;
    let a = col.as_binary::<i32>();
    let mut values: Vec<Vec<u8>> = a.iter().map(|v| v.unwrap().to_vec()).collect();
    f(&mut values[row]);
    Arc::new(arrow_array::BinaryArray::from_iter_values(values))
}

/// Rebuilds a UTF-8 column with row `row` set to `value`.
pub fn edit_string(col: &ArrayRef, row: usize, value: &str) -> ArrayRef {
    use arrow_array::cast::AsArray as _;
    let a = col.as_string::<i32>();
    let mut values: Vec<Option<String>> = a.iter().map(|v| v.map(str::to_owned)).collect();
    values[row] = Some(value.to_owned());
    Arc::new(arrow_array::StringArray::from(values))
}

/// Rebuilds a 32-byte hash column from values.
pub fn hash_column(values: &[[u8; 32]]) -> ArrayRef {
    Arc::new(arrow_array::FixedSizeBinaryArray::try_from_iter(values.iter()).unwrap())
}

/// The WAL file of a ledger with records (the active one).
pub fn wal_path(dir: &Path) -> PathBuf {
    let mut wals: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    wals.sort();
    wals.pop().unwrap()
}

/// One WAL frame: kind and payload after the kind byte.
pub type WalFrame = (u8, Vec<u8>);

/// Splits a WAL file into its header and frames (written from LEDGER-FORMAT.md §5).
pub fn read_wal(path: &Path) -> (Vec<u8>, Vec<WalFrame>) {
    let data = fs::read(path).unwrap();
    let (head, mut rest) = data.split_at(24);
    let mut frames = Vec::new();
    while rest.len() >= 8 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let payload = &rest[8..8 + len];
        frames.push((payload[0], payload[1..].to_vec()));
        rest = &rest[8 + len..];
    }
    (head.to_vec(), frames)
}

/// Writes a WAL file from a header and frames.
pub fn write_wal(path: &Path, head: &[u8], frames: &[WalFrame]) {
    let mut out = head.to_vec();
    for (kind, body) in frames {
        let mut payload = vec![*kind];
        payload.extend_from_slice(body);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32(&payload).to_be_bytes());
        out.extend_from_slice(&payload);
    }
    fs::write(path, out).unwrap();
}

/// CRC-32 (IEEE 802.3, as zlib), written out here so the tests do not borrow the ledger's.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Where a segment's skip structures lie (LEDGER-FORMAT.md §14): the Thrift footer, then every
/// column and offset index range, then every bloom filter range, as byte ranges of the file.
pub fn skip_regions(
    path: &Path,
) -> (
    std::ops::Range<u64>,
    Vec<std::ops::Range<u64>>,
    Vec<std::ops::Range<u64>>,
) {
    let bytes = fs::read(path).unwrap();
    let n = bytes.len() as u64;
    let meta_len = u64::from(u32::from_le_bytes(
        bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap(),
    ));
    let footer = n - 8 - meta_len..n - 8;
    let meta = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(
        &bytes[footer.start as usize..footer.end as usize],
    )
    .unwrap();
    let range = |o: Option<i64>, l: Option<i32>| {
        o.zip(l)
            .map(|(o, l)| o as u64..o as u64 + l as u64)
            .into_iter()
    };
    let mut pages = Vec::new();
    let mut blooms = Vec::new();
    for rg in meta.row_groups() {
        for c in rg.columns() {
            pages.extend(range(c.column_index_offset(), c.column_index_length()));
            pages.extend(range(c.offset_index_offset(), c.offset_index_length()));
            blooms.extend(range(c.bloom_filter_offset(), c.bloom_filter_length()));
        }
    }
    (footer, pages, blooms)
}

/// Replaces every occurrence of `from` with `to` (same length) inside `ranges` of the file:
/// an edit of metadata that leaves every value in the pages as it was.
pub fn replace_in(path: &Path, ranges: &[std::ops::Range<u64>], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut bytes = fs::read(path).unwrap();
    let mut hits = 0;
    for r in ranges {
        let (s, e) = (r.start as usize, r.end as usize);
        let mut i = s;
        while i + from.len() <= e {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + from.len()].copy_from_slice(to);
                hits += 1;
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    fs::write(path, bytes).unwrap();
    hits
}
