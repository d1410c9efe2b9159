"""The batching figure: padding, packing, bucketing, what goes wrong, cost, one-hot.

Rows (3 columns):
  1  the padded batch (B x T): colour = mask, text = token            (full width)
  2  PackedSequence.data order on the sorted batch, step t highlighted | batch_sizes[t]
  3  random batches | sorted batches (real vs pad cells per sequence) | pad share
  4  final h: last padded position vs true last token | loss with/without mask | timing
  5  one-hot rows X | W (E x V) | X W^T = embedding lookup

``build_batching_figures`` creates every trace, in three figures (row 1, row 2, rows 3-5) so
that the step slider redraws only row 2; ``update_*`` change trace data and titles of a
dict of those figures. ``trace(figs, uid)`` finds a trace by its tag (``meta``).
"""

from __future__ import annotations


import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.theme import COLORS, DIVERGING, apply_theme

REAL, PADC, STEP = COLORS["sky"], "#e4e4e4", COLORS["accent"]
MASK_SCALE = [[0, PADC], [0.5, PADC], [0.5, REAL], [1, REAL]]
STEP_SCALE = [[0, REAL], [0.5, REAL], [0.5, STEP], [1, STEP]]
MAX_TEXT_CELLS = 640  # above this many cells, grids drop their per-cell text (unreadable anyway)
TITLES = {
    "grid": "1 · Padded batch B × T<br>blue: mask True (real token) · grey: &lt;pad&gt;",
    "packed": "3 · PackedSequence.data: each token's row<br>orange: the rows read together at step t",
    "bsizes": "batch_sizes[t]<br>the shrinking window",
    "w_rand": "2 · Shuffled batches", "w_sorted": "2 · Sorted by length",
    "w_share": "Share of pad cells<br>(bar text: their bytes)",
    "fs": "4 · Final h vs packed h_n", "loss": "4 · Loss: no mask vs masked",
    "time": "5 · LSTM forward+backward<br>(press Measure)", "oh": "6 · One-hot rows X (L × V)",
    "W": "W (E × V), ▼ = columns used", "lookup": "X Wᵀ = embedding lookup",
}
ORDER = ["grid", "packed", "bsizes", "w_rand", "w_sorted", "w_share", "fs", "loss", "time", "oh", "W", "lookup"]


PARTS = {  # one figure (plot pane) each: the step slider redraws only the small "packed" one
    "grid": ["grid"],
    "packed": ["packed", "bsizes"],
    "rest": ["w_rand", "w_sorted", "w_share", "fs", "loss", "time", "oh", "W", "lookup"],
}
PART_OF = {key: part for part, keys in PARTS.items() for key in keys}
WIDTH = 960  # fixed: plotly falls back to 700 px when a pane is drawn before its container has a size
_CELL = dict(xgap=1, ygap=1, showscale=False, texttemplate="%{text}", textfont=dict(size=12))
_MARGIN = dict(l=90, r=30, t=60, b=40)


def _tagged(fig: go.Figure) -> go.Figure:
    for tr in fig.data:  # a widget may replace uids; ``meta`` survives
        tr.meta = tr.uid
    return fig


def build_batching_figures(width: int = WIDTH) -> dict[str, go.Figure]:
    """Every trace, empty, in three figures stacked in the page: "grid" (row 1), "packed"
    (row 2) and "rest" (rows 3-5). Three rather than one: plotly redraws a whole figure on
    any data change, and the step slider then redraws two panels instead of twelve."""
    return {"grid": _grid_figure(width), "packed": _packed_figure(width), "rest": _rest_figure(width)}


def _grid_figure(width: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=[TITLES["grid"]])
    fig.add_trace(go.Heatmap(uid="grid", z=[], x=[], y=[], text=[], zmin=0, zmax=1, colorscale=MASK_SCALE, **_CELL,
                             hovertemplate="%{y}, t=%{x}<br>token %{text}<extra></extra>"))
    apply_theme(fig, height=460, width=width, margin=dict(_MARGIN, b=55))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="t (time step)")
    return _tagged(fig)


def _packed_figure(width: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, specs=[[{"colspan": 2}, None, {}]], horizontal_spacing=0.09,
                        subplot_titles=[TITLES["packed"], TITLES["bsizes"]])
    fig.add_trace(go.Heatmap(uid="packed", z=[], x=[], y=[], text=[], zmin=1, zmax=2, colorscale=STEP_SCALE, **_CELL,
                             hovertemplate="%{y}, t=%{x}<br>row %{text} of .data<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(uid="bsizes", x=[], y=[], marker_color=[], showlegend=False,
                         hovertemplate="t=%{x}: %{y} sequences<extra></extra>"), row=1, col=3)
    apply_theme(fig, height=430, width=width, margin=dict(_MARGIN, b=55))
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_xaxes(title_text="t")
    return _tagged(fig)


