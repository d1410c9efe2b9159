"""The receptive-field dashboard's figures: four small plotly figures, five panels.

  "diagram"  the layered diagram: which units output t depends on, down to the inputs
  "probe"    measured |d y_t / d x_s| (untrained, trained) under the analytic set | causality check
  "race" | "params"   the race's loss curves | parameters vs reach (two panes side by side)

Four figures, each in its own plot pane (``widgets.kit.PlotPane``), because plotly.js redraws
every subplot of a figure on any data change: one five-panel figure took ~85-100 ms per
"Output position t" step in the browser, the one-panel diagram redraws alone in a fraction of
that, and the race's refreshes redraw only the loss curves and their legend (the legend is about
half of a redraw: the parameter panel's entries live in their own pane).

The figure protocol (``seqviz.figures.patch``): ``build_tcn_figures`` makes every trace once
(fixed order per figure, see ``PANES``; each trace's ``meta`` is its name), empty. Every view
after that is a pure ``*_patch(data) -> patch`` function; the dashboard's panes apply them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import merge, patch
from seqviz.figures.theme import COLORS, MODEL_LABELS, SEQUENTIAL, apply_theme, downsample
from seqviz.probes.receptive import DESIGNS, THIS_DESIGN, Diagram

RACERS = ("tcn", "gru", "lstm", "rnn")
DESIGN_COLORS = (COLORS["tcn"], COLORS["lstm"], COLORS["accent"], COLORS["baseline"])
BASELINES = ("baseline", "baseline_2", "baseline_3")  # the task's trivial baseline, then the task's others
BASELINE_DASH = ("dot", "dashdot", "longdash")
WINDOW = 10  # steps in the race curves' running mean (the race's finishing criterion)
PANES = {
    "diagram": ("nodes", "conv_edges", "skip_edges", "active", "holes", "output"),
    "probe": ("heat", "analytic",  # left
              "delta", "cut"),  # right
    "race": (*(f"raw_{m}" for m in RACERS), *(f"loss_{m}" for m in RACERS), "threshold", "floor",
             *BASELINES),  # bottom left
    "params": (*(f"design_{i}" for i in range(len(DESIGNS))), "design_this", "current", "reach"),  # bottom right
}
ORDER = tuple(name for names in PANES.values() for name in names)
PANE_OF = {name: pane for pane, names in PANES.items() for name in names}
IDX = {name: i for names in PANES.values() for i, name in enumerate(names)}  # position in its own figure
TITLES = {
    "diagram": ("What output t depends on (lit), down to the inputs; ✕ = an input it skips",),
    "probe": ("Measured log10 |∂y<sub>t</sub>/∂x<sub>s</sub>| (blank = 0)",
              "Causality: |Δy<sub>s</sub>| if inputs after t change"),
    "race": ("Race (faint: the loss of each batch)",),
    "params": ("Parameters of the whole network",),
}
HEIGHTS = {"diagram": 480, "probe": 330, "race": 560, "params": 560}
WIDTHS = {"race": 530, "params": 470}  # side by side, together as wide as the panes above
MARGIN = dict(l=150, r=20, t=50, b=70)  # the same left margin in every pane: the x axes line up
LEGEND_DROP = 82  # px from the race panels' bottom edge to their legend (below the x titles)


def row_labels(dilations: list[int], convs_per_block: int) -> list[str]:
    """Y tick labels of the diagram, bottom (inputs) to top."""
    labels = ["input x"]
    for i, d in enumerate(dilations):
        block, part = divmod(i, convs_per_block)
        suffix = "ab"[part] if convs_per_block == 2 else ""
        labels.append(f"block {block + 1}{suffix} · d={d}")
    return labels


def trace(figs: dict, name: str):
    """The trace called ``name`` in a dict of the figures (keyed like ``PANES``)."""
    return figs[PANE_OF[name]].data[IDX[name]]


def _line(c, w=1.5, dash=None):
    return dict(color=c, width=w, dash=dash)


def _diagram_figure(width: int | None) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=TITLES["diagram"])
    add = fig.add_trace
    # Units as one heatmap (lit = 1): a thousand SVG markers made every redraw slow in the browser.
    add(go.Heatmap(name="unit", x=[0], y=[0], z=[[0]], zmin=0, zmax=1, showscale=False, xgap=3, ygap=16,
                   colorscale=[[0, "#dcdcdc"], [0.5, "#dcdcdc"], [0.5, COLORS["tcn"]], [1, COLORS["tcn"]]],
                   hovertemplate="row %{y}, position %{x}<extra></extra>"))
    add(go.Scatter(name="convolution tap", mode="lines", line=_line(COLORS["tcn"], 1), hoverinfo="skip"))
    add(go.Scatter(name="residual skip", mode="lines", line=_line(COLORS["accent"], 1.5, "dot"), hoverinfo="skip"))
    add(go.Scatter(name="depends", mode="markers", marker=dict(size=9, color=COLORS["tcn"]),
                   hovertemplate="input %{x} is seen<extra></extra>"))  # the inputs output t sees
    add(go.Scatter(name="hole", mode="markers", marker=dict(size=13, symbol="x-thin", line=dict(width=3, color="#a40000")),
                   hovertemplate="input %{x}: not seen<extra></extra>"))
    add(go.Scatter(name="output t", mode="markers", marker=dict(size=16, symbol="star", color=COLORS["black"]),
                   hovertemplate="output t=%{x}<extra></extra>"))
    apply_theme(fig, height=HEIGHTS["diagram"], width=width, margin=MARGIN, showlegend=False)
    fig.update_xaxes(title_text="position (time step)")
    return fig


def _probe_figure(width: int | None) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.09, subplot_titles=TITLES["probe"])
    add = lambda tr, c: fig.add_trace(tr, row=1, col=c)  # noqa: E731
    add(go.Heatmap(name="|dy/dx|", colorscale=SEQUENTIAL, showscale=False, x=[0], y=[0, 1], z=[[None], [None]],
                   hovertemplate="input %{x}: log10 |∂y/∂x| = %{z:.2f}<extra></extra>"), 1)
    add(go.Scatter(name="analytic", mode="markers", marker=dict(size=7, symbol="square", color=COLORS["tcn"]),
                   hovertemplate="input %{x} (analytic)<extra></extra>"), 1)
    add(go.Bar(name="|Δy|", marker_color=COLORS["lstm"], hovertemplate="output %{x}: |Δy| = %{y:.3g}<extra></extra>"), 2)
    add(go.Scatter(name="inputs changed after t", mode="lines", line=_line(COLORS["rnn"], 2, "dash"),
                   hoverinfo="skip"), 2)
    apply_theme(fig, height=HEIGHTS["probe"], width=width, margin=MARGIN, showlegend=False, bargap=0.1)
    fig.update_xaxes(title_text="input position s", row=1, col=1)
    fig.update_xaxes(title_text="output position s", row=1, col=2)
    fig.update_yaxes(title_text="|Δy_s|", row=1, col=2)
    fig.update_yaxes(tickvals=[0, 1, 2], ticktext=["trained", "untrained", "analytic"], range=[-0.5, 2.5],
                     row=1, col=1)
    return fig


def _legend(fig, pane: str, margin: dict) -> dict:
    plot_h = HEIGHTS[pane] - margin["t"] - margin["b"]
    return dict(orientation="h", x=0.0, y=-LEGEND_DROP / plot_h, xanchor="left", yanchor="top", font_size=14)


def _race_figure(width: int | None, window: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=TITLES["race"])
    race = dict(legendgroup="race", legendgrouptitle_text="Race:")
    for m in RACERS:  # the per-batch losses, faint, behind the means (not in the legend)
        fig.add_trace(go.Scatter(name=f"{MODEL_LABELS[m]} per batch", mode="lines", showlegend=False,
                                 line=_line(COLORS[m], 1), opacity=0.22, legendgroup="race", hoverinfo="skip"))
    for m in RACERS:
        label = "tanh RNN" if m == "rnn" else MODEL_LABELS[m]
        fig.add_trace(go.Scatter(name=label, mode="lines", line=_line(COLORS[m], 2.5), **race,
                                 hovertemplate=f"{label}: mean %{{y:.3g}} at %{{x:.1f}} s<extra></extra>"))
    fig.add_trace(go.Scatter(name="target", mode="lines", line=_line(COLORS["black"], 1.5, "dash"), **race))
    fig.add_trace(go.Scatter(name="TCN floor (cannot see)", mode="lines", line=_line(COLORS["tcn"], 2, "dot"), **race))
    for name, dash in zip(BASELINES, BASELINE_DASH):
        fig.add_trace(go.Scatter(name="blind baseline" if name == "baseline" else name, mode="lines",
                                 line=_line(COLORS["baseline"], 1.5, dash), showlegend=name == "baseline", **race))
    margin = dict(MARGIN, b=170)
    apply_theme(fig, height=HEIGHTS["race"], width=None if width is None else round(width * WIDTHS["race"] / 1000),
                margin=margin, showlegend=True, legend=_legend(fig, "race", margin))
    fig.update_xaxes(title_text="seconds of own compute")
    # one label per decade, no crowded minor labels
    fig.update_yaxes(title_text=f"loss: mean of last {window} steps (log)", type="log", dtick=1,
                     exponentformat="power")
    return fig


def _params_figure(width: int | None) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=TITLES["params"])
    params = dict(legendgroup="params", legendgrouptitle_text="Same inputs, head and C; by design:")
    for name, c in zip(DESIGNS, DESIGN_COLORS):
        fig.add_trace(go.Scatter(name=name, mode="lines+markers", line=_line(c, 2), marker=dict(size=5), **params,
                                 hovertemplate=f"{name}: R=%{{x}}, %{{y}} parameters<extra></extra>"))
    fig.add_trace(go.Scatter(name="this TCN, other block counts", mode="lines+markers",
                             line=_line(COLORS["black"], 1.5, "dot"), marker=dict(size=4, color=COLORS["black"]),
                             **params, hovertemplate="this design: R=%{x}, %{y} parameters<extra></extra>"))
    fig.add_trace(go.Scatter(name="this TCN (count_parameters)", mode="markers",
                             marker=dict(size=16, symbol="star", color=COLORS["black"]),
                             **params, hovertemplate="this TCN: R=%{x}, %{y} parameters<extra></extra>"))
    fig.add_trace(go.Scatter(name="task's reach", mode="lines", line=_line(COLORS["rnn"], 2, "dash"), **params,
                             hoverinfo="skip"))
    margin = dict(MARGIN, l=90, b=170)
    apply_theme(fig, height=HEIGHTS["params"], width=None if width is None else round(width * WIDTHS["params"] / 1000),
                margin=margin, showlegend=True, legend=_legend(fig, "params", margin))
    log = dict(type="log", dtick=1, exponentformat="power")
    fig.update_xaxes(title_text="receptive field (inputs seen)", **log)
    fig.update_yaxes(title_text="parameters (all, biases included)", **log)
    return fig


def build_tcn_figures(width: int | None = 1000, window: int = WINDOW) -> dict[str, go.Figure]:
    """The four skeleton figures of the dashboard, every trace empty; the ``*_patch`` functions
    fill them. ``width`` is that of the top panes; "race" and "params" share it side by side;
    ``window`` is the race curves' running mean (named on the loss axis)."""
    figs = {"diagram": _diagram_figure(width), "probe": _probe_figure(width), "race": _race_figure(width, window),
            "params": _params_figure(width)}
    for pane, fig in figs.items():
        assert len(fig.data) == len(PANES[pane])
        for tr, name in zip(fig.data, PANES[pane]):
            tr.meta = name  # patches, tests and benchmarks find traces by this tag
    return figs


