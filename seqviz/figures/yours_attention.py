"""Figures of the attention view on a student's own model (``widgets.attention.yours``), in the
patch protocol (``seqviz.figures.patch``): ``skeleton(pane)`` once, then pure ``*_patch``
builders, each feeding the one pane named in ``PANE``.

Panes: ``heat`` (one head's weights, tokens on the axes, a box around the chosen query's row),
``row`` (that row as bars, the uniform weight 1/T_k dashed, its entropy against ln T_k in the
title), ``heads`` (every head of the chosen attention module side by side, at most ``MAX_HEADS``)
and ``loss`` (the training loss: a running mean over ``WINDOW`` batches, each batch faint).
Colour scales run from 0 to the largest weight shown, rounded up to a tenth (``colour_top``), with
a colour bar: an untrained head is nearly uniform, and on a fixed 0-1 scale it would be one dark
block. Four small figures, not one: plotly.js redraws every subplot of a figure on any change, so the
query's row (what a slider moves) redraws alone.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import build, patch
from seqviz.figures.theme import COLORS, SEQUENTIAL, apply_theme, downsample

WINDOW = 20  # batches in the loss curve's running mean (said on its axis)
MAX_HEADS = 8  # heads drawn side by side in the small multiples
HEAD_GAP = 0.02  # horizontal spacing between the small multiples (share of the figure's width)
MAX_TICKS = 48  # more positions than this: numbered axes, the tokens in the hover text
PANES = ("heat", "row", "heads", "loss")
NO_STEPS = dict(text="No training steps yet: press Train or One step.", x=0.5, y=0.5, xref="paper", yref="paper",
                showarrow=False, font=dict(size=15))
PANE = {"heat_patch": "heat", "row_patch": "row", "heads_patch": "heads", "loss_patch": "loss"}


def _heatmap(name: str, **kw) -> go.Heatmap:
    kw = {"showscale": False, **kw}
    return go.Heatmap(name=name, meta=name, z=[[0.0]], zmin=0, zmax=1, colorscale=SEQUENTIAL,
                      hovertemplate="query %{y}, key %{x}: %{z:.3f}<extra></extra>", **kw)


def skeleton(pane: str, n_heads: int = 1) -> go.Figure:
    """The empty figure of ``pane`` (``n_heads``: the most heads any attention module has, for ``heads``)."""
    if pane == "heat":
        fig = go.Figure([_heatmap("heat", showscale=True, colorbar=dict(thickness=14, len=0.8, title="weight")),
                         go.Scatter(name="chosen query", meta="heat_sel", mode="lines", x=[], y=[], hoverinfo="skip",
                                    line=dict(color=COLORS["rnn"], width=3), showlegend=False)])
        return apply_theme(fig, width=560, height=560, margin=dict(l=90, r=20, t=70, b=80), showlegend=False,
                           title=dict(text="Attention weights", font_size=16),
                           xaxis=dict(title="key j"), yaxis=dict(title="query i", autorange="reversed"))
    if pane == "row":
        fig = go.Figure([go.Bar(name="weight", meta="row", x=[], y=[], marker_color=COLORS["lstm"]),
                         go.Scatter(name="uniform 1/T_k", meta="row_uniform", mode="lines", x=[], y=[],
                                    line=dict(color=COLORS["baseline"], dash="dash", width=2))])
        return apply_theme(fig, width=560, height=560, margin=dict(l=70, r=20, t=110, b=80),
                           title=dict(text="The chosen query's row", font_size=15),
                           legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, font_size=13),
                           xaxis=dict(title="key j"), yaxis=dict(title="weight", range=[0, 1.02]))
    if pane == "heads":
        n = max(1, min(int(n_heads), MAX_HEADS))
        fig = make_subplots(rows=1, cols=n, subplot_titles=[f"head {h}" for h in range(n)],
                            horizontal_spacing=HEAD_GAP if n > 1 else None)
        for h in range(n):
            fig.add_trace(_heatmap(f"head_{h}"), row=1, col=h + 1)
        axes = {}
        for h in range(n):
            s = "" if h == 0 else str(h + 1)
            axes[f"xaxis{s}"] = dict(showticklabels=False, constrain="domain")
            axes[f"yaxis{s}"] = dict(showticklabels=False, autorange="reversed", scaleanchor=f"x{s}")
        apply_theme(fig, width=1120, height=max(200, 1120 // n + 40), margin=dict(l=20, r=20, t=50, b=20),
                    showlegend=False, **axes)
        fig.update_annotations(font_size=14)
        return fig
    if pane == "loss":
        fig = go.Figure([go.Scatter(name="each batch", meta="loss_raw", mode="lines", x=[], y=[], opacity=0.3,
                                    line=dict(color=COLORS["gru"], width=1), hoverinfo="skip"),
                         go.Scatter(name=f"mean of the last {WINDOW} batches", meta="loss", mode="lines", x=[], y=[],
                                    line=dict(color=COLORS["gru"], width=3))])
        return apply_theme(fig, width=560, height=340, margin=dict(l=70, r=20, t=60, b=60),
                           xaxis=dict(title=f"step (line: mean of the last {WINDOW} batches)"),
                           yaxis=dict(title="loss"), annotations=[NO_STEPS])
    raise KeyError(pane)


def figure(pane: str, *patches: dict, n_heads: int = 1) -> go.Figure:
    """Skeleton of ``pane`` with ``patches`` applied (tests, docs)."""
    return build(skeleton(pane, n_heads), *patches)


def colour_top(w) -> float:
    """The top of the colour scale: the largest weight shown, rounded up to a tenth (so an untrained,
    nearly uniform head is not one dark block; the colour bar says the scale)."""
    top = float(np.nanmax(w)) if np.size(w) and np.isfinite(w).any() else 1.0
    return min(1.0, max(0.1, np.ceil(top * 10 - 1e-9) / 10))


def _show(label: str) -> str:
    return html.escape({" ": "\u2423", "\n": "\u21b5", "": "\u2205"}.get(label, label))[:12]


def _ticks(labels: list[str] | None, n: int) -> dict:
    if labels is None or n > MAX_TICKS:
        return dict(tickmode="auto", tickvals=None, ticktext=None)
    return dict(tickmode="array", tickvals=list(range(n)), ticktext=[_show(t) for t in labels])


def _box(i: int, n_keys: int) -> dict:
    """A rectangle around row ``i`` (all ``n_keys`` columns)."""
    x0, x1 = -0.5, n_keys - 0.5
    return dict(x=[x0, x1, x1, x0, x0], y=[i - 0.5, i - 0.5, i + 0.5, i + 0.5, i - 0.5])


def _hover(q_labels, k_labels, T_q: int, T_k: int) -> list[list[str]]:
    q = q_labels or [str(i) for i in range(T_q)]
    k = k_labels or [str(j) for j in range(T_k)]
    return [[f"{_show(q[i])} \u2192 {_show(k[j])}" for j in range(T_k)] for i in range(T_q)]


def heat_patch(weights, q_labels: list[str] | None, k_labels: list[str] | None, query: int, title: str) -> dict:
    """Pane heat. ``weights`` (T_q, T_k) of one head; labels of the queries and keys (None: numbered);
    ``query`` the chosen row (boxed); ``title`` says which module, head and sequence."""
    w = np.asarray(weights, dtype=float)
    T_q, T_k = w.shape
    return patch({"heat": dict(z=w.tolist(), x=list(range(T_k)), y=list(range(T_q)), zmin=0, zmax=colour_top(w),
                               customdata=_hover(q_labels, k_labels, T_q, T_k),
                               hovertemplate="%{customdata}: %{z:.3f}<extra></extra>"),
                  "heat_sel": _box(query, T_k)},
                 {"xaxis": _ticks(k_labels, T_k), "yaxis": _ticks(q_labels, T_q),
                  "title": dict(text=html.escape(title))})


def row_patch(row, k_labels: list[str] | None, query: int, q_label: str | None, entropy: float,
              max_entropy: float, n_seen: int) -> dict:
    """Pane row. ``row`` (T_k,) the chosen query's weights; ``entropy`` its entropy in nats,
    ``max_entropy`` = ln T_k (a uniform row), ``n_seen`` keys with a weight above 0 (fewer under a mask)."""
    r = np.asarray(row, dtype=float)
    T_k = r.shape[0]
    labels = k_labels or [str(j) for j in range(T_k)]
    who = f"query {query}" + (f" '{_show(q_label)}'" if q_label is not None else "")
    title = (f"Row of {who}: entropy {entropy:.3f} nats<br>uniform over all {T_k} keys: ln {T_k} = "
             f"{max_entropy:.3f} nats")
    if n_seen < T_k:
        title += f"; over the {n_seen} keys it weighs: ln {n_seen} = {np.log(max(n_seen, 1)):.3f}"
    return patch({"row": dict(x=list(range(T_k)), y=r.tolist(), customdata=[_show(t) for t in labels],
                              hovertemplate="key %{x} '%{customdata}': %{y:.3f}<extra></extra>"),
                  "row_uniform": dict(x=[-0.5, T_k - 0.5], y=[1.0 / T_k] * 2)},
                 {"xaxis": _ticks(k_labels, T_k), "title": dict(text=title),
                  "yaxis": dict(range=[0, min(1.0, colour_top(np.append(r, 1.0 / T_k)) + 0.02)])})


def heads_patch(weights, chosen: int, n_panels: int, name: str) -> dict:
    """Pane heads. ``weights`` (heads, T_q, T_k) of one module and sequence; ``n_panels`` the panels
    the skeleton has (a module with fewer heads leaves the rest empty); ``chosen`` is marked."""
    w = np.asarray(weights, dtype=float)
    H = w.shape[0]
    traces, notes = {}, []
    top = colour_top(w)  # one colour scale for every head of the module (said in the title)
    for h in range(n_panels):
        traces[f"head_{h}"] = dict(z=w[h].tolist() if h < H else [], visible=h < H, zmin=0, zmax=top)
    gap = HEAD_GAP if n_panels > 1 else 0.0
    width = (1 - gap * (n_panels - 1)) / n_panels  # each panel's share, as make_subplots lays them out
    for h in range(n_panels):
        text = "" if h >= H else (f"<b>head {h} (above)</b>" if h == chosen else f"head {h}")
        notes.append(dict(text=text, x=h * (width + gap) + width / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
                          yanchor="bottom", showarrow=False, font=dict(size=14)))
    more = f" (the first {n_panels} of {H})" if H > n_panels else ""
    notes.append(dict(text=html.escape(f"Every head of {name}{more}; colour: 0 dark to {top:g} yellow"),
                      x=0, y=1.0, xref="paper", yref="paper",
                      xanchor="left", yanchor="bottom", yshift=24, showarrow=False, font=dict(size=15)))
    return patch(traces, {"annotations": notes})


def loss_patch(history, window: int = WINDOW, max_points: int = 400) -> dict:
    """Pane loss: the running mean over ``window`` batches and every batch faint (History ``history``)."""
    if history is None or not len(history):
        return patch({"loss": dict(x=[], y=[]), "loss_raw": dict(x=[], y=[])}, {"annotations": [NO_STEPS]})
    step = history.step
    mx, my = downsample(step, history.running_mean("loss", window), max_points)
    rx, ry = downsample(step, history.column("loss"), max_points)
    return patch({"loss": dict(x=list(mx), y=list(my)), "loss_raw": dict(x=list(rx), y=list(ry))},
                 {"annotations": []})
