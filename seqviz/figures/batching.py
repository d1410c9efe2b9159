"""The batching figure: padding, packing, bucketing, what goes wrong, cost, one-hot.

Rows (3 columns):
  1  the padded batch (B x T): colour = mask, text = token            (full width)
  2  PackedSequence.data order on the sorted batch, step t highlighted | batch_sizes[t]
  3  random batches | sorted batches (real vs pad cells per sequence) | pad share
  4  final h: last padded position vs true last token | loss with/without mask | timing
  5  one-hot rows X | W (E x V) | X W^T = embedding lookup

``build_batching_figure`` creates every trace (a FigureWidget syncs what it held
at construction); ``update_*`` only change trace data and subplot titles, so
they work on go.Figure and go.FigureWidget alike. ``trace_index`` maps uid -> position (via ``meta``).
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


def build_batching_figure(height: int = 2150, width: int = 960) -> go.Figure:
    """Every trace, empty, in a 5 x 3 grid of subplots. A fixed width: plotly falls back to
    700 px when a widget is first drawn before its container has a size."""
    specs = [[{"colspan": 3}, None, None], [{"colspan": 2}, None, {}], [{}, {}, {}], [{}, {}, {}], [{}, {}, {}]]
    fig = make_subplots(rows=5, cols=3, specs=specs, row_heights=[0.22, 0.2, 0.2, 0.19, 0.19],
                        vertical_spacing=0.06, horizontal_spacing=0.09, subplot_titles=[TITLES[k] for k in ORDER])
    cell = dict(xgap=1, ygap=1, showscale=False, texttemplate="%{text}", textfont=dict(size=12))
    fig.add_trace(go.Heatmap(uid="grid", z=[], x=[], y=[], text=[], zmin=0, zmax=1, colorscale=MASK_SCALE, **cell,
                             hovertemplate="%{y}, t=%{x}<br>token %{text}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(uid="packed", z=[], x=[], y=[], text=[], zmin=1, zmax=2, colorscale=STEP_SCALE, **cell,
                             hovertemplate="%{y}, t=%{x}<br>row %{text} of .data<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Bar(uid="bsizes", x=[], y=[], marker_color=[], showlegend=False,
                         hovertemplate="t=%{x}: %{y} sequences<extra></extra>"), row=2, col=3)
    for col, key in ((1, "rand"), (2, "sorted")):
        for part, color, name in (("real", REAL, "real tokens"), ("pad", "#9a9a9a", "padding")):
            fig.add_trace(go.Bar(uid=f"w_{key}_{part}", x=[], y=[], base=[], orientation="h", marker_color=color,
                                 marker_line_width=0, name=name, legendgroup=part, showlegend=col == 1,
                                 hovertemplate="%{customdata}<extra></extra>", customdata=[]), row=3, col=col)
    fig.add_trace(go.Bar(uid="w_share", x=["random", "sorted"], y=[0, 0], text=["", ""], textposition="auto",
                         marker_color=[COLORS["baseline"], COLORS["gru"]], showlegend=False,
                         hovertemplate="%{x}: %{y:.1f}% padding<extra></extra>"), row=3, col=3)
    for uid, name, color in (("fs_pad", "h at the last padded position", COLORS["rnn"]),
                             ("fs_true", "h at the true last token", COLORS["lstm"])):
        fig.add_trace(go.Bar(uid=uid, x=[], y=[], name=name, marker_color=color, legend="legend2",
                             hovertemplate="%{x}: %{y:.3g}<extra>" + name + "</extra>"), row=4, col=1)
    fig.add_trace(go.Bar(uid="loss", x=["no mask", "masked"], y=[0, 0], text=["", ""], textposition="auto",
                         marker_color=[COLORS["rnn"], COLORS["lstm"]], showlegend=False,
                         hovertemplate="%{x}: %{y:.4f}<extra></extra>"), row=4, col=2)
    fig.add_trace(go.Bar(uid="time", x=[], y=[], text=[], textposition="outside", textangle=0, showlegend=False,
                         cliponaxis=False, constraintext="none", textfont=dict(size=13),
                         marker_color=[], hovertemplate="%{x}: %{y:.0f} ms<extra></extra>"), row=4, col=3)
    fig.add_trace(go.Heatmap(uid="oh", z=[], x=[], y=[], zmin=0, zmax=1, colorscale=[[0, "#f7f7f7"], [1, "#222"]],
                             xgap=1, ygap=1, showscale=False, hovertemplate="%{y}, column %{x}: %{z}<extra></extra>"),
                  row=5, col=1)
    fig.add_trace(go.Heatmap(uid="W", z=[], x=[], y=[], colorscale=DIVERGING, zmid=0, showscale=False, xgap=1,
                             hovertemplate="W[%{y}, %{x}] = %{z:.2f}<extra></extra>"), row=5, col=2)
    fig.add_trace(go.Scatter(uid="W_sel", x=[], y=[], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(symbol="triangle-down", size=12, color=STEP)), row=5, col=2)
    fig.add_trace(go.Heatmap(uid="lookup", z=[], x=[], y=[], colorscale=DIVERGING, zmid=0, showscale=False, xgap=1,
                             ygap=1, hovertemplate="%{y}, e=%{x}: %{z:.2f}<extra></extra>"), row=5, col=3)
    # Legends sit inside the panels they explain: real/pad in the sorted-batches panel (row 3, col 2,
    # whose top right is empty: short sequences come first), final-state bars in row 4, col 1.
    box = dict(orientation="v", yanchor="top", xanchor="right", bgcolor="rgba(255,255,255,0.85)", font=dict(size=13))
    apply_theme(fig, height=height, width=width, barmode="group", bargap=0.15, margin=dict(l=90, r=30, t=60, b=40),
                legend=dict(**box, x=fig.layout.xaxis5.domain[1], y=fig.layout.yaxis5.domain[1]),
                legend2=dict(**{**box, "xanchor": "left"}, x=fig.layout.xaxis7.domain[0] + 0.005,
                             y=fig.layout.yaxis7.domain[1]))
    for r, c in ((1, 1), (2, 1)):
        fig.update_yaxes(autorange="reversed", row=r, col=c)
    for r, c in ((3, 1), (3, 2)):
        fig.update_yaxes(autorange="reversed", showticklabels=False, title_text="sequences" if c == 1 else None,
                         row=r, col=c)
        fig.update_xaxes(title_text="t", row=r, col=c)
    fig.update_yaxes(autorange="reversed", row=5, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, row=5, col=3)  # same rows as the one-hot panel
    fig.update_xaxes(title_text="t (time step)", row=1, col=1)
    fig.update_xaxes(title_text="t", row=2, col=1)
    fig.update_xaxes(title_text="t", row=2, col=3)
    fig.update_yaxes(title_text="% of cells", row=3, col=3)
    fig.update_yaxes(title_text="‖h − h_n(packed)‖", row=4, col=1)
    fig.update_yaxes(title_text="cross-entropy", row=4, col=2)
    fig.update_yaxes(title_text="ms (text: cells computed)", title_font_size=13, row=4, col=3)
    fig.update_xaxes(title_text="column k of the vocabulary", row=5, col=1)
    fig.update_xaxes(title_text="embedding unit", row=5, col=3)
    fig.update_xaxes(tickangle=0, tickfont=dict(size=12), row=4, col=3)
    for tr in fig.data:  # FigureWidget replaces uids with its own; ``meta`` survives
        tr.meta = tr.uid
    return fig


def trace_index(fig) -> dict[str, int]:
    """uid given at build time -> position in ``fig.data`` (read from ``meta``)."""
    return {tr.meta: i for i, tr in enumerate(fig.data)}


def set_title(fig, key: str, text: str) -> None:
    fig.layout.annotations[ORDER.index(key)].text = text


def _short(tok: str, n: int = 6) -> str:
    tok = "␣" if tok == " " else tok
    return tok if len(tok) <= n else tok[: n - 1] + "…"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def update_batch(fig, idx, scene) -> None:
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
    fig.data[idx["grid"]].update(z=b.mask.int().tolist(), x=list(range(T)), y=ylab, text=text)
    set_title(fig, "grid", f"1 · Padded batch B × T = {B} × {T}, pads on the {b.side}: {b.pad_cells} of {B * T} "
                           "cells are pads<br>blue: mask True (real token) · grey: &lt;pad&gt;")
    lay = scene.layout
    fig.data[idx["packed"]].update(x=list(range(T)), y=[f"#{k}: seq {s} (L={lay.lengths[s]})"
                                                      for k, s in enumerate(lay.sorted_indices)])
    z, text = packed_cells(lay)
    fig.data[idx["packed"]].update(z=z, text=text if B * T <= MAX_TEXT_CELLS else None)
    fig.data[idx["bsizes"]].update(x=list(range(T)), y=lay.batch_sizes)
    for ax, n_ticks in ((fig.layout.xaxis, 12), (fig.layout.xaxis2, 10), (fig.layout.xaxis3, 5)):
        ax.dtick = max(1, -(-T // n_ticks))  # whole time steps, at most about n_ticks labels
    for key, batches, w in (("rand", scene.random_batches, scene.waste_random),
                            ("sorted", scene.sorted_batches, scene.waste_sorted)):
        _waste_bars(fig, idx, key, scene.lengths, batches)
        what = "shuffled" if key == "rand" else ("sorted, shrinking" if scene.budget else "sorted")
        set_title(fig, f"w_{key}", f"2 · {len(batches)} {what} batches<br>{100 * w.share:.0f}% of cells are pads")
    wr, ws = scene.waste_random, scene.waste_sorted
    fig.data[idx["w_share"]].update(y=[100 * wr.share, 100 * ws.share],
                                    text=[fmt_bytes(wr.pad_bytes), fmt_bytes(ws.pad_bytes)])
    f = scene.final
    xs = [f"s{i} L={L}" for i, L in enumerate(f.lengths)]
    fig.data[idx["fs_pad"]].update(x=xs, y=f.err_last_padded)
    fig.data[idx["fs_true"]].update(x=xs, y=f.err_true_last)
    top = max([*f.err_last_padded, *f.err_true_last, 1e-6])
    fig.layout.yaxis7.range = [0, 1.5 * top]  # head room for the legend inside the panel
    set_title(fig, "fs", f"4 · Final h vs packed h_n<br>({b.side} padding)")
    lo = scene.loss
    fig.data[idx["loss"]].update(y=[lo.unmasked, lo.masked], text=[f"{lo.unmasked:.4f}", f"{lo.masked:.4f}"])
    set_title(fig, "loss", f"4 · Loss: no mask vs masked<br>difference {lo.unmasked - lo.masked:+.4f}")
    _onehot(fig, idx, scene)


def _waste_bars(fig, idx, key, lengths, batches, max_rows: int = 1200) -> None:
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
    fig.data[idx[f"w_{key}_real"]].update(y=ys, x=real, base=[0] * len(ys), customdata=info)
    fig.data[idx[f"w_{key}_pad"]].update(y=ys, x=[w - r for w, r in zip(width, real)], base=real, customdata=info)


def _onehot(fig, idx, scene) -> None:
    v, cols, names = scene.onehot, scene.onehot_cols, scene.vocab_words
    xl = [f"{c}:{_short(names[c], 5)}" for c in cols]
    yl = [f"{t}:{_short(names[i], 6)}" for t, i in enumerate(v.ids)]
    fig.data[idx["oh"]].update(z=v.onehot[:, cols].int().tolist(), x=xl, y=yl)
    fig.data[idx["W"]].update(z=v.weight[:, cols].tolist(), x=xl, y=[f"e{e}" for e in range(v.weight.shape[0])])
    fig.data[idx["W_sel"]].update(x=[xl[cols.index(i)] for i in sorted(set(v.ids))], y=["e0"] * len(set(v.ids)))
    fig.data[idx["lookup"]].update(z=v.lookup.tolist(), x=[f"e{e}" for e in range(v.lookup.shape[1])], y=yl)
    set_title(fig, "lookup", f"X Wᵀ = embedding lookup<br>max |difference| = {v.max_abs_diff:.1g}")


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


def update_step(fig, idx, layout, t: int) -> None:
    """Highlight the rows of PackedSequence.data the RNN reads together at step t.

    Only trace data changes (no layout): a layout change makes plotly redraw every subplot."""
    T = len(layout.batch_sizes)
    t = min(max(0, int(t)), T - 1)
    fig.data[idx["packed"]].z = packed_cells(layout, t)[0]
    fig.data[idx["bsizes"]].marker.color = [STEP if s == t else REAL for s in range(T)]


def _cells(n: int) -> str:
    return f"{n / 1e6:.2g}M" if n >= 1e6 else (f"{n / 1e3:.2g}k" if n >= 1e3 else str(n))


def update_timing(fig, idx, timings) -> None:
    """Bars of measured ms per variant, with the count of LSTM cells each computed."""
    colors = [COLORS["rnn"] if "packed" in t.name else COLORS["lstm"] for t in timings]
    fig.data[idx["time"]].update(x=[t.name.replace(", ", "<br>") for t in timings], y=[t.ms for t in timings],
                                 text=[f"{t.ms:.3g} ms<br>{_cells(t.cells)}" for t in timings], marker_color=colors)
    fig.layout.yaxis9.range = [0, 1.35 * max([t.ms for t in timings], default=1.0)]  # room for the bar text
    dev = f"on {timings[0].device}" if timings else "(press Measure)"
    set_title(fig, "time", f"5 · LSTM forward+backward<br>{dev}")
