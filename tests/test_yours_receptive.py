"""The receptive-field view on a student's own module: seqviz.yours.receptive against brute force
(change one input position, see which outputs move, under torch.no_grad), the analytic set against
seqviz.probes.receptive's lag sets, the misfit sentences, and the yours(...) dashboard."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as Fn
from torch import nn

from seqviz.probes import receptive as R
from seqviz.yours.fit import DoesNotFit
from seqviz.yours.receptive import MAX_T, TRIALS, lag_ranges, measure
from tests.conftest import wait_for
from widgets.kit.yours import VOILA_NOTE, NotFit
from widgets.receptive_field import yours
from widgets.receptive_field.yours import YourReceptiveFieldDashboard

T = 40


def causal_stack(k=3, dilations=(1, 2, 4), C=2, H=6, seed=0):
    torch.manual_seed(seed)
    layers, c = [], C
    for d in dilations:
        layers += [nn.ConstantPad1d(((k - 1) * d, 0), 0.0), nn.Conv1d(c, H, k, dilation=d), nn.ReLU()]
        c = H
    return nn.Sequential(*layers, nn.Conv1d(H, 1, 1))


def centred_stack(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(2, 6, 3, padding="same"), nn.Tanh(), nn.Conv1d(6, 3, 5, padding=2))


class Residual(nn.Module):
    """x + conv2(relu(conv1(x))), causal, the padding done by F.pad in forward (not readable)."""

    def __init__(self, C=2, k=3, d=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.k, self.d = k, d
        self.conv1, self.conv2 = nn.Conv1d(C, C, k, dilation=d), nn.Conv1d(C, C, k, dilation=d)

    def forward(self, x):
        p = (self.k - 1) * self.d
        h = torch.relu(self.conv1(Fn.pad(x, (p, 0))))
        return x + self.conv2(Fn.pad(h, (p, 0)))


class Branches(nn.Module):
    """Two causal k=3 convolutions side by side, summed: the formula over both (5) overstates the span (3)."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.a, self.b = nn.Conv1d(2, 4, 3), nn.Conv1d(2, 4, 3)

    def forward(self, x):
        x = Fn.pad(x, (2, 0))
        return self.a(x) + self.b(x)


def brute_support(model, C, T, trials=4, seed=5):
    """(T, T) bool [t, s]: does output t move when input s alone changes (any trial, any channel)?"""
    g = torch.Generator().manual_seed(seed)
    model.eval()
    x = torch.randn(trials, C, T, generator=g)
    out = np.zeros((T, T), dtype=bool)
    with torch.no_grad():
        y = model(x)
        for s in range(T):
            x2 = x.clone()
            x2[:, :, s] += torch.randn(trials, C, generator=g) * 3
            out[:, s] = (model(x2) - y).abs().amax(dim=(0, 1)).numpy() > 0
    return out


def one_sentence(text):
    assert text.strip() and "\n" not in text and "Traceback" not in text
    assert text.count(". ") <= 2, text  # one sentence (a hint may follow, as in test_yours_fit)


# -- measured = brute force ------------------------------------------------------------------

def wide_out(seed=0):  # 5 output channels x T = 40: 200 (t, c') pairs, more than one pass
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(2, 8, 3, padding=2, dilation=2), nn.ReLU(), nn.Conv1d(8, 5, 3, padding=1))


def batch_stats(seed=0):  # batch statistics even in eval mode: items are not independent (the vmap path)
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.BatchNorm1d(3, track_running_stats=False))


@pytest.mark.parametrize("build, C", [(causal_stack, 2), (centred_stack, 2), (Residual, 2),
                                      (lambda: causal_stack(k=2, dilations=(1, 4)), 2), (wide_out, 2),
                                      (batch_stats, 2)],
                         ids=["causal", "centred", "residual", "holes", "several passes", "batch statistics"])
def test_measured_support_is_brute_force(build, C):
    model = build()
    r = measure(model, T=T)
    assert r.channels == C
    np.testing.assert_array_equal(r.support, brute_support(model, C, T))


