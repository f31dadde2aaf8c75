// The job page (templates/jobs/job_detail.html): patches the first paint with live events from
// live.js — status, progress, counts, ETA, throughput, the rows in view, the log — and refreshes
// the server-rendered partials (insights, the items table) from the same template partials.
import { live } from "../live.js";
import { duration, number, percent } from "../format.js";
import { LOG_LINES_KEPT, jobLog } from "./job_log.js";

const data = JSON.parse(document.getElementById("job-detail-data").textContent);
const root = document.querySelector("[data-job-detail]");
const $ = (selector, scope = root) => scope.querySelector(selector);
const $$ = (selector, scope = root) => [...scope.querySelectorAll(selector)];
const toast = (message, kind) => window.batchsite?.toast?.(message, kind);
const active = new Set(data.active);
const TERMINAL_ITEMS = ["succeeded", "failed", "cancelled", "skipped"];
const INSIGHTS_EVERY_MS = 4000;
const SPARK_POINTS = 60;

const state = { status: data.status, counts: data.counts, total: data.total };

// --- status, progress, counts --------------------------------------------------------------------
function badge(status, kinds, pulse) {
  const [color, label] = kinds[status] || ["gray", status];
  const span = document.createElement("span");
  span.className = `badge badge--${color}${pulse ? " badge--live" : ""}`;
  span.dataset.status = status;
  span.textContent = label;
  return span;
}

function setText(selector, text) {
  for (const el of $$(selector)) if (el.textContent !== text) el.textContent = text;
}

function applyStatus(event) {
  const statusChanged = event.status !== state.status;
  state.status = event.status;
  state.counts = event.counts || state.counts;
  state.total = event.total_items ?? state.total;
  const done = TERMINAL_ITEMS.reduce((sum, s) => sum + (state.counts[s] || 0), 0);
  const running = active.has(state.status);

  if (statusChanged) $("[data-job-badge]").replaceChildren(badge(state.status, data.jobStatus, running));
  const progress = $("[data-progress]");
  progress.value = event.overall_progress ?? 0;
  progress.textContent = percent(event.overall_progress);
  setText("[data-progress-label]", percent(event.overall_progress));
  setText("[data-done]", number(done));
  setText("[data-total]", number(state.total));
  setText("[data-failed]", number(state.counts.failed || 0));
  setText("[data-cancelled]", number(state.counts.cancelled || 0));
  applyEta(event, running);
  applySegments();
  applyActions(done, running);
  if (running) sampleThroughput(done);
  else showAverageThroughput(done, event.finished_at);
  if (statusChanged) scheduleInsights(0);
  else if (running) scheduleInsights(INSIGHTS_EVERY_MS);
}

function applyEta(event, running) {
  if (running) {
    setText("[data-eta-label]", "Time left");
    const eta = event.estimated_time_remaining;
    setText("[data-eta]", eta == null ? "—" : duration(eta));
    setText("[data-eta-sub]", eta == null ? "estimated once items finish" : "at the rate so far");
    return;
  }
  const started = document.getElementById("job-times")?.dataset.startedAt;
  const finished = event.finished_at;
  setText("[data-eta-label]", "Took");
  setText("[data-eta]", started && finished ? duration((new Date(finished) - new Date(started)) / 1000) : "—");
  setText("[data-eta-sub]", "wall clock");
}

function applySegments() {
  const total = state.total || 0;
  let x = 0;
  for (const rect of $$("[data-seg]")) {
    const count = state.counts[rect.dataset.seg] || 0;
    const width = total ? (100 * count) / total : 0;
    rect.setAttribute("x", `${x.toFixed(3)}%`);
    rect.setAttribute("width", `${width.toFixed(3)}%`);
    x += width;
    const legend = $(`[data-legend="${rect.dataset.seg}"]`);
    legend.classList.toggle("jd-legend--zero", !count);
    setText(`[data-legend="${rect.dataset.seg}"] [data-legend-count]`, number(count));
    setText(`[data-legend="${rect.dataset.seg}"] [data-legend-pct]`, percent(width));
  }
}

function applyActions(done, running) {
  const rules = {
    cancel: running && state.status !== "cancelling",
    retry: !running && (state.counts.failed || 0) > 0,
    download: done > 0,
    delete: !running,
  };
  for (const [name, enabled] of Object.entries(rules)) {
    const button = $(`[data-action="${name}"]`);
    if (button) button.disabled = !enabled;
  }
}

// --- throughput: items finished per second, from the counts as they arrive ------------------------
const samples = []; // [time ms, done]
const rates = [];

