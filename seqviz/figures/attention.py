"""The attention dashboard's figures, one per plot pane, in the patch protocol
(``seqviz.figures.patch``): ``skeleton(part)`` builds a pane's figure once, every trace tagged
with a ``meta`` name; the ``*_patch`` functions are pure (numbers in, patch out) and each
one feeds exactly one pane, named in ``PANE`` (the dashboard applies it there).

Panes (``PANELS``): part 1's alignment matrix, its curves (loss, accuracy), accuracy by
source length; part 2's self-attention matrix, the chosen query (its weights and q/k/v)
and the transformer's curves (loss, entropy).

Why six small figures and not one or two: plotly.js answers any change to a figure (a
trace's data, even a moved selection box) by redrawing every subplot of it. Measured in
headless Chromium on the shared 2-core machine: one 9-panel figure took a median 216 ms
per update and froze the page while part 1 trained; two figures (4 and 5 panels) 41 and
20 ms alone but 65-110 ms in the page for part 2's; a pane of one or two subplots about
15 ms. So what the "Query token i" slider changes (the query's weights, its q/k/v row)
has a pane of its own, and the heatmaps, which redraw slowest, are apart from the curves
that refresh often while training.

Curves are running means over ``WINDOW`` batches (the per-batch values faint behind them),
and say so on their x axis.
"""

from __future__ import annotations

import copy
import functools
import html  # plotly reads tick text as a little HTML: escape < > &

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import build, patch
from seqviz.figures.theme import COLORS, DIVERGING, SEQUENTIAL, apply_theme, downsample

WINDOW = 20  # batches in every running mean of the curves (and of the progress line)

# part (one figure, one plot pane) -> panel -> column (every figure is one row of subplots)
PANELS = {"part1": {"align": 1},
          "part1_curves": {"s2s_loss": 1, "s2s_acc": 2},
          "part1_length": {"length": 1},
          "part2": {"self": 1},
          "part2_query": {"query": 1, "qkv": 2},
          "part2_curves": {"lm_loss": 1, "entropy": 2}}
PART_OF = {panel: part for part, ps in PANELS.items() for panel in ps}  # panel -> part
# panel -> (x axis layout key, y axis layout key)
AXES = {p: (f"xaxis{'' if c == 1 else c}", f"yaxis{'' if c == 1 else c}") for ps in PANELS.values()
        for p, c in ps.items()}
TRACES = [  # (name, panel); within a part, this order is the order of fig.data (raw lines first: behind)
    ("align", "align"), ("align_true", "align"), ("align_sel", "align"),
    ("loss_att_raw", "s2s_loss"), ("loss_bn_raw", "s2s_loss"), ("loss_chance", "s2s_loss"),
    ("loss_att", "s2s_loss"), ("loss_bn", "s2s_loss"),
    ("acc_align_raw", "s2s_acc"), ("acc_att_raw", "s2s_acc"), ("acc_bn_raw", "s2s_acc"), ("acc_chance", "s2s_acc"),
    ("acc_align", "s2s_acc"), ("acc_att", "s2s_acc"), ("acc_bn", "s2s_acc"),
    ("len_att", "length"), ("len_bn", "length"), ("len_train", "length"),
    ("self", "self"), ("self_sel", "self"),
    ("query", "query"),
    ("qkv", "qkv"), ("qkv_sel", "qkv"),
    ("lm_loss_raw", "lm_loss"), ("lm_base", "lm_loss"), ("lm_loss", "lm_loss"),
    ("ent_scaled", "entropy"), ("ent_unscaled", "entropy"), ("ent_max", "entropy"), ("ent_model", "entropy"),
]
TRACE_PART = {name: PART_OF[panel] for name, panel in TRACES}  # trace -> part (pane)
TITLES = {"part1": ("Attention alpha_ij (dark 0, yellow 1)",),
          "part1_curves": ("Loss (cross-entropy)", "Accuracy while training"),
          "part1_length": ("Accuracy by source length",),
          "part2": ("Self-attention w_ij of one head (dark 0, yellow 1)",),
          "part2_query": ("Weights of the chosen query", "q, k, v of every token (this head)"),
          "part2_curves": ("Transformer loss (nats per character)", "Entropy of a softmax row as k grows")}
