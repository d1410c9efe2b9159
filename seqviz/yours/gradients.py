"""Per-step gradient norms ||dL/dh_t|| (and ||dL/dc_t||) of a student's own recurrent module.

    from seqviz.yours.gradients import probe_gradients, mark
    g = probe_gradients(model, x, y)            # loss_fn=None: the default loss of seqviz.yours
    g.h_norms, g.c_norms, g.ratio, g.where      # (T,), (T,) or None, ||dL/dh_0|| / ||dL/dh_T-1||, in words

What is measured: the total derivative of the batch's loss with respect to each hidden state h_t
(every path: the read-out at t and every later step), as ``h_t.retain_grad()`` would give, its
Frobenius norm over the batch and the units. A fused ``nn.LSTM``'s output tensor cannot give it:
its ``.grad`` is only the read-out's share, since the recurrence runs inside the kernel.

Two ways a module fits:

- **an nn.RNN / nn.LSTM / nn.GRU inside it** (the first one, or ``layer="name"``; of a stack of
  ``num_layers > 1``, the last layer unless ``stack_layer=k``): during the probe a forward hook
  replaces that module's output by an unrolled recomputation on its own weights (PyTorch's
  equations: gate order i f g o for the LSTM, r z n for the GRU with b_hn inside r * (...),
  tanh or relu for the RNN; ``batch_first`` or not; ``hx`` given or zero; ``proj_size``), which adds
  a zero tensor p_t to every h_t (and q_t to every c_t) of the probed layer. The rest of the graph
  sees h_t + p_t, so dL/dp_t is exactly dL/dh_t. The recomputed outputs equal the fused ones to
  float tolerance (checked: ``max_output_diff``), so the rest of the student's forward is
  unchanged. A bidirectional layer: its forward direction is probed (the backward direction is
  recomputed too, unprobed), and ``where`` says so. A layer called several times in one forward
  (a loop calling it one step at a time) records its steps in call order.
- **mark(h_t) in a hand-written cell's loop**: ``h = mark(h)`` (and ``c = mark(c, kind="c")``) is
  the identity outside a probe; inside one it returns h + p with a zero probe tensor p, recorded in
  call order (= time order). A module with a recurrent layer AND mark() calls: the marks win.

Precision: by default (``dtype=torch.float64``) the probe runs on a float64 copy of the module
(``copy.deepcopy``), with x and y in float64 when they are floating point: at default
initialisation the per-step gradient shrinks about 0.5x per step and float32 reaches exactly 0
by T of about 100. A module whose forward does not run in float64 (it makes float32 tensors of
its own) is probed in its own dtype instead; ``dtype`` on the result says which. ``dtype=None``
probes the module itself in its own dtype. Either way the module is left as it was: the probe
goes through ``seqviz.probes.context.inspecting`` (eval mode, ``.grad`` set aside, every hook
removed in ``finally``, also when the forward raises), and the gradients are taken with
``torch.autograd.grad`` on the probe tensors only.

A module that does not fit gets one sentence (``seqviz.yours.DoesNotFit``).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from seqviz.probes.context import inspecting
from seqviz.yours.fit import DoesNotFit, call_forward, describe, require_module, require_same_device, require_tensor
from seqviz.yours.training import _scalar_loss, default_loss

NEEDS = ("the gradient-flow view needs the hidden state at every step: an nn.RNN/nn.LSTM/nn.GRU inside the "
         "module, or mark(h_t) in your cell's loop (from seqviz.yours.gradients import mark)")
SEE = "seqviz.yours.gradients"
LAYER_TYPES = (nn.LSTM, nn.GRU, nn.RNN)
# Largest |fused - recomputed| output accepted, relative to the output's scale: float64 agrees to ~1e-15,
# float32 on the CPU to ~1e-7; a GPU's TF32 kernels may differ by ~1e-3. The check is there to catch a
# subclass of nn.LSTM that computes something else (differences of order 0.1-1), not rounding.
OUTPUT_TOL = {torch.float64: 1e-6}
OUTPUT_TOL_OTHER = 2e-2


@dataclass
class YourGradients:
    """What ``probe_gradients`` returns."""

    loss: float  # the batch loss the gradients belong to
    h_norms: np.ndarray  # (T,) ||dL/dh_t||, t = 0..T-1 (Frobenius norm over batch and units)
    c_norms: np.ndarray | None  # (T_c,) ||dL/dc_t|| (an LSTM, or mark(c, kind="c")); None otherwise
    kind: str  # "lstm", "gru", "rnn" or "marks"
    where: str  # in words: which layer (and direction / stack layer) or "mark() calls", e.g. for a legend
    dtype: str  # precision of the probe, "float64" or the model's
    max_output_diff: float = 0.0  # layer path: largest |fused output - recomputed output|

    @property
    def T(self) -> int:
        return len(self.h_norms)

    @property
    def ratio(self) -> float:
        """||dL/dh_0|| / ||dL/dh_(T-1)||: below 1 the gradient fades going back in time, above 1 it
        grows; nan when the last step gets no gradient."""
        if not len(self.h_norms):
            return float("nan")
        last = float(self.h_norms[-1])
        return float(self.h_norms[0]) / last if last > 0 else float("nan")


# -- mark(): the protocol for hand-written cells -----------------------------------------------------
_ACTIVE = threading.local()  # .recorder: the probe's lists while one runs in this thread


class _Recorder:
    def __init__(self):
        self.h: list[torch.Tensor] = []
        self.c: list[torch.Tensor] = []


def mark(state: torch.Tensor, kind: str = "h") -> torch.Tensor:
    """Mark a hidden state h_t (``kind="h"``) or cell state c_t (``kind="c"``) of your cell's loop for
    the gradient-flow view: ``h = mark(h)`` at every step, in time order.

    Outside a probe it returns ``state`` itself (no cost, training is unchanged). Inside
    ``probe_gradients`` it returns ``state + p`` with a zero tensor p that requires grad, so
    dL/dp is the total derivative dL/dh_t. Use what it returns in the rest of the loop."""
    if kind not in ("h", "c"):
        raise ValueError(f'mark(..., kind=) must be "h" or "c", not {kind!r}')
    rec = getattr(_ACTIVE, "recorder", None)
    if rec is None or not isinstance(state, torch.Tensor) or not state.is_floating_point():
        return state
    p = torch.zeros_like(state, requires_grad=True)
    (rec.h if kind == "h" else rec.c).append(p)
    return state + p


# -- finding the layer --------------------------------------------------------------------------------
def recurrent_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every nn.RNN / nn.LSTM / nn.GRU inside ``model`` (itself included), in module order."""
    return [(n or type(m).__name__, m) for n, m in model.named_modules() if isinstance(m, LAYER_TYPES)]


