"""Drawing the interactive front page: plotly figures from :func:`~.front_page.page_data`, and
one self-contained HTML file around them.

The figures are built here, in Python, with plotly (the optional ``interactive`` extra): the
accuracy against each cost (params, FLOPs, latency when measured) as linked panels sharing the
accuracy axis, and a parallel-coordinates view of every evaluated network. The page carries
plotly.js inline (from the Python package: no CDN, no request), the figures and the data as
JSON, and a little JavaScript that only wires them: the sliders filter the points (every trace
keeps the network ids in ``customdata``, so filtering is the same for all), the pick under the
current limits is looked up in the grid :func:`~.front_page.pick_grid` computed, and a click
shows the network's cells and the commands that export or train it. ``live`` makes the page
poll the server of ``hybridnas serve`` and redraw when the run changes.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import require
from ..results import RunResults
from ..store.layout import BLOCKS, FRONT_HTML, cell_plot_stem, plot_file
from .front_page import page_data
from .plots import _staircase, fig_block
from .style import FLOPS_LABEL, PARAMS_LABEL, THEMES, pyplot, rc_params, si, theme_of

PURPOSE = "the interactive front page"
T = THEMES["light"]  # the page is light; the figures match the static ones' light theme
# no plotly logo, and no "share" button: it would upload the chart to Plotly's cloud
CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False,
          "modeBarButtonsToRemove": ["select2d", "lasso2d", "sendChartToCloud"]}


def _plotly():
    return require("plotly", "interactive", PURPOSE)


def _pct(v: Optional[float], se: Optional[float] = None) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.2f} %" if se is None else f"{100 * v:.2f} ± {100 * se:.2f} %"


def hover_text(p: Dict[str, Any], data: Dict[str, Any]) -> str:
    """What hovering a network shows: id, genome, costs, accuracies ± standard error, where it
    stands on the front, the full training's accuracy next to the proxy's when trained."""
    lines = [f"<b>{p['id']}</b>", html.escape(p["genome"]),
             f"params {p['params']:,} · FLOPs {p['flops']:,}"
             + (f" · {p['latency']:.3g} ms" if p.get("latency") else ""),
             f"validation {_pct(p['val_acc'], p.get('val_se'))} · test {_pct(p.get('test_acc'), p.get('test_se'))}"]
    if p.get("full"):
        f = p["full"]
        lines.append(f"full training ({f.get('epochs')} epochs): test {_pct(f.get('test_acc'))}, validation "
                     f"{_pct(f.get('val_acc'))} · proxy ({data.get('epochs')} epochs): "
                     f"validation {_pct(p['val_acc'])}")
    if p["front"]:
        lines.append("Pareto front" + (f"; not significantly more accurate than {p['noise_of']}, which costs no more"
                                       if p.get("noise_of") else ""))
    else:
        lines.append("evaluated, off the front")
    if p["picked"]:
        lines.append("picked by " + ", ".join(p["picked"]))
    return "<br>".join(lines)


def _log_ticks(lo: float, hi: float) -> List[float]:
    """1, 2, 5 x 10^k between lo and hi (what the static figures' log axes show)."""
    out = []
    for k in range(int(math.floor(math.log10(max(lo, 1e-12)))), int(math.ceil(math.log10(max(hi, 1e-12)))) + 1):
        out += [m * 10 ** k for m in (1, 2, 5) if lo <= m * 10 ** k <= hi]
    return out or [lo, hi]


GROUPS = (  # (legend name, which points, marker) - as the static front figure marks them
    ("evaluated, off the front", lambda p: not p["front"],
     dict(size=7, color=T.muted, opacity=0.75, line=dict(width=0, color=T.bg))),
    ("Pareto front (all objectives)", lambda p: p["front"] and not p.get("noise_of"),
     dict(size=10, color=T.front, line=dict(width=0.8, color=T.bg))),
    ("front, not significantly more accurate than a member costing no more", lambda p: p["front"] and p.get("noise_of"),
     dict(size=10, color=T.bg, line=dict(width=1.8, color=T.front))),
)


def costs_figure(data: Dict[str, Any]) -> Dict[str, Any]:
    """Validation accuracy against each cost, one panel per cost, the accuracy axis shared."""
    _plotly()
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pts = data["points"]
    panels = [("params", PARAMS_LABEL), ("flops", FLOPS_LABEL)]
    panels += [("latency", "latency per image (ms, log scale)")] if data["latency"] else []
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.035)
    for c, (key, label) in enumerate(panels, 1):
        xs, ys = _staircase(pts, key)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(shape="hv", color=T.front, width=1.3),
                                 opacity=0.55, hoverinfo="skip", name="front of this projection (2 objectives)",
                                 legendgroup="stairs", showlegend=c == 1), row=1, col=c)
        for name, test, marker in GROUPS:
            sel = [p for p in pts if test(p)]
            m = json.loads(json.dumps(marker))
            m["line"]["width"] = [3.0 if p["picked"] else marker["line"]["width"] for p in sel]
            m["line"]["color"] = [T.pick if p["picked"] else marker["line"]["color"] for p in sel]
            bars = name != GROUPS[0][0]
            fig.add_trace(go.Scatter(
                x=[p[key] for p in sel], y=[100 * p["val_acc"] for p in sel], mode="markers",
                customdata=[p["id"] for p in sel], hovertext=[hover_text(p, data) for p in sel], hoverinfo="text",
                marker=m, name=name, legendgroup=name, showlegend=c == 1,
                error_y=dict(type="data", array=[100 * (p.get("val_se") or 0) for p in sel], visible=bars,
                             color=T.front, thickness=1, width=3)), row=1, col=c)
        vals = [p[key] for p in pts if p.get(key)]
        ticks = _log_ticks(min(vals), max(vals)) if vals else []
        fig.update_xaxes(type="log", title_text=label, tickvals=ticks, ticktext=[si(v) for v in ticks],
                         gridcolor=T.grid, row=1, col=c)
    fig.update_yaxes(title_text="validation accuracy (%)", gridcolor=T.grid, row=1, col=1)
    fig.update_yaxes(gridcolor=T.grid)
    fig.update_layout(template="plotly_white", height=470, margin=dict(l=60, r=20, t=30, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.17, x=0, font=dict(size=11)),
                      hovermode="closest", hoverlabel=dict(align="left"), font=dict(size=12, color=T.fg),
                      meta={"panels": [k for k, _ in panels]}, clickmode="event")
    return json.loads(fig.to_json(validate=False))


