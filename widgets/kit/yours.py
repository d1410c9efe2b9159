"""The dashboards' ``yours(...)`` entry points: a student's own model or data, in JupyterLab only.

``your_model_entry`` wraps every such entry point:

- under Voila (a kernel Voila started carries ``VOILA_BASE_URL`` / ``VOILA_PREHEAT`` in its
  environment) it builds nothing and returns one line saying the call runs in JupyterLab: Voila
  runs only the lessons' own cells, never a visitor's code, and a projected lesson should not
  start a second model;
- the view it returns carries the CSS class ``seqviz-yours`` (tests find it in the page), and its
  "Copy link" / "Save settings" are hidden: they rebuild a dashboard from the library's knobs and
  cannot carry the student's model or data;
- a module or data that does not fit (``seqviz.yours.DoesNotFit``), or a student's forward that
  raises, comes back as ``NotFit``: one sentence, shown where the dashboard would be, never a
  traceback (that goes to the kernel log).
"""

from __future__ import annotations

import functools
import html
import os

import ipywidgets as ipw

from seqviz.yours import DoesNotFit
from widgets.kit.status import log

VOILA_NOTE = ("This cell runs the dashboard on your own model in JupyterLab, where your code runs "
              "(open this lesson there: seqviz lab); Voila shows only the lesson's own dashboard.")


def in_voila() -> bool:
    """True in a kernel started by Voila (its handler puts these in the kernel's environment)."""
    return "VOILA_BASE_URL" in os.environ or "VOILA_PREHEAT" in os.environ


class NotFit(ipw.HTML):
    """One sentence in place of a dashboard: ``.sentence`` is the plain text."""

    def __init__(self, sentence: str, level: str = "error"):
        colour = {"error": "#b00020", "info": "#444"}[level]
        super().__init__(value=f'<div class="seqviz-notfit" style="color:{colour};max-width:760px">'
                               f'{html.escape(sentence)}</div>')
        self.sentence = sentence
        self.level = level

    def __repr__(self) -> str:  # what a plain Python console prints
        return self.sentence


def your_model_entry(fn):
    """Decorator: Voila gets ``VOILA_NOTE``; ``DoesNotFit`` and any other error become ``NotFit``."""

    @functools.wraps(fn)
    def entry(*args, **kwargs):
        if in_voila():
            return NotFit(VOILA_NOTE, "info")
        try:
            view = fn(*args, **kwargs)
            if isinstance(view, ipw.DOMWidget):
                view.add_class("seqviz-yours")  # browser tests find the student's view by it
            tools = getattr(view, "tools", None)
            if isinstance(tools, ipw.DOMWidget):  # Copy link / Save settings rebuild from the library's
                tools.layout.display = "none"  # knobs alone: they cannot carry a student's model or data
            return view
        except DoesNotFit as e:
            return NotFit(str(e))
        except Exception as e:  # noqa: BLE001 - a student sees one sentence, the log the traceback
            log.exception("%s failed", fn.__name__)
            first = (str(e).strip().splitlines() or [""])[0][:300]
            return NotFit(f"Could not build the view on your model: {type(e).__name__}"
                          f"{': ' + first if first else ''}.")

    return entry
