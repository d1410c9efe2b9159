"""The gradient-flow figures: the RNN-vs-LSTM story in five panes, each redrawn alone.

Skeletons (built once; traces tagged with ``meta``):
``build_graph_figure`` (what backpropagation measures, scatter only: the cheap pane)
  1  the unrolled network with the backward signal drawn on it (colour = log10 norm)
  2  ||dL/dh_t|| (and ||dL/dc_t||) against t, log scale
``build_heat_figure``: log10 ||dL/dh_t|| over time step (x) and training step (y), RNN | other
``build_curves_figure`` (how training goes): loss | accuracy with the task's baselines; the
  global gradient norm before and after clipping
``build_belt_figure``: c_t per unit (LSTM) or h_t per unit (GRU) on one sequence
``build_gates_figure``: the gates per unit: f_t i_t g_t o_t (LSTM) or z_t r_t n_t (GRU)

Views are pure functions returning patches (``seqviz.figures.patch``): ``graph_patch``,
``heat_patch``, ``curves_patch``, ``belt_patch``, ``gates_patch``, ``labels_patch`` (LSTM <-> GRU).
Heatmaps are the browser's slowest redraws, so they live in panes of their own, apart from
the scatter-only ``graph`` and ``curves`` panes.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import patch
from seqviz.figures.theme import COLORS, DIVERGING, MODEL_LABELS, SEQUENTIAL, apply_theme, safe_log10

FLOOR = 1e-40  # norms below this (and exact zeros) are drawn at the floor
WIDTH = 920
MARGIN = dict(l=80, r=40, t=50, b=50)
COLOR_RANGE = (-12, 1)  # log10 norm: the colour scale of the unrolled network and the heatmaps
# Points per curve (a half-width panel is ~370 px wide, the gradient-norm panel ~800 px). The browser
# redraws the curves 5 times a second on the 2 cores the training kernel uses: 350 / 800 points took
# 100-108 ms a redraw, 200 / 300 took 39-52 ms (measured in headless Chromium). Gradient norms are
# reduced to the largest value of each bin, so a spike stays visible.
CURVE_POINTS, GN_POINTS = 200, 300
GATE_SLOTS = ((1, 1), (1, 2), (2, 1), (2, 2))
GATE_TITLES = {
    "lstm": ("forget gate f_t (1 = keep)", "input gate i_t (1 = write)", "candidate g_t (blue −1 … red +1)",
             "output gate o_t"),
    "gru": ("update gate z_t (1 = keep h)", "reset gate r_t", "candidate n_t (blue −1 … red +1)",
            "(no fourth gate in a GRU)"),
}
ROWS = ("rnn_h", "other_h", "other_c")  # the unrolled network's rows, bottom to top


def _row_names(other: str) -> dict[str, str]:
    return {"rnn_h": "RNN h_t", "other_h": f"{MODEL_LABELS[other]} h_t", "other_c": "LSTM c_t"}


def _finish(fig: go.Figure) -> go.Figure:
    for tr in fig.data:  # a widget may replace uids; ``meta`` survives
        tr.meta = tr.uid
    return fig


def _legend(y: float, title: str) -> dict:
    return dict(orientation="h", x=0, y=y + 0.003, xanchor="left", yanchor="bottom", font=dict(size=13),
                title=dict(text=f"<b>{title}</b>", font=dict(size=15), side="left"), bgcolor="rgba(0,0,0,0)")


def _heatmap_axes(fig: go.Figure) -> None:
    """Heatmaps cover their grid lines, and plotly redraws every axis on every update: no grid."""
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)


def _colorbar(title: str, length: float = 0.9, y: float = 0.5) -> dict:
    return dict(title=dict(text=title, side="right"), thickness=14, len=length, y=y, yanchor="middle")


# -- skeletons -----------------------------------------------------------------------------
NORMS_TITLE = "Gradient reaching each step (log)"


def build_graph_figure(T: int, other: str = "lstm", height: int = 560, width: int = WIDTH) -> go.Figure:
    """The unrolled network with the backward signal on it (one cell per state and step: a
    heatmap strip, which the browser redraws in a third of the time 300 circles take), and the
    per-step norms."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.3, 0.7], vertical_spacing=0.2,
                        subplot_titles=["Backward signal on the unrolled network (colour: log10 of the gradient norm)",
                                        ""])
    names = _row_names(other)
    fig.add_trace(go.Heatmap(uid="graph_net", x=[], y=[], z=[], coloraxis="coloraxis", xgap=1, ygap=6,
                             customdata=[], hovertemplate="t=%{x}<br>log10 norm=%{z:.1f}<extra>%{customdata}</extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(uid="graph_cuts", x=[], y=[], mode="lines", name="truncation cut",
                             line=dict(color=COLORS["accent"], width=3, dash="dash"), showlegend=False,
                             hoverinfo="skip"), row=1, col=1)
    for key, color, dash in (("rnn_h", COLORS["rnn"], "solid"), ("other_h", COLORS[other], "solid"),
                             ("other_c", COLORS[other], "dot")):
        fig.add_trace(go.Scatter(uid=f"norm_{key}", x=[], y=[], mode="lines", name=names[key],
                                 line=dict(color=color, width=3, dash=dash)), row=2, col=1)
    fig.add_trace(go.Scatter(uid="norm_cuts", x=[], y=[], mode="lines", name="cut",
                             line=dict(color=COLORS["accent"], width=2, dash="dash"), hoverinfo="skip"), row=2, col=1)
    fig.update_xaxes(title_text="time step t", range=[-1, T])
    fig.update_xaxes(showgrid=False, zeroline=False, row=1, col=1)
    fig.update_yaxes(showgrid=False, zeroline=False, tickmode="array", tickvals=[], ticktext=[], range=[-0.5, 2.5],
                     row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", nticks=8, title_text="norm", row=2, col=1)
    doms = [fig.get_subplot(r, 1).yaxis.domain for r in (1, 2)]
    apply_theme(fig, height=height, width=width, margin=dict(MARGIN, l=90), legend=_legend(doms[1][1], NORMS_TITLE + ":"),
                coloraxis=dict(colorscale=SEQUENTIAL, cmin=COLOR_RANGE[0], cmax=COLOR_RANGE[1],
                               colorbar=_colorbar("log10", doms[0][1] - doms[0][0] + 0.05, sum(doms[0]) / 2)))
    return _finish(fig)


def _heat_titles(other: str) -> list[str]:
    return ["RNN: log10 ||dL/dh_t|| over training", f"{MODEL_LABELS[other]}: log10 ||dL/dh_t|| over training"]


def build_heat_figure(T: int, other: str = "lstm", height: int = 400, width: int = WIDTH) -> go.Figure:
    """log10 ||dL/dh_t|| over time step and training step, one heatmap per model."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=_heat_titles(other))
    for col, uid in ((1, "heat_rnn"), (2, "heat_other")):
        fig.add_trace(go.Heatmap(uid=uid, x=[], y=[], z=[], showscale=col == 1, coloraxis="coloraxis",
                                 hovertemplate="t=%{x}<br>training step %{y}<br>log10 norm=%{z:.1f}<extra></extra>"),
                      row=1, col=col)
    _heatmap_axes(fig)
    fig.update_xaxes(title_text="time step t", range=[-0.5, T - 0.5])
    fig.update_yaxes(title_text="training step", row=1, col=1)
    apply_theme(fig, height=height, width=width, margin=MARGIN,
                coloraxis=dict(colorscale=SEQUENTIAL, cmin=COLOR_RANGE[0], cmax=COLOR_RANGE[1],
                               colorbar=_colorbar("log10 norm")))
    return _finish(fig)


def curves_title(window: int) -> str:
    return f"Loss (log) and accuracy, mean of the last {window} steps (faint: each step)"


BASELINE_DASH = ("dash", "dashdot", "dot")  # the task's baselines: input-blind first, then the others


def build_curves_figure(other: str = "lstm", height: int = 660, width: int = WIDTH, window: int = 50) -> go.Figure:
    """Loss and accuracy (running means over ``window`` steps, each step's value faint behind) with
    the task's baselines, and the gradient norm before/after clipping, for the RNN and ``other``."""
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]], vertical_spacing=0.2,
                        horizontal_spacing=0.1)
    o = MODEL_LABELS[other]
    for col, kind in ((1, "loss"), (2, "acc")):  # (the faint each-step traces first: the means draw over them)
        for m in ("rnn", "other"):
            color = COLORS["rnn" if m == "rnn" else other]
            fig.add_trace(go.Scatter(uid=f"{kind}_{m}_raw", x=[], y=[], mode="lines", name="each step",
                                     legendgroup=m, showlegend=False, opacity=0.3, hoverinfo="skip",
                                     line=dict(color=color, width=1)), row=1, col=col)
        for m in ("rnn", "other"):
            fig.add_trace(go.Scatter(uid=f"{kind}_{m}", x=[], y=[], mode="lines", name="RNN" if m == "rnn" else o,
                                     legendgroup=m, showlegend=kind == "loss",
                                     line=dict(color=COLORS["rnn" if m == "rnn" else other], width=2.5)),
                          row=1, col=col)
        # the baselines are named at their right end (the legend has no room for long names)
        fig.add_trace(go.Scatter(uid=f"{kind}_base", x=[], y=[], mode="lines+text", name="input-blind baseline",
                                 showlegend=False, textposition="top left", textfont=dict(size=12, color="#555555"),
                                 line=dict(color=COLORS["baseline"], width=2, dash=BASELINE_DASH[0])), row=1, col=col)
    for i, dash in enumerate(BASELINE_DASH[1:], start=2):
        fig.add_trace(go.Scatter(uid=f"loss_base_{i}", x=[], y=[], mode="lines+text", name="", showlegend=False,
                                 textposition="bottom left", textfont=dict(size=12, color="#333333"),
                                 line=dict(color=COLORS["black"], width=1.5, dash=dash)), row=1, col=1)
    for m in ("rnn", "other"):
        c = COLORS["rnn" if m == "rnn" else other]
        name = "RNN" if m == "rnn" else o
        fig.add_trace(go.Scatter(uid=f"gn_{m}", x=[], y=[], mode="lines", name=name, legend="legend2",
                                 line=dict(color=c, width=1.5)), row=2, col=1)
        fig.add_trace(go.Scatter(uid=f"gn_after_{m}", x=[], y=[], mode="lines", name=f"{name} clipped",
                                 legend="legend2", line=dict(color=c, width=2.5, dash="dot")), row=2, col=1)
    fig.add_trace(go.Scatter(uid="gn_threshold", x=[], y=[], mode="lines", name="threshold", legend="legend2",
                             line=dict(color=COLORS["black"], width=1.5, dash="dash")), row=2, col=1)
    fig.update_yaxes(type="log", exponentformat="power", nticks=4, title_text="loss", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], title_text="accuracy", row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", nticks=6, title_text="norm", row=2, col=1)
    for r, c in ((1, 1), (1, 2), (2, 1)):
        fig.update_xaxes(title_text="training step", row=r, col=c)
    doms = [fig.get_subplot(r, 1).yaxis.domain for r in (1, 2)]
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=40, t=60, b=50),
                legend=_legend(doms[0][1], curves_title(window) + ":"),
                legend2=_legend(doms[1][1], "Global gradient norm before and after clipping (log):"))
    return _finish(fig)