def parallel_figure(data: Dict[str, Any]) -> Dict[str, Any]:
    """Parallel coordinates of every evaluated network (costs on log axes, labelled in counts);
    line colour: off the front, front within noise, front, picked."""
    _plotly()
    import plotly.graph_objects as go

    pts = data["points"]
    dims = [dict(label="validation acc. (%)", values=[100 * p["val_acc"] for p in pts])]
    if pts and all(p.get("test_acc") is not None for p in pts):
        dims.append(dict(label="test acc. (%)", values=[100 * p["test_acc"] for p in pts]))
    for key, label in (("params", "parameters"), ("flops", "FLOPs (2 × MACs)"), ("latency", "latency (ms)")):
        vals = [p.get(key) for p in pts]
        if not pts or any(v is None or v <= 0 for v in vals):
            continue
        ticks = _log_ticks(min(vals), max(vals))
        dims.append(dict(label=label, values=[math.log10(v) for v in vals], tickvals=[math.log10(t) for t in ticks],
                         ticktext=[si(t) for t in ticks]))
    if pts and all(p.get("generation") is not None for p in pts):
        gens = sorted({int(p["generation"]) for p in pts})
        dims.append(dict(label="generation", values=[int(p["generation"]) + 1 for p in pts],
                         tickvals=[g + 1 for g in gens], ticktext=[str(g + 1) for g in gens]))
    for dim in dims:  # each axis keeps the range of all networks while the page filters them
        if dim["values"]:
            dim["range"] = [min(dim["values"]), max(dim["values"])]
    level = [3 if p["picked"] else 2 if p["front"] and not p.get("noise_of") else 1 if p["front"] else 0 for p in pts]
    scale = [[0, T.muted], [0.25, T.muted], [0.25, "#f0b27a"], [0.5, "#f0b27a"], [0.5, T.front], [0.75, T.front],
             [0.75, T.pick], [1, T.pick]]
    fig = go.Figure(go.Parcoords(customdata=[p["id"] for p in pts], dimensions=dims,
                                 line=dict(color=level, colorscale=scale, cmin=-0.5, cmax=3.5)))
    fig.update_layout(template="plotly_white", height=360, margin=dict(l=60, r=60, t=60, b=20),
                      font=dict(size=12, color=T.fg))
    return json.loads(fig.to_json(validate=False))


