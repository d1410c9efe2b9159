"""Temporal convolutional network: stacked dilated 1-D convolutions with residual blocks.

A convolution with kernel size k and dilation d reads k inputs spaced d apart:
  y_t = b + sum_{j=0}^{k-1} W_j x_(t - (k-1-j) d)      (causal: left padding (k-1) d)
With *causal* padding all (k-1) d zeros go to the past side, so y_t never reads
x_s for s > t. With *centred* padding half of them go to the future side and the
layer looks both ways (fine for tagging a whole sequence, wrong for generation).

A residual block (Bai et al. 2018) is one or two such convolutions with the same
dilation, each followed by ReLU, plus a skip connection (a 1x1 convolution when
the channel counts differ): out = relu(conv_stack(x) + skip(x)). A linear head reads
every step. Normalisation and dropout are left out: they do not change which
inputs an output depends on, and the small tasks here train without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

PADDINGS = ("causal", "centred")


@dataclass
class TCNConfig:
    n_in: int = 2  # D, input features per step
    n_out: int = 1  # output features per step (linear head on every step)
    channels: int = 24  # C, channels of every hidden convolution
    kernel_size: int = 3  # k, taps per convolution
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # one dilation per residual block
    convs_per_block: int = 1  # 1 or 2 convolutions per residual block (Bai et al. use 2)
    padding: str = "causal"  # "causal" (all padding in the past) or "centred"


def pad_sides(kernel_size: int, dilation: int, padding: str) -> tuple[int, int]:
    """(left, right) zeros so that the output has the input's length T.

    Causal: ((k-1) d, 0). Centred: the (k-1) d zeros split, the extra one (odd
    total, even k) going to the future side, as PyTorch's ``padding="same"`` does.
    """
    total = (kernel_size - 1) * dilation
    if padding == "causal":
        return total, 0
    if padding == "centred":
        left = total // 2
        return left, total - left
    raise ValueError(f"padding must be one of {PADDINGS}, not {padding!r}")


class PaddedConv1d(nn.Module):
    """Conv1d on (B, C, T) that pads explicitly (no "chomp" of extra outputs needed)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, padding: str):
        super().__init__()
        self.pad = pad_sides(kernel_size, dilation, padding)
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pad))  # (B, C_in, T + left + right) -> (B, C_out, T)


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, n_convs: int, padding: str):
        super().__init__()
        convs = [PaddedConv1d(c_in, c_out, kernel_size, dilation, padding)]
        convs += [PaddedConv1d(c_out, c_out, kernel_size, dilation, padding) for _ in range(n_convs - 1)]
        self.convs = nn.ModuleList(convs)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C_in, T) -> (B, C_out, T)."""
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
        res = x if self.skip is None else self.skip(x)
        return torch.relu(h + res)


class TCN(nn.Module):
    """Residual blocks of dilated convolutions and a linear head at every step."""

    def __init__(self, cfg: TCNConfig):
        super().__init__()
        check_config(cfg)
        self.cfg = cfg
        blocks, c = [], cfg.n_in
        for d in cfg.dilations:
            blocks.append(ResidualBlock(c, cfg.channels, cfg.kernel_size, int(d), cfg.convs_per_block, cfg.padding))
            c = cfg.channels
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(cfg.channels, cfg.n_out)

    def forward(self, x: torch.Tensor, tbptt: int | None = None) -> torch.Tensor:
        """x (B, T, D) -> (B, T, n_out). ``tbptt`` is accepted and ignored: a TCN has no
        recurrence to truncate (so ``seqviz.training.Run`` can train it beside RNNs)."""
        h = x.transpose(1, 2)  # (B, D, T): Conv1d wants channels before time
        for block in self.blocks:
            h = block(h)  # (B, C, T)
        return self.head(h.transpose(1, 2))  # (B, T, C) -> (B, T, n_out)


def check_config(cfg: TCNConfig) -> None:
    """Raise ValueError with a sentence saying what to change."""
    if int(cfg.kernel_size) < 1:
        raise ValueError("kernel_size must be at least 1.")
    if not cfg.dilations:
        raise ValueError("A TCN needs at least one residual block (one dilation).")
    if any(int(d) < 1 for d in cfg.dilations):
        raise ValueError("Every dilation must be a whole number of at least 1.")
    if cfg.convs_per_block not in (1, 2):
        raise ValueError("convs_per_block must be 1 or 2.")
    if cfg.padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, not {cfg.padding!r}.")


def doubling(n_blocks: int, start: int = 1) -> tuple[int, ...]:
    """Dilations 1, 2, 4, ..., 2^(n-1) (times ``start``)."""
    return tuple(start * 2 ** i for i in range(int(n_blocks)))


def build_tcn(cfg: TCNConfig, seed: int, device: torch.device | str = "cpu") -> TCN:
    """Construct a TCN whose weights come from ``seed`` only (PyTorch's default init
    scheme, drawn from a private generator); same (cfg, seed) -> same weights."""
    with torch.random.fork_rng(devices=[]):  # nn.Conv1d's own init draws from global RNG: undo that
        model = TCN(cfg)
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                fan_in = m.weight[0].numel()  # C_in * k for a conv, features for a linear
                bound = fan_in ** -0.5  # PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                m.weight.uniform_(-bound, bound, generator=gen)
                m.bias.uniform_(-bound, bound, generator=gen)
    return model.to(device)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