function sampleThroughput(done) {
  const now = performance.now();
  const last = samples.at(-1);
  if (last && now - last[0] < 1000) return; // at most one point a second
  samples.push([now, done]);
  while (samples.length > 2 && now - samples[0][0] > 10000) samples.shift();
  if (samples.length < 2) return;
  const [t0, d0] = samples[0];
  const rate = Math.max(0, ((done - d0) * 1000) / (now - t0));
  rates.push(rate);
  if (rates.length > SPARK_POINTS) rates.shift();
  setText("[data-rate-label]", "Throughput now");
  setText("[data-rate]", number(rate));
  $("[data-spark]").closest("svg").hidden = false;
  drawSpark();
}

function showAverageThroughput(done, finished) {
  const started = document.getElementById("job-times")?.dataset.startedAt;
  const seconds = started && finished ? (new Date(finished) - new Date(started)) / 1000 : 0;
  setText("[data-rate-label]", "Throughput");
  setText("[data-rate]", seconds > 0 ? number(done / seconds) : "—");
  setText("[data-rate-sub]", "average over the run");
  $("[data-spark]").closest("svg").hidden = true;
}

function drawSpark() {
  const line = $("[data-spark]");
  if (!line || rates.length < 2) return;
  const top = Math.max(...rates) || 1;
  const step = 120 / (SPARK_POINTS - 1);
  const offset = 120 - step * (rates.length - 1);
  const points = rates.map((r, i) => `${(offset + i * step).toFixed(1)},${(30 - (28 * r) / top).toFixed(1)}`);
  line.setAttribute("points", points.join(" "));
}

// --- server-rendered partials: fetched and swapped by id -----------------------------------------
let gone = false; // deleted: nothing left to refresh

async function swapFrom(url) {
  if (gone) return;
  const response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
  if (response.status === 404 && !gone) {
    gone = true; // deleted meanwhile (another tab, another person)
    toast("This job no longer exists.", "error");
  }
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  for (const fresh of [...template.content.children]) {
    const current = fresh.id && document.getElementById(fresh.id);
    // A part someone is using by keyboard keeps its focus: it is refreshed next time.
    if (!current || current.contains(document.activeElement)) continue;
    current.replaceWith(fresh);
    window.htmx?.process(fresh);
    window.batchsite?.refreshTimes?.(fresh);
  }
}

let insightsTimer = null;
let insightsDue = 0;

function scheduleInsights(delay) {
  const due = performance.now() + delay;
  if (insightsTimer && insightsDue <= due) return;
  clearTimeout(insightsTimer);
  insightsDue = due;
  insightsTimer = setTimeout(refreshInsights, delay);
}

async function refreshInsights() {
  insightsTimer = null;
  const tab = $("[data-breakdown][aria-selected='true']")?.dataset.breakdown;
  try {
    await swapFrom(data.urls.insights);
  } catch (error) {
    console.warn("insights refresh failed", error);
    return;
  }
  if (tab && tab !== "code") $(`[data-breakdown="${tab}"]`)?.click(); // keep the chosen grouping
}

function refreshItems() {
  // An expanded row or a focused control would be lost; the live row updates cover those rows.
  if ($("[data-item-toggle][aria-expanded='true']") || $("#items-table")?.contains(document.activeElement)) return;
  return swapFrom(`${data.urls.items}${location.search}`).catch((error) => console.warn("items refresh failed", error));
}

// --- items in view ------------------------------------------------------------------------------
let flashing = [];

function applyItems(items) {
  // The flash restarts on the next frame (removing and adding the class in one frame would
  // not restart it, and forcing a layout per row to do so costs too much at speed).
  for (const row of flashing) row.classList.remove("jd-flash");
  const changed = [];
  for (const item of items) {
    const row = $(`tr[data-item-id="${item.id}"]`);
    if (!row) continue;
    row.querySelector("[data-col=status]").replaceChildren(badge(item.status, data.itemStatus, false));
    row.querySelector("[data-col=step]").textContent = item.step || "—";
    row.querySelector("[data-col=http]").textContent = item.http_status ?? "—";
    row.querySelector("[data-col=duration]").textContent = duration(item.duration);
    row.querySelector("[data-col=attempts]").textContent = item.attempts;
    const error = row.querySelector("[data-col=error]");
    if (item.error_code) {
      const code = document.createElement("code");
      code.textContent = item.error_code;
      error.replaceChildren(code);
    } else {
      error.replaceChildren();
    }
    changed.push(row);
  }
  flashing = changed;
  requestAnimationFrame(() => {
    for (const row of changed) row.classList.add("jd-flash");
  });
}

root.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-item-toggle]");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  document.getElementById(toggle.getAttribute("aria-controls")).hidden = !open;
});

// "Show" in a failure group: the items table with that one filter.
root.addEventListener("click", (event) => {
  const link = event.target.closest("[data-items-filter]");
  if (!link) return;
  event.preventDefault();
  const form = $(".jd-filters");
  for (const field of form.elements) if (field.name) field.value = "";
  form.elements[link.dataset.itemsFilter].value = link.dataset.value;
  form.requestSubmit();
  document.getElementById("items").scrollIntoView({ block: "start" });
});

