// The Analytics page's script: fetches GET /api/analytics/overview (same query string as the page)
// and draws every chart with Chart.js (vendored); the queue-depth chart refreshes every 10 s.
// Colours come from the theme's CSS variables, and charts are redrawn when the theme changes.
const root = document.getElementById("analytics");
const QUEUE_MS = 10_000;
const charts = {};
let overview = null;

const fmt = new Intl.NumberFormat();
const colour = (name) =>
  getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";

function label(iso, point) {
  const d = new Date(iso);
  const opts = point === "day" ? { month: "short", day: "numeric", timeZone: "UTC" }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" };
  return d.toLocaleString(undefined, opts);
}

function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)} s` : `${Math.round(value)} ms`;
}

function pct(value) {
  return value === null || value === undefined ? "—" : `${value.toFixed(1)} %`;
}

function card(name) {
  return document.querySelector(`[data-chart-card="${name}"]`);
}

function show(name, hasData) {
  const node = card(name);
  node.querySelector("[data-chart-body]").hidden = !hasData;
  node.querySelector("[data-chart-empty]").hidden = hasData;
}

function baseOptions(extra = {}) {
  const grid = colour("border");
  const text = colour("muted");
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { labels: { color: text, boxWidth: 12 } } },
    scales: {
      x: { ticks: { color: text, maxRotation: 0, autoSkip: true, maxTicksLimit: 6 }, grid: { color: grid } },
      y: { ticks: { color: text }, grid: { color: grid }, beginAtZero: true, ...extra.y },
    },
    ...extra.options,
  };
}

function draw(name, config) {
  charts[name]?.destroy();
  const canvas = document.getElementById(`chart-${name}`);
  charts[name] = new window.Chart(canvas, config);
}

function line(name, labels, sets, extra = {}) {
  draw(name, {
    type: "line",
    data: {
      labels,
      datasets: sets.map(([text, data, colourName, fill]) => ({
        label: text, data, borderColor: colour(colourName), backgroundColor: colour(colourName),
        fill: fill ? "origin" : false, pointRadius: 2, borderWidth: 2, spanGaps: false, tension: 0,
      })),
    },
    options: baseOptions(extra),
  });
}

function bar(name, labels, data, text, colourName) {
  draw(name, {
    type: "bar",
    data: { labels, datasets: [{ label: text, data, backgroundColor: colour(colourName), maxBarThickness: 48 }] },
    options: { ...baseOptions(), plugins: { legend: { display: false } } },
  });
}

const any = (rows, key) => rows.some((row) => row[key]);

function drawSeries(data) {
  const point = data.window.point;
  const c = data.charts;
  const labels = c.success_rate.map((row) => label(row.start, point));
  show("success_rate", any(c.success_rate, "succeeded") || any(c.success_rate, "failed"));
  line("success_rate", labels, [["Success rate (%)", c.success_rate.map((r) => r.success_rate), "green", false]],
    { y: { max: 100 } });
  show("durations", any(c.durations, "p50_ms"));
  line("durations", labels, [
    ["p50 (ms)", c.durations.map((r) => r.p50_ms), "blue"],
    ["p95 (ms)", c.durations.map((r) => r.p95_ms), "amber"],
    ["p99 (ms)", c.durations.map((r) => r.p99_ms), "red"],
  ]);
  show("throughput", any(c.throughput, "items_per_minute"));
  line("throughput", labels, [["Items / minute", c.throughput.map((r) => r.items_per_minute), "accent", true]]);
  show("error_codes", c.error_codes.length > 0);
  bar("error_codes", c.error_codes.map((r) => r.error_code), c.error_codes.map((r) => r.items), "Failed items", "red");
  show("jobs_per_day", any(c.jobs_per_day, "jobs"));
  bar("jobs_per_day", c.jobs_per_day.map((r) => label(r.day, "day")), c.jobs_per_day.map((r) => r.jobs), "Jobs", "accent");
  show("api_times", any(c.api_times, "requests"));
  const apiLabels = c.api_times.map((row) => label(row.start, point));
  line("api_times", apiLabels, [
    ["p50 (ms)", c.api_times.map((r) => r.p50_ms), "blue"],
    ["p95 (ms)", c.api_times.map((r) => r.p95_ms), "amber"],
    ["p99 (ms)", c.api_times.map((r) => r.p99_ms), "red"],
  ]);
  show("webhooks", any(c.webhooks, "delivered") || any(c.webhooks, "failed"));
  line("webhooks", c.webhooks.map((row) => label(row.start, point)),
    [["Delivered (%)", c.webhooks.map((r) => r.success_rate), "green", false]], { y: { max: 100 } });
  drawHosts(c.failing_hosts);
  charts.queue_depth?.destroy();
  delete charts.queue_depth;
  drawQueue(c.queue_depth);
}

function drawHosts(rows) {
  const body = card("failing_hosts").querySelector("[data-rows]");
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    const host = document.createElement("td");
    host.className = "host";
    host.textContent = row.host;
    const n = document.createElement("td");
    n.className = "num";
    n.textContent = fmt.format(row.failed_items);
    tr.append(host, n);
    return tr;
  }));
  show("failing_hosts", rows.length > 0);
}

function drawQueue(rows) {
  show("queue_depth", rows.length > 0);
  const labels = rows.map((row) => new Date(row.at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", timeZone: "UTC" }));
  const existing = charts.queue_depth;
  if (existing) {
    existing.data.labels = labels;
    existing.data.datasets[0].data = rows.map((r) => r.waiting);
    existing.data.datasets[1].data = rows.map((r) => r.processing);
    existing.update();
    return;
  }
  line("queue_depth", labels, [
    ["Waiting", rows.map((r) => r.waiting), "amber", true],
    ["Processing", rows.map((r) => r.processing), "blue", true],
  ]);
}

function fillKpis(k) {
  const set = (key, text) => { root.querySelector(`[data-kpi="${key}"]`).textContent = text; };
  set("items", fmt.format(k.items));
  set("items-sub", `${fmt.format(k.jobs)} job${k.jobs === 1 ? "" : "s"} submitted`);
  set("success-rate", pct(k.success_rate));
  set("success-sub", k.success_rate === null ? "No item finished yet" : `${fmt.format(k.failed)} failed`);
  set("durations", ms(k.p95_ms));
  set("p99", k.p99_ms === null ? "No item finished yet" : `p50 ${ms(k.p50_ms)} · p99 ${ms(k.p99_ms)}`);
  set("throughput", fmt.format(k.items_per_minute));
  set("api-p95", ms(k.api_p95_ms));
  set("api-sub", `${fmt.format(k.api_requests)} request${k.api_requests === 1 ? "" : "s"}`);
  set("webhooks", pct(k.webhook_success_rate));
  set("webhooks-sub", `${fmt.format(k.webhook_attempts)} attempt${k.webhook_attempts === 1 ? "" : "s"}`);
}

async function load() {
  const loading = root.querySelector("[data-loading]");
  try {
    const response = await fetch(root.dataset.overviewUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`analytics: ${response.status}`);
    overview = await response.json();
    fillKpis(overview.kpis);
    drawSeries(overview);
    loading.hidden = true;
  } catch (error) {
    loading.textContent = "The figures could not be loaded. Reload the page to try again.";
    throw error;
  }
}

async function pollQueue() {
  if (document.hidden) return;
  const response = await fetch(root.dataset.queueUrl, { headers: { Accept: "application/json" } });
  if (response.ok) drawQueue((await response.json()).rows);
}

function wireForm() {
  const form = document.querySelector("[data-analytics-filters]");
  const range = form.querySelector("[name=range]");
  const custom = form.querySelector("[data-custom]");
  range.addEventListener("change", () => {
    custom.hidden = range.value !== "custom";
    if (range.value !== "custom") form.requestSubmit();
  });
  form.querySelector("[name=processor]").addEventListener("change", () => {
    if (range.value !== "custom") form.requestSubmit();
  });
  form.addEventListener("submit", () => {
    if (range.value !== "custom") for (const input of custom.querySelectorAll("input")) input.disabled = true;
  });
}

wireForm();
if (root && window.Chart) {
  load();
  setInterval(pollQueue, QUEUE_MS);
  // A theme switch changes the CSS variables: draw again in the new colours.
  new MutationObserver(() => overview && drawSeries(overview)).observe(document.documentElement, {
    attributes: true, attributeFilter: ["data-theme"],
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => overview && drawSeries(overview));
}
