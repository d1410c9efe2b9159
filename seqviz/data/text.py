"""Turn text a user types into token ids: cleaning, tokenising, vocabulary, caps.

Contract: ``tokenise(text, cfg)`` never raises on any ``str`` (emoji, combining
marks, right-to-left scripts, control characters, lone surrogates, empty input);
everything it changed or cut is listed in plain sentences in ``Corpus.notes``.

Cleaning, in order:
- surrogates: a valid pair written as two code points is joined into one
  character; a lone surrogate (e.g. ``"\\ud800"``, which cannot be encoded as
  UTF-8) is replaced by U+FFFD;
- control characters (Unicode category Cc) other than newline are removed, a tab
  becomes a space; explicit bidirectional overrides/isolates (U+202A-202E,
  U+2066-2069) are removed because they reorder how the grid is drawn;
  right-to-left letters themselves are kept;
- NFC normalisation, so "e" + combining acute and the precomposed "e-acute" are
  the same token.

Character level splits into user-perceived characters (a base character with its
combining marks, emoji ZWJ sequences, skin-tone modifiers, variation selectors
and flag pairs stay together). Word level splits on whitespace, then separates
punctuation and symbols (each emoji is its own token) from runs of letters/digits.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import torch

PAD, UNK = "<pad>", "<unk>"
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_ZWJ = "\u200d"

SAMPLE_TEXT = """the cat sat on the mat
a dog barked
sequences come in many lengths
we pad short ones so that a batch fits in one tensor
padding wastes memory and compute
sort by length and the waste shrinks
an RNN reads one step at a time
packing skips the pad cells"""

# Token names for data sets drawn from a length distribution (ids 2.. map to these).
FILLER_WORDS = ("the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "red", "and", "then", "it", "was",
                "sun", "sky", "tree", "bird", "sang", "fell", "up", "down", "old", "new", "we", "saw", "one", "two")


@dataclass
class TextConfig:
    level: str = "word"  # "word" or "char": what one token is
    max_chars: int = 20_000  # text longer than this is cut (and the user is told)
    max_lines: int = 256  # at most this many sentences (one per line) are kept
    max_tokens: int = 400  # a sentence longer than this many tokens is cut
    max_vocab: int = 5_000  # rarer tokens than the top max_vocab become <unk>
    dedupe: bool = False  # drop repeated lines (default: keep them, and say so)


@dataclass
class Vocab:
    """Index 0 is ``<pad>``, 1 is ``<unk>``; then tokens by frequency, ties by first use."""

    itos: list[str]  # id -> token
    stoi: dict[str, int] = field(default_factory=dict)  # token -> id

    def __post_init__(self):
        if not self.stoi:
            self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> torch.Tensor:
        """(L,) long ids; unknown tokens map to 1 (``<unk>``)."""
        return torch.tensor([self.stoi.get(t, 1) for t in tokens], dtype=torch.long)

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]


@dataclass
class Corpus:
    lines: list[str]  # cleaned sentences, one per non-empty line
    tokens: list[list[str]]  # tokens of each sentence
    ids: list[torch.Tensor]  # (L_b,) long ids of each sentence
    vocab: Vocab
    notes: list[str]  # plain sentences: what was cleaned, cut, or is worth knowing

    @property
    def lengths(self) -> torch.Tensor:
        """(N,) long: tokens per sentence."""
        return torch.tensor([len(t) for t in self.tokens], dtype=torch.long)


def clean_text(text: str) -> tuple[str, list[str]]:
    """Return ``(clean, notes)``: see the module docstring for what is changed."""
    notes: list[str] = []
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    # Join surrogate pairs, replace lone surrogates by U+FFFD.
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    n_bad = sum(1 for ch in fixed if ch == "\ufffd") - text.count("\ufffd")
    if n_bad > 0:
        notes.append(f"Replaced {n_bad} invalid character(s) (lone surrogates) with \ufffd.")
    out, n_ctrl, n_bidi = [], 0, 0
    for ch in fixed.replace("\r\n", "\n").replace("\r", "\n"):
        if ch == "\t":
            out.append(" ")
        elif ch == "\n":
            out.append(ch)
        elif ch in _BIDI_CONTROLS:
            n_bidi += 1
        elif unicodedata.category(ch) == "Cc":
            n_ctrl += 1
        else:
            out.append(ch)
    if n_ctrl:
        notes.append(f"Removed {n_ctrl} control character(s).")
    if n_bidi:
        notes.append(f"Removed {n_bidi} text-direction override character(s); right-to-left letters are kept.")
    return unicodedata.normalize("NFC", "".join(out)), notes


def _joins_previous(ch: str, prev: str) -> bool:
    """Does ``ch`` belong to the user-perceived character that ``prev`` ends?"""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")  # combining marks
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
        or ch == _ZWJ
        or prev.endswith(_ZWJ)
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def graphemes(s: str) -> list[str]:
    """Split ``s`` into user-perceived characters (a close, dependency-free
    approximation of Unicode grapheme clusters: enough for marks, emoji, flags)."""
    out: list[str] = []
    for ch in s:
        if out and _joins_previous(ch, out[-1]):
            out[-1] += ch
        elif out and _is_regional(ch) and len(out[-1]) == 1 and _is_regional(out[-1]):
            out[-1] += ch  # two regional indicators make one flag
        else:
            out.append(ch)
    return out


def _is_wordlike(g: str) -> bool:
    return g[0].isalnum() or g[0] in "_'"


def split_words(line: str) -> list[str]:
    """Whitespace-separated words; punctuation and symbols become their own tokens."""
    tokens: list[str] = []
    for chunk in line.split():
        run = ""
        for g in graphemes(chunk):
            if _is_wordlike(g):
                run += g
            else:
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(g)
        if run:
            tokens.append(run)
    return tokens


def build_vocab(token_lists: list[list[str]], max_vocab: int) -> Vocab:
    counts = Counter(t for toks in token_lists for t in toks)
    first = {}
    for toks in token_lists:
        for t in toks:
            first.setdefault(t, len(first))
    ranked = sorted(counts, key=lambda t: (-counts[t], first[t]))[: max(0, max_vocab)]
    return Vocab([PAD, UNK, *ranked])


def tokenise(text: str, cfg: TextConfig | None = None) -> Corpus:
    """Clean ``text``, keep one sentence per non-empty line, tokenise, build a vocabulary.

    Returns a Corpus with N >= 0 sentences; ``notes`` says what was cleaned, cut,
    or dropped. An empty corpus gets a note telling the user what to type.
    """
    cfg = cfg or TextConfig()
    if cfg.level not in ("word", "char"):
        raise ValueError(f"level must be 'word' or 'char', not {cfg.level!r}")
    raw = "" if text is None else str(text)
    notes: list[str] = []
    if len(raw) > cfg.max_chars:
        notes.append(f"The text has {len(raw):,} characters; only the first {cfg.max_chars:,} are used.")
        raw = raw[: cfg.max_chars]
    clean, clean_notes = clean_text(raw)
    notes += clean_notes
    lines = [ln.strip() for ln in clean.split("\n") if ln.strip()]
    n_dup = len(lines) - len(set(lines))
    if n_dup and cfg.dedupe:
        lines = list(dict.fromkeys(lines))
        notes.append(f"Dropped {n_dup} repeated line(s).")
    elif n_dup:
        notes.append(f"{n_dup} line(s) repeat an earlier line; each is kept as its own sequence.")
    if len(lines) > cfg.max_lines:
        notes.append(f"Kept the first {cfg.max_lines} of {len(lines)} lines.")
        lines = lines[: cfg.max_lines]
    split = graphemes if cfg.level == "char" else split_words
    tokens, n_cut = [], 0
    for ln in lines:
        toks = split(ln)
        if len(toks) > cfg.max_tokens:
            toks, n_cut = toks[: cfg.max_tokens], n_cut + 1
        tokens.append(toks)
    if n_cut:
        notes.append(f"Cut {n_cut} sentence(s) to {cfg.max_tokens} tokens.")
    vocab = build_vocab(tokens, cfg.max_vocab)
    n_types = len({t for toks in tokens for t in toks})
    if n_types > cfg.max_vocab:
        notes.append(f"{n_types - cfg.max_vocab} rare token type(s) map to {UNK}.")
    if not lines:
        notes.append("No text to tokenise: type or paste at least one sentence, one per line.")
    return Corpus(lines, tokens, [vocab.encode(t) for t in tokens], vocab, notes)
