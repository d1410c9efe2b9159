"""Gate and cell-state traces on one sequence: what the "conveyor belt" writes,
keeps and erases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqviz.models.recurrent import RecurrentModel
from seqviz.probes.context import inspecting


@dataclass
class GateTrace:
    cell: str  # "rnn", "lstm" or "gru"
    h: np.ndarray  # (T, H) hidden state h_t
    c: np.ndarray | None  # (T, H) cell state c_t (LSTM)
    gates: dict[str, np.ndarray]  # name -> (T, H): f,i,g,o (LSTM) or z,r,n (GRU)
    unit_order: np.ndarray  # (H,) units sorted by how much they change after the first key step


@torch.no_grad()
def gate_trace(model: RecurrentModel, x: torch.Tensor, key_step: int = 0) -> GateTrace:
    """Run one sequence x (T, D) through the model (``RecurrentModel.states``).

    ``unit_order`` puts first the units whose memory (c_t for the LSTM, h_t
    otherwise) moved most at ``key_step`` and then held still: the units that
    carry the remembered token.
    """
    return gate_traces(model, x[None], [key_step])[0]


@torch.no_grad()
def gate_traces(model: RecurrentModel, x: torch.Tensor, key_steps: list[int]) -> list[GateTrace]:
    """``gate_trace`` for every sequence of a batch x (B, T, D) in one pass: the fused kernel,
    with the gates of all steps recomputed at once (``RecurrentModel.states``)."""
    with inspecting(model):
        tr = model.states(x)
    hs = tr.h.float().cpu().numpy()  # (B, T, H)
    cs = tr.c.float().cpu().numpy() if tr.c is not None else None
    gates = {k_: v.float().cpu().numpy() for k_, v in tr.gates.items()}
    out = []
    for b, key_step in enumerate(key_steps):
        h, c = hs[b], (cs[b] if cs is not None else None)
        mem = c if c is not None else h
        T = mem.shape[0]
        k = int(min(max(key_step, 0), T - 1))
        before = mem[k - 1] if k > 0 else np.zeros_like(mem[k])
        written = np.abs(mem[k] - before)  # (H,) how much step k wrote
        drift = np.abs(mem[k:] - mem[k]).mean(axis=0) if k < T - 1 else np.zeros_like(written)
        score = written - 0.5 * drift
        out.append(GateTrace(cell=model.cfg.cell, h=h, c=c, gates={k_: v[b] for k_, v in gates.items()},
                             unit_order=np.argsort(-score, kind="stable")))
    return out


def belt_product(trace: GateTrace, t0: int) -> np.ndarray:
    """Per unit, the direct-path factor of d(memory_T)/d(memory_t0): the product of the
    keep gates over steps t0+1 .. T-1 (f_k for the LSTM's c_t, z_k for the GRU's h_t).
    Returns (H,); for the Elman RNN (no keep gate) raises ValueError."""
    keep = trace.gates.get("f", trace.gates.get("z"))
    if keep is None:
        raise ValueError("An Elman RNN has no keep gate; use the Jacobian product instead.")
    t0 = int(min(max(t0, 0), keep.shape[0] - 1))
    return np.prod(keep[t0 + 1:].astype(np.float64), axis=0)
