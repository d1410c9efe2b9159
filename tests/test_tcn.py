"""TCN and receptive fields: analytic sets and counts against autograd, brute force and the task data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from seqviz.data.tasks import get_task
from seqviz.models.tcn import TCNConfig, build_tcn, count_parameters, doubling
from seqviz.probes import receptive as R
from seqviz.experiments.gradflow import RecurrentSetup, recurrent_run
from seqviz.training import TrainConfig

SCHEDULES = [(1,), (1, 2, 4), (2, 2), (1, 4), (3, 1, 5), (1, 2, 4, 8), (4, 4, 1)]


def _grad_lags(cfg: TCNConfig, seed: int = 0):
    m = build_tcn(cfg, seed)
    span = R.receptive_field(cfg.kernel_size, cfg.dilations, cfg.convs_per_block)
    T, t = 2 * span + 6, span + 2  # room on both sides: no padding truncates the set
    return R.empirical_lags(R.input_gradient(m, T, t, seed=seed + 1), t), T, t


@pytest.mark.parametrize("padding", ["causal", "centred"])
@pytest.mark.parametrize("cpb", [1, 2])
def test_analytic_receptive_field_equals_autograd(padding, cpb):
    for k, dil in itertools.product([1, 2, 3, 4, 5], SCHEDULES):
        cfg = TCNConfig(n_in=3, n_out=2, channels=8, kernel_size=k, dilations=dil, convs_per_block=cpb,
                        padding=padding)
        emp, _, _ = _grad_lags(cfg)
        ana = R.dependency_lags(k, dil, cpb, padding)
        assert np.array_equal(emp, ana), (k, dil, cpb, padding)
        # the count: span of the set, by direct count of convolution taps
        assert emp.max() - emp.min() + 1 == R.receptive_field(k, dil, cpb)
        if padding == "causal":
            assert emp.min() == 0


def test_holes_are_real_blind_spots():
    # k=2 with dilations 1, 4: lags {0, 1, 4, 5}; inputs 2 and 3 steps back are never read
    cfg = TCNConfig(n_in=1, channels=8, kernel_size=2, dilations=(1, 4))
    emp, _, _ = _grad_lags(cfg)
    assert set(emp.tolist()) == {0, 1, 4, 5}
    assert R.holes(R.dependency_lags(2, (1, 4))).tolist() == [2, 3]
    assert R.holes(R.dependency_lags(3, doubling(5))).size == 0  # doubling with k >= 2 leaves none


@pytest.mark.parametrize("padding,cpb,t", [("causal", 1, 3), ("causal", 2, 39), ("centred", 1, 2),
                                           ("centred", 2, 37)])
def test_diagram_inputs_match_autograd_at_any_position(padding, cpb, t):
    k, dil, T = 3, (1, 2, 4), 40
    cfg = TCNConfig(n_in=2, channels=8, kernel_size=k, dilations=dil, convs_per_block=cpb, padding=padding)
    grad = R.input_gradient(build_tcn(cfg, 3), T, t, seed=4)
    diag = R.dependency_diagram(k, dil, cpb, padding, T, t)
    assert diag.active[0].tolist() == np.flatnonzero(grad).tolist()  # truncated by the sequence's ends too
    assert len(diag.active) == len(dil) * cpb + 1
    assert all((r1 - r2) == 1 for r1, _, r2, _ in diag.conv_edges)


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_doubling_closed_form_and_the_lectures_formula(k):
    for l_ in range(1, 9):
        exact = R.receptive_field(k, doubling(l_))
        assert exact == 1 + (k - 1) * (2 ** l_ - 1)
        assert R.receptive_field(k, doubling(l_), 2) == 1 + 2 * (k - 1) * (2 ** l_ - 1)
        lecture = R.lecture_receptive_field(k, l_)
        assert lecture - exact == k - 2  # equal only for k = 2


def _brute_layers(N, k, c, exact):
    l_ = 0
    while (R.receptive_field(k, doubling(l_), c) if exact else R.lecture_receptive_field(k, l_)) < N:
        l_ += 1
    return l_


def test_layers_needed_matches_brute_force():
    for N, k, c in itertools.product([1, 2, 3, 7, 64, 100, 127, 128, 129, 1000, 22050, 24571, 24576],
                                     [2, 3, 7], [1, 2]):
        got = R.layers_needed(N, k, c)
        assert got["exact_layers"] == _brute_layers(N, k, c, True), (N, k, c)
        assert got["lecture_layers"] == _brute_layers(N, k, 1, False), (N, k)
        assert got["exact_R"] >= N


def test_wavenet_example_from_the_lecture():
    got = R.layers_needed(22050, 7)
    assert math.isclose(got["lecture_log2"], math.log2(3675))  # 22050 / 6 = 3675
    assert got["lecture_layers"] == 12 and got["exact_layers"] == 12
    assert R.layers_needed(22050, 7, 2)["exact_layers"] == 11  # two convolutions per block
    # just below 2^l (k-1) the formulas part: the lecture says 12 layers, 12 layers see only 24571
    tricky = R.layers_needed(24576, 7)
    assert tricky["lecture_layers"] == 12 and tricky["exact_layers"] == 13


@pytest.mark.parametrize("padding", ["causal", "centred"])
def test_future_inputs_never_move_earlier_outputs(padding):
    cfg = TCNConfig(n_in=3, n_out=2, channels=8, kernel_size=3, dilations=(1, 2, 4), convs_per_block=2,
                    padding=padding)
    m = build_tcn(cfg, 0)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(4, 50, 3, generator=gen)
    for t in (0, 10, 31, 48):
        x2 = x.clone()
        x2[:, t + 1:] = torch.randn(x2[:, t + 1:].shape, generator=gen)
        with torch.no_grad():
            y, y2 = m(x), m(x2)
        moved_before = not torch.equal(y[:, : t + 1], y2[:, : t + 1])
        assert moved_before == (padding == "centred")
        assert not torch.equal(y[:, t + 1:], y2[:, t + 1:])
        d = R.causality_check(m, 50, t, seed=t)
        assert (d[: t + 1].max() == 0) == (padding == "causal")


@pytest.mark.parametrize("cfg", [TCNConfig(), TCNConfig(n_in=10, n_out=10, channels=16, convs_per_block=2),
                                 TCNConfig(n_in=16, channels=16, kernel_size=2, dilations=(1, 1, 3)),
                                 TCNConfig(n_in=2, channels=16, kernel_size=3, dilations=doubling(6)),
                                 TCNConfig(n_in=1, n_out=4, channels=5, kernel_size=7, dilations=(256,),
                                           convs_per_block=2)])
def test_parameter_count_from_the_config(cfg):
    real = count_parameters(build_tcn(cfg, 0))
    assert R.tcn_param_count(cfg) == real
    assert R.tcn_params(cfg.n_in, cfg.n_out, cfg.channels, cfg.kernel_size, len(cfg.dilations),
                        cfg.convs_per_block) == real


@pytest.mark.parametrize("cfg", [TCNConfig(n_in=2, channels=16, kernel_size=3, dilations=doubling(6)),
                                 TCNConfig(n_in=10, n_out=10, channels=16, kernel_size=2, dilations=doubling(4),
                                           convs_per_block=2),
                                 TCNConfig(n_in=2, channels=16, kernel_size=5, dilations=(1,) * 4),
                                 TCNConfig(n_in=2, channels=16, kernel_size=2, dilations=(1, 4, 16))])
def test_every_curve_counts_real_networks_and_this_design_passes_through_its_own_point(cfg):
    curves = R.param_curves(cfg, 300)
    rf = R.receptive_field(cfg.kernel_size, cfg.dilations, cfg.convs_per_block)
    this = dict(zip(*curves[R.THIS_DESIGN]))
    assert this[rf] == count_parameters(build_tcn(cfg, 0))  # the star lies on its curve
    kind, d = R.design_dilations(cfg.dilations)
    for x, y in list(zip(*curves[R.THIS_DESIGN]))[:4]:  # each point: a real network, counted by PyTorch
        L = next(n for n in range(1, 400) if R.receptive_field(
            cfg.kernel_size, doubling(n) if kind == "doubling" else (d,) * n if kind == "constant" else
            cfg.dilations[:n], cfg.convs_per_block) == x)
        ds = doubling(L) if kind == "doubling" else (d,) * L if kind == "constant" else cfg.dilations[:L]
        assert y == count_parameters(build_tcn(TCNConfig(**{**cfg.__dict__, "dilations": ds}), 0))
    for name, k, ds in (("dilated, k=3", 3, doubling(3)), ("undilated, k=3", 3, (1,) * 5)):
        x, y = curves[name]
        real = TCNConfig(**{**cfg.__dict__, "kernel_size": k, "dilations": ds})
        rf_real = R.receptive_field(k, ds, cfg.convs_per_block)
        if rf_real in x:
            assert y[x.index(rf_real)] == count_parameters(build_tcn(real, 0))
    x, y = curves["one layer, kernel k"]
    one = TCNConfig(**{**cfg.__dict__, "kernel_size": x[3], "dilations": (1,), "convs_per_block": 1})
    assert y[3] == count_parameters(build_tcn(one, 0)) and x[3] == R.receptive_field(x[3], (1,))
    assert all(xs[-1] >= 300 for n, (xs, _) in curves.items() if n != R.THIS_DESIGN)


def test_dilation_is_cheaper_than_a_big_kernel_for_the_same_reach():
    curves = R.param_curves(TCNConfig(n_in=16, channels=16), 128)
    rf_d, pc_d = curves["dilated, k=2"]
    rf_b, pc_b = curves["one layer, kernel k"]
    assert rf_d[-1] >= 128
    big = R.tcn_params(16, 1, 16, 128, 1)  # one convolution with kernel 128
    assert pc_d[-1] < big and (128 not in rf_b or pc_b[rf_b.index(128)] == big)


def test_build_is_seeded_and_leaves_global_rng_alone():
    cfg = TCNConfig(channels=8)
    state = torch.random.get_rng_state()
    a, b, c = build_tcn(cfg, 1), build_tcn(cfg, 1), build_tcn(cfg, 2)
    assert torch.equal(state, torch.random.get_rng_state())
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_trains_beside_recurrent_models_in_run():
    task = get_task("copy")
    cfg = TCNConfig(n_in=task.n_in, n_out=task.n_out, channels=8)
    m = build_tcn(cfg, 0)
    x = torch.zeros(2, 33, task.n_in)
    assert m(x).shape == (2, 33, task.n_out) and torch.equal(m(x, tbptt=5), m(x))
    setup = RecurrentSetup(task, 13, None, None, torch.device("cpu"))
    run = recurrent_run({"tcn": m}, setup, TrainConfig(batch_size=4))
    run.step()
    assert len(run.history["tcn"].loss) == 1 and math.isfinite(run.history["tcn"].loss[0])


def test_required_reach_of_copy_memory_from_the_data():
    task, T = get_task("copy"), 17
    b = task.sample(64, T, torch.Generator().manual_seed(0))
    tokens = b.x.argmax(-1)  # (B, T + 20)
    recall = torch.nonzero(b.y[0]).flatten()  # steps whose target is a digit
    lag = int(recall[0]) - 0  # first digit (step 0) is recalled here
    assert torch.equal(b.y[:, recall], tokens[:, : task.n_copy])
    assert R.required_reach("copy", T) == lag + 1 == T + 11
    assert R.unseen_floor("copy", T, T + 11) == 0
    assert math.isclose(R.unseen_floor("copy", T, T + 10), task.baseline_loss(T))


@pytest.mark.parametrize("reach", [30, 64, 75, 100])
def test_adding_floor_matches_a_monte_carlo_of_the_best_blind_guess(reach):
    task, T = get_task("adding"), 100
    b = task.sample(40_000, T, torch.Generator().manual_seed(1))
    vals, keys = b.x[..., 0], b.key_positions  # (B, T), (B, 2)
    seen = keys >= T - reach  # the last output sees steps T - reach .. T-1
    picked = torch.gather(vals, 1, keys)  # (B, 2)
    guess = torch.where(seen, picked, torch.full_like(picked, 0.5)).sum(1)  # unseen value -> its mean
    mc = float(((guess - b.y) ** 2).mean())
    assert abs(mc - R.unseen_floor("adding", T, reach)) < 0.004


def test_bad_configs_say_what_to_do():
    with pytest.raises(ValueError, match="at least one"):
        build_tcn(TCNConfig(dilations=()), 0)
    with pytest.raises(ValueError, match="convs_per_block"):
        build_tcn(TCNConfig(convs_per_block=3), 0)
    with pytest.raises(ValueError, match="kernel size 1"):
        R.layers_needed(100, 1)


def test_race_steps_the_least_compute_model_and_ends_by_itself():
    from seqviz.experiments.race import ALL_FINISHED, BUDGET, RACE_PRESETS, DEFAULT_RACE, Race
    from seqviz.training import Finished
    from tests.conftest import eventually
    import threading
    import time

    race = Race(RACE_PRESETS[DEFAULT_RACE], TCNConfig(dilations=doubling(3)))
    for _ in range(8):
        least = min(race.racing, key=race.own_seconds)
        n = {k: len(race.history(k)) for k in race.runs}
        race.step()
        assert [k for k in race.runs if len(race.history(k)) != n[k]] == [least] == [race.last]
    race.pause_clock()
    wall, t0 = race.wall, time.perf_counter()
    assert eventually(lambda: time.perf_counter() - t0 > 0.2, 2)  # a pause
    race.step()
    race.step()
    assert race.wall - wall < 0.2  # the pause is not the race's time
    race.preset.budget_s = race.wall + 0.3
    with pytest.raises(Finished, match=BUDGET):
        while True:
            race.step()
    assert race.wall >= race.preset.budget_s and "are up" in race.verdict("gru")
    # Race.train (benchmarks use it): the same ends, as words
    fresh = Race(RACE_PRESETS[DEFAULT_RACE], TCNConfig(dilations=doubling(3)))
    assert fresh.train(threading.Event(), lambda: None, budget_s=0.3) == "budget" and fresh.preset.budget_s == 60
    easy = Race(RACE_PRESETS[DEFAULT_RACE], TCNConfig(dilations=doubling(3)))
    easy.preset.target = 100.0
    assert easy.train(threading.Event()) == "all finished" and set(easy.finished) == set(easy.runs)
    with pytest.raises(Finished, match=ALL_FINISHED):
        easy.step()
