"""The gradient-flow dashboard: controls, five panes, the equations, training and the timeline.

What happens on each control (the first changed plot frame is always the cheap one):
- a model knob (task, T, H, LSTM/GRU, RNN activation, radius, forget bias, seed), a preset or
  Reset: training stops and both models are rebuilt; at once the emptied curves and the
  unrolled network with the per-step norms (a float64 probe of a few ms; a model the knob did
  not change keeps its probe); once the browser drew them (``when_drawn``), the belt, then the
  gates, then the heatmaps of the probes: one heatmap pane at a time;
- truncation on/off or its window k: the run's truncation changes at once (also while training);
  the cut lines and the curves' marker at once, then the new per-step norms (a probe), then the
  heatmaps;
- clipping on/off or its threshold, the learning rate, the optimizer: applied to the running
  training from its next step (a handler never waits for the run's lock); the curves mark the
  step where the setting changed (and show the threshold);
- the sequence shown: the belt at once, the gates once it is drawn;
- the timeline: every view at the snapshot's step (the probe nearest to it, the curves up to it,
  the belt and gates of its weights in a viewer copy of the model), the same order.
Training refreshes go through ``self.gate`` (held after a control, skipped while a pane draws):
curves 5 a second, the per-step norms when a new probe exists (at most 2 a second), the heatmap
panes in turn (one a second, never in the same refresh as the per-step norms).
"""

from __future__ import annotations

import collections
import threading
import time

import ipywidgets as ipw

from seqviz.data.tasks import TASK_LABELS
from seqviz.devices import pick_device
from seqviz.experiments import build_gradflow_run
from seqviz.experiments.gradflow import model_configs
from seqviz.figures import gradflow as gf
from seqviz.models.recurrent import build_recurrent
from widgets.gradient_flow import panels as P
from widgets.gradient_flow.state import H_MAX, LIVE_KNOBS, MODEL_KNOBS, N_SHOWN, PRESETS, T_MAX, GradientFlowState
from widgets.kit import (EquationBox, LiveDashboard, PlotPane, Timeline, bind_all, device_badge, show_running,
                         training_buttons, warm_up_torch, weights, when_drawn)
from widgets.kit.worker import model_label

WIDE = ipw.Layout(width="340px")
STYLE = {"description_width": "150px"}
CURVES_HZ, GRAPH_HZ, HEAT_HZ, TEXT_HZ = 5, 2, 1, 2  # refreshes a second while training
HEATMAP_PANES = ("belt", "gates", "heat")  # drawn one per refresh, in turn (after a control: in this order)
MAX_EVENTS = 8  # setting-change markers kept on the curves
REFRESH_TIMES = 2000  # training refresh times kept (benchmarks read them)


