// portico dashboard: polls /dashboard/state and redraws. Every value is set with textContent or
// setAttribute (never innerHTML), so nothing a vendor, a file or a record says can run as markup.
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); }); }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function td(text, cls) { return el("td", cls ? { "class": cls } : null, text === null || text === undefined ? "" : text); }
  function num(v) { return v === null || v === undefined ? "\u2013" : String(v); }
  function cls(s) { return String(s || "unknown").replace(/[^a-z0-9_-]/gi, "_"); }
  function replaceBody(table, rows, emptyText, colspan) {
    var body = document.querySelector(table + " tbody");
    var fresh = document.createElement("tbody");
    if (!rows.length) {
      var tr = el("tr", { "class": "none" });
      var cell = td(emptyText); cell.setAttribute("colspan", colspan); tr.appendChild(cell);
      fresh.appendChild(tr);
    }
    rows.forEach(function (r) { fresh.appendChild(r); });
    body.parentNode.replaceChild(fresh, body);
  }

  function systemRow(s) {
    var tr = el("tr", { "class": "system status-" + cls(s.status), "data-system": s.system, "data-status": s.status });
    tr.appendChild(td(s.system, "name"));
    var status = td(s.status, "status"); status.setAttribute("title", s.reason || "");
    status.appendChild(el("div", { "class": "reason" }, s.reason || ""));
    tr.appendChild(status);
    var lat = s.latency_ms || {};
    tr.appendChild(td(num(lat.p50))); tr.appendChild(td(num(lat.p95))); tr.appendChild(td(num(lat.p99)));
    tr.appendChild(td(((s.error_rate || 0) * 100).toFixed(1) + "%"));
    tr.appendChild(td(s.requests));
    tr.appendChild(td(s.breaker, "breaker breaker-" + cls(s.breaker)));
    var rl = s.rate_limit || {}, parts = [];
    Object.keys(rl.remaining || {}).forEach(function (w) {
      var limit = (rl.limit || {})[w];
      parts.push(limit ? w + ": " + Math.round(100 * (1 - rl.remaining[w] / limit)) + "% used" : w + ": " + rl.remaining[w] + " left");
    });
    if (rl.waits) { parts.push("(" + rl.waits + " waits)"); }
    tr.appendChild(td(parts.join(" ")));
    var e = s.last_error;
    tr.appendChild(td(e ? e.error_class + ": " + e.message : "", "last-error"));
    return tr;
  }

  function alertItem(a) {
    var li = el("li", { "class": "alert severity-" + cls(a.severity), "data-rule": a.rule, "data-system": a.system || "" });
    li.appendChild(el("strong", null, a.severity));
    li.appendChild(document.createTextNode(" " + (a.system || "") + ": " + a.summary + " "));
    li.appendChild(el("span", { "class": "muted" }, "since " + a.started_at));
    return li;
  }

  function jobRow(j) {
    var tr = el("tr", { "class": "job outcome-" + cls(j.outcome) });
    [j.at, j.job, j.system, j.outcome, j.records_imported, j.records_rejected, j.error || ""].forEach(function (v) { tr.appendChild(td(v)); });
    return tr;
  }

  function deadRow(d) {
    var tr = el("tr", { "class": "dead-letter" });
    tr.appendChild(td(d.at)); tr.appendChild(td(d.job)); tr.appendChild(td(d.reason)); tr.appendChild(td(d.where || ""));
    var cell = td(null); cell.appendChild(el("code", null, d.record)); tr.appendChild(cell);
    return tr;
  }

  function chart(title, points, extraClass) {
    var w = 260, h = 70, pad = 4;
    var box = el("div", { "class": "chart" });
    box.appendChild(el("h3", null, title));
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h); svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    var axis = document.createElementNS(SVG, "line");
    axis.setAttribute("class", "axis"); axis.setAttribute("x1", 0); axis.setAttribute("x2", w);
    axis.setAttribute("y1", h - pad); axis.setAttribute("y2", h - pad); svg.appendChild(axis);
    var values = points.map(function (p) { return Number(p[1]); });
    var max = Math.max.apply(null, values.concat([0])) || 1;
    if (values.length) {
      var step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;
      var coords = values.map(function (v, i) {
        return (pad + i * step).toFixed(1) + "," + (h - pad - (v / max) * (h - 2 * pad)).toFixed(1);
      });
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", "line" + (extraClass ? " " + extraClass : ""));
      line.setAttribute("points", coords.join(" "));
      svg.appendChild(line);
    }
    var label = document.createElementNS(SVG, "text");
    label.setAttribute("x", pad); label.setAttribute("y", 10);
    label.textContent = values.length ? "max " + (Math.round(max * 1000) / 1000) : "no data yet";
    svg.appendChild(label);
    box.appendChild(svg);
    return box;
  }

  function render(state) {
    var overall = document.getElementById("overall");
    overall.textContent = state.status;
    overall.setAttribute("class", "badge status-" + cls(state.status));
    document.getElementById("generated").textContent = state.generated_at;
    replaceBody("#systems", state.systems.map(systemRow), "No systems", 10);
    var list = document.getElementById("alerts");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!state.alerts.length) { list.appendChild(el("li", { "class": "none" }, "No active alerts")); }
    state.alerts.forEach(function (a) { list.appendChild(alertItem(a)); });
    replaceBody("#jobs", state.jobs.map(jobRow), "No job runs yet", 7);
    replaceBody("#dead-letters", state.dead_letters.map(deadRow), "Dead-letter queue empty", 5);
    var trends = document.getElementById("trends");
    while (trends.firstChild) { trends.removeChild(trends.firstChild); }
    Object.keys(state.series || {}).forEach(function (system) {
      var s = state.series[system];
      trends.appendChild(chart(system + " \u2013 p95 latency (ms)", s.p95_ms || []));
      trends.appendChild(chart(system + " \u2013 error rate", s.error_rate || [], "errors"));
    });
  }

  function poll() {
    var wait = Number(document.body.getAttribute("data-refresh-ms")) || 2000;
    fetch("/dashboard/state", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (state) {
        render(state);
        document.getElementById("connection").textContent = "";
        document.body.setAttribute("data-updates", String(Number(document.body.getAttribute("data-updates") || 0) + 1));
      })
      .catch(function (err) { document.getElementById("connection").textContent = "connection lost: " + err.message; })
      .then(function () { setTimeout(poll, wait); });
  }
  document.addEventListener("DOMContentLoaded", poll);
})();
