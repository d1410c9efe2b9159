"""Which engine data feeds which pane of the forecasting dashboard, and its HTML panels.

Every function reads a ``seqviz.experiments.forecasting.Forecast`` and returns a figure patch
(``seqviz.figures.forecasting``) or HTML; none touches a widget.
"""

from __future__ import annotations

import html

import numpy as np

from seqviz.experiments.forecasting import METHODS, NEURAL, Forecast
from seqviz.figures import forecasting as ff
from seqviz.figures.patch import merge
from seqviz.figures.theme import downsample

LEARNED = ("ar", "gru", "tcn")
MAX_POINTS = 600  # points per loss curve sent to the browser (evenly thinned, the last one kept)


def fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "\u2013"
    a = abs(v)
    return f"{v:.3g}" if a < 1000 else f"{v:,.0f}"


def time_text(exp: Forecast, i: int) -> str:
    s = exp.series
    x = float(s.time[i])
    if s.key == "co2":
        return f"{x:.2f}"
    return f"{x:.0f}"


# -- the series pane ----------------------------------------------------------------------------
def fold_band(exp: Forecast, row: int):
    """(first trained, last trained + 1, first predicted, last predicted + 1) as series indices of the
    walk-forward fold ``row``; None for a random-split row (its training windows are scattered)."""
    if not 0 <= row < len(exp.wf_folds):
        return None
    f = exp.wf_folds[row]
    return int(exp.t[f.train[0]]), int(exp.t[f.train[-1]]) + 1, int(exp.t[f.test[0]]), int(exp.t[f.test[-1]]) + 1


def window_view(exp: Forecast, t: int, row: int) -> dict:
    """What the window slider moves at once: the window, its target and the shapes (test period,
    window, fold shown). No model runs."""
    s = exp.series
    return merge(ff.window_patch(s.time, s.values, t, exp.w),
                 ff.series_shapes(s.time, exp.test_start, t, exp.w, fold_band(exp, row)))


def paths_view(exp: Forecast, t: int, horizon: int) -> dict:
    """The free-running forecasts from target t (the networks run H times each)."""
    return ff.paths_patch(exp.series.time, exp.forecast_from(t, horizon))


def series_quick(exp: Forecast, t: int, row: int) -> dict:
    """A new series at once: the line, the window, the baselines' and the AR's forecasts (no network
    runs; the GRU's and TCN's forecasts and the free-running paths follow with ``series_rest``)."""
    s = exp.series
    preds = {k: p for k, p in exp.holdout.pred.items() if k not in NEURAL}
    blank = {f"path_{k}": {"x": [], "y": []} for k in METHODS}
    return merge(ff.series_patch(s.time, s.values, s.time_label, s.unit),
                 ff.predictions_patch(s.time[exp.test_start:], {**preds, **{k: np.full(exp.n_test, np.nan)
                                                                           for k in NEURAL}}),
                 {"traces": blank}, window_view(exp, t, row))


def series_rest(exp: Forecast, t: int, horizon: int, preds: dict) -> dict:
    return merge(ff.predictions_patch(exp.series.time[exp.test_start:], {k: preds[k] for k in NEURAL}),
                 paths_view(exp, t, horizon))


def series_view(exp: Forecast, t: int, horizon: int, row: int, preds: dict) -> dict:
    """Everything the series pane shows (a test's or a final refresh's one patch)."""
    return merge(series_quick(exp, t, row), series_rest(exp, t, horizon, preds))


def shapes_view(exp: Forecast, t: int, row: int) -> dict:
    return ff.series_shapes(exp.series.time, exp.test_start, t, exp.w, fold_band(exp, row))


# -- split, scores, errors, horizon ---------------------------------------------------------------
def split_view(exp: Forecast, row: int) -> dict:
    z, names = ff.split_matrix(len(exp.t), exp.wf_folds, exp.rs_folds)
    return ff.split_patch(exp.series.time[exp.t], z, names, row)


def row_names(exp: Forecast) -> list[str]:
    return [f"walk {i + 1}" for i in range(len(exp.wf_folds))] + [f"random {i + 1}" for i in range(len(exp.rs_folds))]


def loss_curves(exp: Forecast) -> tuple[dict, dict]:
    """GRU and TCN training loss (running mean of ``ff.LOSS_WINDOW`` steps) on one step axis:
    the holdout fit, then walk-forward retraining, then the random-split models (mean over folds)."""
    curves, marks = {}, dict(exp.phase_start)
    for k in NEURAL:
        xs, ys = [], []
        h = exp.fit.history[k]
        xs.append(h.step), ys.append(h.running_mean("loss", ff.LOSS_WINDOW))
        if exp.walk_run is not None and "walk" in marks:
            h = exp.walk_run.history[k]
            xs.append(h.step + marks["walk"] - 1), ys.append(h.running_mean("loss", ff.LOSS_WINDOW))
        if exp.random_run is not None and "random" in marks:
            hs = [exp.random_run.history[n] for n in exp.random_run.history if n.startswith(k + "_")]
            n = min(len(h) for h in hs)
            if n:
                xs.append(hs[0].step[:n] + marks["random"] - 1)
                ys.append(np.mean([h.running_mean("loss", ff.LOSS_WINDOW)[:n] for h in hs], axis=0))
        curves[k] = downsample(np.concatenate(xs), np.concatenate(ys), MAX_POINTS)
    return curves, marks


def errors_view(exp: Forecast, preds: dict) -> dict:
    s = exp.series
    curves, marks = loss_curves(exp)
    return merge(ff.loss_patch(curves, marks),
                 ff.errors_patch(s.time[exp.test_start:], exp.y_raw[exp.j_test:], preds, s.time_label, s.unit))


