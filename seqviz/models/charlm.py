"""Character-level language models: an embedding, a recurrent core (``seqviz.models.recurrent``) or a small
transformer (``seqviz.models.attention``), and a read-out over the next character.

    p(x_1 .. x_n, </s>) = prod_t p(x_t | x_<t)      (the chain rule, no Markov assumption)

Tokens: the characters of a vocabulary (``CharVocab``), ``<unk>`` for the rare ones and ``</s>``, which ends
every document and is also what the model reads first (so a fresh state plus ``</s>`` means "a document starts").

- ``forward(tokens (B, T)) -> logits (B, T, V)``: teacher forcing, every step reads the true previous token;
- ``start(B)`` / ``step(tok (B,), state) -> (logits (B, V), state)``: one step at a time, for sampling and for
  scheduled sampling (the recurrent cores carry (h, c); the transformer keeps its last ``max_len`` tokens);
- ``units(tokens) -> (B, T, H)``: what the dashboard colours text by (h_t of the recurrent layer, c_t for an
  LSTM; the transformer's last block output);
- ``temperature_probs``, ``sample``, ``mixed_loss`` (scheduled sampling; probability 0 is teacher forcing).
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqviz.models.attention import TransformerConfig, build_transformer
from seqviz.models.recurrent import RecurrentConfig, build_recurrent

END, UNK = "</s>", "<unk>"
KINDS = ("lstm", "gru", "transformer")
TAU_MIN = 1e-3  # temperatures below this are greedy decoding (argmax): softmax(z / tau) -> one-hot


class CharVocab:
    """``END`` (id 0), ``UNK`` (id 1), then the ``max_chars`` most frequent characters of the training text."""

    def __init__(self, chars: list[str]):
        self.itos = [END, UNK, *[c for c in chars if c not in (END, UNK)]]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_docs(cls, docs: list[list[str]], max_chars: int = 96) -> "CharVocab":
        counts = collections.Counter(c for d in docs for c in d)
        chars = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_chars]]
        return cls(sorted(chars))

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def end(self) -> int:
        return 0

    def known(self, c: str) -> bool:
        return c in self.stoi and c not in (END, UNK)

    def map(self, chars) -> list[str]:
        """Characters the vocabulary lacks become ``UNK`` (the Markov baseline counts the same tokens)."""
        return [c if c in self.stoi else UNK for c in chars]

    def encode(self, chars) -> list[int]:
        return [self.stoi.get(c, 1) for c in chars]

    def decode(self, ids, show_end: str = "") -> str:
        return "".join(show_end if i == 0 else ("\ufffd" if i == 1 else self.itos[i]) for i in ids)


@dataclass
class CharLMConfig:
    kind: str = "lstm"  # "lstm", "gru" or "transformer"
    vocab: int = 28  # V tokens (END, UNK and the characters)
    embed: int = 32  # E, size of a character's vector (recurrent cores)
    hidden: int = 128  # H, hidden units (recurrent) or d_model (transformer)
    n_heads: int = 4  # transformer only
    n_layers: int = 2  # transformer only
    max_len: int = 32  # transformer only: the context window T it attends over


class CharLM(nn.Module):
    """Embedding -> recurrent layer -> linear read-out, or a ``TinyTransformer``; see the module docstring."""

    def __init__(self, cfg: CharLMConfig, seed: int = 0):
        super().__init__()
        if cfg.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {cfg.kind!r}")
        self.cfg = cfg
        gen = torch.Generator().manual_seed(int(seed))
        if cfg.kind == "transformer":
            self.core = build_transformer(TransformerConfig(vocab=cfg.vocab, d_model=cfg.hidden, n_heads=cfg.n_heads,
                                                            n_layers=cfg.n_layers, ff=2 * cfg.hidden,
                                                            max_len=cfg.max_len), seed=seed)
            self.embed = None
        else:
            self.embed = nn.Embedding(cfg.vocab, cfg.embed)
            with torch.no_grad():
                self.embed.weight.normal_(0.0, 1.0, generator=gen)
            self.core = build_recurrent(RecurrentConfig(cell=cfg.kind, n_in=cfg.embed, hidden=cfg.hidden,
                                                        n_out=cfg.vocab), seed=seed)

    @property
    def recurrent(self) -> bool:
        return self.cfg.kind != "transformer"

    @property
    def n_units(self) -> int:
        return self.cfg.hidden

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) -> logits (B, T, V); the transformer reads windows of ``max_len`` (longer inputs are
        cut into windows, each attending within itself)."""
        if self.recurrent:
            return self.core(self.embed(tokens))
        T, W = tokens.shape[1], self.cfg.max_len
        if T <= W:
            return self.core(tokens)
        return torch.cat([self.core(tokens[:, s:s + W]) for s in range(0, T, W)], dim=1)

    # -- one step at a time ------------------------------------------------------------------
    def start(self, batch: int, device=None):
        return None if self.recurrent else torch.zeros(batch, 0, dtype=torch.long, device=device)

    def step(self, tok: torch.Tensor, state):
        """tok (B,) -> (logits (B, V) of the next token, new state)."""
        if self.recurrent:
            y, state = self.core.rnn(self.embed(tok)[:, None], state)  # y (B, 1, H)
            return self.core.head(y[:, 0]), state
        buf = torch.cat([state, tok[:, None]], dim=1)[:, -self.cfg.max_len:]  # (B, <= max_len)
        return self.core(buf)[:, -1], buf

    @torch.no_grad()
    def units(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) -> (B, T, H): each unit's value after reading each token (LSTM: the cell state c_t,
        as in Karpathy et al. 2015; GRU: h_t; transformer: the last block's output before the read-out)."""
        if self.recurrent:
            tr = self.core.states(self.embed(tokens))
            return tr.c if tr.c is not None else tr.h
        outs = []
        for s in range(0, tokens.shape[1], self.cfg.max_len):
            x = self.core.inputs(tokens[:, s:s + self.cfg.max_len])
            for blk in self.core.blocks:
                x = blk(x)
            outs.append(x)
        return torch.cat(outs, dim=1)


