"""Skip-gram with negative sampling (word2vec), in PyTorch, and the maths the embeddings lesson shows.

The model (Mikolov et al., 2013): every word ``w`` has two vectors, an input ("centre") vector
``v_w`` and an output ("context") vector ``u_w``, rows of two (V, D) matrices. For a (centre c,
context o) pair seen in the text and ``k`` noise words ``n_1..n_k`` drawn from the unigram
distribution raised to 3/4, the loss is

    L = -log σ(u_o · v_c) - Σ_i log σ(-u_{n_i} · v_c)

so the true context's score goes up and the noise words' scores go down. The embedding the
lesson shows is the input matrix (what gensim calls ``wv``).

Subsampling of frequent words follows word2vec's C code (and gensim): a word of relative
frequency ``z`` is kept with probability ``min(1, (sqrt(z / s) + 1) · s / z)`` for the threshold
``s`` ("sample", 1e-3 by default).

Everything here takes its randomness as a ``torch.Generator`` and knows nothing of widgets.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class Vocab:
    words: list[str]  # id -> word, most frequent first
    counts: np.ndarray  # (V,) how often each word occurs in the training text
    index: dict[str, int]  # word -> id
    total_tokens: int  # tokens in the text, rare words included
    dropped_types: int  # distinct words below the frequency limit (not in the vocabulary)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index


def build_vocab(sentences: list[list[str]], min_count: int = 5, max_size: int | None = None) -> Vocab:
    """Words seen at least ``min_count`` times, the ``max_size`` most frequent of them (ties by
    first appearance), most frequent first."""
    c = collections.Counter(w for s in sentences for w in s)
    kept = [(w, n) for w, n in c.most_common() if n >= min_count]
    if max_size is not None:
        kept = kept[:max_size]
    words = [w for w, _ in kept]
    return Vocab(words, np.array([n for _, n in kept], dtype=np.int64), {w: i for i, w in enumerate(words)},
                 int(sum(c.values())), len(c) - len(kept))


def encode(sentences: list[list[str]], vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, sentence)``: the text as one array of word ids with out-of-vocabulary words dropped
    (as gensim does before it forms windows), and for each token the number of its sentence, so
    that no window crosses a sentence boundary."""
    ids, sid = [], []
    for j, s in enumerate(sentences):
        row = [vocab.index[w] for w in s if w in vocab.index]
        ids += row
        sid += [j] * len(row)
    return np.asarray(ids, dtype=np.int64), np.asarray(sid, dtype=np.int64)


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability that each occurrence of a word is kept by subsampling (word2vec C / gensim):
    ``min(1, (sqrt(z/s) + 1) s / z)`` with ``z`` the word's share of the vocabulary's tokens.
    ``sample = 0`` keeps everything."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    z = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(z / sample) + 1.0) * sample / z)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """The distribution negatives are drawn from: unigram counts raised to ``power``, normalised."""
    p = np.asarray(counts, dtype=np.float64) ** power
    return p / p.sum()


def unigram_table(counts: np.ndarray, table_size: int = 1_000_000) -> torch.Tensor:
    """word2vec's unigram table: entry i holds the word whose cumulative noise mass covers (i + 0.5) / size,
    so a uniform index into it draws from ``noise_distribution(counts)``."""
    noise = noise_distribution(counts)
    return torch.as_tensor(np.searchsorted(np.cumsum(noise), (np.arange(table_size) + 0.5) / table_size),
                           dtype=torch.int64).clamp_(max=len(counts) - 1)


class PairSampler:
    """Draws training batches of (centre, context) pairs and k noise words per pair.

    A centre position is drawn uniformly from the text and kept with its word's keep probability;
    the window is shrunk at random to ``b`` in 1..window (word2vec's "reduced window", which weighs
    near words more), the context is one of the positions within ±b in the same sentence, also
    kept with its keep probability. (gensim removes subsampled words before it forms windows, so
    its windows reach a little further in the original text; this sampler measures distance in
    the original text.)
    """

    def __init__(self, ids: np.ndarray, sentence: np.ndarray, counts: np.ndarray, window: int, negatives: int,
                 sample: float, table_size: int = 1_000_000, table: torch.Tensor | None = None):
        self.ids = torch.as_tensor(ids)
        self.sentence = torch.as_tensor(sentence)
        self.keep = torch.as_tensor(keep_probability(counts, sample), dtype=torch.float32)
        self.window, self.negatives = int(window), int(negatives)
        self.table = table if table is not None else unigram_table(counts, table_size)

    @staticmethod
    def table_for(counts: np.ndarray, table_size: int = 1_000_000) -> torch.Tensor:
        return unigram_table(counts, table_size)

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.table[torch.randint(len(self.table), (n,), generator=gen)]

    def pairs(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(centre ids (n,), context ids (n,))."""
        N = len(self.ids)
        got_c, got_o, have = [], [], 0
        for _ in range(50):  # rejection: a few rounds always suffice (at most 50)
            m = 2 * (n - have) + 64
            pos = torch.randint(N, (m,), generator=gen)
            b = torch.randint(1, self.window + 1, (m,), generator=gen)
            off = torch.randint(0, 2 * self.window, (m,), generator=gen) % (2 * b)  # 0..2b-1
            off = torch.where(off < b, off - b, off - b + 1)  # -b..-1, 1..b
            ctx = pos + off
            ok = (ctx >= 0) & (ctx < N)
            ctx = ctx.clamp(0, N - 1)
            ok &= self.sentence[ctx] == self.sentence[pos]
            c, o = self.ids[pos], self.ids[ctx]
            ok &= torch.rand(m, generator=gen) < self.keep[c]
            ok &= torch.rand(m, generator=gen) < self.keep[o]
            got_c.append(c[ok]), got_o.append(o[ok])
            have += int(ok.sum())
            if have >= n:
                break
        c, o = torch.cat(got_c)[:n], torch.cat(got_o)[:n]
        return c, o

    def batch(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(centre (B,), context (B,), negatives (B, k))."""
        c, o = self.pairs(n, gen)
        return c, o, self.noise(len(c) * self.negatives, gen).view(len(c), self.negatives)


def sgns_loss(v_c: torch.Tensor, u_o: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c).
    v_c, u_o: (B, D); u_neg: (B, k, D)."""
    pos = (v_c * u_o).sum(-1)  # (B,)
    neg = torch.bmm(u_neg, v_c.unsqueeze(-1)).squeeze(-1)  # (B, k)
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()


class SkipGram(nn.Module):
    """Two (V, D) embedding matrices: ``centre`` (the word vectors shown) and ``context``.
    Initialised as word2vec does: centre vectors uniform in ±0.5/D, context vectors zero."""

    def __init__(self, V: int, D: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(int(seed))
        self.centre = nn.Embedding(V, D)
        self.context = nn.Embedding(V, D)
        with torch.no_grad():
            self.centre.weight.copy_((torch.rand(V, D, generator=g) - 0.5) / D)
            self.context.weight.zero_()

    def forward(self, c: torch.Tensor, o: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """The SGNS loss of a batch: c, o (B,), neg (B, k)."""
        return sgns_loss(self.centre(c), self.context(o), self.context(neg))

    def scores(self, c: int, o: int, neg) -> tuple[np.ndarray, np.ndarray]:
        """Dot products u·v_c of the true context and of each negative (numpy, no gradient)."""
        with torch.no_grad():
            v = self.centre.weight[c]
            return (float(self.context.weight[o] @ v),
                    (self.context.weight[torch.as_tensor(neg)] @ v).cpu().numpy().astype(float))


def pair_step(v_c: np.ndarray, u_o: np.ndarray, u_neg: np.ndarray, lr: float) -> dict:
    """One plain gradient step on one (centre, context) pair and its k negatives, on copies of
    their vectors (the model is not touched): the objective before and after, for the lesson.
    v_c, u_o: (D,), u_neg: (k, D). Returns dots and sigmoids before/after and both losses."""
    v = torch.tensor(v_c, dtype=torch.float64, requires_grad=True)
    uo = torch.tensor(u_o, dtype=torch.float64, requires_grad=True)
    un = torch.tensor(u_neg, dtype=torch.float64, requires_grad=True)
    loss = sgns_loss(v[None], uo[None], un[None])
    loss.backward()
    with torch.no_grad():
        v2, uo2, un2 = v - lr * v.grad, uo - lr * uo.grad, un - lr * un.grad
        loss2 = sgns_loss(v2[None], uo2[None], un2[None])
        before = np.concatenate([[float(uo @ v)], (un @ v).numpy()])
        after = np.concatenate([[float(uo2 @ v2)], (un2 @ v2).numpy()])
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    return {"dot_before": before, "dot_after": after, "sigma_before": sig(before), "sigma_after": sig(after),
            "loss_before": float(loss.detach()), "loss_after": float(loss2)}


# -- reading the space ------------------------------------------------------------------------
def unit_rows(E: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    n = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(n > 0, n, 1.0)


def nearest(U: np.ndarray, query: np.ndarray, k: int = 10, exclude=()) -> list[tuple[int, float]]:
    """The ``k`` rows of ``U`` (unit rows) with the largest cosine to ``query`` (any vector), as
    (id, cosine), best first, skipping ids in ``exclude``."""
    q = np.asarray(query, dtype=np.float64)
    nq = np.linalg.norm(q)
    cos = U @ (q / nq if nq > 0 else q)
    ex = np.fromiter(exclude, dtype=np.int64) if len(exclude) else np.zeros(0, np.int64)
    cos = cos.astype(np.float64)
    cos[ex] = -np.inf
    k = max(0, min(k, len(cos) - len(set(ex.tolist()))))
    top = np.argpartition(-cos, k - 1)[:k] if k else np.zeros(0, np.int64)
    top = top[np.argsort(-cos[top], kind="stable")]
    return [(int(i), float(cos[i])) for i in top]


def neighbours(U: np.ndarray, word_id: int, k: int = 10) -> list[tuple[int, float]]:
    """The ``k`` nearest words to a word by cosine, the word itself left out."""
    return nearest(U, U[word_id], k, exclude=(word_id,))


def analogy(U: np.ndarray, a: int, b: int, c: int, k: int = 5, exclude_inputs: bool = True) -> list[tuple[int, float]]:
    """"a - b + c" (king - man + woman): the words whose unit vectors have the largest cosine with
    â - b̂ + ĉ (3CosAdd, what gensim's ``most_similar(positive=[a, c], negative=[b])`` ranks by).
    The inputs are usually left out of the answers: with them, a or c is very often the top one."""
    target = U[a] - U[b] + U[c]
    return nearest(U, target, k, exclude=(a, b, c) if exclude_inputs else ())


def pca_2d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), components (2, D)): the two directions of largest variance of the rows of X."""
    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mu, full_matrices=False)
    comps = np.zeros((2, X.shape[1]))
    comps[: min(2, len(vt))] = vt[:2]
    return mu, comps


def align_signs(comps: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Flip each new component whose dot product with the previous one is negative: a re-fitted
    projection then does not mirror the picture (an SVD's signs are arbitrary)."""
    if previous is None:
        return comps
    s = np.sign(np.sum(comps * previous, axis=1))
    s[s == 0] = 1.0
    return comps * s[:, None]


def bias_scores(U: np.ndarray, ids: list[int], a: int, b: int) -> np.ndarray:
    """Cosine of each word with the direction â - b̂ (e.g. he - she): positive leans to a."""
    d = U[a] - U[b]
    n = np.linalg.norm(d)
    return (U[ids] @ (d / n if n > 0 else d)).astype(np.float64)
