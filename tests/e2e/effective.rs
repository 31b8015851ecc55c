//! Intended vs effective: gate decisions (PreToolUse hooks, through `govtrail hook` envelopes)
//! paired by tool-use id with what happened after them (PostToolUse, PermissionDenied), in the
//! `effective` view and in RCA, pinned in tests/golden/effective-session.txt
//! (`UPDATE_EXPECT=1` rewrites it).

use govtrail_tests::{repo_root, signer};
use schemas::ingest::{Options, ingest};
use schemas::{HookEnvelope, HookStream};

/// A `govtrail hook` envelope of one call: the payload of `event` for tool use `tool`, and
/// what the hook said (stdout) and how it ended.
fn call(n: i64, event: &str, tool: &str, stdout: &str, exit: i64) -> String {
    let stdin = serde_json::json!({
        "session_id": "effective-session", "cwd": "/w", "permission_mode": "default",
        "hook_event_name": event, "tool_name": "Bash",
        "tool_input": {"command": format!("run {tool}")}, "tool_use_id": tool,
    })
    .to_string();
    let mut env = HookEnvelope::new(format!("call-{n}"), 1_765_000_000_000_000 + n * 1_000_000);
    env.wall_us = Some(80_000);
    env.argv = vec!["hook.sh".into()];
    env.exit_code = Some(exit);
    env.set(HookStream::Stdin, stdin.as_bytes());
    env.set(HookStream::Stdout, stdout.as_bytes());
    env.set(
        HookStream::Stderr,
        if exit == 1 { b"hook crashed\n" } else { b"" },
    );
    String::from_utf8(env.to_line()).unwrap()
}

fn answer(decision: &str) -> String {
    serde_json::json!({"hookSpecificOutput": {
        "hookEventName": "PreToolUse", "permissionDecision": decision,
        "permissionDecisionReason": format!("policy says {decision}"),
    }})
    .to_string()
}

#[test]
fn a_session_shows_each_decisions_effective_outcome_and_divergence() {
    let lines = [
        // allow, and it ran.
        call(1, "PreToolUse", "toolu_allow", &answer("allow"), 0),
        call(2, "PostToolUse", "toolu_allow", "", 0),
        // deny, and it did not run.
        call(3, "PreToolUse", "toolu_deny", &answer("deny"), 0),
        // ask, and the user refused.
        call(4, "PreToolUse", "toolu_ask", &answer("ask"), 0),
        call(5, "PermissionDenied", "toolu_ask", "", 0),
        // the hook failed (exit 1: Claude Code goes on), and it ran.
        call(6, "PreToolUse", "toolu_failed_open", "", 1),
        call(7, "PostToolUse", "toolu_failed_open", "", 0),
        // deny, yet it ran (a later hook or the user overrode it).
        call(8, "PreToolUse", "toolu_deny_ran", &answer("deny"), 0),
        call(9, "PostToolUse", "toolu_deny_ran", "", 0),
        // allow, and the tool failed.
        call(10, "PreToolUse", "toolu_allow_failed", &answer("allow"), 0),
        call(11, "PostToolUseFailure", "toolu_allow_failed", "", 0),
    ];
    let out = ingest(
        lines.join("\n").as_bytes(),
        &Options {
            received_us: 1,
            ..Options::default()
        },
    );
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger::Ledger::create(tmp.path(), signer(), 1024).unwrap();
    let records: Vec<ledger::Record> = out
        .records
        .iter()
        .map(|(n, d)| ledger::Record::from_decision(d, &format_args!("line {n}")).unwrap())
        .collect();
    l.append_batch(&records).unwrap();
    drop(l);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let text = rt.block_on(async {
        let trail = query::Trail::open(tmp.path()).await.unwrap();
        let rows = trail
            .sql(
                "SELECT tool_use_id, decision, outcome, effective, divergence FROM effective \
                 ORDER BY idx",
            )
            .await
            .unwrap();
        let rca = query::report::rca::report(
            &trail,
            &query::report::rca::Options {
                session_id: "effective-session".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        format!(
            "{}\n\n{}",
            query::output::to_text(&rows).unwrap(),
            rca.to_text()
        )
    });
    let path = repo_root().join("tests/golden/effective-session.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_EXPECT=1 writes it)", path.display()));
    assert_eq!(want, text, "{} differs", path.display());
    for (tool, effective, divergence) in [
        ("toolu_allow", "ran", ""),
        ("toolu_deny", "not_run", ""),
        ("toolu_ask", "refused", "asked and refused"),
        ("toolu_failed_open", "ran", "failed open and ran"),
        ("toolu_deny_ran", "ran", "denied but ran"),
        ("toolu_allow_failed", "failed", "allowed but failed"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("{tool} ")))
            .unwrap();
        assert!(
            line.contains(effective) && line.contains(divergence),
            "{line}"
        );
    }
}
