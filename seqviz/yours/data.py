"""A student's own data for the dashboards of lessons 00-02: is it a series, a list of sequences, a corpus?

Each check takes what a student has in JupyterLab (a numpy array, a list, a torch tensor, a pandas
Series; sentences or token ids; a text or a list of documents), returns it in the form the
dashboard's engine takes, with plain sentences saying what was changed (``notes``), and raises
``seqviz.yours.fit.DoesNotFit`` with one sentence when it cannot be used:

- ``check_series(x, name)`` -> ``Series`` (key ``"yours"``): one finite numeric series; missing
  values (NaN, None, pandas' NA) are filled by a straight line between their neighbours, as the bundled CO2 series'
  missing weeks are; at most ``MAX_SERIES_VALUES`` (the most recent) are kept;
  ``fit_window(n, window, season)`` -> the window w and season m the forecasting set-up takes;
- ``check_sequences(seqs)`` -> ``Sequences``: sentences (as the sentences box would hold them, one
  a line) or token ids (1-D int64 tensors), at most ``MAX_SEQUENCES`` of at most ``MAX_SEQ_LEN``;
- ``check_corpus(corpus, level, order)`` -> ``Corpus``: the text of the documents, one a line, as
  the paste box would hold it, at most ``MAX_CORPUS_CHARS`` characters (whole documents).

Nothing here imports ipywidgets or IPython.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seqviz.data import corpora
from seqviz.data.series import MAX_ABS, Series, fill_gaps
from seqviz.data.text import TextConfig, clean_text
from seqviz.experiments.forecasting import minimum_length
from seqviz.yours.fit import DoesNotFit, describe

MAX_SERIES_VALUES = 10_000  # values a series from Python keeps (a paste keeps 5,000): the pane draws them all
MAX_WINDOW, MAX_SEASON = 60, 120  # the forecasting dashboard's sliders' limits
DEFAULT_WINDOW = 12
MAX_SEQUENCES = 2_000  # token-id sequences kept (as many as the dashboard's "Sequences N" allows)
MAX_SEQ_LEN = 400  # tokens kept per sequence (as the sentences box keeps)
MAX_TOKEN_ID = 200_000  # ids at most this (the toy model's embedding has one row per id)
MAX_SENTENCES = TextConfig().max_lines  # sentences the batching dashboard's text path keeps (256)
MAX_SENTENCE_CHARS = TextConfig().max_chars  # characters it keeps (20,000)
MAX_CORPUS_CHARS = corpora.MAX_USER_CHARS  # characters the Markov dashboard counts (200,000)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# -- a series ---------------------------------------------------------------------------------------
def as_array(x: Any) -> np.ndarray:
    """``x`` as a numpy array without importing pandas: tensors are detached and moved to the cpu,
    anything with ``.to_numpy()`` (a pandas Series, a polars Series) is asked for it."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_complex():
            raise DoesNotFit(f"This is a complex {describe(x)}; the forecasting view needs real numbers: "
                             "pass x.real or x.abs().")
        return x.to(torch.float64).numpy() if x.is_floating_point() or x.dtype == torch.bool else x.numpy()
    if hasattr(x, "to_numpy") and callable(x.to_numpy):
        try:
            return np.asarray(x.to_numpy())
        except Exception as e:  # noqa: BLE001 - someone else's object: say what it said
            raise DoesNotFit(f"Could not read {describe(x)} as numbers ({type(e).__name__}); "
                             "pass a numpy array: np.asarray(x, dtype=float).") from e
    try:
        return np.asarray(x)
    except Exception as e:  # noqa: BLE001 - ragged lists and the like
        raise DoesNotFit(f"Could not read {describe(x)} as one list of numbers ({type(e).__name__}); "
                         "pass a 1-D list or array of numbers.") from e


def _missing(v: Any) -> bool:
    """None, or pandas' NA / NaT (a missing value in an object column), without importing pandas."""
    return v is None or type(v).__name__ in ("NAType", "NaTType")


def _what(v: Any) -> str:
    return f"the text {str(v)[:30]!r}" if isinstance(v, (str, bytes)) else describe(v)


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"