def _kind(layer: nn.Module) -> str:
    return "lstm" if isinstance(layer, nn.LSTM) else "gru" if isinstance(layer, nn.GRU) else "rnn"


def _pick_layer(model: nn.Module, layer: str | None) -> tuple[str, nn.Module] | None:
    layers = recurrent_layers(model)
    if layer is None:
        return layers[0] if layers else None
    for name, m in layers:
        if name == layer:
            return name, m
    there = ", ".join(n for n, _ in layers) or "none"
    raise DoesNotFit(f"There is no nn.RNN/nn.LSTM/nn.GRU called {layer!r} in this module (found: {there}).")


# -- the unrolled recomputation ------------------------------------------------------------------------
def _weights(layer: nn.RNNBase, k: int, d: int, dtype) -> dict:
    sfx = f"_l{k}{'_reverse' if d else ''}"
    get = lambda n: getattr(layer, n + sfx).to(dtype) if hasattr(layer, n + sfx) else None  # noqa: E731
    return {"W_ih": get("weight_ih"), "W_hh": get("weight_hh"), "b_ih": get("bias_ih"), "b_hh": get("bias_hh"),
            "W_hr": get("weight_hr")}


def _direction(kind: str, act, w: dict, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None,
               hp=None, cp=None):
    """One direction of one layer, step by step. x (T, B, D_in), h (B, H_out), c (B, H) ->
    outputs (T, B, H_out), last h, last c. ``hp`` / ``cp``: T zero probe tensors added to h_t / c_t."""
    xw = x @ w["W_ih"].T  # (T, B, G*H): the input part of every step at once
    if w["b_ih"] is not None:
        xw = xw + w["b_ih"]
    outs = []
    for t in range(x.shape[0]):
        hw = h @ w["W_hh"].T  # (B, G*H)
        if w["b_hh"] is not None:
            hw = hw + w["b_hh"]
        if kind == "rnn":
            h = act(xw[t] + hw)
        elif kind == "lstm":
            i, f, g, o = (xw[t] + hw).chunk(4, dim=1)  # PyTorch's gate order i f g o, each (B, H)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            if cp is not None:
                c = c + cp[t]
            h = torch.sigmoid(o) * torch.tanh(c)
            if w["W_hr"] is not None:
                h = h @ w["W_hr"].T  # proj_size: (B, H) -> (B, H_out)
        else:
            xr, xz, xn = xw[t].chunk(3, dim=1)  # PyTorch's order r z n
            hr, hz, hn = hw.chunk(3, dim=1)  # hn includes b_hn: it sits inside r * (...)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        if hp is not None:
            h = h + hp[t]
        outs.append(h)
    return torch.stack(outs), h, c


