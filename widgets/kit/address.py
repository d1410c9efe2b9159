"""A dashboard's knobs in the page address, and its settings saved as a file (issue 18).

- ``knob_names(state)``: the knobs a person sets: every checked trait (``CHOICES``, ``TEXTS``,
  ``RANGES``, in that order, so a choice that changes the limits of a range comes first) and the
  on/off switches (``tl.Bool`` traits).
- ``from_address(state, query)``: Voila passes the page's query string to the kernel
  (``QUERY_STRING``); ``?T=50&lr=0.01`` sets those knobs before the dashboard builds anything.
  Every value goes through the state's own checks, so a bad or forged one is clamped or
  replaced with one sentence (the dashboard's status line says it); a name that is not a knob
  is ignored, also with one sentence.
- ``link_query(state)``: the knobs that differ from their defaults, as a query string (the
  "Copy link" button puts it after the page's own address).
- ``settings_json`` / ``settings_snippet``: the knobs as JSON, and a Python file that rebuilds
  the dashboard with them from the installed library.
- ``DashboardTools``: the "Copy link" and "Save settings" buttons (drawn in the browser, one
  click each; ``widgets/kit/plotpane.py`` holds their JavaScript).
"""

from __future__ import annotations

import json
import math
import os
import weakref
from urllib.parse import parse_qsl, urlencode

import traitlets as tl

from widgets.kit.checked import CheckedState
from widgets.kit.plotpane import _Widget

QUERY_ENV = "QUERY_STRING"  # set by Voila for the kernel of each page
# Address options that are not knobs: the presenter view, Voila's own, a Jupyter token.
NOT_KNOBS = {"presenter", "voila-template", "voila-theme", "token", "theme", "kernel_name"}
LINK_TEXT_CAP = 1500  # a text knob longer than this stays out of the link (the settings file keeps it)


def knob_names(state: CheckedState) -> list[str]:
    names = [*state.CHOICES, *state.TEXTS]
    names += [n for n, t in state.traits().items() if isinstance(t, tl.Bool) and not n.startswith("_")
              and n not in names]
    names += [n for n in state.RANGES if n not in names]
    return names


def _plain(v):
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            pass
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def settings(state: CheckedState) -> dict:
    """Every knob's current value (plain Python values)."""
    return {n: _plain(getattr(state, n)) for n in knob_names(state)}


def _parse(state: CheckedState, name: str, text: str):
    """A value from the address (always text) as the knob's type; the state's checks do the rest."""
    trait = state.traits()[name]
    if name in state.CHOICES:
        for c in state.CHOICES[name]:
            if str(c) == text or (isinstance(c, float) and _same_number(c, text)):
                return c
        return text  # the check says it is unknown and keeps the previous choice
    if isinstance(trait, tl.Bool):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{state.label(name)} must be on or off (1 or 0); it stays {'on' if getattr(state, name) else 'off'}.")
    if name in state.RANGES:
        try:
            return float(text)  # integers are rounded by the check; NaN / inf / text are replaced there
        except ValueError:
            return text
    return text


def _same_number(c: float, text: str) -> bool:
    try:
        return float(text) == c
    except ValueError:
        return False


def from_address(state: CheckedState, query: str | None = None) -> list[str]:
    """Set the knobs named in ``query`` (default: ``$QUERY_STRING``); return the sentences about
    what could not be used as given (the corrections themselves also reach ``state.on_correct``)."""
    query = os.environ.get(QUERY_ENV, "") if query is None else query
    if not query:
        return []
    try:
        pairs = parse_qsl(str(query)[:20_000], keep_blank_values=True)
    except ValueError:
        return ["The page address could not be read; the default settings are used."]
    names = set(knob_names(state))
    order = {n: i for i, n in enumerate(knob_names(state))}
    said, unknown = [], []
    wanted = {}
    for k, v in pairs:
        if k in NOT_KNOBS:
            continue
        if k in names:
            wanted[k] = v
        elif len(unknown) < 5:
            unknown.append(k[:30])
    for k in sorted(wanted, key=order.get):
        try:
            setattr(state, k, _parse(state, k, wanted[k]))
        except ValueError as e:
            said.append(str(e))
            state.correct(k, str(e), getattr(state, k))
        except tl.TraitError:
            sentence = f"{state.label(k)} cannot take {wanted[k][:40]!r} from the address; it stays at {getattr(state, k)!r}."
            said.append(sentence)
            state.correct(k, sentence, getattr(state, k))
    if unknown:
        sentence = (f"The address names {', '.join(repr(u) for u in unknown)}, not a setting of this dashboard; "
                    "ignored.")
        said.append(sentence)  # not a knob's correction: the dashboard says it (``LiveDashboard``)
    return said


