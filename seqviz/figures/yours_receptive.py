"""Figures of the receptive-field view on a student's own module (``widgets.receptive_field.yours``).

Three small figures, each in its own plot pane (a slider redraws only the one-row pane at once):

  "row"   output t (the slider): measured log10 |∂y_t/∂x_s| over the inputs s (blank = 0), the
          analytic set of a plain Conv1d stack in the row above it, its future marked off
  "map"   every output t against every input s (the whole measured map), the line between each
          output's own step and its future, and the row the slider picks
  "loss"  the training loss, running mean of the last ``WINDOW`` steps (only with batches)

The protocol is ``seqviz.figures.patch``: ``build_figures`` makes every trace once (named by
``meta``), empty; every view after that is a pure ``*_patch(data) -> patch``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from seqviz.figures.patch import patch
from seqviz.figures.tcn import running_mean
from seqviz.figures.theme import COLORS, SEQUENTIAL, apply_theme

WINDOW = 20  # steps in the loss curve's running mean (said in its legend)
PANES = {"row": ("row_heat", "row_analytic", "row_self"),
         "map": ("map_heat", "map_diagonal", "map_cursor"),
         "loss": ("loss_raw", "loss_mean")}
MARGIN = dict(l=110, r=30, t=50, b=60)


def logs(values) -> list:
    """log10 of each value, None for exact zeros (a blank cell: no dependency)."""
    return [float(np.log10(v)) if v > 0 else None for v in np.asarray(values, dtype=float)]


def _row_figure(width: int | None) -> go.Figure:
    fig = go.Figure([
        go.Heatmap(meta="row_heat", name="measured", colorscale=SEQUENTIAL, showscale=True, x=[0], y=[0],
                   z=[[None]], colorbar=dict(title="log10", thickness=12, len=0.9),
                   customdata=[[0]],
                   hovertemplate="input s = %{x}, lag %{customdata}: log10 |∂y/∂x| = %{z:.2f}<extra></extra>"),
        go.Scatter(meta="row_analytic", name="analytic", mode="markers", x=[], y=[],
                   marker=dict(size=8, symbol="square", color=COLORS["tcn"]),
                   hovertemplate="input s = %{x} (analytic)<extra></extra>"),
        go.Scatter(meta="row_self", name="future after here", mode="lines", x=[], y=[], hoverinfo="skip",
                   line=dict(color=COLORS["rnn"], width=2, dash="dash")),
    ])
    apply_theme(fig, height=230, width=width, margin=MARGIN, showlegend=False,
                title=dict(text="Output t: the inputs s it reads", font_size=17, x=0.01))
    fig.update_xaxes(title_text="input position s")
    fig.update_yaxes(tickvals=[0, 1], ticktext=["measured", "analytic"], range=[-0.5, 1.5])
    return fig


def _map_figure(width: int | None) -> go.Figure:
    fig = go.Figure([
        go.Heatmap(meta="map_heat", name="measured", colorscale=SEQUENTIAL, showscale=False, x=[0], y=[0],
                   z=[[None]],
                   hovertemplate="output t = %{y}, input s = %{x}: log10 |∂y/∂x| = %{z:.2f}<extra></extra>"),
        go.Scatter(meta="map_diagonal", name="s = t + 1/2", mode="lines", x=[], y=[], hoverinfo="skip",
                   line=dict(color=COLORS["rnn"], width=2, dash="dash")),
        go.Scatter(meta="map_cursor", name="output t", mode="lines", x=[], y=[], hoverinfo="skip",
                   line=dict(color=COLORS["accent"], width=2)),
    ])
    apply_theme(fig, height=430, width=width, margin=MARGIN, showlegend=False,
                title=dict(text="Every output t against every input s", font_size=17, x=0.01))
    fig.update_xaxes(title_text="input position s")
    fig.update_yaxes(title_text="output position t", autorange="reversed")
    return fig


def _loss_figure(width: int | None, window: int) -> go.Figure:
    fig = go.Figure([
        go.Scatter(meta="loss_raw", name="each batch", mode="lines", x=[], y=[], hoverinfo="skip",
                   line=dict(color=COLORS["tcn"], width=1), opacity=0.3),
        go.Scatter(meta="loss_mean", name=f"mean of the last {window} steps", mode="lines", x=[], y=[],
                   line=dict(color=COLORS["tcn"], width=2.5)),
    ])
    apply_theme(fig, height=300, width=width, margin=MARGIN, showlegend=True,
                legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom"),
                xaxis_title="training step", yaxis_title="loss")
    return fig


def build_figures(width: int | None = 760, loss: bool = False, window: int = WINDOW) -> dict[str, go.Figure]:
    """The skeletons: "row" and "map", and "loss" when the view trains."""
    figs = {"row": _row_figure(width), "map": _map_figure(width)}
    if loss:
        figs["loss"] = _loss_figure(width, window)
    return figs


def colour_range(grad: np.ndarray) -> dict:
    """zmin / zmax of log10 over the nonzero cells of the whole map: the row and the map share one scale."""
    nz = np.asarray(grad, dtype=float)
    nz = nz[nz > 0]
    if not nz.size:
        return {"zmin": -1.0, "zmax": 0.0}
    lo, hi = float(np.log10(nz.min())), float(np.log10(nz.max()))
    return {"zmin": lo, "zmax": hi if hi > lo else lo + 1.0}


def row_patch(grad: np.ndarray, t: int, analytic_positions=None, full: bool = False) -> dict:
    """The "row" figure for output t: row t of ``grad`` (T, T) as log10 (zeros blank; the colour scale
    of the whole map), its lags t - s in the hover, the analytic positions (None: not a plain stack,
    nothing drawn), the line s = t + 1/2 (right of it: the future). ``full``: the positions and range
    too (a new T)."""
    T = grad.shape[1]
    heat = {"z": [logs(grad[int(t)])], "customdata": [[int(t) - s for s in range(T)]], **colour_range(grad)}
    if full:
        heat.update(x=list(range(T)), y=[0])
    pos = [] if analytic_positions is None else [int(p) for p in analytic_positions]
    layout = {"xaxis": {"range": [-0.5, T - 0.5]}} if full else {}
    return patch({"row_heat": heat, "row_analytic": {"x": pos, "y": [1] * len(pos)},
                  "row_self": {"x": [int(t) + 0.5, int(t) + 0.5], "y": [-0.5, 1.5]}}, layout)


def map_patch(grad: np.ndarray, full: bool = False) -> dict:
    """The "map" figure's cells: log10 of every ``grad[t, s]`` (zeros blank), and the line s = t + 1/2
    (between each output's own step and its future)."""
    T = grad.shape[0]
    heat = {"z": [logs(row) for row in grad], **colour_range(grad)}
    if full:
        heat.update(x=list(range(T)), y=list(range(T)))
    return patch({"map_heat": heat, "map_diagonal": {"x": [0, T - 0.5], "y": [-0.5, T - 1]}},
                 {"xaxis": {"range": [-0.5, T - 0.5]}} if full else {})


def cursor_patch(t: int, T: int) -> dict:
    """The "map" figure's marker of the row the slider picks."""
    return patch({"map_cursor": {"x": [-0.5, T - 0.5], "y": [int(t), int(t)]}})


def loss_patch(steps, losses, window: int = WINDOW) -> dict:
    """The "loss" figure: each batch's loss (faint) and its running mean over ``window`` steps."""
    x = [int(s) for s in steps]
    return patch({"loss_raw": {"x": x, "y": [float(v) for v in losses]},
                  "loss_mean": {"x": x, "y": [float(v) for v in running_mean(losses, window)]}})