def test_causal_stack_counts_and_lags_match_the_lesson_formulas():
    r = measure(causal_stack(), T=T)
    assert r.causal and r.offending is None
    assert r.size == r.span == R.receptive_field(3, (1, 2, 4)) == 15
    np.testing.assert_array_equal(r.lag_set, R.dependency_lags(3, (1, 2, 4), residual=False))
    np.testing.assert_array_equal(r.lags(T - 1), np.arange(15))
    np.testing.assert_array_equal(r.lags(3), np.arange(4))  # cut by the start of the sequence
    agree, sentence = r.agreement()
    assert agree is True and "agree at every output" in sentence and "= 15" in sentence


def test_holes_are_the_skipped_lags():
    r = measure(causal_stack(k=2, dilations=(1, 4)), T=T)
    lags = R.dependency_lags(2, (1, 4), residual=False)  # {0, 1, 4, 5}
    np.testing.assert_array_equal(r.lag_set, lags)
    np.testing.assert_array_equal(r.holes, R.holes(lags))
    assert r.span == R.receptive_field(2, (1, 4)) == 6 and r.size == 4
    assert r.agreement()[0] is True and lag_ranges(r.lag_set) == "0–1, 4–5"


def test_analytic_set_equals_brute_force_for_plain_stacks():
    for model in (causal_stack(), centred_stack(), causal_stack(k=2, dilations=(1, 4)),
                  nn.Sequential(nn.ConstantPad1d((3, 1), 0.0), nn.Conv1d(2, 3, 5))):
        r = measure(model, T=T)
        assert r.analytic.support is not None
        np.testing.assert_array_equal(r.analytic.support, brute_support(model, 2, T))


def test_residual_block_is_not_plain_and_the_formula_is_checked_not_assumed():
    r = measure(Residual(k=3, d=2), T=T)
    assert r.analytic.support is None and r.analytic_positions(5) is None
    agree, sentence = r.agreement()
    assert r.span == 1 + 2 * 2 * 2 and agree is True  # skip adds lag 0, which the convs already read
    assert sentence.startswith("Not a plain nn.Conv1d stack (a Residual)") and "they agree here" in sentence


def test_branches_make_the_formula_differ_and_it_says_so():
    r = measure(Branches(), T=T)
    assert r.span == 3 == brute_support(Branches(), 2, T)[T - 1].sum()
    agree, sentence = r.agreement()
    assert agree is False and r.analytic.formula == 5
    assert "gives 5" in sentence and "measured span 3: they differ" in sentence
    one_sentence(sentence)


def test_a_plain_stack_with_a_zero_tap_says_they_differ_at_that_pair():
    model = nn.Sequential(nn.ConstantPad1d((2, 0), 0.0), nn.Conv1d(1, 1, 3, bias=False))
    with torch.no_grad():
        model[1].weight[:] = torch.tensor([[[0.0, 1.0, 2.0]]])  # the tap on x_(t-2) is exactly 0
    r = measure(model, T=T)
    np.testing.assert_array_equal(r.support, brute_support(model, 1, T))
    agree, sentence = r.agreement()
    assert agree is False and "output t = 2 reads input s = 0" in sentence and "They differ" in sentence


def test_causality_check_names_the_first_offending_pair():
    model = nn.Sequential(nn.ConstantPad1d((1, 3), 0.0), nn.Conv1d(2, 2, 5, dilation=1))  # peeks 3 ahead
    r = measure(model, T=T)
    brute = brute_support(model, 2, T)
    future = np.argwhere(np.triu(brute, 1))
    assert r.offending == (int(future[0][0]), int(future[0][1])) == (0, 1)
    assert not r.causal and -r.lag_set.min() == 3
    assert r.causal_sentence().startswith("Not causal: output t = 0 reads input s = 1, 1 step in its future")


# -- restored ----------------------------------------------------------------------------------

