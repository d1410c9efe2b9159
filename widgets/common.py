"""Pieces every dashboard shares: status line, device badge, background worker, throttle and
hold, a responsive training thread, and server-side validation of values from the browser.

Rules these encode (see shared/design.md):
- a thread never calls ``display``/``print``; it only sets widget traits;
- one lock per plot pane (``PlotPane.batch``): edits from two threads would tear messages;
- at most ~10-20 updates a second (Jupyter drops messages over its rate limit);
- every value from the browser is checked here, and the user is told in one sentence.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import sys
import threading
import time
import weakref
from typing import Callable

import ipywidgets as ipw
import traitlets as tl

from seqviz.devices import configure_threads, pick_device

log = logging.getLogger("seqviz.widgets")
if not log.handlers:  # tracebacks go to the server's log (the kernel's stderr), never to the page
    _h = logging.StreamHandler()
    _h.setFormatter(logging.Formatter("[seqviz] %(levelname)s %(message)s"))
    log.addHandler(_h)

_LEVEL_STYLE = {
    "info": "color:#1a1a1a;",
    "ok": "color:#006b3c;",
    "warn": "color:#8a4b00;font-weight:600;",
    "error": "color:#a40000;font-weight:600;",
}


class StatusLine(ipw.HTML):
    """One plain sentence for the user. Never a traceback."""

    def say(self, text: str, level: str = "info") -> None:
        style = _LEVEL_STYLE.get(level, _LEVEL_STYLE["info"])
        self.value = f'<div class="seqviz-status seqviz-{level}" style="font-size:16px;{style}">{html.escape(text)}</div>'

    @property
    def text(self) -> str:
        """The sentence shown, without markup (for tests)."""
        import re

        return html.unescape(re.sub(r"<[^>]+>", "", self.value))


def device_badge() -> ipw.HTML:
    """Where this dashboard computes, e.g. "CPU, 1 thread" or the GPU's name."""
    info = pick_device()
    return ipw.HTML(f'<span class="seqviz-device" style="font-size:14px;color:#444">Computing on: <b>{html.escape(info.label)}</b></span>')


