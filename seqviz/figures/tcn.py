"""The receptive-field dashboard's figures: three small plotly figures, five panels.

  "diagram"  the layered diagram: which units output t depends on, down to the inputs
  "probe"    measured |d y_t / d x_s| (untrained, trained) under the analytic set | causality check
  "race" | "params"   the race's loss curves | parameters vs reach (two panes side by side)

Four figures, each in its own plot pane (``widgets/plotpane.py``), because plotly.js redraws
every subplot of a figure on any data change: one five-panel figure took ~85-100 ms per
"Output position t" step in the browser, the one-panel diagram redraws alone in a fraction of
that, and the race's refreshes redraw only the loss curves and their legend (the legend is about
half of a redraw: the parameter panel's entries live in their own pane).

``build_tcn_figures`` makes every trace once (fixed order per figure, see ``PANES``; each
trace's ``meta`` is its name); ``IDX[name]`` is its position in its own figure, ``PANE_OF[name]``
which figure holds it. The ``update_*`` functions change data in place on that figure.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.theme import COLORS, MODEL_LABELS, SEQUENTIAL, apply_theme, downsample
from seqviz.probes.receptive import Diagram

RACERS = ("tcn", "gru", "lstm", "rnn")
DESIGNS = ("dilated, k=2", "dilated, k=3", "undilated, k=3", "one layer, kernel k")
DESIGN_COLORS = (COLORS["tcn"], COLORS["lstm"], COLORS["accent"], COLORS["baseline"])
PANES = {
    "diagram": ("nodes", "conv_edges", "skip_edges", "active", "holes", "output"),
    "probe": ("heat", "analytic",  # left
              "delta", "cut"),  # right
    "race": (*(f"loss_{m}" for m in RACERS), "threshold", "floor", "baseline"),  # bottom left
    "params": (*(f"design_{i}" for i in range(len(DESIGNS))), "current", "reach"),  # bottom right
}
ORDER = tuple(name for names in PANES.values() for name in names)
PANE_OF = {name: pane for pane, names in PANES.items() for name in names}
IDX = {name: i for names in PANES.values() for i, name in enumerate(names)}  # position in its own figure
TITLES = {
    "diagram": ("What output t depends on (lit), down to the inputs; ✕ = an input it skips",),
    "probe": ("Measured log10 |∂y<sub>t</sub>/∂x<sub>s</sub>| (blank = 0)",
              "Causality: |Δy<sub>s</sub>| if inputs after t change"),
    "race": ("Race: loss (mean of last 10 steps)",),
    "params": ("Parameters vs receptive field",),
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


def _race_figure(width: int | None) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=TITLES["race"])
    race = dict(legendgroup="race", legendgrouptitle_text="Race:")
    for m in RACERS:
        label = "tanh RNN" if m == "rnn" else MODEL_LABELS[m]
        fig.add_trace(go.Scatter(name=label, mode="lines", line=_line(COLORS[m], 2.5), **race,
                                 hovertemplate=f"{MODEL_LABELS[m]}: %{{y:.3g}} at %{{x:.1f}} s<extra></extra>"))
    fig.add_trace(go.Scatter(name="target", mode="lines", line=_line(COLORS["black"], 1.5, "dash"), **race))
    fig.add_trace(go.Scatter(name="TCN floor (cannot see)", mode="lines", line=_line(COLORS["tcn"], 2, "dot"), **race))
    fig.add_trace(go.Scatter(name="blind baseline", mode="lines", line=_line(COLORS["baseline"], 1.5, "dot"), **race))
    margin = dict(MARGIN, b=150)
    apply_theme(fig, height=HEIGHTS["race"], width=None if width is None else round(width * WIDTHS["race"] / 1000),
                margin=margin, showlegend=True, legend=_legend(fig, "race", margin))
    fig.update_xaxes(title_text="seconds of own compute")
    # one label per decade, no crowded minor labels
    fig.update_yaxes(title_text="loss (log)", type="log", dtick=1, exponentformat="power")
    return fig


def _params_figure(width: int | None) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=TITLES["params"])
    params = dict(legendgroup="params", legendgrouptitle_text="Parameters:")
    for name, c in zip(DESIGNS, DESIGN_COLORS):
        fig.add_trace(go.Scatter(name=name, mode="lines+markers", line=_line(c, 2), marker=dict(size=5), **params,
                                 hovertemplate=f"{name}: R=%{{x}}, %{{y}} parameters<extra></extra>"))
    fig.add_trace(go.Scatter(name="this TCN", mode="markers", marker=dict(size=16, symbol="star", color=COLORS["black"]),
                             **params, hovertemplate="this TCN: R=%{x}, %{y} parameters<extra></extra>"))
    fig.add_trace(go.Scatter(name="task's reach", mode="lines", line=_line(COLORS["rnn"], 2, "dash"), **params,
                             hoverinfo="skip"))
    margin = dict(MARGIN, l=90, b=150)
    apply_theme(fig, height=HEIGHTS["params"], width=None if width is None else round(width * WIDTHS["params"] / 1000),
                margin=margin, showlegend=True, legend=_legend(fig, "params", margin))
    log = dict(type="log", dtick=1, exponentformat="power")
    fig.update_xaxes(title_text="receptive field (inputs seen)", **log)
    fig.update_yaxes(title_text="parameters", **log)
    return fig


def build_tcn_figures(width: int | None = 1000) -> dict[str, go.Figure]:
    """The four figures of the dashboard, every trace empty; fill with the ``update_*`` functions.
    ``width`` is that of the top panes; "race" and "params" share it side by side."""
    figs = {"diagram": _diagram_figure(width), "probe": _probe_figure(width), "race": _race_figure(width),
            "params": _params_figure(width)}
    for pane, fig in figs.items():
        assert len(fig.data) == len(PANES[pane])
        for tr, name in zip(fig.data, PANES[pane]):
            tr.meta = name  # tests and benchmarks find traces by this tag
    return figs


def update_diagram(fig, diag: Diagram, t: int, convs_per_block: int, nodes: bool = True) -> None:
    """Nodes, lit edges and holes for output ``t`` (the "diagram" figure, changed in place).

    Arrays are float64/int32 numpy (plotly sends them as binary; plotly.js cannot decode
    int64); NaN separates line segments. ``nodes=False`` skips the unchanged grey grid.
    """
    n_rows, T, d = len(diag.active), diag.T, fig.data
    lit = np.zeros((n_rows, T), dtype=np.uint8)  # (rows, T): 1 where output t depends on the unit
    for r, a in enumerate(diag.active):
        lit[r, a] = 1
    if nodes:
        d[IDX["nodes"]].x, d[IDX["nodes"]].y = np.arange(T, dtype=np.int32), np.arange(n_rows, dtype=np.int32)
    d[IDX["nodes"]].z = lit

    def segs(edges, dx=0.0):
        e = np.asarray(edges, dtype=float).reshape(-1, 4)  # (n, 4): row, pos, row', pos'
        xs = np.column_stack([e[:, 1] + dx, e[:, 3] + dx, np.full(len(e), np.nan)]).ravel()
        ys = np.column_stack([e[:, 0], e[:, 2], np.full(len(e), np.nan)]).ravel()
        return xs, ys

    d[IDX["conv_edges"]].x, d[IDX["conv_edges"]].y = segs(diag.conv_edges)
    d[IDX["skip_edges"]].x, d[IDX["skip_edges"]].y = segs(diag.skip_edges, 0.18)
    d[IDX["active"]].x, d[IDX["active"]].y = diag.active[0].astype(np.int32), np.zeros(len(diag.active[0]), np.int32)
    d[IDX["holes"]].x, d[IDX["holes"]].y = diag.missed.astype(np.int32), np.zeros(len(diag.missed), np.int32)
    d[IDX["output"]].x, d[IDX["output"]].y = [int(t)], [n_rows - 1]
    if nodes:
        fig.update_yaxes(tickvals=list(range(n_rows)), ticktext=row_labels(diag.dilations, convs_per_block),
                         range=[-0.6, n_rows - 0.4])
        fig.update_xaxes(range=[-1, T])


def _logs(g, T: int) -> list:
    if g is None:
        return [None] * T
    return [float(np.log10(v)) if v > 0 else None for v in np.asarray(g, dtype=float)]


def update_gradients(fig, untrained: np.ndarray, trained: np.ndarray | None, analytic_positions) -> None:
    """The "probe" figure's left panel. Row "untrained" / "trained": log10 |d y_t / d x_s|
    (zeros blank); row "analytic": the set."""
    T = len(untrained)
    h = fig.data[IDX["heat"]]
    if len(h.x) != T:  # unchanged x and ranges are not resent: each relayout redraws every panel
        h.x, h.y = list(range(T)), [0, 1]
        fig.update_xaxes(range=[-1, T], row=1, col=1)
    h.z = [_logs(trained, T), _logs(untrained, T)]
    a = fig.data[IDX["analytic"]]
    a.x, a.y = [int(p) for p in analytic_positions], [2] * len(analytic_positions)


def update_trained_gradient(fig, trained: np.ndarray) -> None:
    """Replace only the "trained" row of the gradient heatmap (the "probe" figure)."""
    h = fig.data[IDX["heat"]]
    z = [list(row) for row in h.z]
    z[0] = _logs(trained, len(trained))
    h.z = z


def update_causality(fig, delta: np.ndarray, t: int) -> None:
    """The "probe" figure's right panel: |Δy_s| and the cut after t."""
    d = fig.data
    if len(d[IDX["delta"]].x or ()) != len(delta):
        d[IDX["delta"]].x = list(range(len(delta)))
        fig.update_xaxes(range=[-1, len(delta)], row=1, col=2)
    d[IDX["delta"]].y = [float(v) for v in delta]
    top = float(np.max(delta)) if len(delta) and np.max(delta) > 0 else 1.0
    d[IDX["cut"]].x, d[IDX["cut"]].y = [t + 0.5, t + 0.5], [0, top * 1.05]