class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x):
        self.conv(x)
        raise RuntimeError("my bug")


@pytest.mark.parametrize("model", [causal_stack(), Raises()], ids=["measures", "forward raises"])
def test_mode_grads_and_hooks_are_restored(model):
    model.train()
    p = next(model.parameters())
    g = torch.ones_like(p)
    p.grad = g
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        measure(model, T=T)
    except DoesNotFit as e:
        assert str(e) == "Your module's forward raised RuntimeError: my bug."
    assert model.training and all(m.training for m in model.modules())
    assert p.grad is g and all(q.grad is None for q in list(model.parameters())[1:])
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# -- misfits -----------------------------------------------------------------------------------

class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y, y.mean()


@pytest.mark.parametrize("make, kwargs, words", [
    (lambda: "not a model", {}, "it was given a str"),
    (lambda: nn.Conv1d(4, 8, 8), {}, f"maps ({TRIALS}, 4, 64) to ({TRIALS}, 8, 57)"),
    (lambda: nn.Sequential(nn.Conv1d(4, 8, 3, padding=1), nn.Flatten()), {},
     f"maps ({TRIALS}, 4, 64) to ({TRIALS}, 512)"),
    (lambda: nn.Conv1d(4, 8, 3, padding=1), {"channels": 3}, "takes 4 input channels, but channels=3"),
    (TupleOut, {}, "returns a tuple of 2"),
    (lambda: nn.Conv1d(4, 8, 3, padding=1, device="meta"), {}, "'meta' device"),
    (Raises, {}, "forward raised RuntimeError: my bug"),
    (lambda: nn.Conv1d(4, 8, 3, padding=1), {"T": MAX_T + 1}, f"from 2 to {MAX_T}"),
    (lambda: nn.Linear(64, 64), {}, "pass channels="),
])
def test_each_misfit_is_one_sentence(make, kwargs, words):
    with pytest.raises(DoesNotFit) as e:
        measure(make(), **kwargs)
    assert words in str(e.value), str(e.value)
    one_sentence(str(e.value))


# -- the dashboard -----------------------------------------------------------------------------

def student_model():
    return causal_stack(k=3, dilations=(1, 2), C=1, H=4)


def data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(16, 1, 32, generator=g)
    return x, torch.roll(x, 2, dims=-1)


def seen(d, pane_trace="row_heat"):
    tr = next(t for t in d.panes["row"].figure.data if t.meta == pane_trace)
    return [i for i, v in enumerate(tr.z[0]) if v is not None]


@pytest.fixture
def dash():
    model = student_model()
    d = yours(model, T=T, batches=data(), lr=1e-2)
    assert isinstance(d, YourReceptiveFieldDashboard), getattr(d, "sentence", d)
    yield d, model
    d.close_worker()


def test_view_builds_and_the_slider_shows_that_row(dash):
    d, model = dash
    brute = brute_support(copy.deepcopy(model), 1, T)
    assert seen(d) == list(np.flatnonzero(brute[T - 1]))
    analytic = next(t for t in d.panes["row"].figure.data if t.meta == "row_analytic")
    assert list(analytic.x) == list(np.flatnonzero(brute[T - 1]))
    d.c["t"].value = 4
    assert d.state.t == 4 and seen(d) == list(np.flatnonzero(brute[4])) == [0, 1, 2, 3, 4]
    cursor = next(t for t in d.panes["map"].figure.data if t.meta == "map_cursor")
    assert list(cursor.y) == [4, 4]
    heat = next(t for t in d.panes["map"].figure.data if t.meta == "map_heat")
    np.testing.assert_array_equal(np.array([[v is not None for v in row] for row in heat.z]), brute)
    assert "reads <b>5 inputs</b>" in d.readout.value and "✓ Causal" in d.readout.value
    assert [b.description for b in d.buttons.values()] == ["Train", "Pause", "One step", "Reset"]


