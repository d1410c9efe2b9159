"""Training loops for the attention lesson, in the style of ``seqviz.training``.

``seqviz.training.Run`` expects ``model(x) -> (B, T, n_out)`` on one input; an
encoder-decoder needs the source *and* the teacher-forced target, and reports
attention weights. So here a task is a pair of plain functions:

- ``batch_fn(gen) -> batch`` draws one batch (shared by all models of a run);
- ``loss_fn(model, batch) -> (loss tensor, {metric: float})``.

``AttentionRun.train`` honours a stop flag and reports through a callback, like
``Run.train``. ``lock`` guards the models: hold it to read weights from another thread.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqviz.data.translation import CharData, TranslationConfig, TranslationTask
from seqviz.models.attention import (Seq2Seq, Seq2SeqConfig, TinyTransformer, TransformerConfig, build_seq2seq,
                                     build_transformer)
from seqviz.probes.attention import alignment_accuracy
from seqviz.training import Diverged, train_loop


@dataclass
class LoopConfig:
    batch_size: int = 64  # B
    lr: float = 3e-3  # Adam learning rate
    clip: float = 1.0  # max global gradient norm
    seed: int = 0  # seeds the batch stream (models are seeded when built)


@dataclass
class Curve:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)  # cumulative training time

    def add(self, step: int, loss: float, metrics: dict[str, float], dt: float) -> None:
        self.step.append(step)
        self.loss.append(loss)
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append(v)
        self.seconds.append((self.seconds[-1] if self.seconds else 0.0) + dt)


class AttentionRun:
    """Models trained side by side on one batch stream (Adam, gradient clipping)."""

    def __init__(self, models: dict[str, nn.Module], batch_fn: Callable[[torch.Generator], Any],
                 loss_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, dict]], cfg: LoopConfig | None = None):
        self.cfg = cfg = cfg or LoopConfig()
        self.models, self.batch_fn, self.loss_fn = models, batch_fn, loss_fn
        self.gen = torch.Generator().manual_seed(int(cfg.seed))
        # Built on the first step: torch imports torch._dynamo (about 3.7 s here) the first
        # time any optimiser is constructed, which would delay the dashboard's first render.
        self.opts: dict[str, torch.optim.Optimizer] = {}
        self.history = {k: Curve() for k in models}
        self.steps = 0
        self.lock = threading.RLock()

    def step(self) -> dict[str, tuple[float, dict]]:
        """One batch, one update per model. Returns name -> (loss, metrics)."""
        with self.lock:
            batch = self.batch_fn(self.gen)
            out = {}
            for name, model in self.models.items():
                t0 = time.perf_counter()
                opt = self.opts.get(name)
                if opt is None:
                    opt = self.opts[name] = torch.optim.Adam(model.parameters(), lr=self.cfg.lr)
                opt.zero_grad(set_to_none=True)
                loss, metrics = self.loss_fn(model, batch)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), self.cfg.clip)
                opt.step()
                lv = float(loss.detach())
                self.history[name].add(self.steps + 1, lv, metrics, time.perf_counter() - t0)
                out[name] = (lv, metrics)
            self.steps += 1
            return out

    def train(self, stop: threading.Event, on_step: Callable[[dict], None] | None = None,
              max_steps: int | None = None, max_seconds: float | None = None) -> str:
        """Train until ``stop``, ``max_steps`` or ``max_seconds``; returns why it ended:
        "stopped", "max_steps", "max_seconds" or "diverged: <model>"."""
        return train_loop(self._checked_step, stop, on_step, max_steps, max_seconds)

    def _checked_step(self) -> dict:
        rep = self.step()
        bad = [k for k, (lv, _) in rep.items() if not math.isfinite(lv)]
        if bad:
            raise Diverged(bad[0])
        return rep


# -- the two set-ups of the lesson ------------------------------------------------
def seq2seq_run(task: TranslationTask, models: dict[str, Seq2Seq], cfg: LoopConfig | None = None) -> AttentionRun:
    """Teacher-forced cross-entropy; metrics: token accuracy, and alignment accuracy
    (share of output steps whose strongest attention lands on the source position
    that decides them) for models with attention."""
    cfg = cfg or LoopConfig()

    def batch_fn(gen):
        return task.sample(cfg.batch_size, gen)

    def loss_fn(model: Seq2Seq, b):
        logits, w = model(b.src, b.tgt)  # (B, T, V), (B, T, S)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b.tgt.reshape(-1))
        m = {"accuracy": float((logits.detach().argmax(-1) == b.tgt).float().mean())}
        if w is not None:
            m["alignment"] = alignment_accuracy(w.detach(), b.align)
        return loss, m

    return AttentionRun(models, batch_fn, loss_fn, cfg)


def lm_run(data: CharData, model: TinyTransformer, cfg: LoopConfig | None = None) -> AttentionRun:
    """Next-character prediction on windows of ``model.cfg.max_len`` characters."""
    cfg = cfg or LoopConfig(batch_size=32, lr=3e-3)
    T = model.cfg.max_len

    def batch_fn(gen):
        return data.batch(cfg.batch_size, T, gen)

    def loss_fn(m: TinyTransformer, b):
        x, y = b
        logits = m(x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, {"accuracy": float((logits.detach().argmax(-1) == y).float().mean())}

    return AttentionRun({"transformer": model}, batch_fn, loss_fn, cfg)


@dataclass
class AttentionPreset:
    task: TranslationConfig = field(default_factory=TranslationConfig)  # the toy translation task
    seq2seq: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)  # vocab is set from the task
    s2s_loop: LoopConfig = field(default_factory=LoopConfig)  # batches and optimiser of part 1
    transformer: TransformerConfig = field(default_factory=TransformerConfig)  # vocab is set from the text
    lm_loop: LoopConfig = field(default_factory=lambda: LoopConfig(batch_size=32, lr=3e-3))  # part 2
    seed: int = 0  # seeds the models (the loops seed the batches)


PRESETS = {
    # Reverse 4-12 letters; held-out alignment accuracy passes 90% after about 400-600 steps.
    "default": AttentionPreset(),
    # Bahdanau's own context c_i = sum_j alpha_ij h_j and y_(i-1) fed back: solves the task with a smeared alignment.
    "states": AttentionPreset(seq2seq=Seq2SeqConfig(values="states", feed_previous=True)),
    "date": AttentionPreset(task=TranslationConfig(task="date")),
}


def build_s2s(p: AttentionPreset, task_cfg: TranslationConfig | None = None, cell: str | None = None,
              device="cpu") -> tuple[TranslationTask, AttentionRun]:
    """The task and a run training the attention model beside the bottleneck one."""
    task = TranslationTask(task_cfg or p.task)
    base = replace(p.seq2seq, vocab=task.V, cell=cell or p.seq2seq.cell)
    models = {"attention": build_seq2seq(base, p.seed, device),
              "bottleneck": build_seq2seq(replace(base, attention=False), p.seed, device)}
    return task, seq2seq_run(task, models, p.s2s_loop)


def build_lm(p: AttentionPreset, data: CharData, device="cpu", **switches) -> AttentionRun:
    """A transformer for ``data``; ``switches`` override TransformerConfig fields (causal=False, ...)."""
    cfg = replace(p.transformer, vocab=len(data.vocab), **switches)
    return lm_run(data, build_transformer(cfg, p.seed, device), p.lm_loop)
