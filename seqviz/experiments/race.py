"""The race of the receptive-field lesson: a TCN against GRU, LSTM and tanh RNN.

``Race`` is plain logic (dashboards and benchmarks use it): one
``seqviz.training.Run`` per model, all seeded alike, so every model sees the
same batches in the same order. The CPU is time-shared: the next step always goes
to the racing model that has used the least compute so far, so all of them advance
at the same pace in own compute time (``History.seconds``, the fair clock on a
shared CPU) and they cross the line in the same order live as on the plot. A model
whose mean loss over its last ``WINDOW`` steps drops below the target is finished
and stops training, so the machine's time goes to the ones still racing.
``Race.step`` raises ``Finished`` when no model is racing any more (``ALL_FINISHED``)
or when the race's wall-clock budget is spent (``BUDGET``), so any ``train_loop`` over it
(a dashboard's training worker, or ``Race.train``) ends by itself. The wall clock counts
from step to step while training; ``pause_clock()`` (at the end of every training session)
keeps a pause out of it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import torch

from seqviz.data.tasks import get_task
from seqviz.models.recurrent import RecurrentConfig, build_recurrent
from seqviz.models.tcn import TCNConfig, build_tcn, count_parameters
from seqviz.probes.receptive import past_reach, receptive_field, required_reach, unseen_floor
from seqviz.experiments.gradflow import RecurrentSetup, recurrent_run
from seqviz.training import Diverged, Finished, TrainConfig, train_loop

WINDOW = 10  # steps averaged before a model counts as finished (and by the curves and table)
ALL_FINISHED = "all finished"  # Finished(...) when no model is racing any more
BUDGET = "time is up"  # Finished(...) when the wall-clock budget is spent


@dataclass
class RacePreset:
    task: str = "adding"  # "adding" or "copy"
    T: int = 100  # nominal length (copy memory's input is T + 20 long)
    batch_size: int = 32  # B, the same batches for every model
    lr: float = 1e-2  # Adam, the same for every model
    hidden: int = 32  # H of the GRU, LSTM and RNN
    forget_bias: float = 1.0  # LSTM b_f at init
    channels: int = 16  # C of the TCN (about the GRU/LSTM parameter count at H=32)
    target: float = 0.01  # a model is finished when its mean loss over WINDOW steps is below this
    budget_s: float = 60.0  # wall-clock seconds before the race stops by itself
    seed: int = 0  # seeds every model and the batch stream


RACE_PRESETS = {
    "Adding problem, T=100 (MSE < 0.01)": RacePreset(),
    "Copy memory, T=50 (cross-entropy < 0.02)": RacePreset(task="copy", T=50, target=0.02),
}
DEFAULT_RACE = next(iter(RACE_PRESETS))
# Offered only where seqviz.devices reports CUDA (``races_for``). Not yet measured on a GPU
# (README "Training on a GPU"); the TCN needs more blocks or a larger k to see 1000 steps back.
GPU_RACES = {
    "GPU: adding problem, T=1000, H=128 (MSE < 0.01)": RacePreset(T=1000, hidden=128, channels=64, batch_size=64,
                                                                   lr=3e-3),
}


def races_for(device: torch.device | str | None = None) -> dict[str, RacePreset]:
    """The races a dashboard offers on ``device``: the GPU ones only on CUDA."""
    from seqviz.devices import is_cuda

    return {**RACE_PRESETS, **GPU_RACES} if is_cuda(device) else dict(RACE_PRESETS)


class Race:
    """All four models, their Runs and where each stands. ``tcn_cfg`` gives the TCN's
    architecture; its n_in/n_out are set from the task."""

    def __init__(self, preset: RacePreset, tcn_cfg: TCNConfig, device: torch.device | str = "cpu"):
        self.preset = p = replace(preset)  # a copy: the shared presets stay untouched
        self.active = False  # inside train(): the table says "racing", else "paused"
        self.task = task = get_task(p.task)
        self.tcn_cfg = replace(tcn_cfg, n_in=task.n_in, n_out=task.n_out, channels=p.channels)
        models = {"tcn": build_tcn(self.tcn_cfg, p.seed, device)}
        for cell in ("gru", "lstm", "rnn"):
            rc = RecurrentConfig(cell=cell, n_in=task.n_in, hidden=p.hidden, n_out=task.n_out,
                                 forget_bias=p.forget_bias if cell == "lstm" else None)
            models[cell] = build_recurrent(rc, p.seed, device)
        tc = TrainConfig(batch_size=p.batch_size, lr=p.lr, seed=p.seed)
        setup = RecurrentSetup(task, p.T, None, None, torch.device(device))  # the TCN takes (B, T, D) alike
        self.runs = {k: recurrent_run({k: m}, setup, replace(tc)) for k, m in models.items()}
        self.params = {k: count_parameters(m) for k, m in models.items()}
        c = self.tcn_cfg  # what the TCN can see never changes: computed once
        self.rf = receptive_field(c.kernel_size, c.dilations, c.convs_per_block)
        self.past = past_reach(c.kernel_size, c.dilations, c.convs_per_block, c.padding)
        self.reach = required_reach(p.task, p.T)
        self.floor = unseen_floor(p.task, p.T, self.past)
        self.finished: dict[str, float] = {}  # model -> own seconds when it reached the target
        self.failed: dict[str, str] = {}  # model -> why it stopped early (diverged)
        self.wall = 0.0  # wall-clock seconds spent training (step to step; pauses left out)
        self.steps = 0  # updates made, all models together
        self.last: str | None = None  # the model that made the latest step
        self._mark: float | None = None  # perf_counter at the start of this session's latest step
        self._end = 0.0  # perf_counter at the end of the latest step

    def history(self, name: str):
        return self.runs[name].history[name]

    def mean_loss(self, name: str) -> float | None:
        loss = self.history(name).loss[-WINDOW:]
        return float(loss.mean()) if len(loss) else None

    @property
    def racing(self) -> list[str]:
        return [k for k in self.runs if k not in self.finished and k not in self.failed]

    # -- training --------------------------------------------------------------------------
    def own_seconds(self, name: str) -> float:
        return self.history(name).last("seconds", 0.0)

    @property
    def out_of_time(self) -> bool:
        return self.wall >= self.preset.budget_s

    def step(self) -> int:
        """One step of the racing model that has used the least compute so far; returns the
        number of updates made so far (all models). Raises ``Finished(ALL_FINISHED)`` when no
        model is racing any more and ``Finished(BUDGET)`` once the wall-clock budget is spent."""
        now = time.perf_counter()
        if self._mark is not None:
            self.wall += now - self._mark
        self._mark = now
        if not self.racing:
            raise Finished(ALL_FINISHED)
        if self.out_of_time:
            raise Finished(BUDGET)
        k = min(self.racing, key=self.own_seconds)
        try:
            self.runs[k].step()
        except Diverged:
            self.failed[k] = "loss became NaN or infinite"
        else:
            m = self.mean_loss(k)
            if len(self.history(k)) >= WINDOW and m is not None and m < self.preset.target:
                self.finished[k] = self.own_seconds(k)
        self.steps += 1
        self.last = k
        self._end = time.perf_counter()
        return self.steps

    def pause_clock(self) -> None:
        """A training session ended: its last step counts, the time until the next one does not."""
        if self._mark is not None:
            self.wall += max(0.0, self._end - self._mark)
        self._mark = None

    def train(self, stop: threading.Event, on_step=None, budget_s: float | None = None) -> str:
        """Until ``stop``, every model finished, or the wall-clock budget (counted over every
        call); returns "stopped", "all finished" or "budget"."""
        budget = self.preset.budget_s
        if budget_s is not None:
            self.preset.budget_s = budget_s
        self.active = True
        try:
            why = train_loop(self.step, stop, (lambda _: on_step()) if on_step is not None else None)
        finally:
            self.active = False
            self.pause_clock()
            self.preset.budget_s = budget
        return {f"finished: {BUDGET}": "budget", f"finished: {ALL_FINISHED}": "all finished"}.get(why, "stopped")

    def verdict(self, name: str, running: bool | None = None) -> str:
        """What the table says about ``name``; ``running``: is the race training right now
        (default: inside ``train``)."""
        running = self.active if running is None else running
        if name in self.finished:
            return f"reached target at {self.finished[name]:.1f} s"
        if name in self.failed:
            return self.failed[name]
        if name == "tcn" and self.past < self.reach:
            return f"cannot: sees {self.past} of the {self.reach} inputs it needs"
        if not len(self.history(name)):
            return "not started"
        if self.out_of_time:
            return f"stopped: the race's {self.preset.budget_s:.0f} s are up"
        return "racing" if running else "paused: press Train to go on"
