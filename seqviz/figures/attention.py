"""The attention dashboard's figures, one per plot pane: part 1's alignment matrix and its
curves (loss, accuracy, accuracy by length), part 2's self-attention matrix, the chosen
query (its weights and q/k/v) and the transformer's curves (loss, entropy). Pure: panel
functions turn numbers into ``{trace: {prop: value}}`` and ``{panel: {"x"|"y": props}}``
updates; ``apply`` writes them into a go.Figure (the caller holds its lock and
batch_update), ``build_figure`` makes a complete figure.

Why five small figures and not one or two: plotly.js answers any change to a figure (a
trace's data, even a moved selection box) by redrawing every subplot of it. Measured in
headless Chromium on the shared 2-core machine: one 9-panel figure took a median 216 ms
per update and froze the page while part 1 trained; two figures (4 and 5 panels) 41 and
20 ms alone but 65-110 ms in the page for part 2's; a pane of one or two subplots about
15 ms. So what the "Query token i" slider changes (the query's weights, its q/k/v row)
has a pane of its own, and the heatmaps, which redraw slowest, are apart from the curves
that refresh often while training.
"""

from __future__ import annotations

import html  # plotly reads tick text as a little HTML: escape < > &
import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.theme import COLORS, DIVERGING, SEQUENTIAL, apply_theme, downsample

# part (one figure, one plot pane) -> panel -> (row, col)
PANELS = {"part1": {"align": (1, 1)},
          "part1_curves": {"s2s_loss": (1, 1), "s2s_acc": (1, 2)},
          "part1_length": {"length": (1, 1)},
          "part2": {"self": (1, 1)},
          "part2_query": {"query": (1, 1), "qkv": (1, 2)},
          "part2_curves": {"lm_loss": (1, 1), "entropy": (1, 2)}}
PART_OF = {panel: part for part, ps in PANELS.items() for panel in ps}  # panel -> part
TRACES = [  # (name, panel); within a part, this order is the order of fig.data
    ("align", "align"), ("align_true", "align"), ("align_sel", "align"),
    ("loss_att", "s2s_loss"), ("loss_bn", "s2s_loss"),
    ("acc_align", "s2s_acc"), ("acc_att", "s2s_acc"), ("acc_bn", "s2s_acc"),
    ("len_att", "length"), ("len_bn", "length"), ("len_train", "length"),
    ("self", "self"), ("self_sel", "self"),
    ("query", "query"),
    ("qkv", "qkv"), ("qkv_sel", "qkv"),
    ("lm_loss", "lm_loss"), ("lm_base", "lm_loss"),
    ("ent_scaled", "entropy"), ("ent_unscaled", "entropy"), ("ent_uniform", "entropy"), ("ent_model", "entropy"),
]
TRACE_PART = {name: PART_OF[panel] for name, panel in TRACES}  # trace -> part
INDEX = {}  # trace -> index in its part's fig.data
for _part in PANELS:
    INDEX.update({n: i for i, n in enumerate(n for n, p in TRACES if PART_OF[p] == _part)})
TITLES = {"part1": ("Attention alpha_ij (dark 0, yellow 1)",),
          "part1_curves": ("Loss (cross-entropy)", "Accuracy while training"),
          "part1_length": ("Accuracy by source length",),
          "part2": ("Self-attention w_ij of one head (dark 0, yellow 1)",),
          "part2_query": ("Weights of the chosen query", "q, k, v of every token (this head)"),
          "part2_curves": ("Transformer loss (nats per character)", "Entropy of a softmax row as k grows")}
# part -> figure width, height, top margin, legend y (None: no legend), horizontal spacing. The panes of
# one row of the page share a height and top margin so that their plots line up.
SIZES = {"part1": (430, 430, 90, None, 0.0), "part1_curves": (620, 430, 90, 1.12, 0.14),
         "part1_length": (310, 430, 90, 1.12, 0.0),
         "part2": (680, 600, 60, None, 0.0), "part2_query": (680, 600, 60, None, 0.14),
         "part2_curves": (1360, 360, 90, 1.13, 0.09)}


def _trace(name: str) -> go.BaseTraceType:
    t = _make(name)
    t.meta = name  # lets a browser test find a trace by name
    return t


