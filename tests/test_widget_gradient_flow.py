"""The gradient-flow dashboard in plain pytest: controls, buttons, state, the timeline, what each
pane holds (compared with independent computations) and in which order panes are sent."""

import math
import re

import numpy as np
import pytest
import torch

from seqviz.experiments.gradflow import model_configs
from seqviz.models.recurrent import build_recurrent
from tests.conftest import wait_for, workers_alive
from tests.conftest import dashboard_trace as trace
from widgets.gradient_flow import GradientFlowDashboard, GradientFlowState, dashboard

FLOOR = 1e-40




def arr(v):
    return np.array(v, dtype=float)


@pytest.fixture
def dash():
    d = dashboard(T=20, hidden=8)
    yield d
    d.close_worker()


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Could not" not in d.status.text


def reference_norms(model, task, batch, tbptt=None):
    """||dL/dh_t|| by autograd on a hand-written loop over PyTorch's own fused layer, one step at a
    time with retain_grad() on every h_t (float64, independent of seqviz.probes)."""
    m = build_recurrent(model.cfg, seed=0).double()
    m.load_state_dict(model.state_dict())
    x = batch.x.double()
    T = x.shape[1]
    cuts = set() if not tbptt or tbptt >= T else set(range(T - tbptt, 0, -tbptt))
    state, hs, outs = None, [], []
    for t in range(T):
        if t in cuts:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        _, state = m.rnn(x[:, t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
        outs.append(h.transpose(0, 1))
    y = batch.y.double() if batch.y.is_floating_point() else batch.y
    task.loss(m.head(torch.cat(outs, 1)), y).backward()
    return np.array([h.grad.norm().item() for h in hs])


def test_opens_with_every_view_filled_against_autograd(dash):
    net = trace(dash, "graph_net")
    assert len(net.x) == 20 and arr(net.z).shape == (3, 20)  # RNN h_t, LSTM h_t, LSTM c_t
    assert list(dash.panes["graph"].figure.layout.yaxis.ticktext) == ["RNN h_t", "LSTM h_t", "LSTM c_t"]
    assert len(trace(dash, "belt_state").z) == 8  # H units shown
    assert len(trace(dash, "gate_0").z[0]) == 20
    assert len(trace(dash, "heat_rnn").z) == 1  # the untrained probe is the first row
    run = dash.run
    for tag, name in (("norm_rnn_h", "rnn"), ("norm_other_h", "lstm")):
        ref = reference_norms(run.models[name], run.setup.task, run.setup.probe_batch)
        np.testing.assert_allclose(arr(trace(dash, tag).y), np.maximum(ref, FLOOR), rtol=1e-6)
        row = 0 if name == "rnn" else 1
        np.testing.assert_allclose(arr(trace(dash, "graph_net").z)[row], np.log10(np.maximum(ref, FLOOR)), atol=1e-3)
    head = dash.children[0]
    assert any("Computing on" in getattr(w, "value", "") for w in head.children)
    assert [b.description for b in dash.buttons.values()] == ["Train", "Pause", "One step", "Reset"]
    assert dash.buttons["pause"].disabled and not dash.buttons["train"].disabled
    no_traceback(dash)


def test_changing_T_from_the_control_rebuilds_and_redraws(dash):
    dash.c["T"].value = 35
    assert dash.state.T == 35 and dash.run.setup.T == 35
    assert len(trace(dash, "graph_net").x) == 35 and len(trace(dash, "gate_0").z[0]) == 35
    assert list(dash.panes["graph"].figure.layout.xaxis.range) == [-1, 35]
    assert "rebuilt" in dash.status.text


@pytest.mark.parametrize("name,value,expect,said", [
    ("lr", float("nan"), 1e-2, "finite"), ("lr", 50.0, 1.0, "at most"), ("T", 10**6, 200, "at most"),
    ("T", -3, 10, "at least"), ("radius", float("nan"), 0.6, "finite"), ("seed", -1, 0, "at least"),
    ("clip", 0.0, 0.01, "at least"), ("task", "bogus", "adding", "Unknown"), ("other", "transformer", "lstm", "Unknown"),
    ("seq_index", 99, 7, "at most"), ("hidden", "abc", 32, "number"),
])
def test_bad_values_are_corrected_and_explained(name, value, expect, said):
    state = GradientFlowState()
    setattr(state, name, value)
    assert getattr(state, name) == expect
    assert said in state.corrections[name] and state.note == state.corrections[name]


def test_bad_settings_given_to_dashboard_are_said_on_the_status_line():
    d = dashboard(T=10**6, hidden=8, lr=float("nan"))
    try:
        assert d.state.T == 200 and d.run.setup.T == 200 and d.state.lr == 1e-2
        assert "Length T must be at most 200" in d.status.text and "Learning rate must be a finite" in d.status.text
        d.c["T"].value = 50  # a clean value clears what was said about the bad one
        assert "Length T must be" not in d.status.text and "Learning rate must be" in d.status.text
    finally:
        d.close_worker()


@pytest.mark.parametrize("control,forged", [("T", "abc"), ("other", 7), ("preset", 99), ("seed", "x")])
def test_a_forged_control_value_is_put_back_and_said_on_the_status_line(dash, control, forged):
    w = dash.c[control]
    before, sent = w.value, []
    w.send_state = lambda keys=None: sent.append(keys)
    key = "index" if control in ("other", "preset") else "value"
    w.set_state({key: forged})
    assert w.value == before and sent
    assert "cannot take" in dash.status.text
    no_traceback(dash)


def test_a_clean_value_clears_the_sentence_about_a_bad_one(dash):
    w = dash.c["lr"]
    w.set_state({"value": float("nan")})  # what a client could send
    assert math.isfinite(dash.state.lr) and w.value == dash.state.lr == 1e-2
    assert "finite" in dash.status.text
    w.value = 0.003
    assert dash.state.lr == pytest.approx(0.003) and "finite" not in dash.status.text


def test_train_twice_pause_step_reset(dash):
    b = dash.buttons
    b["train"].click()
    assert wait_for(lambda: dash.run.steps >= 3)
    assert b["train"].disabled and not b["pause"].disabled and b["step"].disabled
    dash.train()  # a second Train (a double click): said, never a pause
    assert "Already training; press Pause to stop." in dash.status.text and dash.worker.running
    b["pause"].click()
    assert wait_for(lambda: not dash.worker.running, 10)
    n = dash.run.steps
    assert f"Paused at step {n}" in dash.status.text
    assert not b["train"].disabled and b["pause"].disabled
    h = dash.run.history["rnn"]
    direct = [h.loss[max(0, i - 49):i + 1].mean() for i in range(len(h))]  # the mean of the last 50 steps
    np.testing.assert_allclose(arr(trace(dash, "loss_rnn").y), direct, rtol=1e-9)
    np.testing.assert_allclose(arr(trace(dash, "loss_rnn_raw").y), h.loss, rtol=1e-12)
    b["step"].click()
    assert dash.run.steps == n + 1 and len(trace(dash, "loss_other").x) == n + 1
    b["train"].click()  # resume continues the same run
    assert wait_for(lambda: dash.run.steps > n + 3)
    b["reset"].click()  # reset while training
    assert not dash.worker.running and dash.run.steps == 0 and workers_alive() == []
    assert len(trace(dash, "loss_rnn").x) == 0 and len(dash.timeline.snaps) == 1
    no_traceback(dash)


def test_training_refreshes_heatmap_curves_and_the_probe(dash):
    dash.run.cfg.probe_every = 2
    dash.buttons["train"].click()
    assert wait_for(lambda: dash.run.steps >= 12 and len(dash.refresh_times) >= 2)
    dash.buttons["pause"].click()
    assert wait_for(lambda: not dash.worker.running, 10)
    h = dash.run.history["rnn"]
    heat = trace(dash, "heat_rnn")
    assert len(heat.z) == len(h.probes) + 1  # every recorded probe, and the one measured at the pause
    assert list(heat.y[:-1]) == [s - 1 for s in h.probe_step]  # a probe runs before the update
    np.testing.assert_allclose(arr(heat.z[0]), np.round(np.log10(np.maximum(h.probes[0].h_norms, FLOOR)), 2))
    # after the pause the graph shows the weights as they are now
    run = dash.run
    ref = reference_norms(run.models["rnn"], run.setup.task, run.setup.probe_batch)
    np.testing.assert_allclose(arr(trace(dash, "norm_rnn_h").y), np.maximum(ref, FLOOR), rtol=1e-6)


def test_truncation_draws_cuts_and_kills_old_gradients(dash):
    dash.state.tbptt = 5
    dash.state.tbptt_on = True
    assert dash.run.setup.tbptt == 5
    cuts = [x for x in trace(dash, "graph_cuts").x if x is not None]
    assert sorted(set(cuts)) == [c - 0.5 for c in (5, 10, 15)]
    run = dash.run
    ref = reference_norms(run.models["rnn"], run.setup.task, run.setup.probe_batch, tbptt=5)
    assert (ref[:15] == 0).all() and (ref[15:] > 0).all()
    np.testing.assert_allclose(arr(trace(dash, "norm_rnn_h").y), np.maximum(ref, FLOOR), rtol=1e-6)


def test_clipping_shows_the_threshold_marks_the_change_and_applies_live(dash):
    dash.state.clip = 0.5
    dash.state.clip_on = True
    assert dash.run.cfg.clip == 0.5
    shapes = dash.panes["curves"].figure.layout.shapes
    assert any(s.label.text == "clip 0.5" and s.x0 == 0 for s in shapes)
    dash.buttons["step"].click()
    assert list(trace(dash, "gn_threshold").y) == [0.5, 0.5]
    direct = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in dash.run.models["rnn"].parameters()]))
    assert max(trace(dash, "gn_after_rnn").y) == pytest.approx(float(direct), rel=1e-5)
    assert float(direct) <= 0.5 * (1 + 1e-5)
    dash.state.lr = 0.003
    assert dash.run.opts["rnn"].param_groups[0]["lr"] == pytest.approx(0.003)
    newest = dash.panes["curves"].figure.layout.shapes[0]  # the newest marker comes first
    assert newest.label.text == "lr 3.0e-03" and newest.x0 == 1


