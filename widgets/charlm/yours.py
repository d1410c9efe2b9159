"""Lesson 07 on the student's own model or text: ``yours(model=None, text=None, ...)`` (JupyterLab only).

- ``yours(text=...)``: the lesson's dashboard on that text (one document a line; a text from Python is read up to
  1,000,000 characters, typed text up to 200,000; the built-in caps on training and held-out characters apply,
  every cut said on the status line);
- ``yours(model, text=...)``: the student's ``nn.Module`` mapping ids (B, T) int64 to logits (B, T, V), with V
  ``len(yours_vocab(text))``, trained live with teacher forcing (``seqviz.yours.user_run``: cross-entropy and Adam
  unless ``loss_fn=`` / ``optimizer=`` are given) in the kit's worker: Train / Pause / One step / Reset, held-out
  bits per character beside lesson 02's Markov model on the same split, samples at a temperature, the
  next-character distribution after a typed prompt. Without ``text`` it trains on the lesson's first names.
  A module returning a tuple, e.g. ``(logits, hidden)``, is handed over with ``forward=lambda m, x: m(x)[0]``
  (any ``forward(model, x) -> logits``). Sampling runs the module on the whole growing prefix, its last
  ``CONTEXT`` (128) characters, at every step: it assumes no hidden state. Reset puts the module's starting
  weights back (the module itself is trained: its weights change in place).

A module that does not fit gets one sentence (``seqviz.yours.text_models``), never a traceback.
"""

from __future__ import annotations

import collections
import copy
import html
import time

import ipywidgets as ipw
import numpy as np
import torch
import traitlets as tl

from seqviz.data.text import clean_text
from seqviz.experiments.charlm import load_corpus, markov_table
from seqviz.figures import charlm as fc
from seqviz.models.charlm import entropy_bits, temperature_probs
from seqviz.yours import text_models as TM
from seqviz.yours.fit import DoesNotFit
from widgets.charlm import panels as P
from widgets.charlm.state import PROMPT_CHARS, CharLMState
from widgets.charlm.view import CharLMDashboard
from widgets.kit import (CheckedState, LiveDashboard, PlotPane, bind_all, device_badge, show_running,
                         training_buttons, when_drawn)
from widgets.kit.yours import your_model_entry

CURVES_HZ, VIEWS_HZ = 5, 1.5  # refreshes a second while training (curves; samples and the bars)
SAMPLE_S, SAMPLE_BOX_S = 2.0, 0.12  # a sample every 2 s while training, at most 0.12 s of sampling
MAX_SAMPLES = 40
WINDOW = 50  # running mean of the training curve (said in its legend)
DEFAULT_LR = 3e-3
STYLE = {"description_width": "110px"}


def yours_vocab(text=None):
    """The vocabulary the dashboard builds from ``text`` (the lesson's first names without it): ``len`` is the
    V your model's output needs; ``.stoi`` (char -> id), ``.itos``, ``.encode(chars)``, ``.decode(ids)``."""
    if text is None:
        return load_corpus("names").vocab
    return TM.text_vocab(text)


class YourTextDashboard(CharLMDashboard):
    """The lesson's dashboard; the corpus "Pasted text" with an empty box is the text given from Python."""

    def __init__(self, text, state: CharLMState | None = None, preset: str | None = None):
        self._your_corpus = TM.text_corpus(text)  # one sentence before anything is built
        state = state or CharLMState()
        state.corpus, state.pasted = "pasted", ""
        super().__init__(state, preset=preset)

    def _load(self, key):
        if key == ("pasted", "") and key not in self._corpora:
            self._corpora[key] = (self._your_corpus, markov_table(self._your_corpus))
        return super()._load(key)


class YourCharLMState(CheckedState):
    RANGES = {"tau": (0.0, 3.0, False), "lr": (1e-4, 0.1, False), "order": (0, 6, True)}
    LABELS = {"tau": "Temperature", "lr": "Learning rate", "order": "Markov order", "prompt": "Prompt"}
    tau = tl.Any(1.0)
    lr = tl.Any(DEFAULT_LR)
    order = tl.Any(2)
    prompt = tl.Unicode("")

    @tl.validate("prompt")
    def _prompt(self, proposal):
        v = proposal.value
        if not isinstance(v, str):
            self.correct("prompt", "The prompt must be text; the previous prompt is kept.", self.prompt)
            return self.prompt
        text, notes = clean_text(v)
        text = text.replace("\n", " ").lower()
        if len(text) > PROMPT_CHARS:
            notes.append(f"The prompt had {len(text)} characters; only the first {PROMPT_CHARS} are kept.")
            text = text[:PROMPT_CHARS]
        if notes:
            self.correct("prompt", " ".join(notes), text)
        return text


