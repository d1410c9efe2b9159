"""Recurrent models, probes and the training loop, checked against independent computations."""

import math
import threading

import numpy as np
import pytest
import torch

from seqviz.data.tasks import get_task
from seqviz.experiments import PRESETS, GradFlowConfig, build_gradflow_run, per_step_gradient_norms
from seqviz.models.recurrent import RecurrentConfig, build_recurrent, cut_points, spectral_radius
from seqviz.probes.gates import belt_product, gate_trace, gate_traces
from seqviz.probes.gradients import probe_gradients

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def make(cell, act="tanh", task="adding", H=8, seed=0, **kw):
    t = get_task(task)
    cfg = RecurrentConfig(cell=cell, activation=act, n_in=t.n_in, hidden=H, n_out=t.n_out, **kw)
    return build_recurrent(cfg, seed=seed), t


def grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("cell,act", CELLS)
@pytest.mark.parametrize("tbptt", [None, 4])
def test_fused_and_unrolled_agree(cell, act, tbptt):
    model, task = make(cell, act)
    batch = task.sample(5, 13, torch.Generator().manual_seed(1))
    out_f = model(batch.x, tbptt=tbptt)
    task.loss(out_f, batch.y).backward()
    g_f = grads(model)
    model.zero_grad()
    tr = model.unrolled(batch.x, tbptt=tbptt)
    task.loss(tr.out, batch.y).backward()
    g_u = grads(model)
    torch.testing.assert_close(tr.out, out_f, rtol=1e-5, atol=1e-6)
    for n in g_f:
        torch.testing.assert_close(g_u[n], g_f[n], rtol=1e-4, atol=1e-6, msg=n)