def test_exploding_preset_shows_growth_backwards_then_diverges_with_one_sentence():
    d = dashboard(preset="Exploding: ρ = 2.5, plain SGD, no clipping")
    try:
        y = arr(trace(d, "norm_rnn_h").y)  # the untrained probe: larger at t = 0 than at t = T-1
        assert y[0] > y[-1] and "||W_hh||" not in d.status.text
        d.buttons["train"].click()
        assert wait_for(lambda: not d.worker.running, 60)
        assert "NaN or infinite" in d.status.text and "clipping" in d.status.text
        assert not d.buttons["train"].disabled
    finally:
        d.close_worker()


def numbers(html_text: str, label: str) -> float:
    """The bold number after ``label`` in an equation box."""
    text = re.sub(r"<(?!/?b>)[^>]+>", "", html_text)
    m = re.search(re.escape(label) + r"[^<]*?<b>([^<]+)</b>", text)
    assert m, (label, text)
    return float(m.group(1))


def test_the_equation_box_shows_rho_and_sigma_max_of_the_weights_it_describes(dash):
    def check(W):
        text = dash.eq_rnn.value
        rho = torch.linalg.eigvals(W.detach().double()).abs().max().item()
        sigma = torch.linalg.svdvals(W.detach().double())[0].item()
        assert numbers(text, "ρ(Whh) = ") == pytest.approx(rho, rel=6e-3)  # shown to 3 digits
        assert numbers(text, "σmax = ") == pytest.approx(sigma, rel=6e-3)  # shown to 3 digits
        assert ("must" in text) == (sigma < 1)
        return rho, sigma

    rho, sigma = check(dash.run.models["rnn"].rnn.weight_hh_l0)
    assert rho == pytest.approx(0.6, rel=1e-3) and sigma > rho  # the radius is not a norm
    assert "Steps t = 0 … T−1 = 19" in re.sub("<[^>]+>", "", dash.eq_rnn.value)
    dash.state.radius = 1.2
    check(dash.run.models["rnn"].rnn.weight_hh_l0)
    for _ in range(3):
        dash.buttons["step"].click()
    check(dash.run.models["rnn"].rnn.weight_hh_l0)
    dash.timeline.slider.value = 0  # the untrained snapshot
    check(dash.timeline.snaps[0][1]["rnn"]["rnn.weight_hh_l0"])
    p = dash.run.history["rnn"]  # measured ratio: of the probe shown
    ref = reference_norms(build_from(dash, "rnn", dash.timeline.snaps[0][1]), dash.run.setup.task,
                          dash.run.setup.probe_batch)
    assert numbers(dash.eq_rnn.value, "||∂L/∂hT−1|| = ") == pytest.approx(ref[0] / ref[-1], rel=6e-3)  # shown to 3 digits
    assert p is not None
    dash.state.task = "copy"
    assert "loss at every step" in dash.eq_rnn.value