def _segments(edges, dx: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (row, pos) -> (row', pos') as x/y arrays with NaN between segments."""
    e = np.asarray(edges, dtype=float).reshape(-1, 4)  # (n, 4): row, pos, row', pos'
    xs = np.column_stack([e[:, 1] + dx, e[:, 3] + dx, np.full(len(e), np.nan)]).ravel()
    ys = np.column_stack([e[:, 0], e[:, 2], np.full(len(e), np.nan)]).ravel()
    return xs, ys


def diagram_patch(diag: Diagram, t: int, convs_per_block: int, nodes: bool = True) -> dict:
    """The "diagram" figure for output ``t``: lit units, lit edges, seen inputs and holes.
    ``nodes=False`` (only t moved) leaves out what does not depend on t: the grid's positions,
    its row labels and the ranges.

    Arrays are float64/int32 numpy (plotly.js cannot decode int64); NaN separates segments."""
    n_rows, T = len(diag.active), diag.T
    lit = np.zeros((n_rows, T), dtype=np.uint8)  # (rows, T): 1 where output t depends on the unit
    for r, a in enumerate(diag.active):
        lit[r, a] = 1
    cx, cy = _segments(diag.conv_edges)
    sx, sy = _segments(diag.skip_edges, 0.18)
    traces = {
        "nodes": {"z": lit},
        "conv_edges": {"x": cx, "y": cy},
        "skip_edges": {"x": sx, "y": sy},
        "active": {"x": diag.active[0].astype(np.int32), "y": np.zeros(len(diag.active[0]), np.int32)},
        "holes": {"x": diag.missed.astype(np.int32), "y": np.zeros(len(diag.missed), np.int32)},
        "output": {"x": [int(t)], "y": [n_rows - 1]},
    }
    layout = {}
    if nodes:
        traces["nodes"].update(x=np.arange(T, dtype=np.int32), y=np.arange(n_rows, dtype=np.int32))
        layout = {"yaxis": {"tickvals": list(range(n_rows)),
                            "ticktext": row_labels(diag.dilations, convs_per_block),
                            "range": [-0.6, n_rows - 0.4]},
                  "xaxis": {"range": [-1, T]}}
    return patch(traces, layout)


def _logs(g, T: int) -> list:
    if g is None:
        return [None] * T
    return [float(np.log10(v)) if v > 0 else None for v in np.asarray(g, dtype=float)]


def heat_patch(untrained: np.ndarray, trained: np.ndarray | None, full: bool = False) -> dict:
    """The gradient heatmap: rows "trained" (None: not trained yet, blank) and "untrained",
    log10 |d y_t / d x_s| (zeros blank). ``full``: also the positions and the x range (a new
    sequence length)."""
    T = len(untrained)
    heat = {"z": [_logs(trained, T), _logs(untrained, T)]}
    layout = {}
    if full:
        heat.update(x=list(range(T)), y=[0, 1])
        layout = {"xaxis": {"range": [-1, T]}}
    return patch({"heat": heat}, layout)


def gradients_patch(untrained: np.ndarray, trained: np.ndarray | None, analytic_positions,
                    full: bool = False) -> dict:
    """The "probe" figure's left panel: the heatmap rows and, in row "analytic", the set."""
    pos = [int(p) for p in analytic_positions]
    return merge(heat_patch(untrained, trained, full), patch({"analytic": {"x": pos, "y": [2] * len(pos)}}))


def causality_patch(delta: np.ndarray, t: int, full: bool = False) -> dict:
    """The "probe" figure's right panel: |Δy_s| and the cut after t (``full``: positions, range)."""
    bars = {"y": [float(v) for v in delta]}
    layout = {}
    if full:
        bars["x"] = list(range(len(delta)))
        layout = {"xaxis2": {"range": [-1, len(delta)]}}
    top = float(np.max(delta)) if len(delta) and np.max(delta) > 0 else 1.0
    return patch({"delta": bars, "cut": {"x": [t + 0.5, t + 0.5], "y": [0, top * 1.05]}}, layout)


def running_mean(values, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at every step (fewer at the start)."""
    v = np.asarray(values, dtype=float)
    c = np.cumsum(np.concatenate([[0.0], v]))
    n = np.arange(1, len(v) + 1)
    lo = np.maximum(0, n - window)
    return (c[n] - c[lo]) / (n - lo)


def race_patch(curves: dict, target: float, floor: float | None, baselines, x_max: float,
               window: int = WINDOW, max_points: int = 300) -> dict:
    """The "race" figure. ``curves``: model -> (own seconds, per-batch loss) arrays; each model
    gets its running mean over ``window`` steps (the finishing criterion) and, faint behind it,
    the per-batch losses. Horizontal lines over [0, x_max]: the target, the TCN's floor (None:
    no floor) and ``baselines`` [(label, loss)], the task's trivial baseline first."""
    traces = {}
    for m in RACERS:
        x, loss = curves.get(m, ((), ()))
        if len(x):
            mean = running_mean(loss, window)
            xr, yr = downsample(np.asarray(x, dtype=float), np.asarray(loss, dtype=float), max_points)
            xm, ym = downsample(np.asarray(x, dtype=float), mean, max_points)
        else:
            xr = yr = xm = ym = []
        traces[f"raw_{m}"] = {"x": np.asarray(xr, dtype=float), "y": np.asarray(yr, dtype=float)}
        traces[f"loss_{m}"] = {"x": np.asarray(xm, dtype=float), "y": np.asarray(ym, dtype=float)}
    span = [0.0, max(1.0, float(x_max))]
    traces["threshold"] = {"x": span, "y": [float(target)] * 2}
    traces["floor"] = {"x": span, "y": [float(floor)] * 2} if floor else {"x": [], "y": []}
    baselines = list(baselines)[: len(BASELINES)]
    for i, name in enumerate(BASELINES):
        if i < len(baselines):
            label, value = baselines[i]
            traces[name] = {"x": span, "y": [float(value)] * 2, "name": str(label), "showlegend": True}
        else:
            traces[name] = {"x": [], "y": [], "showlegend": False}
    return patch(traces, {"xaxis": {"range": [0.0, span[1] * 1.03]}})


def params_patch(curves: dict, current: tuple[int, int], reach: int) -> dict:
    """The "params" figure: parameter counts against receptive field, by design (``curves``
    from ``seqviz.probes.receptive.param_curves``), this TCN's own point (the star:
    receptive field, ``count_parameters``) and the task's reach."""
    traces = {}
    for i, name in enumerate(DESIGNS):
        x, y = curves[name]
        traces[f"design_{i}"] = {"x": list(x), "y": list(y)}
    x, y = curves[THIS_DESIGN]
    traces["design_this"] = {"x": list(x), "y": list(y)}
    ys = [v for c in curves.values() for v in c[1]] + [current[1]]
    traces["current"] = {"x": [int(current[0])], "y": [int(current[1])]}
    traces["reach"] = {"x": [int(reach)] * 2, "y": [min(ys) / 1.5, max(ys) * 1.5]}
    return patch(traces)
