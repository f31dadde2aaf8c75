// The one live-update module: a WebSocket on /ws/jobs/ (DESIGN.md Contracts) with exponential
// backoff reconnect, resubscription with last_seq, and a fallback to polling the API after repeated
// failures (and back to live as soon as a socket opens again). It drives the connection indicator in
// the footer and hands events to the page scripts, which patch the DOM.
//
//   import { live } from "/static/js/live.js";
//   const off = live.subscribeJob(jobId, (event) => ..., { lastSeq, lastLogId });
//   live.subscribeAll({ status: ["running"] }, (event) => ...);
//   live.on("queue_updated", (event) => ...);      // any event by name ("*" for all)
//   live.onPoll(async () => ...);                    // called while polling, and once after a reconnect
//   live.onState((state, detail) => ...);            // connecting | live | reconnecting | polling | offline
//
// Per job, a job_status_update (or final event) whose seq is not newer than the last one seen is
// dropped, so a page never shows a state older than one it already showed. A resubscription says
// what the page has (last_seq, and last_log_id once a log line arrived), so the server replays
// the log lines missed while the socket was down: no gap.

const FAILURES_BEFORE_POLLING = 3;
const POLL_MS = 4000;
const MAX_BACKOFF_MS = 15000;
const LOG_IDS_KEPT = 5000;
const LABELS = {
  connecting: "Connecting",
  live: "Live",
  reconnecting: "Reconnecting",
  polling: "Polling",
  offline: "Offline",
};

