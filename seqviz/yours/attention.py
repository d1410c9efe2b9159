"""The attention view on a student's own model: every ``nn.MultiheadAttention``'s per-head weights.

``capture_attention(model, inputs)`` runs ``model`` once and returns, for every
``nn.MultiheadAttention`` its forward calls (directly, or inside ``nn.TransformerEncoderLayer``,
``nn.TransformerDecoderLayer``, ``nn.Transformer``), the weights of each head, (B, heads, T_q, T_k),
named by the module's path (``named_modules``: "encoder.layers.0.self_attn"). How: a forward
pre-hook (``with_kwargs=True``) asks the module for ``need_weights=True,
average_attn_weights=False``; a forward hook keeps the weights and hands the caller what it asked
for (``(out, None)`` when it asked ``need_weights=False``, the head average when it asked for
averaged weights), so the model computes exactly what it computes without the probe.

PyTorch's fast paths: ``nn.TransformerEncoderLayer`` in eval mode without grad can run the whole
layer as one native kernel (``torch._transformer_encoder_layer_fwd``) that never calls its
``self_attn``'s forward, ``nn.TransformerEncoder`` may turn a padded batch into a nested tensor,
and ``nn.MultiheadAttention`` has a native path of its own. In torch 2.13 an attached hook already
turns the layer's fast path off, but not the encoder's nested tensors nor MHA's own path, so the
probe switches them all off with ``torch.backends.mha.set_fastpath_enabled(False)`` and puts the
setting back in ``finally`` (with the hooks: ``seqviz.probes.context.inspecting``), also when the
user's forward raises.

``check_attention(attention)`` accepts weights computed elsewhere: (B, heads, T, T), (heads, T, T)
or (T, T), non-negative, finite, each row summing to 1. ``token_labels`` checks ``tokens``.
Every misfit is one sentence (``DoesNotFit``).
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from seqviz.probes.context import inspecting
from seqviz.yours.fit import DoesNotFit, call_forward, describe, require_module, require_same_device

PASSED = "attention= (as you passed it)"  # the name of weights handed in with attention=
ROW_TOL = 1e-3  # how far a row of passed weights may sum from 1
_MHA_ARGS = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights",
             "is_causal")
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_FASTPATH = threading.RLock()  # the fast-path switch is global: one probe changes it at a time
SEE = "pass the weights as attention=(B, heads, T, T)"


@dataclass
class AttentionMaps:
    """What a capture found. ``names``: module paths in call order; ``weights[name]``: float64
    (B, heads, T_q, T_k); ``self_attention[name]``: the query was the key; ``output``: what the
    model returned during the probe (tests compare it with a plain call)."""

    names: list[str] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    self_attention: dict[str, bool] = field(default_factory=dict)
    output: Any = None

    def add(self, name: str, w: np.ndarray, self_att: bool) -> None:
        self.names.append(name)
        self.weights[name] = w
        self.self_attention[name] = self_att


def attention_modules(model: nn.Module) -> list[tuple[str, nn.MultiheadAttention]]:
    """Every ``nn.MultiheadAttention`` in ``model`` with its path; a sentence when there is none."""
    require_module(model, "a torch.nn.Module holding an nn.MultiheadAttention")
    found = [(n or type(model).__name__, m) for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    if found:
        return found
    kinds = []
    for _, m in model.named_modules():
        name = type(m).__name__
        if m is not model and not isinstance(m, _CONTAINERS) and name not in kinds:
            kinds.append(name)
    what = (f"found only {', '.join(kinds[:6])}{' and more' if len(kinds) > 6 else ''}" if kinds
            else f"found a {type(model).__name__} with no submodules")
    raise DoesNotFit(f"This module has no nn.MultiheadAttention inside ({what}); the attention view needs an "
                     f"nn.MultiheadAttention inside, or {SEE}.")


def _as_args(inputs: Any) -> tuple[tuple, dict]:
    if isinstance(inputs, dict):
        return (), dict(inputs)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


@contextlib.contextmanager
def no_fastpath():
    """``torch.backends.mha`` fast paths off inside, the previous setting back afterwards."""
    with _FASTPATH:
        before = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            yield
        finally:
            torch.backends.mha.set_fastpath_enabled(before)


def capture_attention(model: nn.Module, inputs: Any, eval_mode: bool = True, name: str = "your model") -> AttentionMaps:
    """Run ``model(inputs)`` (a tensor; a tuple/list: positional arguments; a dict: keyword arguments)
    without grad, in eval mode unless ``eval_mode=False``, and return every called MHA's per-head
    weights (see the module docstring). Raises ``DoesNotFit`` (one sentence) when nothing fits."""
    mods = attention_modules(model)
    args, kwargs = _as_args(inputs)
    tensors = [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)]
    if not tensors:
        raise DoesNotFit(f"The attention view runs your model on inputs=, a tensor (or a tuple of tensors); "
                         f"it was given {describe(inputs)}.")
    require_same_device(model, *tensors, what="the inputs")
    maps = AttentionMaps()
    calls: dict[str, int] = {}
    asked: list[tuple[bool, bool, bool]] = []  # per call in flight: need_weights, average, self-attention

    def pre(path):
        def hook(module, a, kw):
            kw = dict(kw)
            for k, v in zip(_MHA_ARGS[3:], a[3:]):
                kw[k] = v
            a = tuple(a[:3])
            q = a[0] if a else kw.get("query")
            k = a[1] if len(a) > 1 else kw.get("key")
            asked.append((bool(kw.get("need_weights", True)), bool(kw.get("average_attn_weights", True)), q is k))
            kw["need_weights"], kw["average_attn_weights"] = True, False
            return a, kw
        return hook

    def post(path):
        def hook(module, a, kw, output):
            need, average, self_att = asked.pop() if asked else (True, True, False)
            out, w = output
            n = calls[path] = calls.get(path, 0) + 1
            if w is not None:
                per_head = w.detach()
                if per_head.dim() == 3:  # unbatched input: (heads, T_q, T_k)
                    per_head = per_head.unsqueeze(0)
                maps.add(path if n == 1 else f"{path} (call {n})",
                         per_head.to("cpu", torch.float64).numpy().copy(), self_att)
            if not need:
                return out, None
            return out, (w.mean(dim=-3) if average and w is not None else w)
        return hook

    with no_fastpath(), inspecting(model, eval_mode=eval_mode) as ins, torch.no_grad():
        for path, m in mods:
            ins.add_hook(m.register_forward_pre_hook(pre(path), with_kwargs=True))
            ins.add_hook(m.register_forward_hook(post(path), with_kwargs=True))
        maps.output = call_forward(model, *args, name=name, **kwargs)
    if not maps.names:
        where = ", ".join(p for p, _ in mods[:3]) + (" and more" if len(mods) > 3 else "")
        raise DoesNotFit(f"This module holds an nn.MultiheadAttention ({where}) but its forward never called it, "
                         f"so there are no weights to show; call it in forward, or {SEE}.")
    return maps


def check_attention(attention: Any) -> np.ndarray:
    """Weights handed in (B, heads, T_q, T_k), (heads, T_q, T_k) or (T_q, T_k) as float64
    (B, heads, T_q, T_k), checked: finite, non-negative, every row summing to 1 (within ``ROW_TOL``)."""
    if isinstance(attention, np.ndarray):
        attention = torch.from_numpy(attention)
    if not isinstance(attention, torch.Tensor):
        raise DoesNotFit(f"attention= must be a tensor of shape (B, heads, T, T), (heads, T, T) or (T, T); "
                         f"it is {describe(attention)}.")
    if attention.device.type == "meta":
        raise DoesNotFit("attention= is on the 'meta' device (it has no values); pass weights on cpu or cuda.")
    if attention.dim() not in (2, 3, 4) or attention.numel() == 0:
        raise DoesNotFit(f"attention= must be (B, heads, T, T), (heads, T, T) or (T, T): one row of weights per "
                         f"query; it is {describe(attention)}.")
    if attention.is_complex() or attention.dtype == torch.bool:
        raise DoesNotFit(f"attention= must hold real weights; it holds {attention.dtype}.")
    w = attention.detach().to("cpu", torch.float64)
    while w.dim() < 4:
        w = w.unsqueeze(0)
    a = w.numpy().copy()
    if not np.isfinite(a).all():
        raise DoesNotFit("attention= holds NaN or infinite values; pass softmax weights (finite, each row "
                         "summing to 1).")
    if (a < 0).any():
        b, h, i, j = np.argwhere(a < 0)[0]
        raise DoesNotFit(f"attention= holds negative weights (sequence {b}, head {h}, row {i}, column {j}: "
                         f"{a[b, h, i, j]:.3g}); pass softmax weights, not scores.")
    sums = a.sum(axis=-1)
    bad = np.abs(sums - 1) > ROW_TOL
    if bad.any():
        b, h, i = np.argwhere(bad)[0]
        raise DoesNotFit(f"Row {i} of head {h} in sequence {b} of attention= sums to {sums[b, h, i]:.4g}, not 1; "
                         f"pass softmax weights (each query's row over the keys sums to 1, the last dimension).")
    return a


def token_labels(tokens: Any, maps: AttentionMaps, batch: int, inputs: Any = None) -> list[list[str]] | None:
    """``tokens`` (a string: one token per character; a list of T strings; or B such lists) as B lists of
    labels, checked against the lengths the weights have. None given: the ids of an integer (B, T)
    input (None when there is no such input: the view numbers the positions)."""
    lengths = sorted({n for w in maps.weights.values() for n in w.shape[-2:]})
    if tokens is None:
        x = inputs[0] if isinstance(inputs, (tuple, list)) and inputs else inputs
        if isinstance(x, torch.Tensor) and not x.is_floating_point() and x.dim() == 2 and x.shape[1] in lengths:
            return [[str(int(v)) for v in row] for row in x[:batch].cpu()]
        return None
    if isinstance(tokens, str):
        tokens = list(tokens)
    if not isinstance(tokens, (list, tuple)) or not tokens:
        raise DoesNotFit(f"tokens= must be a list of strings, one per position; it is {describe(tokens)}.")
    per_seq = all(isinstance(t, (list, tuple)) for t in tokens)
    rows = [list(t) for t in tokens] if per_seq else [list(tokens)]
    if per_seq and len(rows) != batch:
        raise DoesNotFit(f"tokens= has {len(rows)} lists but the batch has {batch} sequences; pass one list per "
                         f"sequence, or one list for all.")
    for r in rows:
        if not all(isinstance(t, str) for t in r):
            odd = next(t for t in r if not isinstance(t, str))
            raise DoesNotFit(f"tokens= must hold strings; it holds {describe(odd)}.")
        if len(r) not in lengths:
            want = " or ".join(map(str, lengths))
            raise DoesNotFit(f"tokens= has {len(r)} labels but the attention has T = {want} positions; pass one "
                             f"label per position.")
    return rows if per_seq else rows * batch


def row_entropy(row) -> float:
    """Entropy in nats of one row of weights (0 ln 0 = 0)."""
    p = np.asarray(row, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def uniform_entropy(n_keys: int) -> float:
    """ln(n): the entropy of a row that weighs ``n_keys`` keys equally (the most a row can have)."""
    return math.log(max(int(n_keys), 1))
