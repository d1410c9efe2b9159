"""A light plotly widget: plotly.js loaded once per page, any number of small panes.

Why not ``go.FigureWidget`` everywhere (measured on the gradient-flow dashboard, 2 CPU
cores): every FigureWidget carries the whole plotly.js bundle (~5 MB) in its state, its
first use in a kernel costs ~2 s, and one big figure is redrawn whole on every update
(300 ms median from a slider to the redrawn plot, under 2 refreshes a second while
training), while plotly answers every edit with the full trace deltas.

Here:
- plotly.js itself: in Voila the seqviz template loads it as a static file (served from
  the installed plotly package by ``widgets.serve``, cached by the browser). Elsewhere
  (JupyterLab) ``PlotlyLoader``, one invisible widget per kernel that every dashboard
  shows, asks the kernel for it once and runs it.
- ``PlotPane(fig)``: a pane per group of views. ``pane.figure`` is a ``go.Figure``
  that forwards every change (``batch_update``, ``trace.update``, layout assignment)
  to the browser as one ``Plotly.update`` message, which only redraws that pane.
- The browser acknowledges each drawn update; ``pane.busy`` says whether one is still
  being drawn, so a training thread skips a refresh instead of queueing it.
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

async function renderLoader({ model, el }) {
  el.style.display = "none";
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

async function renderPane({ model, el }) {
  const div = document.createElement("div");
  div.className = "seqviz-plotpane";
  el.appendChild(div);
  const Plotly = await ensurePlotly();
  const config = { displaylogo: false, responsive: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const fig = JSON.parse(model.get("figure_json"));
  await Plotly.newPlot(div, fig.data, fig.layout, config);
  // plotly's Undefined travels as a marker string: back to undefined ("leave it alone").
  const revive = (k, v) => (v === "__seqviz_undefined__" ? undefined : v);
  model.on("msg:custom", (msg) => {
    // One queue for every pane of the page, and a painted frame after each draw: a slider's pane
    // shows its change before the next pane's redraw (a training refresh, the next view) starts.
    globalThis.__seqvizDraws = (globalThis.__seqvizDraws || Promise.resolve()).then(async () => {
      // (a reviver visits every value: only when the payload holds a marker)
      const m = msg.payload.includes("__seqviz_undefined__") ? JSON.parse(msg.payload, revive) : JSON.parse(msg.payload);
      try {
        if (m.kind === "update") await Plotly.update(div, m.restyle || {}, m.relayout || {}, m.traces);
        else if (m.kind === "react") await Plotly.react(div, m.data, m.layout, config);
      } finally {
        model.send({ type: "drawn", id: msg.id });
      }
      if (!document.hidden) {  // (a hidden tab runs no frames: it must not stall the queue)
        await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      }
    }).catch(() => {});
  });
  // The kernel answers with the whole current figure, unless the one just drawn is it.
  model.send({ type: "ready", rev: fig.rev });
  return () => Plotly.purge(div);
}

export default {
  render(ctx) {
    return ctx.model.get("role") === "loader" ? renderLoader(ctx) : renderPane(ctx);
  },
};
"""

_PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class _Widget(anywidget.AnyWidget):
    _esm = _ESM
    role = tl.Unicode("pane").tag(sync=True)


class PlotlyLoader(_Widget):
    """Sends the installed plotly.js to a page that does not have it yet; one per kernel."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, _buffers):
        if isinstance(content, dict) and content.get("type") == "need-plotly":
            self.send({"source": plotly_js()})


def plotly_js() -> str:
    """The plotly.js bundle that ships inside the installed plotly package (nothing downloaded)."""
    return _PLOTLY_JS.read_text(encoding="utf-8")


_loader: PlotlyLoader | None = None
_loader_lock = threading.Lock()


def plotly_loader() -> PlotlyLoader:
    """The kernel's one loader widget; put it in every dashboard's children."""
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = PlotlyLoader(role="loader")
        return _loader


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
        self.on_msg(self._on_msg)

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

    def _on_msg(self, _widget, content, _buffers):
        if not isinstance(content, dict):
            return
        if content.get("type") == "drawn":
            self._drawn = max(self._drawn, int(content.get("id", 0)))
        elif content.get("type") == "ready":
            with self.lock:
                self._seen_view = True
                if content.get("rev") == self._rev:  # the view drew the current figure: no second draw
                    return
                fig = self.figure.to_plotly_json()
                self._push({"kind": "react", "data": fig["data"], "layout": fig["layout"]}, edit=False)

    def _push(self, message: dict, edit: bool = True) -> None:
        self._rev += edit
        if not self._seen_view:
            self.figure_json = _to_json(self.figure, self._rev)
            return
        self._sent += 1
        self._last_send = time.monotonic()
        self.send({"id": self._sent, "payload": json.dumps(_plain(message), separators=(",", ":"))})

    def snapshot(self) -> dict:
        """The figure as the browser should now show it (tests compare against this)."""
        snap = json.loads(_to_json(self.figure))
        snap.pop("rev")
        return snap
