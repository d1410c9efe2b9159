"""The gradient-flow view on the student's own recurrent model: ``yours(model, batches, ...)``.

    from widgets.gradient_flow import yours
    yours(model, batches)                      # JupyterLab only (Voila gets one line instead)

It trains the student's module with ``seqviz.yours.user_run`` (their loss and optimizer, or the
defaults: cross-entropy for integer targets, mean squared error for float ones; Adam at ``lr``) in
the kit's ``TrainingWorker``, and every ``probe_every`` steps measures ||dL/dh_t|| (and ||dL/dc_t||)
at every step of one fixed probe batch with ``seqviz.yours.gradients.probe_gradients`` (float64, on a
copy: the model being trained is not touched). Shown: the per-step norms (log), their heatmap over
training, ||dL/dh_0|| / ||dL/dh_T-1|| in a readout, and the loss curve. Train / Pause / One step /
Reset (Reset puts back the weights and optimizer state the model had when ``yours()`` was called;
the learning rate and clipping stay as set); the learning rate and clipping apply to the running
training from its next step; the History slider scrubs the views back. Refreshes go through the
kit's ``RefreshGate``, ``PlotPane.apply`` and ``when_drawn``, like every dashboard's.
"""

from __future__ import annotations

import collections
import copy
import math
import threading
import time

import ipywidgets as ipw
import torch
import traitlets as tl

from seqviz.figures import yours_gradflow as yf
from seqviz.yours.fit import DoesNotFit, describe, require_module
from seqviz.yours.gradients import probe_gradients
from seqviz.yours.training import _pair, batch_source, user_run
from widgets.kit import (CheckedState, LiveDashboard, PlotPane, Timeline, bind_all, show_running, training_buttons,
                         warm_up_torch, when_drawn)
from widgets.kit.yours import your_model_entry

WINDOW = 20  # steps in the loss curve's running mean (said in its legend)
LOSS_HZ, NORMS_HZ, HEAT_HZ = 5, 2, 1  # refreshes a second while training
REFRESH_TIMES = 2000
STYLE = {"description_width": "120px"}


class YourGradientFlowState(CheckedState):
    RANGES = {"lr": (1e-5, 1.0, False), "clip": (0.01, 100.0, False)}
    LABELS = {"lr": "Learning rate", "clip": "Clipping threshold"}
    lr = tl.Any(1e-3)  # tl.Any: NaN or text from a client reaches the check instead of failing
    clip_on = tl.Bool(False)
    clip = tl.Any(1.0)


def ratio_html(probe, updates: int | None) -> str:
    """The readout: ||dL/dh_0|| / ||dL/dh_T-1|| of ``probe``, in words."""
    if probe is None or not len(probe.h_norms):
        return ""
    r, T = probe.ratio, probe.T
    when = f" after {updates} update{'s' if updates != 1 else ''}" if updates is not None else ""
    if not math.isfinite(r):
        text = "the last step gets no gradient, so there is no ratio"
    else:
        trend = "fades" if r < 1 else "grows" if r > 1 else "neither fades nor grows"
        text = (f"= <b>{r:.3g}</b>: the gradient reaching step 0 is {r:.3g} times the one at step {T - 1} "
                f"(it {trend} going back in time)")
    return (f"<div style='font-size:15px'>||dL/dh<sub>0</sub>|| / ||dL/dh<sub>{T - 1}</sub>||{when} {text}; "
            f"loss on the probe batch {probe.loss:.4g} ({probe.dtype}).</div>")


