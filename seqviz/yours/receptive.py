"""The receptive field of a student's own module (B, C, T) -> (B, C', T): measured, counted, checked.

``measure(model, channels=None, T=64)`` returns a ``ReceptiveMap``:

- ``grad`` (T, T): ``grad[t, s]`` = sum over the input channels c, the output channels c' and a few
  random inputs of |d y_(c', t) / d x_(c, s)|, by autograd, in eval mode (the model's mode, ``.grad``
  and hooks are put back afterwards, also when its forward raises: ``seqviz.probes.context.inspecting``).
  An input counts as read by output t if *any* of the random inputs gives it a nonzero gradient, so a
  ReLU that is off for one input does not hide a dependency (one that every input switches off would);
- the lags each output reads (t - s), their union over all outputs, its size, span and holes;
- the causality check: the first output t that reads an input s > t, and that input;
- ``analytic``: where the module is a plain stack (``nn.Sequential`` of ``nn.Conv1d``, zero padding
  modules and layers that act on each step alone), exactly which inputs each output reads, from the
  kernel sizes, dilations and paddings, and the formula R = 1 + sum (k - 1) d over its convolutions;
  for any other module holding ``nn.Conv1d``s only the formula, as if they ran one after another
  (with branches or skips it may not hold: ``agreement`` says whether it does, never assumes).

A module that does not fit raises ``seqviz.yours.fit.DoesNotFit`` (one sentence).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from seqviz.probes.context import inspecting
from seqviz.yours.fit import DoesNotFit, call_forward, describe, module_device, require_module, require_tensor

MAX_T = 256  # longest sequence measured: every output against every input is T * C' gradients
TRIALS = 8  # random inputs per measurement (their nonzero gradients are united)


# Layers that act on every time step alone (the lag set passes through them unchanged).
POINTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
             nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
             nn.Tanhshrink, nn.Identity, nn.Dropout, nn.Dropout1d, nn.AlphaDropout)


# -- shapes in words ------------------------------------------------------------------------

def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(int(s)) for s in t.shape) + ")"


def lag_ranges(lags, most: int = 8) -> str:
    """Sorted lags in short words: [0, 1, 2, 5, 6] -> "0–2, 5–6" (at most ``most`` runs, then "…")."""
    v = sorted(int(x) for x in lags)
    if not v:
        return "none"
    runs, start = [], v[0]
    for a, b in zip(v, v[1:] + [None]):
        if b != a + 1:
            n = lambda x: str(x).replace("-", "−")  # noqa: E731 - a minus sign, not a hyphen
            runs.append(n(start) if start == a else f"{n(start)} to {n(a)}" if start < 0 else f"{start}–{a}")
            start = b
    return ", ".join(runs[:most]) + (f", … ({len(runs) - most} more runs)" if len(runs) > most else "")


# -- analytic -------------------------------------------------------------------------------

@dataclass
class Op:
    """One layer of a plain stack: ``kind`` "conv" (k, d, left, right), "pad" (left, right) or "point"."""

    kind: str
    k: int = 1
    d: int = 1
    left: int = 0
    right: int = 0


def conv_sides(conv: nn.Conv1d) -> tuple[int, int]:
    """(left, right) zeros a Conv1d pads its input with (``padding='same'`` puts the odd one right)."""
    k, d = conv.kernel_size[0], conv.dilation[0]
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return 0, 0
        total = d * (k - 1)
        return total // 2, total - total // 2
    p = int(conv.padding[0])
    return p, p


def plain_stack(model: nn.Module) -> tuple[list[Op] | None, str]:
    """The layers of ``model`` as a plain stack, or (None, why not) in a few words."""
    if isinstance(model, nn.Conv1d):
        if model.stride[0] != 1:
            return None, f"a Conv1d with stride {model.stride[0]}"
        if model.padding_mode != "zeros":
            return None, f"a Conv1d with padding_mode='{model.padding_mode}'"
        left, right = conv_sides(model)
        return [Op("conv", model.kernel_size[0], model.dilation[0], left, right)], ""
    if isinstance(model, nn.ConstantPad1d):
        left, right = (int(p) for p in model.padding)
        return [Op("pad", left=left, right=right)], ""
    if isinstance(model, POINTWISE):
        return [Op("point")], ""
    if isinstance(model, nn.BatchNorm1d) and model.track_running_stats:
        return [Op("point")], ""  # in eval mode: a fixed scale and shift per channel
    if type(model) is nn.Sequential:
        ops: list[Op] = []
        for child in model:
            sub, why = plain_stack(child)
            if sub is None:
                return None, why
            ops += sub
        return ops, ""
    return None, describe(model)


def analytic_support(ops: list[Op], T: int) -> np.ndarray:
    """(T, T) bool: ``[t, s]`` is True where output t of the stack reads input s (length-T input),
    tracing each output back through every layer's taps; positions in the zero padding read nothing."""
    lengths = [int(T)]
    for op in ops:
        n = lengths[-1]
        if op.kind == "pad":
            n += op.left + op.right
        elif op.kind == "conv":
            n += op.left + op.right - op.d * (op.k - 1)
        lengths.append(n)
    if lengths[-1] != T or min(lengths) < 1:
        raise ValueError(f"the stack maps length {T} to {lengths[-1]}")
    D = np.eye(T, dtype=bool)  # (T outputs, positions of the current layer's output)
    for op, n_in, n_out in zip(reversed(ops), reversed(lengths[:-1]), reversed(lengths[1:])):
        if op.kind == "point":
            continue
        new = np.zeros((T, n_in), dtype=bool)
        taps = [op.left] if op.kind == "pad" else [op.left - j * op.d for j in range(op.k)]
        for shift in taps:  # output position o reads input position q = o - shift
            o = np.arange(n_out)
            q = o - shift
            ok = (q >= 0) & (q < n_in)
            new[:, q[ok]] |= D[:, o[ok]]
        D = new
    return D


