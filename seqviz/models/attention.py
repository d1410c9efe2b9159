"""Attention, from Bahdanau's alignment to self-attention heads.

Additive (Bahdanau et al. 2014) attention, for decoder step i and source j:
  e_ij = v^T tanh(W_s s_(i-1) + W_h h_j + b)      alpha_ij = softmax_j(e_ij)
  c_i  = sum_j alpha_ij h_j
Scaled dot-product self-attention, per head, with k the key dimension:
  w'_ij = q_i . k_j / sqrt(k)   (or unscaled)     w_ij = softmax_j(w'_ij)
  y_i   = sum_j w_ij v_j ;  q_i = W_q x_i + b_q, k_j = W_k x_j + b_k, v_j = W_v x_j + b_v
A causal mask sets w'_ij = -inf for j > i, so w_ij is exactly 0 there.
Parameter-free ("simple") self-attention uses q = k = v = x.

Every attention function returns ``(output, weights)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

POSITIONS = ("learned", "sinusoidal", "none")


# -- additive attention and the RNN encoder-decoder ---------------------------------
class AdditiveAttention(nn.Module):
    """e_ij = v^T tanh(W_s s + W_h h_j + b); returns (context (B, E), weights (B, S))."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        self.W_s = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_h = nn.Linear(key_dim, attn_dim, bias=True)  # its bias is b
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, s: torch.Tensor, h: torch.Tensor, h_proj: torch.Tensor | None = None,
                mask: torch.Tensor | None = None):
        """s (B, Hd) decoder state s_(i-1); h (B, S, E) encoder states; h_proj = W_h h + b
        (B, S, A), pass it to avoid recomputing; mask (B, S) True for real tokens."""
        if h_proj is None:
            h_proj = self.W_h(h)
        e = self.v(torch.tanh(self.W_s(s)[:, None, :] + h_proj)).squeeze(-1)  # (B, S)
        if mask is not None:
            e = e.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(e, dim=-1)  # (B, S)
        return torch.bmm(alpha[:, None, :], h).squeeze(1), alpha  # (B, E), (B, S)


@dataclass
class Seq2SeqConfig:
    vocab: int = 11  # V, shared by source and target (index 0 is BOS)
    emb: int = 32  # embedding size of a token
    hidden: int = 64  # H: encoder units per direction, and the decoder state size
    attn: int = 64  # A: hidden size of the additive scoring network a(s, h)
    cell: str = "gru"  # "gru" or "lstm", for encoder and decoder
    attention: bool = True  # False: the decoder sees one fixed summary of the source (bottleneck)
    values: str = "embeddings"  # what c_i averages: "states" h_j (Bahdanau's c_i) or the token "embeddings"
    feed_previous: bool = False  # feed the previous output token y_(i-1) into the decoder


@dataclass
class Seq2SeqTrace:
    logits: torch.Tensor  # (B, T, V)
    weights: torch.Tensor | None  # (B, T, S) alpha_ij, None without attention
    h: torch.Tensor  # (B, S, 2H) encoder states h_j
    s_prev: torch.Tensor  # (B, T, H) decoder state s_(i-1) that scored step i
    tokens: torch.Tensor = field(default=None)  # (B, T) greedy output (translate only)


