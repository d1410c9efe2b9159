"""Which engine data feeds which pane of the receptive-field dashboard, and its HTML panels.

Every function here reads the engine (``seqviz``) and returns a figure patch (applied by the
view to its pane) or HTML; none touches a widget. The panes (``seqviz.figures.tcn.PANES``):

| pane | shows | from |
| --- | --- | --- |
| diagram | what output t depends on, layer by layer | ``dependency_diagram`` (no model) |
| probe | measured ∂y_t/∂x_s (untrained, trained) under the analytic set; causality | autograd on the TCN |
| race | loss curves of the four racers | ``Race`` histories (cut at a timeline snapshot) |
| params | parameters vs receptive field, this TCN's star | ``param_curves``, ``count_parameters`` |
"""

from __future__ import annotations

import html

import numpy as np

from seqviz.experiments.race import WINDOW, Race
from seqviz.figures import tcn as ft
from seqviz.figures.patch import merge
from seqviz.models.tcn import TCNConfig
from seqviz.probes import receptive as rcp

NAMES = {"tcn": "TCN", "gru": "GRU", "lstm": "LSTM", "rnn": "tanh RNN"}


# -- diagram and probes ------------------------------------------------------------------
def diagram_view(cfg: TCNConfig, L: int, t: int, nodes: bool = True) -> dict:
    """The layered diagram of output ``t`` on a length-``L`` sequence (no model needed)."""
    diag = rcp.dependency_diagram(cfg.kernel_size, cfg.dilations, cfg.convs_per_block, cfg.padding, L, t)
    return ft.diagram_patch(diag, t, cfg.convs_per_block, nodes)


def analytic_positions(cfg: TCNConfig, L: int, t: int) -> list[int]:
    lags = rcp.dependency_lags(cfg.kernel_size, cfg.dilations, cfg.convs_per_block, cfg.padding)
    return [int(t - g) for g in lags if 0 <= t - g < L]


def input_gradient(model, L: int, t: int) -> np.ndarray:
    """|∂y_t/∂x_s| for every s (a float64 copy of ``model``; the model is not touched)."""
    return rcp.input_gradient(model, L, t, seed=1, batch=8)


