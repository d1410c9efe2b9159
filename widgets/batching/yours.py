"""The batching dashboard on the student's own sequences, from Python (JupyterLab only).

``yours(sequences, level="word")``: a list of sentences (str), or a list of 1-D tensors / lists of
token ids of different lengths (``seqviz.yours.data.check_sequences`` says in one sentence why one
does not fit). Sentences go through the dashboard's own text path (they appear in its sentences box,
one a line, and can be edited there); token ids are batched as they are: the padded batch is
``torch.nn.utils.rnn.pad_sequence`` of the first B of them, and the "Sequences" toggle gets one more
choice, "your ids", so the random lengths stay one click away.
"""

from __future__ import annotations

from typing import Any

from seqviz.experiments.batching import make_scene
from seqviz.yours.data import Sequences, check_sequences
from seqviz.yours.fit import DoesNotFit
from widgets.batching.state import SCENE_KNOBS, BatchingState
from widgets.batching.view import BatchingDashboard, make_controls
from widgets.kit.yours import your_model_entry

YOURS = "yours"  # the source of the student's token ids


class YourBatchingState(BatchingState):
    CHOICES = {**BatchingState.CHOICES, "source": ("text", "random", YOURS)}


class YourBatchingDashboard(BatchingDashboard):
    """``BatchingDashboard`` with the student's token-id sequences as one more source."""

    def __init__(self, seqs: Sequences, state: YourBatchingState, **kwargs):
        self.yours = seqs
        super().__init__(state, **kwargs)

    def make_controls(self):
        c = make_controls()
        c["source"].options = [*c["source"].options, ("your ids", YOURS)]
        return c

    def make_scene(self):
        if self.state.source != YOURS:
            return super().make_scene()
        scene = make_scene(self.state.config(), previous=self.scene, given=(self.yours.ids, self.yours.vocab_words))
        scene.notes[:0] = self.yours.notes
        return scene

    def _visibility(self) -> None:
        super()._visibility()
        if self.state.source == YOURS:  # neither the text box nor the length distribution applies
            for k in ("text", "level", "dist", "n", "max_len"):
                self.c[k].layout.display = "none"


def _state(cls, knobs: dict, **fixed):
    known = (*SCENE_KNOBS, "hidden", "step")
    unknown = sorted(set(knobs) - set(known) | set(knobs) & set(fixed))
    if unknown:
        raise DoesNotFit(f"Unknown setting(s) {', '.join(unknown)} here; choose from "
                         f"{', '.join(k for k in known if k not in fixed)}.")
    state = cls()
    for k, v in {**fixed, **knobs}.items():
        setattr(state, k, v)
    return state


@your_model_entry
def yours(sequences: Any, level: str = "word", **knobs) -> BatchingDashboard:
    """The batching dashboard on ``sequences``: a list of sentences (str; ``level`` "word" or "char"
    says what one token is) or a list of 1-D tensors / lists of token ids (whole numbers from 0).
    Other keyword arguments set the dashboard's knobs (e.g. ``batch_size=4``, ``side="left"``).
    Empty sequences are dropped and said; at most 256 sentences (20,000 characters) or 2,000 id
    sequences of at most 400 tokens are kept, and said."""
    seqs = check_sequences(sequences)
    if seqs.kind == "text":
        if level not in ("word", "char"):
            raise DoesNotFit(f"level={level!r}: a token is a word (level='word') or a character (level='char').")
        d = BatchingDashboard(_state(BatchingState, knobs, source="text", text=seqs.text, level=level))
        if seqs.notes:  # what was changed in the student's list, said until the text is edited
            d.status.correct("yours", " ".join(seqs.notes))
            d.state.observe(lambda _: d.status.clear("yours"), "text")
        return d
    return YourBatchingDashboard(seqs, _state(YourBatchingState, knobs, source=YOURS))