# part -> figure width, height, top margin, legend y (None: no legend), horizontal spacing. The panes of
# one row of the page share a height and top margin so that their plots line up.
SIZES = {"part1": (420, 450, 110, None, 0.0), "part1_curves": (640, 450, 110, 1.1, 0.14),
         "part1_length": (310, 450, 110, 1.1, 0.0),
         "part2": (680, 600, 60, None, 0.0), "part2_query": (680, 600, 60, None, 0.14),
         "part2_curves": (1360, 380, 110, 1.1, 0.09)}
CURVE_X = f"step (lines: mean of the last {WINDOW} batches; faint: each batch)"
CURVE_NOTE = f"lines: mean of the last {WINDOW} batches; faint: each batch"
# which pane each builder's patch is for
PANE = {"alignment_patch": "part1", "s2s_curves_patch": "part1_curves", "length_patch": "part1_length",
        "self_attention_patch": "part2", "selection_box_patch": "part2", "query_patch": "part2_query",
        "qkv_patch": "part2_query", "lm_curve_patch": "part2_curves", "entropy_patch": "part2_curves"}


def _trace(name: str) -> go.BaseTraceType:
    t = _make(name)
    t.meta = name  # apply() and browser tests find a trace by name
    return t


def _faint(color: str) -> dict:
    return dict(color=color, width=1)


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
    if name == "ent_model":
        return go.Scatter(name="this head", mode="markers", x=[], y=[],
                          marker=dict(size=14, color=COLORS["gru"], symbol="diamond"))
    colors = {"att": COLORS["lstm"], "bn": COLORS["rnn"], "align": COLORS["accent"], "lm": COLORS["gru"]}
    if name.endswith("_raw"):  # every batch, faint behind its running mean
        key = name.split("_")[1] if not name.startswith("lm") else "lm"
        return go.Scatter(name=name, mode="lines", x=[], y=[], line=_faint(colors[key]), opacity=0.3,
                          showlegend=False, hoverinfo="skip")
    spec = {  # name: (legend label, colour, dash, shown in the legend)
        "loss_att": ("with attention", COLORS["lstm"], None, False),
        "loss_bn": ("no attention", COLORS["rnn"], None, False),
        "loss_chance": ("guessing from letter frequencies", COLORS["baseline"], "dash", False),
        "acc_align": ("alignment accuracy", COLORS["accent"], "dot", True),
        "acc_att": ("with attention", COLORS["lstm"], None, True),
        "acc_bn": ("no attention (bottleneck)", COLORS["rnn"], None, True),
        "acc_chance": ("guessing from letter frequencies", COLORS["baseline"], "dash", True),
        "len_att": ("with attention", COLORS["lstm"], None, False),
        "len_bn": ("no attention", COLORS["rnn"], None, False),
        "len_train": ("longest in training", COLORS["baseline"], "dash", True),
        "lm_loss": ("transformer", COLORS["gru"], None, True),
        "lm_base": ("letter frequencies only", COLORS["baseline"], "dash", True),
        "ent_scaled": ("random scores, scaled by 1/sqrt(k)", COLORS["lstm"], None, True),
        "ent_unscaled": ("random scores, unscaled", COLORS["rnn"], None, True),
        "ent_max": ("maximum: mean of ln(keys per row)", COLORS["baseline"], "dash", True),
    }
    label, color, dash, shown = spec[name]
    mode = "lines+markers" if name in ("len_att", "len_bn") else "lines"
    return go.Scatter(name=label, mode=mode, x=[], y=[], line=line(color, **({"dash": dash} if dash else {})),
                      showlegend=shown)


