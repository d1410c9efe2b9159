"""Per-step gradient norms ||dL/dh_t|| (and ||dL/dc_t||): the total derivative of the loss
with respect to each state, every path included (read-out at t, and every later step).

Two ways to the same numbers (tests/test_recurrent.py checks both against PyTorch's own
fused layer stepped with ``retain_grad()`` on every h_t and c_t):

- ``method="backward"`` (default; the dashboards): the fused kernel's forward pass in float64
  (``RecurrentModel.states``), autograd for the read-out and loss, and the chain rule
  through the recurrence written out, one step back at a time:
      RNN   dL/dh_t = dL/dy_t + W_hh^T (phi'(a_(t+1)) * dL/dh_(t+1))
      LSTM  dL/dh_t = dL/dy_t + W_hh^T dL/dpre_(t+1),
            dL/dc_t = dL/dh_t * o_t * tanh'(c_t) + dL/dc_(t+1) * f_(t+1)
      GRU   dL/dh_t = dL/dy_t + z_(t+1) * dL/dh_(t+1) + W_hh^T dL/d(W_hh h_t + b_hh)
  where dL/dy_t is the read-out's share at step t. A truncation cut at step s drops the
  terms from step s to s-1. 3-4x faster than the unrolled autograd pass (measured on 2 cores,
  T = 100, H = 32, 8 sequences: RNN 2 vs 8 ms, LSTM 8 vs 25 ms).
- ``method="autograd"``: the unrolled pass adds a zero tensor p_t to every h_t (and q_t to
  every c_t); since h_t + p_t is what the rest of the graph sees, dL/dp_t is exactly the
  total derivative dL/dh_t that ``h_t.retain_grad()`` would give. The lessons use this one.

Norms are Frobenius norms over the batch and the units, of the batch-mean loss; with
``per_sequence=True`` also per sequence (``h_seq``, ``c_seq``: (T, B)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqviz.data.tasks import Batch, Task
from seqviz.models.recurrent import RecurrentModel, cut_points
from seqviz.probes.context import inspecting

METHODS = ("backward", "autograd")


@dataclass
class GradientProbe:
    loss: float  # the batch-mean loss the gradients belong to
    h_norms: np.ndarray  # (T,) ||dL/dh_t|| for t = 0..T-1
    c_norms: np.ndarray | None  # (T,) ||dL/dc_t||, LSTM only
    dtype: str  # precision of the recurrence, e.g. "float64"
    h_seq: np.ndarray | None = None  # (T, B) per-sequence norms (``per_sequence=True``)
    c_seq: np.ndarray | None = None  # (T, B), LSTM only


def probe_gradients(
    model: RecurrentModel,
    task: Task,
    batch: Batch,
    tbptt: int | None = None,
    dtype: torch.dtype = torch.float64,
    method: str = "backward",
    per_sequence: bool = False,
) -> GradientProbe:
    """Per-step gradient norms of ``task``'s loss on ``batch`` (see the module docstring).

    The model is left as it was (``inspecting``): its parameters' ``.grad`` and its
    training mode are restored. Steps that no gradient reaches (truncated BPTT) get exactly 0.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    with inspecting(model):
        if method == "autograd":
            loss, dh, dc = _autograd(model, task, batch, tbptt, dtype)
        else:
            loss, dh, dc = _backward(model, task, batch, tbptt, dtype)

    def norms(g: torch.Tensor | None) -> np.ndarray | None:  # g: (T, B, H)
        return None if g is None else torch.linalg.vector_norm(g.flatten(1), dim=1).cpu().numpy()

    def per_seq(g: torch.Tensor | None) -> np.ndarray | None:
        return None if g is None or not per_sequence else \
            torch.linalg.vector_norm(g, dim=2).float().cpu().numpy()

    return GradientProbe(loss=loss, h_norms=norms(dh), c_norms=norms(dc), dtype=str(dtype).replace("torch.", ""),
                         h_seq=per_seq(dh), c_seq=per_seq(dc))


def _autograd(model, task, batch, tbptt, dtype):
    trace = model.unrolled(batch.x, tbptt=tbptt, probes=True, dtype=dtype)
    loss = task.loss(trace.out, batch.y)
    loss.backward()

    def grad(p):
        return torch.zeros_like(p) if p.grad is None else p.grad

    return float(loss.detach()), grad(trace.h_probe), (grad(trace.c_probe) if trace.c_probe is not None else None)


