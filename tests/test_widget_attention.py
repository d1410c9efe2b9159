"""The attention dashboard in plain pytest: controls, bad input, the drawn matrices against the
equations, the entropy panel against its own Monte Carlo, the curves' running means and
baselines, training (one model at a time), the timelines, no stray threads.

Every test builds its own dashboard (``d``): no test depends on what another one did."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqviz.data.translation import CharData
from seqviz.experiments.attention import PRESETS
from seqviz.figures.attention import TRACE_PART, WINDOW
from seqviz.models.attention import Seq2SeqConfig, build_seq2seq
from seqviz.probes.attention import recompute_additive, recompute_self_attention, row_entropy
from tests.conftest import wait_for, workers_alive
from widgets.attention import AttentionDashboard, dashboard


def trace(d, name):
    fig = d.panes[TRACE_PART[name]].figure
    return next(t for t in fig.data if t.meta == name)


def z(d, name):
    return np.array(trace(d, name).z, dtype=float)


def y(d, name):
    return np.array(trace(d, name).y, dtype=float)


def threads():
    return workers_alive("seqviz-attention")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Steps taken in the test's own thread use one torch thread, as the dashboard's worker does
    (two threads on a shared 2-core machine were up to 10x slower per step)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def d():
    dash = dashboard()
    yield dash
    dash.close_worker()
    assert not threads()


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Could not" not in d.status.text


def live_trace(d):
    m = d.part2.run.models["transformer"]
    tr = []
    with torch.no_grad():
        m(d.part2.ids[None], trace=tr)
    return m, tr


# -- what is drawn equals the equations ------------------------------------------------------
def test_drawn_self_attention_equals_the_equation(d):
    for layer, head in ((0, 0), (1, 3)):
        d.c["layer"].value, d.c["head"].value = layer, head
        m, tr = live_trace(d)
        w = recompute_self_attention(m, tr[layer]["x_in"], layer)[0][0, head]
        np.testing.assert_allclose(z(d, "self"), w, atol=1e-6)
        np.testing.assert_allclose(z(d, "self").sum(1), 1.0, atol=1e-6)
        assert (z(d, "self")[np.triu_indices(len(w), 1)] == 0).all()  # causal by default: exact zeros
    assert "difference" in d.eq_b.value and "Layer 1, head 3" in d.eq_b.value


def test_drawn_alignment_equals_the_equation(d):
    m = d.part1.run.models["attention"]
    src = d.part1.src
    with torch.no_grad():
        tr = m.run(src[None], n_out=len(src))
    alpha, _ = recompute_additive(m, tr.h, tr.s_prev)
    np.testing.assert_allclose(z(d, "align"), alpha[0], atol=1e-6)
    assert z(d, "align").shape == (8, 8) == (len("abcdefgh"),) * 2


def test_query_slider_redraws_the_chosen_row_from_the_equation(d):
    """The query slider only moves what depends on i and j (its own small pane, the boxes), and the
    bar chart is row i of the matrix recomputed from the model's weights."""
    d.c["layer"].value, d.c["head"].value = 1, 2
    m, tr = live_trace(d)
    w = recompute_self_attention(m, tr[1]["x_in"], 1)[0][0, 2]
    before = z(d, "self")
    for i, j in ((0, 0), (3, 1), (len(w) - 1, 2)):
        d.c["query"].value, d.c["key"].value = i, j
        np.testing.assert_allclose(trace(d, "query").y, w[i], atol=1e-6)
        colors = trace(d, "query").marker.color
        assert colors[j] != colors[(j + 1) % len(w)]
        for box in ("self_sel", "qkv_sel"):  # no browser here: the box follows at once
            assert min(trace(d, box).y) == i - 0.5 and max(trace(d, box).y) == i + 0.5
        assert min(trace(d, "self_sel").x) == j - 0.5
        assert f"i = {i}" in d.eq_b.value and f"j = {j}" in d.eq_b.value
    np.testing.assert_array_equal(z(d, "self"), before)  # the matrix itself was not redrawn
    fig = d.panes[TRACE_PART["query"]].figure  # the query's pane is small: two subplots, no colour bars
    assert TRACE_PART["query"] == TRACE_PART["qkv"] != TRACE_PART["self"]
    assert len([k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]) == 2
    assert not any(getattr(t, "showscale", False) for t in fig.data)


def test_selecting_a_cell_updates_the_worked_equations(d):
    d.c["query"].value, d.c["key"].value = 4, 2
    assert "i = 4" in d.eq_b.value and "j = 2" in d.eq_b.value
    d.c["out_i"].value, d.c["src_j"].value = 4, 2
    assert "i = 4" in d.eq_a.value and "j = 2" in d.eq_a.value
    assert min(trace(d, "align_sel").y) == 3.5 and min(trace(d, "align_sel").x) == 1.5


