"""Controls and equation panels of the attention dashboard (layout and text only).

``bind`` links a control to a state trait both ways and shows the value the state
actually kept (after clamping bad input from the browser), which ``traitlets.link``
refuses to do ("Broken link").
"""

from __future__ import annotations

import html

import ipywidgets as ipw
import numpy as np

from seqviz.data.translation import TASK_LABELS

STYLE = {"description_width": "120px"}


def _slider(desc: str, width: str = "330px", **kw) -> ipw.IntSlider:
    return ipw.IntSlider(description=desc, continuous_update=False, layout=ipw.Layout(width=width), style=STYLE, **kw)


def _button(desc: str, style: str = "", icon: str = "") -> ipw.Button:
    return ipw.Button(description=desc, button_style=style, icon=icon, layout=ipw.Layout(width="105px"))


def make_controls() -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to (buttons by their action)."""
    toggles = {"description_width": "120px", "button_width": "120px"}
    return {
        # part 1: alignment
        "task": ipw.Dropdown(options=[(v, k) for k, v in TASK_LABELS.items()], description="Task",
                             layout=ipw.Layout(width="420px"), style=STYLE),
        "cell": ipw.ToggleButtons(options=[("GRU", "gru"), ("LSTM", "lstm")], description="Recurrent cell",
                                  style={"description_width": "120px", "button_width": "70px"}),
        "source": ipw.Text(description="Source to show", continuous_update=False, layout=ipw.Layout(width="420px"),
                           style=STYLE),
        "snapshot": _slider("Training history", width="420px", min=0, max=0),
        "out_i": _slider("Output step i", min=0, max=7),
        "src_j": _slider("Source step j", min=0, max=7),
        "train_s2s": _button("Train", "success", "play"), "stop_s2s": _button("Stop", "", "stop"),
        "reset_s2s": _button("Reset", "warning"),
        # part 2: self-attention
        "layer": ipw.Dropdown(options=[0, 1], description="Layer", layout=ipw.Layout(width="200px"),
                              style={"description_width": "60px"}),
        "head": ipw.Dropdown(options=[0, 1, 2, 3], description="Head", layout=ipw.Layout(width="200px"),
                             style={"description_width": "60px"}),
        "query": _slider("Query token i", min=0, max=31),
        "key": _slider("Key token j", min=0, max=31),
        "causal": ipw.Checkbox(description="Causal mask (no looking ahead)", indent=False),
        "scaled": ipw.Checkbox(description="Divide by sqrt(k)", indent=False),
        "position": ipw.ToggleButtons(options=[("learned", "learned"), ("sinusoidal", "sinusoidal"),
                                               ("none", "none")], description="Position embedding", style=toggles),
        "kind": ipw.ToggleButtons(options=[("keys, queries, values", "qkv"), ("parameter-free", "simple")],
                                  description="Attention", style={"description_width": "120px",
                                                                  "button_width": "170px"}),
        "text": ipw.Text(description="Text to look at", continuous_update=False, layout=ipw.Layout(width="560px"),
                         style=STYLE),
        "train_lm": _button("Train", "success", "play"), "stop_lm": _button("Stop", "", "stop"),
        "reset_lm": _button("Reset", "warning"), "permute": ipw.Button(description="Shuffle the text",
                                                                      layout=ipw.Layout(width="150px")),
    }


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
                            layer: int, head: int, kind: str) -> str:
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
        f"('{_esc(tokens[j])}'), key dimension k = {k}</div><div style='color:#555'>{src}</div>"
        f"<div>q<sub>i</sub> = {_vec(q_i)}<br>k<sub>j</sub> = {_vec(k_j)}<br>v<sub>j</sub> = {_vec(v_j)}</div>"
        f"<div>w'<sub>ij</sub> = q<sub>i</sub> &middot; k<sub>j</sub>{div} = <b>{cell['score']:+.3f}</b></div>"
        f"<div>{w_line}</div>"
        f"<div>drawn: <b>{drawn:.4f}</b>, recomputed in float64 from the model's weights: {recomputed:.4f} "
        f"(difference {abs(drawn - recomputed):.1e})</div>"
        "<div>y<sub>i</sub> = &Sigma;<sub>j</sub> w<sub>ij</sub> v<sub>j</sub>; every row of w sums to 1.</div>")
