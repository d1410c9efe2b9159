"""The receptive-field dashboard in plain pytest: controls, buttons, state and the data each pane
holds, against independent computations (autograd on a rebuilt TCN, count_parameters, numpy)."""

from __future__ import annotations

import html

import numpy as np
import pytest
import torch

from seqviz.data.tasks import get_task
from seqviz.experiments.race import WINDOW
from seqviz.figures.tcn import PANES
from seqviz.models.tcn import TCNConfig, build_tcn, count_parameters, doubling
from seqviz.probes import receptive as R
from tests.conftest import wait_for, workers_alive
from tests.conftest import dashboard_trace as trace
from widgets.receptive_field import ReceptiveFieldDashboard, dashboard




def no_traceback(d):
    assert "Traceback" not in d.status.value and "Error" not in d.status.text


def seen_in_heat(d, row):
    """Input positions with a nonzero measured gradient in a heatmap row (1 untrained, 0 trained)."""
    return [i for i, v in enumerate(trace(d, "heat").z[row]) if v is not None]


def logs(g):
    return [float(np.log10(v)) if v > 0 else None for v in g]


def table_rows(d):
    """The race table's cells, row by row (header left out)."""
    import re

    rows = re.findall(r"<tr>(.*?)</tr>", d.table.value)[1:]
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]


def view_without_answers(pane):
    """A browser view that has drawn the pane and does not acknowledge what it is sent yet."""
    pane._seen_view, pane.send = True, lambda *a, **k: None


def answer(pane):
    pane._on_msg(pane, {"type": "drawn", "id": pane._sent}, [])


@pytest.fixture
def dash():
    d = dashboard()
    yield d
    d.close_worker()


def train_until(d, cond, timeout=60):
    d.buttons["train"].click()
    assert wait_for(cond, timeout)
    d.buttons["pause"].click()
    assert wait_for(lambda: not d.worker.running, 10)


def test_opens_with_every_view_filled(dash):
    assert len(trace(dash, "active").x) == 71 and len(trace(dash, "output").x) == 1  # output 70 sees 0..70
    lit = np.asarray(trace(dash, "nodes").z)
    assert lit.shape == (7, 100) and lit[-1].sum() == 1 and lit[0].sum() == 71
    assert len(trace(dash, "delta").y) == 100
    assert all(len(trace(dash, f"design_{i}").x) > 1 for i in range(4))
    assert trace(dash, "current").x[0] == dash.race.rf == 127
    assert dash.table.value.count("<tr>") == 5  # header + four models
    assert "Computing on:" in dash.children[0].children[-1].value
    assert "<b>127</b>" in dash.readout.value and "<b>128</b>" in dash.readout.value  # exact and lecture
    assert [b.description for b in dash.buttons.values()] == ["Train", "Pause", "One step", "Reset"]
    assert dash.buttons["pause"].disabled and not dash.buttons["train"].disabled
    no_traceback(dash)


@pytest.mark.parametrize("knobs", [dict(), dict(kernel_size=2, n_blocks=3, convs_per_block=2),
                                   dict(kernel_size=3, schedule="custom", custom="1, 4"),
                                   dict(kernel_size=4, n_blocks=3, padding="centred", t=40),
                                   dict(kernel_size=7, schedule="custom", custom="256, 1, 256", convs_per_block=2)])
def test_measured_gradient_matches_the_analytic_set_in_the_figure(knobs):
    d = dashboard(**knobs)
    try:
        c, t = d.race.tcn_cfg, d.state.t
        expect = sorted(t - g for g in R.dependency_lags(c.kernel_size, c.dilations, c.convs_per_block, c.padding)
                        if 0 <= t - g < 100)
        assert sorted(trace(d, "analytic").x) == expect
        grad = R.input_gradient(build_tcn(c, d.race.preset.seed), 100, t, seed=1, batch=8)  # autograd, afresh
        assert np.flatnonzero(grad).tolist() == expect
        assert list(trace(d, "heat").z[1]) == logs(grad)  # the untrained row is that measurement
        assert sorted(trace(d, "active").x) == expect  # the diagram's input row
        assert np.flatnonzero(np.asarray(trace(d, "nodes").z)[0]).tolist() == expect
    finally:
        d.close_worker()


