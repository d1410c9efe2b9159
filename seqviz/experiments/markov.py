"""Lesson 02's set-ups: a corpus split by document, Markov models of every order counted lazily and kept, the
curves against order, and the Markov classifiers (male vs female names by characters, spam vs ham by words).

Counting is the slow part (about 0.1-1 s per order for half a million tokens); everything a slider changes
afterwards is arithmetic on kept counts: ``NGramModel.count_pairs`` gives, for every held-out (or training)
position, ``count(context, token)`` and ``count(context)``, and any smoothing ``alpha`` turns those into bits per
token at once (``bits_from_counts``). Nothing here knows about widgets; a dashboard calls these from a background
thread and draws what they return.

Honesty rules kept here:
- the held-out documents are never counted (``seqviz.data.corpora.split``, held_out=0.1, seed=0, the split
  lesson 07 uses);
- a corpus above ``TRAIN_CAP`` training tokens is counted on its first ``TRAIN_CAP`` tokens (whole documents, in
  split order) and :attr:`CorpusData.notes` says so; held-out text is always all of it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from seqviz.data import corpora
from seqviz.models.ngram import MarkovClassifier, NGramModel, bits_from_counts

MAX_ORDER = 7  # the order slider goes 0..MAX_ORDER
TRAIN_CAP = 500_000  # training tokens counted at most (Brown by words: 1.07 M in its training split)
PASTED = "pasted"
TASKS = {"names": ("names", "char", ("female", "male")), "mail": ("mail", "word", ("spam", "ham"))}


@dataclass
class CorpusData:
    """One corpus at one token level, split by document."""

    key: str  # a corpora.CORPORA key, or "pasted"
    level: str  # "char" or "word"
    title: str
    train: list[list[str]]  # the training documents counted (capped)
    held: list[list[str]]  # every held-out document
    n_train_tokens: int  # tokens counted
    n_train_all: int  # tokens in the whole training split
    notes: list[str] = field(default_factory=list)  # plain sentences: what was cut or cleaned

    @property
    def capped(self) -> bool:
        return self.n_train_tokens < self.n_train_all


def _cap(train: list[list[str]], cap: int) -> tuple[list[list[str]], int, int]:
    total = sum(len(d) for d in train)
    if total <= cap:
        return train, total, total
    out, n = [], 0
    for d in train:
        if n + len(d) > cap and out:
            break
        out.append(d)
        n += len(d)
    return out, n, total


def make_corpus(key: str, level: str, text: str = "", cap: int = TRAIN_CAP) -> CorpusData:
    """Tokens of ``key`` ("pasted": of ``text``) at ``level``, split 90/10 by document (seed 0), training part
    capped at ``cap`` tokens."""
    if level not in ("char", "word"):
        raise ValueError(f"level must be 'char' or 'word', not {level!r}")
    notes: list[str] = []
    if key == PASTED:
        docs, notes = corpora.user_documents(text)
        title = "your pasted text"
    else:
        docs, title = corpora.documents(key), corpora.CORPORA[key].title
    toks = [t for t in (corpora.tokens(d, level) for d in docs) if t]
    train, held = corpora.split(toks)
    train, n, total = _cap(train, cap)
    if n < total:
        notes.append(f"Counted the first {n:,} of the {total:,} training {level_word(level)}s "
                     f"(whole documents), so that counting stays quick; held-out text is all of it.")
    if key == PASTED and toks and not held:
        notes.append("With a single line nothing can be held out: paste two or more lines (one document each) "
                     "to see held-out bits.")
    return CorpusData(key, level, title, train, held, n, total, notes)


def level_word(level: str) -> str:
    return "character" if level == "char" else "word"


class OrderStudy:
    """Markov models of orders 0..MAX_ORDER on one corpus, each counted on first use and kept, with the count
    pairs every curve needs. Thread-safe: one lock per order (two threads never count the same order twice)."""

    def __init__(self, data: CorpusData):
        self.data = data
        self._models: dict[int, NGramModel] = {}
        self._pairs: dict[int, dict] = {}
        self._locks = {k: threading.Lock() for k in range(MAX_ORDER + 1)}

    def has(self, order: int) -> bool:
        return order in self._models

    def model(self, order: int, alpha: float = 1.0) -> NGramModel:
        """The order-``order`` model with smoothing ``alpha`` (counted now if it was not yet)."""
        with self._locks[order]:
            m = self._models.get(order)
            if m is None:
                m = self._models[order] = NGramModel(order, 1.0).fit(self.data.train)
        return m.with_alpha(alpha)

    def has_point(self, order: int) -> bool:
        return order in self._pairs

    def point(self, order: int) -> dict:
        """Count pairs on the training and held-out text for ``order`` (computed once)."""
        p = self._pairs.get(order)
        if p is None:
            m = self.model(order)
            with self._locks[order]:
                p = self._pairs.get(order)
                if p is None:
                    tc, tcc = m.count_pairs(self.data.train)
                    hc, hcc = m.count_pairs(self.data.held)
                    p = {"V": m.V, "train": (tc.astype(np.int32), tcc.astype(np.int32)),
                         "held": (hc.astype(np.int32), hcc.astype(np.int32)),
                         "unseen_ngram": float((hc == 0).mean()) if len(hc) else float("nan"),
                         "unseen_context": float((hcc == 0).mean()) if len(hc) else float("nan"),
                         "n_contexts": m.n_contexts, "n_ngrams": m.n_ngrams}
                    self._pairs[order] = p
        return p

    def curves(self, alpha: float) -> dict:
        """Bits per token (training, held-out) at ``alpha`` and held-out unseen shares, for the orders counted
        so far (a sweep fills the rest)."""
        orders = sorted(self._pairs)
        out = {"order": orders, "train": [], "held": [], "unseen_ngram": [], "unseen_context": []}
        for k in orders:
            p = self._pairs[k]
            out["train"].append(bits_from_counts(*p["train"], alpha, p["V"]))
            out["held"].append(bits_from_counts(*p["held"], alpha, p["V"]))
            out["unseen_ngram"].append(p["unseen_ngram"])
            out["unseen_context"].append(p["unseen_context"])
        return out


class ClassifierStudy:
    """Markov classifiers of orders 0..MAX_ORDER on one labelled corpus (``TASKS``), trained on the 90% split
    and scored on the held-out 10%. Per order it keeps each class's count pairs on the held-out documents, so
    accuracy at any alpha is arithmetic."""

    def __init__(self, task: str):
        key, level, classes = TASKS[task]
        self.task, self.level, self.classes = task, level, classes
        pairs = corpora.labelled(key)
        train, held = corpora.split(pairs)
        self.train_docs = [corpora.tokens(d, level) for d, _ in train]
        self.train_y = [y for _, y in train]
        self.held_docs = [corpora.tokens(d, level) for d, _ in held]
        self.held_y = np.asarray([y for _, y in held])
        counts = {c: self.train_y.count(c) for c in classes}
        self.majority = max(counts, key=counts.get)
        self.majority_acc = float(np.mean(self.held_y == self.majority))
        lengths = np.asarray([len(d) + 1 for d in self.held_docs])
        self._starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self._clf: dict[int, MarkovClassifier] = {}
        self._pairs: dict[int, dict] = {}
        self._locks = {k: threading.Lock() for k in range(MAX_ORDER + 1)}

    def classifier(self, order: int, alpha: float = 1.0) -> MarkovClassifier:
        with self._locks[order]:
            clf = self._clf.get(order)
            if clf is None:
                clf = MarkovClassifier(order, 1.0).fit(self.train_docs, self.train_y)
                self._pairs[order] = {c: clf.models[c].count_pairs(self.held_docs) for c in clf.classes}
                self._clf[order] = clf
        if alpha == clf.alpha:
            return clf
        twin = MarkovClassifier(order, alpha)
        twin.classes, twin.log_prior = clf.classes, clf.log_prior
        twin.models = {c: m.with_alpha(alpha) for c, m in clf.models.items()}
        return twin

    def has(self, order: int) -> bool:
        return order in self._pairs

    def accuracy(self, order: int, alpha: float) -> float:
        """Held-out accuracy of the order-``order`` classifier at smoothing ``alpha``."""
        clf = self.classifier(order)
        scores = []
        for c in clf.classes:
            c_, cc = self._pairs[order][c]
            V = clf.models[c].V
            with np.errstate(divide="ignore"):
                lp = np.log2((c_ + alpha) / np.maximum(cc + alpha * V, 1e-300))
                lp = np.where(cc + alpha * V > 0, lp, -np.inf)
            scores.append(np.add.reduceat(lp, self._starts) + clf.log_prior[c])
        s = np.stack(scores, axis=1)
        pred = np.asarray(clf.classes)[np.argmax(s, axis=1)]
        return float(np.mean(pred == self.held_y))

    def curve(self, alpha: float) -> dict:
        orders = sorted(self._pairs)
        return {"order": orders, "accuracy": [self.accuracy(k, alpha) for k in orders],
                "majority": self.majority_acc, "majority_class": self.majority, "n_held": int(len(self.held_y))}


# -- caches shared by every dashboard in a kernel (bounded) ----------------------------------------------------
_studies: OrderedDict = OrderedDict()
_classifiers: dict[str, ClassifierStudy] = {}
_cache_lock = threading.Lock()
MAX_STUDIES = 2  # corpora kept counted in one kernel (Brown by words, every order: about 300 MB)


def study(key: str, level: str, text: str = "") -> OrderStudy:
    """The (kept) study of a corpus at a level; pasted text is keyed by its hash."""
    tag = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest() if key == PASTED else ""
    k = (key, level, tag)
    with _cache_lock:
        s = _studies.get(k)
        if s is not None:
            _studies.move_to_end(k)
            return s
    s = OrderStudy(make_corpus(key, level, text))
    with _cache_lock:
        s = _studies.setdefault(k, s)
        _studies.move_to_end(k)
        while len(_studies) > MAX_STUDIES:
            _studies.popitem(last=False)
    return s


def cached_study(key: str, level: str, text: str = "") -> OrderStudy | None:
    tag = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest() if key == PASTED else ""
    with _cache_lock:
        return _studies.get((key, level, tag))


def classifier_study(task: str) -> ClassifierStudy:
    with _cache_lock:
        s = _classifiers.get(task)
    if s is None:
        s = ClassifierStudy(task)
        with _cache_lock:
            s = _classifiers.setdefault(task, s)
    return s
