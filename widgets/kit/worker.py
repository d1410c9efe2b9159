"""The training worker: one background thread per dashboard that trains while the page stays live.

    worker = TrainingWorker("gradient-flow", status)
    worker.start(run.step, on_step=refresh, on_end=final_refresh)   # Train
    worker.pause()                                                  # Pause
    worker.one_step(run.step, on_end=final_refresh)                 # One step
    worker.close()                                                  # the dashboard goes away

Once, for every dashboard:
- ``start`` while training says "Already training; press Pause to stop." (a double-click on
  Train never pauses);
- the loop is ``seqviz.training.train_loop``; the thread sets torch's thread count (it is per
  thread) and hands the GIL over every 1 ms (``responsive_training``), so a control's
  handler waits at most that long for the training thread;
- it ends on Pause, on its time limit (``MAX_TRAIN_S``, a forgotten dashboard must not keep
  the machine busy), when the page is gone (closed tab: the page's heartbeat stopped), on
  divergence (``Diverged`` becomes one plain sentence), on ``Finished`` and on an unexpected
  error (a sentence, the traceback in the kernel's log);
- a new worker of the same kind in the same kernel (the cell run again) stops the old one,
  and all workers stop cleanly when the kernel shuts down.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import time
import weakref
from typing import Callable

from seqviz.devices import configure_threads
from seqviz.training import Diverged, Finished, train_loop
from widgets.kit.plotpane import page_link
from widgets.kit.status import StatusLine, log

MAX_TRAIN_S = 300  # a forgotten dashboard stops training after 5 minutes

_LIVE: dict[str, weakref.WeakSet] = {}
_ALL: weakref.WeakSet = weakref.WeakSet()


@contextlib.contextmanager
def responsive_training(interval_s: float = 0.001):
    """Wrap a training loop in its thread: a control's handler needs the GIL that the loop holds
    between torch calls, and Python hands it over every 5 ms by default, several times per
    handler (shell and iopub threads). 1 ms while training; the old interval afterwards."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(min(old, interval_s))
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def model_label(name: str) -> str:
    return {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "tcn": "TCN"}.get(name, name)


def sentence(why: str, max_s: float = MAX_TRAIN_S) -> tuple[str, str]:
    """The status sentence (and its level) for the way training ended (``train_loop``'s answer)."""
    if why.startswith("diverged"):
        who = model_label(why.split(": ", 1)[1]) if ": " in why else "model"
        return (f"The {who}'s loss became NaN or infinite, so training stopped: lower the learning rate or turn "
                "on gradient clipping, then press Reset.", "error")
    if why.startswith("finished"):
        return (why.split(": ", 1)[1] if ": " in why else "Finished.") or "Finished.", "ok"
    if why == "max_seconds":
        return f"Paused after {max_s / 60:.0f} minutes to free the machine. Press Train to go on.", "info"
    if why == "page closed":
        return "Paused: the page was closed.", "info"
    if why.startswith("failed"):
        return (f"Training stopped because of an unexpected problem ({why[8:]}). Press Reset.", "error")
    return "Paused. Press Train to go on.", "info"


