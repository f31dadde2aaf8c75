// Behaviour every page shares: menus, the theme switch, the sidebar on small screens, copy buttons,
// relative times kept fresh, toasts, and the "/" shortcut to the search box. Plain script, no build.
(() => {
  "use strict";

  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // --- menus (user menu, notifications): click or Enter/Space opens, Escape or outside click closes
  function closeMenus(except) {
    for (const menu of document.querySelectorAll("[data-menu]")) {
      if (menu === except) continue;
      menu.querySelector("[data-menu-panel]").hidden = true;
      menu.querySelector("[data-menu-button]").setAttribute("aria-expanded", "false");
    }
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-menu-button]");
    if (button) {
      const menu = button.closest("[data-menu]");
      const panel = menu.querySelector("[data-menu-panel]");
      closeMenus(menu);
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) panel.querySelector("a, button")?.focus({ preventScroll: true });
      return;
    }
    if (!event.target.closest("[data-menu-panel]")) closeMenus(null);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      const open = document.querySelector("[data-menu-panel]:not([hidden])");
      closeMenus(null);
      open?.closest("[data-menu]").querySelector("[data-menu-button]").focus();
      closeNav();
    }
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing) {
      event.preventDefault();
      document.getElementById("global-search")?.focus();
    }
  });

  // --- theme: a cookie the server reads (so the first paint is already right) + the attribute now
  document.addEventListener("click", (event) => {
    const choice = event.target.closest("[data-theme-choice]");
    if (!choice) return;
    const theme = choice.dataset.themeChoice;
    document.cookie = `theme=${theme}; path=/; max-age=31536000; SameSite=Lax`;
    if (theme === "system") document.documentElement.removeAttribute("data-theme");
    else document.documentElement.dataset.theme = theme;
    for (const other of document.querySelectorAll("[data-theme-choice]")) {
      other.setAttribute("aria-pressed", String(other === choice));
    }
    window.dispatchEvent(new CustomEvent("batchsite:theme", { detail: theme }));
    // Signed in: the theme is a preference too, so other browsers follow it.
    const url = document.body.dataset.themeUrl;
    if (url) {
      fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": csrf() },
        body: new URLSearchParams({ theme }),
        credentials: "same-origin",
      }).catch(() => {});
    }
  });

  // --- sidebar on small screens
  const nav = () => document.getElementById("sidebar");
  function closeNav() {
    nav()?.removeAttribute("data-open");
    document.querySelector("[data-nav-toggle]")?.setAttribute("aria-expanded", "false");
  }
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      const open = !nav().hasAttribute("data-open");
      nav().toggleAttribute("data-open", open);
      toggle.setAttribute("aria-expanded", String(open));
    } else if (!event.target.closest("#sidebar")) {
      closeNav();
    }
  });

  // --- copy buttons: <button data-copy="text">
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      toast("Copied to the clipboard");
    } catch {
      toast("Copy failed: select the text and copy it by hand", "error");
    }
  });

  // --- toasts
  function toast(message, kind = "info") {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = `toast${kind === "error" ? " toast--error" : ""}`;
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    box.append(item);
    setTimeout(() => item.remove(), 4000);
  }

  // --- relative times: <time datetime="..." data-ago> re-rendered every 30 s
  const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  function agoText(iso) {
    let delta = (new Date(iso).getTime() - Date.now()) / 1000;
    if (Math.abs(delta) < 10) return "now";
    for (const [size, unit] of [[60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"], [Infinity, "year"]]) {
      if (Math.abs(delta) < size) return relative.format(Math.round(delta), unit);
      delta /= size;
    }
    return "";
  }
  function refreshTimes(root = document) {
    for (const time of root.querySelectorAll("time[data-ago]")) {
      if (!time.title) time.title = new Date(time.dateTime).toLocaleString();
      time.textContent = agoText(time.dateTime);
    }
  }
  document.addEventListener("DOMContentLoaded", () => refreshTimes());
  document.addEventListener("htmx:afterSwap", (event) => refreshTimes(event.target));
  setInterval(refreshTimes, 30000);

  // --- htmx: send the CSRF token, show errors instead of failing silently
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRFToken"] = csrf();
  });
  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr.status;
    toast(status === 429 ? "Too many requests: try again in a moment" : `The server answered ${status}`, "error");
  });
  document.addEventListener("htmx:sendError", () => toast("The server did not answer", "error"));

  window.batchsite = Object.assign(window.batchsite || {}, { toast, csrf, refreshTimes });
})();
