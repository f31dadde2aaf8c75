// The Dashboard's page script: draws the status chart (Chart.js, vendored) and keeps every panel
// live. Job events (subscribe_all_jobs), queue_updated and live.js's polling fallback ask for a
// refresh; a slow timer catches what has no event (worker heartbeats, items per second). A refresh
// fetches dashboard/panels — the same template partials as the first paint — and replaces only the
// panels whose content changed, so focus and scroll stay put while nothing moves.
import { live } from "./live.js";

const root = document.getElementById("dashboard");
const PANELS = ["kpis", "status-legend", "timeline", "queues", "workers"];
const EVENT_DELAY_MS = 1000; // events coalesce into at most one refresh a second
const TIMER_MS = 5000;

// --- the status chart ---------------------------------------------------------------------------
let chart = null;

function chartData() {
  const node = document.getElementById("status-data");
  return node ? JSON.parse(node.textContent) : null;
}

function colour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";
}

function datasets(data) {
  const total = data.counts.reduce((a, b) => a + b, 0);
  if (!total) return { labels: ["No jobs yet"], values: [1], colors: [colour("surface-2")], empty: true };
  return { labels: data.labels, values: data.counts, colors: data.colors.map(colour), empty: false };
}

function drawChart() {
  const canvas = document.getElementById("status-chart");
  const data = chartData();
  if (!canvas || !data || !window.Chart) return;
  const shown = datasets(data);
  if (chart) {
    chart.data.labels = shown.labels;
    chart.data.datasets[0].data = shown.values;
    chart.data.datasets[0].backgroundColor = shown.colors;
    chart.data.datasets[0].borderColor = colour("surface");
    chart.options.plugins.tooltip.enabled = !shown.empty;
    chart.$statuses = data.statuses;
    chart.$empty = shown.empty;
    chart.update();
    return;
  }
  chart = new window.Chart(canvas, {
    type: "doughnut",
    data: {
      labels: shown.labels,
      datasets: [{ data: shown.values, backgroundColor: shown.colors, borderColor: colour("surface"), borderWidth: 2 }],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      cutout: "62%",
      animation: { duration: 250 },
      plugins: { legend: { display: false }, tooltip: { enabled: !shown.empty } },
      // Clicking a status opens the job list filtered by it (the legend's links do the same).
      onClick: (_event, elements) => {
        if (!elements.length || chart.$empty) return;
        const status = chart.$statuses[elements[0].index];
        location.assign(`${root.dataset.jobsUrl}?status=${encodeURIComponent(status)}`);
      },
      onHover: (event, elements) => {
        event.native.target.style.cursor = elements.length && !chart.$empty ? "pointer" : "default";
      },
    },
  });
  chart.$statuses = data.statuses;
  chart.$empty = shown.empty;
}

// --- refreshing the panels ------------------------------------------------------------------------
let inFlight = null;
let again = false;
let eventTimer = null;

/** A panel's markup without its relative times, which read differently every few seconds. */
function signature(node) {
  const copy = node.cloneNode(true);
  for (const time of copy.querySelectorAll("time[data-ago]")) time.textContent = "";
  return copy.innerHTML.replace(/\s+/g, " ");
}

function replacePanel(current, fresh) {
  const focused = current.contains(document.activeElement) ? document.activeElement : null;
  const key = focused?.getAttribute("href") || focused?.id;
  current.replaceWith(fresh);
  if (key) {
    const match = [...fresh.querySelectorAll("a, button, [tabindex]")].find(
      (el) => el.getAttribute("href") === key || el.id === key,
    );
    match?.focus({ preventScroll: true });
  }
  window.batchsite?.refreshTimes?.(fresh);
}

async function refresh() {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  inFlight = (async () => {
    const response = await fetch(root.dataset.panelsUrl, { headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`dashboard panels: ${response.status}`);
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    let chartChanged = false;
    for (const id of PANELS) {
      const fresh = doc.getElementById(id);
      const current = document.getElementById(id);
      if (!fresh || !current) continue;
      fresh.removeAttribute("hx-swap-oob");
      if (signature(fresh) === signature(current)) continue;
      replacePanel(current, document.adoptNode(fresh));
      chartChanged ||= id === "status-legend";
    }
    if (chartChanged) drawChart();
  })();
  try {
    await inFlight;
  } catch (error) {
    console.warn(error);
  } finally {
    inFlight = null;
    if (again) {
      again = false;
      refresh();
    }
  }
}

function soon() {
  if (eventTimer) return;
  eventTimer = setTimeout(() => {
    eventTimer = null;
    refresh();
  }, EVENT_DELAY_MS);
}

if (root) {
  drawChart();
  window.addEventListener("batchsite:theme", drawChart);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawChart);
  live.subscribeAll({}, (event) => {
    if (event.event === "job_status_update" || event.event === "job_completed" || event.event === "job_failed") soon();
  });
  live.on("queue_updated", soon);
  live.onPoll(refresh);
  setInterval(() => {
    if (!document.hidden) refresh();
  }, TIMER_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) soon();
  });
}
