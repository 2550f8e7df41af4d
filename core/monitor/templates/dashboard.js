// portico dashboard: takes the state from server-sent events (/dashboard/events) and redraws; falls
// back to polling /dashboard/state where EventSource is missing. Every value is set with textContent
// or setAttribute (never innerHTML), so nothing a vendor, a file or a record says can run as markup.
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

  // Times in the browser's own zone, to the second, with the zone named: "2026-12-03 16:04:05 GMT+1".
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function zoneName(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) { if (parts[i].type === "timeZoneName") { return parts[i].value; } }
    } catch (e) { /* an old browser: the offset below */ }
    var off = -d.getTimezoneOffset();
    return "UTC" + (off >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
  }
  function parse(iso) {
    if (!iso) { return null; }
    var d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z");
    return isNaN(d.getTime()) ? null : d;
  }
  function localTime(iso) {
    var d = parse(iso);
    if (!d) { return iso || ""; }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + " " + zoneName(d);
  }
  function clock(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function timeCell(iso, extra) {
    var cell = td(null, extra);
    if (iso) { cell.appendChild(el("time", { "datetime": iso, "title": iso }, localTime(iso))); }
    return cell;
  }
  function localizeAll() {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (t) {
      var iso = t.getAttribute("datetime");
      if (iso) { t.textContent = localTime(iso); t.setAttribute("title", iso); }
    });
  }

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
    var last = td(e ? e.error_class + ": " + e.message + " " : "", "last-error");
    if (e && e.at) { last.appendChild(el("time", { "datetime": e.at, "class": "at" }, localTime(e.at))); }
    if (e && e.cause) {
      var cause = el("div", { "class": "cause" }, "opened by " + e.cause.error_class + ": " + e.cause.message + " ");
      cause.appendChild(el("time", { "datetime": e.cause.at }, localTime(e.cause.at)));
      last.appendChild(cause);
    }
    tr.appendChild(last);
    return tr;
  }

  function alertItem(a) {
    var li = el("li", { "class": "alert severity-" + cls(a.severity), "data-rule": a.rule, "data-system": a.system || "" });
    li.appendChild(el("strong", null, a.severity));
    li.appendChild(document.createTextNode(" " + (a.system || "") + ": " + a.summary + " "));
    var since = el("span", { "class": "muted" }, "since ");
    since.appendChild(el("time", { "datetime": a.started_at }, localTime(a.started_at)));
    li.appendChild(since);
    return li;
  }

  function deliveryRow(d) {
    var tr = el("tr", { "class": "delivery result-" + cls(d.result) });
    tr.appendChild(timeCell(d.at));
    [d.alert, d.kind, d.channel].forEach(function (v) { tr.appendChild(td(v)); });
    tr.appendChild(td(d.result, "result"));
    tr.appendChild(td(d.error || ""));
    return tr;
  }

  // A trend chart: y axis from 0 with its unit, x axis of local clock times, faint grid lines.
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function fmt(v, unit) {
    if (unit === "%") { return (Math.round(v * 1000) / 10) + "%"; }
    return (v >= 100 ? Math.round(v) : Math.round(v * 10) / 10) + (unit ? " " + unit : "");
  }
  function chart(system, title, points, unit, kind) {
    var w = 340, h = 150, left = 52, right = 10, top = 10, bottom = 28;
    var box = el("div", { "class": "chart", "data-chart": kind, "data-system": system });
    box.appendChild(el("h3", null, title));
    var root = svg("svg", { "width": w, "height": h, "viewBox": "0 0 " + w + " " + h, "role": "img", "aria-label": title });
    var values = points.map(function (p) { return Number(p[1]); });
    var times = points.map(function (p) { return parse(p[0]); });
    var peak = Math.max.apply(null, values.concat([0]));
    var max = unit === "%" ? Math.max(niceMax(peak), 0.01) : niceMax(peak);
    var plotW = w - left - right, plotH = h - top - bottom;
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH - f * plotH;
      root.appendChild(svg("line", { "class": f === 0 ? "axis" : "grid", "x1": left, "x2": w - right, "y1": y, "y2": y }));
      root.appendChild(svg("text", { "class": "tick y", "x": left - 4, "y": y + 3, "text-anchor": "end" }, fmt(f * max, unit)));
    });
    root.appendChild(svg("line", { "class": "axis", "x1": left, "x2": left, "y1": top, "y2": top + plotH }));
    if (values.length && times[0] && times[times.length - 1]) {
      var t0 = times[0].getTime(), t1 = times[times.length - 1].getTime(), span = Math.max(t1 - t0, 1);
      var coords = values.map(function (v, i) {
        var x = left + ((times[i].getTime() - t0) / span) * plotW;
        return x.toFixed(1) + "," + (top + plotH - (v / max) * plotH).toFixed(1);
      });
      var state = kind === "errors" ? (peak > 0 ? "errors" : "no-errors") : "latency";
      root.appendChild(svg("polyline", { "class": "line " + state, "points": coords.join(" ") }));
      root.appendChild(svg("text", { "class": "tick x", "x": left, "y": h - 10, "text-anchor": "start" }, clock(times[0])));
      root.appendChild(svg("text", { "class": "tick x", "x": w - right, "y": h - 10, "text-anchor": "end" }, clock(times[times.length - 1])));
      var zone = svg("text", { "class": "tick zone", "x": left + plotW / 2, "y": h - 1, "text-anchor": "middle" },
        "time (" + zoneName(times[0]) + ")");
      root.appendChild(zone);
    } else {
      root.appendChild(svg("text", { "class": "tick", "x": left + plotW / 2, "y": top + plotH / 2, "text-anchor": "middle" }, "no data yet"));
    }
    box.appendChild(root);
    return box;
  }

  // A panel, drawn from the layout its plugin contributed (see DashboardPanel and dashboard.html): a
  // cell per column, or per key of the first row when the layout names no columns.
  function panelCell(column, value) {
    var css = ((column.kind === "number" ? "num " : "") + (column.css || "")).trim();
    var empty = value === null || value === undefined;
    if (column.kind === "time") { return timeCell(empty ? "" : String(value), css || null); }
    if (column.kind === "code") {
      var cell = td(null, css || null); cell.appendChild(el("code", null, empty ? "" : value)); return cell;
    }
    return td(empty ? "" : value, css || null);
  }
  function panelRow(panel, columns, r) {
    var klass = panel.row_class || "panel-row";
    if (panel.row_state) { klass += " " + panel.row_state[0] + "-" + cls(r[panel.row_state[1]]); }
    var attrs = { "class": klass };
    if (panel.row_key) { var key = r[panel.row_key[1]]; attrs["data-" + panel.row_key[0]] = key === null || key === undefined ? "" : key; }
    var tr = el("tr", attrs);
    columns.forEach(function (c) { tr.appendChild(panelCell(c, r[c.field])); });
    return tr;
  }
  function renderPanel(panel, rows) {
    var table = document.getElementById(panel.table_id || "panel-" + panel.key);
    if (!table) { return; }
    var columns = (panel.columns && panel.columns.length) ? panel.columns : (rows.length ? Object.keys(rows[0]) : []).map(function (k) {
      return { field: k, title: k.replace(/_/g, " "), kind: "text", css: "" };
    });
    if (!(panel.columns && panel.columns.length)) {
      var head = el("tr");
      columns.forEach(function (c) { head.appendChild(el("th", null, c.title)); });
      var thead = table.querySelector("thead");
      while (thead.firstChild) { thead.removeChild(thead.firstChild); }
      thead.appendChild(head);
    }
    replaceBody("#" + CSS.escape(table.id), rows.map(function (r) { return panelRow(panel, columns, r); }),
      panel.empty || "Nothing to show", columns.length || 1);
  }

  function render(state) {
    var overall = document.getElementById("overall");
    overall.textContent = state.status;
    overall.setAttribute("class", "badge status-" + cls(state.status));
    var generated = document.getElementById("generated");
    generated.setAttribute("datetime", state.generated_at);
    generated.textContent = localTime(state.generated_at);
    replaceBody("#systems", state.systems.map(systemRow), "No systems", 10);
    var list = document.getElementById("alerts");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!state.alerts.length) { list.appendChild(el("li", { "class": "none" }, "No active alerts")); }
    state.alerts.forEach(function (a) { list.appendChild(alertItem(a)); });
    replaceBody("#deliveries", (state.deliveries || []).map(deliveryRow), "No alerts sent yet", 6);
    (state.panels || []).forEach(function (panel) { renderPanel(panel, state[panel.key] || []); });
    var trends = document.getElementById("trends");
    while (trends.firstChild) { trends.removeChild(trends.firstChild); }
    if (!state.systems.some(function (s) { return s.requests; })) {
      trends.appendChild(el("p", { "class": "muted" }, "Trends appear once a system has made calls."));
    }
    var calls = {};
    state.systems.forEach(function (s) { calls[s.system] = s.requests || 0; });
    Object.keys(state.series || {}).forEach(function (system) {
      var s = state.series[system];
      // a system that never made a call has no trend to draw yet (nor ever, for the jobs service's events)
      if (!calls[system]) { return; }
      trends.appendChild(chart(system, system + " \u2013 p95 latency", s.p95_ms || [], "ms", "latency"));
      trends.appendChild(chart(system, system + " \u2013 error rate", s.error_rate || [], "%", "errors"));
    });
    document.body.setAttribute("data-updates", String(Number(document.body.getAttribute("data-updates") || 0) + 1));
  }

  function connection(text) { document.getElementById("connection").textContent = text; }

  function listen() {
    var source = new EventSource("/dashboard/events");
    source.addEventListener("state", function (e) {
      render(JSON.parse(e.data));
      connection("live");
      document.body.setAttribute("data-transport", "events");
    });
    // EventSource reconnects by itself (after the server's retry delay); say so meanwhile
    source.onerror = function () { connection("connection lost; reconnecting\u2026"); };
  }

  function poll() {
    var wait = Number(document.body.getAttribute("data-refresh-ms")) || 2000;
    fetch("/dashboard/state", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (state) { render(state); connection(""); })
      .catch(function (err) { connection("connection lost: " + err.message); })
      .then(function () { setTimeout(poll, wait); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeAll();
    if (window.EventSource) { listen(); } else { poll(); }
  });
})();
