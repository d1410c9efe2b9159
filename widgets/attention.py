"""Dashboard: attention weight matrices, from Bahdanau alignment to self-attention heads.

``AttentionState`` holds the knobs (validated: any browser can send any value);
``AttentionDashboard`` lays out the controls, six plot panes and the equations,
and trains either the encoder-decoders or the transformer in one ``Worker``.
All maths lives in ``seqviz``; the refresh logic is in ``widgets.attention_live``.
"""

from __future__ import annotations

import ipywidgets as ipw
import traitlets as tl

from seqviz.data.text import clean_text
from seqviz.data.translation import TASKS
from seqviz.figures import attention as fa
from seqviz.training_attention import PRESETS
from widgets.attention_live import LiveViews
from widgets.attention_views import make_controls
from widgets.common import (CheckedState, StatusLine, Throttle, bind, Worker, device_badge, equation_box,
                            guarded, register_instance, warm_up_torch)
from widgets.plotpane import PlotPane, plotly_loader

TEXT_CAP = 200  # characters kept from typed text
INTS = ("snapshot", "out_i", "src_j", "layer", "head", "query", "key")
CHOICES = {"task": TASKS, "cell": ("gru", "lstm"), "position": ("learned", "sinusoidal", "none"),
           "kind": ("qkv", "simple")}


class AttentionState(CheckedState):
    task = tl.Unicode("reverse")
    cell = tl.Unicode("gru")
    source = tl.Unicode("abcdefgh")
    snapshot = tl.Any(0)  # an int; Any so that NaN or text reach the validator
    out_i = tl.Any(0)
    src_j = tl.Any(0)
    layer = tl.Any(0)
    head = tl.Any(0)
    query = tl.Any(5)
    key = tl.Any(0)
    causal = tl.Bool(True)
    scaled = tl.Bool(True)
    position = tl.Unicode("learned")
    kind = tl.Unicode("qkv")
    text = tl.Unicode("")

    def __init__(self, **kw):
        self.limits = {k: 0 for k in INTS}  # largest allowed value of each integer knob (set by the view)
        super().__init__(**kw)

    def _say(self, name, msg):
        self.note = ""  # the same message twice still reaches the status line
        self.note = msg

    @tl.validate(*INTS)
    def _check_int(self, proposal):
        return self.checked_number(proposal, 0, max(self.limits.get(proposal.trait.name, 0), 0), integer=True)

    @tl.validate(*CHOICES)
    def _check_choice(self, proposal):
        return self.checked_choice(proposal, CHOICES)

    @tl.validate("causal", "scaled")
    def _check_bool(self, proposal):
        return bool(proposal.value)

    @tl.validate("source", "text")
    def _check_text(self, proposal):
        text, notes = clean_text(proposal.value)
        if len(text) > TEXT_CAP:
            notes.append(f"That text had {len(text)} characters; only the first {TEXT_CAP} are kept.")
            text = text[:TEXT_CAP]
        if not text.strip():
            self._say(proposal.trait.name,
                      "The text box was empty: type at least one character. The previous text is kept.")
            return getattr(self, proposal.trait.name)
        if notes:
            self._say(proposal.trait.name, " ".join(notes))
        return text


