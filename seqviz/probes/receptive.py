"""Receptive fields of stacked dilated convolutions: counted, drawn and measured.

Vocabulary: a *lag* is how many steps into the past an output reads (lag 0 is
the output's own step; a negative lag is a future step, only with centred padding).

- ``receptive_field(k, dilations, convs_per_block)``: the exact number of inputs
  output t depends on, itself included: 1 + sum over convolutions of (k - 1) d.
  With doubling dilations 1, 2, ..., 2^(l-1) and one convolution per layer that is
  1 + (k - 1)(2^l - 1). The lecture's R = 2^l (k - 1) is exact only for k = 2; for
  k > 2 it overstates by k - 2.
- ``dependency_lags``: the set of lags itself, so holes (skipped inputs) show.
- ``empirical_receptive_field``: |d y_t / d x_s| for every s by autograd.
- ``layers_needed``: fewest doubling layers for a reach, by both formulas.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from seqviz.models.tcn import TCNConfig, pad_sides


# -- analytic -------------------------------------------------------------------------

def receptive_field(kernel_size: int, dilations, convs_per_block: int = 1) -> int:
    """Exact count of inputs an output depends on (itself included), for any padding."""
    return 1 + int(convs_per_block) * sum((int(kernel_size) - 1) * int(d) for d in dilations)


def lecture_receptive_field(kernel_size: int, n_layers: int) -> int:
    """The lecture's R = 2^l (k - 1) for l doubling layers (exact only for k = 2)."""
    return 2 ** int(n_layers) * (int(kernel_size) - 1)


def conv_lags(kernel_size: int, dilation: int, padding: str = "causal") -> list[int]:
    """Lags one padded convolution reads: output t reads x_(t - lag) for each lag."""
    left, _ = pad_sides(kernel_size, dilation, padding)
    return [left - j * dilation for j in range(kernel_size)]


def conv_rows(kernel_size: int, dilations, convs_per_block: int = 1) -> list[int]:
    """Dilation of every convolution, bottom to top (a block's convs share its dilation)."""
    return [int(d) for d in dilations for _ in range(int(convs_per_block))]


# A lag set is stored as (smallest lag, 0/1 mask from it): sums of sets become convolutions,
# fast even for receptive fields of tens of thousands of inputs.

def _minkowski(a: tuple[int, np.ndarray], b: tuple[int, np.ndarray]) -> tuple[int, np.ndarray]:
    """{x + y : x in a, y in b}."""
    return a[0] + b[0], (np.convolve(a[1], b[1]) > 0).astype(np.int64)


def _with_zero(a: tuple[int, np.ndarray]) -> tuple[int, np.ndarray]:
    """a together with lag 0 (what a residual skip adds)."""
    lo, m = a
    new_lo, hi = min(lo, 0), max(lo + len(m) - 1, 0)
    out = np.zeros(hi - new_lo + 1, dtype=np.int64)
    out[lo - new_lo: lo - new_lo + len(m)] = m
    out[-new_lo] = 1
    return new_lo, out


def _as_set(lags) -> tuple[int, np.ndarray]:
    lo = min(lags)
    m = np.zeros(max(lags) - lo + 1, dtype=np.int64)
    m[np.asarray(lags) - lo] = 1
    return lo, m


def dependency_lags(kernel_size: int, dilations, convs_per_block: int = 1,
                    padding: str = "causal", residual: bool = True) -> np.ndarray:
    """Sorted lags output t depends on, on an unbounded sequence.

    Each convolution adds its tap lags (a Minkowski sum); a residual block also
    passes lag 0 through its skip connection.
    """
    total = _as_set([0])
    for d in dilations:
        block = _as_set([0])
        for _ in range(int(convs_per_block)):
            block = _minkowski(block, _as_set(conv_lags(kernel_size, int(d), padding)))
        total = _minkowski(total, _with_zero(block) if residual else block)
    return total[0] + np.flatnonzero(total[1])


def holes(lags) -> np.ndarray:
    """Lags between the smallest and largest reached lag that are *not* reached."""
    lags = np.asarray(lags, dtype=int)
    if lags.size == 0:
        return lags
    full = np.arange(lags.min(), lags.max() + 1)
    return np.setdiff1d(full, lags)


