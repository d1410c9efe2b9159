"""Dashboard: Markov models of text, their counts, smoothing, samples and a classifier (lesson 02).

It shows, for a corpus (first names, SpamAssassin mail, the Brown corpus, Python's help topics or pasted text)
at the level of characters or words, and a Markov model of order k (0-7) with smoothing α: the next-token counts
and probabilities after the typed text, the chain-rule factors of the typed text, samples, training vs held-out
bits per token and the share of unseen n-grams against order, and two classifiers made of one Markov model per
class (names: female vs male; mail: spam vs ham), with each token's share of the log-odds.

| module | holds |
| --- | --- |
| ``state`` | ``MarkovState``: the checked knobs |
| ``view`` | ``MarkovDashboard``: controls, panes, the counting thread |
| ``panels`` | engine data -> figure patches and HTML (tables, samples, the bridge line) |
| ``yours`` | ``yours(corpus)``: the dashboard on the student's own text, from Python (JupyterLab) |

All maths lives in ``seqviz`` (``seqviz.models.ngram``, ``seqviz.experiments.markov``).
"""

from __future__ import annotations

from widgets.markov.state import MarkovState
from widgets.markov.view import MarkovDashboard
from widgets.markov.yours import yours


def dashboard(**knobs) -> MarkovDashboard:
    """The dashboard; keyword arguments set state traits, e.g. ``corpus="brown", level="word", order=2``."""
    state = MarkovState.from_knobs(knobs)
    return MarkovDashboard(state)


__all__ = ["dashboard", "yours", "MarkovDashboard", "MarkovState"]
