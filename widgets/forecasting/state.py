"""The forecasting dashboard's knobs, checked (any browser can send any value)."""

from __future__ import annotations

import traitlets as tl

from seqviz.data.series import SERIES
from seqviz.experiments.forecasting import MAX_HORIZON, SCHEMES
from widgets.kit import CheckedState

# An example to edit: 48 made-up monthly numbers with a trend and a yearly season.
EXAMPLE = ("112 118 132 129 121 135 148 148 136 119 104 118 115 126 141 135 125 149 170 170 158 133 114 140 "
           "145 150 178 163 172 178 199 199 184 162 146 166 171 180 193 181 183 218 230 242 209 191 172 194")
DEFAULTS = {"sunspots": (12, 11), "co2": (52, 52), "seasonal": (12, 12), "pasted": (12, 12)}  # (w, m) per series
REBUILD = ("series", "noise", "seed", "text", "w", "m")  # a new experiment (training starts again)
WALK = ("k", "scheme", "slide")  # new walk-forward folds


class ForecastingState(CheckedState):
    RANGES = {"w": (1, 60, True), "m": (1, 120, True), "noise": (0.0, 3.0, False), "seed": (0, 10 ** 6, True),
              "t": lambda s: (s.t_lo, s.t_hi, True), "k": (0, 5000, True), "slide": (0, 5000, True),
              "horizon": (1, MAX_HORIZON, True), "fold": lambda s: (0, max(0, s.n_rows - 1), True)}
    CHOICES = {"series": tuple(SERIES), "scheme": SCHEMES}
    TEXTS = {"text": 60_000}
    LABELS = {"w": "Window w", "m": "Season m", "noise": "Noise", "seed": "Seed", "t": "Window position t",
              "k": "Retrain every k", "slide": "Sliding length L", "horizon": "Horizon H", "fold": "Fold shown",
              "series": "series", "scheme": "training window", "text": "pasted numbers"}

    series = tl.Unicode("sunspots")
    noise = tl.Any(0.3)  # tl.Any: NaN or text from a client reaches the check instead of failing
    seed = tl.Any(0)
    text = tl.Any(EXAMPLE)
    w = tl.Any(12)
    m = tl.Any(11)
    t = tl.Any(0)
    k = tl.Any(0)  # 0: about six folds
    scheme = tl.Unicode("expanding")
    slide = tl.Any(0)  # 0: as many windows as the first fold trains on
    horizon = tl.Any(20)
    fold = tl.Any(0)
    # derived from the experiment (set by the dashboard, not by controls)
    t_lo = tl.Int(12)
    t_hi = tl.Int(308)
    n_rows = tl.Int(11)