def cell_images(results: RunResults, theme: str = "light") -> List[Optional[str]]:
    """Each library block's cell diagram as a PNG data URI: ``plots/cells/block_<i>.png`` when
    the run has it, else drawn in memory (nothing is written)."""
    if results.config.tabular or not results.store.exists(BLOCKS):
        return []
    out: List[Optional[str]] = []
    for i in range(len(results.library)):
        p = results.store.path(plot_file(cell_plot_stem(i), "png"))
        try:
            png = p.read_bytes()
        except OSError:
            plt = pyplot()
            with plt.rc_context(rc_params(theme_of(theme))):
                fig = fig_block(results, i, theme_of(theme))
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110)
                plt.close(fig)
            png = buf.getvalue()
        out.append("data:image/png;base64," + base64.b64encode(png).decode())
    return out


def payload(results: RunResults, run: Optional[str] = None, cells: Optional[List[Optional[str]]] = None,
            stamp: str = "") -> Dict[str, Any]:
    """What the page draws: the data, the cell images and the two figures (JSON-able)."""
    _plotly()
    data = page_data(results, run)
    data["cells"] = cell_images(results) if cells is None else cells
    return {"stamp": stamp, "data": data, "figures": {"costs": costs_figure(data), "parallel": parallel_figure(data)}}


def empty_payload(name: str, run: str) -> Dict[str, Any]:
    """The page of a run that cannot be read yet (``hybridnas serve`` then keeps polling)."""
    import shlex

    from .front_page import LIMITS

    data = {"name": name, "run": run, "run_arg": shlex.quote(run), "tabular": False, "objectives": [],
            "latency": False, "points": [], "front_size": 0, "epochs": None, "blocks": [],
            "limits": {k: [] for k in LIMITS}, "pick": None, "cells": []}
    return {"stamp": "", "data": data, "figures": {"costs": costs_figure(data), "parallel": parallel_figure(data)}}


def render(pl: Dict[str, Any], live: Optional[Dict[str, Any]] = None) -> str:
    """The page: one HTML file with plotly.js inline. ``live``: ``{"url": ..., "every_ms": ...}``
    to poll for a new payload (``hybridnas serve``)."""
    from plotly.offline import get_plotlyjs

    _plotly()
    name = html.escape(pl["data"]["name"])
    blob = json.dumps(pl, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    return (PAGE.replace("{{TITLE}}", f"hybridnas front: {name}").replace("{{CSS}}", CSS)
            .replace("{{PLOTLY}}", get_plotlyjs()).replace("{{DATA}}", blob)
            .replace("{{LIVE}}", json.dumps(live)).replace("{{CONFIG}}", json.dumps(CONFIG)).replace("{{JS}}", JS))


def write_front_page(results: RunResults) -> Path:
    """``RUN/front.html`` for a finished (or running) run; returns its path."""
    return results.store.write_text(FRONT_HTML, render(payload(results)))


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1em auto; max-width: 1400px;
       padding: 0 1em; color: #1f2328; background: #ffffff; }
h1 { font-size: 20px; margin: .2em 0; } h2 { font-size: 16px; margin: .8em 0 .3em; }
#controls { display: grid; grid-template-columns: repeat(3, minmax(220px, 1fr)); gap: .4em 1.5em; padding: .6em .8em;
            background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; }
