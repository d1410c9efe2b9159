"""Every value from the browser is checked in the kernel: any client can set any synced trait.

``CheckedState`` is the base of every dashboard's state. A subclass declares its limits as
class dicts, and the checks are written once here:

    class MyState(CheckedState):
        RANGES = {"T": (10, 200, True), "lr": (1e-4, 1.0, False)}   # lo, hi, integer
        CHOICES = {"cell": ("lstm", "gru")}
        TEXTS = {"text": 200}                                          # most characters kept
        T = tl.Any(100)   # tl.Any: NaN or text from a client reach the check instead of failing
        ...

A range may be a callable ``state -> (lo, hi, integer)`` when it depends on other knobs.
A bad value is replaced (clamped, or the previous value kept) and one sentence is recorded
in ``state.corrections[name]`` (and ``state.note``).

``bind(control, state, name, status)`` links a control to a state trait both ways and says
every correction on the status line: the state's, a value of the wrong type forged for the
control itself (the kernel puts its own value back into the browser), and a number typed
into a slider readout or number box that the browser clamped or dropped.
"""

from __future__ import annotations

import math
import re

import ipywidgets as ipw
import traitlets as tl

from seqviz.data.text import clean_text
from widgets.kit.plotpane import page_link
from widgets.kit.status import StatusLine, log


def clamp_number(value, lo, hi, default, name: str, integer: bool = False):
    """Return ``(clean_value, message_or_None)``: NaN/inf/garbage -> default, out of range -> clamped."""
    if isinstance(value, bool):
        value = int(value)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
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
    try:
        if value in choices:
            return value, None
    except TypeError:  # an unhashable value forged by a client
        pass
    return default, f"Unknown {name} {str(value)[:40]!r}; using {default!r}."


def clean_limited_text(value, cap: int, previous: str, name: str):
    """Return ``(text, sentences)``: text cleaned of control characters and odd Unicode
    (``seqviz.data.text.clean_text``), cut to ``cap`` characters; an empty text keeps ``previous``."""
    if not isinstance(value, str):
        return previous, [f"{name} must be text; the previous text is kept."]
    text, notes = clean_text(value)
    if len(text) > cap:
        notes.append(f"That text had {len(text)} characters; only the first {cap} are kept.")
        text = text[:cap]
    if not text.strip():
        return previous, [f"The {name} box was empty: type at least one character. The previous text is kept."]
    return text, notes


class CheckedState(tl.HasTraits):
    """Base of a dashboard's state; see the module docstring."""

    RANGES: dict = {}  # trait -> (lo, hi, integer) or callable(state) -> (lo, hi, integer)
    CHOICES: dict = {}  # trait -> allowed values
    TEXTS: dict = {}  # trait -> most characters kept
    LABELS: dict = {}  # trait -> the name a person reads in sentences (default: the trait name)

    note = tl.Unicode("")  # the latest correction, as a sentence

    def __init__(self, **kwargs):
        self.corrections: dict[str, str] = {}
        self._listeners: list = []
        names = set(self.RANGES) | set(self.CHOICES) | set(self.TEXTS)
        if names:
            self._register_validator(type(self)._check, tuple(names))
        super().__init__(**kwargs)

    def label(self, name: str) -> str:
        return self.LABELS.get(name, name.replace("_", " "))

    @classmethod
    def check_knobs(cls, knobs: dict, derived: tuple = ()) -> None:
        """Raise ``ValueError`` naming the knobs there are when ``knobs`` holds a name that is not one
        (``derived`` traits, computed by the state, are not knobs; nor is ``note``)."""
        hidden = {"note", *derived}
        knobs_there = [n for n in cls.class_trait_names() if n not in hidden]
        for k in knobs:
            if k not in knobs_there:
                raise ValueError(f"Unknown setting {k!r}; use one of {', '.join(knobs_there)}.")

    @classmethod
    def from_knobs(cls, knobs: dict, derived: tuple = ()):
        """A state with ``knobs`` set (each through its check), after ``check_knobs``."""
        cls.check_knobs(knobs, derived)
        state = cls()
        for k, v in knobs.items():
            setattr(state, k, v)
        return state

    def limits(self, name: str) -> tuple:
        r = self.RANGES[name]
        return r(self) if callable(r) else r

    def _check(self, proposal):
        name = proposal.trait.name
        # The value to fall back on: the last one this check passed. (Inside
        # ``hold_trait_notifications`` the bad value is already set when the check runs.)
        good = self.__dict__.setdefault("_good", {})
        old = good[name] if name in good else self.trait_defaults(name)
        if name in self.RANGES:
            lo, hi, integer = self.limits(name)
            v, msg = clamp_number(proposal.value, lo, hi, old, self.label(name), integer)
            v, msgs = (int(v) if integer else float(v)), [msg] if msg else []
        elif name in self.CHOICES:
            v, msg = clean_choice(proposal.value, self.CHOICES[name], old, self.label(name))
            msgs = [msg] if msg else []
        else:
            v, msgs = clean_limited_text(proposal.value, self.TEXTS[name], old, self.label(name))
        good[name] = v
        if msgs:
            self.correct(name, " ".join(msgs), v)
        return v

    def correct(self, name: str, sentence: str, value=None) -> None:
        """Record that ``name`` was corrected to ``value`` (a dashboard may add its own
        corrections, e.g. a parse note) and tell the listeners (the dashboard's status line)."""
        self.corrections[name] = sentence
        self.note = ""  # the same sentence twice still notifies
        self.note = sentence
        for fn in list(self._listeners):
            fn(name, sentence, value)

    def on_correct(self, fn) -> None:
        """Call ``fn(name, sentence, value)`` on every correction (``LiveDashboard`` says them)."""
        self._listeners.append(fn)


