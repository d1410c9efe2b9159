"""Toy translation tasks whose correct alignment is known, and text for self-attention.

Every pair comes with ``align`` (B, T_out, S) bool: True where source position j
determines output step i. An output step with no True (the "-" of a date) is
left out of the alignment accuracy.

- reverse (default): "abcd" -> "dcba"; output i is decided by source S-1-i.
- permute: a fixed, seeded shuffle of a fixed-length string; output i <- source perm[i].
- date: "22 Nov 2026" -> "2026-11-22"; digits align with digits, the month number
  with the three letters of the month name.

Batches hold sequences of one length each (no padding); the length is drawn per
batch between ``min_len`` and ``max_len``. All randomness comes from a passed
``torch.Generator``.

``char_corpus`` returns the Zen of Python, read from CPython's own ``this.py``
(rot13-decoded, never imported, because importing ``this`` prints), so the
self-attention part needs no download.
"""

from __future__ import annotations

import ast
import codecs
import importlib.util
import unicodedata
from dataclasses import dataclass

import torch

TASKS = ("reverse", "permute", "date")
TASK_LABELS = {"reverse": "Reverse a sequence (abc -> cba)",
               "permute": "A fixed shuffle of the positions",
               "date": "Rewrite a date (22 Nov 2026 -> 2026-11-22)"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BOS = "<s>"  # the decoder's first input y_0


@dataclass
class TranslationConfig:
    task: str = "reverse"  # "reverse", "permute" or "date"
    n_symbols: int = 10  # reverse/permute: source alphabet a, b, c, ... of this size
    min_len: int = 4  # reverse: shortest source S in training
    max_len: int = 12  # reverse: longest source S in training; permute: its fixed length
    perm_seed: int = 0  # permute: which fixed shuffle


@dataclass
class Pairs:
    src: torch.Tensor  # (B, S) long source tokens
    tgt: torch.Tensor  # (B, T) long target tokens
    align: torch.Tensor  # (B, T, S) bool: True where source j determines output i


class TranslationTask:
    """Seeded source/target pairs with a known alignment, over one shared vocabulary."""

    def __init__(self, cfg: TranslationConfig | None = None):
        self.cfg = cfg = cfg or TranslationConfig()
        if cfg.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {cfg.task!r}")
        if not 1 <= cfg.min_len <= cfg.max_len:
            raise ValueError("Need 1 <= min_len <= max_len.")
        if cfg.task == "date":
            symbols = list("0123456789 -") + sorted(set("".join(MONTHS)))
        else:
            if not 2 <= cfg.n_symbols <= 26:
                raise ValueError("n_symbols must be between 2 and 26.")
            symbols = [chr(ord("a") + i) for i in range(cfg.n_symbols)]
        self.vocab = [BOS] + symbols  # V entries; index 0 is BOS
        self.index = {s: i for i, s in enumerate(self.vocab)}
        self.bos = 0
        g = torch.Generator().manual_seed(int(cfg.perm_seed))
        self.perm = torch.randperm(cfg.max_len, generator=g)  # permute: output i <- source perm[i]

    @property
    def V(self) -> int:
        return len(self.vocab)

    @property
    def train_lengths(self) -> tuple[int, int]:
        """Shortest and longest source length seen in training."""
        c = self.cfg
        if c.task == "date":
            return 11, 11
        if c.task == "permute":
            return c.max_len, c.max_len
        return c.min_len, c.max_len

    # -- the rule ----------------------------------------------------------------
    def target_and_alignment(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) long -> target (B, T) long and align (B, T, S) bool."""
        B, S = src.shape
        t = self.cfg.task
        if t == "reverse":
            idx = torch.arange(S - 1, -1, -1)
        elif t == "permute":
            if S != self.cfg.max_len:
                raise ValueError(f"The shuffle task works on exactly {self.cfg.max_len} symbols.")
            idx = self.perm
        else:
            return self._date_target(src)
        tgt = src[:, idx]  # (B, T=S)
        align = torch.zeros(B, S, S, dtype=torch.bool)
        align[:, torch.arange(S), idx] = True
        return tgt, align

    def _date_target(self, src: torch.Tensor):
        texts = [self.decode(row) for row in src]
        tgts, aligns = [], []
        for s in texts:
            day, mon, year = s[0:2], s[3:6], s[7:11]
            tgts.append(self.encode_known(f"{year}-{MONTHS.index(mon) + 1:02d}-{day}"))
            a = torch.zeros(10, 11, dtype=torch.bool)
            for k in range(4):
                a[k, 7 + k] = True  # year digits
            a[5:7, 3:6] = True  # month number <- the month name
            a[8, 0] = a[9, 1] = True  # day digits
            aligns.append(a)
        return torch.stack(tgts), torch.stack(aligns)

    def target_frequencies(self) -> dict[str, float]:
        """How often each token occurs in the targets (all output positions together), exactly:
        reverse/permute targets are uniform over the source alphabet; a date's fields (day 1-28,
        month, year 1900-2099, drawn independently and uniformly, as ``sample`` does) are counted."""
        if self.cfg.task != "date":
            return {s: 1.0 / (self.V - 1) for s in self.vocab[1:]}
        counts: dict[str, float] = {}
        fields = ([f"{y}" for y in range(1900, 2100)], [f"{m:02d}" for m in range(1, 13)],
                  [f"{d:02d}" for d in range(1, 29)])
        for values in fields:  # each field's characters, weighted by that field's probability
            for v in values:
                for ch in v:
                    counts[ch] = counts.get(ch, 0.0) + 1.0 / len(values)
        counts["-"] = counts.get("-", 0.0) + 2.0  # two dashes in every target
        total = sum(counts.values())  # 10 characters per target
        return {ch: c / total for ch, c in counts.items()}

    def frequency_baseline(self) -> tuple[float, float]:
        """(loss, accuracy) of the best guess that knows only how often each target token occurs
        and nothing of the source or the position: cross-entropy H(p) = -sum p ln p in nats, and
        accuracy max p (always the most frequent token). Reverse of n letters: ln n and 1/n."""
        p = torch.tensor(list(self.target_frequencies().values()), dtype=torch.float64)
        return float(-(p * p.log()).sum()), float(p.max())

    # -- sampling ----------------------------------------------------------------
    def sample(self, B: int, gen: torch.Generator, length: int | None = None) -> Pairs:
        """B pairs of one source length (drawn in the training range unless given)."""
        t = self.cfg.task
        if t == "date":
            day = torch.randint(1, 29, (B,), generator=gen)
            mon = torch.randint(0, 12, (B,), generator=gen)
            year = torch.randint(1900, 2100, (B,), generator=gen)
            src = torch.stack([self.encode_known(f"{int(d):02d} {MONTHS[int(m)]} {int(y)}")
                               for d, m, y in zip(day, mon, year)])
        else:
            lo, hi = self.train_lengths
            S = int(torch.randint(lo, hi + 1, (1,), generator=gen)) if length is None else int(length)
            src = torch.randint(1, self.V, (B, S), generator=gen)  # never BOS
        tgt, align = self.target_and_alignment(src)
        return Pairs(src, tgt, align)

    # -- text <-> tokens -----------------------------------------------------------
    def encode_known(self, text: str) -> torch.Tensor:
        return torch.tensor([self.index[ch] for ch in text], dtype=torch.long)

    def decode(self, ids) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids  # one conversion, not one per token
        return "".join(self.vocab[int(i)] for i in ids)

    def parse(self, text: str, cap: int = 40) -> tuple[torch.Tensor | None, str | None]:
        """Typed source text -> ((S,) tokens or None, a plain sentence or None).

        Unknown characters are dropped and reported; text over ``cap`` is cut.
        """
        text = unicodedata.normalize("NFC", str(text)).strip()
        if self.cfg.task != "date":
            text = text.lower()
        msgs = []
        if len(text) > cap:
            text = text[:cap]
            msgs.append(f"Only the first {cap} characters are used.")
        kept = [ch for ch in text if ch in self.index and ch != BOS]
        if len(kept) < len(text):
            msgs.append(f"{len(text) - len(kept)} character(s) outside this task's alphabet "
                        f"({''.join(self.vocab[1:])!r}) were dropped.")
        if self.cfg.task == "date":
            s = "".join(kept)
            ok = (len(s) == 11 and s[2] == " " and s[6] == " " and s[:2].isdigit()
                  and s[3:6] in MONTHS and s[7:].isdigit())
            if not ok:
                return None, "Type a date like '22 Nov 2026' (two-digit day, English month, four-digit year)."
        elif self.cfg.task == "permute" and len(kept) != self.cfg.max_len:
            return None, f"The shuffle task needs exactly {self.cfg.max_len} letters from {''.join(self.vocab[1:])!r}."
        if not kept:
            return None, "Type at least one letter from " + repr("".join(self.vocab[1:])) + "."
        lo, hi = self.train_lengths
        if len(kept) > hi:
            msgs.append(f"The model only saw sources of up to {hi} symbols in training; "
                        "expect the alignment to break down beyond that.")
        return self.encode_known("".join(kept)), (" ".join(msgs) or None)


# -- text for self-attention ------------------------------------------------------
def char_corpus() -> str:
    """The Zen of Python (about 850 characters) from CPython's ``this.py``, no import."""
    spec = importlib.util.find_spec("this")
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "s":
            return codecs.decode(node.value.value, "rot13")
    raise RuntimeError("Could not read the Zen of Python from this.py.")


