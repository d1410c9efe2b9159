"""The one place that picks where seqviz computes, and says so in words.

Why threads matter: every Voila visitor is its own kernel process. Two torch
processes each spinning 2 OpenMP threads on a 2-core machine slowed a 7 ms step
to seconds (measured on a 2-core machine), so seqviz defaults to one thread
per process. ``SEQVIZ_THREADS`` overrides that for a lone user on a big machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Must happen before torch creates its OpenMP pool; harmless if torch is loaded.
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("SEQVIZ_THREADS", "1"))

import torch  # noqa: E402


@dataclass(frozen=True)
class DeviceInfo:
    device: torch.device  # where tensors live
    label: str  # what the dashboard shows, e.g. "CPU, 1 thread" or the GPU's name


def default_threads() -> int:
    """Threads per process: ``SEQVIZ_THREADS`` if set, else 1 (see module docstring)."""
    try:
        return max(1, int(os.environ.get("SEQVIZ_THREADS", "1")))
    except ValueError:
        return 1


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads for the *calling* thread (the setting is per thread).

    Call once at the start of every worker thread, not per step.
    """
    n = default_threads() if n is None else max(1, int(n))
    torch.set_num_threads(n)
    return n


def pick_device(prefer: str | None = None) -> DeviceInfo:
    """Pick ``cuda``, then ``mps``, then ``cpu``; ``prefer`` (or ``SEQVIZ_DEVICE``) forces one.

    Returns the device and a plain-words label for the dashboard.
    """
    prefer = (prefer or os.environ.get("SEQVIZ_DEVICE") or "").lower() or None
    if prefer in (None, "cuda") and torch.cuda.is_available():
        return DeviceInfo(torch.device("cuda"), f"GPU: {torch.cuda.get_device_name(0)}")
    mps = getattr(torch.backends, "mps", None)
    if prefer in (None, "mps") and mps is not None and mps.is_available():
        return DeviceInfo(torch.device("mps"), "Apple GPU (MPS)")
    n = torch.get_num_threads()
    return DeviceInfo(torch.device("cpu"), f"CPU, {n} thread{'s' if n != 1 else ''}")


def is_cuda(device: torch.device | str | None = None) -> bool:
    """Whether ``device`` (None: what ``pick_device`` picks) is a CUDA GPU: the test the GPU
    presets are offered on. ``pick_device()`` asks for the GPU's name, which starts CUDA: call
    it in a kernel, never in the fork server before it forks."""
    if device is None:
        device = pick_device().device
    return torch.device(device).type == "cuda"
