"""Numeric time series that need no download, and how one series becomes a data set of windows.

Series (``SERIES``), all offline:
- ``sunspots``: yearly mean sunspot numbers 1700-2008, as statsmodels ships them;
- ``co2``: weekly CO2 at Mauna Loa 1958-2001 (ppm), as statsmodels ships it; its missing weeks
  are filled by a straight line between the measured weeks either side (``Series.note`` says how many);
- ``seasonal``: a synthetic trend + sine wave + Gaussian noise of a chosen size, seeded;
- ``pasted``: numbers a person pastes (``parse_numbers`` checks them and says what is wrong).

A lag window of width w turns one sequence x_0..x_(n-1) into pairs (x_(t-w)..x_(t-1), x_t):
``windows(values, w, start)`` returns them as X (N, w), y (N,) and the target indices t (N,).
``Normaliser`` is fitted on the training part only, so nothing about the test period (its mean,
its spread) leaks into training.
"""

from __future__ import annotations

import datetime
import importlib.util
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SERIES = {
    "sunspots": "Sunspots, yearly 1700-2008",
    "co2": "CO2 at Mauna Loa, weekly 1958-2001",
    "seasonal": "Synthetic: trend + season + noise",
    "pasted": "Numbers you paste",
}
MAX_ABS = 1e12  # larger numbers overflow once squared and summed in float32 (the models' precision)
MAX_VALUES = 5000  # most numbers kept from a paste


class SeriesError(ValueError):
    """A series that cannot be used; ``args[0]`` is one plain sentence saying what to do."""


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    values: np.ndarray  # (n,) float64
    time: np.ndarray  # (n,) what the x axis shows (years, decimal years, or 0..n-1)
    time_label: str  # x axis title
    unit: str  # y axis title
    period: int  # the season m a seasonal-naive forecast uses by default
    note: str = ""  # how the data was prepared (gaps filled...), said on screen
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)


def statsmodels_csv(name: str) -> np.ndarray:
    """The CSV that statsmodels ships for dataset ``name`` (header skipped; empty fields NaN), read with
    numpy from the installed package without importing it (statsmodels brings pandas: 1.5 s here)."""
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        raise SeriesError("statsmodels is not installed, so its datasets are not here: pip install statsmodels.")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / name / f"{name}.csv"
    return np.genfromtxt(path, delimiter=",", skip_header=1, dtype=float)


def sunspots() -> Series:
    """statsmodels' yearly sunspot numbers (309 years, no gaps)."""
    d = statsmodels_csv("sunspots")  # (309, 2): year, number
    return Series("sunspots", SERIES["sunspots"], d[:, 1].copy(), d[:, 0].copy(), "year", "sunspot number", 11,
                  "Yearly means from statsmodels' datasets; no gaps.")


