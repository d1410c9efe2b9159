"""The forecasting dashboard: one numeric series, five methods, three validations.

What each control draws (the first changed plot frame is always cheap):
- series, noise, seed, pasted numbers, window w, season m: a new experiment (training stops):
  the series pane at once; the split diagram, scores, errors, horizon and tables once it is drawn;
  input that cannot be used (words, NaN, 1e308, a constant or too short series) is said in one
  sentence and the previous series stays;
- window position t: the window, its target and the free-running forecasts from t (series pane),
  the pairs table;
- horizon H: the free-running forecasts (series pane), the horizon pane cut at H (its errors are
  computed for every h at once and cached);
- fold shown (and the Animate player, which moves it in the browser): the fold's bands on the
  series pane and the frame on the split diagram;
- retrain every k, training window, sliding length L: new walk-forward folds: the AR's walk-forward
  forecasts at once; the GRU and TCN walk forward again at the next training step.
"""

from __future__ import annotations

import contextlib
import threading
import time

import ipywidgets as ipw

from seqviz.data.series import SERIES, Series, SeriesError, load
from seqviz.devices import pick_device
from seqviz.experiments.forecasting import Forecast, preset_config
from seqviz.figures import forecasting as ff
from widgets.forecasting import panels as P
from widgets.forecasting.state import DEFAULTS, REBUILD, WALK, ForecastingState
from widgets.kit import (EquationBox, LiveDashboard, PlotPane, bind_all, device_badge, show_running,
                         training_buttons, warm_up_torch, when_drawn)

STYLE = {"description_width": "150px"}
WIDE = ipw.Layout(width="370px")
CURVES_HZ, PREDS_HZ, SCORES_HZ, HORIZON_HZ = 6, 2, 1, 0.5  # refreshes a second while training


def make_controls() -> dict[str, ipw.Widget]:
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    return {
        "series": ipw.Dropdown(options=[(v, k) for k, v in SERIES.items()], description="Series",
                               layout=ipw.Layout(width="390px"), style={"description_width": "60px"}),
        "noise": ipw.FloatSlider(min=0, max=3, step=0.05, description="Noise", continuous_update=False,
                                 layout=ipw.Layout(width="300px"), style={"description_width": "60px"}),
        "seed": ipw.BoundedIntText(min=0, max=10 ** 6, description="Seed", layout=ipw.Layout(width="170px"),
                                   style={"description_width": "50px"}),
        "w": ipw.IntSlider(min=1, max=60, description="Window w", **c),
        "m": ipw.IntSlider(min=1, max=120, description="Season m", **c),
        "t": ipw.IntSlider(min=0, max=10, description="Window position t", **c),
        "horizon": ipw.IntSlider(min=1, max=40, description="Horizon H", **c),
        "k": ipw.BoundedIntText(min=0, max=5000, description="Retrain every k", layout=ipw.Layout(width="260px"),
                                style=STYLE),
        "scheme": ipw.ToggleButtons(options=[("expanding", "expanding"), ("sliding", "sliding")],
                                    description="Training window", style={"description_width": "150px",
                                                                          "button_width": "95px"}),
        "slide": ipw.BoundedIntText(min=0, max=5000, description="Sliding length L", layout=ipw.Layout(width="260px"),
                                    style=STYLE),
        "fold": ipw.IntSlider(min=0, max=10, description="Fold shown", **c),
        "text": ipw.Textarea(description="Paste numbers", continuous_update=False,
                             layout=ipw.Layout(width="370px", height="70px"), style={"description_width": "110px"}),
    }


