"""What the attention dashboard writes in HTML: the two worked equations, the progress line,
the shuffle check's sentence, and the sentence for each switch of part 2. Text only: the
numbers come from ``seqviz`` (the parts compute them, these functions lay them out).
"""

from __future__ import annotations

import html

import numpy as np

from seqviz.figures.attention import WINDOW


def _vec(v, n: int = 8) -> str:
    v = np.asarray(v, dtype=float)
    body = ", ".join(f"{x:+.2f}" for x in v[:n])
    return f"[{body}{', ...' if len(v) > n else ''}]"


def _esc(ch: str) -> str:
    return html.escape({" ": "\u2423", "\n": "\u21b5"}.get(ch, ch))


def additive_equation(i: int, j: int, src: str, e_row, alpha_drawn: float, alpha_eq: float, step: int,
                      values: str = "states") -> str:
    """Worked numbers of alpha_ij = softmax_j(e_ij), e_ij = v . tanh(W_s s_(i-1) + W_h h_j + b)."""
    e_row = np.asarray(e_row, dtype=float)
    denom = float(np.exp(e_row - e_row.max()).sum())
    return (
        f"<div>Output step <b>i = {i}</b>, source step <b>j = {j}</b> ('{_esc(src[j])}'), weights of step {step}</div>"
        "<div>e<sub>ij</sub> = v &middot; tanh(W<sub>s</sub> s<sub>i-1</sub> + W<sub>h</sub> h<sub>j</sub> + b)"
        f" = <b>{e_row[j]:+.3f}</b></div>"
        "<div>&alpha;<sub>ij</sub> = exp(e<sub>ij</sub>) / &Sigma;<sub>k</sub> exp(e<sub>ik</sub>)"
        f" = exp({e_row[j] - e_row.max():+.3f}) / {denom:.3f} = <b>{alpha_eq:.4f}</b>"
        f" <span style='color:#555'>(max e<sub>ik</sub> = {e_row.max():+.3f} subtracted from every score)</span></div>"
        f"<div>drawn in the matrix: <b>{alpha_drawn:.4f}</b> &middot; difference {abs(alpha_drawn - alpha_eq):.1e}"
        " <span style='color:#555'>(recomputed in float64 from the model's own W<sub>s</sub>, W<sub>h</sub>, b, v)"
        "</span></div>"
        + ("<div>c<sub>i</sub> = &Sigma;<sub>j</sub> &alpha;<sub>ij</sub> h<sub>j</sub>: the decoder reads this "
           "weighted average of the encoder states.</div>" if values == "states" else
           "<div>c<sub>i</sub> = &Sigma;<sub>j</sub> &alpha;<sub>ij</sub> e(x<sub>j</sub>): this model reads the "
           "weighted average of the source token embeddings (scores still come from the encoder states h<sub>j</sub>"
           ").</div>"))


