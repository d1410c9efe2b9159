"""Dashboard: gradient flow through an unrolled RNN beside the LSTM (or GRU) conveyor belt.

A plain RNN and a gated model train side by side on the same batches of a long-range task
(adding problem, copy memory, recall the first token). It shows what backpropagation measures
at every time step (||dL/dh_t||, ||dL/dc_t|| on the unrolled network and over training),
the loss, accuracy and gradient norm (before and after clipping) against the task's
baselines, and the belt: the gated model's memory and gates on one sequence. Every view
scrubs back along a timeline of snapshots. Knobs: task, length, size, activation, spectral
radius, forget bias, optimizer, learning rate, clipping, truncated BPTT, seed, presets.

| module | holds |
| --- | --- |
| ``state`` | ``GradientFlowState``: the checked knobs and the ``GradFlowConfig`` they describe |
| ``view`` | ``GradientFlowDashboard``: controls, panes, buttons, training, the timeline, what each control redraws |
| ``panels`` | engine data -> figure patches (``seqviz.figures.gradflow``) and HTML (equations, progress) |
| ``yours`` | ``yours(model, batches, ...)``: the same view on the student's own recurrent model (JupyterLab only) |

All maths lives in ``seqviz``.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl

from seqviz.crowd import Crowding, class_sentence, crowding
from seqviz.experiments import DEFAULT_PRESET, GradFlowConfig
from seqviz.experiments.gradflow import CLASS_PRESET
from widgets.gradient_flow.state import PRESETS, GradientFlowState
from widgets.gradient_flow.view import GradientFlowDashboard
from widgets.kit.address import QUERY_ENV, knob_names
from widgets.gradient_flow.yours import yours


def _address_sets_knobs() -> bool:
    """Whether the page address (Voila's ``QUERY_STRING``) names a knob: then it decides."""
    try:
        keys = {k for k, _ in parse_qsl(os.environ.get(QUERY_ENV, "")[:20_000], keep_blank_values=True)}
    except ValueError:
        return False
    return bool(keys & set(knob_names(GradientFlowState())))


def class_start(crowd: Crowding | None = None) -> tuple[str, str] | None:
    """(preset, sentence) when a dashboard opened without settings should start with the class
    preset: the machine is crowded (``seqviz.crowd``) and the page address chose nothing."""
    if CLASS_PRESET not in PRESETS or _address_sets_knobs():
        return None
    crowd = crowding() if crowd is None else crowd
    if not crowd.crowded:
        return None
    cfg, default = PRESETS[CLASS_PRESET], PRESETS[DEFAULT_PRESET]
    return CLASS_PRESET, class_sentence(
        crowd, f"the class preset (T = {cfg.T}, H = {cfg.hidden})",
        f"the same story on sequences of {cfg.T} steps instead of {default.T}, with {cfg.hidden} hidden units "
        f"instead of {default.hidden}, for a fraction of the computing")


def dashboard(preset: str | None = None, **config) -> GradientFlowDashboard:
    """The dashboard, starting from ``preset`` (a key of ``widgets.gradient_flow.state.PRESETS``: on CUDA the GPU ones too);
    keyword arguments override ``GradFlowConfig`` fields, e.g. ``T=50``. Called with neither on a
    crowded machine (``seqviz.crowd``), it starts with the class preset and says so."""
    state = GradientFlowState()
    said = None
    if preset is None and not config:
        start = class_start()
        if start is not None:
            preset, said = start
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        state.preset = preset
    base = PRESETS[state.preset]
    unknown = set(config) - set(base.__dict__)
    if unknown:
        raise ValueError(f"Unknown setting(s) {', '.join(sorted(unknown))}; use GradFlowConfig's fields.")
    state.load(GradFlowConfig(**{**base.__dict__, **config}))
    d = GradientFlowDashboard(state)
    d.class_note = said  # the sentence said when the class preset was chosen for a crowded machine
    if said:
        d.status.say(f"{said} Press Train.", "info")
    return d


__all__ = ["dashboard", "yours", "GradientFlowDashboard", "GradientFlowState"]
