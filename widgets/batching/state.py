"""The batching dashboard's knobs, checked in the kernel (any browser can send any value).

Limits are declared once (``RANGES`` / ``CHOICES`` / ``TEXTS``) and checked by
``widgets.kit.CheckedState``; a corrected value leaves one sentence in ``corrections``.
"""

from __future__ import annotations

from dataclasses import fields

import traitlets as tl

from seqviz.data.text import SAMPLE_TEXT
from seqviz.experiments.batching import SceneConfig
from widgets.kit import CheckedState

MAX_TEXT = 20_000  # characters accepted from the browser; the rest is cut (and the user told)
SCENE_KNOBS = tuple(f.name for f in fields(SceneConfig))  # the knobs that change the data or its batches
HIDDEN_SIZES = (64, 128, 256)


class BatchingState(CheckedState):
    RANGES = {"n": (1, 2000, True), "max_len": (1, 400, True), "batch_size": (1, 256, True),
              "seed": (0, 1_000_000, True),
              "step": lambda s: (0, max(0, s.steps - 1), True)}  # the shown batch's time steps
    CHOICES = {"source": ("text", "random"), "level": ("word", "char"), "side": ("right", "left"),
               "dist": ("uniform", "heavy"), "hidden": HIDDEN_SIZES}
    TEXTS = {"text": MAX_TEXT}
    LABELS = {"n": "Sequences N", "max_len": "Longest", "batch_size": "Batch size B", "seed": "Seed",
              "step": "Packed step t", "hidden": "LSTM H", "source": "source", "level": "token level",
              "side": "side", "dist": "length distribution"}

    # tl.Any: NaN, text or a dict forged by a client reaches the check instead of failing in traitlets
    source = tl.Any("text")
    text = tl.Any(SAMPLE_TEXT)
    level = tl.Any("word")
    side = tl.Any("right")
    dist = tl.Any("heavy")
    n = tl.Any(256)
    max_len = tl.Any(120)
    batch_size = tl.Any(8)
    shrink = tl.Bool(False)
    seed = tl.Any(0)
    step = tl.Any(0)
    hidden = tl.Any(128)
    steps = tl.Int(400)  # derived: T of the shown batch (the view sets it), the step's range

    def config(self) -> SceneConfig:
        return SceneConfig(**{k: getattr(self, k) for k in SCENE_KNOBS})
