"""Dashboard: gradient flow through an unrolled RNN vs the LSTM (or GRU) conveyor belt.

``GradientFlowState`` holds the knobs (validated: any browser can send any value);
``GradientFlowDashboard`` lays out controls, three plot panes and the equations, and
trains the two models in a background ``Worker``. All maths lives in ``seqviz``.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as ipw
import numpy as np
import traitlets as tl

from seqviz.data.tasks import TASKS, get_task
from seqviz.devices import pick_device
from seqviz.experiments import DEFAULT_PRESET, PRESETS, GradFlowConfig, build_gradflow_run
from seqviz.figures import gradflow as gf
from seqviz.models.recurrent import cut_points, spectral_radius
from seqviz.probes.gates import belt_product, gate_traces
from seqviz.probes.gradients import probe_gradients
from widgets.common import (checked_state, Hold, StatusLine, Throttle, Worker, bind, device_badge, equation_box,
                            guarded, log, register_instance, responsive_training, set_box_body, warm_up_torch)
from widgets.plotpane import PlotPane, plotly_loader
from widgets.gradient_flow_controls import belt_equation, make_controls, rnn_equation

MODEL_KNOBS = ("task", "T", "hidden", "other", "activation", "radius", "forget_bias", "seed")
LIVE_KNOBS = ("optimizer", "lr", "clip_on", "clip", "tbptt_on", "tbptt")
MAX_TRAIN_S = 300  # a forgotten dashboard stops training after 5 minutes
N_SHOWN = 8  # sequences in the fixed batch the belt view inspects
RANGES = {"T": (10, 200, True), "hidden": (4, 128, True), "radius": (0.1, 2.0, False),
          "forget_bias": (-3.0, 5.0, False), "lr": (1e-4, 1.0, False), "clip": (0.01, 100.0, False),
          "tbptt": (1, 200, True), "seed": (0, 1_000_000, True), "seq_index": (0, N_SHOWN - 1, True)}
CHOICES = {"task": tuple(TASKS), "other": ("lstm", "gru"), "activation": ("tanh", "relu"),
           "optimizer": ("adam", "sgd"), "preset": tuple(PRESETS)}


class GradientFlowState(checked_state(RANGES, CHOICES)):
    preset = tl.Unicode(DEFAULT_PRESET)
    task = tl.Unicode("adding")
    T = tl.Int(100)
    hidden = tl.Int(32)
    other = tl.Unicode("lstm")
    activation = tl.Unicode("tanh")
    radius = tl.Float(0.6)
    forget_bias = tl.Float(1.0)
    optimizer = tl.Unicode("adam")
    lr = tl.Float(1e-2)
    clip_on = tl.Bool(False)
    clip = tl.Float(1.0)
    tbptt_on = tl.Bool(False)
    tbptt = tl.Int(30)
    seed = tl.Int(0)
    seq_index = tl.Int(0)

    def config(self) -> GradFlowConfig:
        return GradFlowConfig(task=self.task, T=self.T, hidden=self.hidden, other=self.other,
                              activation=self.activation, radius=self.radius, forget_bias=self.forget_bias,
                              optimizer=self.optimizer, lr=self.lr, clip=self.clip if self.clip_on else None,
                              tbptt=self.tbptt if self.tbptt_on else None, seed=self.seed)

    def load(self, cfg: GradFlowConfig) -> None:
        with self.hold_trait_notifications():
            for k in ("task", "T", "hidden", "other", "activation", "radius", "forget_bias", "optimizer", "lr",
                      "seed"):
                setattr(self, k, getattr(cfg, k))
            self.clip_on, self.tbptt_on = cfg.clip is not None, cfg.tbptt is not None
            self.clip = cfg.clip if cfg.clip is not None else self.clip
            self.tbptt = cfg.tbptt if cfg.tbptt is not None else self.tbptt


class GradientFlowDashboard(ipw.VBox):
    """The RNN beside an LSTM/GRU, trained live, with per-step gradients and the belt."""

    def __init__(self, state: GradientFlowState | None = None, **kwargs):
        super().__init__(**kwargs)
        self.state = state or GradientFlowState()
        self.device = pick_device().device
        self.worker = Worker("gradient-flow")
        self.throttle = Throttle(6)  # curves: >= 5 refreshes/s, and the browser keeps time for the controls
        # Heatmap panes are the browser's slowest redraws (80-120 ms while training on 2 shared
        # cores): every 2 s, which leaves the browser time to answer the controls.
        self.belt_throttle, self.grad_throttle = Throttle(0.5), Throttle(0.5)
        self.text_throttle = Throttle(2)  # the step counter and the equation's numbers
        self.refresh_times: list[float] = []  # monotonic time of every view refresh (benchmarks read it)
        self.status = StatusLine()
        self.progress = ipw.HTML()
        self.c = make_controls()
        # Three panes so that each redraws alone (plotpane.py says why and what it measured).
        T, o = self.state.T, self.state.other
        self.panes = {"grad": PlotPane(gf.build_gradient_figure(T, o)),
                      "curves": PlotPane(gf.build_curves_figure(o)),
                      "belt": PlotPane(gf.build_belt_figure(T, o)),
                      "gates": PlotPane(gf.build_gates_figure(T, o))}
        self.idx = {k: gf.trace_index(p.figure) for k, p in self.panes.items()}
        self.eq_rnn, self.eq_belt = equation_box("RNN: a product of Jacobians", ""), equation_box("The belt", "")
        self.run = None
        self._belt_cache = None  # (training step, gate traces of the N_SHOWN sequences)
        self.hold = Hold(0.1)
        self.init_probe = {}
        self._shown_probe = None
        for name, w in self.c.items():
            if name not in ("train", "step", "reset"):
                bind(w, self.state, name)
        on = lambda w: guarded(self.status, w)  # noqa: E731
        self.c["train"].on_click(on("start or pause training")(lambda _: self.toggle_training()))
        self.c["step"].on_click(on("take one step")(lambda _: self.one_step()))
        self.c["reset"].on_click(on("reset")(lambda _: self.reset()))
        self.state.observe(on("apply the preset")(lambda ch: self.apply_preset(ch["new"])), "preset")
        self.state.observe(on("rebuild the models")(self._model_knob), list(MODEL_KNOBS))
        self.state.observe(on("change a training setting")(self._live_knob), list(LIVE_KNOBS))
        self.state.observe(on("show that sequence")(lambda _: self._show_sequence()), "seq_index")
        self.state.observe(lambda ch: ch["new"] and self.status.say(ch["new"], "warn"), "note")
        register_instance("gradient_flow", self)
        self.reset()
        warm_up_torch()
        self.children = self._layout()

    # -- layout ---------------------------------------------------------------------
    def _layout(self):
        c = self.c
        knobs = ipw.VBox([
            ipw.HTML("<b>Task and models</b>"), c["task"], c["T"], c["hidden"], c["other"], c["activation"],
            c["radius"], c["forget_bias"], ipw.HTML("<b>Training</b>"), c["optimizer"], c["lr"],
            ipw.HBox([c["clip_on"], c["clip"]]), ipw.HBox([c["tbptt_on"], c["tbptt"]]), c["seed"],
            ipw.HTML("<b>Belt view</b>"), c["seq_index"], self.eq_rnn, self.eq_belt,
        ], layout=ipw.Layout(width="350px", min_width="350px"))
        top = ipw.HBox([c["preset"], c["train"], c["step"], c["reset"]], layout=ipw.Layout(flex_flow="row wrap"))
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Gradient flow: why a plain RNN forgets and an LSTM "
                                  "remembers</h2>"), top, ipw.HBox([self.status]), self.progress, device_badge()])
        plots = ipw.VBox([self.panes[k] for k in ("grad", "curves", "belt", "gates")],
                         layout=ipw.Layout(min_width="920px"))
        return [head, ipw.HBox([knobs, plots]), plotly_loader()]

    # -- actions ----------------------------------------------------------------------
    def close_worker(self) -> None:
        self.worker.stop()

    def apply_preset(self, name: str) -> None:
        self.worker.stop()
        self._loading = True
        try:
            self.state.load(PRESETS[name])
        finally:
            self._loading = False
        self.reset(f"Preset loaded: {name}. Press Train.")

    def reset(self, message: str | None = None) -> None:
        self.worker.stop()
        cfg = self.state.config()
        self.run = build_gradflow_run(cfg, self.device, n_probe=N_SHOWN)
        self._belt_cache = None
        task = get_task(cfg.task)
        self.view_batch = self.run.probe_batch  # the N_SHOWN sequences the probes and the belt look at
        g, c, b, gt = (self.panes[k] for k in ("grad", "curves", "belt", "gates"))
        with g.batch(), c.batch(), b.batch(), gt.batch():
            gf.relabel(g.figure, c.figure, b.figure, gt.figure, cfg.other)
            g.figure.layout.xaxis.range = [-1, cfg.T]
        self.refresh_probe()
        self.refresh(force=True)
        self.c["train"].description, self.c["train"].icon = "Train", "play"
        self.status.say(message or f"Ready: {cfg.T}-step {task.name} task, RNN beside the {cfg.other.upper()}. "
                        "Press Train.", "info")

    def toggle_training(self) -> None:
        if self.worker.running:
            self.worker.stop()
            return
        if self.worker.start(self._train_loop):
            self.c["train"].description, self.c["train"].icon = "Pause", "pause"
            self.status.say("Training both models on the same batches...", "info")

    def one_step(self) -> None:
        if self.worker.running:
            self.status.say("Pause training before taking single steps.", "warn")
            return
        from seqviz.training import Diverged

        try:
            self.run.step()
        except Diverged as e:
            self._say_diverged(e.args[0])
        self.refresh(force=True)

    # -- knobs --------------------------------------------------------------------------
    def _model_knob(self, change) -> None:
        if not getattr(self, "_loading", False):
            self.reset(f"{change['name']} changed: both models were rebuilt from seed {self.state.seed}. "
                       "Press Train.")

    def _live_knob(self, change) -> None:
        if getattr(self, "_loading", False) or self.run is None:
            return
        cfg, run = self.state.config(), self.run
        with run.lock:
            run.cfg.lr, run.cfg.clip, run.cfg.tbptt = cfg.lr, cfg.clip, cfg.tbptt
            if cfg.optimizer != run.cfg.optimizer:
                from seqviz.training import make_optimizer

                run.cfg.optimizer = cfg.optimizer
                run.opts = {k: make_optimizer(cfg.optimizer, m.parameters(), cfg.lr) for k, m in run.models.items()}
            for opt in run.opts.values():
                for g in opt.param_groups:
                    g["lr"] = cfg.lr
        if change["name"].startswith("tbptt"):
            self.refresh_probe()
            self.refresh(force=True)

    # -- training thread ----------------------------------------------------------------
    def _train_loop(self, stop: threading.Event) -> None:
        t0 = time.monotonic()

        def on_step(_reports):
            self.refresh()
            if time.monotonic() - t0 > MAX_TRAIN_S:
                stop.set()

        try:
            with responsive_training():
                why = self.run.train(stop, on_step)
            self.refresh(force=True)
        except Exception as e:  # noqa: BLE001 - the page must get a sentence, not a dead thread
            log.exception("training failed")
            why = f"failed: {str(e)[:160] or type(e).__name__}"
        self.c["train"].description, self.c["train"].icon = "Train", "play"
        if why.startswith("failed"):
            self.status.say(f"Training stopped because of an unexpected problem ({why[8:]}). Press Reset.", "error")
        elif why.startswith("diverged"):
            self._say_diverged(why.split(": ", 1)[1])
        elif time.monotonic() - t0 > MAX_TRAIN_S:
            self.status.say(f"Paused after {MAX_TRAIN_S // 60} minutes to free the machine. Press Train to go on.")
        else:
            self.status.say(f"Paused at step {self.run.steps}. Press Train to go on, or One step.", "info")

    def _say_diverged(self, name: str) -> None:
        label = "RNN" if name == "rnn" else name.upper()
        self.status.say(f"The {label}'s loss became NaN or infinite at step {self.run.steps + 1}, so training "
                        "stopped: turn on gradient clipping or lower the learning rate, then press Reset.", "error")

    # -- views ----------------------------------------------------------------------------
    def refresh_probe(self) -> None:
        """Per-step gradients of the current weights on the fixed view batch (nothing is updated)."""
        run = self.run
        with run.lock:
            for name, m in run.models.items():
                self.init_probe[name] = probe_gradients(m, run.task, self.view_batch, tbptt=run.cfg.tbptt)
                m.zero_grad(set_to_none=True)
        self.init_probe_step = run.steps

    def _browser_busy(self) -> bool:
        """True while the browser has not yet drawn our last update (plotly acknowledges each
        edit); then we skip a refresh rather than queue it. Without an answer in 2 s (no
        browser attached, e.g. a closed tab) we send anyway."""
        return self.panes["curves"].busy or self.panes["grad"].busy

    def refresh(self, force: bool = False) -> None:
        """Push the latest numbers to the figure: at most ~6 times a second, never faster
        than the browser draws them, and the gradient views only when a new probe exists."""
        if not force and (self.hold.held or self._browser_busy() or not self.throttle.ready()):
            return  # (held: the sequence slider was just moved, and its redraw goes first)
        run, other = self.run, self.state.other
        hr, ho = run.history["rnn"], run.history[other]
        pr, po = list(hr.probes), list(ho.probes)
        steps = list(hr.probe_step)
        if not pr or self.init_probe_step >= steps[-1]:  # nothing newer than the explicit probe
            pr, po, steps = pr + [self.init_probe["rnn"]], po + [self.init_probe[other]], steps + [run.steps]
        cuts = cut_points(run.cfg.T, run.cfg.tbptt)
        task = run.task
        probe_key = (len(pr), steps[-1], tuple(cuts))
        grad_now = force or (probe_key != self._shown_probe and self.grad_throttle.ready())
        if grad_now:
            with self.panes["grad"].batch() as fig:
                gf.update_gradients(fig, self.idx["grad"], run.cfg.T, other, pr, po, steps, cuts)
            self._shown_probe = probe_key
        with self.panes["curves"].batch() as fig:
            gf.update_curves(fig, self.idx["curves"], hr, ho, task.baseline_loss(run.cfg.T),
                             task.baseline_accuracy(run.cfg.T), run.cfg.clip)
        self.refresh_times.append(time.monotonic())
        # The belt never in the same refresh as the gradient pane: two heatmap redraws back to back
        # hold the browser ~200 ms, and a slider pressed meanwhile waits for both.
        if force or (not grad_now and self.belt_throttle.ready()):
            self.refresh_belt()
        if not (force or self.text_throttle.ready()):
            return  # the text lines below change the page's layout: twice a second is enough
        n = run.steps
        secs = hr.seconds[-1] + ho.seconds[-1] if hr.seconds else 0.0
        losses = " · ".join(f"{k.upper()} loss {h.loss[-1]:.3g}" for k, h in run.history.items() if h.loss)
        self.progress.value = (f"<span style='font-size:15px'>step <b>{n}</b> · {secs:.1f} s of training"
                               f"{' · ' + losses if losses else ''} · baseline {task.baseline_loss(run.cfg.T):.3g}"
                               "</span>")
        ratio = pr[-1].h_norms[0] / pr[-1].h_norms[-1] if pr[-1].h_norms[-1] > 0 else None
        with run.lock:
            rho = spectral_radius(run.models["rnn"].rnn.weight_hh_l0)
        set_box_body(self.eq_rnn, rnn_equation(rho, run.cfg.T, ratio))

    def _show_sequence(self) -> None:
        self.hold.hold()  # training refreshes wait 0.1 s: the browser draws this first
        self.refresh_belt(fresh=False)

    def refresh_belt(self, fresh: bool = True) -> None:
        """The belt view of the selected sequence. The gate traces of all N_SHOWN sequences come
        from one unrolled pass and are kept (``reset`` drops them): the sequence slider
        (``fresh=False``) reuses them while the models have not changed, and while training
        (when the belt refreshes every 2 s anyway)."""
        run, other = self.run, self.state.other
        i = min(self.state.seq_index, N_SHOWN - 1)
        keys = [[int(k) for k in row.tolist()] for row in self.view_batch.key_positions]
        cached = self._belt_cache
        if cached is None or (cached[0] != run.steps and (fresh or not self.worker.running)):
            with run.lock:
                traces = gate_traces(run.models[other], self.view_batch.x, [k[0] for k in keys])
            self._belt_cache = cached = (run.steps, traces)
        tr, keys = cached[1][i], keys[i]
        with self.panes["belt"].batch() as fig:  # the belt first: its small pane is drawn at once
            gf.update_belt(fig, self.idx["belt"], tr, keys)
        with self.panes["gates"].batch() as fig:
            gf.update_gates(fig, self.idx["gates"], tr)
        prod = belt_product(tr, keys[0])
        top = float(prod[tr.unit_order[0]])
        set_box_body(self.eq_belt, belt_equation(other, top, float(np.median(prod)), keys[0]))


def dashboard(preset: str | None = None, **config) -> GradientFlowDashboard:
    """The dashboard, starting from ``preset`` (a key of ``seqviz.experiments.PRESETS``);
    keyword arguments override ``GradFlowConfig`` fields, e.g. ``T=50``."""
    state = GradientFlowState()
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        state.preset = preset
    base = PRESETS[state.preset]
    state.load(GradFlowConfig(**{**base.__dict__, **config}))
    return GradientFlowDashboard(state)
