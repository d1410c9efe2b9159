"""Figures of lesson 02 (Markov models): skeletons built once, pure ``data -> patch`` builders.

| pane | skeleton | traces (meta) | patches |
| --- | --- | --- | --- |
| next | ``next_skeleton`` | ``mle``, ``smoothed`` | ``next_patch(dist, vocab, top)`` |
| chain | ``chain_skeleton`` | ``chain_smoothed``, ``chain_mle``, ``chain_impossible`` | ``chain_patch(factors, mle_factors)`` |
| order | ``order_skeleton`` | ``train_bits``, ``held_bits``, ``cur_bits``, ``unseen_ngram``, ``unseen_context``, ``cur_unseen`` | ``order_patch(curves, order)``, ``order_marker_patch`` |
| classify | ``classify_skeleton`` | ``acc_names``, ``acc_mail``, ``base_names``, ``base_mail``, ``cur_acc``, ``contrib`` | ``accuracy_patch``, ``contrib_patch`` |
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqviz.figures.patch import merge, patch
from seqviz.figures.theme import COLORS, apply_theme

TOP = 15  # next-token bars shown (the rest is one bar "all other tokens")
TASK_COLORS = {"names": COLORS["lstm"], "mail": COLORS["rnn"]}
TASK_NAMES = {"names": "names: female vs male (chars)", "mail": "mail: spam vs ham (words)"}


SPECIAL = {"<s>": "⟨s⟩", "</s>": "⟨/s⟩", "<unk>": "⟨unk⟩"}  # plotly reads "<...>" as HTML tags and drops it


def show_token(w: str) -> str:
    """A token as a label: a space is shown as '␣' so it can be seen; ``<s>``, ``</s>``, ``<unk>`` in angle
    brackets that plotly does not take for HTML."""
    if w in SPECIAL:
        return SPECIAL[w]
    return w.replace(" ", "␣") if w.strip() or not w else "␣"


# -- next-token distribution ----------------------------------------------------------------------------------
def next_skeleton() -> go.Figure:
    fig = go.Figure([
        go.Bar(x=[], y=[], meta="mle", name="counted (α = 0): count / count(context)", marker_color=COLORS["baseline"]),
        go.Bar(x=[], y=[], meta="smoothed", name="smoothed: (count + α) / (count(context) + αV)",
               marker_color=COLORS["lstm"])])
    return apply_theme(fig, height=360, barmode="group", yaxis_title="p(next token | context)",
                       margin=dict(l=70, r=20, t=90, b=60), showlegend=True, title=dict(text="", x=0, xref="paper", font_size=15))


def next_patch(dist: dict, vocab: list[str], alpha: float, top: int = TOP) -> dict:
    """Bars for the ``top`` tokens with the largest counts (ties: vocabulary order), then one bar for all the
    other tokens together, so each colour's bars add up to 1 (the counted ones to 0 for an unseen context)."""
    counts, mle, smooth = dist["counts"], dist["mle"], dist["smoothed"]
    order = np.lexsort((np.arange(len(counts)), -counts))[:top]
    rest = np.setdiff1d(np.arange(len(counts)), order)
    labels = [show_token(vocab[i]) for i in order]
    m = [float(mle[i]) if dist["seen"] else 0.0 for i in order]
    s = [float(smooth[i]) for i in order]
    if len(rest):
        labels.append(f"all other {len(rest):,}")
        m.append(float(np.nansum(mle[rest])) if dist["seen"] else 0.0)
        s.append(float(smooth[rest].sum()))
    ctx = " ".join(show_token(w) for w in dist["context"]) or "(no context: order 0)"
    head = (f"after “{ctx}”: seen {dist['context_count']:,} times" if dist["seen"] else
            f"after “{ctx}”: never seen in training, so counts give 0/0;<br>"
            + ("smoothing gives every token 1/V" if alpha > 0 else "with α = 0 there is no estimate at all"))
    return patch({"mle": {"x": labels, "y": m}, "smoothed": {"x": labels, "y": s,
                                                            "name": f"smoothed, α = {alpha:g}"}},
                 {"title": {"text": head}})