# -- HTML -----------------------------------------------------------------------------------------
def pairs_html(exp: Forecast, t: int) -> str:
    """The (window, next value) pairs around target t: one sequence becomes a data set."""
    v, w = exp.series.values, exp.w
    rows = [i for i in range(t - 2, t + 3) if exp.t0 <= i < len(v)]
    show = list(range(w)) if w <= 8 else [0, 1, 2, None, w - 3, w - 2, w - 1]
    head = "".join("<th>\u2026</th>" if j is None else f"<th>x<sub>t\u2212{w - j}</sub></th>" for j in show)
    body = []
    for i in rows:
        cells = "".join("<td>\u2026</td>" if j is None else f"<td>{fmt(v[i - w + j])}</td>" for j in show)
        style = " style='background:#fde9c9;font-weight:600'" if i == t else ""
        body.append(f"<tr{style}><td>{time_text(exp, i)}</td>{cells}<td><b>{fmt(v[i])}</b></td></tr>")
    n = len(exp.t)
    return ("<div style='font-size:15px'><b>Windows as a data set</b>: the series' "
            f"{len(v)} values give {n} pairs (window of w = {w}, next value); "
            f"{exp.j_test} train, {exp.n_test} test.<br>"
            "<table style='border-collapse:collapse;font-size:14px' cellpadding='3' border='1'>"
            f"<tr><th>t</th>{head}<th>x<sub>t</sub> (target)</th></tr>{''.join(body)}</table></div>")


def flattery(scores: dict) -> dict[str, float]:
    """How much lower the random split's RMSE is than walk-forward's, in percent (NaN: not yet)."""
    out = {}
    for k in METHODS:
        wv, rv = scores[k]["walk"], scores[k]["random"]
        out[k] = 100.0 * (1 - rv / wv) if np.isfinite(wv) and np.isfinite(rv) and wv > 0 else float("nan")
    return out


def scores_html(exp: Forecast, scores: dict) -> str:
    fl = flattery(scores)
    rows = []
    for k in METHODS:
        sc = scores[k]
        if k in LEARNED:
            f = fl[k]
            said = ("\u2013 (train first)" if not np.isfinite(f) else
                    f"random split {f:.0f}% lower" if f > 0.5 else
                    f"random split {-f:.0f}% higher" if f < -0.5 else "about the same")
        else:
            said = "same (nothing is trained)"
        rows.append(f"<tr><td>{ff.LABELS[k]}</td><td>{fmt(sc['holdout'])}</td><td>{fmt(sc['walk'])}</td>"
                    f"<td>{fmt(sc['random'])}</td><td>{said}</td></tr>")
    s = exp.series
    period = f"{time_text(exp, exp.test_start)}\u2013{time_text(exp, len(s.values) - 1)}"
    return ("<div style='font-size:15px'><b>RMSE on the same test period</b> "
            f"({exp.n_test} targets, {period}, in {html.escape(s.unit)})<br>"
            "<table style='border-collapse:collapse;font-size:14px' cellpadding='4' border='1'>"
            "<tr><th>method</th><th>holdout</th><th>walk-forward</th><th>random split</th>"
            "<th>random vs walk-forward</th></tr>" + "".join(rows) + "</table></div>")


def ar_html(exp: Forecast) -> str:
    """The fitted AR in the series' own units: x_t = c + a_1 x_(t-1) + ... (least squares, training part)."""
    a = exp.ar_coef[1:][::-1]  # lag 1 first
    c = exp.norm.std * exp.ar_coef[0] + exp.norm.mean * (1 - a.sum())
    minus = "\u2212"
    terms = " ".join(f"{'+' if x >= 0 else minus} {abs(x):.3f}\u00b7x<sub>t{minus}{i + 1}</sub>"
                     for i, x in enumerate(a[:4]))
    more = f" + \u2026 ({exp.w} lags)" if exp.w > 4 else ""
    return (f"x\u0302<sub>t</sub> = f(x<sub>t\u2212{exp.w}</sub>, \u2026, x<sub>t\u22121</sub>) &nbsp; "
            f"persistence: x\u0302<sub>t</sub> = x<sub>t\u22121</sub> &nbsp; seasonal naive: "
            f"x\u0302<sub>t</sub> = x<sub>t\u2212{exp.m}</sub><br>"
            f"linear AR, least squares on the training part: x\u0302<sub>t</sub> = {fmt(c)} {terms}{more}")


def notes_html(exp: Forecast) -> str:
    s = exp.series
    n = exp.norm
    c = exp.cfg
    return ("<div style='font-size:14px;color:#333;max-width:1250px'>"
            f"{html.escape(s.note)} The GRU and TCN see values normalised with the mean ({fmt(n.mean)}) and "
            f"standard deviation ({fmt(n.std)}) of the training part only (before "
            f"{time_text(exp, exp.test_start)}); every error is in the series' own units. "
            f"<b>Holdout</b>: fitted once on the training part. <b>Walk-forward</b>: predict the next "
            f"{exp.k} targets, then retrain on everything before the next one ({c.scheme}"
            + (f", the latest {c.slide or exp.j_test} windows" if c.scheme == "sliding" else "")
            + f"); the AR is refitted exactly, the GRU and TCN go on from their previous weights for "
            f"{c.fold_steps} steps per fold. <b>Random split</b>: the windows shuffled into "
            f"{len(exp.rs_folds)} folds; each test target is predicted by the model that did not see its window "
            f"but trained on the others, future ones included ({c.fit_steps} steps each, like the holdout "
            "fit). The free-running forecast (dotted) starts at the window's target and feeds each forecast "
            f"back as input; the horizon panel averages it over {len(exp.horizon_origins(exp.max_horizon))} "
            "test-period origins.</div>")