class Seq2Seq(nn.Module):
    """Bidirectional encoder, recurrent decoder, with or without additive attention.

    The decoder is the same in both cases; only its context differs: c_i from
    attention, or the fixed c = [forward h_S ; backward h_1] for every step.

    Why the defaults (measured on reversal): with c_i = sum_j alpha_ij h_j and y_(i-1)
    fed back, the model solves the task with a smeared, often one-off alignment,
    because neighbouring states h_(j+-1) also carry x_j and the decoder can
    subtract the token it just wrote (alignment accuracy stayed near 0.3-0.5).
    Averaging token embeddings and not feeding y_(i-1) leaves one way to be right:
    put the weight on the right source position.
    """

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        if cfg.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', not {cfg.cell!r}")
        self.cfg = cfg
        if cfg.values not in ("states", "embeddings"):
            raise ValueError(f"values must be 'states' or 'embeddings', not {cfg.values!r}")
        H, E = cfg.hidden, 2 * cfg.hidden
        C = cfg.emb if (cfg.attention and cfg.values == "embeddings") else E  # size of the context c_i
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        self.embed = nn.Embedding(cfg.vocab, cfg.emb)
        self.encoder = rnn(cfg.emb, H, batch_first=True, bidirectional=True)
        self.init = nn.Linear(E, H)
        self.decoder = (nn.GRUCell if cfg.cell == "gru" else nn.LSTMCell)(cfg.emb + C, H)
        self.attend = AdditiveAttention(H, E, cfg.attn) if cfg.attention else None
        self.out = nn.Linear(H + C + cfg.emb, cfg.vocab)

    def encode(self, src: torch.Tensor):
        """src (B, S) -> encoder states h (B, S, 2H) and the fixed summary (B, 2H)."""
        h, _ = self.encoder(self.embed(src))  # (B, S, 2H)
        Hh = self.cfg.hidden
        summary = torch.cat([h[:, -1, :Hh], h[:, 0, Hh:]], dim=-1)  # (B, 2H)
        return h, summary

    def run(self, src: torch.Tensor, tgt: torch.Tensor | None = None, n_out: int | None = None) -> Seq2SeqTrace:
        """Teacher forcing when ``tgt`` (B, T) is given (inputs BOS, y_1..y_(T-1));
        otherwise greedy decoding for ``n_out`` steps."""
        B = src.shape[0]
        T = tgt.shape[1] if tgt is not None else int(n_out)
        h, summary = self.encode(src)
        h_proj = self.attend.W_h(h) if self.attend is not None else None  # (B, S, A)
        # With attention the source reaches the decoder only through c_i (s_0 = 0), so
        # the weights must find the right source position; without, s_0 starts from c.
        s = torch.tanh(self.init(summary)) if self.attend is None else summary.new_zeros(B, self.cfg.hidden)
        c = torch.zeros_like(s)  # LSTM cell memory
        y_prev = torch.zeros(B, dtype=torch.long, device=src.device)  # BOS
        bos = self.embed(y_prev)  # (B, emb): the only token input when feed_previous is False
        src_emb = self.embed(src) if (self.attend is not None and self.cfg.values == "embeddings") else None
        logits, weights, states, tokens = [], [], [], []
        for i in range(T):
            states.append(s)
            if self.attend is not None:
                ctx, alpha = self.attend(s, h, h_proj)  # (B, 2H), (B, S)
                if src_emb is not None:
                    ctx = torch.bmm(alpha[:, None, :], src_emb).squeeze(1)  # (B, emb)
                weights.append(alpha)
            else:
                ctx = summary
            emb = self.embed(y_prev) if self.cfg.feed_previous else bos  # (B, emb)
            inp = torch.cat([emb, ctx], dim=-1)
            if self.cfg.cell == "gru":
                s = self.decoder(inp, s)
            else:
                s, c = self.decoder(inp, (s, c))
            logit = self.out(torch.cat([s, ctx, emb], dim=-1))  # (B, V)
            logits.append(logit)
            y_prev = tgt[:, i] if tgt is not None else logit.argmax(-1)
            tokens.append(logit.argmax(-1))
        return Seq2SeqTrace(
            logits=torch.stack(logits, 1),
            weights=torch.stack(weights, 1) if weights else None,
            h=h, s_prev=torch.stack(states, 1), tokens=torch.stack(tokens, 1))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor):
        """Teacher-forced: returns (logits (B, T, V), weights (B, T, S) or None)."""
        tr = self.run(src, tgt)
        return tr.logits, tr.weights


# -- self-attention -----------------------------------------------------------------
def causal_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool, True where query i may look at key j (j <= i)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def dot_product_attention(q, k, v, causal: bool = False, scaled: bool = True):
    """q, k, v (..., T, d) -> (output (..., T, d), weights (..., T, T)); rows sum to 1,
    masked entries exactly 0."""
    scores = q @ k.transpose(-2, -1)  # (..., T, T)
    if scaled:
        scores = scores / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(~causal_mask(q.shape[-2], q.device), float("-inf"))
    w = torch.softmax(scores, dim=-1)
    return w @ v, w


def simple_self_attention(x: torch.Tensor, causal: bool = False, scaled: bool = False):
    """Parameter-free: w'_ij = x_i . x_j, y_i = sum_j w_ij x_j. x (B, T, d) -> (y, w (B, T, T))."""
    return dot_product_attention(x, x, x, causal=causal, scaled=scaled)


