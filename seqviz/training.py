"""The one training loop of seqviz: models trained side by side on the same batches.

``Run(models, batch_fn, loss_fn, cfg)`` is every dashboard's training, recurrent pairs,
the TCN race (one ``Run`` per racer) and the attention models alike:

- ``batch_fn(gen) -> batch`` draws one batch, shared by all models of the run;
- ``loss_fn(model, batch) -> (loss tensor, {metric: float})`` scores one model on it;
- ``probe_fn(model) -> object`` (optional) runs every ``cfg.probe_every`` steps, before
  the update, and its result is kept in the model's history (the gradient-flow probes).

Each step makes one update per model (Adam or plain SGD, optional clipping of the global
gradient norm) and records loss, metrics, gradient norms and time in a bounded
``History``. ``train_loop`` calls a step function until a stop event, a step or time
limit, divergence (``Diverged``) or the step's own end (``Finished``). None of this knows
about widgets: dashboards run it in a thread and read ``History``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn


@dataclass
class TrainConfig:
    batch_size: int = 32  # B
    lr: float = 3e-3  # learning rate (may be changed while training: see Run.set_lr)
    optimizer: str = "adam"  # "adam" or "sgd" (plain SGD shows exploding gradients; Adam hides them)
    clip: float | None = None  # max global gradient norm; None = no clipping
    probe_every: int = 0  # run probe_fn every this many steps (0 = never)
    seed: int = 0  # seeds the batch stream (models are seeded when built)


class Diverged(RuntimeError):
    """Loss or gradient became NaN or infinite; ``args[0]`` names the model."""


class Finished(Exception):
    """Raised by a step function when there is nothing left to train; ``args[0]`` says why."""


class History:
    """What one model did, step by step, in bounded memory.

    Columns (numpy float arrays of equal length): ``step``, ``loss``, ``seconds`` (cumulative
    own training time) and one per metric (``accuracy``, ``grad_norm``, ``grad_norm_after``,
    ``alignment``...), read as attributes (``h.loss``) or ``h.metrics[name]``. Past ``cap``
    rows, every other row of the older part is dropped (the newest ``keep`` rows stay exact),
    so a long run keeps its shape at a fixed cost. Probe results (``probes``, with their
    ``probe_step``) are thinned past ``probe_cap`` (every other one of the older half).
    """

    BASE = ("step", "loss", "seconds")

    def __init__(self, cap: int = 6000, keep: int = 2000, probe_cap: int = 120):
        self.cap, self.keep, self.probe_cap = cap, keep, probe_cap
        self._cols: dict[str, np.ndarray] = {}
        self._n = 0
        self.probe_step: list[int] = []
        self.probes: list[Any] = []

    def __len__(self) -> int:
        return self._n

    def add(self, step: int, loss: float, dt: float, probe: Any = None, **metrics: float) -> None:
        """Record one update: its 1-based ``step``, ``loss``, wall time ``dt`` and metrics."""
        row = {"step": float(step), "loss": float(loss), "seconds": self.last("seconds", 0.0) + float(dt),
               **{k: float(v) for k, v in metrics.items()}}
        if self._n == 0 or self._n == len(next(iter(self._cols.values()))):
            self._grow(max(64, 2 * self._n))
        for k, v in row.items():
            if k not in self._cols:  # a metric that appears late: earlier rows have none
                self._cols[k] = np.full(len(next(iter(self._cols.values()))), np.nan)
            self._cols[k][self._n] = v
        for k in self._cols.keys() - row.keys():
            self._cols[k][self._n] = np.nan
        self._n += 1
        if probe is not None:
            self.probe_step.append(int(step))
            self.probes.append(probe)
            if len(self.probes) > self.probe_cap:
                old = len(self.probes) - self.probe_cap // 2
                self.probe_step = self.probe_step[:old:2] + self.probe_step[old:]
                self.probes = self.probes[:old:2] + self.probes[old:]
        if self._n > self.cap:
            self._thin()

    def _grow(self, size: int) -> None:
        if not self._cols:
            self._cols = {k: np.full(size, np.nan) for k in self.BASE}
            return
        for k, a in self._cols.items():
            b = np.full(size, np.nan)
            b[: self._n] = a[: self._n]
            self._cols[k] = b

    def _thin(self) -> None:
        """Keep, of the rows older than the newest ``keep``, those whose step is a multiple of the
        smallest power-of-two stride that leaves at most half the room: old rows stay evenly
        spaced, the newest stay exact."""
        old = self._n - self.keep
        steps = self._cols["step"][:old]
        stride = 2
        while np.count_nonzero(steps % stride == 0) > (self.cap - self.keep) // 2:
            stride *= 2
        idx = np.concatenate([np.flatnonzero(steps % stride == 0), np.arange(old, self._n)])
        for k, a in self._cols.items():
            kept = a[idx]
            a[: len(kept)] = kept
            a[len(kept):] = np.nan
        self._n = len(idx)

    def column(self, name: str) -> np.ndarray:
        """The recorded values of ``name`` (a view; empty before the first step)."""
        a = self._cols.get(name)
        return a[: self._n] if a is not None else np.zeros(0)

    def last(self, name: str, default: float | None = None) -> float | None:
        return float(self._cols[name][self._n - 1]) if self._n and name in self._cols else default

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        return {k: self.column(k) for k in self._cols if k not in self.BASE}

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        cols = self.__dict__.get("_cols", {})
        if name in cols or name in self.BASE:
            return self.column(name)
        raise AttributeError(f"History has no column {name!r} (has {', '.join(cols) or 'none yet'})")

    def running_mean(self, name: str, window: int) -> np.ndarray:
        """Mean of the last ``window`` values at every row (fewer at the start): the trend of a
        noisy per-batch curve. Thinned rows count as one value each."""
        x = self.column(name)
        if not len(x):
            return x
        c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
        n = np.arange(1, len(x) + 1)
        lo = np.maximum(n - window, 0)
        return (c[n] - c[lo]) / (n - lo)


def warm_up_optimizer() -> None:
    """Construct and step one throw-away Adam so that torch's one-time imports (torch._dynamo,
    1-4 s measured here) happen now (call it from a background thread while the page renders)."""
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p])
    p.grad = torch.zeros(1)
    opt.step()


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', not {name!r}")


def _grad_norm(params) -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.detach().norm() for p in params]))) if params else 0.0


class Run:
    """Models trained side by side on one batch stream. ``lock`` guards the models: hold it to
    read weights from another thread. ``cfg`` may be changed between steps (learning rate,
    clipping); ``set_optimizer`` swaps the optimizer."""

    def __init__(self, models: dict[str, nn.Module], batch_fn: Callable[[torch.Generator], Any],
                 loss_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, dict]], cfg: TrainConfig | None = None,
                 probe_fn: Callable[[str, nn.Module], Any] | None = None):
        self.cfg = cfg = cfg or TrainConfig()
        self.models, self.batch_fn, self.loss_fn, self.probe_fn = models, batch_fn, loss_fn, probe_fn
        self.gen = torch.Generator().manual_seed(int(cfg.seed))
        # Optimizers are made at the first update: torch's first optimizer imports
        # torch._dynamo (~1-4 s, measured), which need not delay showing a dashboard.
        self.opts: dict[str, torch.optim.Optimizer] = {}
        self.history = {k: History() for k in models}
        self.steps = 0
        self.lock = threading.RLock()

    def set_optimizer(self, name: str, lr: float) -> None:
        """Use optimizer ``name`` with learning rate ``lr`` from the next step on."""
        with self.lock:
            if name != self.cfg.optimizer:
                self.cfg.optimizer = name
                self.opts = {}
            self.cfg.lr = lr
            for opt in self.opts.values():
                for g in opt.param_groups:
                    g["lr"] = lr

    def _update(self, name: str, batch, probe: bool) -> None:
        model, cfg = self.models[name], self.cfg
        opt = self.opts.get(name)
        if opt is None:
            opt = self.opts[name] = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
        t0 = time.perf_counter()
        result = self.probe_fn(name, model) if probe else None
        opt.zero_grad(set_to_none=True)
        loss, metrics = self.loss_fn(model, batch)
        loss.backward()
        loss_v = float(loss.detach())
        params = [p for p in model.parameters() if p.grad is not None]
        gn = _grad_norm(params)
        gn_after = gn
        if cfg.clip is not None and math.isfinite(gn):
            nn.utils.clip_grad_norm_(params, cfg.clip)
            gn_after = _grad_norm(params)
        if not (math.isfinite(loss_v) and math.isfinite(gn)):
            raise Diverged(name)
        opt.step()
        self.history[name].add(self.steps + 1, loss_v, time.perf_counter() - t0, probe=result,
                               grad_norm=gn, grad_norm_after=gn_after, **metrics)

    def step(self) -> int:
        """One batch; each model makes one update. Raises ``Diverged`` on NaN/inf; returns the step count."""
        with self.lock:
            batch = self.batch_fn(self.gen)
            pe = self.cfg.probe_every
            probe = self.probe_fn is not None and bool(pe) and self.steps % pe == 0
            for k in self.models:
                self._update(k, batch, probe)
            self.steps += 1
            return self.steps

    def train(self, stop: threading.Event, on_step: Callable | None = None, max_steps: int | None = None,
              max_seconds: float | None = None) -> str:
        """``train_loop`` over this run's steps."""
        return train_loop(self.step, stop, on_step, max_steps, max_seconds)


def train_loop(step: Callable[[], object], stop: threading.Event, on_step: Callable | None = None,
               max_steps: int | None = None, max_seconds: float | None = None) -> str:
    """Call ``step()`` until ``stop`` is set, ``max_steps`` or ``max_seconds``, handing each
    result to ``on_step``; returns why it ended: "stopped", "max_steps", "max_seconds",
    "diverged: <model>" (``step`` raised ``Diverged``) or "finished: <why>" (``Finished``)."""
    t0 = time.perf_counter()
    n = 0
    while not stop.is_set():
        try:
            result = step()
        except Diverged as e:
            return f"diverged: {e.args[0]}"
        except Finished as e:
            return f"finished: {e.args[0] if e.args else ''}"
        n += 1
        if on_step is not None:
            on_step(result)
        if max_steps is not None and n >= max_steps:
            return "max_steps"
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            return "max_seconds"
    return "stopped"
