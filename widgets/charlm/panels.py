"""The HTML panels of the character-level language model dashboard: the sample history, greedy vs sampled
continuations, the passage coloured by one unit, the progress line, and the equations. Pure functions of numbers
the engine computed."""

from __future__ import annotations

import html
import math

import numpy as np

from seqviz.models.charlm import END, UNK

BOX = ("border:1px solid #ccc;border-radius:6px;padding:6px 10px;background:#fafafa;font-size:15px;"
       "line-height:1.5")
MONO = "font-family:DejaVu Sans Mono,monospace;"


END_MARK = "<span style='color:#777;font-size:13px'> [end]</span>"


def shown(text: str) -> str:
    """Text as HTML; "\x00" (where a sample ended) as a grey [end]."""
    return html.escape(text).replace("\n", " / ").replace("\x00", END_MARK)


def samples_html(entries, documents: bool) -> str:
    """The sample history, newest first: (step, seconds trained, prompt, continuation, tau, cut)."""
    if not entries:
        return (f"<div style='{BOX}'><b>Samples while it trains</b><br><i>None yet: press Train. A fresh sample "
                "from the prompt every 2 seconds, with the step it came from.</i></div>")
    rows = []
    for step, secs, prompt, text, tau, cut in reversed(entries):
        t = "greedy" if tau < 1e-3 else f"τ {tau:.2g}"
        end = ""
        body = shown(text)
        rows.append(f"<div><span style='color:#555;font-size:13px'>step {step:,} ({secs:.0f} s, {t})</span> "
                    f"<span style='{MONO}'><b>{shown(prompt)}</b>{body}</span>{end}"
                    f"{' <i style=color:#8a4b00>(cut: time box)</i>' if cut else ''}</div>")
    return (f"<div style='{BOX}'><b>Samples while it trains</b> (newest first; bold: the prompt)"
            f"<div class='seqviz-samples' style='max-height:230px;overflow-y:auto'>{''.join(rows)}</div></div>")


def continuations_html(prompt: str, greedy: str, sampled: list[str], tau: float, step: int) -> str:
    t = "0 (greedy)" if tau < 1e-3 else f"{tau:.2g}"
    rows = "".join(f"<li style='{MONO}'><b>{shown(prompt)}</b>{shown(s)}</li>" for s in sampled)
    return (f"<div style='{BOX}' class='seqviz-continuations'><b>Greedy vs sampled</b> (step {step:,})<br>"
            f"greedy, τ &rarr; 0 (always the most likely): <span style='{MONO}'><b>{shown(prompt)}</b>"
            f"{shown(greedy)}</span><br>sampled at τ = {t}:<ul style='margin:2px 0'>{rows}</ul></div>")


def _colour(v: float) -> str:
    """-1 blue, 0 white, +1 red (RdBu reversed): the colour of one unit value scaled to [-1, 1]."""
    v = max(-1.0, min(1.0, v))
    if v >= 0:
        r, g, b = 255, int(255 - 150 * v), int(255 - 180 * v)
    else:
        r, g, b = int(255 + 180 * v), int(255 + 120 * v), 255
    return f"rgb({r},{g},{b})"


def passage_html(chars: list[str], values: np.ndarray, unit: int, what: str, r: float) -> str:
    """``chars`` coloured by one unit's value after reading each (scaled by the largest |value| shown)."""
    if not len(chars):
        return f"<div style='{BOX}'>No passage yet: {html.escape(what)}</div>"
    scale = float(np.max(np.abs(values))) if len(values) else 1.0
    scale = scale if scale > 1e-12 else 1.0
    spans = []
    for c, v in zip(chars, values):
        if c == END:
            spans.append("<span style='color:#999'>|</span> ")
            continue
        t = "␣" if c == " " else ("\ufffd" if c == UNK else c)
        spans.append(f"<span title='{v:+.3f}' style='background:{_colour(v / scale)}'>{html.escape(t)}</span>")
    return (f"<div style='{BOX}' class='seqviz-passage'><b>Unit #{unit}</b> on {html.escape(what)} "
            f"(correlation with the feature r = {r:+.2f}; red high, blue low, white 0; scale ±{scale:.2g})"
            f"<div style='{MONO}font-size:16px;line-height:1.9;word-wrap:break-word'>{''.join(spans)}</div></div>")


def progress_html(step: int, seconds: float, held: float | None, markov: float | None, order: int,
                  counted: str, label: str) -> str:
    h = f"{held:.3f}" if held is not None and math.isfinite(held) else "not measured yet"
    mk = f"{markov:.3f}" if markov is not None and math.isfinite(markov) else "computing"
    verdict = ""
    if held is not None and markov is not None and math.isfinite(held) and math.isfinite(markov):
        verdict = (" <b style='color:#006b3c'>below the Markov line</b>" if held < markov
                   else " <span style='color:#8a4b00'>not yet below the Markov line</span>")
    return (f"<div style='font-size:15px'>{html.escape(label)} · step <b>{step:,}</b> · {seconds:.0f} s of training · "
            f"held-out <b>{h}</b> bits/char vs Markov order {order} <b>{mk}</b>{verdict}<br>"
            f"<span style='color:#555;font-size:13px'>{html.escape(counted)}</span></div>")


EQUATIONS = (
    "p(x<sub>1</sub> … x<sub>n</sub>, end) = ∏<sub>t</sub> p(x<sub>t</sub> | x<sub>1</sub> … x<sub>t−1</sub>) "
    "&nbsp; (the chain rule; no Markov cut-off)<br>"
    "bits per character = −(1/N) Σ<sub>t</sub> log<sub>2</sub> p(x<sub>t</sub> | x<sub>&lt;t</sub>) "
    "= loss in nats / ln 2<br>"
    "temperature: p<sub>τ</sub>(x) = softmax(z / τ); τ &rarr; 0 is greedy (argmax), τ = 1 the model itself")


def exposure_note(active: bool, p_max: float, ramp: int, vocab: int) -> str:
    if not active:
        return ("<div style='font-size:14px;color:#555'>Tick <b>Compare with scheduled sampling</b> to train a "
                "twin from the same initial weights that is fed its own predictions more and more often.</div>")
    return (f"<div style='font-size:14px;color:#555'>Both models start from the same weights and see the same "
            f"batches. <b>Teacher forcing</b>: every step reads the true previous character. <b>Scheduled "
            f"sampling</b>: with a probability rising from 0 to {p_max:g} over {ramp:,} steps it reads its own sample "
            "instead. Solid: held-out bits, teacher-forced. Dotted: <b>free-running</b>, the same held-out names "
            "scored while the model reads only its own samples (as when it writes), the first 128 documents, seed 0; it "
            f"can be worse than a uniform guess's {math.log2(vocab):.1f} bits: a confident model continues what it wrote, and the "
            "true text went elsewhere. "
            "What the curves show is what was measured; scheduled sampling need not win.</div>")
