"""Markov (n-gram) models of token sequences: counts, Laplace smoothing, bits per token, sampling, a classifier.

A Markov model of order ``k`` predicts each token from the previous ``k`` tokens only (``k = 0``: a unigram model,
every token independent). By the chain rule a document's probability is the product of one factor per token:

    p(x_1 .. x_T) = prod_t p(x_t | x_{t-k} .. x_{t-1}),

with each document padded by ``k`` ``"<s>"`` before it and one ``"</s>"`` after, so the first token has a full
(made-up) context and the model also says where a document ends. The factors are counts:

    p(w | c) = (count(c, w) + alpha) / (count(c) + alpha * V),

``alpha = 0`` is the maximum-likelihood estimate (an n-gram never counted has probability 0, so a held-out text
that contains one is "impossible": infinite bits), ``alpha = 1`` is Laplace's add-one smoothing. ``V`` is the size
of the vocabulary a model predicts over: the training tokens, ``"</s>"`` and ``"<unk>"`` (every token never seen in
training is read as ``"<unk>"``, whose count is 0). ``"<s>"`` only ever appears in contexts; it is never predicted.

Counting is vectorised with numpy and exact (no hashing): a context of length ``j`` gets an integer id from the
pair (its first token, the id of its last ``j - 1`` tokens), numbered with ``np.unique``; an n-gram is the pair
(context id, next token). A few MB of text counts in about a second per order.

Public API (lesson 07's neural language model compares against it; keep names and meanings stable):

- :class:`NGramModel` ``(order, alpha)``, ``.fit(docs)``, ``.bits_per_token(docs)``, and more
  (``.distribution``, ``.factors``, ``.sample``, ``.unseen_share``, ``.logprob``).
- :func:`markov_bits` ``(train_docs, held_docs, order, alpha)``.
- :class:`MarkovClassifier`: one model per class; order 0 is naive Bayes.

Docs are lists of string tokens (``seqviz.data.corpora.tokens``); split them with ``seqviz.data.corpora.split``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


@dataclass(frozen=True)
class Factor:
    """One factor of the chain rule: ``p(token | context)`` and the counts it is made of."""

    context: tuple[str, ...]
    token: str  # as the model reads it ("<unk>" for a token never seen in training)
    shown: str  # as typed
    count: int  # count(context, token) in training
    context_count: int  # count(context) in training
    p: float
    log2p: float  # -inf when p == 0


class NGramModel:
    """A Markov model of order ``k``: conditions on the previous ``k`` tokens (``k = 0``: unigram / 0th order).

    ``fit(docs)`` pads each document with ``k`` ``"<s>"`` before and one ``"</s>"`` after and counts every
    (context, next token) pair. ``alpha`` is the additive (Laplace, for 1) smoothing; ``alpha = 0`` is the
    maximum-likelihood model, which gives probability 0 (and ``inf`` bits) to anything never counted."""

    def __init__(self, order: int, alpha: float = 1.0):
        order, alpha = int(order), float(alpha)
        if order < 0:
            raise ValueError(f"The order must be 0 or more, not {order}.")
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number >= 0, not {alpha}.")
        self.order, self.alpha = order, alpha
        self.vocab: list[str] = []
        self.index: dict[str, int] = {}
        self.n_docs = self.n_tokens = 0

    # ----------------------------------------------------------------------------------------------- fitting
    def fit(self, docs: list[list[str]], vocab: list[str] | None = None) -> "NGramModel":
        """Count ``docs`` (lists of tokens). ``vocab``: the tokens to predict over (default: every training
        token, in first-seen order); ``"</s>"`` and ``"<unk>"`` are added to it. A class-conditional model passes
        the union vocabulary of all classes so that their probabilities are comparable."""
        if vocab is None:
            seen: dict[str, None] = {}
            for d in docs:
                seen.update(dict.fromkeys(d))
            vocab = list(seen)
        words = [w for w in dict.fromkeys(vocab) if w not in (BOS, EOS, UNK)]
        self.vocab = words + [EOS, UNK]
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.V = len(self.vocab)
        self.unk_id, self.eos_id, self.bos_id = self.index[UNK], self.index[EOS], self.V  # <s>: context only
        ids, target = self._stream(docs)
        self.n_docs, self.n_tokens = len(docs), int(target.sum())
        k = self.order
        self._keys: list[np.ndarray] = []  # sorted unique context keys for lengths 1..k
        g = np.zeros(len(ids), dtype=np.int64)  # id of the context of length j ending just before each position
        m = 1
        for j in range(1, k + 1):
            prev = np.concatenate([np.full(j, self.bos_id, dtype=np.int64), ids[:-j]]) if len(ids) else ids
            key = prev * m + g
            keys, g = np.unique(key, return_inverse=True)
            g = g.reshape(-1).astype(np.int64)
            self._keys.append(keys)
            m = len(keys)
        self._m = [1] + [len(x) for x in self._keys]
        ctx, tok = g[target], ids[target]
        self._joint, self._joint_counts = np.unique(ctx * self.V + tok, return_counts=True)
        self._ctx_counts = np.bincount(ctx, minlength=self._m[-1]).astype(np.int64)
        self._n_contexts = int((self._ctx_counts > 0).sum())
        return self

    def _stream(self, docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Padded token ids of all docs, one after another, and a mask of the positions that are predicted
        (every token and each doc's ``"</s>"``; never the ``"<s>"`` padding)."""
        get, unk, k = self.index.get, self.unk_id, self.order
        eos = self.eos_id
        flat = []
        for d in docs:
            flat += [get(w, unk) for w in d]
            flat.append(eos)
        flat = np.asarray(flat, dtype=np.int64)
        lengths = np.fromiter((len(d) + 1 for d in docs), dtype=np.int64, count=len(docs))
        doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)  # the doc of every real position
        where = np.arange(len(flat), dtype=np.int64) + k * (doc + 1)  # each doc shifted by the pads before it
        ids = np.full(len(flat) + k * len(docs), self.bos_id, dtype=np.int64)
        ids[where] = flat
        tgt = np.zeros(len(ids), dtype=bool)
        tgt[where] = True
        return ids, tgt

    def _check(self):
        if not self.vocab:
            raise RuntimeError("The model has not been fitted: call fit(docs) first.")

    def _context_ids(self, ids: np.ndarray) -> np.ndarray:
        """For every position of a padded id stream, the training id of its length-k context, or -1 where that
        context never occurred in training (vectorised lookups in the sorted keys)."""
        g = np.zeros(len(ids), dtype=np.int64)
        for j in range(1, self.order + 1):
            prev = np.concatenate([np.full(j, self.bos_id, dtype=np.int64), ids[:-j]]) if len(ids) else ids
            keys = self._keys[j - 1]
            key = prev * self._m[j - 1] + np.maximum(g, 0)
            pos = np.searchsorted(keys, key)
            pos_c = np.minimum(pos, len(keys) - 1)
            found = (g >= 0) & (len(keys) > 0) & (keys[pos_c] == key) if len(keys) else np.zeros(len(ids), bool)
            g = np.where(found, pos_c, -1)
        return g

    def _counts_at(self, ctx: np.ndarray, tok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(count(context, token), count(context)) for arrays of context ids (-1: unseen) and token ids."""
        seen = ctx >= 0
        if not len(self._joint):  # nothing counted (an empty corpus)
            return np.zeros(len(ctx), np.int64), np.zeros(len(ctx), np.int64)
        cc = np.where(seen, self._ctx_counts[np.maximum(ctx, 0)], 0)
        key = np.maximum(ctx, 0) * self.V + tok
        pos = np.minimum(np.searchsorted(self._joint, key), len(self._joint) - 1)
        hit = seen & (self._joint[pos] == key)
        c = np.where(hit, self._joint_counts[pos], 0)
        return c.astype(np.int64), cc.astype(np.int64)

    def _probs(self, c: np.ndarray, cc: np.ndarray) -> np.ndarray:
        num = c + self.alpha
        den = cc + self.alpha * self.V
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
        return p

    # ----------------------------------------------------------------------------------------------- scoring
    def with_alpha(self, alpha: float) -> "NGramModel":
        """The same counts with another smoothing ``alpha`` (no recounting; the arrays are shared)."""
        alpha = float(alpha)
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number >= 0, not {alpha}.")
        twin = object.__new__(NGramModel)
        twin.__dict__.update(self.__dict__)
        twin.alpha = alpha
        return twin

    def count_pairs(self, docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """``(count(context, token), count(context))`` at every predicted position of ``docs`` (each token and
        each doc's ``"</s>"``, in order): all any ``alpha`` needs (:func:`bits_from_counts`)."""
        self._check()
        ids, target = self._stream(docs)
        ctx = self._context_ids(ids)[target]
        return self._counts_at(ctx, ids[target])

    def token_logprobs(self, docs: list[list[str]]) -> np.ndarray:
        """log2 p of every predicted position (each token and each doc's ``"</s>"``), in order; ``-inf`` where
        the probability is 0 (only possible with ``alpha = 0``)."""
        c, cc = self.count_pairs(docs)
        with np.errstate(divide="ignore"):
            return np.log2(self._probs(c, cc))

    def bits_per_token(self, docs: list[list[str]]) -> float:
        """Mean ``-log2 p`` over every token and the ``"</s>"`` of each doc (perplexity = ``2 ** bits``).

        Vocabulary = training tokens + ``"</s>"`` + ``"<unk>"``; with ``alpha = 0`` one never-counted n-gram
        makes the result ``inf``. ``nan`` for no docs."""
        lp = self.token_logprobs(docs)
        return float(-lp.mean()) if len(lp) else float("nan")

    def perplexity(self, docs: list[list[str]]) -> float:
        return float(2.0 ** self.bits_per_token(docs))

    def logprob(self, doc: list[str]) -> float:
        """log2 p of one whole document (the sum of its chain-rule factors, ``"</s>"`` included)."""
        return float(self.token_logprobs([doc]).sum())

    def unseen_share(self, docs: list[list[str]]) -> dict:
        """How much of ``docs`` the training counts never saw: the share of predicted positions whose n-gram
        (context + next token) has count 0, and whose context alone has count 0."""
        c, cc = self.count_pairs(docs)
        n = len(c)
        return {"positions": n, "ngram": float((c == 0).mean()) if n else float("nan"),
                "context": float((cc == 0).mean()) if n else float("nan")}

    # ----------------------------------------------------------------------------------------------- one context
    def context_of(self, prefix: list[str]) -> tuple[str, ...]:
        """The length-k context a model reads after ``prefix`` (the last k tokens, ``"<s>"``-padded, unknown
        tokens as ``"<unk>"``)."""
        k = self.order
        toks = [w if w in self.index and w not in (EOS,) else (w if w == BOS else UNK) for w in prefix]
        padded = [BOS] * k + toks
        return tuple(padded[len(padded) - k:]) if k else ()

    def _ctx_id(self, context: tuple[str, ...]) -> int:
        ids = np.asarray([self.bos_id if w == BOS else self.index.get(w, self.unk_id) for w in context],
                         dtype=np.int64)
        if self.order == 0:
            return 0
        if len(ids) != self.order:
            return -1
        return int(self._context_ids(np.append(ids, 0))[-1])  # the context of a position just after ``context``

    def distribution(self, context: tuple[str, ...] | list[str]) -> dict:
        """Next-token counts and probabilities after a length-k ``context`` (use :meth:`context_of`): arrays over
        ``self.vocab`` with raw counts, the maximum-likelihood probabilities (``nan`` everywhere when the context
        was never seen) and the smoothed ones (which sum to 1)."""
        self._check()
        context = tuple(context)
        if len(context) != self.order:
            context = self.context_of(list(context))
        g = self._ctx_id(context)
        counts = np.zeros(self.V, dtype=np.int64)
        if g >= 0:
            lo, hi = np.searchsorted(self._joint, [g * self.V, (g + 1) * self.V])
            counts[self._joint[lo:hi] - g * self.V] = self._joint_counts[lo:hi]
        total = int(counts.sum())
        mle = counts / total if total else np.full(self.V, np.nan)
        smooth = self._probs(counts, np.full(self.V, total))
        return {"context": context, "seen": total > 0, "context_count": total, "counts": counts,
                "mle": mle, "smoothed": smooth}

    def factors(self, doc: list[str]) -> list[Factor]:
        """The chain-rule factors of one document, one per token plus the final ``"</s>"``."""
        self._check()
        ids, target = self._stream([doc])
        ctx = self._context_ids(ids)[target]
        tok = ids[target]
        c, cc = self._counts_at(ctx, tok)
        p = self._probs(c, cc)
        padded = [BOS] * self.order + [self.vocab[i] for i in ids[self.order:].tolist()]
        shown = list(doc) + [EOS]
        out = []
        for t in range(len(tok)):
            context = tuple(padded[t:t + self.order])
            with np.errstate(divide="ignore"):
                lp = float(np.log2(p[t]))
            out.append(Factor(context, self.vocab[int(tok[t])], shown[t], int(c[t]), int(cc[t]), float(p[t]), lp))
        return out

    # ----------------------------------------------------------------------------------------------- sampling
    def sample(self, prompt: list[str] | None = None, max_tokens: int = 200, temperature: float = 1.0,
               seed: int | None = 0, generator=None) -> list[str]:
        """Autoregressive (Markov-chain) sampling: draw the next token from ``p(. | last k tokens)``, append,
        repeat, until ``"</s>"`` or ``max_tokens`` new tokens. ``temperature`` reshapes the probabilities to
        ``p ** (1 / T)``, renormalised; ``T -> 0`` (``temperature <= 1e-6``) takes the most probable token
        (ties: the first in the vocabulary). ``"<unk>"`` is never drawn (it stands for no one token). A fixed
        ``seed`` (a ``torch.Generator`` seeded with it; or pass ``generator``) repeats exactly. Returns the new
        tokens only, ``"</s>"`` excluded."""
        import torch

        self._check()
        if generator is None:
            generator = torch.Generator().manual_seed(int(seed) if seed is not None else torch.seed())
        history = list(prompt or [])
        out: list[str] = []
        cache: dict[tuple, np.ndarray] = {}
        for _ in range(max(0, int(max_tokens))):
            context = self.context_of(history)
            p = cache.get(context)
            if p is None:
                d = self.distribution(context)
                p = d["smoothed"] if d["seen"] or self.alpha > 0 else np.ones(self.V) / self.V
                p = p.copy()
                p[self.unk_id] = 0.0
                cache[context] = p
            if p.sum() <= 0:
                break
            if temperature <= 1e-6:
                i = int(np.argmax(p))
            else:
                with np.errstate(divide="ignore"):
                    logit = np.log(p) / float(temperature)
                q = np.exp(logit - logit.max())
                q = torch.as_tensor(q / q.sum(), dtype=torch.float64)
                i = int(torch.multinomial(q, 1, generator=generator).item())
            w = self.vocab[i]
            if w == EOS:
                break
            out.append(w)
            history.append(w)
        return out

    # ----------------------------------------------------------------------------------------------- summary
    @property
    def n_contexts(self) -> int:
        """Distinct contexts seen in training."""
        return self._n_contexts

    @property
    def n_ngrams(self) -> int:
        """Distinct (context, next token) pairs seen in training."""
        return int(len(self._joint))


def bits_from_counts(c: np.ndarray, cc: np.ndarray, alpha: float, V: int) -> float:
    """Mean ``-log2 p`` from :meth:`NGramModel.count_pairs` for smoothing ``alpha`` over ``V`` tokens (``inf`` if
    any probability is 0, ``nan`` for no positions)."""
    if not len(c):
        return float("nan")
    num, den = c + alpha, cc + alpha * V
    if np.any(num <= 0) or np.any(den <= 0):
        return float("inf")
    return float(-np.mean(np.log2(num / den)))


def markov_bits(train_docs: list[list[str]], held_docs: list[list[str]], order: int, alpha: float = 1.0) -> float:
    """Held-out bits per token of an order-``order`` Markov model counted on ``train_docs`` (see
    :meth:`NGramModel.bits_per_token`; ``inf`` for ``alpha = 0`` whenever a held-out n-gram was never counted)."""
    return NGramModel(order, alpha).fit(train_docs).bits_per_token(held_docs)


class MarkovClassifier:
    """One Markov model per class over one shared vocabulary; predicts the class with the largest
    ``log p(class) + log p(doc | class)``. Order 0 is (multinomial) naive Bayes: every token independent given
    the class, each doc's ``"</s>"`` counted as one more token."""

    def __init__(self, order: int, alpha: float = 1.0):
        self.order, self.alpha = int(order), float(alpha)
        self.classes: list[str] = []
        self.models: dict[str, NGramModel] = {}
        self.log_prior: dict[str, float] = {}

    def fit(self, docs: list[list[str]], labels: list[str]) -> "MarkovClassifier":
        if len(docs) != len(labels) or not docs:
            raise ValueError("Give one label per document, and at least one document.")
        self.classes = sorted(set(labels))
        vocab = list(dict.fromkeys(w for d in docs for w in d))
        n = len(docs)
        for c in self.classes:
            mine = [d for d, y in zip(docs, labels) if y == c]
            self.models[c] = NGramModel(self.order, self.alpha).fit(mine, vocab=vocab)
            self.log_prior[c] = math.log2(len(mine) / n)
        return self

    def scores(self, docs: list[list[str]]) -> np.ndarray:
        """``log2 p(class) + log2 p(doc | class)``, shape (docs, classes)."""
        cols = []
        for c in self.classes:
            m = self.models[c]
            lp = m.token_logprobs(docs)
            lengths = np.asarray([len(d) + 1 for d in docs])
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            sums = np.add.reduceat(lp, starts) if len(lp) else np.zeros(len(docs))
            cols.append(sums + self.log_prior[c])
        return np.stack(cols, axis=1) if cols else np.zeros((len(docs), 0))

    def predict(self, docs: list[list[str]]) -> list[str]:
        s = self.scores(docs)
        return [self.classes[i] for i in np.argmax(s, axis=1)]

    def accuracy(self, docs: list[list[str]], labels: list[str]) -> float:
        if not docs:
            return float("nan")
        return float(np.mean([p == y for p, y in zip(self.predict(docs), labels)]))

    def contributions(self, doc: list[str], a: str, b: str) -> tuple[float, list[tuple[str, float]]]:
        """Log-odds ``log2 p(a | doc) / p(b | doc)`` split into the prior's share and one share per chain-rule
        factor (``log2 p_a(token | context) - log2 p_b(token | context)``); they add up to the total."""
        fa, fb = self.models[a].factors(doc), self.models[b].factors(doc)
        prior = self.log_prior[a] - self.log_prior[b]
        parts = [(x.shown, x.log2p - y.log2p) for x, y in zip(fa, fb)]
        return prior, parts
