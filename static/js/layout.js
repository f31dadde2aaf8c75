// The layout's live parts: the bell counts the user's unread alerts (from the page, then live).
import { live } from "./live.js";

const count = document.querySelector("[data-bell-count]");
const bell = count?.closest("button");
let unread = Number(count?.dataset.unread || 0);

function show() {
  if (!count) return;
  count.textContent = unread > 9 ? "9+" : String(unread);
  count.hidden = unread <= 0;
  bell?.setAttribute("aria-label", unread > 0 ? `Notifications (${unread} unread)` : "Notifications");
}

function onAlert(event) {
  // Preferences → Notifications → "In the app" off: no toast, no count. Staff follow every
  // user's jobs: only their own alerts count.
  if (!count || document.body.dataset.inAppNotify === "off") return;
  if (String(event.user_id) !== document.body.dataset.userId) return;
  unread += 1;
  show();
  window.batchsite?.toast?.(event.title, event.kind === "finished" ? undefined : "error");
}

live.on("alert", onAlert);
// The bell's panel (opened, or "Mark all read") says how many are unread now: the count follows.
document.addEventListener("htmx:afterSwap", (event) => {
  const now = event.detail.target?.querySelector?.("[data-unread-now]");
  if (!now || document.body.dataset.inAppNotify === "off") return;
  unread = Number(now.dataset.unreadNow) || 0;
  show();
});
