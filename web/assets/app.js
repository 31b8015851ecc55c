// govtrail dashboard: the live figures (Server-Sent Events from /ui/events). Every page works
// without this script; it keeps the figures marked data-live current and, on the overview,
// swaps in a fresh decisions-over-time chart when decisions have arrived (at most every 10 s).
const fmt = new Intl.NumberFormat("en-US");
const CHART_EVERY_MS = 10_000;
let chartSize = null;
let chartAt = 0;
let fetching = false;

function show(live) {
  for (const el of document.querySelectorAll("[data-live]")) {
    const key = el.dataset.live;
    if (key === "size") el.textContent = fmt.format(live.size);
    else if (key === "rate") el.textContent = `${live.rate.toFixed(1)} /s`;
    else if (key === "backlog") el.textContent = live.backlog == null ? "no spool" : fmt.format(live.backlog);
  }
}

async function refreshChart(live) {
  const chart = document.getElementById("series");
  if (!chart || fetching) return;
  if (chartSize === null) chartSize = live.size;
  if (live.size === chartSize || Date.now() - chartAt < CHART_EVERY_MS) return;
  fetching = true;
  try {
    const r = await fetch("/ui/fragments/series", { credentials: "same-origin" });
    if (r.ok) {
      // The server's own markup (maud-escaped), from the same origin.
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("series");
      if (fresh) chart.replaceWith(document.importNode(fresh, true));
      chartSize = live.size;
      chartAt = Date.now();
    }
  } finally {
    fetching = false;
  }
}

function connect() {
  if (!document.querySelector("[data-live]")) return;
  chartAt = Date.now();
  const source = new EventSource("/ui/events");
  source.addEventListener("live", (e) => {
    const live = JSON.parse(e.data);
    show(live);
    refreshChart(live);
  });
}

// After the load event, so that the stream never delays the page's load.
if (document.readyState === "complete") connect();
else window.addEventListener("load", connect);
