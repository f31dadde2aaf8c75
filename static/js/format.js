// Figures formatted for people — the same rules as the template filters in
// jobs/templatetags/batchsite.py (duration, number, percent, ago), so a live update reads exactly
// like the server-rendered page it patches.

const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function number(value) {
  return value == null ? "—" : numberFormat.format(value);
}

export function percent(value, digits = 0) {
  return value == null ? "—" : `${Number(value).toFixed(digits)} %`;
}

export function duration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  let minutes = Math.floor(Math.round(seconds) / 60);
  const secs = Math.round(seconds) % 60;
  if (minutes < 60) return secs && minutes < 10 ? `${minutes} min ${secs} s` : `${minutes} min`;
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 48) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  hours %= 24;
  return hours ? `${days} d ${hours} h` : `${days} d`;
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const STEPS = [
  [60, "second"],
  [60, "minute"],
  [24, "hour"],
  [7, "day"],
  [4.35, "week"],
  [12, "month"],
  [Infinity, "year"],
];

export function ago(when) {
  if (!when) return "—";
  let delta = (new Date(when).getTime() - Date.now()) / 1000;
  if (Math.abs(delta) < 10) return "now";
  for (const [size, unit] of STEPS) {
    if (Math.abs(delta) < size) return relative.format(Math.round(delta), unit);
    delta /= size;
  }
  return "";
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
