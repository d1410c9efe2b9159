"""Figures of lesson 07 (character-level language models): skeletons built once, pure ``data -> patch`` builders.

| pane | skeleton | patches |
| --- | --- | --- |
| curves | ``curves_skeleton`` | ``curves_patch(history, markov, order, window)`` bits per character: training batches (a running mean), held-out, the Markov line |
| exposure | ``exposure_skeleton`` | ``exposure_patch(histories)`` teacher forcing vs scheduled sampling, teacher-forced and free-running held-out bits |
| next | ``next_skeleton`` | ``next_patch(labels, p_one, p_tau, tau)`` the next-character distribution at temperature 1 and tau |
| units | ``units_skeleton`` | ``units_patch(r, chosen, feature)`` units ranked by their correlation with a feature |
| lengths | ``lengths_skeleton`` | ``lengths_patch(corpus_shares, sample_shares)`` document lengths, corpus vs samples |
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from seqviz.figures.patch import patch
from seqviz.figures.theme import COLORS, apply_theme, downsample

ENTROPY_NOTE = "H = entropy in bits"
N_BARS = 14  # characters shown in the next-character pane (the most likely at temperature 1)
N_UNITS = 12  # units shown in the ranking


def _label(c: str) -> str:
    return {"</s>": "end", " ": "space", "<unk>": "unk", "\n": "newline"}.get(c, c)


def curves_skeleton(width: int = 520, height: int = 330) -> go.Figure:
    c = COLORS
    fig = go.Figure([
        go.Scatter(x=[], y=[], meta="train", name="training batches (running mean)", line=dict(color=c["lstm"])),
        go.Scatter(x=[], y=[], meta="held", name="held-out", mode="lines+markers",
                   line=dict(color=c["accent"], width=3), marker=dict(size=5)),
        go.Scatter(x=[], y=[], meta="markov", name="Markov model", line=dict(color=c["baseline"], dash="dash",
                                                                             width=3)),
    ])
    return apply_theme(fig, width=width, height=height, xaxis_title="training step",
                       yaxis_title="bits per character", showlegend=True, margin=dict(l=70, r=20, t=70, b=50),
                       legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font_size=13))


def curves_patch(history, markov: float | None, order: int, window: int = 50, upto: int | None = None) -> dict:
    """Batch bits (running mean of ``window``), held-out bits, and the Markov model's held-out bits as a line."""
    n = len(history)
    step = history.step[:n]
    train = history.running_mean("bpc", window)[:n] if n else np.zeros(0)
    held = history.column("held_bpc")[:n] if n else np.zeros(0)
    keep = np.isfinite(held)
    x, y = downsample(list(step), list(train))
    last = float(step[-1]) if n else 1.0
    mk = {"x": [0, max(last, 1.0)], "y": [markov, markov], "name": f"Markov model, order {order} (held-out)"} \
        if markov is not None and math.isfinite(markov) else {"x": [], "y": [], "name": "Markov model (not available)"}
    return patch({"train": {"x": x, "y": y, "name": f"training batches (mean of the last {window})"},
                  "held": {"x": list(step[keep]), "y": list(held[keep])},
                  "markov": mk})


def exposure_skeleton(width: int = 520, height: int = 330) -> go.Figure:
    c = COLORS
    traces = []
    for m, color, who in (("tf", c["lstm"], "teacher forcing"), ("ss", c["rnn"], "scheduled sampling")):
        traces.append(go.Scatter(x=[], y=[], meta=f"{m}_forced", name=f"{who}: teacher-forced",
                                 line=dict(color=color, width=3)))
        traces.append(go.Scatter(x=[], y=[], meta=f"{m}_free", name=f"{who}: free-running",
                                 line=dict(color=color, dash="dot", width=3)))
    fig = go.Figure(traces)
    return apply_theme(fig, width=width, height=height, xaxis_title="training step",
                       yaxis_title="held-out bits per character", showlegend=True,
                       margin=dict(l=70, r=20, t=110, b=50), xaxis_rangemode="nonnegative",
                       title=dict(text="", font_size=15, x=0.01, y=0.5),
                       yaxis_rangemode="nonnegative",
                       legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font_size=13))


def exposure_patch(histories: dict) -> dict:
    """For each of "tf" and "ss" in ``histories``: held-out bits teacher-forced and free-running (its own
    samples fed back), at the steps they were measured. A model not trained gives empty traces."""
    out = {}
    for m in ("tf", "ss"):
        h = histories.get(m)
        for col, tag in (("held_bpc", "forced"), ("free_bpc", "free")):
            if h is None or not len(h):
                out[f"{m}_{tag}"] = {"x": [], "y": []}
                continue
            v = h.column(col)
            keep = np.isfinite(v)
            out[f"{m}_{tag}"] = {"x": list(h.step[keep]), "y": list(v[keep])}
    return patch(out)


