"""The receptive-field dashboard in plain pytest: controls, buttons, state and figure data."""

import asyncio
import threading
import time

import numpy as np
import pytest

from seqviz.figures.tcn import PANES
from seqviz.probes import receptive as R
import widgets.receptive_field as rf_module
from widgets.receptive_field import ReceptiveFieldDashboard, dashboard
from tests.conftest import wait_for, workers_alive


def trace(d, tag):
    """The trace tagged ``tag`` (its meta), searched in every pane as a browser would."""
    found = [tr for p in d.panes.values() for tr in p.figure.data if tr.meta == tag]
    assert len(found) == 1, f"{len(found)} traces tagged {tag!r}"
    assert found[0] is d.trace(tag)
    return found[0]


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Error" not in d.status.text


def seen_in_heat(d, row):
    """Input positions with a nonzero measured gradient in a heatmap row (1 untrained, 0 trained)."""
    return [i for i, v in enumerate(trace(d, "heat").z[row]) if v is not None]


@pytest.fixture
def dash():
    d = dashboard()
    yield d
    d.close_worker()


def test_opens_with_every_view_filled(dash):
    assert len(trace(dash, "active").x) == 71 and len(trace(dash, "output").x) == 1  # output 70 sees 0..70
    lit = np.asarray(trace(dash, "nodes").z)
    assert lit.shape == (7, 100) and lit[-1].sum() == 1 and lit[0].sum() == 71
    assert len(trace(dash, "delta").y) == 100
    assert all(len(trace(dash, f"design_{i}").x) > 1 for i in range(4))
    assert len(trace(dash, "current").x) == 1 and trace(dash, "current").x[0] == dash.race.rf == 127
    assert dash.table.value.count("<tr>") == 5  # header + four models
    assert "CPU" in dash.children[0].children[-1].value or "GPU" in dash.children[0].children[-1].value
    assert "<b>127</b>" in dash.readout.value and "<b>128</b>" in dash.readout.value  # exact and lecture
    no_traceback(dash)


@pytest.mark.parametrize("knobs", [dict(), dict(kernel_size=2, n_blocks=3, convs_per_block=2),
                                   dict(kernel_size=3, schedule="custom", custom="1, 4"),
                                   dict(kernel_size=4, n_blocks=3, padding="centred", t=40),
                                   dict(kernel_size=7, schedule="custom", custom="256, 1, 256", convs_per_block=2)])
def test_measured_gradient_matches_the_analytic_set_in_the_figure(knobs):
    d = dashboard(**knobs)
    try:
        c = d.race.tcn_cfg
        t = d.state.t
        expect = sorted(t - g for g in R.dependency_lags(c.kernel_size, c.dilations, c.convs_per_block, c.padding)
                        if 0 <= t - g < 100)
        assert sorted(trace(d, "analytic").x) == expect
        assert seen_in_heat(d, 1) == expect  # untrained row, measured by autograd
        assert sorted(trace(d, "active").x) == expect  # the diagram's input row
        assert np.flatnonzero(np.asarray(trace(d, "nodes").z)[0]).tolist() == expect
    finally:
        d.close_worker()


def test_changing_blocks_from_the_control_rebuilds_everything(dash):
    dash.c["n_blocks"].value = 4
    assert dash.state.n_blocks == 4 and dash.race.rf == R.receptive_field(3, (1, 2, 4, 8)) == 31
    assert len(trace(dash, "analytic").x) == 31
    assert "rebuilt" in dash.status.text
    # below the task's reach: the floor is drawn and the table says why
    floor = R.unseen_floor("adding", 100, 31)
    assert list(trace(dash, "floor").y) == [floor, floor] and floor > dash.race.preset.target
    assert "cannot: sees 31 of the 100" in dash.table.value
    assert "sees only 31" in dash.readout.value