def build_from(dash, name, snap):
    m = build_recurrent(model_configs(dash.state.config())[name], seed=0)
    m.load_state_dict(snap[name])
    return m


def hand_lstm_cell_grads(model, x, y, task):
    """||dL/dc_t|| of one sequence, the LSTM written out by hand in float64 with retain_grad() on
    every c_t (independent of seqviz.probes)."""
    r, H = model.rnn, model.cfg.hidden
    W_ih, W_hh = r.weight_ih_l0.detach().double(), r.weight_hh_l0.detach().double().requires_grad_()
    b = r.bias_ih_l0.detach().double() + r.bias_hh_l0.detach().double()
    h = c = torch.zeros(1, H, dtype=torch.float64)
    cs, hs = [], []
    for t in range(x.shape[0]):
        z = x[t:t + 1].double() @ W_ih.T + h @ W_hh.T + b
        i, f, g, o = z[:, :H].sigmoid(), z[:, H:2 * H].sigmoid(), z[:, 2 * H:3 * H].tanh(), z[:, 3 * H:].sigmoid()
        c = f * c + i * g
        c.retain_grad()
        cs.append(c)
        h = o * c.tanh()
        hs.append(h)
    out = torch.cat(hs)[None] @ model.head.weight.detach().double().T + model.head.bias.detach().double()
    yy = y[None].double() if y.is_floating_point() else y[None]
    task.loss(out, yy).backward()
    return np.array([c.grad.norm().item() for c in cs])