def _make(name: str) -> go.BaseTraceType:
    line = lambda c, **kw: dict(color=c, width=3, **kw)  # noqa: E731
    if name in ("align", "self"):
        return go.Heatmap(name=name, z=[[0.0]], zmin=0, zmax=1, colorscale=SEQUENTIAL, showscale=False,
                          hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>")
    if name == "qkv":
        return go.Heatmap(name=name, z=[[0.0]], colorscale=DIVERGING, zmid=0, showscale=False,
                          hovertemplate="%{x}, token %{y}: %{z:.3f}<extra></extra>")
    if name == "align_true":
        return go.Scatter(name="correct source", mode="markers", x=[], y=[], showlegend=False,
                          marker=dict(symbol="square-open", size=14, color=COLORS["accent"], line=dict(width=2.5)))
    if name in ("align_sel", "self_sel", "qkv_sel"):
        return go.Scatter(name="selected", mode="lines", x=[], y=[], showlegend=False, hoverinfo="skip",
                          line=dict(color=COLORS["rnn"], width=3))
    if name == "query":
        return go.Bar(name="w_ij", x=[], y=[], marker_color=COLORS["lstm"], showlegend=False)
    spec = {
        "loss_att": ("with attention", COLORS["lstm"], {}), "loss_bn": ("no attention", COLORS["rnn"], {}),
        "acc_align": ("alignment accuracy", COLORS["accent"], dict(dash="dot")),
        "acc_att": ("with attention", COLORS["lstm"], {}), "acc_bn": ("no attention (bottleneck)", COLORS["rnn"], {}),
        "len_att": ("with attention", COLORS["lstm"], {}), "len_bn": ("no attention", COLORS["rnn"], {}),
        "len_train": ("longest in training", COLORS["baseline"], dict(dash="dash")),
        "lm_loss": ("transformer", COLORS["gru"], {}), "lm_base": ("letter frequencies only", COLORS["baseline"], dict(dash="dash")),
        "ent_scaled": ("scaled by 1/sqrt(k)", COLORS["lstm"], {}), "ent_unscaled": ("unscaled", COLORS["rnn"], {}),
        "ent_uniform": ("uniform (ln T)", COLORS["baseline"], dict(dash="dash")),
    }
    if name == "ent_model":
        return go.Scatter(name="this head", mode="markers", x=[], y=[],
                          marker=dict(size=14, color=COLORS["gru"], symbol="diamond"))
    label, color, extra = spec[name]
    mode = "lines+markers" if name in ("len_att", "len_bn") else "lines"
    return go.Scatter(name=label, mode=mode, x=[], y=[], line=line(color, **extra),
                      legendgroup=None if name.startswith(("ent", "lm")) else name.split("_")[0],  # a group stacks
                      showlegend=name not in ("len_att", "len_bn", "loss_att", "loss_bn"))


def axes_of(fig: go.Figure, part: str) -> dict:
    """panel -> (xaxis layout key, yaxis layout key), e.g. ("xaxis3", "yaxis3")."""
    out = {}
    for p, (r, c) in PANELS[part].items():
        sp = fig.get_subplot(r, c)
        out[p] = (sp.xaxis.plotly_name, sp.yaxis.plotly_name)
    return out


LAYOUT = {
    "align": dict(x=dict(title="source step j"), y=dict(title="output step i", autorange="reversed")),
    "s2s_loss": dict(x=dict(title="step"), y=dict(type="log", nticks=5)),
    "s2s_acc": dict(x=dict(title="step"), y=dict(range=[0, 1.02])),
    "length": dict(x=dict(title="source length S"), y=dict(range=[0, 1.02], title="greedy accuracy")),
    "self": dict(x=dict(title="key j"), y=dict(title="query i", autorange="reversed")),
    # tick labels are a large share of plotly's redraw time: the heatmap beside these carries the tokens
    "query": dict(x=dict(title="key j", showticklabels=False), y=dict(range=[0, 1.02], title="w_ij")),
    "qkv": dict(x=dict(), y=dict(autorange="reversed", showticklabels=False, title="token (row = query i)")),
    "lm_loss": dict(x=dict(title="step"), y=dict(title="nats")),
    "entropy": dict(x=dict(title="key dimension k", type="log", dtick=1), y=dict(title="entropy (nats)")),
}


def skeleton(part: str) -> go.Figure:
    """All traces of ``part`` present (empty) in their panels, themed; fill it with ``apply``.
    (Traces added in one call and the layout set in one update: 10% less kernel time at start.)"""
    width, height, top, legend_y, spacing = SIZES[part]
    names = [(n, PANELS[part][p]) for n, p in TRACES if PART_OF[p] == part]
    fig = make_subplots(rows=1, cols=len(PANELS[part]), subplot_titles=TITLES[part], horizontal_spacing=spacing or None)
    fig.add_traces([_trace(n) for n, _ in names], rows=[rc[0] for _, rc in names], cols=[rc[1] for _, rc in names])
    ax = axes_of(fig, part)
    axes = {}
    for p in PANELS[part]:
        axes[ax[p][0]], axes[ax[p][1]] = LAYOUT[p]["x"], LAYOUT[p]["y"]
    legend = dict(showlegend=False) if legend_y is None else _legends(fig, part, legend_y, ax)
    apply_theme(fig, height=height, width=width, margin=dict(l=70, r=30, t=top, b=50), **legend, **axes)
    fig.update_annotations(font_size=15)
    return fig


def _legends(fig: go.Figure, part: str, y: float, ax: dict) -> dict:
    """One horizontal legend above the figure; or, when more than one panel has lines to name
    (entropy beside the transformer's loss), one above each such panel, starting at its left edge."""
    panels = [p for n, p in TRACES if PART_OF[p] == part]
    named: dict[str, list] = {}
    for t, panel in zip(fig.data, panels):
        if t.type == "scatter" and t.showlegend is not False:
            named.setdefault(panel, []).append(t)
    style = dict(orientation="h", yanchor="bottom", y=y, xanchor="left", font=dict(size=13))
    if len(named) < 2:
        return dict(legend=dict(style, x=0))
    out = {}
    for k, (panel, traces) in enumerate(named.items()):
        key = "legend" if k == 0 else f"legend{k + 1}"
        for t in traces:
            t.legend = key
        out[key] = dict(style, x=fig.layout[ax[panel][0]].domain[0])
    return out


def apply(fig, traces: dict | None = None, axes: dict | None = None, ax: dict | None = None) -> None:
    """Write ``{trace: props}`` and ``{panel: {"x": props, "y": props}}`` into ``fig`` (all
    names must belong to the figure's part). Call it inside the caller's lock / batch_update."""
    for name, props in (traces or {}).items():
        fig.data[INDEX[name]].update(props)
    for p, d in (axes or {}).items():
        if "x" in d:
            fig.layout[ax[p][0]].update(d["x"])
        if "y" in d:
            fig.layout[ax[p][1]].update(d["y"])


# the order in which ``split`` hands out a message's parts: the small panes first (the chosen
# query's pane above all: its redraw is what a press on the query slider waits for), heatmaps last
ORDER = ("part2_query", "part1_curves", "part2_curves", "part1_length", "part1", "part2")


def split(*updates) -> dict:
    """Merge ``(traces, axes)`` updates and group them by part: part -> (traces, axes), in ``ORDER``."""
    out = {part: ({}, {}) for part in ORDER}
    for traces, axes in updates:
        for name, props in (traces or {}).items():
            out[TRACE_PART[name]][0].setdefault(name, {}).update(props)
        for panel, d in (axes or {}).items():
            out[PART_OF[panel]][1].setdefault(panel, {}).update(d)
    return {part: u for part, u in out.items() if u[0] or u[1]}


def build_figure(part: str, *updates) -> go.Figure:
    """Skeleton of ``part`` plus any number of ``(traces, axes)`` updates: a complete figure."""
    fig = skeleton(part)
    u = split(*updates).get(part)
    if u:
        apply(fig, *u, axes_of(fig, part))
    return fig


# -- panels ------------------------------------------------------------------------
def _ticks(labels) -> dict:
    return dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=[_show(c) for c in labels])


