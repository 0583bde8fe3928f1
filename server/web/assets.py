"""The dashboard's stylesheet and its one small script, served from the package.

No build step and nothing fetched from elsewhere: both are plain text here.
"""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root { --fg: #111827; --muted: #4b5563; --line: #d1d5db; --bg: #ffffff; --head: #f3f4f6;
  --pending: #e5e7eb; --in_progress: #bfdbfe; --done: #bbf7d0; --failed: #fecaca;
  --skipped: #e9d5ff; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center;
  padding: .6rem 1rem; background: var(--head); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; }
nav a { margin-right: 1rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, select:focus-visible, summary:focus-visible,
main:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.picker { margin-left: auto; display: flex; gap: .4rem; align-items: center; max-width: 100%; }
.picker select { max-width: 22rem; }
main { padding: 1rem; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: .2rem 0 .3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
.sub { color: var(--muted); font-size: .85em; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem;
  border-bottom: 1px solid var(--line); }
th { background: var(--head); font-weight: 600; }
td pre { max-width: 36rem; max-height: 14rem; overflow: auto; white-space: pre-wrap;
  font-size: .8em; margin: .3rem 0; }
td ul { margin: 0; padding-left: 1.1rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; border: 1px solid #9ca3af;
  font-size: .85em; white-space: nowrap; }
.badge.st-pending { background: var(--pending); }
.badge.st-in_progress { background: var(--in_progress); }
.badge.st-done, .badge.st-active { background: var(--done); }
.badge.st-failed, .badge.st-needs-replan { background: var(--failed); }
.badge.st-skipped, .badge.st-archived { background: var(--skipped); }
.badge.ready { border: 2px dashed #1f2937; }
.key { list-style: none; display: flex; flex-wrap: wrap; gap: .6rem; padding: 0; }
.alert { border-left: 4px solid #b91c1c; padding: .3rem .6rem; background: #fef2f2; }
.graph-box { border: 1px solid var(--line); max-height: 460px; overflow: auto; }
svg.graph .node rect { stroke: #6b7280; stroke-width: 1; fill: var(--pending); }
svg.graph .st-in_progress rect { fill: var(--in_progress); }
svg.graph .st-done rect { fill: var(--done); }
svg.graph .st-failed rect { fill: var(--failed); }
svg.graph .st-skipped rect { fill: var(--skipped); }
svg.graph .ready rect { stroke: #111827; stroke-width: 2.5; stroke-dasharray: 6 3; }
svg.graph .nid { font: 600 12px system-ui, sans-serif; fill: #111827; }
svg.graph .nst { font: 11px system-ui, sans-serif; fill: #374151; }
svg.graph .edge { fill: none; stroke: #9ca3af; stroke-width: 1.2; }
svg.graph .arrowhead { fill: #9ca3af; }
svg.chart { width: 100%; max-width: 900px; height: auto; display: block; }
svg.chart .grid { stroke: #e5e7eb; }
svg.chart .tick, svg.chart .axis { font: 11px system-ui, sans-serif; fill: #4b5563; }
svg.chart .threshold { stroke: #b91c1c; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.chart .threshold-label { font: 11px system-ui, sans-serif; fill: #b91c1c; }
svg.chart .series polyline { stroke-width: 2; }
svg.chart .marker line { stroke: #6b21a8; stroke-dasharray: 2 3; }
svg.chart .marker text { font: 11px system-ui, sans-serif; fill: #6b21a8; }
svg.chart .empty { font: 14px system-ui, sans-serif; fill: #6b7280; }
svg.bars { width: 100%; max-width: 520px; height: auto; font: 12px system-ui, sans-serif; }
svg.meter { vertical-align: middle; max-width: 40vw; }
svg.meter .track { fill: #e5e7eb; }
svg.meter .fill { fill: #16a34a; }
svg.meter.below .fill { fill: #dc2626; }
svg.meter .tick { stroke: #111827; stroke-width: 2; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .3rem 1rem; padding: 0;
  font-size: .85em; }
#journal { font-size: .9em; padding-left: 1.6rem; }
footer { padding: .5rem 1rem; color: var(--muted); font-size: .8em; }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: #fff; padding: .3rem; z-index: 2; }
@media (max-width: 700px) {
  main { padding: .6rem; }
  .picker { margin-left: 0; width: 100%; }
  .picker select { flex: 1; min-width: 0; }
  th, td { padding: .3rem; font-size: .9em; }
}
"""

# Poll the store's change marker; when it moves, re-fetch the page's <main> fragment and
# swap it in, keeping which <details> were open and where the keyboard focus was.
JS = """
(function () {
  "use strict";
  var body = document.body, base = body.dataset.base || "", busy = false;
  var status = document.getElementById("live-status");
  function openKeys(main) {
    return Array.prototype.map.call(main.querySelectorAll("details[open]"),
      function (d) { return d.dataset.key; });
  }
  function refresh() {
    var main = document.getElementById("live");
    var keep = openKeys(main);
    var active = document.activeElement;
    var holder = active && active.closest ? active.closest("details") : null;
    var focusKey = holder ? holder.dataset.key : null;
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    return fetch(url.toString(), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        // A 404 fragment is content too (the plan was deleted meanwhile): show it.
        if (!r.ok && r.status !== 404) { throw new Error(String(r.status)); }
        return r.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        keep.forEach(function (k) {
          var d = main.querySelector('details[data-key="' + CSS.escape(k) + '"]');
          if (d) { d.open = true; }
        });
        if (focusKey) {
          var s = main.querySelector('details[data-key="' + CSS.escape(focusKey) + '"] > summary');
          if (s) { s.focus(); }
        }
      });
  }
  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(base + "/api/changes", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) {
        if (data.marker !== body.dataset.marker) {
          body.dataset.marker = data.marker;
          return refresh().then(function () {
            status.textContent = "live: updated " + new Date().toLocaleTimeString();
          });
        }
      })
      .catch(function () { status.textContent = "live: the server is not answering"; })
      .then(function () { busy = false; });
  }
  var form = document.querySelector("form.picker select");
  if (form) { form.addEventListener("change", function () { form.form.submit(); }); }
  window.setInterval(poll, 500);
})();
"""
