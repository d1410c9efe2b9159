"""The attention lesson's two set-ups, as runs of the one training loop (``seqviz.training.Run``):

- part 1, ``seq2seq_run``: an encoder-decoder with additive (Bahdanau) attention beside the same
  decoder without attention, teacher-forced on a toy translation task;
- part 2, ``lm_run``: a small transformer predicting the next character.

Presets (``PRESETS``) and the builders ``build_s2s`` / ``build_lm`` are what the dashboard and
the lesson call. Adam with the global gradient norm clipped at 1, as ``loop_config`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from seqviz.data.translation import CharData, TranslationConfig, TranslationTask
from seqviz.models.attention import (Seq2Seq, Seq2SeqConfig, TinyTransformer, TransformerConfig, build_seq2seq,
                                     build_transformer)
from seqviz.probes.attention import alignment_accuracy
from seqviz.training import Run, TrainConfig


def loop_config(batch_size: int = 64, lr: float = 3e-3, clip: float = 1.0, seed: int = 0) -> TrainConfig:
    """The attention runs' training settings: Adam, clipped at ``clip``."""
    return TrainConfig(batch_size=batch_size, lr=lr, optimizer="adam", clip=clip, seed=seed)


# -- the two set-ups of the lesson ------------------------------------------------
def seq2seq_run(task: TranslationTask, models: dict[str, Seq2Seq], cfg: TrainConfig | None = None) -> Run:
    """Teacher-forced cross-entropy; metrics: token accuracy, and alignment accuracy
    (share of output steps whose strongest attention lands on the source position
    that decides them) for models with attention."""
    cfg = cfg or loop_config()

    def batch_fn(gen):
        return task.sample(cfg.batch_size, gen)

    def loss_fn(model: Seq2Seq, b):
        logits, w = model(b.src, b.tgt)  # (B, T, V), (B, T, S)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b.tgt.reshape(-1))
        m = {"accuracy": float((logits.detach().argmax(-1) == b.tgt).float().mean())}
        if w is not None:
            m["alignment"] = alignment_accuracy(w.detach(), b.align)
        return loss, m

    return Run(models, batch_fn, loss_fn, cfg)


def lm_run(data: CharData, model: TinyTransformer, cfg: TrainConfig | None = None) -> Run:
    """Next-character prediction on windows of ``model.cfg.max_len`` characters."""
    cfg = cfg or loop_config(batch_size=32, lr=3e-3)
    T = model.cfg.max_len

    def batch_fn(gen):
        return data.batch(cfg.batch_size, T, gen)

    def loss_fn(m: TinyTransformer, b):
        x, y = b
        logits = m(x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, {"accuracy": float((logits.detach().argmax(-1) == y).float().mean())}

    return Run({"transformer": model}, batch_fn, loss_fn, cfg)


@dataclass
class AttentionPreset:
    task: TranslationConfig = field(default_factory=TranslationConfig)  # the toy translation task
    seq2seq: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)  # vocab is set from the task
    s2s_loop: TrainConfig = field(default_factory=loop_config)  # batches and optimiser of part 1
    transformer: TransformerConfig = field(default_factory=TransformerConfig)  # vocab is set from the text
    lm_loop: TrainConfig = field(default_factory=lambda: loop_config(batch_size=32, lr=3e-3))  # part 2
    seed: int = 0  # seeds the models (the loops seed the batches)


PRESETS = {
    # Reverse 4-12 letters; held-out alignment accuracy passes 90% after about 400-600 steps.
    "default": AttentionPreset(),
    # Bahdanau's own context c_i = sum_j alpha_ij h_j and y_(i-1) fed back: solves the task with a smeared alignment.
    "states": AttentionPreset(seq2seq=Seq2SeqConfig(values="states", feed_previous=True)),
    "date": AttentionPreset(task=TranslationConfig(task="date")),
}
# Offered only where seqviz.devices reports CUDA (``presets_for``, ``default_preset``): both models
# several times larger, the same heads (4) and window (32) so every pane reads the same. Not yet
# measured on a GPU (README "Training on a GPU").
GPU_PRESETS = {
    "gpu": AttentionPreset(seq2seq=Seq2SeqConfig(emb=64, hidden=256, attn=128),
                           s2s_loop=loop_config(batch_size=256),
                           transformer=TransformerConfig(d_model=128, n_heads=4, n_layers=4, ff=512),
                           lm_loop=loop_config(batch_size=128, lr=1e-3)),
}


def presets_for(device=None) -> dict[str, AttentionPreset]:
    """The presets offered on ``device``: the GPU ones only on CUDA."""
    from seqviz.devices import is_cuda

    return {**PRESETS, **GPU_PRESETS} if is_cuda(device) else dict(PRESETS)


def default_preset(device=None) -> str:
    """"gpu" on CUDA, else "default"."""
    from seqviz.devices import is_cuda

    return "gpu" if is_cuda(device) else "default"


def build_s2s(p: AttentionPreset, task_cfg: TranslationConfig | None = None, cell: str | None = None,
              device="cpu") -> tuple[TranslationTask, Run]:
    """The task and a run training the attention model beside the bottleneck one."""
    task = TranslationTask(task_cfg or p.task)
    base = replace(p.seq2seq, vocab=task.V, cell=cell or p.seq2seq.cell)
    models = {"attention": build_seq2seq(base, p.seed, device),
              "bottleneck": build_seq2seq(replace(base, attention=False), p.seed, device)}
    return task, seq2seq_run(task, models, p.s2s_loop)


def build_lm(p: AttentionPreset, data: CharData, device="cpu", **switches) -> Run:
    """A transformer for ``data``; ``switches`` override TransformerConfig fields (causal=False, ...)."""
    cfg = replace(p.transformer, vocab=len(data.vocab), **switches)
    return lm_run(data, build_transformer(cfg, p.seed, device), p.lm_loop)
