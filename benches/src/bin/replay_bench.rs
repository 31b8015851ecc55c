//! Replay throughput (issue 7): N recorded decisions (default 1,000,000) replayed against a
//! bundle on 2 threads, against bare regorus evaluation of the same inputs in the same run.
//!
//! The ledger holds what `govtrail decide` and the Tractatus audit log record: 70% `govtrail
//! decide` envelopes of Claude Code PreToolUse calls (Bash, Edit, Write, Read, Grep, with the
//! decision the bundle gave, as decide records it) and 30% Tractatus `auditLogs` documents
//! (mongoexport). `benches/run.sh` runs it with a small rule set (`benches/bundles/minimal`),
//! where the replay pipeline's own cost shows, and with the Tractatus example bundle, where
//! evaluation dominates. Each round times, in turn:
//! - **bare regorus**: the entrypoint evaluated on every input, already built as regorus
//!   values in memory (set_input + eval_rule, nothing else), on the same threads;
//! - **bare regorus from JSON**: the same, each input parsed from its JSON text first (what a
//!   program holding the inputs as JSON does), a second baseline;
//! - **replay, verified**: `replay::replay` with the signer's key: verify the ledger, read it,
//!   rebuild each input from its record, evaluate, build the report;
//! - **replay, unverified**: the same without verification.
//!
//! Usage: `replay_bench DIR [RECORDS] [RUNS] [THREADS] [BUNDLE]` (BUNDLE defaults to the
//! example bundle). DIR is reused when it holds a ledger of RECORDS records recorded with
//! BUNDLE. Adds to `benches/replay.json`, under the bundle's directory name: medians of RUNS
//! rounds after one warm-up, and the median of the per-round ratios.

use std::path::Path;
use std::time::Instant;

use govtrail_benches::{Rng, mongoexport_json, signer};
use ledger::{Ledger, Record};
use replay::{Bundle, Evaluator, Replayable, regorus, replay_input};
use serde_json::{Value, json};

const COMMANDS: [(&str, u32); 8] = [
    ("git status --short", 20),
    ("cargo test -p ledger", 15),
    ("npm run build", 10),
    ("ls -la src", 15),
    ("git diff HEAD~1 -- src/lib.rs", 10),
    ("grep -rn TODO src", 10),
    ("rm -rf target/tmp", 5),
    ("git push origin main", 5),
];
const EDITS: [(&str, u32); 6] = [
    ("/home/dev/app/src/lib.rs", 30),
    ("/home/dev/app/src/server.js", 20),
    ("/home/dev/app/public/index.html", 15),
    ("/home/dev/app/README.md", 20),
    ("/home/dev/app/.claude/instruction-history.json", 2),
    ("/home/dev/app/docs/guide.md", 13),
];
const CONTENTS: [(&str, u32); 4] = [
    ("fn main() {\n    println!(\"hello\");\n}\n", 50),
    ("<div class=\"card\">Status</div>\n", 30),
    ("<button onclick=\"go()\">Go</button>\n", 5),
    ("<script>window.x = 1;</script>\n", 5),
];

/// The Claude Code PreToolUse payload of call `i`.
fn payload(i: u64, rng: &mut Rng) -> Value {
    let session = format!("5f0c9a52-8d1e-4c3b-9a77-{:012x}", i / 200);
    let tool = *rng.pick(&[
        ("Bash", 40u32),
        ("Edit", 25),
        ("Write", 10),
        ("Read", 15),
        ("Grep", 10),
    ]);
    let input = match tool {
        "Bash" => json!({"command": rng.pick(&COMMANDS), "description": "step"}),
        "Edit" => {
            json!({"file_path": rng.pick(&EDITS), "old_string": "a", "new_string": rng.pick(&CONTENTS)})
        }
        "Write" => json!({"file_path": rng.pick(&EDITS), "content": rng.pick(&CONTENTS)}),
        "Read" => json!({"file_path": rng.pick(&EDITS)}),
        _ => json!({"pattern": "TODO", "path": "/home/dev/app/src"}),
    };
    json!({
        "session_id": session,
        "transcript_path": format!("/home/dev/.claude/projects/app/{session}.jsonl"),
        "cwd": "/home/dev/app",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": format!("toolu_{i:016x}"),
    })
}

