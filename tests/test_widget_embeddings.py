"""The embeddings dashboard in plain pytest: controls, buttons, state and the data each pane holds,
against independent computations (brute-force cosines and analogies, numpy projections, the model's
own weights), and bad input answered with one sentence."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from seqviz.models import word2vec as W
from tests.conftest import wait_for, workers_alive
from tests.conftest import dashboard_trace as trace
from widgets.embeddings import dashboard




def no_traceback(d):
    assert "Traceback" not in d.status.value and "Error" not in d.status.text


def unit(d):
    return W.unit_rows(d.run.models["w2v"].centre.weight.detach().double().numpy())


def table_words(html_text, col=0, header=True):
    rows = re.findall(r"<tr>(.*?)</tr>", html_text)[1 if header else 0:]
    return [html.unescape(re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", r)[col])) for r in rows]


@pytest.fixture(scope="module")
def dash():
    d = dashboard()
    assert wait_for(d.ready.is_set, 60)  # the corpus loads in a thread while the page shows
    yield d
    d.close_worker()


def test_opens_with_every_view_filled(dash):
    d = dash
    assert len(trace(d, "space").x) == 10 and list(trace(d, "space").text)[:3] == ["one", "two", "three"]
    assert len(trace(d, "obj_before").y) == 1 + d.state.negatives
    assert len(trace(d, "bias").y) >= 20
    assert len(trace(d, "elmo_cos").y) == 3 and trace(d, "elmo_cos").y[0] == pytest.approx(1.0)
    assert "8,612 words" in d.info.value and "Computing on:" in d.children[0].children[3].children[0].value
    assert len(table_words(d.neigh.value)) == 10
    no_traceback(d)


def test_training_moves_the_loss_the_overlap_and_the_space(dash):
    d = dash
    before = np.array([trace(d, "space").x, trace(d, "space").y], dtype=float)
    d.buttons["train"].click()
    assert wait_for(lambda: len(d.overlap_curve) >= 3 and d.run.steps > 200, 60)
    d.buttons["pause"].click()
    assert wait_for(lambda: not d.worker.running, 10)
    d.draw_training(force=True)
    h = d.run.history["w2v"]
    assert list(trace(d, "loss_raw").y)[-1] == pytest.approx(h.loss[-1])
    assert np.mean(h.loss[-50:]) < np.mean(h.loss[:50])
    # the overlap shown is the one recomputed from the model's weights and the vendored reference
    U = unit(d)
    ref = d.reference["neighbours"]
    shares = []
    for w, theirs in ref.items():
        i = d.corpus.vocab.index[w]
        cos = U @ U[i]
        cos[i] = -np.inf
        mine = {d.corpus.vocab.words[j] for j in np.argsort(-cos)[:10]}
        shares.append(len(mine & set(theirs)) / 10)
    assert trace(d, "overlap").y[-1] == pytest.approx(np.mean(shares))
    # the space: numpy's projection of the shown words on the pane's axes
    X = U[[d.corpus.vocab.index[w] for w in trace(d, "space").text]]
    xy = (X - d.proj.mean) @ d.proj.comps.T
    after = np.array([trace(d, "space").x, trace(d, "space").y], dtype=float)
    assert np.allclose(after.T, xy) and not np.allclose(after, before)
    assert not workers_alive("seqviz-embeddings")


def test_neighbours_and_analogies_match_brute_force(dash):
    d = dash
    d.c["word"].value = "two"
    U = unit(d)
    i = d.corpus.vocab.index["two"]
    cos = U @ U[i]
    cos[i] = -np.inf
    assert table_words(d.neigh.value) == [d.corpus.vocab.words[j] for j in np.argsort(-cos)[:10]]
    d.c["a"].value, d.c["b"].value, d.c["c"].value = "man", "woman", "he"
    ix = d.corpus.vocab.index
    t = U[ix["man"]] - U[ix["woman"]] + U[ix["he"]]
    sc = U @ t
    sc[[ix["man"], ix["woman"], ix["he"]]] = -np.inf
    want = [d.corpus.vocab.words[j] for j in np.argsort(-sc)[:5]]
    assert table_words(d.analogy.value, 1, header=False) == want
    d.c["exclude_inputs"].value = False
    sc2 = U @ t
    assert table_words(d.analogy.value, 1, header=False) == [d.corpus.vocab.words[j] for j in np.argsort(-sc2)[:5]]
    assert "Inputs allowed" in d.analogy.value
    d.c["exclude_inputs"].value = True


def test_bias_pane_is_the_projection_on_the_direction(dash):
    d = dash
    d.c["bias_pair"].value = "man / woman"
    U = unit(d)
    ix = d.corpus.vocab.index
    dvec = U[ix["man"]] - U[ix["woman"]]
    got = dict(zip(trace(d, "bias").y, trace(d, "bias").x))
    assert got["nurse"] == pytest.approx(float(U[ix["nurse"]] @ dvec / np.linalg.norm(dvec)))
    assert list(trace(d, "bias").x) == sorted(trace(d, "bias").x)


def test_objective_pane_is_one_step_on_the_pair(dash):
    d = dash
    d.pair_button.click()
    c, o, neg = d.pair
    m = d.run.models["w2v"]
    v = m.centre.weight[c].detach().double().numpy()
    uo = m.context.weight[o].detach().double().numpy()
    assert trace(d, "obj_before").y[0] == pytest.approx(1 / (1 + np.exp(-(uo @ v))))
    d.c["negatives"].value = 3
    assert len(trace(d, "obj_before").y) == 4 and d.run.sampler.negatives == 3
    eta_before = list(trace(d, "obj_after").y)
    d.c["eta"].value = 5.0
    assert list(trace(d, "obj_after").y) != eta_before
    d.c["negatives"].value = 5


def test_bad_words_get_one_sentence_and_change_nothing(dash):
    d = dash
    shown = d.neigh.value
    for bad in ("zzqxv", "☃", "\u202e\u0000"):
        d.c["word"].value = bad
        no_traceback(d)
        assert d.neigh.value == shown
    d.c["word"].value = "zzqxv"
    assert "not in the vocabulary" in d.status.text
    d.c["word"].value = "city"
    assert "not in the vocabulary" not in d.status.text
    d.c["a"].value = "qqqqzz"
    assert "not in the vocabulary" in d.status.text and "previous analogy" in d.status.text
    d.c["a"].value = "man"
    d.state.dim = float("nan")
    assert "finite" in d.status.text and d.state.dim == 64
    d.c["word_set"].value = "my words"
    d.c["my_words"].value = "king queen xqzzy"
    assert "xqzzy" in d.status.text and list(trace(d, "space").text) == ["king", "queen"]
    d.c["word_set"].value = "numbers"
    d.c["my_words"].value = "king queen man"
    assert d.state.word_set == "my words" and list(trace(d, "space").text) == ["king", "queen", "man"]
    d.c["elmo_word"].value = "river"
    assert "both sentences" in d.status.text
    d.c["elmo_word"].value = "bank"
    no_traceback(d)


def test_pasted_text_too_small_keeps_the_corpus_and_two_megabytes_are_cut(dash):
    d = dash
    d.c["paste"].value = "too few words here"
    d.c["corpus"].value = "pasted"
    assert d.state.corpus == "brown" and d.corpus.key == "brown" and "paste more text" in d.status.text
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)]
    big = "\n".join(" ".join(rng.choice(words, 12)) for _ in range(45_000))
    assert len(big) > 2_000_000
    d.c["paste"].value = big
    assert d.state.paste == big[:2_000_000] and "only the first 2000000 are kept" in d.status.text
    d.c["corpus"].value = "pasted"
    assert d.corpus.key == "pasted" and any("200,000" in n for n in d.corpus.notes)
    assert len(d.corpus.vocab) == 200
    d.c["corpus"].value = "brown"
    assert d.corpus.key == "brown" and len(d.corpus.vocab) == 8612


def test_elmo_pane_layer0_identical_and_the_mixture_follows_the_sliders(dash):
    d = dash
    d.lm_buttons["train"].click()
    assert wait_for(lambda: d.lm_run.steps >= 5, 60)
    d.lm_buttons["pause"].click()
    assert wait_for(lambda: not d.worker.running, 10)
    cos = list(trace(d, "elmo_cos").y)
    assert cos[0] == pytest.approx(1.0) and all(c < 0.9999 for c in cos[1:])
    assert len(trace(d, "lm_loss").y) >= 1
    d.c["w0"].value, d.c["w1"].value, d.c["w2"].value = 5.0, -5.0, -5.0
    assert trace(d, "elmo_mix").y[0] == pytest.approx(1.0, abs=1e-3)  # nearly all weight on layer 0
    d.c["w0"].value = -5.0
    d.c["w1"].value = 5.0
    assert trace(d, "elmo_mix").y[0] == pytest.approx(cos[1], abs=5e-3)
    d.c["w0"].value = d.c["w1"].value = d.c["w2"].value = 0.0


def test_controls_before_the_corpus_is_loaded_say_so_and_count_once_it_is():
    d = dashboard()
    try:
        if not d.ready.is_set():  # (the corpus may already be cached in this process)
            d.buttons["train"].click()
            assert "Still loading" in d.status.text and not d.worker.running
        d.state.window = 3
        assert wait_for(lambda: d.ready.is_set() and d.run.sampler.window == 3, 60), d.status.text
        assert len(trace(d, "space").x) == 10
    finally:
        d.close_worker()


def test_train_while_training_says_so_and_reset_starts_again(dash):
    d = dash
    d.buttons["train"].click()
    d.lm_buttons["train"].click()
    assert "Already training" in d.status.text
    d.buttons["pause"].click()
    assert wait_for(lambda: not d.worker.running, 10)
    d.buttons["reset"].click()
    assert d.run.steps == 0 and len(trace(d, "loss").x) == 0 and "Reset" in d.status.text
