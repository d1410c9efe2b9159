"""Lesson 00's engine against independent computations: windows by a hand loop, the AR fit by
numpy's lstsq and statsmodels' AutoReg, walk-forward never training on the future (every fold),
the random split doing so, persistence by hand, recursive forecasting at horizon 1 = one step."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from statsmodels.tsa.ar_model import AutoReg

from seqviz.data import series as S
from seqviz.experiments import forecasting as fc


def small_cfg(**kw):
    return fc.ForecastConfig(**{"hidden": 8, "channels": 8, "fit_steps": 20, "fold_steps": 3, **kw})


# -- series ------------------------------------------------------------------------------------
def test_statsmodels_series_load_offline_and_co2_gaps_are_filled_linearly():
    from statsmodels.datasets import co2, sunspots

    sun = S.sunspots()
    ref = sunspots.load_pandas().data
    np.testing.assert_array_equal(sun.values, ref["SUNACTIVITY"].to_numpy())
    np.testing.assert_array_equal(sun.time, ref["YEAR"].to_numpy())
    assert len(sun) == 309 and sun.time[0] == 1700
    raw = co2.load_pandas().data["co2"]
    c = S.co2()
    assert abs(c.time[0] - (raw.index[0].year + (raw.index[0].dayofyear - 1) / 365.25)) < 1e-9
    assert abs(c.time[-1] - (raw.index[-1].year + (raw.index[-1].dayofyear - 1) / 365.25)) < 1e-9
    assert raw.isna().sum() > 0 and np.isfinite(c.values).all()
    expected = raw.reset_index(drop=True).interpolate(method="linear", limit_direction="both").to_numpy()
    np.testing.assert_allclose(c.values, expected)
    assert f"{int(raw.isna().sum())} of {len(raw)} weeks" in c.note


def test_seasonal_series_is_seeded_and_follows_its_formula():
    a, b, c = S.seasonal(noise=0.5, seed=3), S.seasonal(noise=0.5, seed=3), S.seasonal(noise=0.5, seed=4)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    clean = S.seasonal(noise=0.0, period=12)
    t = np.arange(240)
    np.testing.assert_allclose(clean.values, 0.01 * t + np.sin(2 * np.pi * t / 12), atol=1e-12)
    e = np.random.default_rng(3).standard_normal(240)
    np.testing.assert_allclose(a.values - clean.values, 0.5 * e, atol=1e-12)


def test_windows_match_a_hand_loop():
    v = np.random.default_rng(0).standard_normal(30)
    for w, start in ((1, None), (4, None), (4, 9), (7, 7)):
        X, y, t = S.windows(v, w, start)
        s = w if start is None else start
        rows = [(v[i - w:i], v[i], i) for i in range(s, len(v))]
        assert len(X) == len(rows)
        for (xr, yr, tr), a, b, c in zip(rows, X, y, t):
            np.testing.assert_array_equal(a, xr)
            assert b == yr and c == tr


@pytest.mark.parametrize("text, said", [
    ("1, 2, abc, 4", "Item 3, 'abc', is not a number"),
    ("1 2 nan 4", "not a finite number"),
    ("1 2 inf", "not a finite number"),
    ("1 2 1e308 4", "keep every number below"),
    ("5, 5, 5, 5", "constant series has nothing to forecast"),
    ("   ", "Paste some numbers"),
])
def test_bad_pastes_get_one_sentence(text, said):
    with pytest.raises(S.SeriesError) as e:
        S.parse_numbers(text)
    msg = e.value.args[0]
    assert said in msg and "\n" not in msg and msg.count(". ") <= 2


def test_a_paste_parses_commas_spaces_lines_and_unicode_minus():
    np.testing.assert_array_equal(S.parse_numbers("1, 2;3\n4  \u22125\t6e1"), [1, 2, 3, 4, -5, 60])


def test_a_series_shorter_than_the_window_needs_is_refused_with_a_sentence():
    s = S.pasted("1 2 3 4 5 6 7 8 9 10")
    with pytest.raises(S.SeriesError, match="has 10 values; with window w = 12"):
        fc.Forecast(s, small_cfg(w=12, m=1))
    n = fc.minimum_length(3, 2)
    fc.Forecast(S.pasted(" ".join(str(math.sin(i)) for i in range(n))), small_cfg(w=3, m=2))
    with pytest.raises(S.SeriesError):
        fc.Forecast(S.pasted(" ".join(str(math.sin(i)) for i in range(n - 1))), small_cfg(w=3, m=2))


def test_normaliser_uses_the_training_part_only():
    s = S.sunspots()
    f = fc.Forecast(s, small_cfg(w=12, m=11))
    v = s.values.copy()
    v[f.test_start:] *= 100  # a wildly different test period
    g = fc.Forecast(S.Series("x", "x", v, s.time, "", "", 11), small_cfg(w=12, m=11))
    assert (f.norm.mean, f.norm.std) == (g.norm.mean, g.norm.std)
    assert f.norm.mean == pytest.approx(s.values[: f.test_start].mean())
    assert f.norm.std == pytest.approx(s.values[: f.test_start].std())


# -- the linear AR fit ----------------------------------------------------------------------------
def test_ar_fit_matches_numpy_lstsq_and_statsmodels_autoreg():
    v = S.sunspots().values
    for w, hold in ((3, 3), (12, 12), (5, 11)):
        X, y, _ = S.windows(v, w, hold)
        coef = fc.fit_ar(X, y)
        # numpy: the design matrix written lag by lag (lag 1 first), independently of windows()
        A = np.column_stack([np.ones(len(v) - hold)] + [v[hold - i: len(v) - i] for i in range(1, w + 1)])
        ref, *_ = np.linalg.lstsq(A, v[hold:], rcond=None)
        np.testing.assert_allclose(coef[0], ref[0], rtol=1e-8)
        np.testing.assert_allclose(coef[1:][::-1], ref[1:], rtol=1e-7, atol=1e-9)  # windows are oldest first
        sm = AutoReg(v, lags=w, trend="c", hold_back=hold).fit().params
        np.testing.assert_allclose(coef[0], sm[0], rtol=1e-7)
        np.testing.assert_allclose(coef[1:][::-1], sm[1:], rtol=1e-6, atol=1e-9)


def test_the_dashboards_ar_forecasts_equal_autoregs_on_raw_values():
    s = S.sunspots()
    f = fc.Forecast(s, small_cfg(w=9, m=9))
    v = s.values
    sm = AutoReg(v[: f.test_start], lags=9, trend="c", hold_back=9).fit().params  # trained on the training part
    t = np.arange(f.test_start, len(v))
    ref = np.array([sm[0] + sum(sm[i] * v[j - i] for i in range(1, 10)) for j in t])
    np.testing.assert_allclose(f.holdout.pred["ar"], ref, rtol=1e-8)


# -- baselines ---------------------------------------------------------------------------------
def test_persistence_and_seasonal_naive_errors_by_hand():
    s = S.sunspots()
    f = fc.Forecast(s, small_cfg(w=12, m=11))
    v = s.values
    pers = [v[t] - v[t - 1] for t in range(f.test_start, len(v))]
    seas = [v[t] - v[t - 11] for t in range(f.test_start, len(v))]
    sc = f.scores()
    assert sc["persistence"]["holdout"] == pytest.approx(math.sqrt(sum(e * e for e in pers) / len(pers)))
    assert sc["seasonal"]["holdout"] == pytest.approx(math.sqrt(sum(e * e for e in seas) / len(seas)))
    for k in ("persistence", "seasonal"):  # nothing is trained: every split gives the same error
        assert sc[k]["walk"] == sc[k]["holdout"] == sc[k]["random"]


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme, k, slide", [("expanding", 1, None), ("expanding", 7, None), ("sliding", 5, 20),
                                              ("sliding", 13, 3), ("expanding", 1000, None)])
def test_walk_forward_never_trains_at_or_after_what_it_predicts(scheme, k, slide):
    f = fc.Forecast(S.sunspots(), small_cfg(w=12, m=11, k=k, scheme=scheme, slide=slide))
    covered = []
    for fold in f.wf_folds:  # every fold
        train_t, test_t = f.t[fold.train], f.t[fold.test]
        assert len(train_t) and train_t.max() < test_t.min()  # targets trained on: all before the first predicted
        assert (f.t[fold.train] - 1).max() < test_t.min()  # and so are their windows' inputs
        if scheme == "sliding":
            assert len(fold.train) == min(slide, fold.test[0])
        covered += list(fold.test)
    assert covered == list(range(f.j_test, len(f.t)))  # the whole test period, once


def test_the_random_split_trains_on_the_future_and_covers_the_test_period_once():
    f = fc.Forecast(S.sunspots(), small_cfg(w=12, m=11))
    assert any(f.t[fold.train].max() > f.t[fold.test].min() for fold in f.rs_folds if len(fold.test))
    held = sorted(j for fold in f.rs_folds for j in fold.test)
    assert held == list(range(f.j_test, len(f.t)))
    for fold in f.rs_folds:
        assert not set(fold.train) & set(fold.test)


def test_neural_walk_forward_batches_only_come_from_the_past_and_every_phase_finishes():
    f = fc.Forecast(S.sunspots(), small_cfg(w=12, m=11, k=15))
    seen = []
    with pytest.raises(fc.Finished):
        for _ in range(10_000):
            f.step()
            if f.phase == "walk":
                fold = f.wf_folds[f.fold]
                assert f.t[f._wf_pool.numpy()].max() < f.t[fold.test].min()
                seen.append(f.fold)
    assert sorted(set(seen)) == list(range(len(f.wf_folds)))
    sc = f.scores()
    for k in fc.METHODS:
        for split in ("holdout", "walk", "random"):
            assert math.isfinite(sc[k][split]), (k, split)


def test_walk_forward_neural_forecast_of_a_fold_is_the_model_after_that_folds_training():
    f = fc.Forecast(S.sunspots(), small_cfg(w=12, m=11, k=30))
    while not (f.phase == "walk" and f.fold == 1):
        f.step()
    fold = f.wf_folds[0]
    m = f.walk_models["gru"]  # it has trained on fold 1 for 0 steps: still the fold-0 model
    with torch.no_grad():
        ref = m(torch.tensor(f.X[fold.test], dtype=torch.float32)[:, :, None])[:, -1, 0].double().numpy()
    np.testing.assert_allclose(f.walk.pred["gru"][fold.test - f.j_test], f.norm.invert(ref), rtol=1e-5)
    assert np.isnan(f.walk.pred["gru"][f.wf_folds[1].test - f.j_test]).all()


# -- forecasting further ----------------------------------------------------------------------
def test_recursive_forecast_at_horizon_1_is_the_one_step_forecast():
    f = fc.Forecast(S.sunspots(), small_cfg(w=12, m=11))
    for _ in range(5):
        f.step()
    one = f.holdout_predictions()
    fns = f.step_fns()
    origins = f.t[f.j_test:]
    for k, fn in fns.items():
        free = f.norm.invert(fc.recursive(fn, f.z, origins, 1, f.t0)[:, 0])
        np.testing.assert_allclose(free, one[k], rtol=1e-5, atol=1e-6, err_msg=k)
    he = f.horizon_errors(5)
    for k in fns:
        assert he[k]["free"][0] == pytest.approx(he[k]["forced"][0])


def test_recursive_feeds_its_own_predictions_back():
    v = S.sunspots().values
    coef = fc.fit_ar(*S.windows(v, 2)[:2])
    o = 200
    p1 = coef[0] + coef[1] * v[o - 2] + coef[2] * v[o - 1]
    p2 = coef[0] + coef[1] * v[o - 1] + coef[2] * p1
    p3 = coef[0] + coef[1] * p1 + coef[2] * p2
    got = fc.recursive(lambda b: fc.ar_predict(coef, b[:, -2:]), v, [o], 3, 2)[0]
    np.testing.assert_allclose(got, [p1, p2, p3])
    f = fc.Forecast(S.sunspots(), small_cfg(w=12, m=11))
    pers = f.horizon_errors(4)["persistence"]["free"]  # free-running persistence repeats x_(o-1)
    origins = f.horizon_origins(4)
    by_hand = [math.sqrt(np.mean([(v[o + h] - v[o - 1]) ** 2 for o in origins])) for h in range(4)]
    np.testing.assert_allclose(pers, by_hand)


def test_presets_follow_the_device():
    assert fc.preset_config("cpu").hidden < fc.preset_config("cuda").hidden
    assert fc.preset_config("cpu", w=5).w == 5


def test_tcn_sees_the_whole_window():
    from seqviz.probes.receptive import receptive_field

    for w in (1, 2, 12, 52, 60):
        d = fc.tcn_dilations(w)
        assert receptive_field(3, d) >= w and (len(d) == 1 or receptive_field(3, d[:-1]) < w)
