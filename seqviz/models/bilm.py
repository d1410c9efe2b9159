"""A small bidirectional LSTM language model: ELMo's idea (Peters et al., 2018) at classroom size.

Two language models share the word embeddings and the softmax layer: a forward LSTM stack reads
left to right and predicts the next word, a backward stack reads right to left and predicts the
previous word. They are separate networks (the forward half never sees a later word), trained
together by adding their losses. The contextual representation of token k is, per layer j,

    h_{k,0} = [x_k; x_k]                (the embedding, twice, to match the LSTM layers' size)
    h_{k,j} = [→h_{k,j}; ←h_{k,j}]      (forward and backward states of layer j)

and ELMo's task vector is ``γ · Σ_j s_j h_{k,j}`` with ``s = softmax(w)``.

Simplified against ELMo (said in the lesson): word embeddings instead of the character CNN, one
softmax over a few thousand words instead of a big vocabulary, no residual connection between
layers, small sizes; the layer weights w and γ are set by hand here, not learned on a task.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class BiLM(nn.Module):
    """Forward and backward LSTM language models over one embedding table and one softmax."""

    def __init__(self, V: int, D: int = 64, layers: int = 2, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(int(seed))
        self.V, self.D, self.n_layers = V, D, layers
        self.embed = nn.Embedding(V, D)
        self.fwd = nn.ModuleList([nn.LSTM(D, D, batch_first=True) for _ in range(layers)])
        self.bwd = nn.ModuleList([nn.LSTM(D, D, batch_first=True) for _ in range(layers)])
        self.out = nn.Linear(D, V)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * (0.1 if p.dim() > 1 else 0.05))

    def directions(self, ids: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """(embedding (B, T, D), forward states per layer [(B, T, D)], backward states per layer).
        The backward stack runs on the time-reversed sequence; its states are flipped back, so
        ``bwd[j][:, t]`` has read tokens t..T-1."""
        x = self.embed(ids)  # (B, T, D)
        f, b = [], []
        h = x
        for lstm in self.fwd:
            h, _ = lstm(h)
            f.append(h)
        h = torch.flip(x, dims=[1])
        for lstm in self.bwd:
            h, _ = lstm(h)
            b.append(torch.flip(h, dims=[1]))
        return x, f, b

    def layer_vectors(self, ids: torch.Tensor) -> list[torch.Tensor]:
        """ELMo's h_{k,j} for j = 0..L: each (B, T, 2D)."""
        x, f, b = self.directions(ids)
        return [torch.cat([x, x], -1)] + [torch.cat([fj, bj], -1) for fj, bj in zip(f, b)]

    def loss(self, ids: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Mean cross-entropy of both directions on a batch of token ids (B, T): the forward top
        state at t predicts token t+1, the backward top state at t predicts token t-1."""
        _, f, b = self.directions(ids)
        lf = F.cross_entropy(self.out(f[-1][:, :-1]).reshape(-1, self.V), ids[:, 1:].reshape(-1))
        lb = F.cross_entropy(self.out(b[-1][:, 1:]).reshape(-1, self.V), ids[:, :-1].reshape(-1))
        return (lf + lb) / 2, {"forward_ce": float(lf.detach()), "backward_ce": float(lb.detach())}


def mix(layers: list[torch.Tensor], w, gamma: float) -> torch.Tensor:
    """ELMo's γ Σ_j softmax(w)_j h_j over a list of same-shaped layer tensors."""
    s = torch.softmax(torch.as_tensor(w, dtype=layers[0].dtype), 0)
    return gamma * sum(sj * h for sj, h in zip(s, layers))
