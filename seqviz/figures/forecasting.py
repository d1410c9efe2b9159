"""Figures of lesson 00 (forecasting one series): skeletons built once, pure ``data -> patch`` builders.

| pane | shows |
| --- | --- |
| ``series`` | the series, the test period, the lag window and its next value, one-step forecasts over the test period, free-running forecasts from the window, the walk-forward fold being shown |
| ``split`` | which targets each validation fold trains on and predicts: walk-forward folds, then random-split folds |
| ``scores`` | test-period RMSE of every method under holdout, walk-forward and random split |
| ``errors`` | training loss of the GRU and TCN; |error| of every method over the test period |
| ``horizon`` | RMSE against the horizon: fed its own predictions (free-running) or the true past (teacher forcing) |
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import patch
from seqviz.figures.theme import COLORS, apply_theme

METHODS = ("persistence", "seasonal", "ar", "gru", "tcn")
LABELS = {"persistence": "persistence", "seasonal": "seasonal naive", "ar": "linear AR", "gru": "GRU",
          "tcn": "TCN"}
COLOR = {"persistence": COLORS["baseline"], "seasonal": COLORS["sky"], "ar": COLORS["accent"],
         "gru": COLORS["gru"], "tcn": COLORS["tcn"]}
SPLITS = ("holdout", "walk", "random")
SPLIT_LABELS = {"holdout": "holdout (fitted once on the training part)", "walk": "walk-forward",
                "random": "random split (shuffled windows)"}
SPLIT_COLOR = {"holdout": "#999999", "walk": COLORS["lstm"], "random": COLORS["rnn"]}
HIDDEN_AT_FIRST = ("persistence", "seasonal")  # their forecasts are the series shifted: legend click shows them
MAX_COLUMNS = 500  # the split diagram shows at most this many targets (evenly spaced)
TRAIN, PREDICT, UNUSED = 1, 2, 0
LOSS_WINDOW = 20  # training steps in the loss curves' running mean (said in the legend)


def _legend_top(**kw) -> dict:
    return {**dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0), **kw}


# -- series ------------------------------------------------------------------------------------
def series_skeleton() -> go.Figure:
    traces = [go.Scatter(x=[], y=[], meta="series", name="series", mode="lines",
                         line=dict(color="#222", width=1.5))]
    for k in METHODS:
        vis = "legendonly" if k in HIDDEN_AT_FIRST else True
        traces.append(go.Scatter(x=[], y=[], meta=f"pred_{k}", name=LABELS[k], mode="lines", legendgroup=k,
                                 visible=vis, line=dict(color=COLOR[k], width=2)))
        traces.append(go.Scatter(x=[], y=[], meta=f"path_{k}", name=f"{LABELS[k]}, free-running",
                                 mode="lines+markers", legendgroup=k, showlegend=False, visible=vis,
                                 line=dict(color=COLOR[k], width=2, dash="dot"), marker=dict(size=5)))
    traces.append(go.Scatter(x=[], y=[], meta="window", name="window (inputs)", mode="markers",
                             marker=dict(color=COLORS["accent"], size=9, line=dict(color="#000", width=1))))
    traces.append(go.Scatter(x=[], y=[], meta="target", name="next value (target)", mode="markers",
                             marker=dict(color="#000", size=14, symbol="star")))
    fig = go.Figure(traces)
    return apply_theme(fig, height=430, width=960, xaxis_title="time", yaxis_title="value",
                       margin=dict(l=70, r=20, t=90, b=50), legend=_legend_top(font=dict(size=13)))


def series_patch(time, values, time_label: str, unit: str) -> dict:
    return patch({"series": {"x": np.asarray(time), "y": np.asarray(values)}},
                 {"xaxis": {"title": {"text": time_label}, "autorange": True},
                  "yaxis": {"title": {"text": unit}, "autorange": True}})


def window_patch(time, values, t: int, w: int) -> dict:
    """The w inputs x_(t-w)..x_(t-1) and the target x_t."""
    time, values = np.asarray(time), np.asarray(values)
    return patch({"window": {"x": time[t - w:t], "y": values[t - w:t]},
                  "target": {"x": time[t:t + 1], "y": values[t:t + 1]}})


def predictions_patch(time_test, preds: dict) -> dict:
    """One-step forecasts over the test period, per method (NaN: not predicted yet)."""
    return patch({f"pred_{k}": {"x": np.asarray(time_test), "y": np.asarray(p, dtype=float)}
                  for k, p in preds.items()})


def paths_patch(time, paths: dict) -> dict:
    """Free-running forecasts: method -> (target indices, values)."""
    time = np.asarray(time)
    return patch({f"path_{k}": {"x": time[idx], "y": np.asarray(v, dtype=float)} for k, (idx, v) in paths.items()})


def _edge(time, i: int) -> float:
    """x of the boundary just before sample i (half a step earlier)."""
    time = np.asarray(time, dtype=float)
    step = time[1] - time[0] if len(time) > 1 else 1.0
    i = int(min(max(i, 0), len(time)))
    return float(time[i] - step / 2) if i < len(time) else float(time[-1] + step / 2)


def series_shapes(time, test_start: int, t: int, w: int, fold: tuple[int, int, int, int] | None = None) -> dict:
    """Layout shapes: the test period, the window, and (optionally) the walk-forward fold shown:
    ``fold`` = (first trained target, last trained target + 1, first predicted, last predicted + 1)."""
    shapes = [dict(type="rect", xref="x", yref="paper", x0=_edge(time, test_start), x1=_edge(time, len(time)),
                   y0=0, y1=1, fillcolor="rgba(0,0,0,0.06)", line=dict(width=0), layer="below"),
              dict(type="rect", xref="x", yref="paper", x0=_edge(time, t - w), x1=_edge(time, t + 1), y0=0, y1=1,
                   fillcolor="rgba(230,159,0,0.18)", line=dict(color=COLORS["accent"], width=1), layer="below")]
    if fold is not None:
        a, b, c, d = fold
        shapes += [dict(type="rect", xref="x", yref="paper", x0=_edge(time, a), x1=_edge(time, b), y0=0, y1=0.04,
                        fillcolor=COLORS["lstm"], line=dict(width=0)),
                   dict(type="rect", xref="x", yref="paper", x0=_edge(time, c), x1=_edge(time, d), y0=0, y1=0.04,
                        fillcolor=COLORS["rnn"], line=dict(width=0))]
    ann = [dict(text="test period", xref="x", yref="paper", x=_edge(time, test_start), y=1, xanchor="left",
                yanchor="top", showarrow=False, font=dict(size=13, color="#555"))]
    return {"layout": {"shapes": shapes, "annotations": ann}}


# -- split diagram ------------------------------------------------------------------------------
def split_skeleton() -> go.Figure:
    fig = go.Figure([go.Heatmap(z=[[0]], x=[0], y=["walk 1"], meta="split", zmin=0, zmax=2, showscale=False,
                                colorscale=[[0, "#eeeeee"], [0.33, "#eeeeee"], [0.34, COLORS["lstm"]],
                                            [0.66, COLORS["lstm"]], [0.67, COLORS["rnn"]], [1, COLORS["rnn"]]],
                                hovertemplate="%{y}<br>target at %{x}<extra></extra>"),
                     go.Scatter(x=[None], y=[None], mode="markers", name="trained on", meta="key_train",
                                marker=dict(color=COLORS["lstm"], symbol="square", size=12)),
                     go.Scatter(x=[None], y=[None], mode="markers", name="predicted", meta="key_pred",
                                marker=dict(color=COLORS["rnn"], symbol="square", size=12)),
                     go.Scatter(x=[None], y=[None], mode="markers", name="not used", meta="key_unused",
                                marker=dict(color="#dddddd", symbol="square", size=12))])
    return apply_theme(fig, height=360, width=700, xaxis_title="time of the target", margin=dict(l=110, r=20, t=60, b=50),
                       yaxis=dict(autorange="reversed", type="category"), legend=_legend_top())


def split_matrix(n_windows: int, wf_folds, rs_folds) -> tuple[np.ndarray, list[str]]:
    """Rows: walk-forward folds, then random-split folds; columns: windows (targets);
    TRAIN / PREDICT / UNUSED."""
    rows, names = [], []
    for name, folds in (("walk", wf_folds), ("random", rs_folds)):
        for i, f in enumerate(folds):
            r = np.full(n_windows, UNUSED)
            r[f.train] = TRAIN
            r[f.test] = PREDICT
            rows.append(r)
            names.append(f"{name} {i + 1}")
    return np.array(rows), names


def split_patch(time_targets, matrix: np.ndarray, names: list[str], shown: int | None) -> dict:
    """The diagram (at most ``MAX_COLUMNS`` evenly spaced targets) and a frame round row ``shown``."""
    n = matrix.shape[1]
    cols = np.unique(np.linspace(0, n - 1, min(n, MAX_COLUMNS)).round().astype(int))
    shapes = []
    if shown is not None and 0 <= shown < len(names):
        shapes = [dict(type="rect", xref="paper", yref="y", x0=0, x1=1, y0=shown - 0.5, y1=shown + 0.5,
                       line=dict(color="#000", width=2.5), fillcolor="rgba(0,0,0,0)")]
    return patch({"split": {"z": matrix[:, cols], "x": np.asarray(time_targets)[cols], "y": names}},
                 {"shapes": shapes, "height": max(300, 120 + 22 * len(names))})


def split_row_patch(names: list[str], shown: int | None) -> dict:
    """Only the frame (the animation's step): a small message."""
    if shown is None or not 0 <= shown < len(names):
        return {"layout": {"shapes": []}}
    return {"layout": {"shapes": [dict(type="rect", xref="paper", yref="y", x0=0, x1=1, y0=shown - 0.5,
                                       y1=shown + 0.5, line=dict(color="#000", width=2.5),
                                       fillcolor="rgba(0,0,0,0)")]}}


# -- scores --------------------------------------------------------------------------------------
def scores_skeleton() -> go.Figure:
    fig = go.Figure([go.Bar(x=[LABELS[k] for k in METHODS], y=[None] * len(METHODS), meta=f"score_{s}",
                            name=SPLIT_LABELS[s], marker_color=SPLIT_COLOR[s],
                            hovertemplate="%{x}: %{y:.3g}<extra>%{fullData.name}</extra>") for s in SPLITS])
    return apply_theme(fig, height=360, width=620, barmode="group", yaxis_title="RMSE on the test period",
                       margin=dict(l=70, r=20, t=90, b=50), legend=_legend_top(font=dict(size=13)))


def scores_patch(scores: dict, unit: str) -> dict:
    return patch({f"score_{s}": {"y": [scores[k][s] for k in METHODS]} for s in SPLITS},
                 {"yaxis": {"title": {"text": f"test-period RMSE ({unit})"}}})


# -- errors -------------------------------------------------------------------------------------
def errors_skeleton() -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=(f"Training loss, mean of {LOSS_WINDOW} steps", "|error| over the test period"))
    for k in ("gru", "tcn"):
        fig.add_trace(go.Scatter(x=[], y=[], meta=f"loss_{k}", mode="lines", legendgroup=k,
                                 name=f"{LABELS[k]} loss", line=dict(color=COLOR[k])),
                      row=1, col=1)
    for k in METHODS:
        fig.add_trace(go.Scatter(x=[], y=[], meta=f"err_{k}", mode="lines", name=LABELS[k], legendgroup=k,
                                 showlegend=k not in ("gru", "tcn"),
                                 visible="legendonly" if k in HIDDEN_AT_FIRST else True,
                                 line=dict(color=COLOR[k], width=1.5)), row=1, col=2)
    fig.update_yaxes(type="log", dtick=1, title_text="normalised MSE", row=1, col=1)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    fig.update_xaxes(title_text="time", row=1, col=2)
    return apply_theme(fig, height=360, width=780, margin=dict(l=70, r=20, t=100, b=50),
                       legend=_legend_top(y=1.12, font=dict(size=13)))