@pytest.mark.parametrize("cell,act", CELLS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_states_equal_the_unrolled_pass(cell, act, dtype):
    """``states`` (the fused kernel, gates recomputed) against the step-by-step equations."""
    model, task = make(cell, act, H=6)
    batch = task.sample(3, 17, torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = model.unrolled(batch.x, dtype=dtype)
        got = model.states(batch.x, dtype=dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got.h, ref.h, **tol)
    torch.testing.assert_close(got.out, ref.out, rtol=1e-5, atol=1e-6)
    assert (got.c is None) == (ref.c is None) and set(got.gates) == set(ref.gates)
    if got.c is not None:
        torch.testing.assert_close(got.c, ref.c, **tol)
    for k in ref.gates:
        torch.testing.assert_close(got.gates[k], ref.gates[k], **tol)


@pytest.mark.parametrize("cell,act", CELLS)
@pytest.mark.parametrize("task_name", ["adding", "copy"])
@pytest.mark.parametrize("method", ["backward", "autograd"])
def test_probe_norms_equal_retain_grad_on_pytorch_kernel(cell, act, task_name, method):
    """Independent reference: PyTorch's own fused layer stepped one step at a time,
    with retain_grad() on every h_t (and c_t)."""
    model, task = make(cell, act, task_name)
    T = 6 if task_name == "copy" else 15
    batch = task.sample(4, T, torch.Generator().manual_seed(2))
    probe = probe_gradients(model, task, batch, dtype=torch.float32, method=method)
    model.zero_grad()
    state, hs, cs, outs = None, [], [], []
    for t in range(batch.x.shape[1]):
        _, state = model.rnn(batch.x[:, t:t + 1], state)  # state: h_n (1, B, H) or (h_n, c_n)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
        if isinstance(state, tuple):
            state[1].retain_grad()
            cs.append(state[1])
        outs.append(h.transpose(0, 1))  # (B, 1, H): the read-out uses this very h_t
    task.loss(model.head(torch.cat(outs, 1)), batch.y).backward()
    ref_h = torch.tensor([h.grad.norm().item() for h in hs])
    torch.testing.assert_close(torch.tensor(probe.h_norms, dtype=torch.float32), ref_h, rtol=1e-4, atol=1e-9)
    if cell != "lstm":
        assert probe.c_norms is None
        return
    # The fused kernel hides the path c_t -> h_t inside itself, so for dL/dc_t the
    # reference is the LSTM written out by hand here, with retain_grad() on every c_t.
    model.zero_grad()
    H = model.cfg.hidden
    h = c = torch.zeros(batch.x.shape[0], H)
    cs, outs = [], []
    for t in range(batch.x.shape[1]):
        z = batch.x[:, t] @ model.rnn.weight_ih_l0.T + model.rnn.bias_ih_l0 + h @ model.rnn.weight_hh_l0.T \
            + model.rnn.bias_hh_l0
        i, f, g, o = z[:, :H].sigmoid(), z[:, H:2 * H].sigmoid(), z[:, 2 * H:3 * H].tanh(), z[:, 3 * H:].sigmoid()
        c = f * c + i * g
        c.retain_grad()
        cs.append(c)
        h = o * c.tanh()
        outs.append(h[:, None])
    task.loss(model.head(torch.cat(outs, 1)), batch.y).backward()
    ref_c = torch.tensor([c.grad.norm().item() for c in cs])
    torch.testing.assert_close(torch.tensor(probe.c_norms, dtype=torch.float32), ref_c, rtol=1e-4, atol=1e-9)


def test_float64_probe_matches_float32_where_float32_is_representable():
    model, task = make("rnn", H=16, w_hh_radius=0.6)
    batch = task.sample(8, 40, torch.Generator().manual_seed(3))
    p32 = probe_gradients(model, task, batch, dtype=torch.float32)
    model.zero_grad()
    p64 = probe_gradients(model, task, batch, dtype=torch.float64)
    ok = p32.h_norms > 1e-30
    assert ok.sum() > 10
    assert (abs(p64.h_norms[ok] - p32.h_norms[ok]) <= 1e-3 * p64.h_norms[ok]).all()
    assert p64.h_norms[0] < 1e-3 * p64.h_norms[-1]  # the vanishing the lesson shows


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("method", ["backward", "autograd"])
def test_truncation_stops_gradient_beyond_k(cell, method):
    model, task = make(cell)
    T, k = 20, 6
    batch = task.sample(4, T, torch.Generator().manual_seed(4))
    p = probe_gradients(model, task, batch, tbptt=k, method=method)
    assert (p.h_norms[: T - k] == 0).all(), "no gradient may reach steps older than k"
    assert (p.h_norms[T - k:] > 0).all()
    if p.c_norms is not None:
        assert (p.c_norms[: T - k] == 0).all() and (p.c_norms[T - k:] > 0).all()


@pytest.mark.parametrize("cell,act", CELLS)
@pytest.mark.parametrize("task_name,tbptt", [("adding", None), ("copy", 3), ("recall", None)])
def test_the_written_out_backward_pass_equals_autograd_in_float64(cell, act, task_name, tbptt):
    model, task = make(cell, act, task_name, w_hh_radius=1.3 if cell == "rnn" else None)
    batch = task.sample(5, 25, torch.Generator().manual_seed(6))
    a = probe_gradients(model, task, batch, tbptt=tbptt, method="autograd")
    b = probe_gradients(model, task, batch, tbptt=tbptt, method="backward")
    np.testing.assert_allclose(b.h_norms, a.h_norms, rtol=1e-6, atol=0)  # (the autograd path's read-out is float32)
    if a.c_norms is not None:
        np.testing.assert_allclose(b.c_norms, a.c_norms, rtol=1e-6, atol=0)
    assert b.loss == pytest.approx(a.loss, rel=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_per_sequence_norms_add_up_and_give_each_sequence_its_own_ratio(cell):
    model, task = make(cell, H=6)
    batch = task.sample(4, 30, torch.Generator().manual_seed(8))
    p = probe_gradients(model, task, batch, per_sequence=True)
    np.testing.assert_allclose(np.sqrt((p.h_seq.astype(float) ** 2).sum(1)), p.h_norms, rtol=1e-5)
    for i in range(4):  # one sequence alone: the batch mean's gradient is 1/B of it, the ratio the same
        from seqviz.data.tasks import Batch

        one = probe_gradients(model, task, Batch(batch.x[i:i + 1], batch.y[i:i + 1], batch.key_positions[i:i + 1]))
        np.testing.assert_allclose(p.h_seq[:, i] * 4, one.h_norms, rtol=1e-5)
        if cell == "lstm":
            np.testing.assert_allclose(p.c_seq[:, i] * 4, one.c_norms, rtol=1e-5)


def test_cut_points():
    assert cut_points(10, None) == [] and cut_points(10, 10) == [] and cut_points(10, 30) == []
    assert cut_points(10, 3) == [1, 4, 7]
    assert cut_points(12, 4) == [4, 8]


def test_init_sets_spectral_radius_and_forget_bias():
    m, _ = make("rnn", H=24, w_hh_radius=1.5)
    assert spectral_radius(m.rnn.weight_hh_l0) == pytest.approx(1.5, rel=1e-5)
    m, _ = make("lstm", H=8, forget_bias=2.0)
    H = 8
    b = m.rnn.bias_ih_l0[H:2 * H] + m.rnn.bias_hh_l0[H:2 * H]
    torch.testing.assert_close(torch.sigmoid(b), torch.full((H,), 1 / (1 + math.exp(-2.0))))


def test_same_seed_same_weights_different_seed_different():
    a, _ = make("lstm", seed=5)
    b, _ = make("lstm", seed=5)
    c, _ = make("lstm", seed=6)
    for (n, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), n
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_seeded_runs_repeat_exactly():
    cfg = GradFlowConfig(T=20, hidden=8, probe_every=3)
    losses = []
    for _ in range(2):
        run = build_gradflow_run(cfg, device="cpu")
        for _ in range(8):
            run.step()
        losses.append({k: h.loss.tolist() for k, h in run.history.items()})
    assert losses[0] == losses[1]
    run = build_gradflow_run(GradFlowConfig(T=20, hidden=8, probe_every=3, seed=1), device="cpu")
    for _ in range(8):
        run.step()
    assert run.history["rnn"].loss.tolist() != losses[0]["rnn"]


def test_probing_does_not_change_training():
    """Probing measures; the update still comes from the fused pass, identical to a run without probes."""
    cfg = GradFlowConfig(T=15, hidden=8, optimizer="sgd", lr=0.1)
    runs = [build_gradflow_run(GradFlowConfig(**{**cfg.__dict__, "probe_every": pe}), device="cpu") for pe in (1, 0)]
    for r in runs:
        r.step()
    for name in runs[0].models:
        for pa, pb in zip(runs[0].models[name].parameters(), runs[1].models[name].parameters()):
            torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_clipping_bounds_the_norm_and_reports_before_and_after():
    cfg = GradFlowConfig(T=30, hidden=16, radius=1.5, optimizer="sgd", lr=0.05, clip=0.5, probe_every=0)
    run = build_gradflow_run(cfg, device="cpu")
    clipped = 0
    for _ in range(5):
        run.step()
        for name, m in run.models.items():
            h = run.history[name]
            direct = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in m.parameters()])).item()
            assert direct <= 0.5 * (1 + 1e-5)
            assert h.last("grad_norm_after") == pytest.approx(direct, rel=1e-5)
            clipped += h.last("grad_norm") > 0.5
    assert clipped > 0, "the test must exercise clipping"