@pytest.mark.parametrize("name,value,expect", [
    ("kernel_size", float("nan"), 3), ("kernel_size", float("inf"), 3), ("kernel_size", "abc", 3),
    ("kernel_size", 100, 7), ("kernel_size", -3, 2), ("n_blocks", 10 ** 9, 8), ("t", -5, 0), ("t", 5000, 99),
    ("calc_reach", float("nan"), 22050), ("calc_k", 1, 2), ("schedule", "bogus", "doubling"),
    ("padding", "future", "causal"), ("race", "nope", None), ("custom", "0, 1", "1, 4, 16"),
    ("custom", "x" * 10_000, "1, 4, 16"), ("custom", "1, 2, 4, 8, 16, 32, 64, 128, 256", "1, 4, 16"),
    ("custom", "1e9", "1, 4, 16"), ("custom", "🙂, 2", "1, 4, 16"), ("convs_per_block", 3, 2),
])
def test_bad_values_from_the_browser_are_corrected_and_explained(dash, name, value, expect):
    old = getattr(dash.state, name)
    setattr(dash.state, name, value)
    assert getattr(dash.state, name) == (old if expect is None else expect)
    assert dash.status.text and "Traceback" not in dash.status.value
    assert dash.status.text != "" and any(w in dash.status.text for w in ("must", "Unknown", "Give", "Type"))
    assert len(trace(dash, "active").x) > 0  # nothing lost


def test_four_panes_each_with_its_own_traces(dash):
    assert list(dash.panes) == ["diagram", "probe", "race", "params"]
    for name, pane in dash.panes.items():
        assert [tr.meta for tr in pane.figure.data] == list(PANES[name])
        assert pane.snapshot()["data"][0]["meta"] == PANES[name][0]  # what a browser view starts from
    right = dash.children[1].children[1]
    assert list(right.children[:2]) == [dash.panes["diagram"], dash.panes["probe"]]
    assert list(right.children[2].children) == [dash.panes["race"], dash.panes["params"]]  # side by side
    # the slider's pane stays tiny: one subplot, no colour bar
    diagram = dash.panes["diagram"].figure
    assert "xaxis2" not in diagram.layout and not any(getattr(tr, "showscale", False) for tr in diagram.data)


def test_moving_t_changes_the_diagram_gradients_and_causality_not_the_race(dash):
    race_before, params_before = dash.panes["race"].snapshot(), dash.panes["params"].snapshot()
    dash.c["t"].value = 40
    assert trace(dash, "output").x == (40,) and len(trace(dash, "active").x) == 41
    assert max(trace(dash, "analytic").x) == 40 and seen_in_heat(dash, 1)[-1] == 40
    assert list(trace(dash, "cut").x) == [40.5, 40.5]
    assert dash.panes["race"].snapshot() == race_before and dash.panes["params"].snapshot() == params_before


def test_in_the_kernel_the_gradients_follow_once_the_browser_has_drawn_the_diagram(dash, monkeypatch):
    # A kernel runs widget callbacks on its asyncio loop: here a loop of our own, in a thread of its
    # own (this thread may hold a loop that another test's library left marked as running).
    monkeypatch.setattr(rf_module, "kernel_loop", asyncio.get_running_loop)
    pane = dash.panes["diagram"]
    pane._seen_view, pane.send = True, lambda *a, **k: None  # a browser view that has not answered yet

    async def poll(cond, timeout=2.0):
        for _ in range(int(timeout / 0.01)):
            if cond():
                return True
            await asyncio.sleep(0.01)
        return False

    async def moves():  # the kernel runs widget callbacks on its asyncio loop
        dash.c["t"].value = 30
        dash.c["t"].value = 31  # two moves before the browser answers: one refresh, for the latest t
        assert pane.busy and trace(dash, "output").x == (31,)  # the diagram at once
        await asyncio.sleep(0.1)
        assert max(trace(dash, "analytic").x) == 70  # gradients wait for the browser's drawing
        pane._on_msg(pane, {"type": "drawn", "id": pane._sent}, [])
        assert await poll(lambda: max(trace(dash, "analytic").x) == 31)
        assert list(trace(dash, "cut").x) == [31.5, 31.5] and seen_in_heat(dash, 1)[-1] == 31
        pane._sent += 1  # a browser that never answers: the gradients come anyway, after 0.3 s
        pane._last_send = time.monotonic()
        dash.c["t"].value = 20
        assert await poll(lambda: max(trace(dash, "analytic").x) == 20)

    failure = []

    def run():
        try:
            asyncio.run(moves())
        except BaseException as e:  # noqa: BLE001 - reported below, in the test's thread
            failure.append(e)

    th = threading.Thread(target=run)
    th.start()
    th.join(30)
    assert not th.is_alive() and not failure, failure
    no_traceback(dash)


