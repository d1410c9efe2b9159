"""Your own text model, text or word vectors: the checks and numbers behind lesson 07's and lesson 08's
``yours(...)`` entry points (no ipywidgets here).

Character-level language model (lesson 07):

- ``text_corpus(text)``: the student's text as lesson 07's ``CharCorpus`` (one document a line, lesson 02's
  split by document, the built-in caps); a text from Python is read up to ``YOURS_TEXT_CHARS`` characters
  (typed text: 200,000), every cut said in ``corpus.notes``;
- ``text_vocab(text)``: its vocabulary (``len`` is V, ``.stoi`` / ``.itos``, ``encode`` / ``decode``), to build
  a model with the right ``vocab_size`` before handing it over;
- ``logits_of(model, x, forward, V)``: the student's module on ids (B, T) int64, checked to give logits
  (B, T, V), else one sentence. A module returning a tuple (``(logits, hidden)``) is refused with a sentence
  naming the adapter: ``forward=lambda m, x: m(x)[0]`` (any ``forward(model, x) -> logits`` is accepted);
- ``held_bits_of``: teacher-forced held-out bits per token, the same tokens and count as lesson 07's
  ``held_bits`` (every character plus one end token a document, each document read from the end token);
- ``sample_any`` / ``next_logits_any``: sampling and the next-token distribution for any such module, by
  feeding the growing prefix (END + prompt + what was sampled) again at every step, cut to the last
  ``CONTEXT`` tokens (no hidden state is assumed);
- ``build_user_charlm_run``: ``seqviz.yours.user_run`` on windows of ``T`` tokens of the training stream
  (teacher forcing, cross-entropy by default), with lesson 07's metrics: ``bpc`` every step, ``held_bpc``
  every ``eval_every`` steps.

Word vectors (lesson 08):

- ``as_vectors(vectors, vocab)``: a torch tensor or numpy array (V, D), an ``nn.Embedding``, or anything with
  ``.vectors`` and ``.index_to_key`` (gensim's ``KeyedVectors``), with a list of V words; checked (shapes, NaN
  rows, duplicate words, too few words or dimensions) -> (float64 (V, D), words);
- ``vector_space(vectors, vocab)``: lesson 08's ``Space`` (unit rows) on them, so neighbours, analogies and
  the PCA axes are the lesson's own code; ``find_word``: a typed word (exact, else the one word that matches
  ignoring case); ``corpus_text``: a corpus given as a str, a list of sentences or a list of token lists, as
  text with one sentence a line.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from seqviz.data import corpora
from seqviz.experiments import charlm as C
from seqviz.experiments import embeddings as E
from seqviz.models import word2vec as W
from seqviz.models.charlm import CharVocab, draw_continuations, nats_to_bits
from seqviz.probes.context import inspecting
from seqviz.training import Run
from seqviz.yours.fit import DoesNotFit, call_forward, describe, module_device
from seqviz.yours.training import user_run

YOURS_TEXT_CHARS = 1_000_000  # characters of a text from Python read (typed text: corpora.MAX_USER_CHARS)
CONTEXT = 128  # sampling and the next-character view: the model reads at most the last CONTEXT tokens
MIN_WORDS, MIN_DIMS = 3, 2  # the vectors view: fewer words or dimensions cannot show a 2-D PCA or neighbours
ANALOGY_WORDS = 4  # a - b + c with the inputs left out needs a fourth word to answer
VOCAB_HINT = "yours_vocab(text) gives it"


# -- the character-level language model ------------------------------------------------------------
def _as_text(text: Any) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
        return "\n".join(text)
    raise DoesNotFit(f"text must be a str (one document a line) or a list of str; it is {describe(text)}.")


def text_corpus(text: Any, max_chars: int = YOURS_TEXT_CHARS) -> C.CharCorpus:
    """The student's text as lesson 07's corpus (see the module docstring); one sentence if it cannot train."""
    text = _as_text(text)
    docs, notes = corpora.user_documents(text, max_chars=max_chars)
    notes = [n.replace("the pasted text", "your text") for n in notes]
    tok = [t for t in (corpora.tokens(d, "char") for d in docs) if t]
    if len(tok) < 2:
        raise DoesNotFit("Your text needs at least two non-empty lines (documents): one to train on, one to hold "
                         f"out; it has {len(tok)}.")
    train, held = corpora.split(tok)  # by document, lesson 02's defaults (10% held out, seed 0)
    n_train = sum(map(len, train))
    train = C._cap(train, C.TRAIN_CHARS)
    if sum(map(len, train)) < n_train:
        notes.append(f"Training on the first {sum(map(len, train)):,} of {n_train:,} training characters.")
    n_held = sum(map(len, held))
    held = C._cap(held, C.HELD_CHARS, C.HELD_DOC_CHARS)
    if sum(map(len, held)) < n_held:
        notes.append(f"Scoring the first {sum(map(len, held)):,} of {n_held:,} held-out characters "
                     f"(documents cut at {C.HELD_DOC_CHARS}).")
    vocab = CharVocab.from_docs(train)
    train = [vocab.map(d) for d in train]
    held = [vocab.map(d) for d in held]
    return C.CharCorpus("pasted", "your text", vocab, train, held, documents=True, notes=notes)


def text_vocab(text: Any) -> CharVocab:
    """The vocabulary the view builds from ``text``: ``len(v)`` is V (end token, <unk>, the characters),
    ``v.stoi`` / ``v.itos``, ``v.encode(chars)`` / ``v.decode(ids)``."""
    return text_corpus(text).vocab


def _vocab_words(V: int, vocab: CharVocab | None) -> str:
    if vocab is None:
        return f"{V} tokens"
    return f"{V} tokens ({V - 2} distinct characters plus the end token and <unk>)"


def check_embedding_rows(model: nn.Module, V: int, vocab: CharVocab | None = None) -> None:
    """The first ``nn.Embedding`` in ``model`` (its token table, usually) must have at least V rows."""
    emb = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if emb is not None and emb.num_embeddings < V:
        raise DoesNotFit(f"Your model's nn.Embedding has {emb.num_embeddings} rows but the text has "
                         f"{_vocab_words(V, vocab)}: build the model with vocab_size={V} ({VOCAB_HINT}).")


def logits_of(model: nn.Module, x: torch.Tensor, forward: Callable | None = None, V: int | None = None,
              vocab: CharVocab | None = None, name: str = "your model") -> torch.Tensor:
    """The student's logits (B, T, V) for ids ``x`` (B, T) int64; one sentence when they are not that."""
    try:
        out = call_forward(forward, model, x, name=name) if forward is not None else call_forward(model, x, name=name)
    except DoesNotFit as e:
        if isinstance(e.__cause__, IndexError) and V is not None:
            raise DoesNotFit(f"{e} The text has {_vocab_words(V, vocab)}: build the model with vocab_size={V} "
                             f"({VOCAB_HINT}).") from e.__cause__
        raise
    if isinstance(out, (tuple, list)):
        first = out[0] if out and isinstance(out[0], torch.Tensor) else None
        hint = (" If the first item is the logits, pass forward=lambda m, x: m(x)[0]" if first is not None
                else " Pass forward=lambda m, x: ... that returns the logits")
        raise DoesNotFit(f"This module returns {describe(out)}; the view needs the logits as one tensor "
                         f"(B, T, V).{hint}, or return only the logits.")
    if not isinstance(out, torch.Tensor):
        raise DoesNotFit(f"This module returns {describe(out)}; the view needs the logits as a tensor (B, T, V).")
    B, T = x.shape
    if out.dim() != 3 or tuple(out.shape[:2]) != (B, T):
        raise DoesNotFit(f"For ids of shape ({B}, {T}) this module returns {describe(out)}; the view needs "
                         f"logits at every step, ({B}, {T}, V) (batch first: nn.GRU(..., batch_first=True)).")
    if V is not None and out.shape[-1] != V:
        raise DoesNotFit(f"This module returns {describe(out)} but the text has {_vocab_words(V, vocab)}: "
                         f"build the model with vocab_size={V} ({VOCAB_HINT}).")
    if not out.is_floating_point():
        raise DoesNotFit(f"This module returns integers ({out.dtype}); the view needs logits (float scores).")
    return out