def _belt_title(other: str) -> str:
    return "LSTM cell state c_t per unit (the conveyor belt)" if other == "lstm" else "GRU hidden state h_t per unit"


def build_belt_figure(T: int, other: str = "lstm", height: int = 350, width: int = WIDTH) -> go.Figure:
    """The memory (c_t or h_t) per unit on one sequence of length T, the deciding steps marked.
    A figure of its own (the gates are another): the sequence slider then shows the belt after one
    small redraw, the gates a frame later."""
    fig = make_subplots(rows=1, cols=1, subplot_titles=[_belt_title(other)])
    fig.add_trace(go.Heatmap(uid="belt_state", x=[], y=[], z=[], coloraxis="coloraxis2",
                             hovertemplate="t=%{x}<br>unit %{y}<br>%{z:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(uid="belt_keys", x=[], y=[], mode="lines", name="steps that decide the answer",
                             line=dict(color=COLORS["accent"], width=2, dash="dash"), hoverinfo="skip",
                             showlegend=False))
    _heatmap_axes(fig)
    fig.update_xaxes(title_text="time step t", range=[-0.5, T - 0.5])
    fig.update_yaxes(title_text="unit")
    apply_theme(fig, height=height, width=width, margin=MARGIN,
                coloraxis2=dict(colorscale=DIVERGING, cmid=0, reversescale=True, colorbar=_colorbar("value")))
    return _finish(fig)