def test_calculator_gives_the_lectures_wavenet_answer_and_flags_disagreement(dash):
    dash.c["calc_reach"].value, dash.c["calc_k"].value = 22050, 7
    assert dash.calc.value.count("<b>12</b>") == 2 and "disagree" not in dash.calc.value
    dash.c["calc_reach"].value = 24576
    assert "<b>13</b>" in dash.calc.value and "disagree" in dash.calc.value


def test_centred_padding_moves_earlier_outputs(dash):
    t = dash.state.t
    assert max(trace(dash, "delta").y[: t + 1]) == 0 and "no output" in dash.causal_note
    dash.c["padding"].value = "centred"
    assert max(trace(dash, "delta").y[: t + 1]) > 0 and "future" in dash.causal_note


def test_train_stop_resume_reset_and_trained_gradient(dash):
    dash.c["train"].click()
    assert wait_for(lambda: len(dash.race.history("tcn").loss) >= 5)
    dash.c["train"].click()  # stop
    assert wait_for(lambda: not dash.worker.running, 10)
    n = len(dash.race.history("tcn").loss)
    assert dash.c["train"].description == "Train" and "Stopped" in dash.status.text
    assert "paused" in dash.table.value and "racing" not in dash.table.value  # the table agrees with the status
    assert len(trace(dash, "loss_tcn").x) == n and len(trace(dash, "loss_rnn").x) == len(dash.race.history("rnn").loss)
    trained = seen_in_heat(dash, 0)
    assert trained and set(trained) <= set(trace(dash, "analytic").x)  # never wider than analytic
    dash.c["train"].click()  # resume the same race
    assert wait_for(lambda: len(dash.race.history("tcn").loss) > n + 2)
    dash.c["reset"].click()  # reset while training
    assert not dash.worker.running and workers_alive() == []
    assert len(dash.race.history("tcn").loss) == 0 and len(trace(dash, "loss_tcn").x) == 0
    assert seen_in_heat(dash, 0) == []
    no_traceback(dash)


def test_architecture_change_while_training_stops_cleanly(dash):
    dash.c["train"].click()
    assert wait_for(lambda: len(dash.race.history("tcn").loss) >= 2)
    dash.c["kernel_size"].value = 2
    assert not dash.worker.running and workers_alive() == []
    assert dash.race.rf == 64 and len(dash.race.history("tcn").loss) == 0


def test_opening_twice_in_one_kernel_leaves_no_stray_thread(dash):
    dash.c["train"].click()
    assert wait_for(lambda: len(dash.race.history("tcn").loss) >= 2)
    second = ReceptiveFieldDashboard()
    try:
        assert not dash.worker.running
        second.c["train"].click()
        assert wait_for(lambda: len(second.race.history("tcn").loss) >= 2)
        assert len(workers_alive()) == 1
    finally:
        second.close_worker()
    assert workers_alive() == []


def test_finished_models_stop_training_and_the_table_says_so(dash):
    race = dash.race
    race.preset.target = 10.0  # any loss counts: every model finishes after WINDOW steps
    dash.c["train"].click()
    assert wait_for(lambda: not dash.worker.running, 60)
    assert set(race.finished) == {"tcn", "gru", "lstm", "rnn"}
    assert all(len(race.history(k).loss) == 10 for k in race.runs)
    assert "All finished" in dash.status.text and dash.table.value.count("reached target") == 4
    dash.c["train"].click()
    assert "Reset" in dash.status.text and not dash.worker.running


def test_copy_preset_and_unknown_knob():
    d = dashboard(race="Copy memory, T=50 (cross-entropy < 0.02)")
    try:
        assert d.race.reach == 61 and d.c["t"].max == 69 and len(trace(d, "delta").y) == 70
        assert np.isclose(trace(d, "baseline").y[0], d.race.task.baseline_loss(50))
    finally:
        d.close_worker()
    with pytest.raises(ValueError, match="Unknown setting"):
        dashboard(colour="red")