class _LayerProbe:
    """The forward hook that replaces one nn.RNN/LSTM/GRU's output by the probed recomputation."""

    def __init__(self, layer: nn.RNNBase, stack_layer: int | None):
        self.layer, self.kind = layer, _kind(layer)
        L = layer.num_layers
        k = L - 1 if stack_layer is None else int(stack_layer)
        if k < 0:
            k += L
        if not 0 <= k < L:
            raise DoesNotFit(f"This {type(layer).__name__} has {L} layer{'s' if L > 1 else ''}; "
                             f"stack_layer={stack_layer} is not one of them (0 to {L - 1}).")
        self.k = k
        self.h_probes: list[torch.Tensor] = []  # one (T_call, B, H_out) leaf per call
        self.c_probes: list[torch.Tensor] = []
        self.max_diff = 0.0  # largest |fused - recomputed| output seen
        self.too_far = False  # whether it was beyond rounding (OUTPUT_TOL)

    def hook(self, module, args, kwargs, output):
        inp = args[0] if args else kwargs.get("input")
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if isinstance(inp, nn.utils.rnn.PackedSequence):
            raise DoesNotFit(f"Your forward packs its batch (a PackedSequence reaches the {type(module).__name__}); "
                             "the gradient-flow view needs a padded batch of one length: probe with sequences of equal "
                             "length, unpacked.")
        out, new = self.recompute(inp, hx)
        fused = output[0]
        if fused.shape == out.shape:
            if out.numel():
                diff = float((fused.detach().to(out.dtype) - out.detach()).abs().max())
                scale = max(1.0, float(fused.detach().abs().max()))
                self.max_diff = max(self.max_diff, diff)
                self.too_far = self.too_far or diff > OUTPUT_TOL.get(out.dtype, OUTPUT_TOL_OTHER) * scale
        else:
            self.max_diff, self.too_far = float("inf"), True
        return out, new

    def recompute(self, inp: torch.Tensor, hx=None):
        m, kind = self.layer, self.kind
        dt = inp.dtype
        unbatched = inp.dim() == 2
        x = inp.unsqueeze(1) if unbatched else (inp.transpose(0, 1) if m.batch_first else inp)  # (T, B, D)
        T, B = x.shape[0], x.shape[1]
        D = 2 if m.bidirectional else 1
        H = m.hidden_size
        H_out = m.proj_size if kind == "lstm" and m.proj_size > 0 else H
        if kind == "lstm":
            h0, c0 = hx if hx is not None else (None, None)
        else:
            h0, c0 = hx, None
        if h0 is not None and unbatched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        h0 = x.new_zeros(m.num_layers * D, B, H_out) if h0 is None else h0
        if kind == "lstm" and c0 is None:
            c0 = x.new_zeros(m.num_layers * D, B, H)
        act = torch.relu if kind == "rnn" and m.nonlinearity == "relu" else torch.tanh
        hs, cs = [], []
        layer_in = x
        for k in range(m.num_layers):
            outs = []
            for d in range(D):
                j = k * D + d
                hp = cp = None
                if k == self.k and d == 0:  # the probed layer, its forward direction
                    hp = torch.zeros(T, B, H_out, dtype=dt, device=x.device, requires_grad=True)
                    self.h_probes.append(hp)
                    if kind == "lstm":
                        cp = torch.zeros(T, B, H, dtype=dt, device=x.device, requires_grad=True)
                        self.c_probes.append(cp)
                seq = layer_in.flip(0) if d else layer_in
                o, hT, cT = _direction(kind, act, _weights(m, k, d, dt), seq, h0[j], c0[j] if c0 is not None else None,
                                       hp.unbind(0) if hp is not None else None, cp.unbind(0) if cp is not None else None)
                outs.append(o.flip(0) if d else o)
                hs.append(hT)
                cs.append(cT)
            layer_in = torch.cat(outs, dim=-1) if D > 1 else outs[0]  # (T, B, D*H_out); no dropout: eval mode
        out = layer_in.squeeze(1) if unbatched else (layer_in.transpose(0, 1) if m.batch_first else layer_in)
        h_n = torch.stack(hs)  # (L*D, B, H_out)
        if unbatched:
            h_n = h_n.squeeze(1)
        if kind == "lstm":
            c_n = torch.stack(cs)
            return out, (h_n, c_n.squeeze(1) if unbatched else c_n)
        return out, h_n

    def where(self, name: str) -> str:
        m = self.layer
        parts = [f"{name} ({type(m).__name__}"]
        if m.num_layers > 1:
            parts.append(f", layer {self.k + 1} of {m.num_layers}")
        if m.bidirectional:
            parts.append(", forward direction")
        return "".join(parts) + ")"


