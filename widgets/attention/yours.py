"""``yours(model, inputs, tokens=...)``: the attention view on a student's own model (JupyterLab only).

Every ``nn.MultiheadAttention`` the model's forward calls (``seqviz.yours.attention``) gets a
heatmap of one head's weights with the tokens on the axes (dropdowns: which module, by its path,
which head, which sequence of the batch), the chosen query's row as bars with its entropy
against a uniform row (ln T_k), and every head of the module side by side. With ``batches=``
the model trains here (Train / Pause / One step / Reset, ``seqviz.yours.user_run`` on the kit's
``TrainingWorker``): a loss curve, the weights refreshed while it trains, a learning-rate slider.
``attention=`` shows weights computed elsewhere: (B, heads, T, T), (heads, T, T) or (T, T).
"""

from __future__ import annotations

import copy
import threading
import time

import ipywidgets as ipw
import torch
import traitlets as tl

from seqviz.figures import yours_attention as fy
from seqviz.yours.attention import (PASSED, AttentionMaps, attention_modules, capture_attention, check_attention,
                                    row_entropy, token_labels, uniform_entropy)
from seqviz.yours.fit import DoesNotFit, require_module
from seqviz.yours.training import batch_source, user_run
from widgets.kit import (CheckedState, LiveDashboard, PlotPane, bind_all, show_running, training_buttons,
                         when_drawn)
from widgets.kit.yours import your_model_entry

LOSS_HZ, WEIGHTS_HZ = 6.0, 2.0  # training refreshes per second: the curve, the weights (a forward pass)
NAME = "your model"
VIEW_ROWS = 8  # sequences of the first batch the view shows when no inputs= are given
STYLE = {"description_width": "80px"}


def _upto(size: str):
    return lambda s: (0, max(getattr(s, size) - 1, 0), True)


class YoursAttentionState(CheckedState):
    """Which module, head, sequence and query; the learning rate. ``CHOICES["module"]`` is the
    model's own module paths (set per instance)."""

    RANGES = {"head": _upto("n_heads"), "seq": _upto("n_seq"), "query": _upto("n_query"), "lr": (1e-5, 1.0, False)}
    CHOICES = {"module": ()}
    LABELS = {"module": "attention module", "head": "Head", "seq": "Sequence", "query": "Query i",
              "lr": "Learning rate"}
    module = tl.Any("")
    head = tl.Any(0)  # tl.Any: NaN or text from a client reach the check instead of failing
    seq = tl.Any(0)
    query = tl.Any(0)
    lr = tl.Any(1e-3)
    n_heads = tl.Int(1)  # sizes the ranges follow (set by the dashboard, never by a client)
    n_seq = tl.Int(1)
    n_query = tl.Int(1)

    def __init__(self, modules: list[str], **kwargs):
        self.CHOICES = {"module": tuple(modules)}
        super().__init__(module=modules[0], **kwargs)

    def set_sizes(self, **sizes: int) -> None:
        """New sizes; knobs past their new range move to its end, silently."""
        with self.hold_trait_notifications():
            for k, v in sizes.items():
                setattr(self, k, max(int(v), 1))
        for name in ("head", "seq", "query"):
            hi = self.limits(name)[1]
            if getattr(self, name) > hi:
                setattr(self, name, hi)


