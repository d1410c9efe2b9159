"""The character-level language model dashboard in plain pytest: controls, buttons, state and what each pane
holds, against independent computations (numpy softmax, lesson 02's Markov model, numpy corrcoef, bincount)."""

import numpy as np
import pytest
import torch

from seqviz.models.charlm import END
from tests.conftest import eventually, wait_for, workers_alive
from tests.conftest import dashboard_trace as trace
from widgets.charlm import dashboard
from widgets.charlm.view import MAX_SAMPLES




def layout(d, pane):
    return d.panes[pane].figure.layout


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Could not" not in d.status.text


@pytest.fixture
def dash():
    d = dashboard(preset="tiny")
    yield d
    d.close_worker()


def reference_probs(d, prompt_ids, tau):
    """softmax(z / tau) in float64 numpy, z from a full forward pass of the viewer model on END + prompt."""
    with torch.no_grad():
        z = d.viewer(torch.tensor([[0, *prompt_ids]]))[0, -1].double().numpy()
    e = np.exp((z - z.max()) / tau)
    return e / e.sum(), z


def shown_probs(d, tag):
    return np.array(trace(d, tag).y, dtype=float)


def test_opens_with_every_view_filled(dash):
    d = dash
    assert d.preset_name == "tiny" and dashboard.__module__ == "widgets.charlm"
    ngram = pytest.importorskip("seqviz.models.ngram")
    order = d.state.order
    ref = {k: ngram.markov_bits(d.corpus.train, d.corpus.held, k) for k in range(7)}
    assert order == min(ref, key=ref.get)  # the best Markov model is the line to beat
    assert list(trace(d, "markov").y) == pytest.approx([ref[order]] * 2)
    p, _ = reference_probs(d, [], 1.0)
    top = np.sort(p)[::-1][:len(trace(d, "p_one").y)]
    np.testing.assert_allclose(shown_probs(d, "p_one"), top, rtol=1e-5)
    assert len(trace(d, "corr").y) > 0 and "Unit #" in d.passage_box.value
    assert "885 documents" in d.progress.value and "one end token" in d.progress.value
    assert [b.description for b in d.buttons.values()] == ["Train", "Pause", "Reset"]
    lengths = np.array([len(x) for x in d.corpus.train])
    n_max = len(trace(d, "len_corpus").y) - 1
    ref_shares = np.bincount(np.minimum(lengths, n_max), minlength=n_max + 1) / len(lengths)
    np.testing.assert_allclose(np.array(trace(d, "len_corpus").y, dtype=float), ref_shares)
    assert sum(trace(d, "len_sample").y) == pytest.approx(1.0)
    no_traceback(d)


def test_the_default_preset_follows_the_device():
    from seqviz.devices import pick_device
    from widgets.charlm.view import CharLMDashboard

    d = CharLMDashboard.__new__(CharLMDashboard)  # no build: only what would be chosen
    from seqviz.experiments.charlm import default_preset
    assert default_preset(pick_device().device) == ("gpu" if torch.cuda.is_available() else "cpu")
    del d


def test_temperature_bars_are_softmax_over_tau_and_its_limits_give_a_sentence(dash):
    d = dash
    for tau in (0.3, 2.0):
        d.state.tau = tau
        p1, _ = reference_probs(d, [], 1.0)
        pt, _ = reference_probs(d, [], tau)
        order = np.argsort(-p1, kind="stable")[:len(trace(d, "p_tau").y)]
        np.testing.assert_allclose(shown_probs(d, "p_tau"), pt[order], rtol=1e-5, atol=1e-7)
        h = -(pt * np.log2(pt)).sum()
        assert f"H = {h:.2f} bits" in trace(d, "p_tau").name
    d.state.tau = 0.0  # the limit: greedy, one-hot on the argmax
    y = shown_probs(d, "p_tau")
    assert y[0] == 1.0 and y[1:].sum() == 0 and "greedy" in trace(d, "p_tau").name
    d.c["tau"].value = 0.5
    d.state.tau = float("nan")
    assert d.state.tau == 0.5 and "finite" in d.status.text
    d.state.tau = 50
    assert d.state.tau == 3.0 and "at most 3.0" in d.status.text
    no_traceback(d)


def test_prompt_bad_input_is_one_sentence(dash):
    d = dash
    d.state.prompt = "Jo"
    p1, _ = reference_probs(d, d.corpus.vocab.encode("jo"), 1.0)
    np.testing.assert_allclose(shown_probs(d, "p_one"), np.sort(p1)[::-1][:len(trace(d, "p_one").y)], rtol=1e-5)
    d.state.prompt = "Жё7"  # never seen in first names
    assert "never saw" in d.status.text and "unknown character" in d.status.text
    d.state.prompt = "x" * 5000
    assert len(d.state.prompt) == 40 and "only the first 40" in d.status.text
    d.state.prompt = ""
    assert "never saw" not in d.status.text and "Empty prompt: every sample starts a new name" in d.status.text
    d.state.lr = 3e-3
    assert d.run.cfg.lr == 3e-3 and "3.0e-03" in d.status.text
    no_traceback(d)


