"""The student's own data in lessons 00-02's dashboards (``yours(...)``): the engine's checks
(``seqviz.yours.data``), each misfit's one sentence, and the dashboards built on the student's data
showing numbers computed from it, against independent computations (numpy's lstsq on the student's
lag windows, torch.nn.utils.rnn.pad_sequence / pack_padded_sequence on the student's tensors,
collections.Counter on the student's text)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from seqviz.data import corpora
from seqviz.experiments import forecasting as fc
from seqviz.experiments.forecasting import minimum_length
from seqviz.models.ngram import BOS, EOS, UNK
from seqviz.yours import data as D
from seqviz.yours.fit import DoesNotFit
from tests.conftest import dashboard_trace as trace
from tests.conftest import wait_for, workers_alive
from widgets.kit.yours import VOILA_NOTE, NotFit

SMALL = dict(hidden=8, channels=8, fit_steps=30, fold_steps=3)


def refused(fn, *args, **kwargs) -> str:
    with pytest.raises(DoesNotFit) as e:
        fn(*args, **kwargs)
    s = str(e.value)
    assert "\n" not in s and "Traceback" not in s
    return s


def sine(n=300, seed=0):
    return np.sin(np.arange(n) / 5) + 0.1 * np.random.default_rng(seed).standard_normal(n)


# -- a series -------------------------------------------------------------------------------------------
def test_a_series_from_a_list_an_array_a_tensor_or_a_pandas_series_is_the_same_numbers():
    x = sine(120)
    ref = D.check_series(x).values
    np.testing.assert_array_equal(ref, x)
    np.testing.assert_array_equal(D.check_series(list(x)).values, x)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    np.testing.assert_array_equal(D.check_series(t).values, x)
    np.testing.assert_array_equal(D.check_series(torch.arange(50)).values, np.arange(50.0))
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(D.check_series(pd.Series(x, index=pd.RangeIndex(120) * 3)).values, x)
    col = D.check_series(x.reshape(-1, 1))  # (120, 1): one series
    np.testing.assert_array_equal(col.values, x)
    assert "(120, 1)" in col.note and col.key == "yours" and col.time[-1] == 119


def test_missing_values_are_filled_by_a_straight_line_and_said():
    x = sine(100)
    gaps = [3, 4, 50]
    y = x.copy()
    y[gaps] = np.nan
    s = D.check_series(y)
    keep = np.setdiff1d(np.arange(100), gaps)
    np.testing.assert_allclose(s.values[gaps], np.interp(gaps, keep, x[keep]))
    np.testing.assert_array_equal(s.values[keep], x[keep])
    assert "3 values of 100 were missing (NaN or None)" in s.note
    with_none = [None if i in gaps else v for i, v in enumerate(x)]  # a list's None is missing too
    np.testing.assert_array_equal(D.check_series(with_none).values, s.values)
    pd = pytest.importorskip("pandas")
    na = pd.Series(with_none, dtype="Float64")  # pandas' own NA (an object array through .to_numpy())
    np.testing.assert_array_equal(D.check_series(na).values, s.values)
    y[:60] = np.nan
    assert "60 of the 100 values are missing" in refused(D.check_series, y)


@pytest.mark.parametrize("bad, said", [
    (np.zeros((100, 3)), "This is a (100, 3) array; the forecasting view needs one series: pass x[:, 0]"),
    (torch.zeros(2, 5, 4), "This is a (2, 5, 4) tensor; the forecasting view needs one series: pass x[0, :, 0]"),
    ([1.0, 2.0, "x", 4.0], "Item 2 is the text 'x', not a number"),
    (np.array(["a", "b"]), "Item 0 is the text 'a', not a number"),
    ([1.0, object(), 3.0], "Item 1 is an object, not a number"),
    ("1 2 3", "This is text"),
    (3.5, "This is one number"),
    ([], "This series is empty"),
    ([1.0, np.inf, 2.0, -np.inf], "2 values are infinite (the first is item 1)"),
    ([1.0, 1e300, 2.0], "Item 1 is 1e+300"),
    ([4.0] * 50, "All 50 values are equal"),
    ({"a": [1, 2]}, "pass one of its values"),
    (torch.tensor([1 + 2j, 3j]), "complex"),
])
def test_a_series_that_does_not_fit_gets_one_sentence(bad, said):
    assert said in refused(D.check_series, bad)


def test_a_long_series_keeps_its_most_recent_values_and_says_so():
    x = np.arange(D.MAX_SERIES_VALUES + 2500, dtype=float) % 17
    s = D.check_series(x)
    np.testing.assert_array_equal(s.values, x[-D.MAX_SERIES_VALUES:])
    assert f"Kept the last {D.MAX_SERIES_VALUES:,} of {len(x):,} values" in s.note


def test_the_window_fits_the_series_or_is_refused_with_a_sentence():
    assert D.fit_window(300) == (12, 12)
    for n in (6, 12, 20, 40, 60):  # lowered until the set-up accepts it, no lower than needed
        w, m = D.fit_window(n)
        assert minimum_length(w, m) <= n
        assert w == 12 or minimum_length(w + 1, m) > n
    assert D.window_note(20, *D.fit_window(20), None).startswith("With 20 values the window is w = ")
    assert D.window_note(300, 12, 12, None) == ""
    said = refused(D.fit_window, 40, 30, 12)
    assert f"needs at least {minimum_length(30, 12)}" in said and "window 30" in said
    assert "needs at least 6" in refused(D.fit_window, 5)
    assert "from 1 to 60" in refused(D.fit_window, 300, 0)
    assert "from 1 to 120" in refused(D.fit_window, 300, None, 2.5)


# -- a list of sequences --------------------------------------------------------------------------------
def test_sentences_become_the_text_boxs_lines_and_odd_unicode_is_cleaned():
    s = D.check_sequences(["a short one", "  a much\tlonger sentence here ", "", "two\nlines"])
    assert s.kind == "text" and s.text == "a short one\na much longer sentence here\ntwo lines"
    assert "Dropped 1 empty sentence." in s.notes and "line breaks inside" in " ".join(s.notes)
    odd = D.check_sequences(["zero\u200bwidth", "bidi\u202eover", "caf\u0065\u0301"])
    assert "\u202e" not in odd.text and odd.text.count("\n") == 2
    many = D.check_sequences([f"sentence {i}" for i in range(300)])
    assert len(many.text.split("\n")) == D.MAX_SENTENCES and "first 256 of 300 sentences" in " ".join(many.notes)


def test_token_ids_stay_the_students_ids():
    seqs = [torch.tensor([5, 3, 9]), [1, 2], np.array([7, 7, 7, 7], dtype=np.int32), torch.tensor([], dtype=torch.long),
            torch.arange(500)]
    s = D.check_sequences(seqs)
    assert s.kind == "ids" and [t.tolist() for t in s.ids[:3]] == [[5, 3, 9], [1, 2], [7, 7, 7, 7]]
    assert all(t.dtype == torch.long for t in s.ids) and len(s.ids[3]) == D.MAX_SEQ_LEN
    assert s.vocab_words[9] == "9" and len(s.vocab_words) == D.MAX_SEQ_LEN  # ids 0..399 kept
    said = " ".join(s.notes)
    assert "Dropped 1 empty sequence" in said and f"Cut 1 sequence to {D.MAX_SEQ_LEN} tokens" in said
    big = D.check_sequences([[1, 2]] * (D.MAX_SEQUENCES + 10))
    assert len(big.ids) == D.MAX_SEQUENCES and f"first {D.MAX_SEQUENCES:,} of" in " ".join(big.notes)


@pytest.mark.parametrize("bad, said", [
    ([], "This list is empty"),
    ("a sentence", "This is one string"),
    (torch.zeros(4, 6, dtype=torch.long), "This is a tensor of shape (4, 6), a batch that is padded already"),
    ([torch.tensor([1, 2]), torch.zeros(2, 3)], "Item 1 is a tensor of shape (2, 3); each sequence must be 1-D"),
    (["a sentence", torch.tensor([1, 2])], "Item 0 is a sentence (str) and item 1 is a tensor; pass only"),
    ([[1, 2], "words"], "Item 1 is a sentence (str) and item 0 is a list"),
    ([torch.tensor([0.5, 1.0])], "token ids are whole numbers: pass x.long()"),
    ([[3, -1]], "Item 0 holds the id -1"),
    ([[D.MAX_TOKEN_ID + 1]], f"takes ids up to {D.MAX_TOKEN_ID:,}"),
    ([b"bytes"], "Item 0 is bytes; decode it"),
    ([None], "Item 0 is None"),
    ([[], torch.tensor([], dtype=torch.long)], "All 2 sequences are empty"),
    (["", "   "], "All 2 sentences are empty"),
    (42, "This is an int"),
])
def test_sequences_that_do_not_fit_get_one_sentence(bad, said):
    assert said in refused(D.check_sequences, bad)


# -- a corpus -------------------------------------------------------------------------------------------
def test_a_corpus_is_one_document_a_line_capped_at_whole_documents():
    c = D.check_corpus(["the cat sat", "on\nthe mat", "", "  "], "word", 1)
    assert c.text == "the cat sat\non the mat" and c.n_docs == 2 and not c.notes
    assert D.check_corpus("first line\n\nsecond line", "char", 2).text == "first line\nsecond line"
    doc = "x" * 999
    big = D.check_corpus([doc] * 300, "char", 2)  # 300,000 characters: 200 whole documents fit
    assert big.n_docs == 200 and big.text == "\n".join([doc] * 200)
    assert "first 200 of your 300 documents" in big.notes[0]


@pytest.mark.parametrize("corpus, kw, said", [
    ("", {}, "This text is empty"),
    ([" ", "\n"], {}, "This text is empty"),
    (["ok", 3], {}, "Item 1 is an int"),
    (b"abc", {}, "This is bytes"),
    (12, {}, "This is an int"),
    ("ab\nc", {"order": 3}, "Your longest document has 2 characters; a Markov model of order 3 needs 4 in a row"),
    ("two words", {"level": "word", "order": 2}, "Your longest document has 2 words"),
    ("text", {"level": "byte"}, "level='byte'"),
    ("text", {"order": 9}, "from 0 to 7"),
])
def test_a_corpus_that_does_not_fit_gets_one_sentence(corpus, kw, said):
    assert said in refused(D.check_corpus, corpus, **kw)


# -- the dashboards on the student's data ----------------------------------------------------------------
@pytest.fixture
def small(monkeypatch):
    monkeypatch.setitem(fc.PRESETS, "cpu", SMALL)


def numbers(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def test_forecasting_on_the_students_series_fits_its_ar_by_lstsq_and_trains_every_model(small):
    from widgets.forecasting import yours

    x = sine(260)
    x[7] = np.nan
    d = yours(x, name="my sine", season=10, window=8)
    try:
        v = D.check_series(x).values
        np.testing.assert_array_equal(numbers(trace(d, "series").y), v)
        exp = d.exp
        assert (exp.w, exp.m, d.state.series) == (8, 10, "yours") and d.c["series"].label == "Yours: my sine"
        # the AR: least squares on the student's own lag windows (lag 1 first), training part only
        t0, ts = max(8, 10), exp.test_start
        A = np.column_stack([np.ones(ts - t0)] + [v[t0 - i: ts - i] for i in range(1, 9)])
        coef, *_ = np.linalg.lstsq(A, v[t0:ts], rcond=None)
        ref = [coef[0] + sum(coef[i] * v[t - i] for i in range(1, 9)) for t in range(ts, len(v))]
        np.testing.assert_allclose(numbers(trace(d, "pred_ar").y), ref, rtol=1e-7)
        np.testing.assert_allclose(numbers(trace(d, "pred_seasonal").y), v[ts - 10:len(v) - 10])
        assert "1 value of 260 was missing (NaN or None)" in d.status.text and "Ready: my sine, 260 values" in d.status.text
        # every model, every validation, on the student's series
        d.buttons["train"].click()
        assert wait_for(lambda: not d.worker.running, 120) and d.exp.phase == "done"
        sc = d.exp.scores()
        assert all(math.isfinite(sc[k][split]) for k in fc.METHODS for split in ("holdout", "walk", "random"))
        np.testing.assert_allclose(numbers(trace(d, "err_gru").y),
                                   np.abs(d.exp.holdout_predictions()["gru"] - v[ts:]), rtol=1e-6)
        # the bundled series stay one choice away, and the student's comes back
        d.c["series"].value = "sunspots"
        assert d.exp.series.key == "sunspots" and len(d.exp.series.values) == 309
        d.c["series"].value = "yours"
        assert d.exp.series.key == "yours" and (d.state.w, d.state.m) == (8, 10)
        np.testing.assert_array_equal(numbers(trace(d, "series").y), v)
    finally:
        d.worker.pause()
        d.close_worker()
    assert not workers_alive("seqviz-forecasting")


def test_forecasting_misfits_come_back_as_the_engines_sentence(small):
    from widgets.forecasting import yours

    for bad, kw in ((np.zeros((100, 3)), {}), (sine(30), {"window": 20}), ([1, "two"], {}),
                    (sine(300), {"colour": 1}), (sine(300), {"series": "co2"})):
        r = yours(bad, **kw)
        assert isinstance(r, NotFit) and r.level == "error" and "Traceback" not in r.sentence, r
    assert yours(np.zeros((100, 3))).sentence == refused(D.check_series, np.zeros((100, 3)))
    assert "Unknown setting 'colour'" in yours(sine(300), colour=1).sentence


def test_batching_on_the_students_token_ids_is_pad_sequence_and_packing_of_them():
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    from widgets.batching import yours

    g = torch.Generator().manual_seed(3)
    seqs = [torch.randint(1, 900, (int(n),), generator=g) for n in torch.randint(1, 30, (12,), generator=g)]
    d = yours(seqs, batch_size=5)
    try:
        B = 5
        want = pad_sequence(seqs[:B], batch_first=True)  # (B, T), pads 0 on the right
        assert torch.equal(d.scene.batch.tokens, want)
        lengths = torch.tensor([len(s) for s in seqs[:B]])
        assert torch.equal(d.scene.batch.mask, torch.arange(want.shape[1])[None] < lengths[:, None])
        np.testing.assert_array_equal(np.asarray(trace(d, "grid").z), d.scene.batch.mask.numpy().astype(int))
        packed = pack_padded_sequence(want, lengths, batch_first=True, enforce_sorted=False)
        assert list(d.scene.layout.batch_sizes) == packed.batch_sizes.tolist()
        assert d.scene.words[0] == [str(i) for i in seqs[0].tolist()]
        assert torch.equal(d.scene.lengths, torch.tensor([len(s) for s in seqs]))
        assert d.state.source == "yours" and d.c["text"].layout.display == "none"
        d.state.side = "left"
        assert torch.equal(d.scene.batch.tokens, pad_sequence([s.flip(0) for s in seqs[:B]], batch_first=True).flip(1))
        d.c["source"].value = "random"
        assert d.scene.lengths.shape[0] == d.state.n
        d.c["source"].value = "yours"
        assert torch.equal(d.scene.lengths, torch.tensor([len(s) for s in seqs]))
    finally:
        d.close_worker()


def test_batching_on_the_students_sentences_goes_through_the_text_path():
    from widgets.batching import yours

    sents = ["a short one", "a much longer sentence here", "", "mid"]
    d = yours(sents, batch_size=3)
    try:
        assert d.state.source == "text" and d.c["text"].value == "a short one\na much longer sentence here\nmid"
        assert d.scene.batch.lengths.tolist() == [len(s.split()) for s in sents if s][:3]
        assert d.scene.words[1] == "a much longer sentence here".split()
        assert "Dropped 1 empty sentence." in d.status.text
        d.c["text"].value = "new text here"  # the note was about the student's list: it goes
        assert "Dropped" not in d.status.text and d.scene.words == [["new", "text", "here"]]
        chars = yours(["ab", "cde"], level="char")
        assert chars.scene.words == [["a", "b"], ["c", "d", "e"]]
        chars.close_worker()
    finally:
        d.close_worker()
    r = yours([torch.zeros(2, 2)])
    assert isinstance(r, NotFit) and r.sentence == refused(D.check_sequences, [torch.zeros(2, 2)])
    assert "level='x'" in yours(["a b"], level="x").sentence
    assert "Unknown setting(s) text here" in yours(["a b"], text="x").sentence


def brute_counts(docs, k):
    ng, ctx = Counter(), Counter()
    for d in docs:
        p = [BOS] * k + list(d) + [EOS]
        for i in range(k, len(p)):
            ng[tuple(p[i - k:i]), p[i]] += 1
            ctx[tuple(p[i - k:i])] += 1
    return ng, ctx


def test_markov_on_the_students_text_counts_what_counter_counts():
    from widgets.markov import yours

    lines = [f"the {a} sat on the {b}" for a in ("cat", "dog", "hen", "fox") for b in ("mat", "log", "rug")]
    d = yours(lines, level="word", order=1)
    try:
        assert wait_for(lambda: d.jobs.idle, 120) and d._ready()
        assert d.state.corpus == "pasted" and d.c["pasted"].value == "\n".join(lines) and d.state.text == "the"
        st = d.study.data
        mine = [ln.split() for ln in lines]  # the student's documents, split by hand
        assert sorted(st.train + st.held) == sorted(mine) and len(st.held) == 1
        ng, ctx = brute_counts(st.train, 1)
        V = len({w for doc in st.train for w in doc} | {EOS, UNK})
        x, y = list(trace(d, "smoothed").x), list(trace(d, "smoothed").y)
        for label, p in zip(x, y):
            if not label.startswith("all other"):
                w = {"⟨/s⟩": EOS, "⟨unk⟩": UNK}.get(label, label)
                assert p == pytest.approx((ng[("the",), w] + 1) / (ctx[("the",)] + V))
        assert ctx[("the",)] == 22 and f"seen {ctx[('the',)]:,} times" in d.panes["next"].figure.layout.title.text
        m = d.study.model(1)
        dist = m.distribution(("the",))
        assert {m.vocab[i]: int(c) for i, c in enumerate(dist["counts"]) if c} == {
            w: c for (c_, w), c in ng.items() if c_ == ("the",)}
    finally:
        d.close_worker()


def test_markov_misfits_and_a_capped_corpus_are_said():
    from widgets.markov import yours

    r = yours("ab", order=3)
    assert isinstance(r, NotFit) and r.sentence == refused(D.check_corpus, "ab", "char", 3)
    assert "This is an int" in yours(5).sentence
    assert "pasted is your text here" in yours("some text", pasted="x").sentence
    d = yours(["y" * 999] * 250, order=1)
    try:
        assert "Counting the first 200 of your 250 documents" in d.status.text
        assert wait_for(lambda: d.jobs.idle, 120)
        assert d.study.data.n_train_all + sum(map(len, d.study.data.held)) == 200 * 999
    finally:
        d.close_worker()


# -- Voila ------------------------------------------------------------------------------------------------
def test_under_voila_every_entry_point_says_it_runs_in_jupyterlab(monkeypatch):
    from widgets.batching import yours as batching
    from widgets.forecasting import yours as forecasting
    from widgets.markov import yours as markov

    monkeypatch.setenv("VOILA_BASE_URL", "/")
    for fn, data in ((forecasting, sine()), (batching, ["a b", "c"]), (markov, "some text here")):
        r = fn(data)
        assert isinstance(r, NotFit) and r.sentence == VOILA_NOTE and r.level == "info"