#controls label { display: block; font-weight: 600; }
#controls input[type=range] { width: 100%; }
.value { font-variant-numeric: tabular-nums; font-weight: 400; }
#summary { margin: .5em 0; } #pick { margin: .3em 0 .6em; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: .5em .7em; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
#detail { border-top: 1px solid #d0d7de; margin-top: .5em; }
#detail table { border-collapse: collapse; font-size: 13px; }
#detail td, #detail th { border: 1px solid #d0d7de; padding: 2px 8px; text-align: left; white-space: nowrap; }
#detail figure { margin: .4em 0; } #detail img { max-width: 100%; border: 1px solid #d0d7de; border-radius: 4px; }
#live { color: #57606a; font-size: 12px; }
.none { color: #cf222e; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{TITLE}}</title>
<style>{{CSS}}</style>
<script>{{PLOTLY}}</script>
</head>
<body>
<h1 id="title">{{TITLE}}</h1>
<p id="summary"></p>
<div id="controls">
  <div><label for="max_params">max parameters: <span class="value" id="max_params_value"></span></label>
       <input type="range" id="max_params" min="0" step="1"></div>
  <div><label for="max_flops">max FLOPs: <span class="value" id="max_flops_value"></span></label>
       <input type="range" id="max_flops" min="0" step="1"></div>
  <div><label for="min_acc">min validation accuracy: <span class="value" id="min_acc_value"></span></label>
       <input type="range" id="min_acc" min="0" step="1"></div>
</div>
<p id="pick"></p>
<div id="costs"></div>
<h2>All evaluated networks, parallel coordinates</h2>
<p>Drag along an axis to keep only a range (in every view; double-click the axis to clear it); colours: grey off
the front, orange on it (light: within noise of a cheaper member), blue picked.</p>
<div id="parallel"></div>
<div id="detail"></div>
<p id="live"></p>
<script id="front-data" type="application/json">{{DATA}}</script>
<script>const LIVE = {{LIVE}}; const CONFIG = {{CONFIG}};
{{JS}}</script>
</body>
</html>
"""

JS = r"""
(function () {
  "use strict";
  let state = JSON.parse(document.getElementById("front-data").textContent);
  let selected = null, revision = 0, bound = false, brushes = {};
  const $ = (id) => document.getElementById(id);
  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
  const count = (v) => Math.round(v).toLocaleString("en-US");
  const pct = (v, se) => v == null ? "-"
    : (100 * v).toFixed(2) + (se == null ? "" : " ± " + (100 * se).toFixed(2)) + " %";
  const SLIDERS = [["max_params", "max"], ["max_flops", "max"], ["min_acc", "min"]];

  function limitAt(key, kind, pos) {  // a maximum's last position and the minimum's first are "no limit"
    const v = state.data.limits[key];
    if (kind === "max") return pos < v.length ? v[pos] : null;
    return pos > 0 ? v[pos - 1] : null;
  }
  function setupSliders(previous) {  // previous: the limits before the data changed (kept on the new positions)
    for (const [key, kind] of SLIDERS) {
      const el = $(key), v = state.data.limits[key], old = previous ? previous[key] : null;
      el.max = String(v.length);
      let pos = kind === "max" ? v.length : 0;
      if (old !== null) {  // the same limit on the new positions (a maximum: the largest value <= it)
        if (kind === "max") {
          pos = 0;
          while (pos < v.length - 1 && v[pos + 1] <= old) pos++;
        }
        else { pos = 1; while (pos < v.length && v[pos - 1] < old) pos++; }
      }
      el.value = String(pos);
      el.disabled = v.length === 0;
    }
  }
  function limits() {
    const out = {};
    for (const [key, kind] of SLIDERS) out[key] = limitAt(key, kind, +$(key).value);
    return out;
  }
  function meets(p, lim) {
    return (lim.max_params === null || p.params <= lim.max_params)
      && (lim.max_flops === null || p.flops <= lim.max_flops)
      && (lim.min_acc === null || p.val_acc >= lim.min_acc);
  }
  function subset(trace, keep) {  // the trace with only the points at the indices in keep
    const n = trace.customdata.length, t = Object.assign({}, trace);
    const take = (a) => Array.isArray(a) && a.length === n ? keep.map((i) => a[i]) : a;
    for (const k of ["x", "y", "customdata", "hovertext", "text"]) if (k in trace) t[k] = take(trace[k]);
    if (trace.marker) {
      t.marker = Object.assign({}, trace.marker);
      for (const k of ["size", "color", "opacity", "symbol"]) {
        if (k in trace.marker) t.marker[k] = take(trace.marker[k]);
      }
      if (trace.marker.line) t.marker.line = Object.assign({}, trace.marker.line,
        {width: take(trace.marker.line.width), color: take(trace.marker.line.color)});
    }
    if (trace.error_y) t.error_y = Object.assign({}, trace.error_y, {array: take(trace.error_y.array)});
    if (trace.line && Array.isArray(trace.line.color)) {
      t.line = Object.assign({}, trace.line, {color: take(trace.line.color)});
    }
    if (trace.dimensions) t.dimensions = trace.dimensions.map((d) => Object.assign({}, d, {values: take(d.values)}));
    return t;
  }
  function filtered(fig, shown) {
    return fig.data.map((t) => {
      if (!Array.isArray(t.customdata)) return t;
      const keep = [];
      t.customdata.forEach((id, i) => { if (shown.has(id)) keep.push(i); });
      return subset(t, keep);
    });
  }
  function pickUnder() {
    const g = state.data.pick;
    if (!g) return null;
    const pos = SLIDERS.map(([key]) => +$(key).value), [P, F, A] = g.shape;
    const at = g.grid[(pos[0] * F + pos[1]) * A + pos[2]];
    return at < 0 ? "" : g.ids[at];
  }
  function marks(panels, byId, pick) {  // arrows at the pick and at the clicked network, in every panel
    const out = [];
    const add = (id, text, colour, ay) => {
      const p = byId[id];
      if (!p) return;
      panels.forEach((key, c) => {
        if (p[key] == null) return;
        const ax = c === 0 ? "x" : "x" + (c + 1);
        out.push({x: Math.log10(p[key]), y: 100 * p.val_acc, xref: ax, yref: "y", text: text, showarrow: true,
                  arrowhead: 2, arrowcolor: colour, font: {color: colour, size: 12}, ax: 0, ay: ay,
                  bgcolor: "rgba(255,255,255,0.85)"});
      });
    };
    if (pick) add(pick, "pick", "#0072b2", -38);
    if (selected && selected !== pick) add(selected, "selected", "#1f2328", 38);
    return out;
  }
  function command(lim) {
    let c = "hybridnas pick " + state.data.run_arg;
    if (lim.max_params !== null) c += " --max-params " + lim.max_params;
    if (lim.max_flops !== null) c += " --max-flops " + lim.max_flops;
    if (lim.min_acc !== null) c += " --min-acc " + lim.min_acc;
    return c;
  }
  function detail(id) {
    const p = state.data.points.find((q) => q.id === id);
    const box = $("detail");
    if (!p) { box.innerHTML = "<p>Click a network in the figure to see its cells and commands.</p>"; return; }
    const d = state.data;
    let h = "<h2>Network <code id='detail-id'>" + esc(p.id) + "</code>" + (id === pickUnder() ? " (the pick)" : "")
      + "</h2><table><tr><th>genome</th><td><code>" + esc(p.genome) + "</code></td></tr>"
      + "<tr><th>parameters</th><td>" + count(p.params) + "</td></tr>"
      + "<tr><th>FLOPs (2 × MACs)</th><td>" + count(p.flops) + "</td></tr>"
      + (p.latency != null ? "<tr><th>latency</th><td>" + p.latency.toPrecision(3) + " ms</td></tr>" : "")
      + "<tr><th>validation accuracy</th><td>" + pct(p.val_acc, p.val_se) + "</td></tr><tr><th>test accuracy</th><td>"
      + pct(p.test_acc, p.test_se) + "</td></tr>";
    if (p.full) h += "<tr><th>full training (" + esc(p.full.epochs) + " epochs)</th><td>test " + pct(p.full.test_acc)
      + ", validation " + pct(p.full.val_acc) + "</td></tr>";
    h += "<tr><th>front</th><td>" + (p.front ? "member" + (p.noise_of ? ", not significantly more accurate than <code>"
      + esc(p.noise_of) + "</code>, which costs no more" : "") : "no") + "</td></tr>"
      + (p.picked.length ? "<tr><th>picked by</th><td>" + esc(p.picked.join(", ")) + "</td></tr>" : "") + "</table>";
    if (!d.tabular) {
      h += "<p>Export it, or train it fully (the final stage):</p><pre id='commands'>hybridnas export " + esc(d.run_arg)
        + " --id " + esc(p.id) + "\nhybridnas train " + esc(d.run_arg) + " --id " + esc(p.id) + "</pre>";
      for (const b of p.blocks) {
        const g = d.blocks[b], img = (d.cells || [])[b];
        h += "<figure>" + (img ? "<img alt='cells of block " + b + "' src='" + img + "'>" : "")
          + "<figcaption>block " + b + (g ? ": normal <code>" + esc(g.normal) + "</code>, reduction <code>"
          + esc(g.reduce) + "</code>" : "") + "</figcaption></figure>";
      }
    }
    box.innerHTML = h;
  }
  function inRange(v, r) {  // a parallel-coordinates brush: one range or several
    return (Array.isArray(r[0]) ? r : [r]).some(([a, b]) => v >= Math.min(a, b) && v <= Math.max(a, b));
  }
  function brushed() {  // the ids inside every range brushed on the parallel view
    const t = state.figures.parallel.data[0], out = new Set();
    if (!t || !Array.isArray(t.customdata)) return out;
    t.customdata.forEach((id, i) => {
      const inside = (dim) => !(dim.label in brushes) || inRange(dim.values[i], brushes[dim.label]);
      if (t.dimensions.every(inside)) out.add(id);
    });
    return out;
  }
  function draw() {
    const d = state.data, figs = state.figures, lim = limits(), pick = pickUnder();
    const byId = {};
    d.points.forEach((p) => { byId[p.id] = p; });
    const inBrush = Object.keys(brushes).length ? brushed() : null;
    const shown = new Set(d.points.filter((p) => meets(p, lim) && (!inBrush || inBrush.has(p.id))).map((p) => p.id));
    for (const [key, kind] of SLIDERS) {
      const v = lim[key];
      $(key + "_value").textContent = v === null ? "no limit"
        : key === "min_acc" ? (100 * v).toFixed(2) + " %" : count(v);
    }
    $("summary").innerHTML = "<span id='shown'>" + shown.size + " of " + d.points.length + " networks shown</span>; "
      + d.front_size + " on the Pareto front of " + esc(d.objectives.join(", "))
      + (inBrush ? " (within the ranges brushed on the parallel view; double-click an axis there to clear one)" : "")
      + ". Hover a point for its numbers, click it for its cells and commands.";
    const any = Object.values(lim).some((v) => v !== null);
    if (!d.pick) $("pick").innerHTML = "No front yet: nothing evaluated.";
    else if (!pick) $("pick").innerHTML = "<span id='pick-id' class='none'>none</span>: no model meets these limits "
      + "(<code id='pick-command'>" + esc(command(lim)) + "</code> says so and names the nearest).";
    else $("pick").innerHTML = "<code>hybridnas pick</code> (rule " + esc(d.pick.rule) + ") "
      + (any ? "under these limits" : "with no limit") + " chooses <b><code id='pick-id'>" + esc(pick) + "</code></b>: "
      + "<code id='pick-command'>" + esc(command(lim)) + "</code>";
    const layout = Object.assign({}, figs.costs.layout, {annotations: marks(figs.costs.layout.meta.panels, byId, pick),
                                                          datarevision: ++revision, uirevision: "keep"});
    Plotly.react("costs", filtered(figs.costs, shown), layout, CONFIG);
    const par = filtered(figs.parallel, shown).map((t) => !t.dimensions ? t : Object.assign({}, t, {
      dimensions: t.dimensions.map((dim) => dim.label in brushes
        ? Object.assign({}, dim, {constraintrange: brushes[dim.label]}) : dim)}));
    Plotly.react("parallel", par, Object.assign({}, figs.parallel.layout, {datarevision: revision}), CONFIG);
    detail(selected || pick);
    if (!bound) {
      bound = true;
      $("parallel").on("plotly_restyle", () => {  // a brush drawn or cleared: filter every view by it
        const next = {};
        for (const dim of ($("parallel").data[0] || {}).dimensions || []) {
          if (dim.constraintrange && dim.constraintrange.length) next[dim.label] = dim.constraintrange;
        }
        if (JSON.stringify(next) !== JSON.stringify(brushes)) {
          brushes = next;
          draw();
        }
      });
      $("costs").on("plotly_click", (ev) => {
        if (ev.points && ev.points.length && typeof ev.points[0].customdata === "string") {
          selected = ev.points[0].customdata;
          draw();
        }
      });
    }
  }
  for (const [key] of SLIDERS) $(key).addEventListener("input", () => draw());
  setupSliders(null);
  draw();
  if (LIVE) {
    let busy = false;
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        const r = await fetch(LIVE.url + "?since=" + encodeURIComponent(state.stamp), {cache: "no-store"});
        const j = await r.json();
        if (j.stamp !== state.stamp && j.data) { const before = limits(); state = j; setupSliders(before); draw(); }
        $("live").textContent = "live: checked the run at " + new Date().toLocaleTimeString()
          + (j.warning ? "; " + j.warning : "");
      } catch (e) {
        $("live").textContent = "live: the server did not answer (" + e.message + "); retrying";
      } finally { busy = false; }
    };
    setInterval(poll, LIVE.every_ms);
  }
  window.hybridnasFront = {state: () => state, draw: draw, pickUnder: pickUnder};
})();
"""