class YourCharLMDashboard(LiveDashboard):
    """The student's character-level model, trained live on a text, scored and sampled."""

    kind = "charlm-yours"

    def __init__(self, model, corpus, forward=None, loss_fn=None, optimizer=None, batch_size: int = 32, T: int = 64,
                 clip: float | None = 1.0, eval_every: int = 32, state: YourCharLMState | None = None):
        super().__init__(state or YourCharLMState())
        self.model, self.corpus, self.forward = model, corpus, forward
        self.V = len(corpus.vocab)
        self.label = type(model).__name__
        self._opts = dict(forward=forward, loss_fn=loss_fn, optimizer=optimizer, batch=batch_size, T=T, clip=clip,
                          eval_every=eval_every)
        if optimizer is not None:
            self.state.lr = float(optimizer.param_groups[0]["lr"])
        self.run = self._build_run()  # checks the module first: a misfit is one sentence, nothing is kept
        self._start = copy.deepcopy(model.state_dict())
        self._opt_start = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
        self._held0 = TM.held_bits_of(model, corpus, forward)  # the untrained model's held-out bits (step 0)
        self.markov = markov_table(corpus)
        if self.markov:
            self.state.order = min(self.markov, key=self.markov.get)
        self.samples: collections.deque = collections.deque(maxlen=MAX_SAMPLES)
        self._last_sample = 0.0
        self._turn = 0
        self.c = {
            "lr": ipw.FloatLogSlider(min=-4, max=-1, step=0.1, base=10, description="Learning rate",
                                     readout_format=".1e", continuous_update=False, style=STYLE,
                                     layout=ipw.Layout(width="300px")),
            "order": ipw.IntSlider(min=0, max=6, description="Markov order", continuous_update=False, style=STYLE,
                                   layout=ipw.Layout(width="300px")),
            "prompt": ipw.Text(description="Prompt", placeholder="empty: a new document from scratch",
                               continuous_update=False, layout=ipw.Layout(width="420px"), style=STYLE),
            "tau": ipw.FloatSlider(min=0.0, max=3.0, step=0.05, description="Temperature τ", continuous_update=False,
                                   layout=ipw.Layout(width="420px"), style=STYLE),
        }
        self.buttons = training_buttons(step=True)
        self.panes = {"curves": PlotPane(fc.curves_skeleton()), "next": PlotPane(fc.next_skeleton())}
        self.progress, self.samples_box, self.cont_box, self.about = ipw.HTML(), ipw.HTML(), ipw.HTML(), ipw.HTML()
        bind_all(self.c, self.state, self.status)
        on, b, s = self.guarded, self.buttons, self.state
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause training")(lambda _: self.worker.pause()))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset")(lambda _: self.reset()))
        s.observe(on("change the learning rate")(lambda ch: self._set_lr(ch["new"])), "lr")
        s.observe(on("change the temperature")(lambda _: self._views_moved()), "tau")
        s.observe(on("read the prompt")(lambda _: self._views_moved()), "prompt")
        s.observe(on("draw the Markov line")(lambda _: self._hold(self._draw_curves)), "order")
        self.about.value = self._about_html()
        self.page(*self._layout())
        self._draw_all()
        self.status.say(f"{' '.join(corpus.notes) + ' ' if corpus.notes else ''}Ready: your {self.label} "
                        f"(V = {self.V}) on {corpus.title}. Press Train.", "info")

    # -- building ---------------------------------------------------------------------------------
    def _build_run(self):
        o = self._opts
        return TM.build_user_charlm_run(self.model, self.corpus, forward=o["forward"], loss_fn=o["loss_fn"],
                                        optimizer=o["optimizer"], lr=float(self.state.lr), batch=o["batch"],
                                        T=o["T"], clip=o["clip"], eval_every=o["eval_every"])

    def _layout(self):
        c, b, p = self.c, self.buttons, self.panes
        head = ipw.VBox([
            ipw.HTML(f"<h2 style='margin:4px 0'>Your {html.escape(self.label)} learning to write</h2>"),
            ipw.HBox([b["train"], b["pause"], b["step"], b["reset"], device_badge()],
                     layout=ipw.Layout(flex_flow="row wrap", align_items="center")),
            self.status, self.progress])
        left = ipw.VBox([ipw.HTML("<b>Training</b>"), c["lr"], c["order"], self.about],
                        layout=ipw.Layout(width="310px", min_width="310px"))
        training = ipw.VBox([p["curves"], self.samples_box], layout=ipw.Layout(width="530px"))
        sampling = ipw.VBox([ipw.HTML("<b>Temperature made visible</b>"), c["prompt"], c["tau"], p["next"],
                             self.cont_box], layout=ipw.Layout(width="530px"))
        return head, ipw.HBox([left, ipw.HBox([training, sampling], layout=ipw.Layout(flex_flow="row wrap"))],
                              layout=ipw.Layout(flex_flow="row wrap"))

    def _about_html(self) -> str:
        o = self._opts
        opt = ("your optimizer" if o["optimizer"] is not None else "Adam")
        loss = "your loss_fn" if o["loss_fn"] is not None else "cross-entropy"
        fwd = "forward(model, x) (yours)" if o["forward"] is not None else "model(x)"
        return (f"<div style='{P.BOX};font-size:14px'>Teacher forcing: {fwd} reads {o['batch']} windows of "
                f"{o['T']} characters of the training text and is scored ({loss}) on the next character at every "
                f"step; {opt}, gradient norm clipped at {o['clip']}. Held-out bits per character every "
                f"{o['eval_every']} steps, on lesson 02's split, the same tokens the Markov line counts. Samples and "
                f"the bars run your model on the whole prefix, its last {TM.CONTEXT} characters, at each step. "
                f"Reset puts your model's starting weights back.</div>")

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)

    def _hold(self, fn) -> None:
        self.gate.hold()
        fn()

    def reset(self) -> None:
        self.worker.pause()
        with self.run.lock:
            self.model.load_state_dict(self._start)
            if self._opt_start is not None:
                self._opts["optimizer"].load_state_dict(self._opt_start)
            self.run = self._build_run()
            self._held0 = TM.held_bits_of(self.model, self.corpus, self.forward)
        self.samples.clear()
        self._draw_all()
        self.status.say(f"Reset: your {self.label} is back at its starting weights. Press Train.", "info")

    def _set_lr(self, lr: float) -> None:
        self.gate.hold()
        self.run.set_optimizer("adam", float(lr))
        self.status.say(f"Learning rate {lr:.1e} from the next step on.", "info")

    # -- training ---------------------------------------------------------------------------------
    def train(self) -> None:
        self.worker.start(self.run.step, on_step=self._on_step, on_end=self._on_end,
                          message=f"Training your {self.label}...")

    def one_step(self) -> None:
        self.worker.one_step(self.run.step, on_end=self._on_end)

    def _on_step(self, _step) -> None:
        g, p = self.gate, self.panes
        if g.ready("curves", CURVES_HZ, [p["curves"]]):
            self._draw_curves()
            self.refresh_times.append(time.monotonic())
            if len(self.refresh_times) > 4000:
                del self.refresh_times[:2000]
        now = time.monotonic()
        if now - self._last_sample >= SAMPLE_S:
            self._last_sample = now
            self._sample_now()
        if g.ready("views", VIEWS_HZ, [p["next"]]):
            self._draw_next()
            self._draw_continuations()

    def _on_end(self, why: str):
        self._draw_all()
        if why == "one step":
            h = self.history
            return f"One step: step {self.run.steps}, batch {h.last('bpc'):.3f} bits per character."
        if why == "stopped":
            return f"Paused at step {self.run.steps}. Press Train to go on."
        return None

    @property
    def history(self):
        return self.run.history[self.run.name]

    # -- views ------------------------------------------------------------------------------------
    def _views_moved(self) -> None:
        self.gate.hold()
        self._draw_next()
        when_drawn([self.panes["next"]], self.guarded("draw the samples")(self._draw_continuations),
                   key=(id(self), "next"))

    def _prompt_ids(self) -> list[int]:
        v = self.corpus.vocab
        prompt = self.state.prompt
        odd = sorted({ch for ch in prompt if not v.known(ch)})
        if odd:
            self.status.correct("prompt-vocab", f"Your text has no {' '.join(repr(ch) for ch in odd[:5])}; the "
                                "model reads them as one unknown character.", prompt)
        else:
            self.status.clear("prompt-vocab")
        return v.encode(prompt)

    def _draw_all(self) -> None:
        self._draw_curves()
        self._draw_samples()
        self._draw_next()
        self._draw_continuations()

    def _draw_curves(self) -> None:
        h, order = self.history, int(self.state.order)
        markov = self.markov.get(order)
        self.panes["curves"].apply(fc.curves_patch(h, markov, order, WINDOW))
        held = h.column("held_bpc") if len(h) else np.zeros(0)
        held = held[np.isfinite(held)]
        secs = h.last("seconds", 0.0) or 0.0
        self.progress.value = P.progress_html(self.run.steps, secs, float(held[-1]) if len(held) else self._held0, markov,
                                              order, self.corpus.counted(), f"your {self.label} on {self.corpus.title}")

    def _draw_samples(self) -> None:
        self.samples_box.value = P.samples_html(list(self.samples), True)

    def _sample_now(self) -> None:
        ids = self._prompt_ids()
        with self.run.lock:
            outs, cut = TM.sample_any(self.model, ids, 40, float(self.state.tau),
                                      torch.Generator().manual_seed(self.run.steps), forward=self.forward, V=self.V,
                                      time_box_s=SAMPLE_BOX_S)
            step, secs = self.run.steps, self.history.last("seconds", 0.0) or 0.0
        self.samples.append((step, secs, self.state.prompt, self.corpus.vocab.decode(outs[0], show_end="\x00"),
                             float(self.state.tau), cut))
        self._draw_samples()

    def next_probs(self) -> tuple[np.ndarray, np.ndarray]:
        """(p at temperature 1, p at tau) of the character after END + the prompt, from the model now."""
        ids = self._prompt_ids()
        with self.run.lock:
            z = TM.next_logits_any(self.model, ids, self.forward, self.V)
        return torch.softmax(z, -1).numpy(), temperature_probs(z, float(self.state.tau)).numpy()

    def _draw_next(self) -> None:
        p1, pt = self.next_probs()
        self.panes["next"].apply(fc.next_patch(self.corpus.vocab.itos, p1, pt, float(self.state.tau),
                                               float(entropy_bits(torch.from_numpy(p1))),
                                               float(entropy_bits(torch.from_numpy(pt)))))

    def _draw_continuations(self) -> None:
        ids, v, tau = self._prompt_ids(), self.corpus.vocab, float(self.state.tau)
        with self.run.lock:
            greedy, _ = TM.sample_any(self.model, ids, 30, 0.0, None, forward=self.forward, V=self.V)
            sampled, _ = TM.sample_any(self.model, ids, 30, tau, torch.Generator().manual_seed(self.run.steps), n=3,
                                       forward=self.forward, V=self.V)
            step = self.run.steps
        self.cont_box.value = P.continuations_html(self.state.prompt, v.decode(greedy[0], "\x00"),
                                                   [v.decode(o, "\x00") for o in sampled], tau, step)

    def recorded_sizes(self) -> dict[str, int]:
        return {"history": len(self.history), "samples": len(self.samples), "refresh_times": len(self.refresh_times)}


