"""The live kit (widgets/kit): checked state and bind, the status line, the refresh gate,
when_drawn, the training worker and the timeline, in plain pytest (no browser)."""

from __future__ import annotations

import math

import threading

import ipywidgets as ipw
import pytest
import torch
import traitlets as tl

from seqviz.training import Diverged, Finished
from tests.conftest import wait_for
from widgets.kit import (CheckedState, RefreshGate, StatusLine, Timeline, TrainingWorker, bind, page_link, weights,
                         when_drawn)
from widgets.kit.checked import _typed_sentence
from widgets.kit.plotpane import PlotPane


class S(CheckedState):
    RANGES = {"T": (10, 200, True), "lr": (1e-4, 1.0, False), "t": lambda s: (0, s.T - 1, True)}
    CHOICES = {"cell": ("lstm", "gru")}
    TEXTS = {"text": 20}
    LABELS = {"T": "Length T"}
    T = tl.Any(100)
    lr = tl.Any(0.01)
    t = tl.Any(5)
    cell = tl.Unicode("lstm")
    text = tl.Any("hello")


@pytest.mark.parametrize("value, expected, said", [
    (float("nan"), 100, "finite"), ("abc", 100, "number"), (1e999, 100, "finite"), (-1, 10, "at least 10"),
    (10 ** 40, 200, "at most 200"), (57.6, 58, None)])
def test_checked_numbers(value, expected, said):
    s = S()
    s.T = value
    assert s.T == expected and isinstance(s.T, int)
    if said:
        assert said in s.corrections["T"] and s.corrections["T"].startswith("Length T")
    else:
        assert "T" not in s.corrections


def test_checked_dynamic_range_choice_and_text():
    s = S()
    s.T = 20
    s.t = 50
    assert s.t == 19 and "at most 19" in s.corrections["t"]
    s.cell = "transformer"
    assert s.cell == "lstm" and "transformer" in s.corrections["cell"]
    s.text = "x" * 50
    assert s.text == "x" * 20 and "50 characters" in s.corrections["text"]
    s.text = "   "
    assert s.text == "x" * 20 and "empty" in s.corrections["text"]
    s.text = 42
    assert s.text == "x" * 20


def test_bind_says_a_correction_and_clears_it_when_the_input_is_clean():
    s, status = S(), StatusLine()
    w = ipw.IntSlider(min=0, max=10 ** 9, description="Length T")
    bind(w, s, "T", status)
    status.say("Ready.")
    w.value = 5000
    assert s.T == 200 and w.value == 200 and "at most 200" in status.text and "Ready." in status.text
    w.value = 150
    assert s.T == 150 and "at most" not in status.text and "Ready." in status.text


def test_a_forged_value_of_the_wrong_type_is_put_back_and_said():
    s, status = S(), StatusLine()
    w = ipw.IntSlider(min=10, max=200, description="Length T")
    bind(w, s, "T", status)
    sent = []
    w.send_state = lambda keys=None: sent.append(keys)
    w.set_state({"value": "abc"})  # what a client's forged update does
    assert w.value == 100 and s.T == 100 and sent == [["value"]]
    assert "cannot take 'abc'" in status.text and "100" in status.text
    d = ipw.Dropdown(options=["lstm", "gru"], description="Cell")
    bind(d, s, "cell", status)
    d.send_state = lambda keys=None: sent.append(keys)
    d.set_state({"index": 99})
    assert d.value == "lstm" and sent[-1] == ["index"] and "Cell cannot take 99; it stays at 'lstm'" in status.text


def test_typed_numbers_get_a_sentence_about_the_value_used():
    """The browser parses a typed readout as JavaScript does (parseInt for integer controls, parseFloat for
    float ones) and clamps it; the sentence names the value it really used."""
    w = ipw.IntSlider(min=10, max=200, value=100, description="Length T")
    assert _typed_sentence(w, "150") is None
    text, used = _typed_sentence(w, "1e999")  # parseInt("1e999") is 1, clamped to the minimum
    assert used == 10 and "read as 1" in text and "range is 10 to 200" in text
    text, used = _typed_sentence(w, "9" * 40)
    assert "range is 10 to 200" in text and used == 200
    assert "not a number" in _typed_sentence(w, "nan?")[0]
    assert _typed_sentence(w, "120abc")[1] == 120
    f = ipw.FloatSlider(min=0.0, max=3.0, value=1.0, description="rho")
    assert _typed_sentence(f, "1e999")[1] == 3.0  # parseFloat gives Infinity: the maximum
    assert _typed_sentence(f, "-Infinity")[1] == 0.0 and _typed_sentence(f, "2.5") is None
    lr = ipw.FloatLogSlider(min=-4, max=0, value=0.01, description="Learning rate")
    text, used = _typed_sentence(lr, "5")
    assert used == 1.0 and "0.0001 to 1" in text


