// Draws the page's charts: each <figure data-chart=ID> gets the Vega specification ID of
// #chart-specs (Vega-Lite compiled by the server), rendered by vega-embed (served by the same
// server; nothing is fetched elsewhere).
// One after another, top first, so the first chart shows as soon as it is ready instead of all
// at the end. A drawn figure gets data-drawn="true", a failed one data-drawn="failed" and the
// reason in words; the page marks each in the Performance timeline ("chart drawn: ID").
(async function () {
  "use strict";
  const source = document.getElementById("chart-specs");
  if (!source) return;
  const specs = JSON.parse(source.textContent);
  for (const figure of document.querySelectorAll("figure.chart[data-chart]")) {
    const spec = specs[figure.dataset.chart];
    const target = figure.querySelector(".vega");
    if (!spec || !target) continue;
    try {
      // ast: expressions are interpreted, not compiled with `new Function`: the page's
      // Content-Security-Policy allows no eval (reports_api/headers.py)
      await vegaEmbed(target, spec, { mode: "vega", renderer: "svg", actions: false, ast: true });
      figure.dataset.drawn = "true";
      performance.mark("chart drawn: " + figure.dataset.chart);
    } catch (error) {
      figure.dataset.drawn = "failed";
      target.textContent = "This chart could not be drawn: " + error;
    }
  }
})();
