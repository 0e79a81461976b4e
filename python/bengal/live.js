// bengal serve: live reload. Injected into HTML responses by the dev server only; never part of
// `bengal build` output. Listens to Server-Sent Events from /__bengal/events:
//   hello        {generation, errors}   on every (re)connection: reload if a build happened
//                                       while disconnected; show the current build errors
//   reload       {generation, paths}    reload when this page (or an unknown set) changed
//   css          {generation}           swap stylesheets in place, no reload
//   build-error  {generation, errors}   show the overlay
//   build-ok     {generation}           clear the overlay
(() => {
  "use strict";
  if (window.__bengalLive) return;
  const live = (window.__bengalLive = { generation: null, reloads: 0, cssSwaps: 0 });
  const OVERLAY_ID = "bengal-error-overlay";

  const here = () => {
    try {
      return decodeURIComponent(location.pathname);
    } catch (e) {
      return location.pathname;
    }
  };
  // The build that wrote this page: if a rebuild finished before the event stream connected,
  // the first "hello" says a newer one and the page reloads.
  const tag = document.currentScript;
  if (tag && tag.dataset.generation) live.generation = Number(tag.dataset.generation);

  function showErrors(errors) {
    let box = document.getElementById(OVERLAY_ID);
    if (!errors || errors.length === 0) {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.id = OVERLAY_ID;
      box.setAttribute("role", "alert");
      box.style.cssText =
        "position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:2rem;" +
        "background:rgba(20,20,24,.94);color:#f4f4f5;font:14px/1.5 ui-monospace,monospace;";
      document.documentElement.appendChild(box);
    }
    box.textContent = "";
    const head = document.createElement("div");
    head.style.cssText = "color:#fca5a5;font-weight:bold;font-size:16px;margin-bottom:1rem";
    head.textContent = `bengal: the last build failed (${errors.length} error${errors.length > 1 ? "s" : ""}); ` +
      "the page shows the last good output. Fix the file and save.";
    box.appendChild(head);
    for (const err of errors) {
      const row = document.createElement("pre");
      row.className = "bengal-error";
      row.style.cssText = "white-space:pre-wrap;margin:0 0 .75rem;padding:.75rem;border-left:3px solid #f87171;background:#27272a";
      const where = err.file ? `${err.file}${err.line ? ":" + err.line : ""}\n` : "";
      row.textContent = where + err.message;
      box.appendChild(row);
    }
  }

  async function swapStylesheets() {
    // The new page tells which stylesheets it links now (a fingerprinted file changes name).
    let fresh = [];
    try {
      const res = await fetch(location.href, { cache: "no-store" });
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      fresh = [...doc.querySelectorAll('link[rel~="stylesheet"]')].map((l) => l.getAttribute("href"));
    } catch (e) {
      location.reload();
      return;
    }
    const old = [...document.querySelectorAll('link[rel~="stylesheet"]')];
    const stamp = "bengal=" + Date.now();
    old.forEach((link, i) => {
      if (link.dataset.bengalOld) return; // still being replaced by an earlier swap
      link.dataset.bengalOld = "1";
      const href = (fresh[i] !== undefined ? fresh[i] : link.getAttribute("href"))
        .replace(/[?&]bengal=\d+/g, "");
      const next = link.cloneNode();
      delete next.dataset.bengalOld;
      next.href = href + (href.includes("?") ? "&" : "?") + stamp;
      next.addEventListener("load", () => link.remove(), { once: true });
      next.addEventListener("error", () => link.remove(), { once: true });
      link.after(next);
    });
    live.cssSwaps += 1;
  }

  let source = null;
  function connect() {
    source = new EventSource("/__bengal/events");
    source.addEventListener("hello", (e) => {
      const d = JSON.parse(e.data);
      if (live.generation !== null && d.generation !== live.generation) {
        location.reload();
        return;
      }
      live.generation = d.generation;
      showErrors(d.errors);
    });
    source.addEventListener("reload", (e) => {
      const d = JSON.parse(e.data);
      live.generation = d.generation;
      if (!d.paths || d.paths.includes(here())) {
        live.reloads += 1;
        location.reload();
      }
    });
    source.addEventListener("css", (e) => {
      live.generation = JSON.parse(e.data).generation;
      swapStylesheets();
    });
    source.addEventListener("build-error", (e) => {
      const d = JSON.parse(e.data);
      live.generation = d.generation;
      showErrors(d.errors);
    });
    source.addEventListener("build-ok", (e) => {
      live.generation = JSON.parse(e.data).generation;
      showErrors([]);
    });
  }
  connect();
  window.addEventListener("pagehide", () => source && source.close());
})();