LAYOUT = {
    "align": dict(x=dict(title="source step j"), y=dict(title="output step i", autorange="reversed")),
    "s2s_loss": dict(x=dict(title="step"), y=dict(type="log", dtick=1)),  # 0.1, 1: no unlabelled 2s and 5s
    "s2s_acc": dict(x=dict(title="step"), y=dict(range=[0, 1.02])),
    "length": dict(x=dict(title="source length S"), y=dict(range=[0, 1.02], title="greedy accuracy")),
    "self": dict(x=dict(title="key j"), y=dict(title="query i", autorange="reversed")),
    # tick labels are a large share of plotly's redraw time: the heatmap beside these carries the tokens
    "query": dict(x=dict(title="key j", showticklabels=False), y=dict(range=[0, 1.02], title="w_ij")),
    "qkv": dict(x=dict(), y=dict(autorange="reversed", showticklabels=False, title="token (row = query i)")),
    "lm_loss": dict(x=dict(title=dict(text=CURVE_X, font_size=13)), y=dict(title="nats")),
    "entropy": dict(x=dict(title="key dimension k", type="log", dtick=1), y=dict(title="entropy (nats)")),
}


def skeleton(part: str) -> go.Figure:
    """All traces of ``part`` present (empty) in their panels, themed; fill it with patches.
    (Built and validated once per process; later calls copy it without plotly's validation,
    30-300 ms less per pane when a dashboard opens.)"""
    return go.Figure(copy.deepcopy(_skeleton_json(part)), _validate=False)


@functools.lru_cache(maxsize=None)
def _skeleton_json(part: str) -> dict:
    return _build_skeleton(part).to_plotly_json()


def _build_skeleton(part: str) -> go.Figure:
    width, height, top, legend_y, spacing = SIZES[part]
    names = [(n, PANELS[part][p]) for n, p in TRACES if PART_OF[p] == part]
    fig = make_subplots(rows=1, cols=len(PANELS[part]), subplot_titles=TITLES[part], horizontal_spacing=spacing or None)
    fig.add_traces([_trace(n) for n, _ in names], rows=[1] * len(names), cols=[c for _, c in names])
    axes = {}
    for p in PANELS[part]:
        axes[AXES[p][0]], axes[AXES[p][1]] = LAYOUT[p]["x"], LAYOUT[p]["y"]
    legend = dict(showlegend=False) if legend_y is None else _legends(fig, part, legend_y)
    apply_theme(fig, height=height, width=width, margin=dict(l=70, r=30, t=top, b=60 + 25 * (part == "part1_curves")),
                **legend, **axes)
    fig.update_annotations(font_size=15)
    if part == "part1_curves":  # the window, said once under both panels (an axis title would be cut off)
        fig.add_annotation(text=CURVE_NOTE, xref="paper", yref="paper", x=0.5, y=-0.27, showarrow=False,
                           font=dict(size=13))
    return fig


def _legends(fig: go.Figure, part: str, y: float) -> dict:
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
        out[key] = dict(style, x=fig.layout[AXES[panel][0]].domain[0])
    return out


def figure(part: str, *patches: dict) -> go.Figure:
    """Skeleton of ``part`` with ``patches`` applied: a complete figure (tests, the docs)."""
    return build(skeleton(part), *patches)


# -- helpers ---------------------------------------------------------------------------
def _ticks(labels) -> dict:
    return dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=[_show(c) for c in labels])


def _show(ch: str) -> str:
    return html.escape({" ": "\u2423", "\n": "\u21b5"}.get(ch, ch))  # visible space and newline


def _box(i: int, j0: float, j1: float) -> dict:
    """A rectangle around row i from column j0 to j1 (inclusive cells)."""
    return dict(x=[j0 - 0.5, j1 + 0.5, j1 + 0.5, j0 - 0.5, j0 - 0.5], y=[i - 0.5, i - 0.5, i + 0.5, i + 0.5, i - 0.5])


def _curve(h, name: str, window: int, max_points: int) -> tuple[dict, dict]:
    """(running mean, raw) x/y of column ``name`` of History ``h`` (empty when it has none yet)."""
    if h is None or not len(h) or name not in ("loss", *h.metrics):
        return dict(x=[], y=[]), dict(x=[], y=[])
    step = h.step
    raw = h.column(name)
    mean = h.running_mean(name, window)
    return (dict(zip(("x", "y"), downsample(step, mean, max_points))),
            dict(zip(("x", "y"), downsample(step, raw, max_points))))