def test_changing_blocks_from_the_control_rebuilds_everything(dash):
    dash.c["n_blocks"].value = 4
    assert dash.state.n_blocks == 4 and dash.race.rf == R.receptive_field(3, (1, 2, 4, 8)) == 31
    assert len(trace(dash, "analytic").x) == 31 and len(dash.race.tcn_cfg.dilations) == 4
    assert "Blocks changed: the TCN was rebuilt (R = 31)" in dash.status.text
    floor = R.unseen_floor("adding", 100, 31)  # below the task's reach: the floor is drawn, the table says why
    assert list(trace(dash, "floor").y) == [floor, floor] and floor > dash.race.preset.target
    assert "cannot: sees 31 of the 100" in dash.table.value
    assert "sees only 31" in dash.readout.value


@pytest.mark.parametrize("name,value,expect,said", [
    ("kernel_size", float("nan"), 3, "finite"), ("kernel_size", "abc", 3, "number"),
    ("kernel_size", 100, 7, "at most 7"), ("kernel_size", -3, 2, "at least 2"), ("n_blocks", 10 ** 9, 8, "at most"),
    ("t", -5, 0, "at least 0"), ("t", 5000, 99, "at most 99"), ("calc_reach", float("nan"), 22050, "finite"),
    ("calc_k", 1, 2, "at least 2"), ("schedule", "bogus", "doubling", "Unknown"),
    ("padding", "future", "causal", "Unknown"), ("race", "nope", None, "Unknown"),
    ("custom", "0, 1", "1, 4, 16", "each from 1 to 256"), ("custom", "x" * 10_000, "1, 4, 16", "whole numbers"),
    ("custom", "1, 2, 4, 8, 16, 32, 64, 128, 256", "1, 4, 16", "1 to 8"), ("custom", "1e9", "1, 4, 16", "whole"),
    ("custom", "🙂, 2", "1, 4, 16", "whole numbers"), ("convs_per_block", 3, 2, "at most 2"),
    ("custom", "1, x, 4", "1, 4, 16", "whole numbers"), ("custom", "", "1, 4, 16", "empty"),
    ("custom", "99999999", "1, 4, 16", "each from 1 to 256"), ("custom", 42, "1, 4, 16", "must be text"),
])
def test_the_state_corrects_every_bad_value_with_a_sentence(dash, name, value, expect, said):
    old = getattr(dash.state, name)
    setattr(dash.state, name, value)  # any client can set any synced value
    assert getattr(dash.state, name) == (old if expect is None else expect)
    assert said in dash.state.note  # the latest correction, as a sentence
    assert len(trace(dash, "active").x) > 0  # nothing lost


@pytest.mark.parametrize("name,sync,said", [
    ("kernel_size", {"value": "abc"}, "cannot take 'abc'"), ("t", {"value": None}, "cannot take None"),
    ("schedule", {"index": 99}, "cannot take 99"), ("race", {"index": -7}, "cannot take -7"),
    ("custom", {"value": "1, x, 4"}, "whole numbers"), ("custom", {"value": ""}, "empty"),
    ("custom", {"value": "99999999"}, "each from 1 to 256"), ("calc_k", {"value": 1}, None),
])
def test_forged_values_from_the_browser_get_one_sentence_and_lose_nothing(dash, name, sync, said):
    dash.c["schedule"].value = "custom" if name == "custom" else "doubling"
    before = (dash.race.rf, getattr(dash.state, name))
    sent = []
    dash.c[name].send_state = lambda *a, **k: sent.append((a, k))
    dash.c[name].set_state(sync)
    assert (dash.race.rf, getattr(dash.state, name)) == before or name == "calc_k"
    if said:
        assert dash.status.text.count(said) == 1 and "Traceback" not in dash.status.value
    else:  # a number box clamps by itself (BoundedIntText): the value used is the nearest allowed
        assert dash.state.calc_k == 2 and "<b>" in dash.calc.value
    no_traceback(dash)