EXPLODING = "Exploding: ρ = 2.5, plain SGD, no clipping"


def hand_loop_norms(model, x, y, task):
    """||dL/dh_t|| of a tanh RNN written out by hand in float64, retain_grad() on every h_t."""
    r = model.rnn
    W_ih, W_hh, b_ih, b_hh = (t.detach().double() for t in (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0))
    W_hh.requires_grad_()
    b = b_ih + b_hh  # summed in float64: at rho = 2.5 the states are chaotic, and a float32 sum (1e-8) grows ~1e6-fold
    h = torch.zeros(x.shape[0], W_hh.shape[0], dtype=torch.float64)
    hs = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t].double() @ W_ih.T + h @ W_hh.T + b)
        h.retain_grad()
        hs.append(h)
    out = torch.stack(hs, 1) @ model.head.weight.detach().double().T + model.head.bias.detach().double()
    task.loss(out, y.double()).backward()
    return np.array([h.grad.norm().item() for h in hs])


def test_exploding_preset_grows_backwards_through_time_at_init():
    cfg = PRESETS[EXPLODING]
    run = build_gradflow_run(cfg, device="cpu")
    m, task, b = run.models["rnn"], run.setup.task, run.setup.probe_batch
    ref = hand_loop_norms(m, b.x, b.y, task)
    assert ref[0] / ref[-1] > 1  # the gradient grows on its way back (measured: 6.6e6, seed 0)
    assert (ref[:10].mean() > ref[-10:].mean()) and cfg.T == len(ref) == 100
    np.testing.assert_allclose(probe_gradients(m, task, b).h_norms, ref, rtol=1e-6)  # what the dashboard shows
    assert spectral_radius(m.rnn.weight_hh_l0) == pytest.approx(2.5, rel=1e-5)


