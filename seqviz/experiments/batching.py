"""The batching experiment: one data set, every layout and probe the batching dashboard draws,
and the timing job its Measure button runs.

- ``make_scene(SceneConfig)`` -> ``Scene``: tokenise the user's text (or draw lengths from a
  distribution), pad the first B sequences, pack them, cut the data set into shuffled and
  length-sorted batches; the probes of ``seqviz.probes.packing`` (final states, masked loss,
  one-hot vs embedding) run on first use of ``scene.final`` / ``.loss`` / ``.onehot``. ``SceneError``: nothing to batch (the message
  says what to type).
- ``TimingJob(scene, hidden, device, label)``: LSTM forward+backward over the scene's data set
  as padded/packed x shuffled/sorted batches, one configuration per ``step()`` (the median of
  ``reps`` timed passes each); ``step()`` raises ``seqviz.training.Finished`` when all are
  measured or the job was cancelled, so it runs under ``seqviz.training.train_loop``; its
  ``stop`` callable (polled between batches) lets a pause end a pass of several seconds.

Every number comes from tensors PyTorch produced; nothing here knows about widgets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from seqviz.data.batching import (
    LengthConfig, PackedLayout, PaddedBatch, Waste, bucket_by_length, pack_layout, pad, padding_waste,
    random_batches, random_sequences, sample_lengths,
)
from seqviz.data.text import FILLER_WORDS, PAD, SAMPLE_TEXT, UNK, TextConfig, tokenise
from seqviz.probes.packing import (
    FinalStates, LossComparison, OneHotView, Timing, TimingConfig, ToyConfig, ToyTagger, build_toy, final_states,
    onehot_vs_embedding, tagger_loss, time_lstm,
)
from seqviz.training import Finished


@dataclass
class SceneConfig:
    source: str = "text"  # "text" (sentences typed by the user) or "random" (lengths from a distribution)
    text: str = SAMPLE_TEXT  # source="text": one sentence per line
    level: str = "word"  # source="text": a token is a "word" or a "char"acter
    side: str = "right"  # pad on the "right" (after the tokens) or the "left"
    dist: str = "heavy"  # source="random": "uniform" or "heavy" (power law plus long outliers)
    n: int = 64  # source="random": N sequences in the data set
    max_len: int = 40  # source="random": the longest possible sequence
    batch_size: int = 8  # B: sequences per batch; the batch shown is the data set's first B
    shrink: bool = False  # sorted batches shrink as sequences grow (budget: B * median length cells)
    seed: int = 0  # seeds lengths, tokens, shuffling, model weights and labels


@dataclass
class Scene:
    cfg: SceneConfig
    notes: list[str]  # plain sentences for the status line
    lengths: torch.Tensor  # (N,) lengths of the whole data set
    words: list[list[str]]  # tokens of the shown batch, as text
    batch: PaddedBatch  # the shown batch, (B, T)
    layout: PackedLayout  # where the shown batch's tokens land in PackedSequence.data
    random_batches: list[torch.Tensor]  # data set shuffled and cut into batches of B
    sorted_batches: list[torch.Tensor]  # data set sorted by length and cut (shrinking if cfg.shrink)
    waste_random: Waste
    waste_sorted: Waste
    budget: int | None  # padded cells per sorted batch when shrinking
    onehot_ids: torch.Tensor  # (L,) at most 12 token ids of the first sequence (the one-hot picture)
    onehot_cols: list[int]  # vocabulary columns drawn in the one-hot picture
    vocab_words: list[str]  # id -> token text
    dim: int  # E, the toy model's embedding size
    label_state: torch.Tensor  # the generator state the masked-loss probe draws its random labels from

    # The probes run the toy LSTM: computed on first use, so a view of the batch alone (the padded
    # grid, the packed layout) does not wait for them.
    @functools.cached_property
    def model(self) -> ToyTagger:
        return build_toy(ToyConfig(vocab=len(self.vocab_words), embed=self.dim), seed=int(self.cfg.seed))

    @functools.cached_property
    def final(self) -> FinalStates:
        return final_states(self.model, self.batch)

    @functools.cached_property
    def loss(self) -> LossComparison:
        g = torch.Generator()
        g.set_state(self.label_state)
        return tagger_loss(self.model, self.batch, g)

    @functools.cached_property
    def onehot(self) -> OneHotView:
        return onehot_vs_embedding(self.onehot_ids, self.model.emb)

    @property
    def steps(self) -> int:
        """T of the shown batch: the time steps the packed view can show."""
        return int(self.batch.lengths.max())


class SceneError(ValueError):
    """The input cannot make a batch; the message says what to do."""


PROBES = ("model", "final", "loss", "onehot")  # the scene's lazily computed probes


def _same_probes(a: Scene, b: Scene) -> bool:
    """Would the probes of ``a`` and ``b`` come out the same? The same model (seed, vocabulary,
    E), the same shown batch and first sequence, and the labels drawn from the same generator
    state: e.g. ``shrink`` toggled, or a longer ``max_len`` that leaves the shown batch alone."""
    return (a.cfg.seed == b.cfg.seed and a.dim == b.dim and a.vocab_words == b.vocab_words
            and a.batch.side == b.batch.side and a.batch.tokens.shape == b.batch.tokens.shape
            and torch.equal(a.batch.tokens, b.batch.tokens) and torch.equal(a.batch.mask, b.batch.mask)
            and torch.equal(a.onehot_ids, b.onehot_ids)
            and torch.equal(a.label_state, b.label_state))


def make_scene(cfg: SceneConfig, dim: int = 8, previous: Scene | None = None,
               given: tuple[list[torch.Tensor], list[str]] | None = None) -> Scene:
    """Tokenise or sample the data set, then compute every layout the dashboard draws (the
    probes follow on first use).

    ``dim`` is the embedding size E, which also prices a padded cell in bytes (float32).
    ``previous``: a scene whose probes would come out the same (``_same_probes``: e.g. only
    ``shrink`` differs) lends them, computed already or not, instead of running the LSTM again.
    ``given``: (sequences, id -> token text): a student's own token ids (1-D int64 tensors, none
    empty: ``seqviz.yours.data.check_sequences``), batched instead of ``cfg.source``'s.
    Raises SceneError with a plain sentence when there is nothing to batch.
    """
    g = torch.Generator().manual_seed(int(cfg.seed))
    notes: list[str] = []
    if given is not None:
        seqs, vocab_words = list(given[0]), list(given[1])
    elif cfg.source == "text":
        corpus = tokenise(cfg.text, TextConfig(level=cfg.level))
        notes += corpus.notes
        if not corpus.ids:
            raise SceneError(corpus.notes[-1])
        seqs, vocab_words = corpus.ids, corpus.vocab.itos
    else:
        lengths = sample_lengths(LengthConfig(kind=cfg.dist, n=cfg.n, min_len=min(3, cfg.max_len),
                                              max_len=cfg.max_len), g)
        vocab_words = [PAD, UNK, *FILLER_WORDS]
        seqs = random_sequences(lengths, len(vocab_words), g)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (N,)
    N, B = len(seqs), max(1, int(cfg.batch_size))
    if B > N:
        notes.append(f"Batch size {B} is larger than the {N} sequence(s); the batch holds all {N}.")
        B = N
    shown = list(range(B))
    batch = pad([seqs[i] for i in shown], side=cfg.side)
    budget = B * max(1, int(lengths.float().median())) if cfg.shrink else None
    rnd = random_batches(N, B, g)
    srt = bucket_by_length(lengths, B, budget)
    ids = seqs[0][:12]  # (L,) at most 12 tokens of the first sequence
    cols = sorted(set(range(min(len(vocab_words), 24))) | set(ids.tolist()))
    scene = Scene(
        cfg=cfg, notes=notes, lengths=lengths, words=[[vocab_words[i] for i in seqs[b].tolist()] for b in shown],
        batch=batch, layout=pack_layout(batch.lengths), random_batches=rnd, sorted_batches=srt,
        waste_random=padding_waste(lengths, rnd, dim), waste_sorted=padding_waste(lengths, srt, dim),
        budget=budget, onehot_ids=ids, onehot_cols=cols, vocab_words=list(vocab_words), dim=dim,
        label_state=g.get_state(),  # (a copy: the labels come out the same however often they are drawn)
    )
    if previous is not None and _same_probes(previous, scene):
        for name in PROBES:
            if name in previous.__dict__:  # computed there already
                scene.__dict__[name] = previous.__dict__[name]
    return scene


# -- the Measure button's job ------------------------------------------------------------------

VARIANTS = ("padded, shuffled", "packed, shuffled", "padded, sorted", "packed, sorted")
ALL_MEASURED = "all measured"  # Finished's reason when every configuration has its timing


class TimingJob:
    """Time the four configurations of ``scene``'s data set, one per ``step()``.

    ``step()`` returns the ``Timing`` of the next configuration (the median of ``reps`` timed
    passes after one warm-up batch), or None when ``stop()`` turned True during it (it is
    measured again by the next ``step()``: Stop pauses, it does not lose what was measured).
    It raises ``Finished(ALL_MEASURED)`` when nothing is left, and ``Finished(reason)`` once
    ``cancel(reason)`` was called (from any thread: the pass ends after its current batch).
    """

    def __init__(self, scene: Scene, hidden: int, device: torch.device, device_label: str, reps: int = 3,
                 dim: int = 32, stop: Callable[[], bool] = lambda: False):
        self.scene, self.hidden, self.device, self.device_label = scene, int(hidden), device, device_label
        self.cfg = TimingConfig(hidden=int(hidden), dim=dim, reps=reps, stat="median")
        self.variants = {
            "padded, shuffled": (scene.random_batches, False), "packed, shuffled": (scene.random_batches, True),
            "padded, sorted": (scene.sorted_batches, False), "packed, sorted": (scene.sorted_batches, True),
        }
        self.results: list[Timing] = []  # at most len(VARIANTS)
        self.cancelled: str | None = None
        self._stop = stop

    @property
    def total(self) -> int:
        return len(self.variants)

    @property
    def done(self) -> bool:
        return len(self.results) >= self.total

    @property
    def next_name(self) -> str | None:
        return None if self.done else list(self.variants)[len(self.results)]

    def cancel(self, reason: str) -> None:
        """The data changed: this job's numbers no longer describe what is shown."""
        self.cancelled = reason

    def _halted(self) -> bool:
        return self.cancelled is not None or bool(self._stop())

    def step(self) -> Timing | None:
        if self.cancelled:
            raise Finished(self.cancelled)
        if self.done:
            raise Finished(ALL_MEASURED)
        name = self.next_name
        res = time_lstm(self.scene.lengths, {name: self.variants[name]}, self.cfg, torch.Generator().manual_seed(0),
                        self.device, self.device_label, stop=self._halted)
        if self.cancelled:
            raise Finished(self.cancelled)
        if not res or res[0].runs < self.cfg.reps:  # cut short: not a median of reps runs
            return None
        self.results.append(res[0])
        return res[0]
