"""The embeddings dashboard's knobs, checked in the kernel (any browser can send any value)."""

from __future__ import annotations

import traitlets as tl

from seqviz.experiments.embeddings import WORD_SETS
from widgets.kit import CheckedState

SAMPLES = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)  # subsampling thresholds offered (0 = off)
BIAS_PAIRS = ("he / she", "man / woman", "his / her", "father / mother")
REBUILD = ("corpus", "dim")  # a new model (training restarts); window, negatives, sample, lr apply while training
MAX_PASTE = 2_000_000  # characters accepted in the paste box (the corpus keeps the first 200,000)


class EmbeddingsState(CheckedState):
    RANGES = {"dim": (4, 300, True), "window": (1, 10, True), "negatives": (1, 20, True),
              "lr": (1e-4, 0.1, False), "eta": (0.01, 10.0, False),
              "w0": (-5.0, 5.0, False), "w1": (-5.0, 5.0, False), "w2": (-5.0, 5.0, False),
              "gamma": (0.1, 5.0, False)}
    CHOICES = {"corpus": ("brown", "python_docs", "pasted"), "sample": SAMPLES,
               "word_set": (*WORD_SETS, "my words"), "bias_pair": BIAS_PAIRS, "exclude_inputs": (True, False)}
    TEXTS = {"paste": MAX_PASTE, "my_words": 400, "word": 40, "a": 40, "b": 40, "c": 40,
             "elmo_word": 40, "sentence_a": 300, "sentence_b": 300}
    LABELS = {"dim": "Embedding size D", "window": "Window", "negatives": "Negatives k", "lr": "Learning rate",
              "eta": "Step size η", "w0": "w₀ (embedding)", "w1": "w₁ (LSTM 1)", "w2": "w₂ (LSTM 2)",
              "gamma": "γ", "corpus": "corpus", "sample": "subsampling threshold", "word_set": "word set",
              "bias_pair": "direction", "exclude_inputs": "exclude inputs", "paste": "paste",
              "my_words": "My words", "word": "Word", "a": "a", "b": "b", "c": "c",
              "elmo_word": "Same word", "sentence_a": "Sentence 1", "sentence_b": "Sentence 2"}

    corpus = tl.Unicode("brown")
    paste = tl.Any("")
    dim = tl.Any(64)  # tl.Any: NaN or text from a client reaches the check instead of failing
    window = tl.Any(5)
    negatives = tl.Any(5)
    sample = tl.Any(1e-3)
    lr = tl.Any(0.01)
    eta = tl.Any(1.0)
    word_set = tl.Unicode("numbers")
    my_words = tl.Any("king queen man woman boy girl prince")
    word = tl.Any("city")
    a = tl.Any("his")  # a − b + c: his − he + she ≈ her
    b = tl.Any("he")
    c = tl.Any("she")
    exclude_inputs = tl.Any(True)
    bias_pair = tl.Unicode("he / she")
    elmo_word = tl.Any("bank")
    sentence_a = tl.Any("he sat on the bank of the river and watched the water")
    sentence_b = tl.Any("she put the money from the sale in the bank")
    w0 = tl.Any(0.0)
    w1 = tl.Any(0.0)
    w2 = tl.Any(0.0)
    gamma = tl.Any(1.0)

    def _check(self, proposal):
        value = super()._check(proposal)
        if proposal.trait.name in ("word", "a", "b", "c", "elmo_word") and isinstance(value, str):
            return value.strip().lower()[:40] or getattr(self, proposal.trait.name)
        return value

    def bias_words(self) -> tuple[str, str]:
        a, b = self.bias_pair.split(" / ")
        return a, b
