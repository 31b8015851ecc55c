//! The replay report as text, JSON, Markdown and JUnit XML. Each is a pure function of the
//! report, so equal reports give equal bytes.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::{Report, Verification};

fn horizon(r: &Report) -> String {
    match &r.verification {
        Verification::Verified {
            origin,
            verified,
            records,
        } => format!(
            "verified: records [0, {verified}) of {records} in {origin} are complete and unaltered under a trusted checkpoint; {} selected decision(s) lie beyond it",
            r.beyond_horizon
        ),
        Verification::Skipped => {
            "NOT VERIFIED: verification was skipped (--no-verify); the records replayed are not vouched for".into()
        }
    }
}

/// The report as JSON.
pub fn json(r: &Report) -> Value {
    let cells = |m: &std::collections::BTreeMap<(String, String), crate::FlipCell>, flips: bool| {
        m.iter()
            .filter(|((a, b), _)| (a != b) == flips)
            .map(|((a, b), c)| json!({"from": a, "to": b, "count": c.count, "samples": c.samples}))
            .collect::<Vec<_>>()
    };
    json!({
        "bundle": {"id": r.bundle_id, "revision": r.revision, "entrypoint": r.entrypoint},
        "verification": match &r.verification {
            Verification::Verified { origin, verified, records } =>
                json!({"status": "verified", "origin": origin, "verified": verified, "records": records, "beyond_horizon": r.beyond_horizon}),
            Verification::Skipped => json!({"status": "skipped"}),
        },
        "selection": r.selection,
        "decisions": r.decisions,
        "replayed": r.replayed,
        "unchanged": r.unchanged(),
        "flips": r.flips(),
        "flip_matrix": cells(&r.matrix, true),
        "unchanged_by_decision": cells(&r.matrix, false),
        "unrecorded": r.unrecorded.iter().map(|(d, c)| json!({"to": d, "count": c.count, "samples": c.samples})).collect::<Vec<_>>(),
        "not_replayable": r.not_replayable.iter().map(|(why, c)| json!({"reason": why, "count": c.count, "samples": c.samples})).collect::<Vec<_>>(),
        "errors": r.errors.iter().map(|e| json!({"index": e.index, "decision_id": e.decision_id, "message": e.message})).collect::<Vec<_>>(),
        "divergences": r.divergences.iter().map(|d| json!({
            "session_id": d.session_id, "step": d.step, "steps": d.steps,
            "index": d.first.index, "decision_id": d.first.decision_id,
            "from": d.first.from, "to": d.first.to.decision, "reason": d.first.to.reason, "rules": d.first.to.rules,
            "stricter": d.stricter, "looser": d.looser,
        })).collect::<Vec<_>>(),
    })
}