def link_query(state: CheckedState) -> str:
    """The knobs that differ from their defaults, as ``a=1&b=x`` (long texts left out)."""
    out = []
    for n, v in settings(state).items():
        try:
            default = _plain(state.trait_defaults(n))
        except Exception:  # noqa: BLE001 - a dynamic default: keep the value
            default = object()
        if v == default or v is None:
            continue
        if isinstance(v, bool):
            v = int(v)
        text = str(v)
        if len(text) > LINK_TEXT_CAP:
            continue
        out.append((n, text))
    return urlencode(out)


def _where(dashboard) -> tuple[str, str, str]:
    """(module of the state class, its name, module and name of the dashboard class)."""
    st, db = type(dashboard.state), type(dashboard)
    return st.__module__, st.__name__, f"{db.__module__}:{db.__name__}"


def settings_json(dashboard) -> str:
    st_mod, st_name, db = _where(dashboard)
    lesson = os.path.basename(os.environ.get("SCRIPT_NAME", "")) or None
    return json.dumps({"dashboard": db, "state": f"{st_mod}:{st_name}", "lesson": lesson,
                       "settings": settings(dashboard.state)}, indent=1, ensure_ascii=False) + "\n"


def settings_snippet(dashboard) -> str:
    """A Python file that rebuilds the dashboard with these settings (run it in a notebook cell)."""
    st_mod, st_name, db = _where(dashboard)
    db_mod, db_name = db.split(":")
    lines = ",\n".join(f"    {k!r}: {v!r}" for k, v in settings(dashboard.state).items())
    return (f'"""seqviz: the settings of a {dashboard.kind.replace("_", " ")} dashboard, and the code that rebuilds it.\n\n'
            "Run it in a notebook cell (JupyterLab or Voila) where seqviz is installed. The same settings\n"
            "(seed included) build the same models; press Train to rerun the training. Every value is\n"
            'checked as it is set, as in the dashboard."""\n\n'
            f"from widgets.kit.address import apply_settings\nfrom {st_mod} import {st_name}\n"
            f"from {db_mod} import {db_name}\n\n"
            f"SETTINGS = {{\n{lines},\n}}\n\n"
            f"state = {st_name}()\napply_settings(state, SETTINGS)\n{db_name}(state)\n")


def apply_settings(state: CheckedState, values: dict) -> None:
    """Set the knobs in ``values`` in the order the address uses (choices, texts, switches, ranges)."""
    order = {n: i for i, n in enumerate(knob_names(state))}
    for k in sorted(values, key=lambda n: order.get(n, len(order))):
        if values[k] is not None:
            setattr(state, k, values[k])


class DashboardTools(_Widget):
    """The "Copy link" and "Save settings" buttons of one dashboard, kept up to date with its knobs."""

    query = tl.Unicode("").tag(sync=True)
    names = tl.List(tl.Unicode()).tag(sync=True)  # the knobs a copied link replaces in the address
    snippet = tl.Unicode("").tag(sync=True)
    settings = tl.Unicode("{}").tag(sync=True)
    filename = tl.Unicode("seqviz-settings").tag(sync=True)

    def __init__(self, dashboard, **kwargs):
        super().__init__(role="tools", **kwargs)
        self._dash = weakref.ref(dashboard)
        self.names = knob_names(dashboard.state)
        lesson = os.path.basename(os.environ.get("SCRIPT_NAME", "")).removesuffix(".ipynb")
        self.filename = "seqviz-" + (lesson or dashboard.kind).replace("_", "-") + "-settings"
        self.refresh()
        dashboard.state.observe(lambda _: self.refresh(), names=self.names)
        self.on_msg(self._on_msg)

    def refresh(self) -> None:
        dash = self._dash()
        if dash is None:
            return
        self.query = link_query(dash.state)
        self.snippet = settings_snippet(dash)
        self.settings = settings_json(dash)

    def _on_msg(self, _widget, content, _buffers):
        dash = self._dash()
        if dash is None or not isinstance(content, dict):
            return
        if content.get("type") == "copied":
            url = str(content.get("url", ""))[:2000]
            dash.status.say(("Link copied: " if content.get("ok") else "Copy this link: ") + url
                            + " (it opens this dashboard with these settings).", "ok")
        elif content.get("type") == "saved":
            dash.status.say("Saved the settings" + (" and a Python snippet that rebuilds this dashboard."
                                                     if content.get("what") == "py" else " as JSON."), "ok")
