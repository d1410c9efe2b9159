"""The attention dashboard in plain pytest: controls, bad input, the drawn matrices
against the equations, training start/stop/reset, no stray threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from seqviz.figures.attention import INDEX, TRACE_PART
from seqviz.models.attention import Seq2SeqConfig, build_seq2seq
from seqviz.probes.attention import recompute_additive, recompute_self_attention
from widgets.attention import AttentionDashboard, dashboard
from tests.conftest import wait_for


def z(d, name):
    return np.array(trace(d, name).z, dtype=float)


def trace(d, name):
    return d.panes[TRACE_PART[name]].figure.data[INDEX[name]]


def seqviz_threads():
    return [t for t in threading.enumerate() if t.name.startswith("seqviz-attention")]


@pytest.fixture(scope="module")
def d():
    dash = dashboard()
    yield dash
    dash.close_worker()


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Error" not in d.status.text


def test_drawn_self_attention_equals_the_equation(d):
    lv = d.live
    m = lv.lm.models["transformer"]
    for layer, head in ((0, 0), (1, 3)):
        d.c["layer"].value, d.c["head"].value = layer, head
        tr = []
        with torch.no_grad():
            m(lv._ids[None], trace=tr)
        w = recompute_self_attention(m, tr[layer]["x_in"], layer)[0][0, head]
        np.testing.assert_allclose(z(d, "self"), w, atol=1e-6)
        np.testing.assert_allclose(z(d, "self").sum(1), 1.0, atol=1e-6)
        assert (z(d, "self")[np.triu_indices(len(w), 1)] == 0).all()  # causal by default: exact zeros
    assert "difference" in d.eq_b.value and "Layer 1, head 3" in d.eq_b.value


def test_drawn_alignment_equals_the_equation(d):
    lv = d.live
    m = lv.s2s.models["attention"]
    with torch.no_grad():
        tr = m.run(lv._src[None], n_out=len(lv._src))
    alpha, _ = recompute_additive(m, tr.h, tr.s_prev)
    np.testing.assert_allclose(z(d, "align"), alpha[0], atol=1e-6)
    assert z(d, "align").shape == (8, 8)  # "abcdefgh"


def test_bad_values_from_the_browser_get_a_sentence(d):
    d.state.query = float("nan")
    assert "number" in d.status.text and isinstance(d.state.query, int)
    d.c["query"].value = 999 if d.c["query"].max >= 999 else d.c["query"].max
    d.state.out_i = 10_000
    assert d.state.out_i == d.state.limits["out_i"] and "at most" in d.status.text
    d.state.task = "klingon"
    assert d.state.task == "reverse" and "Unknown task" in d.status.text
    before = d.state.text
    d.c["text"].value = "   "
    assert d.state.text == before and "empty" in d.status.text
    no_traceback(d)


def test_typed_text_long_unicode_and_beyond_the_positions(d):
    d.c["text"].value = "x" * 5000
    assert len(d.state.text) == 200 and "Showing the first 32 characters" in d.status.text
    assert z(d, "self").shape == (32, 32)  # learned positions: only 32 shown, and said so
    d.c["text"].value = "Caf\u00e9 \U0001F600 \u202eabc\u0000 is better"
    assert "never saw" in d.status.text
    assert "\u00b7" in d.live._text and len(d.live._text) == z(d, "self").shape[0]
    d.c["source"].value = "\u00e9\u00e9\u00e9"
    assert "alphabet" in d.status.text or "at least one" in d.status.text
    assert z(d, "align").shape == (8, 8)  # the previous source is still shown
    d.c["source"].value = "abcdefghijabcdefghij"
    assert "up to 12" in d.status.text and z(d, "align").shape == (20, 20)
    d.c["source"].value = "abcdefgh"
    d.c["text"].value = "Simple is better than complex."
    no_traceback(d)


def test_causal_switch_and_shuffle_without_positions(d):
    d.c["causal"].value = False
    assert d.live.lm.models["transformer"].cfg.causal is False
    assert (z(d, "self")[np.triu_indices(z(d, "self").shape[0], 1)] > 0).all()
    d.c["position"].value = "none"
    before = z(d, "self")
    text = d.live._text
    d.c["permute"].click()
    assert "equivariant" in d.perm_note.value
    perm = [text.index(c) if text.count(c) == 1 else None for c in d.live._text]
    # tokens that occur once: their rows/columns moved with them
    ok = [(a, p) for a, p in enumerate(perm) if p is not None]
    for a, p in ok:
        for b, q in ok:
            assert z(d, "self")[a, b] == pytest.approx(before[p, q], abs=1e-5)
    d.c["position"].value = "learned"
    d.c["permute"].click()
    assert "changes more than the order" in d.perm_note.value
    d.c["causal"].value = True
    no_traceback(d)


def test_selecting_a_cell_updates_the_worked_equations(d):
    d.c["query"].value, d.c["key"].value = 4, 2
    assert "i = 4" in d.eq_b.value and "j = 2" in d.eq_b.value
    d.c["out_i"].value, d.c["src_j"].value = 4, 2
    assert "i = 4" in d.eq_a.value and "j = 2" in d.eq_a.value


def test_training_stop_train_twice_reset_and_history(d):
    d.c["train_s2s"].click()
    assert wait_for(lambda: d.live.s2s.steps >= 30)
    d.c["train_s2s"].click()  # twice: still one thread
    assert len(seqviz_threads()) == 1
    d.c["stop_s2s"].click()
    assert not seqviz_threads()
    n = d.live.s2s.steps
    assert len(trace(d, "loss_att").x) > 0 and len(trace(d, "loss_bn").x) > 0
    assert len(d.live.snaps) >= 2 and d.state.snapshot == len(d.live.snaps) - 1
    d.state.snapshot = 0  # scrub back to the untrained model
    fresh = build_seq2seq(Seq2SeqConfig(vocab=d.live.task.V), seed=0)
    with torch.no_grad():
        w0 = fresh.run(d.live._src[None], n_out=len(d.live._src)).weights[0].numpy()
    np.testing.assert_allclose(z(d, "align"), w0, atol=1e-6)
    assert "step 0" in d.c["snapshot"].description
    d.c["train_lm"].click()  # switching jobs stops the other one
    assert wait_for(lambda: d.live.lm.steps >= 3)
    d.c["reset_lm"].click()  # reset while training
    assert not seqviz_threads() and d.live.lm.steps == 0
    assert d.live.s2s.steps == n
    d.c["reset_s2s"].click()
    assert d.live.s2s.steps == 0 and d.state.snapshot == 0
    no_traceback(d)


def test_task_switch_and_a_second_dashboard_stops_the_first(d):
    d.c["task"].value = "date"
    assert d.state.source == "22 Nov 2026" and z(d, "align").shape == (10, 11)
    d.c["train_s2s"].click()
    assert wait_for(lambda: d.live.s2s.steps >= 2)
    other = AttentionDashboard()
    assert wait_for(lambda: not seqviz_threads(), 10)
    other.close_worker()
    d.c["task"].value = "reverse"
    assert d.state.source == "abcdefgh" or len(d.live._src) == len(d.state.source)
    no_traceback(d)


def test_presets_states_and_date():
    a = dashboard(preset="states")
    assert a.live.s2s.models["attention"].cfg.values == "states" and "encoder states" in a.eq_a.value
    b = dashboard(preset="date")
    assert b.state.source == "22 Nov 2026" and z(b, "align").shape == (10, 11)
    for x in (a, b):
        x.close_worker()
    with pytest.raises(ValueError, match="Unknown preset"):
        dashboard(preset="nope")


def test_query_slider_redraws_the_chosen_row_from_the_equation(d):
    """The query slider only moves what depends on i and j (its own small pane, the boxes), and the
    bar chart is row i of the matrix recomputed from the model's weights."""
    lv = d.live
    m = lv.lm.models["transformer"]
    d.c["layer"].value, d.c["head"].value = 1, 2
    tr = []
    with torch.no_grad():
        m(lv._ids[None], trace=tr)
    w = recompute_self_attention(m, tr[1]["x_in"], 1)[0][0, 2]
    before = z(d, "self")
    for i, j in ((0, 0), (3, 1), (len(w) - 1, 2)):
        d.c["query"].value, d.c["key"].value = i, j
        np.testing.assert_allclose(trace(d, "query").y, w[i], atol=1e-6)
        assert trace(d, "query").marker.color[j] != trace(d, "query").marker.color[(j + 1) % len(w)]
        for box in ("self_sel", "qkv_sel"):  # no browser here: the box follows at once
            assert min(trace(d, box).y) == i - 0.5 and max(trace(d, box).y) == i + 0.5
        assert min(trace(d, "self_sel").x) == j - 0.5
        assert f"i = {i}" in d.eq_b.value and f"j = {j}" in d.eq_b.value
    np.testing.assert_array_equal(z(d, "self"), before)  # the matrix itself was not redrawn
    # the query's pane is small: two subplots, no colour bars (plotly.js redraws a whole pane per update)
    fig = d.panes[TRACE_PART["query"]].figure
    assert TRACE_PART["query"] == TRACE_PART["qkv"] != TRACE_PART["self"]
    assert len([k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]) == 2
    assert not any(getattr(t, "showscale", False) for t in fig.data)