def build_charlm(cfg: CharLMConfig, seed: int = 0, device: torch.device | str = "cpu") -> CharLM:
    """The same (cfg, seed) gives the same weights; the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        return CharLM(cfg, seed).to(device)


# -- temperature and sampling ----------------------------------------------------------------
def temperature_probs(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """softmax(logits / tau) over the last axis; tau below ``TAU_MIN`` is the argmax as a one-hot (its limit)."""
    if tau < TAU_MIN:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / tau, dim=-1)


def entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """H(p) = -sum p log2 p over the last axis (0 log 0 = 0)."""
    return -(p * torch.log2(p.clamp_min(1e-30))).sum(-1)


def nats_to_bits(nats: float) -> float:
    return nats / math.log(2.0)


def draw_continuations(next_logits: Callable[[], torch.Tensor], feed: Callable[[torch.Tensor], None], n: int,
                       n_max: int, tau: float, gen: torch.Generator | None, stop_at_end: bool = True,
                       time_box_s: float | None = None) -> tuple[list[list[int]], bool]:
    """The sampling loop every sampler shares: ``next_logits()`` gives the (n, V) logits of the next token,
    ``feed(ids)`` reads the (n,) ids just drawn. Greedy when tau < ``TAU_MIN``, else drawn from ``gen``; a
    continuation ends at ``END`` (id 0) when ``stop_at_end``. Returns (continuations, cut by the time box)."""
    out: list[list[int]] = [[] for _ in range(n)]
    alive = torch.ones(n, dtype=torch.bool)
    t0 = time.perf_counter()
    for _ in range(n_max):
        p = temperature_probs(next_logits().float().cpu(), tau)  # (n, V)
        nxt = p.argmax(-1) if tau < TAU_MIN else torch.multinomial(p, 1, generator=gen)[:, 0]
        for i in range(n):
            if alive[i]:
                out[i].append(int(nxt[i]))
        if stop_at_end:
            alive &= nxt != 0
            if not alive.any():
                break
        if time_box_s is not None and time.perf_counter() - t0 > time_box_s:
            return out, True
        feed(nxt)
    return out, False


@torch.no_grad()
def sample(model: CharLM, prompt: list[int], n_max: int, tau: float, gen: torch.Generator | None,
           n: int = 1, stop_at_end: bool = True, time_box_s: float | None = None) -> tuple[list[list[int]], bool]:
    """``n`` continuations of ``prompt`` (ids; the model first reads ``END``, as at the start of every document),
    at most ``n_max`` tokens each, stopping at ``END`` when ``stop_at_end``. Greedy when tau < ``TAU_MIN``.
    Returns (continuations, whether the time box cut them). Draws only from ``gen`` (seeded: the same again)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        now = {"state": model.start(n, dev)}
        for t in torch.tensor([0, *prompt], dtype=torch.long, device=dev):  # read the prompt
            now["logits"], now["state"] = model.step(t.expand(n), now["state"])

        def feed(nxt: torch.Tensor) -> None:
            now["logits"], now["state"] = model.step(nxt.to(dev), now["state"])

        return draw_continuations(lambda: now["logits"], feed, n, n_max, tau, gen, stop_at_end, time_box_s)
    finally:
        model.train(was)