class TrainingWorker:
    """At most one training thread for a dashboard, and the sentences about it."""

    def __init__(self, kind: str, status: StatusLine, max_seconds: float = MAX_TRAIN_S,
                 on_running: Callable[[bool], None] | None = None):
        self.kind, self.status, self.max_seconds = kind, status, max_seconds
        self.on_running = on_running  # called with True / False when training starts / ends (buttons)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._quiet_end = False  # set by pause(rebuild=True): the ending thread draws and says nothing
        self.last_end = ""  # why the last training ended (train_loop's answer, "page closed", "failed: ...")
        for old in list(_LIVE.setdefault(kind, weakref.WeakSet())):
            with contextlib.suppress(Exception):
                old.close()
        _LIVE[kind].add(self)
        _ALL.add(self)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True once Pause (or a new copy, or kernel exit) asked the running step to end: a long
        step (a timing pass of seconds) checks it to end early."""
        return self._stop.is_set()

    def start(self, step: Callable[[], object], on_step: Callable | None = None,
              on_end: Callable[[str], str | None] | None = None, message: str = "Training...") -> bool:
        """Train by calling ``step()`` in a thread, ``on_step(result)`` after each step (refreshes:
        gate them), ``on_end(why)`` once at the end (the final refresh; it may return a sentence
        to say instead of the standard one). Returns whether it started."""
        if self.running:
            self.status.say("Already training; press Pause to stop.", "info")
            return False
        self._stop = threading.Event()
        self._quiet_end = False
        stop = self._stop

        def after(result):
            if on_step is not None:
                on_step(result)
            if page_link().page_gone():
                self.last_end = "page closed"
                stop.set()

        def body():
            configure_threads()  # torch's thread count is per thread: set it here
            self.last_end = ""
            try:
                with responsive_training():
                    why = train_loop(step, stop, after, max_seconds=self.max_seconds)
                why = self.last_end or why
            except Exception as e:  # noqa: BLE001 - the page gets a sentence, not a dead thread
                log.exception("training failed")
                why = f"failed: {str(e)[:160] or type(e).__name__}"
            self.last_end = why
            self._finish(why, on_end)

        if self.on_running:
            self.on_running(True)
        if message:
            self.status.say(message, "info")
        self._thread = threading.Thread(target=body, name=f"seqviz-{self.kind}", daemon=True)
        self._thread.start()
        return True

    def _finish(self, why: str, on_end) -> None:
        if self._quiet_end:  # paused for a rebuild: it draws and says everything
            if self.on_running:
                self.on_running(False)
            return
        said = None
        if on_end is not None:
            try:
                said = on_end(why)
            except Exception as e:  # noqa: BLE001
                log.exception("final refresh failed")
                said = f"Training ended, but the last view could not be drawn ({str(e)[:120]})."
        if self.on_running:
            self.on_running(False)
        text, level = sentence(why, self.max_seconds)
        self.status.say(said or text, "error" if why.startswith(("diverged", "failed")) else level)

    def one_step(self, step: Callable[[], object], on_end: Callable[[str], str | None] | None = None) -> None:
        """One step in the caller's thread (the One step button); refused while training."""
        if self.running:
            self.status.say("Pause training before taking single steps.", "warn")
            return
        why = "stopped"
        self._quiet_end = False
        try:
            step()
        except Diverged as e:
            why = f"diverged: {e.args[0]}"
        except Finished as e:
            why = f"finished: {e.args[0] if e.args else ''}"
        if why != "stopped":
            self._finish(why, on_end)
        elif on_end is not None:
            said = on_end("one step")
            if said:
                self.status.say(said, "info")

    def pause(self, timeout: float = 10.0, rebuild: bool = False) -> bool:
        """Stop training (if it runs) and wait for the thread; returns whether it was running.
        ``rebuild``: the caller builds new models and draws every view next, so the thread ends
        without ``on_end`` (no final refresh of the old models to wait for) and without a sentence."""
        was = self.running
        if rebuild and was:
            self._quiet_end = True
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        self._thread = None
        return was

    def close(self) -> None:
        self.pause()


@atexit.register
def _stop_all() -> None:
    """Kernel shutdown: stop every training thread before the interpreter goes (a daemon thread
    killed inside a torch call at exit can crash the process on the way out)."""
    for w in list(_ALL):
        w._stop.set()
    for t in _WARMUPS:  # a warm-up not yet begun never begins (its imports at exit aborted the process)
        t.cancel()
    deadline = time.monotonic() + 2.0
    for w in list(_ALL):
        t = w._thread
        if t is not None and t.is_alive():
            t.join(max(0.0, deadline - time.monotonic()))
    for t in _WARMUPS:  # one already importing finishes first
        if t.is_alive():
            t.join(max(0.0, deadline + 3.0 - time.monotonic()))


_WARMUPS: list[threading.Timer] = []  # pending or running warm-ups (at most a few: one per dashboard opened)


def warm_up_torch(delay_s: float = 8.0) -> None:
    """Pay torch's one-time optimizer imports (1-4 s measured here) in the background, ``delay_s``
    after the dashboard is built, so that a Train press does not wait for them. Not at once: the
    imports hold the GIL, and the kernel must first answer the page's requests for the widgets'
    state (the first render)."""
    from seqviz.training import warm_up_optimizer

    if "torch._dynamo" not in sys.modules:
        t = threading.Timer(delay_s, warm_up_optimizer)
        t.daemon, t.name = True, "torch-import-warmup"
        _WARMUPS[:] = [w for w in _WARMUPS if w.is_alive()] + [t]
        t.start()
