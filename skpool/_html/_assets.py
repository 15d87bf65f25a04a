"""The page's inline CSS and JavaScript (no framework, no network)."""

CSS = """
:root { --fg:#1d1d1f; --muted:#5f6368; --line:#d9dce1; --bg:#fff; --soft:#f5f6f8;
        --accent:#1f5fa8; --warn:#a35200; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
.skpool-report { max-width: 1180px; margin: 0 auto; padding: 18px 22px 40px; }
h1 { font-size: 21px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 12px; }
dl.header { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 8px 0; }
dl.header dt { color: var(--muted); } dl.header dd { margin: 0; overflow-wrap: anywhere; }
code.command { display: block; background: var(--soft); padding: 6px 9px; border-radius: 4px;
               white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12.5px; }
.verdict { background: #eef4fb; border-left: 4px solid var(--accent); padding: 9px 13px;
           margin: 14px 0; }
.verdict p { margin: 3px 0; }
.verdict .warn { color: var(--warn); }
.note { color: var(--muted); font-size: 12.5px; }
.figure { margin: 10px 0 4px; } .figure figcaption { color: var(--muted); font-size: 12.5px;
          max-width: 820px; }
.charts { display: flex; flex-wrap: wrap; gap: 10px 18px; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg .frame { fill: none; stroke: #9aa0a6; stroke-width: 1; }
svg .grid { stroke: #eceef1; stroke-width: 1; }
svg .tick { font-size: 11px; fill: #4a4f55; } svg .label { font-size: 12.5px; fill: #202124; }
svg .note { font-size: 10.5px; fill: #5f6368; paint-order: stroke; stroke: #fff;
            stroke-width: 3px; stroke-linejoin: round; }
svg .title { font-size: 12.5px; fill: #202124; font-weight: 600; }
svg .reference { stroke: #5f6368; stroke-width: 1; stroke-dasharray: 5 4; }
svg .pt { cursor: pointer; } svg .pt:hover, svg .pt.hot { stroke: #000; stroke-width: 1.5; }
.tablebar { display: flex; gap: 10px; align-items: center; margin: 6px 0; flex-wrap: wrap; }
.tablebar input { padding: 4px 7px; border: 1px solid var(--line); border-radius: 4px;
                  min-width: 240px; }
.tablewrap { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 13px; width: 100%; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 7px;
                               vertical-align: top; text-align: left; }
table.data th { background: var(--soft); position: sticky; top: 0; white-space: nowrap; }
table.data th.sortable { cursor: pointer; user-select: none; }
table.data th.sortable::after { content: " \\2195"; color: #b0b4ba; }
table.data th[aria-sort="ascending"]::after { content: " \\2191"; color: var(--fg); }
table.data th[aria-sort="descending"]::after { content: " \\2193"; color: var(--fg); }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data td.text { min-width: 300px; max-width: 520px; }
/* a model's path has no spaces: let it break anywhere rather than widen the table */
#correlations td { overflow-wrap: anywhere; }
#correlations td:nth-child(-n+2) { white-space: nowrap; }  /* task, pooling: one word each */
ol.notes { color: var(--muted); font-size: 12.5px; margin: 6px 0; padding-left: 26px; }
table.data td.text .clip { max-height: 9.6em; overflow-y: auto; white-space: pre-wrap;
                           overflow-wrap: anywhere; padding-right: 4px; }
table.fields { border-collapse: collapse; font-size: 13px; }
table.fields th, table.fields td { border-bottom: 1px solid var(--line); padding: 3px 10px;
                                   text-align: left; font-weight: normal; }
table.fields th { color: var(--muted); }
table.fields td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data tr.hot td { background: #fff6d6; }
.id { color: var(--muted); font-size: 12px; }
#skpool-tip { position: fixed; z-index: 10; max-width: 520px; background: #fff;
              border: 1px solid #9aa0a6; border-radius: 5px; padding: 7px 9px; font-size: 12.5px;
              box-shadow: 0 2px 10px rgba(0,0,0,.15); pointer-events: none; display: none;
              white-space: pre-wrap; overflow-wrap: anywhere; }
#skpool-tip b { display: block; margin-bottom: 3px; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
"""