def test_exploding_preset_diverges_clipping_keeps_it_finite_and_k1_truncation_changes_the_outcome():
    base = PRESETS[EXPLODING]

    def train(**kw):
        run = build_gradflow_run(GradFlowConfig(**{**base.__dict__, "probe_every": 0, **kw}), device="cpu")
        return run, run.train(threading.Event(), max_steps=100)

    wild, why = train()
    assert why == "diverged: rnn"  # measured: NaN at step 27-34 over seeds 0-4
    tamed, why_clip = train(clip=1.0)
    assert why_clip == "max_steps" and all(np.isfinite(h.loss).all() for h in tamed.history.values())
    assert tamed.history["rnn"].grad_norm_after.max() <= 1.0 * (1 + 1e-5)
    short, why_k1 = train(tbptt=1)
    assert why_k1 == "max_steps" and all(np.isfinite(h.loss).all() for h in short.history.values())
    # the first update: through the recurrence ~1e6 (measured 1.7e6), with k = 1 ~10 (9.5)
    g_full, g_k1 = wild.history["rnn"].grad_norm[0], short.history["rnn"].grad_norm[0]
    assert g_full > 1e3 * g_k1


def test_stop_flag_is_honoured():
    run = build_gradflow_run(GradFlowConfig(T=10, hidden=4), device="cpu")
    stop = threading.Event()
    seen = []

    def cb(step):
        seen.append(step)
        if len(seen) == 3:
            stop.set()

    assert run.train(stop, cb) == "stopped"
    assert seen == [1, 2, 3] and run.steps == 3


def test_gate_trace_and_belt_product_follow_the_equations():
    model, task = make("lstm", H=6, forget_bias=1.0)
    batch = task.sample(1, 12, torch.Generator().manual_seed(7))
    tr = gate_trace(model, batch.x[0], key_step=2)
    f, i, g, o = (tr.gates[k] for k in "figo")
    c_prev = 0.0
    for t in range(12):  # c_t = f_t c_(t-1) + i_t g_t ; h_t = o_t tanh(c_t)
        c = f[t] * c_prev + i[t] * g[t]
        assert abs(c - tr.c[t]).max() < 1e-5
        assert abs(o[t] * torch.tanh(torch.tensor(c)).numpy() - tr.h[t]).max() < 1e-5
        c_prev = c
    prod = belt_product(tr, 2)
    assert abs(prod - f[3:].astype("float64").prod(axis=0)).max() < 1e-12
    assert sorted(tr.unit_order.tolist()) == list(range(6))


def test_per_step_gradient_norms_shows_vanishing_and_the_open_belt():
    rnn = per_step_gradient_norms(cell="rnn", T=60, radius=0.6)["dL/dh_t"]
    shut = per_step_gradient_norms(cell="lstm", T=60, forget_bias=0.0)["dL/dc_t"]
    open_ = per_step_gradient_norms(cell="lstm", T=60, forget_bias=3.0)["dL/dc_t"]
    assert rnn[0] / rnn[-1] < 1e-6
    assert open_[0] / open_[-1] > 1e3 * shut[0] / shut[-1]