def test_the_belt_box_shows_the_belt_product_and_the_total_ratio_each_measured_its_own_way(dash):
    for _ in range(4):
        dash.buttons["step"].click()
    dash.c["seq_index"].value = 3
    run, i = dash.run, 3
    x, y = run.setup.probe_batch.x[i], run.setup.probe_batch.y[i]
    t0 = int(run.setup.probe_batch.key_positions[i][0])
    with torch.no_grad():
        f = run.models["lstm"].unrolled(x[None]).gates["f"][0].double().numpy()  # (T, H)
    prod = f[t0 + 1:].prod(axis=0)  # the belt: forget gates only
    top = int(trace(dash, "belt_state").y[0][1:])  # the first unit the belt view shows
    text = dash.eq_belt.value
    assert f"top unit (u{top}," in text and f"t<sub>0</sub> = {t0}" in text
    assert numbers(text, "it stores the token) ") == pytest.approx(prod[top], rel=6e-3)  # shown to 3 digits
    assert numbers(text, "median unit ") == pytest.approx(np.median(prod), rel=6e-3)  # shown to 3 digits
    g = hand_lstm_cell_grads(run.models["lstm"], x, y, run.setup.task)  # every path, by autograd
    assert numbers(text, "(backpropagation, every path): ") == pytest.approx(g[t0] / g[-1], rel=6e-3)  # shown to 3 digits
    assert abs(np.log10(g[t0] / g[-1]) - np.log10(np.median(prod))) > 0.1  # two different numbers


def test_presets_load_and_gru_relabels(dash):
    dash.state.preset = "Truncated BPTT (k = 20): the first token is out of reach"
    assert dash.state.tbptt_on and dash.state.tbptt == 20 and dash.state.T == 50 and dash.state.task == "recall"
    assert dash.run.setup.tbptt == 20 and dash.run.setup.T == 50
    dash.state.other = "gru"
    assert set(dash.run.models) == {"rnn", "gru"}
    assert trace(dash, "loss_other").name == "GRU" and trace(dash, "norm_other_h").name == "GRU h_t"
    assert arr(trace(dash, "graph_net").z).shape == (2, 50)  # a GRU has no cell state
    assert list(dash.panes["graph"].figure.layout.yaxis.ticktext) == ["RNN h_t", "GRU h_t"]
    assert len(trace(dash, "gate_3").z) == 0  # nor a fourth gate
    assert any("update gate" in a.text for a in dash.panes["gates"].figure.layout.annotations)
    assert any(a.text.startswith("GRU") for a in dash.panes["heat"].figure.layout.annotations)


def test_opening_twice_in_one_kernel_leaves_no_stray_thread(dash):
    dash.buttons["train"].click()
    assert wait_for(lambda: dash.run.steps >= 2)
    second = GradientFlowDashboard()
    try:
        assert not dash.worker.running
        second.buttons["train"].click()
        assert wait_for(lambda: second.run.steps >= 2)
        assert len(workers_alive()) == 1
    finally:
        second.close_worker()
    assert workers_alive() == []


def belt_reference(model, x, key):
    """c_t of one sequence from the unrolled pass (seqviz's belt view uses the fused kernel)."""
    with torch.no_grad():
        tr = model.unrolled(x[None])
    c, f = tr.c[0].numpy(), tr.gates["f"][0].numpy()
    return c, f


