"""Which engine data feeds which pane of the batching dashboard, and its text panels.

Panes (``seqviz.figures.batching``): "grid" holds panel 1, "packed" panel 2, "rest" panels 3-6.
Each ``*_patch`` here turns the scene (``seqviz.experiments.batching.Scene``) into the patch
for one pane, with the figure module's pure builders; the view applies them. The HTML panels
(the facts line, the timing paragraph, the step line, the rules) are written here too.
"""

from __future__ import annotations

import html

import torch

from seqviz.figures import batching as fb
from seqviz.figures.patch import merge

# -- plot panes -----------------------------------------------------------------------------


def grid_patch(scene) -> dict:
    """Pane "grid" (panel 1): the shown batch, padded, with its mask and tokens."""
    return fb.grid_patch(scene.batch, scene.words)


def packed_patch(scene, t: int) -> dict:
    """Pane "packed" (panel 2) whole, step t highlighted."""
    return fb.packed_patch(scene.layout, t)


def step_patch(scene, t: int) -> dict:
    """Pane "packed", the step slider's part only."""
    return fb.step_patch(scene.layout, t)


def rest_parts(scene) -> dict[str, dict]:
    """Pane "rest" by panel: 3 (shuffled vs sorted batches), 4 (final states, loss), 6 (one-hot).
    Separate, so that a view sends only the panels that changed (``shrink`` changes panel 3 only)."""
    return {
        "waste": fb.waste_patch(scene.lengths, scene.random_batches, scene.sorted_batches,
                                scene.waste_random.bytes_per_cell, scene.budget is not None),
        "final": merge(fb.final_patch(scene.final, scene.batch.side), fb.loss_patch(scene.loss)),
        "onehot": fb.onehot_patch(scene.onehot, scene.onehot_cols, scene.vocab_words),
    }


def rest_patch(scene) -> dict:
    """Pane "rest" whole (panels 3, 4 and 6; panel 5 is ``timing_view``)."""
    return merge(*rest_parts(scene).values())


DATA_CHANGED = "The data changed:<br>press <b>Measure</b> to time<br>the data set shown now<br>(H = {hidden})."


def timing_view(job, scene, hidden: int, running: bool, hint: str | None = None) -> dict:
    """Pane "rest", panel 5: what the Measure job found, for the data and H shown now
    (``hint``: the message while there is no job, formatted with ``hidden``)."""
    if job is None or job.scene is not scene:
        return fb.timing_patch([], hidden, note=hint.format(hidden=hidden) if hint else None)
    results = list(job.results)
    note = None
    if job.hidden != hidden:
        note = (f"These were measured<br>with H = {job.hidden}.<br>Press <b>Measure</b><br>to time H = {hidden}."
                if results else fb.press_measure(hidden))
    elif running and not results:
        note = f"Measuring<br>{job.next_name}<br>(1 of {job.total}, H = {job.hidden}) …"
    return fb.timing_patch(results, job.hidden if results else hidden, note)


# -- text panels ------------------------------------------------------------------------------

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
    """The layout numbers PyTorch produced for the shown batch, and the waste in bytes of the
    batches drawn in panel 3 (the same batches, so the same percentages)."""
    lay, wr, ws = scene.layout, scene.waste_random, scene.waste_sorted
    budget = f" (budget {scene.budget:,} padded cells per batch)" if scene.budget else ""
    rows = [
        f"<b>PackedSequence</b> of the shown batch (panel 2): data ({lay.n_rows}, E), "
        f"batch_sizes = {_ints(lay.batch_sizes)}",
        f"sorted_indices = {_ints(lay.sorted_indices)} · unsorted_indices = {_ints(lay.unsorted_indices)}",
        f"<b>Data set</b> (panel 3): {len(scene.lengths)} sequences, {wr.real_cells:,} real tokens. Padded in "
        f"{len(scene.random_batches)} shuffled batches: {wr.padded_cells:,} cells, {100 * wr.share:.1f}% padding = "
        f"{fb.fmt_bytes(wr.pad_bytes)} of {fb.fmt_bytes(wr.padded_bytes)} (float32, E = {wr.bytes_per_cell // 4}). "
        f"{len(scene.sorted_batches)} sorted batches{budget}: {ws.padded_cells:,} cells, {100 * ws.share:.1f}% "
        f"padding = {fb.fmt_bytes(ws.pad_bytes)}.",
    ]
    return "<div style='font-size:15px;line-height:1.5'>" + "<br>".join(rows) + "</div>"