@dataclass
class Analytic:
    """What the architecture says. ``support`` (T, T) only for a plain stack, else None."""

    convs: list[tuple[int, int]]  # (kernel size, dilation) of every nn.Conv1d, in the order they were registered
    formula: int  # 1 + sum (k - 1) d over them: the span if they run one after another
    support: np.ndarray | None
    not_plain: str  # why it is not a plain stack ("" when it is)


def analytic(model: nn.Module, T: int) -> Analytic | None:
    """None when the module holds no nn.Conv1d."""
    convs = [(m.kernel_size[0], m.dilation[0]) for m in model.modules() if isinstance(m, nn.Conv1d)]
    if not convs:
        return None
    formula = 1 + sum((k - 1) * d for k, d in convs)
    ops, why = plain_stack(model)
    support = None
    if ops is not None:
        try:
            support = analytic_support(ops, T)
        except ValueError as e:
            ops, why = None, str(e)
    return Analytic(convs, formula, support, "" if ops is not None else why)


# -- measured -------------------------------------------------------------------------------

@dataclass
class ReceptiveMap:
    """The measured receptive field of one module on length-T inputs, and what it is compared with."""

    T: int
    channels: int  # C in
    out_channels: int  # C'
    grad: np.ndarray  # (T, T) [t, s]: sum over c, c' and TRIALS random inputs of |d y_(c',t) / d x_(c,s)|
    analytic: Analytic | None = None
    trials: int = TRIALS
    support: np.ndarray = field(init=False)  # (T, T) bool: grad > 0

    def __post_init__(self):
        self.support = self.grad > 0

    def reads(self, t: int) -> np.ndarray:
        """Input positions s output t reads."""
        return np.flatnonzero(self.support[int(t)])

    def lags(self, t: int) -> np.ndarray:
        """Sorted lags t - s output t reads (negative: a future input)."""
        return np.sort(int(t) - self.reads(t))

    @property
    def lag_set(self) -> np.ndarray:
        """Every lag some output reads (the union over all outputs)."""
        t, s = np.nonzero(self.support)
        return np.unique(t - s)

    @property
    def size(self) -> int:
        """How many different lags the outputs read (the empirical receptive field)."""
        return int(self.lag_set.size)

    @property
    def widest(self) -> int:
        """The most inputs one output reads."""
        return int(self.support.sum(axis=1).max()) if self.support.size else 0

    @property
    def span(self) -> int:
        """Largest lag - smallest lag + 1 (0 when no output reads any input)."""
        L = self.lag_set
        return int(L.max() - L.min() + 1) if L.size else 0

    @property
    def holes(self) -> np.ndarray:
        """Lags inside the span that no output reads."""
        L = self.lag_set
        if not L.size:
            return L
        return np.setdiff1d(np.arange(L.min(), L.max() + 1), L)

    @property
    def offending(self) -> tuple[int, int] | None:
        """(t, s): the first output that reads an input after its own step, and the first such input."""
        future = np.triu(self.support, k=1)  # s > t
        rows = np.flatnonzero(future.any(axis=1))
        if not rows.size:
            return None
        t = int(rows[0])
        return t, int(np.flatnonzero(future[t])[0])

    @property
    def causal(self) -> bool:
        return self.offending is None

    def causal_sentence(self) -> str:
        if self.offending is None:
            return "Causal: no output reads an input after its own step."
        t, s = self.offending
        far = int(-self.lag_set.min())
        return (f"Not causal: output t = {t} reads input s = {s}, {s - t} step{'s' * (s - t != 1)} in its future "
                f"(the furthest any output looks ahead is {far} step{'s' * (far != 1)}).")

    def analytic_positions(self, t: int) -> np.ndarray | None:
        """Inputs the analytic (plain stack) set says output t reads; None when there is none."""
        a = self.analytic
        if a is None or a.support is None:
            return None
        return np.flatnonzero(a.support[int(t)])

    def agreement(self) -> tuple[bool | None, str]:
        """(agree?, one sentence). None: nothing analytic to compare (no nn.Conv1d)."""
        a = self.analytic
        if a is None:
            return None, "No nn.Conv1d in this module: there is no analytic receptive field to compare."
        if a.support is not None:
            if np.array_equal(a.support, self.support):
                return True, (f"Analytic and measured agree at every output: the kernel sizes, dilations and paddings "
                              f"give exactly the inputs autograd finds (R = 1 + Σ(k−1)d = {a.formula}).")
            miss = np.argwhere(a.support & ~self.support)
            extra = np.argwhere(self.support & ~a.support)
            if miss.size:
                t, s = (int(v) for v in miss[0])
                return False, (f"They differ: the analytic set says output t = {t} reads input s = {s}, but its "
                               f"gradient is 0 on all {self.trials} random inputs ({len(miss)} such pairs; a weight "
                               f"that is exactly 0 or a ReLU off for every input hides a dependency).")
            t, s = (int(v) for v in extra[0])
            return False, (f"They differ: output t = {t} reads input s = {s}, which the kernel sizes, dilations and "
                           f"paddings do not give ({len(extra)} such pairs).")
        n = len(a.convs)
        head = (f"Not a plain nn.Conv1d stack ({a.not_plain}): the formula 1 + Σ(k−1)d over its {n} "
                f"convolution{'s' * (n != 1)}, as if applied one after another, gives {a.formula}")
        if self.span == a.formula:
            return True, f"{head}; measured span {self.span}: they agree here."
        short = " (T is shorter than that span: raise T)" if a.formula > self.T else ""
        return False, (f"{head}; measured span {self.span}: they differ{short}, so something else in this module "
                       f"(branches, skips, or layers that mix time steps) changes what each output reads.")


