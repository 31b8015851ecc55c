//! Shell completions and man pages generated from the clap definitions (issue 21): each names
//! every subcommand the binary has; `--version` names the formats it reads and writes.

use crate::{run, text};

/// The subcommands `govtrail --help` lists (its "Commands:" section, without `help`).
fn subcommands() -> Vec<String> {
    let o = run(&["--help"]);
    assert!(o.status.success(), "{}", text(&o));
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    let commands = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_default()
        .to_owned();
    let names: Vec<String> = commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() > 20, "{help}");
    names
}

#[test]
fn completions_and_man_pages_name_every_subcommand() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        for n in &names {
            assert!(script.contains(n.as_str()), "{shell} completion lacks {n}");
        }
    }
    // bash can load it.
    let o = run(&["completions", "bash"]);
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg("-c")
        .arg(String::from_utf8_lossy(&o.stdout).into_owned())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));

    let o = run(&["man"]);
    assert!(o.status.success(), "{}", text(&o));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(page.contains(".TH govtrail 1"), "{page}");
    for n in &names {
        // roff writes a hyphen as `\-`.
        assert!(
            page.contains(&n.replace('-', "\\-")),
            "the man page lacks {n}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&["man", "--out", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    for n in &names {
        let page = tmp.path().join(format!("govtrail-{n}.1"));
        assert!(page.exists(), "no {}", page.display());
    }

    let o = run(&["--version"]);
    let v = String::from_utf8_lossy(&o.stdout);
    assert!(
        v.contains("ledger format 1") && v.contains("records v1"),
        "{v}"
    );
}

/// Usage lines say which of the alternatives is needed, never that one of them is required
/// alone; the key and the public key can come from the environment (issue 21).
#[test]
fn usage_names_alternatives_and_keys_come_from_the_environment() {
    let o = run(&["verify"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("<--pubkey <PUBKEYS>|--policy <POLICY>>"),
        "{err}"
    );
    let o = run(&["prove"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("<--index <INDEX>|--decision-id <DECISION_ID>|--consistency-from"),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = crate::setup(tmp.path(), 1000);
    let input = tmp.path().join("in.ndjson");
    std::fs::write(&input, crate::line(0) + "\n").unwrap();
    let o = crate::bin()
        .args(["append", ledger.to_str().unwrap(), input.to_str().unwrap()])
        .env("GOVTRAIL_KEY", &key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = crate::bin()
        .args(["verify", ledger.to_str().unwrap()])
        .env("GOVTRAIL_PUBKEY", &vkey)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // The ledger too, for the commands whose one positional argument it is.
    for args in [
        vec!["verify"],
        vec!["show", "--index", "0"],
        vec!["inspect"],
    ] {
        let o = crate::bin()
            .args(&args)
            .env("GOVTRAIL_LEDGER", &ledger)
            .env("GOVTRAIL_PUBKEY", &vkey)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
}

/// Progress and colour only on a terminal: piped, `verify` writes its report and nothing else
/// (no carriage returns, no escape sequences).
#[test]
fn no_progress_or_colour_when_not_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key, vkey) = crate::setup(tmp.path(), 5);
    let input = tmp.path().join("in.ndjson");
    let lines: Vec<String> = (0..40).map(crate::line).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let bundle =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bundles/tractatus");
    for args in [
        vec![
            "append",
            ledger.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        vec![
            "verify",
            ledger.to_str().unwrap(),
            "--pubkey",
            vkey.to_str().unwrap(),
        ],
        vec![
            "replay",
            ledger.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            "--pubkey",
            vkey.to_str().unwrap(),
        ],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o));
        for out in [&o.stdout, &o.stderr] {
            assert!(
                !out.contains(&b'\r') && !out.contains(&0x1b),
                "{args:?}: {}",
                text(&o)
            );
        }
    }
}