@your_model_entry
def yours(model=None, text=None, forward=None, loss_fn=None, optimizer=None, lr: float = DEFAULT_LR,
          batch_size: int = 32, T: int = 64, preset: str | None = None):
    """Lesson 07's dashboard on your own text and/or your own character-level model (module docstring).

    ``model``: an ``nn.Module`` mapping ids (B, T) int64 to logits (B, T, V), V = ``len(yours_vocab(text))``;
    ``forward(model, x) -> logits`` for a module whose output is not that one tensor (e.g. ``m(x)[0]``);
    ``loss_fn(logits, y)`` and ``optimizer`` replace cross-entropy and Adam at ``lr``; batches are
    ``batch_size`` windows of ``T`` characters. Without a model: the lesson's dashboard (``preset``) on ``text``.
    """
    if model is None:
        if text is None:
            raise DoesNotFit("Pass text= (your text, one document a line), model= (your character-level model), "
                             "or both.")
        return YourTextDashboard(text, preset=preset)
    if forward is not None and not callable(forward):
        raise DoesNotFit(f"forward must be a function forward(model, x) -> logits; it is {type(forward).__name__}.")
    corpus = load_corpus("names") if text is None else TM.text_corpus(text)
    return YourCharLMDashboard(model, corpus, forward=forward, loss_fn=loss_fn, optimizer=optimizer,
                               batch_size=int(batch_size), T=int(T), state=YourCharLMState(lr=lr))
