"""What goes wrong without packing or masking, what packing costs, and one-hot vs embedding.

- ``final_states``: an LSTM's final hidden state read at the last *padded*
  position vs at each sequence's true last token vs from a PackedSequence.
- ``masked_loss``: mean loss over all B*T cells vs over real tokens only.
- ``time_lstm``: forward+backward wall time of padded and packed batches, with
  the number of cells each computes and the device it ran on.
- ``onehot_vs_embedding``: one-hot rows times W equal an embedding lookup.

(The dashboard's scene, which runs all of these on one data set, is
``seqviz.experiments.batching``.)

Why packing is slower on a CPU (torch 2.13, measured with torch.profiler, see
docs/batching.md): a padded batch, or a packed one whose sequences all have the
same length, runs as one oneDNN kernel (``mkldnn_rnn_layer``) forward and one
backward. A ragged packed batch has no oneDNN kernel; PyTorch falls back to a
loop over time steps. That loop precomputes the input projection for all N
packed rows, (N, 4H), and slices rows ``offsets[t] : offsets[t] + batch_sizes[t]``
at each step t. The backward of every slice builds a zero (N, 4H) gradient and
adds it up: T * N * 4H floats written twice, which grows like T^2 * B.
``packed_cpu_backward_bytes`` gives that count.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqviz.data.batching import PaddedBatch, pack, padding_waste


@dataclass
class ToyConfig:
    vocab: int = 50  # V, token ids in [0, V)
    embed: int = 8  # E, embedding size
    hidden: int = 16  # H, LSTM hidden units
    classes: int = 5  # C, labels per token for the masked-loss demo


class ToyTagger(nn.Module):
    """Embedding -> one LSTM layer -> linear head per step (a tiny sequence tagger)."""

    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab, cfg.embed)
        self.lstm = nn.LSTM(cfg.embed, cfg.hidden, batch_first=True)
        self.head = nn.Linear(cfg.hidden, cfg.classes)


def build_toy(cfg: ToyConfig, seed: int) -> ToyTagger:
    """A ToyTagger with weights drawn from ``torch.Generator(seed)`` (no global RNG)."""
    with torch.random.fork_rng(devices=[]):  # nn init draws from the global RNG: undo that
        model = ToyTagger(cfg)
    g = torch.Generator().manual_seed(int(seed))
    bound = 1.0 / cfg.hidden**0.5  # PyTorch's default LSTM/Linear init range
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "emb.weight":
                p.copy_(torch.randn(p.shape, generator=g))  # nn.Embedding's default N(0, 1)
            else:
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
    return model


def right_align(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, E) batch padded on either side -> (B, T, E) with real steps first, zeros after."""
    lengths = mask.sum(1)  # (B,)
    out = torch.zeros_like(x)
    keep = torch.arange(x.shape[1])[None, :] < lengths[:, None]  # (B, T) right-padded mask
    out[keep] = x[mask]
    return out


@dataclass
class FinalStates:
    lengths: list[int]  # (B,)
    h_last_padded: torch.Tensor  # (B, H) h at position T-1 of the padded run (no packing)
    h_true_last: torch.Tensor  # (B, H) padded run's output at each sequence's last real token
    h_packed: torch.Tensor  # (B, H) h_n of the packed run, back in the original order
    err_last_padded: list[float] = field(default_factory=list)  # ||h_last_padded - h_packed|| per sequence
    err_true_last: list[float] = field(default_factory=list)  # ||h_true_last - h_packed|| per sequence


@torch.no_grad()
def final_states(model: ToyTagger, batch: PaddedBatch) -> FinalStates:
    """Run the LSTM on the padded batch as is and on the packed batch; compare final h."""
    x = model.emb(batch.tokens)  # (B, T, E)
    out, _ = model.lstm(x)  # (B, T, H): pads are read like tokens
    B, T = batch.tokens.shape
    last = batch.lengths - 1 if batch.side == "right" else torch.full((B,), T - 1)  # (B,)
    h_true = out[torch.arange(B), last]  # (B, H)
    _, (h_n, _) = model.lstm(pack(right_align(x, batch.mask), batch.lengths))
    h_packed = h_n[-1]  # (B, H), PyTorch restores the original order
    h_pad = out[:, -1]
    return FinalStates(
        batch.lengths.tolist(), h_pad, h_true, h_packed,
        (h_pad - h_packed).norm(dim=1).tolist(), (h_true - h_packed).norm(dim=1).tolist(),
    )


@dataclass
class LossComparison:
    unmasked: float  # mean cross-entropy over all B*T cells, pads included
    masked: float  # sum(mask * loss) / sum(mask): mean over real tokens only
    per_cell: torch.Tensor  # (B, T) cross-entropy of every cell


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> LossComparison:
    """logits (B, T, C), targets (B, T) long, mask (B, T) bool -> both means."""
    per_cell = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (B, T)
    m = mask.to(per_cell.dtype)
    masked = (per_cell * m).sum() / m.sum().clamp_min(1)
    return LossComparison(float(per_cell.mean()), float(masked), per_cell.detach())


@torch.no_grad()
def tagger_loss(model: ToyTagger, batch: PaddedBatch, generator: torch.Generator) -> LossComparison:
    """Random labels for real tokens (label 0 in pad cells), loss with and without the mask."""
    x = model.emb(batch.tokens)  # (B, T, E)
    logits = model.head(model.lstm(x)[0])  # (B, T, C)
    labels = torch.randint(0, model.cfg.classes, batch.tokens.shape, generator=generator)
    labels = labels.masked_fill(~batch.mask, 0)  # (B, T)
    return masked_loss(logits, labels, batch.mask)


