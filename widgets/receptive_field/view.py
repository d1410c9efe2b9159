"""The receptive-field dashboard: controls, four plot panes, readouts, and the race.

What happens on each control (the first changed plot frame is always cheap):
- an architecture knob (kernel size, blocks, schedule, custom dilations, padding, convs per
  block) or the race preset: the diagram at once (analytic, no model); once the browser drew
  it (``when_drawn``), the new TCN and race, the gradient rows, the causality check, the
  parameter panel, the race pane, the table and the readout;
- the output position t: the diagram at once; the gradients and causality check (autograd)
  once the browser drew it;
- the timeline: the race curves cut at the snapshot at once, then the trained-gradient row of
  the TCN's weights at that snapshot (a viewer copy; the live model is never touched).
"""

from __future__ import annotations

import threading
import time

import ipywidgets as ipw

from seqviz.devices import pick_device
from seqviz.experiments.race import Race
from seqviz.figures import tcn as ft
from seqviz.models.tcn import build_tcn
from widgets.kit import (EquationBox, LiveDashboard, PlotPane, Timeline, bind_all, device_badge, show_running,
                         training_buttons, warm_up_torch, weights, when_drawn)
from widgets.receptive_field import panels as P
from widgets.receptive_field.state import ARCH, RACE_PRESETS, ReceptiveFieldState

WIDE = ipw.Layout(width="350px")
STYLE = {"description_width": "140px"}
RACE_HZ, GRAD_HZ, TABLE_HZ = 8, 0.5, 2  # refreshes a second while racing: curves, trained gradient, table


def make_controls(t_max: int) -> dict[str, ipw.Widget]:
    """Every control, keyed by the state trait it binds to."""
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    tog = dict(style={"description_width": "140px", "button_width": "90px"})
    return {
        "kernel_size": ipw.IntSlider(min=2, max=7, description="Kernel size k", **c),
        "n_blocks": ipw.IntSlider(min=1, max=8, description="Blocks (layers)", **c),
        "schedule": ipw.ToggleButtons(options=[("doubling", "doubling"), ("constant", "constant"),
                                               ("custom", "custom")], description="Dilations", **tog),
        "custom": ipw.Text(description="Custom dilations", placeholder="e.g. 1, 4, 16", continuous_update=False,
                           layout=WIDE, style=STYLE),
        "padding": ipw.ToggleButtons(options=[("causal", "causal"), ("centred", "centred")],
                                     description="Padding", **tog),
        "convs_per_block": ipw.ToggleButtons(options=[("1", 1), ("2", 2)], description="Convs per block", **tog),
        "t": ipw.IntSlider(min=0, max=t_max, description="Output position t", **c),
        "calc_reach": ipw.BoundedIntText(min=1, max=10 ** 9, description="Inputs to see N",
                                         layout=ipw.Layout(width="260px"), style={"description_width": "120px"}),
        "calc_k": ipw.BoundedIntText(min=2, max=64, description="with kernel k",
                                     layout=ipw.Layout(width="200px"), style={"description_width": "90px"}),
        "race": ipw.Dropdown(options=list(RACE_PRESETS), description="Race", layout=ipw.Layout(width="420px"),
                             style={"description_width": "50px"}),
    }