def build_gates_figure(T: int, other: str = "lstm", height: int = 600, width: int = WIDTH) -> go.Figure:
    """The gates per unit on the belt figure's sequence: f_t i_t g_t o_t (LSTM) or z_t r_t n_t (GRU)."""
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.14, horizontal_spacing=0.08,
                        subplot_titles=GATE_TITLES[other])
    for i, (r, c) in enumerate(GATE_SLOTS):
        fig.add_trace(go.Heatmap(uid=f"gate_{i}", x=[], y=[], z=[], coloraxis="coloraxis3" if i != 2 else "coloraxis2",
                                 hovertemplate="t=%{x}<br>unit %{y}<br>%{z:.2f}<extra></extra>"), row=r, col=c)
    _heatmap_axes(fig)
    fig.update_xaxes(range=[-0.5, T - 0.5])
    for r, c in GATE_SLOTS:  # time labels on the bottom row only, units on the left column only
        if r == 2:
            fig.update_xaxes(title_text="time step t", row=r, col=c)
        else:
            fig.update_xaxes(showticklabels=False, row=r, col=c)
        if c == 1:
            fig.update_yaxes(title_text="unit", row=r, col=c)
        else:
            fig.update_yaxes(showticklabels=False, row=r, col=c)
    apply_theme(fig, height=height, width=width, margin=MARGIN,
                # the candidate is a tanh in [-1, 1] (blue -1, white 0, red +1, as the belt's scale)
                coloraxis2=dict(colorscale=DIVERGING, cmin=-1, cmax=1, reversescale=True, showscale=False),
                coloraxis3=dict(colorscale=SEQUENTIAL, cmin=0, cmax=1, colorbar=_colorbar("gate")))
    return _finish(fig)


