"""A light plotly widget: plotly.js loaded once per page, any number of small panes.

Why not ``go.FigureWidget`` everywhere (measured on the gradient-flow dashboard, 2 CPU
cores): every FigureWidget carries the whole plotly.js bundle (~5 MB) in its state, its
first use in a kernel costs ~2 s, and one big figure is redrawn whole on every update
(300 ms median from a slider to the redrawn plot, under 2 refreshes a second while
training), while plotly answers every edit with the full trace deltas.

Here:
- plotly.js itself: in Voila the seqviz template loads it as a static file (served from
  the installed plotly package by ``seqviz_server.serve``, cached by the browser). Elsewhere
  (JupyterLab) ``PageLink``, one invisible widget per kernel that every dashboard
  shows, asks the kernel for it once and runs it. The same widget tells the kernel that the
  page is still open (a heartbeat, ``page_gone``) and what a person typed into a number
  box or slider readout (``on_typed``), which the browser would otherwise clamp or drop
  without a word.
- ``PlotPane(fig)``: a pane per group of views. ``pane.figure`` is a ``go.Figure``
  that forwards every change (``batch_update``, ``trace.update``, layout assignment)
  to the browser as one ``Plotly.update`` message, which only redraws that pane.
- The browser acknowledges each update once it is drawn and painted; ``pane.busy`` says
  whether one is still being drawn, so a training thread skips a refresh instead of
  queueing it, and ``when_drawn(panes, fn)`` runs ``fn`` once the panes have drawn what
  they were sent (the slow part of a view follows the fast part instead of delaying it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import threading
import time
from pathlib import Path

import anywidget
import numpy as np
import plotly
import plotly.graph_objects as go
import plotly.io as pio
from plotly.basedatatypes import Undefined
import traitlets as tl

_ESM = r"""
function ensurePlotly() {
  if (globalThis.__seqvizPlotly) return globalThis.__seqvizPlotly;
  globalThis.__seqvizPlotly = new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (globalThis.Plotly) resolve(globalThis.Plotly);
      else if (Date.now() - t0 > 120000) reject(new Error("plotly.js did not load"));
      else setTimeout(poll, 20);
    };
    poll();
  });
  return globalThis.__seqvizPlotly;
}

function watchPage(model) {
  // The kernel stops training when the page is gone: a heartbeat while it is open, a goodbye
  // when it is closed. A number typed into a slider readout or number box is reported, so
  // the kernel can say what it used (the browser clamps or drops it silently).
  if (globalThis.__seqvizWatched) return;
  globalThis.__seqvizWatched = true;
  const send = (m) => { try { model.send(m); } catch (e) {} };
  send({ type: "alive" });
  setInterval(() => send({ type: "alive" }), 5000);
  addEventListener("pagehide", () => send({ type: "gone" }));
  const typed = (ev) => {
    const t = ev.target;
    if (!t || !t.closest) return;
    const isReadout = t.classList && t.classList.contains("widget-readout");
    const isBox = t.tagName === "INPUT" && (t.type === "number" || t.type === "text") && t.closest(".widget-inline-hbox");
    if (!isReadout && !isBox) return;
    if (ev.type === "keydown" && ev.key !== "Enter") return;
    const box = t.closest(".widget-inline-hbox, .widget-slider, .widget-hslider");
    const label = box && box.querySelector(".widget-label");
    send({ type: "typed", label: label ? label.textContent : "", text: isReadout ? t.textContent : t.value });
  };
  document.addEventListener("keydown", typed, true);
  document.addEventListener("focusout", typed, true);
}

async function renderLoader({ model, el }) {
  el.style.display = "none";
  watchPage(model);
  // In Voila the seqviz template loads plotly.js with a plain <script> (cached by the browser);
  // elsewhere (JupyterLab) the kernel sends the installed plotly.js once, on request.
  if (globalThis.Plotly || globalThis.__seqvizPlotlyRequested) return;
  globalThis.__seqvizPlotlyRequested = true;
  model.on("msg:custom", (msg) => {
    if (!msg.source || globalThis.Plotly) return;
    // plotly.min.js is a UMD bundle: hide AMD/CommonJS globals so it sets window.Plotly.
    const s = document.createElement("script");
    s.textContent = "(function(define, module, exports){" + msg.source + "\n}).call(window);";
    document.head.appendChild(s);
  });
  model.send({ type: "need-plotly" });
}