def test_a_bad_custom_dilation_keeps_the_network_and_a_clean_one_clears_the_sentence(dash):
    dash.c["schedule"].value = "custom"
    rf = dash.race.rf
    for bad in ("1, x, 4", "", "99999999"):
        dash.c["custom"].value = bad
        assert dash.c["custom"].value == "1, 4, 16" and dash.race.rf == rf  # the box shows the value in use
        assert dash.status.text.count("previous") == 1  # one sentence about it, not one per attempt
    dash.c["custom"].value = "1, 4"
    assert dash.race.tcn_cfg.dilations == (1, 4) and "previous" not in dash.status.text
    no_traceback(dash)


def test_four_panes_each_with_its_own_traces(dash):
    assert list(dash.panes) == ["diagram", "probe", "race", "params"]
    for name, pane in dash.panes.items():
        assert [tr.meta for tr in pane.figure.data] == list(PANES[name])
        assert pane.snapshot()["data"][0]["meta"] == PANES[name][0]  # what a browser view starts from
    right = dash.children[1].children[1]
    assert list(right.children[:2]) == [dash.panes["diagram"], dash.panes["probe"]]
    assert list(right.children[2].children) == [dash.panes["race"], dash.panes["params"]]  # side by side
    assert right.children[3] is dash.timeline.widget
    diagram = dash.panes["diagram"].figure  # the slider's pane stays tiny: one subplot, no colour bar
    assert "xaxis2" not in diagram.layout and not any(getattr(tr, "showscale", False) for tr in diagram.data)


def test_moving_t_changes_the_diagram_gradients_and_causality_not_the_race(dash):
    race_before, params_before = dash.panes["race"].snapshot(), dash.panes["params"].snapshot()
    dash.c["t"].value = 40
    assert trace(dash, "output").x == (40,) and len(trace(dash, "active").x) == 41
    assert max(trace(dash, "analytic").x) == 40 and seen_in_heat(dash, 1)[-1] == 40
    assert list(trace(dash, "cut").x) == [40.5, 40.5]
    m = build_tcn(dash.race.tcn_cfg, 0)
    assert list(trace(dash, "delta").y) == R.causality_check(m, 100, 40, seed=2).tolist()
    assert dash.panes["race"].snapshot() == race_before and dash.panes["params"].snapshot() == params_before


def test_with_a_browser_the_slow_views_follow_once_the_diagram_is_drawn(dash):
    diagram = dash.panes["diagram"]
    view_without_answers(diagram)
    dash.c["t"].value = 30
    dash.c["t"].value = 31  # two moves before the browser answers: one refresh, for the latest t
    assert diagram.busy and trace(dash, "output").x == (31,)  # the diagram at once
    assert max(trace(dash, "analytic").x) == 70  # gradients wait for the browser's drawing
    answer(diagram)
    assert max(trace(dash, "analytic").x) == 31 and list(trace(dash, "cut").x) == [31.5, 31.5]
    # an architecture knob: the new diagram at once, the new race once it is drawn
    race = dash.race
    dash.c["kernel_size"].value = 2
    assert len(trace(dash, "nodes").x) == 100 and dash.race is race and trace(dash, "current").x[0] == 127
    assert len(trace(dash, "active").x) == len([g for g in R.dependency_lags(2, doubling(6)) if 31 - g >= 0])
    answer(diagram)
    assert dash.race is not race and dash.race.rf == 64 and trace(dash, "current").x[0] == 64
    assert max(trace(dash, "analytic").x) == 31 and len(trace(dash, "analytic").x) == 32
    diagram._sent += 1  # a browser that never answers: the views come anyway, after when_drawn's wait
    diagram._last_send = __import__("time").monotonic()
    dash.c["t"].value = 20
    assert wait_for(lambda: max(trace(dash, "analytic").x) == 20, 5)
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


@pytest.mark.parametrize("knobs", [dict(), dict(kernel_size=2, n_blocks=3, convs_per_block=2),
                                   dict(kernel_size=5, schedule="constant", n_blocks=4),
                                   dict(schedule="custom", custom="1, 4, 16", kernel_size=2),
                                   dict(race="Copy memory, T=50 (cross-entropy < 0.02)", n_blocks=7)])