def check_char_model(model: nn.Module, corpus: C.CharCorpus, forward: Callable | None = None,
                     B: int = 2, T: int = 16) -> torch.device:
    """One short batch of the stream through the model, checked; returns the model's device."""
    if not isinstance(model, nn.Module):
        raise DoesNotFit(f"model must be a torch.nn.Module mapping ids (B, T) to logits (B, T, V); it is "
                         f"{describe(model)}.")
    dev = module_device(model)
    V = len(corpus.vocab)
    check_embedding_rows(model, V, corpus.vocab)
    s = corpus.stream()
    T = max(1, min(T, len(s) - 1))
    x = s[:T].expand(B, T).contiguous().to(dev)
    with inspecting(model), torch.no_grad():
        logits_of(model, x, forward, V, corpus.vocab)
    return dev


@torch.no_grad()
def held_bits_of(model: nn.Module, corpus: C.CharCorpus, forward: Callable | None = None, batch: int = 256) -> float:
    """Teacher-forced held-out bits per token: sum of -log p(y_t) over every counted token / (count * ln 2)."""
    dev = module_device(model)
    V = len(corpus.vocab)
    total, n = 0.0, 0
    with inspecting(model):
        for s in range(0, len(corpus.held), batch):
            x, y, m = (t.to(dev) for t in corpus.padded(corpus.held[s:s + batch]))
            z = logits_of(model, x, forward, V, corpus.vocab).float()
            ce = torch.nn.functional.cross_entropy(z.transpose(1, 2), y, reduction="none")  # (B, T)
            total += float((ce * m).sum())
            n += int(m.sum())
    return nats_to_bits(total / max(n, 1))


