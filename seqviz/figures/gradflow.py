"""The gradient-flow figures: the RNN-vs-LSTM story in three plotly figures.

``build_gradient_figure`` (what autograd measures):
  1  the unrolled network with the backward signal drawn on it (colour = log10 norm)
  2  ||dL/dh_t|| (and ||dL/dc_t||) against t, log scale
  3  heatmaps log10 ||dL/dh_t|| over time step (x) and training step (y), RNN | other
``build_curves_figure`` (how training goes):
  1  loss | accuracy, each with the task's trivial baseline
  2  global gradient norm before and after clipping
``build_belt_figure`` (the belt on one sequence): c_t per unit (LSTM) or h_t per unit (GRU)
``build_gates_figure``: the gates per unit: f_t i_t g_t o_t (LSTM) or z_t r_t n_t (GRU)

Four figures rather than one so that each redraws alone: a slider that changes the
belt does not redraw the training curves. Builders make every trace up front; the
``update_*`` functions only change trace data, so they work on any go.Figure. Traces
carry a tag in ``meta``; ``trace_index(fig)`` maps tag -> position.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.theme import COLORS, DIVERGING, MODEL_LABELS, SEQUENTIAL, apply_theme, downsample, safe_log10

FLOOR = 1e-40  # norms below this (and exact zeros) are drawn at the floor
WIDTH = 920
GATE_SLOTS = ((2, 1), (2, 2), (3, 1), (3, 2))
GATE_TITLES = {
    "lstm": ("forget gate f_t (1 = keep)", "input gate i_t (1 = write)", "candidate g_t (blue −1 … red +1)",
             "output gate o_t"),
    "gru": ("update gate z_t (1 = keep h)", "reset gate r_t", "candidate n_t (blue −1 … red +1)",
            "(no fourth gate in a GRU)"),
}


def _gradient_titles(other: str) -> list[str]:
    o = MODEL_LABELS[other]
    # Row 2 carries its title in its legend (a legend inside the plot would hide curves).
    return ["Backward signal on the unrolled network (colour: log10 of the gradient norm)", "",
            "RNN: log10 ||dL/dh_t|| over training", f"{o}: log10 ||dL/dh_t|| over training"]


def _belt_titles(other: str) -> list[str]:
    belt = "LSTM cell state c_t per unit (the conveyor belt)" if other == "lstm" else "GRU hidden state h_t per unit"
    return [belt, *GATE_TITLES[other]]


def _finish(fig: go.Figure) -> go.Figure:
    for tr in fig.data:  # a widget may replace uids; ``meta`` survives
        tr.meta = tr.uid
    return fig


def build_gradient_figure(T: int, other: str = "lstm", height: int = 1020, width: int = WIDTH) -> go.Figure:
    """Rows 1-3 of the story for sequences of length T; ``other`` is "lstm" or "gru"."""
    specs = [[{"colspan": 2}, None], [{"colspan": 2}, None], [{}, {}]]
    fig = make_subplots(rows=3, cols=2, specs=specs, row_heights=[0.2, 0.4, 0.4], vertical_spacing=0.12,
                        horizontal_spacing=0.08, subplot_titles=_gradient_titles(other))
    o = MODEL_LABELS[other]
    ca = dict(coloraxis="coloraxis")
    for uid, label in (("graph_rnn_h", "RNN h_t"), ("graph_other_h", f"{o} h_t"), ("graph_other_c", "LSTM c_t")):
        fig.add_trace(go.Scatter(uid=uid, x=[], y=[], mode="lines+markers", showlegend=False, name=label,
                                 line=dict(color="#bbbbbb", width=1),
                                 marker=dict(size=9, color=[], line=dict(width=0.5, color="#333"), **ca),
                                 hovertemplate="t=%{x}<br>log10 norm=%{marker.color:.1f}<extra>%{y}</extra>"),
                      row=1, col=1)
    fig.add_trace(go.Scatter(uid="graph_cuts", x=[], y=[], mode="lines", name="truncation cut",
                             line=dict(color=COLORS["accent"], width=3, dash="dash"), showlegend=False,
                             hoverinfo="skip"), row=1, col=1)
    for uid, name, color, dash in (("norm_rnn_h", "RNN h_t", COLORS["rnn"], "solid"),
                                   ("norm_other_h", f"{o} h_t", COLORS[other], "solid"),
                                   ("norm_other_c", "LSTM c_t", COLORS[other], "dot")):
        fig.add_trace(go.Scatter(uid=uid, x=[], y=[], mode="lines", name=name,
                                 line=dict(color=color, width=3, dash=dash)), row=2, col=1)
    fig.add_trace(go.Scatter(uid="norm_cuts", x=[], y=[], mode="lines", name="cut",
                             line=dict(color=COLORS["accent"], width=2, dash="dash"), hoverinfo="skip"), row=2, col=1)
    for col, uid in ((1, "heat_rnn"), (2, "heat_other")):
        fig.add_trace(go.Heatmap(uid=uid, x=[], y=[], z=[], showscale=col == 1, **ca,
                                 hovertemplate="t=%{x}<br>training step %{y}<br>log10 norm=%{z:.1f}<extra></extra>"),
                      row=3, col=col)
    for r in (1, 2):
        fig.update_xaxes(title_text="time step t", row=r, col=1)
    for c in (1, 2):
        fig.update_xaxes(title_text="time step t", row=3, col=c)
    fig.update_xaxes(range=[-1, T], row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", dtick=4, title_text="norm", row=2, col=1)
    fig.update_yaxes(title_text="training step", row=3, col=1)
    doms = [fig.get_subplot(r, 1).yaxis.domain for r in (1, 2, 3)]
    apply_theme(
        fig, height=height, width=width, margin=dict(l=80, r=40, t=50, b=50),
        legend=_legend(doms[1][1], "Gradient reaching each step, ||dL/dh_t|| and ||dL/dc_t|| (log):"),
        # The colour bar sits beside the heatmaps, clear of row 2's legend; row 1 shares its scale.
        coloraxis=dict(colorscale=SEQUENTIAL, cmin=-12, cmax=1,
                       colorbar=dict(title=dict(text="log10 norm", side="right"), thickness=14,
                                     len=doms[2][1] - doms[2][0], y=sum(doms[2]) / 2, yanchor="middle")),
    )
    return _finish(fig)


def build_curves_figure(other: str = "lstm", height: int = 640, width: int = WIDTH) -> go.Figure:
    """Loss, accuracy and the gradient norm before/after clipping, for the RNN and ``other``."""
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]], vertical_spacing=0.2,
                        horizontal_spacing=0.1)
    o = MODEL_LABELS[other]
    for col, kind in ((1, "loss"), (2, "acc")):
        for m in ("rnn", "other"):
            fig.add_trace(go.Scatter(uid=f"{kind}_{m}", x=[], y=[], mode="lines", name="RNN" if m == "rnn" else o,
                                     legendgroup=m, showlegend=kind == "loss",
                                     line=dict(color=COLORS["rnn" if m == "rnn" else other], width=2.5)),
                          row=1, col=col)
        fig.add_trace(go.Scatter(uid=f"{kind}_base", x=[], y=[], mode="lines", name="trivial baseline",
                                 showlegend=kind == "loss", legendgroup="base",
                                 line=dict(color=COLORS["baseline"], width=2, dash="dash")), row=1, col=col)
    for m in ("rnn", "other"):
        c = COLORS["rnn" if m == "rnn" else other]
        name = "RNN" if m == "rnn" else o
        fig.add_trace(go.Scatter(uid=f"gn_{m}", x=[], y=[], mode="lines", name=name, legend="legend2",
                                 line=dict(color=c, width=1.5)), row=2, col=1)
        fig.add_trace(go.Scatter(uid=f"gn_after_{m}", x=[], y=[], mode="lines", name=f"{name} clipped",
                                 legend="legend2", line=dict(color=c, width=2.5, dash="dot")), row=2, col=1)
    fig.add_trace(go.Scatter(uid="gn_threshold", x=[], y=[], mode="lines", name="threshold", legend="legend2",
                             line=dict(color=COLORS["black"], width=1.5, dash="dash")), row=2, col=1)
    fig.update_yaxes(type="log", exponentformat="power", dtick=1, title_text="loss", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], title_text="accuracy", row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", dtick=1, title_text="norm", row=2, col=1)
    for r, c in ((1, 1), (1, 2), (2, 1)):
        fig.update_xaxes(title_text="training step", row=r, col=c)
    doms = [fig.get_subplot(r, 1).yaxis.domain for r in (1, 2)]
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=40, t=60, b=50),
                legend=_legend(doms[0][1], "Loss (log) and accuracy, mean of the last 20 steps:"),
                legend2=_legend(doms[1][1], "Global gradient norm before and after clipping (log):"))
    return _finish(fig)


def build_belt_figure(T: int, other: str = "lstm", height: int = 350, width: int = WIDTH) -> go.Figure:
    """The memory (c_t or h_t) per unit on one sequence of length T, the deciding steps marked.
    A figure of its own (the gates are another): plotly redraws a whole figure per update, and
    the sequence slider then shows the belt after one small redraw, the gates a frame later."""
    fig = make_subplots(rows=1, cols=1, subplot_titles=_belt_titles(other)[:1])
    fig.add_trace(go.Heatmap(uid="belt_state", x=[], y=[], z=[], coloraxis="coloraxis2",
                             hovertemplate="t=%{x}<br>unit %{y}<br>%{z:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(uid="belt_keys", x=[], y=[], mode="lines", name="steps that decide the answer",
                             line=dict(color=COLORS["accent"], width=2, dash="dash"), hoverinfo="skip",
                             showlegend=False))
    _heatmap_axes(fig)
    fig.update_xaxes(title_text="time step t")
    fig.update_yaxes(title_text="unit")
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=40, t=50, b=50),
                coloraxis2=dict(colorscale=DIVERGING, cmid=0, reversescale=True,
                                colorbar=dict(title=dict(text="value", side="right"), thickness=14, len=0.9)))
    return _finish(fig)


def build_gates_figure(T: int, other: str = "lstm", height: int = 600, width: int = WIDTH) -> go.Figure:
    """The gates per unit on the belt figure's sequence: f_t i_t g_t o_t (LSTM) or z_t r_t n_t (GRU)."""
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.14, horizontal_spacing=0.08,
                        subplot_titles=_belt_titles(other)[1:])
    for i, (r, c) in enumerate(GATE_SLOTS):
        fig.add_trace(go.Heatmap(uid=f"gate_{i}", x=[], y=[], z=[], coloraxis="coloraxis3" if i != 2 else "coloraxis2",
                                 hovertemplate="t=%{x}<br>unit %{y}<br>%{z:.2f}<extra></extra>"), row=r - 1, col=c)
    _heatmap_axes(fig)
    for r, c in GATE_SLOTS:  # time labels on the bottom row only, units on the left column only
        if r == 3:
            fig.update_xaxes(title_text="time step t", row=r - 1, col=c)
        else:
            fig.update_xaxes(showticklabels=False, row=r - 1, col=c)
        if c == 1:
            fig.update_yaxes(title_text="unit", row=r - 1, col=c)
        else:
            fig.update_yaxes(showticklabels=False, row=r - 1, col=c)
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=40, t=50, b=50),
                # the candidate is a tanh in [-1, 1] (blue -1, white 0, red +1, as the belt's scale)
                coloraxis2=dict(colorscale=DIVERGING, cmin=-1, cmax=1, reversescale=True, showscale=False),
                coloraxis3=dict(colorscale=SEQUENTIAL, cmin=0, cmax=1,
                                colorbar=dict(title=dict(text="gate", side="right"), thickness=14, len=0.9)))
    return _finish(fig)


