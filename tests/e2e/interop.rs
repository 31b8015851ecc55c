//! Segments open unmodified in pyarrow and DuckDB, which count the rows and re-check hashes.

use govtrail_tests::{build_ledger, python, repo_root};

#[test]
fn pyarrow_and_duckdb_read_segments() {
    let dir = tempfile::tempdir().unwrap();
    build_ledger(dir.path(), 2500, 1000, 100);
    let script = repo_root().join("tests/independent-verifier/read_with_engines.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(dir.path().join("segments"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["files"], 2);
    assert_eq!(v["pyarrow_rows"], 2000);
    assert_eq!(v["duckdb_rows"], 2000);
    assert_eq!(v["duckdb_hashes_ok"], 2000);
    assert_eq!(v["duckdb_deny"], 500);
}

/// The ledger's checkpoints are C2SP signed notes that an independent implementation
/// (Cloudflare's `signed_note` crate) verifies with the same verifier key, and notes it signs
/// with our key file verify with ours.
#[test]
fn checkpoints_interoperate_with_an_independent_signed_note_implementation() {
    use govtrail_tests::signer;
    let dir = tempfile::tempdir().unwrap();
    build_ledger(dir.path(), 30, 10, 3);
    let vkey = signer().verifier().to_string();
    let theirs = signed_note::StandardVerifier::new(&vkey).unwrap();
    let known = signed_note::VerifierList::new(vec![Box::new(theirs)]);
    let mut notes: Vec<Vec<u8>> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    notes.push(
        ledger::inspect(dir.path())
            .unwrap()
            .latest
            .unwrap()
            .bytes
            .into_bytes(),
    );
    assert_eq!(
        notes.len(),
        3,
        "stable checkpoints at 12 and 24, and the newest"
    );
    for note in &notes {
        let parsed = signed_note::Note::from_bytes(note).unwrap();
        let (verified, unverified) = parsed.verify(&known).unwrap();
        assert_eq!((verified.len(), unverified.len()), (1, 0));
    }
    // The other way round: their signer, our private key file format, our verifier.
    let their_signer = signed_note::StandardSigner::new(&signer().to_text()).unwrap();
    let text = ledger::Checkpoint {
        origin: govtrail_tests::ORIGIN.into(),
        size: 7,
        root: [9; 32],
    }
    .text();
    let mut note = signed_note::Note::new(text.as_bytes(), &[]).unwrap();
    note.add_sigs(&[&their_signer]).unwrap();
    let ours = ledger::Note::parse(&note.to_bytes()).unwrap();
    assert_eq!(
        ours.verify(&[signer().verifier()]),
        Ok(vec![govtrail_tests::ORIGIN.to_owned()])
    );
    assert_eq!(ours.text, text);
}

/// A tlog-cosignature/v1 verifier written here from the C2SP spec on top of `signed_note`'s
/// `Verifier` trait, so that note parsing, key ids and signature dispatch are Cloudflare's and
/// the cosigned message and Ed25519 check are independent of `ledger::note`.
struct CosignatureV1 {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureV1 {
    fn from_vkey(vkey: &str) -> Self {
        use base64::Engine as _;
        let mut parts = vkey.splitn(3, '+');
        let (name, _, b64) = (parts.next().unwrap(), parts.next(), parts.next().unwrap());
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(raw[0], 0x04, "a cosignature key");
        Self {
            name: name.to_owned(),
            id: signed_note::key_id(name, &raw),
            key: ed25519_dalek::VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).unwrap(),
        }
    }
}

impl signed_note::Verifier for CosignatureV1 {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (Some(time), Some(sig)) = (sig.get(..8), sig.get(8..)) else {
            return false;
        };
        let time = u64::from_be_bytes(time.try_into().unwrap());
        let mut signed = format!("cosignature/v1\ntime {time}\n").into_bytes();
        signed.extend_from_slice(msg);
        ed25519_dalek::Signature::from_slice(sig)
            .is_ok_and(|s| self.key.verify_strict(&signed, &s).is_ok())
    }
}

