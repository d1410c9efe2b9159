"""The embeddings dashboard: word2vec (skip-gram with negative sampling) trained live, the space it
learns, analogies, bias, the gensim reference, and ELMo's idea on a small bidirectional LSTM LM.

What each control draws (the first changed frame is always its own small pane or panel):
- corpus, embedding size D: a new model (training stops); every pane redrawn;
- window, negatives k, subsampling: applied to the running training's sampler; a new pair drawn
  with them in the objective pane; learning rate: applied to the running optimizer;
- step size η: the objective pane (the same pair, one step of that size);
- word set / my words: the space pane (axes refitted for the new words); word: the neighbours table
  and the ring in the space pane;
- a, b, c, exclude inputs: the analogy panel; direction: the bias pane;
- the ELMo word, sentences, w₀..w₂ and γ: the ELMo pane.
While word2vec trains: curves 5 a second, the space 3 a second (axes refitted at 1, 2, 4, 8 s
of training, then every 10 s, signs kept), the tables, bias and objective once a second, the analogy accuracy every 2 s.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import ipywidgets as ipw
import torch

from seqviz.devices import pick_device
from seqviz.experiments import embeddings as E
from seqviz.figures.embeddings import build_embedding_figures
from seqviz.models.word2vec import keep_probability
from widgets.embeddings import panels as P
from widgets.embeddings.state import BIAS_PAIRS, REBUILD, SAMPLES, EmbeddingsState
from widgets.kit import (EquationBox, LiveDashboard, PlotPane, bind_all, device_badge, show_running,
                         page_link, training_buttons, warm_up_torch, when_drawn)

STYLE = {"description_width": "150px"}
WIDE = ipw.Layout(width="380px")
CURVE_HZ, SPACE_HZ, TEXT_HZ, ACC_HZ, ELMO_HZ = 5, 3, 1, 0.5, 2
REFITS = (1.0, 2.0, 4.0, 8.0)  # seconds of training at which the space's axes are refitted, then every REFIT_S
REFIT_S = 10.0
MAX_OVERLAP_POINTS = 600


def make_controls() -> dict[str, ipw.Widget]:
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    t = dict(continuous_update=False, style={"description_width": "60px"})
    return {
        "corpus": ipw.Dropdown(options=[(E.CORPUS_TITLES[k], k) for k in ("brown", "python_docs", "pasted")],
                               description="Corpus", layout=ipw.Layout(width="420px"),
                               style={"description_width": "60px"}),
        "paste": ipw.Textarea(placeholder="Paste text here (one document a line), then choose 'Pasted text'",
                              continuous_update=False, layout=ipw.Layout(width="420px", height="60px")),
        "dim": ipw.IntSlider(min=4, max=300, description="Embedding size D", **c),
        "window": ipw.IntSlider(min=1, max=10, description="Window", **c),
        "negatives": ipw.IntSlider(min=1, max=20, description="Negatives k", **c),
        "sample": ipw.Dropdown(options=[("off", 0.0)] + [(f"{s:g}", s) for s in SAMPLES[1:]],
                               description="Subsampling s", layout=WIDE, style=STYLE),
        "lr": ipw.FloatLogSlider(min=-4, max=-1, description="Learning rate", readout_format=".4f", **c),
        "eta": ipw.FloatLogSlider(min=-2, max=1, description="Step size η", readout_format=".2f", **c),
        "word_set": ipw.Dropdown(options=list(E.WORD_SETS) + ["my words"], description="Words shown",
                                 layout=ipw.Layout(width="300px"), style={"description_width": "90px"}),
        "my_words": ipw.Text(description="My words", continuous_update=False, layout=ipw.Layout(width="520px"),
                             style={"description_width": "90px"}),
        "word": ipw.Text(description="Word", continuous_update=False, layout=ipw.Layout(width="260px"),
                         style={"description_width": "50px"}),
        "a": ipw.Text(description="a", layout=ipw.Layout(width="170px"), **t),
        "b": ipw.Text(description="− b", layout=ipw.Layout(width="170px"), **t),
        "c": ipw.Text(description="+ c", layout=ipw.Layout(width="170px"), **t),
        "exclude_inputs": ipw.Checkbox(description="Leave the inputs out of the answers", indent=False,
                                       layout=ipw.Layout(width="340px")),
        "bias_pair": ipw.Dropdown(options=list(BIAS_PAIRS), description="Direction",
                                  layout=ipw.Layout(width="260px"), style={"description_width": "70px"}),
        "elmo_word": ipw.Text(description="Same word", continuous_update=False, layout=ipw.Layout(width="260px"),
                              style={"description_width": "90px"}),
        "sentence_a": ipw.Text(description="Sentence 1", continuous_update=False, layout=ipw.Layout(width="600px"),
                               style={"description_width": "90px"}),
        "sentence_b": ipw.Text(description="Sentence 2", continuous_update=False, layout=ipw.Layout(width="600px"),
                               style={"description_width": "90px"}),
        "w0": ipw.FloatSlider(min=-5, max=5, step=0.1, description="w₀ (embedding)", **c),
        "w1": ipw.FloatSlider(min=-5, max=5, step=0.1, description="w₁ (LSTM 1)", **c),
        "w2": ipw.FloatSlider(min=-5, max=5, step=0.1, description="w₂ (LSTM 2)", **c),
        "gamma": ipw.FloatSlider(min=0.1, max=5, step=0.1, description="γ", **c),
    }


def heading(text: str) -> ipw.HTML:
    return ipw.HTML(f"<h3 style='margin:14px 0 4px 0'>{text}</h3>")


class EmbeddingsDashboard(LiveDashboard):
    """One-hot to word2vec to contextual vectors, trained live."""

    kind = "embeddings"

    def __init__(self, state: EmbeddingsState | None = None, **kwargs):
        super().__init__(state or EmbeddingsState(), **kwargs)
        s = self.state
        self.device = pick_device().device
        self.preset_key = "cuda" if self.device.type == "cuda" else "cpu"
        if self.preset_key == "cuda":  # the GPU preset: a bigger space, batch and learning rate
            default, gpu = EmbeddingsState(), E.PRESETS["cuda"]
            if s.dim == default.dim:
                s.dim = gpu.dim
            if s.lr == default.lr:
                s.lr = gpu.lr
        self.c = make_controls()
        self.buttons = training_buttons(step=True)
        self.lm_buttons = {"train": ipw.Button(description="Train LM", button_style="success", icon="play",
                                               layout=ipw.Layout(width="120px")),
                           "pause": ipw.Button(description="Pause LM", icon="pause", disabled=True,
                                               layout=ipw.Layout(width="120px")),
                           "reset": ipw.Button(description="Reset LM", button_style="warning",
                                               layout=ipw.Layout(width="120px"))}
        self.pair_button = ipw.Button(description="New pair", layout=ipw.Layout(width="110px"))
        self.panes = {k: PlotPane(f) for k, f in build_embedding_figures().items()}
        self.info = ipw.HTML()
        self.settings = ipw.HTML()
        self.neigh = ipw.HTML()
        self.analogy = ipw.HTML()
        self.accuracy = ipw.HTML()
        self.obj_note = ipw.HTML()
        self.elmo_note = ipw.HTML()
        self.eq = EquationBox(
            "Skip-gram with negative sampling",
            "L = −log σ(u<sub>o</sub>·v<sub>c</sub>) − Σ<sub>i=1..k</sub> log σ(−u<sub>n<sub>i</sub></sub>·v<sub>c</sub>)"
            "<br><span style='font-size:14px'>v<sub>c</sub>: centre word's vector (the embedding shown); "
            "u<sub>o</sub>: its true context word's output vector; n<sub>i</sub>: k noise words drawn "
            "∝ count<sup>3/4</sup></span>")
        self.reference = E.load_reference()
        self.questions = E.load_analogies()
        self._lock = threading.RLock()  # rebuilds (never taken by the training thread)
        self._space_cache = (None, None)  # (steps, Space)
        self.overlap_curve: list[tuple[float, float]] = []
        self.proj = E.Projection()
        self._last_refit = 0.0
        self._shown = {"word": s.word, "abc": (s.a, s.b, s.c), "elmo": None}
        self._ctx = None
        self._training = ""  # "w2v" or "lm" while one trains
        self.pair_gen = torch.Generator().manual_seed(1)
        self.ready = threading.Event()  # set once the corpus is loaded and the models built (in a thread)
        self._yield = threading.Event()  # never set: the training thread waits on it while a control is used
        bind_all(self.c, s, self.status)
        g = self.guarded

        def on(what):
            def wrap(fn):
                def inner(*args):
                    if self.ready.is_set():
                        return fn(*args)
                    self.status.say("Still loading the corpus and building the models; one moment.", "info")
                return g(what)(inner)
            return wrap
        b = self.buttons
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause")(lambda _: self.worker.pause()))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset")(lambda _: self.rebuild("Reset: the word vectors are back at their random "
                                                             "start.", lm=False)))
        lb = self.lm_buttons
        lb["train"].on_click(on("train the language model")(lambda _: self.train_lm()))
        lb["pause"].on_click(on("pause")(lambda _: self.worker.pause()))
        lb["reset"].on_click(on("reset the language model")(lambda _: self.reset_lm()))
        self.pair_button.on_click(on("draw a pair")(lambda _: self.new_pair()))
        s.observe(on("rebuild the model")(self._rebuild_knob), list(REBUILD))
        s.observe(on("use the pasted text")(self._pasted), "paste")
        s.observe(on("change the sampler")(self._sampler_knob), ["window", "negatives", "sample"])
        s.observe(on("change the learning rate")(self._lr), "lr")
        s.observe(on("redo the step")(lambda _: self._hold(self.draw_objective)), "eta")
        s.observe(on("show the words")(lambda _: self._hold(lambda: self.draw_space(refit=True, say=True))),
                  "word_set")
        s.observe(on("show your words")(self._my_words), "my_words")
        s.observe(on("find the neighbours")(lambda _: self._hold(self._word_changed)), "word")
        s.observe(on("solve the analogy")(lambda _: self._hold(self.draw_analogy)), ["a", "b", "c", "exclude_inputs"])
        s.observe(on("project on the direction")(lambda _: self._hold(self.draw_bias)), "bias_pair")
        s.observe(on("compare the contexts")(lambda _: self._hold(lambda: self.draw_elmo(recompute=True))),
                  ["elmo_word", "sentence_a", "sentence_b"])
        s.observe(on("mix the layers")(lambda _: self._hold(lambda: self.draw_elmo())), ["w0", "w1", "w2", "gamma"])
        self.corpus = None
        self.page(*self._layout())
        self.status.say("Loading the corpus and building the models...")
        # The Brown corpus takes 2-3 s to read and tokenise: the page shows at once, the views follow.
        self._closed = threading.Event()  # close_worker: the first build's thread ends early
        self._builder = threading.Thread(target=self._first_build, name="embeddings-first-build", daemon=True)
        self._builder.start()
        warm_up_torch()

    def _first_build(self) -> None:
        try:
            self.guarded("load the corpus")(self.rebuild)()
        finally:
            self.ready.set()
        if not self._closed.is_set():
            self.guarded("follow the controls")(self._catch_up)()
        self._resend_when_seen()

    def _resend_when_seen(self, max_wait_s: float = 120.0) -> None:
        """Text set in this thread while Voila was handing the page its widgets can miss the page (the
        plot panes ask for their figure when drawn; HTML does not): once the page's heartbeat is heard,
        send the text widgets' state again."""
        link = page_link()
        deadline = time.monotonic() + max_wait_s
        while link.last_alive is None and time.monotonic() < deadline and not self._closed.is_set():
            self._closed.wait(0.2)
        if link.last_alive is None:
            return  # no page (a test, a script)
        for w in (self.status, self.info, self.settings, self.neigh, self.analogy, self.accuracy, self.obj_note,
                  self.elmo_note):
            w.send_state()

    def _catch_up(self) -> None:
        """Controls moved while the first build ran: follow them now (a rebuild, or the sampler and views)."""
        s, built = self.state, self.run.built
        if (s.corpus, s.dim) != (self.corpus.key, built.dim):
            self.rebuild(lm=s.corpus != self.corpus.key)
            return
        if (s.window, s.negatives, s.sample, s.lr) != (built.window, built.negatives, built.sample, built.lr):
            self._sampler_knob(None)
            self.run.set_optimizer("adam", s.lr)
        self.draw_all()

    def close_worker(self) -> None:
        """Stop training, and the first build's thread (it may still be drawing with torch: a process
        that exits under it aborts)."""
        self._closed.set()
        super().close_worker()
        if self._builder is not threading.current_thread():
            self._builder.join(10.0)

    # -- layout ---------------------------------------------------------------------------------
    def _layout(self):
        c, p = self.c, self.panes
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Word embeddings: from one-hot to word2vec to "
                                  "contextual vectors</h2>"),
                         ipw.HBox(list(self.buttons.values()) + [c["corpus"]], layout=ipw.Layout(flex_flow="row wrap")),
                         self.status, ipw.HBox([device_badge()]), self.info, c["paste"]])
        knobs = ipw.VBox([c["dim"], c["window"], c["negatives"], c["sample"], c["lr"], self.settings],
                         layout=ipw.Layout(width="400px", min_width="400px"))
        train = ipw.HBox([knobs, p["curves"]])
        obj = ipw.HBox([ipw.VBox([p["objective"]]),
                        ipw.VBox([self.eq, ipw.HBox([self.pair_button, c["eta"]]), self.obj_note],
                                 layout=ipw.Layout(width="480px"))])
        space = ipw.HBox([ipw.VBox([ipw.HBox([c["word_set"], c["word"]]), c["my_words"], p["space"]]),
                          ipw.VBox([self.neigh], layout=ipw.Layout(width="440px", padding="40px 0 0 10px"))])
        ana = ipw.HBox([ipw.VBox([ipw.HBox([c["a"], c["b"], c["c"]]), c["exclude_inputs"], self.analogy,
                                  self.accuracy], layout=ipw.Layout(width="560px")),
                        ipw.VBox([c["bias_pair"], p["bias"]])])
        elmo = ipw.VBox([ipw.HBox(list(self.lm_buttons.values())), c["elmo_word"], c["sentence_a"],
                         c["sentence_b"], ipw.HBox([ipw.VBox([c["w0"], c["w1"]]), ipw.VBox([c["w2"], c["gamma"]])]),
                         self.elmo_note, p["elmo"]])
        return (head, heading("1. Skip-gram trained live"), train,
                heading("2. The objective: one pair and its k noise words"), obj,
                heading("3. The space as it learns"), space,
                heading("4. Analogies and bias"), ana,
                heading("5. Contextual vectors (ELMo's idea): a bidirectional LSTM language model"), elmo)

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)
        self.lm_buttons["train"].disabled = running
        self.lm_buttons["pause"].disabled = not running
        if not running:
            self._training = ""

    def _hold(self, fn) -> None:
        self.gate.hold()
        fn()

    # -- building -------------------------------------------------------------------------------
    def cfg(self) -> E.Word2VecConfig:
        s = self.state
        return replace(E.PRESETS[self.preset_key], dim=s.dim, window=s.window, negatives=s.negatives,
                         sample=s.sample, lr=s.lr)

    def _load_corpus(self) -> bool:
        """The corpus the state names; on text that cannot train, a sentence, and the previous one kept."""
        s = self.state
        try:
            self.corpus = E.load_corpus(s.corpus, s.paste)
        except E.CorpusError as e:
            old = self.corpus.key if self.corpus is not None else "brown"
            self.status.correct("corpus", f"{e.args[0]} The {E.CORPUS_TITLES[old]} stays.", old)
            s.corpus = old
            return False
        self.status.clear("corpus")
        for n in self.corpus.notes:
            self.status.say(n, "warn")
        return True

    def rebuild(self, message: str | None = None, lm: bool = True) -> None:
        """A new word2vec model (and, with ``lm``, language model) for the knobs; every view redrawn."""
        with self._lock:
            self.worker.pause(rebuild=True)  # no final refresh of the old model to wait for
            before = self.corpus
            if not self._load_corpus() and self.corpus is None:
                self.state.corpus = "brown"
                self._load_corpus()
            lm = lm or self.corpus is not before
            cfg = self.cfg()
            self.run = E.build_word2vec(self.corpus, cfg, self.device)
            self.run.built = cfg  # the settings it was built with
            self._space_cache = (None, None)
            self.overlap_curve = []
            self.proj = E.Projection()
            self._last_refit = 0.0
            self.pair = E.draw_pair(self.run, self.pair_gen)
            if lm or getattr(self, "lm_run", None) is None:
                self.build_lm()
            self.info.value = f"<div style='font-size:15px;color:#333'>{P.esc(self.corpus.describe())}.</div>"
            self.draw_all()
            self.status.say(message or f"Ready: {len(self.corpus.vocab):,} words, random vectors of size "
                            f"{self.run.models['w2v'].centre.embedding_dim}. Press Train.")

    def build_lm(self) -> None:
        self.lm_run = E.build_bilm(self.corpus, E.BILM_PRESETS[self.preset_key], self.device)
        self._ctx = None

    def reset_lm(self) -> None:
        with self._lock:
            self.worker.pause()
            self.build_lm()
            self.draw_elmo(recompute=True)
            self.status.say("The language model is back at its random start. Press Train LM.")

    def _rebuild_knob(self, change) -> None:
        self.gate.hold()
        if change["name"] == "corpus" and change["new"] == (self.corpus.key if self.corpus else None):
            return  # (put back after a failed load)
        label = "Corpus" if change["name"] == "corpus" else self.state.label(change["name"])
        # at once: the loss curves of the old model go; the new model follows once that is drawn
        # (the rebuild pauses training)
        self.panes["curves"].apply(P.empty_curves())
        self.status.say(f"{label} changed: building a new model...")
        if change["name"] != "corpus":  # a new model on the same corpus takes a few ms: build it now
            self.guarded("rebuild the model")(self._rebuilt)(label)
            return
        when_drawn([self.panes["curves"]], self.guarded("rebuild the model")(lambda: self._rebuilt(label)),
                   key=(id(self), "rebuild"))

    def _rebuilt(self, label: str) -> None:
        before = self.corpus
        self.rebuild(lm=False)
        if self.corpus is not before or label != "Corpus":
            self.status.say(f"{label} changed: a new model with random vectors. Press Train.")
        else:
            self.draw_curves()

    def _pasted(self, _change) -> None:
        if self.state.corpus == "pasted":
            self.rebuild()
        else:
            self.status.say("Pasted text kept: choose “Pasted text” as the corpus to train on it.")

    def _my_words(self, _change) -> None:
        """Typed words are shown: the word set becomes "my words" (which draws them)."""
        self.gate.hold()
        if self.state.word_set != "my words":
            self.state.word_set = "my words"
        else:
            self.draw_space(refit=True, say=True)

    def _sampler_knob(self, change) -> None:
        """Window, negatives, subsampling: the running sampler takes them at the next step."""
        self.gate.hold()
        s, smp = self.state, self.run.sampler
        with self.run.lock:
            smp.window, smp.negatives = int(s.window), int(s.negatives)
            smp.keep = torch.as_tensor(keep_probability(self.corpus.vocab.counts, s.sample), dtype=torch.float32)
        self.pair = E.draw_pair(self.run, self.pair_gen)
        self.draw_objective()
        self.draw_settings()

    def _lr(self, change) -> None:
        self.run.set_optimizer("adam", float(change["new"]))
        self.draw_settings()

    # -- training -------------------------------------------------------------------------------
    def train(self) -> None:
        self._training = "w2v"
        self.worker.start(self.run.step, on_step=self._after_step, on_end=self._on_end,
                          message="Training word2vec: each step, 1,024 (centre, context) pairs and their noise words...")

    def one_step(self) -> None:
        self.worker.one_step(self.run.step, on_end=lambda why: self._on_end(why))

    def _after_step(self, _n) -> None:
        self._make_room()
        self.draw_training()

    def _make_room(self) -> None:
        """In the training thread: while a control was just used (the gate holds), wait, so that the
        control's handler has the GIL to itself and its redraw goes first."""
        while self.gate.held and not self.worker.stopping:
            self._yield.wait(0.01)

    def _on_end(self, why: str):
        self.draw_training(force=True)
        if why == "one step":
            self.status.say(f"One step: step {self.run.steps}, loss {self.run.history['w2v'].last('loss'):.3f}.")
        return None

    def train_lm(self) -> None:
        self._training = "lm"
        self.worker.start(self.lm_run.step, on_step=lambda _: self._after_lm_step(),
                          on_end=lambda why: self._after_lm_step(force=True),
                          message="Training the bidirectional language model: forward predicts the next word, "
                                  "backward the previous one...")

    def _after_lm_step(self, force: bool = False) -> None:
        if not force:
            self._make_room()
        if self.gate.ready("elmo", ELMO_HZ, [self.panes["elmo"]], force):
            self.draw_elmo(recompute=True)
            self.refresh_times.append(time.monotonic())
            self._bound_times()

    def _bound_times(self) -> None:
        if len(self.refresh_times) > 4000:
            del self.refresh_times[:2000]

    # -- reading the model ------------------------------------------------------------------------
    def space(self) -> E.Space:
        steps, sp = self._space_cache
        if sp is None or steps != self.run.steps:
            with self.run.lock:
                sp = E.Space.of(self.run.models["w2v"], self.corpus.vocab)
                steps = self.run.steps
            self._space_cache = (steps, sp)
        return sp

    def ref_ok(self) -> bool:
        return E.reference_matches(self.cfg(), self.reference, self.corpus.key)

    # -- views ----------------------------------------------------------------------------------
    def draw_all(self) -> None:
        self.draw_curves()
        self.draw_objective()
        self.draw_space(refit=True)
        self._word_changed()
        self.draw_analogy()
        self.draw_accuracy()
        self.draw_bias()
        self.draw_settings()
        self.draw_elmo(recompute=True)

    def draw_training(self, force: bool = False) -> None:
        g = self.gate
        now = self.run.history["w2v"].last("seconds", 0.0) or 0.0
        if g.ready("overlap", TEXT_HZ, (), force):
            self.record_overlap(now)
        if g.ready("curves", CURVE_HZ, [self.panes["curves"]], force):
            self.draw_curves()
            self.refresh_times.append(time.monotonic())
            self._bound_times()
        if g.ready("space", SPACE_HZ, [self.panes["space"]], force):
            self.draw_space(refit=self.refit_due(now))
        if g.ready("text", TEXT_HZ, [self.panes["bias"], self.panes["objective"]], force):
            self.draw_neighbours()
            self.draw_analogy()
            self.draw_bias()
            self.draw_objective()
        if g.ready("accuracy", ACC_HZ, (), force):
            self.draw_accuracy()

    def refit_due(self, now: float) -> bool:
        """Refit the PCA axes at 1, 2, 4 and 8 s of training (the vectors move fast at first), then every
        10 s: rarely enough that the picture does not jump between frames."""
        last = self._last_refit
        nxt = next((t for t in REFITS if t > last), last + REFIT_S)
        return now >= nxt

    def record_overlap(self, seconds: float) -> None:
        if self.corpus.key != self.reference.get("corpus"):
            return
        ov = self.space().overlap(self.reference)
        if ov is None:
            return
        if self.overlap_curve and self.overlap_curve[-1][0] == seconds:
            return
        self.overlap_curve.append((round(seconds, 2), ov))
        if len(self.overlap_curve) > MAX_OVERLAP_POINTS:
            self.overlap_curve = self.overlap_curve[::2]

    def draw_curves(self) -> None:
        self.panes["curves"].apply(P.curves_view(self.run, self.overlap_curve, len(self.corpus.vocab)))

    def draw_settings(self) -> None:
        s = self.state
        diff = [k for k in E.REFERENCE_KEYS if self.reference.get("settings", {}).get(k) != getattr(self.cfg(), k)]
        ref = ("the gensim reference was trained with these settings" if not diff and self.corpus.key == "brown" else
               "the gensim reference is for the Brown corpus at the default settings"
               + (f" (yours differ in {', '.join(diff)})" if diff else ""))
        self.settings.value = (f"<div style='font-size:14px;color:#444;margin-top:6px'>Adam, learning rate "
                               f"{s.lr:.4g}, {self.cfg().batch:,} pairs a step; {ref}. Window, k, subsampling "
                               "and learning rate apply to the running training; D and the corpus start a new "
                               "model.</div>")

    def draw_objective(self) -> None:
        with self.run.lock:
            res = E.objective(self.run.models["w2v"], *self.pair, lr=self.state.eta)
        self.panes["objective"].apply(P.objective_view(self.pair, res, self.corpus.vocab.words, self.state.eta))
        self.obj_note.value = P.objective_note(res)

    def new_pair(self) -> None:
        self.gate.hold()
        self.pair = E.draw_pair(self.run, self.pair_gen)
        self.draw_objective()

    def _set_words(self) -> tuple[list[str], list[int], str]:
        s = self.state
        if s.word_set == "my words":
            words = [w for w in dict.fromkeys(E.words_of(s.my_words))][:40]
            return words, [0] * len(words), "My words"
        groups = list(E.WORD_SETS)
        words = E.WORD_SETS[s.word_set].split()
        return words, [groups.index(s.word_set)] * len(words), s.word_set.capitalize()

    def draw_space(self, refit: bool = False, say: bool = False) -> None:
        words, groups, name = self._set_words()
        sp = self.space()
        _, missing = sp.ids(words)
        if refit:
            self._last_refit = self.run.history["w2v"].last("seconds", 0.0) or 0.0
        title = f"{name}: fixed PCA axes (refitted at 1, 2, 4, 8 s, then every {REFIT_S:g} s)"
        self.panes["space"].apply(P.space_view(sp, self.proj, words, groups, self._shown["word"], refit, title))
        if say:
            if missing:
                self.status.correct("words", f"Not in the vocabulary, so not shown: {', '.join(missing[:8])}"
                                    f"{'…' if len(missing) > 8 else ''}.", None)
            else:
                self.status.clear("words")
            if len(words) - len(missing) < 2:
                self.status.correct("words", "Give at least two words the vocabulary knows to see a projection.")

    def _unknown(self, w: str) -> str:
        return (f"“{w[:40]}” is not in the vocabulary ({len(self.corpus.vocab):,} words seen at least "
                f"{self.corpus.min_count} times); try a more common word.")

    def _word_changed(self) -> None:
        w = self.state.word
        if w not in self.corpus.vocab.index:
            self.status.correct("word", self._unknown(w) + f" Still showing “{self._shown['word']}”.", w)
            if self._shown["word"] not in self.corpus.vocab.index:
                self._shown["word"] = self.corpus.vocab.words[min(50, len(self.corpus.vocab) - 1)]
        else:
            self.status.clear("word")
            self._shown["word"] = w
        self.draw_neighbours()
        self.draw_space()

    def draw_neighbours(self) -> None:
        self.neigh.value = P.neighbours_html(self.space(), self._shown["word"], self.reference, self.ref_ok())

    def draw_analogy(self) -> None:
        s, ix = self.state, self.corpus.vocab.index
        bad = [w for w in (s.a, s.b, s.c) if w not in ix]
        if bad:
            self.status.correct("analogy", self._unknown(bad[0]) + " The previous analogy is shown.", None)
        else:
            self.status.clear("analogy")
            self._shown["abc"] = (s.a, s.b, s.c)
        abc = self._shown["abc"]
        if not all(w in ix for w in abc):
            abc = self._shown["abc"] = tuple(self.corpus.vocab.words[:3])
        self.analogy.value = P.analogy_html(self.space(), *abc, bool(s.exclude_inputs))

    def draw_accuracy(self) -> None:
        self.accuracy.value = P.accuracy_html(self.space(), self.questions, self.reference, self.ref_ok())

    def draw_bias(self) -> None:
        a, b = self.state.bias_words()
        ix = self.corpus.vocab.index
        if a not in ix or b not in ix:
            self.status.correct("bias_pair", f"“{a}” or “{b}” is not in this corpus's vocabulary; no bias view.",
                                self.state.bias_pair)
            return
        self.panes["bias"].apply(P.bias_view(self.space(), a, b))

    def draw_elmo(self, recompute: bool = False) -> None:
        s = self.state
        run = self.lm_run
        if recompute or self._ctx is None:
            wa, wb = E.words_of(s.sentence_a), E.words_of(s.sentence_b)
            w = s.elmo_word
            if w in wa and w in wb:
                self.status.clear("elmo")
                with run.lock:
                    self._ctx = E.contextual(run.models["bilm"], run.lm_vocab, w, wa, wb)
                self._shown["elmo"] = w
            else:
                self.status.correct("elmo", f"“{w[:40]}” must appear in both sentences (as a whole word); the "
                                    "previous comparison is shown.", None)
                if self._ctx is None:  # nothing shown yet: the default sentences
                    d = EmbeddingsState()
                    with run.lock:
                        self._ctx = E.contextual(run.models["bilm"], run.lm_vocab, d.elmo_word,
                                                 E.words_of(d.sentence_a), E.words_of(d.sentence_b))
        w = [s.w0, s.w1, s.w2]
        if recompute:
            self.panes["elmo"].apply(P.elmo_view(self._ctx, w, s.gamma, run.history["bilm"]))
        else:  # a mixture slider: only the mixture's bar changes
            self.panes["elmo"].apply(P.mix_view(self._ctx, w, s.gamma))
        self.elmo_note.value = P.elmo_note(self._ctx, w, s.gamma, run.steps)