class ReceptiveFieldDashboard(LiveDashboard):
    """Receptive fields of dilated causal convolutions, and a TCN racing recurrent nets."""

    kind = "receptive-field"

    def __init__(self, state: ReceptiveFieldState | None = None, **kwargs):
        super().__init__(state or ReceptiveFieldState(), **kwargs)
        s = self.state
        self.device = pick_device().device
        self.c = make_controls(s.t_max)
        self.buttons = training_buttons(step=True)  # One step: one update of the model with least compute
        self.readout = EquationBox("Receptive field of this network")
        self.calc = EquationBox("How many layers for a reach of N inputs?")
        self.table = ipw.HTML()
        self.panes = {k: PlotPane(f) for k, f in ft.build_tcn_figures().items()}
        self.timeline = Timeline(self._capture, max_snapshots=60, every=10, description="Race history",
                                 status=self.status)
        self.race: Race | None = None
        self.causal_note = ""
        # rebuilds and deferred views; never taken by the training thread (a rebuild holds it while
        # it waits for that thread to stop)
        self._lock = threading.RLock()
        self._built = None  # arch_key of the race
        self._drawn = None  # arch_key of the diagram's grid
        self._racing = False
        self._viewer = None  # a copy of the TCN holding a snapshot's weights (the timeline)
        self._viewer_lock = threading.Lock()  # (views may be drawn from a when_drawn timer thread)
        self._diagram_lock = threading.Lock()
        self._yield = threading.Event()  # never set: the training thread waits on it while the gate holds
        self._pausing = False
        bind_all(self.c, s, self.status)
        self.c["custom"].disabled = s.schedule != "custom"
        self.c["n_blocks"].disabled = s.schedule == "custom"
        on = self.guarded
        b = self.buttons
        b["train"].on_click(on("start the race")(lambda _: self.train()))
        b["pause"].on_click(on("pause the race")(lambda _: self.worker.pause()))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset the race")(lambda _: self.rebuild(
            "Race reset: every model is back at its untrained weights.")))
        s.observe(on("change the network")(self._arch_changed), list(ARCH))
        s.observe(on("move the output position")(self._t_moved), "t")
        s.observe(on("follow the race's length")(lambda ch: setattr(self.c["t"], "max", ch["new"])), "t_max")
        s.observe(on("compute the layers")(lambda _: self.refresh_calculator()), ["calc_reach", "calc_k"])
        self.timeline.on_scrub(on("show that point of the race")(self._scrubbed))
        self.refresh_calculator()
        self.rebuild()
        self.page(*self._layout())
        warm_up_torch()

    def _layout(self):
        c, b, p = self.c, self.buttons, self.panes
        knobs = ipw.VBox([ipw.HTML("<b>Network</b>"), c["kernel_size"], c["n_blocks"], c["schedule"], c["custom"],
                          c["padding"], c["convs_per_block"], c["t"], self.readout, ipw.HTML("<b>Calculator</b>"),
                          c["calc_reach"], c["calc_k"], self.calc],
                         layout=ipw.Layout(width="370px", min_width="370px"))
        top = ipw.HBox([c["race"], b["train"], b["pause"], b["step"], b["reset"]],
                       layout=ipw.Layout(flex_flow="row wrap"))
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Receptive fields of dilated causal convolutions, "
                                  "and a TCN racing recurrent nets</h2>"), top, self.status, device_badge()])
        right = ipw.VBox([p["diagram"], p["probe"], ipw.HBox([p["race"], p["params"]]), self.timeline.widget,
                          self.table], layout=ipw.Layout(flex="1 1 auto", min_width="700px"))
        return head, ipw.HBox([knobs, right])

    def show_running(self, running: bool) -> None:
        self._racing = running
        show_running(self.buttons, running)
        if running:
            self._table()  # "racing" in the table as soon as the status line says so

    # -- controls -----------------------------------------------------------------------------
    def _arch_changed(self, change) -> None:
        """The diagram of the new network at once; the race and the rest once it is drawn."""
        self.gate.hold()
        s = self.state
        self.c["custom"].disabled = s.schedule != "custom"
        self.c["n_blocks"].disabled = s.schedule == "custom"
        if s.arch_key() != self._drawn:  # (the race preset may have moved t, which drew it already)
            self._draw_diagram()
        name = change["name"]
        label = "The race" if name == "race" else s.label(name)
        label = label[:1].upper() + label[1:]
        when_drawn([self.panes["diagram"]], lambda: self._settle(f"{label} changed"), key=(id(self), "rebuild"))

    def _t_moved(self, _change=None) -> None:
        """The diagram at once, the gradients and causality once the browser drew it."""
        self.gate.hold()
        self._draw_diagram()
        when_drawn([self.panes["diagram"]], self._probe_later, key=(id(self), "probe"))

    def _draw_diagram(self) -> None:
        """The diagram of what the knobs say now (the grid too when the network changed)."""
        with self._diagram_lock:
            s = self.state
            cfg, race, key = s.arch()
            t = min(s.t, s.t_max)
            self.panes["diagram"].apply(P.diagram_view(cfg, s.seq_len, t, nodes=key != self._drawn))
            self._drawn = key

    def _probe_later(self) -> None:
        with self._lock:
            if self.state.arch_key() != self._built:
                self._settle("The network changed")
            else:
                self.refresh_probe()

    def _settle(self, what: str = "The network changed") -> None:
        """Build the race the knobs describe, if it is not built yet (a deferred rebuild; a rebuild
        still running elsewhere is waited for, then the knobs are read again)."""
        with self._lock:
            if self.state.arch_key() == self._built:
                return
            was = self.worker.running
            self.rebuild(f"{what}: the TCN was rebuilt (R = {{rf}}) and the race reset"
                         + ("; press Train to race again." if was else "."))

    def refresh_calculator(self) -> None:
        self.calc.body = P.calculator_html(self.state.calc_reach, self.state.calc_k)

    # -- building -----------------------------------------------------------------------------
    def rebuild(self, message: str | None = None, level: str = "info") -> None:
        """A new TCN and race from the knobs (training stops); every view recomputed."""
        with self._lock:
            self._pausing = True  # (the training thread stops waiting for the gate)
            try:
                self.worker.pause()
            finally:
                self._pausing = False
            s = self.state
            cfg, race, key = s.arch()
            self.race = r = Race(RACE_PRESETS[race], cfg, self.device)
            self._built = key
            L = r.task.seq_len(r.preset.T)
            self.untrained = build_tcn(r.tcn_cfg, r.preset.seed)  # the race's TCN before its first step
            self._viewer = build_tcn(r.tcn_cfg, r.preset.seed)
            self.probe = P.UntrainedProbe(self.untrained, L)
            self.timeline.reset(0)
            if self._drawn != key:
                self._draw_diagram()
            self.refresh_probe(full=True)
            self.panes["params"].apply(P.params_view(r))
            self.refresh_race(force=True)
            self.readout.body = P.readout_html(r)
            text = message.format(rf=r.rf) if message else (
                f"Ready: TCN with R = {r.rf} against GRU, LSTM and tanh RNN on {r.task.name}, T = {r.preset.T}. "
                "Press Train.")
            self.status.say(text, level)
            if s.arch_key() != key:  # a knob moved meanwhile (a control while a deferred rebuild ran)
                self._settle()

    def _capture(self) -> dict:
        """A timeline snapshot: every racer's weights (a few thousand numbers each) and steps."""
        r = self.race
        return {"weights": {k: weights(run.models[k]) for k, run in r.runs.items()},
                "steps": {k: run.steps for k, run in r.runs.items()}, "wall": r.wall}

    # -- training -----------------------------------------------------------------------------
    def train(self) -> None:
        if not self.worker.running:
            self._settle()
            r = self.race
            if not r.racing:
                self.status.say("Every model has finished; press Reset to race again.", "info")
                return
            if r.out_of_time:
                self.status.say(f"The race's {r.preset.budget_s:.0f} s are up; press Reset to race again.", "info")
                return
        r = self.race
        self.worker.start(r.step, on_step=lambda n: self._on_step(r, n), on_end=lambda why: self._on_end(r, why),
                          message="Racing: the same batches for every model; each step goes to the model that has "
                                  "used the least compute so far...")

    def one_step(self) -> None:
        if not self.worker.running:
            self._settle()
        r = self.race
        self.worker.one_step(r.step, on_end=lambda why: self._on_end(r, why))

    def _on_step(self, race: Race, n: int) -> None:
        """After each step, in the training thread: snapshots, and gated refreshes."""
        if race is not self.race:
            return
        self._make_room()
        self.timeline.record(n)
        if not self.timeline.following:
            return  # the views show a snapshot
        self.refresh_race()
        if self.gate.ready("grad", GRAD_HZ, [self.panes["probe"]]):
            self.refresh_trained()

    def _make_room(self) -> None:
        """In the training thread: while a control was just used (the gate holds), wait, so that
        the control's handler has the GIL to itself and its redraw goes first."""
        while self.gate.held and not self._pausing:
            self._yield.wait(0.01)

    def _on_end(self, race: Race, why: str) -> str | None:
        self._racing = False
        race.pause_clock()
        if race is not self.race:
            return None
        self.timeline.record(race.steps, force=True)
        if self.timeline.following:
            self.refresh_race(force=True)
            self.refresh_trained()
        else:
            self._table()
        if why == "one step":  # (the worker says nothing after a plain single step)
            k = race.last
            self.status.say(f"One step: the {P.NAMES[k]}, the racer with the least compute so far, made its "
                            f"step {race.runs[k].steps}.", "info")
            return None
        return P.finish_sentence(race, why.split(": ", 1)[1]) if why.startswith("finished") else None

    # -- views ----------------------------------------------------------------------------------
    def _t(self) -> int:
        r = self.race
        return min(self.state.t, r.task.seq_len(r.preset.T) - 1)

    def _trained_gradient(self, t: int):
        """The trained row: the TCN at the timeline's snapshot, or the live one (None: untrained)."""
        r = self.race
        sel = self.timeline.selected()
        L = r.task.seq_len(r.preset.T)
        if sel is not None:
            _, snap = sel
            if snap["steps"]["tcn"] == 0:
                return None
            with self._viewer_lock:
                self._viewer.load_state_dict(snap["weights"]["tcn"])
                return P.input_gradient(self._viewer, L, t)
        run = r.runs["tcn"]
        if not run.steps:
            return None
        with run.lock:
            return P.input_gradient(run.models["tcn"], L, t)

    def refresh_probe(self, full: bool = False) -> None:
        """Gradient rows (untrained, trained), the analytic set and the causality check at t."""
        r, t = self.race, self._t()
        untrained, delta = self.probe.at(t)
        trained = self._trained_gradient(t)
        self.panes["probe"].apply(P.probe_view(r.tcn_cfg, r.task.seq_len(r.preset.T), t, untrained, delta,
                                               trained, full))
        self.causal_note = P.causal_note(delta, t)

    def refresh_trained(self) -> None:
        """Only the heatmap's rows (the trained row changed)."""
        t = self._t()
        untrained, _ = self.probe.at(t)
        self.panes["probe"].apply(ft.heat_patch(untrained, self._trained_gradient(t)))

    def refresh_race(self, force: bool = False) -> None:
        """The race's curves (at most RACE_HZ a second) and its table (TABLE_HZ)."""
        r = self.race
        if self.gate.ready("race", RACE_HZ, [self.panes["race"]], force):
            sel = self.timeline.selected()
            self.panes["race"].apply(P.race_view(r, None if sel is None else sel[1]["steps"]))
            self.refresh_times.append(time.monotonic())
            if len(self.refresh_times) > 4000:  # bounded: the newest half stays
                del self.refresh_times[:2000]
        if self.gate.ready("table", TABLE_HZ, (), force):
            self._table()

    def _table(self) -> None:
        sel = self.timeline.selected()
        r = self.race
        self.table.value = (P.results_table(r, self._racing, None if sel is None else sel[1]["steps"])
                            + P.race_caption(r, self.causal_note))

    def _scrubbed(self) -> None:
        """The timeline moved: the race pane and table at once, the trained row once drawn."""
        self.gate.hold()
        self.refresh_race(force=True)
        when_drawn([self.panes["race"]], self.guarded("show the snapshot's gradients")(self.refresh_trained),
                   key=(id(self), "snapshot"))