def test_one_step_trains_and_measures_again_and_reset_restores(dash):
    d, model = dash
    w0 = {k: v.clone() for k, v in model.state_dict().items()}
    d.buttons["step"].click()
    assert d.run.steps == 1 and not all(torch.equal(w0[k], v) for k, v in model.state_dict().items())
    np.testing.assert_allclose(d.rmap.grad, measure(model, T=T).grad)  # the map is of the trained weights
    loss = next(t for t in d.panes["loss"].figure.data if t.meta == "loss_raw")
    assert list(loss.x) == [1] and loss.y[0] == pytest.approx(d.run.history["your model"].loss[0])
    assert d.status.text.startswith("One step: step 1")
    d.c["lr"].value = 0.05
    assert all(g["lr"] == 0.05 for g in d.run.opts["your model"].param_groups)
    d.buttons["reset"].click()
    assert d.run.steps == 0 and all(torch.equal(w0[k], v) for k, v in model.state_dict().items())


def test_train_and_pause(dash):
    d, _ = dash
    d.buttons["train"].click()
    assert wait_for(lambda: d.run.steps >= 3, 60)
    d.buttons["pause"].click()
    assert wait_for(lambda: not d.worker.running, 10)
    d._on_end("stopped")  # (the worker drew the last view already; drawing again changes nothing)
    loss = next(t for t in d.panes["loss"].figure.data if t.meta == "loss_raw")
    assert len(loss.x) == d.run.steps


def test_without_batches_it_only_measures():
    d = yours(centred_stack(), T=T)
    assert set(d.panes) == {"row", "map"} and not d.buttons and "lr" not in d.c
    assert "✗ Not causal: output t = 0 reads input s = 1" in d.readout.value
    d.close_worker()


def test_voila_gets_the_note_and_a_misfit_one_sentence(monkeypatch):
    bad = yours(nn.Conv1d(4, 8, 8))
    assert isinstance(bad, NotFit) and f"maps ({TRIALS}, 4, 64) to ({TRIALS}, 8, 57)" in bad.sentence
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    note = yours(student_model())
    assert isinstance(note, NotFit) and note.sentence == VOILA_NOTE


# -- the figure builders (pure) ----------------------------------------------------------------

def test_row_and_map_patches_hold_log10_of_the_map_on_one_scale():
    from seqviz.figures import yours_receptive as F

    g = np.array([[1.0, 0.0, 0.0], [10.0, 0.1, 0.0], [0.0, 100.0, 1.0]])
    row = F.row_patch(g, 1, [0, 1], full=True)["traces"]
    assert row["row_heat"]["z"] == [[1.0, -1.0, None]] and row["row_heat"]["customdata"] == [[1, 0, -1]]
    assert row["row_analytic"] == {"x": [0, 1], "y": [1, 1]} and row["row_self"]["x"] == [1.5, 1.5]
    assert F.row_patch(g, 0, None)["traces"]["row_analytic"] == {"x": [], "y": []}  # not a plain stack
    heat = F.map_patch(g)["traces"]["map_heat"]
    assert heat["z"] == [[0.0, None, None], [1.0, -1.0, None], [None, 2.0, 0.0]]
    assert (heat["zmin"], heat["zmax"]) == (row["row_heat"]["zmin"], row["row_heat"]["zmax"]) == (-1.0, 2.0)
    assert F.cursor_patch(2, 3)["traces"]["map_cursor"]["y"] == [2, 2]


def test_loss_patch_is_the_running_mean_of_the_last_window_steps():
    from seqviz.figures import yours_receptive as F

    losses = [float(v) for v in np.random.default_rng(0).random(30)]
    p = F.loss_patch(range(1, 31), losses, window=7)["traces"]
    expected = [np.mean(losses[max(0, i - 6): i + 1]) for i in range(30)]
    np.testing.assert_allclose(p["loss_mean"]["y"], expected)
    assert p["loss_raw"]["y"] == losses and p["loss_mean"]["x"] == list(range(1, 31))