def teacher_forced_loss(model: CharLM, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None):
    """Mean cross-entropy (nats per token) of targets y (B, T) given true inputs x (B, T); ``mask`` (B, T) True
    for counted tokens."""
    logits = model(x)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view_as(y)
    if mask is None:
        return ce.mean()
    return (ce * mask).sum() / mask.sum().clamp_min(1)


def mixed_loss(model: CharLM, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, p_own: float,
               gen: torch.Generator | None, greedy: bool = False):
    """Scheduled sampling (Bengio et al. 2015): step by step, the input at step t > 0 is, with probability
    ``p_own``, the model's own sample from its step t - 1 prediction instead of the true x_t; the loss is the
    cross-entropy of the true targets y. ``p_own = 0`` is teacher forcing exactly; ``p_own = 1`` is free
    running (what generation does: exposure bias shows as the gap to teacher forcing). Own samples are not
    differentiated through (as in the paper)."""
    B, T = x.shape
    dev = x.device
    state = model.start(B, dev)
    inp = x[:, 0]
    losses = []
    coins = torch.rand(B, T, generator=gen) < p_own if 0 < p_own < 1 else None
    for t in range(T):
        if t > 0 and p_own > 0:
            with torch.no_grad():
                if greedy:
                    own = logits.argmax(-1)
                else:
                    own = torch.multinomial(torch.softmax(logits.detach().float().cpu(), -1), 1, generator=gen)[:, 0]
                own = own.to(dev)
            use = torch.ones(B, dtype=torch.bool) if coins is None else coins[:, t]
            inp = torch.where(use.to(dev), own, x[:, t])
        elif t > 0:
            inp = x[:, t]
        logits, state = model.step(inp, state)
        losses.append(F.cross_entropy(logits, y[:, t], reduction="none"))
    ce = torch.stack(losses, dim=1)  # (B, T)
    if mask is None:
        return ce.mean()
    return (ce * mask).sum() / mask.sum().clamp_min(1)


@torch.no_grad()
def next_logits(model: CharLM, prompt: list[int]) -> torch.Tensor:
    """Logits (V,) of the token after ``END`` + ``prompt`` (what a new document starting with the prompt
    continues with)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        x = torch.tensor([[0, *prompt]], dtype=torch.long, device=dev)
        return model(x[:, -model.cfg.max_len:] if not model.recurrent else x)[0, -1].float().cpu()
    finally:
        model.train(was)