def self_attention_equation(i: int, j: int, tokens: str, cell: dict, q_i, k_j, v_j, drawn: float, recomputed: float,
                            layer: int, head: int, kind: str, step: int | None = None) -> str:
    """Worked numbers of w_ij = softmax_j(q_i . k_j / sqrt(k)) for the selected head."""
    k = len(q_i)
    src = ("q<sub>i</sub> = W<sub>q</sub> x<sub>i</sub> + b<sub>q</sub>, k<sub>j</sub> = W<sub>k</sub> x<sub>j</sub> "
           "+ b<sub>k</sub>, v<sub>j</sub> = W<sub>v</sub> x<sub>j</sub> + b<sub>v</sub>" if kind == "qkv"
           else "parameter-free: q<sub>i</sub> = x<sub>i</sub>, k<sub>j</sub> = x<sub>j</sub>, v<sub>j</sub> = "
                "x<sub>j</sub> (this head's slice of the normalised token vectors)")
    div = f" / sqrt({k}) = {cell['dot']:+.3f} / {cell['scale']:.3f}" if cell["scale"] != 1.0 else " (unscaled)"
    if cell["masked"]:
        w_line = (f"j = {j} &gt; i = {i}: the causal mask sets w'<sub>ij</sub> = &minus;&infin;, so "
                  f"w<sub>ij</sub> = <b>0</b> exactly")
    else:
        w_line = (f"w<sub>ij</sub> = exp(w'<sub>ij</sub> &minus; log &Sigma;<sub>k</sub> exp w'<sub>ik</sub>) = "
                  f"exp({cell['score']:+.3f} &minus; {cell['lse']:.3f}) = <b>{cell['w']:.4f}</b>")
    return (
        f"<div>Layer {layer}, head {head}: query <b>i = {i}</b> ('{_esc(tokens[i])}'), key <b>j = {j}</b> "
        f"('{_esc(tokens[j])}'), key dimension k = {k}"
        + (f", weights of step {step}" if step is not None else "") + "</div>"
        f"<div style='color:#555'>{src}</div>"
        f"<div>q<sub>i</sub> = {_vec(q_i)}<br>k<sub>j</sub> = {_vec(k_j)}<br>v<sub>j</sub> = {_vec(v_j)}</div>"
        f"<div>w'<sub>ij</sub> = q<sub>i</sub> &middot; k<sub>j</sub>{div} = <b>{cell['score']:+.3f}</b></div>"
        f"<div>{w_line}</div>"
        f"<div>drawn: <b>{drawn:.4f}</b>, recomputed in float64 from the model's weights: {recomputed:.4f} "
        f"(difference {abs(drawn - recomputed):.1e})</div>"
        "<div>y<sub>i</sub> = &Sigma;<sub>j</sub> w<sub>ij</sub> v<sub>j</sub>; every row of w sums to 1.</div>")


def progress_line(part1: dict | None, part2: dict | None, baseline: float, window: int = WINDOW) -> str:
    """One line about both trainings; part1 / part2 are None before their first step, else
    dicts of step, seconds and running means (alignment, loss) over the last ``window`` batches."""
    parts = []
    if part1:
        parts.append(f"Part 1: step <b>{part1['step']}</b> &middot; {part1['seconds']:.0f} s &middot; alignment "
                     f"accuracy <b>{100 * part1['alignment']:.0f}%</b>")
    if part2:
        parts.append(f"Part 2: step <b>{part2['step']}</b> &middot; loss <b>{part2['loss']:.2f}</b> nats/char "
                     f"(letter frequencies alone: {baseline:.2f})")
    if not parts:
        return ""
    return (f"<span style='font-size:15px'>Means over the last {window} batches. "
            + " &nbsp;|&nbsp; ".join(parts) + "</span>")


def shuffle_note(gap: float) -> str:
    equi = gap < 1e-4
    why = ("no position information and no causal mask: the model is permutation equivariant, so the new "
           "matrix is the old one with rows and columns shuffled alike" if equi else
           "position embeddings or the causal mask tell the model where each token is, so shuffling the "
           "input changes more than the order of the output")
    return (f"<div style='font-size:15px'>Shuffled. Largest |f(shuffled x) &minus; shuffled "
            f"f(x)| = <b>{gap:.1e}</b>: {why}.</div>")


def switch_sentence(name: str, causal: bool, scaled: bool, position: str, kind: str) -> str:
    """What a switch of part 2 did (each builds a new, untrained transformer)."""
    what = {"causal": "Causal mask " + ("on" if causal else "off: each token can see the next one, so predicting "
                                                            "it is cheating. Train and watch the loss"),
            "scaled": "Scores " + ("divided by sqrt(k)" if scaled else "not scaled"),
            "position": f"Position embedding: {position}",
            "kind": "Attention: " + ("keys, queries and values" if kind == "qkv"
                                     else "parameter-free, w_ij = x_i . x_j")}[name]
    return what + ". A new transformer was built; press Train in part 2."
