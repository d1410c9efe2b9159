"""The embeddings dashboard's figures: five small plotly figures, each in its own pane.

  "curves"     training loss (running mean) | overlap of the 10 nearest neighbours with gensim's
  "objective"  one (centre, context) pair and its k noise words: σ(u·v) before and after one step
  "space"      2-D PCA of a set of words' vectors (fixed axes, refitted rarely, signs kept)
  "bias"       occupation words projected on a direction such as he − she
  "elmo"       cosine of one word's vectors in two sentences, per layer and for the mixture | LM loss

Skeletons are built once (traces named by ``meta``); every view is a pure ``*_patch(data)``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import patch
from seqviz.figures.theme import COLORS, apply_theme, downsample

WINDOW = 50  # steps in the loss curve's running mean (said in its legend)
PANES = {
    "curves": ("loss", "loss_raw", "overlap", "overlap_ref"),
    "objective": ("obj_before", "obj_after"),
    "space": ("space", "space_query"),
    "bias": ("bias",),
    "elmo": ("elmo_cos", "elmo_mix", "lm_loss"),
}
GROUP_COLORS = [COLORS["lstm"], COLORS["rnn"], COLORS["gru"], COLORS["tcn"], COLORS["accent"], COLORS["sky"],
                COLORS["black"], COLORS["baseline"]]


def _curves() -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("Skip-gram loss", "Neighbours shared with gensim (k = 10)"))
    fig.add_trace(go.Scatter(x=[], y=[], meta="loss", name=f"loss, mean of last {WINDOW} steps",
                             line=dict(color=COLORS["lstm"], width=2.5)), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="loss_raw", name="loss of each batch", showlegend=False,
                             line=dict(color=COLORS["lstm"], width=1), opacity=0.25), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="overlap", name="overlap with gensim", mode="lines+markers",
                             line=dict(color=COLORS["rnn"], width=2.5)), 1, 2)
    fig.add_trace(go.Scatter(x=[], y=[], meta="overlap_ref", name="random vectors", mode="lines",
                             line=dict(color=COLORS["baseline"], dash="dot")), 1, 2)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    fig.update_xaxes(title_text="training seconds", row=1, col=2)
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="share of gensim's 10", range=[0, 1], row=1, col=2)
    return apply_theme(fig, height=330, width=1000, showlegend=True, margin=dict(l=70, r=30, t=60, b=95),
                       legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0))


def _objective() -> go.Figure:
    fig = go.Figure([go.Bar(x=[], y=[], meta="obj_before", name="before the step", marker_color=COLORS["baseline"]),
                     go.Bar(x=[], y=[], meta="obj_after", name="after one step", marker_color=COLORS["lstm"])])
    return apply_theme(fig, height=330, width=620, barmode="group", showlegend=True,
                       title=dict(text="σ(u·v<sub>c</sub>): true context (left) and noise words", x=0.01,
                                  font=dict(size=16)),
                       yaxis=dict(title="score σ(u·v)", range=[0, 1]), margin=dict(l=70, r=20, t=80, b=60),
                       legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))


def _space() -> go.Figure:
    fig = go.Figure([go.Scatter(x=[], y=[], meta="space", mode="markers+text", textposition="top center",
                                marker=dict(size=10), textfont=dict(size=15), name="words", hoverinfo="text"),
                     go.Scatter(x=[], y=[], meta="space_query", mode="markers+text", name="typed word",
                                marker=dict(size=18, symbol="circle-open", color=COLORS["black"], line=dict(width=2)),
                                text=[], textposition="bottom center", textfont=dict(size=14, color=COLORS["black"]),
                                hoverinfo="skip")])
    return apply_theme(fig, height=460, width=620, showlegend=False,
                       title=dict(text="The words' vectors, projected on two fixed PCA axes", x=0.01, font=dict(size=16)),
                       xaxis=dict(title="PC 1", zeroline=True), yaxis=dict(title="PC 2", zeroline=True),
                       margin=dict(l=70, r=20, t=60, b=60))


def _bias() -> go.Figure:
    fig = go.Figure([go.Bar(x=[], y=[], meta="bias", orientation="h", marker_color=[])])
    return apply_theme(fig, height=560, width=520, showlegend=False,
                       title=dict(text="Occupations on the direction he − she", x=0.01, font=dict(size=16)),
                       xaxis=dict(title="cosine with the direction"), margin=dict(l=110, r=20, t=60, b=60))


def _elmo() -> go.Figure:
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.15,
                        subplot_titles=("Same word, two sentences: cosine", "Language model loss"))
    fig.add_trace(go.Bar(x=[], y=[], meta="elmo_cos", name="per layer", marker_color=COLORS["lstm"],
                         text=[], textposition="outside"), 1, 1)
    fig.add_trace(go.Bar(x=[], y=[], meta="elmo_mix", name="mixture γ Σ s<sub>j</sub> h<sub>j</sub>",
                         marker_color=COLORS["accent"], text=[], textposition="outside"), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="lm_loss", name="cross-entropy, both directions (mean of last 20)",
                             line=dict(color=COLORS["gru"], width=2.5)), 1, 2)
    fig.update_yaxes(range=[0, 1.15], title_text="cosine", row=1, col=1)
    fig.update_xaxes(tickangle=0, row=1, col=1)
    fig.update_xaxes(title_text="training step", row=1, col=2)
    fig.update_yaxes(title_text="nats per word", row=1, col=2)
    return apply_theme(fig, height=400, width=1000, showlegend=True, margin=dict(l=70, r=30, t=60, b=110),
                       legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0))


def build_embedding_figures() -> dict[str, go.Figure]:
    return {"curves": _curves(), "objective": _objective(), "space": _space(), "bias": _bias(), "elmo": _elmo()}


# -- patches -------------------------------------------------------------------------------------
def curves_patch(step, loss, mean, seconds, overlap, random_overlap: float | None) -> dict:
    x, y = downsample(list(step), list(mean))
    xr, yr = downsample(list(step), list(loss))
    ref_x = [0, max(list(seconds) + [1.0])] if random_overlap is not None else []
    return patch({"loss": {"x": x, "y": y}, "loss_raw": {"x": xr, "y": yr},
                  "overlap": {"x": list(seconds), "y": list(overlap)},
                  "overlap_ref": {"x": ref_x, "y": [random_overlap] * len(ref_x)}})


def objective_patch(words: list[str], before: np.ndarray, after: np.ndarray, loss_before: float,
                    loss_after: float, centre: str, eta: float) -> dict:
    labels = [f"<b>{words[0]}</b> (true)"] + [f"{w} ({i + 1})" for i, w in enumerate(words[1:])]
    return patch({"obj_before": {"x": labels, "y": list(before)}, "obj_after": {"x": labels, "y": list(after)}},
                 {"title": {"text": f"centre <b>{centre}</b>: loss {loss_before:.3f} → {loss_after:.3f} "
                                    f"after one step of size η = {eta:g}"}})


def space_patch(xy: np.ndarray, words: list[str], groups: list[int], explained: float, query_xy=None,
                title: str | None = None, query: str = "") -> dict:
    colors = [GROUP_COLORS[g % len(GROUP_COLORS)] for g in groups]
    lay = {"xaxis": {"title": {"text": f"PC 1 (fixed axes; the two show {explained:.0%} of these words' variance)"}}}
    if title:
        lay["title"] = {"text": title}
    if len(xy):
        pad = 0.15 * max(1e-9, float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])))
        lay["xaxis"]["range"] = [float(xy[:, 0].min() - pad), float(xy[:, 0].max() + pad)]
        lay["yaxis"] = {"range": [float(xy[:, 1].min() - pad), float(xy[:, 1].max() + 1.5 * pad)]}
    q = ({"x": [], "y": [], "text": []} if query_xy is None else
         {"x": [float(query_xy[0])], "y": [float(query_xy[1])], "text": [f"“{query}” (the Word box)"]})
    return patch({"space": {"x": xy[:, 0].tolist() if len(xy) else [], "y": xy[:, 1].tolist() if len(xy) else [],
                            "text": list(words), "marker": {"color": colors}},
                  "space_query": q}, lay)


def bias_patch(words: list[str], scores: np.ndarray, a: str, b: str) -> dict:
    order = np.argsort(scores)
    w = [words[i] for i in order]
    s = [float(scores[i]) for i in order]
    colors = [COLORS["lstm"] if v > 0 else COLORS["rnn"] for v in s]
    m = max([abs(v) for v in s] + [0.05]) * 1.1
    return patch({"bias": {"x": s, "y": w, "marker": {"color": colors}}},
                 {"title": {"text": f"Occupations on the direction {a} − {b} (right: nearer {a})"},
                  "xaxis": {"range": [-m, m]}})


def elmo_patch(cosines: list[float], mixture: float | None, lm_step, lm_loss) -> dict:
    names = ["layer 0<br>embedding"] + [f"layer {j}<br>LSTM" for j in range(1, len(cosines))]
    mx = ["mixture"] if mixture is not None else []
    x, y = downsample(list(lm_step), list(lm_loss))
    return patch({"elmo_cos": {"x": names, "y": list(cosines), "text": [f"{c:.3f}" for c in cosines]},
                  "elmo_mix": {"x": mx, "y": [mixture] if mixture is not None else [],
                               "text": [f"{mixture:.3f}"] if mixture is not None else []},
                  "lm_loss": {"x": x, "y": y}})
