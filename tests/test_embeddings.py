"""The embeddings engine against independent computations: the negative-sampling loss by hand, the
subsampling probabilities against the formula and gensim's own, neighbours and analogies against brute
force, the PCA against scikit-learn, analogy accuracy against gensim's evaluator on the same vectors,
gensim's neighbours against ours on a seeded run, and the bidirectional LM's layer 0 and causality."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest
import torch

from seqviz.experiments import embeddings as E
from seqviz.models import word2vec as W
from seqviz.models.bilm import BiLM, mix


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_sgns_loss_equals_a_hand_computation():
    g = torch.Generator().manual_seed(1)
    v, uo, un = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.randn(3, 2, 4, generator=g)
    got = float(W.sgns_loss(v, uo, un))
    want = 0.0
    for b in range(3):
        dot = sum(float(v[b, i] * uo[b, i]) for i in range(4))
        want -= math.log(sig(dot))
        for k in range(2):
            want -= math.log(sig(-sum(float(v[b, i] * un[b, k, i]) for i in range(4))))
    assert got == pytest.approx(want / 3, rel=1e-5)


def test_pair_step_raises_the_true_score_and_lowers_the_noise():
    rng = np.random.default_rng(0)
    v, uo, un = rng.normal(size=8) * 0.3, rng.normal(size=8) * 0.3, rng.normal(size=(5, 8)) * 0.3
    r = W.pair_step(v, uo, un, lr=0.1)
    assert r["loss_after"] < r["loss_before"]
    assert r["sigma_after"][0] > r["sigma_before"][0]
    assert r["dot_before"][0] == pytest.approx(float(uo @ v)) and np.allclose(r["dot_before"][1:], un @ v)
    # the gradient step by hand: d/dv = -(1-σ(u_o·v)) u_o + Σ σ(u_k·v) u_k
    s0, sk = sig(uo @ v), 1 / (1 + np.exp(-(un @ v)))
    v2 = v - 0.1 * (-(1 - s0) * uo + (sk[:, None] * un).sum(0))
    uo2 = uo - 0.1 * (-(1 - s0) * v)
    assert r["dot_after"][0] == pytest.approx(float(uo2 @ v2), rel=1e-9)


def test_keep_probability_matches_the_formula_and_gensim():
    gensim = pytest.importorskip("gensim")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    p = np.arange(1, 51, dtype=float) ** -1.1
    sents = [list(rng.choice(words, size=20, p=p / p.sum())) for _ in range(500)]
    vocab = W.build_vocab(sents, min_count=1)
    keep = W.keep_probability(vocab.counts, 1e-3)
    z = vocab.counts / vocab.counts.sum()
    for i in range(len(vocab)):
        assert keep[i] == pytest.approx(min(1.0, (math.sqrt(z[i] / 1e-3) + 1) * 1e-3 / z[i]))
    m = gensim.models.Word2Vec(sents, vector_size=4, min_count=1, sample=1e-3, sg=1, epochs=1, workers=1, seed=0)
    for w, i in vocab.index.items():
        assert keep[i] == pytest.approx(m.wv.get_vecattr(w, "sample_int") / 2 ** 32, abs=1e-9)
    assert np.all(W.keep_probability(vocab.counts, 0) == 1)


def test_pairs_stay_in_their_sentence_and_window_and_noise_follows_the_three_quarter_power():
    sents = [["a", "b", "c", "d"], ["e", "f", "g"], ["a", "c", "e", "g", "b"]]
    vocab = W.build_vocab(sents, min_count=1)
    ids, sid = W.encode(sents, vocab)
    S = W.PairSampler(ids, sid, vocab.counts, window=2, negatives=3, sample=0)
    g = torch.Generator().manual_seed(0)
    c, o, neg = S.batch(4000, g)
    allowed = set()
    for s in sents:
        for i, w in enumerate(s):
            for j in range(max(0, i - 2), min(len(s), i + 3)):
                if j != i:
                    allowed.add((vocab.index[w], vocab.index[s[j]]))
    assert {(int(a), int(b)) for a, b in zip(c, o)} <= allowed and neg.shape == (4000, 3)
    freq = np.bincount(neg.flatten().numpy(), minlength=len(vocab)) / neg.numel()
    assert np.allclose(freq, W.noise_distribution(vocab.counts), atol=0.01)


def test_nearest_and_analogy_match_brute_force():
    rng = np.random.default_rng(3)
    U = W.unit_rows(rng.normal(size=(300, 16)))
    for w in (0, 7, 299):
        cos = [(float(U[w] @ U[j]), j) for j in range(300) if j != w]
        want = [j for _, j in sorted(cos, reverse=True)[:10]]
        assert [i for i, _ in W.neighbours(U, w, 10)] == want
    a, b, c = 5, 9, 12
    t = U[a] - U[b] + U[c]
    brute = sorted(((float(U[j] @ t) / np.linalg.norm(t), j) for j in range(300) if j not in (a, b, c)), reverse=True)
    got = W.analogy(U, a, b, c, k=5)
    assert [i for i, _ in got] == [j for _, j in brute[:5]]
    assert [s for _, s in got] == pytest.approx([s for s, _ in brute[:5]])
    all_ = sorted(((float(U[j] @ t) / np.linalg.norm(t), j) for j in range(300)), reverse=True)
    assert [i for i, _ in W.analogy(U, a, b, c, k=5, exclude_inputs=False)] == [j for _, j in all_[:5]]


def test_pca_matches_scikit_learn_and_a_refit_keeps_its_signs():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 10)) * np.linspace(3, 0.5, 10)
    mu, comps = W.pca_2d(X)
    sk = PCA(n_components=2, svd_solver="full").fit(X)
    for i in range(2):
        assert abs(float(comps[i] @ sk.components_[i])) == pytest.approx(1.0, abs=1e-9)
    proj = E.Projection()
    p1 = proj(X)
    assert np.allclose(np.abs(p1), np.abs(sk.transform(X)), atol=1e-9)
    proj.fit(X + 1e-6 * rng.normal(size=X.shape))  # a refit of nearly the same points: nothing mirrors
    assert np.allclose(proj(X), p1, atol=1e-3)
    flipped = W.align_signs(-comps, comps)
    assert np.allclose(flipped, comps)


def test_space_overlap_and_bias_against_brute_force():
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(60)]
    vocab = W.Vocab(words, np.arange(60, 0, -1), {w: i for i, w in enumerate(words)}, 1830, 0)
    sp = E.Space(W.unit_rows(rng.normal(size=(60, 8))), vocab)
    ref = {"neighbours": {"w0": [w for w, _ in sp.neighbours("w0", 10)][:5] + ["w59", "w58", "w57", "w56", "w55"],
                          "w3": [w for w, _ in sp.neighbours("w3", 10)]}}
    mine0 = {w for w, _ in sp.neighbours("w0", 10)}
    want = (len(mine0 & set(ref["neighbours"]["w0"])) / 10 + 1.0) / 2
    assert sp.overlap(ref) == pytest.approx(want)
    names, scores = sp.bias(["w5", "w6", "nope"], "w1", "w2")
    d = sp.U[1] - sp.U[2]
    assert names == ["w5", "w6"] and np.allclose(scores, sp.U[[5, 6]] @ d / np.linalg.norm(d))


def test_analogy_accuracy_agrees_with_gensim_on_the_same_vectors():
    gensim = pytest.importorskip("gensim")
    corpus = E.load_corpus("brown")
    rng = np.random.default_rng(0)
    V = len(corpus.vocab)
    # random vectors nudged so that some questions are answered: the answer moved near b - a + c
    U = rng.normal(size=(V, 32))
    qs = E.load_analogies()
    ix = corpus.vocab.index
    for _, a, b, c, d in qs[::3]:
        if all(w in ix for w in (a, b, c, d)):
            U[ix[d]] = U[ix[b]] - U[ix[a]] + U[ix[c]] + 0.3 * rng.normal(size=32)
    sp = E.Space(W.unit_rows(U), corpus.vocab)
    right, asked, _ = sp.analogy_accuracy(qs)
    kv = gensim.models.KeyedVectors(32)
    kv.add_vectors(corpus.vocab.words, U.astype(np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "q.txt")
        with open(os.path.join(E.DATA, "analogies.txt")) as f, open(p, "w") as g:
            g.writelines(ln for ln in f if not ln.startswith("#"))
        score, sections = kv.evaluate_word_analogies(p, restrict_vocab=V, case_insensitive=False)
    total = next(s for s in sections if s["section"] == "Total accuracy")
    assert asked == len(total["correct"]) + len(total["incorrect"]) == len(qs)  # every shipped word is in Brown
    assert right == len(total["correct"]) and right > 5


def test_gensim_neighbours_overlap_with_ours_on_a_seeded_run():
    """Both trained on the same 20,000 Brown sentences, same settings (D 32, window 5, k 5, s 1e-3).
    Threshold: at least 20% of gensim's 10 nearest neighbours of frequent words are ours too (random
    vectors give about 0.2%; two gensim runs with different seeds share roughly half)."""
    gensim = pytest.importorskip("gensim")
    from seqviz.training import Run

    full = E.load_corpus("brown")
    sents = full.sentences[:20000]
    vocab = W.build_vocab(sents, min_count=10)
    ids, sid = W.encode(sents, vocab)
    corpus = E.Corpus("brown", sents, vocab, ids, sid, 10)
    cfg = E.Word2VecConfig(dim=32, batch=1024, lr=0.01)
    run: Run = E.build_word2vec(corpus, cfg)
    for _ in range(1500):
        run.step()
    ours = E.Space.of(run.models["w2v"], vocab)
    m = gensim.models.Word2Vec(sents, vector_size=32, window=5, negative=5, sample=1e-3, min_count=10, sg=1,
                               epochs=5, seed=0, workers=1)
    probe = [w for w in E.PROBE_WORDS if w in vocab.index][:20]
    ref = {"neighbours": {w: [x for x, _ in m.wv.most_similar(w, topn=10)] for w in probe}}
    assert set(m.wv.index_to_key) == set(vocab.words)
    assert ours.overlap(ref) >= 0.20


def test_bilm_layer0_is_the_same_in_every_context_and_the_forward_half_is_causal():
    torch.manual_seed(0)
    m = BiLM(V=50, D=8, layers=2, seed=0)
    x = torch.tensor([[1, 5, 7, 9, 11, 3]])
    y = x.clone()
    y[0, 4:] = torch.tensor([20, 30])  # change the later words
    ex, fx, bx = m.directions(x)
    ey, fy, by = m.directions(y)
    for j in range(2):
        assert torch.equal(fx[j][:, :4], fy[j][:, :4])  # forward states up to t=3 did not move
        assert not torch.allclose(fx[j][:, 4:], fy[j][:, 4:])
        assert not torch.allclose(bx[j][:, :4], by[j][:, :4])  # the backward half read them
    z = x.clone()
    z[0, 0] = 40  # change the first word: the backward states after it do not move
    _, _, bz = m.directions(z)
    assert all(torch.equal(bx[j][:, 1:], bz[j][:, 1:]) for j in range(2))
    lx, ly = m.layer_vectors(x), m.layer_vectors(y)
    assert torch.equal(lx[0][0, 2], ly[0][0, 2]) and lx[0].shape == (1, 6, 16)
    assert torch.equal(lx[0][0, 2], torch.cat([m.embed.weight[7], m.embed.weight[7]]))


def test_bilm_loss_is_the_mean_of_both_directions_cross_entropy():
    m = BiLM(V=30, D=6, layers=1, seed=2)
    x = torch.randint(0, 30, (2, 7), generator=torch.Generator().manual_seed(0))
    loss, parts = m.loss(x)
    _, f, b = m.directions(x)
    lp_f = torch.log_softmax(m.out(f[-1]), -1).detach()
    lp_b = torch.log_softmax(m.out(b[-1]), -1).detach()
    nf = -np.mean([float(lp_f[i, t, x[i, t + 1]]) for i in range(2) for t in range(6)])
    nb = -np.mean([float(lp_b[i, t, x[i, t - 1]]) for i in range(2) for t in range(1, 7)])
    assert parts["forward_ce"] == pytest.approx(nf, rel=1e-5) and float(loss) == pytest.approx((nf + nb) / 2, rel=1e-5)


def test_contextual_cosines_and_the_layer_mixture():
    corpus = E.load_corpus("brown")
    run = E.build_bilm(corpus, E.BiLMConfig(vocab=500, dim=8, batch=4, T=8))
    m, lv = run.models["bilm"], run.lm_vocab
    ctx = E.contextual(m, lv, "bank", "he sat on the bank of the river".split(), "she put money in the bank".split())
    assert ctx["cosine"][0] == pytest.approx(1.0) and all(c < 0.9999 for c in ctx["cosine"][1:])
    w, gamma = [0.0, 1.0, -1.0], 2.0
    cos, s = E.mixture_cosine(ctx, w, gamma)
    s_np = np.exp(w) / np.exp(w).sum()
    a = gamma * sum(sj * h.numpy() for sj, h in zip(s_np, ctx["a"]))
    b = gamma * sum(sj * h.numpy() for sj, h in zip(s_np, ctx["b"]))
    assert np.allclose(s, s_np) and cos == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    one_hot = E.mixture_cosine(ctx, [50.0, 0.0, 0.0], 1.0)[0]
    assert one_hot == pytest.approx(1.0, abs=1e-6)  # all weight on the embedding layer: identical vectors
    assert mix([torch.ones(2)], [0.0], 3.0).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("text", ["", "   \n\t", "\u202e\u0000\ufeff ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "word " * 30])
def test_too_little_pasted_text_is_one_sentence(text):
    with pytest.raises(E.CorpusError) as e:
        E.load_corpus("pasted", text)
    msg = e.value.args[0]
    assert msg.endswith(".") and "\n" not in msg and "Traceback" not in msg


def test_two_megabytes_of_pasted_text_are_cut_and_said():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    text = "\n".join(" ".join(rng.choice(words, 12)) for _ in range(2_000_000 // 50))
    assert len(text) > 2_000_000
    c = E.load_corpus("pasted", text)
    assert any("first 200,000" in n for n in c.notes) and len(c.vocab) == 300
    run = E.build_word2vec(c, E.Word2VecConfig(dim=8, batch=64))
    assert math.isfinite(run.step() and run.history["w2v"].last("loss"))
