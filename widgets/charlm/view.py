"""The character-level language model dashboard: a model learns to write while the class watches.

What each control redraws (the cheap pane first, the rest through ``when_drawn``):
- corpus, model, "Compare with scheduled sampling", "Use pasted text" and Reset: training stops; the curves are
  emptied at once; the corpus is loaded and the run built in a thread (a big corpus takes seconds), then every view;
- temperature: the next-character bars at once (softmax of cached logits), then greedy vs sampled, then lengths;
- prompt: the bars (one pass over the prompt), then greedy vs sampled;
- unit: the coloured passage and the ranking's colours (cached activations); feature: the ranking, and the unit
  slider jumps to the best unit; passage (held-out / latest sample): new activations;
- Markov order: the Markov line (cached) and the progress line; learning rate: applied from the next step.

Every view reads ``viewer``, a copy of the live model refreshed between training steps (a handler never waits for
a training step). Samples for the history are drawn in the training thread between steps on a second copy
(``sampler``), every ``SAMPLE_S`` seconds, time-boxed to ``SAMPLE_BOX_S`` (training waits at most that long, less
than one refresh). Records are bounded: the run's ``History``, at most ``MAX_SAMPLES`` samples, ``REFRESH_TIMES``.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import threading
import time

import ipywidgets as ipw
import numpy as np
import torch

from seqviz.devices import pick_device
from seqviz.experiments.charlm import (FEATURES, PRESETS, build_charlm_run, correlations, default_preset, features,
                                       length_shares, load_corpus, markov_table, sampled_lengths, unit_passage)
from seqviz.figures import charlm as fc
from seqviz.models.charlm import END, entropy_bits, next_logits, sample, temperature_probs
from widgets.charlm import panels as P
from widgets.charlm.state import MODEL_KNOBS, CharLMState
from widgets.kit import (LiveDashboard, PlotPane, bind_all, device_badge, show_running, training_buttons,
                         warm_up_torch, when_drawn)

CURVES_HZ, VIEWS_HZ = 5, 1.5  # refreshes a second while training (curves; one of the slower views in turn)
SAMPLE_S, SAMPLE_BOX_S = 2.0, 0.12  # a sample every 2 s while training, at most 0.12 s of sampling
MAX_SAMPLES = 40  # samples kept in the history
REFRESH_TIMES = 2000
N_LENGTHS = 200  # samples drawn for the length histogram
WINDOW = 50  # running mean of the training curve
LABELS = {"lstm": "LSTM", "gru": "GRU", "transformer": "Transformer"}
STYLE = {"description_width": "110px"}
W = ipw.Layout(width="300px")


def make_controls() -> dict[str, ipw.Widget]:
    c = dict(continuous_update=False, layout=W, style=STYLE)
    return {
        "corpus": ipw.Dropdown(options=[("First names", "names"), ("Mail (SpamAssassin)", "mail"),
                                        ("Brown corpus", "brown"), ("Python's help", "python_docs"),
                                        ("Pasted text", "pasted")], description="Corpus", layout=W, style=STYLE),
        "kind": ipw.ToggleButtons(options=[("LSTM", "lstm"), ("GRU", "gru"), ("attention", "transformer")],
                                  tooltips=["an LSTM", "a GRU", "a small causal transformer"],
                                  description="Model", style={"description_width": "45px", "button_width": "82px"}),
        "lr": ipw.FloatLogSlider(min=-4, max=-1, step=0.1, base=10, description="Learning rate",
                                 readout_format=".1e", **c),
        "compare": ipw.Checkbox(description="Compare with scheduled sampling", indent=False,
                                layout=ipw.Layout(width="300px")),
        "order": ipw.IntSlider(min=0, max=6, description="Markov order", **c),
        "prompt": ipw.Text(description="Prompt", placeholder="empty: a new name from scratch", continuous_update=False,
                           layout=ipw.Layout(width="420px"), style=STYLE),
        "tau": ipw.FloatSlider(min=0.0, max=3.0, step=0.05, description="Temperature τ", continuous_update=False,
                               layout=ipw.Layout(width="420px"), style=STYLE),
        "feature": ipw.Dropdown(options=[(v, k) for k, v in FEATURES.items()], description="Rank units by",
                                layout=ipw.Layout(width="420px"), style=STYLE),
        "unit": ipw.IntSlider(min=0, max=127, description="Unit", **c),
        "source": ipw.ToggleButtons(options=[("held-out names", "held"), ("latest sample", "sample")],
                                    description="Passage", style={"description_width": "110px",
                                                                  "button_width": "130px"}),
        "pasted": ipw.Textarea(placeholder="Paste text here, one document (a name, a sentence) a line; then press "
                               "'Use pasted text'.", continuous_update=False,
                               layout=ipw.Layout(width="300px", height="70px")),
    }


class CharLMDashboard(LiveDashboard):
    """A character-level LSTM, GRU or transformer trained live, sampled, opened up."""

    kind = "charlm"

    def __init__(self, state: CharLMState | None = None, preset: str | None = None, **kwargs):
        super().__init__(state or CharLMState(), **kwargs)
        s = self.state
        self.refresh_times = collections.deque(maxlen=REFRESH_TIMES)
        self.device = pick_device().device
        self.preset_name = preset or default_preset(self.device)
        self.preset = PRESETS[self.preset_name]
        self.c = make_controls()
        self.buttons = training_buttons(step=False)
        self.use_text = ipw.Button(description="Use pasted text", layout=ipw.Layout(width="160px"))
        self.panes = {"curves": PlotPane(fc.curves_skeleton()), "exposure": PlotPane(fc.exposure_skeleton()),
                      "next": PlotPane(fc.next_skeleton()), "units": PlotPane(fc.units_skeleton()),
                      "lengths": PlotPane(fc.lengths_skeleton())}
        self.progress, self.samples_box, self.cont_box = ipw.HTML(), ipw.HTML(), ipw.HTML()
        self.passage_box, self.exposure_box = ipw.HTML(), ipw.HTML()
        self.equations = ipw.HTML(f"<div style='{P.BOX}'>{P.EQUATIONS}</div>")
        self.samples: collections.deque = collections.deque(maxlen=MAX_SAMPLES)
        self._lock = threading.RLock()  # rebuilds and views (the training thread takes it only to refresh the viewer)
        self._corpora: dict = {}  # (key, pasted) -> (corpus, markov table): the last few loaded
        self.run = self.corpus = self.viewer = self.sampler = None
        self.markov: dict[int, float] = {}
        self._version = 0  # viewer weights version (views cache by it)
        self._logits = None  # (version, prompt, logits)
        self._acts = None  # (version, source, chars, acts)
        self._r = None  # (version, source, feature, r)
        self._last_sample = 0.0
        self._trained_s, self._since = 0.0, None  # wall time trained (the samples' clock)
        self._turn = 0
        self._quiet = 0
        self._gen = self._drawn_gen = 0
        self._bg_lock, self._bg_next, self._bg_running = threading.Lock(), None, False
        bind_all({k: v for k, v in self.c.items() if k != "pasted"}, s, self.status)
        self.c["pasted"].observe(lambda ch: setattr(s, "pasted", ch["new"]), "value")
        on = self.guarded
        b = self.buttons
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause training")(lambda _: self.worker.pause()))
        b["reset"].on_click(on("reset")(lambda _: self.rebuild("Reset: a new, untrained model. Press Train.")))
        self.use_text.on_click(on("use the pasted text")(lambda _: self._use_pasted()))
        s.observe(on("rebuild the model")(self._model_knob), list(MODEL_KNOBS))
        s.observe(on("change the learning rate")(lambda ch: self._set_lr(ch["new"])), "lr")
        s.observe(on("change the temperature")(lambda _: self._tau_moved()), "tau")
        s.observe(on("read the prompt")(lambda _: self._prompt_moved()), "prompt")
        s.observe(on("show that unit")(lambda _: self._unit_moved()), "unit")
        s.observe(on("rank the units")(lambda _: self._feature_moved()), "feature")
        s.observe(on("show that passage")(lambda _: self._feature_moved(keep_unit=True)), "source")
        s.observe(on("draw the Markov line")(lambda _: self._order_moved()), "order")
        s.observe(lambda ch: setattr(self.c["unit"], "max", max(ch["new"] - 1, 0)), "n_units")
        self.rebuild(wait=True)
        self.page(*self._layout())
        warm_up_torch()

    def _layout(self):
        c, b, p = self.c, self.buttons, self.panes
        head = ipw.VBox([
            ipw.HTML("<h2 style='margin:4px 0'>A character-level language model learning to write</h2>"),
            ipw.HBox([b["train"], b["pause"], b["reset"], device_badge()], layout=ipw.Layout(flex_flow="row wrap",
                                                                                       align_items="center")),
            self.status, self.progress])
        left = ipw.VBox([ipw.HTML("<b>Data and model</b>"), c["corpus"], c["pasted"], self.use_text, c["kind"],
                         c["lr"], c["order"], c["compare"], self.equations],
                        layout=ipw.Layout(width="310px", min_width="310px"))
        training = ipw.VBox([p["curves"], self.samples_box], layout=ipw.Layout(width="530px"))
        sampling = ipw.VBox([ipw.HTML("<b>Temperature made visible</b>"), c["prompt"], c["tau"], p["next"],
                             self.cont_box, p["lengths"]], layout=ipw.Layout(width="530px"))
        units = ipw.VBox([ipw.HTML("<b>What a unit has learned</b>"), c["feature"], c["unit"], c["source"],
                          p["units"], self.passage_box], layout=ipw.Layout(width="530px"))
        exposure = ipw.VBox([ipw.HTML("<b>Teacher forcing vs free running</b>"), self.exposure_box, p["exposure"]],
                            layout=ipw.Layout(width="530px"))
        grid = ipw.VBox([ipw.HBox([training, sampling]), ipw.HBox([units, exposure])])
        return head, ipw.HBox([left, grid])

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)

    # -- building -----------------------------------------------------------------------------------
    def _model_knob(self, change) -> None:
        if self._quiet:
            return
        what = {"corpus": "Corpus", "kind": "Model", "compare": "Scheduled-sampling comparison"}[change["name"]]
        self.rebuild(f"{what} changed: a new, untrained model. Press Train.")

    def _use_pasted(self) -> None:
        if self.state.corpus == "pasted":
            self.rebuild("Using the pasted text: a new, untrained model. Press Train.")
        else:
            self.state.corpus = "pasted"

    def rebuild(self, message: str | None = None, wait: bool = False) -> None:
        """Stop training, empty the curves at once, then load the corpus and build the run (in a thread unless
        ``wait``: the first build, and tests) and draw every view."""
        self.gate.hold()
        self._gen += 1  # the training thread's refreshes stop drawing the old run
        gen = self._gen
        self.panes["curves"].apply(fc.curves_patch(_Empty(), None, self.state.order))  # at once, then wait for it
        self.worker.pause()
        if wait:
            self._build(gen, message)
            return
        self.status.say("Loading the corpus and building the model...", "info")
        self._builder = threading.Thread(target=self.guarded("build the model")(lambda: self._build(gen, message)),
                                         name="seqviz-charlm-build", daemon=True)
        self._builder.start()

    def close_worker(self) -> None:
        """Stop training and wait for a build in progress."""
        super().close_worker()
        b = getattr(self, "_builder", None)
        if b is not None and b is not threading.current_thread():
            b.join(30)

    @property
    def building(self) -> bool:
        b = getattr(self, "_builder", None)
        return b is not None and b.is_alive()

    def _build(self, gen: int, message: str | None) -> None:
        s = self.state
        key = (s.corpus, s.pasted if s.corpus == "pasted" else "")
        try:
            corpus, markov = self._load(key)
        except ValueError as e:  # pasted text too short: one sentence, the previous corpus stays
            self.status.say(f"{e} The previous corpus is kept.", "warn")
            if self.corpus is not None and s.corpus != self.corpus.key:
                self._quiet += 1
                try:
                    s.corpus = self.corpus.key
                finally:
                    self._quiet -= 1
            if self.run is not None:
                return
            corpus, markov = self._load(("names", ""))
        self.worker.pause()  # (Train is refused while building; this is for certainty)
        with self._lock:
            if gen != self._gen:
                return  # a newer rebuild is on its way
            first = self.corpus is None or corpus is not self.corpus
            self.corpus, self.markov = corpus, markov
            self._drawn_gen = gen
            self.run = build_charlm_run(corpus, s.kind, self.preset, self.device, compare=s.compare, lr=s.lr)
            live = self.run.models["tf"]
            self.viewer, self.sampler = copy.deepcopy(live), copy.deepcopy(live)
            self._version += 1
            self._logits = self._acts = self._r = None
            self.samples.clear()
            self._trained_s, self._since, self._last_sample = 0.0, None, 0.0
            self._quiet += 1
            try:
                s.n_units = live.n_units
                if first and markov:
                    s.order = min(markov, key=markov.get)  # the hardest Markov line to beat
                s.unit = min(s.unit, live.n_units - 1)
            finally:
                self._quiet -= 1
            self.c["source"].options = [("held-out names" if corpus.key == "names" else "held-out text", "held"),
                                        ("latest sample", "sample")]
            self.exposure_box.value = P.exposure_note(s.compare, self.preset.ss_max, self.preset.ss_ramp, len(corpus.vocab))
            self.panes["exposure"].apply(fc.merge_title(fc.exposure_patch({}), (
                "" if s.compare else "Empty: tick 'Compare with scheduled sampling'")))
            self._draw_curves()
            self._draw_samples()
        self._draw_next()
        when_drawn([self.panes["next"]], lambda: self._later(self._after_next), key=(id(self), "next"))
        self._draw_units(rank=True)
        notes = " ".join(corpus.notes)
        article = "an" if s.kind == "lstm" else "a"
        self.status.say(f"{notes + ' ' if notes else ''}" + (message or f"Ready: {article} {LABELS[s.kind]} on "
                        f"{corpus.title}. Press Train."), "info")

    def _load(self, key):
        hit = self._corpora.get(key)
        if hit is None:
            corpus = load_corpus(key[0], key[1])
            hit = (corpus, markov_table(corpus))
            if len(self._corpora) >= 3:  # bounded: the last three corpora
                self._corpora.pop(next(iter(self._corpora)))
            self._corpora[key] = hit
        return hit

    def _set_lr(self, lr: float) -> None:
        if self.run is not None:
            self.gate.hold()
            self.run.set_optimizer("adam", lr)
            self.status.say(f"Learning rate {lr:.1e} from the next step on.", "info")

    # -- training -----------------------------------------------------------------------------------
    def train(self) -> None:
        if self.run is None or self.building:
            self.status.say("The model is still being built; press Train again in a moment.", "info")
            return
        started = self.worker.start(self.run.step, on_step=self._on_step, on_end=self._on_end,
                                    message=f"Training the {LABELS[self.run.kind]}...")
        if started:
            self._since = time.monotonic()

    def trained_seconds(self) -> float:
        return self._trained_s + (time.monotonic() - self._since if self._since is not None else 0.0)

    def _on_end(self, why: str):
        if self._drawn_gen != self._gen:  # stopped for a rebuild: the rebuild draws
            self._since = None
            return None
        if self._since is not None:
            self._trained_s += time.monotonic() - self._since
            self._since = None
        self._refresh_viewer()
        self._draw_curves()
        self._sample_now()
        self._draw_next()
        when_drawn([self.panes["next"]], lambda: self._later(self._after_next), key=(id(self), "next"))
        self._draw_units()
        if why == "stopped":
            return f"Paused at step {self.run.steps}. Press Train to go on."
        return None

    def _on_step(self, step: int) -> None:
        """A training refresh (training thread, between steps), through the gate; none once a rebuild began."""
        if self._drawn_gen != self._gen:
            return
        g, p = self.gate, self.panes
        if g.ready("curves", CURVES_HZ, [p["curves"]]):
            self._draw_curves()
            self.refresh_times.append(time.monotonic())
        now = time.monotonic()
        if now - self._last_sample >= SAMPLE_S:
            self._last_sample = now
            self._sample_now()
        turn = ("next", "units", "lengths")[self._turn % 3]
        if g.ready("views", VIEWS_HZ, [p[turn]]):
            self._turn += 1
            self._refresh_viewer()
            if turn == "next":  # computed on the sampler (same weights as the viewer): no lock a handler waits on
                self._draw_next(own=True)
                self._draw_continuations(own=True)
            elif turn == "units":
                self._draw_units(rank=False, own=True)
            else:
                self._draw_lengths(own=True)

    def _refresh_viewer(self) -> None:
        """Copy the live weights into the viewer and the sampler (between steps: the run's lock is free)."""
        with self.run.lock:
            sd = self.run.models["tf"].state_dict()
            self.sampler.load_state_dict(sd)
            with self._lock:
                self.viewer.load_state_dict(sd)
                self._version += 1

    @contextlib.contextmanager
    def _model(self, own: bool):
        """The model a view reads: the training thread's own sampler copy (``own``, no lock), else the viewer
        under the views' lock. Both hold the same weights after ``_refresh_viewer``."""
        if own:
            yield self.sampler
            return
        with self._lock:
            yield self.viewer

    def _sample_now(self) -> None:
        """One sample for the history from the prompt at the temperature, on the sampler copy, time-boxed."""
        run, s = self.run, self.state
        with run.lock:
            self.sampler.load_state_dict(run.models["tf"].state_dict())
        ids, _ = self._prompt_ids()
        n_max = 40 if self.corpus.documents else 160
        gen = torch.Generator().manual_seed(run.steps)
        outs, cut = sample(self.sampler, ids, n_max, s.tau, gen, time_box_s=SAMPLE_BOX_S)
        text = self.corpus.vocab.decode(outs[0], show_end="\x00")
        self.samples.append((run.steps, self.trained_seconds(), s.prompt, text, s.tau, cut))
        self._draw_samples()

    # -- controls -----------------------------------------------------------------------------------
    def _tau_moved(self) -> None:
        if self._quiet or self.run is None:
            return
        self.gate.hold()
        self._draw_next()
        when_drawn([self.panes["next"]], lambda: self._later(self._after_next), key=(id(self), "next"))

    def _prompt_moved(self) -> None:
        if self._quiet or self.run is None:
            return
        self.gate.hold()
        if not self.state.prompt:
            self.status.say(f"Empty prompt: every sample starts a new {'name' if self.corpus.key == 'names' else 'document'}"
                            " from scratch.", "info")
        self._draw_next()
        when_drawn([self.panes["next"]], lambda: self._later(self._draw_continuations), key=(id(self), "next"))

    def _later(self, fn) -> None:
        """Run ``fn`` in a background thread, the latest request only (a burst of temperature moves is served once),
        so that the kernel's message thread is free for the next control. Without a browser view (tests, the first
        build) it runs at once."""
        if not self.panes["next"].has_view:
            fn()
            return
        with self._bg_lock:
            self._bg_next = fn
            if self._bg_running:
                return
            self._bg_running = True
        threading.Thread(target=self._bg_loop, name="seqviz-charlm-views", daemon=True).start()

    def _bg_loop(self) -> None:
        while True:
            with self._bg_lock:
                fn, self._bg_next = self._bg_next, None
                if fn is None:
                    self._bg_running = False
                    return
            self.guarded("draw the samples")(fn)()

    def _after_next(self) -> None:
        self._draw_continuations()
        self._draw_lengths()

    def _unit_moved(self) -> None:
        if self._quiet or self.run is None:
            return
        self.gate.hold()
        self._draw_units(rank=False, fresh=False)

    def _feature_moved(self, keep_unit: bool = False) -> None:
        if self._quiet or self.run is None:
            return
        self.gate.hold()
        self._draw_units(rank=not keep_unit, fresh=False)

    def _order_moved(self) -> None:
        if self._quiet or self.run is None:
            return
        self.gate.hold()
        self._draw_curves()

    # -- views --------------------------------------------------------------------------------------
    def _prompt_ids(self) -> tuple[list[int], str]:
        """The prompt as ids; characters the model never saw are read as <unk> (said on the status line)."""
        v = self.corpus.vocab
        prompt = self.state.prompt
        odd = sorted({ch for ch in prompt if not v.known(ch)})
        note = ""
        if odd:
            note = (f"The model never saw {' '.join(repr(ch) for ch in odd[:5])} in {self.corpus.title}; it reads "
                    "them as one unknown character.")
        return v.encode(prompt), note

    def _draw_curves(self) -> None:
        run, s = self.run, self.state
        h = run.history["tf"]
        markov = self.markov.get(s.order)
        self.panes["curves"].apply(fc.curves_patch(h, markov, s.order, WINDOW))
        if s.compare:
            self.panes["exposure"].apply(fc.exposure_patch(run.history))
        held = h.column("held_bpc")
        held = held[np.isfinite(held)]
        self.progress.value = P.progress_html(run.steps, self.trained_seconds(), float(held[-1]) if len(held) else None,
                                              markov, s.order, self.corpus.counted(),
                                              f"{LABELS[run.kind]} on {self.corpus.title}")

    def _draw_samples(self) -> None:
        self.samples_box.value = P.samples_html(list(self.samples), self.corpus.documents)

    def _draw_next(self, own: bool = False) -> None:
        s = self.state
        ids, note = self._prompt_ids()
        if note:
            self.status.correct("prompt-vocab", note, s.prompt)
        else:
            self.status.clear("prompt-vocab")
        key = (self._version, s.prompt)
        hit = self._logits
        if hit is not None and hit[0] == key:
            z = hit[1]
        else:
            with self._model(own) as m:
                z = next_logits(m, ids)
            self._logits = (key, z)
        p1, pt = torch.softmax(z, -1), temperature_probs(z, s.tau)
        self.panes["next"].apply(fc.next_patch(self.corpus.vocab.itos, p1.numpy(), pt.numpy(), s.tau,
                                               float(entropy_bits(p1)), float(entropy_bits(pt))))

    def _draw_continuations(self, own: bool = False) -> None:
        s = self.state
        ids, _ = self._prompt_ids()
        v = self.corpus.vocab
        n_max = 30 if self.corpus.documents else 80
        with self._model(own) as m:
            greedy, _ = sample(m, ids, n_max, 0.0, None)
            sampled, _ = sample(m, ids, n_max, s.tau, torch.Generator().manual_seed(self.run.steps), n=3)
            step = self.run.steps
        end = "\x00" if self.corpus.documents else ""
        self.cont_box.value = P.continuations_html(s.prompt, v.decode(greedy[0], end), [v.decode(o, end) for o in sampled],
                                                   s.tau, step)

    def _draw_lengths(self, own: bool = False) -> None:
        c = self.corpus
        if not c.documents:
            self.panes["lengths"].apply(fc.merge_title(fc.lengths_patch(
                np.zeros(1), np.zeros(1), 0, False), "Lengths: shown for names and pasted lines (short documents)"))
            return
        n_max = int(min(max(c.lengths().max(), 5), 30))
        with self._model(own) as m:
            L = sampled_lengths(m, N_LENGTHS, self.state.tau, torch.Generator().manual_seed(0), n_max=n_max)
        self.panes["lengths"].apply(fc.lengths_patch(length_shares(c.lengths(), n_max), length_shares(L, n_max),
                                                     N_LENGTHS, last_open=True))

    def _draw_units(self, rank: bool = False, fresh: bool = True, own: bool = False) -> None:
        """The ranking and the coloured passage. ``rank``: the unit slider moves to the best unit for the feature;
        ``fresh``: recompute the activations from the viewer (else the cached ones)."""
        s = self.state
        src = s.source
        if src == "sample" and not self.samples:
            self.passage_box.value = P.passage_html([], np.zeros(0), s.unit, "the latest sample: none yet, press "
                                                    "Train (a sample comes every 2 s)", 0.0)
            self.panes["units"].apply(fc.units_patch(np.zeros(0), -1, FEATURES[s.feature]))
            return
        hit = self._acts
        if fresh or hit is None or hit[1] != src:
            docs = None
            if src == "sample":
                last = self.samples[-1]
                docs = [list(last[2] + last[3].rstrip("\x00"))]
            with self._model(own) as m:
                chars, acts = unit_passage(m, self.corpus, docs=docs)
            keep = [i for i, ch in enumerate(chars) if ch != END]
            hit = self._acts = (self._version, src, chars, acts, keep, features(chars))
        _, _, chars, acts, keep, feats = hit
        with self._lock:
            if not len(chars):
                self.passage_box.value = P.passage_html([], np.zeros(0), s.unit, "no text", 0.0)
                return
            r = correlations(acts[keep], feats[s.feature][keep])
            if rank:
                best = int(np.argmax(np.abs(r)))
                if best != s.unit:
                    self._quiet += 1
                    try:
                        s.unit = best
                    finally:
                        self._quiet -= 1
            unit = min(s.unit, acts.shape[1] - 1)
            what = ("the latest sample" if src == "sample" and self.samples else
                    f"held-out {'names' if self.corpus.key == 'names' else 'text'}")
        self.panes["units"].apply(fc.units_patch(r, unit, FEATURES[s.feature]))
        self.passage_box.value = P.passage_html(chars, acts[:, unit], unit, what, float(r[unit]))

    def recorded_sizes(self) -> dict[str, int]:
        """How much every record holds (each is bounded; tests check it)."""
        sizes = {f"history {k}": len(h) for k, h in self.run.history.items()}
        sizes.update(samples=len(self.samples), refresh_times=len(self.refresh_times), corpora=len(self._corpora))
        return sizes


class _Empty:
    """An empty history (the curves before a run exists)."""

    step = np.zeros(0)

    def __len__(self):
        return 0

    def running_mean(self, name, window):
        return np.zeros(0)

    def column(self, name):
        return np.zeros(0)
