"""Dashboard: numbers in time. Forecast one series (sunspots, Mauna Loa CO2, a synthetic seasonal
series, or numbers you paste) with persistence, seasonal naive, a linear AR, a GRU and a TCN on the
same lag windows; validate by a random split of windows and by walking forward in time; compare
one-step (teacher-forced) with free-running forecasts against the horizon.

| module | holds |
| --- | --- |
| ``state`` | ``ForecastingState``: the checked knobs |
| ``view`` | ``ForecastingDashboard``: controls, panes, buttons, training in the worker |
| ``panels`` | engine data -> figure patches and HTML (pairs table, scores table, notes) |
| ``yours`` | ``yours(series)``: the dashboard on the student's own series, from Python (JupyterLab) |

All maths lives in ``seqviz`` (``seqviz.data.series``, ``seqviz.experiments.forecasting``).
"""

from __future__ import annotations

from widgets.forecasting.state import DEFAULTS, ForecastingState
from widgets.forecasting.view import ForecastingDashboard
from widgets.forecasting.yours import yours


def dashboard(**knobs) -> ForecastingDashboard:
    """The dashboard; keyword arguments set state traits, e.g. ``series="co2"``, ``w=26``."""
    ForecastingState.check_knobs(knobs, derived=("t_lo", "t_hi", "n_rows"))
    state = ForecastingState()
    if knobs.get("series") in DEFAULTS:  # the series' own window and season unless given
        state.w, state.m = DEFAULTS[knobs["series"]]
    for k, v in knobs.items():
        setattr(state, k, v)
    return ForecastingDashboard(state)


__all__ = ["dashboard", "yours", "ForecastingDashboard", "ForecastingState"]
