"""seqviz.models.ngram against independent computations: a brute-force collections.Counter, NLTK's nltk.lm
(Laplace, MLE), scikit-learn's MultinomialNB, and the definitions themselves."""

import math
from collections import Counter

import numpy as np
import pytest

from seqviz.data import corpora
from seqviz.models.ngram import BOS, EOS, UNK, MarkovClassifier, NGramModel, markov_bits


def _docs(key, limit=None):
    level = corpora.CORPORA[key].level
    docs = [corpora.tokens(d, level) for d in corpora.documents(key)[:limit]]
    return corpora.split(docs)


def _brute(docs, k):
    """n-gram and context counts, the slow obvious way."""
    ng, ctx = Counter(), Counter()
    for d in docs:
        p = [BOS] * k + list(d) + [EOS]
        for i in range(k, len(p)):
            c = tuple(p[i - k:i])
            ng[c, p[i]] += 1
            ctx[c] += 1
    return ng, ctx


@pytest.fixture(scope="module")
def names():
    return _docs("names")


@pytest.mark.parametrize("k", [0, 1, 2, 4])
def test_counts_match_a_brute_force_counter(names, k):
    train, _ = names
    m = NGramModel(k, 1.0).fit(train)
    ng, ctx = _brute(train, k)
    assert m.n_ngrams == len(ng) and m.n_contexts == len(ctx)
    rng = np.random.default_rng(k)
    contexts = list(ctx)
    for i in rng.choice(len(contexts), size=min(40, len(contexts)), replace=False):
        c = contexts[i]
        d = m.distribution(c)
        assert d["context_count"] == ctx[c]
        want = {w: n for (cc, w), n in ng.items() if cc == c}
        got = {m.vocab[j]: int(n) for j, n in enumerate(d["counts"]) if n}
        assert got == want


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("alpha", [1.0, 0.1])
def test_smoothed_probabilities_sum_to_one_for_every_context_tried(names, k, alpha):
    train, held = names
    m = NGramModel(k, alpha).fit(train)
    _, ctx = _brute(train, k)
    tried = list(ctx)[:50] + [m.context_of(list("zzzq")), m.context_of(["☃"]), m.context_of([])]
    for c in tried:
        p = m.distribution(c)["smoothed"]
        assert p.shape == (len(set(w for d in train for w in d)) + 2,)
        assert abs(p.sum() - 1) < 1e-12 and (p > 0).all()


def _nltk_model(cls, train, k, vocab_tokens):
    """An nltk.lm model fitted on the same padded n-grams. NLTK maps every token outside its vocabulary to
    <UNK>, "<s>" included, which would merge the start padding with unknown held-out tokens; so "<s>" is put in
    NLTK's vocabulary, and since it is never predicted, ``len(vocab)`` in NLTK's Laplace formula is taken one
    smaller (``_Predicted``), the vocabulary the probabilities sum over."""
    from nltk.lm import Vocabulary

    vocab = Vocabulary(vocab_tokens + [BOS], unk_cutoff=1)
    model = cls(k + 1, vocabulary=vocab)
    grams = []
    for d in train:
        p = [BOS] * k + list(d) + [EOS]
        grams.append([tuple(p[i - k:i + 1]) for i in range(k, len(p))])
    model.fit(grams)
    return model


def _laplace():
    from nltk.lm import Laplace

    class _Predicted(Laplace):
        def unmasked_score(self, word, context=None):
            counts = self.context_counts(context)
            return (counts[word] + self.gamma) / (counts.N() + (len(self.vocab) - 1) * self.gamma)

    return _Predicted


def _nltk_bits(model, m, held, k):
    total, n = 0.0, 0
    for d in held:
        p = [BOS] * k + list(d) + [EOS]
        for i in range(k, len(p)):
            s = model.score(p[i], tuple(p[i - k:i]) if k else None)  # NLTK maps unknown tokens to <UNK>
            total += -math.log2(s) if s > 0 else math.inf
            n += 1
    return total / n


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_bits_per_token_match_nltk_laplace_on_the_shared_split(names, k):
    train, held = names
    vocab_tokens = [w for d in train for w in d] + [EOS]
    ref = _nltk_model(_laplace(), train, k, vocab_tokens)
    m = NGramModel(k, 1.0).fit(train)
    assert len(ref.vocab) - 1 == m.V  # training tokens + </s> + <UNK> (+ "<s>", NLTK's only)
    assert m.bits_per_token(held) == pytest.approx(_nltk_bits(ref, m, held, k), rel=1e-10)
    assert markov_bits(train, held, k) == pytest.approx(m.bits_per_token(held), rel=1e-12)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_mle_matches_nltk_and_is_infinite_once_anything_is_unseen(names, k):
    from nltk.lm import MLE

    train, held = names
    ref = _nltk_model(MLE, train, k, [w for d in train for w in d] + [EOS])
    m = NGramModel(k, 0.0).fit(train)
    # on training text every factor was counted, so MLE is finite and equals NLTK's
    sub = train[:300]
    assert math.isfinite(m.bits_per_token(sub))
    assert m.bits_per_token(sub) == pytest.approx(_nltk_bits(ref, m, sub, k), rel=1e-10)
    seen_held = _nltk_bits(ref, m, held, k)
    if math.isinf(seen_held):
        assert m.bits_per_token(held) == math.inf
    else:
        assert m.bits_per_token(held) == pytest.approx(seen_held, rel=1e-10)
    assert m.bits_per_token([["q", "q", "q", "x", "ø"]]) == math.inf


