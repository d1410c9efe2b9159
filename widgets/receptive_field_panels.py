"""Controls and text panels of the receptive-field dashboard (layout and words only).

``bind`` links a control and a state trait both ways and shows the value actually
used when the state rewrites a bad one (NaN, out of range, garbage text).
"""

from __future__ import annotations

import html

import ipywidgets as ipw

from seqviz.probes.receptive import layers_needed
from widgets.receptive_field_race import RACE_PRESETS

WIDE = ipw.Layout(width="350px")
MAX_DIL, MAX_CUSTOM = 256, 8  # custom dilations: each at most MAX_DIL, at most MAX_CUSTOM of them


def parse_dilations(text: str) -> tuple[tuple[int, ...] | None, str | None]:
    """'1, 4, 16' -> ((1, 4, 16), None); anything else -> (None, what to type instead)."""
    parts = [p for p in str(text)[:200].replace(",", " ").split() if p]
    try:
        ds = tuple(int(p) for p in parts)
    except ValueError:
        return None, "Type the custom dilations as whole numbers separated by commas, e.g. 1, 4, 16."
    if not 1 <= len(ds) <= MAX_CUSTOM or any(not 1 <= d <= MAX_DIL for d in ds):
        return None, f"Give 1 to {MAX_CUSTOM} dilations, each from 1 to {MAX_DIL}, e.g. 1, 4, 16."
    return ds, None


STYLE = {"description_width": "140px"}


def make_controls() -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to (plus the buttons)."""
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    tog = dict(style={"description_width": "140px", "button_width": "90px"})
    return {
        "kernel_size": ipw.IntSlider(min=2, max=7, description="Kernel size k", **c),
        "n_blocks": ipw.IntSlider(min=1, max=8, description="Blocks (layers)", **c),
        "schedule": ipw.ToggleButtons(options=[("doubling", "doubling"), ("constant", "constant"),
                                               ("custom", "custom")], description="Dilations", **tog),
        "custom": ipw.Text(description="Custom dilations", placeholder="e.g. 1, 4, 16", continuous_update=False,
                           layout=WIDE, style=STYLE),
        "padding": ipw.ToggleButtons(options=[("causal", "causal"), ("centred", "centred")],
                                     description="Padding", **tog),
        "convs_per_block": ipw.ToggleButtons(options=[("1", 1), ("2", 2)], description="Convs per block", **tog),
        "t": ipw.IntSlider(min=0, max=99, description="Output position t", **c),
        "calc_reach": ipw.BoundedIntText(min=1, max=10 ** 9, description="Inputs to see N",
                                         layout=ipw.Layout(width="260px"), style={"description_width": "120px"}),
        "calc_k": ipw.BoundedIntText(min=2, max=64, description="with kernel k",
                                     layout=ipw.Layout(width="200px"), style={"description_width": "90px"}),
        "race": ipw.Dropdown(options=list(RACE_PRESETS), description="Race", layout=ipw.Layout(width="420px"),
                             style={"description_width": "50px"}),
        "train": ipw.Button(description="Train", button_style="success", icon="play",
                            layout=ipw.Layout(width="110px")),
        "reset": ipw.Button(description="Reset", button_style="warning", layout=ipw.Layout(width="110px")),
    }


def readout_html(k: int, dilations, cpb: int, padding: str, rf: int, lags, hole_lags, past: int,
                 reach: int, task: str, floor: float, metric: str) -> str:
    """The two formulas with this network's numbers, its holes, and the task's need."""
    terms = " + ".join(str(d) for d in dilations)
    c = f"{cpb}·" if cpb > 1 else ""
    l_ = len(dilations)
    doubling = list(dilations) == [2 ** i for i in range(l_)]
    lecture = (f"Lecture: R = 2<sup>l</sup>(k−1) = 2<sup>{l_}</sup>·{k - 1} = <b>{2 ** l_ * (k - 1)}</b>"
               + (" (equal: k = 2)" if k == 2 and cpb == 1 else " (exact only for k = 2 and one conv per layer)")
               if doubling else "Lecture formula needs doubling dilations 1, 2, 4, …")
    lo, hi = int(max(lags)), int(min(lags))
    span = f"x<sub>t−{lo}</sub> … x<sub>t</sub>" if hi == 0 else f"x<sub>t−{lo}</sub> … x<sub>t+{-hi}</sub>"
    holes = ("no holes" if len(hole_lags) == 0 else
             f"<b style='color:#a40000'>{len(hole_lags)} holes</b> (lags {', '.join(map(str, list(hole_lags)[:8]))}"
             f"{', …' if len(hole_lags) > 8 else ''})")
    ok = past >= reach
    need = (f"<b style='color:#006b3c'>sees {past} ≥ {reach} needed</b>" if ok else
            f"<b style='color:#a40000'>sees only {past} &lt; {reach} needed: best possible {html.escape(metric)} "
            f"≈ {floor:.3g}</b>")
    return (f"Exact: 1 + {c}Σ(k−1)d<sub>i</sub> = 1 + {c}{k - 1}·({terms}) = <b>{rf}</b> inputs<br>{lecture}<br>"
            f"{padding.capitalize()}: y<sub>t</sub> reads {span}, {holes}.<br>"
            f"Task ({html.escape(task)}): {need}")


def calculator_html(N: int, k: int) -> str:
    """Layers needed for N inputs with doubling dilations, by both formulas."""
    a, b = layers_needed(N, k, 1), layers_needed(N, k, 2)
    return (f"Lecture: 2<sup>l</sup>·{k - 1} ≥ {N:,} ⇒ l = ⌈log<sub>2</sub>({N:,}/{k - 1})⌉ = "
            f"⌈{a['lecture_log2']:.4f}⌉ = <b>{a['lecture_layers']}</b> (R = {a['lecture_R']:,})<br>"
            f"Exact: 1 + {k - 1}(2<sup>l</sup> − 1) ≥ {N:,} ⇒ l = ⌈log<sub>2</sub>(({N:,}−1)/{k - 1} + 1)⌉ = "
            f"⌈{a['exact_log2']:.4f}⌉ = <b>{a['exact_layers']}</b> (sees {a['exact_R']:,})<br>"
            f"Two convs per block: <b>{b['exact_layers']}</b> blocks = {2 * b['exact_layers']} convolutions "
            f"(sees {b['exact_R']:,})"
            + ("" if a["lecture_layers"] == a["exact_layers"] else
               "<br><b>The formulas disagree here</b>: the lecture's R overstates the exact count by k−2.")
            + "<br><span style='color:#555'>1 s of 22.05 kHz audio: N = 22,050, k = 7 (the lecture's example)</span>")
