/* Spendapp charts: draw every server-built Plotly figure on the page, no build step.
 *
 * A chart is <div class="chart" id="chart-x" data-figure="chart-x-data"> plus
 * <script type="application/json" id="chart-x-data">{figure JSON}</script>.
 * A trace whose meta holds {drill: "query string"} navigates there when clicked
 * (the explorer's drill-down). When every chart is drawn the page sets
 * document.body.dataset.chartsReady = "1", which browser tests wait for.
 */
(function () {
  "use strict";

  var CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
    toImageButtonOptions: { format: "png", scale: 2 }
  };

  function figureOf(el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    return JSON.parse(source.textContent);
  }

  function drillOnClick(el) {
    el.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      var meta = point && point.data && point.data.meta;
      if (meta && meta.drill) {
        window.location.search = meta.drill;
      }
    });
  }

  function draw(el) {
    var figure = figureOf(el);
    return window.Plotly.newPlot(el, figure.data, figure.layout, CONFIG).then(function () {
      drillOnClick(el);
    });
  }

  function ready() {
    document.body.dataset.chartsReady = "1";
  }

  function start() {
    var charts = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
    if (!charts.length || !window.Plotly) {
      ready();
      return;
    }
    Promise.all(charts.map(draw)).then(ready, function (error) {
      document.body.dataset.chartsReady = "error";
      throw error;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