def test_word_level_mail_matches_nltk(names):
    train, held = _docs("mail", limit=300)
    for k in (0, 2):
        ref = _nltk_model(_laplace(), train, k, [w for d in train for w in d] + [EOS])
        m = NGramModel(k).fit(train)
        assert m.bits_per_token(held) == pytest.approx(_nltk_bits(ref, m, held, k), rel=1e-10)


def test_unseen_share_matches_brute_force(names):
    train, held = names
    for k in (0, 2, 5):
        ng, ctx = _brute(train, k)
        hng, _ = _brute(held, k)
        n = sum(hng.values())
        known = set(w for d in train for w in d) | {EOS}
        # the model reads unknown held-out tokens as <unk>, so map them the same way before looking up
        miss_ng = miss_ctx = 0
        for d in held:
            p = [BOS] * k + [w if w in known else UNK for w in d] + [EOS]
            for i in range(k, len(p)):
                c = tuple(p[i - k:i])
                miss_ng += ng[c, p[i]] == 0
                miss_ctx += ctx[c] == 0
        s = NGramModel(k).fit(train).unseen_share(held)
        assert s["positions"] == n
        assert s["ngram"] == pytest.approx(miss_ng / n) and s["context"] == pytest.approx(miss_ctx / n)


def test_chain_rule_factors_multiply_to_the_document_probability(names):
    train, _ = names
    m = NGramModel(2, 0.5).fit(train)
    ng, ctx = _brute(train, 2)
    doc = list("mariq")
    fs = m.factors(doc)
    assert [f.shown for f in fs] == doc + [EOS]
    for f in fs:
        assert f.count == ng[f.context, f.token] and f.context_count == ctx[f.context]
        assert f.p == pytest.approx((f.count + 0.5) / (f.context_count + 0.5 * m.V))
    assert sum(f.log2p for f in fs) == pytest.approx(m.logprob(doc))
    mle = NGramModel(2, 0.0).fit(train).factors(list("xqzq"))
    assert any(f.p == 0 and f.log2p == -math.inf for f in mle)


def test_sampling_repeats_with_a_seed_and_temperature_zero_is_argmax(names):
    train, _ = names
    m = NGramModel(3).fit(train)
    a = m.sample(list("ma"), max_tokens=30, temperature=1.0, seed=7)
    assert a == m.sample(list("ma"), max_tokens=30, temperature=1.0, seed=7)
    outs = {"".join(m.sample([], max_tokens=30, seed=s)) for s in range(8)}
    assert len(outs) > 1  # different seeds differ
    greedy = m.sample(list("ma"), max_tokens=20, temperature=0.0)
    hist = list("ma")
    for w in greedy:  # each greedy token is the argmax of the smoothed distribution (<unk> excluded)
        p = m.distribution(m.context_of(hist))["smoothed"].copy()
        p[m.unk_id] = 0
        assert w == m.vocab[int(np.argmax(p))]
        hist.append(w)
    assert m.sample(list("ma"), max_tokens=20, temperature=1e-9) == greedy
    assert UNK not in "".join(m.sample([], max_tokens=200, seed=3))


def test_naive_bayes_is_order_zero_and_matches_multinomial_nb():
    from sklearn.naive_bayes import MultinomialNB

    pairs = corpora.labelled("names")
    train, held = corpora.split(pairs)
    tr_docs, tr_y = [corpora.tokens(d, "char") for d, _ in train], [y for _, y in train]
    he_docs = [corpora.tokens(d, "char") for d, _ in held]
    clf = MarkovClassifier(0, alpha=1.0).fit(tr_docs, tr_y)
    vocab = clf.models[clf.classes[0]].vocab  # training chars + </s> + <unk>
    idx = {w: i for i, w in enumerate(vocab)}

    def features(docs):
        X = np.zeros((len(docs), len(vocab)))
        for r, d in enumerate(docs):
            for w in list(d) + [EOS]:
                X[r, idx.get(w, idx[UNK])] += 1
        return X

    nb = MultinomialNB(alpha=1.0).fit(features(tr_docs), tr_y)
    assert list(nb.classes_) == clf.classes
    ours = clf.scores(he_docs) * math.log(2)  # log2 -> natural log
    theirs = nb.predict_joint_log_proba(features(he_docs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert clf.predict(he_docs) == list(nb.predict(features(he_docs)))


def test_log_odds_contributions_add_up():
    pairs = corpora.labelled("names")
    train, _ = corpora.split(pairs)
    clf = MarkovClassifier(2).fit([corpora.tokens(d, "char") for d, _ in train], [y for _, y in train])
    doc = list("anna")
    prior, parts = clf.contributions(doc, "female", "male")
    s = clf.scores([doc])[0]
    i, j = clf.classes.index("female"), clf.classes.index("male")
    assert prior + sum(v for _, v in parts) == pytest.approx(s[i] - s[j])
    assert [w for w, _ in parts] == doc + [EOS]


def test_bad_input():
    with pytest.raises(ValueError):
        NGramModel(-1)
    with pytest.raises(ValueError):
        NGramModel(1, alpha=float("nan"))
    with pytest.raises(RuntimeError):
        NGramModel(1).bits_per_token([["a"]])
    m = NGramModel(3).fit([])  # empty corpus: only </s> and <unk>, all uniform
    assert m.V == 2 and m.bits_per_token([["a", "b"]]) == pytest.approx(1.0)
    m = NGramModel(6).fit([["x"]])  # one character
    assert math.isfinite(m.bits_per_token([["x"], ["y"]]))
    assert m.sample([], seed=0, max_tokens=10) in (["x"] * n for n in range(11))
    assert math.isnan(m.bits_per_token([]))