SKELETONS = {"graph": build_graph_figure, "heat": build_heat_figure, "belt": build_belt_figure,
             "gates": build_gates_figure}


def build_figures(T: int, other: str = "lstm", window: int = 50) -> dict[str, go.Figure]:
    """Every pane's skeleton: graph, heat, curves (running means over ``window`` steps), belt, gates."""
    figs = {k: f(T, other) for k, f in SKELETONS.items()}
    figs["curves"] = build_curves_figure(other, window=window)
    return {k: figs[k] for k in ("graph", "heat", "curves", "belt", "gates")}


# -- views (pure: data -> patch) --------------------------------------------------------------
def _cut_xy(cuts, lo, hi):
    """Vertical dashed lines between the steps at each cut (x = cut - 0.5)."""
    xs, ys = [], []
    for c in cuts:
        xs += [c - 0.5, c - 0.5, None]
        ys += [lo, hi, None]
    return xs, ys


def axes_patch(T: int) -> dict:
    """The time axis of every pane for sequences of length T (cheap: drawn first on a new T)."""
    return {"graph": patch(layout={"xaxis": {"range": [-1, T]}, "xaxis2": {"range": [-1, T]}}),
            "heat": patch(layout={"xaxis": {"range": [-0.5, T - 0.5]}, "xaxis2": {"range": [-0.5, T - 0.5]}}),
            "belt": patch(layout={"xaxis": {"range": [-0.5, T - 0.5]}}),
            "gates": patch(layout={f"xaxis{i if i > 1 else ''}": {"range": [-0.5, T - 0.5]} for i in range(1, 5)})}