def test_one_parameter_count_per_network_and_the_curve_passes_through_it(knobs):
    d = dashboard(**knobs)
    try:
        model = d.race.runs["tcn"].models["tcn"]
        star = trace(d, "current")
        assert star.y[0] == count_parameters(model) == d.race.params["tcn"]  # the table's number too
        assert f"{count_parameters(model):,}" in d.readout.value and f"{count_parameters(model):,}" in d.table.value
        assert star.x[0] == d.race.rf
        this = trace(d, "design_this")  # this design with other block counts passes through the star
        assert star.y[0] == dict(zip(this.x, this.y))[star.x[0]]
        c = d.race.tcn_cfg
        for rf, n in list(zip(this.x, this.y))[:3]:  # other points: real networks, counted
            blocks = next(L for L in range(1, 200) if R.receptive_field(c.kernel_size, d.state.dilations()[:L]
                          if d.state.schedule == "custom" else [1] * L if d.state.schedule == "constant"
                          else doubling(L), c.convs_per_block) == rf)
            ds = (d.state.dilations()[:blocks] if d.state.schedule == "custom" else
                  (1,) * blocks if d.state.schedule == "constant" else doubling(blocks))
            assert n == count_parameters(build_tcn(TCNConfig(**{**c.__dict__, "dilations": ds}), 0))
        k2 = trace(d, "design_0")  # a comparison design: doubling k=2, same inputs, head and C
        cfg = TCNConfig(n_in=c.n_in, n_out=c.n_out, channels=c.channels, kernel_size=2, dilations=doubling(3),
                        convs_per_block=c.convs_per_block)
        assert k2.y[2] == count_parameters(build_tcn(cfg, 0)) and k2.x[2] == R.receptive_field(2, doubling(3),
                                                                                              c.convs_per_block)
    finally:
        d.close_worker()


def test_train_pause_resume_reset_double_click_and_the_table_agrees_with_the_status(dash):
    b = dash.buttons
    b["train"].click()
    b["train"].click()  # a double-click: still training, and said
    assert dash.worker.running and "Already training" in dash.status.text
    assert b["train"].disabled and not b["pause"].disabled
    assert wait_for(lambda: "racing" in dash.table.value and len(dash.race.history("tcn")) >= 5)
    b["pause"].click()
    assert wait_for(lambda: not dash.worker.running, 10)
    n = len(dash.race.history("tcn"))
    assert "Paused" in dash.status.text and not b["train"].disabled and b["pause"].disabled
    assert "paused" in dash.table.value and "racing" not in dash.table.value  # the table agrees with the status
    assert len(trace(dash, "loss_tcn").x) == n and len(trace(dash, "loss_rnn").x) == len(dash.race.history("rnn"))
    trained = seen_in_heat(dash, 0)
    assert trained and set(trained) <= set(trace(dash, "analytic").x)  # never wider than analytic
    b["train"].click()  # resume the same race
    assert wait_for(lambda: len(dash.race.history("tcn")) > n + 2)
    b["reset"].click()  # reset while training
    assert not dash.worker.running and workers_alive() == []
    assert len(dash.race.history("tcn")) == 0 and len(trace(dash, "loss_tcn").x) == 0
    assert seen_in_heat(dash, 0) == [] and "Race reset" in dash.status.text
    no_traceback(dash)


def test_race_curves_are_running_means_of_the_per_batch_losses(dash):
    train_until(dash, lambda: min(len(dash.race.history(k)) for k in dash.race.runs) >= 25)
    for m in ("tcn", "gru", "lstm", "rnn"):
        h = dash.race.history(m)
        raw, mean = trace(dash, f"raw_{m}"), trace(dash, f"loss_{m}")
        assert list(raw.y) == list(h.loss) and list(raw.x) == list(h.seconds)
        direct = [h.loss[max(0, i + 1 - WINDOW): i + 1].mean() for i in range(len(h))]
        assert np.allclose(mean.y, direct) and np.isclose(mean.y[-1], dash.race.mean_loss(m))
        assert f"{dash.race.mean_loss(m):.4f}" in dash.table.value  # the table's column: the same window
    assert f"mean of last {WINDOW} steps" in dash.panes["race"].figure.layout.yaxis.title.text
    assert f"mean loss (last {WINDOW})" in dash.table.value
    base = trace(dash, "baseline")
    assert np.allclose(base.y, get_task("adding").baseline_loss(100)) and base.showlegend