def _show(ch: str) -> str:
    return html.escape({" ": "\u2423", "\n": "\u21b5"}.get(ch, ch))  # visible space and newline


def _box(i: int, j0: float, j1: float) -> dict:
    """A rectangle around row i from column j0 to j1 (inclusive cells)."""
    return dict(x=[j0 - 0.5, j1 + 0.5, j1 + 0.5, j0 - 0.5, j0 - 0.5], y=[i - 0.5, i - 0.5, i + 0.5, i + 0.5, i - 0.5])


def alignment_panel(weights, src: str, out_labels: list[str], correct, sel: tuple[int, int]):
    """weights (T, S); correct (T, S) bool; sel = (i, j) the selected cell."""
    w = np.asarray(weights, dtype=float)
    ii, jj = np.nonzero(np.asarray(correct))
    i, j = sel
    tr = {"align": dict(z=w.tolist(), x=list(range(w.shape[1])), y=list(range(w.shape[0]))),
          "align_true": dict(x=jj.tolist(), y=ii.tolist()), "align_sel": _box(i, j, j)}
    return tr, {"align": dict(x=_ticks(list(src)), y=_ticks(out_labels))}


def s2s_curves(hist: dict, max_points: int = 400):
    """hist: name ("attention"/"bottleneck") -> Curve; loss and accuracy lines."""
    tr = {}
    for key, name in (("att", "attention"), ("bn", "bottleneck")):
        c = hist.get(name)
        if c is None or not c.step:
            tr[f"loss_{key}"] = tr[f"acc_{key}"] = dict(x=[], y=[])
            continue
        x, y = downsample(c.step, c.loss, max_points)
        tr[f"loss_{key}"] = dict(x=x, y=y)
        tr[f"acc_{key}"] = dict(zip(("x", "y"), downsample(c.step, c.metrics["accuracy"], max_points)))
        if key == "att":
            tr["acc_align"] = dict(zip(("x", "y"), downsample(c.step, c.metrics["alignment"], max_points)))
    tr.setdefault("acc_align", dict(x=[], y=[]))
    return tr, {}