def graph_patch(T: int, other: str, probe_rnn, probe_other, cuts, title: str = NORMS_TITLE) -> dict:
    """The unrolled network and the per-step norms from one ``GradientProbe`` per model (None: empty).
    ``title`` heads the norms' legend (e.g. which training step the probe belongs to)."""
    t = np.arange(T)
    names = _row_names(other)
    series = {"rnn_h": probe_rnn.h_norms if probe_rnn is not None else None,
              "other_h": probe_other.h_norms if probe_other is not None else None,
              "other_c": probe_other.c_norms if probe_other is not None and other == "lstm" else None}
    present = [k for k in ROWS if series[k] is not None]
    traces = {}
    for key in ROWS:
        v = series[key]
        traces[f"norm_{key}"] = ({"x": [], "y": []} if v is None else
                                 {"x": t, "y": np.maximum(np.asarray(v, dtype=float), FLOOR)})
    if present:
        z = np.round(np.stack([safe_log10(series[k], FLOOR) for k in present]), 3)  # (rows, T)
        labels = [names[k] for k in present]
        traces["graph_net"] = {"x": t, "y": np.arange(len(present)), "z": z,
                               "customdata": np.array([[lab] * T for lab in labels], dtype=object)}
    else:
        labels = []
        traces["graph_net"] = {"x": [], "y": [], "z": [], "customdata": []}
    gx, gy = _cut_xy(cuts, -0.5, len(present) - 0.5)
    traces["graph_cuts"] = {"x": gx, "y": gy}
    top = _color_top(traces["graph_net"]["z"])
    finite = [np.asarray(v, dtype=float) for v in series.values() if v is not None]
    hi = max((float(np.max(v[np.isfinite(v)], initial=FLOOR)) for v in finite), default=1.0)
    nx, ny = _cut_xy(cuts, FLOOR, max(hi, FLOOR) * 10)
    traces["norm_cuts"] = {"x": nx, "y": ny}
    return patch(traces, {"legend": {"title": {"text": f"<b>{title}:</b>"}},
                          "yaxis": {"tickvals": list(range(len(labels))), "ticktext": labels,
                                    "range": [-0.5, max(len(labels), 1) - 0.5]},
                          "coloraxis": {"cmax": top}})


def _color_top(z) -> float:
    """Top of the log10 colour scale: 1, or up to 10 when gradients grow larger (exploding; a
    diverged read-out's 1e38 would squeeze everything else into one colour)."""
    z = np.asarray(z, dtype=float)
    return float(min(max(COLOR_RANGE[1], np.ceil(np.nanmax(z))), 10)) if z.size else float(COLOR_RANGE[1])


def cuts_patch(cuts, rows: int, hi: float) -> dict:
    """Only the truncation cut lines, up to ``hi`` in the norms panel (cheap: drawn before the new
    per-step norms are measured)."""
    gx, gy = _cut_xy(cuts, -0.5, rows - 0.5)
    nx, ny = _cut_xy(cuts, FLOOR, max(hi, FLOOR) * 10)
    return patch({"graph_cuts": {"x": gx, "y": gy}, "norm_cuts": {"x": nx, "y": ny}})


