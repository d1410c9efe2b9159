"""Part 1 of the attention dashboard: two RNN encoder-decoders (with and without additive
attention) trained side by side on a toy translation task, and what feeds part 1's three
panes (alignment matrix, curves, accuracy by length) and its equation box.

``AlignmentPart`` is a plain object: it gets the state, its panes, its equation box, the
status line and the dashboard's refresh gate, and calls nothing of the dashboard. Its
``Timeline`` (snapshots of both models' weights) scrubs every view of the part back: the
matrix, the worked cell and the accuracy by length are computed from the snapshot loaded
into viewer copies of the models (the live models are never touched for this); the curves
get a marker at the snapshot's step.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from typing import Callable

import torch

from seqviz.data.translation import TranslationConfig
from seqviz.experiments.attention import AttentionPreset, build_s2s
from seqviz.figures import attention as fa
from seqviz.probes.attention import accuracy_by_length, recompute_additive
from seqviz.probes.context import inspecting
from widgets.attention.mirror import Mirror
from widgets.attention.panels import additive_equation
from widgets.attention.state import AttentionState
from widgets.kit import EquationBox, PlotPane, RefreshGate, StatusLine, Timeline, weights

SOURCES = {"reverse": "abcdefgh", "date": "22 Nov 2026"}  # the source shown after a task switch
CURVES_HZ, HEAT_HZ, LENGTH_HZ = 8.0, 2.0, 0.3  # refreshes per second while training


class AlignmentPart:
    """Models, timeline and views of part 1."""

    def __init__(self, preset: AttentionPreset, state: AttentionState, panes: dict[str, PlotPane],
                 equation: EquationBox, status: StatusLine, gate: RefreshGate, device,
                 on_refresh: Callable[[], None] = lambda: None):
        self.p, self.state, self.panes, self.eq, self.status, self.gate = preset, state, panes, equation, status, gate
        self.device, self.on_refresh = device, on_refresh
        self.timeline = Timeline(self._capture, description="Training history", width="380px", status=status)
        self.timeline.on_scrub(self.scrubbed)
        self._draw = threading.RLock()  # one view computed and sent at a time (training thread and controls)
        self._viewing = threading.Lock()  # the viewer copies hold one snapshot at a time
        self._loaded: int | None = None  # step of the snapshot in the viewers
        self._copying = threading.Lock()  # the copies the accuracy by length is computed on
        self._copies = None  # (run, {name: model copy})
        self.quiet_end = False  # set while the dashboard pauses training to rebuild the models
        self.quiet = 0  # > 0 while sizes are adjusted: the knobs' observers do not redraw
        self.task = self.run = None
        self.reset()

    # -- models -------------------------------------------------------------------------
    def reset(self) -> None:
        """New task and models from the state's task and cell (the worker is paused by the caller)."""
        st = self.state
        tcfg = TranslationConfig(**{**self.p.task.__dict__, "task": st.task})
        with self._draw:
            self.task, self.run = build_s2s(self.p, tcfg, st.cell, self.device)
            self.chance = self.task.frequency_baseline()
            self.mirror = Mirror(self.run)
            self.viewers = None  # copies of the models for the timeline, made when it first leaves the live end
            self._loaded = None
            self.timeline.reset(0)
            lo, hi = self.task.train_lengths
            self.lengths = list(range(lo, hi + 5)) if lo != hi else [lo]
            src, _ = self.task.parse(st.source)
            if src is None:  # the typed source does not fit this task: show the task's own example
                default = SOURCES.get(st.task) or "".join(self.task.vocab[1 + k % (self.task.V - 1)]
                                                          for k in range(hi))
                src, _ = self.task.parse(default)
                self.src = src
                self.quiet += 1
                try:
                    st.source = default
                finally:
                    self.quiet -= 1
                self.status.clear("source")
            self.src = src
            self._sizes()

    def _capture(self) -> dict:
        return {k: weights(m) for k, m in self.run.models.items()}

    def step(self) -> int:
        return self.run.step()

    @contextlib.contextmanager
    def viewing(self):
        """The models every view reads: the live ones (under the run's lock) at the live end of the
        timeline, else viewer copies holding the selected snapshot. Yields (models, step)."""
        sel = self.timeline.selected()
        if sel is None:
            with self.mirror.live() as (models, step):
                yield models, step
            return
        step, snap = sel
        with self._viewing:
            if self.viewers is None:
                with self.run.lock:
                    self.viewers = {k: copy.deepcopy(m) for k, m in self.run.models.items()}
            if self._loaded != step:
                for k, m in self.viewers.items():
                    m.load_state_dict(snap[k])
                self._loaded = step
            yield self.viewers, step

    # -- typed source -------------------------------------------------------------------
    def new_source(self) -> None:
        """The source box changed: parse it for the task, say what was dropped or cut (until the
        box holds a clean source again), redraw."""
        if self.quiet:
            return
        st = self.state
        src, msg = self.task.parse(st.source)
        if src is None:
            self._say_source(msg + " The previous source is still shown.")
            return
        self._say_source(msg)
        self.src = src
        self._sizes()
        self.draw_alignment()

    def _say_source(self, sentence: str | None) -> None:
        st = self.state
        if sentence:
            earlier = st.corrections.get("source")  # what the box's own check said (cut, odd characters)
            sentence = f"{earlier} {sentence}" if earlier and sentence not in earlier else sentence
            st.correct("source", sentence)
            self.status.correct("source", sentence)
        elif "source" not in st.corrections:
            self.status.clear("source")

    def _sizes(self) -> None:
        tgt, _ = self.task.target_and_alignment(self.src[None])
        self.quiet += 1
        try:
            self.state.set_sizes(n_out=tgt.shape[1], n_src=len(self.src))
        finally:
            self.quiet -= 1

    # -- views --------------------------------------------------------------------------
    def alignment_view(self) -> tuple[dict, str]:
        """(patch for the matrix, equation HTML) of the selected snapshot (or the live model)."""
        st, task, src = self.state, self.task, self.src
        tgt, align = task.target_and_alignment(src[None])
        with self.viewing() as (models, step):
            m = models["attention"]
            with torch.no_grad(), inspecting(m):
                tr = m.run(src[None].to(self.device), n_out=tgt.shape[1])
                alpha_eq, e = recompute_additive(m, tr.h, tr.s_prev)
        w = tr.weights[0].cpu().numpy()  # (T, S)
        T, S = w.shape
        i, j = min(st.out_i, T - 1), min(st.src_j, S - 1)
        pred = task.decode(tr.tokens[0].cpu())
        labels = [p if p == t else f"{p}\u2260{t}" for p, t in zip(pred, task.decode(tgt[0]))]
        body = additive_equation(i, j, task.decode(src), e[0, i], float(w[i, j]), float(alpha_eq[0, i, j]), step,
                                 m.cfg.values)
        return fa.alignment_patch(w, task.decode(src), labels, align[0].numpy(), (i, j)), body

    def draw_alignment(self) -> None:
        with self._draw:
            p, body = self.alignment_view()
            self.panes["part1"].apply(p)
            self.eq.body = body

    def curves_patch(self) -> dict:
        sel = self.timeline.selected()
        return fa.s2s_curves_patch(self.run.history, self.chance, at=None if sel is None else sel[0])

    def draw_curves(self) -> None:
        with self._draw:
            self.panes["part1_curves"].apply(self.curves_patch())

    def draw_length(self) -> None:
        """Greedy accuracy by source length (the slowest view: ~50-200 ms). Computed on copies of the
        models' weights, so that neither training nor a control's view waits for it; dropped if
        the models were rebuilt meanwhile."""
        run, task, lengths = self.run, self.task, self.lengths
        with self._copying:
            with self.viewing() as (models, _):
                if self._copies is None or self._copies[0] is not run:
                    self._copies = (run, {k: copy.deepcopy(m) for k, m in models.items()})
                for k, m in models.items():
                    self._copies[1][k].load_state_dict(m.state_dict())
            acc = accuracy_by_length(task, self._copies[1], lengths, n=32)
        with self._draw:
            if run is self.run:
                self.panes["part1_length"].apply(fa.length_patch(lengths, acc, task.train_lengths[1]))

    def draw(self) -> None:
        """Every view: the matrix first (what a person watches), the rest once it is drawn."""
        self.draw_alignment()
        self.later(self._rest, "rest")

    def _rest(self) -> None:
        self.draw_curves()
        self.later(self.draw_length, "length", pane="part1_curves")

    def later(self, fn, key: str, pane: str = "part1") -> None:
        """``fn`` once ``pane`` has drawn what it was sent (at once without a browser)."""
        self.panes[pane].when_drawn(fn, key=("attention-part1", key, id(self)))

    def scrubbed(self) -> None:
        """The timeline moved: every view of part 1 at that snapshot."""
        self.gate.hold()
        self.draw()

    # -- training -----------------------------------------------------------------------
    def on_step(self, step: int) -> None:
        """After each training step (training thread): a snapshot when due, gated refreshes."""
        self.mirror.update()
        self.timeline.record(step)
        g, p = self.gate, self.panes
        if g.ready("part1-curves", CURVES_HZ, [p["part1_curves"]]):
            self.draw_curves()
            self.on_refresh()
        elif self.timeline.following and g.ready("part1-heat", HEAT_HZ, [p["part1"]]):
            self.draw_alignment()
        elif self.timeline.following and g.ready("part1-length", LENGTH_HZ, [p["part1_length"]]):
            self.draw_length()

    def on_end(self, why: str) -> str | None:
        """Training ended (training thread): the final views, and what to say. Paused for a rebuild
        (``quiet_end``): only the last snapshot, the rebuild draws everything anyway."""
        self.timeline.record(self.run.steps, force=True)
        if self.quiet_end:
            return None
        self.draw_curves()
        self.draw_alignment()
        self.draw_length()
        self.on_refresh()
        if why == "stopped":
            return f"Part 1 paused at step {self.run.steps}. Press Train to go on."
        return None

    def progress(self) -> dict | None:
        a, b = self.run.history["attention"], self.run.history["bottleneck"]
        if not len(a):
            return None
        al = a.running_mean("alignment", fa.WINDOW)
        return dict(step=int(a.last("step")), seconds=a.last("seconds") + (b.last("seconds") or 0.0),
                    alignment=float(al[-1]) if len(al) else float("nan"))
