"""The batching dashboard in plain pytest: controls, bad input, measuring in a thread."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from seqviz.figures import batching as fb
from widgets.batching import MAX_TEXT, dashboard


def fig_trace(d, uid):
    return fb.trace(d.figs, uid)


def no_stray_threads():
    deadline = time.time() + 10
    while time.time() < deadline:
        if not [t for t in threading.enumerate() if t.name.startswith("seqviz-batching")]:
            return True
        time.sleep(0.05)
    return False


def clean_status(d):
    assert "Traceback" not in d.status.text and "Could not" not in d.status.text, d.status.text


@pytest.fixture
def d():
    dash = dashboard()
    yield dash
    dash.close_worker()


def test_controls_shown_match_the_source(d):
    shown = lambda k: d.c[k].layout.display != "none"  # noqa: E731
    assert shown("text") and shown("batch_size") and shown("seed") and shown("step") and not shown("n")
    d.c["source"].value = "random"
    assert shown("n") and shown("max_len") and shown("batch_size") and not shown("text")


def test_grid_shows_the_batch_and_mask(d):
    grid = fig_trace(d, "grid")
    b = d.scene.batch
    assert [list(r) for r in grid.z] == b.mask.int().tolist()
    words = d.scene.words[0]
    assert [t for t in grid.text[0] if t != "·"] == words  # the first sentence, token by token
    d.state.side = "left"
    grid = fig_trace(d, "grid")
    assert d.scene.batch.side == "left"
    assert [list(r) for r in grid.z] == d.scene.batch.mask.int().tolist()
    shortest = int(d.scene.batch.lengths.argmin())
    assert grid.z[shortest][0] == 0 and grid.z[shortest][-1] == 1  # pads come first on the left
    clean_status(d)


def test_step_slider_highlights_rows_of_step_t(d):
    lay = d.scene.layout
    for t in (0, 3, len(lay.batch_sizes) - 1):
        d.c["step"].value = t
        z = fig_trace(d, "packed").z
        highlighted = sum(1 for row in z for v in row if v == 2)
        assert highlighted == lay.batch_sizes[t] == int((d.scene.batch.lengths > t).sum())
        colors = fig_trace(d, "bsizes").marker.color
        assert list(colors).count(colors[t]) == 1
    assert list(fig_trace(d, "bsizes").y) == lay.batch_sizes


def test_random_lengths_sorting_and_shrinking(d):
    d.state.source = "random"
    d.state.n, d.state.max_len, d.state.batch_size = 300, 150, 32
    wr, ws = d.scene.waste_random, d.scene.waste_sorted
    assert ws.share < wr.share
    share = fig_trace(d, "w_share").y
    assert share[0] == pytest.approx(100 * wr.share) and share[1] == pytest.approx(100 * ws.share)
    n_before = len(d.scene.sorted_batches)
    d.c["shrink"].value = True
    assert len(d.scene.sorted_batches) > n_before
    sizes = [len(ix) for ix in d.scene.sorted_batches]
    assert sizes[-1] < sizes[0]
    clean_status(d)


@pytest.mark.parametrize("name,value,expect", [
    ("batch_size", float("nan"), "finite"), ("batch_size", 10**9, "at most"), ("n", -5, "at least"),
    ("max_len", "abc", "number"), ("seed", math.inf, "finite"), ("side", "middle", "Unknown side"),
    ("source", "<script>", "Unknown source"),
])
def test_bad_values_get_a_sentence_and_keep_working(d, name, value, expect):
    before = getattr(d.state, name)
    setattr(d.state, name, value)
    assert expect in d.status.text
    assert getattr(d.state, name) != value or name == "batch_size"
    if name in ("side", "source", "seed"):
        assert getattr(d.state, name) == before
    d.state.seed = 3  # still works afterwards
    assert d.scene.cfg.seed == 3
    clean_status(d)


@pytest.mark.parametrize("text,expect", [
    ("", "type or paste"),
    ("\ud800 lone surrogate", "surrogate"),
    ("a\x00b\x07c", "control"),
    ("same line\nsame line", "repeat"),
    ("\u202eשלום עולם", "direction"),
])
def test_odd_text_is_explained(d, text, expect):
    d.c["text"].value = text
    assert expect in d.status.text
    clean_status(d)


def test_empty_text_keeps_last_batch(d):
    z_before = [list(r) for r in fig_trace(d, "grid").z]
    d.c["text"].value = "   \n  "
    assert "still show the last batch" in d.status.text
    assert [list(r) for r in fig_trace(d, "grid").z] == z_before


def test_single_token_emoji_and_huge_text(d):
    d.c["text"].value = "👨\u200d👩\u200d👧"
    assert d.scene.batch.tokens.shape == (1, 1)
    assert "larger than the 1" in d.status.text  # batch size 8 > 1 sentence
    d.c["text"].value = "word " * 10_000
    assert len(d.state.text) == MAX_TEXT and f"{MAX_TEXT:,}" in d.status.text
    assert int(d.scene.batch.lengths.max()) <= 400
    d.c["level"].value = "char"
    assert d.scene.cfg.level == "char"
    clean_status(d)


def test_one_hot_panel_equals_lookup(d):
    v = d.scene.onehot
    assert v.max_abs_diff == 0.0
    look = torch.tensor(fig_trace(d, "lookup").z)
    torch.testing.assert_close(look, v.weight[:, v.ids].T)


def test_measure_stop_and_measure_twice_leave_no_threads(d):
    d.c["measure"].click()
    d.c["measure"].click()  # second click while running: a message, not a second thread
    assert "Already measuring" in d.status.text or not d.worker.running
    d.worker._thread and d.worker._thread.join(60)
    names = list(fig_trace(d, "time").x)
    assert len(names) == 4 and all(y > 0 for y in fig_trace(d, "time").y)
    assert d.info.label in fb.title(d.figs, "time")
    cells = {t.name: t.cells for t in d.timings}
    assert cells["packed, shuffled"] == int(d.scene.lengths.sum())
    assert "Measured on" in d.timing_note.value
    # stop mid-run on a bigger data set, then rebuild: no stray thread, no error
    d.state.source = "random"
    d.c["measure"].click()
    d.c["stop"].click()
    assert no_stray_threads()
    d.state.seed = 5
    assert list(fig_trace(d, "time").y) == []  # stale timings are cleared
    clean_status(d)


def test_second_dashboard_stops_the_first_ones_worker():
    a = dashboard(source="random", n=400, max_len=300)
    a.c["measure"].click()
    b = dashboard()
    assert not a.worker.running
    b.close_worker()
    assert no_stray_threads()


def test_factory_rejects_unknown_setting():
    with pytest.raises(ValueError, match="Unknown setting"):
        dashboard(colour="red")