def _backward(model, task, batch, tbptt, dtype):
    """dL/dh_t (T, B, H) and dL/dc_t (LSTM) by the chain rule over the fused float64 forward."""
    cfg = model.cfg
    tr = model.states(batch.x, dtype=dtype)
    h = tr.h  # (B, T, H)
    B, T, H = h.shape
    W_hh = model.rnn.weight_hh_l0.detach().to(dtype)
    Wo, bo = model.head.weight.detach().to(dtype), model.head.bias.detach().to(dtype)
    with torch.enable_grad():  # autograd for the read-out and the loss only
        out = (h @ Wo.T + bo).requires_grad_(True)
        y = batch.y.to(dtype) if batch.y.is_floating_point() else batch.y
        loss = task.loss(out, y)
        (g_out,) = torch.autograd.grad(loss, out)
    gy = (g_out @ Wo).transpose(0, 1)  # (T, B, H): dL/dh_t through the read-out at step t
    cuts = set(cut_points(T, tbptt))  # no gradient from step s back to s-1
    dh = torch.empty(T, B, H, dtype=dtype, device=h.device)
    dc = None
    tm = lambda a: a.transpose(0, 1)  # noqa: E731  (B, T, .) -> (T, B, .)
    if cfg.cell == "rnn":
        dphi = tm(1 - h * h if cfg.activation == "tanh" else (h > 0).to(dtype))  # phi'(a_t) from h_t
        g = gy[T - 1]
        dh[T - 1] = g
        for t in range(T - 2, -1, -1):
            g = gy[t] if t + 1 in cuts else torch.addmm(gy[t], g * dphi[t + 1], W_hh)
            dh[t] = g
    elif cfg.cell == "lstm":
        f, i, gg, o = (tm(tr.gates[k]) for k in "figo")
        c = tm(tr.c)
        c_prev = torch.cat([torch.zeros_like(c[:1]), c[:-1]])
        tc = torch.tanh(c)
        d_tc = o * (1 - tc * tc)  # dh_t/dc_t along h_t = o_t tanh(c_t)
        a_i, a_f, a_g, a_o = i * (1 - i) * gg, f * (1 - f) * c_prev, (1 - gg * gg) * i, o * (1 - o) * tc
        dc = torch.empty_like(dh)
        dpre = None
        for t in range(T - 1, -1, -1):
            if dpre is None or t + 1 in cuts:
                dh_t = gy[t]
                dc_t = dh_t * d_tc[t]
            else:
                dh_t = torch.addmm(gy[t], dpre, W_hh)
                dc_t = torch.addcmul(dh_t * d_tc[t], dc[t + 1], f[t + 1])
            dh[t], dc[t] = dh_t, dc_t
            dpre = torch.cat([dc_t * a_i[t], dc_t * a_f[t], dc_t * a_g[t], dh_t * a_o[t]], dim=1)  # (B, 4H), order i f g o
    else:
        z, r, n = (tm(tr.gates[k]) for k in "zrn")
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        b_hn = model.rnn.bias_hh_l0.detach().to(dtype)[2 * H:]
        hn = tm(h_prev @ W_hh[2 * H:].T + b_hn)  # W_hn h_(t-1) + b_hn
        one_z, gap, dn_a = 1 - z, tm(h_prev) - n, 1 - n * n
        dr_a, dz_a = r * (1 - r), z * (1 - z)
        g = gy[T - 1]
        dh[T - 1] = g
        for t in range(T - 1, 0, -1):  # step t's share of dL/dh_(t-1)
            if t in cuts:
                g = gy[t - 1]
            else:
                dan = g * one_z[t] * dn_a[t]  # through n_t = tanh(x_n + r_t * hn_t)
                dhw = torch.cat([dan * hn[t] * dr_a[t], g * gap[t] * dz_a[t], dan * r[t]], dim=1)  # (B, 3H): r z n
                g = torch.addmm(torch.addcmul(gy[t - 1], g, z[t]), dhw, W_hh)
            dh[t - 1] = g
    return float(loss.detach()), dh, dc
