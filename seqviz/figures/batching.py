"""The batching figures: padding, packing, bucketing, what goes wrong, cost, one-hot.

Panels, numbered as they appear on screen, top to bottom (3 columns):
  1  the padded batch (B x T): colour = mask, text = token            (pane "grid")
  2  PackedSequence.data order on the sorted batch, step t highlighted | batch_sizes[t]  (pane "packed")
  3  shuffled batches | sorted batches (real vs pad cells per sequence) | pad share    (pane "rest", row 1)
  4  final h: last padded position vs true last token | loss with/without mask      (row 2)
  5  the measured cost (timing, press Measure)                                       (row 2, right)
  6  one-hot rows X | W (E x V) | X W^T = embedding lookup                           (row 3)

``build_batching_figures`` makes the three skeletons once (traces tagged by ``meta``), so that
the step slider redraws only the small "packed" pane. Every view after that is a pure
function returning a patch (``seqviz.figures.patch``) for one pane: ``grid_patch``,
``packed_patch``, ``step_patch``, ``waste_patch``, ``final_patch``, ``loss_patch``,
``onehot_patch``, ``timing_patch``. None of them touches a figure.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import patch
from seqviz.figures.theme import COLORS, DIVERGING, apply_theme

REAL, PADC, STEP = COLORS["sky"], "#e4e4e4", COLORS["accent"]
MASK_SCALE = [[0, PADC], [0.5, PADC], [0.5, REAL], [1, REAL]]
STEP_SCALE = [[0, REAL], [0.5, REAL], [0.5, STEP], [1, STEP]]
MAX_TEXT_CELLS = 640  # above this many cells, grids drop their per-cell text (unreadable anyway)
MAX_WASTE_ROWS = 2000  # bars per batch panel: every sequence the dashboard can hold (its N is at most 2000)
TITLES = {
    "grid": "1 · Padded batch B × T<br>blue: mask True (real token) · grey: &lt;pad&gt;",
    "packed": "2 · PackedSequence.data: each token's row<br>orange: the rows read together at step t",
    "bsizes": "batch_sizes[t]<br>the shrinking window",
    "w_rand": "3 · Shuffled batches", "w_sorted": "3 · Sorted by length",
    "w_share": "Share of pad cells<br>(bar text: their bytes)",
    "fs": "4 · Final h vs packed h_n", "loss": "4 · Loss: no mask vs masked",
    "time": "5 · LSTM forward+backward", "oh": "6 · One-hot rows X (L × V)",
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
TIME_AXES = ("xaxis6", "yaxis6")  # the timing panel: row 2, column 3 of the "rest" pane
HINT = f"annotations[{len(PARTS['rest'])}]"  # the timing panel's message, after the subplot titles


def press_measure(hidden: int = 128) -> str:
    """The timing panel's message while nothing is measured."""
    return (f"Nothing measured yet.<br>Press <b>Measure</b> to time<br>LSTM (H = {hidden}) forward<br>+ backward "
            "on this data set:<br>padded and packed,<br>shuffled and sorted.")


def title_key(key: str) -> str:
    """The layout key of panel ``key``'s title in its pane's figure (for patches and tests)."""
    return f"annotations[{PARTS[PART_OF[key]].index(key)}]"


def _title(key: str, text: str) -> dict:
    return {title_key(key): {"text": text}}


def _tagged(fig: go.Figure) -> go.Figure:
    for tr in fig.data:  # a widget may replace uids; ``meta`` survives
        tr.meta = tr.uid
    return fig


def build_batching_figures(width: int = WIDTH) -> dict[str, go.Figure]:
    """Every trace, empty, in three figures stacked in the page: "grid" (panel 1), "packed"
    (panel 2) and "rest" (panels 3-6). Three rather than one: plotly redraws a whole figure on
    any data change, and the step slider then redraws two panels instead of twelve."""
    return {"grid": _grid_figure(width), "packed": _packed_figure(width), "rest": _rest_figure(width)}


