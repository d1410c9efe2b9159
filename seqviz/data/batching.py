"""Pad, mask, sort/bucket by length, pack/unpack: the layouts as plain data.

Vocabulary: B sequences, T = max length in the batch, ``lengths`` (B,),
``mask`` (B, T) True for real tokens. Every function here returns numbers a
figure can draw; the packed layout is read from what
``torch.nn.utils.rnn.pack_padded_sequence`` actually produced.

Equations:
  batch_sizes[t] = #{b : lengths[b] > t}                 (the packed "window")
  padding waste  = 1 - sum_b lengths[b] / sum_batches B_i * T_i
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DISTRIBUTIONS = ("uniform", "heavy")


@dataclass
class LengthConfig:
    kind: str = "heavy"  # "uniform" or "heavy" (power-law body plus a few very long outliers)
    n: int = 256  # N, number of sequences in the data set
    min_len: int = 2  # shortest sequence
    max_len: int = 200  # longest sequence (outliers reach up to here)
    alpha: float = 1.5  # heavy: Pareto tail index of the body (smaller = heavier tail)
    outlier_share: float = 0.02  # heavy: share of sequences drawn near max_len


def sample_lengths(cfg: LengthConfig, generator: torch.Generator) -> torch.Tensor:
    """(N,) long lengths in [min_len, max_len].

    uniform: every length equally likely. heavy: a Pareto(alpha) body scaled by
    min_len (most sequences short), plus ``outlier_share`` of the sequences (at
    least one) drawn from the top fifth of the range, as real text tends to have.
    """
    if cfg.kind not in DISTRIBUTIONS:
        raise ValueError(f"kind must be one of {DISTRIBUTIONS}, not {cfg.kind!r}")
    lo, hi = int(cfg.min_len), int(cfg.max_len)
    if not 1 <= lo <= hi:
        raise ValueError(f"need 1 <= min_len <= max_len, got {lo} and {hi}")
    n = int(cfg.n)
    if cfg.kind == "uniform":
        return torch.randint(lo, hi + 1, (n,), generator=generator)
    u = torch.rand(n, generator=generator, dtype=torch.float64).clamp_min(1e-12)
    body = (lo * u.pow(-1.0 / cfg.alpha)).floor().clamp(lo, hi).long()  # (N,)
    n_out = min(n, max(1, round(cfg.outlier_share * n)))
    where = torch.randperm(n, generator=generator)[:n_out]
    top = max(lo, hi - max(1, (hi - lo) // 5))
    body[where] = torch.randint(top, hi + 1, (n_out,), generator=generator)
    return body


def random_sequences(lengths: torch.Tensor, vocab_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One (L_b,) long sequence per length, ids in [2, vocab_size) (0 = pad, 1 = unk)."""
    if vocab_size < 3:
        raise ValueError("vocab_size must be at least 3 (pad, unk and one real token)")
    sizes = [int(L) for L in torch.as_tensor(lengths).tolist()]
    ids = torch.randint(2, vocab_size, (sum(sizes),), generator=generator)  # one draw, then cut: ~30x faster
    return list(ids.split(sizes))


@dataclass
class PaddedBatch:
    tokens: torch.Tensor  # (B, T) long ids, pad_value in pad cells
    mask: torch.Tensor  # (B, T) bool, True for real tokens
    lengths: torch.Tensor  # (B,) long
    side: str  # "right" (pads after the tokens) or "left" (pads before)

    @property
    def real_cells(self) -> int:
        return int(self.mask.sum())

    @property
    def pad_cells(self) -> int:
        return self.mask.numel() - self.real_cells


def pad(seqs: list[torch.Tensor], side: str = "right", pad_value: int = 0) -> PaddedBatch:
    """Stack B sequences (L_b,) into (B, T) with T = max L_b, padding on ``side``."""
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', not {side!r}")
    if len(seqs) == 0:
        raise ValueError("cannot pad an empty list of sequences")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    T = int(lengths.max())
    tokens = torch.full((len(seqs), T), pad_value, dtype=torch.long)  # (B, T)
    for b, s in enumerate(seqs):
        L = len(s)
        if L and side == "right":
            tokens[b, :L] = s
        elif L:
            tokens[b, T - L:] = s
    t = torch.arange(T)  # (T,)
    if side == "right":
        mask = t[None, :] < lengths[:, None]  # (B, T)
    else:
        mask = t[None, :] >= (T - lengths)[:, None]
    return PaddedBatch(tokens, mask, lengths, side)