def test_js_number_matches_javascript_parsing():
    from widgets.kit.checked import js_number

    cases = {("  42px", True): 42.0, ("-7.9", True): -7.0, ("1e3", True): 1.0, ("1e3", False): 1000.0,
             (".5e1x", False): 5.0, ("Infinity", False): math.inf, ("infinity", False): None, ("", True): None,
             ("+3", True): 3.0, ("abc", False): None}
    for (text, integer), want in cases.items():
        got = js_number(text, integer)
        assert (math.isnan(got) if want is None else got == want), (text, integer, got)


def test_typed_report_from_the_page_reaches_the_status_line_and_survives_the_clamped_value():
    s, status = S(), StatusLine()
    w = ipw.IntSlider(min=10, max=200, description="Typed T")
    bind(w, s, "T", status)
    page_link()._on_msg(None, {"type": "typed", "label": "Typed T", "text": "1e999"}, [])
    assert "read as 1" in status.text
    w.value = 10  # the browser's value after its own parsing and clamping: the sentence stays
    assert "read as 1" in status.text
    w.value = 120
    assert "read as 1" not in status.text


def test_page_gone_only_after_a_page_was_seen():
    link = page_link()
    link.last_alive, link.said_goodbye = None, False
    assert not link.page_gone()
    link._on_msg(None, {"type": "alive"}, [])
    assert not link.page_gone()
    link._on_msg(None, {"type": "gone"}, [])
    assert link.page_gone()
    link.last_alive, link.said_goodbye = None, False


def test_refresh_gate_holds_rates_and_waits_for_busy_panes():
    g = RefreshGate(hold_s=0.05)
    assert g.ready("a", hz=1000)
    g.hold()
    assert not g.ready("a", hz=1000) and g.ready("a", hz=1000, force=True)
    assert wait_for(lambda: not g.held, 2)

    class Busy:
        busy = True

    assert not g.ready("b", hz=1000, panes=[Busy()])
    assert g.ready("c", hz=1)
    assert not g.ready("c", hz=1)


def test_when_drawn_waits_for_the_acknowledgement_or_the_timeout():
    import plotly.graph_objects as go

    pane = PlotPane(go.Figure(go.Scatter(x=[0], y=[0])))
    ran = []
    when_drawn([pane], lambda: ran.append("now"))
    assert ran == ["now"]  # nothing drawing: at once
    pane._seen_view = True
    pane.send = lambda *a, **k: None
    with pane.batch() as fig:
        fig.data[0].y = [1]
    assert pane.busy
    when_drawn([pane], lambda: ran.append("old"), key="k", max_wait_s=5)
    when_drawn([pane], lambda: ran.append("new"), key="k", max_wait_s=5)
    assert ran == ["now"]
    pane._on_msg(pane, {"type": "drawn", "id": pane._sent}, [])
    assert ran == ["now", "new"]  # the newer one replaced the waiting one
    with pane.batch() as fig:
        fig.data[0].y = [2]
    when_drawn([pane], lambda: ran.append("late"), max_wait_s=0.1)
    assert wait_for(lambda: ran[-1] == "late", 5)
    # a call whose panes are idle runs at once, and only itself: an older wait is not paid for here
    other = PlotPane(go.Figure(go.Scatter(x=[0], y=[0])))
    with pane.batch() as fig:
        fig.data[0].y = [3]
    when_drawn([pane], lambda: ran.append("waiting"), key="w", max_wait_s=5)
    pane._drawn = pane._sent  # drawn, but no message came to flush it
    when_drawn([other], lambda: ran.append("mine"))
    assert ran[-1] == "mine" and "waiting" not in ran


def test_worker_refuses_a_second_start_and_says_why_it_ended():
    status = StatusLine()
    w = TrainingWorker("test-a", status)
    gate = threading.Event()
    n = []

    def step():
        n.append(1)
        gate.wait(0.01)
        return len(n)

    assert w.start(step)
    assert not w.start(step) and "Already training" in status.text
    assert w.pause() and not w.running and status.text.startswith("Paused")

    def bad():
        raise Diverged("rnn")

    w.start(bad)
    assert wait_for(lambda: not w.running, 5)
    assert "RNN's loss became NaN or infinite" in status.text

    def done():
        raise Finished("All finished.")

    w.start(done)
    assert wait_for(lambda: not w.running and "All finished." in status.text, 5)

    def broken():
        raise ValueError("boom")

    w.start(broken)
    assert wait_for(lambda: not w.running and "unexpected problem (boom)" in status.text, 5)
    assert "Traceback" not in status.text