// -- presenter view, fitting, export (issue 18) ---------------------------------------------------
function presenter() {
  // ?presenter=1 in the page address: only the dashboard, larger type, thicker lines (CSS below).
  const on = /[?&]presenter=(1|true|yes|on)(&|#|$)/i.test(location.search);
  if (on && document.body) document.body.classList.add("seqviz-presenter");
  return on;
}

function forShow(layout, data, natural) {
  // The kernel's figure as this page shows it: no wider than its dashboard (wider panes wrap below
  // their neighbours, see the CSS), and in the presenter view bigger type and thicker lines.
  const big = presenter();
  const L = Object.assign({}, layout);
  let w = natural.width;
  if (big) {
    const font = Object.assign({}, L.font || {});
    font.size = Math.round((font.size || 12) * 1.35);
    L.font = font;
    for (const [k, v] of Object.entries(L)) if (k !== "font" && k !== "template") L[k] = biggerFonts(v);
    if (w) w = Math.round(w * 1.5);
    if (L.height) L.height = Math.round(L.height * 1.35);
    for (const t of data || []) {
      if ((t.type || "scatter") === "scatter" && t.mode !== "markers") {
        t.line = Object.assign({}, t.line || {});
        t.line.width = Math.max(3, (t.line.width || 2) * 1.75);
      }
    }
  }
  if (w) L.width = Math.max(260, Math.min(w, natural.avail || w));
  return L;
}

function biggerFonts(v) {
  // Every font size the figure sets itself (titles, legends, axes, annotations), 1.35 times larger.
  if (Array.isArray(v)) return v.map(biggerFonts);
  if (!v || typeof v !== "object") return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k.endsWith("font") && x && typeof x === "object" && typeof x.size === "number"
      ? Object.assign({}, biggerFonts(x), { size: Math.round(x.size * 1.35) }) : biggerFonts(x);
  }
  return out;
}

function presenterStyle(restyle) {
  // A restyle that sets a trace's whole ``line`` (its colour, say) keeps the presenter's thick line.
  if (!presenter() || !restyle.line) return restyle;
  const thick = (l) => (l && typeof l === "object" ? Object.assign({}, l, { width: Math.max(3, (l.width || 2) * 1.75) }) : l);
  return Object.assign({}, restyle, { line: Array.isArray(restyle.line) ? restyle.line.map(thick) : thick(restyle.line) });
}

function availableWidth(el) {
  // The width this pane may take: its dashboard's (or, outside one, its own container's), less a margin.
  const root = el.closest(".seqviz-dashboard") || el.closest(".jp-OutputArea-output") || el.parentElement;
  if (!root) return 0;
  return Math.floor(root.getBoundingClientRect().width) - 12;
}

function slug(text) {
  return (String(text || "").toLowerCase().replace(/<[^>]*>/g, "").replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 60)) || "plot";
}

function paneName(gd) {
  const t = gd.layout && gd.layout.title;
  const title = typeof t === "string" ? t : t && t.text;
  const page = slug((location.pathname.split("/").pop() || "").replace(/\.ipynb$/, ""));
  const first = (gd.data || []).map((d) => d.meta || d.name).find((m) => m);
  return "seqviz-" + (page !== "plot" ? page + "-" : "") + slug(title || first);
}

function saveText(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url; a.download = filename; a.style.display = "none";
  document.body.appendChild(a); a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
}

