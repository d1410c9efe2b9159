"""Controls and text panels of the gradient-flow dashboard (no logic beyond layout).

Controls bind to the state with ``widgets.common.bind``.
"""

from __future__ import annotations

import math

import ipywidgets as ipw

from seqviz.data.tasks import TASK_LABELS
from seqviz.experiments import PRESETS

WIDE = ipw.Layout(width="340px")
STYLE = {"description_width": "150px"}


def make_controls() -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to (plus the buttons)."""
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    return {
        "preset": ipw.Dropdown(options=list(PRESETS), description="Preset", layout=ipw.Layout(width="520px"),
                               style={"description_width": "60px"}),
        "task": ipw.Dropdown(options=[(v, k) for k, v in TASK_LABELS.items()], description="Task", layout=WIDE,
                             style=STYLE),
        "T": ipw.IntSlider(min=10, max=200, step=5, description="Length T", **c),
        "hidden": ipw.IntSlider(min=4, max=128, step=4, description="Hidden units H", **c),
        "other": ipw.ToggleButtons(options=[("LSTM", "lstm"), ("GRU", "gru")], description="Beside the RNN",
                                   style={"description_width": "150px", "button_width": "80px"}),
        "activation": ipw.ToggleButtons(options=["tanh", "relu"], description="RNN activation",
                                        style={"description_width": "150px", "button_width": "80px"}),
        "radius": ipw.FloatSlider(min=0.1, max=2.0, step=0.05, description="RNN ρ(W_hh) at init", **c),
        "forget_bias": ipw.FloatSlider(min=-3.0, max=5.0, step=0.5, description="LSTM forget bias", **c),
        "optimizer": ipw.ToggleButtons(options=[("Adam", "adam"), ("plain SGD", "sgd")], description="Optimizer",
                                       style={"description_width": "150px", "button_width": "90px"}),
        "lr": ipw.FloatLogSlider(min=-4, max=0, step=0.1, base=10, description="Learning rate",
                                 readout_format=".1e", **c),
        "clip_on": ipw.Checkbox(description="Clip gradient norm", indent=False, layout=ipw.Layout(width="170px")),
        "clip": ipw.FloatLogSlider(min=-2, max=2, step=0.1, base=10, description="at", readout_format=".2g",
                                   continuous_update=False, layout=ipw.Layout(width="300px"),
                                   style={"description_width": "30px"}),
        "tbptt_on": ipw.Checkbox(description="Truncated BPTT", indent=False, layout=ipw.Layout(width="170px")),
        "tbptt": ipw.IntSlider(min=1, max=200, description="k", continuous_update=False,
                               layout=ipw.Layout(width="300px"), style={"description_width": "30px"}),
        "seed": ipw.BoundedIntText(min=0, max=1_000_000, description="Seed", layout=ipw.Layout(width="220px"),
                                   style={"description_width": "60px"}),
        "seq_index": ipw.IntSlider(min=0, max=7, description="Sequence shown", continuous_update=False,
                                   layout=WIDE, style=STYLE),
        "train": ipw.Button(description="Train", button_style="success", icon="play",
                            layout=ipw.Layout(width="110px")),
        "step": ipw.Button(description="One step", layout=ipw.Layout(width="110px")),
        "reset": ipw.Button(description="Reset", button_style="warning", layout=ipw.Layout(width="110px")),
    }


def _power10(base: float, n: int) -> str:
    """base**n written as 10^x, without overflow for huge or tiny results."""
    if not math.isfinite(base) or base <= 0:
        return "undefined"
    x = n * math.log10(base)
    return f"10<sup>{x:.0f}</sup>" if abs(x) >= 3 else f"{base ** n:.2g}"


def rnn_equation(rho: float, T: int, measured_ratio: float | None) -> str:
    meas = "" if measured_ratio is None else (
        f"<br>Measured now: ||∂L/∂h<sub>0</sub>|| / ||∂L/∂h<sub>T−1</sub>|| = <b>{measured_ratio:.1e}</b>")
    return (
        "∂L/∂h<sub>t</sub> = ∂L/∂h<sub>T</sub> · ∏<sub>k=t+1…T</sub> ∂h<sub>k</sub>/∂h<sub>k−1</sub>,"
        "&nbsp; ∂h<sub>k</sub>/∂h<sub>k−1</sub> = diag(φ′(a<sub>k</sub>)) W<sub>hh</sub><br>"
        "A product of T−t Jacobians: if their norms stay below 1 it shrinks geometrically (vanishing), "
        "above 1 it can blow up (exploding).<br>"
        f"Now: ρ(W<sub>hh</sub>) = <b>{rho:.3g}</b>, so ρ<sup>T−1</sup> = <b>{_power10(rho, T - 1)}</b>"
        " (|φ′| ≤ 1 for tanh only makes it smaller)." + meas
    )


def belt_equation(other: str, prod_top: float | None, prod_median: float | None, t0: int) -> str:
    gate, mem = ("f", "c") if other == "lstm" else ("z", "h")
    head = (
        "c<sub>t</sub> = f<sub>t</sub> ⊙ c<sub>t−1</sub> + i<sub>t</sub> ⊙ g<sub>t</sub>,&nbsp; "
        "h<sub>t</sub> = o<sub>t</sub> ⊙ tanh(c<sub>t</sub>)<br>Along the belt: "
        "∂c<sub>T</sub>/∂c<sub>t</sub> = ∏<sub>k=t+1…T</sub> diag(f<sub>k</sub>): no weight matrix, "
        "no squashing, only the forget gates. Gates near 1 keep the gradient alive."
        if other == "lstm" else
        "h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ n<sub>t</sub> + z<sub>t</sub> ⊙ h<sub>t−1</sub><br>Along the direct path: "
        "∂h<sub>T</sub>/∂h<sub>t</sub> ⊇ ∏<sub>k=t+1…T</sub> diag(z<sub>k</sub>): the update gate plays the "
        "forget gate's role."
    )
    if prod_top is None:
        return head
    return head + (f"<br>On the sequence shown, ∏ {gate}<sub>k</sub> from its first key step t={t0} to the end: "
                   f"top unit <b>{prod_top:.1e}</b>, median unit <b>{prod_median:.1e}</b>.")