# -- bad input: one sentence, nothing lost, the status line follows the current input ----------
def test_bad_values_from_the_browser_get_a_sentence(d):
    d.state.query = float("nan")
    assert "number" in d.status.text and isinstance(d.state.query, int)
    d.state.out_i = 10_000
    assert d.state.out_i == 7 == d.c["out_i"].max and "at most 7" in d.status.text
    d.state.task = "klingon"
    assert d.state.task == "reverse" and "Unknown task" in d.status.text
    before = d.state.text
    d.c["text"].value = "   "
    assert d.state.text == before and "empty" in d.status.text
    d.c["out_i"].value = 3  # a clean value: what was said about out_i goes
    assert "at most 7" not in d.status.text
    no_traceback(d)


def test_typed_text_long_odd_unicode_unknown_then_clean(d):
    d.c["text"].value = "x" * 5000
    assert len(d.state.text) == 200 and "Showing the first 32 characters" in d.status.text
    assert z(d, "self").shape == (32, 32)  # learned positions: only 32 shown, and said so
    d.c["text"].value = "e\u0301\U0001F642\u202e is better"
    assert "never saw" in d.status.text and "32 characters" not in d.status.text
    assert "\u202e" not in d.state.text and "\u00e9" in d.state.text  # override removed, e + accent joined (NFC)
    assert CharData.UNKNOWN in d.part2.text and len(d.part2.text) == z(d, "self").shape[0]
    d.c["text"].value = "Now is better than never."  # clean: the warning goes
    assert "never saw" not in d.status.text and not d.status.corrections
    assert z(d, "self").shape == (25, 25) and d.c["query"].max == 24
    no_traceback(d)


def test_typed_source_bad_then_clean(d):
    d.c["source"].value = "\u00e9\u00e9\u00e9"
    assert "at least one letter" in d.status.text and "previous source" in d.status.text
    assert z(d, "align").shape == (8, 8)  # the previous source is still shown
    d.c["source"].value = "abcdefghijabcdefghij"
    assert "up to 12" in d.status.text and z(d, "align").shape == (20, 20)
    assert d.c["out_i"].max == 19
    d.c["source"].value = "abcd"
    assert not d.status.corrections and z(d, "align").shape == (4, 4) and d.c["out_i"].max == 3
    no_traceback(d)


def test_task_switch_keeps_a_valid_source(d):
    d.c["task"].value = "date"
    assert d.state.source == "22 Nov 2026" and z(d, "align").shape == (10, 11)
    assert d.c["out_i"].max == 9 and d.c["src_j"].max == 10
    d.c["source"].value = "abcdefgh"  # not a date: said, the date stays
    assert "Type a date" in d.status.text and z(d, "align").shape == (10, 11)
    d.c["task"].value = "reverse"
    src = d.part1.task.decode(d.part1.src)
    assert src == d.state.source  # the box shows what the matrix shows
    assert z(d, "align").shape == (len(src), len(src))
    no_traceback(d)


# -- part 2's switches and the shuffle check ----------------------------------------------------
def test_causal_switch_and_shuffle_without_positions(d):
    d.c["causal"].value = False
    assert d.part2.run.models["transformer"].cfg.causal is False
    assert (z(d, "self")[np.triu_indices(z(d, "self").shape[0], 1)] > 0).all()
    d.c["position"].value = "none"
    before = z(d, "self")
    text = d.part2.text
    d.shuffle_button.click()
    assert "equivariant" in d.perm_note.value
    perm = [text.index(c) if text.count(c) == 1 else None for c in d.part2.text]
    ok = [(a, p) for a, p in enumerate(perm) if p is not None]  # tokens that occur once moved with their rows
    assert len(ok) > 5
    for a, p in ok:
        for b, q in ok:
            assert z(d, "self")[a, b] == pytest.approx(before[p, q], abs=1e-5)
    d.c["position"].value = "learned"
    d.shuffle_button.click()
    assert "changes more than the order" in d.perm_note.value
    no_traceback(d)


