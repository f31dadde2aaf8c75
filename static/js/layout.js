// The layout's live parts: the bell counts jobs that finish while this page is open.
import { live } from "./live.js";

const count = document.querySelector("[data-bell-count]");
let unseen = 0;

function bump(event) {
  // Preferences → Notifications → "In the app" off: no toast, no count.
  if (!count || document.body.dataset.inAppNotify === "off") return;
  unseen += 1;
  count.textContent = unseen > 9 ? "9+" : String(unseen);
  count.hidden = false;
  count.closest("button")?.setAttribute("aria-label", `Notifications (${unseen} new)`);
  const name = event.name ? `“${event.name}”` : "A batch";
  window.batchsite?.toast?.(`${name} ${event.event === "job_failed" ? "failed" : "finished"}`);
}

live.on("job_completed", bump);
live.on("job_failed", bump);
count?.closest("button")?.addEventListener("click", () => {
  unseen = 0;
  count.hidden = true;
  count.closest("button").setAttribute("aria-label", "Notifications");
});
