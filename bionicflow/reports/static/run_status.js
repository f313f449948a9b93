// Follows the demo_data run that "Generate" started, to its end: asks reports_api (GET
// /ui/generate/status, the page's run id and ticket) every 2 s and writes the answer — queued,
// running, done with what was written, or failed — into #run-state, in the page's language.
// A file of its own: the pages' Content-Security-Policy runs no inline script (reports_api/headers.py).
(function () {
  "use strict";
  const status = document.getElementById("run-status");
  if (!status) return;
  const state = document.getElementById("run-state");
  const link = document.getElementById("run-link");
  const query = new URLSearchParams({ run: status.dataset.run, ticket: status.dataset.ticket,
                                      lang: status.dataset.lang });
  const EVERY_MS = 2000;
  async function poll() {
    let answer;
    try {
      const response = await fetch("/ui/generate/status?" + query, { credentials: "same-origin" });
      answer = await response.json();
      if (!response.ok) {
        state.textContent = answer.detail || response.statusText;
        status.dataset.state = "unknown";
        if (response.status === 401 || response.status === 403) return; // asking again will not help
        setTimeout(poll, EVERY_MS);
        return;
      }
    } catch (error) {
      state.textContent = String(error);
      setTimeout(poll, EVERY_MS);
      return;
    }
    state.textContent = answer.text;
    status.dataset.state = answer.state;
    if (answer.url) link.href = answer.url;
    status.className = answer.state === "failed" ? "error" : answer.done ? "ok" : "";
    if (!answer.done) setTimeout(poll, EVERY_MS);
  }
  poll();
})();
