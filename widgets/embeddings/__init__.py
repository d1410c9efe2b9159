"""Dashboard: word embeddings, from one-hot to word2vec to contextual (ELMo-style) vectors.

Skip-gram with negative sampling trains live in PyTorch on the Brown corpus (or Python's help
topics, or pasted text): its loss and the overlap of its neighbours with gensim's; one pair and its
noise words before and after a step; the space on fixed PCA axes; nearest neighbours; analogies
with and without the inputs; occupations on a gender direction; and a small bidirectional LSTM LM
whose layers give one word different vectors in two sentences, mixed as γ Σ s_j h_j.

| module | holds |
| --- | --- |
| ``state`` | ``EmbeddingsState``: the checked knobs |
| ``view`` | ``EmbeddingsDashboard``: controls, panes, buttons, training in the worker |
| ``panels`` | engine data -> figure patches and HTML |
| ``yours`` | ``yours(vectors=None, vocab=None, corpus=None)``: the space, neighbours and analogies on the student's own vectors, or the dashboard on their corpus (JupyterLab) |

All maths lives in ``seqviz``.
"""

from __future__ import annotations

from widgets.embeddings.state import EmbeddingsState
from widgets.embeddings.view import EmbeddingsDashboard
from widgets.embeddings.yours import yours


def dashboard(**knobs) -> EmbeddingsDashboard:
    """The dashboard; keyword arguments set state traits, e.g. ``window=2, word="king"``."""
    state = EmbeddingsState.from_knobs(knobs)
    return EmbeddingsDashboard(state)


__all__ = ["dashboard", "EmbeddingsDashboard", "EmbeddingsState", "yours"]
