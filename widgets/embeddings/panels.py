"""Which engine data feeds which pane of the embeddings dashboard, and its HTML panels.

Every function reads the engine (``seqviz``) and returns a figure patch or HTML; none touches a widget.

| pane / panel | shows | from |
| --- | --- | --- |
| curves | loss; overlap of our 10 neighbours with gensim's | the run's ``History``, ``Space.overlap`` |
| objective | one pair, σ(u·v) before/after one step | ``embeddings.objective`` |
| space | 2-D PCA of a word set | ``Projection`` on ``Space.U`` rows |
| bias | occupations on a direction | ``Space.bias`` |
| neighbours, analogies (HTML) | nearest words (ours beside gensim's), a − b + c, accuracy | ``Space`` |
| elmo | cosine per layer and of the mixture, LM loss | ``embeddings.contextual`` |
"""

from __future__ import annotations

import html

import numpy as np

from seqviz.experiments import embeddings as E
from seqviz.figures import embeddings as fe

FONT = "font-size:15px"


def esc(x) -> str:
    return html.escape(str(x))


def random_overlap(V: int, k: int = 10) -> float:
    """Expected share of gensim's k neighbours that k random other words would hit."""
    return k / max(1, V - 1)


def curves_view(run, overlap_curve, V: int) -> dict:
    h = run.history["w2v"]
    secs, ov = zip(*overlap_curve) if overlap_curve else ((), ())
    return fe.curves_patch(h.step, h.loss, h.running_mean("loss", fe.WINDOW), secs, ov,
                           random_overlap(V) if overlap_curve else None)


def empty_curves() -> dict:
    """The curves pane with nothing in it (a new model is being built)."""
    return fe.curves_patch([], [], [], [], [], None)


def space_view(space: E.Space, proj: E.Projection, words: list[str], groups: list[int], query: str | None,
               refit: bool, title: str) -> dict:
    ids, _ = space.ids(words)
    shown = [w for w in words if w in space.vocab.index]
    grp = [g for w, g in zip(words, groups) if w in space.vocab.index]
    X = space.U[ids] if ids else np.zeros((0, space.U.shape[1]))
    q = query if query in space.vocab.index else None
    if not len(X):
        return fe.space_patch(np.zeros((0, 2)), [], [], 0.0, None, title)
    if refit or proj.comps is None:
        proj.fit(X)
    xy = proj(X)
    qxy = proj(space.U[[space.vocab.index[q]]])[0] if q else None
    return fe.space_patch(xy, shown, grp, proj.explained(X), qxy, title, q or "")


def neighbours_html(space: E.Space, word: str, reference: dict, ref_ok: bool, k: int = 10) -> str:
    mine = space.neighbours(word, k)
    ref = reference.get("neighbours", {}).get(word) if ref_ok else None
    ref_set = set(ref or [])
    rows = []
    for i in range(k):
        w, c = mine[i] if i < len(mine) else ("", None)
        style = "font-weight:700;color:#006b3c" if w in ref_set else ""
        cell = f"<td style='padding:1px 8px;{style}'>{esc(w)}</td><td style='padding:1px 8px'>" + (
            f"{c:.3f}" if c is not None else "") + "</td>"
        if ref is not None:
            g = ref[i] if i < len(ref) else ""
            gs = "font-weight:700;color:#006b3c" if g in {m for m, _ in mine} else ""
            cell += f"<td style='padding:1px 8px;{gs}'>{esc(g)}</td>"
        rows.append(f"<tr>{cell}</tr>")
    head = "<th style='text-align:left;padding:1px 8px'>ours</th><th style='text-align:left'>cosine</th>"
    if ref is not None:
        head += "<th style='text-align:left;padding:1px 8px'>gensim</th>"
        shared = len(ref_set & {m for m, _ in mine[:k]})
        foot = (f"<div style='{FONT}'>{shared} of gensim's {k} are ours too (green). gensim: the same corpus and "
                f"default settings, {reference.get('epochs', '?')} epochs, gensim {esc(reference.get('gensim', '?'))}."
                "</div>")
    else:
        foot = (f"<div style='{FONT};color:#555'>No gensim reference for this: it was trained on the Brown corpus "
                "at the default settings (D 64, window 5, k 5, subsampling 0.001), for the words the dashboard "
                "offers.</div>")
    return (f"<div class='seqviz-neighbours'><div style='{FONT}'><b>Nearest words to “{esc(word)}”</b> (cosine)</div>"
            f"<table style='{FONT};border-collapse:collapse'><tr>{head}</tr>"
            + "".join(rows) + "</table>" + foot + "</div>")