def _control_label(widget) -> str:
    return (getattr(widget, "description", "") or "").strip()


def guard_widget(widget, status: StatusLine, label: str | None = None) -> None:
    """A value the control itself rejects (a slider set to "abc", a dropdown index of 99, forged
    by a client) fails inside the widget before any observer sees it, while the browser already
    shows it. Then put the kernel's own value back into the browser and say one sentence."""
    if getattr(widget, "_seqviz_guarded", False):
        return
    label = label or _control_label(widget) or "That control"
    original = widget.set_state

    def set_state(sync_data):
        try:
            original(sync_data)
        except Exception as e:  # noqa: BLE001 - a TraitError, or worse: never a traceback
            log.info("rejected %r for %s: %s", sync_data, label, e)
            keys = [k for k in sync_data if k in widget.keys]
            widget.send_state(keys or None)
            raw = next(iter(sync_data.values()), "")
            raw = repr(raw[:40]) if isinstance(raw, str) else str(raw)[:40]
            now = getattr(widget, "value", None)
            status.correct(f"control:{label}", f"{label} cannot take {raw}; it stays at {now!r}."
                           if now is not None else f"{label} cannot take {raw}.")

    widget.set_state = set_state
    widget._seqviz_guarded = True


_JS_INT = re.compile(r"\s*([+-]?\d+)")
_JS_FLOAT = re.compile(r"\s*([+-]?(?:Infinity|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))")


def js_number(text: str, integer: bool) -> float:
    """What the browser's widget makes of ``text``: JavaScript's ``parseInt`` (integer controls) or
    ``parseFloat`` (float ones) read the longest number at the start and ignore the rest ("1e999"
    is 1 to parseInt, Infinity to parseFloat); NaN when nothing at the start is a number."""
    m = (_JS_INT if integer else _JS_FLOAT).match(text)
    if not m:
        return math.nan
    return float(m.group(1).replace("Infinity", "inf"))


def _typed_sentence(widget, text: str) -> tuple[str, object] | None:
    """What to say about ``text`` typed into a numeric control's readout or box, and the value the
    browser then uses (ipywidgets parses it as JavaScript does and clamps it to the control's range);
    None when the text was a plain value in range."""
    lo, hi = getattr(widget, "min", None), getattr(widget, "max", None)
    if lo is None or hi is None:
        return None
    label = _control_label(widget) or "That box"
    t = text.strip().replace("\u2212", "-")
    if isinstance(widget, ipw.FloatLogSlider):
        lo, hi = widget.base ** lo, widget.base ** hi
    integer = isinstance(widget.value, int) and not isinstance(widget.value, bool)
    read = js_number(t, integer)
    if math.isnan(read):
        return f"{label}: {t[:30]!r} is not a number, so it stays at {widget.value:g}.", widget.value
    used = min(max(read, lo), hi)
    used = int(used) if integer else used
    try:
        exact = float(t) == read
    except (ValueError, OverflowError):
        exact = False
    said = [] if exact else [f"{t[:30]!r} was read as {read:g}" + (" (only the digits before the first other "
                                                                        "character count)" if integer else "")]
    if used != read:
        said.append(f"the range is {lo:g} to {hi:g}, so it became {used:g}")
    if not said:
        return None
    return f"{label}: " + "; ".join(said) + ".", used


def bind(widget, state: CheckedState, name: str, status: StatusLine, attr: str = "value") -> None:
    """Two-way link between a control and a state trait, like ``traitlets.link``, except that the
    state may rewrite the value (NaN or out-of-range input from the browser): the control then
    shows the value actually used, and ``status`` says why. A clean value clears what was said
    about an earlier one."""
    busy = []
    source = name

    def to_state(change):
        if busy:
            return
        busy.append(1)
        state.corrections.pop(name, None)
        try:
            setattr(state, name, change["new"])
        finally:
            busy.pop()
        used = getattr(state, name)
        if name in state.corrections:
            status.correct(source, state.corrections[name], used)
        else:
            status.clear(source, used)
            status.clear(f"control:{_control_label(widget) or 'That control'}")
        if getattr(widget, attr) != used:
            setattr(widget, attr, used)

    def to_widget(change):
        if not busy and getattr(widget, attr) != change["new"]:
            setattr(widget, attr, change["new"])

    setattr(widget, attr, getattr(state, name))
    widget.observe(to_state, attr)
    state.observe(to_widget, name)
    guard_widget(widget, status)
    if hasattr(widget, "min") and hasattr(widget, "max") and _control_label(widget):
        def typed(text):
            said = _typed_sentence(widget, text)
            if said is not None:
                status.correct(source, *said)

        page_link().on_typed(_control_label(widget), typed)


def bind_all(controls: dict, state: CheckedState, status: StatusLine) -> None:
    """``bind`` every control whose key is a trait of ``state`` (buttons and others are skipped)."""
    for name, w in controls.items():
        if state.has_trait(name) and not isinstance(w, ipw.Button):
            bind(w, state, name, status)
    for name, sentence in state.corrections.items():  # said before the dashboard existed
        status.correct(name, sentence, getattr(state, name))
