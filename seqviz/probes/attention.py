"""Numbers about attention weights: alignment accuracy, row entropy, permutation
equivariance, and the weights recomputed from the equation with the model's own
parameters (in float64 numpy, independent of the torch code that drew them)."""

from __future__ import annotations

import math

import numpy as np
import torch

from seqviz.data.translation import TranslationTask
from seqviz.models.attention import Seq2Seq, TinyTransformer
from seqviz.probes.context import inspecting


def alignment_accuracy(weights: torch.Tensor, align: torch.Tensor) -> float:
    """weights (B, T, S), align (B, T, S) bool -> share of output steps (that have a
    deciding source position) whose largest weight falls on a deciding position."""
    rows = align.any(-1)  # (B, T)
    if not bool(rows.any()):
        return float("nan")
    hit = align.gather(-1, weights.argmax(-1, keepdim=True)).squeeze(-1)  # (B, T)
    return float(hit[rows].float().mean())


def row_entropy(weights) -> np.ndarray:
    """Entropy in nats of each attention row, (..., T, S) -> (..., T). Zeros count as 0 log 0 = 0."""
    w = np.asarray(weights, dtype=np.float64)
    return -(w * np.log(np.where(w > 0, w, 1.0))).sum(-1)


def entropy_vs_dim(dims, T: int = 16, n: int = 64, seed: int = 0, scaled: bool = True) -> np.ndarray:
    """Mean row entropy of softmax(q.k [/ sqrt(k)]) over T keys, for standard-normal q, k of each
    key dimension k in ``dims``. Unscaled, the dot products grow like sqrt(k) and
    the softmax saturates (entropy -> 0); scaled, it stays near its k = 1 value."""
    g = torch.Generator().manual_seed(int(seed))
    out = []
    for k in dims:
        q = torch.randn(n, T, int(k), generator=g, dtype=torch.float64)
        kk = torch.randn(n, T, int(k), generator=g, dtype=torch.float64)
        s = q @ kk.transpose(1, 2)
        if scaled:
            s = s / math.sqrt(k)
        out.append(float(row_entropy(torch.softmax(s, -1).numpy()).mean()))
    return np.array(out)


def keys_per_row(T: int, causal: bool) -> np.ndarray:
    """How many keys each of the T rows of a self-attention matrix weighs: T each, or i + 1
    for row i under the causal mask."""
    return np.arange(1, T + 1) if causal else np.full(T, T)


def max_entropy(counts) -> float:
    """Largest possible mean row entropy for rows of ``counts`` keys: mean of ln(keys per row)
    (each row uniform over its keys)."""
    return float(np.mean(np.log(np.asarray(counts, dtype=np.float64))))


def entropy_tables(dims, max_keys: int, n: int = 1000, seed: int = 0) -> dict[bool, np.ndarray]:
    """{scaled: (len(dims), max_keys)}: expected entropy of one softmax row over m = 1..max_keys keys
    with random scores q . k_j (scaled: / sqrt(k)), q and k_j standard normal of each key dimension
    k in ``dims``; ``n`` Monte Carlo rows per entry, the first m keys of a row being its m keys.

    Drawn exactly and cheaply: given q, the scores q . k_j are independent N(0, |q|^2), so a row
    is |q| z_j with z_j standard normal and |q|^2 chi-square with k degrees of freedom. The
    entropy of every prefix of a row comes from cumulative sums (H = ln Z + M - sum e s / Z)."""
    rng = np.random.default_rng(int(seed))
    out = {True: np.zeros((len(dims), max_keys)), False: np.zeros((len(dims), max_keys))}
    for a, k in enumerate(dims):
        r = np.sqrt(rng.chisquare(int(k), n))  # |q|
        z = rng.standard_normal((n, max_keys))
        for scaled in (True, False):
            s = r[:, None] * z / (math.sqrt(k) if scaled else 1.0)  # (n, max_keys)
            M = s.max(axis=1, keepdims=True)
            e = np.exp(s - M)
            Z, ES = np.cumsum(e, axis=1), np.cumsum(e * s, axis=1)
            H = np.log(Z) + M - ES / Z  # entropy of softmax over the first m keys, m = 1..max_keys
            out[scaled][a] = np.maximum(H, 0.0).mean(axis=0)
    return out


def reference_entropy(table: np.ndarray, counts) -> np.ndarray:
    """Expected mean row entropy of random scores for rows of ``counts`` keys (one per row), per
    key dimension: the rows' entries of ``entropy_table`` averaged, so a head's mean row entropy
    is compared with random scores over the same rows and key counts."""
    counts = np.asarray(counts, dtype=int)
    if counts.max() > table.shape[1]:
        raise ValueError(f"The table covers up to {table.shape[1]} keys, not {counts.max()}.")
    return table[:, counts - 1].mean(axis=1)