@torch.no_grad()
def next_logits_any(model: nn.Module, prompt: list[int], forward: Callable | None = None, V: int | None = None,
                    context: int = CONTEXT) -> torch.Tensor:
    """Logits (V,) of the token after END + ``prompt`` (the last ``context`` tokens of it)."""
    dev = module_device(model)
    x = torch.tensor([[0, *prompt]], dtype=torch.long, device=dev)[:, -context:]
    with inspecting(model):
        return logits_of(model, x, forward, V)[0, -1].float().cpu()


@torch.no_grad()
def sample_any(model: nn.Module, prompt: list[int], n_max: int, tau: float, gen: torch.Generator | None,
               n: int = 1, forward: Callable | None = None, V: int | None = None, context: int = CONTEXT,
               stop_at_end: bool = True, time_box_s: float | None = None) -> tuple[list[list[int]], bool]:
    """``n`` continuations of END + ``prompt`` at temperature ``tau`` (greedy below ``TAU_MIN``), at most
    ``n_max`` tokens each, stopping at END: every step runs the model on the whole prefix (its last
    ``context`` tokens) and samples from the last step's logits. Returns (continuations, cut by the time box)."""
    dev = module_device(model)
    now = {"ctx": torch.tensor([0, *prompt], dtype=torch.long, device=dev).expand(n, -1).contiguous()}  # (n, t)

    def feed(nxt: torch.Tensor) -> None:
        now["ctx"] = torch.cat([now["ctx"], nxt.to(dev)[:, None]], dim=1)

    with inspecting(model):
        return draw_continuations(lambda: logits_of(model, now["ctx"][:, -context:], forward, V)[:, -1], feed,
                                  n, n_max, tau, gen, stop_at_end, time_box_s)


def stream_batches(corpus: C.CharCorpus, B: int, T: int, device) -> Callable[[torch.Generator], tuple]:
    """``gen -> (x, y)``: B windows of T tokens of the training stream (``... </s> doc </s> doc ...``) and the
    same windows one token later (teacher forcing: every step reads the true previous token)."""
    s = corpus.stream()
    T = max(1, min(T, len(s) - 1))

    def draw(gen):
        start = torch.randint(len(s) - T, (B,), generator=gen)
        w = s[start[:, None] + torch.arange(T + 1)[None]]  # (B, T + 1)
        return w[:, :-1].to(device), w[:, 1:].to(device)
    return draw


def build_user_charlm_run(model: nn.Module, corpus: C.CharCorpus, forward: Callable | None = None,
                          loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
                          lr: float = 3e-3, batch: int = 32, T: int = 64, clip: float | None = 1.0, seed: int = 0,
                          eval_every: int = 32, evaluate: bool = True, name: str = "your model") -> Run:
    """``user_run`` on the student's module (see the module docstring); the run's one model is ``run.models[name]``.
    Metrics: ``bpc`` (the batch, bits) every step, ``held_bpc`` every ``eval_every`` steps (before the update)."""
    dev = check_char_model(model, corpus, forward)
    V = len(corpus.vocab)
    run = user_run(model, stream_batches(corpus, batch, T, dev), loss_fn=loss_fn, optimizer=optimizer, lr=lr,
                   batch_size=batch, clip=clip, seed=seed, name=name,
                   forward=lambda m, x: logits_of(m, x, forward, V, corpus.vocab, name=name))
    inner = run.loss_fn

    def loss_with_bits(m, b):
        loss, metrics = inner(m, b)
        metrics = {**metrics, "bpc": nats_to_bits(float(loss.detach()))}
        if evaluate and run.steps % eval_every == 0:
            metrics["held_bpc"] = held_bits_of(m, corpus, forward)
        return loss, metrics

    run.loss_fn = loss_with_bits
    run.corpus, run.name, run.T, run.eval_every = corpus, name, T, eval_every
    return run


# -- word vectors ------------------------------------------------------------------------------------
def _matrix(vectors: Any) -> np.ndarray:
    if isinstance(vectors, nn.Embedding):
        vectors = vectors.weight
    if isinstance(vectors, torch.Tensor):
        if vectors.is_complex():
            raise DoesNotFit("The vectors are complex numbers; the view needs real ones.")
        return vectors.detach().to("cpu", torch.float64).numpy()
    try:
        X = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError):
        raise DoesNotFit(f"vectors must be a (V, D) tensor or array, an nn.Embedding or gensim KeyedVectors; they "
                         f"are {describe(vectors)}.") from None
    return X