def _marker(step: int | None, axes: list[str]) -> list[dict]:
    """A vertical line at ``step`` in each panel (x axis keys): where the timeline stands."""
    if step is None:
        return []
    out = []
    for ax in axes:
        n = ax[5:]
        out.append(dict(type="line", name="timeline", x0=step, x1=step, xref=f"x{n}", y0=0, y1=1,
                        yref=f"y{n} domain", line=dict(color=COLORS["black"], width=2, dash="dot")))
    return out


# -- part 1 ----------------------------------------------------------------------------
def alignment_patch(weights, src: str, out_labels: list[str], correct, sel: tuple[int, int]) -> dict:
    """Pane part1. weights (T, S); correct (T, S) bool; sel = (i, j) the selected cell."""
    w = np.asarray(weights, dtype=float)
    ii, jj = np.nonzero(np.asarray(correct))
    i, j = sel
    x, y = AXES["align"]
    return patch({"align": dict(z=w.tolist(), x=list(range(w.shape[1])), y=list(range(w.shape[0]))),
                  "align_true": dict(x=jj.tolist(), y=ii.tolist()), "align_sel": _box(i, j, j)},
                 {x: _ticks(list(src)), y: _ticks(out_labels)})


def s2s_curves_patch(hist: dict, chance: tuple[float, float] | None = None, at: int | None = None,
                     window: int = WINDOW, max_points: int = 400) -> dict:
    """Pane part1_curves. hist: "attention"/"bottleneck" -> History; running means over ``window``
    batches and every batch faint; ``chance`` = (loss, accuracy) of guessing from letter
    frequencies; ``at``: the timeline's step (a vertical line), None at the live end."""
    tr = {}
    for key, name in (("att", "attention"), ("bn", "bottleneck")):
        h = hist.get(name)
        tr[f"loss_{key}"], tr[f"loss_{key}_raw"] = _curve(h, "loss", window, max_points)
        tr[f"acc_{key}"], tr[f"acc_{key}_raw"] = _curve(h, "accuracy", window, max_points)
    tr["acc_align"], tr["acc_align_raw"] = _curve(hist.get("attention"), "alignment", window, max_points)
    steps = [float(h.step[-1]) for h in hist.values() if h is not None and len(h)]
    x1 = max(steps + [100.0])
    if chance is not None:
        tr["loss_chance"] = dict(x=[0, x1], y=[chance[0]] * 2)
        tr["acc_chance"] = dict(x=[0, x1], y=[chance[1]] * 2)
    return patch(tr, {"shapes": _marker(at, [AXES["s2s_loss"][0], AXES["s2s_acc"][0]])})


def length_patch(lengths, acc: dict, train_max: int) -> dict:
    """Pane part1_length. acc: "attention"/"bottleneck" -> greedy accuracy per length."""
    lengths = list(map(int, lengths))
    return patch({"len_att": dict(x=lengths, y=list(acc.get("attention", []))),
                  "len_bn": dict(x=lengths, y=list(acc.get("bottleneck", []))),
                  "len_train": dict(x=[train_max + 0.5, train_max + 0.5], y=[0, 1])})


# -- part 2 ----------------------------------------------------------------------------
def self_attention_patch(weights, tokens: str, sel: tuple[int, int]) -> dict:
    """Pane part2. weights (T, T) of one head; tokens the T characters; sel = (query i, key j)."""
    w = np.asarray(weights, dtype=float)
    T = w.shape[0]
    t = _ticks(list(tokens))
    x, y = AXES["self"]
    traces = {"self": dict(z=w.tolist(), x=list(range(T)), y=list(range(T))), **selection_box_patch(*sel)["traces"]}
    return patch(traces, {x: t, y: t})