function traceRows(gd) {
  // The numbers behind a pane, one row per point (per cell for heatmaps): trace, x, y, z, text.
  const rows = [];
  (gd.data || []).forEach((t, i) => {
    const name = t.name || t.meta || ("trace " + i);
    const x = t.x, y = t.y, z = t.z;
    if (Array.isArray(z) && Array.isArray(z[0])) {
      z.forEach((row, r) => row.forEach((v, c) => rows.push([name, x ? x[c] : c, y ? y[r] : r, v, ""])));
    } else {
      const n = Math.max((x || []).length, (y || []).length, (z || []).length);
      for (let k = 0; k < n; k++) {
        const text = Array.isArray(t.text) ? t.text[k] : "";
        rows.push([name, x ? x[k] : k, y ? y[k] : "", z ? z[k] : "", text == null ? "" : text]);
      }
    }
  });
  return rows;
}

function csvOf(gd) {
  const cell = (v) => {
    if (v == null) return "";
    const s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return ["trace,x,y,z,text", ...traceRows(gd).map((r) => r.map(cell).join(","))].join("\n") + "\n";
}

function jsonOf(gd) {
  const t = gd.layout && gd.layout.title;
  const keep = ["name", "meta", "type", "mode", "x", "y", "z", "text"];
  return JSON.stringify({
    title: typeof t === "string" ? t : t && t.text,
    page: location.pathname,
    traces: (gd.data || []).map((d) => Object.fromEntries(keep.filter((k) => d[k] !== undefined).map((k) => [k, d[k]]))),
  }, null, 1);
}

function exportButtons(Plotly) {
  // One click each, all in the browser (plotly.js draws the images offline).
  const icon = (path) => ({ width: 1000, height: 1000, path, transform: "matrix(1 0 0 -1 0 850)" });
  const doc = "M150 50h700v100H150zM450 800h100v-420l150 150 70-70-270-270-270 270 70 70 150-150z";
  return [
    { name: "seqviz-png", title: "Save as PNG", icon: (Plotly.Icons && Plotly.Icons.camera) || icon(doc),
      click: (gd) => Plotly.downloadImage(gd, { format: "png", filename: paneName(gd), scale: 2 }) },
    { name: "seqviz-svg", title: "Save as SVG", icon: icon(doc),
      click: (gd) => Plotly.downloadImage(gd, { format: "svg", filename: paneName(gd) }) },
    { name: "seqviz-csv", title: "Save the data as CSV", icon: (Plotly.Icons && Plotly.Icons.disk) || icon(doc),
      click: (gd) => saveText(csvOf(gd), paneName(gd) + ".csv", "text/csv") },
    { name: "seqviz-json", title: "Save the data as JSON", icon: icon(doc),
      click: (gd) => saveText(jsonOf(gd), paneName(gd) + ".json", "application/json") },
  ];
}

async function renderTools({ model, el }) {
  // "Copy link" (the dashboard's knobs in the page address) and "Save settings" (the knobs and a
  // Python snippet that rebuilds the dashboard): everything the kernel needs is in the model.
  presenter();
  el.classList.add("seqviz-tools");
  const mk = (label, title) => {
    const b = document.createElement("button");
    b.className = "jupyter-widgets jupyter-button widget-button seqviz-tool";
    b.textContent = label; b.title = title;
    el.appendChild(b);
    return b;
  };
  const copy = mk("Copy link", "A link to this dashboard with these settings");
  const savePy = mk("Save settings (.py)", "The settings and a Python snippet that rebuilds this dashboard");
  const saveJson = mk("Save settings (.json)", "The settings as JSON");
  const shown = document.createElement("input");
  shown.className = "seqviz-link"; shown.readOnly = true; shown.style.display = "none";
  el.appendChild(shown);
  const link = () => {
    const q = model.get("query");
    let path = location.pathname;
    // JupyterLab: the same notebook through the server's Voila (voila/render/<path>).
    path = path.replace(/\/lab\/(workspaces\/[^/]+\/)?tree\//, "/voila/render/");
    // Of the page's own address only the view options stay (presenter, voila-*); then the knobs.
    const keep = new URLSearchParams();
    for (const [k, v] of new URLSearchParams(location.search)) {
      if (k === "presenter" || k.startsWith("voila-")) keep.set(k, v);
    }
    for (const [k, v] of new URLSearchParams(q)) keep.set(k, v);
    const s = keep.toString();
    return location.origin + path + (s ? "?" + s : "");
  };
  copy.addEventListener("click", async () => {
    const url = link();
    shown.value = url; shown.style.display = ""; shown.size = Math.min(90, url.length);
    let ok = false;
    try { await navigator.clipboard.writeText(url); ok = true; } catch (e) {
      shown.select();
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
    }
    model.send({ type: "copied", url, ok });
  });
  savePy.addEventListener("click", () => {
    saveText(model.get("snippet"), model.get("filename") + ".py", "text/x-python");
    model.send({ type: "saved", what: "py" });
  });
  saveJson.addEventListener("click", () => {
    saveText(model.get("settings"), model.get("filename") + ".json", "application/json");
    model.send({ type: "saved", what: "json" });
  });
}

async function renderPane({ model, el }) {
  const div = document.createElement("div");
  div.className = "seqviz-plotpane";
  el.appendChild(div);
  const Plotly = await ensurePlotly();
  const config = { displaylogo: false, responsive: false,
                   modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage"],
                   modeBarButtonsToAdd: exportButtons(Plotly) };
  const fig = JSON.parse(model.get("figure_json"));
  const natural = { width: fig.layout.width, avail: availableWidth(el) };
  await Plotly.newPlot(div, fig.data, forShow(fig.layout, fig.data, natural), config);
  // Fit the dashboard's width as it changes (a window resized, JupyterLab's side panel opened).
  let fitted = div.layout && div.layout.width;
  const refit = () => {
    const avail = availableWidth(el);
    if (!avail || !natural.width) return;
    natural.avail = avail;
    const w = forShow({ width: natural.width }, [], natural).width;
    if (w && w !== fitted) {
      fitted = w;
      globalThis.__seqvizDraws = (globalThis.__seqvizDraws || Promise.resolve())
        .then(() => Plotly.relayout(div, { width: w })).catch(() => {});
    }
  };
  let observer = null;
  const watchRoot = (tries) => {
    const root = el.closest(".seqviz-dashboard") || el.closest(".jp-OutputArea-output");
    if (root && typeof ResizeObserver !== "undefined") {
      observer = new ResizeObserver(() => refit());
      observer.observe(root);
      refit();
    } else if (tries > 0) setTimeout(() => watchRoot(tries - 1), 200);
  };
  watchRoot(50);
  // plotly's Undefined travels as a marker string: back to undefined ("leave it alone").
  const revive = (k, v) => (v === "__seqviz_undefined__" ? undefined : v);
  model.on("msg:custom", (msg) => {
    // One queue for every pane of the page, and a painted frame after each draw: a slider's pane
    // shows its change before the next pane's redraw (a training refresh, the next view) starts.
    globalThis.__seqvizDraws = (globalThis.__seqvizDraws || Promise.resolve()).then(async () => {
      // (a reviver visits every value: only when the payload holds a marker)
      const m = msg.payload.includes("__seqviz_undefined__") ? JSON.parse(msg.payload, revive) : JSON.parse(msg.payload);
      try {
        if (m.kind === "update") await Plotly.update(div, presenterStyle(m.restyle || {}), m.relayout || {}, m.traces);
        else if (m.kind === "react") {
          natural.width = m.layout.width;
          await Plotly.react(div, m.data, forShow(m.layout, m.data, natural), config);
          fitted = div.layout && div.layout.width;
        }
        if (!document.hidden) {  // "drawn" once painted (a hidden tab runs no frames: never stall)
          await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
        }
      } finally {
        model.send({ type: "drawn", id: msg.id });
      }
    }).catch(() => {});
  });
  // The kernel answers with the whole current figure, unless the one just drawn is it.
  model.send({ type: "ready", rev: fig.rev });
  return () => { if (observer) observer.disconnect(); Plotly.purge(div); };
}

export default {
  render(ctx) {
    const role = ctx.model.get("role");
    return role === "loader" ? renderLoader(ctx) : role === "tools" ? renderTools(ctx) : renderPane(ctx);
  },
};
"""

# Every dashboard fits the width it gets (Voila's page, JupyterLab's output area, a laptop or a
# projector): rows wrap instead of running off the side, fixed minimum widths give way, and panes
# are no wider than their dashboard (``forShow`` above). ``?presenter=1``: only the dashboard, in
# large type (the body gets ``seqviz-presenter``).
_CSS = r"""
.seqviz-dashboard { max-width: 100%; box-sizing: border-box; }
.seqviz-dashboard .widget-hbox, .seqviz-dashboard .widget-box.widget-hbox { flex-wrap: wrap; }
.seqviz-dashboard .widget-box, .seqviz-dashboard .widget-html, .seqviz-dashboard .widget-inline-hbox {
  min-width: 0 !important; max-width: 100%;
}
.seqviz-dashboard .widget-html-content { overflow-wrap: break-word; }
.seqviz-plotpane { max-width: 100%; overflow: hidden; }
.seqviz-tools { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.seqviz-tools .seqviz-tool { width: auto; padding: 0 10px; }
.seqviz-tools .seqviz-link { font: 12px monospace; max-width: 100%; }
body.seqviz-presenter .jp-MarkdownCell, body.seqviz-presenter .jp-Cell:not(:has(.seqviz-dashboard)) { display: none !important; }
body.seqviz-presenter #rendered_cells { padding-left: 8px !important; padding-right: 8px !important; }
body.seqviz-presenter #rendered_cells > div { padding: 12px !important; box-shadow: none !important; }
body.seqviz-presenter .seqviz-dashboard {
  --jp-widgets-font-size: 19px; --jp-widgets-inline-height: 36px; --jp-widgets-inline-label-width: 190px;
  font-size: 19px;
}
body.seqviz-presenter .seqviz-dashboard .widget-html-content { font-size: 19px; line-height: 1.35; }
body.seqviz-presenter .seqviz-dashboard .modebar-container { display: none; }
body.seqviz-presenter .seqviz-dashboard .seqviz-status { font-size: 24px !important; }
body.seqviz-presenter .seqviz-dashboard .widget-label, body.seqviz-presenter .seqviz-dashboard .widget-toggle-button {
  white-space: normal; text-overflow: clip; overflow: visible; line-height: 1.1; height: auto; min-height: var(--jp-widgets-inline-height);
}
body.seqviz-presenter .seqviz-dashboard .widget-checkbox { width: auto !important; min-width: 0; }
body.seqviz-presenter .seqviz-dashboard .widget-label-basic, body.seqviz-presenter .seqviz-dashboard .widget-label-basic span {
  white-space: normal; text-overflow: clip; overflow: visible; width: auto; max-width: none;
}
"""

_PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class _Widget(anywidget.AnyWidget):
    _esm = _ESM
    _css = _CSS
    role = tl.Unicode("pane").tag(sync=True)


class PageLink(_Widget):
    """One invisible widget per kernel, in every dashboard: sends the installed plotly.js to a
    page that does not have it yet, hears the page's heartbeat, and passes on what a person
    typed into number boxes and slider readouts."""

    GONE_AFTER_S = 45.0  # no heartbeat for this long (one every 5 s): the page is gone

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last_alive: float | None = None  # monotonic time of the last heartbeat; None: no page yet
        self.said_goodbye = False
        self._typed: dict[str, list] = {}  # label -> callbacks(text)
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, _buffers):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "need-plotly":
            self.send({"source": plotly_js()})
        elif kind == "alive":
            self.last_alive, self.said_goodbye = time.monotonic(), False
        elif kind == "gone":
            self.said_goodbye = True
        elif kind == "typed":
            label, text = str(content.get("label", ""))[:200].strip(), str(content.get("text", ""))[:200]
            for fn in list(self._typed.get(label, ())):
                fn(text)

    def page_gone(self) -> bool:
        """True when a page was open and has since said goodbye or stopped its heartbeat."""
        if self.last_alive is None:
            return False  # no browser ever (a test, a script): never "gone"
        return self.said_goodbye or time.monotonic() - self.last_alive > self.GONE_AFTER_S

    def on_typed(self, label: str, fn) -> None:
        """Call ``fn(text)`` when a person types ``text`` into the control labelled ``label``."""
        self._typed.setdefault(label.strip(), []).append(fn)


def plotly_js() -> str:
    """The plotly.js bundle that ships inside the installed plotly package (nothing downloaded)."""
    return _PLOTLY_JS.read_text(encoding="utf-8")


_link: PageLink | None = None
_link_lock = threading.Lock()


def page_link() -> PageLink:
    """The kernel's one ``PageLink``; put it in every dashboard's children."""
    global _link
    with _link_lock:
        if _link is None:
            _link = PageLink(role="loader")
        return _link


_UNDEFINED = "__seqviz_undefined__"  # plotly's Undefined: "leave this trace's property alone"


def _plain(v):
    """JSON-ready copy: numpy arrays and scalars to lists and numbers, NaN/inf to null
    (JSON has no NaN), plotly's Undefined (a trace whose property a batch leaves alone) to a
    marker the browser turns back into undefined, other plotly types through plotly's encoder."""
    if isinstance(v, dict):
        if "bdata" in v and "dtype" in v:  # plotly's base64 typed array (to_plotly_json makes these)
            a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
            if "shape" in v:
                a = a.reshape([int(n) for n in str(v["shape"]).split(",")])
            return _plain(a)
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "iub" or (v.dtype.kind == "f" and np.isfinite(v).all()):
            return v.tolist()  # plain numbers all the way down
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if v is Undefined:  # JSON has no undefined; null would *reset* the property in Plotly.restyle
        return _UNDEFINED
    return json.loads(pio.json.to_json_plotly(v))


def _to_json(fig: go.Figure, rev: int = 0) -> str:
    """Plain lists rather than plotly's base64 typed arrays: the page's ``gd.data`` then holds
    ordinary arrays that tests and other scripts can read. ``rev`` counts the edits it holds."""
    return json.dumps({**_plain(fig.to_plotly_json()), "rev": rev}, separators=(",", ":"))


class _LiveFigure(go.Figure):
    """A go.Figure whose edits are forwarded to its pane (plotly calls these hooks)."""

    def __init__(self, fig: go.Figure, pane: "PlotPane"):
        super().__init__(fig)
        self._pane = pane

    def _send_update_msg(self, restyle_data, relayout_data, trace_indexes=None, source_view_id=None):
        self._pane._push({"kind": "update", "restyle": restyle_data, "relayout": relayout_data,
                          "traces": trace_indexes})

    def _send_restyle_msg(self, style, trace_indexes=None, source_view_id=None):
        self._send_update_msg(style, {}, trace_indexes)

    def _send_relayout_msg(self, layout, source_view_id=None):
        self._send_update_msg({}, layout, None)


class PlotPane(_Widget):
    """One plotly figure in the page. Change ``pane.figure`` like any go.Figure, inside
    ``with pane.batch():`` when several threads may touch it.

    Until a browser view has drawn the pane, changes go into ``figure_json`` (the state a
    new view starts from); afterwards they travel as small update messages, and a view that
    appears later asks for (and gets) the whole current figure.
    """

    figure_json = tl.Unicode("{}").tag(sync=True)

    def __init__(self, fig: go.Figure, **kwargs):
        super().__init__(figure_json=_to_json(fig), **kwargs)
        self.lock = threading.RLock()
        self._seen_view = False
        self._sent = 0
        self._drawn = 0
        self._last_send = 0.0
        self._rev = 0  # edits so far; ``figure_json`` says which revision it holds
        self.figure = _LiveFigure(fig, self)
        self._index = None  # trace meta -> index, for ``apply``
        self.on_msg(self._on_msg)

    def apply(self, patch: dict) -> None:
        """Apply a patch (``seqviz.figures.patch``: pure builders return them) as one message."""
        from seqviz.figures.patch import apply, trace_index

        with self.batch() as fig:
            if self._index is None:
                self._index = trace_index(fig)
            apply(fig, patch, self._index)

    @contextlib.contextmanager
    def batch(self):
        """One thread at a time; every change inside becomes one message."""
        with self.lock, self.figure.batch_update():
            yield self.figure

    @property
    def has_view(self) -> bool:
        """True once a browser view has drawn the pane (updates then travel as messages)."""
        return self._seen_view

    @property
    def busy(self) -> bool:
        """True while the browser is still drawing an earlier update (for up to 2 s: with no
        browser attached, e.g. a closed tab or a test, updates must not stop forever)."""
        return self._drawn < self._sent and time.monotonic() - self._last_send < 2.0

    def when_drawn(self, fn, key=None, max_wait_s: float = 0.5) -> None:
        """``when_drawn([self], ...)``: call ``fn`` once this pane has drawn what it was sent."""
        when_drawn([self], fn, key, max_wait_s)

    def _on_msg(self, _widget, content, _buffers):
        if not isinstance(content, dict):
            return
        if content.get("type") == "drawn":
            try:
                self._drawn = max(self._drawn, int(content.get("id", 0)))
            except (TypeError, ValueError):
                return
            _flush_drawn()
        elif content.get("type") == "ready":
            with self.lock:
                self._seen_view = True
                if content.get("rev") == self._rev:  # the view drew the current figure: no second draw
                    return
                fig = self.figure.to_plotly_json()
                self._push({"kind": "react", "data": fig["data"], "layout": fig["layout"]}, edit=False)

    publisher = None  # follow mode (widgets/kit/share.py): while sharing, every edit is passed on too

    def _push(self, message: dict, edit: bool = True) -> None:
        self._rev += edit
        pub = self.publisher
        if not self._seen_view:
            self.figure_json = _to_json(self.figure, self._rev)
            if pub is not None and edit:
                pub.pane_changed(self, None)  # no message was made: the publisher sends the whole figure
            return
        self._sent += 1
        self._last_send = time.monotonic()
        payload = json.dumps(_plain(message), separators=(",", ":"))
        self.send({"id": self._sent, "payload": payload})
        if pub is not None and edit:
            pub.pane_changed(self, payload)  # the same text, queued for the followers

    def snapshot(self) -> dict:
        """The figure as the browser should now show it (tests compare against this)."""
        snap = json.loads(_to_json(self.figure))
        snap.pop("rev")
        return snap


# -- when_drawn: "after the browser drew these panes, do that" ---------------------------------
_waiting: dict = {}  # key -> (panes, fn)
_waiting_lock = threading.Lock()


def when_drawn(panes, fn, key=None, max_wait_s: float = 0.5) -> None:
    """Call ``fn()`` once every pane in ``panes`` has drawn (and painted) the updates it was
    sent: at once when none is drawing (no browser, e.g. a test), after ``max_wait_s`` at the
    latest should an acknowledgement never come. A newer ``fn`` with the same ``key`` replaces
    one still waiting, so a burst of slider moves is served once, for the latest value.

    This is how a view shows its fast part first (a small pane) and fills in the slow part
    (a second pane, an autograd pass) without delaying what was just drawn.

    ``fn`` runs on the kernel's message thread (the browser's acknowledgement) or, after the
    timeout, on a timer thread: it may run beside a control's handler or the training thread,
    so it takes the locks it needs (the run's lock, the pane's ``batch``)."""
    key = key if key is not None else id(fn)
    panes = tuple(panes)
    with _waiting_lock:
        _waiting[key] = (panes, fn)
    if not any(p.busy for p in panes):
        _flush_drawn(only=key, others=False)  # this one alone: the caller must not pay for older waits
        return
    t = threading.Timer(max_wait_s, _flush_drawn, kwargs={"only": key})
    t.daemon = True
    t.start()


def _flush_drawn(only=None, others: bool = True) -> None:
    """Run the waiting functions whose panes are no longer busy (``only``: run that one anyway;
    ``others=False``: only that one)."""
    with _waiting_lock:
        ready = [k for k, (panes, _) in _waiting.items()
                 if k == only or (others and not any(p.busy for p in panes))]
        fns = [_waiting.pop(k)[1] for k in ready]
    for fn in fns:
        try:
            fn()
        except Exception:  # noqa: BLE001 - a late view must not break the message handler
            import logging

            logging.getLogger("seqviz.widgets").exception("a deferred view failed")
