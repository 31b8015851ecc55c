//! The dashboard (docs/SERVER.md §9) in Debian's Chromium, driven by playwright-core
//! (tests/browser/run.mjs): every page against a `govtrail demo` ledger, its figures compared
//! with what `govtrail report`, `query` and `replay` compute on the same ledger, axe-core on
//! each page, the session cookie, cross-site and read-only refusals, and the live tiles. And
//! `govtrail demo` as a newcomer runs it: built, served, the printed URL shows data.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::serve::{Served, request, token};
use crate::{bin, run, text};

/// Where the browser tests' Node packages are (installed by scripts/test.sh).
fn browser_dir() -> PathBuf {
    let dir = govtrail_tests::repo_root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists() && chromium().exists(),
        "the browser tests need Chromium and tests/browser/node_modules: run scripts/test.sh \
         (apt-get install chromium; npm ci --prefix tests/browser)"
    );
    dir
}

fn chromium() -> PathBuf {
    std::env::var_os("GOVTRAIL_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// `govtrail demo --no-serve` with `n` decisions in `dir`.
fn demo(dir: &Path, n: u64) {
    let o = run(&[
        "demo",
        dir.to_str().unwrap(),
        "--decisions",
        &n.to_string(),
        "--no-serve",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

fn json_of(args: &[&str]) -> Value {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Milliseconds as the dashboard shows them.
fn ms(v: &Value) -> String {
    format!("{:.2} ms", v.as_f64().unwrap() / 1000.0)
}

fn thousands(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn page<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no page {name} in {out}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_page_in_chromium_matches_the_cli_passes_axe_and_refuses_what_it_must() {
    let browser = browser_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    demo(&dir, 6_000);
    let (ledger, key, vkey) = (
        dir.join("ledger"),
        dir.join("ledger.key"),
        dir.join("ledger.vkey"),
    );
    let state = dir.join("ledger.server");
    let tokens = state.join("tokens.json");
    let admin = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let read = std::fs::read_to_string(dir.join("read.token")).unwrap();
    let ingest = token(&tokens, "ingest", &["ingest"]);
    let bundles = dir.join("bundles");
    let server = Served::start(
        &ledger,
        &key,
        &state,
        &[
            "--tokens",
            tokens.to_str().unwrap(),
            "--replay-bundles",
            bundles.to_str().unwrap(),
        ],
    );
    let base = format!("http://{}", server.addr);

    // What the CLI computes on the same ledger (read while the server holds it).
    let l = ledger.to_str().unwrap();
    let overhead = json_of(&["report", "overhead", l, "--json"]);
    let by_service = json_of(&[
        "report",
        "overhead",
        l,
        "--json",
        "--by",
        "service",
        "--compare",
        "tractatus-2026.11",
        "tractatus-2026.12",
    ]);
    let newest = json_of(&[
        "query",
        l,
        "--format",
        "json",
        "SELECT max(idx) AS m FROM decisions",
    ]);
    let mut node = Command::new("node");
    node.arg(browser.join("run.mjs"))
        .current_dir(&browser)
        .env("GOVTRAIL_URL", &base)
        .env("GOVTRAIL_ADMIN_TOKEN", admin.trim())
        .env("GOVTRAIL_READ_TOKEN", read.trim())
        .env("GOVTRAIL_CHROMIUM", chromium())
        .env("GOVTRAIL_LIVE_FILE", "1")
        .env("GOVTRAIL_KEEP", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(shots) = std::env::var_os("GOVTRAIL_SCREENSHOTS") {
        node.env("GOVTRAIL_SCREENSHOTS", shots);
    }
    let mut child = node.spawn().unwrap();
    // The live step: once the overview is open, append one record; its tile must change.
    let stderr = child.stderr.take().unwrap();
    let mut said = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line == "live: ready" {
            let body = r#"{"decision_id":"live-1","ts_us":1793700000000000,"decision":"allow"}"#;
            let a = request(
                &server.addr,
                "POST",
                "/v1/decisions",
                Some(&ingest),
                &[],
                body.as_bytes(),
            );
            assert_eq!(a.status, 200, "{}", a.text());
        }
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "run.mjs failed:\n{said}");
    let out: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{said}", String::from_utf8_lossy(&o.stdout)));
    // What the browser saw, kept for a failure's diagnosis.
    let seen = std::env::temp_dir().join("govtrail-dashboard-browser.json");
    std::fs::write(&seen, serde_json::to_vec_pretty(&out).unwrap()).unwrap();
    eprintln!("what the browser saw: {}", seen.display());

    // Every page: 200, no serious or critical accessibility violation, no console error (a
    // CSP violation would be one).
    for p in out["pages"].as_array().unwrap() {
        assert_eq!(p["status"], 200, "{p}");
        assert_eq!(
            p["axe"],
            Value::Array(vec![]),
            "axe on {}: {}",
            p["name"],
            p["axe"]
        );
        assert_eq!(p["console_errors"], Value::Array(vec![]), "{}", p["name"]);
    }
    // Login: the token never in a URL; the cookie HttpOnly and SameSite=Strict, not readable
    // by the page.
    let login = &out["login"];
    for u in strings(&login["history_urls"]) {
        assert!(!u.contains("gvt_"), "{u}");
    }
    let cookie = &login["cookies"].as_array().unwrap()[0];
    assert_eq!(cookie["name"], "govtrail_session");
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Strict");
    assert!(
        !login["document_cookie"]
            .as_str()
            .unwrap()
            .contains("govtrail_session")
    );

    // Overview = report overhead (summaries) and the verification the demo stored.
    let f = &page(&out, "overview")["figures"];
    let t = &overhead["total"];
    // Exact when the report scanned, from the summaries' histograms when it did not.
    let pct = |p: &str| {
        let exact = &t[format!("{p}_us")];
        ms(if exact.is_null() {
            &t[format!("{p}_approx_us")]
        } else {
            exact
        })
    };
    assert_eq!(strings(&f["p50"]), [pct("p50")]);
    assert_eq!(strings(&f["p95"]), [pct("p95")]);
    assert_eq!(strings(&f["p99"]), [pct("p99")]);
    assert_eq!(
        strings(&f["decisions"]),
        [thousands(t["decisions"].as_i64().unwrap())]
    );
    assert_eq!(strings(&f["horizon"]), ["6,000"]);
    let bars: i64 = strings(&f["series_decisions"])
        .iter()
        .map(|r| r.parse::<i64>().unwrap())
        .sum();
    assert_eq!(bars, 6_000, "the series' bars count every decision");
    // Decisions: newest first, filters and the cursor in the URL, a drill-down whose proof
    // verifies offline with the record's bytes.
    let first = strings(&page(&out, "decisions")["figures"]["first_idx"]);
    assert_eq!(first[0], newest[0]["m"].to_string());
    let denied = page(&out, "decisions-denied");
    assert!(
        strings(&denied["figures"]["decision"])
            .iter()
            .all(|d| d == "deny")
    );
    let idx: Vec<u64> = strings(&denied["figures"]["idx"])
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    let next: Vec<u64> = strings(&denied["next_idx"])
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(idx.len(), 20);
    assert!(
        denied["next_url"]
            .as_str()
            .unwrap()
            .contains("decision=deny")
    );
    assert!(
        next.iter().all(|n| n < idx.last().unwrap()),
        "{idx:?} then {next:?}"
    );
    let one = page(&out, "decision");
    assert_eq!(strings(&one["figures"]["decision"]), ["deny"]);
    // Its effective outcome = `govtrail show`'s.
    let index = one["path"].as_str().unwrap().rsplit('/').next().unwrap();
    let shown = json_of(&["show", l, "--index", index, "--json"]);
    let effective = &strings(&one["figures"]["effective"])[0];
    let want = shown["effective"]
        .as_str()
        .expect("a denied gate of the demo has an effective outcome");
    assert!(effective.starts_with(want), "{effective} / {shown}");
    if let Some(d) = shown["divergence"].as_str() {
        assert!(effective.contains(d), "{effective} / {shown}");
    }
    let proof = tmp.path().join("one.proof");
    let record = tmp.path().join("one.json");
    std::fs::write(&proof, one["proof"].as_str().unwrap()).unwrap();
    std::fs::write(&record, &strings(&one["figures"]["record"])[0]).unwrap();
    let o = run(&[
        "verify-proof",
        "--pubkey",
        vkey.to_str().unwrap(),
        proof.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Sessions sorted by divergences; the first one's page = report rca.
    let s = page(&out, "sessions");
    let div: Vec<i64> = strings(&s["figures"]["divergences"])
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
    assert!(
        div.windows(2).all(|w| w[0] >= w[1]) && div[0] > 0,
        "{div:?}"
    );
    let sid = &strings(&s["figures"]["session"])[0];
    let rca = json_of(&["report", "rca", l, "--session", sid, "--json"]);
    let session = page(&out, "session");
    assert_eq!(
        strings(&session["figures"]["adverse"]),
        [rca["adverse"].to_string()]
    );
    let counts: Vec<String> = rca["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| thousands(v.as_i64().unwrap()))
        .collect();
    assert_eq!(strings(&session["figures"]["counts"]), counts);
    assert_eq!(
        session["figures"]["timeline_rows"]
            .as_array()
            .unwrap()
            .len(),
        rca["timeline"].as_array().unwrap().len()
    );
    // Overhead by service with the two rule sets compared = report overhead.
    let o = page(&out, "overhead");
    let shown = strings(&o["figures"]["comparison"]);
    let groups = by_service["comparison"]["groups"].as_array().unwrap();
    assert_eq!(shown.len(), groups.len());
    let mut with_ci = 0;
    for (row, g) in shown.iter().zip(groups) {
        let Some(r) = g["p50_ratio"].as_f64() else {
            assert!(row.contains('—'), "{row} / {g}");
            continue;
        };
        let (lo, hi) = (
            g["p50_ci"][0].as_f64().unwrap(),
            g["p50_ci"][1].as_f64().unwrap(),
        );
        assert!(lo <= r && r <= hi, "{g}");
        assert!(
            row.contains(&format!("{r:.3} [{lo:.3}, {hi:.3}]")),
            "{row} / {g}"
        );
        with_ci += 1;
    }
    assert!(with_ci >= 4, "every gating service compares: {shown:?}");
    let export = out["actions"]["export"]["text"].as_str().unwrap();
    assert!(
        export.starts_with("service,compared_rule_set,decisions"),
        "{export}"
    );
    // The evidence pack: a .tar.gz that unpacks to a pack `verify --evidence` accepts.
    let name = out["actions"]["evidence"]["name"].as_str().unwrap();
    assert_eq!(name, "evidence-100-200.tar.gz");
    let o = Command::new("tar")
        .args(["-xzf", name])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "verify",
        "--evidence",
        tmp.path().join("evidence-100-200").to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Actions an admin may run.
    assert!(strings(&out["actions"]["verify"]["verdict"])[0].contains("ok"));
    let replay = json_of(&[
        "replay",
        l,
        "--bundle",
        bundles.join("tractatus").to_str().unwrap(),
        "--pubkey",
        vkey.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let r = &page(&out, "replay-run")["figures"];
    assert!(strings(&r["replayed"])[0].starts_with(&replay["replayed"].to_string()));
    assert_eq!(strings(&r["flips"]), [replay["flips"].to_string()]);
    assert!(
        page(&out, "replay-run")["junit"]
            .as_str()
            .unwrap()
            .contains("<testsuite")
    );
    // ROI = report roi with the demo's inputs.
    let roi = json_of(&[
        "report",
        "roi",
        l,
        "--incidents",
        state.join("roi/incidents.csv").to_str().unwrap(),
        "--cost",
        state.join("roi/cost.json").to_str().unwrap(),
        "--json",
    ]);
    let money = |m: &Value| format!("{:.2} USD", m.as_i64().unwrap() as f64 / 1e6);
    let f = &page(&out, "roi")["figures"];
    assert_eq!(strings(&f["cost"]), [money(&roi["cost"]["micros"])]);
    assert_eq!(strings(&f["low"]), [money(&roi["prevented_low_micros"])]);
    assert_eq!(strings(&f["high"]), [money(&roi["prevented_high_micros"])]);
    // Live: the tile changed after the append, without a reload.
    let live = &out["actions"]["live"];
    assert_ne!(live["before"], live["after"], "{live}");
    // The chart also counts the appended record (swapped in without a reload). Before the
    // append, the bars counted the demo's decisions.
    assert_eq!(
        live["bars"][1],
        live["bars"][0].as_i64().unwrap() + 1,
        "{live}"
    );

    // Cross-site: the forged form arrived without the cookie (SameSite=Strict) and from a
    // foreign origin: 403; with the page's own origin a wrong or missing CSRF token is 403.
    let x = &out["refusals"]["cross_site_replay"];
    assert_eq!(x["sent_cookie"], Value::Null, "{x}");
    assert_eq!(x["status"], 403, "{x}");
    assert_eq!(out["refusals"]["same_page"]["wrong_csrf"], 403);
    assert_eq!(out["refusals"]["same_page"]["no_csrf"], 403);
    // A read token: no page offers an action, and the server refuses each.
    let r = &out["refusals"]["read"];
    for form in ["replay_form", "verify_form", "export_form", "junit_links"] {
        assert_eq!(r[form], 0, "{form}: {r}");
    }
    for post in ["replay", "verify", "evidence", "export", "junit"] {
        assert_eq!(r["posts"][post], 403, "{post}: {r}");
    }
    // One replay ran: the admin's. Neither the forged post nor the reader's started one.
    let runs = std::fs::read_dir(state.join("replays")).unwrap().count();
    assert_eq!(runs, 2, "one run: its report and its JUnit file");
    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    let log = std::fs::read_to_string(state.join("access.log")).unwrap();
    for secret in [&admin, &read, &ingest] {
        assert!(!log.contains(secret.trim()) && !err.contains(secret.trim()));
    }
    assert!(
        log.contains("/ui/sessions"),
        "dashboard views are in the access log"
    );
}

/// A browser's session cookie, over plain HTTP: the exchange, and what a request without the
/// page's origin or CSRF token gets.
#[test]
fn a_session_cookie_does_not_work_cross_site_or_without_the_form_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    demo(&dir, 300);
    let state = dir.join("ledger.server");
    let admin = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let server = Served::start(
        &dir.join("ledger"),
        &dir.join("ledger.key"),
        &state,
        &["--tokens", state.join("tokens.json").to_str().unwrap()],
    );
    let origin = format!("http://{}", server.addr);
    let form = |t: &str| format!("token={}&next=%2Fui%2Fverify", t.trim());
    let post = |path: &str, headers: &[(&str, &str)], body: &str| {
        let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        request(&server.addr, "POST", path, None, &h, body.as_bytes())
    };
    // A login posted from another site is refused; from the login page it sets the cookie.
    let a = post(
        "/ui/login",
        &[("origin", "http://evil.example")],
        &form(&admin),
    );
    assert_eq!(a.status, 403);
    assert!(!a.headers.contains_key("set-cookie"));
    let a = post(
        "/ui/login",
        &[("origin", &origin)],
        &form("gvt_0000000000000000_nope"),
    );
    assert_eq!(a.status, 401);
    assert!(
        !a.text().contains("gvt_"),
        "the page does not echo what was typed"
    );
    let a = post("/ui/login", &[("origin", &origin)], &form(&admin));
    assert_eq!(a.status, 303);
    assert_eq!(a.headers["location"], "/ui/verify");
    let set = &a.headers["set-cookie"];
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    assert!(!set.contains(admin.trim()));
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = request(
        &server.addr,
        "GET",
        "/ui/verify",
        None,
        &[("cookie", &cookie)],
        b"",
    );
    assert_eq!(page.status, 200);
    let csp = &page.headers["content-security-policy"];
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = page.text();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let run = format!("csrf={csrf}");
    // The cookie with a foreign origin, with no origin, with the wrong token, cross-site
    // fetch metadata: refused, nothing run.
    for (headers, body) in [
        (
            vec![
                ("cookie", cookie.as_str()),
                ("origin", "http://evil.example"),
            ],
            run.clone(),
        ),
        (vec![("cookie", cookie.as_str())], run.clone()),
        (
            vec![("cookie", cookie.as_str()), ("origin", origin.as_str())],
            "csrf=wrong".to_owned(),
        ),
        (
            vec![
                ("cookie", cookie.as_str()),
                ("origin", origin.as_str()),
                ("sec-fetch-site", "cross-site"),
            ],
            run.clone(),
        ),
    ] {
        let a = post("/ui/verify", &headers, &body);
        assert_eq!(a.status, 403, "{headers:?}");
    }
    let before = std::fs::metadata(state.join("verify.json"))
        .unwrap()
        .modified()
        .unwrap();
    // The cookie on the API is no credential: /v1 takes bearer tokens only.
    let a = request(
        &server.addr,
        "POST",
        "/v1/verify",
        None,
        &[("cookie", &cookie), ("origin", &origin)],
        b"",
    );
    assert_eq!(a.status, 401);
    assert_eq!(
        std::fs::metadata(state.join("verify.json"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    // From the page itself: it runs.
    let a = post(
        "/ui/verify",
        &[("cookie", &cookie), ("origin", &origin)],
        &run,
    );
    assert_eq!(a.status, 303, "{}", a.text());
    assert_ne!(
        std::fs::metadata(state.join("verify.json"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    // A live stream: the figures now, as Server-Sent Events; kept open across the shutdown.
    let mut live = std::net::TcpStream::connect(&server.addr).unwrap();
    live.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        live,
        "GET /ui/events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("event: live") {
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut live, &mut buf).unwrap();
        assert!(n > 0, "the stream ended: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).contains("text/event-stream"));
    // Logging out ends the session on the server.
    let a = post(
        "/ui/logout",
        &[("cookie", &cookie), ("origin", &origin)],
        &run,
    );
    assert_eq!(a.status, 303);
    let a = request(
        &server.addr,
        "GET",
        "/ui/",
        None,
        &[("cookie", &cookie)],
        b"",
    );
    assert_eq!(a.status, 303);
    assert!(a.headers["location"].starts_with("/ui/login"));
    assert!(
        a.headers.contains_key("content-security-policy"),
        "{:?}",
        a.headers
    );
    // A POST with an ended session logs in again to the overview (its own path has no page).
    let a = post(
        "/ui/evidence",
        &[("cookie", &cookie), ("origin", &origin)],
        &run,
    );
    assert_eq!(a.status, 303);
    assert_eq!(a.headers["location"], "/ui/login?next=%2Fui%2F");
    // A method a route does not take still gets the dashboard's headers.
    let a = request(&server.addr, "DELETE", "/ui/verify", None, &[], b"");
    assert_eq!(a.status, 405);
    assert!(a.headers.contains_key("content-security-policy"));
    // The open live stream does not hold the shutdown: the server stops and the stream ends.
    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    drop(live);
}

/// `govtrail demo` as the README's first command: it builds 100,000 decisions, verifies them,
/// serves, prints the dashboard's URL, and that URL shows the overview with data.
#[test]
fn demo_serves_its_dashboard_with_data_at_the_printed_url() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut child = bin()
        .args(["demo", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = String::new();
    let url = loop {
        let line = lines
            .next()
            .expect("the demo ended before printing its URL")
            .unwrap();
        said.push_str(&line);
        said.push('\n');
        if let Some(u) = line.strip_prefix("govtrail: dashboard at ") {
            break u.to_owned();
        }
    };
    assert!(said.contains("100000 decisions"), "{said}");
    assert!(said.contains("status:   ok"), "{said}");
    assert!(said.contains("serving until Ctrl-C"), "{said}");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/ui/")
        .to_owned();
    let admin = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let a = request(
        &addr,
        "POST",
        "/ui/login",
        None,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &format!("http://{addr}")),
        ],
        format!("token={}", admin.trim()).as_bytes(),
    );
    assert_eq!(a.status, 303, "{}", a.text());
    let cookie = a.headers["set-cookie"]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = request(&addr, "GET", "/ui/", None, &[("cookie", &cookie)], b"");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(">100,000<"), "the overview shows the records");
    assert!(html.contains("verdict-ok"), "and the demo's verification");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "Ctrl-C stops the demo cleanly: {status:?}"
    );
    drop(lines);
    let _ = std::io::stdout().flush();
}
