"""``yours(model)``: the receptive-field view on a student's own module, in JupyterLab.

For any module mapping (B, C, T) to (B, C', T): which inputs each output reads (measured by
autograd, ``seqviz.yours.receptive.measure``), the row of the output a slider picks (its lags, the
analytic set of a plain Conv1d stack overlaid), the whole map, and a readout (measured size, the
analytic receptive field or why there is none, causal or the first offending pair). With
``batches`` it trains the module (``seqviz.yours.user_run`` in the kit's ``TrainingWorker``): Train /
Pause / One step / Reset, the loss curve, and the map measured again while it trains (gated).

What happens on each control:
- the output position t: its row at once; the map's marker once the browser drew the row;
- the learning rate: the running optimizer's rate, from the next step on;
- training: the loss curve at most ``LOSS_HZ`` a second, the map and row measured again at most
  ``MAP_HZ`` a second, each only when its panes finished drawing.
"""

from __future__ import annotations

import copy
import html
import time

import ipywidgets as ipw
import traitlets as tl

from seqviz.figures import yours_receptive as F
from seqviz.figures.patch import merge
from seqviz.yours.fit import DoesNotFit
from seqviz.yours.receptive import TRIALS, lag_ranges, measure
from seqviz.yours.training import user_run
from widgets.kit import (CheckedState, EquationBox, LiveDashboard, PlotPane, bind_all, show_running,
                         training_buttons, when_drawn)
from widgets.kit.yours import your_model_entry

LOSS_HZ, MAP_HZ = 6, 1  # refreshes a second while training: the loss curve, the measured map
NAME = "your model"


class YourReceptiveState(CheckedState):
    RANGES = {"t": lambda s: (0, s.T - 1, True), "lr": (1e-5, 1.0, False)}
    LABELS = {"t": "Output position t", "lr": "Learning rate"}
    T = tl.Int(64)  # the length of the random inputs measured (set once, by ``yours``)
    t = tl.Any(63)  # the output whose row is shown
    lr = tl.Any(1e-3)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def readout_html(rmap, t: int) -> str:
    """The readout: output t's lags, the measured receptive field, the analytic one, causality."""
    lags = rmap.lags(t)
    agree, sentence = rmap.agreement()
    holes = rmap.holes
    mark = {True: "✓ ", False: "✗ ", None: ""}[agree]
    rows = [
        f"Output t = {t} reads <b>{_plural(len(lags), 'input')}</b>: lags t − s = {html.escape(lag_ranges(lags))} "
        f"(right of the dashes: s &gt; t, its future).",
        f"Measured receptive field: <b>{rmap.size}</b> different lags over all outputs "
        f"({html.escape(lag_ranges(rmap.lag_set))}; span {rmap.span}, "
        + (f"holes at {html.escape(lag_ranges(holes))}" if holes.size else "no holes") + ").",
        "Analytic: " + mark + html.escape(sentence),
        ("✓ " if rmap.causal else "✗ ") + html.escape(rmap.causal_sentence()),
        f"<span style='color:#555;font-size:14px'>Measured by autograd in eval mode on {rmap.trials} random inputs "
        f"of shape ({rmap.trials}, {rmap.channels}, {rmap.T}): an input counts as read if any of them gives a nonzero "
        f"|∂y/∂x| (summed over the {rmap.channels} input and {rmap.out_channels} output channels), so a ReLU off "
        f"for one input does not hide a dependency; one off for all {rmap.trials} would.</span>",
    ]
    return "<br>".join(rows)


