"""The Markov dashboard on the student's own text, from Python (JupyterLab only).

``yours(corpus, level="char", order=2)``: a str (one document a line) or a list of str (one
document each; ``seqviz.yours.data.check_corpus`` says in one sentence why one does not fit). The
text goes through the dashboard's own pasted-text path: it appears in the "Pasted text" box, is
split 90 / 10 by document, and every order is counted on it, as on a paste.
"""

from __future__ import annotations

from typing import Any

from seqviz.data import corpora
from seqviz.experiments.markov import PASTED
from seqviz.yours.data import check_corpus
from seqviz.yours.fit import DoesNotFit
from widgets.kit.yours import your_model_entry
from widgets.markov.state import MarkovState
from widgets.markov.view import MarkovDashboard


def prompt(text: str, level: str, order: int) -> str:
    """The typed text the dashboard starts with: the first ``order`` tokens of the first document (so the
    next-token pane shows a context the corpus has), at least one token."""
    first = text.split("\n", 1)[0]
    toks = corpora.tokens(first, level)[: max(1, order)]
    return ("" if level == "char" else " ").join(toks)


@your_model_entry
def yours(corpus: Any, level: str = "char", order: int = 2, **knobs) -> MarkovDashboard:
    """The Markov dashboard on ``corpus``: a str (one document a line) or a list of str (one document
    each), counted by characters (``level="char"``) or words (``level="word"``), with a model of order
    ``order`` (0-7) shown first. Other keyword arguments set the dashboard's knobs (e.g. ``alpha=0.1``,
    ``text="th"``). At most 200,000 characters (whole documents) are counted, and that is said."""
    c = check_corpus(corpus, level, order)
    fixed = {"corpus": PASTED, "pasted": c.text, "level": level, "order": int(order)}
    clash = sorted(set(knobs) & {"corpus", "pasted"})
    if clash:
        raise DoesNotFit(f"{', '.join(clash)} is your text here (the first argument); leave it out.")
    try:
        MarkovState.check_knobs(knobs)
    except ValueError as e:
        raise DoesNotFit(str(e)) from None
    state = MarkovState()
    for k, v in {**fixed, "text": prompt(c.text, level, int(order)), **knobs}.items():
        setattr(state, k, v)
    d = MarkovDashboard(state)
    if c.notes:  # what was changed in the student's text, said until the corpus changes
        d.status.correct("yours", " ".join(c.notes))
        state.observe(lambda _: d.status.clear("yours"), ["corpus", "pasted"])
    return d