def a_step():
    """A training step that takes about 5 ms (the work, not a wait for something)."""
    threading.Event().wait(0.005)


def test_worker_time_limit_page_gone_and_one_copy_per_kind():
    status = StatusLine()
    w = TrainingWorker("test-b", status, max_seconds=0.2)
    w.start(a_step)
    assert wait_for(lambda: not w.running, 5) and "Paused after" in status.text
    link = page_link()
    link._on_msg(None, {"type": "alive"}, [])
    w.max_seconds = 60
    w.start(a_step)
    link._on_msg(None, {"type": "gone"}, [])
    assert wait_for(lambda: not w.running, 5) and "page was closed" in status.text
    link.last_alive, link.said_goodbye = None, False
    w.start(a_step)
    w2 = TrainingWorker("test-b", StatusLine())  # the dashboard opened again in this kernel
    assert not w.running and not w2.running


def test_one_step_is_refused_while_training_and_reports_divergence():
    status = StatusLine()
    w = TrainingWorker("test-c", status)
    ends = []
    w.one_step(lambda: 1, on_end=ends.append)
    assert ends == ["one step"]
    w.one_step(lambda: 1, on_end=lambda why: "Step 2 of the RNN.")
    assert status.text == "Step 2 of the RNN."
    w.start(a_step)
    w.one_step(lambda: 1)
    assert "Pause training" in status.text
    w.pause()

    def bad():
        raise Diverged("lstm")

    w.one_step(bad, on_end=ends.append)
    assert ends[-1] == "diverged: lstm" and "LSTM's loss" in status.text


def test_timeline_is_bounded_follows_the_live_end_and_scrubs():
    m = torch.nn.Linear(2, 1)
    tl_ = Timeline(lambda: weights(m), max_snapshots=10, every=1)
    tl_.reset(0)
    scrubbed = []
    tl_.on_scrub(lambda: scrubbed.append(tl_.selected()))
    for step in range(1, 200):
        with torch.no_grad():
            m.weight.fill_(step)
        tl_.record(step)
    assert len(tl_.snaps) <= 10 and 199 - tl_.every < tl_.snaps[-1][0] <= 199 and tl_.snaps[0][0] == 0
    assert tl_.following and tl_.selected() is None and scrubbed == []  # recording never scrubs
    tl_.slider.value = 1
    step, snap = scrubbed[-1]
    assert step == tl_.snaps[1][0] and float(snap["weight"][0, 0]) == step
    assert f"step <b>{step}</b>" in tl_.label.value


def test_a_bad_value_set_inside_hold_trait_notifications_is_corrected_too():
    """Inside ``hold_trait_notifications`` (how a preset or ``set_state`` sets several values at once) the
    check runs after the bad value is in place: it must fall back to the last good value, not keep NaN."""

    class Held(CheckedState):
        RANGES = {"T": (10, 200, True)}
        CHOICES = {"cell": ("lstm", "gru")}
        T = tl.Any(100)
        cell = tl.Any("lstm")

    s = Held()
    s.T = 50
    with s.hold_trait_notifications():
        s.T = float("nan")
        s.cell = "zz"
    assert (s.T, s.cell) == (50, "lstm")
    assert "finite" in s.corrections["T"] and "zz" in s.corrections["cell"]
    assert Held(T=float("nan")).T == 100  # at construction: the trait's default


def test_pause_for_a_rebuild_skips_the_final_refresh_of_the_old_models():
    """``pause(rebuild=True)``: the caller draws the new models next, so the thread ends without
    ``on_end`` (nothing to wait for) and without a sentence; the buttons still learn it stopped;
    the next ordinary Pause runs ``on_end`` again."""
    status, ended, running = StatusLine(), [], []
    w = TrainingWorker("test-rebuild", status, on_running=running.append)
    w.start(a_step, on_end=ended.append)
    status.say("Rebuilt: press Train.", "info")
    assert w.pause(rebuild=True) and not w.running
    assert ended == [] and running[-1] is False and status.text.startswith("Rebuilt")
    w.start(a_step, on_end=ended.append)
    assert w.pause() and ended == ["stopped"] and status.text.startswith("Paused")
    assert not w.pause(rebuild=True)  # nothing running: nothing to skip
    w.one_step(a_step, on_end=ended.append)
    assert ended[-1] == "one step"