def test_belt_shows_the_current_model_on_the_picked_sequence(dash):
    run = dash.run
    for i, steps in ((2, 0), (5, 0), (5, 3), (1, 3)):
        while run.steps < steps:
            dash.buttons["step"].click()
        dash.c["seq_index"].value = i
        key = int(run.setup.probe_batch.key_positions[i][0])
        c, f = belt_reference(run.models["lstm"], run.setup.probe_batch.x[i], key)
        labels = list(trace(dash, "belt_state").y)
        units = [int(u[1:]) for u in labels]
        np.testing.assert_allclose(arr(trace(dash, "belt_state").z), c[:, units].T, atol=1e-4)  # shown to 4 decimals
        np.testing.assert_allclose(arr(trace(dash, "gate_0").z), f[:, units].T, atol=1e-4)
        assert [x for x in trace(dash, "belt_keys").x if x is not None][0] == key


def test_timeline_scrubs_every_view_back_and_leaves_the_live_model_alone(dash):
    dash.run.cfg.probe_every = 3
    for _ in range(25):
        dash.buttons["step"].click()
    tl_ = dash.timeline
    assert [s for s, _ in tl_.snaps] == list(range(26))  # One step records a snapshot each time
    live = {k: v.clone() for k, v in dash.run.models["lstm"].state_dict().items()}
    tl_.slider.value = 10
    step, snap = tl_.snaps[10]
    assert step == 10
    # curves: up to that step
    assert max(trace(dash, "loss_rnn").x) == step and len(trace(dash, "loss_rnn").x) == step
    # the per-step norms: the probe nearest that step (probes at 0, 3, 6, 9, 12 updates: 9)
    h = dash.run.history["rnn"]
    k = int(np.argmin(np.abs(np.array(h.probe_step) - 1 - step)))
    np.testing.assert_allclose(arr(trace(dash, "norm_rnn_h").y), np.maximum(h.probes[k].h_norms, FLOOR))
    assert "after 9 updates" in dash.panes["graph"].figure.layout.legend.title.text
    # heatmap: rows up to that step
    assert max(trace(dash, "heat_rnn").y) <= step
    # belt: the snapshot's weights, in a model of our own
    ref = build_recurrent(model_configs(dash.state.config())["lstm"], seed=0)
    ref.load_state_dict(snap["lstm"])
    i = dash.state.seq_index
    c, _ = belt_reference(ref, dash.run.setup.probe_batch.x[i], 0)
    units = [int(u[1:]) for u in trace(dash, "belt_state").y]
    np.testing.assert_allclose(arr(trace(dash, "belt_state").z), c[:, units].T, atol=1e-4)
    assert all(torch.equal(v, live[k]) for k, v in dash.run.models["lstm"].state_dict().items())
    assert f"step <b>{step}</b>" in dash.progress.value
    # back at the live end: the views follow training again
    tl_.slider.value = tl_.slider.max
    assert len(trace(dash, "loss_rnn").x) == dash.run.steps