def heat_patch(T: int, rnn_probes, other_probes, steps) -> dict:
    """The heatmaps from the probe history (oldest first; ``steps`` the training step of each)."""
    t = np.arange(T)
    traces = {}
    for uid, probes in (("heat_rnn", rnn_probes), ("heat_other", other_probes)):
        n = min(len(probes), len(steps))
        if n:
            z = np.round(np.stack([safe_log10(p.h_norms, FLOOR) for p in probes[-n:]]), 2)  # (n_probes, T)
            traces[uid] = {"x": t, "y": np.asarray(steps[-n:]), "z": z}
        else:
            traces[uid] = {"x": [], "y": [], "z": []}
    # training steps from the first probe to the last (plotly would pad half a row below step 0);
    # one row: its own step as the only tick
    if len(steps) > 1:
        y = {"range": [float(steps[0]), float(steps[-1])], "autorange": False, "tickmode": "auto"}
    elif len(steps) == 1:
        y = {"range": [steps[0] - 0.5, steps[0] + 0.5], "autorange": False, "tickmode": "array",
             "tickvals": [steps[0]]}
    else:
        y = {"autorange": True, "tickmode": "auto"}
    tops = [_color_top(t["z"]) for t in traces.values() if len(t["z"])]
    return patch(traces, {"yaxis": y, "yaxis2": dict(y), "coloraxis": {"cmax": max(tops, default=COLOR_RANGE[1])}})


def _xy(h, name: str, upto: int | None, window: int | None, n: int, peaks: bool = False):
    """Training step and ``name`` (its running mean over ``window`` steps if given) of a ``History``,
    rows up to step ``upto``, at most ``n`` points: evenly spaced (always the last), or with ``peaks``
    the largest value of each of ``n`` bins. Numpy arrays, which plotly validates at once (a list it
    checks value by value)."""
    x = h.step
    y = h.running_mean(name, window) if window else h.column(name)
    m = min(len(x), len(y))  # (read while a training thread adds rows: one length for both)
    x, y = x[:m], y[:m]
    if upto is not None:
        keep = x <= upto
        x, y = x[keep], y[keep]
    if len(x) > n:
        k = math.ceil(len(x) / n)
        if peaks:
            m = len(x) // k * k
            bins = np.where(np.isfinite(y[:m]), y[:m], -np.inf).reshape(-1, k)
            idx = np.arange(0, m, k) + bins.argmax(axis=1)
            idx = np.append(idx, np.arange(m, len(x)))  # the last, partial bin as it is
        else:
            idx = np.arange(0, len(x), k)
            if idx[-1] != len(x) - 1:
                idx = np.append(idx, len(x) - 1)
        x, y = x[idx], y[idx]
    return x, y


def curves_patch(hist_rnn, hist_other, baselines, baseline_acc: float, clip: float | None,
                 window: int = 50, upto: int | None = None) -> dict:
    """Loss and accuracy (running means over ``window`` steps, bold; each step's value faint), raw
    gradient norms, the task's ``baselines`` [(name, loss)] (input-blind first) and the clipping
    threshold; only the rows up to training step ``upto`` when given (the timeline)."""
    traces = {}
    for m, h in (("rnn", hist_rnn), ("other", hist_other)):
        for uid, name, w, n in ((f"loss_{m}", "loss", window, CURVE_POINTS), (f"acc_{m}", "accuracy", window, CURVE_POINTS),
                                (f"loss_{m}_raw", "loss", None, CURVE_POINTS), (f"acc_{m}_raw", "accuracy", None, CURVE_POINTS),
                                (f"gn_{m}", "grad_norm", None, GN_POINTS),
                                (f"gn_after_{m}", "grad_norm_after", None, GN_POINTS)):
            x, y = (_xy(h, name, upto, w, n, peaks=name.startswith("grad_norm")) if len(h.column(name))
                    else ([], []))
            traces[uid] = {"x": x, "y": y}
    steps = [float(h.step[-1]) for h in (hist_rnn, hist_other) if len(h)]
    last = max([1.0, *steps]) if upto is None else max(1.0, float(upto))
    baselines = list(baselines)
    for i, uid in enumerate(["loss_base"] + [f"loss_base_{k}" for k in range(2, len(BASELINE_DASH) + 1)]):
        if i < len(baselines):
            name, value = baselines[i]
            traces[uid] = {"x": [0, last], "y": [value, value], "name": f"{name} {value:.3g}",
                           "text": ["", f"{name} {value:.3g}"]}
        else:
            traces[uid] = {"x": [], "y": [], "text": []}
    traces["acc_base"] = {"x": [0, last], "y": [baseline_acc, baseline_acc], "text": ["", f"input-blind {baseline_acc:.3g}"]}
    traces["gn_threshold"] = {"x": [0, last], "y": [clip, clip]} if clip is not None else {"x": [], "y": []}
    return patch(traces)