class YourGradientFlow(LiveDashboard):
    """The student's model trained live, with its per-step gradient norms."""

    kind = "gradient-flow-yours"

    def __init__(self, model, batches, loss_fn, optimizer, state: YourGradientFlowState, clip, probe, probe_kw: dict,
                 batch_size: int, probe_every: int, seed: int, name: str):
        super().__init__(state)
        s = self.state
        self.model, self.batches, self.loss_fn, self.optimizer = model, batches, loss_fn, optimizer
        self.batch_size, self.probe_every, self.seed, self.name = batch_size, probe_every, seed, name
        self.probe_kw = probe_kw  # probe_gradients' arguments: x, y, loss_fn, layer, stack_layer
        self.where = probe.where
        # Reset goes back here: the weights and optimizer state when yours() was called.
        self._initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._initial_opt = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
        self._first_probe = probe
        self.refresh_times = collections.deque(maxlen=REFRESH_TIMES)
        self._lock = threading.RLock()
        self._queue: list[str] = []
        self._shown = {"norms": None, "heat": None}  # probes in the history when the pane was drawn
        self.buttons = training_buttons(step=True)
        self.c = {"lr": ipw.FloatLogSlider(min=-5, max=0, step=0.1, base=10, description="Learning rate",
                                           readout_format=".1e", continuous_update=False, style=STYLE,
                                           layout=ipw.Layout(width="360px")),
                  "clip_on": ipw.Checkbox(description="Clip gradient norm", indent=False,
                                          layout=ipw.Layout(width="170px")),
                  "clip": ipw.FloatLogSlider(min=-2, max=2, step=0.1, base=10, description="at",
                                             readout_format=".2g", continuous_update=False,
                                             layout=ipw.Layout(width="300px"), style={"description_width": "30px"})}
        self.readout = ipw.HTML()
        self.panes = {"norms": PlotPane(yf.build_norms_figure(probe.kind)), "heat": PlotPane(yf.build_heat_figure()),
                      "loss": PlotPane(yf.build_loss_figure(WINDOW))}
        self.timeline = Timeline(self._capture, max_snapshots=40, every=10, description="History",
                                 status=self.status)
        if clip is not None:
            s.clip, s.clip_on = clip, True
        bind_all(self.c, s, self.status)
        on = self.guarded
        b = self.buttons
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause training")(lambda _: self.worker.pause()))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset")(lambda _: self.reset()))
        s.observe(on("change the learning rate")(lambda _: self._apply_settings("lr")), "lr")
        s.observe(on("change the clipping")(lambda _: self._apply_settings("clip")), ["clip_on", "clip"])
        self.timeline.on_scrub(on("show that point of training")(self._scrubbed))
        self.run = None
        self.live = None  # (updates, probe) measured by the dashboard itself
        self.reset(first=True)
        self.page(*self._layout())
        warm_up_torch()

    def _layout(self):
        c, b = self.c, self.buttons
        head = ipw.VBox([
            ipw.HTML(f"<h3 style='margin:4px 0'>Gradient flow in your model: {self.where}</h3>"),
            ipw.HBox([b["train"], b["pause"], b["step"], b["reset"]], layout=ipw.Layout(flex_flow="row wrap")),
            self.status, self.readout,
            ipw.HBox([c["lr"], c["clip_on"], c["clip"]], layout=ipw.Layout(flex_flow="row wrap")),
            self.timeline.widget])
        return head, self.panes["norms"], self.panes["heat"], self.panes["loss"]

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)

    def close_worker(self) -> None:
        with self._lock:
            self._queue = []
        super().close_worker()

    # -- building -----------------------------------------------------------------------------
    def _probe(self, _name=None, model=None):
        return probe_gradients(model if model is not None else self.model, **self.probe_kw, name=self.name)

    def _settings(self) -> tuple[float, float | None]:
        s = self.state
        return float(s.lr), (float(s.clip) if s.clip_on else None)

    def reset(self, first: bool = False) -> None:
        """The weights and optimizer state of when ``yours()`` was called, a fresh run (history,
        batch stream); the learning rate and clipping as the controls say."""
        self.gate.hold()
        self.worker.pause(rebuild=True)
        with self._lock:
            lr, clip = self._settings()
            if not first:
                with torch.no_grad():
                    self.model.load_state_dict(self._initial)
                if self.optimizer is not None:
                    self.optimizer.load_state_dict(copy.deepcopy(self._initial_opt))
            self.run = user_run(self.model, self.batches, self.loss_fn, self.optimizer, lr=lr,
                                batch_size=self.batch_size, clip=clip, seed=self.seed, name=self.name,
                                probe_fn=self._probe, probe_every=self.probe_every)
            self._set_lr(lr)
            self.live = (0, self._first_probe)
            self._shown = {"norms": None, "heat": None}
            self.timeline.reset(0)
            self._draw(("loss", "norms"), ("heat",))
        p = self._first_probe
        self.status.say(("Reset: your model's weights and optimizer state are back to what they were when yours() "
                         "was called (the learning rate and clipping stay as set). Press Train.") if not first else
                        f"Ready: {p.where}, {p.T} steps, per-step gradients of the probe batch every "
                        f"{self.probe_every} updates ({p.dtype}). Press Train.", "info")

    def _set_lr(self, lr: float) -> None:
        """The learning rate for the next step (no lock: a handler never waits for a training step)."""
        run = self.run
        run.cfg.lr = lr
        for opt in list(run.opts.values()):
            for g in opt.param_groups:
                g["lr"] = lr

    def _apply_settings(self, what: str) -> None:
        if self.run is None:
            return
        self.gate.hold()
        lr, clip = self._settings()
        if what == "lr":
            self._set_lr(lr)
            self.status.say(f"Learning rate {lr:.1e} from step {self.run.steps + 1} on.", "info")
        else:
            self.run.cfg.clip = clip
            self.status.say((f"Clipping the gradient norm at {clip:.2g}" if clip is not None else "No clipping")
                            + f" from step {self.run.steps + 1} on.", "info")

    # -- training -----------------------------------------------------------------------------
    def _step(self) -> int:
        n = self.run.step()
        self.timeline.record(n)
        return n

    def _capture(self):
        """A timeline snapshot: the newest probe and the updates made before it (a few hundred numbers)."""
        steps, rows = self.probe_rows()
        return (steps[-1], rows[-1]) if steps else None

    def probe_rows(self, upto: int | None = None) -> tuple[list[int], list]:
        """The probes recorded while training (a probe runs before its step's update: it belongs to the
        weights after ``probe_step - 1`` updates) and the dashboard's own newer one, up to ``upto``."""
        h = self.run.history[self.name]
        steps, rows = [s - 1 for s in h.probe_step], list(h.probes)
        n = min(len(steps), len(rows))
        steps, rows = steps[:n], rows[:n]
        if self.live is not None and (not steps or self.live[0] > steps[-1]):
            steps, rows = steps + [self.live[0]], rows + [self.live[1]]
        if upto is not None:
            keep = [i for i, s in enumerate(steps) if s <= upto]
            steps, rows = [steps[i] for i in keep], [rows[i] for i in keep]
        return steps, rows

    def train(self) -> None:
        if not self.worker.running and not self.timeline.following:
            self.timeline.slider.value = self.timeline.slider.max
        self.worker.start(self._step, on_step=self._on_step, on_end=self._on_end, message="Training your model...")

    def one_step(self) -> None:
        self.worker.one_step(self._step, on_end=self._after_step)

    def _after_step(self, why: str):
        run = self.run
        with run.lock:
            self.live = (run.steps, self._probe())
        self.timeline.record(run.steps, force=True)
        self._draw(("loss", "norms"), ("heat",))
        if why == "one step":
            n = run.steps
            self.status.say(f"One step: {n} update{'s' if n != 1 else ''} made, training loss "
                            f"{run.history[self.name].last('loss'):.4g}.", "info")
        return None

    def _on_end(self, why: str):
        self._after_step(why)
        if why == "stopped":
            return f"Paused after {self.run.steps} updates. Press Train to go on, or One step."
        return None

    def _on_step(self, step: int) -> None:
        """A training refresh (training thread), through the gate; nothing while the timeline shows the past."""
        if not self.timeline.following:
            return
        p, g = self.panes, self.gate
        if g.ready("loss", LOSS_HZ, [p["loss"]]):
            self._draw_pane("loss")
            self.refresh_times.append(time.monotonic())
        n = len(self.run.history[self.name].probes)
        norms = n != self._shown["norms"] and g.ready("norms", NORMS_HZ, [p["norms"]])
        if norms:
            self._draw_pane("norms")
        elif n != self._shown["heat"] and g.ready("heat", HEAT_HZ, [p["heat"]]):
            self._draw_pane("heat")

    def _scrubbed(self) -> None:
        self.gate.hold()
        self._draw(("norms", "loss"), ("heat",))

    # -- views --------------------------------------------------------------------------------
    def _draw(self, first: tuple, later: tuple) -> None:
        with self._lock:
            self._queue = list(later)
            for k in first:
                self._draw_pane(k)
        self._after([self.panes[k] for k in first])

    def _after(self, panes) -> None:
        if self._queue:
            when_drawn(panes, self._next, key=(id(self), "views"))

    def _next(self) -> None:
        with self._lock:
            if not self._queue:
                return
            k = self._queue.pop(0)
            self._draw_pane(k)
        self._after([self.panes[k]])

    def _draw_pane(self, k: str) -> None:
        sel = self.timeline.selected()
        upto = sel[0] if sel is not None else None
        if k == "loss":
            view = yf.loss_patch(self.run.history[self.name], WINDOW, upto)
        else:
            steps, rows = self.probe_rows(upto)
            self._shown[k] = len(self.run.history[self.name].probes)
            if k == "norms":
                shown = (steps[-1], rows[-1]) if steps else None
                view = yf.norms_patch(shown[1] if shown else None, shown[0] if shown else None, self.where)
                self.readout.value = ratio_html(*(shown[::-1] if shown else (None, None)))
            else:
                view = yf.heat_patch(rows, steps)
        self.panes[k].apply(view)

    def recorded_sizes(self) -> dict[str, int]:
        """How much every record of this dashboard holds (each is bounded)."""
        h = self.run.history[self.name]
        return {"history": len(h), "probes": len(h.probes), "refresh_times": len(self.refresh_times),
                "timeline": len(self.timeline.snaps), "queue": len(self._queue)}