def test_the_tasks_other_baselines_are_drawn_when_it_states_them(dash, monkeypatch):
    task = type(get_task("adding"))
    monkeypatch.setattr(task, "baselines", lambda self, T: {"predict 1": 1 / 6, "sees one mark": 1 / 12},
                        raising=False)
    dash.buttons["reset"].click()
    second = trace(dash, "baseline_2")
    assert list(second.y) == [1 / 12, 1 / 12] and second.showlegend and "sees one mark" in second.name
    assert not trace(dash, "baseline_3").showlegend  # 1/6 is the blind baseline itself: drawn once


def test_one_step_advances_the_model_with_least_compute(dash):
    r = dash.race
    for _ in range(6):
        before = {k: (len(r.history(k)), r.own_seconds(k)) for k in r.runs}
        least = min(r.racing, key=lambda k: before[k][1])
        dash.buttons["step"].click()
        after = {k: len(r.history(k)) for k in r.runs}
        assert [k for k in r.runs if after[k] != before[k][0]] == [least] and after[least] == before[least][0] + 1
        assert f"the {('tanh RNN' if least == 'rnn' else least.upper())}" in dash.status.text
    assert len(trace(dash, "loss_" + least).x) == len(r.history(least))


def test_timeline_scrubs_curves_and_the_trained_gradient_back_without_touching_the_live_model(dash):
    train_until(dash, lambda: len(dash.timeline.snaps) >= 5 and dash.race.runs["tcn"].steps >= 3)
    tl_ = dash.timeline
    assert len(tl_.snaps) <= tl_.max_snapshots and tl_.following
    live = {k: v.clone() for k, v in dash.race.runs["tcn"].models["tcn"].state_dict().items()}
    live_row = list(trace(dash, "heat").z[0])
    i = next(i for i, (_, s) in enumerate(tl_.snaps) if 0 < s["steps"]["tcn"] < dash.race.runs["tcn"].steps)
    tl_.slider.value = i
    step, snap = tl_.snaps[i]
    for m in ("tcn", "gru", "lstm", "rnn"):  # the curves stop at the snapshot
        h = dash.race.history(m)
        assert list(trace(dash, f"raw_{m}").y) == list(h.loss[: snap["steps"][m]])
    assert snap["steps"]["tcn"] < len(dash.race.history("tcn"))
    steps_column = [int(row[2]) for row in table_rows(dash)]  # the table as it stood then
    assert steps_column == [snap["steps"][m] for m in ("tcn", "gru", "lstm", "rnn")]
    viewer = build_tcn(dash.race.tcn_cfg, 0)  # independent: a fresh TCN with the snapshot's weights
    viewer.load_state_dict(snap["weights"]["tcn"])
    expect = R.input_gradient(viewer, 100, dash.state.t, seed=1, batch=8)
    assert list(trace(dash, "heat").z[0]) == logs(expect) != live_row
    assert all(torch.equal(v, dash.race.runs["tcn"].models["tcn"].state_dict()[k]) for k, v in live.items())
    assert f"step <b>{step}</b>" in tl_.label.value
    dash.c["t"].value = 50  # other views at this snapshot follow t too
    viewer.load_state_dict(snap["weights"]["tcn"])
    assert list(trace(dash, "heat").z[0]) == logs(R.input_gradient(viewer, 100, 50, seed=1, batch=8))
    tl_.slider.value = tl_.slider.max  # back to live
    assert len(trace(dash, "raw_tcn").x) == len(dash.race.history("tcn"))
    assert [int(row[2]) for row in table_rows(dash)] == [len(dash.race.history(m)) for m in ("tcn", "gru", "lstm", "rnn")]
    live_model = dash.race.runs["tcn"].models["tcn"]
    assert list(trace(dash, "heat").z[0]) == logs(R.input_gradient(live_model, 100, 50, seed=1, batch=8))


def test_architecture_change_while_training_stops_cleanly(dash):
    dash.buttons["train"].click()
    assert wait_for(lambda: len(dash.race.history("tcn")) >= 2)
    dash.c["kernel_size"].value = 2
    assert not dash.worker.running and workers_alive() == []
    assert dash.race.rf == 64 and len(dash.race.history("tcn")) == 0
    assert "press Train to race again" in dash.status.text and not dash.buttons["train"].disabled