# -- the probe --------------------------------------------------------------------------------------------
def _norms(probes: list[torch.Tensor], per_step: bool = False) -> np.ndarray:
    """(T,) Frobenius norm of each step's gradient, the steps of every call in call order
    (``per_step``: each probe is one step, a mark; otherwise (T_call, ...) per layer call)."""
    out = []
    for p in probes:
        g = torch.zeros_like(p) if p.grad is None else p.grad
        g = g.unsqueeze(0) if per_step else g
        out.append(torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1).double().cpu().numpy())  # (T_call,)
    return np.concatenate(out) if out else np.zeros(0)


def _cast(t: torch.Tensor, dtype) -> torch.Tensor:
    return t.to(dtype) if dtype is not None and t.is_floating_point() else t


def probe_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable | None = None,
                    layer: str | None = None, stack_layer: int | None = None,
                    dtype: torch.dtype | None = torch.float64, name: str = "your model") -> YourGradients:
    """||dL/dh_t|| (and ||dL/dc_t||) of ``loss_fn(model(x), y)`` at every step (module docstring).

    ``layer``: the name (as in ``model.named_modules()``) of the nn.RNN/LSTM/GRU to probe, default the
    first; ``stack_layer``: which layer of a ``num_layers > 1`` stack, default the last. Raises
    ``DoesNotFit`` (one sentence) when the module does not fit; leaves the module as it was."""
    require_module(model)
    if isinstance(x, nn.utils.rnn.PackedSequence):
        raise DoesNotFit("x is a PackedSequence; the gradient-flow view needs a padded tensor of sequences of one "
                         "length (x of shape (B, T, D) or (T, B, D)).")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise DoesNotFit(f"The probe batch must be a pair (x, y) of tensors; found x {describe(x)} and y {describe(y)}.")
    require_same_device(model, x, y, what="the probe batch")
    _pick_layer(model, layer)  # a wrong name is said before anything runs
    if dtype is not None and any(p.is_floating_point() and p.dtype != dtype for p in
                                 (*model.parameters(), *model.buffers())):
        try:
            copied = copy.deepcopy(model).to(dtype)
        except Exception:  # noqa: BLE001 - a module that cannot be copied is probed as it is
            copied = None
        if copied is not None:
            try:
                return _probe(copied, _cast(x, dtype), _cast(y, dtype), loss_fn, layer, stack_layer, name)
            except DoesNotFit as e:
                if " raised " not in str(e):
                    raise
            # its forward does not run in float64 (float32 tensors of its own): its own dtype, said in .dtype
    return _probe(model, x, y, loss_fn, layer, stack_layer, name)


def _probe(model, x, y, loss_fn, layer, stack_layer, name) -> YourGradients:
    picked = _pick_layer(model, layer)
    loss_fn = default_loss if loss_fn is None else loss_fn
    rec = _Recorder()
    lp = _LayerProbe(picked[1], stack_layer) if picked is not None else None
    with inspecting(model) as ins, torch.enable_grad():
        if lp is not None:
            ins.add_hook(picked[1].register_forward_hook(lp.hook, with_kwargs=True))
        _ACTIVE.recorder = rec
        try:
            out = call_forward(model, x, name=name)
        finally:
            _ACTIVE.recorder = None
        if not rec.h and not rec.c and lp is None:
            raise DoesNotFit(f"This module returns {describe(out)} and has no nn.RNN/nn.LSTM/nn.GRU and no mark() "
                             f"calls; {NEEDS}.")
        out = require_tensor(out, "one tensor of outputs", see=SEE)
        marks = bool(rec.h or rec.c)
        if not marks and not lp.h_probes:
            raise DoesNotFit(f"The {type(lp.layer).__name__} {picked[0]!r} was not called by this module's forward; "
                             f"{NEEDS}.")
        if not marks and lp.too_far:
            raise DoesNotFit(f"The {type(lp.layer).__name__} {picked[0]!r} does not compute what PyTorch's own layer "
                             f"computes (outputs differ by {lp.max_diff:.2g}); mark(h_t) its hidden state instead.")
        loss = _scalar_loss(loss_fn, out, y)
        leaves = (rec.h + rec.c) if marks else (lp.h_probes + lp.c_probes)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        for p, g in zip(leaves, grads):
            p.grad = g
    if marks:
        h, c = _norms(rec.h, per_step=True), (_norms(rec.c, per_step=True) if rec.c else None)
        kind, where, diff = "marks", "your mark() calls", 0.0
    else:
        h, c = _norms(lp.h_probes), (_norms(lp.c_probes) if lp.c_probes else None)
        kind, where, diff = lp.kind, lp.where(picked[0]), lp.max_diff
    dtype = str(leaves[0].dtype).replace("torch.", "") if leaves else str(x.dtype).replace("torch.", "")
    return YourGradients(loss=float(loss.detach()), h_norms=h, c_norms=c, kind=kind, where=where, dtype=dtype,
                         max_output_diff=diff)
