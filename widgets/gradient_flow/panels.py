"""Which engine data feeds which pane of the gradient-flow dashboard, and its HTML panels.

Every function here reads engine objects (a ``Run``, its ``History``, ``GradientProbe`` and
``GateTrace`` results) and returns a figure patch (``seqviz.figures.gradflow``'s pure
builders) or a piece of HTML; none touches a pane or a widget.
"""

from __future__ import annotations

import math

import numpy as np

from seqviz.figures import gradflow as gf
from seqviz.figures.patch import patch
from seqviz.models.recurrent import cut_points, spectral_norm, spectral_radius
from seqviz.probes.gates import belt_product, gate_traces
from seqviz.probes.gradients import probe_gradients

WINDOW = 50  # steps in the running means of the curves and the progress line (said on screen)


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
def measure(run, models: dict, per_sequence: bool = False) -> dict:
    """Per-step gradient norms of ``models`` (the run's own, or viewer copies) on the run's
    fixed probe batch, with the run's current truncation."""
    s = run.setup
    return {name: probe_gradients(m, s.task, s.probe_batch, tbptt=s.tbptt, per_sequence=per_sequence)
            for name, m in models.items()}


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


def cuts_view(run, other: str, live: tuple[int, dict] | None) -> dict:
    """The cut lines of the run's current truncation, before its per-step norms are measured."""
    hi = max((float(np.max(p.h_norms)) for p in (live[1].values() if live else ())), default=1.0)
    return gf.cuts_patch(cut_points(run.setup.T, run.setup.tbptt), 3 if other == "lstm" else 2, hi)


def heat_view(run, other: str, steps: list[int], rows: dict) -> dict:
    return gf.heat_patch(run.setup.T, rows.get("rnn", []), rows.get(other, []), steps)