def length_panel(lengths, acc: dict, train_max: int):
    """acc: "attention"/"bottleneck" -> accuracy per length."""
    lengths = list(map(int, lengths))
    return ({"len_att": dict(x=lengths, y=list(acc.get("attention", []))),
             "len_bn": dict(x=lengths, y=list(acc.get("bottleneck", []))),
             "len_train": dict(x=[train_max + 0.5, train_max + 0.5], y=[0, 1])}, {})


def self_attention_panel(weights, tokens: str, sel: tuple[int, int]):
    """weights (T, T) of one head; tokens the T characters; sel = (query i, key j)."""
    w = np.asarray(weights, dtype=float)
    T = w.shape[0]
    tr = {"self": dict(z=w.tolist(), x=list(range(T)), y=list(range(T)))}
    tr.update(query_panel(w, tokens, sel)[0])
    t = _ticks(list(tokens))
    return tr, {"self": dict(x=t, y=t)}


def query_panel(weights, tokens: str, sel: tuple[int, int], d_k: int | None = None):
    """What changes with the selected cell alone: the query's weights (row i of ``weights``, key j
    highlighted), the box around cell (i, j) and, given the head's key dimension ``d_k``, the box
    around row i of the q/k/v view."""
    w = np.asarray(weights, dtype=float)
    T = w.shape[0]
    i, j = sel
    tr = {"self_sel": _box(i, j, j),
          "query": dict(x=list(range(T)), y=w[i].tolist(), customdata=[_show(c) for c in tokens],
                        hovertemplate="key %{x} '%{customdata}': %{y:.3f}<extra></extra>",
                        marker_color=[COLORS["rnn"] if k == j else COLORS["lstm"] for k in range(T)])}
    if d_k is not None:
        tr["qkv_sel"] = _box(i, 0, 3 * d_k + 1)
    return tr, {}


def qkv_panel(q, k, v, tokens: str, i: int):
    """q, k, v (T, d_k) of one head: one heatmap [q | k | v] with a blank column between."""
    q, k, v = (np.asarray(a, dtype=float) for a in (q, k, v))
    T, d = q.shape
    gap = np.full((T, 1), np.nan)
    z = np.concatenate([q, gap, k, gap, v], axis=1)
    cols = [f"q{n + 1}" for n in range(d)] + [" "] + [f"k{n + 1}" for n in range(d)] + ["  "] + [f"v{n + 1}" for n in range(d)]
    zmax = float(np.nanmax(np.abs(z))) or 1.0
    z = np.where(np.isnan(z), None, z).tolist()
    ticks = dict(tickmode="array", tickvals=[(d - 1) / 2, d + 1 + (d - 1) / 2, 2 * d + 2 + (d - 1) / 2],
                 ticktext=["q", "k", "v"])
    tr = {"qkv": dict(z=z, x=list(range(len(cols))), y=list(range(T)), zmin=-zmax, zmax=zmax,
                      customdata=[cols] * T, hovertemplate="%{customdata}, token %{y}: %{z:.3f}<extra></extra>"),
          "qkv_sel": _box(i, 0, len(cols) - 1)}  # query_panel moves it alone
    return tr, {"qkv": dict(x=ticks)}


def lm_curve(curve, baseline: float, max_points: int = 400):
    if curve is None or not curve.step:  # before training: the line to beat, over a first 100 steps
        return {"lm_loss": dict(x=[], y=[]), "lm_base": dict(x=[0, 100], y=[baseline, baseline])}, {}
    x, y = downsample(curve.step, curve.loss, max_points)
    return {"lm_loss": dict(x=x, y=y), "lm_base": dict(x=[x[0], x[-1]], y=[baseline, baseline])}, {}


def entropy_panel(dims, scaled, unscaled, T: int, model_k: int | None = None, model_entropy: float | None = None):
    dims = list(map(int, dims))
    tr = {"ent_scaled": dict(x=dims, y=list(map(float, scaled))),
          "ent_unscaled": dict(x=dims, y=list(map(float, unscaled))),
          "ent_uniform": dict(x=[dims[0], dims[-1]], y=[math.log(T)] * 2),
          "ent_model": dict(x=[] if model_k is None else [model_k],
                            y=[] if model_entropy is None else [float(model_entropy)])}
    return tr, {}
