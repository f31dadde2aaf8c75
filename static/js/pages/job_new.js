// The New batch page (templates/jobs/job_new.html): the form posts as a plain form; htmx keeps the
// preview and the processor's options fresh. This adds the small things around them.
const form = document.querySelector("form.nb");
const file = form.elements.file;
const clear = form.querySelector("[data-clear-file]");

function showClear() {
  clear.hidden = !file.value;
}

file.addEventListener("change", showClear);
clear.addEventListener("click", () => {
  file.value = "";
  showClear();
  file.dispatchEvent(new Event("change", { bubbles: true })); // the preview follows
  file.focus();
});
showClear();

// Ctrl/⌘+Enter in the URL box submits, as in most editors.
form.elements.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// One submission at a time: a big list takes a moment to store. A check (or the options of a
// processor) still on its way is let finish first: leaving the page would abort it half-way.
form.addEventListener("submit", (event) => {
  if (form.matches(".htmx-request") || form.querySelector(".htmx-request")) {
    event.preventDefault();
    form.addEventListener("htmx:afterRequest", () => form.requestSubmit(), { once: true });
    return;
  }
  const button = form.querySelector("button[type=submit]");
  setTimeout(() => {
    button.disabled = true;
    button.textContent = "Submitting…";
  });
});