class ForecastingDashboard(LiveDashboard):
    """Forecast one series: persistence, seasonal naive, linear AR, GRU, TCN; holdout, walk-forward, random split."""

    kind = "forecasting"
    make_controls = staticmethod(make_controls)  # (widgets/forecasting/yours.py adds the student's series)

    def __init__(self, state: ForecastingState | None = None, **kwargs):
        super().__init__(state or ForecastingState(), **kwargs)
        s = self.state
        self.device = pick_device().device
        self.c = self.make_controls()
        self.play = ipw.Play(min=0, max=10, interval=900, description="Animate", show_repeat=False)
        self.buttons = training_buttons(step=True)
        self.panes = {k: PlotPane(f) for k, f in ff.build_figures().items()}
        self.pairs, self.table, self.notes = ipw.HTML(), ipw.HTML(), ipw.HTML()
        self.eq = EquationBox("The forecasts")
        self.exp: Forecast | None = None
        self._lock = threading.RLock()  # rebuilds; never taken by the training thread
        self._quiet_n = 0
        self._horizon = None  # (experiment, its training step count, errors)
        self._live_fold = -1
        self._yield = threading.Event()  # never set: the training thread waits on it while the gate holds
        bind_all(self.c, s, self.status)
        ipw.jslink((self.play, "value"), (self.c["fold"], "value"))
        on = self.guarded
        b = self.buttons
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause")(lambda _: self.worker.pause()))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset")(lambda _: self.rebuild(
            "Reset: the GRU and TCN are back at their untrained weights. Press Train.", series_changed=False)))
        s.observe(on("change the series")(self._rebuild_changed), list(REBUILD))
        s.observe(on("change the walk-forward folds")(self._walk_changed), list(WALK))
        s.observe(on("move the window")(self._t_moved), "t")
        s.observe(on("change the horizon")(self._horizon_moved), "horizon")
        s.observe(on("show that fold")(self._fold_moved), "fold")
        self.c["noise"].disabled = self.c["seed"].disabled = s.series != "seasonal"
        self.rebuild(first=True)
        self.page(*self._layout())
        warm_up_torch()

    def _layout(self):
        c, b, p = self.c, self.buttons, self.panes
        head = ipw.VBox([
            ipw.HTML("<h2 style='margin:4px 0'>Numbers in time: forecasting a series, and validating by "
                     "walking forward</h2>"),
            ipw.HBox([c["series"], c["noise"], c["seed"], b["train"], b["pause"], b["step"], b["reset"]],
                     layout=ipw.Layout(flex_flow="row wrap")),
            self.status, device_badge()])
        knobs = ipw.VBox([ipw.HTML("<b>Windows</b>"), c["w"], c["m"], c["t"], c["horizon"],
                          ipw.HTML("<b>Walk-forward</b>"), c["k"], c["scheme"], c["slide"],
                          ipw.HBox([c["fold"]]), ipw.HBox([ipw.HTML("<span style='width:150px'>&nbsp;</span>"),
                                                          self.play]),
                          ipw.HTML("<b>Your own numbers</b>"), c["text"]],
                         layout=ipw.Layout(width="390px", min_width="390px"))
        return (head, ipw.HBox([knobs, p["series"]]), ipw.HBox([self.pairs, self.eq]),
                ipw.HBox([p["split"], p["scores"]]), self.table, ipw.HBox([p["errors"], p["horizon"]]), self.notes)

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)

    @contextlib.contextmanager
    def _quiet(self):
        """Set state traits without their observers rebuilding anything."""
        self._quiet_n += 1
        try:
            yield
        finally:
            self._quiet_n -= 1

    # -- building ---------------------------------------------------------------------------
    def load_series(self) -> Series:
        """The series the knobs name (``SeriesError``: one sentence)."""
        s = self.state
        return load(s.series, noise=s.noise, seed=s.seed, text=s.text)

    def series_defaults(self, key: str) -> tuple[int, int]:
        """The window w and season m a series starts with."""
        return DEFAULTS[key]

    def _make(self, series_changed: bool) -> Forecast:
        s = self.state
        series = self.load_series()
        if series_changed:  # a new series: its own number of folds and sliding length
            with self._quiet():
                s.k, s.slide = 0, 0
        cfg = preset_config(self.device, w=s.w, m=s.m, scheme=s.scheme, k=s.k or None, slide=s.slide or None)
        return Forecast(series, cfg, self.device)

    def rebuild(self, message: str | None = None, first: bool = False, series_changed: bool = True) -> None:
        """A new experiment from the knobs (training stops); every view redrawn (the series pane
        first, the rest once it is drawn, unless ``first``)."""
        with self._lock:
            self.worker.pause(rebuild=True)  # no final refresh of the old experiment to wait for
            exp = self._make(series_changed and not first)
            self.exp, self._horizon, self._live_fold = exp, None, -1
            s = self.state
            with self._quiet():
                lo, hi = exp.t0, len(exp.series.values) - 1
                t = exp.test_start if (series_changed and not first) or not lo <= s.t <= hi else s.t
                self._bounds("t", lo, hi, t)
                self._bounds("fold", 0, len(exp.wf_folds) + len(exp.rs_folds) - 1, 0)
                s.k, s.slide = exp.k, exp.cfg.slide or exp.j_test
            self.c["noise"].disabled = self.c["seed"].disabled = s.series != "seasonal"
            self.c["slide"].disabled = s.scheme != "sliding"
            self._draw_series()
            if first:
                self._draw_rest()
            else:
                when_drawn([self.panes["series"]], self.guarded("draw the views")(self._draw_rest),
                           key=(id(self), "rest"))
            n = len(exp.series.values)
            ready = (f"{exp.series.name}, {n} values; w = {exp.w}, m = {exp.m}: {exp.j_test} training windows, "
                     f"{exp.n_test} test targets ({P.time_text(exp, exp.test_start)} on). Press Train.")
            self.status.say(message.format(ready=ready) if message else f"Ready: {ready}")

    def _rebuild_changed(self, change) -> None:
        if self._quiet_n:
            return
        self.gate.hold()
        s, name = self.state, change["name"]
        if name == "text" and s.series != "pasted":
            with self._quiet():
                s.series = "pasted"  # typing numbers means using them
        if name == "series":
            with self._quiet():
                s.w, s.m = self.series_defaults(s.series)
        try:
            label = s.label(name)
            self.rebuild(series_changed=name in ("series", "text", "noise", "seed"),
                         message=f"{label[:1].upper() + label[1:]} changed: the GRU and TCN start untrained. {{ready}}")
        except SeriesError as e:
            exp = self.exp
            with self._quiet():  # keep what was there
                setattr(s, name, change["old"])
                s.series, s.w, s.m = exp.series.key, exp.w, exp.m
            self.c["noise"].disabled = self.c["seed"].disabled = s.series != "seasonal"
            self.status.say(f"{e.args[0]} Nothing changed.", "warn")

    def _walk_changed(self, change) -> None:
        if self._quiet_n:
            return
        self.gate.hold()
        s, exp = self.state, self.exp
        self.c["slide"].disabled = s.scheme != "sliding"
        was_done = exp.phase == "done"
        exp.set_walk(s.k or None, s.scheme, s.slide or None)
        with self._quiet():
            n = len(exp.wf_folds) + len(exp.rs_folds)
            self._bounds("fold", 0, n - 1, s.fold if s.fold < n else 0)
        raised = bool(s.k) and exp.k != s.k
        with self._quiet():
            s.k, s.slide = exp.k, exp.cfg.slide or exp.j_test
        self._draw_split()

        def rest():
            self.panes["series"].apply(P.shapes_view(exp, self.state.t, self.state.fold))
            self._draw_scores()
            self.notes.value = P.notes_html(exp)

        when_drawn([self.panes["split"]], self.guarded("draw the new folds")(rest), key=(id(self), "walk"))
        said = f"{len(exp.wf_folds)} walk-forward folds of k = {exp.k} ({s.scheme})"
        said += f" (k raised to {exp.k}: at most 60 folds)." if raised else "."
        if exp.phase == "fit":
            said += " The AR's walk-forward forecasts are updated; the GRU and TCN walk forward after their fit."
        elif self.worker.running:
            said += " The GRU and TCN walk forward again now."
        else:
            said += (" The AR's forecasts are updated; press Train to walk the GRU and TCN forward again"
                     + (" (the random split is kept)." if was_done or exp.random_done else "."))
        self.status.say(said)

    def _bounds(self, name: str, lo: int, hi: int, value: int) -> None:
        """New limits of a slider and its state trait, and its value (inside them): the slider is
        widened first, so that it never clamps the value on the way (which would be said as a correction)."""
        s, w = self.state, self.c[name]
        w.max = max(w.max, hi)
        w.min = min(w.min, lo)
        if name == "t":
            s.t_lo, s.t_hi = lo, hi
        else:
            s.n_rows = hi + 1
            self.play.max = max(self.play.max, hi)
            self.play.value = value
            self.play.max = hi
        setattr(s, name, value)
        w.min, w.max = lo, hi

    # -- drawing -------------------------------------------------------------------------------
    def _draw_series(self) -> None:
        exp, s = self.exp, self.state
        self.panes["series"].apply(P.series_quick(exp, s.t, s.fold))
        self.pairs.value = P.pairs_html(exp, s.t)

    def _draw_rest(self) -> None:
        exp, s = self.exp, self.state
        self.panes["series"].apply(P.series_rest(exp, s.t, s.horizon, exp.holdout_predictions()))
        self._draw_split()
        self._draw_scores()
        self.panes["errors"].apply(P.errors_view(exp, exp.holdout_predictions()))
        self._draw_horizon(recompute=True)
        self.eq.body = P.ar_html(exp)
        self.notes.value = P.notes_html(exp)

    def _draw_split(self) -> None:
        self.panes["split"].apply(P.split_view(self.exp, self.state.fold))

    def _draw_scores(self) -> None:
        exp = self.exp
        sc = exp.scores()
        self.panes["scores"].apply(ff.scores_patch(sc, exp.series.unit))
        self.table.value = P.scores_html(exp, sc)

    def _horizon_errors(self, recompute: bool):
        exp = self.exp
        h = self._horizon
        if recompute or h is None or h[0] is not exp:
            h = self._horizon = (exp, exp.fit.steps, exp.horizon_errors(exp.max_horizon))
        return h[2]

    def _draw_horizon(self, recompute: bool = False) -> None:
        exp = self.exp
        self.panes["horizon"].apply(ff.horizon_patch(self._horizon_errors(recompute), self.state.horizon,
                                                     exp.series.unit))

    # -- controls that draw one pane --------------------------------------------------------
    def _t_moved(self, _change=None) -> None:
        if self._quiet_n:
            return
        self.gate.hold()
        s = self.state
        self.panes["series"].apply(P.window_view(self.exp, s.t, s.fold))
        self.pairs.value = P.pairs_html(self.exp, s.t)
        self._paths_later("series")

    def _horizon_moved(self, _change=None) -> None:
        self.gate.hold()
        self._draw_horizon()
        self._paths_later("horizon")

    def _paths_later(self, first: str) -> None:
        """The free-running forecasts (the networks run H times each) once the pane the control drew
        first is drawn (not every pane: while training the others are often still drawing)."""
        def paths():
            s, exp = self.state, self.exp
            self.panes["series"].apply(P.paths_view(exp, s.t, s.horizon))

        when_drawn([self.panes[first]], self.guarded("draw the free-running forecasts")(paths),
                   key=(id(self), "paths"))

    def _fold_moved(self, _change=None) -> None:
        if self._quiet_n:
            return
        self.gate.hold()
        s, exp = self.state, self.exp
        self.panes["series"].apply(P.shapes_view(exp, s.t, s.fold))
        self.panes["split"].apply(ff.split_row_patch(P.row_names(exp), s.fold))

    # -- training --------------------------------------------------------------------------------
    def train(self) -> None:
        exp = self.exp
        if not self.worker.running and exp.phase == "done":
            self.status.say("Every phase is done: press Reset to train again, or change k to walk forward again.")
            return
        self.worker.start(exp.step, on_step=lambda n: self._on_step(exp), on_end=lambda why: self._on_end(exp, why),
                          message="Training: the GRU and TCN fit the training part, then walk forward, then the "
                                  "random split...")

    def one_step(self) -> None:
        exp = self.exp
        if exp.phase == "done":
            self.status.say("Every phase is done: press Reset to train again.")
            return
        self.worker.one_step(exp.step, on_end=lambda why: self._on_end(exp, why))

    def _on_step(self, exp: Forecast) -> None:
        """In the training thread after each step: the live fold, and gated refreshes."""
        if exp is not self.exp:
            return
        while self.gate.held and not self.worker.stopping:  # a control was just used: its redraw goes first
            self._yield.wait(0.01)
        if self.worker.stopping:  # Pause or a rebuild waits for this thread: no refresh to wait for
            return
        if exp.phase == "walk" and exp.fold != self._live_fold:
            self._live_fold = exp.fold
            self.state.fold = exp.fold  # the animation follows the training (its observer draws)
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        """Training refreshes, each pane at its own rate and only when the browser drew the last one."""
        exp, p = self.exp, self.panes
        preds = None
        if self.gate.ready("curves", CURVES_HZ, [p["errors"]], force):
            preds = exp.holdout_predictions()
            p["errors"].apply(P.errors_view(exp, preds))
            self.refresh_times.append(time.monotonic())
            if len(self.refresh_times) > 4000:  # bounded: the newest half stays
                del self.refresh_times[:2000]
        if self.gate.ready("preds", PREDS_HZ, [p["series"]], force):
            preds = preds or exp.holdout_predictions()
            p["series"].apply(ff.predictions_patch(exp.series.time[exp.test_start:],
                                                   {k: preds[k] for k in ("gru", "tcn")}))
            self.status.say(f"Training: {exp.progress()}.")
        if self.gate.ready("scores", SCORES_HZ, [p["scores"]], force):
            self._draw_scores()
        if self.gate.ready("horizon", HORIZON_HZ, [p["horizon"], p["series"]], force):
            s = self.state
            self._draw_horizon(recompute=True)
            p["series"].apply(P.paths_view(exp, s.t, s.horizon))

    def _on_end(self, exp: Forecast, why: str) -> str | None:
        if exp is not self.exp:
            return None
        self.refresh(force=True)
        if why == "one step":
            self.status.say(f"One step: {exp.progress()}.")
            return None
        if why.startswith("finished"):
            fl = P.flattery(exp.scores())
            parts = [f"{ff.LABELS[k]} {abs(fl[k]):.0f}% {'lower' if fl[k] >= 0 else 'higher'}" for k in P.LEARNED]
            return ("Done: fitted, walked forward, and scored by the random split. On the same test period the "
                    f"random split's error is, against walk-forward's: {', '.join(parts)}.")
        if why == "stopped":
            return f"Paused ({exp.progress()}). Press Train to go on."
        return None
