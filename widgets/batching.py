"""Dashboard: padding, masking, sorting and packing of variable-length batches.

``BatchingState`` holds the knobs (validated: any browser can send any value);
``BatchingDashboard`` lays out controls, three plot panes and the equations, and
times the LSTM in a background ``Worker``. All maths lives in ``seqviz``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import fields

import ipywidgets as ipw
import torch
import traitlets as tl

from seqviz.data.text import SAMPLE_TEXT
from seqviz.devices import pick_device
from seqviz.figures import batching as fb
from seqviz.probes.packing import SceneConfig, SceneError, TimingConfig, make_scene, packed_cpu_backward_bytes, time_lstm
from widgets.batching_views import EQUATIONS, facts_html, make_controls, timing_html
from widgets.plotpane import PlotPane, plotly_loader
from widgets.common import (checked_state, StatusLine, bind, Worker, device_badge, equation_box, guarded,
                            register_instance)

MAX_TEXT = 20_000  # characters accepted from the browser; the rest is cut (and the user told)
SCENE_KNOBS = tuple(f.name for f in fields(SceneConfig))
RANGES = {"n": (1, 2000, True), "max_len": (1, 400, True), "batch_size": (1, 256, True), "seed": (0, 1_000_000, True),
          "step": (0, 399, True)}
CHOICES = {"source": ("text", "random"), "level": ("word", "char"), "side": ("right", "left"),
           "dist": ("uniform", "heavy"), "hidden": (64, 128, 256)}


class BatchingState(checked_state(RANGES, CHOICES)):
    source = tl.Unicode("text")
    text = tl.Unicode(SAMPLE_TEXT)
    level = tl.Unicode("word")
    side = tl.Unicode("right")
    dist = tl.Unicode("heavy")
    n = tl.Any(256)  # any value is accepted, then checked and clamped (checked_state)
    max_len = tl.Any(120)
    batch_size = tl.Any(8)
    shrink = tl.Bool(False)
    seed = tl.Any(0)
    step = tl.Any(0)
    hidden = tl.Int(128)
    note_for = tl.Unicode("")  # the trait that message is about

    def _say(self, name, msg):
        self.note_for, self.note = name, msg

    @tl.validate("text")
    def _check_text(self, proposal):
        v = proposal.value if isinstance(proposal.value, str) else str(proposal.value)
        if len(v) > MAX_TEXT:
            self._say("text", f"The text had {len(v):,} characters; only the first {MAX_TEXT:,} are used.")
            v = v[:MAX_TEXT]
        return v

    def config(self) -> SceneConfig:
        return SceneConfig(**{k: getattr(self, k) for k in SCENE_KNOBS})


class BatchingDashboard(ipw.VBox):
    """Padded grid, packed layout, bucketing waste, what goes wrong, measured cost, one-hot."""

    def __init__(self, state: BatchingState | None = None, **kwargs):
        super().__init__(**kwargs)
        self.state = state or BatchingState()
        self.info = pick_device()
        self.worker = Worker("batching")
        self.status = StatusLine()
        self.facts, self.timing_note, self.step_note = ipw.HTML(), ipw.HTML(), ipw.HTML()
        self.c = make_controls()
        # Three light plot panes (widgets/plotpane.py): the step slider redraws only "packed".
        self.panes = {part: PlotPane(f) for part, f in fb.build_batching_figures().items()}
        self.figs = {part: pane.figure for part, pane in self.panes.items()}
        self.scene = None
        self.timings: list = []
        self._pending: tuple[str, str] | None = None  # (trait, validation message) not yet shown with a rebuild
        for name, w in self.c.items():
            if name not in ("measure", "stop"):
                bind(w, self.state, name)
        on = lambda what: guarded(self.status, what)  # noqa: E731
        self.c["measure"].on_click(on("measure the LSTM")(lambda _: self.measure()))
        self.c["stop"].on_click(on("stop")(lambda _: self.close_worker()))
        self.state.observe(on("rebuild the batch")(self.rebuild), list(SCENE_KNOBS))
        self.state.observe(on("move the packed step")(lambda ch: self.show_step(ch["new"])), "step")
        self.state.observe(self._on_note, "note")
        self.state.observe(lambda _: self._visibility(), "source")
        register_instance("batching", self)
        self.rebuild()
        self.children = self._layout()
        self._visibility()

    def _layout(self):
        c = self.c
        knobs = ipw.VBox([
            ipw.HTML("<b>Data</b>"), c["source"], c["text"], c["level"], c["dist"], c["n"], c["max_len"],
            ipw.HTML("<b>Batching</b>"), c["side"], c["batch_size"], c["shrink"], c["seed"], c["step"], self.step_note,
            ipw.HTML("<b>Measured cost</b>"), ipw.HBox([c["hidden"], c["measure"], c["stop"]]),
            equation_box("The rules", EQUATIONS),
        ], layout=ipw.Layout(width="350px", min_width="350px"))
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Sequences as tensors: padding, masking and packing</h2>"),
                         self.status, device_badge(), self.facts, self.timing_note])
        # The figure keeps the builder's fixed width: a plot pane drawn before its container has
        # a size would otherwise shrink to it (panels 300 px wide, titles overlapping).
        plot = ipw.VBox(list(self.panes.values()), layout=ipw.Layout(flex="1 1 auto", min_width="960px"))
        return [head, ipw.HBox([knobs, plot], layout=ipw.Layout(width="100%")), plotly_loader()]

    def _visibility(self) -> None:
        text = self.state.source == "text"
        for k in ("text", "level"):
            self.c[k].layout.display = None if text else "none"
        for k in ("dist", "n", "max_len"):
            self.c[k].layout.display = "none" if text else None

    @contextlib.contextmanager
    def _batch(self, *parts: str):
        """The named panes' figures, each edited under its lock and sent as one update."""
        with contextlib.ExitStack() as stack:
            yield {p: stack.enter_context(self.panes[p].batch()) for p in parts}

    # -- actions ---------------------------------------------------------------------
    def close_worker(self) -> None:
        self.worker.stop()

    def _on_note(self, change) -> None:
        if change["new"]:
            self.status.say(change["new"], "warn")
            self._pending = (self.state.note_for, change["new"])
            self.state.note = ""  # so the same message shows again next time

    def rebuild(self, change=None) -> None:
        """Recompute the scene from the knobs; on bad input keep the last good views."""
        pending, self._pending = self._pending, None
        said = [pending[1]] if pending and change and pending[0] == change["name"] else []
        if self.worker.running:
            self.worker.stop()
            said.append("Measuring stopped because the data changed; press Measure again.")
        try:
            scene = make_scene(self.state.config())
        except SceneError as e:
            self.status.say(" ".join([*said, f"{e} The plots still show the last batch."]), "warn")
            return
        self.scene = scene
        T = int(scene.batch.lengths.max())
        with self._batch(*self.panes) as figs:
            fb.update_batch(figs, scene)
        self.c["step"].max = T - 1
        self.show_step(min(self.state.step, T - 1))
        self.facts.value = facts_html(scene)
        if self.timings:
            self.timings, self.timing_note.value = [], ""
            with self._batch("rest") as figs:
                fb.update_timing(figs, [])
        B = scene.batch.tokens.shape[0]
        ready = f"Showing a batch of {B} of {len(scene.lengths)} sequence(s). Move the step t, or press Measure."
        notes = said + scene.notes
        self.status.say(" ".join(notes) or ready, "warn" if notes else "info")

    def show_step(self, t: int) -> None:
        if self.scene is None:
            return
        lay = self.scene.layout
        t = min(max(0, int(t)), len(lay.batch_sizes) - 1)
        with self._batch("packed") as figs:
            fb.update_step(figs, lay, t)
        self.step_note.value = f"<span style='font-size:14px'>{fb.step_text(lay, t)}</span>"

    def measure(self) -> None:
        if self.worker.running:
            self.status.say("Already measuring; press Stop first to start again.", "warn")
            return
        scene, hidden = self.scene, self.state.hidden
        variants = {"padded, shuffled": (scene.random_batches, False), "packed, shuffled": (scene.random_batches, True),
                    "padded, sorted": (scene.sorted_batches, False), "packed, sorted": (scene.sorted_batches, True)}

        def body(stop: threading.Event) -> None:
            try:
                res = time_lstm(scene.lengths, variants, TimingConfig(hidden=hidden), torch.Generator().manual_seed(0),
                                self.info.device, self.info.label, stop=stop.is_set,
                                on_progress=lambda m: self.status.say(m, "info"))
            except Exception as e:  # noqa: BLE001 - one sentence, never a traceback
                self.status.say(f"Could not measure: {str(e)[:160]}. The dashboard is still usable.", "error")
                return
            if scene is not self.scene:  # the knobs changed while we measured
                return
            self.timings = res
            with self._batch("rest") as figs:
                fb.update_timing(figs, res)
            extra = packed_cpu_backward_bytes(scene.lengths, scene.random_batches, hidden)
            self.timing_note.value = timing_html(res, extra)
            done = len(res) == len(variants)
            self.status.say("Measured all four." if done else f"Stopped after {len(res)} of 4.", "ok" if done else "info")

        self.worker.start(body)


def dashboard(**config) -> BatchingDashboard:
    """The dashboard; keyword arguments set ``BatchingState`` traits, e.g. ``source="random", max_len=200``."""
    state = BatchingState()
    unknown = set(config) - set(state.trait_names())
    if unknown:
        raise ValueError(f"Unknown setting(s) {sorted(unknown)}; choose from {sorted(SCENE_KNOBS + ('hidden',))}")
    with state.hold_trait_notifications():
        for k, v in config.items():
            setattr(state, k, v)
    return BatchingDashboard(state)