def as_vectors(vectors: Any, vocab: Any = None) -> tuple[np.ndarray, list[str]]:
    """(float64 (V, D), the V words), checked; one sentence when they do not fit (module docstring)."""
    if hasattr(vectors, "vectors") and hasattr(vectors, "index_to_key"):  # gensim KeyedVectors, duck-typed
        if vocab is None:
            vocab = list(vectors.index_to_key)
        vectors = vectors.vectors
    X = _matrix(vectors)
    if X.ndim != 2:
        raise DoesNotFit(f"The vectors must be a matrix (V, D), one row per word; they have shape "
                         f"{tuple(X.shape)}.")
    V, D = X.shape
    if vocab is None:
        raise DoesNotFit(f"Pass vocab=, the list of the {V} words (one per row of the vectors).")
    if isinstance(vocab, dict):  # word -> row
        vocab = [w for w, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    if isinstance(vocab, str) or not hasattr(vocab, "__len__"):
        raise DoesNotFit(f"vocab must be a list of the {V} words, one per row; it is {describe(vocab)}.")
    words = list(vocab)
    odd = next((w for w in words if not isinstance(w, str)), None)
    if odd is not None:
        raise DoesNotFit(f"vocab must hold words (str); it holds {describe(odd)}.")
    if len(words) != V:
        raise DoesNotFit(f"The vectors have {V} rows (V = {V}, D = {D}) but vocab has {len(words)} words: give "
                         "one word per row.")
    seen: dict[str, int] = {}
    for i, w in enumerate(words):
        if w in seen:
            raise DoesNotFit(f"“{w[:40]}” appears twice in vocab (rows {seen[w]} and {i}): each word needs "
                             "exactly one row.")
        seen[w] = i
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if len(bad):
        names = ", ".join(f"“{words[i][:20]}”" for i in bad[:3])
        raise DoesNotFit(f"{len(bad)} row{'s' if len(bad) > 1 else ''} of the vectors {'hold' if len(bad) > 1 else 'holds'} NaN or infinite values "
                         f"({names}{', …' if len(bad) > 3 else ''}): fix or drop them.")
    if V < MIN_WORDS:
        raise DoesNotFit(f"The view needs at least {MIN_WORDS} words (to show neighbours on two PCA axes); "
                         f"these vectors have {V}.")
    if D < MIN_DIMS:
        raise DoesNotFit(f"The view needs vectors of at least {MIN_DIMS} dimensions (two PCA axes); these have "
                         f"D = {D}.")
    return X, words


def vector_space(vectors: Any, vocab: Any = None) -> E.Space:
    """Lesson 08's ``Space`` (unit rows, a vocabulary) on the student's vectors."""
    X, words = as_vectors(vectors, vocab)
    v = W.Vocab(words, np.zeros(len(words), dtype=np.int64), {w: i for i, w in enumerate(words)}, len(words), 0)
    return E.Space(W.unit_rows(X), v)


def zero_rows(space: E.Space) -> list[str]:
    """Words whose vector is all zeros (cosine 0 with every word)."""
    return [space.vocab.words[i] for i in np.flatnonzero(~space.U.any(axis=1))]


def find_word(space: E.Space, typed: str) -> str | None:
    """``typed`` if it is a word of the space, else the one word equal to it ignoring case, else None."""
    typed = (typed or "").strip()
    if typed in space.vocab.index:
        return typed
    low = [w for w in space.vocab.words if w.lower() == typed.lower()]
    return low[0] if len(low) == 1 else None


def unknown_word(space: E.Space, typed: str, n_show: int = 6) -> str:
    """The sentence for a typed word the vectors lack."""
    V = len(space.vocab)
    some = ", ".join(space.vocab.words[:n_show])
    return (f"“{typed[:40]}” is not among your {V:,} words; try one of: {some}{', …' if V > n_show else ''}.")


def corpus_text(corpus: Any) -> str:
    """A corpus as text, one sentence a line: a str as it is, a list of str one a line, a list of token lists
    joined by spaces."""
    if isinstance(corpus, str):
        return corpus
    if isinstance(corpus, (list, tuple)):
        if all(isinstance(s, str) for s in corpus):
            return "\n".join(corpus)
        if all(isinstance(s, (list, tuple)) and all(isinstance(t, str) for t in s) for s in corpus):
            return "\n".join(" ".join(s) for s in corpus)
    raise DoesNotFit(f"corpus must be a str, a list of sentences (str) or a list of token lists; it is "
                     f"{describe(corpus)}.")


def is_finite(x) -> bool:
    return x is not None and math.isfinite(x)