# -- chain rule ---------------------------------------------------------------------------------------------
def chain_skeleton() -> go.Figure:
    fig = go.Figure([
        go.Bar(x=[], y=[], meta="chain_mle", name="counted (α = 0)", marker_color=COLORS["baseline"]),
        go.Bar(x=[], y=[], meta="chain_smoothed", name="smoothed", marker_color=COLORS["lstm"]),
        go.Scatter(x=[], y=[], meta="chain_impossible", mode="markers+text", name="p = 0: never counted",
                   marker=dict(symbol="x", size=14, color=COLORS["rnn"]), text=[], textposition="top center",
                   textfont=dict(color=COLORS["rnn"]))])
    return apply_theme(fig, height=360, barmode="group", yaxis_title="−log₂ p (bits)",
                       margin=dict(l=70, r=20, t=118, b=60), showlegend=True, title=dict(text="", x=0, xref="paper", font_size=15),
                       legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))


def chain_patch(smoothed: list, counted: list, alpha: float) -> dict:
    """One pair of bars per chain-rule factor (``NGramModel.factors``): ``−log₂ p`` counted and smoothed; a
    factor whose count is 0 gets an ✗ above the bars (infinitely surprising without smoothing)."""
    labels = [f"{i + 1}. {show_token(f.shown)}" for i, f in enumerate(smoothed)]
    s = [-f.log2p if f.p > 0 else None for f in smoothed]
    m = [-f.log2p if f.p > 0 else None for f in counted]
    top = max([v for v in s + m if v is not None] + [1.0])
    bad = [i for i, f in enumerate(counted) if f.p == 0]
    total_s = -sum(f.log2p for f in smoothed)
    total_m = math.inf if bad else -sum(f.log2p for f in counted)
    head = ((f"log₂ p(text) = −{total_s:.1f} bits smoothed (α = {alpha:g})" if math.isfinite(total_s) else
             "log₂ p(text) = −∞ with α = 0 (no smoothing)")
            + "<br>counted only (α = 0): "
            + ("−∞, impossible: a factor was never counted" if bad else f"−{total_m:.1f} bits"))
    return patch({"chain_smoothed": {"x": labels, "y": s, "name": f"smoothed, α = {alpha:g}"},
                  "chain_mle": {"x": labels, "y": m},
                  "chain_impossible": {"x": [labels[i] for i in bad], "y": [top * 1.08] * len(bad),
                                       "text": ["∞"] * len(bad)}},
                 {"title": {"text": head}, "yaxis": {"range": [0, top * 1.22]}})


# -- against order ------------------------------------------------------------------------------------------
def order_skeleton(max_order: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("bits per token against order", "held-out text never seen in training"))
    fig.add_trace(go.Scatter(x=[], y=[], meta="train_bits", mode="lines+markers", name="training text",
                             line=dict(color=COLORS["baseline"], dash="dot")), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="held_bits", mode="lines+markers", name="held-out text",
                             line=dict(color=COLORS["lstm"], width=3)), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="cur_bits", mode="markers", name="this order",
                             marker=dict(size=16, color=COLORS["accent"], symbol="circle-open", line_width=3)), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="unseen_ngram", mode="lines+markers",
                             name="n-gram unseen (context + token)", line=dict(color=COLORS["rnn"])), 1, 2)
    fig.add_trace(go.Scatter(x=[], y=[], meta="unseen_context", mode="lines+markers", name="context unseen",
                             line=dict(color=COLORS["tcn"], dash="dash")), 1, 2)
    fig.add_trace(go.Scatter(x=[], y=[], meta="cur_unseen", mode="markers", showlegend=False,
                             marker=dict(size=16, color=COLORS["accent"], symbol="circle-open", line_width=3)), 1, 2)
    ticks = dict(tickmode="linear", dtick=1, range=[-0.4, max_order + 0.4], title_text="order k (tokens of context)")
    fig.update_xaxes(**ticks)
    fig.update_yaxes(title_text="bits per token", row=1, col=1)
    fig.update_yaxes(title_text="% of held-out positions", range=[0, 105], row=1, col=2)
    return apply_theme(fig, height=370, margin=dict(l=70, r=20, t=90, b=60), showlegend=True,
                       legend=dict(orientation="h", yanchor="bottom", y=1.12, xanchor="left", x=0))


def _finite(v):
    return [x if x is not None and math.isfinite(x) else None for x in v]


