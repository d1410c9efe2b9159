"""A small training loop for several models on the same batches.

It reports through a callback and honours a stop flag; it knows nothing about
widgets. Updates always come from the fused kernels. Every ``probe_every`` steps,
before the update, the unrolled instrumented pass (``probe_gradients``) measures
the per-step gradient norms on ``probe_batch`` (a small fixed batch, so the
history compares like with like) or, without one, on the training batch. The
unrolled pass costs several fused steps (benchmarks/bench_gradflow.py), which is
why it runs on few sequences and only now and then.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from seqviz.data.tasks import Batch, Task
from seqviz.probes.gradients import GradientProbe, probe_gradients


@dataclass
class TrainConfig:
    T: int = 100  # nominal sequence length
    batch_size: int = 32  # B
    lr: float = 3e-3  # learning rate
    optimizer: str = "adam"  # "adam" or "sgd" (plain SGD shows exploding gradients; Adam hides them)
    clip: float | None = None  # max global gradient norm; None = no clipping
    tbptt: int | None = None  # truncated BPTT window k; None = full BPTT
    probe_every: int = 25  # run the instrumented pass every this many steps (0 = never)
    seed: int = 0  # seeds the batches (models are seeded when built)


@dataclass
class StepReport:
    name: str  # which model
    step: int  # 1-based update count
    loss: float
    accuracy: float
    grad_norm: float  # global gradient norm before clipping
    grad_norm_after: float  # after clipping (== grad_norm without clipping)
    seconds: float  # wall time of this update
    probe: GradientProbe | None = None


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    grad_norm_after: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # cumulative training time
    probe_step: list[int] = field(default_factory=list)
    probes: list[GradientProbe] = field(default_factory=list)

    def add(self, r: StepReport) -> None:
        self.step.append(r.step)
        self.loss.append(r.loss)
        self.accuracy.append(r.accuracy)
        self.grad_norm.append(r.grad_norm)
        self.grad_norm_after.append(r.grad_norm_after)
        self.seconds.append((self.seconds[-1] if self.seconds else 0.0) + r.seconds)
        if r.probe is not None:
            self.probe_step.append(r.step)
            self.probes.append(r.probe)


class Diverged(RuntimeError):
    """Loss or gradient became NaN or infinite."""


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


class Run:
    """Models trained side by side on the same batch stream.

    ``lock`` guards the models: hold it to read weights from another thread.
    """

    def __init__(self, models: dict[str, nn.Module], task: Task, cfg: TrainConfig,
                 device: torch.device | str = "cpu", probe_batch: Batch | None = None):
        self.models = models
        self.task = task
        self.cfg = cfg
        self.device = torch.device(device)
        self.gen = torch.Generator().manual_seed(int(cfg.seed))
        # Optimizers are made at the first update: torch's first optimizer imports
        # torch._dynamo (~1-2 s, measured), which need not delay showing a dashboard.
        self.opts: dict[str, torch.optim.Optimizer] = {}
        self.history = {k: History() for k in models}
        self.steps = 0
        self.probe_batch = probe_batch  # (B_probe, T, D) sequences the probes measure; None = training batch
        self.lock = threading.RLock()

    def next_batch(self) -> Batch:
        b = self.task.sample(self.cfg.batch_size, self.cfg.T, self.gen)
        return Batch(b.x.to(self.device), b.y.to(self.device), b.key_positions)

    def _update(self, name: str, batch: Batch, probe: bool) -> StepReport:
        model, cfg = self.models[name], self.cfg
        if name not in self.opts:
            self.opts[name] = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
        opt = self.opts[name]
        t0 = time.perf_counter()
        result = None
        if probe:
            result = probe_gradients(model, self.task, self.probe_batch or batch, tbptt=cfg.tbptt)
        opt.zero_grad(set_to_none=True)
        out = model(batch.x, tbptt=cfg.tbptt)
        loss = self.task.loss(out, batch.y)
        loss.backward()
        loss_v = float(loss.detach())
        params = [p for p in model.parameters() if p.grad is not None]
        if cfg.clip is not None:
            gn = float(nn.utils.clip_grad_norm_(params, cfg.clip))
            gn_after = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))
        else:
            gn = gn_after = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))
        if not (math.isfinite(loss_v) and math.isfinite(gn)):
            raise Diverged(name)
        opt.step()
        acc = self.task.accuracy(out.detach(), batch.y)
        return StepReport(name, self.steps + 1, loss_v, acc, gn, gn_after,
                          time.perf_counter() - t0, result)

    def step(self) -> list[StepReport]:
        """One batch; each model makes one update. Raises ``Diverged`` on NaN/inf."""
        with self.lock:
            batch = self.next_batch()
            pe = self.cfg.probe_every
            probe = bool(pe) and (self.steps % pe == 0)
            reports = [self._update(k, batch, probe) for k in self.models]
            self.steps += 1
            for r in reports:
                self.history[r.name].add(r)
            return reports

    def train(self, stop: threading.Event, on_step: Callable[[list[StepReport]], None] | None = None,
              max_steps: int | None = None, max_seconds: float | None = None) -> str:
        """Train until ``stop`` is set, ``max_steps`` or ``max_seconds``; returns why it ended:
        "stopped", "max_steps", "max_seconds" or "diverged: <model>"."""
        return train_loop(self.step, stop, on_step, max_steps, max_seconds)


def train_loop(step: Callable[[], object], stop: threading.Event, on_step: Callable | None = None,
               max_steps: int | None = None, max_seconds: float | None = None) -> str:
    """Call ``step()`` (which raises ``Diverged(model)`` on a NaN/inf loss) until ``stop`` is set,
    ``max_steps`` or ``max_seconds``, handing each result to ``on_step``; returns why it ended:
    "stopped", "max_steps", "max_seconds" or "diverged: <model>"."""
    t0 = time.perf_counter()
    n = 0
    while not stop.is_set():
        try:
            reports = step()
        except Diverged as e:
            return f"diverged: {e.args[0]}"
        n += 1
        if on_step is not None:
            on_step(reports)
        if max_steps is not None and n >= max_steps:
            return "max_steps"
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            return "max_seconds"
    return "stopped"
