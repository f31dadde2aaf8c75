// The Jobs page's script: filters that apply as you choose them (the URL is the page's state, so
// links are shareable and the back button works), row selection and bulk actions with a
// confirmation that says how many jobs they touch, and live updates of the rows in view
// (subscribe_all_jobs; while live.js polls, the same page of /api/jobs).
import { live } from "./live.js";
import { duration, number, percent } from "./format.js";

const table = document.querySelector("[data-joblist]");
const meta = JSON.parse(document.getElementById("status-meta").textContent);
const ACTIVE = new Set(JSON.parse(document.getElementById("active-statuses").textContent));
const TERMINAL = new Set(Object.keys(meta).filter((s) => !ACTIVE.has(s)));

// --- filters: apply on change, and keep empty fields out of the URL ------------------------------
function go(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (value !== "" && !(name === "date_range" && value === "all")) params.append(name, value);
  }
  const query = params.toString();
  location.assign(form.action + (query ? `?${query}` : ""));
}

// A pointer choice applies at once. Arrow keys change a closed select one option at a time, so
// from the keyboard the choice applies on Enter or when focus leaves the select.
for (const form of document.querySelectorAll("form[data-filters]")) {
  form.querySelector("[data-apply]")?.setAttribute("hidden", "");
  form.addEventListener("keydown", (event) => {
    if (!event.target.matches("select")) return;
    if (event.key === "Enter") {
      event.preventDefault();
      go(form);
    } else if (event.key !== "Tab") {
      event.target.dataset.keyed = "1";
    }
  });
  form.addEventListener("change", (event) => {
    if (event.target.matches("select") && !event.target.dataset.keyed) go(form);
  });
  form.addEventListener("focusout", (event) => {
    const select = event.target;
    if (!select.matches?.("select") || !select.dataset.keyed) return;
    delete select.dataset.keyed;
    const chosen = [...select.options].find((option) => option.defaultSelected) || select.options[0];
    if (select.value !== chosen.value) go(form);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(form);
  });
}

// --- selection and bulk actions ------------------------------------------------------------------
const bar = document.querySelector("[data-bulkbar]");
const countLabel = document.querySelector("[data-bulk-count]");
const scopeInput = document.querySelector("[data-scope]");
const selectPage = document.querySelector("[data-select-page]");
const matchingButton = document.querySelector("[data-select-matching]");
const total = Number(matchingButton?.dataset.total || 0);
const boxes = () => [...document.querySelectorAll("input[data-select]")];
const chosen = () => boxes().filter((box) => box.checked);
const matching = () => scopeInput?.value === "matching";
const jobs = (n) => `${number(n)} job${n === 1 ? "" : "s"}`;

function selectionChanged() {
  const all = boxes();
  const n = chosen().length;
  if (n < all.length && matching()) scopeInput.value = "selected";
  for (const box of all) box.closest("tr").setAttribute("aria-selected", String(box.checked));
  if (selectPage) {
    selectPage.checked = n > 0 && n === all.length;
    selectPage.indeterminate = n > 0 && n < all.length;
  }
  if (!bar) return;
  bar.hidden = n === 0;
  countLabel.textContent = matching()
    ? `All ${jobs(total)} matching this filter are selected`
    : `${number(n)} selected`;
  if (matchingButton) matchingButton.hidden = matching() || n !== all.length;
}

document.addEventListener("change", (event) => {
  if (event.target === selectPage) {
    for (const box of boxes()) box.checked = selectPage.checked;
    if (!selectPage.checked && scopeInput) scopeInput.value = "selected";
  }
  if (event.target === selectPage || event.target.matches("input[data-select]")) selectionChanged();
});
matchingButton?.addEventListener("click", () => {
  scopeInput.value = "matching";
  for (const box of boxes()) box.checked = true;
  selectionChanged();
});
document.querySelector("[data-clear-selection]")?.addEventListener("click", () => {
  for (const box of boxes()) box.checked = false;
  if (scopeInput) scopeInput.value = "selected";
  selectionChanged();
});

// --- confirmation before acting -----------------------------------------------------------------
const dialog = document.querySelector("[data-confirm-dialog]");

function confirmAction(title, text, yes) {
  if (!dialog?.showModal) return Promise.resolve(window.confirm(`${title}\n\n${text}`));
  dialog.querySelector("[data-confirm-title]").textContent = title;
  dialog.querySelector("[data-confirm-text]").textContent = text;
  dialog.querySelector("[data-confirm-yes]").textContent = yes;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      resolve(answer);
    };
    dialog.querySelector("[data-confirm-yes]").onclick = () => done(true);
    dialog.querySelector("[data-confirm-no]").onclick = () => done(false);
    dialog.oncancel = () => resolve(false);
    dialog.showModal();
    dialog.querySelector("[data-confirm-no]").focus();
  });
}

