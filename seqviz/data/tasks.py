"""Seeded synthetic long-range tasks.

Each task makes batches ``x`` (B, T_in, D) and targets ``y``, states its loss
and a *trivial baseline* (the loss of the best input-blind predictor), and says
which input positions decide the answer (``key_positions``) so a figure can mark
them. ``baselines(T)`` lists, with the trivial one, every loss a model reaches
without the long-range memory the task is about (a line a curve may stop at), each
with a one-line reason. Every generator takes a ``torch.Generator``; nothing reads
global RNG state.

- adding: Bai et al. 2018 / Le et al. 2015. Two channels: U(0,1) values and a
  marker channel with one 1 in each half; target is the sum of the two marked
  values. Predicting 1 gives MSE = Var(U+U) = 1/6; remembering only the second
  marked value (in the second half, nearer the end) and predicting it + 1/2 gives
  MSE = Var(U) = 1/12.
- copy: Bai et al. 2018 copy memory. Length T+20: ten digits 1-8, T-1 zeros, then
  eleven 9s (the first is the delimiter); output zeros, then the ten digits.
  Baseline cross-entropy 10 ln 8 / (T+20). No intermediate line: all ten digits
  are at the start, at least T+1 steps before they are asked for.
- recall: "I grew up in France ... I speak fluent French". The first token names
  one of K classes, T-1 filler tokens follow, and the answer at the last step is
  that class. Baseline ln K; no intermediate line (the filler carries nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Baseline:
    """A loss a model reaches without the task's long-range memory."""

    name: str  # what the predictor knows, e.g. "input-blind"
    loss: float
    why: str  # one line: the predictor and where the number comes from
    accuracy: float | None = None  # the task's accuracy for that predictor, when stated

    @property
    def label(self) -> str:
        return self.name


@dataclass
class Batch:
    x: torch.Tensor  # (B, T_in, D) float inputs
    y: torch.Tensor  # adding: (B,) float; recall: (B,) long; copy: (B, T_in) long
    key_positions: torch.Tensor  # (B, n_keys) long: input steps that decide the answer