// --- failures: tabs by error code / HTTP status / host / step ------------------------------------
function selectTab(tab, focus) {
  for (const other of $$("[data-breakdown]")) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
}

root.addEventListener("click", (event) => {
  const tab = event.target.closest("[data-breakdown]");
  if (tab) selectTab(tab, false);
});
root.addEventListener("keydown", (event) => {
  const tab = event.target.closest("[data-breakdown]");
  if (!tab || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
  const tabs = $$("[data-breakdown]");
  const index = tabs.indexOf(tab);
  const next = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: tabs.length - 1 }[event.key];
  event.preventDefault();
  tabs[(next + tabs.length) % tabs.length].click();
  $("[data-breakdown][aria-selected='true']").focus();
});

// --- the log (job_log.js) -----------------------------------------------------------------------
const onLogEntries = jobLog($("[data-log-viewer]"), data.levels);

// --- actions: cancel, retry, delete (confirmed in a dialog where they destroy something) ---------
async function post(url, fields = {}) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRFToken": window.batchsite?.csrf?.() || "" },
      body: new URLSearchParams(fields),
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({ ok: false, message: `The server answered ${response.status}` }));
    toast(body.message, body.ok ? "info" : "error");
    return body.ok ? body : null;
  } catch {
    toast("The server did not answer", "error");
    return null;
  }
}

function confirmed(dialogId) {
  const dialog = document.getElementById(dialogId);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function afterAction() {
  scheduleInsights(0);
  await refreshItems();
  await poll(); // the new state, also when live events are not flowing
}

const actions = {
  async cancel() {
    if ((await confirmed("confirm-cancel")) && (await post(data.urls.cancel))) afterAction();
  },
  async retry() {
    if (await post(data.urls.retry)) afterAction();
  },
  async delete() {
    if (!(await confirmed("confirm-delete"))) return;
    const body = await post(data.urls.delete);
    if (!body) return;
    gone = true;
    clearTimeout(insightsTimer);
    location.assign(body.redirect);
  },
};

root.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]:not([data-menu-button])");
  if (button && actions[button.dataset.action]) {
    button.disabled = true;
    try {
      await actions[button.dataset.action]();
    } finally {
      applyActions(TERMINAL_ITEMS.reduce((sum, s) => sum + (state.counts[s] || 0), 0), active.has(state.status));
    }
    return;
  }
  const group = event.target.closest("[data-retry-by]");
  if (group) {
    group.disabled = true;
    const body = await post(data.urls.retry, { by: group.dataset.retryBy, key: group.dataset.retryKey });
    if (body) afterAction();
    else group.disabled = false;
  }
});

// --- live events, and polling when the socket is down -------------------------------------------
async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

let lastLogId = data.lastLogId;

async function poll() {
  if (gone) return;
  const [job, logs] = await Promise.all([
    getJSON(data.urls.api),
    getJSON(`${data.urls.logs}?after_id=${lastLogId}&limit=500`),
  ]);
  for (const entry of logs.logs) live.accept({ ...entry, event: "job_log_entry", job_id: data.jobId });
  live.accept({ ...job, event: "job_status_update", job_id: data.jobId });
  if (!active.has(job.status)) scheduleInsights(0);
  await refreshItems();
}

// Events are applied once per animation frame, the latest state of each thing only: a burst of
// events costs one layout, not one per event.
const pending = { status: null, items: new Map(), logs: [] };
let frame = 0;

function flush() {
  frame = 0;
  // The log first: its scroll to the tail, next frame, then reads a layout nothing has changed.
  if (pending.logs.length) onLogEntries(pending.logs.splice(0));
  if (pending.status) applyStatus(pending.status);
  pending.status = null;
  if (pending.items.size) applyItems([...pending.items.values()]);
  pending.items.clear();
}

function later() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function onEvent(event) {
  switch (event.event) {
    case "job_status_update":
      pending.status = event;
      if (event.resync) poll().catch(() => {});
      break;
    case "job_completed":
    case "job_failed":
      pending.status = event;
      scheduleInsights(0);
      refreshItems();
      break;
    case "job_log_entry":
      lastLogId = Math.max(lastLogId, event.id);
      pending.logs.push(event);
      if (pending.logs.length > LOG_LINES_KEPT) pending.logs.shift(); // a hidden tab: no frames
      break;
    case "item_update":
      for (const item of event.items || []) pending.items.set(item.id, item);
      break;
    default:
      return;
  }
  later();
}

live.subscribeJob(data.jobId, onEvent, { lastSeq: data.seq, lastLogId: data.lastLogId || null });
live.onPoll(poll);
live.on("error", (event) => {
  if (event.code === "not_found") toast("This job no longer exists.", "error");
});