function describe(action, count) {
  if (action === "cancel") {
    return [
      `Cancel ${jobs(count)}?`,
      "Waiting items are cancelled now and running items stop at their next step. Jobs that have already finished stay as they are.",
      `Cancel ${jobs(count)}`,
    ];
  }
  return [
    `Retry the failed items of ${jobs(count)}?`,
    "Failed items go back to the queue as new attempts. Jobs that are still running, or have no failures, are left as they are.",
    "Retry failed items",
  ];
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const bulk = form.matches("[data-bulk-form]");
  const row = form.id === "row-cancel" || form.id === "row-retry";
  if ((!bulk && !row) || form.dataset.confirmed) return;
  event.preventDefault();
  const submitter = event.submitter;
  let title, text, yes;
  if (bulk) {
    const count = matching() ? total : chosen().length;
    [title, text, yes] = describe(submitter.value, count);
  } else {
    const name = submitter.closest("tr").querySelector(".joblist__name > a").textContent.trim();
    [title, text, yes] = describe(form.id === "row-cancel" ? "cancel" : "retry", 1);
    title = form.id === "row-cancel" ? `Cancel “${name}”?` : `Retry the failed items of “${name}”?`;
  }
  if (!(await confirmAction(title, text, yes))) return;
  form.dataset.confirmed = "1";
  form.requestSubmit(submitter);
  delete form.dataset.confirmed;
});

// Back and forward may show this page from the browser's cache, or with its form controls as they
// were left (a filter just chosen, rows ticked): show what the URL says instead.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-filters]")) form.reset();
  for (const box of boxes()) box.checked = false;
  if (scopeInput) scopeInput.value = "selected";
  selectionChanged();
});

// --- live rows ------------------------------------------------------------------------------------
const rows = new Map([...document.querySelectorAll("tr[data-job-id]")].map((tr) => [tr.dataset.jobId, tr]));
const newJobs = document.querySelector("[data-new-jobs]");

function badge(status) {
  const { label, color } = meta[status] || { label: status, color: "gray" };
  const span = document.createElement("span");
  span.className = `badge badge--${color}${ACTIVE.has(status) ? " badge--live" : ""}`;
  span.dataset.status = status;
  span.textContent = label;
  return span;
}

function setDuration(cell) {
  const started = cell.dataset.started;
  if (!started) return;
  const end = cell.dataset.finished ? new Date(cell.dataset.finished) : new Date();
  cell.textContent = duration(Math.max(0, (end - new Date(started)) / 1000));
}

function patchRow(tr, job) {
  const status = job.status;
  if (tr.dataset.status !== status) {
    tr.dataset.status = status;
    tr.querySelector('[data-cell="status"]')?.replaceChildren(badge(status));
    tr.classList.remove("is-updated");
    void tr.offsetWidth; // restart the flash
    tr.classList.add("is-updated");
  }
  const progress = tr.querySelector('[data-cell="progress"]');
  if (progress && job.overall_progress != null) progress.value = job.overall_progress;
  const label = tr.querySelector('[data-cell="percent"]');
  if (label && job.overall_progress != null) label.textContent = percent(job.overall_progress);
  const items = tr.querySelector('[data-cell="items"]');
  if (items && job.counts) {
    items.textContent = number(job.total_items);
    if (job.counts.failed) {
      const failed = document.createElement("span");
      failed.className = "joblist__failed";
      failed.textContent = `${number(job.counts.failed)} failed`;
      items.append(" ", failed);
    }
  }
  const time = tr.querySelector('[data-cell="duration"]');
  if (time) {
    if (!time.dataset.started && status === "running") time.dataset.started = job.started_at || new Date().toISOString();
    if (job.finished_at) time.dataset.finished = job.finished_at;
    setDuration(time);
  }
  const failed = job.counts?.failed || 0;
  tr.querySelector('[data-action="cancel"]')?.toggleAttribute("hidden", !ACTIVE.has(status));
  tr.querySelector('[data-action="retry"]')?.toggleAttribute("hidden", !(TERMINAL.has(status) && failed > 0));
}

function onEvent(event) {
  if (!["job_status_update", "job_completed", "job_failed"].includes(event.event)) return;
  const tr = rows.get(event.job_id);
  if (tr) patchRow(tr, event);
  else if (newJobs && (event.status === "queued" || event.status === "pending")) newJobs.hidden = false;
}

if (table) {
  const params = new URLSearchParams(location.search);
  const filters = {};
  // Priority and processor never change, so the server may filter on them; status does, and a row
  // in view must still hear that its job moved on.
  if (params.get("priority")) filters.priority = params.get("priority");
  if (params.get("processor")) filters.processor = params.get("processor");
  live.subscribeAll(filters, onEvent);
  live.onPoll(async () => {
    const response = await fetch(`/api/jobs?${table.dataset.apiQuery}`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    for (const job of (await response.json()).jobs) {
      const tr = rows.get(job.job_id);
      if (tr) patchRow(tr, job);
    }
  });
  setInterval(() => {
    for (const tr of rows.values()) {
      if (ACTIVE.has(tr.dataset.status)) setDuration(tr.querySelector('[data-cell="duration"]'));
    }
  }, 1000);
  newJobs?.querySelector("a").setAttribute("href", location.href);
}
selectionChanged();