def co2() -> Series:
    """statsmodels' weekly Mauna Loa CO2; missing weeks filled linearly between their neighbours."""
    d = statsmodels_csv("co2")  # (2284, 2): yyyymmdd, ppm
    v = d[:, 1]
    gaps = int(np.isnan(v).sum())
    v = fill_gaps(v)
    years = []
    for ymd in d[:, 0].astype(int):
        day = datetime.date(ymd // 10000, ymd // 100 % 100, ymd % 100)
        years.append(day.year + (day.timetuple().tm_yday - 1) / 365.25)
    return Series("co2", SERIES["co2"], v, np.array(years), "year", "CO2 (ppm)", 52,
                  f"Weekly means from statsmodels' datasets; {gaps} of {len(v)} weeks have no measurement and "
                  "are filled by a straight line between the measured weeks either side.")


def fill_gaps(v: np.ndarray) -> np.ndarray:
    """NaNs replaced by linear interpolation between the nearest measured values (ends: nearest value)."""
    v = np.asarray(v, dtype=float).copy()
    bad = ~np.isfinite(v)
    if bad.all():
        raise SeriesError("Every value is missing.")
    if bad.any():
        i = np.arange(len(v))
        v[bad] = np.interp(i[bad], i[~bad], v[~bad])
    return v


def seasonal(n: int = 240, period: int = 12, noise: float = 0.3, seed: int = 0) -> Series:
    """x_t = 0.01 t + sin(2 pi t / period) + noise * e_t, e_t ~ N(0, 1) drawn from ``seed``."""
    t = np.arange(n, dtype=float)
    e = np.random.default_rng(int(seed)).standard_normal(n)
    v = 0.01 * t + np.sin(2 * math.pi * t / period) + float(noise) * e
    return Series("seasonal", SERIES["seasonal"], v, t, "time step t", "x_t", period,
                  f"x_t = 0.01 t + sin(2\u03c0 t / {period}) + {float(noise):g} \u00b7 noise (seed {int(seed)}).")


_SPLIT = re.compile(r"[\s,;]+")


def parse_numbers(text: str) -> np.ndarray:
    """Numbers separated by commas, semicolons, spaces or new lines -> (n,) float64.
    Raises ``SeriesError`` with one sentence for anything else (words, NaN, inf, huge values)."""
    text = "".join(ch for ch in str(text) if unicodedata.category(ch) not in ("Cf", "Cc") or ch in "\t\n\r")
    parts = [p for p in _SPLIT.split(text.strip()) if p]  # (zero-width and control characters dropped)
    if not parts:
        raise SeriesError("Paste some numbers, separated by commas, spaces or new lines.")
    if len(parts) > MAX_VALUES:
        raise SeriesError(f"That is {len(parts)} numbers; paste at most {MAX_VALUES}.")
    out = np.empty(len(parts))
    for i, p in enumerate(parts):
        try:
            v = float(p.replace("\u2212", "-"))
        except ValueError:
            raise SeriesError(f"Item {i + 1}, {p[:20]!r}, is not a number: paste only numbers, separated by "
                              "commas, spaces or new lines.") from None
        if not math.isfinite(v):
            raise SeriesError(f"Item {i + 1} is {p[:20]!r}, not a finite number: fill or drop the missing "
                              "values before pasting.")
        if abs(v) > MAX_ABS:
            raise SeriesError(f"Item {i + 1} is {p[:20]}: keep every number below {MAX_ABS:.0e} in size "
                              "(squared errors of larger numbers overflow).")
        out[i] = v
    if np.ptp(out) == 0:
        raise SeriesError(f"All {len(out)} numbers are equal: a constant series has nothing to forecast "
                          "(every method is exactly right). Paste numbers that change.")
    return out


def pasted(text: str) -> Series:
    v = parse_numbers(text)
    return Series("pasted", SERIES["pasted"], v, np.arange(len(v), dtype=float), "position in the paste", "value",
                  min(12, max(1, len(v) // 10)), f"{len(v)} numbers pasted.")


def load(key: str, noise: float = 0.3, seed: int = 0, text: str = "") -> Series:
    if key == "sunspots":
        return sunspots()
    if key == "co2":
        return co2()
    if key == "seasonal":
        return seasonal(noise=noise, seed=seed)
    if key == "pasted":
        return pasted(text)
    raise SeriesError(f"Unknown series {key!r}; choose one of {', '.join(SERIES)}.")


def windows(values: np.ndarray, w: int, start: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lag windows: for every target index t from ``start`` (default w) to n-1, the input
    X[i] = values[t-w : t] (oldest first) and the target y[i] = values[t].
    Returns X (N, w), y (N,), t (N,) with N = n - start."""
    v = np.asarray(values, dtype=float)
    w = int(w)
    start = w if start is None else int(start)
    if w < 1 or start < w:
        raise SeriesError("The window needs at least one value before its target.")
    t = np.arange(start, len(v))
    if not len(t):
        return np.zeros((0, w)), np.zeros(0), t
    X = np.lib.stride_tricks.sliding_window_view(v, w)[t - w]  # row i: values[t_i - w : t_i]
    return X.copy(), v[t].copy(), t


@dataclass(frozen=True)
class Normaliser:
    """z = (x - mean) / std with mean and std of the training part only (std 1 if it is constant)."""

    mean: float
    std: float

    @classmethod
    def fit(cls, train_values: np.ndarray) -> "Normaliser":
        v = np.asarray(train_values, dtype=float)
        s = float(v.std())
        return cls(float(v.mean()), s if s > 0 and math.isfinite(s) else 1.0)

    def apply(self, x):
        return (np.asarray(x, dtype=float) - self.mean) / self.std

    def invert(self, z):
        return np.asarray(z, dtype=float) * self.std + self.mean