class Live {
  constructor() {
    this.state = "connecting";
    this.socket = null;
    this.failures = 0;
    // job id -> { handlers, lastSeq, lastLogId, firstLogId (what the page had), logIds (seen),
    //            statusSeq, finalSeq }
    this.jobs = new Map();
    this.all = null; // { filters, handlers: Set }
    this.listeners = new Map(); // event name -> Set(fn)
    this.pollers = new Set();
    this.stateListeners = new Set();
    this.pollTimer = null;
    this.retryTimer = null;
    this.stopped = false;
    this.connectedBefore = false;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.setState("offline", "The browser is offline"));
    window.addEventListener("pagehide", () => {
      this.stopped = true;
      clearTimeout(this.retryTimer);
      this.stopPolling();
      this.socket?.close(1000);
    });
    // Back from the back/forward cache: the page is as it was when it left, the socket is not.
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      this.stopped = false;
      this.failures = 0;
      this.setState("connecting", "");
      this.connect();
    });
  }

  // --- public API ---------------------------------------------------------------------------
  subscribeJob(jobId, handler, { lastSeq = null, lastLogId = null } = {}) {
    jobId = String(jobId);
    let entry = this.jobs.get(jobId);
    if (!entry) {
      const seen = lastSeq ?? -1;
      entry = { handlers: new Set(), lastSeq, lastLogId, firstLogId: lastLogId, logIds: new Set(), statusSeq: seen, finalSeq: seen };
      this.jobs.set(jobId, entry);
      this.send(subscribeMessage(jobId, entry));
    }
    entry.handlers.add(handler);
    return () => {
      entry.handlers.delete(handler);
      if (!entry.handlers.size) {
        this.jobs.delete(jobId);
        this.send({ event: "unsubscribe_job", job_id: jobId });
      }
    };
  }

  subscribeAll(filters, handler) {
    if (!this.all) this.all = { filters: filters || {}, handlers: new Set() };
    else this.all.filters = filters || {};
    this.all.handlers.add(handler);
    this.send({ event: "subscribe_all_jobs", filters: this.all.filters });
    return () => this.all?.handlers.delete(handler);
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name).delete(fn);
  }

  onPoll(fn) {
    this.pollers.add(fn);
    return () => this.pollers.delete(fn);
  }

  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state, "");
    return () => this.stateListeners.delete(fn);
  }

  // --- connection -----------------------------------------------------------------------------
  url() {
    const path = document.body.dataset.wsPath || "/ws/jobs/";
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    let opened = false;
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.scheduleRetry(String(error));
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.failures = 0;
      this.setState("live", "");
      this.stopPolling();
      this.resubscribe();
      // Back after a gap: catch up on what the socket does not replay (rows, tables). The first
      // connection needs nothing: the page was just rendered.
      if (this.connectedBefore) this.runPollers();
      this.connectedBefore = true;
    });
    socket.addEventListener("message", (message) => this.dispatch(message.data));
    socket.addEventListener("close", (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (close.code === 4401) {
        this.setState("offline", "Signed out — reload to log in");
        return;
      }
      if (!opened || close.code !== 1000) this.failures += 1;
      this.scheduleRetry(close.code === 4429 ? "Too many open tabs" : "");
    });
  }

  scheduleRetry(detail) {
    if (!navigator.onLine) {
      this.setState("offline", "The browser is offline");
    } else if (this.failures >= FAILURES_BEFORE_POLLING) {
      this.setState("polling", detail || "Live updates unavailable; refreshing every few seconds");
      this.startPolling();
    } else {
      this.setState("reconnecting", detail);
    }
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, this.failures - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    this.failures = Math.min(this.failures, FAILURES_BEFORE_POLLING - 1);
    if (!this.socket) this.connect();
  }

  resubscribe() {
    for (const [jobId, entry] of this.jobs) this.send(subscribeMessage(jobId, entry));
    if (this.all) this.send({ event: "subscribe_all_jobs", filters: this.all.filters });
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  // --- polling fallback -----------------------------------------------------------------------
  startPolling() {
    if (this.pollTimer) return;
    this.runPollers();
    this.pollTimer = setInterval(() => this.runPollers(), POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  runPollers() {
    for (const poll of this.pollers) {
      Promise.resolve()
        .then(poll)
        .catch((error) => console.warn("poll failed", error));
    }
  }

  // --- events -----------------------------------------------------------------------------------
  dispatch(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    const jobId = event.job_id;
    const entry = jobId ? this.jobs.get(jobId) : null;
    if (entry && event.event === "job_log_entry") {
      // Lines can arrive out of order (several workers publish) and twice (a poll, a replay).
      if (entry.logIds.has(event.id) || event.id <= (entry.firstLogId ?? 0)) return;
      entry.logIds.add(event.id);
      if (entry.logIds.size > LOG_IDS_KEPT) entry.logIds.delete(entry.logIds.values().next().value);
      entry.lastLogId = Math.max(entry.lastLogId ?? 0, event.id);
    }
    if (entry && typeof event.seq === "number") {
      const mark = event.event === "job_status_update" ? "statusSeq" : event.event in FINAL ? "finalSeq" : null;
      if (mark) {
        if (event.seq <= entry[mark] && !event.resync) return; // older than what we showed
        entry[mark] = event.seq;
      }
      entry.lastSeq = Math.max(entry.lastSeq ?? -1, event.seq);
    }
    if (entry) for (const handler of entry.handlers) this.safely(handler, event);
    if (this.all) for (const handler of this.all.handlers) this.safely(handler, event);
    for (const fn of this.listeners.get(event.event) || []) this.safely(fn, event);
    for (const fn of this.listeners.get("*") || []) this.safely(fn, event);
  }

  /** Feed an event that came from polling through the same path, so seq rules still apply. */
  accept(event) {
    this.dispatch(JSON.stringify(event));
  }

  safely(fn, event) {
    try {
      fn(event);
    } catch (error) {
      console.error("live event handler failed", event.event, error);
    }
  }

  setState(state, detail) {
    this.state = state;
    const indicator = document.getElementById("conn");
    if (indicator) {
      indicator.dataset.state = state;
      indicator.textContent = LABELS[state];
    }
    const note = document.querySelector("[data-conn-detail]");
    if (note) note.textContent = detail || "";
    for (const fn of this.stateListeners) {
      try {
        fn(state, detail);
      } catch (error) {
        console.error("connection state listener failed", error);
      }
    }
  }
}

const FINAL = { job_completed: 1, job_failed: 1 };

// What a (re)subscription says the page already has. The log cursor, when there is one, goes
// alone: the server replays the lines after it, and it would also drop live events not newer
// than a last_seq — among them a line a runner writes without changing the job (it carries the
// seq the page already showed). Without a log cursor, last_seq. Either way the page drops what
// it already has (status by seq, log lines by id).
function subscribeMessage(jobId, entry) {
  const message = { event: "subscribe_job", job_id: jobId };
  if (entry.lastLogId != null) message.last_log_id = entry.lastLogId;
  else if (entry.lastSeq != null) message.last_seq = entry.lastSeq;
  return message;
}

export const live = new Live();
window.batchsite = Object.assign(window.batchsite || {}, { live });
// Page scripts register their subscriptions in the same task; connect after them.
queueMicrotask(() => live.connect());
