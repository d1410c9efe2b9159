"""The character-level language model dashboard's knobs, checked (any browser can send any value)."""

from __future__ import annotations

import traitlets as tl

from seqviz.data.text import clean_text
from seqviz.experiments.charlm import FEATURES
from seqviz.models.charlm import KINDS
from widgets.kit import CheckedState

CORPUS_CHOICES = ("names", "mail", "brown", "python_docs", "pasted")
MODEL_KNOBS = ("corpus", "kind", "compare")  # rebuild the run
PROMPT_CHARS = 40  # most characters of a prompt kept
PASTE_CHARS = 2_500_000  # pasted text beyond this is refused before any work (the corpus keeps 200,000)
MAX_ORDER = 6


class CharLMState(CheckedState):
    RANGES = {"tau": (0.0, 3.0, False), "lr": (1e-4, 0.1, False), "order": (0, MAX_ORDER, True),
              "unit": lambda s: (0, max(int(s.n_units) - 1, 0), True)}
    CHOICES = {"corpus": CORPUS_CHOICES, "kind": KINDS, "feature": tuple(FEATURES), "source": ("held", "sample")}
    LABELS = {"tau": "Temperature", "lr": "Learning rate", "order": "Markov order", "unit": "Unit",
              "corpus": "corpus", "kind": "model", "feature": "feature", "source": "passage"}

    corpus = tl.Unicode("names")
    kind = tl.Unicode("lstm")
    compare = tl.Bool(False)  # also train a scheduled-sampling twin from the same weights
    lr = tl.Any(1e-2)
    tau = tl.Any(1.0)  # tl.Any: NaN or text from a client reaches the check instead of failing
    order = tl.Any(2)
    prompt = tl.Unicode("")  # empty: every sample starts a new document
    pasted = tl.Unicode("")
    feature = tl.Unicode("vowel")
    unit = tl.Any(0)
    source = tl.Unicode("held")
    n_units = tl.Int(128)  # H of the model being trained (the unit slider's range)

    @tl.validate("prompt")
    def _prompt(self, proposal):
        v = proposal.value
        if not isinstance(v, str):
            self.correct("prompt", "The prompt must be text; the previous prompt is kept.", self.prompt)
            return self.prompt
        text, notes = clean_text(v)
        text = text.replace("\n", " ").lower()
        if len(text) > PROMPT_CHARS:
            notes.append(f"The prompt had {len(text)} characters; only the first {PROMPT_CHARS} are kept.")
            text = text[:PROMPT_CHARS]
        if notes:
            self.correct("prompt", " ".join(notes), text)
        return text

    @tl.validate("pasted")
    def _pasted(self, proposal):
        v = proposal.value
        if not isinstance(v, str):
            self.correct("pasted", "Pasted text must be text; the previous text is kept.", self.pasted)
            return self.pasted
        if len(v) > PASTE_CHARS:
            self.correct("pasted", f"The pasted text had {len(v):,} characters; the first {PASTE_CHARS:,} are "
                         "kept.", None)
            return v[:PASTE_CHARS]
        return v
