"""The gradient-flow dashboard's knobs, checked (any browser can send any value), and the
``GradFlowConfig`` they describe."""

from __future__ import annotations

import traitlets as tl

from seqviz.data.tasks import TASKS
from seqviz.devices import pick_device
from seqviz.experiments import DEFAULT_PRESET, GradFlowConfig, limits_for, presets_for
from widgets.kit import CheckedState

# The presets and limits this kernel offers: the GPU ones (T to 1000, H to 256) only on CUDA.
PRESETS = presets_for(pick_device().device)
T_MAX, H_MAX = limits_for(pick_device().device)

N_SHOWN = 8  # sequences in the fixed batch the probes and the belt view look at
MODEL_KNOBS = ("task", "T", "hidden", "other", "activation", "radius", "forget_bias", "seed")  # rebuild both models
LIVE_KNOBS = ("optimizer", "lr", "clip_on", "clip", "tbptt_on", "tbptt")  # apply to the running training
CONFIG_FIELDS = ("task", "T", "hidden", "other", "activation", "radius", "forget_bias", "optimizer", "lr", "seed")


class GradientFlowState(CheckedState):
    RANGES = {"T": (10, T_MAX, True), "hidden": (4, H_MAX, True), "radius": (0.1, 3.0, False),
              "forget_bias": (-3.0, 5.0, False), "lr": (1e-4, 1.0, False), "clip": (0.01, 100.0, False),
              "tbptt": (1, T_MAX, True), "seed": (0, 1_000_000, True), "seq_index": (0, N_SHOWN - 1, True)}
    CHOICES = {"task": tuple(TASKS), "other": ("lstm", "gru"), "activation": ("tanh", "relu"),
               "optimizer": ("adam", "sgd"), "preset": tuple(PRESETS)}
    LABELS = {"T": "Length T", "hidden": "Hidden units H", "radius": "RNN ρ(W_hh) at init",
              "forget_bias": "LSTM forget bias", "lr": "Learning rate", "clip": "Clipping threshold",
              "tbptt": "Truncation window k", "seed": "Seed", "seq_index": "Sequence shown", "task": "task",
              "other": "model beside the RNN", "activation": "RNN activation", "optimizer": "optimizer",
              "preset": "preset"}

    preset = tl.Unicode(DEFAULT_PRESET)
    task = tl.Unicode("adding")
    T = tl.Any(100)  # tl.Any: NaN or text from a client reaches the check instead of failing
    hidden = tl.Any(32)
    other = tl.Unicode("lstm")
    activation = tl.Unicode("tanh")
    radius = tl.Any(0.6)
    forget_bias = tl.Any(1.0)
    optimizer = tl.Unicode("adam")
    lr = tl.Any(1e-2)
    clip_on = tl.Bool(False)
    clip = tl.Any(1.0)
    tbptt_on = tl.Bool(False)
    tbptt = tl.Any(30)
    seed = tl.Any(0)
    seq_index = tl.Any(0)

    def config(self) -> GradFlowConfig:
        """The experiment the knobs describe (the preset's own settings beyond the knobs kept)."""
        base = PRESETS.get(self.preset, GradFlowConfig())
        return GradFlowConfig(**{**base.__dict__, **{k: getattr(self, k) for k in CONFIG_FIELDS},
                                 "clip": self.clip if self.clip_on else None,
                                 "tbptt": self.tbptt if self.tbptt_on else None})

    def load(self, cfg: GradFlowConfig) -> None:
        """Every knob from ``cfg``, one at a time: each is checked as it is set (inside
        ``hold_trait_notifications`` a bad value would be checked against itself as the value to
        keep, so a NaN would stay)."""
        for k in CONFIG_FIELDS:
            setattr(self, k, getattr(cfg, k))
        if cfg.clip is not None:
            self.clip = cfg.clip
        if cfg.tbptt is not None:
            self.tbptt = cfg.tbptt
        self.clip_on, self.tbptt_on = cfg.clip is not None, cfg.tbptt is not None
