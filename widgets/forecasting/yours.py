"""The forecasting dashboard on the student's own series, from Python (JupyterLab only).

``yours(series, name=..., season=None, window=None)``: a 1-D numpy array, list, torch tensor or
pandas Series of numbers (``seqviz.yours.data.check_series`` says in one sentence why one does not
fit); the dashboard then runs every method (persistence, seasonal naive, AR, GRU, TCN) and every
validation (holdout, walk-forward, random split) on it, as on the bundled series. The series
dropdown gets one more entry, the student's series, so the bundled ones stay one click away.
"""

from __future__ import annotations

from typing import Any

from seqviz.data.series import SERIES, Series
from seqviz.yours.fit import DoesNotFit
from seqviz.yours.data import check_series, fit_window, window_note
from widgets.forecasting.state import ForecastingState
from widgets.forecasting.view import ForecastingDashboard, make_controls
from widgets.kit.yours import your_model_entry

YOURS = "yours"  # the series key of the student's series


class YourForecastingState(ForecastingState):
    CHOICES = {**ForecastingState.CHOICES, "series": (*SERIES, YOURS)}


class YourForecastingDashboard(ForecastingDashboard):
    """``ForecastingDashboard`` with the student's ``Series`` (key ``"yours"``) as one more series."""

    def __init__(self, series: Series, state: YourForecastingState, **kwargs):
        self.yours = series
        self._yours_wm = (int(state.w), int(state.m))
        super().__init__(state, **kwargs)

    def rebuild(self, message: str | None = None, first: bool = False, series_changed: bool = True) -> None:
        notes = self.yours.extra.get("notes", [])
        if notes and self.state.series == YOURS and (message is None or series_changed):
            # what was changed in the student's data, before the usual "Ready: ..."
            message = " ".join(notes) + " " + (message or "Ready: {ready}")
        super().rebuild(message, first, series_changed)

    def make_controls(self):
        c = make_controls()
        c["series"].options = [*c["series"].options, (f"Yours: {self.yours.name}"[:60], YOURS)]
        return c

    def load_series(self) -> Series:
        return self.yours if self.state.series == YOURS else super().load_series()

    def series_defaults(self, key: str) -> tuple[int, int]:
        return self._yours_wm if key == YOURS else super().series_defaults(key)


@your_model_entry
def yours(series: Any, name: str = "your series", season: int | None = None, window: int | None = None,
          **knobs) -> YourForecastingDashboard:
    """The forecasting dashboard on ``series``: one 1-D series of numbers (numpy array, list, torch
    tensor, pandas Series). ``season``: the season m of the seasonal-naive forecast (default: 12, or
    less on a short series); ``window``: the lag window w (default 12); other keyword arguments set
    the dashboard's knobs (e.g. ``horizon=10``). Missing values (NaN) are filled by a straight line
    and said; at most the last 10,000 values are kept (and said)."""
    s = check_series(series, name)
    w, m = fit_window(len(s), window, season)
    lowered = window_note(len(s), w, m, window)
    if lowered:
        s.extra["notes"].append(lowered)
    try:
        YourForecastingState.check_knobs(knobs, derived=("t_lo", "t_hi", "n_rows", "series", "w", "m"))
    except ValueError as e:
        raise DoesNotFit(str(e)) from None
    state = YourForecastingState()
    state.series, state.w, state.m = YOURS, w, m
    for k, v in knobs.items():
        setattr(state, k, v)
    return YourForecastingDashboard(s, state)
