"""The gradient-flow view of a student's own model: three panes, each redrawn alone.

Skeletons (built once; traces tagged with ``meta``):
``build_norms_figure``: ||dL/dh_t|| (and ||dL/dc_t||) of the probe batch against t, log scale
``build_heat_figure``: log10 ||dL/dh_t|| over time step (x) and training step (y), one row per probe
``build_loss_figure``: the training loss, each step faint and its running mean bold

Views are pure functions returning patches (``seqviz.figures.patch``): ``norms_patch``,
``heat_patch``, ``loss_patch``. They read ``seqviz.yours.gradients.YourGradients`` results and a
``seqviz.training.History``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from seqviz.figures.gradflow import COLOR_RANGE, CURVE_POINTS, FLOOR, _color_top, _xy
from seqviz.figures.patch import patch
from seqviz.figures.theme import COLORS, SEQUENTIAL, apply_theme, safe_log10

WIDTH = 760
NORMS_TITLE = "Gradient reaching each step of the probe batch (log)"
KIND_LABEL = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN", "marks": "your cell"}


def _finish(fig: go.Figure) -> go.Figure:
    for tr in fig.data:  # a widget may replace uids; ``meta`` survives
        tr.meta = tr.uid
    return fig


def _legend(title: str) -> dict:
    return dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom", font=dict(size=13),
                title=dict(text=f"<b>{title}</b>", font=dict(size=14), side="top"), bgcolor="rgba(0,0,0,0)")


def log_dtick(*arrays) -> int | str:
    """The tick spacing of a log axis over the positive values of ``arrays``: whole decades, at most
    about 6 labels (e.g. every 7th decade over 40), or "D2" (1, 2, 5 in each decade) over less than
    2.5 decades; plotly's own choice labels every digit of a short range, and 2 and 5 of a long one,
    where they overlap the powers of ten."""
    v = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.zeros(0)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return "D2"
    span = float(np.log10(v.max()) - np.log10(v.min()))
    return "D2" if span < 2.5 else int(np.ceil(span / 6))


def build_norms_figure(kind: str = "lstm", height: int = 380, width: int = WIDTH) -> go.Figure:
    """||dL/dh_t|| and, for an LSTM (or marked c_t), ||dL/dc_t|| against t (log y)."""
    color = COLORS.get(kind, COLORS["lstm"])
    fig = go.Figure([
        go.Scatter(uid="norm_h", x=[], y=[], mode="lines+markers", name="||dL/dh_t||",
                   line=dict(color=color, width=3), marker=dict(size=5)),
        go.Scatter(uid="norm_c", x=[], y=[], mode="lines", name="||dL/dc_t||",
                   line=dict(color=color, width=3, dash="dot")),
    ])
    fig.update_xaxes(title_text="time step t")
    fig.update_yaxes(type="log", exponentformat="power", nticks=8, title_text="norm")
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=30, t=90, b=50), showlegend=True,
                legend=_legend(NORMS_TITLE + ":"))
    return _finish(fig)


def norms_patch(probe, step: int | None = None, where: str = "") -> dict:
    """The per-step norms of one probe (None: empty); ``step``: the training step (updates made) the
    probe belongs to, said in the legend's title with ``where`` (which layer). Norms below ``FLOOR``
    (and exact zeros) are drawn at the floor."""
    if probe is None:
        return patch({"norm_h": {"x": [], "y": []}, "norm_c": {"x": [], "y": []}})
    h = np.maximum(np.nan_to_num(np.asarray(probe.h_norms, dtype=float), nan=FLOOR), FLOOR)
    traces = {"norm_h": {"x": np.arange(len(h)), "y": h}}
    if probe.c_norms is not None:
        c = np.maximum(np.nan_to_num(np.asarray(probe.c_norms, dtype=float), nan=FLOOR), FLOOR)
        traces["norm_c"] = {"x": np.arange(len(c)), "y": c, "visible": True}
    else:
        traces["norm_c"] = {"x": [], "y": [], "visible": False}  # (no legend entry without a cell state)
    bits = [NORMS_TITLE]
    if where:
        bits.append(where)
    if step is not None:
        bits.append(f"after {step} update{'s' if step != 1 else ''}")
    shown = [t["y"] for t in traces.values() if len(t["y"])]
    return patch(traces, {"legend": {"title": {"text": f"<b>{', '.join(bits)}:</b>"}},
                          "yaxis": {"dtick": log_dtick(*shown)}})


def build_heat_figure(height: int = 360, width: int = WIDTH) -> go.Figure:
    """log10 ||dL/dh_t|| over time step and training step."""
    fig = go.Figure([go.Heatmap(uid="heat", x=[], y=[], z=[], coloraxis="coloraxis",
                                hovertemplate="t=%{x}<br>after %{y} updates<br>log10 norm=%{z:.1f}<extra></extra>")])
    fig.update_xaxes(title_text="time step t", showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="updates made", showgrid=False, zeroline=False)
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=30, t=60, b=50),
                title=dict(text="log10 ||dL/dh_t|| over training", x=0, font=dict(size=16)),
                coloraxis=dict(colorscale=SEQUENTIAL, cmin=COLOR_RANGE[0], cmax=COLOR_RANGE[1],
                               colorbar=dict(title=dict(text="log10 norm", side="right"), thickness=14)))
    return _finish(fig)


def heat_patch(probes, steps) -> dict:
    """The heatmap from a probe history (oldest first; ``steps`` the updates made before each). A
    probe shorter than the longest (another length of probe batch) is padded with gaps."""
    n = min(len(probes), len(steps))
    if not n:
        return patch({"heat": {"x": [], "y": [], "z": []}}, {"yaxis": {"autorange": True}})
    rows = [safe_log10(p.h_norms, FLOOR) for p in probes[-n:]]
    T = max(len(r) for r in rows)
    z = np.full((n, T), np.nan)
    for i, r in enumerate(rows):
        z[i, :len(r)] = r
    z = np.round(z, 2)  # (n_probes, T)
    s = [int(v) for v in steps[-n:]]
    if n > 1:
        y = {"range": [s[0], s[-1]], "autorange": False, "tickmode": "auto"}
    else:
        y = {"range": [s[0] - 0.5, s[0] + 0.5], "autorange": False, "tickmode": "array", "tickvals": [s[0]]}
    return patch({"heat": {"x": np.arange(T), "y": np.asarray(s), "z": z}},
                 {"yaxis": y, "xaxis": {"range": [-0.5, T - 0.5]}, "coloraxis": {"cmax": _color_top(z)}})


def loss_title(window: int) -> str:
    return f"Training loss, mean of the last {window} steps (faint: each step)"


def build_loss_figure(window: int = 20, height: int = 320, width: int = WIDTH) -> go.Figure:
    fig = go.Figure([
        go.Scatter(uid="loss_raw", x=[], y=[], mode="lines", name="each step", opacity=0.3, hoverinfo="skip",
                   line=dict(color=COLORS["black"], width=1)),
        go.Scatter(uid="loss", x=[], y=[], mode="lines", name=f"mean of the last {window}",
                   line=dict(color=COLORS["rnn"], width=2.5)),
    ])
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="loss", exponentformat="power")
    apply_theme(fig, height=height, width=width, margin=dict(l=80, r=30, t=80, b=50), showlegend=True,
                legend=_legend(loss_title(window) + ":"))
    return _finish(fig)


def loss_patch(history, window: int = 20, upto: int | None = None) -> dict:
    """Each step's loss and its running mean over ``window`` steps, rows up to step ``upto`` when
    given; the y axis is logarithmic while every loss is positive, linear otherwise."""
    if not len(history):
        return patch({"loss": {"x": [], "y": []}, "loss_raw": {"x": [], "y": []}},
                     {"yaxis": {"type": "linear", "dtick": None}})
    x, y = _xy(history, "loss", upto, window, CURVE_POINTS)
    xr, yr = _xy(history, "loss", upto, None, CURVE_POINTS)
    finite = yr[np.isfinite(yr)]
    log = bool(len(finite)) and bool(np.all(finite > 0))
    return patch({"loss": {"x": x, "y": y}, "loss_raw": {"x": xr, "y": yr}},
                 {"yaxis": {"type": "log", "dtick": log_dtick(finite)} if log else {"type": "linear", "dtick": None}})