def next_skeleton(width: int = 520, height: int = 300) -> go.Figure:
    fig = go.Figure([
        go.Bar(x=[], y=[], meta="p_one", name="temperature 1", marker_color=COLORS["baseline"]),
        go.Bar(x=[], y=[], meta="p_tau", name="temperature tau", marker_color=COLORS["accent"]),
    ])
    return apply_theme(fig, width=width, height=height, barmode="group", yaxis_title="probability",
                       yaxis_range=[0, 1], showlegend=True, margin=dict(l=70, r=20, t=80, b=50),
                       title=dict(text="", font_size=15, x=0.01, y=0.98),
                       legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1, font_size=13))


def next_patch(labels: list[str], p_one: np.ndarray, p_tau: np.ndarray, tau: float, h_one: float,
               h_tau: float, n: int = N_BARS) -> dict:
    """The ``n`` most likely next tokens at temperature 1 (labels: the vocabulary), their probabilities at 1 and
    at ``tau``, and both entropies (bits) in the title."""
    order = np.argsort(-np.asarray(p_one), kind="stable")[:n]
    x = [_label(labels[i]) for i in order]
    t = "0 (greedy)" if tau < 1e-3 else f"{tau:.2g}"
    return patch({"p_one": {"x": x, "y": [float(p_one[i]) for i in order], "name": f"temperature 1: H = {h_one:.2f} bits"},
                  "p_tau": {"x": x, "y": [float(p_tau[i]) for i in order], "name": f"temperature {t}: H = {h_tau:.2f} bits"}},
                 {"title": {"text": f"Next character after the prompt ({len(x)} most likely)"}})


def units_skeleton(width: int = 520, height: int = 280) -> go.Figure:
    fig = go.Figure([go.Bar(x=[], y=[], meta="corr", marker_color=[], name="correlation")])
    return apply_theme(fig, width=width, height=height, yaxis_title="correlation r", yaxis_range=[-1, 1],
                       xaxis_title="unit (ranked by |r|)", showlegend=False, margin=dict(l=70, r=20, t=50, b=60),
                       title=dict(text="", font_size=15, x=0.01, y=0.97))


def units_patch(r: np.ndarray, chosen: int, feature_text: str, n: int = N_UNITS) -> dict:
    """The ``n`` units with the largest |r| (and the chosen one, marked), as bars."""
    order = list(np.argsort(-np.abs(r), kind="stable")[:n])
    if chosen not in order and 0 <= chosen < len(r):
        order[-1] = chosen
    colors = [COLORS["accent"] if i == chosen else COLORS["lstm"] for i in order]
    return patch({"corr": {"x": [f"#{i}" for i in order], "y": [float(r[i]) for i in order], "marker.color": colors}},
                 {"title": {"text": f"Units ranked by |r| with: {feature_text}"}})


def lengths_skeleton(width: int = 520, height: int = 280) -> go.Figure:
    fig = go.Figure([
        go.Bar(x=[], y=[], meta="len_corpus", name="training documents", marker_color=COLORS["baseline"]),
        go.Bar(x=[], y=[], meta="len_sample", name="samples", marker_color=COLORS["accent"]),
    ])
    return apply_theme(fig, width=width, height=height, barmode="group", xaxis_title="length (characters before end)",
                       yaxis_title="share", showlegend=True, margin=dict(l=70, r=20, t=80, b=60),
                       title=dict(text="Sequence end: sampled lengths vs the corpus", font_size=15, x=0.01,
                                  y=0.97),
                       legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font_size=13))


def lengths_patch(corpus_shares: np.ndarray, sample_shares: np.ndarray, n_samples: int, last_open: bool) -> dict:
    """Shares per length 0..n_max for the corpus and the samples (``last_open``: the last bin is "n_max or more")."""
    x = [str(i) for i in range(len(corpus_shares))]
    if last_open and x:
        x[-1] = f"{x[-1]}+"
    return patch({"len_corpus": {"x": x, "y": [float(v) for v in corpus_shares]},
                  "len_sample": {"x": x, "y": [float(v) for v in sample_shares],
                                 "name": f"{n_samples} samples" if n_samples else "samples (none yet)"}},
                 {"title": {"text": "Sequence end: sampled lengths vs the corpus"}})


def title_patch(text: str) -> dict:
    """Only the pane's title (a pane with nothing to show says why)."""
    return patch(layout={"title": {"text": text}})


def merge_title(p: dict, text: str) -> dict:
    """``p`` with the pane's title set to ``text``."""
    out = {"traces": dict(p.get("traces", {})), "layout": dict(p.get("layout", {}))}
    out["layout"]["title"] = {"text": text}
    return out
