"""The embeddings lesson's set-ups: skip-gram with negative sampling trained live on a shipped
corpus (or pasted text), what the lesson reads from it, the gensim reference, and a small
bidirectional LSTM language model on the same text (ELMo's idea).

- ``load_corpus(key, text)``: word-level sentences (lower-cased, punctuation dropped), the
  restricted vocabulary (words seen at least ``MIN_COUNT[key]`` times) and the text as ids.
- ``Word2VecConfig`` / ``PRESETS``: the knobs and the CPU and GPU presets;
  ``build_word2vec(corpus, cfg, device)`` returns a ``seqviz.training.Run``.
- ``Space``: unit word vectors read from the model at one moment, and what the dashboard asks
  of them (neighbours, analogies, bias direction, overlap with gensim, analogy accuracy).
- ``Projection``: the 2-D PCA, fitted rarely, signs kept, so the picture does not spin.
- ``build_bilm(corpus, device)``: the language model's ``Run``; ``contextual(...)`` compares one
  word in two sentences, layer by layer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from seqviz.data import corpora
from seqviz.models import word2vec as W
from seqviz.models.bilm import BiLM, mix
from seqviz.training import Run, TrainConfig

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
MIN_COUNT = {"brown": 10, "python_docs": 5, "pasted": 2}  # the vocabulary: words seen at least this often
MAX_VOCAB = 20_000  # and at most this many (the most frequent)
CORPUS_TITLES = {"brown": corpora.CORPORA["brown"].title, "python_docs": corpora.CORPORA["python_docs"].title,
                 "pasted": "Pasted text"}


@dataclass
class Word2VecConfig:
    dim: int = 64  # D, embedding size
    window: int = 5  # context words on each side (reduced at random to 1..window, as word2vec does)
    negatives: int = 5  # k noise words per (centre, context) pair
    sample: float = 1e-3  # subsampling threshold s (0 = keep every word)
    lr: float = 0.01  # Adam's learning rate
    batch: int = 1024  # pairs per step
    seed: int = 0


# CPU: sensible neighbours of common words within 60 s on one thread (measured, see the README);
# GPU: a bigger space and batch.
PRESETS = {"cpu": Word2VecConfig(), "cuda": Word2VecConfig(dim=128, batch=8192, lr=0.004)}
REFERENCE_KEYS = ("dim", "window", "negatives", "sample")  # the settings the gensim reference was trained with

WORD_SETS = {
    "numbers": "one two three four five six seven eight nine ten",
    "days": "monday tuesday wednesday thursday friday saturday sunday",
    "pronouns": "he she i you we they him her me us them",
    "verbs": "go went come came see saw take took give gave",
    "countries": "france england italy russia germany japan china america",
    "family": "father mother son daughter brother sister husband wife",
}
OCCUPATIONS = ("nurse secretary teacher dancer singer maid artist writer student clerk doctor lawyer "
               "engineer scientist professor manager worker officer soldier farmer pilot banker judge president")
# words whose 10 nearest neighbours are compared with gensim's (frequent in Brown, several kinds)
PROBE_WORDS = ("he she man woman city war money house school church car day night year two three good "
               "new said went think water road father mother president government music english "
               "black white left under").split()


# -- corpus ------------------------------------------------------------------------------------
@dataclass
class Corpus:
    key: str  # "brown", "python_docs" or "pasted"
    sentences: list  # list[list[str]], the words of each sentence (documents for python_docs)
    vocab: W.Vocab
    ids: np.ndarray  # (N,) the text as word ids, out-of-vocabulary words dropped
    sentence: np.ndarray  # (N,) sentence number of each token
    min_count: int
    notes: tuple = ()  # sentences about what was cleaned or cut from pasted text
    cache: dict = field(default_factory=dict, repr=False)  # derived data kept for rebuilds (noise table, LM stream)

    @property
    def title(self) -> str:
        return CORPUS_TITLES[self.key]

    def describe(self) -> str:
        v = self.vocab
        return (f"{self.title}: {v.total_tokens:,} words; vocabulary = the {len(v):,} words seen at least "
                f"{self.min_count} times ({len(self.ids):,} tokens, {len(self.ids) / max(1, v.total_tokens):.0%}); "
                f"{v.dropped_types:,} rarer words left out")


def words_of(text: str) -> list[str]:
    """Lower-cased words of a text, punctuation dropped (``corpora.tokens`` at word level)."""
    return [w for w in corpora.tokens(text, "word") if w[0].isalnum()]


def _make(key: str, docs: list[str], notes=()) -> Corpus:
    sents = [s for s in (words_of(d) for d in docs) if s]
    mc = MIN_COUNT[key]
    vocab = W.build_vocab(sents, mc, MAX_VOCAB)
    ids, sid = W.encode(sents, vocab)
    return Corpus(key, sents, vocab, ids, sid, mc, tuple(notes))


@lru_cache(maxsize=2)
def _shipped(key: str) -> Corpus:
    return _make(key, corpora.documents(key))


class CorpusError(ValueError):
    """The text cannot train word2vec; ``args[0]`` is the sentence to show."""


def load_corpus(key: str = "brown", text: str | None = None) -> Corpus:
    """A shipped corpus (cached) or pasted ``text``; raises ``CorpusError`` with one sentence when
    pasted text is too small to train on."""
    if key != "pasted":
        return _shipped(key)
    docs, notes = corpora.user_documents(text or "")
    c = _make("pasted", docs, notes)
    if len(c.vocab) < 20 or len(c.ids) < 200:
        raise CorpusError(" ".join(list(notes)[-1:]) if not docs else
                          f"The pasted text gives only {len(c.vocab)} words seen at least {c.min_count} times "
                          f"({len(c.ids)} tokens): paste more text (a few thousand words) to train word vectors.")
    return c


# -- word2vec ------------------------------------------------------------------------------------
def build_word2vec(corpus: Corpus, cfg: Word2VecConfig, device: torch.device | None = None) -> Run:
    """A ``Run`` whose one model ("w2v", a ``SkipGram``) learns by skip-gram with negative sampling."""
    device = device or torch.device("cpu")
    if "noise_table" not in corpus.cache:
        corpus.cache["noise_table"] = W.unigram_table(corpus.vocab.counts)
    sampler = W.PairSampler(corpus.ids, corpus.sentence, corpus.vocab.counts, cfg.window, cfg.negatives, cfg.sample,
                            table=corpus.cache["noise_table"])
    model = W.SkipGram(len(corpus.vocab), cfg.dim, seed=cfg.seed).to(device)

    def batch_fn(gen):
        return tuple(t.to(device) for t in sampler.batch(cfg.batch, gen))

    def loss_fn(m, batch):
        return m(*batch), {}

    run = Run({"w2v": model}, batch_fn, loss_fn, TrainConfig(batch_size=cfg.batch, lr=cfg.lr, seed=cfg.seed))
    run.sampler = sampler
    return run


@dataclass
class Space:
    """Unit word vectors (V, D) of one moment, and the vocabulary; every question the dashboard asks."""

    U: np.ndarray
    vocab: W.Vocab

    @classmethod
    def of(cls, model: W.SkipGram, vocab: W.Vocab) -> "Space":
        return cls(W.unit_rows(model.centre.weight.detach().to("cpu", torch.float64).numpy()), vocab)

    def ids(self, words) -> tuple[list[int], list[str]]:
        """(ids of the words in the vocabulary, the words that are not)."""
        got = [self.vocab.index[w] for w in words if w in self.vocab.index]
        return got, [w for w in words if w not in self.vocab.index]

    def neighbours(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        return [(self.vocab.words[i], c) for i, c in W.neighbours(self.U, self.vocab.index[word], k)]

    def analogy(self, a: str, b: str, c: str, k: int = 5, exclude_inputs: bool = True) -> list[tuple[str, float]]:
        ix = self.vocab.index
        return [(self.vocab.words[i], s) for i, s in W.analogy(self.U, ix[a], ix[b], ix[c], k, exclude_inputs)]

    def bias(self, words, a: str = "he", b: str = "she") -> tuple[list[str], np.ndarray]:
        ids, _ = self.ids(words)
        return [self.vocab.words[i] for i in ids], W.bias_scores(self.U, ids, self.vocab.index[a], self.vocab.index[b])

    def overlap(self, reference: dict, k: int = 10) -> float | None:
        """Mean share of gensim's k nearest neighbours that are also ours, over the reference's words."""
        ref = {w: n[:k] for w, n in reference.get("neighbours", {}).items() if w in self.vocab.index}
        if not ref:
            return None
        ids = [self.vocab.index[w] for w in ref]
        sims = self.U[ids] @ self.U.T  # (n, V)
        sims[np.arange(len(ids)), ids] = -np.inf
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        return float(np.mean([len(set(self.vocab.words[j] for j in row) & set(ref[w])) / k
                              for row, w in zip(top, ref)]))

    def analogy_accuracy(self, questions) -> tuple[int, int, list[tuple]]:
        """(right, asked, [(a, b, c, expected, answer)]): top-1 accuracy of b - a + c on the
        questions whose four words are in the vocabulary (inputs excluded, as gensim does)."""
        asked, rows = 0, []
        ix = self.vocab.index
        usable = [q for q in questions if all(w in ix for w in q[1:])]
        if not usable:
            return 0, 0, []
        A = np.array([[ix[q[1]], ix[q[2]], ix[q[3]]] for q in usable])
        T = self.U[A[:, 1]] - self.U[A[:, 0]] + self.U[A[:, 2]]
        T /= np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-12)
        sims = T @ self.U.T
        sims[np.arange(len(A))[:, None], A] = -np.inf
        best = sims.argmax(1)
        right = 0
        for q, j in zip(usable, best):
            ans = self.vocab.words[j]
            right += ans == q[4]
            rows.append((q[1], q[2], q[3], q[4], ans))
            asked += 1
        return right, asked, rows


def load_analogies(path: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """The shipped analogy questions as (section, a, b, c, d): a : b :: c : d."""
    out, section = [], ""
    with open(path or os.path.join(DATA, "analogies.txt"), encoding="utf-8") as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            if ln.startswith(":"):
                section = ln[1:].strip()
                continue
            a, b, c, d = ln.lower().split()
            out.append((section, a, b, c, d))
    return out


def load_reference() -> dict:
    """gensim's reference (``scripts/make_word2vec_reference.py``), or {} when it is missing."""
    try:
        with open(os.path.join(DATA, "embeddings_reference.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def reference_matches(cfg: Word2VecConfig, reference: dict, corpus_key: str) -> bool:
    """True when the reference was trained on this corpus with these settings."""
    s = reference.get("settings", {})
    return reference.get("corpus") == corpus_key and all(s.get(k) == getattr(cfg, k) for k in REFERENCE_KEYS)


class Projection:
    """A 2-D PCA of some words' vectors that stays put: fitted when asked (``fit``), otherwise the
    same axes project every frame; a refit keeps each axis's sign (``align_signs``)."""

    def __init__(self):
        self.mean: np.ndarray | None = None
        self.comps: np.ndarray | None = None
        self.fits = 0

    def fit(self, X: np.ndarray) -> None:
        mu, comps = W.pca_2d(X)
        self.mean, self.comps = mu, W.align_signs(comps, self.comps)
        self.fits += 1

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) coordinates of the rows of X on the fitted axes (fits first if never fitted)."""
        if self.comps is None or self.comps.shape[1] != X.shape[1]:
            self.comps = None
            self.fit(X)
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.comps.T

    def explained(self, X: np.ndarray) -> float:
        """Share of the rows' variance the two axes show."""
        Xc = np.asarray(X, dtype=np.float64) - np.asarray(X, dtype=np.float64).mean(0)
        tot = float((Xc ** 2).sum())
        return float(((Xc @ self.comps.T) ** 2).sum() / tot) if tot > 0 and self.comps is not None else 0.0


# -- the pair the objective panel shows ------------------------------------------------------------
def draw_pair(run: Run, gen: torch.Generator) -> tuple[int, int, list[int]]:
    """One (centre, context) pair from the text and its k noise words."""
    c, o, neg = run.sampler.batch(1, gen)
    return int(c[0]), int(o[0]), [int(x) for x in neg[0]]


def objective(model: W.SkipGram, c: int, o: int, neg: list[int], lr: float) -> dict:
    """The pair's dot products and sigmoid scores before and after one plain SGD step on it alone
    (on copies: the model is not changed)."""
    with torch.no_grad():
        v = model.centre.weight[c].detach().to("cpu", torch.float64).numpy()
        uo = model.context.weight[o].detach().to("cpu", torch.float64).numpy()
        un = model.context.weight[torch.as_tensor(neg, device=model.context.weight.device)]
        un = un.detach().to("cpu", torch.float64).numpy()
    return W.pair_step(v, uo, un, lr)


# -- the bidirectional language model ----------------------------------------------------------------
@dataclass
class BiLMConfig:
    vocab: int = 2000  # the most frequent words get their own id; the rest share <unk>
    dim: int = 64  # D: embedding and LSTM state size
    layers: int = 2
    T: int = 16  # tokens per training segment
    batch: int = 32
    lr: float = 1e-2
    seed: int = 0


# CPU: ~43 ms a step on one thread, loss from 7.6 to about 4.5 nats in 45 s (measured); GPU: bigger.
BILM_PRESETS = {"cpu": BiLMConfig(), "cuda": BiLMConfig(vocab=8000, dim=256, batch=128, T=24, lr=3e-3)}
UNK, EOS = "<unk>", "</s>"


class LMVocab:
    """The language model's words: the corpus vocabulary's most frequent ``n``, then <unk> and </s>."""

    def __init__(self, vocab: W.Vocab, n: int):
        self.words = list(vocab.words[:n]) + [UNK, EOS]
        self.index = {w: i for i, w in enumerate(self.words)}
        self.unk, self.eos = self.index[UNK], self.index[EOS]

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: list[str]) -> list[int]:
        return [self.index.get(w, self.unk) for w in words]


