"""Which engine data feeds which pane of the gradient-flow dashboard, and its HTML panels.

Every function here reads engine objects (a ``Run``, its ``History``, ``GradientProbe`` and
``GateTrace`` results) and returns a figure patch (``seqviz.figures.gradflow``'s pure
builders) or a piece of HTML; none touches a pane or a widget.
"""

from __future__ import annotations

import html
import math

import numpy as np

from seqviz.figures import gradflow as gf
from seqviz.figures.patch import patch
from seqviz.models.recurrent import cut_points
from seqviz.probes.gates import belt_product, gate_traces
from seqviz.probes.gradients import probe_gradients

WINDOW = 20  # steps in the running means of the curves


def merge(*patches: dict) -> dict:
    """``seqviz.figures.patch.merge``, except that a layout value that is not a dict (a list of
    ``shapes`` or ``annotations``) replaces the earlier one (``patch.merge`` would turn it into a
    dict, which ``apply`` then cannot write)."""
    out = patch()
    for p in patches:
        for part in ("traces", "layout"):
            for k, props in (p or {}).get(part, {}).items():
                if isinstance(props, dict) and isinstance(out[part].get(k), dict):
                    out[part][k].update(props)
                else:
                    out[part][k] = dict(props) if isinstance(props, dict) else props
    return out


# -- probes ------------------------------------------------------------------------------
def measure(run, models: dict) -> dict:
    """Per-step gradient norms of ``models`` (the run's own, or viewer copies) on the run's
    fixed probe batch, with the run's current truncation."""
    s = run.setup
    return {name: probe_gradients(m, s.task, s.probe_batch, tbptt=s.tbptt) for name, m in models.items()}


def probe_rows(run, live: tuple[int, dict] | None = None, upto: int | None = None):
    """The probes to show: those recorded while training (``History.probes``; a probe runs before
    the update, so it belongs to the weights after ``probe_step - 1`` updates), plus ``live``
    ((updates, {model: probe}) measured by the dashboard) when it is newer, up to ``upto`` updates.
    Returns (updates list, {model: probe list})."""
    names = list(run.models)
    h0 = run.history[names[0]]
    steps = [s - 1 for s in h0.probe_step]
    rows = {k: list(run.history[k].probes) for k in names}
    n = min([len(steps)] + [len(v) for v in rows.values()])
    steps, rows = steps[:n], {k: v[:n] for k, v in rows.items()}
    if live is not None and (not steps or live[0] > steps[-1]):
        steps = steps + [live[0]]
        rows = {k: v + [live[1][k]] for k, v in rows.items()}
    if upto is not None:
        keep = [i for i, s in enumerate(steps) if s <= upto]
        steps, rows = [steps[i] for i in keep], {k: [v[i] for i in keep] for k, v in rows.items()}
    return steps, rows


def nearest(steps: list[int], rows: dict, at: int | None):
    """(updates, {model: probe}) of the probe row nearest ``at`` (the newest when None); None if no rows."""
    if not steps:
        return None
    i = len(steps) - 1 if at is None else int(np.argmin(np.abs(np.asarray(steps) - at)))
    return steps[i], {k: v[i] for k, v in rows.items()}


# -- panes -------------------------------------------------------------------------------
def graph_view(run, other: str, shown: tuple[int, dict] | None) -> dict:
    """The unrolled network and the per-step norms of the probe ``shown`` (updates, {model: probe})."""
    T = run.setup.T
    cuts = cut_points(T, run.setup.tbptt)
    if shown is None:
        return gf.graph_patch(T, other, None, None, cuts)
    updates, probes = shown
    title = gf.NORMS_TITLE + (f", after {updates} updates" if updates else ", untrained")
    return gf.graph_patch(T, other, probes.get("rnn"), probes.get(other), cuts, title=title)


def heat_view(run, other: str, steps: list[int], rows: dict) -> dict:
    return gf.heat_patch(run.setup.T, rows.get("rnn", []), rows.get(other, []), steps)


def curves_view(run, other: str, upto: int | None = None) -> dict:
    s = run.setup
    return gf.curves_patch(run.history["rnn"], run.history[other], s.task.baseline_loss(s.T),
                           s.task.baseline_accuracy(s.T), run.cfg.clip, window=WINDOW,
                           upto=None if upto is None else upto)


def belt_traces(run, model) -> list:
    """Gate traces of ``model`` (the live one or a viewer copy) on every probe-batch sequence."""
    b = run.setup.probe_batch
    return gate_traces(model, b.x, [int(k[0]) for k in b.key_positions])


def key_steps(run, i: int) -> list[int]:
    return [int(k) for k in run.setup.probe_batch.key_positions[i].tolist()]


def belt_view(trace, keys: list[int]) -> dict:
    return gf.belt_patch(trace, keys)


def gates_view(trace) -> dict:
    return gf.gates_patch(trace)


# -- HTML --------------------------------------------------------------------------------
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
    gate = "f" if other == "lstm" else "z"
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


def belt_numbers(trace, t0: int) -> tuple[float, float]:
    """Belt product of the top unit (the one that stores the token) and the median unit."""
    prod = belt_product(trace, t0)
    return float(prod[trace.unit_order[0]]), float(np.median(prod))


def progress_html(run, other: str, upto: int | None = None) -> str:
    """Step, training time and the latest losses (at the timeline's step when scrubbed)."""
    s = run.setup
    hs = {k: run.history[k] for k in ("rnn", other)}
    n = run.steps if upto is None else upto
    parts = [f"step <b>{n}</b>"]
    if all(len(h) for h in hs.values()):  # the rows of steps 1 .. n (step k's loss: the weights after k-1 updates)
        idx = {k: (len(h) - 1 if upto is None else int(np.searchsorted(h.step, upto, side="right")) - 1)
               for k, h in hs.items()}
        if all(i >= 0 for i in idx.values()):
            secs = sum(float(h.seconds[idx[k]]) for k, h in hs.items())
            parts.append(f"{secs:.1f} s of training")
            parts += [f"{gf.MODEL_LABELS[k]} loss {float(h.loss[idx[k]]):.3g}" for k, h in hs.items()]
    parts.append(f"baseline {s.task.baseline_loss(s.T):.3g}")
    return f"<span style='font-size:15px'>{' · '.join(parts)}</span>"


def escape(text: str) -> str:
    return html.escape(text)