class YoursAttentionDashboard(LiveDashboard):
    """The attention view on ``model`` run on ``inputs`` (and/or ``attention`` passed in); ``run``
    (a ``seqviz.training.Run`` from ``user_run``) trains it, None: nothing to train."""

    kind = "yours_attention"

    def __init__(self, model=None, inputs=None, tokens=None, attention=None, run=None, remake_run=None):
        self.model, self.inputs, self.tokens_arg, self.run, self.remake_run = model, inputs, tokens, run, remake_run
        self.passed = None if attention is None else check_attention(attention)
        self.init_state = copy.deepcopy(model.state_dict()) if (model is not None and run is not None) else None
        self._draw = threading.RLock()
        self._quiet = 0  # sizes being set by the dashboard itself: no redraw per knob it moves
        self.maps = self.capture()
        lr = float(run.cfg.lr) if run is not None else 1e-3
        super().__init__(YoursAttentionState(self.maps.names, lr=lr))
        self.heads_max = max(w.shape[1] for w in self.maps.weights.values())
        self.panes = {"heat": PlotPane(fy.skeleton("heat")), "row": PlotPane(fy.skeleton("row")),
                      "heads": PlotPane(fy.skeleton("heads", self.heads_max))}
        if run is not None:
            self.panes["loss"] = PlotPane(fy.skeleton("loss"))
        self.controls = {
            "module": ipw.Dropdown(options=self.maps.names, description="Attention", style=STYLE,
                                   layout=ipw.Layout(width="420px")),
            "head": ipw.Dropdown(options=[0], description="Head", style=STYLE, layout=ipw.Layout(width="170px")),
            "seq": ipw.Dropdown(options=[0], description="Sequence", style=STYLE, layout=ipw.Layout(width="170px")),
            "query": ipw.IntSlider(min=0, max=0, description="Query i", style=STYLE, continuous_update=True,
                                   layout=ipw.Layout(width="420px")),
            "lr": ipw.FloatLogSlider(min=-5, max=0, description="Learning rate", readout_format=".1e",
                                     style={"description_width": "100px"}, layout=ipw.Layout(width="420px")),
        }
        self.buttons = training_buttons(step=True)
        self._sizes_to_controls()
        bind_all(self.controls, self.state, self.status)
        self._wire()
        self.draw(force=True)
        self.page(*self._layout())
        self.status.say(self._ready(), "info")

    # -- what the model computes -----------------------------------------------------------------
    def capture(self) -> AttentionMaps:
        """The weights now: the model's (under the run's lock while it trains) and those passed in."""
        maps = AttentionMaps()
        if self.model is not None:
            has_mha = self.passed is None or any(True for _ in self._mha())
            if has_mha:
                lock = self.run.lock if self.run is not None else threading.RLock()
                with lock:
                    maps = capture_attention(self.model, self.inputs, name=NAME)
        if self.passed is not None:
            maps.add(PASSED, self.passed, self.passed.shape[-1] == self.passed.shape[-2])
        B = max(w.shape[0] for w in maps.weights.values())
        self.labels = token_labels(self.tokens_arg, maps, B, self.inputs)
        return maps

    def _mha(self):
        return (m for m in self.model.modules() if isinstance(m, torch.nn.MultiheadAttention))

    def view(self) -> dict:
        """The chosen module's weights and the knobs clamped to them."""
        st, maps = self.state, self.maps
        name = st.module if st.module in maps.weights else maps.names[0]
        w = maps.weights[name]  # (B, heads, T_q, T_k)
        B, H, T_q, T_k = w.shape
        seq, head, query = min(st.seq, B - 1), min(st.head, H - 1), min(st.query, T_q - 1)
        lab = self.labels[min(seq, len(self.labels) - 1)] if self.labels else None
        q_lab = lab if lab is not None and len(lab) == T_q else None
        k_lab = lab if lab is not None and len(lab) == T_k else None
        return dict(name=name, w=w, seq=seq, head=head, query=query, q_labels=q_lab, k_labels=k_lab,
                    kind="self-attention" if maps.self_attention.get(name) else "attention")

    # -- drawing --------------------------------------------------------------------------------
    def draw_heat(self, v: dict) -> None:
        step = f", step {self.run.steps}" if self.run is not None else ""
        title = f"{v['name']}: head {v['head']}, sequence {v['seq']} ({v['kind']}{step})"
        self.panes["heat"].apply(fy.heat_patch(v["w"][v["seq"], v["head"]], v["q_labels"], v["k_labels"],
                                               v["query"], title))

    def draw_row(self, v: dict) -> None:
        row = v["w"][v["seq"], v["head"], v["query"]]
        q_label = v["q_labels"][v["query"]] if v["q_labels"] else None
        self.panes["row"].apply(fy.row_patch(row, v["k_labels"], v["query"], q_label, row_entropy(row),
                                             uniform_entropy(row.shape[0]), int((row > 0).sum())))

    def draw_heads(self, v: dict) -> None:
        self.panes["heads"].apply(fy.heads_patch(v["w"][v["seq"]], v["head"], min(self.heads_max, fy.MAX_HEADS),
                                                 v["name"]))

    def draw(self, force: bool = False) -> None:
        """The heatmap at once; the row and the small multiples once it is drawn."""
        with self._draw:
            v = self.view()
            self.draw_heat(v)
        self._later(lambda: self._rest(v), "rest")
        if "loss" in self.panes and force:
            self.panes["loss"].apply(fy.loss_patch(self.run.history[NAME]))

    def _rest(self, v: dict) -> None:
        with self._draw:
            self.draw_row(v)
            self.draw_heads(v)

    def _later(self, fn, what: str) -> None:
        when_drawn([self.panes["heat"]], fn, key=(id(self), what))

    def _query_moved(self) -> None:
        """The query slider: its row first, the box on the heatmap after."""
        if self._quiet:
            return
        self.gate.hold()
        with self._draw:
            v = self.view()
            self.draw_row(v)
        T_k = v["w"].shape[-1]
        self.panes["row"].when_drawn(lambda: self.panes["heat"].apply(
            {"traces": {"heat_sel": fy._box(v["query"], T_k)}, "layout": {}}), key=(id(self), "box"))

    def _chosen(self, change=None) -> None:
        """Module, head or sequence changed: sizes follow, then every view of it."""
        if self._quiet:
            return
        self.gate.hold()
        self._sizes_to_controls()
        self.draw()

    def _sizes_to_controls(self) -> None:
        st = self.state
        w = self.maps.weights[st.module if st.module in self.maps.weights else self.maps.names[0]]
        B, H, T_q, _ = w.shape
        c = self.controls
        self._quiet += 1
        try:
            st.set_sizes(n_heads=H, n_seq=B, n_query=T_q)
            for name, n in (("head", H), ("seq", B)):
                if list(c[name].options) != list(range(n)):
                    c[name].options = list(range(n))
                    c[name].value = getattr(st, name)
            if c["query"].max != T_q - 1:
                c["query"].max = T_q - 1
                c["query"].value = st.query
        finally:
            self._quiet -= 1

    # -- training -------------------------------------------------------------------------------
    def _wire(self) -> None:
        st, on, b = self.state, self.guarded, self.buttons
        st.observe(on("show that attention module")(self._chosen), ["module", "head", "seq"])
        st.observe(on("show that query")(lambda ch: self._query_moved()), "query")
        st.observe(on("set the learning rate")(lambda ch: self.run is not None and
                                               self.run.set_optimizer(self.run.cfg.optimizer, float(ch["new"]))), "lr")
        b["train"].on_click(on("start training")(lambda _: self.train()))
        b["pause"].on_click(on("pause training")(lambda _: self.worker.pause() or
                                                 self.status.say("Nothing is training.", "info")))
        b["step"].on_click(on("take one step")(lambda _: self.one_step()))
        b["reset"].on_click(on("reset")(lambda _: self.reset()))

    def show_running(self, running: bool) -> None:
        show_running(self.buttons, running)

    def _need_run(self) -> bool:
        if self.run is None:
            self.status.say("Nothing to train: pass batches= (pairs (x, y), a DataLoader or a function gen -> (x, y)) "
                            "to yours(...) to train your model here.", "info")
            return False
        return True

    def train(self) -> None:
        if self._need_run():
            self.worker.start(self.run.step, on_step=self.after_step, on_end=self.on_end,
                              message="Training your model; the weights refresh as it learns.")

    def one_step(self) -> None:
        if self._need_run():
            self.worker.one_step(self.run.step, on_end=self.on_end)

    def after_step(self, step: int) -> None:
        if self.gate.ready("loss", LOSS_HZ, [self.panes["loss"]]):
            self.panes["loss"].apply(fy.loss_patch(self.run.history[NAME]))
            self.refresh_times.append(time.monotonic())
        if self.gate.ready("weights", WEIGHTS_HZ, [self.panes["heat"], self.panes["row"], self.panes["heads"]]):
            self.maps = self.capture()
            self.draw()

    def on_end(self, why: str) -> str | None:
        self.maps = self.capture()
        self.draw(force=True)
        if why == "one step":
            return f"One step taken (step {self.run.steps}, loss {self.run.history[NAME].last('loss'):.4g})."
        return None

    def reset(self) -> None:
        """The model's weights (and the optimizer's state) as they were when the view was built."""
        if not self._need_run():
            return
        self.gate.hold()
        self.worker.pause(rebuild=True)
        with self.run.lock:
            self.model.load_state_dict(self.init_state)
        self.run = self.remake_run()
        self.run.set_optimizer(self.run.cfg.optimizer, float(self.state.lr))
        self.maps = self.capture()
        self.draw(force=True)
        self.status.say("Your model's weights are back as they were when this view was built. Press Train.", "info")

    # -- words and layout -----------------------------------------------------------------------
    def _ready(self) -> str:
        names = [n for n in self.maps.names if n != PASSED]
        w = self.maps.weights[self.maps.names[0]]
        said = []
        if names:
            shown = ", ".join(names[:4]) + (" and more" if len(names) > 4 else "")
            said.append(f"{len(names)} attention module{'s' if len(names) > 1 else ''} in your model ({shown}); "
                        f"{w.shape[0]} sequence{'s' if w.shape[0] > 1 else ''} of the inputs shown.")
        if self.passed is not None:
            said.append("attention= is shown as you passed it" + (" (it does not change while the model trains)."
                                                                   if self.run is not None else "."))
        said.append("Press Train to watch the weights change." if self.run is not None else
                    "Pass batches= to train the model here.")
        return " ".join(said)

    def _layout(self):
        c, b, p = self.controls, self.buttons, self.panes
        head = ipw.HTML("<h2 style='margin:4px 0'>Attention inside your model</h2>")
        rows = [head, self.status]
        if self.run is not None:
            rows.append(ipw.HBox([b["train"], b["pause"], b["step"], b["reset"], c["lr"]]))
        rows += [ipw.HBox([c["module"], c["head"], c["seq"]]), c["query"], ipw.HBox([p["heat"], p["row"]]), p["heads"]]
        if self.run is not None:
            rows.append(p["loss"])
        return rows