def _heatmap_axes(fig: go.Figure) -> None:
    """Heatmaps cover their grid lines, and plotly redraws every axis on every update: no grid."""
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)


def _legend(y: float, title: str) -> dict:
    return dict(orientation="h", x=0, y=y + 0.003, xanchor="left", yanchor="bottom", font=dict(size=13),
                title=dict(text=f"<b>{title}</b>", font=dict(size=15), side="left"), bgcolor="rgba(0,0,0,0)")


def trace_index(fig) -> dict[str, int]:
    """Map each trace's name tag (``meta``, set by the builder) to its position in ``fig.data``."""
    return {tr.meta: i for i, tr in enumerate(fig.data)}


def _set(fig, idx, uid, **props):
    # Each trace gets its own copy of every list: a FigureWidget silently drops a
    # list object shared by two traces in one batch update (seen in Voila).
    props = {k: (list(v) if isinstance(v, list) else v) for k, v in props.items()}
    fig.data[idx[uid]].update(**props)


def _cut_xy(cuts, lo, hi):
    """Vertical dashed lines between the steps at each cut (x = cut - 0.5)."""
    xs, ys = [], []
    for c in cuts:
        xs += [c - 0.5, c - 0.5, None]
        ys += [lo, hi, None]
    return xs, ys


def update_gradients(fig, idx, T: int, other: str, rnn_probes, other_probes, probe_steps, cuts):
    """Rows 1-3 from the probe history. ``*_probes``: lists of GradientProbe (oldest first)."""
    t = list(range(T))
    rows = ["RNN h_t", f"{MODEL_LABELS[other]} h_t", "LSTM c_t"]
    last_r = rnn_probes[-1] if rnn_probes else None
    last_o = other_probes[-1] if other_probes else None
    series = {
        "rnn_h": last_r.h_norms if last_r is not None else None,
        "other_h": last_o.h_norms if last_o is not None else None,
        "other_c": last_o.c_norms if last_o is not None else None,
    }
    for key, row in zip(("rnn_h", "other_h", "other_c"), rows):
        v = series[key]
        if v is None or (key == "other_c" and other != "lstm"):
            _set(fig, idx, f"graph_{key}", x=[], y=[], marker_color=[])
            _set(fig, idx, f"norm_{key}", x=[], y=[])
            continue
        _set(fig, idx, f"graph_{key}", x=t, y=[row] * T, marker_color=safe_log10(v, FLOOR).tolist())
        _set(fig, idx, f"norm_{key}", x=t, y=np.maximum(v, FLOOR).tolist())
    present = [r for k, r in zip(("rnn_h", "other_h", "other_c"), rows) if series[k] is not None
               and not (k == "other_c" and other != "lstm")]
    gx, gy = _cut_xy(cuts, present[0], present[-1]) if present else ([], [])
    _set(fig, idx, "graph_cuts", x=gx, y=gy)
    all_v = [p.h_norms for p in (last_r, last_o) if p is not None]
    hi = max((float(np.max(v)) for v in all_v), default=1.0)
    nx, ny = _cut_xy(cuts, FLOOR, max(hi, FLOOR) * 10)
    _set(fig, idx, "norm_cuts", x=nx, y=ny)
    for uid, probes in (("heat_rnn", rnn_probes), ("heat_other", other_probes)):
        if probes:
            z = np.stack([safe_log10(p.h_norms, FLOOR) for p in probes])  # (n_probes, T)
            _set(fig, idx, uid, x=t, y=list(probe_steps[-len(probes):]), z=z.tolist())
        else:
            _set(fig, idx, uid, x=[], y=[], z=[])