@dataclass
class Diagram:
    """What the layered diagram lights up for one output position.

    Row 0 is the input, row r the output of convolution r (r = 1..n_rows-1).
    """

    T: int  # positions per row
    dilations: list[int]  # (n_rows-1,) dilation of each convolution row
    active: list[np.ndarray]  # per row: positions output t depends on
    conv_edges: list[tuple[int, int, int, int]]  # (row, pos, row-1, pos') lit convolution taps
    skip_edges: list[tuple[int, int, int, int]]  # (row, pos, row-cpb, pos) lit residual connections
    missed: np.ndarray  # input positions inside the span that output t cannot see (holes)


def dependency_diagram(kernel_size: int, dilations, convs_per_block: int, padding: str,
                       T: int, t: int) -> Diagram:
    """Trace output t of a length-T sequence back to the inputs, layer by layer."""
    rows = conv_rows(kernel_size, dilations, convs_per_block)
    n = len(rows) + 1
    active: list[set[int]] = [set() for _ in range(n)]
    active[-1] = {int(t)}
    conv_edges, skip_edges = [], []
    for r in range(n - 1, 0, -1):
        lags = conv_lags(kernel_size, rows[r - 1], padding)
        for s in sorted(active[r]):
            for lag in lags:
                p = s - lag
                if 0 <= p < T:  # outside the sequence there is only padding
                    active[r - 1].add(p)
                    conv_edges.append((r, s, r - 1, p))
            if r % convs_per_block == 0:  # top of a residual block: the skip lands here
                active[r - convs_per_block].add(s)
                skip_edges.append((r, s, r - convs_per_block, s))
    seen = np.array(sorted(active[0]), dtype=int)
    missed = holes(seen) if seen.size else seen
    return Diagram(T, rows, [np.array(sorted(a), dtype=int) for a in active], conv_edges, skip_edges, missed)


# -- empirical ------------------------------------------------------------------------

def input_gradient(model: torch.nn.Module, T: int, t: int, seed: int, batch: int = 16) -> np.ndarray:
    """(T,) sum over batch and features of |d y_t / d x_s| for every input position s.

    Runs a float64 copy of ``model`` (the original is untouched) on standard-normal
    inputs drawn from ``seed``; ``y_t`` is the sum of the model's outputs at step t.
    """
    m = copy.deepcopy(model).double().eval()
    n_in = m.cfg.n_in
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(batch, T, n_in, generator=gen, dtype=torch.float64, requires_grad=True)  # (B, T, D)
    y = m(x)  # (B, T, n_out)
    y[:, int(t)].sum().backward()
    return x.grad.abs().sum(dim=(0, 2)).numpy()  # (T,)


def empirical_lags(grad: np.ndarray, t: int) -> np.ndarray:
    """Lags t - s of the inputs s with a nonzero gradient."""
    s = np.flatnonzero(np.asarray(grad) != 0)
    return np.sort(int(t) - s)