def analogy_html(space: E.Space, a: str, b: str, c: str, exclude: bool) -> str:
    got = space.analogy(a, b, c, k=5, exclude_inputs=exclude)
    other = space.analogy(a, b, c, k=5, exclude_inputs=not exclude)
    rows = "".join(f"<tr><td style='padding:1px 8px'>{i + 1}</td><td style='padding:1px 8px'><b>{esc(w)}</b></td>"
                   f"<td style='padding:1px 8px'>{s:.3f}</td></tr>" for i, (w, s) in enumerate(got))
    top_other = other[0] if other else ("–", 0.0)
    inputs = {a, b, c}
    if exclude:
        note = (f"The inputs are left out of the answers (as in the papers and gensim). With them allowed, the top "
                f"answer would be <b>{esc(top_other[0])}</b> ({top_other[1]:.3f})"
                + (": one of the inputs." if top_other[0] in inputs else "."))
    else:
        ins = [w for w, _ in got if w in inputs]
        note = (f"Inputs allowed: {', '.join(esc(w) for w in ins) or 'none'} of them among the top 5"
                + (f"; left out, the top answer is <b>{esc(top_other[0])}</b>." if other else "."))
    return (f"<div class='seqviz-analogy'><div style='{FONT}'><b>{esc(a)} − {esc(b)} + {esc(c)} ≈ ?</b></div>"
            f"<table style='{FONT};border-collapse:collapse'>{rows}</table>"
            f"<div style='{FONT};color:#444;max-width:520px'>{note}</div></div>")


def accuracy_html(space: E.Space, questions, reference: dict, ref_ok: bool) -> str:
    right, asked, _ = space.analogy_accuracy(questions)
    ours = f"{right} of {asked} ({right / asked:.0%})" if asked else "none of the questions' words are known"
    if ref_ok and reference.get("analogy_asked"):
        ref = (f"gensim on the same corpus and settings: {reference['analogy_right']} of {reference['analogy_asked']} "
               f"({reference['analogy_accuracy']:.0%})")
    else:
        ref = "no gensim reference for this corpus or these settings"
    return (f"<div class='seqviz-accuracy' style='{FONT}'>Shipped analogy set ({len(questions)} questions written "
            f"for seqviz: gender, plurals, past tense, comparatives, ordinals, capitals): this model gets "
            f"<b>{ours}</b> right at top 1, inputs excluded; {ref}.</div>")


def objective_view(pair, res: dict, words, eta: float) -> dict:
    c, o, neg = pair
    labels = [words[o]] + [words[i] for i in neg]
    return fe.objective_patch(labels, res["sigma_before"], res["sigma_after"], res["loss_before"],
                              res["loss_after"], words[c], eta)


def objective_note(res: dict) -> str:
    d0, d1 = res["dot_before"], res["dot_after"]
    return (f"<div style='{FONT}'>dot products u·v<sub>c</sub>: true context {d0[0]:+.3f} → {d1[0]:+.3f}; "
            f"noise words, mean {np.mean(d0[1:]):+.3f} → {np.mean(d1[1:]):+.3f}. The step is computed on copies of "
            "these vectors: the model itself is not changed.</div>")


def bias_view(space: E.Space, a: str, b: str) -> dict:
    words, scores = space.bias(E.OCCUPATIONS.split(), a, b)
    return fe.bias_patch(words, scores, a, b)


def elmo_view(ctx: dict | None, w, gamma: float, history) -> dict:
    lm_step, lm_loss = history.step, history.running_mean("loss", 20)
    if ctx is None:
        return fe.elmo_patch([], None, lm_step, lm_loss)
    mixed, _ = E.mixture_cosine(ctx, w, gamma)
    return fe.elmo_patch(ctx["cosine"], mixed, lm_step, lm_loss)


def mix_view(ctx: dict | None, w, gamma: float) -> dict:
    """Only the mixture's bar (the per-layer cosines and the loss curve stay)."""
    if ctx is None:
        return {"traces": {}, "layout": {}}
    mixed, _ = E.mixture_cosine(ctx, w, gamma)
    return {"traces": {"elmo_mix": {"x": ["mixture"], "y": [mixed], "text": [f"{mixed:.3f}"]}}, "layout": {}}


def elmo_note(ctx: dict | None, w, gamma: float, steps: int) -> str:
    if ctx is None:
        return ""
    _, s = E.mixture_cosine(ctx, w, gamma)
    sj = ", ".join(f"s<sub>{j}</sub> = {v:.2f}" for j, v in enumerate(s))
    trained = (f"after {steps} training steps" if steps else
               "untrained (random weights: the layers already differ by context, but not yet meaningfully)")
    return (f"<div style='{FONT}'>ELMo<sub>k</sub> = γ Σ<sub>j</sub> s<sub>j</sub> h<sub>k,j</sub>, "
            f"s = softmax(w): {sj}, γ = {gamma:g}. The language model is {trained}."
            + (" The word is not among the model's words, so it is read as &lt;unk&gt;." if ctx.get("unk") else "")
            + "</div>")
