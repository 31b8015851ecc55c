// govtrail dashboard: the live figures (Server-Sent Events from /ui/events). Every page works
// without this script; it only keeps the figures marked data-live current.
const fmt = new Intl.NumberFormat("en-US");

function show(live) {
  for (const el of document.querySelectorAll("[data-live]")) {
    const key = el.dataset.live;
    if (key === "size") el.textContent = fmt.format(live.size);
    else if (key === "rate") el.textContent = `${live.rate.toFixed(1)} /s`;
    else if (key === "backlog") el.textContent = live.backlog == null ? "no spool" : fmt.format(live.backlog);
  }
}

function connect() {
  if (!document.querySelector("[data-live]")) return;
  const source = new EventSource("/ui/events");
  source.addEventListener("live", (e) => show(JSON.parse(e.data)));
}

// After the load event, so that the stream never delays the page's load.
if (document.readyState === "complete") connect();
else window.addEventListener("load", connect);
