//! The replay report as text, JSON, Markdown and JUnit XML. Each is a pure function of the
//! report, so equal reports give equal bytes.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::{IncidentVerdict, Report, Stop, Verification};

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

/// The report's JSON is [`json()`]'s: what `govtrail replay --format json` prints, and what a
/// server returns.
impl serde::Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json(self).serialize(s)
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
        "incidents": r.incidents.iter().map(|v| {
            let stop = |s: &Option<Stop>| s.as_ref().map(|s| json!({
                "step": s.step, "ts_us": s.ts_us, "index": s.record.index,
                "decision_id": s.record.decision_id, "from": s.record.from,
                "to": s.record.to.decision, "reason": s.record.to.reason, "rules": s.record.to.rules,
            }));
            json!({
                "id": v.incident.id, "session_id": v.incident.session_id, "ts_us": v.incident.ts_us,
                "tokens_wasted": v.incident.tokens_wasted, "minutes_lost": v.incident.minutes_lost,
                "verdict": v.verdict(), "steps": v.steps,
                "first_deny": stop(&v.first_deny), "first_ask": stop(&v.first_ask),
                "extra_denies": v.extra_denies, "extra_asks": v.extra_asks,
            })
        }).collect::<Vec<_>>(),
    })
}

/// One sentence on an incident's verdict.
fn incident_line(v: &IncidentVerdict) -> String {
    let i = &v.incident;
    let session = i.session_id.as_deref().unwrap_or("(no session)");
    let at = |s: &Stop| {
        let before = i
            .ts_us
            .map(|t| format!(", {:.1} s before the incident", (t - s.ts_us) as f64 / 1e6))
            .unwrap_or_default();
        format!(
            "step {}/{} ({}: recorded {}, now {}{}){before}",
            s.step,
            v.steps,
            s.record.decision_id,
            s.record.from,
            s.record.to.decision,
            s.record
                .to
                .reason
                .as_deref()
                .map(|x| format!(": {x}"))
                .unwrap_or_default()
        )
    };
    let what = match (v.verdict(), &v.first_deny, &v.first_ask) {
        ("stopped", Some(d), _) => format!("STOPPED: denied at {}", at(d)),
        ("asked", _, Some(a)) => format!("ASKED: a human would have been asked at {}", at(a)),
        ("not in selection", _, _) => {
            "not judged: no replayed decision of its session in this selection".into()
        }
        _ => format!(
            "NOT STOPPED: none of its {} decision(s) up to the incident is now denied or asked",
            v.steps
        ),
    };
    format!(
        "{} (session {session}; {} tokens, {} min): {what}; cost up to the incident: {} more denied, {} more asked",
        i.id, i.tokens_wasted, i.minutes_lost, v.extra_denies, v.extra_asks
    )
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
    if !r.incidents.is_empty() {
        let _ = writeln!(s, "\nincidents");
        for v in &r.incidents {
            let _ = writeln!(s, "  {}", incident_line(v));
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
    if !r.incidents.is_empty() {
        let _ = writeln!(s, "\n### Incidents\n");
        for v in &r.incidents {
            let _ = writeln!(s, "- {}", incident_line(v));
        }
    }
    s
}

/// The report as JUnit XML: one test case per cell of the matrix (flips fail), per failed
/// record and per incident (failing when not stopped), so CI systems show what changed.
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
    // An incident the bundle would not stop (or not even ask about) is a failure: CI can
    // require a rule change to stop the incidents it was written for.
    for v in &r.incidents {
        let name = esc(&format!("incident {}", v.incident.id));
        if v.verdict() == "not stopped" {
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"replay.incident\" name=\"{name}\"><failure message=\"not stopped\">{}</failure></testcase>",
                esc(&incident_line(v))
            );
        } else {
            let _ = writeln!(
                cases,
                "    <testcase classname=\"replay.incident\" name=\"{name}\"><system-out>{}</system-out></testcase>",
                esc(&incident_line(v))
            );
        }
    }
    let tests = r.matrix.len() + r.errors.len() + r.incidents.len();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"govtrail replay\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n{cases}  </testsuite>\n</testsuites>\n",
        tests,
        r.errors.len(),
        esc(&r.bundle_id),
        tests,
        r.errors.len(),
    )
}
