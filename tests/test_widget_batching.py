"""The batching dashboard in plain pytest: controls, bad input, panes against independent counts,
measuring in the kit's worker (Already measuring, Stop pauses, Measure goes on), device sentences."""

from __future__ import annotations

import html
import math
import re

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from seqviz.devices import DeviceInfo
from seqviz.experiments import batching as xb
from seqviz.figures import batching as fb
from seqviz.figures.patch import build
from seqviz.probes.packing import Timing
from tests.conftest import wait_for, workers_alive
from widgets.batching import MAX_TEXT, dashboard
from widgets.batching import panels
from widgets.kit import page_link


def tr(d, meta):
    """The trace tagged ``meta`` in whichever pane holds it, as the pane would send it."""
    for pane in d.panes.values():
        for t in pane.figure.data:
            if t.meta == meta:
                return t
    raise KeyError(meta)


def title(d, key):
    return d.panes[fb.PART_OF[key]].figure.layout[fb.title_key(key)].text


def clean_status(d):
    assert "Traceback" not in d.status.text and "Could not" not in d.status.text, d.status.text


def percent(text):
    return float(re.search(r"([\d.]+)% of cells are pads", text).group(1))


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
    grid = tr(d, "grid")
    lines = [ln.split() for ln in d.state.text.splitlines() if ln.strip()][:8]
    assert [len(r) - sum(1 for v in r if v == 0) for r in grid.z] == [len(w) for w in lines]  # real cells = words
    assert [t for t in grid.text[0] if t != "·"] == lines[0]  # the first sentence, word by word
    d.state.side = "left"
    grid = tr(d, "grid")
    shortest = min(range(len(lines)), key=lambda i: len(lines[i]))
    assert grid.z[shortest][0] == 0 and grid.z[shortest][-1] == 1  # pads come first on the left
    assert all(row[-1] == 1 for row in grid.z)
    pads = sum(1 for row in grid.z for v in row if v == 0)
    assert f"{pads} of {len(grid.z) * len(grid.z[0])} cells are pads" in title(d, "grid")
    clean_status(d)


def test_step_slider_highlights_rows_of_step_t_and_redraws_only_the_packed_pane(d):
    lengths = d.scene.batch.lengths
    revs = {p: d.panes[p]._rev for p in ("grid", "rest")}
    for t in (0, 3, int(lengths.max()) - 1):
        d.c["step"].value = t
        z = tr(d, "packed").z
        highlighted = [c for row in z for c, v in enumerate(row) if v == 2]
        assert len(highlighted) == int((lengths > t).sum()) and set(highlighted) == {t}
        colors = list(tr(d, "bsizes").marker.color)
        assert colors.count(colors[t]) == 1
        assert f"batch_sizes[{t}] = {int((lengths > t).sum())}" in d.step_note.value
    assert list(tr(d, "bsizes").y) == [int((lengths > t).sum()) for t in range(int(lengths.max()))]
    assert {p: d.panes[p]._rev for p in ("grid", "rest")} == revs


def test_step_stays_inside_a_shorter_batch(d):
    d.c["step"].value = d.c["step"].max
    d.c["text"].value = "a b\nc"
    assert d.c["step"].max == 1 and d.state.step == 1 == d.c["step"].value
    assert [c for row in tr(d, "packed").z for c, v in enumerate(row) if v == 2] == [1]
    assert "Packed step" not in d.status.text  # moved quietly: the person did not type a bad value


def test_random_lengths_sorting_and_shrinking(d):
    d.state.source = "random"
    d.state.n, d.state.max_len, d.state.batch_size = 300, 150, 32
    wr, ws = d.scene.waste_random, d.scene.waste_sorted
    assert ws.share < wr.share
    n_before = len(d.scene.sorted_batches)
    d.c["shrink"].value = True
    assert len(d.scene.sorted_batches) > n_before
    sizes = [len(ix) for ix in d.scene.sorted_batches]
    assert sizes[-1] < sizes[0]
    assert title(d, "w_sorted").startswith(f"3 · {len(sizes)} sorted, shrinking batches")
    clean_status(d)


def independent_pad_share(lengths, batches):
    """Pad cells / all cells, counted on tensors padded by PyTorch's pad_sequence."""
    pads = cells = 0
    for ix in batches:
        seqs = [torch.ones(int(lengths[i])) for i in ix.tolist()]
        grid = pad_sequence(seqs, batch_first=True, padding_value=0.0)  # (B_i, T_i)
        pads += int((grid == 0).sum())
        cells += grid.numel()
    return pads / cells


@pytest.mark.parametrize("config", [{}, {"source": "random", "n": 300, "max_len": 150, "batch_size": 32},
                                    {"source": "random", "n": 2000, "max_len": 400, "dist": "uniform",
                                     "shrink": True, "seed": 4},
                                    {"text": "a\nb c d e f g\nh i\nj k l m\nn", "batch_size": 2}])