@dataclass
class OneHotView:
    ids: list[int]  # (L,) token ids of one sequence
    onehot: torch.Tensor  # (L, V) one row per token
    weight: torch.Tensor  # (E, V) W; column k is the embedding of token k
    product: torch.Tensor  # (L, E) onehot @ W^T: selects columns of W
    lookup: torch.Tensor  # (L, E) nn.Embedding lookup of the same ids
    max_abs_diff: float  # max |product - lookup|


@torch.no_grad()
def onehot_vs_embedding(ids: torch.Tensor, emb: nn.Embedding) -> OneHotView:
    """The same ids (L,) as one-hot rows times W and as an embedding lookup."""
    V = emb.num_embeddings
    onehot = F.one_hot(ids, V).to(emb.weight.dtype)  # (L, V)
    W = emb.weight.T  # (E, V): nn.Embedding stores it as (V, E) rows
    product = onehot @ W.T  # (L, E)
    lookup = emb(ids)  # (L, E)
    return OneHotView(ids.tolist(), onehot, W.clone(), product, lookup, float((product - lookup).abs().max()))


# -- measured cost --------------------------------------------------------------


@dataclass
class TimingConfig:
    hidden: int = 128  # H, LSTM hidden units
    dim: int = 32  # D, input features per step
    reps: int = 2  # timed repeats of the whole pass
    stat: str = "min"  # what ``Timing.ms`` reports: "min" (the fastest repeat, least disturbed) or "median"


@dataclass
class Timing:
    name: str  # e.g. "packed, sorted batches"
    ms: float  # forward+backward wall time over all batches: the fastest or the median repeat (``stat``)
    cells: int  # LSTM cell evaluations computed: sum B_i*T_i padded, sum of lengths packed
    batches: int  # number of batches
    device: str  # where it ran, in words
    runs: int = 1  # timed repeats behind ``ms``
    stat: str = "min"  # "min" or "median" of those repeats
    all_ms: list[float] = field(default_factory=list)  # every timed repeat, ms


def packed_cpu_backward_bytes(lengths: torch.Tensor, batches: list[torch.Tensor], hidden: int, gates: int = 4) -> int:
    """Bytes the CPU fallback's per-step slice backward zero-fills: per batch,
    T_i steps each writing an (N_i, gates*H) float32 tensor (N_i = tokens in the batch).
    Batches whose lengths are all equal use oneDNN instead and cost nothing here."""
    total = 0
    for ix in batches:
        L = lengths[ix]
        if len(ix) and int(L.min()) != int(L.max()):
            total += int(L.max()) * int(L.sum()) * gates * hidden * 4
    return total


def time_lstm(
    lengths: torch.Tensor,
    variants: dict[str, tuple[list[torch.Tensor], bool]],
    cfg: TimingConfig,
    generator: torch.Generator,
    device: torch.device,
    device_label: str,
    stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[str], None] = lambda msg: None,
) -> list[Timing]:
    """Time LSTM forward+backward over the data set for each variant.

    ``variants`` maps a name to ``(batches, packed)``: index tensors into
    ``lengths`` (N,) and whether to pack (else pad on the right). The loss sums
    outputs at real positions only, so every variant computes the same gradient.
    Returns the finished variants (fewer if ``stop()`` turns True).
    """
    if cfg.stat not in ("min", "median"):
        raise ValueError(f"stat must be 'min' or 'median', not {cfg.stat!r}")
    with torch.random.fork_rng(devices=[]):  # leave the global RNG as it was
        lstm = nn.LSTM(cfg.dim, cfg.hidden, batch_first=True).to(device)
    g_params = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    with torch.no_grad():
        for p in lstm.parameters():
            p.copy_(((torch.rand(p.shape, generator=g_params) * 2 - 1) / cfg.hidden**0.5).to(device))
    T_max = int(lengths.max())
    data = torch.randn(len(lengths), T_max, cfg.dim, generator=generator).to(device)  # (N, T_max, D)

    def one_pass(batches, packed):
        for ix in batches:
            if stop():
                return
            L = lengths[ix]
            x = data[ix.to(device), : int(L.max())]  # (B_i, T_i, D)
            if packed:
                out = lstm(pack(x, L))[0].data  # (sum L, H): real positions only
            else:
                mask = (torch.arange(x.shape[1])[None, :] < L[:, None]).to(device)  # (B_i, T_i)
                out = lstm(x)[0][mask]
            lstm.zero_grad(set_to_none=True)
            out.sum().backward()
        if device.type == "cuda":  # kernels run asynchronously: wait for them before reading the clock
            torch.cuda.synchronize()
        elif device.type == "mps":
            torch.mps.synchronize()

    results = []
    for name, (batches, packed) in variants.items():
        if stop():
            break
        on_progress(f"Measuring {name} ...")
        one_pass(batches[:1], packed)  # warm-up: allocator, kernel selection
        runs = []
        for _ in range(max(1, cfg.reps)):
            if stop():
                break
            t0 = time.perf_counter()
            one_pass(batches, packed)
            if not stop():  # a pass cut short by stop() is not a measurement
                runs.append((time.perf_counter() - t0) * 1000)
        if not runs:
            break
        ms = min(runs) if cfg.stat == "min" else statistics.median(runs)
        w = padding_waste(lengths, batches)
        results.append(Timing(name, ms, w.real_cells if packed else w.padded_cells, len(batches), device_label,
                              runs=len(runs), stat=cfg.stat, all_ms=runs))
    return results
