"""Shareable state and saved settings (issue 18): the knobs in the page address, checked; a link
that reopens the same settings; a settings file whose Python snippet rebuilds the dashboard."""

import json
from urllib.parse import parse_qsl

import pytest

from widgets.gradient_flow import GradientFlowDashboard, GradientFlowState
from widgets.kit.address import (DashboardTools, apply_settings, from_address, knob_names, link_query, settings,
                                 settings_json, settings_snippet)


def test_the_address_sets_every_kind_of_knob():
    s = GradientFlowState()
    said = from_address(s, "T=50&lr=0.003&clip_on=1&task=copy&other=gru&seed=7&presenter=1")
    assert said == [] and s.corrections == {}
    assert (s.T, s.lr, s.clip_on, s.task, s.other, s.seed) == (50, 0.003, True, "copy", "gru", 7)
    assert isinstance(s.T, int) and isinstance(s.lr, float)


@pytest.mark.parametrize("query,name,expect,words", [
    ("T=99999", "T", 200, "at most"),
    ("T=-4", "T", 10, "at least"),
    ("lr=nan", "lr", 1e-2, "finite"),
    ("lr=1e999", "lr", 1e-2, "finite"),
    ("hidden=lots", "hidden", 32, "number"),
    ("task=%3Cscript%3E", "task", "adding", "Unknown"),
    ("clip_on=maybe", "clip_on", False, "on or off"),
    ("T=12.6", "T", 13, None),  # an integer knob rounds, as the slider would
])
def test_bad_or_forged_values_are_clamped_with_one_sentence(query, name, expect, words):
    s = GradientFlowState()
    from_address(s, query)
    assert getattr(s, name) == expect
    if words is None:
        assert s.corrections == {}
    else:
        assert len(s.corrections) == 1 and words in next(iter(s.corrections.values()))


def test_names_that_are_not_knobs_are_ignored_with_one_sentence():
    s = GradientFlowState()
    before = settings(s)
    said = from_address(s, "bogus=1&__class__=x&voila-template=seqviz")
    assert settings(s) == before
    assert len(said) == 1 and "'bogus'" in said[0] and "ignored" in said[0]


def test_an_unreadable_address_changes_nothing():
    s = GradientFlowState()
    before = settings(s)
    from_address(s, "%%%&&&==&T")
    assert settings(s) == before


def test_the_link_holds_what_differs_and_reopens_the_same_settings():
    a = GradientFlowState()
    assert link_query(a) == ""  # nothing differs from the defaults
    a.T, a.lr, a.tbptt_on, a.task, a.radius = 42, 0.05, True, "copy", 1.25
    q = link_query(a)
    assert dict(parse_qsl(q)) == {"T": "42", "lr": "0.05", "tbptt_on": "1", "task": "copy", "radius": "1.25"}
    b = GradientFlowState()
    assert from_address(b, q) == []
    assert settings(b) == settings(a)


def test_knobs_are_the_checked_traits_and_switches_choices_first():
    names = knob_names(GradientFlowState())
    assert set(names) == (set(GradientFlowState.RANGES) | set(GradientFlowState.CHOICES) | {"clip_on", "tbptt_on"})
    assert names.index("preset") < names.index("T")
    assert "note" not in names


@pytest.fixture(scope="module")
def dash_from_address():
    import os

    old = os.environ.get("QUERY_STRING")
    os.environ["QUERY_STRING"] = "T=40&hidden=16&lr=5&bogus=1"
    try:
        d = GradientFlowDashboard(GradientFlowState())
    finally:
        os.environ.pop("QUERY_STRING") if old is None else os.environ.__setitem__("QUERY_STRING", old)
    yield d
    d.close_worker()


def test_a_dashboard_opens_with_the_address_knobs_and_says_what_it_clamped(dash_from_address):
    d = dash_from_address
    assert (d.state.T, d.state.hidden, d.state.lr) == (40, 16, 1.0)
    assert d.run.setup.T == 40  # the model was built with them, not rebuilt afterwards
    assert d.c["T"].value == 40 and d.c["lr"].value == 1.0  # the controls show them
    text = d.status.text
    assert "Learning rate must be at most 1.0" in text and "'bogus'" in text
    assert "seqviz-dashboard" in d._dom_classes
    assert d.tools in d.share.children[0].children  # "Copy link" beside "Share live view"


def test_the_tools_follow_the_knobs_and_the_snippet_rebuilds_the_dashboard(dash_from_address):
    d = dash_from_address
    d.c["T"].value = 33
    assert dict(parse_qsl(d.tools.query))["T"] == "33"
    saved = json.loads(d.tools.settings)
    assert saved["settings"] == settings(d.state) and saved["dashboard"].endswith(":GradientFlowDashboard")
    assert "T" in d.tools.names and "SETTINGS = {" in d.tools.snippet
    # what a person runs in a cell, up to its last line (which builds the dashboard: done below)
    body = d.tools.snippet.rstrip().rsplit("\n", 1)
    assert body[1] == "GradientFlowDashboard(state)"
    ns = {}
    exec(compile(body[0], "<snippet>", "exec"), ns)
    assert settings(ns["state"]) == settings(d.state)
    again = GradientFlowDashboard(ns["state"])
    try:
        assert again.run.setup.T == 33 and again.state.lr == d.state.lr
    finally:
        again.close_worker()


def test_apply_settings_sets_choices_before_ranges():
    s = GradientFlowState()
    apply_settings(s, {"T": 60, "preset": list(GradientFlowState.CHOICES["preset"])[-1], "lr": None})
    assert s.T == 60 and s.lr == 1e-2  # None (a NaN saved as null) leaves the knob alone


def test_copy_and_save_messages_become_sentences(dash_from_address):
    d = dash_from_address
    d.tools._on_msg(d.tools, {"type": "copied", "url": "http://x/voila/render/03.ipynb?T=33", "ok": True}, [])
    assert "Link copied: http://x/voila/render/03.ipynb?T=33" in d.status.text
    d.tools._on_msg(d.tools, {"type": "copied", "url": "http://x/?T=1", "ok": False}, [])
    assert "Copy this link" in d.status.text
    d.tools._on_msg(d.tools, {"type": "saved", "what": "py"}, [])
    assert "Python snippet" in d.status.text
    d.tools._on_msg(d.tools, "garbage", [])  # a forged message: nothing happens