def test_every_padding_percentage_is_counted_from_the_batches_shown(config):
    d = dashboard(**config)
    try:
        s = d.scene
        for key, batches, col in (("rand", s.random_batches, 0), ("sorted", s.sorted_batches, 1)):
            want = 100 * independent_pad_share(s.lengths, batches)
            real, pad = tr(d, f"w_{key}_real"), tr(d, f"w_{key}_pad")
            assert len(real.x) == len(s.lengths)  # every sequence is drawn
            drawn = 100 * sum(pad.x) / (sum(pad.x) + sum(real.x))
            assert drawn == pytest.approx(want)
            assert percent(title(d, f"w_{key}")) == pytest.approx(want, abs=0.5)  # the title rounds to 1%
            assert tr(d, "w_share").y[col] == pytest.approx(want)
            assert f"{want:.1f}% padding" in d.facts.value
        grid = torch.tensor([[0 if v is None else v for v in row] for row in tr(d, "grid").z])
        shown = pad_sequence([torch.ones(int(L)) for L in s.batch.lengths], batch_first=True)
        assert f"{int((shown == 0).sum())} of {shown.numel()} cells are pads" in title(d, "grid")
        assert int((grid == 0).sum()) == int((shown == 0).sum())
    finally:
        d.close_worker()


def test_panels_are_numbered_top_to_bottom(d):
    numbers = []
    for part in ("grid", "packed", "rest"):  # the panes, as the page stacks them
        fig = d.panes[part].figure
        titles = [fig.layout[fb.title_key(k)] for k in fb.PARTS[part]]
        titles.sort(key=lambda a: (-round(a.y, 3), a.x))  # rows from the top, then left to right
        numbers += [int(a.text.split(" · ")[0]) for a in titles if re.match(r"\d+ · ", a.text)]
    assert numbers == sorted(numbers) and sorted(set(numbers)) == list(range(1, 7)), numbers
    assert "panel 2" in d.facts.value and "panel 3" in d.facts.value  # the facts refer to the same numbers


@pytest.mark.parametrize("name,value,expect", [
    ("batch_size", float("nan"), "finite"), ("batch_size", 10**9, "at most"), ("n", -5, "at least"),
    ("max_len", "abc", "number"), ("seed", math.inf, "finite"), ("side", "middle", "Unknown side"),
    ("source", "<script>", "Unknown source"), ("hidden", 100, "Unknown LSTM H"),
])
def test_bad_values_get_a_sentence_and_keep_working(d, name, value, expect):
    before = getattr(d.state, name)
    d.c[name].value = before  # bound: the control and the state agree
    setattr(d.state, name, value)
    assert expect in d.state.note
    assert getattr(d.state, name) != value or name == "batch_size"
    if name in ("side", "source", "seed", "hidden"):
        assert getattr(d.state, name) == before
    d.state.seed = 3  # still works afterwards
    assert d.scene.cfg.seed == 3
    clean_status(d)


def test_nan_typed_or_forged_in_a_number_box_gets_one_sentence(d):
    box = d.c["batch_size"]
    box.set_state({"value": float("nan")})  # what a forged comm message does
    assert "Batch size B cannot take nan" in d.status.text and d.state.batch_size == 8
    page_link()._on_msg(None, {"type": "typed", "label": "Batch size B", "text": "NaN"}, None)  # typed, dropped
    assert "'NaN' is not a number, so it stays at 8" in d.status.text
    box.set_state({"value": 5})  # a clean value: the sentences about the earlier one go
    assert "nan" not in d.status.text and d.scene.batch.tokens.shape[0] == 5
    clean_status(d)


@pytest.mark.parametrize("text,expect", [
    ("", "was empty"),
    ("\ud800 lone surrogate", "surrogate"),
    ("a\x00b\x07c", "control"),
    ("same line\nsame line", "repeat"),
    ("\u202eשלום עולם", "direction"),
    ("e\u0301🙂\u202e\u0000", "control"),
])
def test_odd_text_is_explained_and_the_warning_goes_with_a_clean_text(d, text, expect):
    d.c["batch_size"].value = 1  # (no sentence about a batch larger than one line)
    d.c["text"].value = text
    assert expect in d.status.text
    assert len(d.status.corrections) == 1, d.status.corrections  # one sentence about that input
    clean_status(d)
    d.c["text"].value = "a clean sentence\nand another"
    assert d.status.corrections == [] and expect not in d.status.text
    assert d.scene.batch.tokens.shape == (1, 3) and len(d.scene.lengths) == 2


