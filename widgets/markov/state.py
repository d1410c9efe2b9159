"""The Markov dashboard's knobs, checked (any browser can send any value)."""

from __future__ import annotations

import traitlets as tl

from seqviz.data.corpora import CORPORA
from seqviz.experiments.markov import MAX_ORDER, PASTED, TASKS
from widgets.kit import CheckedState

ALPHAS = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0)  # the smoothing slider's stops (0: counts only)
CORPUS_KEYS = (*CORPORA, PASTED)
MAX_TEXT = 300  # characters of the typed text kept
MAX_PASTE = 2_000_000  # characters the paste box keeps; the engine then uses the first 200,000 (and says so)
PROMPTS = {"names": "mar", "mail": "click here to", "brown": "the jury said", "python_docs": "the ",
           PASTED: "the "}
CLASSIFY = {"names": "anna", "mail": "free money, click here now"}
DEFAULT_PASTE = ("the cat sat on the mat\nthe dog sat on the log\nthe cat saw the dog\na dog saw a cat on the mat\n"
                 "the mat was on the log")


class MarkovState(CheckedState):
    RANGES = {"order": (0, MAX_ORDER, True), "temperature": (0.0, 3.0, False), "seed": (0, 999_999, True)}
    CHOICES = {"corpus": CORPUS_KEYS, "level": ("char", "word"), "alpha": ALPHAS, "task": tuple(TASKS)}
    TEXTS = {"text": MAX_TEXT, "pasted": MAX_PASTE, "classify": MAX_TEXT}
    LABELS = {"order": "Order k", "temperature": "Temperature", "seed": "Seed", "corpus": "corpus",
              "level": "token level", "alpha": "smoothing α", "task": "classifier task", "text": "typed text",
              "pasted": "pasted text", "classify": "text to classify"}

    corpus = tl.Any("names")  # tl.Any: a forged value reaches the check instead of failing
    level = tl.Any("char")
    pasted = tl.Any(DEFAULT_PASTE)
    order = tl.Any(2)
    alpha = tl.Any(1.0)
    text = tl.Any(PROMPTS["names"])
    temperature = tl.Any(1.0)
    seed = tl.Any(0)
    task = tl.Any("names")
    classify = tl.Any(CLASSIFY["names"])

    def corpus_key(self) -> tuple[str, str, str]:
        """What a study is counted from: (corpus, level, pasted text or "")."""
        return self.corpus, self.level, self.pasted if self.corpus == PASTED else ""