class AttentionDashboard(ipw.VBox):
    """Part 1: an RNN encoder-decoder learns an alignment. Part 2: inside a small transformer."""

    def __init__(self, state: AttentionState | None = None, preset: str = "default", **kwargs):
        super().__init__(**kwargs)
        self.state = state or AttentionState()
        self.worker = Worker("attention")
        # While training: curves at most 8 times a second, heatmaps (the browser's slowest redraws) twice;
        # neither while its pane still draws the last one, so the browser keeps time for the controls.
        self.throttle, self.heat_throttle = Throttle(8), Throttle(2)
        self.refresh_times: list[float] = []  # monotonic time of every view refresh (benchmarks read it)
        self.status = StatusLine()
        self.progress = ipw.HTML()
        self.c = make_controls()
        self.eq_a = equation_box("Bahdanau attention, the selected cell worked out", "")
        self.eq_b = equation_box("Scaled dot-product self-attention, the selected cell worked out", "")
        self.perm_note = ipw.HTML()
        # Six light plot panes (widgets.plotpane): plotly.js loaded once per page, each pane redrawn
        # alone (seqviz.figures.attention says what bigger figures cost), updates acknowledged.
        skeletons = {part: fa.skeleton(part) for part in fa.PANELS}
        self.axes = {part: fa.axes_of(f, part) for part, f in skeletons.items()}
        self.panes = {part: PlotPane(f) for part, f in skeletons.items()}
        self.live = LiveViews(self, PRESETS[preset])
        self.live.reset_s2s(first=True)
        self.live.reset_lm(first=True)
        for name, w in self.c.items():
            if isinstance(w, ipw.Button):
                continue
            bind(w, self.state, name)
        on = lambda what: guarded(self.status, what)  # noqa: E731
        lv = self.live
        self.c["train_s2s"].on_click(on("start training")(lambda _: lv.start("s2s")))
        self.c["train_lm"].on_click(on("start training")(lambda _: lv.start("lm")))
        self.c["stop_s2s"].on_click(on("stop training")(lambda _: lv.stop()))
        self.c["stop_lm"].on_click(on("stop training")(lambda _: lv.stop()))
        self.c["reset_s2s"].on_click(on("reset")(lambda _: lv.reset_s2s()))
        self.c["reset_lm"].on_click(on("reset")(lambda _: lv.reset_lm()))
        self.c["permute"].on_click(on("shuffle the text")(lambda _: lv.shuffle_text()))
        st = self.state
        st.observe(on("rebuild the translation models")(lambda ch: lv.reset_s2s()), ["task", "cell"])
        st.observe(on("show that source")(lambda ch: lv.new_source()), "source")
        st.observe(on("show that snapshot")(lambda ch: lv.refresh_alignment()), ["snapshot", "out_i", "src_j"])
        st.observe(on("rebuild the transformer")(lambda ch: lv.switch(ch["name"])),
                   ["causal", "scaled", "position", "kind"])
        st.observe(on("show that text")(lambda ch: lv.new_text()), "text")
        st.observe(on("show that head")(lambda ch: lv.refresh_self()), ["layer", "head"])
        st.observe(on("show that cell")(lambda ch: lv.refresh_selection()), ["query", "key"])
        st.observe(lambda ch: ch["new"] and self.status.say(ch["new"], "warn"), "note")
        register_instance("attention", self)
        # torch's first optimiser costs ~3.7 s of imports: pay it in the background after the
        # first render has had its start, not before the page shows and not on Train.
        warm_up_torch(delay_s=2.0)
        self.children = self._layout()
        self.status.say("Ready. Press Train in part 1 and watch the alignment appear.", "info")

    def _layout(self):
        c = self.c
        h = lambda t: ipw.HTML(f"<h3 style='margin:6px 0 2px 0'>{t}</h3>")  # noqa: E731
        box = lambda w: ipw.Box([w], layout=ipw.Layout(width="660px"))  # noqa: E731
        part1 = ipw.HBox([ipw.VBox([ipw.HBox([c["train_s2s"], c["stop_s2s"], c["reset_s2s"], c["cell"]]), c["task"],
                                    c["source"], c["snapshot"], c["out_i"], c["src_j"]],
                                   layout=ipw.Layout(width="680px")), box(self.eq_a)])
        part2 = ipw.HBox([ipw.VBox([ipw.HBox([c["train_lm"], c["stop_lm"], c["reset_lm"], c["permute"]]),
                                    ipw.HBox([c["causal"], c["scaled"]]), c["position"], c["kind"], c["text"],
                                    ipw.HBox([c["layer"], c["head"]]), c["query"], c["key"], self.perm_note],
                                   layout=ipw.Layout(width="680px")), box(self.eq_b)])
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Attention weight matrices: from Bahdanau alignment to "
                                  "self-attention heads</h2>"), self.status, self.progress, device_badge()])
        p = self.panes
        return [head, h("1. Alignment: an RNN encoder-decoder with additive (Bahdanau) attention"),
                part1, ipw.HBox([p["part1"], p["part1_curves"], p["part1_length"]]),
                h("2. Self-attention inside a small transformer (the Zen of Python, character by character)"),
                part2, ipw.HBox([p["part2"], p["part2_query"]]), p["part2_curves"], plotly_loader()]

    def close_worker(self) -> None:
        self.worker.stop()


def dashboard(preset: str = "default", **state) -> AttentionDashboard:
    """The attention dashboard. ``preset`` names an entry of
    ``seqviz.training_attention.PRESETS``; keyword arguments set ``AttentionState``
    traits, e.g. ``task="date"`` or ``causal=False``."""
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    state.setdefault("task", PRESETS[preset].task.task)
    return AttentionDashboard(AttentionState(**state), preset=preset)