def test_opening_twice_in_one_kernel_leaves_no_stray_thread(dash):
    dash.buttons["train"].click()
    assert wait_for(lambda: len(dash.race.history("tcn")) >= 2)
    second = ReceptiveFieldDashboard()
    try:
        assert not dash.worker.running
        second.buttons["train"].click()
        assert wait_for(lambda: len(second.race.history("tcn")) >= 2)
        assert len(workers_alive()) == 1
    finally:
        second.close_worker()
    assert workers_alive() == []


def test_finished_models_stop_training_and_the_table_says_so(dash):
    race = dash.race
    race.preset.target = 10.0  # any loss counts: every model finishes after WINDOW steps
    dash.buttons["train"].click()
    assert wait_for(lambda: not dash.worker.running, 60)
    assert set(race.finished) == {"tcn", "gru", "lstm", "rnn"}
    assert all(len(race.history(k)) == WINDOW for k in race.runs)
    assert "All finished" in dash.status.text and dash.table.value.count("reached target") == 4
    dash.buttons["train"].click()
    assert "Reset" in dash.status.text and not dash.worker.running


def test_the_races_time_budget_ends_it_with_a_sentence(dash):
    dash.race.preset.budget_s = 0.5
    dash.buttons["train"].click()
    assert wait_for(lambda: not dash.worker.running, 30)
    assert dash.race.wall >= 0.5 and "Time is up" in dash.status.text and "Paused after" not in dash.status.text
    assert "s are up" in dash.table.value and "racing" not in dash.table.value
    dash.buttons["train"].click()
    assert "press Reset" in dash.status.text and not dash.worker.running


def test_copy_preset_and_unknown_knob():
    d = dashboard(race="Copy memory, T=50 (cross-entropy < 0.02)")
    try:
        assert d.race.reach == 61 and d.c["t"].max == 69 and len(trace(d, "delta").y) == 70
        assert np.isclose(trace(d, "baseline").y[0], d.race.task.baseline_loss(50))
        d.c["t"].value = 69
        d.c["race"].value = "Adding problem, T=100 (MSE < 0.01)"
        assert d.c["t"].max == 99 and d.race.reach == 100 and len(trace(d, "nodes").x) == 100
    finally:
        d.close_worker()
    with pytest.raises(ValueError, match="Unknown setting"):
        dashboard(colour="red")


def test_a_knob_moved_while_a_deferred_rebuild_runs_is_not_lost(dash, monkeypatch):
    import threading

    import widgets.receptive_field.view as view

    building, go = threading.Event(), threading.Event()
    real = view.Race

    def slow_race(*a, **k):  # the first rebuild stalls until the test has moved the knob again
        if not building.is_set():
            building.set()
            go.wait(10)
        return real(*a, **k)

    monkeypatch.setattr(view, "Race", slow_race)
    diagram = dash.panes["diagram"]
    view_without_answers(diagram)
    dash.c["kernel_size"].value = 4
    acked = threading.Thread(target=answer, args=(diagram,))  # the browser's answer runs the rebuild
    acked.start()
    assert building.wait(10)
    dash.c["kernel_size"].value = 3  # back, while the rebuild for k = 4 is still building
    k3 = R.dependency_diagram(3, doubling(6), 1, "causal", 100, 70)  # the diagram: k = 3 at once
    assert len(trace(dash, "conv_edges").x) == 3 * len(k3.conv_edges)
    go.set()
    acked.join(20)
    answer(diagram)
    assert wait_for(lambda: dash.race.tcn_cfg.kernel_size == 3 and dash.race.rf == 127, 10)
    assert dash.state.arch_key() == dash._built == dash._drawn
    assert trace(dash, "current").x[0] == 127 and R.receptive_field(3, doubling(6)) == 127


def test_the_kits_time_limit_pauses_with_the_kits_sentence_and_the_table_agrees(dash):
    dash.worker.max_seconds = 0.3  # (the kit's MAX_TRAIN_S, shortened: a forgotten race)
    dash.buttons["train"].click()
    assert wait_for(lambda: not dash.worker.running, 30)
    assert dash.worker.last_end == "max_seconds" and dash.race.wall < dash.race.preset.budget_s
    assert "Paused after" in dash.status.text and "Time is up" not in dash.status.text
    assert "paused: press Train to go on" in dash.table.value and "racing" not in dash.table.value
