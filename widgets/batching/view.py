"""The batching dashboard: controls, three plot panes, the rules, and the Measure job.

A control that changes the data computes the scene (a few ms), draws the first pane whose
picture changed at once, and the other changed panes after the browser has drawn it
(``when_drawn``): the first changed frame never waits for the big pane. The step slider
redraws two traces of the small "packed" pane only. Measure times the LSTM in the kit's
``TrainingWorker`` (one configuration per step); Stop pauses it, Measure again goes on.
"""

from __future__ import annotations

import contextlib
import threading
import time

import ipywidgets as ipw
import numpy as np

from seqviz.devices import pick_device
from seqviz.experiments.batching import ALL_MEASURED, SceneError, TimingJob, make_scene
from seqviz.figures import batching as fb
from seqviz.figures.patch import merge
from seqviz.probes.packing import packed_cpu_backward_bytes
from widgets.batching import panels
from widgets.batching.state import HIDDEN_SIZES, SCENE_KNOBS, BatchingState
from widgets.kit import (MAX_TRAIN_S, EquationBox, LiveDashboard, PlotPane, bind_all, device_badge,
                         when_drawn)

ORDER = ("grid", "packed", "rest")  # the panes, top to bottom
STYLE = {"description_width": "120px"}
TOGGLE = {"description_width": "120px", "button_width": "112px"}


def _wide() -> ipw.Layout:
    """A fresh Layout per widget: a shared one would hide them all when one is hidden."""
    return ipw.Layout(width="330px")