/// Cosigned checkpoints parse with Cloudflare's tlog-checkpoint parser (`tlog_tiles`) and
/// their log signature and cosignature verify through `signed_note`; a note cosigned through
/// `signed_note` verifies under our trust policy's quorum.
#[test]
fn cosigned_checkpoints_interoperate_with_independent_implementations() {
    use govtrail_tests::signer;
    let dir = tempfile::tempdir().unwrap();
    build_ledger(dir.path(), 40, 16, 5);
    let witness = ledger::NoteSigner::witness_from_seed("witness.example/w1", [3; 32]);
    let log_policy = ledger::TrustPolicy::from_keys(vec![signer().verifier()]);
    let state = dir.path().join("w1.state");
    let out =
        ledger::witness_ledger(dir.path(), &witness, &log_policy, &state, 1_764_000_000).unwrap();
    let size = out.cosigned.checkpoint.size;
    let stored = std::fs::read(dir.path().join(format!("checkpoints/{size:020}.note"))).unwrap();

    let theirs = signed_note::Note::from_bytes(&stored).unwrap();
    let cp = tlog_tiles::Checkpoint::from_bytes(theirs.text()).unwrap();
    assert_eq!((cp.origin(), cp.size()), (govtrail_tests::ORIGIN, 40));
    assert_eq!(cp.hash().0, out.cosigned.checkpoint.root);
    let known = signed_note::VerifierList::new(vec![
        Box::new(signed_note::StandardVerifier::new(&signer().verifier().to_string()).unwrap()),
        Box::new(CosignatureV1::from_vkey(&witness.verifier().to_string())),
    ]);
    let (verified, unverified) = theirs.verify(&known).unwrap();
    assert_eq!((verified.len(), unverified.len()), (2, 0));
    // A flipped bit in the cosignature fails their verification.
    let mut bad = stored.clone();
    let at = bad.len() - 5;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    if let Ok(n) = signed_note::Note::from_bytes(&bad) {
        assert!(n.verify(&known).is_err());
    }

    // The other way round: a cosignature made through signed_note's Signer trait.
    struct TheirCosigner(ed25519_dalek::SigningKey, String, u32);
    impl signed_note::Signer for TheirCosigner {
        fn name(&self) -> &str {
            &self.1
        }
        fn key_id(&self) -> u32 {
            self.2
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
            use ed25519_dalek::Signer as _;
            let time = 1_764_000_500u64;
            let mut signed = format!("cosignature/v1\ntime {time}\n").into_bytes();
            signed.extend_from_slice(msg);
            let mut out = time.to_be_bytes().to_vec();
            out.extend_from_slice(&self.0.sign(&signed).to_bytes());
            Ok(out)
        }
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let mut raw = vec![0x04];
    raw.extend_from_slice(key.verifying_key().as_bytes());
    let name = "witness.example/theirs";
    let id = signed_note::key_id(name, &raw);
    let mut note = signed_note::Note::from_bytes(&stored).unwrap();
    note.add_sigs(&[&TheirCosigner(key, name.into(), id)])
        .unwrap();
    use base64::Engine as _;
    let vkey = format!(
        "{name}+{id:08x}+{}",
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    let policy = ledger::TrustPolicy::parse(&format!(
        "log {}\nwitness a {}\nwitness b {vkey}\ngroup both all a b\nquorum both\n",
        signer().verifier(),
        witness.verifier()
    ))
    .unwrap();
    let ours = ledger::SignedCheckpoint::parse(&note.to_bytes()).unwrap();
    assert_eq!(policy.check_checkpoint(&ours), Ok(()));
    assert!(
        policy.check_checkpoint(&out.cosigned).is_err(),
        "one of two witnesses"
    );
}

/// What query pruning relies on is really in the segment files: bloom filters on
/// `session_id` and `decision_id` that answer for present ids and reject absent ones, min/max
/// statistics on the typed columns (none on hashes and record bytes), and the page index.
#[test]
fn segments_carry_bloom_filters_statistics_and_the_page_index() {
    use parquet::file::properties::ReaderProperties;
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::{ReadOptionsBuilder, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    build_ledger(dir.path(), 2500, 1000, 100);
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let first = &files[0];
    let options = ReadOptionsBuilder::new()
        .with_page_index()
        .with_reader_properties(
            ReaderProperties::builder()
                .set_read_bloom_filter(true)
                .build(),
        )
        .build();
    let reader =
        SerializedFileReader::new_with_options(std::fs::File::open(first).unwrap(), options)
            .unwrap();
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let column = |name: &str| {
        (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    assert!(meta.offset_index().is_some(), "no offset index");
    assert!(meta.column_index().is_some(), "no column index");
    for rg in 0..meta.num_row_groups() {
        let group = meta.row_group(rg);
        for name in ["session_id", "decision_id"] {
            assert!(
                group.column(column(name)).bloom_filter_offset().is_some(),
                "{name}: no bloom filter"
            );
        }
        for name in ["idx", "ts", "session_id", "decision", "overhead_us"] {
            assert!(
                group.column(column(name)).statistics().is_some(),
                "{name}: no statistics"
            );
        }
        for name in ["record", "record_hash", "chain"] {
            assert!(
                group.column(column(name)).statistics().is_none(),
                "{name}: statistics on bytes that gain nothing from them"
            );
        }
        let rows = reader.get_row_group(rg).unwrap();
        let sessions = rows.get_column_bloom_filter(column("session_id")).unwrap();
        let ids = rows.get_column_bloom_filter(column("decision_id")).unwrap();
        // The first segment holds records 0..1000: sessions s-0..s-142 (i / 7).
        assert!(sessions.check("s-0") && sessions.check("s-142"));
        assert!(ids.check("d-0") && ids.check("d-999"));
        let absent = (0..1000)
            .filter(|i| ids.check(format!("d-{}", 100_000 + i).as_str()))
            .count();
        assert!(
            absent < 50,
            "{absent} of 1000 absent ids pass the bloom filter"
        );
    }
}
