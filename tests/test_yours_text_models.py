"""Lessons 07 and 08 on the student's own model, text or vectors (#21).

Checked against independent computations: neighbours and analogies on the student's vectors against brute-force
numpy cosines and gensim's KeyedVectors.most_similar; the PCA axes against sklearn's PCA (signs aligned); held-out
bits per character of the student's module against a hand computation (each held-out document alone, -log softmax
summed / count / ln 2); One step against one hand-made Adam step on a copy; sampling against a hand-written greedy
loop; the next-character bars against softmax(z / tau). Plus every misfit's sentence and the Voila note.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from seqviz.data import corpora
from seqviz.yours import text_models as TM
from seqviz.yours.fit import DoesNotFit
from tests.conftest import dashboard_trace as trace
from tests.conftest import wait_for, workers_alive
from widgets.charlm import yours as charlm_yours
from widgets.charlm import yours_vocab
from widgets.charlm.yours import YourCharLMDashboard, YourTextDashboard
from widgets.embeddings import yours as emb_yours
from widgets.embeddings.view import EmbeddingsDashboard
from widgets.embeddings.yours import YourVectorsView
from widgets.kit.yours import VOILA_NOTE, NotFit

TEXT = "\n".join(corpora.documents("names")[:300])


class CharGRU(nn.Module):
    """The lesson's student model: Embedding + GRU + Linear."""

    def __init__(self, vocab_size, hidden=24, tuple_out=False):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(vocab_size, 12)
        self.gru = nn.GRU(12, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)
        self.tuple_out = tuple_out

    def forward(self, x):
        h, last = self.gru(self.emb(x))
        return (self.out(h), last) if self.tuple_out else self.out(h)


@pytest.fixture(scope="module")
def corpus():
    return TM.text_corpus(TEXT)


@pytest.fixture
def dash():
    V = len(yours_vocab(TEXT))
    d = charlm_yours(CharGRU(V), text=TEXT)
    assert isinstance(d, YourCharLMDashboard), getattr(d, "sentence", d)
    yield d
    d.close_worker()


# -- the character-level language model: numbers -----------------------------------------------------------
def hand_bits(model, corpus):
    """Each held-out document alone (no padding): END + doc read, doc + END scored; bits per token."""
    total, n = 0.0, 0
    with torch.no_grad():
        for doc in corpus.held:
            ids = corpus.vocab.encode(doc)
            x = torch.tensor([[0, *ids]])
            y = torch.tensor([*ids, 0])
            logp = torch.log_softmax(model(x)[0].double(), -1)
            total += float(-logp[torch.arange(len(y)), y].sum())
            n += len(y)
    return total / n / math.log(2)


def test_held_out_bits_equal_a_hand_computation(corpus):
    m = CharGRU(len(corpus.vocab))
    assert TM.held_bits_of(m, corpus) == pytest.approx(hand_bits(m, corpus), rel=1e-5)
    # through the forward adapter, on a module that returns (logits, hidden)
    t = CharGRU(len(corpus.vocab), tuple_out=True)
    t.load_state_dict(m.state_dict())
    assert TM.held_bits_of(t, corpus, forward=lambda mm, x: mm(x)[0]) == pytest.approx(hand_bits(m, corpus), rel=1e-5)