def step_html(scene, t: int) -> str:
    lay = scene.layout
    t = fb.clamp_step(lay, t)
    rows = lay.rows_at(t)
    return (f"<span style='font-size:14px'>step t={t}: the RNN reads rows {rows.start}–{rows.stop - 1} of .data "
            f"together (batch_sizes[{t}] = {lay.batch_sizes[t]})</span>")


def device_sentence(device: torch.device, extra_bytes: int, cudnn: bool | None = None,
                    mkldnn: bool | None = None) -> str:
    """What is known about packed batches on ``device``, and no more: on a CPU what was
    profiled on one (docs/batching.md); on CUDA only that cuDNN has a packed-sequence kernel, if
    this PyTorch has cuDNN; on Apple's MPS that there is no cuDNN. Nothing else was measured."""
    kind = device.type
    if kind == "cpu":
        mkldnn = torch.backends.mkldnn.is_available() if mkldnn is None else mkldnn
        if not mkldnn:
            return ("This PyTorch has no oneDNN, so the fused CPU kernel that the profile in docs/batching.md found "
                    "behind fast padded batches is not used here; only the numbers above were measured.")
        return ("Why, as torch.profiler found on a CPU (docs/batching.md): a padded batch is one fused oneDNN "
                "kernel forward and one backward. A packed batch of unequal lengths has no such kernel, so PyTorch "
                "loops over the time steps, and in the backward every step's slice writes a zero gradient the size "
                f"of the whole batch: about {fb.fmt_bytes(extra_bytes)} here, growing like T² × B.")
    if kind == "cuda":
        cudnn = torch.backends.cudnn.is_available() if cudnn is None else cudnn
        if cudnn:
            return ("cuDNN has a packed-sequence kernel; not measured here (the numbers above are the only "
                    "measurement on this GPU).")
        return ("This PyTorch has no cuDNN, so packed batches on this GPU do not use cuDNN's kernels; only the "
                "numbers above were measured.")
    if kind == "mps":
        return ("Apple's MPS has no cuDNN; how PyTorch runs packed batches there was not measured here, beyond "
                "the numbers above.")
    return f"How PyTorch runs packed batches on {kind} was not measured here, beyond the numbers above."


def timing_html(timings, extra_bytes: int, device: torch.device) -> str:
    """One paragraph on what the measured numbers say (computed from them, never canned),
    what each number is (median of N runs), and what is known for this device."""
    if not timings:
        return ""
    t = {r.name: r for r in timings}
    what = fb.how_measured(timings)
    parts = [f"Each bar of panel 5 is the {what} of forward + backward over every batch of the data set; "
             "such timings vary from run to run with whatever else the machine does."]
    pr, pk = t.get("padded, shuffled"), t.get("packed, shuffled")
    if pr and pk:
        per_cell = (pk.ms / max(1, pk.cells)) / max(1e-9, pr.ms / max(1, pr.cells))
        fastest = min(timings, key=lambda r: r.ms)
        verdict = "slower than" if pk.ms > pr.ms else ("faster than" if pk.ms < pr.ms else "as fast as")
        parts.append(f"Shuffled batches: packed was {verdict} padded ({pk.ms:.3g} vs {pr.ms:.3g} ms) while "
                     f"computing {100 * (1 - pk.cells / max(1, pr.cells)):.0f}% fewer cells: each packed cell cost "
                     f"{per_cell:.2g}× a padded one. Fastest so far: {fastest.name} ({fastest.ms:.3g} ms).")
    parts.append(device_sentence(device, extra_bytes))
    return (f"<div class='seqviz-timing' style='font-size:15px;line-height:1.5'><b>Measured on "
            f"{html.escape(timings[0].device)} ({html.escape(what)} each).</b> {html.escape(' '.join(parts))}</div>")