def _grid_figure(width: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=[TITLES["grid"]])
    fig.add_trace(go.Heatmap(uid="grid", z=[], x=[], y=[], text=[], zmin=0, zmax=1, colorscale=MASK_SCALE, **_CELL,
                             hovertemplate="%{y}, t=%{x}<br>token %{text}<extra></extra>"))
    apply_theme(fig, height=460, width=width, margin=dict(_MARGIN, b=55))
    fig.update_yaxes(autorange="reversed", automargin=True)  # row labels like "seq 12 (L=120)" stay whole
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
    fig.update_yaxes(autorange="reversed", automargin=True, row=1, col=1)
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
                                 offsetgroup=key,  # real and pad of a sequence share its row (base stacks them)
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
                         marker_color=[], customdata=[],
                         hovertemplate="%{customdata}: %{y:.3g} ms<extra></extra>"), row=2, col=3)
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
    fig.update_yaxes(title_text="ms", title_font_size=13, row=2, col=3)
    fig.update_xaxes(title_text="column k of the vocabulary", row=3, col=1)
    fig.update_xaxes(title_text="embedding unit", row=3, col=3)
    fig.update_xaxes(tickangle=0, tickfont=dict(size=12), title_text="(LSTM cells computed)", title_font_size=12,
                     title_standoff=4, row=2, col=3)
    # The timing panel holds a plain message, not empty axes, until something is measured.
    x6, y6 = fig.layout.xaxis6.domain, fig.layout.yaxis6.domain
    fig.add_annotation(text=press_measure(), xref="paper", yref="paper", x=(x6[0] + x6[1]) / 2,
                       y=(y6[0] + y6[1]) / 2, xanchor="center", yanchor="middle", showarrow=False, align="center",
                       font=dict(size=15, color="#333"), bgcolor="#f4f4f4", bordercolor="#bbb", borderpad=8)
    fig.update_layout(xaxis6=dict(visible=False), yaxis6=dict(visible=False))
    return _tagged(fig)


