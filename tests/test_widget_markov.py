"""The Markov dashboard in plain pytest: controls, buttons, state and the data each pane holds, against
independent computations (brute-force collections.Counter, scikit-learn's MultinomialNB)."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest

from seqviz.data import corpora
from seqviz.models.ngram import BOS, EOS, UNK
from tests.conftest import wait_for
from tests.conftest import dashboard_trace as trace
from widgets.markov import MarkovDashboard, dashboard




def text(widget) -> str:
    return re.sub(r"<[^>]+>", " ", widget.value)


def settle(d):
    assert wait_for(lambda: d.jobs.idle, 120)


def no_traceback(d):
    assert "Traceback" not in d.status.value and "Could not" not in d.status.text


class Brute:
    """Laplace n-gram probabilities from a Counter over the padded training documents."""

    def __init__(self, docs, k):
        self.k = k
        self.vocab = set(w for d in docs for w in d) | {EOS, UNK}
        self.ng, self.ctx = Counter(), Counter()
        for d in docs:
            p = [BOS] * k + list(d) + [EOS]
            for i in range(k, len(p)):
                self.ng[tuple(p[i - k:i]), p[i]] += 1
                self.ctx[tuple(p[i - k:i])] += 1

    def p(self, ctx, w, alpha):
        return (self.ng[ctx, w] + alpha) / (self.ctx[ctx] + alpha * len(self.vocab))

    def bits(self, docs, alpha):
        tot, n = 0.0, 0
        for d in docs:
            p = [BOS] * self.k + [w if w in self.vocab else UNK for w in d] + [EOS]
            for i in range(self.k, len(p)):
                tot -= math.log2(self.p(tuple(p[i - self.k:i]), p[i], alpha))
                n += 1
        return tot / n


@pytest.fixture(scope="module")
def names_split():
    return corpora.split([corpora.tokens(x, "char") for x in corpora.documents("names")])


@pytest.fixture
def dash():
    d = dashboard()
    settle(d)
    yield d
    d.close_worker()


def test_opens_with_every_pane_filled_and_numbers_from_counts(dash, names_split):
    d = dash
    train, held = names_split
    b = Brute(train, 2)
    # next-token bars after "mar": the smoothed bars are (count + 1) / (count(ctx) + V)
    x, y = list(trace(d, "smoothed").x), list(trace(d, "smoothed").y)
    for label, v in zip(x[:-1], y[:-1]):
        w = {"␣": " ", "⟨/s⟩": EOS, "⟨unk⟩": UNK}.get(label, label)
        assert v == pytest.approx(b.p(("a", "r"), w, 1.0))
    assert x[-1].startswith("all other") and sum(y) == pytest.approx(1.0)
    counted = list(trace(d, "mle").y)
    assert sum(counted) == pytest.approx(1.0)
    # the curves against order, every order counted in the background
    assert list(trace(d, "held_bits").x) == list(range(8))
    for k in (0, 2, 5):
        assert trace(d, "held_bits").y[k] == pytest.approx(Brute(train, k).bits(held, 1.0), rel=1e-9)
    assert trace(d, "cur_bits").x == (2,)
    assert "Every order from 0 to 7 is counted" in d.status.text
    # chain rule of "mar": 4 factors (m, a, r, </s>) and the table's sum
    assert list(trace(d, "chain_smoothed").x) == ["1. m", "2. a", "3. r", "4. ⟨/s⟩"]
    want = sum(-math.log2(b.p(c, w, 1.0)) for c, w in [((BOS, BOS), "m"), ((BOS, "m"), "a"), (("m", "a"), "r"),
                                                       (("a", "r"), EOS)])
    assert sum(trace(d, "chain_smoothed").y) == pytest.approx(want)
    assert f"−{want:.1f} bits" in d.panes["chain"].figure.layout.title.text
    assert "The number to beat" in d.bridge.value and f"{trace(d, 'held_bits').y[2]:.3f}" in d.bridge.value
    assert d.samples.value and "seed 0" in d.samples.value
    no_traceback(d)


def test_order_and_alpha_move_the_views(dash, names_split):
    d = dash
    train, held = names_split
    d.state.order = 4
    settle(d)
    assert trace(d, "cur_bits").x == (4,) and trace(d, "cur_acc").x == (4,)
    assert trace(d, "cur_bits").y[0] == pytest.approx(Brute(train, 4).bits(held, 1.0), rel=1e-9)
    d.state.alpha = 0.01
    settle(d)
    b = Brute(train, 4)
    assert trace(d, "held_bits").y[4] == pytest.approx(b.bits(held, 0.01), rel=1e-9)
    assert trace(d, "smoothed").name == "smoothed, α = 0.01"
    d.state.alpha = 0.0  # counts only: held-out text is impossible, so no finite point
    settle(d)
    assert trace(d, "held_bits").y[4] is None and "∞" in d.bridge.value
    d.state.text = "xqzt"  # never counted: the chain rule marks the impossible factors
    settle(d)
    assert len(trace(d, "chain_impossible").x) >= 1 and "−∞" in d.chain_table.value
    assert "impossible" in d.panes["chain"].figure.layout.title.text
    no_traceback(d)


def test_samples_repeat_with_a_seed_and_sample_draws_new_ones(dash):
    d = dash
    first = d.samples.value
    d.state.order = 3
    settle(d)
    d.state.order = 2
    settle(d)
    assert d.samples.value == first  # the same seed, order and α: the same samples
    d.sample_button.click()
    settle(d)
    assert d.state.seed == 1 and d.samples.value != first
    d.state.temperature = 0.0
    settle(d)
    assert "argmax" in d.samples.value
    greedy = d.samples.value
    d.state.seed = 7
    settle(d)
    assert d.samples.value.replace("seed 7", "seed 1") == greedy  # argmax ignores the seed
    no_traceback(d)


def test_classifier_curves_match_multinomial_nb_at_order_zero(dash):
    from sklearn.naive_bayes import MultinomialNB

    d = dash
    train, held = corpora.split(corpora.labelled("names"))
    vocab = sorted(set(c for x, _ in train for c in corpora.tokens(x, "char"))) + [EOS, UNK]
    idx = {w: i for i, w in enumerate(vocab)}

    def feats(pairs):
        X = np.zeros((len(pairs), len(vocab)))
        for r, (x, _) in enumerate(pairs):
            for w in corpora.tokens(x, "char") + [EOS]:
                X[r, idx.get(w, idx[UNK])] += 1
        return X

    nb = MultinomialNB(alpha=1.0).fit(feats(train), [y for _, y in train])
    acc = float(np.mean(nb.predict(feats(held)) == np.asarray([y for _, y in held])))
    assert trace(d, "acc_names").y[0] == pytest.approx(100 * acc)
    majority = Counter(y for _, y in held).most_common(1)[0][1] / len(held)
    assert trace(d, "base_names").y[0] == pytest.approx(100 * majority)
    assert len(trace(d, "acc_mail").y) == 8
    # the typed text's log-odds shares add up to the difference of the two classes' scores
    prior, *parts = trace(d, "contrib").y
    clf = __import__("seqviz.experiments.markov", fromlist=["x"]).classifier_study("names").classifier(2, 1.0)
    s = clf.scores([list("anna")])[0]
    assert prior + sum(parts) == pytest.approx(s[clf.classes.index("female")] - s[clf.classes.index("male")])
    d.state.task = "mail"
    settle(d)
    assert d.state.classify.startswith("free money") and "spam" in d.verdict.value
    no_traceback(d)


def test_corpus_switch_counts_in_the_background(dash):
    d = dash
    d.state.corpus = "mail"
    assert d.state.level == "word" and d.state.text == "click here to"
    settle(d)
    assert "Counted SpamAssassin mail" in d.status.text or "Every order" in d.status.text
    assert "bits per word" in d.bridge.value and list(trace(d, "held_bits").x) == list(range(8))
    assert trace(d, "smoothed").x[0] != trace(d, "mle").x[-1]
    d.state.level = "char"
    settle(d)
    assert "bits per character" in d.bridge.value
    no_traceback(d)


def test_bad_input_gets_one_sentence_and_keeps_working(dash):
    d = dash
    for name, bad in (("order", "abc"), ("order", float("nan")), ("order", 99), ("alpha", 0.5), ("corpus", "nope"),
                      ("seed", -5), ("temperature", float("inf")), ("task", ["x"])):
        setattr(d.state, name, bad)
        assert d.state.note, (name, bad)
    assert d.state.order == 7 and d.state.alpha == 1.0 and d.state.corpus == "names" and d.state.seed == 0
    settle(d)
    d.state.text = ""  # empty: previous kept, one sentence
    assert "was empty" in d.status.text and d.state.text == "mar"
    d.state.text = "\u0000ж€\u202e😀"  # odd Unicode: cleaned, read as <unk>
    settle(d)
    assert "never seen" in d.panes["next"].figure.layout.title.text or trace(d, "smoothed").y
    d.state.corpus = "pasted"
    settle(d)
    assert "Counted your pasted text" in d.status.text or "Every order" in d.status.text
    d.state.pasted = "x"  # one character: one document, nothing held out
    settle(d)
    assert "nothing can be held out" in d.status.text.lower() or "single line" in d.status.text
    assert trace(d, "held_bits").y[0] is None
    d.state.pasted = "   "
    assert "was empty" in d.status.text and d.state.pasted == "x"
    d.state.pasted = ("abc def\n" * 300_000)[:2_000_000]  # 2 MB: cut to 200,000 characters, said
    settle(d)
    assert "first 200,000" in d.status.text
    assert list(trace(d, "held_bits").x) == list(range(8))
    no_traceback(d)


def test_a_forged_control_value_is_put_back(dash):
    d = dash
    d.c["order"].set_state({"value": "abc"})
    assert "cannot take" in d.status.text and d.c["order"].value == d.state.order
    assert isinstance(dash, MarkovDashboard)