def test_tasks_targets_and_baselines():
    g = torch.Generator().manual_seed(0)
    add = get_task("adding")
    b = add.sample(2000, 30, g)
    vals, marks = b.x[..., 0], b.x[..., 1]
    assert (marks.sum(1) == 2).all()
    assert (marks[:, :15].sum(1) == 1).all()
    torch.testing.assert_close(b.y, (vals * marks).sum(1))
    mse_const = ((b.y - 1.0) ** 2).mean().item()  # the input-blind best guess is the mean, 1
    assert mse_const == pytest.approx(add.baseline_loss(30), rel=0.1)
    copy = get_task("copy")
    b = copy.sample(3, 7, g)
    tok = b.x.argmax(-1)
    assert tok.shape == (3, 27)
    assert torch.equal(b.y[:, -10:], tok[:, :10]) and (b.y[:, :-10] == 0).all()
    assert (tok[:, -11:] == 9).all() and (tok[:, 10:-11] == 0).all()
    # The best input-blind predictor: certain 0 until the cue, uniform over 1..8 after it.
    logits = torch.full((3, 27, 10), -1e9)
    logits[:, :-10, 0] = 0
    logits[:, -10:, 1:9] = 0
    assert copy.loss(logits, b.y).item() == pytest.approx(copy.baseline_loss(7), rel=1e-5)
    rec = get_task("recall")
    b = rec.sample(50, 9, g)
    assert torch.equal(b.x[:, 0].argmax(-1), b.y) and (b.x[:, 1:].argmax(-1) >= rec.n_classes).all()


def test_adding_baselines_against_monte_carlo():
    """1/6 (input-blind) and 1/12 (only the second marked number remembered) against the best such
    predictors fitted on 200,000 sampled sequences."""
    task = get_task("adding")
    lines = {b.name: b for b in task.baselines(40)}
    assert list(lines) == ["input-blind", "second number only"]
    b = task.sample(200_000, 40, torch.Generator().manual_seed(11))
    y = b.y.double().numpy()
    vals, marks = b.x[..., 0].double().numpy(), b.x[..., 1].numpy()
    second = (vals * marks)[:, 20:].sum(1)  # the marked value in the second half
    e_blind = (y - y.mean()) ** 2  # the best constant
    A = np.stack([np.ones_like(second), second], 1)  # the best linear use of the second value (E[y|u2] is linear)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    e_second = (y - A @ coef) ** 2

    def within(e, value):  # four standard errors of the Monte Carlo mean
        return abs(e.mean() - value) < 4 * e.std() / np.sqrt(len(e))

    assert within(e_blind, lines["input-blind"].loss) and lines["input-blind"].loss == 1 / 6
    assert within(e_second, lines["second number only"].loss) and lines["second number only"].loss == 1 / 12
    assert coef[1] == pytest.approx(1, abs=0.01) and coef[0] == pytest.approx(0.5, abs=0.01)
    tol = task.tolerance
    assert (np.abs(y - second - 0.5) < tol).mean() == pytest.approx(lines["second number only"].accuracy, abs=0.003)
    assert (np.abs(y - 1) < tol).mean() == pytest.approx(lines["input-blind"].accuracy, abs=0.003)


@pytest.mark.parametrize("name", ["copy", "recall"])
def test_copy_and_recall_baselines_against_monte_carlo(name):
    """The input-blind baseline is the cross-entropy of the targets' own frequencies at each position
    (estimated from 50,000 sequences); neither task has a line in between (nothing near the end
    tells the answer)."""
    task = get_task(name)
    T = 12
    (blind,) = task.baselines(T)
    b = task.sample(50_000, T, torch.Generator().manual_seed(12))
    y = b.y if b.y.dim() == 2 else b.y[:, None]  # (N, positions scored)
    ce = 0.0
    for j in range(y.shape[1]):
        p = torch.bincount(y[:, j], minlength=task.n_out).double() / y.shape[0]
        ce += float(-(p[p > 0] * p[p > 0].log()).sum())
    ce /= y.shape[1]
    assert ce == pytest.approx(blind.loss, rel=2e-3) and blind.name == "input-blind"


def test_building_a_model_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    make("lstm", seed=3)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_batched_gate_traces_equal_one_sequence_at_a_time(cell):
    model, task = make(cell, H=6, forget_bias=1.0)
    batch = task.sample(4, 15, torch.Generator().manual_seed(3))
    keys = [0, 3, 7, 14]
    for b, tr in enumerate(gate_traces(model, batch.x, keys)):
        one = gate_trace(model, batch.x[b], key_step=keys[b])
        np.testing.assert_allclose(tr.h, one.h, atol=1e-6)
        for k in one.gates:
            np.testing.assert_allclose(tr.gates[k], one.gates[k], atol=1e-6)
        assert (tr.c is None) == (one.c is None)
        assert list(tr.unit_order[:3]) == list(one.unit_order[:3])