/// The report as plain text.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "bundle     {} ({})",
        r.bundle_id,
        r.revision.as_deref().unwrap_or("no revision")
    );
    let _ = writeln!(s, "selection  {}", r.selection);
    let _ = writeln!(s, "{}", horizon(r));
    let _ = writeln!(
        s,
        "decisions  {}: {} replayed, {} unchanged, {} flipped, {} not replayable, {} errors",
        r.decisions,
        r.replayed,
        r.unchanged(),
        r.flips(),
        r.not_replayable.values().map(|c| c.count).sum::<u64>(),
        r.errors.len()
    );
    if r.flips() > 0 {
        let _ = writeln!(s, "\nflips (recorded -> replayed)");
        for ((a, b), c) in r.matrix.iter().filter(|((a, b), _)| a != b) {
            let _ = writeln!(
                s,
                "  {a:>8} -> {b:<8} {:>8}   e.g. {}",
                c.count,
                c.samples.join(", ")
            );
        }
    }
    if !r.divergences.is_empty() {
        let _ = writeln!(s, "\nfirst divergence per session");
        for d in &r.divergences {
            let _ = writeln!(
                s,
                "  {}: step {}/{} ({}), {} -> {}{}; {} stricter, {} looser",
                d.session_id,
                d.step,
                d.steps,
                d.first.decision_id,
                d.first.from,
                d.first.to.decision,
                d.first
                    .to
                    .reason
                    .as_deref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default(),
                d.stricter,
                d.looser
            );
        }
    }
    if !r.unrecorded.is_empty() {
        let _ = writeln!(
            s,
            "\ninputs recorded without their decision (not flips): now"
        );
        for (d, c) in &r.unrecorded {
            let _ = writeln!(s, "  {d:>8} {:>8}   e.g. {}", c.count, c.samples.join(", "));
        }
    }
    if !r.not_replayable.is_empty() {
        let _ = writeln!(s, "\nnot replayable");
        for (why, c) in &r.not_replayable {
            let _ = writeln!(s, "  {:>8}  {why}   e.g. {}", c.count, c.samples.join(", "));
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(s, "\nevaluation errors");
        for e in r.errors.iter().take(20) {
            let _ = writeln!(
                s,
                "  record {} ({}): {}",
                e.index,
                e.decision_id,
                e.message.replace('\n', "\n    ")
            );
        }
        if r.errors.len() > 20 {
            let _ = writeln!(s, "  … and {} more (see --json)", r.errors.len() - 20);
        }
    }
    s
}

/// The report as Markdown (for a pull request comment).
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Replay of `{}`\n", r.bundle_id);
    let _ = writeln!(s, "- selection: {}", r.selection);
    let _ = writeln!(s, "- {}", horizon(r));
    let _ = writeln!(
        s,
        "- {} decisions: {} replayed, **{} flipped**, {} not replayable, {} errors\n",
        r.decisions,
        r.replayed,
        r.flips(),
        r.not_replayable.values().map(|c| c.count).sum::<u64>(),
        r.errors.len()
    );
    if r.flips() > 0 {
        let _ = writeln!(
            s,
            "| recorded | replayed | count | samples |\n|---|---|---:|---|"
        );
        for ((a, b), c) in r.matrix.iter().filter(|((a, b), _)| a != b) {
            let _ = writeln!(s, "| {a} | {b} | {} | {} |", c.count, c.samples.join(", "));
        }
        let _ = writeln!(s);
    }
    if !r.divergences.is_empty() {
        let _ = writeln!(
            s,
            "| session | first divergence | decision | change |\n|---|---|---|---|"
        );
        for d in &r.divergences {
            let _ = writeln!(
                s,
                "| {} | step {}/{} | {} | {} → {} |",
                d.session_id,
                d.step,
                d.steps,
                d.first.decision_id,
                d.first.from,
                d.first.to.decision
            );
        }
    }
    s
}

/// The report as JUnit XML: one test case per flipped cell of the matrix, per not-replayable
/// reason and per failed record, so CI systems show what changed.
pub fn junit(r: &Report) -> String {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut cases = String::new();
    let mut failures = 0;
    for ((a, b), c) in &r.matrix {
        let name = format!("{a} -> {b}");
        if a == b {
            let _ = writeln!(
                cases,
                "    <testcase classname=\"replay.unchanged\" name=\"{}\"/>",
                esc(&name)
            );
        } else {
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"replay.flip\" name=\"{}\"><failure message=\"{} decision(s) flipped\">{}</failure></testcase>",
                esc(&name),
                c.count,
                esc(&c.samples.join(", "))
            );
        }
    }
    for e in &r.errors {
        let _ = writeln!(
            cases,
            "    <testcase classname=\"replay.error\" name=\"record {}\"><error message=\"{}\"/></testcase>",
            e.index,
            esc(&e.message)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"govtrail replay\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n{cases}  </testsuite>\n</testsuites>\n",
        r.matrix.len() + r.errors.len(),
        r.errors.len(),
        esc(&r.bundle_id),
        r.matrix.len() + r.errors.len(),
        r.errors.len(),
    )
}