@your_model_entry
def yours(model=None, inputs=None, tokens=None, attention=None, batches=None, loss_fn=None, optimizer=None,
          lr: float = 1e-3) -> YoursAttentionDashboard:
    """The attention view on your own model (JupyterLab; see the module docstring).

    model: a module with an ``nn.MultiheadAttention`` inside (``nn.TransformerEncoderLayer``...);
    inputs: what to run it on (a tensor, a tuple of tensors, or a dict of keyword arguments; default:
    the first ``VIEW_ROWS`` rows of the first batch's x); tokens: a label per position (a string, a list
    of T strings, or B lists);
    attention: weights computed elsewhere, (B, heads, T, T), (heads, T, T) or (T, T);
    batches, loss_fn, optimizer, lr: train the model here (``seqviz.yours.user_run``)."""
    if model is None and attention is None:
        raise DoesNotFit("The attention view needs your model (with inputs= or batches=) or weights as "
                         "attention=(B, heads, T, T).")
    run = remake = None
    if model is not None:
        require_module(model, "a torch.nn.Module holding an nn.MultiheadAttention")
        if attention is None:
            attention_modules(model)  # no nn.MultiheadAttention inside: say so before anything runs
        if batches is not None:
            opt_state = copy.deepcopy(optimizer.state_dict()) if isinstance(optimizer, torch.optim.Optimizer) else None

            def remake():
                if opt_state is not None:
                    optimizer.load_state_dict(copy.deepcopy(opt_state))
                return user_run(model, batches, loss_fn=loss_fn, optimizer=optimizer, lr=lr, name=NAME)

            run = user_run(model, batches, loss_fn=loss_fn, optimizer=optimizer, lr=lr, name=NAME)
            if inputs is None:
                inputs = batch_source(batches)(torch.Generator().manual_seed(0))[0][:VIEW_ROWS]
        if inputs is None and not (attention is not None and not any(
                isinstance(m, torch.nn.MultiheadAttention) for m in model.modules())):
            raise DoesNotFit("The attention view runs your model on inputs= (a batch of token ids, say); pass "
                             "inputs=, or batches= to train it.")
    return YoursAttentionDashboard(model, inputs, tokens, attention, run, remake)


__all__ = ["YoursAttentionDashboard", "YoursAttentionState", "yours"]