def first_conv(model: nn.Module) -> nn.Conv1d | None:
    return next((m for m in model.modules() if isinstance(m, nn.Conv1d)), None)


def input_channels(model: nn.Module, channels: int | None) -> int:
    """C of the (B, C, T) input: ``channels`` if given, else the first nn.Conv1d's in_channels."""
    if channels is not None:
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise DoesNotFit(f"channels must be a whole number of at least 1 (the C of the (B, C, T) input); "
                             f"it is {channels!r}.")
        return int(channels)
    conv = first_conv(model)
    if conv is None:
        raise DoesNotFit("This module holds no nn.Conv1d to read its input channels from: pass channels= "
                         "(the C of its (B, C, T) input).")
    return int(conv.in_channels)


def _dtype(model: nn.Module) -> torch.dtype:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _vjp_grads(y: torch.Tensor, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """(T, T) sum over batch, c and c' of |d y_(c',t) / d x_(c,s)|: one vector-Jacobian product per
    (t, c') pair, ``chunk`` at a time (vmap), or one by one where the module's ops do not batch."""
    B, Cp, T = y.shape
    out = torch.zeros(T, T, dtype=torch.float64)
    pairs = [(t, c) for t in range(T) for c in range(Cp)]
    batched = True
    for i in range(0, len(pairs), chunk):
        part = pairs[i:i + chunk]
        V = torch.zeros(len(part), B, Cp, T, dtype=y.dtype, device=y.device)  # one-hot cotangents at (c', t)
        idx = torch.arange(len(part))
        V[idx, :, torch.tensor([c for _, c in part]), torch.tensor([t for t, _ in part])] = 1
        g = None
        if batched:
            try:
                g, = torch.autograd.grad(y, x, V, retain_graph=True, is_grads_batched=True)  # (n, B, C, T)
            except (RuntimeError, NotImplementedError):
                batched = False
        if g is None:
            g = torch.stack([torch.autograd.grad(y, x, v, retain_graph=True)[0] for v in V])
        per_pair = g.abs().sum(dim=(1, 2)).double().cpu()  # (n, T) over batch and input channels
        out.index_add_(0, torch.tensor([t for t, _ in part]), per_pair)
    return out


def _copies_grads(model: nn.Module, x: torch.Tensor, Cp: int, chunk: int) -> torch.Tensor:
    """The same (T, T) as ``_vjp_grads``, for a module that treats batch items independently: the
    trials are repeated once per (t, c') pair along the batch, and one backward pass takes, for
    each copy, the gradient of its own y_(c', t) (faster than vmap's first call by seconds)."""
    B, C, T = x.shape
    out = torch.zeros(T, T, dtype=torch.float64)
    pairs = [(t, c) for t in range(T) for c in range(Cp)]
    base = x.detach()
    for i in range(0, len(pairs), chunk):
        part = pairs[i:i + chunk]
        n = len(part)
        xs = base.repeat(n, 1, 1).requires_grad_(True)  # (n B, C, T): copy j is rows j B .. j B + B - 1
        ys = call_forward(model, xs, name="your module")  # (n B, C', T)
        V = torch.zeros(n, B, Cp, T, dtype=ys.dtype, device=ys.device)
        V[torch.arange(n), :, torch.tensor([c for _, c in part]), torch.tensor([t for t, _ in part])] = 1
        g, = torch.autograd.grad(ys, xs, V.reshape(n * B, Cp, T))
        per_pair = g.reshape(n, B, C, T).abs().sum(dim=(1, 2)).double().cpu()  # (n, T)
        out.index_add_(0, torch.tensor([t for t, _ in part]), per_pair)
    return out


def _independent(model: nn.Module, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> bool:
    """Do the batch items leave each other alone? (change item 0, the others' outputs must not move)"""
    if x.shape[0] < 2:
        return False
    x2 = x.detach().clone()
    x2[0] = torch.randn(x2[0].shape, generator=gen, dtype=torch.float64).to(x2)
    with torch.no_grad():
        y2 = model(x2)
    return isinstance(y2, torch.Tensor) and y2.shape == y.shape and torch.equal(y2[1:], y.detach()[1:])


def measure(model: nn.Module, channels: int | None = None, T: int = 64, seed: int = 0,
            trials: int = TRIALS) -> ReceptiveMap:
    """The measured and analytic receptive field of ``model`` on length-``T`` inputs (module docstring).

    Raises ``DoesNotFit`` (one sentence) where the module does not map (B, C, T) to (B, C', T).
    """
    require_module(model, "a torch.nn.Module mapping (B, C, T) to (B, C', T)")
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or not 2 <= T <= MAX_T:
        raise DoesNotFit(f"T = {T!r} is outside what this view measures: a whole number from 2 to {MAX_T} "
                         f"(every output against every input is T × T × C' gradients).")
    T = int(T)
    dev = module_device(model)
    C = input_channels(model, channels)
    conv = first_conv(model)
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(trials, C, T, generator=gen, dtype=torch.float64).to(device=dev, dtype=_dtype(model))
    x.requires_grad_(True)
    exact = torch.backends.cudnn.flags(enabled=False) if dev.type == "cuda" else contextlib.nullcontext()
    with inspecting(model), torch.enable_grad(), exact:  # (cuDNN's FFT and Winograd paths leave 1e-8 where 0 is exact)
        try:
            out = call_forward(model, x, name="your module")
        except DoesNotFit:
            if conv is not None and channels is not None and conv.in_channels != C:
                raise DoesNotFit(f"This module's first nn.Conv1d takes {conv.in_channels} input channels, but "
                                 f"channels={C} was given: pass channels={conv.in_channels} or leave it out.") from None
            raise
        y = require_tensor(out, f"one tensor of shape (B, C', T) (the input was {_shape(x)})")
        if y.dim() != 3 or y.shape[0] != trials or y.shape[-1] != T:
            raise DoesNotFit(f"This module maps {_shape(x)} to {_shape(y)}; the receptive-field view needs "
                             f"(B, C', T) with the same batch B and the same length T out as in: pad the "
                             f"convolutions (padding=(k-1)*d on the left for causal, e.g. "
                             f"nn.ConstantPad1d(((k-1)*d, 0), 0)).")
        if not y.requires_grad:
            raise DoesNotFit("This module's output has no gradient with respect to its input (was it detached, "
                             "or computed under torch.no_grad()?); the view needs autograd through the forward.")
        if not y.is_floating_point():
            raise DoesNotFit(f"This module returns {y.dtype} values; the view needs floating-point outputs.")
        Cp = int(y.shape[1])
        chunk = max(1, min(T * Cp, 128, int(2e6 // (trials * max(C, Cp) * T))))  # pairs per pass (memory)
        try:
            if _independent(model, x, y, gen):
                grad = _copies_grads(model, x, Cp, chunk).numpy()
            else:  # (batch statistics, say): the exact per-pair products on the trials themselves
                grad = _vjp_grads(y, x, chunk).numpy()
        except DoesNotFit:
            raise
        except Exception as e:  # the student's own backward (a custom autograd Function, say)
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise DoesNotFit(f"The backward pass through your module raised {type(e).__name__}"
                             f"{': ' + first if first else ''}.") from e
    if not np.isfinite(grad).all():
        raise DoesNotFit("Some gradients of this module's output are NaN or infinite on random inputs; "
                         "check its weights (a training run that diverged?).")
    return ReceptiveMap(T, C, Cp, grad, analytic(model, T), trials)
