"""Per-step gradient norms ||dL/dh_t|| (and ||dL/dc_t||) by autograd.

The unrolled pass adds a zero tensor p_t to every h_t (and q_t to every c_t);
since h_t + p_t is what the rest of the graph sees, dL/dp_t is exactly the total
derivative dL/dh_t that ``h_t.retain_grad()`` would give, without keeping hooks.
Norms are Frobenius norms over the batch and the units, of the batch-mean loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqviz.data.tasks import Batch, Task
from seqviz.models.recurrent import RecurrentModel
from seqviz.probes.context import inspecting


@dataclass
class GradientProbe:
    loss: float  # the batch-mean loss the gradients belong to
    h_norms: np.ndarray  # (T,) ||dL/dh_t|| for t = 0..T-1
    c_norms: np.ndarray | None  # (T,) ||dL/dc_t||, LSTM only
    dtype: str  # precision of the recurrence, e.g. "float64"


def probe_gradients(
    model: RecurrentModel,
    task: Task,
    batch: Batch,
    tbptt: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> GradientProbe:
    """Forward the unrolled model on ``batch``, backpropagate, return per-step norms.

    The model is left as it was (``inspecting``): its parameters' ``.grad`` and its
    training mode are restored. Steps that no gradient reaches (truncated BPTT) get exactly 0.
    """
    with inspecting(model):
        trace = model.unrolled(batch.x, tbptt=tbptt, probes=True, dtype=dtype)
        loss = task.loss(trace.out, batch.y)
        loss.backward()

    def norms(p: torch.Tensor) -> np.ndarray:
        if p.grad is None:
            return np.zeros(p.shape[0])
        return torch.linalg.vector_norm(p.grad.flatten(1), dim=1).cpu().numpy()  # (T,)

    return GradientProbe(
        loss=float(loss.detach()),
        h_norms=norms(trace.h_probe),
        c_norms=norms(trace.c_probe) if trace.c_probe is not None else None,
        dtype=str(dtype).replace("torch.", ""),
    )
