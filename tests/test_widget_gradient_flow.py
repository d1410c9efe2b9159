"""The gradient-flow dashboard in plain pytest: controls, buttons, state and figure data."""


import numpy as np
import pytest

from seqviz.figures.gradflow import trace_index
from seqviz.probes.gates import gate_trace
from widgets.gradient_flow import GradientFlowDashboard, dashboard
from tests.conftest import wait_for, workers_alive


def trace(d, tag):
    for pane in d.panes.values():
        idx = trace_index(pane.figure)
        if tag in idx:
            return pane.figure.data[idx[tag]]
    raise KeyError(tag)


@pytest.fixture
def dash():
    d = dashboard(T=20, hidden=8)
    yield d
    d.close_worker()


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Error" not in d.status.text


def test_opens_with_every_view_filled(dash):
    assert len(trace(dash, "graph_rnn_h").x) == 20
    assert len(trace(dash, "graph_other_c").marker.color) == 20
    assert len(trace(dash, "norm_other_h").y) == 20
    assert len(trace(dash, "belt_state").z) == 8  # H units shown
    assert len(trace(dash, "gate_0").z[0]) == 20
    badge = dash.children[0].children[-1].value
    assert "Computing on" in badge and ("CPU" in badge or "GPU" in badge)
    no_traceback(dash)


def test_changing_T_from_the_control_rebuilds_and_redraws(dash):
    dash.c["T"].value = 35
    assert dash.state.T == 35 and dash.run.cfg.T == 35
    assert len(trace(dash, "graph_rnn_h").x) == 35
    assert "rebuilt" in dash.status.text


@pytest.mark.parametrize("name,value,expect", [
    ("lr", float("nan"), 1e-2), ("lr", float("inf"), 1e-2), ("lr", 50.0, 1.0), ("T", 10**6, 200),
    ("T", -3, 10), ("radius", float("nan"), 0.6), ("seed", -1, 0), ("clip", 0.0, 0.01),
    ("task", "bogus", "adding"), ("other", "transformer", "lstm"), ("seq_index", 99, 7),
])
def test_bad_values_from_the_browser_are_corrected_and_explained(dash, name, value, expect):
    setattr(dash.state, name, value)
    assert getattr(dash.state, name) == expect
    assert dash.state.note and "Traceback" not in dash.status.value
    assert dash.status.text  # one sentence is shown


def test_train_pause_resume_step_reset(dash):
    dash.c["train"].click()
    assert wait_for(lambda: dash.run.steps >= 5)
    dash.c["train"].click()  # pause
    assert wait_for(lambda: not dash.worker.running, 10)
    n = dash.run.steps
    assert "Paused" in dash.status.text
    assert len(trace(dash, "loss_rnn").x) == n and len(trace(dash, "loss_other").y) == n
    dash.c["step"].click()
    assert dash.run.steps == n + 1
    dash.c["train"].click()  # resume continues the same run
    assert wait_for(lambda: dash.run.steps > n + 3)
    dash.c["reset"].click()  # reset while training
    assert not dash.worker.running and dash.run.steps == 0 and workers_alive() == []
    assert len(trace(dash, "loss_rnn").x) == 0
    no_traceback(dash)


def test_training_refreshes_heatmap_and_curves(dash):
    dash.run.cfg.probe_every = 2
    dash.c["train"].click()
    assert wait_for(lambda: dash.run.steps >= 12)
    dash.c["train"].click()
    assert wait_for(lambda: not dash.worker.running, 10)
    dash.refresh(force=True)
    assert len(trace(dash, "heat_rnn").z) >= 6  # one row per probe
    assert len(dash.refresh_times) >= 2


def test_truncation_draws_cuts_and_kills_old_gradients(dash):
    dash.state.tbptt = 5
    dash.state.tbptt_on = True
    cuts = [x for x in trace(dash, "graph_cuts").x if x is not None]
    assert sorted(set(cuts)) == [c - 0.5 for c in (5, 10, 15)]
    assert all(v == pytest.approx(1e-40) for v in trace(dash, "norm_rnn_h").y[:15])
    assert all(v > 1e-40 for v in trace(dash, "norm_rnn_h").y[15:])


def test_clipping_shows_the_threshold_and_applies_live(dash):
    dash.state.clip = 0.5
    dash.state.clip_on = True
    assert dash.run.cfg.clip == 0.5
    dash.c["step"].click()
    assert list(trace(dash, "gn_threshold").y) == [0.5, 0.5]
    assert max(trace(dash, "gn_after_rnn").y) <= 0.5 * (1 + 1e-5)


def test_divergence_stops_training_with_one_sentence():
    d = dashboard(preset="Exploding: rho = 1.5, plain SGD, no clipping", T=100)
    try:
        d.c["train"].click()
        assert wait_for(lambda: not d.worker.running, 60)
        assert "NaN or infinite" in d.status.text and "clipping" in d.status.text
        assert d.c["train"].description == "Train"
    finally:
        d.close_worker()


def test_presets_load_and_gru_relabels(dash):
    dash.state.preset = "Truncated BPTT (k = 20): the first token is out of reach"
    assert dash.state.tbptt_on and dash.state.tbptt == 20 and dash.state.T == 50 and dash.state.task == "recall"
    dash.state.other = "gru"
    assert set(dash.run.models) == {"rnn", "gru"}
    assert trace(dash, "loss_other").name == "GRU"
    assert len(trace(dash, "graph_other_c").x) == 0  # a GRU has no cell state
    assert len(trace(dash, "gate_3").z) == 0  # nor a fourth gate
    assert any("update gate" in a.text for a in dash.panes["gates"].figure.layout.annotations)


def test_opening_twice_in_one_kernel_leaves_no_stray_thread(dash):
    dash.c["train"].click()
    assert wait_for(lambda: dash.run.steps >= 2)
    second = GradientFlowDashboard()
    try:
        assert not dash.worker.running
        second.c["train"].click()
        assert wait_for(lambda: second.run.steps >= 2)
        assert len(workers_alive()) == 1
    finally:
        second.close_worker()
    assert workers_alive() == []


def test_sequence_picker_changes_the_belt(dash):
    before = trace(dash, "belt_state").z
    dash.c["seq_index"].value = 3
    assert not np.array_equal(trace(dash, "belt_state").z, before)


def test_belt_shows_the_current_model_on_the_picked_sequence(dash):
    """The belt reuses cached gate traces; after training steps it must show the new weights."""
    run = dash.run
    for i, steps in ((2, 0), (5, 0), (5, 3), (1, 3)):
        while run.steps < steps:
            dash.c["step"].click()
        dash.c["seq_index"].value = i
        key = int(dash.view_batch.key_positions[i][0])
        ref = gate_trace(run.models["lstm"], dash.view_batch.x[i], key_step=key)  # one sequence, from scratch
        units = ref.unit_order[:len(trace(dash, "belt_state").z)]
        np.testing.assert_allclose(np.array(trace(dash, "belt_state").z, dtype=float), ref.c[:, units].T, atol=1e-4)  # shown to 4 decimals
        np.testing.assert_allclose(np.array(trace(dash, "gate_0").z, dtype=float), ref.gates["f"][:, units].T,
                                   atol=1e-4)