@your_model_entry
def yours(model, batches, loss_fn=None, optimizer=None, lr: float = 1e-3, clip: float | None = None,
          probe_batch=None, batch_size: int = 32, probe_every: int = 20, layer: str | None = None,
          stack_layer: int | None = None, seed: int = 0, name: str = "your model"):
    """The gradient-flow dashboard on your own recurrent ``model`` (an ``nn.Module`` with an
    nn.RNN / nn.LSTM / nn.GRU inside, or a hand-written cell that calls
    ``seqviz.yours.gradients.mark(h_t)`` at every step).

    ``batches``: a function ``gen -> (x, y)``, one ``(x, y)`` pair, a list of pairs or a DataLoader;
    ``loss_fn(output, y)`` and ``optimizer`` (built on ``model.parameters()``) are optional (defaults:
    ``seqviz.yours.default_loss``, Adam at ``lr``); ``clip``: the largest global gradient norm;
    ``probe_batch``: the ``(x, y)`` whose per-step gradients are shown (default: the first batch
    drawn with ``seed``), measured every ``probe_every`` updates; ``layer`` / ``stack_layer``: which
    recurrent layer (see ``probe_gradients``). JupyterLab only; a misfit is one sentence."""
    require_module(model)
    for what, v, lo in (("probe_every", probe_every, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise DoesNotFit(f"{what} must be a whole number of at least {lo}; it is {describe(v)}"
                             f"{' ' + repr(v) if isinstance(v, (int, float)) else ''}.")
    for what, v, (lo, hi) in (("lr", lr, YourGradientFlowState.RANGES["lr"][:2]),
                              ("clip", clip, YourGradientFlowState.RANGES["clip"][:2])):
        if v is None and what == "clip":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise DoesNotFit(f"{what} must be a number from {lo:g} to {hi:g}; it is {v!r}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise DoesNotFit(f"optimizer must be a torch.optim optimizer; found {describe(optimizer)}.")
    if probe_batch is None:
        x, y = batch_source(batches, batch_size)(torch.Generator().manual_seed(int(seed)))
    else:
        x, y = _pair(probe_batch, "probe_batch")
    probe_kw = dict(x=x, y=y, loss_fn=loss_fn, layer=layer, stack_layer=stack_layer)
    first = probe_gradients(model, **probe_kw, name=name)  # a misfit is said before anything is built
    state = YourGradientFlowState()
    state.lr = float(optimizer.param_groups[0]["lr"]) if isinstance(optimizer, torch.optim.Optimizer) else lr
    return YourGradientFlow(model, batches, loss_fn, optimizer, state, clip, first, probe_kw, batch_size,
                            probe_every, seed, name)
