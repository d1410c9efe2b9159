"""Dashboard: sequences as tensors: padding, masking, sorting and packing of variable-length batches.

It shows, for sentences a person types (or lengths drawn from a distribution): the padded
batch and its mask (panel 1), where each token lands in a PackedSequence and which rows the
RNN reads together at step t (panel 2), shuffled against length-sorted batches and the padding
each wastes (panel 3), what goes wrong without the mask or packing (panel 4), the measured cost
of padded and packed LSTM batches (panel 5, button Measure) and one-hot rows against an
embedding lookup (panel 6). All maths lives in ``seqviz``.

| module | holds |
| --- | --- |
| ``state`` | ``BatchingState``: the knobs and their limits |
| ``view`` | ``BatchingDashboard``: controls, panes, drawing order, the Measure job |
| ``panels`` | which scene data feeds which pane; the facts, timing and rules text |
| ``yours`` | ``yours(sequences)``: the dashboard on the student's own sentences or token ids, from Python (JupyterLab) |
"""

from __future__ import annotations

from widgets.batching.state import MAX_TEXT, SCENE_KNOBS, BatchingState
from widgets.batching.view import BatchingDashboard
from widgets.batching.yours import yours

__all__ = ["MAX_TEXT", "BatchingDashboard", "BatchingState", "dashboard", "yours"]


def dashboard(**config) -> BatchingDashboard:
    """The dashboard; keyword arguments set ``BatchingState`` knobs, e.g. ``source="random", max_len=200``."""
    state = BatchingState()
    known = (*SCENE_KNOBS, "hidden", "step")
    unknown = set(config) - set(known)
    if unknown:
        raise ValueError(f"Unknown setting(s) {sorted(unknown)}; choose from {sorted(known)}")
    for k, v in config.items():
        setattr(state, k, v)
    return BatchingDashboard(state)