def _shown_units(trace, n_units: int):
    units = trace.unit_order[:n_units]
    return units, [f"u{u}" for u in units]


def _rounded(a) -> np.ndarray:
    # numpy, rounded to 4 decimals: plotly validates an array at once (a list value by value), and
    # the message to the browser is a third as long (the hover shows 2 decimals)
    return np.round(np.asarray(a, dtype=np.float64), 4)


def belt_patch(trace, key_steps, n_units: int = 16) -> dict:
    """The belt from a ``GateTrace`` of one sequence: the ``n_units`` units that carry the
    remembered token (``trace.unit_order``) first, ``key_steps`` marked."""
    units, labels = _shown_units(trace, n_units)
    mem = trace.c if trace.c is not None else trace.h  # (T, H)
    xs, ys = [], []
    for k in key_steps:
        xs += [k, k, None]
        ys += [labels[0], labels[-1], None]
    return patch({"belt_state": {"x": np.arange(mem.shape[0]), "y": labels, "z": _rounded(mem[:, units].T)},
                  "belt_keys": {"x": xs, "y": ys}})


def gates_patch(trace, n_units: int = 16) -> dict:
    """The gates, for the same units as ``belt_patch``."""
    units, labels = _shown_units(trace, n_units)
    names = list(trace.gates)  # "f","i","g","o" or "z","r","n"
    t = np.arange(trace.h.shape[0])
    traces = {}
    for i in range(4):
        traces[f"gate_{i}"] = ({"x": t, "y": labels, "z": _rounded(trace.gates[names[i]][:, units].T)}
                               if i < len(names) else {"x": [], "y": [], "z": []})
    return patch(traces)


@functools.lru_cache(maxsize=None)
def _titles(pane: str, other: str) -> tuple:
    """The subplot titles (annotations) of a pane's skeleton for ``other`` (built once)."""
    fig = SKELETONS[pane](100, other)
    return tuple(a.to_plotly_json() for a in fig.layout.annotations)


def labels_patch(other: str) -> dict[str, dict]:
    """Titles, trace names and colours for the model beside the RNN ("lstm" or "gru"), per pane."""
    o, c = MODEL_LABELS[other], COLORS[other]
    names = _row_names(other)
    out = {pane: patch(layout={"annotations": [dict(a) for a in _titles(pane, other)]})
           for pane in ("heat", "belt", "gates")}
    out["graph"] = patch({"norm_other_h": {"name": names["other_h"], "line": {"color": c}},
                          "norm_other_c": {"line": {"color": c}}})
    out["curves"] = patch({"loss_other": {"name": o, "line": {"color": c}}, "acc_other": {"name": o, "line": {"color": c}},
                           "loss_other_raw": {"line": {"color": c}}, "acc_other_raw": {"line": {"color": c}},
                           "gn_other": {"name": o, "line": {"color": c}},
                           "gn_after_other": {"name": f"{o} clipped", "line": {"color": c}}})
    return out


def markers_patch(events, upto: int | None = None) -> dict:
    """Dotted vertical lines at the training steps where a training setting changed, in the loss
    panel (labelled) and the gradient-norm panel: ``events`` [(step, text)] oldest first, those after
    ``upto`` left out. The newest comes first in ``shapes``."""
    shapes = []
    for step, text in reversed(list(events)):
        if upto is not None and step > upto:
            continue
        for xref, yref, label in (("x", "y domain", text), ("x3", "y3 domain", "")):
            shapes.append(dict(type="line", x0=step, x1=step, xref=xref, yref=yref, y0=0, y1=0.97, name="setting",
                               line=dict(color="#555555", width=1.2, dash="dot"),
                               label=dict(text=label, textposition="end", textangle=0, yanchor="top",
                                          xanchor="left", padding=4, font=dict(size=12, color="#333333"))))
    return patch(layout={"shapes": shapes})