def curves_view(run, other: str, upto: int | None = None) -> dict:
    s = run.setup
    lines = [(b.name, b.loss) for b in s.task.baselines(s.T)]
    return gf.curves_patch(run.history["rnn"], run.history[other], lines, s.task.baseline_accuracy(s.T),
                           run.cfg.clip, window=WINDOW, upto=upto)


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
def _num(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else (f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}")


def matrix_numbers(W) -> tuple[float, float]:
    """rho(W) (largest |eigenvalue|) and ||W||_2 = sigma_max (largest singular value)."""
    return spectral_radius(W), spectral_norm(W)


def rnn_equation(rho: float, sigma: float, T: int, task, measured_ratio: float | None, updates: int | None) -> str:
    """The RNN's chain rule, Pascanu et al.'s condition worded as a condition on sigma_max, the
    live (or snapshot) rho and sigma_max, and the measured ratio; steps t = 0 .. T-1 throughout."""
    last = f"T−1 = {T - 1}"
    if task.seq2seq:
        shape = ("Copy memory has a loss at every step, so ∂L/∂h<sub>t</sub> also gets its own term ∂ℓ<sub>t</sub>/∂h"
                 "<sub>t</sub> (and one through J<sub>s</sub>⋯J<sub>t+1</sub> from every later loss ℓ<sub>s</sub>): not "
                 "one product of Jacobians.")
    else:
        shape = (f"The loss reads only h<sub>T−1</sub>, so ∂L/∂h<sub>t</sub> = ∂L/∂h<sub>T−1</sub> · J<sub>T−1</sub>⋯"
                 "J<sub>t+1</sub>: T−1−t <i>different</i> Jacobians.")
    verdict = ("σ<sub>max</sub> &lt; 1: each J<sub>k</sub> shrinks what passes through it, so the gradient carried back "
               "from later steps <b>must</b> vanish." if sigma < 1 else
               "σ<sub>max</sub> ≥ 1: the condition says nothing either way; the measurement decides.")
    when = "" if updates is None else (" (untrained" if updates == 0 else f" (after {updates} updates")
    shown = "0</b> (no gradient reaches h<sub>0</sub>)" if measured_ratio == 0 else f"{_num(measured_ratio)}</b>"
    meas = "" if measured_ratio is None else (
        f"<br>Measured{when}, 8 probe sequences): ||∂L/∂h<sub>0</sub>|| / ||∂L/∂h<sub>T−1</sub>|| = <b>{shown}")
    return (
        f"Steps t = 0 … {last}, here and in the plots.<br>"
        "∂L/∂h<sub>t</sub> = ∂ℓ<sub>t</sub>/∂h<sub>t</sub> + ∂L/∂h<sub>t+1</sub> J<sub>t+1</sub>,&nbsp; "
        "J<sub>k</sub> = ∂h<sub>k</sub>/∂h<sub>k−1</sub> = diag(φ′(a<sub>k</sub>)) W<sub>hh</sub><br>"
        f"{shape}<br>"
        "Sufficient for vanishing (Pascanu et al., 2013): ||W<sub>hh</sub>||<sub>2</sub> &lt; 1/γ, γ = max|φ′| "
        "(1 for tanh and ReLU), on the <i>largest singular value</i>. Not necessary; and "
        "||W<sub>hh</sub>||<sub>2</sub> &gt; 1 is only necessary for exploding. For a product of different "
        "non-normal J<sub>k</sub>, ρ<sup>T−1</sup> is neither a bound nor a prediction.<br>"
        f"Now: ρ(W<sub>hh</sub>) = <b>{_num(rho)}</b> (largest |eigenvalue|), "
        f"||W<sub>hh</sub>||<sub>2</sub> = σ<sub>max</sub> = <b>{_num(sigma)}</b> (largest singular value). "
        f"{verdict}" + meas
    )


def belt_equation(other: str, numbers: dict | None) -> str:
    """The belt's direct path and, on the sequence shown, its product per unit beside the total
    gradient ratio from backpropagation (``belt_numbers``)."""
    if other == "lstm":
        head = ("c<sub>t</sub> = f<sub>t</sub> ⊙ c<sub>t−1</sub> + i<sub>t</sub> ⊙ g<sub>t</sub>,&nbsp; "
                "h<sub>t</sub> = o<sub>t</sub> ⊙ tanh(c<sub>t</sub>)<br>"
                "The belt, the direct path alone: ∂c<sub>T−1</sub>/∂c<sub>t</sub>|<sub>belt</sub> = "
                "∏<sub>k=t+1…T−1</sub> diag(f<sub>k</sub>): no weight matrix, no squashing. The gradient also "
                "reaches c<sub>t</sub> through h<sub>t</sub> and the gates, so the total ∂L/∂c<sub>t</sub> is "
                "another number.")
        gate, mem = "f", "c"
    else:
        head = ("h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ n<sub>t</sub> + z<sub>t</sub> ⊙ h<sub>t−1</sub><br>"
                "The direct path alone: ∏<sub>k=t+1…T−1</sub> diag(z<sub>k</sub>) (the update gate plays the "
                "forget gate's role). The gradient also reaches h<sub>t</sub> through the gates and n<sub>t</sub>, "
                "so the total ∂L/∂h<sub>t</sub> is another number.")
        gate, mem = "z", "h"
    if not numbers:
        return head
    n = numbers
    return head + (
        f"<br>Sequence {n['seq']}, from its first deciding step t<sub>0</sub> = {n['t0']} to {n['last']}:"
        f"<br>• belt product ∏ {gate}<sub>k</sub>: top unit (u{n['unit']}, it stores the token) "
        f"<b>{_num(n['top'])}</b>, median unit <b>{_num(n['median'])}</b>"
        f"<br>• total ratio ||∂L/∂{mem}<sub>{n['t0']}</sub>|| / ||∂L/∂{mem}<sub>{n['last']}</sub>|| "
        f"(backpropagation, every path): <b>{'0' if n['ratio'] == 0 else _num(n['ratio'])}</b>")


def belt_numbers(trace, seq_norms, i: int, t0: int) -> dict:
    """On sequence ``i``: the belt product from ``t0`` to the end for the top unit (the one that
    stores the token, ``trace.unit_order[0]``) and the median unit, and the total gradient ratio
    ||dL/dm_t0|| / ||dL/dm_(T-1)|| of the memory m (c_t, or h_t for the GRU) from ``seq_norms``
    (T, B) (a per-sequence probe)."""
    prod = belt_product(trace, t0)
    unit = int(trace.unit_order[0])
    last = len(seq_norms) - 1
    t0 = int(min(max(t0, 0), last))
    ratio = float(seq_norms[t0, i] / seq_norms[last, i]) if seq_norms[last, i] > 0 else None
    return {"seq": i, "t0": t0, "last": last, "unit": unit, "top": float(prod[unit]), "median": float(np.median(prod)),
            "ratio": ratio}


def memory_norms(probe, other: str):
    """Per-sequence norms (T, B) of the gradient reaching the memory: dL/dc_t (LSTM), dL/dh_t (GRU)."""
    return probe.c_seq if other == "lstm" else probe.h_seq


def progress_html(run, other: str, upto: int | None = None) -> str:
    """Step, training time, the losses as running means over ``WINDOW`` steps (a single batch's loss
    jumps: 0.11-0.23 between readings for the RNN, measured), and the task's baselines; at the
    timeline's step when scrubbed."""
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
            means = ", ".join(f"{gf.MODEL_LABELS[k]} <b>{float(h.running_mean('loss', WINDOW)[idx[k]]):.3g}</b>"
                              for k, h in hs.items())
            k = min(WINDOW, idx["rnn"] + 1)
            parts.append(f"{s.task.metric}, mean of the last {k} step{'s' if k > 1 else ''}: {means}")
    lines = ", ".join(f"{b.loss:.3g} ({b.name})" for b in s.task.baselines(s.T))
    parts.append(f"baseline{'s' if ',' in lines else ''} {lines}")
    return f"<span style='font-size:15px'>{' · '.join(parts)}</span>"
