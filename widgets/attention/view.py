"""``AttentionDashboard``: the controls of both parts laid out, bound to the state, the buttons
wired to the dashboard's one training worker (one model trains at a time), and the two parts
(``AlignmentPart``, ``TransformerPart``) told what changed."""

from __future__ import annotations

import time

import ipywidgets as ipw

from seqviz.data.translation import TASK_LABELS, CharData, char_corpus
from seqviz.devices import pick_device
from seqviz.experiments.attention import default_preset, presets_for
from seqviz.figures import attention as fa
from widgets.attention.alignment import AlignmentPart
from widgets.attention.panels import progress_line
from widgets.attention.state import AttentionState
from widgets.attention.transformer import TransformerPart
from widgets.kit import (EquationBox, LiveDashboard, PlotPane, bind_all, device_badge, show_running,
                         training_buttons, warm_up_torch)

PRESETS = presets_for(pick_device().device)  # the "gpu" preset only on CUDA
STYLE = {"description_width": "120px"}
PART_NAMES = {"part1": "Part 1", "part2": "Part 2"}
TRAINING = {"part1": "Training the encoder-decoders (with and without attention) on the same batches...",
            "part2": "Training the transformer on windows of the Zen of Python..."}


def _slider(desc: str, width: str = "330px", **kw) -> ipw.IntSlider:
    return ipw.IntSlider(description=desc, continuous_update=False, layout=ipw.Layout(width=width), style=STYLE, **kw)


def make_controls() -> dict[str, ipw.Widget]:
    """Every knob, keyed by the state trait it binds to."""
    toggles = {"description_width": "120px", "button_width": "120px"}
    return {
        # part 1: alignment
        "task": ipw.Dropdown(options=[(v, k) for k, v in TASK_LABELS.items()], description="Task",
                             layout=ipw.Layout(width="420px"), style=STYLE),
        "cell": ipw.ToggleButtons(options=[("GRU", "gru"), ("LSTM", "lstm")], description="Recurrent cell",
                                  style={"description_width": "120px", "button_width": "70px"}),
        "source": ipw.Text(description="Source to show", continuous_update=False, layout=ipw.Layout(width="420px"),
                           style=STYLE),
        "out_i": _slider("Output step i", min=0, max=7),
        "src_j": _slider("Source step j", min=0, max=7),
        # part 2: self-attention
        "layer": ipw.Dropdown(options=[0, 1], description="Layer", layout=ipw.Layout(width="200px"),
                              style={"description_width": "60px"}),
        "head": ipw.Dropdown(options=[0, 1, 2, 3], description="Head", layout=ipw.Layout(width="200px"),
                             style={"description_width": "60px"}),
        "query": _slider("Query token i", min=0, max=31),
        "key": _slider("Key token j", min=0, max=31),
        "causal": ipw.Checkbox(description="Causal mask (no looking ahead)", indent=False),
        "scaled": ipw.Checkbox(description="Divide by sqrt(k)", indent=False),
        "position": ipw.ToggleButtons(options=[("learned", "learned"), ("sinusoidal", "sinusoidal"),
                                               ("none", "none")], description="Position embedding", style=toggles),
        "kind": ipw.ToggleButtons(options=[("keys, queries, values", "qkv"), ("parameter-free", "simple")],
                                  description="Attention", style={"description_width": "120px",
                                                                  "button_width": "170px"}),
        "text": ipw.Text(description="Text to look at", continuous_update=False, layout=ipw.Layout(width="560px"),
                         style=STYLE),
    }