# -- the entropy panel compares like with like (issue 11, item 4) -------------------------------
def monte_carlo_masked_entropy(T: int, k: int, causal: bool, scaled: bool, n: int = 400, seed: int = 7) -> float:
    """Mean row entropy of softmax(q_i . k_j [/ sqrt(k)]) with the causal mask, q and k standard normal:
    whole T x T matrices, as a head sees them (an independent computation)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, T, k, generator=g, dtype=torch.float64)
    kk = torch.randn(n, T, k, generator=g, dtype=torch.float64)
    s = q @ kk.transpose(1, 2) / (math.sqrt(k) if scaled else 1.0)
    if causal:
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    p = torch.softmax(s, -1)
    ent = -(torch.where(p > 0, p * p.log(), torch.zeros_like(p))).sum(-1)
    return float(ent.mean())


@pytest.mark.parametrize("causal", [True, False])
def test_entropy_panel_references_use_the_heads_rows(causal):
    d = dashboard(causal=causal)
    try:
        T = len(d.state.text)
        dims = list(trace(d, "ent_scaled").x)
        k = d.part2.cfg.d_model // d.part2.cfg.n_heads
        counts = np.arange(1, T + 1) if causal else np.full(T, T)
        assert y(d, "ent_max")[0] == pytest.approx(np.mean(np.log(counts)), abs=1e-12)
        for kd in (1, k, 64):
            a = dims.index(kd)
            for name, scaled in (("ent_scaled", True), ("ent_unscaled", False)):
                ref = monte_carlo_masked_entropy(T, kd, causal, scaled)
                assert y(d, name)[a] == pytest.approx(ref, abs=0.04), (name, kd)
        # the untrained head: nearly uniform, so near the maximum and above random scores at its k
        model = y(d, "ent_model")[0]
        assert list(trace(d, "ent_model").x) == [k]
        w = z(d, "self")
        assert model == pytest.approx(row_entropy(w).mean(), abs=1e-9)
        assert y(d, "ent_max")[0] - 0.15 < model <= y(d, "ent_max")[0] + 1e-9
        assert model > y(d, "ent_scaled")[dims.index(k)]
        xt = d.panes["part2_curves"].figure.layout.xaxis2.title.text
        assert f"{T} rows" in xt and (("causal" in xt) == causal)
    finally:
        d.close_worker()


# -- curves: running means over a stated window, baselines --------------------------------------
def test_curves_are_running_means_with_baselines_and_a_stated_window(d):
    for _ in range(WINDOW + 5):
        d.part1.run.step()
    d.part1.draw_curves()
    h = d.part1.run.history["attention"]
    raw = h.loss
    mean = np.array([raw[max(0, n - WINDOW + 1): n + 1].mean() for n in range(len(raw))])  # a direct window mean
    np.testing.assert_allclose(y(d, "loss_att"), mean, rtol=1e-12)
    np.testing.assert_allclose(y(d, "loss_att_raw"), raw)
    acc = h.accuracy
    np.testing.assert_allclose(y(d, "acc_att")[-1], acc[-WINDOW:].mean())
    assert y(d, "loss_chance")[0] == pytest.approx(math.log(10)) and y(d, "acc_chance")[0] == pytest.approx(0.1)
    assert trace(d, "acc_chance").showlegend and "letter frequencies" in trace(d, "acc_chance").name
    notes = [a.text for a in d.panes["part1_curves"].figure.layout.annotations]
    assert sum(f"mean of the last {WINDOW} batches" in t for t in notes) == 1
    assert f"mean of the last {WINDOW} batches" in d.panes["part2_curves"].figure.layout.xaxis.title.text
    d._refreshed()
    assert d.progress.value.count(f"last {WINDOW} batches") == 1  # stated once
    al = h.alignment
    assert f"{100 * al[-WINDOW:].mean():.0f}%" in d.progress.value
    assert y(d, "lm_base")[0] == pytest.approx(d.part2.data.frequency_entropy())
    assert "letter frequencies" in trace(d, "lm_base").name


# -- training: buttons, one model at a time, timelines ------------------------------------------
def test_train_twice_pause_and_part2_pauses_part1(d):
    b1, b2 = d.buttons["part1"], d.buttons["part2"]
    assert [b.description for b in b1.values()] == ["Train", "Pause", "Reset"] == [b.description for b in b2.values()]
    assert b1["pause"].disabled and not b1["train"].disabled
    b1["train"].click()
    assert wait_for(lambda: d.part1.run.steps >= 30)
    assert b1["train"].disabled and not b1["pause"].disabled and not b2["train"].disabled
    b1["train"].click()  # twice: one thread, and a sentence
    assert len(threads()) == 1 and "Already training; press Pause to stop." in d.status.text
    n1 = d.part1.run.steps
    b2["train"].click()  # the other part: part 1 pauses, and it is said
    assert "Part 1 paused: one model trains at a time." in d.status.text
    assert wait_for(lambda: d.part2.run.steps >= 3)
    assert len(threads()) == 1 and d.part1.run.steps in (n1, n1 + 1)
    assert b2["train"].disabled and not b1["train"].disabled and b1["pause"].disabled
    b2["pause"].click()
    assert not threads() and "Part 2 paused at step" in d.status.text
    assert len(trace(d, "lm_loss").x) == d.part2.run.steps and len(trace(d, "loss_att").x) > 0
    assert not b2["train"].disabled and b2["pause"].disabled
    assert d.refresh_times
    no_traceback(d)


def test_part1_timeline_scrubs_every_view_back(d):
    tl = d.part1.timeline
    for _ in range(25):
        s = d.part1.run.step()
        tl.record(s)
    d.part1.on_end("stopped")
    assert len(tl.snaps) >= 3 and tl.following
    live = z(d, "align")
    tl.slider.value = 0  # the untrained model
    fresh = build_seq2seq(Seq2SeqConfig(vocab=d.part1.task.V), seed=PRESETS["default"].seed)
    with torch.no_grad():
        w0 = fresh.run(d.part1.src[None], n_out=len(d.part1.src)).weights[0].numpy()
    np.testing.assert_allclose(z(d, "align"), w0, atol=1e-6)
    assert not np.allclose(live, w0, atol=1e-4)
    assert "weights of step 0" in d.eq_a.value
    shapes = d.panes["part1_curves"].figure.layout.shapes
    assert len(shapes) == 2 and all(s.x0 == 0 and s.name == "timeline" for s in shapes)
    # the live model is untouched: its weights are those of step 25
    assert d.part1.run.models["attention"].training
    tl.slider.value = tl.slider.max  # back to live
    np.testing.assert_allclose(z(d, "align"), live, atol=1e-6)
    assert not d.panes["part1_curves"].figure.layout.shapes
    d.buttons["part1"]["reset"].click()
    assert d.part1.run.steps == 0 and len(tl.snaps) == 1 and tl.slider.max == 0
    no_traceback(d)


def test_part2_timeline_scrubs_every_view_back(d):
    tl = d.part2.timeline
    snap0 = {k: v.clone() for k, v in d.part2.run.models["transformer"].state_dict().items()}
    w_untrained = z(d, "self")
    for _ in range(20):
        tl.record(d.part2.run.step())
    d.part2.on_end("stopped")
    assert not np.allclose(z(d, "self"), w_untrained, atol=1e-4)
    tl.slider.value = 0
    np.testing.assert_allclose(z(d, "self"), w_untrained, atol=1e-6)
    np.testing.assert_allclose(trace(d, "query").y, w_untrained[d.state.query], atol=1e-6)
    assert "weights of step 0" in d.eq_b.value
    assert [s.x0 for s in d.panes["part2_curves"].figure.layout.shapes] == [0]
    live = d.part2.run.models["transformer"].state_dict()  # the live model kept its training
    last = tl.snaps[-1][1]
    assert all(torch.equal(live[k], last[k]) for k in live)
    assert any(not torch.equal(live[k], snap0[k]) for k in live)
    assert d.part2.run.steps == 20 and d.part2.run.models["transformer"].training
    tl.slider.value = tl.slider.max
    assert not np.allclose(z(d, "self"), w_untrained, atol=1e-4)


def test_rebuild_while_training_pauses_and_says_so(d):
    d.buttons["part2"]["train"].click()
    assert wait_for(lambda: d.part2.run.steps >= 3)
    d.c["scaled"].value = False
    assert not threads() and d.part2.run.steps == 0 and d.part2.cfg.scaled is False
    assert "Training paused." in d.status.text and "not scaled" in d.status.text
    d.buttons["part1"]["train"].click()
    assert wait_for(lambda: d.part1.run.steps >= 2)
    d.c["cell"].value = "lstm"
    assert not threads() and d.part1.run.steps == 0 and d.part1.run.models["attention"].cfg.cell == "lstm"
    assert "LSTM" in d.status.text
    no_traceback(d)


def test_presets_and_a_second_dashboard_stops_the_first(d):
    d.buttons["part1"]["train"].click()
    assert wait_for(lambda: d.part1.run.steps >= 2)
    other = dashboard(preset="states")
    try:
        assert wait_for(lambda: not threads(), 10)
        assert other.part1.run.models["attention"].cfg.values == "states" and "encoder states" in other.eq_a.value
    finally:
        other.close_worker()
    b = dashboard(preset="date")
    try:
        assert b.state.source == "22 Nov 2026" and z(b, "align").shape == (10, 11)
    finally:
        b.close_worker()
    with pytest.raises(ValueError, match="Unknown preset"):
        dashboard(preset="nope")
    assert isinstance(d, AttentionDashboard)