class YourReceptiveFieldDashboard(LiveDashboard):
    """The receptive field of the student's module; trains it when batches were given."""

    kind = "receptive-field-yours"  # (not the lesson's dashboard: both may run in one kernel)

    def __init__(self, model, rmap, channels: int | None, run=None, make_run=None, lr: float = 1e-3,
                 state: YourReceptiveState | None = None):
        state = state or YourReceptiveState(T=rmap.T, t=rmap.T - 1, lr=lr)
        super().__init__(state)
        self.model, self.rmap, self.channels = model, rmap, channels
        self.run, self.make_run = run, make_run
        self.measured_at = 0  # the training step the map shows
        self.panes = {k: PlotPane(f) for k, f in F.build_figures(loss=run is not None).items()}
        style = {"description_width": "140px"}
        self.c = {"t": ipw.IntSlider(min=0, max=rmap.T - 1, description="Output position t", continuous_update=False,
                                     layout=ipw.Layout(width="460px"), style=style)}
        self.readout = EquationBox("Receptive field of your module")
        self.buttons: dict = {}  # (Train, Pause, One step, Reset: only with batches)
        rows = [ipw.HTML("<h3 style='margin:4px 0'>Your module's receptive field</h3>"), self.status, self.c["t"]]
        if run is not None:
            self.c["lr"] = ipw.FloatLogSlider(min=-5, max=0, description="Learning rate", continuous_update=False,
                                              layout=ipw.Layout(width="460px"), style=style, readout_format=".1e")
            self.buttons = training_buttons(step=True)
            b = self.buttons
            b["train"].on_click(self.guarded("start training")(lambda _: self.train()))
            b["pause"].on_click(lambda _: self.worker.pause())
            b["step"].on_click(self.guarded("take one step")(lambda _: self.one_step()))
            b["reset"].on_click(self.guarded("reset")(lambda _: self.reset()))
            self.state.observe(self.guarded("set the learning rate")(
                lambda ch: self.run.set_optimizer(self.run.cfg.optimizer, ch["new"])), "lr")
            rows = [rows[0], ipw.HBox(list(b.values())), *rows[1:], self.c["lr"]]
        bind_all(self.c, self.state, self.status)
        self.state.observe(self.guarded("move the output position")(self._t_moved), "t")
        self.draw_all()
        panes = [self.panes["row"], self.readout, self.panes["map"]]
        if run is not None:
            panes.insert(2, self.panes["loss"])
        self.page(*rows, *panes)
        self.status.say(f"Measured on ({rmap.trials}, {rmap.channels}, {rmap.T}) random inputs."
                        + (" Press Train to train your model on your batches." if run is not None else ""), "info")

    def show_running(self, running: bool) -> None:
        if self.run is not None:
            show_running(self.buttons, running)

    # -- views ------------------------------------------------------------------------------
    def _t(self) -> int:
        return min(int(self.state.t), self.rmap.T - 1)

    def draw_row(self, full: bool = False) -> None:
        t = self._t()
        self.panes["row"].apply(F.row_patch(self.rmap.grad, t, self.rmap.analytic_positions(t), full))
        self.readout.body = readout_html(self.rmap, t)

    def draw_map(self, full: bool = False) -> None:
        self.panes["map"].apply(merge(F.map_patch(self.rmap.grad, full), F.cursor_patch(self._t(), self.rmap.T)))

    def draw_loss(self) -> None:
        h = self.run.history[NAME]
        self.panes["loss"].apply(F.loss_patch(h.step, h.loss))
        self.refresh_times.append(time.monotonic())
        if len(self.refresh_times) > 4000:  # bounded: the newest half stays
            del self.refresh_times[:2000]

    def draw_all(self) -> None:
        self.draw_row(full=True)
        self.draw_map(full=True)
        if self.run is not None:
            self.draw_loss()

    def _t_moved(self, _change=None) -> None:
        """The row at once, the map's marker once the browser drew it."""
        self.gate.hold()
        self.draw_row()
        when_drawn([self.panes["row"]], self.guarded("mark the output on the map")(
            lambda: self.panes["map"].apply(F.cursor_patch(self._t(), self.rmap.T))), key=(id(self), "cursor"))

    def remeasure(self) -> bool:
        """Measure the module as it is now (under the run's lock: not while a step runs)."""
        try:
            with self.run.lock:
                self.rmap = measure(self.model, self.channels, self.rmap.T, trials=self.rmap.trials)
                self.measured_at = self.run.steps
        except DoesNotFit as e:
            self.status.say(f"Could not measure the trained model: {e}", "warn")
            return False
        return True

    # -- training ---------------------------------------------------------------------------
    def train(self) -> None:
        self.worker.start(self.run.step, on_step=self._on_step, on_end=self._on_end,
                          message="Training your model on your batches...")

    def one_step(self) -> None:
        self.worker.one_step(self.run.step, on_end=self._on_end)

    def _on_step(self, step: int) -> None:
        """After each step, in the training thread: gated refreshes."""
        if self.gate.ready("loss", LOSS_HZ, [self.panes["loss"]]):
            self.draw_loss()
        if self.gate.ready("map", MAP_HZ, [self.panes["row"], self.panes["map"]]) and self.remeasure():
            self.draw_row()
            self.draw_map()

    def _on_end(self, why: str) -> str | None:
        self.draw_loss()
        if self.remeasure():
            self.draw_row()
            self.draw_map()
        if why == "one step":
            loss = self.run.history[NAME].last("loss")
            return f"One step: step {self.run.steps}, loss {loss:.4g}; the map was measured again."
        return None

    def reset(self) -> None:
        """Your model back at the weights (and optimizer state) it had when ``yours`` was called."""
        self.worker.pause(rebuild=True)
        self.run = self.make_run()
        self.remeasure()
        self.draw_all()
        self.status.say("Reset: your model is back at the weights it had when the view opened.", "info")


@your_model_entry
def yours(model, channels: int | None = None, T: int = 64, batches=None, loss_fn=None, optimizer=None,
          lr: float = 1e-3, seed: int = 0) -> YourReceptiveFieldDashboard:
    """The receptive-field view on ``model`` (any module mapping (B, C, T) to (B, C', T)).

    ``channels``: C of the input (default: the first nn.Conv1d's in_channels). ``T``: the length of
    the random inputs measured (at most ``seqviz.yours.receptive.MAX_T``). With ``batches`` (see
    ``seqviz.yours.user_run``: a function gen -> (x, y), an (x, y) pair, a list of pairs, a DataLoader)
    the view trains the model with ``loss_fn`` (default: cross-entropy for integer targets, MSE for
    float ones) and ``optimizer`` (default: Adam at ``lr``). In Voila it only says to open JupyterLab;
    a module that does not fit gets one sentence.
    """
    rmap = measure(model, channels, T, seed, TRIALS)
    run = make_run = None
    if batches is not None:
        weights0 = copy.deepcopy(model.state_dict())
        opt0 = copy.deepcopy(optimizer.state_dict()) if hasattr(optimizer, "state_dict") else None

        def make_run():
            model.load_state_dict(weights0)
            if opt0 is not None:
                optimizer.load_state_dict(copy.deepcopy(opt0))
            return user_run(model, batches, loss_fn=loss_fn, optimizer=optimizer, lr=lr, seed=seed, name=NAME)

        run = user_run(model, batches, loss_fn=loss_fn, optimizer=optimizer, lr=lr, seed=seed, name=NAME)
        lr = run.cfg.lr
    return YourReceptiveFieldDashboard(model, rmap, channels, run, make_run, lr)