class Worker:
    """At most one background thread per dashboard, with a stop event.

    ``start(fn)`` runs ``fn(stop_event)`` in a daemon thread after configuring
    torch's threads for it. ``stop()`` sets the event and joins.
    """

    def __init__(self, name: str):
        self.name = name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn: Callable[[threading.Event], None]) -> bool:
        """Start ``fn`` unless one is already running; returns whether it started."""
        if self.running:
            return False
        self._stop = threading.Event()
        stop = self._stop

        def body():
            configure_threads()  # torch's thread count is per thread: set it here
            fn(stop)

        self._thread = threading.Thread(target=body, name=f"seqviz-{self.name}", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        self._thread = None


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


def bind(widget, state, name: str, attr: str = "value") -> None:
    """Two-way link between a control and a state trait, like ``traitlets.link``, except
    that the state may rewrite the value (clamping NaN or out-of-range input from the
    browser): the control then shows the value actually used."""
    busy = []

    def to_state(change):
        if busy:
            return
        busy.append(1)
        try:
            setattr(state, name, change["new"])
        finally:
            busy.pop()
        if getattr(widget, attr) != getattr(state, name):
            setattr(widget, attr, getattr(state, name))

    def to_widget(change):
        if not busy and getattr(widget, attr) != change["new"]:
            setattr(widget, attr, change["new"])

    setattr(widget, attr, getattr(state, name))
    widget.observe(to_state, attr)
    state.observe(to_widget, name)


def clamp_number(value, lo, hi, default, name: str, integer: bool = False):
    """Return ``(clean_value, message_or_None)``: NaN/inf/garbage -> default, out of range -> clamped."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default, f"{name} must be a number; using {default}."
    if not math.isfinite(v):
        return default, f"{name} must be a finite number; using {default}."
    if integer:
        v = int(round(v))
    if v < lo:
        return (int(lo) if integer else lo), f"{name} must be at least {lo}; using {lo}."
    if v > hi:
        return (int(hi) if integer else hi), f"{name} must be at most {hi}; using {hi}."
    return v, None


def clean_choice(value, choices, default, name: str):
    """Return ``(value, message_or_None)`` with value one of ``choices``."""
    if value in choices:
        return value, None
    return default, f"Unknown {name} {str(value)[:40]!r}; using {default!r}."


class CheckedState(tl.HasTraits):
    """Base of a dashboard's state: its validators turn a bad value from the browser into a good
    one (``checked_number``, ``checked_choice``) and leave one plain sentence in ``note``."""

    note = tl.Unicode("")  # the last validation message, for the status line

    def _say(self, name: str, msg: str) -> None:
        """Record ``msg`` about trait ``name`` (a dashboard may want more, e.g. which control)."""
        self.note = msg

    def checked_number(self, proposal, lo, hi, integer: bool = False):
        name = proposal.trait.name
        v, msg = clamp_number(proposal.value, lo, hi, getattr(self, name), name, integer)
        if msg:
            self._say(name, msg)
        return int(v) if integer else v

    def checked_choice(self, proposal, choices: dict):
        name = proposal.trait.name
        v, msg = clean_choice(proposal.value, choices[name], getattr(self, name), name)
        if msg:
            self._say(name, msg)
        return v


def checked_state(ranges: dict, choices: dict) -> type:
    """A CheckedState base whose validators cover ``ranges`` ({trait: (lo, hi, integer)}) and
    ``choices`` ({trait: allowed values})."""

    class Checked(CheckedState):
        @tl.validate(*ranges)
        def _check_number(self, proposal):
            return self.checked_number(proposal, *ranges[proposal.trait.name])

        @tl.validate(*choices)
        def _check_choice(self, proposal):
            return self.checked_choice(proposal, choices)

    return Checked


def guarded(status: StatusLine, what: str):
    """Decorator for callbacks: an unexpected error becomes one sentence in ``status``
    (the traceback goes to the server log), and the dashboard keeps working."""

    def wrap(fn):
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - the user must never see a traceback
                log.exception("%s failed", what)
                status.say(f"Could not {what}: {str(e)[:200] or type(e).__name__}. The dashboard is still usable.", "error")
                return None

        inner.__name__ = getattr(fn, "__name__", "callback")
        return inner

    return wrap


def kernel_loop():
    """The asyncio loop of the IPython kernel this runs in (its callbacks run between the
    kernel's messages, so a browser's reply can arrive meanwhile), or None in plain Python:
    tests and scripts, even where another library left a loop marked running (Playwright)."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return loop if getattr(shell, "kernel", None) is not None else None


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


class Hold:
    """``hold()`` when a control is used; ``held`` stays True for ``seconds`` after, and a
    training loop skips its refreshes meanwhile, so that the control's redraw goes first."""

    def __init__(self, seconds: float = 0.1):
        self.seconds, self._until = seconds, 0.0

    def hold(self) -> None:
        self._until = time.monotonic() + self.seconds

    @property
    def held(self) -> bool:
        return time.monotonic() < self._until


def warm_up_torch(delay_s: float = 8.0) -> None:
    """Pay torch's one-time optimizer imports (1-4 s measured here) in the background, ``delay_s``
    after the dashboard is built, so that a Train press does not wait for them. Not at once: the
    imports hold the GIL, and the kernel must first answer the page's requests for the widgets'
    state (the first render)."""
    from seqviz.training import warm_up_optimizer

    if "torch._dynamo" not in sys.modules:
        t = threading.Timer(delay_s, warm_up_optimizer)
        t.daemon, t.name = True, "torch-import-warmup"
        t.start()


_LIVE: dict[str, weakref.WeakSet] = {}


def register_instance(kind: str, obj) -> None:
    """Opening a dashboard again in the same kernel stops the previous copy's worker,
    so re-running a cell never leaves a stray training thread."""
    live = _LIVE.setdefault(kind, weakref.WeakSet())
    for old in list(live):
        with contextlib.suppress(Exception):
            old.close_worker()
    live.add(obj)


def equation_box(title: str, body_html: str) -> ipw.HTML:
    """A boxed block of equations written in HTML (no MathJax, so it works offline)."""
    return ipw.HTML(
        '<div class="seqviz-eq" style="border:1px solid #ccc;border-radius:6px;padding:8px 12px;'
        'font-size:16px;line-height:1.6;background:#fafafa">'
        f"<div style='font-weight:600;margin-bottom:4px'>{html.escape(title)}</div>{body_html}</div>"
    )


def set_box_body(box: ipw.HTML, body_html: str) -> None:
    """Replace the body of an ``equation_box``, keeping its title."""
    box.value = box.value.split("</div>", 1)[0] + "</div>" + body_html + "</div>"
