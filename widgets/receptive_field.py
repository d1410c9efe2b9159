"""Dashboard: receptive fields of dilated causal convolutions, and a TCN racing recurrent nets.

``ReceptiveFieldState`` holds the knobs (validated: any browser can send any value);
``ReceptiveFieldDashboard`` lays out controls, four plot panes and the readouts,
and runs the race (``widgets.receptive_field_race``) in a background ``Worker``.
All maths lives in ``seqviz``.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as ipw
import numpy as np
import traitlets as tl

from seqviz.devices import pick_device
from seqviz.figures import tcn as ft
from seqviz.models.tcn import TCNConfig, build_tcn
from seqviz.probes import receptive as rcp
from widgets.plotpane import PlotPane, plotly_loader
from widgets.common import (CheckedState, Hold, StatusLine, Throttle, Worker, bind, device_badge, equation_box, guarded,
                            kernel_loop, register_instance, responsive_training, set_box_body)
from widgets.receptive_field_panels import calculator_html, make_controls, parse_dilations, readout_html
from widgets.receptive_field_race import DEFAULT_RACE, RACE_PRESETS, Race, results_table

ARCH = ("kernel_size", "n_blocks", "schedule", "custom", "padding", "convs_per_block", "race")
RANGES = {"kernel_size": (2, 7), "n_blocks": (1, 8), "convs_per_block": (1, 2), "t": (0, 10_000),
          "calc_reach": (1, 10 ** 9), "calc_k": (2, 64)}
HOLD_S = 0.1  # seconds the race's refreshes wait after a move of t (see ``_move_t``)
CHOICES = {"schedule": ("doubling", "constant", "custom"), "padding": ("causal", "centred"),
           "race": tuple(RACE_PRESETS)}
class ReceptiveFieldState(CheckedState):
    kernel_size = tl.Any(3)  # int; tl.Any so NaN or text from a client reaches the validator
    n_blocks = tl.Any(6)
    schedule = tl.Unicode("doubling")
    custom = tl.Unicode("1, 4, 16")
    padding = tl.Unicode("causal")
    convs_per_block = tl.Any(1)
    t = tl.Any(70)
    t_max = tl.Int(99)  # last output position of the race's sequence (set by the dashboard)
    calc_reach = tl.Any(22050)
    calc_k = tl.Any(7)
    race = tl.Unicode(DEFAULT_RACE)

    @tl.validate(*RANGES)
    def _check_number(self, proposal):
        name = proposal.trait.name
        return self.checked_number(proposal, *(RANGES[name] if name != "t" else (0, self.t_max)), integer=True)

    @tl.validate(*CHOICES)
    def _check_choice(self, proposal):
        return self.checked_choice(proposal, CHOICES)

    @tl.validate("custom")
    def _check_custom(self, proposal):
        ds, msg = parse_dilations(proposal.value)
        if msg:
            self.note = msg
            return self.custom
        return ", ".join(map(str, ds))

    def dilations(self) -> tuple[int, ...]:
        if self.schedule == "custom":
            return parse_dilations(self.custom)[0] or (1,)
        return tuple(2 ** i if self.schedule == "doubling" else 1 for i in range(self.n_blocks))

    def tcn_config(self) -> TCNConfig:
        return TCNConfig(kernel_size=self.kernel_size, dilations=self.dilations(),
                         convs_per_block=self.convs_per_block, padding=self.padding)


class ReceptiveFieldDashboard(ipw.VBox):
    def __init__(self, state: ReceptiveFieldState | None = None, **kwargs):
        super().__init__(**kwargs)
        self.state = state or ReceptiveFieldState()
        self.device = pick_device().device
        self.worker = Worker("receptive-field")
        # Race curves: at most 8 a second and never while the browser still draws the last one, so
        # the rate follows what the browser can draw (measured on the loaded 2-core machine: 5.4-7.8
        # seen per second; with 6 here only 4.6-4.8). They redraw only the race pane.
        # The trained-gradient row (a heatmap, and a backward pass) every 2 s.
        self.throttle, self.grad_throttle = Throttle(8), Throttle(0.5)
        # The results table twice a second: each HTML change makes the browser lay out the page again,
        # time taken from the controls, and numbers changing 8 times a second cannot be read anyway.
        self.table_throttle = Throttle(2)
        self.refresh_times: list[float] = []  # monotonic time of every race refresh (benchmarks read it)
        self.hold = Hold(HOLD_S)  # race refreshes wait while held: a move of t is drawn first (``_move_t``)
        self.status, self.c = StatusLine(), make_controls()
        self.readout = equation_box("Receptive field of this network", "")
        self.calc = equation_box("How many layers for a reach of N inputs?", "")
        self.table = ipw.HTML()
        # Four light plot panes (widgets/plotpane.py), each redrawn alone: plotly.js redraws every
        # subplot of a figure (and its legend) on any change, so the "Output position t" slider's
        # diagram gets a pane of its own, and the race's refreshes redraw only the loss curves
        # (seqviz/figures/tcn.py).
        self.panes = {k: PlotPane(f) for k, f in ft.build_tcn_figures().items()}
        self.race: Race | None = None
        self._probe_pending, self._probe_since = False, 0.0  # a deferred refresh_probe (``_after_diagram``)
        for name, w in self.c.items():
            if name not in ("train", "reset"):
                bind(w, self.state, name)
        on = lambda what: guarded(self.status, what)  # noqa: E731
        self.c["train"].on_click(on("start or stop the race")(lambda _: self.toggle_training()))
        self.c["reset"].on_click(on("reset the race")(lambda _: self.rebuild("Race reset: every model is back at "
                                                                              "its untrained weights.")))
        self.state.observe(on("rebuild the network")(self._arch_changed), list(ARCH))
        self.state.observe(on("move the output position")(self._move_t), "t")
        self.state.observe(on("compute the layers")(lambda _: self.refresh_calculator()), ["calc_reach", "calc_k"])
        self.state.observe(self._note, "note")
        register_instance("receptive_field", self)
        self.refresh_calculator()
        self.rebuild()
        self.children = self._layout()

    def _layout(self):
        c = self.c
        knobs = ipw.VBox([ipw.HTML("<b>Network</b>"), c["kernel_size"], c["n_blocks"], c["schedule"], c["custom"],
                          c["padding"], c["convs_per_block"], c["t"], self.readout, ipw.HTML("<b>Calculator</b>"),
                          c["calc_reach"], c["calc_k"], self.calc],
                         layout=ipw.Layout(width="370px", min_width="370px"))
        top = ipw.HBox([c["race"], c["train"], c["reset"]], layout=ipw.Layout(flex_flow="row wrap"))
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Receptive fields of dilated causal convolutions, "
                                  "and a TCN racing recurrent nets</h2>"), top, self.status, device_badge()])
        p = self.panes
        right = ipw.VBox([p["diagram"], p["probe"], ipw.HBox([p["race"], p["params"]]), self.table],
                         layout=ipw.Layout(flex="1 1 auto", min_width="700px"))
        return [head, ipw.HBox([knobs, right]), plotly_loader()]

    # -- actions ----------------------------------------------------------------------
    def _note(self, change) -> None:
        if change["new"]:
            self.status.say(change["new"], "warn")
            self._pending = (change["new"], time.monotonic())  # kept if the corrected value rebuilds
            self.state.note = ""  # so the same message shows again next time

    def _move_t(self, _change=None) -> None:
        """The output position moved: the race's refreshes pause for HOLD_S so that its pane's
        redraw does not land in the browser just ahead of (or beside) the diagram's."""
        self.hold.hold()
        self.refresh_structure(full=False)

    def close_worker(self) -> None:
        self.worker.stop()

    def _arch_changed(self, change) -> None:
        msg = f"{change['name'].replace('_', ' ')} changed: the TCN was rebuilt and the race reset."
        note, when = getattr(self, "_pending", ("", 0.0))
        fresh = bool(note) and time.monotonic() - when < 1.0
        self.rebuild(f"{note} {msg}" if fresh else msg, "warn" if fresh else "info")

    def rebuild(self, message: str | None = None, level: str = "info") -> None:
        """New TCN (and race) from the knobs; every view recomputed."""
        self.worker.stop()
        s = self.state
        self.c["custom"].disabled = s.schedule != "custom"
        self.c["n_blocks"].disabled = s.schedule == "custom"
        self.race = Race(RACE_PRESETS[s.race], s.tcn_config(), self.device)
        self.untrained = build_tcn(self.race.tcn_cfg, self.race.preset.seed)
        L = self.race.task.seq_len(self.race.preset.T)
        self.c["t"].max = s.t_max = L - 1
        if s.t > L - 1:
            s.t = L - 1
        self.trained_grad = None
        self._set_train_button(False)
        self.refresh_structure()
        self.refresh_race(force=True)
        r = self.race
        self.status.say(message or f"Ready: TCN with R = {r.rf} against GRU, LSTM and tanh RNN on "
                        f"{r.task.name}, T = {r.preset.T}. Press Train.", level)
        self._pending = ("", 0.0)

    def toggle_training(self) -> None:
        if self.worker.running:
            self.worker.stop()
            return
        if not self.race.racing:
            self.status.say("Every model has finished; press Reset to race again.", "info")
            return
        if self.worker.start(self._train_loop):
            self._set_train_button(True)
            self.status.say("Racing: the same batches for every model, the CPU shared so each gets equal compute time...", "info")

    def _set_train_button(self, running: bool) -> None:
        self.c["train"].description, self.c["train"].icon = ("Stop", "stop") if running else ("Train", "play")

    def _train_loop(self, stop: threading.Event) -> None:
        with responsive_training():  # a control's handler gets the GIL within 1 ms, not 5
            why = self.race.train(stop, self.refresh_race)
        self.refresh_race(force=True)
        self._set_train_button(False)
        r = self.race
        done = ", ".join(f"{k.upper()} {v:.1f} s" for k, v in sorted(r.finished.items(), key=lambda kv: kv[1]))
        head = {"budget": f"Time is up ({r.preset.budget_s:.0f} s).", "all finished": "All finished.",
                "stopped": "Stopped."}[why]
        tail = "" if r.past >= r.reach else (f" The TCN sees only {r.past} of the {r.reach} inputs the task needs, "
                                             f"so its loss cannot go below {r.floor:.3g}.")
        self.status.say(f"{head} Reached the target: {done or 'none yet'}.{tail}", "ok" if done else "info")

    # -- views ----------------------------------------------------------------------------
    def refresh_calculator(self) -> None:
        set_box_body(self.calc, calculator_html(self.state.calc_reach, self.state.calc_k))

    def trace(self, name: str):
        """The trace called ``name`` (its ``meta``), in whichever pane holds it."""
        return ft.trace({k: p.figure for k, p in self.panes.items()}, name)

    def refresh_structure(self, full: bool = True) -> None:
        """Diagram, gradients and causality for output t; ``full`` also redraws what does not
        depend on t (grid, parameter curves, readout).

        For a move of t alone (``full=False``) only the diagram's small pane is updated at once;
        the gradients and the causality check (two autograd passes, a second pane) follow once the
        browser has drawn the diagram: sent at once, their redraw used to land in the same browser
        frame and delay the diagram that the slider is about."""
        s, r = self.state, self.race
        cfg = r.tcn_cfg
        L, t = r.task.seq_len(r.preset.T), min(s.t, r.task.seq_len(r.preset.T) - 1)
        diag = rcp.dependency_diagram(cfg.kernel_size, cfg.dilations, cfg.convs_per_block, cfg.padding, L, t)
        with self.panes["diagram"].batch() as fig:
            ft.update_diagram(fig, diag, t, cfg.convs_per_block, nodes=full)
        if not full:
            self._after_diagram()
            return
        self.refresh_probe()
        lags = rcp.dependency_lags(cfg.kernel_size, cfg.dilations, cfg.convs_per_block, cfg.padding)
        hidden_params = len(cfg.dilations) * cfg.convs_per_block * rcp.conv_params(
            cfg.channels, cfg.channels, cfg.kernel_size)
        with self.panes["params"].batch() as fig:
            ft.update_params(fig, rcp.param_curves(cfg.channels, max(r.reach, r.rf) * 2),
                             (r.rf, hidden_params), r.reach)
        set_box_body(self.readout, readout_html(
            cfg.kernel_size, cfg.dilations, cfg.convs_per_block, cfg.padding, r.rf, lags, rcp.holes(lags),
            r.past, r.reach, r.task.name, r.floor, r.task.metric))

    def refresh_probe(self) -> None:
        """Measured gradients (untrained, trained), the analytic set and the causality check for
        the current t, in the "probe" pane."""
        r = self.race
        cfg = r.tcn_cfg
        L = r.task.seq_len(r.preset.T)
        t = min(self.state.t, L - 1)
        lags = rcp.dependency_lags(cfg.kernel_size, cfg.dilations, cfg.convs_per_block, cfg.padding)
        positions = [t - g for g in lags if 0 <= t - g < L]
        untrained = rcp.input_gradient(self.untrained, L, t, seed=1, batch=8)
        self.trained_grad = self._trained_gradient(t)
        delta = rcp.causality_check(self.untrained, L, t, seed=2)
        with self.panes["probe"].batch() as fig:
            ft.update_gradients(fig, untrained, self.trained_grad, positions)
            ft.update_causality(fig, delta, t)
        before = float(np.max(delta[: t + 1]))
        self.causal_note = ("no output at or before t moved (exactly 0)" if before == 0 else
                            f"outputs at or before t moved by up to {before:.2g}: centred padding reads the future")

    def _after_diagram(self, max_wait_s: float = 0.3) -> None:
        """``refresh_probe`` once the browser has drawn the diagram (its pane acknowledges each
        update; at most ``max_wait_s``), on the kernel's event loop, so that the acknowledgement
        can arrive meanwhile. Several moves of t in a row are served by one refresh, for the
        latest t. Outside a kernel (plain Python, tests): at once."""
        loop = kernel_loop()
        if loop is None:
            self.refresh_probe()
            return
        self._probe_since = time.monotonic()
        if self._probe_pending:
            return
        self._probe_pending = True
        run = guarded(self.status, "update the gradients")(self.refresh_probe)

        def tick():
            if self.panes["diagram"].busy and time.monotonic() - self._probe_since < max_wait_s:
                loop.call_later(0.005, tick)
                return
            self._probe_pending = False
            run()

        loop.call_soon(tick)

    def _trained_gradient(self, t: int):
        r = self.race
        if not r.history("tcn").loss:
            return None
        run = r.runs["tcn"]
        with run.lock:
            return rcp.input_gradient(run.models["tcn"], r.task.seq_len(r.preset.T), t, seed=1, batch=8)

    def _browser_busy(self) -> bool:
        """True while the browser still draws our last race update, or the slider's diagram
        (each pane acknowledges its updates): a race refresh then waits for the next step
        rather than queue behind it. Without an answer in 2 s (no browser) we send anyway."""
        return self.panes["race"].busy or self.panes["diagram"].busy

    def refresh_race(self, force: bool = False) -> None:
        """Loss curves and the table, at most 8 times a second; the trained gradient every 2 s."""
        if not force and (self.hold.held or self._browser_busy() or not self.throttle.ready()):
            return
        r = self.race
        hist = {k: r.history(k) for k in ft.RACERS}
        x_max = max([h.seconds[-1] for h in hist.values() if h.seconds] + [1.0])
        grad = None
        if (force or (not self.panes["probe"].busy and self.grad_throttle.ready())) and r.history("tcn").loss:
            grad = self._trained_gradient(min(self.state.t, r.task.seq_len(r.preset.T) - 1))
        with self.panes["race"].batch() as fig:
            ft.update_race(fig, hist, r.preset.target, r.floor if r.floor > 0 else None,
                           r.task.baseline_loss(r.preset.T), x_max)
        if grad is not None:
            with self.panes["probe"].batch() as fig:
                ft.update_trained_gradient(fig, grad)
        if self.table_throttle.ready(force):
            self.table.value = results_table(r) + (f"<div style='font-size:14px;color:#444'>wall clock {r.wall:.1f} s · "
                                                   f"causality: {self.causal_note}</div>")
        self.refresh_times.append(time.monotonic())


def dashboard(**knobs) -> ReceptiveFieldDashboard:
    """The dashboard; keyword arguments set state traits, e.g. ``kernel_size=2, n_blocks=4``."""
    state = ReceptiveFieldState()
    for k, v in knobs.items():
        if not state.has_trait(k):
            raise ValueError(f"Unknown setting {k!r}; use one of {', '.join(state.trait_names())}.")
        setattr(state, k, v)
    return ReceptiveFieldDashboard(state)
