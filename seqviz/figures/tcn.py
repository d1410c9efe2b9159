"""The receptive-field dashboard's figure: one plotly figure, five panels.

  row 1  the layered diagram: which units output t depends on, down to the inputs
  row 2  measured |d y_t / d x_s| (untrained, trained) under the analytic set | causality check
  row 3  the race's loss curves                                             | parameters vs reach

``build_tcn_figure`` makes every trace once (fixed order, see ``ORDER``); the
``update_*`` functions change data in place, on a ``go.Figure`` or a ``go.FigureWidget``.
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
ORDER = (
    "nodes", "conv_edges", "skip_edges", "active", "holes", "output",  # row 1
    "heat", "analytic",  # row 2, left
    "delta", "cut",  # row 2, right
    *(f"loss_{m}" for m in RACERS), "threshold", "floor", "baseline",  # row 3, left
    *(f"design_{i}" for i in range(len(DESIGNS))), "current", "reach",  # row 3, right
)
IDX = {name: i for i, name in enumerate(ORDER)}
TITLES = (
    "What output t depends on (lit), down to the inputs; ✕ = an input it skips",
    "Measured log10 |∂y<sub>t</sub>/∂x<sub>s</sub>| (blank = 0)",
    "Causality: |Δy<sub>s</sub>| if inputs after t change",
    "Race: loss (mean of last 10 steps)",
    "Parameters vs receptive field",
)


def row_labels(dilations: list[int], convs_per_block: int) -> list[str]:
    """Y tick labels of the diagram, bottom (inputs) to top."""
    labels = ["input x"]
    for i, d in enumerate(dilations):
        block, part = divmod(i, convs_per_block)
        suffix = "ab"[part] if convs_per_block == 2 else ""
        labels.append(f"block {block + 1}{suffix} · d={d}")
    return labels


def build_tcn_figure(height: int = 1280, width: int | None = 1000) -> go.Figure:
    """Every trace of the dashboard, empty; fill with the ``update_*`` functions."""
    fig = make_subplots(rows=3, cols=2, specs=[[{"colspan": 2}, None], [{}, {}], [{}, {}]],
                        row_heights=[0.40, 0.22, 0.38], vertical_spacing=0.085, horizontal_spacing=0.09,
                        subplot_titles=TITLES)
    line = lambda c, w=1.5, dash=None: dict(color=c, width=w, dash=dash)  # noqa: E731
    add = lambda tr, r, c: fig.add_trace(tr, row=r, col=c)  # noqa: E731
    # Units as one heatmap (lit = 1): a thousand SVG markers made every redraw slow in the browser.
    add(go.Heatmap(name="unit", x=[0], y=[0], z=[[0]], zmin=0, zmax=1, showscale=False, xgap=3, ygap=16,
                   colorscale=[[0, "#dcdcdc"], [0.5, "#dcdcdc"], [0.5, COLORS["tcn"]], [1, COLORS["tcn"]]],
                   hovertemplate="row %{y}, position %{x}<extra></extra>"), 1, 1)
    add(go.Scatter(name="convolution tap", mode="lines", line=line(COLORS["tcn"], 1), hoverinfo="skip",
                   showlegend=False), 1, 1)
    add(go.Scatter(name="residual skip", mode="lines", line=line(COLORS["accent"], 1.5, "dot"), hoverinfo="skip",
                   showlegend=False), 1, 1)
    add(go.Scatter(name="depends", mode="markers", marker=dict(size=9, color=COLORS["tcn"]), showlegend=False,
                   hovertemplate="input %{x} is seen<extra></extra>"), 1, 1)  # the inputs output t sees
    add(go.Scatter(name="hole", mode="markers", marker=dict(size=13, symbol="x-thin", line=dict(width=3, color="#a40000")),
                   showlegend=False, hovertemplate="input %{x}: not seen<extra></extra>"), 1, 1)
    add(go.Scatter(name="output t", mode="markers", marker=dict(size=16, symbol="star", color=COLORS["black"]),
                   showlegend=False, hovertemplate="output t=%{x}<extra></extra>"), 1, 1)
    add(go.Heatmap(name="|dy/dx|", colorscale=SEQUENTIAL, showscale=False, x=[0], y=[0, 1], z=[[None], [None]],
                   hovertemplate="input %{x}: log10 |∂y/∂x| = %{z:.2f}<extra></extra>"), 2, 1)
    add(go.Scatter(name="analytic", mode="markers", marker=dict(size=7, symbol="square", color=COLORS["tcn"]),
                   showlegend=False, hovertemplate="input %{x} (analytic)<extra></extra>"), 2, 1)
    add(go.Bar(name="|Δy|", marker_color=COLORS["lstm"], showlegend=False,
               hovertemplate="output %{x}: |Δy| = %{y:.3g}<extra></extra>"), 2, 2)
    add(go.Scatter(name="inputs changed after t", mode="lines", line=line(COLORS["rnn"], 2, "dash"),
                   showlegend=False, hoverinfo="skip"), 2, 2)
    for m in RACERS:
        add(go.Scatter(name=MODEL_LABELS[m], mode="lines", line=line(COLORS[m], 2.5),
                       hovertemplate=f"{MODEL_LABELS[m]}: %{{y:.3g}} at %{{x:.1f}} s<extra></extra>"), 3, 1)
    fig.data[-1].name = "tanh RNN" if m == "rnn" else MODEL_LABELS[m]
    add(go.Scatter(name="target", mode="lines", line=line(COLORS["black"], 1.5, "dash")), 3, 1)
    add(go.Scatter(name="TCN floor (cannot see)", mode="lines", line=line(COLORS["tcn"], 2, "dot"),
                   legend="legend"), 3, 1)
    add(go.Scatter(name="blind baseline", mode="lines", line=line(COLORS["baseline"], 1.5, "dot"),
                   legend="legend"), 3, 1)
    for name, c in zip(DESIGNS, DESIGN_COLORS):
        # one legend for the whole figure: a second legend (legend2) rendered on top of the first in Voila
        add(go.Scatter(name=name, mode="lines+markers", line=line(c, 2), marker=dict(size=5), legendgroup="params",
                       legendgrouptitle_text="Parameters:",
                       hovertemplate=f"{name}: R=%{{x}}, %{{y}} parameters<extra></extra>"), 3, 2)
    add(go.Scatter(name="this TCN", mode="markers", marker=dict(size=16, symbol="star", color=COLORS["black"]),
                   legendgroup="params", hovertemplate="this TCN: R=%{x}, %{y} parameters<extra></extra>"), 3, 2)
    add(go.Scatter(name="task's reach", mode="lines", line=line(COLORS["rnn"], 2, "dash"), legendgroup="params",
                   hoverinfo="skip"), 3, 2)
    for tr, name in zip(fig.data, ORDER):
        tr.meta = name  # browser tests find traces by this tag
    for tr in fig.data[IDX["loss_tcn"]: IDX["baseline"] + 1]:  # the race's legend entries
        tr.legendgroup, tr.legendgrouptitle = "race", dict(text="Race:")
    apply_theme(fig, height=height, width=width, margin=dict(l=150, r=20, t=50, b=130), showlegend=True,
                bargap=0.1, legend=dict(orientation="h", x=0.0, y=-0.065, xanchor="left", yanchor="top",
                                        font_size=14, traceorder="grouped"))
    fig.update_xaxes(title_text="position (time step)", row=1, col=1)
    fig.update_xaxes(title_text="input position s", row=2, col=1)
    fig.update_xaxes(title_text="output position s", row=2, col=2)
    fig.update_yaxes(title_text="|Δy_s|", row=2, col=2)
    fig.update_xaxes(title_text="seconds of own compute", row=3, col=1)
    log = dict(type="log", dtick=1, exponentformat="power")  # one label per decade, no crowded minor labels
    fig.update_yaxes(title_text="loss (log)", **log, row=3, col=1)
    fig.update_xaxes(title_text="receptive field (inputs seen)", **log, row=3, col=2)
    fig.update_yaxes(title_text="parameters", **log, row=3, col=2)
    fig.update_yaxes(tickvals=[0, 1, 2], ticktext=["trained", "untrained", "analytic"], range=[-0.5, 2.5],
                     row=2, col=1)
    return fig


def update_diagram(fig, diag: Diagram, t: int, convs_per_block: int, nodes: bool = True) -> None:
    """Nodes, lit edges and holes for output ``t`` (fig.data changed in place).

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
                         range=[-0.6, n_rows - 0.4], row=1, col=1)
        fig.update_xaxes(range=[-1, T], row=1, col=1)


