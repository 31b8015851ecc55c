// Drives Debian's Chromium (headless, through playwright-core) through the dashboard of a
// running `govtrail serve`, and prints what it saw as one JSON object on standard output:
// per page its status, load time, the figures the Rust test compares with the CLI, the
// accessibility violations axe-core found, and console errors (a CSP violation is one).
//
// Environment (never argv: tokens must not show in `ps`):
//   GOVTRAIL_URL           the server, e.g. http://127.0.0.1:4318
//   GOVTRAIL_ADMIN_TOKEN   a token with the admin scope
//   GOVTRAIL_READ_TOKEN    a token with the read scope only
//   GOVTRAIL_CHROMIUM      the browser (default /usr/bin/chromium)
//   GOVTRAIL_MODE          check (default): every page, the actions and the refusals;
//                          perf: the overview and one session's page (GOVTRAIL_SESSION),
//                          timed, GOVTRAIL_RUNS times; browse: every page, looked at only
//   GOVTRAIL_SCREENSHOTS   a directory: a full-page PNG of each page is written there
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const base = process.env.GOVTRAIL_URL;
const mode = process.env.GOVTRAIL_MODE || "check";
const shots = process.env.GOVTRAIL_SCREENSHOTS;

const browser = await chromium.launch({
  executablePath: process.env.GOVTRAIL_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const out = { pages: [], actions: {}, refusals: {} };

async function login(token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/ui/`);
  const loginUrl = page.url();
  await page.fill("#token", token);
  await Promise.all([page.waitForURL(`${base}/ui/`), page.click("form.login button")]);
  return { context, page, errors, loginUrl };
}

// Text of each element matched by a selector, by a name.
async function figures(page, selectors) {
  const got = {};
  for (const [name, sel] of Object.entries(selectors)) {
    got[name] = await page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));
  }
  return got;
}

async function axe(page) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() => axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }));
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
}

async function visit(s, name, path, selectors = {}) {
  s.errors.length = 0;
  const response = await s.page.goto(`${base}${path}`, { waitUntil: "load" });
  const timing = await s.page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    return n ? n.loadEventEnd - n.startTime : null;
  });
  const entry = {
    name, path, url: s.page.url(), status: response.status(), load_ms: timing,
    title: await s.page.title(), h1: await s.page.textContent("h1"),
    figures: await figures(s.page, selectors),
  };
  if (mode === "check") entry.axe = await axe(s.page);
  entry.console_errors = [...s.errors];
  // The first screenful (1280 x 900): what a reader sees on opening the page.
  if (shots) await s.page.screenshot({ path: `${shots}/dashboard-${name}.png` });
  out.pages.push(entry);
  return entry;
}

if (mode === "browse") {
  // Every page, looked at only (no action runs): what the benchmark measures memory under.
  const s = await login(process.env.GOVTRAIL_ADMIN_TOKEN);
  const session = encodeURIComponent(process.env.GOVTRAIL_SESSION);
  for (const [name, path] of [
    ["overview", "/ui/"], ["decisions", "/ui/decisions"],
    ["decisions-denied", "/ui/decisions?decision=deny"], ["decision", "/ui/decisions/12345"],
    ["sessions", "/ui/sessions"], ["sessions-divergences", "/ui/sessions?sort=divergences"],
    ["session", `/ui/sessions/${session}`],
    ["overhead", "/ui/overhead?by=service&a=tractatus-2026.11&b=tractatus-2026.12"],
    ["verify", "/ui/verify"], ["replay", "/ui/replay"], ["roi", "/ui/roi"],
  ]) {
    await visit(s, name, path);
  }
  await browser.close();
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

if (mode === "perf") {
  const s = await login(process.env.GOVTRAIL_ADMIN_TOKEN);
  const runs = Number(process.env.GOVTRAIL_RUNS || 5);
  const session = process.env.GOVTRAIL_SESSION;
  for (let i = 0; i < runs; i++) {
    await visit(s, "overview", "/ui/");
    await visit(s, "session", `/ui/sessions/${encodeURIComponent(session)}`);
  }
  await browser.close();
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

// --- An admin's browser: every page, the drill-downs, the actions.
const admin = await login(process.env.GOVTRAIL_ADMIN_TOKEN);
out.login = {
  login_url: admin.loginUrl,
  cookies: await admin.context.cookies(),
  document_cookie: await admin.page.evaluate(() => document.cookie),
  history_urls: [admin.loginUrl, admin.page.url()],
};
await visit(admin, "overview", "/ui/", {
  size: "[data-live=size]", decisions: "#decisions", p50: "#p50", p95: "#p95", p99: "#p99",
  horizon: "#horizon", series_decisions: "#series tbody tr td:nth-child(2)",
});
await visit(admin, "decisions", "/ui/decisions", { first_idx: "#decisions-table tbody tr td:first-child" });
// Filters in the URL: denials only, then the next page.
await visit(admin, "decisions-denied", "/ui/decisions?decision=deny&limit=20", {
  idx: "#decisions-table tbody tr td:first-child", decision: "#decisions-table tbody tr td:nth-child(3)",
});
await Promise.all([admin.page.waitForURL(/before=/), admin.page.click("a[rel=next]")]);
out.pages.at(-1).next_url = admin.page.url();
out.pages.at(-1).next_idx = await admin.page.$$eval("#decisions-table tbody tr td:first-child", (e) => e.map((x) => x.textContent.trim()));
// Drill down: the first denial.
await admin.page.goto(`${base}/ui/decisions?decision=deny&limit=20`);
await Promise.all([admin.page.waitForURL(/\/ui\/decisions\/\d+$/), admin.page.click("#decisions-table tbody tr:first-child td:first-child a")]);
const one = await visit(admin, "decision", new URL(admin.page.url()).pathname, {
  decision: "#decision", effective: "#effective", record: "#record-bytes",
});
const [download] = await Promise.all([admin.page.waitForEvent("download"), admin.page.click("a[download]")]);
one.proof_name = download.suggestedFilename();
one.proof = readFileSync(await download.path(), "utf8");
await visit(admin, "sessions", "/ui/sessions?sort=divergences", {
  session: "#sessions-table tbody tr td:first-child", divergences: "#sessions-table tbody tr td:nth-child(5)",
});
await Promise.all([admin.page.waitForURL(/\/ui\/sessions\/.+/), admin.page.click("#sessions-table tbody tr:first-child td:first-child a")]);
await visit(admin, "session", new URL(admin.page.url()).pathname, {
  counts: "[data-count]", adverse: "#adverse", timeline_rows: "#timeline tbody tr",
});
await visit(admin, "overhead", "/ui/overhead?by=service&a=tractatus-2026.11&b=tractatus-2026.12", {
  groups: "#overhead-table tbody tr", comparison: "#comparison tbody tr",
});
const [csv] = await Promise.all([admin.page.waitForEvent("download"), admin.page.click("form[action='/ui/overhead/export'] button")]);
out.actions.export = { name: csv.suggestedFilename(), text: readFileSync(await csv.path(), "utf8") };
await admin.page.selectOption("#format", "parquet");
const [pq] = await Promise.all([admin.page.waitForEvent("download"), admin.page.click("form[action='/ui/overhead/export'] button")]);
const pqBytes = readFileSync(await pq.path());
out.actions.export_parquet = {
  name: pq.suggestedFilename(), size: pqBytes.length,
  magic: pqBytes.subarray(0, 4).toString("latin1") + pqBytes.subarray(pqBytes.length - 4).toString("latin1"),
};
await visit(admin, "verify", "/ui/verify");
await admin.page.fill("#from", "100");
await admin.page.fill("#to", "200");
const [pack] = await Promise.all([admin.page.waitForEvent("download"), admin.page.click("form[action='/ui/evidence'] button")]);
out.actions.evidence = { name: pack.suggestedFilename(), path: await pack.path() };
if (process.env.GOVTRAIL_KEEP) {
  await pack.saveAs(`${process.env.GOVTRAIL_KEEP}/${pack.suggestedFilename()}`);
}
await Promise.all([admin.page.waitForURL(`${base}/ui/verify`), admin.page.click("#run-verify")]);
out.actions.verify = await figures(admin.page, { verdict: "#verdict", horizon: "#horizon" });
await visit(admin, "replay", "/ui/replay");
await Promise.all([admin.page.waitForURL(/\/ui\/replay\/\d+$/, { timeout: 300_000 }), admin.page.click("#run-replay")]);
const run = await visit(admin, "replay-run", new URL(admin.page.url()).pathname, {
  replayed: "#replayed", flips: "#flips", matrix: "#flip-matrix tbody tr", divergences: "#divergences tbody tr",
});
const [junit] = await Promise.all([admin.page.waitForEvent("download"), admin.page.click("a[download]")]);
run.junit = readFileSync(await junit.path(), "utf8").slice(0, 200);
await visit(admin, "roi", "/ui/roi", {
  cost: "#cost", low: "#prevented-low", high: "#prevented-high", incidents: "#incidents tbody tr",
});
// The live figures: the test appends while this page is open and waits for the tile.
if (process.env.GOVTRAIL_LIVE_FILE) {
  await admin.page.goto(`${base}/ui/`);
  const before = await admin.page.textContent("[data-live=size]");
  const bars = () => [...document.querySelectorAll("#series tbody tr td:nth-child(2)")]
    .reduce((n, td) => n + Number(td.textContent), 0);
  const barsBefore = await admin.page.evaluate(bars);
  // Tell the test the page is open; it appends a record.
  process.stderr.write("live: ready\n");
  await admin.page.waitForFunction((b) => document.querySelector("[data-live=size]").textContent !== b, before, { timeout: 20_000 });
  out.actions.live = { before, after: await admin.page.textContent("[data-live=size]") };
  // The chart follows (swapped in at most every 10 s): its bars count the new decision.
  await admin.page.waitForFunction((b) => [...document.querySelectorAll("#series tbody tr td:nth-child(2)")]
    .reduce((n, td) => n + Number(td.textContent), 0) > b, barsBefore, { timeout: 30_000 });
  out.actions.live.bars = [barsBefore, await admin.page.evaluate(bars)];
}

// --- Cross-site: a page on another site posts the replay form with the admin's session.
await admin.context.route("http://attacker.test/**", (route) => route.fulfill({
  contentType: "text/html",
  body: `<!doctype html><html lang="en"><title>x</title><body>
    <form id="f" method="post" action="${base}/ui/replay">
      <input name="bundle" value="tractatus"><input name="csrf" value="guessed"></form>
    <script>document.getElementById("f").submit()</script></body></html>`,
}));
const forged = admin.page.waitForResponse((r) => r.url() === `${base}/ui/replay` && r.request().method() === "POST");
await admin.page.goto("http://attacker.test/");
const forgedResponse = await forged;
out.refusals.cross_site_replay = {
  status: forgedResponse.status(),
  location: forgedResponse.headers()["location"] || null,
  sent_cookie: (await forgedResponse.request().allHeaders())["cookie"] || null,
};
// The same forged post with the session's real CSRF token, sent from the dashboard's own page
// but with a foreign Origin, is refused too (the Origin check alone stops it).
await admin.page.goto(`${base}/ui/replay`);
const csrf = await admin.page.getAttribute("meta[name=csrf-token]", "content");
const viaFetch = await admin.page.evaluate(async ([b, c]) => {
  const r = await fetch(`${b}/ui/replay`, { method: "POST", body: new URLSearchParams({ bundle: "tractatus", csrf: "wrong" }), redirect: "manual" });
  const s = await fetch(`${b}/ui/overhead/export`, { method: "POST", body: new URLSearchParams({ format: "csv" }), redirect: "manual" });
  return { wrong_csrf: r.status, no_csrf: s.status, real_csrf_present: c.length > 20 };
}, [base, csrf]);
out.refusals.same_page = viaFetch;

// --- A reader's browser: the pages show no action, and the server refuses them.
const reader = await login(process.env.GOVTRAIL_READ_TOKEN);
await visit(reader, "replay-read", "/ui/replay");
out.refusals.read = {
  replay_form: await reader.page.$$eval("form[action='/ui/replay']", (f) => f.length),
  verify_form: await reader.page.goto(`${base}/ui/verify`).then(() => reader.page.$$eval("form[action='/ui/verify'], form[action='/ui/evidence']", (f) => f.length)),
  export_form: await reader.page.goto(`${base}/ui/overhead`).then(() => reader.page.$$eval("form[action='/ui/overhead/export']", (f) => f.length)),
  junit_links: await reader.page.goto(`${base}/ui/replay/1`).then(() => reader.page.$$eval("a[download]", (a) => a.length)),
};
const readCsrf = await reader.page.getAttribute("meta[name=csrf-token]", "content");
out.refusals.read.posts = await reader.page.evaluate(async ([b, c]) => {
  const post = async (path, fields) => (await fetch(`${b}${path}`, { method: "POST", body: new URLSearchParams({ csrf: c, ...fields }), redirect: "manual" })).status;
  return {
    replay: await post("/ui/replay", { bundle: "tractatus" }),
    verify: await post("/ui/verify", {}),
    evidence: await post("/ui/evidence", { from: "0", to: "10" }),
    export: await post("/ui/overhead/export", { format: "csv" }),
    junit: (await fetch(`${b}/ui/replay/1/junit`, { redirect: "manual" })).status,
  };
}, [base, readCsrf]);

await browser.close();
process.stdout.write(JSON.stringify(out) + "\n");