def test_odd_unicode_keeps_its_characters(d):
    d.c["text"].value = "e\u0301🙂\u202e\u0000"
    assert "direction" in d.status.text and "control" in d.status.text
    assert d.scene.words == [["\u00e9", "🙂"]]  # NFC joined the accent; the overrides and NUL are gone
    d.c["level"].value = "char"
    assert d.scene.words == [["\u00e9", "🙂"]]
    clean_status(d)


def test_empty_text_keeps_last_batch(d):
    z_before = [list(r) for r in tr(d, "grid").z]
    d.c["text"].value = "   \n  "
    assert "previous text is kept" in d.status.text
    assert d.c["text"].value == d.state.text != "   \n  "  # the box shows the text still in use
    assert [list(r) for r in tr(d, "grid").z] == z_before


def test_single_token_emoji_and_huge_text(d):
    d.c["text"].value = "👨\u200d👩\u200d👧"
    assert d.scene.batch.tokens.shape == (1, 1)
    assert "larger than the 1" in d.status.text  # batch size 8 > 1 sentence
    d.c["text"].value = "word " * 20_000  # 100,000 characters
    assert len(d.state.text) == MAX_TEXT and f"first {MAX_TEXT}" in d.status.text
    assert "larger than the 1" in d.status.text  # still one (long) sentence
    assert int(d.scene.batch.lengths.max()) == 400  # cut to the longest sentence the tokeniser keeps
    d.c["level"].value = "char"
    assert d.scene.cfg.level == "char"
    d.c["text"].value = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine"
    assert "larger than" not in d.status.text and "first" not in d.status.text
    clean_status(d)


def test_one_hot_panel_equals_lookup(d):
    v = d.scene.onehot
    emb = xb.build_toy(xb.ToyConfig(vocab=len(d.scene.vocab_words), embed=8), seed=0).emb
    ids = torch.tensor(v.ids)
    torch.testing.assert_close(torch.tensor(tr(d, "lookup").z), emb.weight[ids])  # row k of the table
    oh = torch.tensor(tr(d, "oh").z, dtype=torch.float32)  # (L, shown columns)
    W = torch.tensor(tr(d, "W").z)  # (E, shown columns)
    torch.testing.assert_close(oh @ W.T, emb.weight[ids])


def test_every_patch_names_traces_and_keys_its_pane_holds(d):
    skeletons = fb.build_batching_figures()
    s = d.scene
    build(skeletons["grid"], panels.grid_patch(s))
    build(skeletons["packed"], panels.packed_patch(s, 2), panels.step_patch(s, 3))
    build(skeletons["rest"], panels.rest_patch(s), panels.timing_view(None, s, 128, False))
    assert list(skeletons["grid"].data[0].z) == []  # the builders left the skeletons alone


def test_timing_panel_says_press_measure_instead_of_empty_axes(d):
    fig = d.panes["rest"].figure
    hint = fig.layout[fb.HINT]
    assert hint.visible is not False and "Press <b>Measure</b>" in hint.text
    assert hint.xref == "paper" and fig.layout.xaxis6.domain[0] < hint.x < fig.layout.xaxis6.domain[1]
    assert fig.layout.yaxis6.domain[0] < hint.y < fig.layout.yaxis6.domain[1]  # inside the plot area
    assert fig.layout.xaxis6.visible is False and fig.layout.yaxis6.visible is False
    assert list(tr(d, "time").y) == []


def finished(d):
    return wait_for(lambda: not d.worker.running, 120)


def test_measure_shows_medians_counted_cells_and_says_what_they_are(d):
    d.c["measure"].click()
    assert d.c["measure"].disabled or not d.worker.running
    d.c["measure"].click()  # a second click while measuring: a sentence, not a second thread
    assert "Already measuring; press Stop" in d.status.text or not d.worker.running
    assert finished(d)
    s, fig = d.scene, d.panes["rest"].figure
    assert len(tr(d, "time").y) == 4 and all(y > 0 for y in tr(d, "time").y)
    assert fig.layout[fb.HINT].visible is False and fig.layout.yaxis6.visible is True
    assert "median of 3 runs" in fig.layout.yaxis6.title.text and "median of 3 runs" in d.timing_note.value
    assert d.info.label in title(d, "time") and "H = 128" in title(d, "time")
    cells = {t.name: t.cells for t in d.job.results}
    padded = lambda bs: sum(len(ix) * int(s.lengths[ix].max()) for ix in bs)  # noqa: E731
    assert cells["packed, shuffled"] == cells["packed, sorted"] == int(s.lengths.sum())
    assert cells["padded, shuffled"] == padded(s.random_batches) and cells["padded, sorted"] == padded(s.sorted_batches)
    for t in d.job.results:
        assert t.runs == 3 and t.ms == sorted(t.all_ms)[1]  # the median of the three
    names = [t.name for t in d.job.results]
    for name, want in (("packed, sorted", int(s.lengths.sum())), ("padded, shuffled", padded(s.random_batches))):
        assert f"{want:,} cells" in tr(d, "time").customdata[names.index(name)]  # what the pane shows
    assert "Measured all 4" in d.status.text and "median of 3 runs" in d.status.text
    assert d.refresh_times and not d.c["measure"].disabled and d.c["stop"].disabled
    clean_status(d)