class Task:
    """Interface: ``sample``, ``loss``, ``accuracy``, ``baseline_loss``."""

    name = "task"
    n_in = 1  # D, input features per step
    n_out = 1  # output features per step
    seq2seq = False  # True: loss at every step; False: loss at the last step only
    metric = "loss"

    def seq_len(self, T: int) -> int:
        """Input length for a task of nominal length T."""
        return T

    def sample(self, B: int, T: int, gen: torch.Generator) -> Batch:
        raise NotImplementedError

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``out`` (B, T_in, n_out) -> scalar loss."""
        raise NotImplementedError

    def accuracy(self, out: torch.Tensor, y: torch.Tensor) -> float:
        raise NotImplementedError

    def baseline_loss(self, T: int) -> float:
        raise NotImplementedError

    def baseline_accuracy(self, T: int) -> float:
        raise NotImplementedError

    def baselines(self, T: int) -> list[Baseline]:
        """The trivial (input-blind) baseline first, then any intermediate ones."""
        return [Baseline("input-blind", self.baseline_loss(T), self.blind_why(T), self.baseline_accuracy(T))]

    def blind_why(self, T: int) -> str:
        return "the best prediction that ignores the input"


class AddingProblem(Task):
    name = "adding"
    n_in = 2
    n_out = 1
    metric = "MSE"
    tolerance = 0.04  # Hochreiter & Schmidhuber's "solved" criterion per sequence

    def sample(self, B: int, T: int, gen: torch.Generator) -> Batch:
        if T < 2:
            raise ValueError("The adding problem needs T of at least 2.")
        values = torch.rand(B, T, generator=gen)  # (B, T)
        half = T // 2
        first = torch.randint(0, half, (B,), generator=gen)  # (B,)
        second = torch.randint(half, T, (B,), generator=gen)  # (B,)
        marks = torch.zeros(B, T)
        rows = torch.arange(B)
        marks[rows, first] = 1.0
        marks[rows, second] = 1.0
        x = torch.stack([values, marks], dim=-1)  # (B, T, 2)
        y = values[rows, first] + values[rows, second]  # (B,)
        return Batch(x, y, torch.stack([first, second], dim=1))

    def loss(self, out, y):
        return F.mse_loss(out[:, -1, 0], y)

    def accuracy(self, out, y):
        return float(((out[:, -1, 0] - y).abs() < self.tolerance).float().mean())

    def baseline_loss(self, T):
        return 1.0 / 6.0

    def baseline_accuracy(self, T):
        # P(|U1 + U2 - 1| < tol) for the constant prediction 1 (triangular density).
        return 1.0 - (1.0 - self.tolerance) ** 2

    def blind_why(self, T):
        return "always 1, the mean of the sum: MSE = Var(U1 + U2) = 1/6"

    def baselines(self, T):
        return super().baselines(T) + [Baseline(
            "second number only", 1.0 / 12.0,
            "remembers only the second marked number (second half, nearer the end) and adds 1/2: "
            "MSE = Var(U1) = 1/12", 2 * self.tolerance)]


class CopyMemory(Task):
    name = "copy"
    n_in = 10  # one-hot digits 0-9
    n_out = 10
    seq2seq = True
    metric = "cross-entropy"
    n_copy = 10

    def seq_len(self, T):
        return T + 2 * self.n_copy

    def sample(self, B, T, gen):
        if T < 1:
            raise ValueError("Copy memory needs T of at least 1.")
        L = self.seq_len(T)
        digits = torch.randint(1, 9, (B, self.n_copy), generator=gen)  # (B, 10)
        tokens = torch.zeros(B, L, dtype=torch.long)
        tokens[:, : self.n_copy] = digits
        tokens[:, -(self.n_copy + 1):] = 9  # delimiter and recall cue
        y = torch.zeros(B, L, dtype=torch.long)
        y[:, -self.n_copy:] = digits
        x = F.one_hot(tokens, self.n_in).float()  # (B, L, 10)
        keys = torch.arange(self.n_copy).expand(B, -1)
        return Batch(x, y, keys)

    def loss(self, out, y):
        return F.cross_entropy(out.reshape(-1, self.n_out), y.reshape(-1))

    def accuracy(self, out, y):
        # Share of the ten recalled digits that are right (the only hard part).
        pred = out[:, -self.n_copy:].argmax(-1)
        return float((pred == y[:, -self.n_copy:]).float().mean())

    def baseline_loss(self, T):
        return self.n_copy * math.log(8) / self.seq_len(T)

    def baseline_accuracy(self, T):
        return 1.0 / 8.0

    def blind_why(self, T):
        return "0 until the cue, then uniform over the digits 1-8: 10 ln 8 / (T + 20)"


class FirstTokenRecall(Task):
    name = "recall"
    n_classes = 4  # K: "France", "Spain", ...
    n_filler = 6  # tokens that carry no information
    n_in = n_classes + n_filler
    n_out = n_classes
    metric = "cross-entropy"

    def sample(self, B, T, gen):
        if T < 2:
            raise ValueError("The recall task needs T of at least 2.")
        cls = torch.randint(0, self.n_classes, (B,), generator=gen)  # (B,)
        filler = torch.randint(self.n_classes, self.n_in, (B, T - 1), generator=gen)
        tokens = torch.cat([cls[:, None], filler], dim=1)  # (B, T)
        x = F.one_hot(tokens, self.n_in).float()  # (B, T, K + filler)
        return Batch(x, cls, torch.zeros(B, 1, dtype=torch.long))

    def loss(self, out, y):
        return F.cross_entropy(out[:, -1], y)

    def accuracy(self, out, y):
        return float((out[:, -1].argmax(-1) == y).float().mean())

    def baseline_loss(self, T):
        return math.log(self.n_classes)

    def baseline_accuracy(self, T):
        return 1.0 / self.n_classes

    def blind_why(self, T):
        return f"uniform over the {self.n_classes} classes: ln {self.n_classes}"


TASKS: dict[str, Task] = {t.name: t for t in (AddingProblem(), CopyMemory(), FirstTokenRecall())}
TASK_LABELS = {
    "adding": "Adding problem (regression)",
    "copy": "Copy memory (recall 10 digits)",
    "recall": "Recall the first token (\"... fluent French\")",
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASKS)}.") from None