def loss_patch(curves: dict, phase_marks: dict) -> dict:
    """``curves``: model -> (steps, running-mean loss); ``phase_marks``: name -> first global step."""
    shapes = [dict(type="line", xref="x", yref="paper", x0=s, x1=s, y0=0, y1=1, line=dict(color="#888", dash="dot"))
              for name, s in phase_marks.items() if name != "fit"]
    return patch({f"loss_{k}": {"x": x, "y": y} for k, (x, y) in curves.items()}, {"shapes": shapes})


def errors_patch(time_test, y_test, preds: dict, time_label: str, unit: str) -> dict:
    y = np.asarray(y_test, dtype=float)
    return patch({f"err_{k}": {"x": np.asarray(time_test), "y": np.abs(np.asarray(p, dtype=float) - y)}
                  for k, p in preds.items()},
                 {"xaxis2": {"title": {"text": time_label}}, "yaxis2": {"title": {"text": f"|error| ({unit})"}}})


# -- horizon ------------------------------------------------------------------------------------
def horizon_skeleton() -> go.Figure:
    traces = []
    for k in METHODS:
        traces.append(go.Scatter(x=[], y=[], meta=f"free_{k}", name=f"{LABELS[k]}", legendgroup=k, mode="lines+markers",
                                 line=dict(color=COLOR[k], width=2.5), marker=dict(size=5)))
        traces.append(go.Scatter(x=[], y=[], meta=f"forced_{k}", name=f"{LABELS[k]}, teacher-forced", legendgroup=k,
                                 mode="lines", showlegend=False, line=dict(color=COLOR[k], width=1.5, dash="dash")))
    fig = go.Figure(traces)
    return apply_theme(fig, height=360, width=560, xaxis_title="horizon h (steps ahead)", yaxis_title="RMSE",
                       margin=dict(l=70, r=20, t=90, b=50), legend=_legend_top(font=dict(size=13)))


def horizon_patch(errors: dict, horizon: int, unit: str) -> dict:
    """``errors``: method -> {"free": (H,), "forced": (H,)} for h = 1..H; the first ``horizon`` are drawn."""
    tr = {}
    for k, e in errors.items():
        n = min(int(horizon), len(e["free"]))
        h = np.arange(1, n + 1)
        tr[f"free_{k}"] = {"x": h, "y": np.asarray(e["free"][:n])}
        tr[f"forced_{k}"] = {"x": h, "y": np.asarray(e["forced"][:n])}
    return patch(tr, {"yaxis": {"title": {"text": f"RMSE ({unit})"}}})


def build_figures() -> dict[str, go.Figure]:
    return {"series": series_skeleton(), "split": split_skeleton(), "scores": scores_skeleton(),
            "errors": errors_skeleton(), "horizon": horizon_skeleton()}