class UntrainedProbe:
    """The untrained TCN's gradient row and causality check, per output position (each an
    autograd or forward pass; kept, at most one per position of the sequence)."""

    def __init__(self, model, L: int):
        self.model, self.L = model, L
        self._done: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def at(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        got = self._done.get(t)
        if got is None:
            got = (input_gradient(self.model, self.L, t), rcp.causality_check(self.model, self.L, t, seed=2))
            if len(self._done) >= self.L:
                self._done.pop(next(iter(self._done)))
            self._done[t] = got
        return got


def probe_view(cfg: TCNConfig, L: int, t: int, untrained: np.ndarray, delta: np.ndarray,
               trained: np.ndarray | None, full: bool = False) -> dict:
    """The "probe" pane: gradient rows under the analytic set, and the causality check."""
    return merge(ft.gradients_patch(untrained, trained, analytic_positions(cfg, L, t), full),
                 ft.causality_patch(delta, t, full))


def causal_note(delta: np.ndarray, t: int) -> str:
    before = float(np.max(delta[: t + 1]))
    return ("no output at or before t moved (exactly 0)" if before == 0 else
            f"outputs at or before t moved by up to {before:.2g}: centred padding reads the future")


# -- race --------------------------------------------------------------------------------
def baselines(task, T: int) -> list[tuple[str, float]]:
    """Horizontal lines for the race: the task's trivial (input-blind) baseline, then any others
    the task states (``task.baselines(T)``: {label: loss} or [(label, loss)]) that differ from it."""
    base = float(task.baseline_loss(T))
    out = [(f"blind baseline ({base:.3g})", base)]
    more = getattr(task, "baselines", None)
    if callable(more):
        items = more(T)
        items = items.items() if isinstance(items, dict) else items
        for item in items or ():
            label, value = (item if isinstance(item, (tuple, list)) else
                            (getattr(item, "label", getattr(item, "name", "baseline")),
                             getattr(item, "loss", getattr(item, "value", None))))
            if value is None or not np.isfinite(float(value)) or np.isclose(float(value), base):
                continue
            out.append((f"{label} ({float(value):.3g})", float(value)))
    return out


def curves(race: Race, upto: dict[str, int] | None = None) -> dict:
    """model -> (own seconds, per-batch loss), cut after step ``upto[model]`` (a snapshot)."""
    out = {}
    for m in ft.RACERS:
        h = race.history(m)
        x, y = h.seconds, h.loss
        if upto is not None:
            keep = h.step <= upto.get(m, 0)
            x, y = x[keep], y[keep]
        out[m] = (x, y)
    return out


def race_view(race: Race, upto: dict[str, int] | None = None) -> dict:
    """The race pane, live or (``upto``) as it was at a snapshot; the x axis keeps the live
    extent, so a scrubbed race shows how far it got."""
    x_max = max([race.own_seconds(m) for m in ft.RACERS] + [1.0])
    p = race.preset
    return ft.race_patch(curves(race, upto), p.target, race.floor if race.floor > 0 else None,
                         baselines(race.task, p.T), x_max, WINDOW)


def results_table(race: Race, running: bool, upto: dict[str, int] | None = None) -> str:
    """HTML table: model, parameters, steps, own seconds, mean loss, result; ``running``: the
    race is training now (the result says "racing", else "paused", as the status line does);
    ``upto``: the table as it stood at a timeline snapshot."""
    rows = []
    for k, (x, y) in curves(race, upto).items():
        label = NAMES[k] + (f" (R={race.rf})" if k == "tcn" else "")
        mean = float(np.mean(y[-WINDOW:])) if len(y) else None
        if upto is None:
            verdict, done = race.verdict(k, running), k in race.finished
        else:
            done = k in race.finished and len(x) and race.finished[k] <= x[-1] + 1e-9
            verdict = f"reached target at {race.finished[k]:.1f} s" if done else "not there yet at this point"
        cells = [label, f"{race.params[k]:,}", f"{len(y)}", f"{x[-1]:.1f}" if len(x) else "0.0",
                 f"{mean:.4f}" if mean is not None else "–", verdict]
        style = "font-weight:600;color:#006b3c" if done else ""
        rows.append("<tr>" + "".join(f"<td style='padding:2px 10px;{style}'>{html.escape(c)}</td>" for c in cells)
                    + "</tr>")
    head = "".join(f"<th style='padding:2px 10px;text-align:left'>{h}</th>" for h in
                   ("model", "parameters", "steps", "own seconds", f"mean loss (last {WINDOW})", "result"))
    return (f"<table class='seqviz-race' style='font-size:15px;border-collapse:collapse'><tr>{head}</tr>"
            + "".join(rows) + "</table>")


def race_caption(race: Race, note: str) -> str:
    return (f"<div style='font-size:14px;color:#444'>wall clock {race.wall:.1f} of {race.preset.budget_s:.0f} s "
            f"· causality: {html.escape(note)}</div>")


def finish_sentence(race: Race, why: str) -> str | None:
    """What the status line says when the race ends by itself (None: the kit's sentence)."""
    head = {"all finished": "All finished.",
            "time is up": f"Time is up: the race stops after {race.preset.budget_s:.0f} s of racing."}.get(why)
    if head is None:
        return None
    done = ", ".join(f"{NAMES[k]} {v:.1f} s" for k, v in sorted(race.finished.items(), key=lambda kv: kv[1]))
    tail = "" if race.past >= race.reach else (f" The TCN sees only {race.past} of the {race.reach} inputs the task "
                                               f"needs, so its loss cannot go below {race.floor:.3g}.")
    return f"{head} Reached the target: {done or 'none'}.{tail} Press Reset to race again."


# -- parameters ----------------------------------------------------------------------------
def params_view(race: Race) -> dict:
    """Parameter counts against receptive field; the star is ``count_parameters`` of the race's
    TCN, and the curve "this TCN, other block counts" passes through it."""
    curves_ = rcp.param_curves(race.tcn_cfg, max(race.reach, race.rf) * 2)
    return ft.params_patch(curves_, (race.rf, race.params["tcn"]), race.reach)


# -- text panels ---------------------------------------------------------------------------
def readout_html(race: Race) -> str:
    """The two formulas with this network's numbers, its holes, its parameters, the task's need."""
    c = race.tcn_cfg
    k, dilations, cpb, padding = c.kernel_size, c.dilations, c.convs_per_block, c.padding
    lags = rcp.dependency_lags(k, dilations, cpb, padding)
    hole_lags = rcp.holes(lags)
    terms = " + ".join(str(d) for d in dilations)
    cc = f"{cpb}·" if cpb > 1 else ""
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
    ok = race.past >= race.reach
    metric = html.escape(race.task.metric)
    need = (f"<b style='color:#006b3c'>sees {race.past} ≥ {race.reach} needed</b>" if ok else
            f"<b style='color:#a40000'>sees only {race.past} &lt; {race.reach} needed: best possible {metric} "
            f"≈ {race.floor:.3g}</b>")
    return (f"Exact: 1 + {cc}Σ(k−1)d<sub>i</sub> = 1 + {cc}{k - 1}·({terms}) = <b>{race.rf}</b> inputs<br>{lecture}<br>"
            f"{padding.capitalize()}: y<sub>t</sub> reads {span}, {holes}.<br>"
            f"Parameters: <b>{race.params['tcn']:,}</b> (every weight and bias: convolutions, 1×1 skip, head)<br>"
            f"Task ({html.escape(race.task.name)}): {need}")


def calculator_html(N: int, k: int) -> str:
    """Layers needed for N inputs with doubling dilations, by both formulas."""
    a, b = rcp.layers_needed(N, k, 1), rcp.layers_needed(N, k, 2)
    return (f"Lecture: 2<sup>l</sup>·{k - 1} ≥ {N:,} ⇒ l = ⌈log<sub>2</sub>({N:,}/{k - 1})⌉ = "
            f"⌈{a['lecture_log2']:.4f}⌉ = <b>{a['lecture_layers']}</b> (R = {a['lecture_R']:,})<br>"
            f"Exact: 1 + {k - 1}(2<sup>l</sup> − 1) ≥ {N:,} ⇒ l = ⌈log<sub>2</sub>(({N:,}−1)/{k - 1} + 1)⌉ = "
            f"⌈{a['exact_log2']:.4f}⌉ = <b>{a['exact_layers']}</b> (sees {a['exact_R']:,})<br>"
            f"Two convs per block: <b>{b['exact_layers']}</b> blocks = {2 * b['exact_layers']} convolutions "
            f"(sees {b['exact_R']:,})"
            + ("" if a["lecture_layers"] == a["exact_layers"] else
               "<br><b>The formulas disagree here</b>: the lecture's R overstates the exact count by k−2.")
            + "<br><span style='color:#555'>1 s of 22.05 kHz audio: N = 22,050, k = 7 (the lecture's example)</span>")