def make_controls() -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to."""
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    tog = dict(style={"description_width": "150px", "button_width": "80px"})
    return {
        "preset": ipw.Dropdown(options=list(PRESETS), description="Preset", layout=ipw.Layout(width="560px"),
                               style={"description_width": "60px"}),
        "task": ipw.Dropdown(options=[(v, k) for k, v in TASK_LABELS.items()], description="Task", layout=WIDE,
                             style=STYLE),
        "T": ipw.IntSlider(min=10, max=T_MAX, step=5, description="Length T", **c),
        "hidden": ipw.IntSlider(min=4, max=H_MAX, step=4, description="Hidden units H", **c),
        "other": ipw.ToggleButtons(options=[("LSTM", "lstm"), ("GRU", "gru")], description="Beside the RNN", **tog),
        "activation": ipw.ToggleButtons(options=["tanh", "relu"], description="RNN activation", **tog),
        "radius": ipw.FloatSlider(min=0.1, max=3.0, step=0.05, description="RNN ρ(W_hh) at init", **c),
        "forget_bias": ipw.FloatSlider(min=-3.0, max=5.0, step=0.5, description="LSTM forget bias", **c),
        "optimizer": ipw.ToggleButtons(options=[("Adam", "adam"), ("plain SGD", "sgd")], description="Optimizer",
                                       style={"description_width": "150px", "button_width": "90px"}),
        "lr": ipw.FloatLogSlider(min=-4, max=0, step=0.1, base=10, description="Learning rate",
                                 readout_format=".1e", **c),
        "clip_on": ipw.Checkbox(description="Clip gradient norm", indent=False, layout=ipw.Layout(width="170px")),
        "clip": ipw.FloatLogSlider(min=-2, max=2, step=0.1, base=10, description="at", readout_format=".2g",
                                   continuous_update=False, layout=ipw.Layout(width="300px"),
                                   style={"description_width": "30px"}),
        "tbptt_on": ipw.Checkbox(description="Truncated BPTT", indent=False, layout=ipw.Layout(width="170px")),
        "tbptt": ipw.IntSlider(min=1, max=T_MAX, description="k", continuous_update=False,
                               layout=ipw.Layout(width="300px"), style={"description_width": "30px"}),
        "seed": ipw.BoundedIntText(min=0, max=1_000_000, description="Seed", layout=ipw.Layout(width="220px"),
                                   style={"description_width": "60px"}),
        "seq_index": ipw.IntSlider(min=0, max=N_SHOWN - 1, description="Sequence shown", **c),
    }


class GradientFlowDashboard(LiveDashboard):
    """The RNN beside an LSTM/GRU, trained live, with per-step gradients and the belt."""

    kind = "gradient-flow"

    def __init__(self, state: GradientFlowState | None = None, **kwargs):
        super().__init__(state or GradientFlowState(), **kwargs)
        s = self.state
        self.refresh_times = collections.deque(maxlen=REFRESH_TIMES)
        self.device = pick_device().device
        self.c = make_controls()
        self.buttons = training_buttons(step=True)
        self.progress = ipw.HTML()
        self.eq_rnn = EquationBox("RNN: the chain rule through time")
        self.eq_belt = EquationBox("The belt, and the whole gradient")
        self.panes = {k: PlotPane(f) for k, f in gf.build_figures(s.T, s.other, window=P.WINDOW).items()}
        self.timeline = Timeline(self._capture, max_snapshots=40, every=10, description="History",
                                 status=self.status)
        self.run = None
        self.other = s.other
        self.live: tuple[int, dict] | None = None  # (updates, {model: probe}) measured by the dashboard
        self.events: collections.deque = collections.deque(maxlen=MAX_EVENTS)  # (step, text) setting changes
        self._lock = threading.RLock()  # rebuilds and deferred views (the training thread never takes it)
        self._pending: dict[str, dict] = {}  # pane -> patch to send with its next view (axes, titles)
        self._queue: list[str] = []  # panes still to draw after the ones just sent (``when_drawn``)
        self._belt: tuple | None = None  # (whose weights, gate traces of the probe batch, memory gradient norms)
        self._viewers: dict = {}  # model -> a copy holding a snapshot's weights (the timeline)
        self._probe_cache: dict = {}  # model -> (what it was built from, its untrained probe): one each
        self._optimizer: tuple | None = None  # (optimizer, learning rate) the next step must use
        self._heat_turn = 0
        self._graph_shown = self._heat_shown = None  # probes in the history when graph / heat were drawn
        self._loading = False
        bind_all(self.c, s, self.status)
        on = self.guarded
        b = self.buttons
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause training")(lambda _: self.worker.pause()))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset")(lambda _: self.rebuild(
            f"Reset: both models are back at their initial weights (seed {self.state.seed}). Press Train.")))
        s.observe(on("apply the preset")(lambda ch: self.apply_preset(ch["new"])), "preset")
        s.observe(on("rebuild the models")(self._model_knob), list(MODEL_KNOBS))
        s.observe(on("change a training setting")(self._live_knob), list(LIVE_KNOBS))
        s.observe(on("show that sequence")(lambda _: self._seq_moved()), "seq_index")
        self.timeline.on_scrub(on("show that point of training")(self._scrubbed))
        self.rebuild()
        self.page(*self._layout())
        warm_up_torch()

    def _layout(self):
        c, b, p = self.c, self.buttons, self.panes
        knobs = ipw.VBox([
            ipw.HTML("<b>Task and models</b>"), c["task"], c["T"], c["hidden"], c["other"], c["activation"],
            c["radius"], c["forget_bias"], ipw.HTML("<b>Training</b>"), c["optimizer"], c["lr"],
            ipw.HBox([c["clip_on"], c["clip"]]), ipw.HBox([c["tbptt_on"], c["tbptt"]]), c["seed"],
            ipw.HTML("<b>Belt view</b>"), c["seq_index"], self.eq_rnn, self.eq_belt,
        ], layout=ipw.Layout(width="350px", min_width="350px"))
        top = ipw.HBox([c["preset"], b["train"], b["pause"], b["step"], b["reset"]],
                       layout=ipw.Layout(flex_flow="row wrap"))
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Gradient flow: why a plain RNN forgets and an LSTM "
                                  "remembers</h2>"), top, self.status, self.progress, self.timeline.widget,
                         device_badge()])
        plots = ipw.VBox([p[k] for k in ("graph", "heat", "curves", "belt", "gates")],
                         layout=ipw.Layout(min_width="920px"))
        return head, ipw.HBox([knobs, plots])

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)

    def close_worker(self) -> None:
        """Stop training and drop the views still waiting for the browser."""
        with self._lock:
            self._queue = []
        super().close_worker()

    # -- building -----------------------------------------------------------------------------
    def rebuild(self, message: str | None = None) -> None:
        """Both models from the knobs (training stops); the cheap views at once, the rest after."""
        self.gate.hold()
        cfg = self.state.config()
        # The new models and their untrained probes are built while the old run's step in flight
        # finishes (the old run is never touched: the training thread steps self.run, swapped below),
        # so a knob moved while training waits for the longer of the two, not for both.
        run = build_gradflow_run(cfg, self.device, n_probe=N_SHOWN)
        with run.lock:
            probes = self._untrained_probes(run, cfg)
        self.worker.pause(rebuild=True)  # no final refresh of the old models: this draws every view
        with self._lock:
            self.run = run
            self._viewers, self._belt, self._graph_shown, self._heat_shown = {}, None, None, None
            self.events.clear()
            self.live = (0, probes)
            axes = gf.axes_patch(cfg.T)
            labels = gf.labels_patch(cfg.other) if cfg.other != self.other else {}
            self.other = cfg.other
            for k in self.panes:
                self._pending[k] = P.merge(self._pending.get(k, {}), axes.get(k, {}), labels.get(k, {}))
            self._draw(("curves", "graph"), HEATMAP_PANES)  # the plots first (curves emptied: the cheapest), text after
            self.timeline.reset(0)
        self.status.say(message or f"Ready: {cfg.T}-step {run.setup.task.name} task, RNN beside the "
                        f"{model_label(cfg.other)}. Press Train.", "info")

    def _untrained_probes(self, run, cfg) -> dict:
        """The untrained models' probes; a model the knob did not change (same configuration, seed,
        task, T and truncation: e.g. the LSTM when the RNN's radius moved) keeps its probe."""
        out = {}
        for name, mc in model_configs(cfg).items():
            key = (repr(mc), cfg.seed, cfg.task, cfg.T, cfg.tbptt)
            cached = self._probe_cache.get(name)
            if cached is None or cached[0] != key:
                cached = self._probe_cache[name] = (key, P.measure(run, {name: run.models[name]})[name])
            out[name] = cached[1]
        for name in set(self._probe_cache) - set(out):
            del self._probe_cache[name]
        return out

    def apply_preset(self, name: str) -> None:
        self.gate.hold()
        self._loading = True
        try:
            self.state.load(PRESETS[name])
        finally:
            self._loading = False
        self.rebuild(f"Preset loaded: {name}. Press Train.")

    def _model_knob(self, change) -> None:
        if self._loading:
            return
        self.rebuild(f"{self.state.label(change['name'])} changed: both models were rebuilt from seed "
                     f"{self.state.seed}. Press Train.")

    def _live_knob(self, change) -> None:
        """A training setting, applied to the run without waiting for a training step: clipping and
        truncation at once (the next step reads them), the optimizer and learning rate by the
        training thread before its next step (or at once when idle). The curves mark the change at
        once; after a truncation change, the cut lines at once and the new per-step norms (a probe)
        once they are drawn."""
        if self._loading or self.run is None:
            return
        self.gate.hold()
        cfg, run, name = self.state.config(), self.run, change["name"]
        run.cfg.clip = cfg.clip
        truncation = run.setup.tbptt != cfg.tbptt
        run.setup.tbptt = cfg.tbptt
        self._optimizer = (cfg.optimizer, cfg.lr)
        if not self.worker.running:
            self._apply_optimizer()
        self._event(run.steps, self._setting_text(name, cfg))
        if truncation:
            self.panes["graph"].apply(P.cuts_view(run, self.other, self.live))
            self._draw(("curves",), ("probe", "heat"))
        else:
            self._draw(("curves",), ())

    def _apply_optimizer(self) -> None:
        """The optimizer and learning rate the knobs ask for (the training thread calls this before
        each step: a handler never waits for the run's lock)."""
        pending, self._optimizer = self._optimizer, None
        if pending is not None:
            self.run.set_optimizer(*pending)

    def _measure_live(self) -> None:
        run = self.run
        with run.lock:
            self.live = (run.steps, P.measure(run, run.models))

    @staticmethod
    def _setting_text(name: str, cfg) -> str:
        if name in ("clip_on", "clip"):
            return f"clip {cfg.clip:.2g}" if cfg.clip is not None else "no clipping"
        if name in ("tbptt_on", "tbptt"):
            return f"k = {cfg.tbptt}" if cfg.tbptt is not None else "full BPTT"
        if name == "optimizer":
            return "Adam" if cfg.optimizer == "adam" else "SGD"
        return f"lr {cfg.lr:.1e}"

    def _event(self, step: int, text: str) -> None:
        if self.events and self.events[-1][0] == step:
            self.events.pop()  # one marker per step: the latest setting
        self.events.append((step, text))

    def _seq_moved(self) -> None:
        self.gate.hold()  # training refreshes wait: the browser draws this first
        self._draw(("belt",), ("gates",), fresh=False)

    def _scrubbed(self) -> None:
        self.gate.hold()
        self._draw(("graph", "curves"), HEATMAP_PANES)

    def _capture(self) -> dict:
        """A timeline snapshot: both models' weights (a few thousand numbers each)."""
        return {k: weights(m) for k, m in self.run.models.items()}

    # -- training -----------------------------------------------------------------------------
    def _step(self) -> int:
        self._apply_optimizer()
        n = self.run.step()
        self.timeline.record(n)
        return n

    def train(self) -> None:
        if not self.worker.running and not self.timeline.following:
            self.timeline.slider.value = self.timeline.slider.max  # training views follow the live model
        self.worker.start(self._step, on_step=self._on_step, on_end=self._on_end,
                          message="Training both models on the same batches...")

    def one_step(self) -> None:
        self.worker.one_step(self._step, on_end=self._after_step)

    def _after_step(self, why: str):
        run = self.run
        self._measure_live()
        self.timeline.record(run.steps, force=True)  # the timeline reaches the step training stopped at
        self._draw(("curves", "graph"), HEATMAP_PANES)
        if why == "one step":
            self.status.say(f"One step: step {run.steps}.", "info")
        return None

    def _on_end(self, why: str):
        """The final refresh (a rebuild stops training with ``pause(rebuild=True)``: no call then)."""
        self._after_step(why)
        if why == "stopped":
            return f"Paused at step {self.run.steps}. Press Train to go on, or One step."
        return None

    def _on_step(self, step: int) -> None:
        """A training refresh (training thread), through the gate; nothing while the timeline
        shows the past."""
        if not self.timeline.following:
            return
        p, g = self.panes, self.gate
        if g.ready("curves", CURVES_HZ, [p["curves"]]):
            self._draw_pane("curves")
            self.refresh_times.append(time.monotonic())
        n_probes = len(self.run.history["rnn"].probes)
        graph = n_probes != self._graph_shown and g.ready("graph", GRAPH_HZ, [p["graph"]])
        if graph:
            self._draw_pane("graph")
        if HEATMAP_PANES[self._heat_turn % len(HEATMAP_PANES)] == "heat" and n_probes == self._heat_shown:
            self._heat_turn += 1  # no new probe row: the heatmaps' turn goes to the belt
        turn = HEATMAP_PANES[self._heat_turn % len(HEATMAP_PANES)]
        if not graph and g.ready("heatmaps", HEAT_HZ, [p[turn]]):  # (the graph's strip is a small heatmap)
            if turn == "belt":
                self._belt = None  # the belt (and then the gates) of the current weights
            self._draw_pane(turn, fresh=turn != "gates")  # the gates: the traces the belt was drawn from
            self._heat_turn += 1
        if g.ready("text", TEXT_HZ):
            self._draw_text()

    # -- views --------------------------------------------------------------------------------
    def _draw(self, first: tuple, later: tuple, fresh: bool = True) -> None:
        """Draw the panes ``first`` now and each of ``later`` once the one before it was drawn
        (``fresh``: see ``_draw_pane``)."""
        with self._lock:
            self._queue = list(later)
            for k in first:
                self._draw_pane(k, fresh)
            self._draw_text()
        self._after([self.panes[k] for k in first])

    def _after(self, panes) -> None:
        if self._queue:
            when_drawn(panes, self._next, key=(id(self), "views"))

    def _next(self) -> None:
        with self._lock:
            if not self._queue:
                return
            k = self._queue.pop(0)
            if k == "probe":  # the per-step norms of the weights as they are now, then the graph
                self._measure_live()
                k = "graph"
            self._draw_pane(k, fresh=k != "gates")  # the gates: the traces the belt was just drawn from
            if k == "belt":
                self._draw_text()
        self._after([self.panes[k]])

    def _scrub(self) -> tuple[int | None, dict | None]:
        sel = self.timeline.selected()
        return (None, None) if sel is None else sel

    def _draw_pane(self, k: str, fresh: bool = True) -> None:
        """Compute pane ``k``'s view from the run (at the timeline's step) and send it. Curves and
        probes are read without the run's lock (a control must not wait for a training step; the
        views clamp what they read to one length); the belt of the live model is computed under
        it, unless ``fresh`` is False and the belt of a recent step is at hand (while training)."""
        run, other = self.run, self.other
        upto, snap = self._scrub()
        if k in ("belt", "gates"):
            traces = self._belt_traces(snap, fresh)
            i = min(self.state.seq_index, N_SHOWN - 1)
            view = P.belt_view(traces[i], P.key_steps(run, i)) if k == "belt" else P.gates_view(traces[i])
        elif k == "curves":
            view = P.merge(P.curves_view(run, other, upto), gf.markers_patch(self.events, upto))
        else:
            steps, rows = P.probe_rows(run, self.live, upto)
            if k == "graph":
                view = P.graph_view(run, other, P.nearest(steps, rows, upto))
                self._graph_shown = len(run.history["rnn"].probes)
            else:
                view = P.heat_view(run, other, steps, rows)
                self._heat_shown = len(run.history["rnn"].probes)
        pending = self._pending.pop(k, None)
        self.panes[k].apply(P.merge(pending, view) if pending else view)

    def _belt_traces(self, snap, fresh: bool = True) -> list:
        """Gate traces of the probe batch: the live model's (kept until it changes; while training,
        ``fresh=False`` takes the last ones, at most one belt refresh old), or a snapshot's (loaded
        into a viewer copy; the live model is never touched). With them, the per-sequence gradient
        reaching the memory (the belt box's total ratio)."""
        run, other = self.run, self.other
        upto = self._scrub()[0]
        whose = ("snap", upto) if snap is not None else ("live", run.steps)
        if self._belt is not None and (self._belt[0] == whose or (
                not fresh and snap is None and self._belt[0][0] == "live" and self.worker.running)):
            return self._belt[1]
        if snap is None:
            with run.lock:
                model = run.models[other]
                traces = P.belt_traces(run, model)
                probe = P.measure(run, {other: model}, per_sequence=True)[other]
        else:
            model = self._viewer(other, snap)
            traces = P.belt_traces(run, model)
            probe = P.measure(run, {other: model}, per_sequence=True)[other]
        self._belt = (whose, traces, P.memory_norms(probe, other))
        return traces

    def _viewer(self, name: str, snap: dict):
        m = self._viewers.get(name)
        if m is None:
            cfg = self.state.config()
            m = self._viewers[name] = build_recurrent(model_configs(cfg)[name], seed=cfg.seed,
                                                      device=self.device)
        m.load_state_dict(snap[name])
        return m

    def _draw_text(self) -> None:
        """Progress line and the two equation boxes (at the timeline's step when scrubbed)."""
        run, other = self.run, self.other
        upto, snap = self._scrub()
        with run.lock:
            progress = P.progress_html(run, other, upto)
            steps, rows = P.probe_rows(run, self.live, upto)
            W = snap["rnn"]["rnn.weight_hh_l0"] if snap is not None else run.models["rnn"].rnn.weight_hh_l0
            rho, sigma = P.matrix_numbers(W)
        self.progress.value = progress
        shown = P.nearest(steps, rows, upto)
        ratio, updates = None, None
        if shown is not None:
            h = shown[1]["rnn"].h_norms
            ratio, updates = (float(h[0] / h[-1]) if h[-1] > 0 else None), shown[0]
        self.eq_rnn.body = P.rnn_equation(rho, sigma, run.setup.T, run.setup.task, ratio, updates)
        belt = self._belt
        numbers = None
        if belt is not None:
            i = min(self.state.seq_index, N_SHOWN - 1)
            numbers = P.belt_numbers(belt[1][i], belt[2], i, P.key_steps(run, i)[0])
        self.eq_belt.body = P.belt_equation(other, numbers)

    def recorded_sizes(self) -> dict[str, int]:
        """How much every record of this dashboard holds (each is bounded; tests check it)."""
        run = self.run
        sizes = {f"history {k}": len(h) for k, h in run.history.items()}
        sizes.update({f"probes {k}": len(h.probes) for k, h in run.history.items()})
        sizes.update({"refresh_times": len(self.refresh_times), "timeline": len(self.timeline.snaps),
                      "events": len(self.events), "viewers": len(self._viewers), "pending": len(self._pending),
                      "probe cache": len(self._probe_cache),
                      "queue": len(self._queue)})
        return sizes
