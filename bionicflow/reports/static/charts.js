// Draws the page's charts: each <figure data-chart=ID> gets the Vega specification ID of
// #chart-specs (Vega-Lite compiled by the server), rendered by vega-embed (served by the same
// server; nothing is fetched elsewhere).
// One after another, top first, so the first chart shows as soon as it is ready instead of all
// at the end. A drawn figure gets data-drawn="true", a failed one data-drawn="failed" and the
// reason in words; the page marks each in the Performance timeline ("chart drawn: ID"). When all
// are drawn and fitted to their cards, <html> gets data-charts-drawn="true".
(async function () {
  "use strict";
  const source = document.getElementById("chart-specs");
  if (!source) return;
  const specs = JSON.parse(source.textContent);
  const views = [];
  for (const figure of document.querySelectorAll("figure.chart[data-chart]")) {
    const spec = specs[figure.dataset.chart];
    const target = figure.querySelector(".vega");
    if (!spec || !target) continue;
    try {
      // ast: expressions are interpreted, not compiled with `new Function`: the page's
      // Content-Security-Policy allows no eval (reports_api/headers.py)
      const drawn = await vegaEmbed(target, spec, { mode: "vega", renderer: "svg", actions: false, ast: true });
      views.push(drawn.view);
      figure.dataset.drawn = "true";
      performance.mark("chart drawn: " + figure.dataset.chart);
    } catch (error) {
      figure.dataset.drawn = "failed";
      target.textContent = "This chart could not be drawn: " + error;
    }
  }
  // Each chart took its card's width when drawn; the charts below then made the page taller, its
  // scroll bar appeared and the cards narrowed, which no window "resize" reports: the charts drawn
  // first stuck out ~15 px and were cut at the card's edge. Their width follows the container on
  // "resize" (width "container"), so tell them once all are drawn.
  window.dispatchEvent(new Event("resize"));
  await Promise.all(views.map((view) => view.runAsync()));
  document.documentElement.dataset.chartsDrawn = "true";  // every chart drawn at its final width
})();
