// Settings pages: ask before what cannot be undone (regenerate/revoke a key, rotate a secret,
// delete a webhook) in a dialog, and offer the browser's time zone. Without this script the
// server asks on a page of its own (the forms post without confirm=yes).

const dialog = document.getElementById("confirm-dialog");
let pending = null;

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (!form || !dialog) return;
  const confirmField = form.querySelector('input[name="confirm"]');
  if (confirmField && confirmField.value === "yes") return;
  event.preventDefault();
  pending = form;
  dialog.querySelector("[data-confirm-title]").textContent = form.dataset.confirm;
  dialog.querySelector("[data-confirm-detail]").textContent = form.dataset.confirmDetail || "";
  dialog.querySelector("[data-confirm-ok]").textContent = form.dataset.confirmButton || "Confirm";
  dialog.showModal();
  dialog.querySelector("[data-confirm-cancel]").focus();
});

dialog?.addEventListener("click", (event) => {
  if (event.target.closest("[data-confirm-cancel]") || event.target === dialog) {
    dialog.close();
    return;
  }
  if (event.target.closest("[data-confirm-ok]") && pending) {
    const form = pending;
    pending = null;
    form.querySelector('input[name="confirm"]').value = "yes";
    dialog.close();
    form.requestSubmit();
  }
});
dialog?.addEventListener("close", () => {
  pending = null;
});

// The browser's own time zone, one click away when it is not the one chosen.
const zoneSelect = document.getElementById("id_time_zone");
const detect = document.querySelector("[data-tz-detect]");
const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const chosenZone = zoneSelect?.value || detect?.dataset.siteZone;
if (zoneSelect && detect && browserZone && chosenZone !== browserZone) {
  const option = [...zoneSelect.options].find((o) => o.value === browserZone);
  if (option) {
    detect.textContent = `Use this browser's (${option.textContent})`;
    detect.hidden = false;
    detect.addEventListener("click", () => {
      zoneSelect.value = browserZone;
      detect.hidden = true;
    });
  }
}
