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

from seqviz.experiments import GradFlowConfig
from widgets.gradient_flow.state import PRESETS, GradientFlowState
from widgets.gradient_flow.view import GradientFlowDashboard
from widgets.gradient_flow.yours import yours


def dashboard(preset: str | None = None, **config) -> GradientFlowDashboard:
    """The dashboard, starting from ``preset`` (a key of ``widgets.gradient_flow.state.PRESETS``: on CUDA the GPU ones too);
    keyword arguments override ``GradFlowConfig`` fields, e.g. ``T=50``."""
    state = GradientFlowState()
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        state.preset = preset
    base = PRESETS[state.preset]
    unknown = set(config) - set(base.__dict__)
    if unknown:
        raise ValueError(f"Unknown setting(s) {', '.join(sorted(unknown))}; use GradFlowConfig's fields.")
    state.load(GradFlowConfig(**{**base.__dict__, **config}))
    return GradientFlowDashboard(state)


__all__ = ["dashboard", "yours", "GradientFlowDashboard", "GradientFlowState"]
