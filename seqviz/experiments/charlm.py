"""Lesson 07's set-up: a character-level language model trained live on a shipped corpus (or pasted text),
scored in held-out bits per character beside lesson 02's Markov model on the same split.

Data (``CharCorpus``): the corpus's documents, lower-cased characters (``corpora.tokens(doc, "char")``), split by
document with ``corpora.split`` (defaults: 10% held out, seed 0), the split lesson 02 uses. Every document ends
with ``</s>``, counted as one more token to predict (lesson 02's convention), and the model reads ``</s>`` first.

- ``names`` and pasted text (one document a line) train on whole documents, padded and masked;
- ``mail``, ``brown``, ``python_docs`` train on windows of ``preset.T`` tokens cut from the training documents
  joined as one stream (``... </s> doc </s> doc ...``), which is also how they learn to end a document.

Sizes are capped for a live class (said on screen): the training text at ``TRAIN_CHARS`` characters (the first
training documents), held-out at ``HELD_CHARS`` characters with each document cut at ``HELD_DOC_CHARS``. The
Markov baseline is fitted and scored on exactly these tokens (rare characters mapped to ``<unk>`` for both).

``build_charlm_run`` returns the one training loop's ``Run``: the model trained with teacher forcing ("tf") and,
when asked, a twin from the same initial weights trained with scheduled sampling ("ss", the probability of
feeding its own prediction rising linearly to ``ss_max`` over ``ss_ramp`` steps). Every ``eval_every`` steps
both are scored on the held-out text, teacher-forced and free-running (``mixed_loss`` with probability 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from seqviz.data import corpora
from seqviz.models.charlm import (END, UNK, CharLMConfig, CharVocab, build_charlm, mixed_loss, nats_to_bits,
                                  sample, teacher_forced_loss)
from seqviz.training import Run, TrainConfig

TRAIN_CHARS = 400_000  # characters of training text kept (the first training documents)
HELD_CHARS = 12_000  # characters of held-out text scored (the first held-out documents)
HELD_DOC_CHARS = 600  # a held-out document longer than this is cut here (its </s> still counted)
FREE_DOCS = 128  # held-out documents (the first) scored free-running (step by step: slower)
DOCUMENT_CORPORA = ("names", "pasted")  # trained on whole documents; the others on windows of a stream


@dataclass(frozen=True)
class CharLMPreset:
    name: str
    hidden: int = 128  # H
    embed: int = 32  # E
    n_layers: int = 2  # transformer only
    T: int = 64  # window length for stream corpora; also the transformer's context
    batch: int = 32  # B
    lr: float = 1e-2
    clip: float = 1.0
    eval_every: int = 32  # steps between held-out scores (a power of two: History's thinning keeps them)
    ss_max: float = 0.5  # scheduled sampling: the highest probability of feeding its own prediction
    ss_ramp: int = 2000  # steps over which that probability rises from 0 to ss_max


PRESETS = {
    "cpu": CharLMPreset("cpu", hidden=128, embed=32, T=64, batch=32, lr=1e-2),
    "gpu": CharLMPreset("gpu", hidden=512, embed=64, n_layers=4, T=128, batch=128, lr=3e-3),
    "tiny": CharLMPreset("tiny", hidden=16, embed=8, n_layers=1, T=16, batch=8, lr=1e-2, eval_every=4, ss_ramp=20),
}


def default_preset(device: torch.device | str) -> str:
    """The bigger preset on a GPU (``seqviz.devices`` decides where), the light one on CPU."""
    return "gpu" if torch.device(device).type == "cuda" else "cpu"


@dataclass
class CharCorpus:
    key: str
    title: str
    vocab: CharVocab
    train: list[list[str]]  # token documents (rare characters as UNK), the capped training text
    held: list[list[str]]  # the capped held-out documents
    documents: bool  # True: whole documents; False: windows of the stream
    notes: list[str] = field(default_factory=list)  # sentences about what was capped or cleaned

    @property
    def n_held_tokens(self) -> int:
        return sum(len(d) + 1 for d in self.held)

    def counted(self) -> str:
        """What the bits per character count, in one sentence (the dashboard shows it)."""
        return (f"Held-out: {len(self.held):,} documents, {self.n_held_tokens:,} tokens: every character plus one "
                f"end token {END} per document (lesson 02's split and count).")

    def lengths(self, docs: list[list[str]] | None = None) -> np.ndarray:
        return np.array([len(d) for d in (self.train if docs is None else docs)])

    # -- tensors -----------------------------------------------------------------------------
    def ids(self, doc: list[str]) -> list[int]:
        return self.vocab.encode(doc)

    def stream(self) -> torch.Tensor:
        if not hasattr(self, "_stream"):
            ids = [0]
            for d in self.train:
                ids += self.ids(d) + [0]
            self._stream = torch.tensor(ids, dtype=torch.long)
        return self._stream

    def padded(self, docs: list[list[str]], max_len: int | None = None):
        """x, y, mask (N, T): x = END + doc, y = doc + END, mask True on counted tokens (cut at ``max_len``)."""
        rows = [self.ids(d)[: (max_len - 1) if max_len else None] for d in docs]
        T = max(len(r) for r in rows) + 1
        x = torch.zeros(len(rows), T, dtype=torch.long)
        y = torch.zeros(len(rows), T, dtype=torch.long)
        mask = torch.zeros(len(rows), T, dtype=torch.bool)
        for i, r in enumerate(rows):
            x[i, 1: len(r) + 1] = torch.tensor(r, dtype=torch.long)
            y[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r) + 1] = True
        return x, y, mask

    def batch(self, gen: torch.Generator, B: int, T: int):
        """One training batch (x, y, mask), drawn from ``gen``."""
        if self.documents:
            idx = torch.randint(len(self.train), (B,), generator=gen).tolist()
            return self.padded([self.train[i] for i in idx], max_len=T)
        s = self.stream()
        T = min(T, len(s) - 1)
        start = torch.randint(len(s) - T, (B,), generator=gen)
        rows = start[:, None] + torch.arange(T + 1)[None]  # (B, T + 1)
        w = s[rows]
        return w[:, :-1], w[:, 1:], torch.ones(B, T, dtype=torch.bool)


def _cap(docs: list[list[str]], total: int, per_doc: int | None = None) -> list[list[str]]:
    out, n = [], 0
    for d in docs:
        d = d[:per_doc] if per_doc else d
        if not d:
            continue
        if n + len(d) > total and out:
            break
        out.append(d)
        n += len(d)
    return out


def load_corpus(key: str, pasted: str = "") -> CharCorpus:
    """A shipped corpus (``corpora.CORPORA``) or ``key="pasted"`` with ``pasted`` text, split and capped.
    Raises ValueError with a sentence for text too short to split."""
    notes: list[str] = []
    if key == "pasted":
        docs, notes = corpora.user_documents(pasted)
        title = "pasted text"
    else:
        docs, title = corpora.documents(key), corpora.CORPORA[key].title
    tok = [corpora.tokens(d, "char") for d in docs]
    pairs = [(d, t) for d, t in zip(docs, tok) if t]
    if len(pairs) < 2:
        raise ValueError("The text needs at least two non-empty lines (documents): one to train on, one to "
                         "hold out.")
    train, held = corpora.split([t for _, t in pairs])  # by document, lesson 02's defaults
    n_train = sum(map(len, train))
    train = _cap(train, TRAIN_CHARS)
    if sum(map(len, train)) < n_train:
        notes.append(f"Training on the first {sum(map(len, train)):,} of {n_train:,} training characters.")
    n_held = sum(map(len, held))
    held = _cap(held, HELD_CHARS, HELD_DOC_CHARS)
    if sum(map(len, held)) < n_held:
        notes.append(f"Scoring the first {sum(map(len, held)):,} of {n_held:,} held-out characters "
                     f"(documents cut at {HELD_DOC_CHARS}).")
    vocab = CharVocab.from_docs(train)
    train = [vocab.map(d) for d in train]
    held = [vocab.map(d) for d in held]
    return CharCorpus(key, title, vocab, train, held, documents=key in DOCUMENT_CORPORA, notes=notes)


def markov_baseline(corpus: CharCorpus, order: int) -> float | None:
    """Held-out bits per token of lesson 02's Markov model of ``order`` on the same tokens (None if lesson 02's
    module is not there)."""
    try:
        from seqviz.models.ngram import markov_bits
    except ImportError:
        return None
    return float(markov_bits(corpus.train, corpus.held, order))


def markov_table(corpus: CharCorpus, orders=range(0, 7)) -> dict[int, float]:
    """Held-out bits of the Markov model of every order in ``orders`` (empty if lesson 02's module is missing)."""
    out = {}
    for k in orders:
        b = markov_baseline(corpus, k)
        if b is None:
            return {}
        out[k] = b
    return out


# -- scoring ---------------------------------------------------------------------------------------
@torch.no_grad()
def held_bits(model, corpus: CharCorpus, batch: int = 512) -> float:
    """Teacher-forced bits per token on the held-out documents (every character and one END each)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    total, n = 0.0, 0
    try:
        for s in range(0, len(corpus.held), batch):
            x, y, m = (t.to(dev) for t in corpus.padded(corpus.held[s:s + batch]))
            ce = torch.nn.functional.cross_entropy(model(x).transpose(1, 2), y, reduction="none")  # (B, T)
            total += float((ce * m).sum())
            n += int(m.sum())
    finally:
        model.train(was)
    return nats_to_bits(total / max(n, 1))


@torch.no_grad()
def free_running_bits(model, corpus: CharCorpus, seed: int = 0, n_docs: int = FREE_DOCS) -> float:
    """Bits per token of the true held-out characters when the model reads its own samples instead of them
    (``mixed_loss`` with probability 1, the first ``n_docs`` held-out documents, a fixed seed)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        x, y, m = (t.to(dev) for t in corpus.padded(corpus.held[:n_docs]))
        loss = mixed_loss(model, x, y, m, 1.0, torch.Generator().manual_seed(seed))
    finally:
        model.train(was)
    return nats_to_bits(float(loss))


def ss_probability(step: int, preset: CharLMPreset) -> float:
    """Scheduled sampling's probability of feeding the model's own prediction at ``step`` (linear ramp)."""
    return float(min(preset.ss_max, preset.ss_max * step / max(preset.ss_ramp, 1)))


def model_config(corpus: CharCorpus, kind: str, preset: CharLMPreset) -> CharLMConfig:
    return CharLMConfig(kind=kind, vocab=len(corpus.vocab), embed=preset.embed, hidden=preset.hidden,
                        n_heads=4, n_layers=preset.n_layers, max_len=preset.T)


def build_charlm_run(corpus: CharCorpus, kind: str = "lstm", preset: CharLMPreset | str = "cpu",
                     device: torch.device | str = "cpu", compare: bool = False, seed: int = 0,
                     lr: float | None = None, evaluate: bool = True) -> Run:
    """The ``Run``: model "tf" (teacher forcing) and, with ``compare``, "ss" (scheduled sampling) from the same
    initial weights, on the same batches. Metrics per step: ``bpc`` (the batch, teacher-forced, bits), ``p_own``;
    every ``eval_every`` steps ``held_bpc`` and ``free_bpc`` (held-out, teacher-forced and free-running)."""
    p = PRESETS[preset] if isinstance(preset, str) else preset
    cfg = model_config(corpus, kind, p)
    models = {"tf": build_charlm(cfg, seed, device)}
    if compare:
        models["ss"] = build_charlm(cfg, seed, device)
    dev = torch.device(device)
    ss_gen = torch.Generator().manual_seed(seed + 1)
    run: Run | None = None

    def batch_fn(gen):
        return tuple(t.to(dev) for t in corpus.batch(gen, p.batch, p.T))

    def loss_fn(model, batch):
        x, y, m = batch
        step = run.steps  # updates made before this one
        prob = ss_probability(step, p) if model is run.models.get("ss") else 0.0
        loss = teacher_forced_loss(model, x, y, m) if prob == 0 else mixed_loss(model, x, y, m, prob, ss_gen)
        metrics = {"bpc": nats_to_bits(float(loss.detach())), "p_own": prob}
        if evaluate and step % p.eval_every == 0:
            metrics["held_bpc"] = held_bits(model, corpus)
            if compare:
                metrics["free_bpc"] = free_running_bits(model, corpus)
        return loss, metrics

    run = Run(models, batch_fn, loss_fn, TrainConfig(batch_size=p.batch, lr=lr or p.lr, clip=p.clip, seed=seed))
    run.preset, run.corpus, run.kind = p, corpus, kind
    return run


# -- what units learn --------------------------------------------------------------------------------
FEATURES = {
    "vowel": "vowel (a, e, i, o, u)",
    "in_quotes": "inside double quotes",
    "in_brackets": "inside ( ), [ ] or { }",
    "pos_in_word": "position in the word",
    "pos_in_line": "position in the line or name",
}


def features(chars: list[str]) -> dict[str, np.ndarray]:
    """Simple features of every character of ``chars`` (each a document or line starts fresh at ``END``)."""
    out = {k: np.zeros(len(chars)) for k in FEATURES}
    quote, depth, word, line = False, 0, 0, 0
    for i, c in enumerate(chars):
        if c == END or c == "\n":
            quote, depth, word, line = False, 0, 0, 0
            continue
        if c == '"':
            quote = not quote
        if c in "([{":
            depth += 1
        out["in_quotes"][i] = quote or c == '"'
        out["in_brackets"][i] = depth > 0
        if c in ")]}":
            depth = max(0, depth - 1)
        word = 0 if c == " " else word + 1
        line += 1
        out["vowel"][i] = c in "aeiou"
        out["pos_in_word"][i] = word
        out["pos_in_line"][i] = line
    return out


def correlations(acts: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every unit (columns of acts (N, H)) with ``feature`` (N,); 0 where either is constant."""
    a = acts - acts.mean(0)
    f = feature - feature.mean()
    den = np.sqrt((a ** 2).sum(0) * (f ** 2).sum())
    return np.divide(a.T @ f, den, out=np.zeros(acts.shape[1]), where=den > 1e-12)


@torch.no_grad()
def unit_passage(model, corpus: CharCorpus, n_chars: int = 400,
                 docs: list[list[str]] | None = None) -> tuple[list[str], np.ndarray]:
    """Documents (default: the first held-out ones, about ``n_chars`` characters), each read from a fresh state
    after END: (their characters with an END after each, activations (N, H) after reading each character;
    the END rows are 0: a fresh state follows)."""
    dev = next(model.parameters()).device
    docs = _cap(corpus.held if docs is None else [corpus.vocab.map(d) for d in docs], n_chars, n_chars)
    if not docs:
        return [], np.zeros((0, model.n_units))
    chars, acts = [], []
    x, _, m = corpus.padded(docs)
    u = model.units(x.to(dev)).float().cpu().numpy()  # (D, T, H): after reading x_t
    for i, d in enumerate(docs):
        # x = END + doc: the state after reading doc[j] is u[i, j + 1]
        chars += [*d, END]
        acts.append(u[i, 1: len(d) + 1])
        acts.append(np.zeros((1, u.shape[2])))
    return chars, np.concatenate(acts, 0)


# -- sequence end and length -------------------------------------------------------------------------
def sampled_lengths(model, n: int, tau: float, gen: torch.Generator, n_max: int = 40) -> np.ndarray:
    """Lengths (characters before END) of ``n`` documents sampled from scratch; ``n_max`` if none came."""
    outs, _ = sample(model, [], n_max, tau, gen, n=n)
    return np.array([o.index(0) if 0 in o else len(o) for o in outs])


def length_shares(lengths: np.ndarray, n_max: int) -> np.ndarray:
    """Share of documents of each length 0..n_max (the last bin: n_max or longer)."""
    c = np.bincount(np.minimum(lengths, n_max), minlength=n_max + 1).astype(float)
    return c / max(c.sum(), 1)


def with_preset(preset: CharLMPreset, **changes) -> CharLMPreset:
    return replace(preset, **changes)


def tokens_seen(run: Run) -> int:
    """Characters trained on so far (steps x batch x window, an upper bound for padded documents)."""
    return int(run.steps * run.preset.batch * run.preset.T)


def is_finite(x) -> bool:
    return x is not None and math.isfinite(x)