def test_every_record_stops_growing(dash):
    """Kernel memory must not grow while training: every history and cache of the dashboard is
    bounded. Small caps here, so that a few hundred steps pass them."""
    from seqviz.training import History

    d = dash
    d.run.history = {k: History(cap=60, keep=20, probe_cap=6) for k in d.run.models}
    d.run.cfg.probe_every = 2
    d.timeline.max_snapshots, d.timeline.every = 6, 2
    d.refresh_times = type(d.refresh_times)(maxlen=30)
    d.gate.ready = lambda *a, **k: True  # every step refreshes every view (no rate limit)
    caps = {"history rnn": 60, "history lstm": 60, "probes rnn": 6, "probes lstm": 6, "refresh_times": 30,
            "timeline": 7, "events": 8, "viewers": 2, "pending": 5, "queue": 3, "probe cache": 2}
    seen = []
    while d.run.steps < 320:
        d._on_step(d._step())
        if d.run.steps % 10 == 0:
            seen.append(d.recorded_sizes())
    assert set(seen[-1]) == set(caps)
    for sizes in seen[4:]:  # from step 50 on, every record stays within its cap
        for k, v in sizes.items():
            assert v <= caps[k], (k, v, d.run.steps)
    late = [max(s[k] for s in seen[len(seen) // 2:]) for k in caps]
    early = [max(s[k] for s in seen[4:len(seen) // 2]) for k in caps]
    assert late <= early or all(x <= caps[k] for x, k in zip(late, caps))
    assert seen[-1]["refresh_times"] == 30 and seen[-1]["probes rnn"] == 6


class FakeBrowser:
    """Stands in for the page: records which pane each message went to; acknowledges on demand."""

    def __init__(self, d):
        self.sent = []
        self.panes = d.panes
        for name, p in d.panes.items():
            p._seen_view = True
            p.send = (lambda name: lambda msg, *a, **k: self.sent.append(name))(name)

    def ack(self, name):
        p = self.panes[name]
        p._on_msg(p, {"type": "drawn", "id": p._sent}, [])


def test_a_model_knob_sends_the_cheap_panes_first_and_one_heatmap_pane_at_a_time(dash):
    b = FakeBrowser(dash)
    dash.c["seed"].value = 3
    assert b.sent == ["graph"]  # the unrolled network (the empty curves did not change): no heatmap pane yet
    b.ack("graph")
    assert b.sent[1:] == ["belt"]
    b.ack("belt")
    assert b.sent[2:] == ["gates"]
    b.ack("gates")
    assert b.sent[3:] == ["heat"]
    b.ack("heat")
    assert len(b.sent) == 4
    b.sent.clear()
    dash.c["radius"].value = 0.9  # the LSTM is the same model as before: its belt and gates are not resent
    b.ack("graph")
    b.ack("heat")
    assert b.sent == ["graph", "heat"] and dash.run.models["rnn"].cfg.w_hh_radius == 0.9
    dash.c["tbptt"].value = 5  # (truncation is off: nothing but the marker changes)
    b.ack("curves")
    b.sent.clear()
    dash.c["tbptt_on"].value = True  # the cut lines and the marker at once; the new probe once they are drawn
    assert b.sent == ["graph", "curves"]
    assert [x for x in trace(dash, "graph_cuts").x if x is not None] and dash.live[0] == 0
    b.ack("graph")
    b.ack("curves")
    assert b.sent[2:] == ["graph"]
    b.ack("graph")
    assert b.sent[3:] == ["heat"]


def test_controls_while_training_go_first(dash):
    """A control holds the training refreshes (gate.hold) before its own pane is sent."""
    b = FakeBrowser(dash)
    log = b.sent
    hold = dash.gate.hold
    dash.gate.hold = lambda: (log.append("hold"), hold())
    dash.buttons["train"].click()
    assert wait_for(lambda: "curves" in log)
    mark = len(log)
    dash.c["seq_index"].value = 4
    after = log[mark:]
    assert "hold" in after and "belt" in after[after.index("hold"):]
    assert not dash.gate.ready("curves", 1000) or not dash.gate.held
    dash.c["lr"].value = 0.002  # applied by the training thread before its next step
    n = dash.run.steps
    assert wait_for(lambda: dash.run.steps > n + 2)
    assert all(opt.param_groups[0]["lr"] == pytest.approx(0.002) for opt in dash.run.opts.values())
    dash.buttons["pause"].click()
    assert wait_for(lambda: not dash.worker.running, 10)


def test_curves_and_progress_line_show_running_means_over_a_stated_window_and_every_baseline(dash):
    for _ in range(60):
        dash.run.step()
    dash.buttons["step"].click()
    h = dash.run.history["lstm"]
    text = re.sub("<[^>]+>", "", dash.progress.value)
    assert "mean of the last 50 steps" in text and "mean of the last 50 steps" in \
        dash.panes["curves"].figure.layout.legend.title.text
    shown = float(re.search(r"LSTM ([0-9.e+-]+)", text).group(1))
    assert shown == pytest.approx(h.loss[-50:].mean(), rel=2e-3)  # shown to 3 digits
    np.testing.assert_allclose(arr(trace(dash, "acc_other").y)[-1], h.accuracy[-50:].mean(), rtol=1e-9)
    blind, second = trace(dash, "loss_base"), trace(dash, "loss_base_2")
    assert list(blind.y) == pytest.approx([1 / 6] * 2) and blind.text[-1] == "input-blind 0.167"
    assert list(second.y) == pytest.approx([1 / 12] * 2) and second.text[-1] == "second number only 0.0833"
    assert "0.0833 (second number only)" in text
    dash.state.task = "copy"  # no intermediate line exists for copy memory
    assert len(trace(dash, "loss_base_2").y) == 0 and not trace(dash, "loss_base_2").text
    assert list(trace(dash, "loss_base").y) == pytest.approx([10 * math.log(8) / (20 + 20)] * 2)
