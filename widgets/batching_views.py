"""Controls and text panels of the batching dashboard (layout and wording only, no maths).

Controls bind to the state with ``widgets.common.bind``.
"""

from __future__ import annotations

import html

import ipywidgets as ipw

from seqviz.figures.batching import fmt_bytes

def wide() -> ipw.Layout:
    """A fresh Layout per widget: a shared one would hide them all when one is hidden."""
    return ipw.Layout(width="330px")


STYLE = {"description_width": "120px"}
TOGGLE = {"description_width": "120px", "button_width": "95px"}


def make_controls() -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to (plus the buttons)."""
    c = dict(continuous_update=False, style=STYLE)
    return {
        "source": ipw.ToggleButtons(options=[("your text", "text"), ("random lengths", "random")],
                                    description="Sequences", style=TOGGLE),
        "text": ipw.Textarea(description="Sentences", placeholder="one sentence per line", rows=7,
                             continuous_update=False, layout=ipw.Layout(width="330px"), style=STYLE),
        "level": ipw.ToggleButtons(options=[("words", "word"), ("characters", "char")], description="Tokens",
                                   style=TOGGLE),
        "dist": ipw.ToggleButtons(options=[("uniform", "uniform"), ("heavy-tailed", "heavy")],
                                  description="Lengths", style=TOGGLE),
        "n": ipw.BoundedIntText(min=1, max=2000, description="Sequences N", layout=wide(), **c),
        "max_len": ipw.BoundedIntText(min=1, max=400, description="Longest", layout=wide(), **c),
        "side": ipw.ToggleButtons(options=[("right", "right"), ("left", "left")], description="Pad on the",
                                  style=TOGGLE),
        "batch_size": ipw.BoundedIntText(min=1, max=256, description="Batch size B", layout=wide(), **c),
        "shrink": ipw.Checkbox(description="sorted batches shrink as sequences grow", indent=False,
                               layout=ipw.Layout(width="330px")),
        "seed": ipw.BoundedIntText(min=0, max=1_000_000, description="Seed", layout=wide(), **c),
        "step": ipw.IntSlider(min=0, max=1, description="Packed step t", continuous_update=True, layout=wide(),
                              style=STYLE),
        "hidden": ipw.Dropdown(options=[64, 128, 256], description="LSTM H", layout=ipw.Layout(width="200px"),
                               style={"description_width": "60px"}),
        "measure": ipw.Button(description="Measure", button_style="success", icon="play",
                              tooltip="Time LSTM forward+backward on padded, packed and sorted batches",
                              layout=ipw.Layout(width="110px")),
        "stop": ipw.Button(description="Stop", button_style="warning", layout=ipw.Layout(width="90px")),
    }


EQUATIONS = (
    "mask<sub>b,t</sub> = 1 if t &lt; L<sub>b</sub> (right padding)<br>"
    "loss = Σ<sub>b,t</sub> mask<sub>b,t</sub> ℓ<sub>b,t</sub> / Σ<sub>b,t</sub> mask<sub>b,t</sub><br>"
    "batch_sizes[t] = #{b : L<sub>b</sub> &gt; t}<br>"
    "padding share = 1 − Σ<sub>b</sub> L<sub>b</sub> / Σ<sub>batches</sub> B<sub>i</sub> T<sub>i</sub><br>"
    "W e<sub>k</sub> = W[:, k] (one-hot e<sub>k</sub> picks column k)"
)


def _ints(xs, n: int = 24) -> str:
    s = ", ".join(str(int(x)) for x in xs[:n])
    return f"[{s}{', …' if len(xs) > n else ''}]"


def facts_html(scene) -> str:
    """The layout numbers PyTorch produced for the shown batch, and the waste in bytes."""
    lay, wr, ws = scene.layout, scene.waste_random, scene.waste_sorted
    budget = f" (budget {scene.budget:,} padded cells per batch)" if scene.budget else ""
    rows = [
        f"<b>PackedSequence</b> of the shown batch: data ({lay.n_rows}, E), "
        f"batch_sizes = {_ints(lay.batch_sizes)}",
        f"sorted_indices = {_ints(lay.sorted_indices)} · unsorted_indices = {_ints(lay.unsorted_indices)}",
        f"<b>Data set</b>: {len(scene.lengths)} sequences, {wr.real_cells:,} real tokens. Padded in shuffled batches: "
        f"{wr.padded_cells:,} cells, {100 * wr.share:.1f}% padding = {fmt_bytes(wr.pad_bytes)} of "
        f"{fmt_bytes(wr.padded_bytes)} (float32, E = {wr.bytes_per_cell // 4}). Sorted{budget}: "
        f"{ws.padded_cells:,} cells, {100 * ws.share:.1f}% padding = {fmt_bytes(ws.pad_bytes)}.",
    ]
    return "<div style='font-size:15px;line-height:1.5'>" + "<br>".join(rows) + "</div>"


def timing_html(timings, extra_bytes: int) -> str:
    """One paragraph on what the measured numbers say (computed from them, never canned)."""
    t = {r.name: r for r in timings}
    pr, pk = t.get("padded, shuffled"), t.get("packed, shuffled")
    if not (pr and pk):
        return ""
    per_cell = (pk.ms / max(1, pk.cells)) / max(1e-9, pr.ms / max(1, pr.cells))
    fastest = min(timings, key=lambda r: r.ms)
    verdict = "slower" if pk.ms > pr.ms else "faster"
    text = (f"Shuffled batches: packed was {verdict} than padded ({pk.ms:.3g} vs {pr.ms:.3g} ms) while computing "
            f"{100 * (1 - pk.cells / max(1, pr.cells)):.0f}% fewer cells: each packed cell cost {per_cell:.2g}× a "
            f"padded one. Fastest: {fastest.name} ({fastest.ms:.3g} ms). ")
    if "CPU" in pk.device:
        text += ("Why: on a CPU a padded batch is one fused oneDNN kernel forward and one backward. A packed batch of "
                 "unequal lengths has no such kernel, so PyTorch loops over the time steps, and in the backward every "
                 "step's slice writes a zero gradient the size of the whole batch: about "
                 f"{fmt_bytes(extra_bytes)} here, growing like T² × B.")
    else:
        text += "On a GPU PyTorch hands packed batches to cuDNN, which has kernels for the packed layout."
    return (f"<div style='font-size:15px;line-height:1.5'><b>Measured on {html.escape(pk.device)}.</b> "
            f"{html.escape(text)}</div>")
