"""Dashboard: attention weight matrices, from Bahdanau alignment to self-attention heads.

Part 1: an RNN encoder-decoder with additive (Bahdanau) attention and the same decoder without
attention train side by side on a toy translation task whose correct alignment is known; the
alignment matrix of a typed source, the worked equation of one cell, loss and accuracy (running
means), accuracy by source length, and a timeline of weight snapshots that scrubs it all back.
Part 2: a small transformer trained on next-character prediction; one head's weights on a typed
text, the chosen query's row and q/k/v, the worked equation, the loss, the entropy of a row
against random scores over the same rows, switches that build a new transformer, a shuffle
check of permutation equivariance, and a timeline of its own.

| module | holds |
| --- | --- |
| ``state`` | ``AttentionState``: every knob, checked (ranges that follow the model and the text) |
| ``view`` | ``AttentionDashboard``, ``dashboard()``: controls, layout, buttons, the one training worker |
| ``alignment`` | ``AlignmentPart``: part 1's models, timeline and what feeds its panes |
| ``transformer`` | ``TransformerPart``: part 2's model, timeline and what feeds its panes |
| ``panels`` | the HTML: worked equations, progress line, sentences |
| ``yours`` | ``yours(model, inputs, tokens=...)``: the attention view on your own model (JupyterLab only) |

Figures: ``seqviz.figures.attention`` (pure patch builders); numbers: ``seqviz``.
"""

from widgets.attention.state import AttentionState
from widgets.attention.view import AttentionDashboard, dashboard
from widgets.attention.yours import yours

__all__ = ["AttentionDashboard", "AttentionState", "dashboard", "yours"]
