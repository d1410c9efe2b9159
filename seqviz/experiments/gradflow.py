"""The gradient-flow experiment: an RNN and an LSTM (or GRU) on the same task,
batches and seed, with presets chosen by measuring them (see benchmarks/).

``GradFlowConfig`` holds every knob of the dashboard; ``build_gradflow_run``
turns it into a ``seqviz.training.Run`` whose ``setup`` (a ``RecurrentSetup``) holds
the task, T, the truncation window and the fixed probe batch. The lesson notebooks
call these too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqviz.data.tasks import Batch, get_task
from seqviz.devices import is_cuda, pick_device
from seqviz.models.recurrent import RecurrentConfig, build_recurrent
from seqviz.data.tasks import Task
from seqviz.probes.gradients import probe_gradients
from seqviz.training import Run, TrainConfig


@dataclass
class GradFlowConfig:
    task: str = "adding"  # "adding", "copy" or "recall" (seqviz.data.tasks)
    T: int = 100  # sequence length (10-200)
    hidden: int = 32  # H, hidden units of both models
    other: str = "lstm"  # the gated model beside the RNN: "lstm" or "gru"
    activation: str = "tanh"  # the RNN's nonlinearity: "tanh" or "relu"
    radius: float = 0.6  # spectral radius of the RNN's W_hh at init (PyTorch's default init gives ~0.58)
    forget_bias: float = 1.0  # LSTM forget-gate bias b_f at init, exactly (0: f ~ 0.5; PyTorch itself draws it at random)
    optimizer: str = "adam"  # "adam" or "sgd" (SGD shows explosions that Adam hides)
    lr: float = 1e-2  # learning rate
    clip: float | None = None  # gradient-norm clipping threshold; None = off
    tbptt: int | None = None  # truncated BPTT window k; None = full BPTT
    batch_size: int = 32  # B
    probe_every: int = 25  # instrumented (unrolled, float64) pass every this many steps
    seed: int = 0  # seeds the weights and the batches


# Measured on 2 CPU cores (benchmarks/bench_gradflow.py prints the times, bench_presets.py the stories).
#
# Exploding: a tanh RNN whose gradient really grows backwards through the recurrence at init
# (rho = 2.5, T = 100, H = 32: ||dL/dh_0|| / ||dL/dh_99|| = 1.7e5 to 4.5e10 over seeds 0-4; at
# rho = 1.5 saturation makes it vanish instead, 1e-4). The first update's gradient norm is ~1e6;
# with plain SGD at 0.1 it moves W_hh from norm 12.5 to ~1.6e5, every unit then saturates at +-1,
# and the read-out's SGD steps, now too large for such states, blow the loss up to NaN at step
# 27-34 (seeds 0-4). Clipping at 1, or truncated BPTT with k = 1 (no gradient through time: the
# first update's norm is ~10), keeps the same run finite for 300 steps (seeds 0-4).
EXPLODING = dict(radius=2.5, optimizer="sgd", lr=0.1, T=100, probe_every=5)
# The class preset (issue 17): the vanishing story for a crowded machine, started by itself there
# (seqviz.crowd; widgets.gradient_flow.dashboard). The smallest tried that still tells it on seeds
# 0-4 (benchmarks/bench_class.py train --preset class; README): T = 40, H = 16, B = 32, Adam 3e-2:
# the LSTM's mean-of-50 MSE < 0.01 at step 438 / 618 / 583 / 520 / 733 while the RNN is at
# 0.170-0.179 (baseline 1/6) and stays there for 4000 steps (seeds 0, 1: 0.172-0.182 per 500
# steps). Each step is about 1/9 of the default's multiply-adds but, torch's per-operation cost
# dominating at this size, about half its CPU time (2.95 vs 6.24 ms, one thread): the story costs
# about 1/7 of the default's CPU time (1457 steps). Tried and rejected: T = 20 (seed 1: the RNN
# solves it too, MSE 0.03), H = 8 (the LSTM misses the story in 2000 steps), B = 8 at T = 30 (seed 1 too).
CLASS_PRESET = "Class preset: the same story at T = 40, H = 16 (for a crowded machine)"
CLASS = GradFlowConfig(T=40, hidden=16, batch_size=32, lr=3e-2)
PRESETS: dict[str, GradFlowConfig] = {
    "Vanishing: the RNN forgets, the LSTM remembers": GradFlowConfig(),
    CLASS_PRESET: CLASS,
    "LSTM with forget bias 0 (belt half shut)": GradFlowConfig(forget_bias=0.0),
    "Exploding: ρ = 2.5, plain SGD, no clipping": GradFlowConfig(**EXPLODING),
    "Exploding, tamed by gradient clipping": GradFlowConfig(**EXPLODING, clip=1.0),
    "Exploding, but no gradient through time (truncated BPTT, k = 1)": GradFlowConfig(**EXPLODING, tbptt=1),
    "Truncated BPTT (k = 20): the first token is out of reach": GradFlowConfig(
        task="recall", T=50, tbptt=20),
    "Recall the first token: where the textbook story fails": GradFlowConfig(
        task="recall", T=50, forget_bias=0.0),
}
DEFAULT_PRESET = next(iter(PRESETS))

# Offered only where seqviz.devices reports CUDA (``presets_for``): what a laptop cannot do in the
# same seconds. Chosen from the CPU presets' stories, NOT yet measured on a GPU (README "Training
# on a GPU": benchmarks/gpu_session.sh measures them). Adam at 3e-3 rather than 1e-2: H = 256.
GPU_PRESETS: dict[str, GradFlowConfig] = {
    "GPU: adding problem at T = 1000, H = 256 (the RNN forgets over 1000 steps)": GradFlowConfig(
        T=1000, hidden=256, lr=3e-3, probe_every=50),
    "GPU: recall the first token at T = 500, H = 256": GradFlowConfig(
        task="recall", T=500, hidden=256, lr=3e-3, probe_every=50),
}
LIMITS = {"cpu": (200, 128), "cuda": (1000, 256)}  # the dashboard's largest T and H


def presets_for(device: torch.device | str | None = None) -> dict[str, GradFlowConfig]:
    """The presets a dashboard offers on ``device``: the GPU ones only on CUDA."""
    return {**PRESETS, **GPU_PRESETS} if is_cuda(device) else dict(PRESETS)


def limits_for(device: torch.device | str | None = None) -> tuple[int, int]:
    """(largest T, largest H) a dashboard offers on ``device``."""
    return LIMITS["cuda" if is_cuda(device) else "cpu"]


def model_configs(cfg: GradFlowConfig) -> dict[str, RecurrentConfig]:
    task = get_task(cfg.task)
    base = dict(n_in=task.n_in, hidden=cfg.hidden, n_out=task.n_out)
    return {
        "rnn": RecurrentConfig(cell="rnn", activation=cfg.activation, w_hh_radius=cfg.radius, **base),
        cfg.other: RecurrentConfig(cell=cfg.other, forget_bias=cfg.forget_bias if cfg.other == "lstm" else None,
                                   **base),
    }


@dataclass
class RecurrentSetup:
    """What the recurrent runs read at every step (changeable between steps: ``tbptt``)."""
    task: Task
    T: int  # nominal sequence length
    tbptt: int | None  # truncated BPTT window k; None = full BPTT
    probe_batch: Batch | None  # the fixed small batch the probes measure; None = the training batch
    device: torch.device


def train_config(cfg: GradFlowConfig) -> TrainConfig:
    return TrainConfig(batch_size=cfg.batch_size, lr=cfg.lr, optimizer=cfg.optimizer, clip=cfg.clip,
                       probe_every=cfg.probe_every, seed=cfg.seed)


def probe_batch(cfg: GradFlowConfig, n: int = 8, device: torch.device | str = "cpu") -> Batch:
    """The fixed small batch the probes and the belt view look at (its own seed stream)."""
    b = get_task(cfg.task).sample(n, cfg.T, torch.Generator().manual_seed(cfg.seed + 10_007))
    return Batch(b.x.to(device), b.y.to(device), b.key_positions)


def recurrent_run(models: dict, setup: RecurrentSetup, tc: TrainConfig) -> Run:
    """A ``Run`` of recurrent models on ``setup.task``: fused forward with ``setup.tbptt``,
    the task's loss and accuracy, and (every ``tc.probe_every`` steps) per-step gradient norms
    on the probe batch. The run keeps ``setup`` as ``run.setup``."""
    task = setup.task

    def batch_fn(gen):
        b = task.sample(tc.batch_size, setup.T, gen)
        return Batch(b.x.to(setup.device), b.y.to(setup.device), b.key_positions)

    def loss_fn(model, b):
        out = model(b.x, tbptt=setup.tbptt)  # (B, T, n_out)
        return task.loss(out, b.y), {"accuracy": task.accuracy(out.detach(), b.y)}

    def probe_fn(_name, model):
        return probe_gradients(model, task, setup.probe_batch, tbptt=setup.tbptt)

    run = Run(models, batch_fn, loss_fn, tc, probe_fn=probe_fn if setup.probe_batch is not None else None)
    run.setup = setup
    return run


def build_gradflow_run(cfg: GradFlowConfig, device: torch.device | None = None, n_probe: int = 8) -> Run:
    """The RNN and ``cfg.other`` with the same seed, trained on the same batches;
    probes measure a fixed batch of ``n_probe`` sequences."""
    device = device or pick_device().device
    models = {name: build_recurrent(mc, seed=cfg.seed, device=device) for name, mc in model_configs(cfg).items()}
    setup = RecurrentSetup(get_task(cfg.task), cfg.T, cfg.tbptt, probe_batch(cfg, n_probe, device), device)
    return recurrent_run(models, setup, train_config(cfg))


def per_step_gradient_norms(cell: str = "rnn", T: int = 100, hidden: int = 32, radius: float = 0.6,
                            forget_bias: float = 1.0, task: str = "adding", batch_size: int = 32,
                            seed: int = 0) -> dict[str, np.ndarray]:
    """||dL/dh_t|| (and ||dL/dc_t|| for an LSTM) at initialisation, t = 0..T-1 (float64 probe).

    The one-line experiment the lessons show: try ``radius=1.5`` or ``cell="lstm"``.
    """
    t = get_task(task)
    mc = RecurrentConfig(cell=cell, n_in=t.n_in, hidden=hidden, n_out=t.n_out,
                         w_hh_radius=radius if cell == "rnn" else None,
                         forget_bias=forget_bias if cell == "lstm" else None)
    model = build_recurrent(mc, seed=seed)
    batch = t.sample(batch_size, T, torch.Generator().manual_seed(seed))
    p = probe_gradients(model, t, batch)
    out = {"dL/dh_t": p.h_norms}
    if p.c_norms is not None:
        out["dL/dc_t"] = p.c_norms
    return out