def make_controls() -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to (plus the two buttons)."""
    c = dict(continuous_update=False, style=STYLE)
    return {
        "source": ipw.ToggleButtons(options=[("your text", "text"), ("random lengths", "random")],
                                    description="Sequences", style=TOGGLE),
        "text": ipw.Textarea(description="Sentences", placeholder="one sentence per line", rows=7,
                             continuous_update=False, layout=_wide(), style=STYLE),
        "level": ipw.ToggleButtons(options=[("words", "word"), ("characters", "char")], description="Tokens",
                                   style=TOGGLE),
        "dist": ipw.ToggleButtons(options=[("uniform", "uniform"), ("heavy-tailed", "heavy")],
                                  description="Lengths", style=TOGGLE),
        "n": ipw.BoundedIntText(min=1, max=2000, description="Sequences N", layout=_wide(), **c),
        "max_len": ipw.BoundedIntText(min=1, max=400, description="Longest", layout=_wide(), **c),
        "side": ipw.ToggleButtons(options=[("right", "right"), ("left", "left")], description="Pad on the",
                                  style=TOGGLE),
        "batch_size": ipw.BoundedIntText(min=1, max=256, description="Batch size B", layout=_wide(), **c),
        "shrink": ipw.Checkbox(description="sorted batches shrink as sequences grow", indent=False,
                               layout=_wide()),
        "seed": ipw.BoundedIntText(min=0, max=1_000_000, description="Seed", layout=_wide(), **c),
        "step": ipw.IntSlider(min=0, max=399, description="Packed step t", continuous_update=True, layout=_wide(),
                              style=STYLE),
        "hidden": ipw.Dropdown(options=list(HIDDEN_SIZES), description="LSTM H", layout=ipw.Layout(width="200px"),
                               style={"description_width": "60px"}),
        "measure": ipw.Button(description="Measure", button_style="success", icon="play",
                              tooltip="Time LSTM forward+backward on padded, packed and sorted batches",
                              layout=ipw.Layout(width="110px")),
        "stop": ipw.Button(description="Stop", icon="pause", layout=ipw.Layout(width="90px"), disabled=True),
    }


def same(a, b) -> bool:
    """Do two patches hold the same values? (``==`` fails on numpy arrays; NaN equals NaN here.)"""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


class BatchingDashboard(LiveDashboard):
    """Padded grid, packed layout, bucketing waste, what goes wrong, measured cost, one-hot."""

    kind = "batching"
    make_controls = staticmethod(make_controls)  # (widgets/batching/yours.py adds the student's sequences)
    STOPPED = "Measuring stopped: {why}. Press Measure to time what is shown now."

    def __init__(self, state: BatchingState | None = None, **kwargs):
        super().__init__(state or BatchingState(), **kwargs)
        self.info = pick_device()
        self.c = self.make_controls()
        self.panes = {part: PlotPane(f) for part, f in fb.build_batching_figures().items()}
        self.facts, self.timing_note, self.step_note = ipw.HTML(), ipw.HTML(), ipw.HTML()
        self.rules = EquationBox("The rules", panels.EQUATIONS)
        self.scene = None
        self.job: TimingJob | None = None  # the Measure button's job (its results stay after it ends)
        self._last: dict[str, dict] = {}  # the latest patch of each part of a pane ("timing" is part of "rest")
        self._chain: list = []  # views waiting for the pane above to be drawn
        self._packed_scene = None  # the scene the "packed" pane shows (the step slider draws on it)
        self._lock = threading.RLock()
        self._chain_key = ("batching-chain", id(self))
        self._timing_hint: str | None = None  # the timing panel's message when no job is shown
        self._holding_step = False

        bind_all(self.c, self.state, self.status)
        self.c["measure"].on_click(self.guarded("measure the LSTM")(lambda _: self.measure()))
        self.c["stop"].on_click(self.guarded("stop measuring")(lambda _: self.stop()))
        self.state.observe(self.guarded("rebuild the batch")(self.rebuild), list(SCENE_KNOBS))
        self.state.observe(self.guarded("move the packed step")(lambda ch: self.show_step(ch["new"])), "step")
        self.state.observe(self.guarded("change H")(lambda _: self.hidden_changed()), "hidden")
        self.state.observe(lambda _: self._visibility(), "source")
        self.rebuild()
        self.page(*self._layout())
        self._visibility()

    # -- layout -----------------------------------------------------------------------------
    def _layout(self):
        c = self.c
        knobs = ipw.VBox([
            ipw.HTML("<b>Data</b>"), c["source"], c["text"], c["level"], c["dist"], c["n"], c["max_len"],
            ipw.HTML("<b>Batching</b>"), c["side"], c["batch_size"], c["shrink"], c["seed"], c["step"], self.step_note,
            ipw.HTML("<b>Measured cost (panel 5)</b>"), ipw.HBox([c["hidden"], c["measure"], c["stop"]]),
            self.rules,
        ], layout=ipw.Layout(width="350px", min_width="350px"))
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Sequences as tensors: padding, masking and packing</h2>"),
                         self.status, device_badge(), self.facts, self.timing_note])
        # The figures keep the builder's fixed width: a pane drawn before its container has a size
        # would otherwise shrink to it (panels 300 px wide, titles overlapping).
        plot = ipw.VBox([self.panes[p] for p in ORDER], layout=ipw.Layout(flex="1 1 auto", min_width="960px"))
        return head, ipw.HBox([knobs, plot], layout=ipw.Layout(width="100%"))

    def _visibility(self) -> None:
        text = self.state.source == "text"
        for k in ("text", "level"):
            self.c[k].layout.display = None if text else "none"
        for k in ("dist", "n", "max_len"):
            self.c[k].layout.display = "none" if text else None

    def show_running(self, running: bool) -> None:
        self.c["measure"].disabled = running
        self.c["stop"].disabled = not running

    # -- drawing ----------------------------------------------------------------------------
    def _draw(self, views: list) -> None:
        """``views``: (pane, patch function) top to bottom. Each patch is computed when its turn
        comes; a pane whose picture would not change is skipped; the first changed one goes out
        now and each following one once the browser has drawn the one before (``when_drawn``).
        A newer call replaces the views still waiting (a burst of clicks is drawn once)."""
        with self._lock:
            self._chain = list(views)
        self._draw_next()

    def _draw_next(self) -> None:
        with self._lock:
            while self._chain:
                part, fn = self._chain.pop(0)
                p = self._changed(fn())
                if part == "packed":
                    self._packed_scene = self.scene
                if p is not None:
                    self.panes[part].apply(p)
                    break
            else:
                return
            more = bool(self._chain)
        if more:
            when_drawn([self.panes[part]], self.guarded("draw the batch")(self._draw_next), key=self._chain_key)

    def _changed(self, parts: dict) -> dict | None:
        """``parts`` {name: patch} for one pane: the patch of the parts that differ from what the
        pane last received (remembered), or None when nothing would change."""
        fresh = [p for name, p in parts.items() if not same(p, self._last.get(name))]
        self._last.update(parts)
        return merge(*fresh) if fresh else None

    def rebuild(self, change=None) -> None:
        """Recompute the scene from the knobs; on input that makes no batch keep the last views."""
        self.gate.hold()
        try:
            scene = self.make_scene()
        except SceneError as e:
            self.status.correct("scene", f"{e} The plots still show the last batch.")
            return
        self.scene = scene
        said = ""
        if self.job is not None:  # its timings describe other data now
            if self.worker.running and not self.job.cancelled:  # (said here too: its end may come first)
                said = self.STOPPED.format(why="the data changed") + " "
            self.job.cancel("the data changed")
            self.job = None
            self._timing_hint = panels.DATA_CHANGED
        T = scene.steps
        with self.hold_step():
            self.state.steps = T
            self.state.step = min(int(self.state.step), T - 1)
        step = lambda: self.state.step  # noqa: E731 - read when drawn: the slider may move meanwhile
        self._draw([("grid", lambda: {"grid": panels.grid_patch(scene)}),
                    ("packed", lambda: {"packed": panels.packed_patch(scene, step())}),
                    ("rest", lambda: {**panels.rest_parts(scene), "timing": self._timing_patch()})])
        self.c["step"].max = T - 1
        self.step_note.value = panels.step_html(scene, self.state.step)
        self.facts.value = panels.facts_html(scene)
        self.timing_note.value = ""
        if scene.notes:
            self.status.correct("scene", " ".join(scene.notes))
        else:
            self.status.clear("scene")
        B = scene.batch.tokens.shape[0]
        self.status.say(f"{said}Showing a batch of {B} of {len(scene.lengths)} sequence(s). Move the step t, or "
                        "press Measure.", "info")

    def make_scene(self):
        """The scene of the knobs (``SceneError``: nothing to batch)."""
        return make_scene(self.state.config(), previous=self.scene)

    @contextlib.contextmanager
    def hold_step(self):
        """While a rebuild sets the step (the packed pane gets its whole redraw), no step view."""
        self._holding_step = True
        try:
            yield
        finally:
            self._holding_step = False

    def show_step(self, t) -> None:
        if self.scene is None or self._holding_step:
            return
        self.gate.hold()
        self.step_note.value = panels.step_html(self.scene, t)
        if self.panes["packed"].busy:  # still drawing the last step: draw the newest one after it
            when_drawn([self.panes["packed"]], self.guarded("move the packed step")(self._draw_step),
                       key=("batching-step", id(self)))
        else:
            self._draw_step()

    def _draw_step(self) -> None:
        scene = self.scene
        with self._lock:
            waiting = any(part == "packed" for part, _ in self._chain) or self._packed_scene is not scene
            if not waiting:  # (else its whole redraw is on the way, and reads the step then)
                p = panels.step_patch(scene, self.state.step)
                self.panes["packed"].apply(p)
                self._last["packed"] = merge(self._last.get("packed"), p)

    # -- measuring --------------------------------------------------------------------------
    def _timing_patch(self) -> dict:
        return panels.timing_view(self.job, self.scene, self.state.hidden, self.worker.running, self._timing_hint)

    def _apply_timing(self) -> None:
        with self._lock:
            p = self._changed({"timing": self._timing_patch()})
            if p is not None:
                self.panes["rest"].apply(p)

    def _draw_timing(self, force: bool = False) -> None:
        pane = self.panes["rest"]
        if self.gate.ready("timing", hz=5, panes=[pane], force=force):
            self._apply_timing()
            self.refresh_times.append(time.monotonic())
            del self.refresh_times[:-1000]  # bounded, like every history
        else:  # a control's redraw goes first; this one follows once the pane is drawn
            when_drawn([pane], self.guarded("draw the timings")(lambda: self._draw_timing(force=True)),
                       key=("batching-timing", id(self)))
        job = self.job
        if job is not None and job.scene is self.scene:
            extra = packed_cpu_backward_bytes(job.scene.lengths, job.scene.random_batches, job.hidden)
            self.timing_note.value = panels.timing_html(job.results, extra, self.info.device)
        else:
            self.timing_note.value = ""

    def hidden_changed(self) -> None:
        self.gate.hold()
        if self.job is not None and self.worker.running and self.job.hidden != self.state.hidden:
            self.job.cancel("LSTM H changed")
        self._apply_timing()

    def measure(self) -> None:
        self.gate.hold()
        job = self.job
        if self.worker.running:
            if job is not None and not job.cancelled:
                self.status.say("Already measuring; press Stop to stop.", "info")
                return
            self.worker.pause()  # a cancelled job finishing its last batch
        scene, hidden = self.scene, int(self.state.hidden)
        if job is None or job.cancelled or job.done or job.scene is not scene or job.hidden != hidden:
            job = self.job = TimingJob(scene, hidden, self.info.device, self.info.label,
                                       stop=lambda: self.worker.stopping)
            self._timing_hint = None
        what = f"Measuring {job.next_name} ({len(job.results) + 1} of {job.total}), median of {job.cfg.reps} runs ..."
        started = self.worker.start(job.step, on_step=lambda r: self._measured(job, r),
                                    on_end=lambda why: self._measure_ended(job, why), message=what)
        if not started:
            self.status.say("Already measuring; press Stop to stop.", "info")
            return
        self._draw_timing(force=True)

    def _measured(self, job: TimingJob, result) -> None:
        if job is not self.job or result is None:
            return
        if not job.done:
            self.status.say(f"Measured {len(job.results)} of {job.total}; measuring {job.next_name}, median of "
                            f"{job.cfg.reps} runs ...", "info")
        self._draw_timing()

    def _measure_ended(self, job: TimingJob, why: str) -> str:
        """The sentence for the status line (the worker's own speaks of training)."""
        done = f"{len(job.results)} of {job.total}"
        if job.cancelled:
            return self.STOPPED.format(why=job.cancelled)
        if job is self.job:
            self._draw_timing(force=True)
        if why == f"finished: {ALL_MEASURED}":
            return (f"Measured all {job.total}: each bar is the median of {job.cfg.reps} runs of forward + backward "
                    "over the whole data set.")
        if why == "max_seconds":
            return (f"Measuring paused after {MAX_TRAIN_S / 60:.0f} minutes to free the machine ({done} measured). "
                    "Press Measure to go on.")
        if why == "page closed":
            return f"Measuring paused: the page was closed ({done} measured)."
        if why.startswith("failed"):
            return f"Could not measure: {why[8:]}. The dashboard is still usable."
        return f"Stopped after {done}. Press Measure to measure the rest."

    def stop(self) -> None:
        self.gate.hold()
        if not self.worker.running:
            self.status.say("Nothing is being measured; press Measure to start.", "info")
            return
        self.worker.pause()  # the pass in progress ends after its current batch (it polls ``stopping``)