@dataclass
class CharData:
    text: str  # the whole corpus
    vocab: list[str]  # V characters; vocab[0] is the stand-in for unknown characters
    ids: torch.Tensor  # (N,) long, the corpus as tokens

    UNKNOWN = "\u00b7"  # middle dot

    @classmethod
    def from_text(cls, text: str) -> "CharData":
        vocab = [cls.UNKNOWN] + sorted(set(text) - {cls.UNKNOWN})
        index = {c: i for i, c in enumerate(vocab)}
        return cls(text, vocab, torch.tensor([index[c] for c in text], dtype=torch.long))

    def encode(self, text: str) -> tuple[torch.Tensor, int]:
        """Text -> ((T,) ids, how many characters were unknown and mapped to vocab[0])."""
        index = {c: i for i, c in enumerate(self.vocab)}
        ids = [index.get(c, 0) for c in text]
        return torch.tensor(ids, dtype=torch.long), sum(c not in index or c == self.UNKNOWN for c in text)

    def frequency_entropy(self) -> float:
        """Nats per character of predicting every next character from the corpus's letter
        frequencies alone (no context): the loss a language model must beat."""
        counts = torch.bincount(self.ids, minlength=len(self.vocab)).double()
        p = counts[counts > 0] / counts.sum()
        return float(-(p * p.log()).sum())

    def batch(self, B: int, T: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """B random windows: x (B, T) and next-character targets y (B, T)."""
        start = torch.randint(0, len(self.ids) - T - 1, (B,), generator=gen)
        idx = start[:, None] + torch.arange(T + 1)  # (B, T+1)
        w = self.ids[idx]
        return w[:, :-1], w[:, 1:]