def update_gradients(fig, untrained: np.ndarray, trained: np.ndarray | None, analytic_positions) -> None:
    """Row "untrained" / "trained": log10 |d y_t / d x_s| (zeros blank); row "analytic": the set."""
    T = len(untrained)

    def logs(g):
        if g is None:
            return [None] * T
        g = np.asarray(g, dtype=float)
        return [float(np.log10(v)) if v > 0 else None for v in g]

    h = fig.data[IDX["heat"]]
    if len(h.x) != T:  # unchanged x and ranges are not resent: each relayout redraws every panel
        h.x, h.y = list(range(T)), [0, 1]
        fig.update_xaxes(range=[-1, T], row=2, col=1)
    h.z = [logs(trained), logs(untrained)]
    a = fig.data[IDX["analytic"]]
    a.x, a.y = [int(p) for p in analytic_positions], [2] * len(analytic_positions)


def update_trained_gradient(fig, trained: np.ndarray) -> None:
    """Replace only the "trained" row of the gradient heatmap."""
    h = fig.data[IDX["heat"]]
    z = [list(row) for row in h.z]
    z[0] = [float(np.log10(v)) if v > 0 else None for v in np.asarray(trained, dtype=float)]
    h.z = z


def update_causality(fig, delta: np.ndarray, t: int) -> None:
    d = fig.data
    if len(d[IDX["delta"]].x or ()) != len(delta):
        d[IDX["delta"]].x = list(range(len(delta)))
        fig.update_xaxes(range=[-1, len(delta)], row=2, col=2)
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
    """Loss curves (running mean over ``window`` steps, the finishing criterion; x = cumulative
    own seconds), target, the TCN's floor and the blind baseline."""
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
    d = fig.data
    for i, name in enumerate(DESIGNS):
        tr = d[IDX[f"design_{i}"]]
        tr.x, tr.y = curves[name]
        tr.text = [""] * (len(curves[name][0]) - 1) + [name]
    ys = [v for name in DESIGNS for v in curves[name][1]] + [current[1]]
    d[IDX["current"]].x, d[IDX["current"]].y = [int(current[0])], [int(current[1])]
    d[IDX["reach"]].x, d[IDX["reach"]].y = [int(reach)] * 2, [min(ys) / 1.5, max(ys) * 1.5]