@dataclass
class TransformerConfig:
    vocab: int = 40  # V characters
    d_model: int = 32  # size of every token vector x_i
    n_heads: int = 4  # heads per layer; each has key dimension k = d_model / n_heads
    n_layers: int = 2  # transformer blocks
    ff: int = 64  # hidden units of the per-token feed-forward layer
    max_len: int = 32  # positions with an embedding (learned); the training window T
    position: str = "learned"  # "learned", "sinusoidal" or "none"
    causal: bool = True  # mask attention to future tokens
    scaled: bool = True  # divide q.k by sqrt(k)
    attention: str = "qkv"  # "qkv" (keys, queries, values) or "simple" (q = k = v = x, no parameters)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention exposing per-head weights and Q, K, V.

    qkv: q, k, v = x W_q^T + b_q, ... split into heads, concatenated head outputs
    go through W_o. simple: each head uses its slice of x as q = k = v, no W_o.
    """

    def __init__(self, d_model: int, n_heads: int, kind: str = "qkv"):
        super().__init__()
        if d_model % n_heads:
            raise ValueError("d_model must be a multiple of n_heads.")
        if kind not in ("qkv", "simple"):
            raise ValueError(f"attention must be 'qkv' or 'simple', not {kind!r}")
        self.n_heads, self.kind = n_heads, kind
        if kind == "qkv":
            self.W_q, self.W_k, self.W_v, self.W_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def heads(self, x: torch.Tensor):
        """x (B, T, d) -> q, k, v each (B, h, T, k)."""
        B, T, d = x.shape
        split = lambda t: t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2)  # noqa: E731
        if self.kind == "simple":
            return split(x), split(x), split(x)
        return split(self.W_q(x)), split(self.W_k(x)), split(self.W_v(x))

    def forward(self, x: torch.Tensor, causal: bool = False, scaled: bool = True, keep: dict | None = None):
        """x (B, T, d) -> (y (B, T, d), weights (B, h, T, T)); ``keep`` receives q, k, v."""
        q, k, v = self.heads(x)
        y, w = dot_product_attention(q, k, v, causal=causal, scaled=scaled)  # (B, h, T, k)
        if keep is not None:
            keep.update(q=q, k=k, v=v, weights=w)
        y = y.transpose(1, 2).reshape(x.shape)  # (B, T, d)
        return (self.W_o(y) if self.kind == "qkv" else y), w


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attention(LN(x)), then x + FF(LN(x)). Only attention mixes steps."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = MultiHeadSelfAttention(cfg.d_model, cfg.n_heads, cfg.attention)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = nn.Sequential(nn.Linear(cfg.d_model, cfg.ff), nn.ReLU(), nn.Linear(cfg.ff, cfg.d_model))

    def forward(self, x: torch.Tensor, keep: dict | None = None):
        if keep is not None:
            keep["x_in"] = x
        a, _ = self.attn(self.ln1(x), causal=self.cfg.causal, scaled=self.cfg.scaled, keep=keep)
        x = x + a
        return x + self.ff(self.ln2(x))


def sinusoidal(T: int, d: int) -> torch.Tensor:
    """(T, d) Vaswani et al. position encoding: sin/cos of pos / 10000^(2i/d)."""
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe


class TinyTransformer(nn.Module):
    """Token embedding (+ position embedding), ``n_layers`` blocks, a linear read-out per token."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        if cfg.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, not {cfg.position!r}")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model) if cfg.position == "learned" else None
        self.blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab)

    def inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) -> x (B, T, d) = token embedding + position embedding."""
        T = tokens.shape[1]
        x = self.embed(tokens)
        if self.cfg.position == "learned":
            if T > self.cfg.max_len:
                raise ValueError(f"Learned position embeddings cover {self.cfg.max_len} positions, not {T}.")
            x = x + self.pos.weight[:T]
        elif self.cfg.position == "sinusoidal":
            x = x + sinusoidal(T, self.cfg.d_model).to(x.device)
        return x

    def forward(self, tokens: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        """tokens (B, T) -> logits (B, T, V); ``trace`` gets one dict per layer
        (x_in, q, k, v, weights (B, h, T, T))."""
        x = self.inputs(tokens)
        for blk in self.blocks:
            keep = {} if trace is not None else None
            x = blk(x, keep)
            if trace is not None:
                trace.append(keep)
        return self.head(self.ln(x))


def build_seq2seq(cfg: Seq2SeqConfig, seed: int, device: torch.device | str = "cpu") -> Seq2Seq:
    """Construct a Seq2Seq; the same (cfg, seed) gives the same weights. Global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))  # CPU only (torch.manual_seed also queues CUDA seeding)
        return Seq2Seq(cfg).to(device)


def build_transformer(cfg: TransformerConfig, seed: int, device: torch.device | str = "cpu") -> TinyTransformer:
    """Construct a TinyTransformer; the same (cfg, seed) gives the same weights. Global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))  # CPU only (torch.manual_seed also queues CUDA seeding)
        return TinyTransformer(cfg).to(device)