# Sorting and filtering of every table.data, and the tooltip of the scatter points.
# User text only ever reaches the page through textContent.
JS = r"""
(function () {
  "use strict";
  function readJSON(id) {
    var node = document.getElementById(id);
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }
  var details = readJSON("skpool-details") || {};
  function cellValue(cell) {
    var raw = cell.getAttribute("data-v");
    if (raw !== null && raw !== "") {
      var number = Number(raw);
      if (!isNaN(number)) { return number; }
    }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b) {
    var aNum = typeof a === "number", bNum = typeof b === "number";
    if (aNum && bNum) { return a - b; }
    if (aNum) { return -1; }
    if (bNum) { return 1; }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.data"), function (table) {
    var headers = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(headers, function (th, column) {
      th.classList.add("sortable");
      th.setAttribute("tabindex", "0");
      function sort() {
        var descending = th.getAttribute("aria-sort") !== "descending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var order = compare(cellValue(r1.cells[column]), cellValue(r2.cells[column]));
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    var count = document.getElementById(input.getAttribute("data-filter") + "-count");
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase(), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var keep = !query || row.textContent.toLowerCase().indexOf(query) >= 0;
        row.style.display = keep ? "" : "none";
        if (keep) { shown += 1; }
      });
      if (count) { count.textContent = shown + " of " + table.tBodies[0].rows.length + " rows"; }
    });
  });
  var tip = document.createElement("div");
  tip.id = "skpool-tip";
  tip.setAttribute("role", "tooltip");
  document.body.appendChild(tip);
  function line(parent, tag, text) {
    var node = document.createElement(tag);
    node.textContent = text;
    parent.appendChild(node);
  }
  function fmt(value) {
    return typeof value === "number" ? value.toFixed(4) : String(value);
  }
  function showPoint(circle, event) {
    var set = details[circle.getAttribute("data-set")];
    var k = Number(circle.getAttribute("data-k"));
    if (!set || !set.i || isNaN(k)) { return; }
    var texts = details.snippets || {}, full = details.texts || {};
    var i = String(set.i[k]), j = String(set.j[k]);
    tip.textContent = "";
    var head = [];
    (set.fields || []).forEach(function (field) {
      if (set[field] && set[field][k] !== undefined && set[field][k] !== null) {
        head.push(field + " " + fmt(set[field][k]));
      }
    });
    line(tip, "b", "pair " + i + " \u2013 " + j + (head.length ? ":  " + head.join(",  ") : ""));
    var ti = full[i] !== undefined ? full[i] : texts[i];
    var tj = full[j] !== undefined ? full[j] : texts[j];
    if (ti !== undefined) { line(tip, "div", i + ": " + clip(ti)); }
    if (tj !== undefined) { line(tip, "div", j + ": " + clip(tj)); }
    tip.style.display = "block";
    move(event);
  }
  function clip(text) { return text.length > 300 ? text.slice(0, 297) + "\u2026" : text; }
  function move(event) {
    var x = event.clientX + 14, y = event.clientY + 14;
    var width = tip.offsetWidth, height = tip.offsetHeight;
    if (x + width > window.innerWidth) { x = Math.max(4, event.clientX - width - 14); }
    if (y + height > window.innerHeight) { y = Math.max(4, event.clientY - height - 14); }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  document.addEventListener("mouseover", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("pt")) {
      showPoint(target, event);
      var row = target.getAttribute("data-row");
      if (row) {
        var tr = document.getElementById(row);
        if (tr) { tr.classList.add("hot"); }
      }
    }
  });
  document.addEventListener("mousemove", function (event) {
    if (tip.style.display === "block") { move(event); }
  });
  document.addEventListener("mouseout", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("pt")) {
      tip.style.display = "none";
      var row = target.getAttribute("data-row");
      if (row) {
        var tr = document.getElementById(row);
        if (tr) { tr.classList.remove("hot"); }
      }
    }
  });
})();
"""
