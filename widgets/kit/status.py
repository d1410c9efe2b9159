"""What a dashboard says to its user: one status line, equation boxes, the device badge.

Rules:
- a person reads plain sentences, never a traceback (``guarded`` sends tracebacks to the
  kernel's log and one sentence to the status line);
- a corrected input is said once, next to the message, and goes away when that input is
  clean again (``StatusLine.correct`` / ``StatusLine.clear``): the line always reflects the
  current input.
"""

from __future__ import annotations

import html
import logging
import re
import threading

import ipywidgets as ipw

from seqviz.devices import pick_device

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
    """The dashboard's one line of plain sentences: the latest message (``say``), preceded by
    what was corrected in the current input (``correct``), if anything."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._message = ("", "info")
        self._corrections: dict[str, tuple[str, object]] = {}  # source -> (sentence, value it is about)

    def say(self, text: str, level: str = "info") -> None:
        """Show ``text`` as the message (replacing the previous one)."""
        with self._lock:
            self._message = (str(text), level if level in _LEVEL_STYLE else "info")
            self._render()

    def correct(self, source: str, text: str, value: object = None) -> None:
        """Say that input ``source`` was corrected (``text``, one sentence). It stays shown until
        ``clear(source)``, unless the clean value that follows is ``value`` itself (the browser
        sends the corrected value right after: that must not clear the sentence about it)."""
        with self._lock:
            self._corrections.pop(source, None)
            self._corrections[source] = (str(text), value)
            self._render()

    def clear(self, source: str, value: object = None) -> None:
        """Input ``source`` now holds a clean value: forget what was said about an earlier one."""
        with self._lock:
            said = self._corrections.get(source)
            if said is None or (value is not None and said[1] is not None and said[1] == value):
                return
            del self._corrections[source]
            self._render()

    def clear_all(self) -> None:
        with self._lock:
            self._corrections.clear()
            self._render()

    @property
    def corrections(self) -> list[str]:
        return [t for t, _ in self._corrections.values()]

    def _render(self) -> None:
        text, level = self._message
        parts = [f'<span class="seqviz-correction" style="{_LEVEL_STYLE["warn"]}">{html.escape(t)}</span>'
                 for t, _ in self._corrections.values()]
        if text:
            parts.append(f'<span style="{_LEVEL_STYLE[level]}">{html.escape(text)}</span>')
        self.value = (f'<div class="seqviz-status seqviz-{level}" style="font-size:16px">'
                      + " ".join(parts) + "</div>")
        pub = self.publisher
        if pub is not None:
            pub.status_changed(self.text, level)

    publisher = None  # follow mode (widgets/kit/share.py): while sharing, the text is passed on too

    @property
    def level(self) -> str:
        return self._message[1]

    @property
    def text(self) -> str:
        """The sentences shown, without markup (for tests)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.value))


def guarded(status: StatusLine, what: str):
    """Decorator for callbacks: an unexpected error becomes one sentence in ``status``
    (the traceback goes to the server log), and the dashboard keeps working."""

    def wrap(fn):
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - the user must never see a traceback
                log.exception("%s failed", what)
                status.say(f"Could not {what}: {str(e)[:200] or type(e).__name__}. The dashboard is still usable.",
                           "error")
                return None

        inner.__name__ = getattr(fn, "__name__", "callback")
        return inner

    return wrap


def device_badge() -> ipw.HTML:
    """Where this dashboard computes, e.g. "CPU, 1 thread" or the GPU's name."""
    info = pick_device()
    return ipw.HTML(f'<span class="seqviz-device" style="font-size:14px;color:#444">Computing on: '
                    f'<b>{html.escape(info.label)}</b></span>')


class EquationBox(ipw.HTML):
    """A boxed block of equations written in HTML (no MathJax, so it works offline); set
    ``box.body`` to change what it says under its title."""

    def __init__(self, title: str, body: str = "", **kwargs):
        super().__init__(**kwargs)
        self.title = title
        self.body = body

    @property
    def body(self) -> str:
        return self._body

    @body.setter
    def body(self, body_html: str) -> None:
        self._body = body_html
        self.value = ('<div class="seqviz-eq" style="border:1px solid #ccc;border-radius:6px;padding:8px 12px;'
                      'font-size:16px;line-height:1.6;background:#fafafa">'
                      f"<div style='font-weight:600;margin-bottom:4px'>{html.escape(self.title)}</div>"
                      f"{body_html}</div>")