def lm_stream(corpus: Corpus, lv: LMVocab) -> torch.Tensor:
    """The whole text as one id stream, sentences separated by </s>."""
    out = [lv.eos]
    for s in corpus.sentences:
        out += lv.encode(s) + [lv.eos]
    return torch.as_tensor(out, dtype=torch.int64)


def build_bilm(corpus: Corpus, cfg: BiLMConfig, device: torch.device | None = None) -> Run:
    """A ``Run`` whose one model ("bilm") learns both directions on random segments of the text."""
    device = device or torch.device("cpu")
    lv = LMVocab(corpus.vocab, cfg.vocab)
    model = BiLM(len(lv), cfg.dim, cfg.layers, seed=cfg.seed).to(device)

    def batch_fn(gen):
        key = ("lm_stream", cfg.vocab)  # made at the first batch (0.5-1 s for Brown), kept with the corpus
        if key not in corpus.cache:
            corpus.cache[key] = lm_stream(corpus, lv)
        stream = corpus.cache[key]
        T = min(cfg.T, len(stream) - 1)
        start = torch.randint(0, len(stream) - T, (cfg.batch,), generator=gen)
        return stream[start[:, None] + torch.arange(T)].to(device)  # (B, T)

    run = Run({"bilm": model}, batch_fn, lambda m, ids: m.loss(ids),
              TrainConfig(batch_size=cfg.batch, lr=cfg.lr, clip=1.0, seed=cfg.seed))
    run.lm_vocab = lv
    return run


