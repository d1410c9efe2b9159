"""The training-history timeline: snapshots recorded while a dashboard trains, and one slider
that scrubs every view of the dashboard back to one of them.

    timeline = Timeline(capture=lambda: {k: weights(m) for k, m in run.models.items()})
    timeline.record(run.steps)        # in the training loop, after each step (cheap when not due)
    timeline.on_scrub(redraw_views)   # the slider moved: every view reads timeline.selected()
    step, snap = timeline.selected()  # (None when the slider is at "live")

Memory is bounded: at most ``max_snapshots`` are kept; when full, every other one is dropped
and snapshots are taken half as often, so the timeline always spans the whole run.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import ipywidgets as ipw
import torch


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s weights (what a snapshot usually holds)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class Timeline:
    """Bounded snapshots of a training run, and the slider that picks one."""

    def __init__(self, capture: Callable[[], Any], max_snapshots: int = 60, every: int = 10,
                 description: str = "History", width: str = "420px", status=None):
        self.capture, self.max_snapshots, self.first_every = capture, max_snapshots, every
        self.slider = ipw.IntSlider(min=0, max=0, value=0, description=description, continuous_update=False,
                                    readout=False, layout=ipw.Layout(width=width),
                                    style={"description_width": "initial"})
        self.label = ipw.HTML()
        self.widget = ipw.HBox([self.slider, self.label])
        self.description = description
        self._lock = threading.RLock()
        self._fns: list[Callable[[], None]] = []
        self._moving = 0  # > 0 while the timeline itself moves the slider (no scrub then)
        self.snaps: list[tuple[int, Any]] = []
        self.every = every
        self.slider.observe(self._scrubbed, "value")
        if status is not None:  # a forged value of the wrong type is put back and said
            from widgets.kit.checked import guard_widget

            guard_widget(self.slider, status, description)

    def reset(self, step: int = 0) -> None:
        """Forget every snapshot and take the first one (the untrained model) at ``step``."""
        with self._lock:
            self.snaps, self.every = [], self.first_every
            self._take(step)

    def record(self, step: int, force: bool = False) -> None:
        """Take a snapshot if one is due at ``step`` (or ``force``)."""
        if not force and step % self.every:
            return
        with self._lock:
            if self.snaps and self.snaps[-1][0] == step:
                return
            self._take(step)

    def _take(self, step: int) -> None:
        following = self.following
        self.snaps.append((int(step), self.capture()))
        if len(self.snaps) > self.max_snapshots:  # keep every other one (and the newest), twice as far apart
            last = self.snaps[-1]
            self.snaps = self.snaps[:-1:2] + [last]
            self.every *= 2
        self._moving += 1
        try:
            self.slider.max = len(self.snaps) - 1
            if following:
                self.slider.value = self.slider.max
        finally:
            self._moving -= 1
        self._label()

    @property
    def following(self) -> bool:
        """True when the slider is at its right end: the views show the live model."""
        return self.slider.value >= self.slider.max

    def selected(self) -> tuple[int, Any] | None:
        """``(step, snapshot)`` the slider points at, or None when it is at the live end."""
        with self._lock:
            if self.following or not self.snaps:
                return None
            return self.snaps[min(self.slider.value, len(self.snaps) - 1)]

    def on_scrub(self, fn: Callable[[], None]) -> None:
        self._fns.append(fn)

    def _label(self) -> None:
        sel = self.selected()
        last = self.snaps[-1][0] if self.snaps else 0
        self.label.value = (f"<span style='font-size:15px'>live (step {last})</span>" if sel is None else
                            f"<span style='font-size:15px'>step <b>{sel[0]}</b> of {last}: "
                            "move to the right end for the live model</span>")

    def _scrubbed(self, _change) -> None:
        if self._moving:
            return
        self._label()
        for fn in self._fns:
            fn()