def random_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffle indices 0..n-1 and cut them into batches of ``batch_size`` (last may be smaller)."""
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(max(1, int(batch_size))))


def bucket_by_length(lengths: torch.Tensor, batch_size: int, max_tokens: int | None = None) -> list[torch.Tensor]:
    """Sort indices by length (shortest first, stable) and cut them into batches.

    A batch holds at most ``batch_size`` sequences and, if ``max_tokens`` is set,
    at most ``max_tokens`` padded cells (count * longest length), so batches
    shrink as sequences grow; a single sequence longer than the budget still
    gets a batch of its own.
    """
    order = torch.argsort(lengths, stable=True)
    lens = lengths.tolist()
    batches, cur, cur_max = [], [], 0
    for i in order.tolist():
        L = int(lens[i])
        full = len(cur) >= batch_size or (max_tokens is not None and cur and (len(cur) + 1) * max(cur_max, L) > max_tokens)
        if full:
            batches.append(torch.tensor(cur, dtype=torch.long))
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, L)
    if cur:
        batches.append(torch.tensor(cur, dtype=torch.long))
    return batches


@dataclass
class Waste:
    sizes: list[int]  # B_i, sequences in each batch
    widths: list[int]  # T_i, padded length of each batch
    real_cells: int  # sum of lengths: tokens the model must read
    padded_cells: int  # sum_i B_i * T_i: cells a padded batch computes and stores
    bytes_per_cell: int  # D * itemsize, bytes one cell of the input tensor takes

    @property
    def pad_cells(self) -> int:
        return self.padded_cells - self.real_cells

    @property
    def share(self) -> float:
        """Share of padded cells that are padding, in [0, 1)."""
        return self.pad_cells / self.padded_cells if self.padded_cells else 0.0

    @property
    def pad_bytes(self) -> int:
        return self.pad_cells * self.bytes_per_cell

    @property
    def padded_bytes(self) -> int:
        return self.padded_cells * self.bytes_per_cell


def padding_waste(lengths: torch.Tensor, batches: list[torch.Tensor], dim: int = 1,
                  dtype: torch.dtype = torch.float32) -> Waste:
    """Cells and bytes spent on padding when each batch is padded to its longest member."""
    lens = lengths.tolist()
    members = [ix.tolist() for ix in batches]
    sizes = [len(m) for m in members]
    widths = [max(lens[i] for i in m) if m else 0 for m in members]
    real = sum(lens[i] for m in members for i in m)
    padded = sum(b * t for b, t in zip(sizes, widths))
    item = torch.empty((), dtype=dtype).element_size()
    return Waste(sizes, widths, real, padded, int(dim) * item)


@dataclass
class PackedLayout:
    lengths: list[int]  # (B,) lengths in the original batch order
    batch_sizes: list[int]  # (T,) sequences still running at each step t
    sorted_indices: list[int]  # (B,) original index of the b-th longest sequence
    unsorted_indices: list[int]  # (B,) where original sequence b sits in the sorted order
    data_b: list[int]  # (N,) original batch index of each row of PackedSequence.data
    data_t: list[int]  # (N,) time step of each row of PackedSequence.data
    offsets: list[int]  # (T,) first row of .data for step t; rows offsets[t] : offsets[t]+batch_sizes[t]

    @property
    def n_rows(self) -> int:
        return len(self.data_b)

    def rows_at(self, t: int) -> range:
        """Rows of ``PackedSequence.data`` the RNN processes together at step t."""
        return range(self.offsets[t], self.offsets[t] + self.batch_sizes[t])


def pack_layout(lengths) -> PackedLayout:
    """Where each token of a (B, T) right-padded batch lands in a PackedSequence.

    Packs a tensor of cell codes b*T + t with ``pack_padded_sequence(...,
    enforce_sorted=False)`` and decodes ``.data``, so the order shown is
    PyTorch's own. Lengths must all be >= 1 (PyTorch refuses empty sequences).
    """
    lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()
    if lengths.numel() == 0 or int(lengths.min()) < 1:
        raise ValueError("every sequence needs at least one token to be packed")
    B, T = len(lengths), int(lengths.max())
    codes = torch.arange(B * T, dtype=torch.long).view(B, T)  # (B, T) cell b*T + t
    packed = pack_padded_sequence(codes, lengths, batch_first=True, enforce_sorted=False)
    data = packed.data  # (N,)
    bs = packed.batch_sizes.tolist()
    offsets = [0]
    for s in bs[:-1]:
        offsets.append(offsets[-1] + s)
    return PackedLayout(
        lengths=lengths.tolist(), batch_sizes=bs,
        sorted_indices=packed.sorted_indices.tolist(), unsorted_indices=packed.unsorted_indices.tolist(),
        data_b=(data // T).tolist(), data_t=(data % T).tolist(), offsets=offsets,
    )


def pack(x: torch.Tensor, lengths: torch.Tensor):
    """(B, T, D) right-padded batch -> PackedSequence (lengths on the CPU, any order)."""
    return pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)


def unpack(packed, total_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PackedSequence -> ((B, T, *) zero-padded, lengths (B,)) in the original order."""
    return pad_packed_sequence(packed, batch_first=True, total_length=total_length)
