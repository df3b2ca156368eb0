// The dashboard's only script: draws the per-day series (embedded in the page as JSON) with uPlot, and keeps
// the period form coherent. No network access beyond this server; the figures themselves are in the HTML.
(function () {
  "use strict";
  var COLORS = { requests: "#2563eb", errors: "#dc2626", tokens: "#059669", cost: "#d97706" };
  window.enclaveCharts = [];

  function draw(data) {
    var xs = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
    document.querySelectorAll(".chart[data-series]").forEach(function (el) {
      var names = el.getAttribute("data-series").split(",");
      var opts = {
        width: Math.max(280, el.clientWidth || 360),
        height: 180,
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
        legend: { show: true },
        // Counts and money start at zero: a chart that starts at its minimum exaggerates small changes.
        scales: { y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
        series: [{}].concat(names.map(function (n) {
          return { label: n, stroke: COLORS[n] || "#444", width: 2, points: { show: xs.length < 40 } };
        })),
        axes: [{}, { size: 70 }],
      };
      var chart = new uPlot(opts, [xs].concat(names.map(function (n) { return data[n]; })), el);
      chart.root.setAttribute("data-chart", names.join(","));
      window.enclaveCharts.push(chart);
    });
  }

  var series = document.getElementById("series");
  if (series && window.uPlot) {
    draw(JSON.parse(series.textContent));
  }

  // Choosing dates means a custom period; choosing a named period clears the dates (the server lets a named
  // period win anyway, this only keeps what the form shows honest).
  var select = document.getElementById("period");
  if (select) {
    ["since", "until"].forEach(function (id) {
      var input = document.getElementById(id);
      input.addEventListener("change", function () { select.value = "custom"; });
    });
  }
})();