def _short(tok: str, n: int = 6) -> str:
    tok = "␣" if tok == " " else tok
    return tok if len(tok) <= n else tok[: n - 1] + "…"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _dtick(T: int, n_ticks: int) -> int:
    return max(1, -(-T // n_ticks))  # whole time steps, at most about n_ticks labels


def grid_patch(batch, words: list[list[str]]) -> dict:
    """Panel 1 ("grid" pane): the padded batch, its mask, each cell's token (numpy arrays: plotly
    checks a list of lists cell by cell, 0.1 s for a 8 x 120 grid)."""
    B, T = batch.tokens.shape
    mask = batch.mask.numpy()
    text = None  # above MAX_TEXT_CELLS the cells carry no text at all
    if B * T <= MAX_TEXT_CELLS:
        text = [["·"] * T for _ in range(B)]
        for i, toks in enumerate(words):
            for t, w in zip(np.flatnonzero(mask[i]).tolist(), toks):
                text[i][t] = _short(w)
    pads = int((~mask).sum())
    return patch(
        {"grid": {"z": mask.astype(np.int8), "x": np.arange(T), "text": text,
                  "y": [f"seq {i} (L={L})" for i, L in enumerate(batch.lengths.tolist())]}},
        {**_title("grid", f"1 · Padded batch B × T = {B} × {T}, pads on the {batch.side}: {pads} of {B * T} "
                          "cells are pads<br>blue: mask True (real token) · grey: &lt;pad&gt;"),
         "xaxis": {"dtick": _dtick(T, 12)}})


def packed_cells(layout, t: int | None = None, with_text: bool = True):
    """(z, text) of the packed grid: rows in sorted order, z = 1 for a token (2 at step t, NaN
    where there is none: sent as null), text = its row of .data (None without ``with_text``)."""
    T, B = len(layout.batch_sizes), len(layout.lengths)
    rank = np.empty(B, dtype=np.int64)
    rank[np.asarray(layout.sorted_indices, dtype=np.int64)] = np.arange(B)
    rows, cols = rank[np.asarray(layout.data_b, dtype=np.int64)], np.asarray(layout.data_t, dtype=np.int64)
    z = np.full((B, T), np.nan)
    z[rows, cols] = 1.0
    if t is not None:
        z[rows[cols == t], t] = 2.0
    text = None
    if with_text:
        text = [[""] * T for _ in range(B)]
        for r, (k, s) in enumerate(zip(rows.tolist(), cols.tolist())):
            text[k][s] = str(r)
    return z, text


def clamp_step(layout, t) -> int:
    return min(max(0, int(t)), len(layout.batch_sizes) - 1)


def step_patch(layout, t: int) -> dict:
    """Panel 2, step t only: the rows of PackedSequence.data the RNN reads together at step t
    (the step slider's view: two traces of the small "packed" pane)."""
    T = len(layout.batch_sizes)
    t = clamp_step(layout, t)
    return patch({"packed": {"z": packed_cells(layout, t, with_text=False)[0]},
                  "bsizes": {"marker": {"color": [STEP if s == t else REAL for s in range(T)]}}})


def packed_patch(layout, t: int) -> dict:
    """Panel 2 ("packed" pane) whole: the sorted batch with each token's row of .data, batch_sizes[t]."""
    T, B = len(layout.batch_sizes), len(layout.lengths)
    t = clamp_step(layout, t)
    z, text = packed_cells(layout, t, with_text=B * T <= MAX_TEXT_CELLS)
    return patch(
        {"packed": {"x": np.arange(T), "z": z, "text": text,
                    "y": [f"#{k}: seq {s} (L={layout.lengths[s]})" for k, s in enumerate(layout.sorted_indices)]},
         "bsizes": {"x": list(range(T)), "y": list(layout.batch_sizes),
                    "marker": {"color": [STEP if s == t else REAL for s in range(T)]}}},
        {"xaxis": {"dtick": _dtick(T, 10)}, "xaxis2": {"dtick": _dtick(T, 5)},
         "yaxis2": {"dtick": _dtick(B, 6)}})  # whole sequences


def waste_bars(lengths, batches, max_rows: int = MAX_WASTE_ROWS) -> dict:
    """One bar per sequence, batch by batch: ``y`` rows, ``real`` tokens, ``pad`` cells up to the
    batch's longest member, hover ``info``; ``shown`` sequences drawn of ``total``."""
    ys, real, pad, info, row = [], [], [], [], 0
    L = [int(x) for x in lengths.tolist()]
    for bi, ix in enumerate(batches):
        members = ix.tolist()
        T_i = max(L[i] for i in members) if members else 0
        for i in members:
            if len(ys) >= max_rows:
                break
            ys.append(row)
            real.append(L[i])
            pad.append(T_i - L[i])
            info.append(f"batch {bi} ({len(members)} seqs, T={T_i}): seq {i}, L={L[i]}")
            row += 1
        row += max(1, len(ys) // 60)  # a gap between batches
    return {"y": ys, "real": real, "pad": pad, "info": info, "shown": len(ys), "total": len(L)}


def pad_share(bars: dict) -> float:
    """Share of the drawn cells that are padding, counted from the bars themselves."""
    cells = sum(bars["real"]) + sum(bars["pad"])
    return sum(bars["pad"]) / cells if cells else 0.0


def waste_patch(lengths, random_batches, sorted_batches, bytes_per_cell: int, shrinking: bool) -> dict:
    """Panel 3 ("rest" pane, row 1): shuffled vs sorted batches, bar per sequence, and the share
    of padding. Every percentage is counted from the bars drawn (the batches shown)."""
    traces, layout, shares, pad_bytes = {}, {}, [], []
    for key, batches in (("rand", random_batches), ("sorted", sorted_batches)):
        bars = waste_bars(lengths, batches)
        share = pad_share(bars)
        shares.append(100 * share)
        pad_bytes.append(sum(bars["pad"]) * bytes_per_cell)
        y, real = np.asarray(bars["y"], dtype=np.int64), np.asarray(bars["real"], dtype=np.int64)
        info = np.asarray(bars["info"], dtype=object)  # (an array: plotly checks a list string by string)
        traces[f"w_{key}_real"] = {"y": y, "x": real, "base": np.zeros_like(real), "customdata": info}
        traces[f"w_{key}_pad"] = {"y": y, "x": np.asarray(bars["pad"], dtype=np.int64), "base": real,
                                  "customdata": info}
        what = "shuffled" if key == "rand" else ("sorted, shrinking" if shrinking else "sorted")
        cut = "" if bars["shown"] == bars["total"] else f" (first {bars['shown']} of {bars['total']} drawn)"
        layout.update(_title(f"w_{key}", f"3 · {len(batches)} {what} batches<br>{shares[-1]:.0f}% of cells are "
                                         f"pads{cut}"))
    traces["w_share"] = {"y": shares, "text": [fmt_bytes(b) for b in pad_bytes]}
    return patch(traces, layout)


def final_patch(final, side: str) -> dict:
    """Panel 4, left: distance of the padded run's final h (last padded position / true last
    token) from the packed run's h_n, per sequence."""
    xs = [f"s{i} L={L}" for i, L in enumerate(final.lengths)]
    top = max([*final.err_last_padded, *final.err_true_last, 1e-6])
    return patch({"fs_pad": {"x": xs, "y": list(final.err_last_padded)},
                  "fs_true": {"x": xs, "y": list(final.err_true_last)}},
                 {"yaxis4": {"range": [0, 1.5 * top]},  # head room for the legend inside the panel
                  **_title("fs", f"4 · Final h vs packed h_n<br>({side} padding)")})


def loss_patch(loss) -> dict:
    """Panel 4, middle: mean cross-entropy over every cell vs over real tokens only."""
    return patch({"loss": {"y": [loss.unmasked, loss.masked], "text": [f"{loss.unmasked:.4f}", f"{loss.masked:.4f}"]}},
                 _title("loss", f"4 · Loss: no mask vs masked<br>difference {loss.unmasked - loss.masked:+.4f}"))


def onehot_patch(view, cols: list[int], names: list[str]) -> dict:
    """Panel 6: one-hot rows X, the embedding matrix W (columns used marked), X Wᵀ = lookup."""
    xl = [f"{c}:{_short(names[c], 5)}" for c in cols]
    yl = [f"{t}:{_short(names[i], 6)}" for t, i in enumerate(view.ids)]
    used = sorted(set(view.ids))
    return patch(
        {"oh": {"z": view.onehot[:, cols].int().tolist(), "x": xl, "y": yl},
         "W": {"z": view.weight[:, cols].tolist(), "x": xl, "y": [f"e{e}" for e in range(view.weight.shape[0])]},
         "W_sel": {"x": [xl[cols.index(i)] for i in used], "y": ["e0"] * len(used)},
         "lookup": {"z": view.lookup.tolist(), "x": [f"e{e}" for e in range(view.lookup.shape[1])], "y": yl}},
        _title("lookup", f"X Wᵀ = embedding lookup<br>max |difference| = {view.max_abs_diff:.1g}"))


def _cells(n: int) -> str:
    return f"{n / 1e6:.2g}M" if n >= 1e6 else (f"{n / 1e3:.2g}k" if n >= 1e3 else str(n))


def how_measured(timings) -> str:
    """What each bar is, in words: e.g. "median of 3 runs" (the numbers are noisy)."""
    if not timings:
        return ""
    runs = {t.runs for t in timings}
    n = f"{runs.pop()}" if len(runs) == 1 else f"{min(t.runs for t in timings)}-{max(t.runs for t in timings)}"
    stat = "median" if timings[0].stat == "median" else "fastest"
    return f"{stat} of {n} run{'s' if n != '1' else ''}"


def timing_patch(timings, hidden: int | None = None, note: str | None = None) -> dict:
    """Panel 5: measured ms per configuration (bar text: ms and the LSTM cells it computed).
    Nothing measured: no axes, a message in the plot area (``note``, or "press Measure").
    ``note`` with timings: the bars fade and the message says why (e.g. measured with another H)."""
    shown = bool(timings)
    layout = {TIME_AXES[0]: {"visible": shown}, TIME_AXES[1]: {"visible": shown},
              HINT: {"visible": bool(note) or not shown, "text": note or press_measure(hidden or 128)}}
    if not shown:
        layout.update(_title("time", TITLES["time"]))
        return patch({"time": {"x": [], "y": [], "text": [], "customdata": [],
                               "marker": {"color": [], "opacity": 1}}}, layout)
    colors = [COLORS["rnn"] if "packed" in t.name else COLORS["lstm"] for t in timings]
    layout[TIME_AXES[1]].update(range=[0, 1.35 * max(t.ms for t in timings)],  # room for the bar text
                                title={"text": f"ms, {how_measured(timings)}"})
    layout[TIME_AXES[0]]["range"] = [-0.8, len(timings) - 0.2]  # the first bar's text clear of the ms ticks
    h = f"H = {hidden}, " if hidden else ""
    dev = timings[0].device if len(timings[0].device) <= 24 else timings[0].device[:23] + "…"
    layout.update(_title("time", f"5 · LSTM forward+backward<br>{h}{dev}"))
    return patch({"time": {"x": [f"{t.name.replace(', ', '<br>')}<br>({_cells(t.cells)})" for t in timings],
                           "y": [t.ms for t in timings], "text": [f"{t.ms:.3g}" for t in timings],
                           "customdata": [f"{t.name}, {t.cells:,} cells, {how_measured([t])}" for t in timings],
                           "marker": {"color": colors, "opacity": 0.3 if note else 1}}}, layout)