def test_one_step_trains_the_module_as_one_adam_step_would(dash):
    m, corpus = dash.model, dash.corpus
    before = copy.deepcopy(m)
    x, y = TM.stream_batches(corpus, 32, 64, "cpu")(torch.Generator().manual_seed(0))  # the first batch trained on
    ref = copy.deepcopy(m)
    opt = torch.optim.Adam(ref.parameters(), lr=dash.state.lr)
    z = ref(x)
    loss = nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1))
    loss.backward()
    nn.utils.clip_grad_norm_(list(ref.parameters()), 1.0)
    opt.step()
    assert f"held-out <b>{hand_bits(before, corpus):.3f}</b>" in dash.progress.value  # untrained, before a step
    dash.buttons["step"].click()
    assert dash.run.steps == 1
    h = dash.history
    assert h.last("bpc") == pytest.approx(float(loss.detach()) / math.log(2), rel=1e-5)
    assert h.last("held_bpc") == pytest.approx(hand_bits(before, corpus), rel=1e-5)  # scored before the update
    for p, q in zip(m.parameters(), ref.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    assert all(not torch.equal(p, r) for p, r in zip(m.parameters(), before.parameters()))
    assert "One step: step 1" in dash.status.text
    # the curve shows it; Reset puts the starting weights back
    assert list(trace(dash, "held").y) == pytest.approx([h.last("held_bpc")])
    dash.buttons["reset"].click()
    assert dash.run.steps == 0
    assert all(torch.equal(p, r) for p, r in zip(m.parameters(), before.parameters()))


def test_train_and_pause_in_the_worker(dash):
    dash.buttons["train"].click()
    assert wait_for(lambda: dash.run.steps >= 3, timeout=60)
    dash.buttons["pause"].click()
    assert not workers_alive("seqviz-charlm-yours")
    assert dash.samples, "a sample is drawn at the end of training"
    assert "Paused at step" in dash.status.text
    assert len(trace(dash, "train").x) == len(dash.history)
    markov = trace(dash, "markov")
    assert markov.y[0] == pytest.approx(dash.markov[dash.state.order])


def test_next_character_bars_are_softmax_over_tau(dash):
    dash.state.prompt = "ma"
    dash.state.tau = 0.5
    ids = dash.corpus.vocab.encode("ma")
    with torch.no_grad():
        z = dash.model(torch.tensor([[0, *ids]]))[0, -1].double().numpy()
    p1 = np.exp(z - z.max()); p1 /= p1.sum()
    pt = np.exp((z - z.max()) / 0.5); pt /= pt.sum()
    order = np.argsort(-p1, kind="stable")[:len(trace(dash, "p_one").y)]
    assert list(trace(dash, "p_one").y) == pytest.approx(list(p1[order]), abs=1e-6)
    assert list(trace(dash, "p_tau").y) == pytest.approx(list(pt[order]), abs=1e-6)


def test_sampling_feeds_the_growing_prefix(corpus):
    m = CharGRU(len(corpus.vocab))
    prompt = corpus.vocab.encode("an")
    got, cut = TM.sample_any(m, prompt, 12, 0.0, None, V=len(corpus.vocab), context=5)
    ctx, want = [0, *prompt], []
    with torch.no_grad():
        for _ in range(12):
            nxt = int(m(torch.tensor([ctx[-5:]]))[0, -1].argmax())
            want.append(nxt)
            if nxt == 0:
                break
            ctx.append(nxt)
    assert got == [want] and not cut
    a, _ = TM.sample_any(m, prompt, 20, 1.0, torch.Generator().manual_seed(3), n=3)
    b, _ = TM.sample_any(m, prompt, 20, 1.0, torch.Generator().manual_seed(3), n=3)
    assert a == b and len(a) == 3


def test_text_caps_are_said():
    long = ("abcdefghij " * 9 + "\n") * 12_000  # 1.2 M characters
    c = TM.text_corpus(long)
    said = " ".join(c.notes)
    assert "first 1,000,000 of 1,200,000 characters of your text" in said
    assert "Training on the first" in said and "training characters" in said
    assert sum(map(len, c.train)) <= TM.C.TRAIN_CHARS


# -- the character-level language model: misfits -------------------------------------------------------------
class Last(CharGRU):
    def forward(self, x):
        return self.out(self.gru(self.emb(x))[0][:, -1])  # (B, V): only the last step


class Boom(CharGRU):
    def forward(self, x):
        raise RuntimeError("shapes do not match")


def test_misfit_sentences(corpus):
    V = len(corpus.vocab)

    def said(model, **kw):
        out = charlm_yours(model, text=TEXT, **kw)
        assert isinstance(out, NotFit), type(out)
        assert "Traceback" not in out.sentence
        return out.sentence

    s = said(CharGRU(V + 5))  # embedding large enough, output too wide
    assert f"(2, 16, {V + 5})" in s and f"vocab_size={V}" in s and "yours_vocab(text)" in s
    s = said(CharGRU(V - 3))
    assert f"nn.Embedding has {V - 3} rows" in s and f"vocab_size={V}" in s
    s = said(CharGRU(V, tuple_out=True))
    assert "a tuple of 2" in s and "forward=lambda m, x: m(x)[0]" in s
    assert isinstance(charlm_yours(CharGRU(V, tuple_out=True), text=TEXT, forward=lambda m, x: m(x)[0]),
                      YourCharLMDashboard)
    s = said(Last(V))
    assert f"({2}, {V})" in s and "at every step" in s
    s = said(Boom(V))
    assert "RuntimeError: shapes do not match" in s
    assert "torch.nn.Module" in said("not a model")
    assert "at least two non-empty lines" in charlm_yours(CharGRU(V), text="just one line").sentence
    assert "text must be a str" in charlm_yours(CharGRU(V), text=42).sentence
    assert "Pass text=" in charlm_yours().sentence


def test_text_only_is_the_lesson_dashboard_on_your_text():
    d = charlm_yours(text=TEXT, preset="tiny")
    try:
        assert isinstance(d, YourTextDashboard)
        assert d.corpus.title == "your text"
        assert d.corpus.train == TM.text_corpus(TEXT).train
        assert "on your text" in d.status.text
    finally:
        d.close_worker()


def test_voila_gets_the_note(monkeypatch, corpus):
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    for out in (charlm_yours(CharGRU(len(corpus.vocab)), text=TEXT), charlm_yours(text=TEXT),
                emb_yours(np.eye(4), list("abcd")), emb_yours(corpus="some text")):
        assert isinstance(out, NotFit) and out.sentence == VOILA_NOTE


# -- word vectors ---------------------------------------------------------------------------------------------
WORDS = [f"w{i}" for i in range(30)] + ["king", "queen", "man", "woman"]


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(1).normal(size=(len(WORDS), 6))


def brute_cos(X):
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    return U, U @ U.T


def test_neighbours_equal_brute_force_and_gensim(X):
    from gensim.models import KeyedVectors

    sp = TM.vector_space(torch.tensor(X), WORDS)
    U, C = brute_cos(X)
    i = WORDS.index("king")
    order = [j for j in np.argsort(-C[i], kind="stable") if j != i][:10]
    got = sp.neighbours("king", 10)
    assert [w for w, _ in got] == [WORDS[j] for j in order]
    assert [c for _, c in got] == pytest.approx([C[i, j] for j in order])
    kv = KeyedVectors(X.shape[1])
    kv.add_vectors(WORDS, X.astype(np.float32))
    ref = kv.most_similar("king", topn=10)
    assert [w for w, _ in got] == [w for w, _ in ref]
    assert [c for _, c in got] == pytest.approx([c for _, c in ref], abs=1e-5)
    # the same through the KeyedVectors themselves (their index_to_key is the vocabulary)
    assert TM.vector_space(kv).neighbours("king", 10)[0][0] == ref[0][0]


def test_analogies_with_and_without_inputs(X):
    from gensim.models import KeyedVectors

    sp = TM.vector_space(X, WORDS)
    U, _ = brute_cos(X)
    a, b, c = (WORDS.index(w) for w in ("king", "man", "woman"))
    t = U[a] - U[b] + U[c]
    cos = U @ (t / np.linalg.norm(t))
    allowed = list(np.argsort(-cos, kind="stable")[:5])
    excluded = [j for j in np.argsort(-cos, kind="stable") if j not in (a, b, c)][:5]
    assert [w for w, _ in sp.analogy("king", "man", "woman", 5, exclude_inputs=False)] == [WORDS[j] for j in allowed]
    got = sp.analogy("king", "man", "woman", 5, exclude_inputs=True)
    assert [w for w, _ in got] == [WORDS[j] for j in excluded]
    kv = KeyedVectors(X.shape[1])
    kv.add_vectors(WORDS, X.astype(np.float32))
    ref = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [w for w, _ in got] == [w for w, _ in ref]
    assert [s for _, s in got] == pytest.approx([s for _, s in ref], abs=1e-5)


def test_pca_axes_equal_sklearn(X):
    from sklearn.decomposition import PCA

    v = emb_yours(nn.Embedding.from_pretrained(torch.tensor(X, dtype=torch.float32)), WORDS)
    assert isinstance(v, YourVectorsView)
    v.state.words = "king queen man woman w0 w1 w2 w3 w4"
    shown = v.state.words.split()
    tr = trace(v, "space")
    assert list(tr.text) == shown
    U = X[[WORDS.index(w) for w in shown]].astype(np.float32).astype(np.float64)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    ref = PCA(2).fit_transform(U)
    xy = np.column_stack([tr.x, tr.y])
    signs = np.sign((xy * ref).sum(0))
    assert np.allclose(xy, ref * signs, atol=1e-5)


def test_vectors_view_words_and_sentences(X):
    v = emb_yours(X, WORDS)
    v.state.word = "Queen"  # matched ignoring case
    assert "“queen”" in v.neigh.value
    _, C = brute_cos(X)
    i = WORDS.index("queen")
    best = WORDS[[j for j in np.argsort(-C[i], kind="stable") if j != i][0]]
    assert f">{best}<" in v.neigh.value.split("</tr>")[0]
    v.state.word = "zebra"
    assert "“zebra” is not among your 34 words" in v.status.text and "“queen”" in v.neigh.value
    v.state.a = "nope"
    assert "“nope” is not among your 34 words" in v.status.text and "king − man + woman" in v.analogy.value
    v.state.words = "zebra"
    assert "at least two of your words" in v.status.text
    assert "Traceback" not in v.status.value
    # k: the table lists the k nearest, and the plot colours those among the shown words
    v.state.word, v.state.k, v.state.words = "king", 4, "king queen man woman w0 w1 w2 w3"
    i = WORDS.index("king")
    top = {WORDS[j] for j in [j for j in np.argsort(-C[i], kind="stable") if j != i][:4]}
    assert v.neigh.value.count("<tr>") == 4
    tr = trace(v, "space")
    assert {w for w, col in zip(tr.text, tr.marker.color) if col == "#D55E00"} == top & set(tr.text)
    v.state.k = 99
    assert v.state.k == 20 and "Neighbours k" in v.status.text
    small = emb_yours(np.eye(3), ["a", "b", "c"])
    assert small.state.k == 2
    assert "nothing is left to answer" in small.analogy.value


@pytest.mark.parametrize("vectors, vocab, said", [
    (np.ones((4, 3)), list("abc"), "have 4 rows (V = 4, D = 3) but vocab has 3 words"),
    (np.ones((4, 1)), list("abcd"), "at least 2 dimensions"),
    (np.ones((2, 3)), list("ab"), "at least 3 words"),
    (np.array([[1.0, 2.0], [np.nan, 1.0], [1.0, 0.0]]), list("abc"), "1 row of the vectors holds NaN or infinite values (“b”)"),
    (np.ones((3, 2)), ["a", "b", "a"], "“a” appears twice in vocab (rows 0 and 2)"),
    (np.ones((3, 2, 2)), list("abc"), "must be a matrix (V, D)"),
    (np.ones((3, 2)), None, "Pass vocab="),
    (np.ones((3, 2)), [1, 2, 3], "vocab must hold words (str)"),
    ("vectors", list("abc"), "must be a (V, D) tensor or array"),
])
def test_vector_misfits(vectors, vocab, said):
    out = emb_yours(vectors, vocab)
    assert isinstance(out, NotFit) and said in out.sentence, getattr(out, "sentence", out)
    with pytest.raises(DoesNotFit):
        TM.as_vectors(vectors, vocab)


def test_corpus_path_trains_skip_gram_on_your_sentences():
    sents = [s.split() for s in corpora.documents("python_docs")[:200]]
    d = emb_yours(corpus=sents)
    try:
        assert isinstance(d, EmbeddingsDashboard)
        assert d.ready.wait(60)
        assert d.corpus.key == "pasted"
        assert d.corpus.vocab.words == TM.E.load_corpus("pasted", TM.corpus_text(sents)[:200_000]).vocab.words
        assert "Your corpus has" in d.status.text  # these sentences are longer than the cap
        assert d.state.word in d.corpus.vocab.index
    finally:
        d.close_worker()
    assert "cannot train word vectors" in emb_yours(corpus="a b c").sentence
    assert "corpus must be a str" in emb_yours(corpus=[1, 2]).sentence
