"""``inspecting(model)``: look inside a model without leaving a trace.

Every probe that runs a model the dashboards are training goes through it: the model is put
in ``eval()`` mode, its parameters' ``.grad`` are set aside, and hooks registered through
``add_hook`` are removed; on the way out, in ``finally``, the training mode and the gradients
are put back and the hooks are gone, whatever happened inside.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


class Inspection:
    """What ``inspecting`` yields: the model, and ``add_hook`` for hooks that must not outlive it."""

    def __init__(self, model: nn.Module):
        self.model = model
        self._handles: list = []

    def add_hook(self, handle) -> None:
        """Keep a hook handle (from ``register_*_hook``) to be removed on exit."""
        self._handles.append(handle)


@contextlib.contextmanager
def inspecting(model: nn.Module, eval_mode: bool = True) -> Iterator[Inspection]:
    was_training = model.training
    saved = [(p, p.grad) for p in model.parameters()]
    for p, _ in saved:
        p.grad = None
    if eval_mode:
        model.eval()
    ins = Inspection(model)
    try:
        yield ins
    finally:
        for h in ins._handles:
            h.remove()
        model.train(was_training)
        for p, g in saved:
            p.grad = g