def selection_box_patch(i: int, j: int) -> dict:
    """Pane part2: the box around cell (i, j) of the self-attention matrix."""
    return patch({"self_sel": _box(i, j, j)})


def query_patch(weights, tokens: str, sel: tuple[int, int], d_k: int) -> dict:
    """Pane part2_query, what changes with the selected cell alone: the query's weights (row i of
    ``weights``, key j highlighted) and the box around row i of the q/k/v view (key dimension ``d_k``)."""
    w = np.asarray(weights, dtype=float)
    T = w.shape[0]
    i, j = sel
    return patch({"query": dict(x=list(range(T)), y=w[i].tolist(), customdata=[_show(c) for c in tokens],
                                hovertemplate="key %{x} '%{customdata}': %{y:.3f}<extra></extra>",
                                marker_color=[COLORS["rnn"] if k == j else COLORS["lstm"] for k in range(T)]),
                  "qkv_sel": _box(i, 0, 3 * d_k + 1)})


def qkv_patch(q, k, v, tokens: str, i: int) -> dict:
    """Pane part2_query. q, k, v (T, d_k) of one head: one heatmap [q | k | v] with a blank column between."""
    q, k, v = (np.asarray(a, dtype=float) for a in (q, k, v))
    T, d = q.shape
    gap = np.full((T, 1), np.nan)
    z = np.concatenate([q, gap, k, gap, v], axis=1)
    cols = [f"q{n + 1}" for n in range(d)] + [" "] + [f"k{n + 1}" for n in range(d)] + ["  "] + [f"v{n + 1}" for n in range(d)]
    zmax = float(np.nanmax(np.abs(z))) or 1.0
    z = np.where(np.isnan(z), None, z).tolist()
    ticks = dict(tickmode="array", tickvals=[(d - 1) / 2, d + 1 + (d - 1) / 2, 2 * d + 2 + (d - 1) / 2],
                 ticktext=["q", "k", "v"])
    return patch({"qkv": dict(z=z, x=list(range(len(cols))), y=list(range(T)), zmin=-zmax, zmax=zmax,
                              customdata=[cols] * T, hovertemplate="%{customdata}, token %{y}: %{z:.3f}<extra></extra>"),
                  "qkv_sel": _box(i, 0, len(cols) - 1)},
                 {AXES["qkv"][0]: ticks})


def lm_curve_patch(h, baseline: float, at: int | None = None, window: int = WINDOW, max_points: int = 400) -> dict:
    """Pane part2_curves: the transformer's loss (running mean over ``window`` batches, each batch
    faint) and ``baseline``, the loss of knowing only the letter frequencies; ``at``: the timeline's step."""
    mean, raw = _curve(h, "loss", window, max_points)
    x1 = float(h.step[-1]) if h is not None and len(h) else 100.0  # before training: the line to beat
    return patch({"lm_loss": mean, "lm_loss_raw": raw, "lm_base": dict(x=[0, x1], y=[baseline, baseline])},
                 {"shapes": _marker(at, [AXES["lm_loss"][0]])})


def entropy_patch(dims, scaled, unscaled, maximum: float, rows: str, model_k: int | None = None,
                  model_entropy: float | None = None) -> dict:
    """Pane part2_curves: mean row entropy of random scores (scaled, unscaled) per key dimension,
    over the same rows and key counts as the head (``rows`` says which, e.g. "30 rows, causal"), the
    maximum for those rows, and the head's own mean row entropy (the diamond)."""
    dims = list(map(int, dims))
    return patch({"ent_scaled": dict(x=dims, y=list(map(float, scaled))),
                  "ent_unscaled": dict(x=dims, y=list(map(float, unscaled))),
                  "ent_max": dict(x=[dims[0], dims[-1]], y=[float(maximum)] * 2),
                  "ent_model": dict(x=[] if model_k is None else [model_k],
                                    y=[] if model_entropy is None else [float(model_entropy)])},
                 {AXES["entropy"][0]: dict(title=dict(text=f"key dimension k (rows as this head sees them: {rows})",
                                                      font_size=13))})