def order_patch(curves: dict, order: int) -> dict:
    """The curves of ``OrderStudy.curves`` (inf, from α = 0, is left out: no point), and this order's marker."""
    pct = lambda v: [100 * x if x is not None and math.isfinite(x) else None for x in v]  # noqa: E731
    return merge(patch({"train_bits": {"x": curves["order"], "y": _finite(curves["train"])},
                        "held_bits": {"x": curves["order"], "y": _finite(curves["held"])},
                        "unseen_ngram": {"x": curves["order"], "y": pct(curves["unseen_ngram"])},
                        "unseen_context": {"x": curves["order"], "y": pct(curves["unseen_context"])}}),
                 order_marker_patch(curves, order))


def order_marker_patch(curves: dict, order: int) -> dict:
    """Only the two "this order" markers (what the order slider draws first)."""
    if order in curves["order"]:
        i = curves["order"].index(order)
        b, u = _finite([curves["held"][i]])[0], curves["unseen_ngram"][i]
        return patch({"cur_bits": {"x": [order], "y": [b]},
                      "cur_unseen": {"x": [order], "y": [100 * u if math.isfinite(u) else None]}})
    return patch({"cur_bits": {"x": [order], "y": [None]}, "cur_unseen": {"x": [order], "y": [None]}})


# -- classifier ---------------------------------------------------------------------------------------------
def classify_skeleton(max_order: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.16, column_widths=[0.45, 0.55],
                        subplot_titles=("held-out accuracy against order", "log₂-odds of the typed text, by token"))
    for task in ("names", "mail"):
        fig.add_trace(go.Scatter(x=[], y=[], meta=f"acc_{task}", mode="lines+markers", name=TASK_NAMES[task],
                                 line=dict(color=TASK_COLORS[task], width=3)), 1, 1)
        fig.add_trace(go.Scatter(x=[], y=[], meta=f"base_{task}", mode="lines", name=f"always the majority class",
                                 line=dict(color=TASK_COLORS[task], dash="dot", width=1.5),
                                 showlegend=task == "names"), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], meta="cur_acc", mode="markers", name="this order", showlegend=False,
                             marker=dict(size=16, color=COLORS["accent"], symbol="circle-open", line_width=3)), 1, 1)
    fig.add_trace(go.Bar(x=[], y=[], meta="contrib", name="log₂-odds share", showlegend=False,
                         marker_color=[]), 1, 2)
    fig.update_xaxes(tickmode="linear", dtick=1, range=[-0.4, max_order + 0.4], title_text="order k", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", row=1, col=1)
    fig.update_yaxes(title_text="bits", row=1, col=2)
    fig.update_xaxes(tickangle=-40, tickfont_size=13, row=1, col=2)
    return apply_theme(fig, height=400, margin=dict(l=70, r=20, t=90, b=90), showlegend=True,
                       legend=dict(orientation="h", yanchor="bottom", y=1.12, xanchor="left", x=0))


def accuracy_patch(curves: dict, task: str, order: int, max_order: int) -> dict:
    """``curves``: task -> ``ClassifierStudy.curve``; the marker sits on ``task`` at ``order``."""
    traces = {}
    for t, c in curves.items():
        traces[f"acc_{t}"] = {"x": c["order"], "y": [100 * a for a in c["accuracy"]]}
        traces[f"base_{t}"] = {"x": [0, max_order], "y": [100 * c["majority"]] * 2}
    c = curves.get(task)
    y = [100 * c["accuracy"][c["order"].index(order)]] if c and order in c["order"] else [None]
    traces["cur_acc"] = {"x": [order], "y": y}
    return patch(traces)


def contrib_patch(prior: float, parts: list[tuple[str, float]], a: str, b: str) -> dict:
    """Bars: the prior's share, then one per chain-rule factor of the typed text (``MarkovClassifier.
    contributions``), positive toward class ``a``; they add up to the log₂-odds."""
    labels = ["prior"] + [f"{i + 1}. {show_token(w)}" for i, (w, _) in enumerate(parts)]
    vals = [prior] + [v for _, v in parts]
    clean = [v if math.isfinite(v) else None for v in vals]
    colors = [COLORS["gru"] if (v or 0) >= 0 else COLORS["tcn"] for v in clean]
    return patch({"contrib": {"x": labels, "y": clean, "marker": {"color": colors}}},
                 {"yaxis2": {"title": {"text": f"bits: + {a}, − {b}"}}})