def causality_check(model: torch.nn.Module, T: int, t: int, seed: int) -> np.ndarray:
    """(T,) max over batch and outputs of |change in y_s| when every input after t is
    replaced by fresh noise. A causal model gives exactly 0 for all s <= t."""
    m = copy.deepcopy(model).double().eval()
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(2, T, m.cfg.n_in, generator=gen, dtype=torch.float64)  # (B, T, D)
    x2 = x.clone()
    x2[:, int(t) + 1:] = torch.randn(x2[:, int(t) + 1:].shape, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        d = (m(x2) - m(x)).abs()  # (B, T, n_out)
    return d.amax(dim=(0, 2)).numpy()


# -- how many layers ------------------------------------------------------------------

def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def layers_needed(reach: int, kernel_size: int, convs_per_block: int = 1) -> dict:
    """Fewest doubling layers (blocks) l whose output sees ``reach`` inputs (itself included).

    Closed forms, exact in integers: 2^l >= ceil(N / (k-1)) for the lecture's
    R = 2^l (k-1), and 2^l >= ceil((N-1) / (c (k-1))) + 1 for the exact count
    1 + c (k-1)(2^l - 1) with c convolutions per block. The smallest l with 2^l >= m
    is (m - 1).bit_length(). Also returns the real-valued log2 the lecture rounds up.
    """
    N, k, c = int(reach), int(kernel_size), int(convs_per_block)
    if k < 2:
        raise ValueError("With kernel size 1 the receptive field never grows; use k of at least 2.")
    if N < 1:
        raise ValueError("The reach must be at least 1 input.")
    lecture = (_ceil_div(N, k - 1) - 1).bit_length()
    exact = (_ceil_div(N - 1, c * (k - 1)) + 1 - 1).bit_length()
    return {
        "lecture_layers": lecture,
        "lecture_log2": math.log2(N / (k - 1)),
        "exact_layers": exact,
        "exact_log2": math.log2((N - 1) / (c * (k - 1)) + 1),
        "lecture_R": lecture_receptive_field(k, lecture),
        "exact_R": receptive_field(k, [2 ** i for i in range(exact)], c),
        "exact_R_at_lecture_layers": receptive_field(k, [2 ** i for i in range(lecture)], c),
    }


# -- parameters -----------------------------------------------------------------------

def conv_params(c_in: int, c_out: int, kernel_size: int) -> int:
    """Weights and biases of one Conv1d: c_in c_out k + c_out."""
    return c_in * c_out * kernel_size + c_out


def tcn_params(n_in: int, n_out: int, channels: int, kernel_size: int, n_blocks: int,
               convs_per_block: int = 1) -> int:
    """Every parameter of a ``TCN`` with ``n_blocks`` residual blocks (what ``count_parameters``
    of the real model gives): weights and biases of every convolution, the first block's 1x1
    skip convolution when ``n_in`` differs from ``channels``, and the linear head. The
    dilations do not enter: they change what a block sees, not what it holds.

        first block  c_in C k + C, then (c - 1)(C C k + C), plus n_in C + C for the skip
        every other  c (C C k + C)
        head         C n_out + n_out
    """
    C, k, c, L = int(channels), int(kernel_size), int(convs_per_block), int(n_blocks)
    if L < 1:
        raise ValueError("A TCN needs at least one residual block.")
    first = conv_params(n_in, C, k) + (c - 1) * conv_params(C, C, k)
    if int(n_in) != C:
        first += conv_params(n_in, C, 1)
    return first + (L - 1) * c * conv_params(C, C, k) + C * int(n_out) + int(n_out)


def tcn_param_count(cfg: TCNConfig) -> int:
    """Parameters of ``TCN(cfg)`` counted from the config (convs, 1x1 skip, head)."""
    return tcn_params(cfg.n_in, cfg.n_out, cfg.channels, cfg.kernel_size, len(cfg.dilations), cfg.convs_per_block)


DESIGNS = ("dilated, k=2", "dilated, k=3", "undilated, k=3", "one layer, kernel k")
THIS_DESIGN = "this design"


def _log_counts(lo: int, hi: int, n: int, must: int | None = None) -> list[int]:
    """About ``n`` whole numbers from ``lo`` to ``hi``, log-spaced (``must`` included)."""
    hi = max(lo, hi)
    out = set(np.geomspace(lo, hi, n).round().astype(int).tolist()) | {lo, hi}
    if must is not None:
        out.add(int(must))
    return sorted(out)


def design_dilations(dilations) -> tuple[str, int]:
    """How a dilation list grows with more blocks: ("doubling", 1), ("constant", d) or ("custom", 0)."""
    ds = [int(d) for d in dilations]
    if ds == [2 ** i for i in range(len(ds))]:
        return "doubling", 1
    if len(set(ds)) == 1:
        return "constant", ds[0]
    return "custom", 0


def param_curves(cfg: TCNConfig, max_reach: int) -> dict[str, tuple[list[int], list[int]]]:
    """(receptive fields, parameter counts) of whole networks like ``cfg`` (its inputs, head,
    channels and convolutions per block; counted as ``tcn_params``, i.e. ``count_parameters``
    of the real model), by design: doubling dilations with k = 2 and k = 3, undilated k = 3
    blocks, one convolution with a big kernel; and ``THIS_DESIGN``: ``cfg`` itself with fewer
    or more blocks (doubling and constant dilations grow, custom ones are cut to their first
    blocks), so its curve passes through ``cfg``'s own point. Curves reach ``max_reach``."""
    n_in, n_out, C, c = cfg.n_in, cfg.n_out, cfg.channels, cfg.convs_per_block
    R = max(2, int(max_reach))
    out: dict[str, tuple[list[int], list[int]]] = {}

    def doubling_curve(k: int, until: int, at_least: int = 1):
        rf, pc, L = [], [], 0
        while L < at_least or rf[-1] < until:
            L += 1
            rf.append(1 + c * (k - 1) * (2 ** L - 1))
            pc.append(tcn_params(n_in, n_out, C, k, L, c))
        return rf, pc

    def constant_curve(k: int, d: int, until: int, must: int | None = None):
        per = c * (k - 1) * d  # inputs one more block adds
        ls = _log_counts(1, -(-(until - 1) // per), 30, must)
        return [1 + per * L for L in ls], [tcn_params(n_in, n_out, C, k, L, c) for L in ls]

    for name, k in (("dilated, k=2", 2), ("dilated, k=3", 3)):
        out[name] = doubling_curve(k, R)
    out["undilated, k=3"] = constant_curve(3, 1, R)
    ks = _log_counts(2, R, 24)
    out["one layer, kernel k"] = ([k for k in ks], [tcn_params(n_in, n_out, C, k, 1, 1) for k in ks])
    kind, d = design_dilations(cfg.dilations)
    k, L = cfg.kernel_size, len(cfg.dilations)
    if kind == "doubling":
        out[THIS_DESIGN] = doubling_curve(k, R, at_least=L)
    elif kind == "constant":
        out[THIS_DESIGN] = constant_curve(k, d, R, must=L)
    else:
        ds = list(cfg.dilations)
        out[THIS_DESIGN] = ([receptive_field(k, ds[:n], c) for n in range(1, L + 1)],
                            [tcn_params(n_in, n_out, C, k, n, c) for n in range(1, L + 1)])
    return out


# -- what a task needs ----------------------------------------------------------------

def required_reach(task: str, T: int) -> int:
    """Inputs the hardest output must see (itself included).

    adding: the last output must see step 0, so T. copy: digit j at step j is
    recalled at step T + 10 + j, T + 10 steps later, so T + 11 (the sequence is
    T + 20 long). recall: the last output must see step 0, so T.
    """
    if task == "copy":
        return int(T) + 11
    if task in ("adding", "recall"):
        return int(T)
    raise ValueError(f"No reach known for task {task!r}.")


def unseen_floor(task: str, T: int, past_reach: int) -> float:
    """Lowest loss possible when each output sees only ``past_reach`` inputs
    (itself included) into the past: the information it cannot see is lost.

    adding: each marked value out of sight costs its variance 1/12 of MSE.
    copy: all ten digits lie T + 10 steps back, so either all are seen or the
    loss is the blind baseline 10 ln 8 / (T + 20). recall: ln 4 or 0.
    """
    T, R = int(T), int(past_reach)
    if task == "adding":
        half = T // 2
        first_unseen = max(0, min(half, T - R)) / half  # first mark ~ U{0..half-1}; seen if >= T - R
        second_unseen = max(0, min(T - half, T - R - half)) / (T - half)
        return (first_unseen + second_unseen) / 12.0
    if task == "copy":
        return 0.0 if R >= T + 11 else 10 * math.log(8) / (T + 20)
    if task == "recall":
        return 0.0 if R >= T else math.log(4)
    raise ValueError(f"No floor known for task {task!r}.")


def past_reach(kernel_size: int, dilations, convs_per_block: int, padding: str) -> int:
    """Inputs an output sees at or before its own step (= receptive_field when causal)."""
    lags = dependency_lags(kernel_size, dilations, convs_per_block, padding)
    return int(lags.max()) + 1 if lags.max() >= 0 else 0