def test_stop_pauses_and_measure_goes_on(d):
    d.state.source, d.state.n, d.state.max_len = "random", 400, 200
    d.c["measure"].click()
    assert wait_for(lambda: d.job.results, 120)
    d.c["stop"].click()
    assert not d.worker.running and not workers_alive("seqviz-batching")
    kept = list(d.job.results)
    assert 1 <= len(kept) < 4 and f"Stopped after {len(kept)} of 4" in d.status.text
    assert len(tr(d, "time").y) == len(kept)
    d.c["measure"].click()  # goes on with the configurations left
    assert finished(d)
    assert d.job.results[: len(kept)] == kept and len(d.job.results) == 4
    clean_status(d)


def test_data_or_h_changed_while_measuring_stops_and_says_so(d):
    d.state.source, d.state.n, d.state.max_len = "random", 400, 200
    d.c["measure"].click()
    assert d.worker.running
    d.state.seed = 5  # the data changed: its timings would describe other data
    assert finished(d) and not workers_alive("seqviz-batching")
    assert "the data changed" in d.status.text
    assert list(tr(d, "time").y) == [] and "data changed" in d.panes["rest"].figure.layout[fb.HINT].text
    d.state.source, d.state.n, d.state.max_len = "text", 256, 120
    d.c["measure"].click()
    assert finished(d) and len(d.job.results) == 4
    d.c["hidden"].value = 64  # the bars stay, faded, and say which H they were measured with
    hint = d.panes["rest"].figure.layout[fb.HINT]
    assert hint.visible and "H = 128" in hint.text and "H = 64" in hint.text
    assert tr(d, "time").marker.opacity < 1
    d.c["measure"].click()
    assert finished(d) and d.job.hidden == 64 and "H = 64" in title(d, "time")
    assert d.panes["rest"].figure.layout[fb.HINT].visible is False
    clean_status(d)


def fake_time_lstm(lengths, variants, cfg, generator, device, device_label, stop=lambda: False):
    """Stands in for the real timing on a device this machine does not have."""
    (name, (batches, packed)), = variants.items()
    w = xb.padding_waste(lengths, batches)
    runs = [10.0, 12.0, 11.0][: cfg.reps]
    return [Timing(name, sorted(runs)[len(runs) // 2], w.real_cells if packed else w.padded_cells, len(batches),
                   device_label, runs=len(runs), stat=cfg.stat, all_ms=runs)]


@pytest.mark.parametrize("device,label,cudnn,says,never", [
    ("cpu", "CPU, 1 thread", None, "oneDNN", "cuDNN"),
    ("cuda", "GPU: Tesla", True, "cuDNN has a packed-sequence kernel; not measured here", "hands packed"),
    ("cuda", "GPU: Tesla", False, "no cuDNN", "packed-sequence kernel"),
    ("mps", "Apple GPU (MPS)", None, "Apple's MPS has no cuDNN", "packed-sequence kernel"),
])
def test_the_device_sentence_says_only_what_is_known_for_the_device(monkeypatch, device, label, cudnn, says, never):
    import widgets.batching.view as view

    monkeypatch.setattr(view, "pick_device", lambda: DeviceInfo(torch.device(device), label))
    monkeypatch.setattr(xb, "time_lstm", fake_time_lstm)
    if cudnn is not None:
        monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: cudnn)
    d = dashboard()
    try:
        d.c["measure"].click()
        assert finished(d) and len(d.job.results) == 4
        note = html.unescape(re.sub(r"<[^>]+>", "", d.timing_note.value))
        assert says in note and never not in note, note
        assert f"Measured on {label}" in note and "median of 3 runs" in note
        if device == "cpu":
            assert "torch.profiler" in note  # what was profiled on a CPU, and said so
    finally:
        d.close_worker()


def test_cpu_without_onednn_makes_no_onednn_claim():
    text = panels.device_sentence(torch.device("cpu"), 10, mkldnn=False)
    assert "no oneDNN" in text and "fused oneDNN kernel forward" not in text


def test_second_dashboard_stops_the_first_ones_worker():
    a = dashboard(source="random", n=400, max_len=300)
    a.c["measure"].click()
    b = dashboard()
    assert not a.worker.running
    b.close_worker()
    assert wait_for(lambda: not workers_alive("seqviz-batching"), 10)


def test_factory_rejects_unknown_setting():
    with pytest.raises(ValueError, match="Unknown setting"):
        dashboard(colour="red")