def _rest_figure(width: int) -> go.Figure:
    keys = PARTS["rest"]
    fig = make_subplots(rows=3, cols=3, vertical_spacing=0.105, horizontal_spacing=0.09,
                        subplot_titles=[TITLES[k] for k in keys])
    for col, key in ((1, "rand"), (2, "sorted")):
        for part, color, name in (("real", REAL, "real tokens"), ("pad", "#9a9a9a", "padding")):
            fig.add_trace(go.Bar(uid=f"w_{key}_{part}", x=[], y=[], base=[], orientation="h", marker_color=color,
                                 marker_line_width=0, name=name, legendgroup=part, showlegend=col == 1,
                                 hovertemplate="%{customdata}<extra></extra>", customdata=[]), row=1, col=col)
    fig.add_trace(go.Bar(uid="w_share", x=["random", "sorted"], y=[0, 0], text=["", ""], textposition="auto",
                         marker_color=[COLORS["baseline"], COLORS["gru"]], showlegend=False,
                         hovertemplate="%{x}: %{y:.1f}% padding<extra></extra>"), row=1, col=3)
    for uid, name, color in (("fs_pad", "h at the last padded position", COLORS["rnn"]),
                             ("fs_true", "h at the true last token", COLORS["lstm"])):
        fig.add_trace(go.Bar(uid=uid, x=[], y=[], name=name, marker_color=color, legend="legend2",
                             hovertemplate="%{x}: %{y:.3g}<extra>" + name + "</extra>"), row=2, col=1)
    fig.add_trace(go.Bar(uid="loss", x=["no mask", "masked"], y=[0, 0], text=["", ""], textposition="auto",
                         marker_color=[COLORS["rnn"], COLORS["lstm"]], showlegend=False,
                         hovertemplate="%{x}: %{y:.4f}<extra></extra>"), row=2, col=2)
    fig.add_trace(go.Bar(uid="time", x=[], y=[], text=[], textposition="outside", textangle=0, showlegend=False,
                         cliponaxis=False, constraintext="none", textfont=dict(size=13),
                         marker_color=[], hovertemplate="%{x}: %{y:.0f} ms<extra></extra>"), row=2, col=3)
    fig.add_trace(go.Heatmap(uid="oh", z=[], x=[], y=[], zmin=0, zmax=1, colorscale=[[0, "#f7f7f7"], [1, "#222"]],
                             xgap=1, ygap=1, showscale=False, hovertemplate="%{y}, column %{x}: %{z}<extra></extra>"),
                  row=3, col=1)
    fig.add_trace(go.Heatmap(uid="W", z=[], x=[], y=[], colorscale=DIVERGING, zmid=0, showscale=False, xgap=1,
                             hovertemplate="W[%{y}, %{x}] = %{z:.2f}<extra></extra>"), row=3, col=2)
    fig.add_trace(go.Scatter(uid="W_sel", x=[], y=[], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(symbol="triangle-down", size=12, color=STEP)), row=3, col=2)
    fig.add_trace(go.Heatmap(uid="lookup", z=[], x=[], y=[], colorscale=DIVERGING, zmid=0, showscale=False, xgap=1,
                             ygap=1, hovertemplate="%{y}, e=%{x}: %{z:.2f}<extra></extra>"), row=3, col=3)
    # Legends: real/pad in one row under the two batch panels (inside a panel it covered bars
    # whenever the first batch was full), final-state bars inside row 2, col 1 (head room made for it).
    box = dict(orientation="v", yanchor="top", xanchor="right", bgcolor="rgba(255,255,255,0.85)", font=dict(size=13))
    apply_theme(fig, height=1290, width=width, barmode="group", bargap=0.15, margin=_MARGIN,
                legend=dict(**{**box, "orientation": "h", "xanchor": "left"}, x=fig.layout.xaxis.domain[0],
                            y=fig.layout.yaxis.domain[0] - 0.045),
                legend2=dict(**{**box, "xanchor": "left"}, x=fig.layout.xaxis4.domain[0] + 0.005,
                             y=fig.layout.yaxis4.domain[1]))
    for c in (1, 2):
        fig.update_yaxes(autorange="reversed", showticklabels=False, title_text="sequences" if c == 1 else None,
                         row=1, col=c)
        fig.update_xaxes(title_text="t", row=1, col=c)
    fig.update_yaxes(autorange="reversed", row=3, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, row=3, col=3)  # same rows as the one-hot panel
    fig.update_yaxes(title_text="% of cells", row=1, col=3)
    fig.update_yaxes(title_text="‖h − h_n(packed)‖", row=2, col=1)
    fig.update_yaxes(title_text="cross-entropy", row=2, col=2)
    fig.update_yaxes(title_text="ms (text: cells computed)", title_font_size=13, row=2, col=3)
    fig.update_xaxes(title_text="column k of the vocabulary", row=3, col=1)
    fig.update_xaxes(title_text="embedding unit", row=3, col=3)
    fig.update_xaxes(tickangle=0, tickfont=dict(size=12), row=2, col=3)
    return _tagged(fig)


