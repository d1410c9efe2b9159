"""The forecasting dashboard in plain pytest: controls, buttons, state and the data each pane
holds, against independent computations (statsmodels' AutoReg, numpy, hand loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.tsa.ar_model import AutoReg

from seqviz.data import series as S
from seqviz.experiments import forecasting as fc
from seqviz.figures.forecasting import PREDICT, TRAIN
from tests.conftest import wait_for, workers_alive
from tests.conftest import dashboard_trace as trace
from widgets.forecasting import dashboard

SMALL = dict(hidden=8, channels=8, fit_steps=40, fold_steps=4)




def numbers(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Error" not in d.status.text


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setitem(fc.PRESETS, "cpu", SMALL)


@pytest.fixture
def dash(small):
    d = dashboard()
    yield d
    d.worker.pause()
    d.close_worker()


def test_opens_with_the_sunspots_and_the_ar_forecast_of_autoreg(dash):
    d, v = dash, S.sunspots().values
    np.testing.assert_array_equal(numbers(trace(d, "series").y), v)
    exp = d.exp
    sm = AutoReg(v[: exp.test_start], lags=12, trend="c", hold_back=12).fit().params
    ref = [sm[0] + sum(sm[i] * v[t - i] for i in range(1, 13)) for t in range(exp.test_start, len(v))]
    np.testing.assert_allclose(numbers(trace(d, "pred_ar").y), ref, rtol=1e-8)
    np.testing.assert_allclose(numbers(trace(d, "pred_persistence").y), v[exp.test_start - 1:-1])
    assert "Ready: Sunspots" in d.status.text and "Press Train" in d.status.text
    assert "1950" in d.table.value or "1950" in d.status.text
    for p in d.panes.values():
        assert any(tr.x is not None and len(tr.x) for tr in p.figure.data)


def test_the_window_slider_moves_the_window_its_target_and_the_pairs_table(dash):
    d, v = dash, S.sunspots().values
    d.c["t"].value = 100
    assert d.state.t == 100
    np.testing.assert_array_equal(trace(d, "window").y, v[88:100])
    assert list(trace(d, "target").y) == [v[100]]
    assert "<td><b>" + f"{v[100]:.3g}" + "</b></td>" in d.pairs.value  # the highlighted pair's target
    for t in (98, 99, 101, 102):  # its neighbours, each with its own next value
        assert f"{v[t]:.3g}" in d.pairs.value
    # the free-running persistence path repeats x_(t-1) for H steps
    d.c["horizon"].value = 7
    np.testing.assert_allclose(trace(d, "path_persistence").y, [v[99]] * 7)
    assert len(trace(d, "free_ar").x) == 7 and len(trace(d, "forced_ar").x) == 7
    no_traceback(d)


def test_the_horizon_pane_is_the_experiments_errors_and_horizon_1_is_teacher_forced(dash):
    d = dash
    d.c["horizon"].value = 10
    he = d.exp.horizon_errors(d.exp.max_horizon)
    for k in fc.METHODS:
        np.testing.assert_allclose(numbers(trace(d, f"free_{k}").y), he[k]["free"][:10])
        assert trace(d, f"free_{k}").y[0] == pytest.approx(trace(d, f"forced_{k}").y[0])
    # persistence by hand over the pane's origins
    v, origins = S.sunspots().values, d.exp.horizon_origins(d.exp.max_horizon)
    ref = [math.sqrt(np.mean([(v[o + h] - v[o - 1]) ** 2 for o in origins])) for h in range(10)]
    np.testing.assert_allclose(numbers(trace(d, "free_persistence").y), ref)


def test_the_split_diagram_never_trains_walk_forward_folds_on_their_future(dash):
    d = dash
    for k in (3, 10, 25):
        d.c["k"].value = k
        assert d.exp.k == k
        z = np.array(trace(d, "split").z)
        names = list(trace(d, "split").y)
        n_walk = math.ceil(d.exp.n_test / k)
        assert names[:n_walk] == [f"walk {i + 1}" for i in range(n_walk)] and len(names) == n_walk + 5
        for row in z[:n_walk]:
            first_pred = np.flatnonzero(row == PREDICT)[0]
            assert (row[first_pred:] != TRAIN).all() and (row[:first_pred] == TRAIN).all()
        assert any((row == TRAIN)[np.flatnonzero(row == PREDICT)[0]:].any() for row in z[n_walk:])  # random folds


def test_the_fold_slider_draws_its_band_and_frame(dash):
    d = dash
    d.c["k"].value = 10
    d.c["fold"].value = 2
    fold = d.exp.wf_folds[2]
    shapes = d.panes["series"].figure.layout.shapes
    assert len(shapes) == 4
    time = S.sunspots().time
    assert shapes[3].x0 == pytest.approx(time[d.exp.t[fold.test[0]]] - 0.5)
    assert shapes[3].x1 == pytest.approx(time[d.exp.t[fold.test[-1]]] + 0.5)
    assert shapes[2].x1 == pytest.approx(shapes[3].x0)  # trains up to the first predicted target, not beyond
    frame = d.panes["split"].figure.layout.shapes[0]
    assert (frame.y0, frame.y1) == (1.5, 2.5)
    d.c["fold"].value = d.c["fold"].max  # a random-split fold: no band on the series
    assert len(d.panes["series"].figure.layout.shapes) == 2


@pytest.mark.parametrize("text, said", [
    ("3, 1, four, 1, 5", "is not a number"), ("1 2 NaN 4", "not a finite number"), ("1 2 1e308", "keep every number"),
    ("7 7 7 7 7 7", "constant series"), ("1 2 3 4 5 6 7 8 9", "needs at least"), ("", "was empty"),
])
def test_a_bad_paste_gets_one_sentence_and_loses_nothing(dash, text, said):
    d = dash
    before = list(trace(d, "series").y)
    d.c["text"].value = text
    assert said in d.status.text
    assert d.exp.series.key == "sunspots" and list(trace(d, "series").y) == before and d.state.series == "sunspots"
    no_traceback(d)


def test_a_good_paste_is_used_and_odd_unicode_is_cleaned(dash):
    d = dash
    vals = [math.sin(i / 2) * 10 + i for i in range(60)]
    d.c["text"].value = "\u200b" + ", ".join(f"{x:.3f}" for x in vals) + "\u0000"
    assert d.state.series == "pasted" and d.exp.series.key == "pasted"
    np.testing.assert_allclose(numbers(trace(d, "series").y), np.round(vals, 3))
    no_traceback(d)


def test_forged_and_out_of_range_values(dash):
    d, s = dash, dash.state
    s.series = "bogus"
    assert "Unknown series" in d.status.text and s.series == "sunspots"
    s.w = float("nan")
    assert "finite number" in d.status.text and s.w == 12
    s.fold = 10 ** 9
    assert s.fold == d.c["fold"].max
    s.t = -5
    assert s.t == d.exp.t0
    s.w = 60
    s.m = 120
    assert s.w == 60 and d.exp.w == 60
    s.w = 12
    s.m = 11
    s.series = "co2"
    assert (s.w, s.m, d.exp.w) == (52, 52, 52) and "CO2" in d.status.text
    d.c["w"].value = 60
    d.c["m"].value = 120
    assert d.exp.m == 120
    no_traceback(d)


def test_a_window_too_wide_for_the_series_is_refused_and_keeps_the_old_one(dash):
    d = dash
    d.c["text"].value = " ".join(str(math.sin(i) + i / 10) for i in range(40))
    d.c["w"].value = 30
    assert "needs at least" in d.status.text and d.state.w == 12 and d.exp.w == 12 and d.c["w"].value == 12


def test_train_to_the_end_fills_every_score(dash):
    d = dash
    d.buttons["train"].click()
    assert wait_for(lambda: not d.worker.running, 120)
    exp = d.exp
    assert exp.phase == "done" and "Done" in d.status.text and "random split" in d.status.text
    sc = exp.scores()
    for k in fc.METHODS:
        for split in ("holdout", "walk", "random"):
            assert math.isfinite(sc[k][split])
    bars = {s: numbers(trace(d, f"score_{s}").y) for s in ("holdout", "walk", "random")}
    for i, k in enumerate(fc.METHODS):
        assert bars["walk"][i] == pytest.approx(sc[k]["walk"]) and bars["random"][i] == pytest.approx(sc[k]["random"])
    # |error| pane: the GRU's holdout forecast against the truth
    y = S.sunspots().values[exp.test_start:]
    np.testing.assert_allclose(numbers(trace(d, "err_gru").y), np.abs(exp.holdout_predictions()["gru"] - y), rtol=1e-6)
    assert len(trace(d, "loss_gru").x) > SMALL["fit_steps"]
    assert "%" in d.table.value and "nothing is trained" in d.table.value
    assert not workers_alive("seqviz-forecasting")


def test_pause_mid_run_then_go_on_and_walk_again_with_new_folds(dash):
    d = dash
    d.buttons["train"].click()
    assert wait_for(lambda: d.exp.phase == "walk" or not d.worker.running, 60)
    d.buttons["pause"].click()
    assert not d.worker.running and "Paused" in d.status.text
    d.buttons["train"].click()
    assert wait_for(lambda: not d.worker.running, 120) and d.exp.phase == "done"
    kept = d.exp.shuffled.pred["gru"].copy()
    d.c["k"].value = 20
    assert d.exp.phase == "walk" and np.isnan(d.exp.walk.pred["gru"]).all() and "press Train" in d.status.text
    assert math.isfinite(d.exp.scores()["ar"]["walk"])  # the AR's walk-forward is refitted at once
    d.buttons["train"].click()
    assert wait_for(lambda: not d.worker.running, 120) and d.exp.phase == "done"
    np.testing.assert_array_equal(d.exp.shuffled.pred["gru"], kept)
    assert np.isfinite(d.exp.walk.pred["gru"]).all()
    d.buttons["train"].click()
    assert "Every phase is done" in d.status.text


def test_training_refreshes_the_curves_and_the_live_fold_moves_the_slider(dash):
    d = dash
    seen = []
    d.state.observe(lambda ch: seen.append(ch["new"]), "fold")
    d.buttons["train"].click()
    assert wait_for(lambda: not d.worker.running, 120)
    assert set(range(1, len(d.exp.wf_folds))) <= set(seen)  # every fold after the first was shown
    assert len(d.refresh_times) >= 2


def test_reset_keeps_the_settings_and_untrains(dash):
    d = dash
    d.c["k"].value = 7
    d.c["t"].value = 150
    d.buttons["step"].click()
    assert d.exp.fit.steps == 1
    d.buttons["reset"].click()
    assert d.exp.fit.steps == 0 and d.exp.k == 7 and d.state.t == 150 and "Reset" in d.status.text


def test_a_gpu_gets_the_bigger_preset():
    assert fc.preset_config("cuda").fit_steps > fc.preset_config("cpu").fit_steps