class AttentionDashboard(LiveDashboard):
    """Part 1: an RNN encoder-decoder learns an alignment. Part 2: inside a small transformer."""

    kind = "attention"

    def __init__(self, state: AttentionState | None = None, preset: str | None = None, **kwargs):
        super().__init__(state or AttentionState(), **kwargs)
        st, p = self.state, PRESETS[preset or default_preset(pick_device().device)]
        self.progress = ipw.HTML()
        self.c = make_controls()
        self.buttons = {"part1": training_buttons(step=False), "part2": training_buttons(step=False)}
        self.shuffle_button = ipw.Button(description="Shuffle the text", layout=ipw.Layout(width="150px"))
        self.job: str | None = None  # which part the worker trains (or trained last)
        self.eq_a = EquationBox("Bahdanau attention, the selected cell worked out")
        self.eq_b = EquationBox("Scaled dot-product self-attention, the selected cell worked out")
        self.perm_note = ipw.HTML()
        # Six light plot panes: each redrawn alone (seqviz.figures.attention says what bigger figures cost).
        self.panes = {part: PlotPane(fa.skeleton(part)) for part in fa.PANELS}
        device = pick_device().device
        self.part1 = AlignmentPart(p, st, self.panes, self.eq_a, self.status, self.gate, device, self._refreshed)
        self.part2 = TransformerPart(p, CharData.from_text(char_corpus()), st, self.panes, self.eq_b, self.perm_note,
                                     self.status, self.gate, device, self._refreshed)
        self.parts = {"part1": self.part1, "part2": self.part2}
        bind_all(self.c, st, self.status)
        self._sizes_to_controls()
        self._wire()
        self.part1.draw()
        self.part2.draw()
        # torch's first optimiser costs seconds of imports: pay them in the background after the
        # first render has had its start, not before the page shows and not on Train.
        warm_up_torch(delay_s=2.0)
        self.page(*self._layout())
        self.status.say("Ready. Press Train in part 1 and watch the alignment appear.", "info")

    # -- wiring ---------------------------------------------------------------------------------
    def _wire(self) -> None:
        st, on = self.state, self.guarded
        for part, b in self.buttons.items():
            b["train"].on_click(on("start training")(lambda _, part=part: self.train(part)))
            b["pause"].on_click(on("pause training")(lambda _: self.pause()))
            b["reset"].on_click(on("reset")(lambda _, part=part: self.reset(part)))
        self.shuffle_button.on_click(on("shuffle the text")(lambda _: self._control(self.part2.shuffle)))
        p1, p2 = self.part1, self.part2
        st.observe(on("rebuild the translation models")(lambda ch: self.rebuild("part1", ch["name"])), ["task", "cell"])
        st.observe(on("show that source")(lambda ch: self._control(p1.new_source)), "source")
        st.observe(on("show that cell")(lambda ch: p1.quiet or self._control(p1.draw_alignment)), ["out_i", "src_j"])
        st.observe(on("rebuild the transformer")(lambda ch: self.rebuild("part2", ch["name"])),
                   ["causal", "scaled", "position", "kind"])
        st.observe(on("show that text")(lambda ch: self._control(p2.new_text)), "text")
        st.observe(on("show that head")(lambda ch: self._control(p2.head_changed)), ["layer", "head"])
        st.observe(on("show that cell")(lambda ch: p2.selection()), ["query", "key"])
        st.observe(lambda ch: self._sizes_to_controls(), ["n_out", "n_src", "n_layers", "n_heads", "n_tokens"])

    def _control(self, fn) -> None:
        """A control's redraw goes first: training refreshes wait (``gate.hold``)."""
        self.gate.hold()
        fn()

    def _sizes_to_controls(self) -> None:
        """Slider ends and dropdown options follow the state's ranges (the model and the text)."""
        st, c = self.state, self.c
        for name in ("out_i", "src_j", "query", "key"):
            hi = st.limits(name)[1]
            if c[name].max != hi:
                c[name].max = hi
        for name in ("layer", "head"):
            opts = list(range(st.limits(name)[1] + 1))
            if list(c[name].options) != opts:
                c[name].options = opts
                c[name].value = getattr(st, name)

    # -- training -------------------------------------------------------------------------------
    def show_running(self, running: bool) -> None:
        for part, b in self.buttons.items():
            show_running(b, running and self.job == part)

    def train(self, part: str) -> None:
        """Train ``part``. Training the other part pauses it first, and says so."""
        said = ""
        p = self.parts[part]
        if self.worker.running and self.job == part:  # the worker says "Already training; press Pause to stop."
            self.worker.start(p.step, on_step=p.on_step, on_end=p.on_end, message=TRAINING[part])
            return
        if self.worker.running:
            other = self.job
            self.worker.pause()
            said = f"{PART_NAMES[other]} paused: one model trains at a time. "
        self.job = part
        p.quiet_end = False
        self.worker.start(p.step, on_step=p.on_step, on_end=p.on_end, message=said + TRAINING[part])

    def pause(self) -> None:
        if not self.worker.pause():
            self.status.say("Nothing is training.", "info")

    def _pause_part(self, part: str) -> bool:
        """Stop training ``part`` without its final views (a rebuild draws them); True if it trained."""
        if not (self.worker.running and self.job == part):
            return False
        self.parts[part].quiet_end = True
        self.worker.pause()
        return True

    def reset(self, part: str) -> None:
        self.gate.hold()
        self._pause_part(part)
        p = self.parts[part]
        p.reset()
        p.draw()
        self.progress.value = self._progress()
        self.status.say("New models for the translation task. Press Train in part 1." if part == "part1" else
                        "A new, untrained transformer. Press Train in part 2.", "info")

    def rebuild(self, part: str, name: str) -> None:
        """A knob that needs new models (task, cell; causal, scaled, position, kind)."""
        self.gate.hold()
        was = self._pause_part(part)
        p = self.parts[part]
        p.reset()
        p.draw()
        self.progress.value = self._progress()
        st = self.state
        if part == "part1":
            said = f"New models for '{st.task}' with a {st.cell.upper()} encoder and decoder. Press Train in part 1."
            self.status.say(("Training paused. " if was else "") + said, "info")
        else:
            self.status.say(("Training paused. " if was else "") + self.part2.switched(name), "info")

    def _refreshed(self) -> None:
        """After a training refresh of the curves: the progress line, and the time (benchmarks read it)."""
        self.progress.value = self._progress()
        self.refresh_times.append(time.monotonic())

    def _progress(self) -> str:
        return progress_line(self.part1.progress(), self.part2.progress(), self.part2.baseline)

    # -- layout ---------------------------------------------------------------------------------
    def _layout(self):
        c, b1, b2 = self.c, self.buttons["part1"], self.buttons["part2"]
        h = lambda t: ipw.HTML(f"<h3 style='margin:6px 0 2px 0'>{t}</h3>")  # noqa: E731
        box = lambda w: ipw.Box([w], layout=ipw.Layout(width="660px"))  # noqa: E731
        part1 = ipw.HBox([ipw.VBox([ipw.HBox([b1["train"], b1["pause"], b1["reset"]]), c["cell"], c["task"],
                                    c["source"], self.part1.timeline.widget, c["out_i"], c["src_j"]],
                                   layout=ipw.Layout(width="680px")), box(self.eq_a)])
        part2 = ipw.HBox([ipw.VBox([ipw.HBox([b2["train"], b2["pause"], b2["reset"], self.shuffle_button]),
                                    ipw.HBox([c["causal"], c["scaled"]]), c["position"], c["kind"], c["text"],
                                    self.part2.timeline.widget, ipw.HBox([c["layer"], c["head"]]), c["query"],
                                    c["key"], self.perm_note],
                                   layout=ipw.Layout(width="680px")), box(self.eq_b)])
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Attention weight matrices: from Bahdanau alignment to "
                                  "self-attention heads</h2>"), self.status, self.progress, device_badge()])
        p = self.panes
        return [head, h("1. Alignment: an RNN encoder-decoder with additive (Bahdanau) attention"),
                part1, ipw.HBox([p["part1"], p["part1_curves"], p["part1_length"]]),
                h("2. Self-attention inside a small transformer (the Zen of Python, character by character)"),
                part2, ipw.HBox([p["part2"], p["part2_query"]]), p["part2_curves"]]


def dashboard(preset: str | None = None, **state) -> AttentionDashboard:
    """The attention dashboard. ``preset`` names an entry of ``seqviz.experiments.attention.PRESETS``
    (on CUDA also ``GPU_PRESETS``; None: "gpu" on CUDA, else "default"); keyword arguments set
    ``AttentionState`` traits, e.g. ``task="date"`` or ``causal=False``."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    preset = preset or default_preset(pick_device().device)
    state.setdefault("task", PRESETS[preset].task.task)
    return AttentionDashboard(AttentionState(**state), preset=preset)
