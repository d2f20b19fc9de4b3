// Live updates: the server says when the fleet changed (server-sent events); the page fetches its own live
// part again (?partial=1) and swaps it in. No inline script anywhere (the CSP forbids it).
"use strict";
(function () {
  const live = document.querySelector("main[data-live]");
  if (!live || !window.EventSource) {
    return;
  }
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const url = new URL(window.location.href);
      url.searchParams.set("partial", "1");
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.status === 401) {
        window.location.reload(); // the session ended: the full page goes to the login
        return;
      }
      if (response.ok) {
        live.innerHTML = await response.text();
        live.dataset.refreshed = String(Date.now());
      }
    } catch (e) {
      // the server is restarting or unreachable: the next event retries
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const events = new EventSource("/events");
  events.addEventListener("change", refresh);
})();