def running_mean(values, window: int = 20) -> list[float]:
    """Mean of the last ``window`` values at every step (fewer at the start); same length."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return []
    c = np.cumsum(np.insert(v, 0, 0.0))
    n = np.minimum(np.arange(1, v.size + 1), window)
    return ((c[1:] - c[np.arange(1, v.size + 1) - n]) / n).tolist()


def update_curves(fig, idx, hist_rnn, hist_other, baseline_loss: float, baseline_acc: float, clip: float | None):
    """Rows 4-5 from the two models' training histories."""
    last = max(hist_rnn.step[-1] if hist_rnn.step else 1, hist_other.step[-1] if hist_other.step else 1)
    for m, h in (("rnn", hist_rnn), ("other", hist_other)):
        # Running means are smooth: 500 points draw them (and redraw 5+ times a second while training);
        # raw gradient norms keep 1500, so that a spike stays visible.
        for uid, ys, n in ((f"loss_{m}", running_mean(h.loss), 500), (f"acc_{m}", running_mean(h.accuracy), 500),
                           (f"gn_{m}", h.grad_norm, 1500), (f"gn_after_{m}", h.grad_norm_after, 1500)):
            x, y = downsample(h.step, ys, n)
            _set(fig, idx, uid, x=x, y=y)
    _set(fig, idx, "loss_base", x=[0, last], y=[baseline_loss, baseline_loss])
    _set(fig, idx, "acc_base", x=[0, last], y=[baseline_acc, baseline_acc])
    if clip is not None:
        _set(fig, idx, "gn_threshold", x=[0, last], y=[clip, clip])
    else:
        _set(fig, idx, "gn_threshold", x=[], y=[])