def check_series(x: Any, name: str = "your series") -> Series:
    """One numeric series -> ``Series`` (key ``"yours"``, time 0..n-1); see the module docstring."""
    if isinstance(x, (str, bytes)):
        raise DoesNotFit(f"This is text ({describe(x)}); the forecasting view needs numbers: pass a list or array "
                         "of numbers, or paste the text into the dashboard's 'Paste numbers' box.")
    if isinstance(x, dict):
        raise DoesNotFit(f"This is {describe(x)}; the forecasting view needs one series of numbers: "
                         "pass one of its values, e.g. x['sales'].")
    if isinstance(x, (list, tuple)):  # numpy would turn [1, 2, "x"] into three strings
        for i, v in enumerate(x):
            if isinstance(v, (str, bytes)) or (not _missing(v) and not isinstance(
                    v, (numbers.Real, np.generic, torch.Tensor, list, tuple, np.ndarray))):
                raise DoesNotFit(f"Item {i} is {_what(v)}, not a number: the forecasting view needs numbers only "
                                 "(convert them first, e.g. np.asarray(x, dtype=float)).")
    a = as_array(x)
    notes: list[str] = []
    if a.ndim == 0:
        raise DoesNotFit(f"This is one number ({describe(x)}); the forecasting view needs a series of them: "
                         "pass a list or 1-D array.")
    if a.ndim > 1:
        long = [i for i, s in enumerate(a.shape) if s > 1]
        kind = "tensor" if isinstance(x, torch.Tensor) else "array"
        if len(long) > 1:
            axis = int(np.argmax(a.shape))  # the longest axis is most likely time
            first = ", ".join(":" if i == axis else "0" for i in range(a.ndim))
            raise DoesNotFit(f"This is a {_shape(a)} {kind}; the forecasting view needs one series: "
                             f"pass x[{first}] (or another column).")
        notes.append(f"Read the {_shape(a)} {kind} as one series of {a.size:,} values.")
        a = a.reshape(-1)
    if a.dtype.kind not in "biuf":
        out = np.empty(len(a))
        for i, v in enumerate(a.tolist()):
            try:
                if isinstance(v, (str, bytes)):
                    raise TypeError
                out[i] = np.nan if _missing(v) else float(v)
            except (TypeError, ValueError, OverflowError):
                raise DoesNotFit(f"Item {i} is {_what(v)}, not a number: the forecasting view needs numbers only "
                                 "(convert them first, e.g. np.asarray(x, dtype=float)).") from None
        a = out
    a = np.asarray(a, dtype=np.float64)
    n = len(a)
    if n == 0:
        raise DoesNotFit("This series is empty; pass at least a few dozen numbers.")
    infinite = np.isinf(a)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        n_inf = int(infinite.sum())
        raise DoesNotFit(f"{_plural(n_inf, 'value')} {'is' if n_inf == 1 else 'are'} infinite (the first is item {i}); "
                         "an infinite value is not a measurement: replace or drop them (e.g. x[np.isfinite(x)]).")
    big = np.abs(np.nan_to_num(a)) > MAX_ABS
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DoesNotFit(f"Item {i} is {a[i]:.3g}: keep every value below {MAX_ABS:.0e} in size (squared errors of "
                         "larger numbers overflow); rescale the series, e.g. x / 1e6.")
    if n > MAX_SERIES_VALUES:
        notes.append(f"Kept the last {MAX_SERIES_VALUES:,} of {n:,} values (the most recent): the forecasting view "
                     f"draws and refits at most {MAX_SERIES_VALUES:,}.")
        a = a[-MAX_SERIES_VALUES:]
        n = len(a)
    missing = np.isnan(a)
    n_missing = int(missing.sum())
    if n_missing * 2 > n:
        raise DoesNotFit(f"{n_missing:,} of the {n:,} values are missing (NaN); the forecasting view needs most of "
                         "them measured: pass a series with fewer gaps.")
    if n_missing:
        a = fill_gaps(a)
        notes.append(f"{_plural(n_missing, 'value')} of {n:,} {'was' if n_missing == 1 else 'were'} missing (NaN or None) "
                     "and filled by a straight line between the measured values either side.")
    if np.ptp(a) == 0:
        raise DoesNotFit(f"All {n:,} values are equal: a constant series has nothing to forecast "
                         "(every method is exactly right); pass one that changes.")
    label = str(name).strip()[:60] or "your series"
    note = " ".join([f"{n:,} values from Python."] + notes)
    return Series("yours", label, a, np.arange(n, dtype=float), "position in your series", "value",
                  min(12, max(1, n // 10)), note, {"notes": notes})


def fit_window(n: int, window: int | None = None, season: int | None = None) -> tuple[int, int]:
    """The window w and season m for a series of ``n`` values. Given ones are checked (one sentence
    when the series is too short for them); missing ones default to 12 each, lowered until they fit."""
    for what, v, hi in (("window", window, MAX_WINDOW), ("season", season, MAX_SEASON)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi):
            raise DoesNotFit(f"{what}={v!r}: the {what} must be a whole number from 1 to {hi}.")
    if window is not None and season is not None:
        w, m = int(window), int(season)
        need = minimum_length(w, m)
        if n < need:
            raise DoesNotFit(f"This series has {n:,} values; with window {w} and season {m} the forecasting view "
                             f"needs at least {need:,}: pass a longer series or a smaller window= / season=.")
        return w, m
    if n < minimum_length(window or 1, season or 1):
        given = f" with window {window}" if window else f" with season {season}" if season else ""
        raise DoesNotFit(f"This series has {n:,} values; the forecasting view needs at least "
                         f"{minimum_length(window or 1, season or 1):,}{given} (a window, its target and a test "
                         "period): pass a longer series.")
    w = int(window) if window is not None else DEFAULT_WINDOW
    m = int(season) if season is not None else min(DEFAULT_WINDOW, max(1, n // 10))
    while n < minimum_length(w, m):  # lower the one not given
        if window is None and w > 1:
            w -= 1
        if season is None and m > 1 and n < minimum_length(w, m):
            m -= 1
    return w, m


def window_note(n: int, w: int, m: int, window: int | None) -> str:
    """The sentence for a window lowered below the default on a short series ("" when it was not)."""
    if window is not None or w >= DEFAULT_WINDOW:
        return ""
    return (f"With {n:,} values the window is w = {w} (the default, {DEFAULT_WINDOW}, needs at least "
            f"{minimum_length(DEFAULT_WINDOW, m):,} values).")


# -- a list of sequences ----------------------------------------------------------------------------
@dataclass
class Sequences:
    """The student's sequences: ``kind`` "text" (``text``: one sentence a line, as the sentences box
    holds it) or "ids" (``ids``: 1-D int64 tensors, none empty; ``vocab_words``: id -> its number as text)."""

    kind: str
    text: str = ""
    ids: list[torch.Tensor] = field(default_factory=list)
    vocab_words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids) if self.kind == "ids" else len(self.text.split("\n"))


def _item_kind(v: Any) -> str:
    if isinstance(v, str):
        return "str"
    if isinstance(v, (bytes, bytearray)):
        return "bytes"
    if isinstance(v, torch.Tensor):
        return "tensor"
    if isinstance(v, np.ndarray):
        return "array"
    if isinstance(v, (list, tuple)):
        return "list"
    return "other"


_KIND_WORDS = {"str": "a sentence (str)", "tensor": "a tensor", "array": "a numpy array", "list": "a list"}


def check_sequences(seqs: Any) -> Sequences:
    """Sentences or token-id sequences -> ``Sequences``; see the module docstring."""
    if isinstance(seqs, str):
        raise DoesNotFit("This is one string; the batching view needs a list of sequences: pass a list of "
                         "sentences, e.g. text.split('\\n') or ['a short one', 'a longer sentence here'].")
    if isinstance(seqs, torch.Tensor) and seqs.dim() == 2:
        raise DoesNotFit(f"This is {describe(seqs)}, a batch that is padded already; the batching view needs the "
                         "sequences before padding: pass a list of 1-D tensors, e.g. [x[b, :n] for b, n in "
                         "enumerate(lengths)].")
    if isinstance(seqs, (torch.Tensor, np.ndarray)) or not hasattr(seqs, "__len__") or isinstance(seqs, dict):
        raise DoesNotFit(f"This is {describe(seqs)}; the batching view needs a list of sequences (sentences, or "
                         "1-D tensors or lists of token ids).")
    items = list(seqs)
    if not items:
        raise DoesNotFit("This list is empty; the batching view needs at least one sequence.")
    kinds = [_item_kind(v) for v in items]
    for i, k in enumerate(kinds):
        if k == "bytes":
            raise DoesNotFit(f"Item {i} is bytes; decode it to text first, e.g. b.decode('utf-8').")
        if k == "other":
            raise DoesNotFit(f"Item {i} is {describe(items[i])}; each sequence must be a sentence (str) or a 1-D "
                             "tensor or list of token ids.")
    textual = {k == "str" for k in kinds}
    if len(textual) > 1:
        i = kinds.index("str")
        j = next(n for n, k in enumerate(kinds) if k != "str")
        raise DoesNotFit(f"Item {i} is {_KIND_WORDS['str']} and item {j} is {_KIND_WORDS[kinds[j]]}; pass only "
                         "sentences or only token ids.")
    return _sentences(items) if kinds[0] == "str" else _id_sequences(items)


def _sentences(items: list[str]) -> Sequences:
    notes: list[str] = []
    lines, n_broken, n_empty = [], 0, 0
    for s in items:
        clean, _ = clean_text(s)
        if "\n" in clean.strip():
            n_broken += 1
        line = " ".join(clean.split())
        if line:
            lines.append(line)
        else:
            n_empty += 1
    if not lines:
        raise DoesNotFit(f"All {_plural(len(items), 'sentence')} are empty (or only spaces and invisible "
                         "characters); the batching view needs at least one with a token in it.")
    if n_empty:
        notes.append(f"Dropped {_plural(n_empty, 'empty sentence')}.")
    if n_broken:
        notes.append(f"{_plural(n_broken, 'sentence')} had line breaks inside; each is read as one line.")
    kept, chars = [], 0
    for ln in lines[:MAX_SENTENCES]:
        if chars + len(ln) + 1 > MAX_SENTENCE_CHARS and kept:
            break
        kept.append(ln[:MAX_SENTENCE_CHARS])
        chars += len(kept[-1]) + 1
    if len(kept) < len(lines):
        notes.append(f"Kept the first {len(kept):,} of {len(lines):,} sentences (the batching view holds at most "
                     f"{MAX_SENTENCES} sentences and {MAX_SENTENCE_CHARS:,} characters).")
    return Sequences("text", text="\n".join(kept), notes=notes)


def _id_sequences(items: list) -> Sequences:
    notes: list[str] = []
    ids, n_empty, n_cut = [], 0, 0
    n_all = len(items)
    for i, v in enumerate(items[:MAX_SEQUENCES]):
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu()
        else:
            try:
                t = torch.as_tensor(np.asarray(v))
            except Exception:  # noqa: BLE001 - ragged nested lists, objects
                raise DoesNotFit(f"Item {i} ({describe(v)}) is not a list of token ids: each sequence must be a "
                                 "1-D list or tensor of whole numbers.") from None
        if t.dim() != 1:
            what = describe(v) if isinstance(v, torch.Tensor) else f"{describe(v)} of shape {tuple(t.shape)}"
            raise DoesNotFit(f"Item {i} is {what}; each sequence must be 1-D (one token id per step): pass its rows "
                             "as separate sequences (list(x)), or x.flatten().")
        if len(t) == 0:
            n_empty += 1
            continue
        if t.dtype == torch.bool or t.is_complex() or t.dtype.is_floating_point and not bool(
                torch.equal(t, t.round())):
            raise DoesNotFit(f"Item {i} is {describe(v)} of {str(t.dtype).replace('torch.', '')}; token ids are "
                             "whole numbers: pass x.long().")
        if not (t.dtype.is_floating_point or t.dtype in (torch.int8, torch.uint8, torch.int16, torch.int32,
                                                            torch.int64)):
            raise DoesNotFit(f"Item {i} has dtype {t.dtype}; token ids are whole numbers: pass x.long().")
        lo, hi = float(t.min()), float(t.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise DoesNotFit(f"Item {i} holds NaN or inf; token ids are whole numbers from 0 up.")
        if lo < 0:
            raise DoesNotFit(f"Item {i} holds the id {int(lo)}; token ids start at 0 (an embedding row each).")
        if hi > MAX_TOKEN_ID:
            raise DoesNotFit(f"Item {i} holds the id {int(hi):,}; the batching view takes ids up to "
                             f"{MAX_TOKEN_ID:,} (its toy model has an embedding row for each).")
        t = t.to(torch.long)
        if len(t) > MAX_SEQ_LEN:
            t, n_cut = t[:MAX_SEQ_LEN], n_cut + 1
        ids.append(t)
    if not ids:
        raise DoesNotFit(f"All {_plural(min(n_all, MAX_SEQUENCES), 'sequence')} are empty; the batching view needs "
                         "at least one token.")
    if n_empty:
        notes.append(f"Dropped {_plural(n_empty, 'empty sequence')} (a length-0 sequence cannot be packed).")
    if n_all > MAX_SEQUENCES:
        notes.append(f"Kept the first {MAX_SEQUENCES:,} of {n_all:,} sequences.")
    if n_cut:
        notes.append(f"Cut {_plural(n_cut, 'sequence')} to {MAX_SEQ_LEN} tokens.")
    vmax = max(int(t.max()) for t in ids)
    return Sequences("ids", ids=ids, vocab_words=[str(i) for i in range(vmax + 1)], notes=notes)


# -- a corpus -----------------------------------------------------------------------------------------
@dataclass
class Corpus:
    """The student's corpus as the paste box holds it: ``text``, one document a line."""

    text: str
    n_docs: int
    notes: list[str] = field(default_factory=list)


def check_corpus(corpus: Any, level: str = "char", order: int = 2) -> Corpus:
    """A text (one document a line) or a list of documents -> ``Corpus``; see the module docstring."""
    if level not in ("char", "word"):
        raise DoesNotFit(f"level={level!r}: the Markov view counts characters (level='char') or words "
                         "(level='word').")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= 7:
        raise DoesNotFit(f"order={order!r}: the Markov view's order is a whole number from 0 to 7.")
    if isinstance(corpus, (bytes, bytearray)):
        raise DoesNotFit("This is bytes; decode it to text first, e.g. data.decode('utf-8').")
    if isinstance(corpus, str):
        docs = corpus.split("\n")
    elif isinstance(corpus, (list, tuple)):
        for i, d in enumerate(corpus):
            if not isinstance(d, str):
                raise DoesNotFit(f"Item {i} is {describe(d)}; the Markov view needs text: a str, or a list of "
                                 "str (one document each).")
        docs = [" ".join(d.split()) for d in corpus]  # a document is one line
    else:
        raise DoesNotFit(f"This is {describe(corpus)}; the Markov view needs text: a str (one document a line) "
                         "or a list of str.")
    notes: list[str] = []
    clean = [ln for ln in (" ".join(clean_text(d)[0].split()) for d in docs) if ln]
    if not clean:
        raise DoesNotFit("This text is empty (or only spaces and invisible characters); the Markov view needs some "
                         "text to count: a str, or a list of documents.")
    kept, chars = [], 0
    for d in clean:
        if chars + len(d) + 1 > MAX_CORPUS_CHARS:
            if not kept:
                kept.append(d[:MAX_CORPUS_CHARS])
            break
        kept.append(d)
        chars += len(d) + 1
    if len(kept) < len(clean):
        total = sum(len(d) + 1 for d in clean)
        notes.append(f"Counting the first {len(kept):,} of your {len(clean):,} documents ({MAX_CORPUS_CHARS:,} of "
                     f"{total:,} characters), so that counting stays quick.")
    longest = max(len(corpora.tokens(d, level)) for d in kept)
    if longest < order + 1:
        unit = "character" if level == "char" else "word"
        raise DoesNotFit(f"Your longest document has {_plural(longest, unit)}; a Markov model of order {order} needs "
                         f"{order + 1} in a row ({order} of context and the next): pass more text or a lower order.")
    return Corpus("\n".join(kept), len(kept), notes)