/// Decide's envelope for call `i`: the payload decided as `govtrail decide` decides it
/// (replay::decide), recorded as it records it.
fn envelope(
    i: u64,
    eval: &mut Evaluator,
    bundle: &Bundle,
    rng: &mut Rng,
) -> anyhow::Result<schemas::HookEnvelope> {
    use replay::decide::{CallFacts, FailMode, decide_stdin, envelope};
    let started_us = 1_764_000_000_000_000i64 + i as i64 * 40_000;
    let stdin = payload(i, rng).to_string();
    let decided = decide_stdin(Ok(&stdin), |input| {
        (Some(bundle.id.clone()), eval.eval(input, started_us * 1000))
    });
    if let Some(e) = &decided.error {
        anyhow::bail!("call {i}: {e}");
    }
    let answer = decided.answer(FailMode::Closed);
    let id = format!("{started_us}-4242-{i:016x}");
    let facts = CallFacts {
        id: &id,
        started_us,
        wall_us: 900 + (rng.next_u64() % 600) as i64,
        fail: FailMode::Closed,
        evaluator: "in-process",
        server_error: None,
        stdin: stdin.as_bytes(),
    };
    Ok(envelope(&facts, &decided, &answer))
}

fn build(dir: &Path, n: u64, bundle: &Bundle) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut rng = Rng(0x7e91_a7e0_0051_0bad);
    let mut eval = Evaluator::new(bundle)?;
    let mut ledger = Ledger::create(dir, signer(), 1 << 20)?;
    let opts = schemas::ingest::Options::default();
    let chunk = 50_000u64;
    let mut i = 0;
    while i < n {
        let end = (i + chunk).min(n);
        let mut text = String::new();
        let mut hooks = String::new();
        for k in i..end {
            if k % 10 < 3 {
                text.push_str(&mongoexport_json(k));
                text.push('\n');
            } else {
                hooks.push_str(&String::from_utf8(
                    envelope(k, &mut eval, bundle, &mut rng)?.to_line(),
                )?);
                hooks.push('\n');
            }
        }
        let mut records = Vec::new();
        for (format, units) in [
            (schemas::ingest::Format::Tractatus, text),
            (schemas::ingest::Format::GovtrailHook, hooks),
        ] {
            let got = schemas::ingest::ingest(
                units.as_bytes(),
                &schemas::ingest::Options {
                    format: Some(format),
                    ..opts.clone()
                },
            );
            anyhow::ensure!(got.rejected.is_empty(), "{:?}", got.rejected.first());
            for (line, d) in &got.records {
                records.push(Record::from_decision(d, line)?);
            }
        }
        ledger.append_batch(&records)?;
        i = end;
    }
    ledger.seal()?;
    eprintln!("built {n} records in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `eval_one` on every item with `threads` engines (clones of `base`), each on a
/// contiguous chunk; how many succeeded.
fn on_threads<T: Sync>(
    base: &Evaluator,
    items: &[T],
    threads: usize,
    eval_one: impl Fn(&mut Evaluator, &T) -> bool + Sync,
) -> u64 {
    let chunk = items.len().div_ceil(threads).max(1);
    let eval_one = &eval_one;
    let done: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let mut eval = base.clone();
                s.spawn(move || part.iter().filter(|item| eval_one(&mut eval, item)).count() as u64)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    done.iter().sum()
}

/// Bare regorus: the entrypoint on every input, already a regorus value.
fn bare(base: &Evaluator, inputs: &[(regorus::Value, i64)], threads: usize) -> u64 {
    on_threads(base, inputs, threads, |eval, (input, now_ns)| {
        eval.eval_value(input.clone(), *now_ns).is_ok()
    })
}

/// Bare regorus as a program holding the inputs as JSON text would use it: parse each input
/// into a regorus value, then evaluate.
fn bare_from_json(base: &Evaluator, inputs: &[(String, i64)], threads: usize) -> u64 {
    on_threads(base, inputs, threads, |eval, (json, now_ns)| {
        serde_json::from_str::<regorus::Value>(json)
            .is_ok_and(|input| eval.eval_value(input, *now_ns).is_ok())
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/replay-bench".into()));
    let n: u64 = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let threads: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    let bundle_dir = args
        .next()
        .unwrap_or_else(|| "examples/bundles/tractatus".into());
    let bundle = Bundle::load(Path::new(&bundle_dir))?;
    let name = Path::new(&bundle_dir)
        .file_name()
        .map_or_else(|| bundle_dir.clone(), |n| n.to_string_lossy().into_owned());
    let have = ledger::inspect(&dir).map(|i| i.records()).unwrap_or(0);
    let stamp = dir.with_extension("bundle-id");
    if have != n || std::fs::read_to_string(&stamp).ok().as_deref() != Some(bundle.id.as_str()) {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        build(&dir, n, &bundle)?;
        std::fs::write(&stamp, &bundle.id)?;
    }
    // The inputs replay evaluates, built once, outside the timings.
    let mut inputs = Vec::new();
    let mut bad = None;
    ledger::scan(&dir, |i, _, bytes| match replay_input(bytes) {
        Ok(Replayable::Yes { input, now_ns }) => inputs.push((input, now_ns)),
        Ok(_) => {}
        Err(e) => bad = Some(format!("record {i}: {e}")),
    })?;
    if let Some(e) = bad {
        anyhow::bail!(e);
    }
    let texts = inputs
        .iter()
        .map(|(v, t)| Ok((serde_json::to_string(v)?, *t)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let base = Evaluator::new(&bundle)?;
    let trust = ledger::VerifyOptions::new(vec![signer().verifier()]);
    let opts = replay::Options {
        threads,
        ..replay::Options::default()
    };
    let mut rounds: Vec<[f64; 7]> = Vec::new();
    let mut report = None;
    for round in 0..=runs {
        let t = Instant::now();
        let ok = bare(&base, &inputs, threads);
        let bare_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ok_json = bare_from_json(&base, &texts, threads);
        let bare_json_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let r = replay::replay(&dir, &bundle, Some(&trust), &opts)?;
        let verified_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let u = replay::replay(&dir, &bundle, None, &opts)?;
        let unverified_s = t.elapsed().as_secs_f64();
        // What the replay does besides evaluating, on one thread: reading the ledger, reading
        // it while hashing every record (what verification adds), and reading it while
        // rebuilding every input.
        let t = Instant::now();
        let mut bytes = 0usize;
        ledger::scan(&dir, |_, _, b| bytes += b.len())?;
        let scan_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut folded = 0u8;
        ledger::scan(&dir, |_, _, b| folded ^= ledger::hash::record_hash(b)[0])?;
        let hash_s = t.elapsed().as_secs_f64();
        std::hint::black_box(folded);
        let t = Instant::now();
        let mut rebuilt = 0u64;
        ledger::scan(&dir, |_, _, b| {
            rebuilt += u64::from(matches!(replay_input(b), Ok(Replayable::Yes { .. })));
        })?;
        let rebuild_s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            rebuilt == inputs.len() as u64 && bytes > 0,
            "rebuilt {rebuilt}"
        );
        anyhow::ensure!(
            ok == inputs.len() as u64 && ok_json == ok,
            "bare evaluation failed on some inputs"
        );
        anyhow::ensure!(
            r.replayed == u.replayed && r.replayed == ok,
            "replayed {} of {ok}",
            r.replayed
        );
        eprintln!(
            "round {round}: bare {bare_s:.3} s, bare from JSON {bare_json_s:.3} s, replay verified {verified_s:.3} s, unverified {unverified_s:.3} s; one thread: scan {scan_s:.3} s, scan and hash {hash_s:.3} s, scan and rebuild inputs {rebuild_s:.3} s"
        );
        if round > 0 {
            rounds.push([
                bare_s,
                verified_s,
                unverified_s,
                scan_s,
                rebuild_s,
                hash_s,
                bare_json_s,
            ]);
        }
        report = Some(r);
    }
    let report = report.ok_or_else(|| anyhow::anyhow!("no rounds"))?;
    let col = |k: usize| median(rounds.iter().map(|r| r[k]).collect());
    let ratio = |k: usize| median(rounds.iter().map(|r| r[0] / r[k]).collect());
    let evaluated = inputs.len() as f64;
    let out = json!({
        "bundle": bundle_dir,
        "bundle_id": bundle.id,
        "records": n,
        "evaluated": inputs.len(),
        "threads": threads,
        "runs": runs,
        "flips": report.flips(),
        "errors": report.errors.len(),
        "bare_regorus_s": col(0),
        "replay_verified_s": col(1),
        "replay_unverified_s": col(2),
        "scan_one_thread_s": col(3),
        "scan_and_rebuild_inputs_one_thread_s": col(4),
        "scan_and_hash_one_thread_s": col(5),
        "bare_regorus_from_json_s": col(6),
        "bare_regorus_from_json_per_s": evaluated / col(6),
        // Parsing an input's JSON, µs of one thread a record: the median of the rounds'
        // differences between the two baselines (noise can make it negative when evaluation
        // dominates).
        "parse_input_json_us": median(
            rounds
                .iter()
                .map(|r| (r[6] - r[0]) * threads as f64 / evaluated * 1e6)
                .collect()
        ),
        "verified_vs_bare_from_json": median(rounds.iter().map(|r| r[6] / r[1]).collect()),
        "unverified_vs_bare_from_json": median(rounds.iter().map(|r| r[6] / r[2]).collect()),
        "bare_regorus_per_s": evaluated / col(0),
        "replay_verified_per_s": evaluated / col(1),
        "replay_unverified_per_s": evaluated / col(2),
        "verified_vs_bare": ratio(1),
        "unverified_vs_bare": ratio(2),
    });
    let path = Path::new("benches/replay.json");
    let mut all: serde_json::Map<String, Value> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    all.insert(name, out.clone());
    std::fs::write(path, serde_json::to_string_pretty(&all)? + "\n")?;
    println!("{out:#}");
    Ok(())
}
