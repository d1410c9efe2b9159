"""The attention dashboard's knobs, checked in the kernel (any browser can send any value).

Integer knobs have upper limits that depend on the model and the text (``RANGES`` holds
callables): output step i and source step j on the source shown in part 1, layer and head on
the transformer, query i and key j on the text shown in part 2. The dashboard reports those
sizes with ``set_sizes``, which also pulls a knob back inside its new range (no sentence:
the text got shorter, nobody typed a wrong value).
"""

from __future__ import annotations

import traitlets as tl

from seqviz.data.translation import TASKS
from seqviz.models.attention import POSITIONS
from widgets.kit import CheckedState

TEXT_CAP = 200  # characters kept from typed text (source and text boxes)
SIZES = ("n_out", "n_src", "n_layers", "n_heads", "n_tokens")  # what the integer knobs' ranges depend on


def _upto(size: str):
    return lambda s: (0, max(getattr(s, size) - 1, 0), True)


class AttentionState(CheckedState):
    RANGES = {"out_i": _upto("n_out"), "src_j": _upto("n_src"), "layer": _upto("n_layers"),
              "head": _upto("n_heads"), "query": _upto("n_tokens"), "key": _upto("n_tokens")}
    CHOICES = {"task": TASKS, "cell": ("gru", "lstm"), "position": POSITIONS, "kind": ("qkv", "simple")}
    TEXTS = {"source": TEXT_CAP, "text": TEXT_CAP}
    LABELS = {"out_i": "Output step i", "src_j": "Source step j", "layer": "Layer", "head": "Head",
              "query": "Query token i", "key": "Key token j", "cell": "recurrent cell",
              "position": "position embedding", "kind": "attention kind"}

    # part 1: alignment
    task = tl.Any("reverse")
    cell = tl.Any("gru")
    source = tl.Any("abcdefgh")
    out_i = tl.Any(0)  # tl.Any: NaN or text from a client reach the check instead of failing
    src_j = tl.Any(0)
    # part 2: self-attention
    causal = tl.Bool(True)
    scaled = tl.Bool(True)
    position = tl.Any("learned")
    kind = tl.Any("qkv")
    text = tl.Any("Simple is better than complex.")
    layer = tl.Any(0)
    head = tl.Any(0)
    query = tl.Any(5)
    key = tl.Any(0)
    # sizes the ranges depend on (set by the dashboard, never by a client)
    n_out = tl.Int(8)
    n_src = tl.Int(8)
    n_layers = tl.Int(2)
    n_heads = tl.Int(4)
    n_tokens = tl.Int(32)

    def set_sizes(self, **sizes: int) -> None:
        """New sizes (``n_out=10``...); knobs past their new range move to its end, silently."""
        with self.hold_trait_notifications():
            for k, v in sizes.items():
                if k not in SIZES:
                    raise KeyError(k)
                setattr(self, k, max(int(v), 1))
        for name in self.RANGES:
            lo, hi, _ = self.limits(name)
            if getattr(self, name) > hi:
                setattr(self, name, hi)