def running_mean(values, window: int) -> list[float]:
    """Mean of the last ``window`` values at every step (fewer at the start)."""
    c = np.cumsum(np.concatenate([[0.0], np.asarray(values, dtype=float)]))
    n = np.arange(1, len(values) + 1)
    lo = np.maximum(0, n - window)
    return ((c[n] - c[lo]) / (n - lo)).tolist()


def update_race(fig, histories: dict, threshold: float, floor: float | None, baseline: float,
                x_max: float, window: int = 10) -> None:
    """The "race" figure: loss curves (running mean over ``window`` steps, the
    finishing criterion; x = cumulative own seconds), target, the TCN's floor and the blind baseline."""
    d = fig.data
    for m in RACERS:
        h = histories.get(m)
        x, y = downsample(h.seconds, running_mean(h.loss, window), 300) if h is not None and h.loss else ([], [])
        d[IDX[f"loss_{m}"]].x, d[IDX[f"loss_{m}"]].y = x, y
    span = [0.0, max(1.0, x_max)]
    d[IDX["threshold"]].x, d[IDX["threshold"]].y = span, [threshold] * 2
    d[IDX["baseline"]].x, d[IDX["baseline"]].y = span, [baseline] * 2
    fl = d[IDX["floor"]]
    fl.x, fl.y = (span, [floor] * 2) if floor else ([], [])


def update_params(fig, curves: dict, current: tuple[int, int], reach: int) -> None:
    """The "params" figure: parameter count against receptive field."""
    d = fig.data
    for i, name in enumerate(DESIGNS):
        tr = d[IDX[f"design_{i}"]]
        tr.x, tr.y = curves[name]
        tr.text = [""] * (len(curves[name][0]) - 1) + [name]
    ys = [v for name in DESIGNS for v in curves[name][1]] + [current[1]]
    d[IDX["current"]].x, d[IDX["current"]].y = [int(current[0])], [int(current[1])]
    d[IDX["reach"]].x, d[IDX["reach"]].y = [int(reach)] * 2, [min(ys) / 1.5, max(ys) * 1.5]