@torch.no_grad()
def permutation_gap(model: TinyTransformer, tokens: torch.Tensor, perm: torch.Tensor) -> float:
    """max |f(p(x)) - p(f(x))| over the logits, tokens (B, T), perm (T,).
    About 1e-6 without position information and without a causal mask; large otherwise.
    (The model is looked at in eval mode and left as it was: ``inspecting``.)"""
    with inspecting(model):
        a = model(tokens[:, perm])  # (B, T, V)
        b = model(tokens)[:, perm]
    return float((a - b).abs().max())


def _np(t) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def softmax_np(e: np.ndarray) -> np.ndarray:
    e = e - np.max(e, axis=-1, keepdims=True)
    x = np.exp(e)
    return x / x.sum(-1, keepdims=True)


@torch.no_grad()
def recompute_additive(model: Seq2Seq, h: torch.Tensor, s_prev: torch.Tensor):
    """alpha (B, T, S) and scores e (B, T, S) from e_ij = v^T tanh(W_s s_(i-1) + W_h h_j + b),
    using the model's parameters, encoder states h (B, S, E) and decoder states s_prev (B, T, H)."""
    a = model.attend
    Ws, Wh, b, v = _np(a.W_s.weight), _np(a.W_h.weight), _np(a.W_h.bias), _np(a.v.weight)[0]
    S_part = _np(s_prev) @ Ws.T  # (B, T, A)
    H_part = _np(h) @ Wh.T + b  # (B, S, A)
    e = np.tanh(S_part[:, :, None, :] + H_part[:, None, :, :]) @ v  # (B, T, S)
    return softmax_np(e), e


def layer_norm_np(x: np.ndarray, ln) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + ln.eps) * _np(ln.weight) + _np(ln.bias)


@torch.no_grad()
def recompute_self_attention(model: TinyTransformer, x_in: torch.Tensor, layer: int):
    """Per-head weights (B, h, T, T) and q, k, v (B, h, T, k) of block ``layer`` from its
    input x_in (B, T, d), recomputed in numpy from the equations and the block's parameters."""
    blk = model.blocks[layer]
    cfg = model.cfg
    x = layer_norm_np(_np(x_in), blk.ln1)  # (B, T, d)
    B, T, d = x.shape
    nh = cfg.n_heads
    if cfg.attention == "qkv":
        att = blk.attn
        q, k, v = (x @ _np(L.weight).T + _np(L.bias) for L in (att.W_q, att.W_k, att.W_v))
    else:
        q = k = v = x
    split = lambda t: t.reshape(B, T, nh, d // nh).transpose(0, 2, 1, 3)  # noqa: E731  (B, h, T, k)
    q, k, v = split(q), split(k), split(v)
    s = q @ k.transpose(0, 1, 3, 2)
    if cfg.scaled:
        s = s / math.sqrt(d // nh)
    if cfg.causal:
        s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    return softmax_np(s), q, k, v


def worked_cell(q_i: np.ndarray, keys: np.ndarray, j: int, scaled: bool, allowed: np.ndarray | None = None) -> dict:
    """The numbers of one self-attention weight: q_i (k,), keys (T, k), key index j.
    Returns dot, scale, score, the row's log-sum-exp and w_ij."""
    dots = keys @ q_i  # (T,)
    scale = math.sqrt(len(q_i)) if scaled else 1.0
    scores = dots / scale
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    w = softmax_np(scores)
    finite = scores[np.isfinite(scores)]
    lse = float(np.log(np.exp(finite - finite.max()).sum()) + finite.max())
    return dict(dot=float(dots[j]), scale=scale, score=float(scores[j]), lse=lse, w=float(w[j]),
                masked=bool(allowed is not None and not allowed[j]))


@torch.no_grad()
def accuracy_by_length(task: TranslationTask, models: dict, lengths, n: int = 64, seed: int = 123) -> dict:
    """Greedy-decoding token accuracy per source length for each model:
    name -> list of floats (one per length). Same seeded sources for every model, on each
    model's device; the models are looked at in eval mode and left as they were (``inspecting``)."""
    out = {k: [] for k in models}
    pairs = [task.sample(n, torch.Generator().manual_seed(int(seed) + int(L)), length=int(L)) for L in lengths]
    for k, m in models.items():
        dev = next(m.parameters()).device
        with inspecting(m):
            for p in pairs:
                tr = m.run(p.src.to(dev), n_out=p.tgt.shape[1])
                out[k].append(float((tr.tokens.cpu() == p.tgt).float().mean()))
    return out
