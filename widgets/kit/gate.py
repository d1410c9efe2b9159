"""Refresh gating: when a training refresh may go to the browser.

A training thread could redraw every pane after every step; the browser could not keep up,
and a person's slider would wait behind a queue of redraws. So every refresh asks the gate:

    if gate.ready("curves", hz=6, panes=[curves_pane]):
        draw the curves

and ``ready`` says no while a control was just used (``gate.hold()``, for ``hold_s``: the
control's own redraw goes first), while one of ``panes`` is still drawing the previous update
(the pane acknowledges each), and more often than ``hz`` times a second for that key.
``force=True`` (a final refresh, a reset) always passes.
"""

from __future__ import annotations

import math
import threading
import time


class Throttle:
    """``ready()`` is True at most ``hz`` times a second."""

    def __init__(self, hz: float):
        self.period = 1.0 / hz
        self._last = -math.inf

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.period:
            self._last = now
            return True
        return False


class RefreshGate:
    """Hold after a control, skip while the browser draws, a maximum rate per key."""

    def __init__(self, hold_s: float = 0.1):
        self.hold_s = hold_s
        self._until = 0.0
        self._rates: dict[str, Throttle] = {}
        self._lock = threading.Lock()

    def hold(self) -> None:
        """A control was used: training refreshes wait ``hold_s``."""
        self._until = time.monotonic() + self.hold_s

    @property
    def held(self) -> bool:
        return time.monotonic() < self._until

    def ready(self, key: str, hz: float, panes=(), force: bool = False) -> bool:
        """May the refresh ``key`` go out now? (At most ``hz`` a second, never while held or
        while one of ``panes`` is busy; ``force`` always may.)"""
        with self._lock:
            t = self._rates.get(key)
            if t is None or t.period != 1.0 / hz:
                t = self._rates[key] = Throttle(hz)
        if force:
            t.ready(force=True)
            return True
        if self.held or any(p.busy for p in panes):
            return False
        return t.ready()