def contextual(model: BiLM, lv: LMVocab, word: str, sentence_a: list[str], sentence_b: list[str]) -> dict:
    """The word's vectors in two sentences, per layer: cosine between them (layer 0, the embedding,
    is the same vector in both), and the vectors themselves for the mixture. Each sentence is
    read alone, between </s> marks; the word's first occurrence is used."""
    out = {}
    for name, s in (("a", sentence_a), ("b", sentence_b)):
        ids = [lv.eos] + lv.encode(s) + [lv.eos]
        pos = 1 + s.index(word)
        dev = next(model.parameters()).device
        with torch.no_grad():
            layers = model.layer_vectors(torch.as_tensor([ids], device=dev))
        out[name] = [h[0, pos].to("cpu", torch.float64) for h in layers]  # each (2D,)
    cos = [float(torch.nn.functional.cosine_similarity(x, y, dim=0)) for x, y in zip(out["a"], out["b"])]
    return {"cosine": cos, "a": out["a"], "b": out["b"], "unk": word not in lv.index}


def mixture_cosine(ctx: dict, w, gamma: float) -> tuple[float, np.ndarray]:
    """(cosine of the two mixed vectors γ Σ s_j h_j, s = softmax(w))."""
    a, b = mix(ctx["a"], w, gamma), mix(ctx["b"], w, gamma)
    s = torch.softmax(torch.as_tensor(w, dtype=torch.float64), 0).numpy()
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0)), s


__all__ = ["Corpus", "CorpusError", "load_corpus", "Word2VecConfig", "PRESETS", "build_word2vec", "Space",
           "Projection", "load_analogies", "load_reference", "reference_matches", "draw_pair", "objective",
           "BiLMConfig", "BILM_PRESETS", "LMVocab", "build_bilm", "contextual", "mixture_cosine", "WORD_SETS",
           "OCCUPATIONS", "PROBE_WORDS"]