def _shown_units(trace, n_units: int):
    units = trace.unit_order[:n_units]
    return units, [f"u{u}" for u in units]


def _rounded(a) -> np.ndarray:
    # numpy, rounded to 4 decimals: plotly validates an array at once (a list value by value), and
    # the message to the browser is a third as long (the hover shows 2 decimals)
    return np.round(np.asarray(a, dtype=np.float64), 4)


def update_belt(fig, idx, trace, key_steps, n_units: int = 16):
    """The belt figure from a ``GateTrace`` of one sequence: the ``n_units`` units that carry
    the remembered token (``trace.unit_order``) first, ``key_steps`` marked."""
    units, labels = _shown_units(trace, n_units)
    mem = trace.c if trace.c is not None else trace.h  # (T, H)
    _set(fig, idx, "belt_state", x=list(range(mem.shape[0])), y=labels, z=_rounded(mem[:, units].T))
    xs, ys = [], []
    for k in key_steps:
        xs += [k, k, None]
        ys += [labels[0], labels[-1], None]
    _set(fig, idx, "belt_keys", x=xs, y=ys)


def update_gates(fig, idx, trace, n_units: int = 16):
    """The gates figure: the same units as ``update_belt``."""
    units, labels = _shown_units(trace, n_units)
    names = list(trace.gates)  # "f","i","g","o" or "z","r","n"
    t = list(range(trace.h.shape[0]))
    for i in range(4):
        if i < len(names):
            _set(fig, idx, f"gate_{i}", x=t, y=labels, z=_rounded(trace.gates[names[i]][:, units].T))
        else:
            _set(fig, idx, f"gate_{i}", x=[], y=[], z=[])


def relabel(grad_fig, curves_fig, belt_fig, gates_fig, other: str) -> None:
    """Retitle subplots and rename traces when the compared model changes (LSTM <-> GRU)."""
    belt = _belt_titles(other)
    for fig, titles in ((grad_fig, _gradient_titles(other)), (belt_fig, belt[:1]), (gates_fig, belt[1:])):
        for ann, text in zip(fig.layout.annotations, [t for t in titles if t]):  # none made for ""
            ann.text = text
    o = MODEL_LABELS[other]
    for fig, pairs in ((grad_fig, (("graph_other_h", f"{o} h_t"), ("norm_other_h", f"{o} h_t"))),
                       (curves_fig, (("loss_other", o), ("acc_other", o), ("gn_other", o),
                                     ("gn_after_other", f"{o} clipped")))):
        idx = trace_index(fig)
        for uid, name in pairs:
            fig.data[idx[uid]].name = name
            fig.data[idx[uid]].line.color = COLORS[other]
    grad_fig.data[trace_index(grad_fig)["norm_other_c"]].line.color = COLORS[other]