def test_train_samples_with_their_step_and_histories_stay_bounded(dash):
    d = dash
    d.buttons["train"].click()
    assert wait_for(lambda: len(d.samples) >= 2 and d.run.steps > 20, 60)
    d.buttons["train"].click()
    assert "Already training" in d.status.text
    d.buttons["pause"].click()
    assert wait_for(lambda: "Paused at step" in d.status.text)
    steps = [s[0] for s in d.samples]
    assert steps == sorted(steps) and steps[-1] == d.run.steps  # the last sample: where it paused
    assert "step" in d.samples_box.value and "Samples while it trains" in d.samples_box.value
    held = d.run.history["tf"].column("held_bpc")
    assert np.isfinite(held).sum() >= 2
    assert list(trace(d, "held").y)[-1] == pytest.approx(held[np.isfinite(held)][-1])
    for _ in range(MAX_SAMPLES + 5):
        d._sample_now()
    assert d.recorded_sizes()["samples"] == MAX_SAMPLES
    assert not workers_alive("seqviz-charlm")
    no_traceback(d)


def test_units_ranked_by_feature_against_corrcoef_and_the_slider_recolours(dash):
    d = dash
    d.state.feature = "pos_in_word"
    chars, acts = d._acts[2], d._acts[3]
    keep = [i for i, c in enumerate(chars) if c != END]
    from seqviz.experiments.charlm import features
    f = features(chars)["pos_in_word"][keep]
    r = np.array([np.corrcoef(acts[keep, j], f)[0, 1] if acts[keep, j].std() > 0 else 0.0
                  for j in range(acts.shape[1])])
    assert d.state.unit == int(np.argmax(np.abs(r)))
    np.testing.assert_allclose(np.abs(trace(d, "corr").y[0]), np.abs(r).max(), rtol=1e-6)
    before = d.passage_box.value
    d.state.unit = (d.state.unit + 1) % d.state.n_units
    assert d.passage_box.value != before and f"Unit #{d.state.unit}" in d.passage_box.value
    d.state.unit = 10_000
    assert d.state.unit == d.state.n_units - 1 and "at most" in d.status.text
    no_traceback(d)


def test_scheduled_sampling_twin_is_measured_both_ways(dash):
    d = dash
    d.state.compare = True
    assert wait_for(lambda: not d.building and "ss" in d.run.models, 60)
    d.buttons["train"].click()
    assert wait_for(lambda: d.run.steps > 3 * d.preset.eval_every, 60)
    d.buttons["pause"].click()
    assert wait_for(lambda: "Paused at step" in d.status.text)
    for tag in ("tf_forced", "tf_free", "ss_forced", "ss_free"):
        assert len(trace(d, tag).y) >= 2, tag
    ss = d.run.history["ss"]
    assert list(trace(d, "ss_free").y) == pytest.approx(list(ss.column("free_bpc")[np.isfinite(ss.column("free_bpc"))]))
    assert "Scheduled sampling" in d.exposure_box.value
    no_traceback(d)


def test_corpora_and_pasted_text(dash):
    d = dash
    d.state.corpus = "nope"
    assert d.state.corpus == "names" and "Unknown corpus" in d.status.text
    d.c["pasted"].value = ""
    d.use_text.click()
    assert wait_for(lambda: not d.building and "at least two" in d.status.text, 60)
    assert d.corpus.key == "names" and d.state.corpus == "names"  # the previous corpus is kept
    d.c["pasted"].value = "\n".join(["anna", "bob", "carla", "dora"] * 130_000)  # about 2.2 MB
    d.use_text.click()
    assert wait_for(lambda: not d.building and d.corpus.key == "pasted", 90)
    assert "200,000" in d.status.text
    d.state.corpus = "python_docs"
    assert wait_for(lambda: not d.building and d.corpus.key == "python_docs", 90)
    assert "Lengths: shown for names" in layout(d, "lengths").title.text
    assert len(d.corpus.vocab) <= 98
    no_traceback(d)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_every_model_trains_and_samples(kind):
    d = dashboard(preset="tiny", kind=kind)
    try:
        d.buttons["train"].click()
        assert wait_for(lambda: len(d.samples) >= 1 and d.run.steps > 10, 60)
        d.buttons["pause"].click()
        assert eventually(lambda: "Paused" in d.status.text)
        assert d.run.kind == kind and len(trace(d, "train").y) > 0
        no_traceback(d)
    finally:
        d.close_worker()


def test_the_passage_can_be_the_latest_sample(dash):
    d = dash
    d.state.source = "sample"
    assert "none yet" in d.passage_box.value and len(trace(d, "corr").y) == 0
    d._sample_now()
    d.state.source = "held"
    d.state.source = "sample"
    step, _, prompt, text, _, _ = d.samples[-1]
    assert d._acts[2] == [*(prompt + text.rstrip("\x00")), END] and "the latest sample" in d.passage_box.value
    no_traceback(d)
