"""The figure protocol: pure builders ``data -> panel patch``, applied by one helper.

A figure module makes, once, a *skeleton*: a complete ``go.Figure`` whose traces carry a
``meta`` name (``"loss_rnn"``, ``"belt"``) and are empty. Every view after that is a pure
function of data returning a **patch**:

    {"traces": {"loss_rnn": {"x": [...], "y": [...]}}, "layout": {"yaxis2": {"range": [0, 1]}}}

``apply(fig, patch)`` writes a patch into a figure (by trace ``meta``, and layout key);
``build(skeleton, *patches)`` returns a finished figure. A builder never touches a figure:
the dashboard's pane applies its patches (``widgets.kit.PlotPane.apply``), under its lock,
as one message to the browser. Tests call the pure functions and compare numbers.
"""

from __future__ import annotations

import plotly.graph_objects as go


def patch(traces: dict | None = None, layout: dict | None = None) -> dict:
    """A patch: ``traces`` {meta name: properties}, ``layout`` {layout key: properties}."""
    return {"traces": dict(traces or {}), "layout": dict(layout or {})}


def merge(*patches: dict) -> dict:
    """One patch doing what ``patches`` do, later ones winning property by property."""
    out = patch()
    for p in patches:
        if not p:
            continue
        for part in ("traces", "layout"):
            for k, props in p.get(part, {}).items():
                if isinstance(props, dict) and isinstance(out[part].get(k, {}), dict):
                    out[part].setdefault(k, {}).update(props)
                else:  # a whole value (a list of shapes, a number): the later one replaces it
                    out[part][k] = props
    return out


def trace_index(fig: go.Figure) -> dict[str, int]:
    """meta name -> index in ``fig.data``."""
    return {t.meta: i for i, t in enumerate(fig.data) if isinstance(t.meta, str)}


def apply(fig: go.Figure, p: dict, index: dict[str, int] | None = None) -> None:
    """Write patch ``p`` into ``fig`` (the caller holds the figure's lock and batch). A name
    the figure does not hold raises KeyError: a patch for another pane is a bug."""
    index = index if index is not None else trace_index(fig)
    for name, props in p.get("traces", {}).items():
        fig.data[index[name]].update(props)
    for key, props in p.get("layout", {}).items():
        if isinstance(props, dict):
            fig.layout[key].update(props)
        else:
            fig.layout[key] = props


def build(skeleton: go.Figure, *patches: dict) -> go.Figure:
    """``skeleton`` (not changed) with ``patches`` applied: a finished figure."""
    fig = go.Figure(skeleton)
    apply(fig, merge(*patches))
    return fig