def trace(figs: dict, uid: str):
    """The trace tagged ``uid`` (its ``meta``), in whichever of the figures holds it."""
    for fig in figs.values():
        for tr in fig.data:
            if tr.meta == uid:
                return tr
    raise KeyError(uid)


def set_title(figs: dict, key: str, text: str) -> None:
    part = PART_OF[key]
    figs[part].layout.annotations[PARTS[part].index(key)].text = text


def title(figs: dict, key: str) -> str:
    part = PART_OF[key]
    return figs[part].layout.annotations[PARTS[part].index(key)].text


def _short(tok: str, n: int = 6) -> str:
    tok = "␣" if tok == " " else tok
    return tok if len(tok) <= n else tok[: n - 1] + "…"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def update_batch(figs: dict, scene) -> None:
    """Everything that depends on the data set and the shown batch (not the step slider)."""
    b = scene.batch
    B, T = b.tokens.shape
    show_text = B * T <= MAX_TEXT_CELLS
    ylab = [f"seq {i} (L={int(L)})" for i, L in enumerate(b.lengths)]
    text = [["" for _ in range(T)] for _ in range(B)]
    if show_text:
        for i, words in enumerate(scene.words):
            cols = np.flatnonzero(b.mask[i].numpy())
            for t in range(T):
                text[i][t] = "·"
            for t, w in zip(cols, words):
                text[i][t] = _short(w)
    trace(figs, "grid").update(z=b.mask.int().tolist(), x=list(range(T)), y=ylab, text=text)
    set_title(figs, "grid", f"1 · Padded batch B × T = {B} × {T}, pads on the {b.side}: {b.pad_cells} of {B * T} "
                           "cells are pads<br>blue: mask True (real token) · grey: &lt;pad&gt;")
    lay = scene.layout
    trace(figs, "packed").update(x=list(range(T)), y=[f"#{k}: seq {s} (L={lay.lengths[s]})"
                                                      for k, s in enumerate(lay.sorted_indices)])
    z, text = packed_cells(lay)
    trace(figs, "packed").update(z=z, text=text if B * T <= MAX_TEXT_CELLS else None)
    trace(figs, "bsizes").update(x=list(range(T)), y=lay.batch_sizes)
    for ax, n_ticks in ((figs["grid"].layout.xaxis, 12), (figs["packed"].layout.xaxis, 10),
                       (figs["packed"].layout.xaxis2, 5)):
        ax.dtick = max(1, -(-T // n_ticks))  # whole time steps, at most about n_ticks labels
    for key, batches, w in (("rand", scene.random_batches, scene.waste_random),
                            ("sorted", scene.sorted_batches, scene.waste_sorted)):
        _waste_bars(figs, key, scene.lengths, batches)
        what = "shuffled" if key == "rand" else ("sorted, shrinking" if scene.budget else "sorted")
        set_title(figs, f"w_{key}", f"2 · {len(batches)} {what} batches<br>{100 * w.share:.0f}% of cells are pads")
    wr, ws = scene.waste_random, scene.waste_sorted
    trace(figs, "w_share").update(y=[100 * wr.share, 100 * ws.share],
                                    text=[fmt_bytes(wr.pad_bytes), fmt_bytes(ws.pad_bytes)])
    f = scene.final
    xs = [f"s{i} L={L}" for i, L in enumerate(f.lengths)]
    trace(figs, "fs_pad").update(x=xs, y=f.err_last_padded)
    trace(figs, "fs_true").update(x=xs, y=f.err_true_last)
    top = max([*f.err_last_padded, *f.err_true_last, 1e-6])
    figs["rest"].layout.yaxis4.range = [0, 1.5 * top]  # head room for the legend inside the panel
    set_title(figs, "fs", f"4 · Final h vs packed h_n<br>({b.side} padding)")
    lo = scene.loss
    trace(figs, "loss").update(y=[lo.unmasked, lo.masked], text=[f"{lo.unmasked:.4f}", f"{lo.masked:.4f}"])
    set_title(figs, "loss", f"4 · Loss: no mask vs masked<br>difference {lo.unmasked - lo.masked:+.4f}")
    _onehot(figs, scene)


def _waste_bars(figs: dict, key, lengths, batches, max_rows: int = 1200) -> None:
    ys, real, width, info, row = [], [], [], [], 0
    for bi, ix in enumerate(batches):
        T_i = int(lengths[ix].max())
        for i in ix.tolist():
            if len(ys) >= max_rows:
                break
            ys.append(row)
            real.append(int(lengths[i]))
            width.append(T_i)
            info.append(f"batch {bi} ({len(ix)} seqs, T={T_i}): seq {i}, L={int(lengths[i])}")
            row += 1
        row += max(1, len(ys) // 60)  # a gap between batches
    trace(figs, f"w_{key}_real").update(y=ys, x=real, base=[0] * len(ys), customdata=info)
    trace(figs, f"w_{key}_pad").update(y=ys, x=[w - r for w, r in zip(width, real)], base=real, customdata=info)


def _onehot(figs, scene) -> None:
    v, cols, names = scene.onehot, scene.onehot_cols, scene.vocab_words
    xl = [f"{c}:{_short(names[c], 5)}" for c in cols]
    yl = [f"{t}:{_short(names[i], 6)}" for t, i in enumerate(v.ids)]
    trace(figs, "oh").update(z=v.onehot[:, cols].int().tolist(), x=xl, y=yl)
    trace(figs, "W").update(z=v.weight[:, cols].tolist(), x=xl, y=[f"e{e}" for e in range(v.weight.shape[0])])
    trace(figs, "W_sel").update(x=[xl[cols.index(i)] for i in sorted(set(v.ids))], y=["e0"] * len(set(v.ids)))
    trace(figs, "lookup").update(z=v.lookup.tolist(), x=[f"e{e}" for e in range(v.lookup.shape[1])], y=yl)
    set_title(figs, "lookup", f"X Wᵀ = embedding lookup<br>max |difference| = {v.max_abs_diff:.1g}")


def packed_cells(layout, t: int | None = None):
    """(z, text) of the packed grid: rows in sorted order, text = row of .data, z = 2 at step t."""
    T, B = len(layout.batch_sizes), len(layout.lengths)
    z = [[None] * T for _ in range(B)]  # None, not NaN: NaN is not valid JSON for the widget
    text = [[""] * T for _ in range(B)]
    rank = {b: k for k, b in enumerate(layout.sorted_indices)}
    for r, (b, s) in enumerate(zip(layout.data_b, layout.data_t)):
        z[rank[b]][s] = 2 if s == t else 1
        text[rank[b]][s] = str(r)
    return z, text


def step_text(layout, t: int) -> str:
    rows = layout.rows_at(t)
    return (f"step t={t}: the RNN reads rows {rows.start}–{rows.stop - 1} of .data together "
            f"(batch_sizes[{t}] = {layout.batch_sizes[t]})")


def update_step(figs: dict, layout, t: int) -> None:
    """Highlight the rows of PackedSequence.data the RNN reads together at step t (only the
    "packed" figure changes)."""
    T = len(layout.batch_sizes)
    t = min(max(0, int(t)), T - 1)
    trace(figs, "packed").z = packed_cells(layout, t)[0]
    trace(figs, "bsizes").marker.color = [STEP if s == t else REAL for s in range(T)]


def _cells(n: int) -> str:
    return f"{n / 1e6:.2g}M" if n >= 1e6 else (f"{n / 1e3:.2g}k" if n >= 1e3 else str(n))


def update_timing(figs: dict, timings) -> None:
    """Bars of measured ms per variant, with the count of LSTM cells each computed."""
    colors = [COLORS["rnn"] if "packed" in t.name else COLORS["lstm"] for t in timings]
    trace(figs, "time").update(x=[t.name.replace(", ", "<br>") for t in timings], y=[t.ms for t in timings],
                                 text=[f"{t.ms:.3g} ms<br>{_cells(t.cells)}" for t in timings], marker_color=colors)
    figs["rest"].layout.yaxis6.range = [0, 1.35 * max([t.ms for t in timings], default=1.0)]  # room for the bar text
    dev = f"on {timings[0].device}" if timings else "(press Measure)"
    set_title(figs, "time", f"5 · LSTM forward+backward<br>{dev}")
