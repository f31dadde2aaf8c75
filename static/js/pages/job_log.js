// The job page's log viewer: follows the tail unless paused or scrolled up, filters the lines by
// level and text, keeps the last LOG_LINES_KEPT lines. job_detail.js feeds it the live lines.
import { number } from "../format.js";

export const LOG_LINES_KEPT = 2000;

function clock(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { hour12: false });
}

/** Wire the viewer in `section`; returns the function that takes new entries (oldest first). */
export function jobLog(section, levels) {
  const log = section.querySelector("[data-log]");
  const levelSelect = section.querySelector("[data-log-level]");
  const searchBox = section.querySelector("[data-log-search]");
  const pauseButton = section.querySelector("[data-log-pause]");
  const note = section.querySelector("[data-log-note]");
  let held = [];

  function lineShown(line) {
    const needle = searchBox.value.trim().toLowerCase();
    const level = levels[line.dataset.level] ?? 0;
    return level >= levels[levelSelect.value] && (!needle || line.textContent.toLowerCase().includes(needle));
  }

  function filterLog() {
    for (const line of log.children) line.hidden = !lineShown(line);
  }

  function logLine(entry) {
    const line = document.createElement("div");
    line.className = "log__line";
    line.dataset.id = entry.id;
    line.dataset.level = entry.level;
    const time = document.createElement("time");
    time.className = "log__time";
    time.dateTime = entry.timestamp;
    time.textContent = clock(entry.timestamp);
    const level = document.createElement("span");
    level.className = `log__level log__level--${entry.level}`;
    level.textContent = entry.level.toUpperCase();
    const message = document.createElement("span");
    message.className = "log__msg";
    message.textContent = entry.message;
    line.append(time, level, message);
    line.hidden = !lineShown(line);
    return line;
  }

  // Whether the log follows its tail: kept from scroll events, so appending reads no layout.
  let following = true;
  let scrolledByUs = false;
  log.addEventListener(
    "scroll",
    () => {
      if (scrolledByUs) scrolledByUs = false; // our own scroll to the tail: still following
      else following = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    },
    { passive: true },
  );

  function scrollToTail() {
    if (log.scrollHeight - log.clientHeight - log.scrollTop < 1) return;
    scrolledByUs = true;
    log.scrollTop = log.scrollHeight;
  }

  function appendLog(entries) {
    if (!entries.length) return;
    for (const entry of entries) {
      // In id order, also for a line that arrives after a later one.
      let after = log.lastElementChild;
      while (after && Number(after.dataset.id) > entry.id) after = after.previousElementSibling;
      if (after) after.after(logLine(entry));
      else log.prepend(logLine(entry));
    }
    while (log.childElementCount > LOG_LINES_KEPT) log.firstElementChild.remove();
    section.querySelector("[data-log-empty]")?.remove();
    if (log.childElementCount >= LOG_LINES_KEPT) {
      note.textContent = `The last ${number(LOG_LINES_KEPT)} lines; download the log for all of it.`;
    }
    // Scrolled on the next frame, once this one's layout is done, rather than forcing it now.
    if (following) requestAnimationFrame(scrollToTail);
  }

  pauseButton.addEventListener("click", () => {
    const paused = pauseButton.getAttribute("aria-pressed") !== "true";
    pauseButton.setAttribute("aria-pressed", String(paused));
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      const entries = held;
      held = [];
      following = true;
      appendLog(entries);
    }
  });
  levelSelect.addEventListener("change", filterLog);
  searchBox.addEventListener("input", filterLog);
  for (const time of log.querySelectorAll(".log__time")) time.textContent = clock(time.dateTime);
  scrollToTail();

  return function onLogEntries(entries) {
    if (pauseButton.getAttribute("aria-pressed") === "true") {
      held.push(...entries);
      if (held.length > LOG_LINES_KEPT) held.splice(0, held.length - LOG_LINES_KEPT);
      pauseButton.textContent = `Resume (${number(held.length)} new)`;
      return;
    }
    appendLog(entries);
  };
}
