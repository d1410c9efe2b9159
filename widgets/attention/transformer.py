"""Part 2 of the attention dashboard: a small transformer trained on next-character
prediction, and what feeds part 2's three panes (the self-attention matrix of one head; the
chosen query's weights with q/k/v; the loss and the entropy panel), its equation box and
the shuffle check.

``TransformerPart`` is a plain object: it gets the state, its panes, its boxes, the status
line and the dashboard's refresh gate, and calls nothing of the dashboard. Its ``Timeline``
(snapshots of the transformer's weights) scrubs every view of the part back through a
viewer copy of the model (the live model is never touched for this); the loss curve gets a
marker at the snapshot's step.

What a control redraws first (measured, see ``docs/attention.md``): a switch that builds a
new transformer draws the matrix at once and the rest once the matrix is drawn; the query
and key sliders redraw the query's small pane first and move the box on the matrix after.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from typing import Callable

import ipywidgets as ipw
import numpy as np
import torch

from seqviz.data.translation import CharData
from seqviz.experiments.attention import AttentionPreset, build_lm
from seqviz.figures import attention as fa
from seqviz.probes.attention import (entropy_tables, keys_per_row, max_entropy, permutation_gap,
                                     recompute_self_attention, reference_entropy, row_entropy, worked_cell)
from seqviz.probes.context import inspecting
from widgets.attention.mirror import Mirror
from widgets.attention.panels import self_attention_equation, shuffle_note, switch_sentence
from widgets.attention.state import AttentionState
from widgets.kit import EquationBox, PlotPane, RefreshGate, StatusLine, Timeline, weights

DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)  # key dimensions k of the entropy panel
CURVES_HZ, HEAT_HZ = 8.0, 2.0  # refreshes per second while training


@functools.lru_cache(maxsize=4)
def reference_tables(max_keys: int) -> dict[bool, np.ndarray]:
    """Expected row entropy of random scores, scaled and unscaled, per key dimension and key count
    (``seqviz.probes.attention.entropy_tables``; seeded, so computed once per process)."""
    return entropy_tables(DIMS, max_keys)


class TransformerPart:
    """Model, timeline and views of part 2."""

    def __init__(self, preset: AttentionPreset, data: CharData, state: AttentionState, panes: dict[str, PlotPane],
                 equation: EquationBox, perm_note: ipw.HTML, status: StatusLine, gate: RefreshGate, device,
                 on_refresh: Callable[[], None] = lambda: None):
        self.p, self.data, self.state, self.panes = preset, data, state, panes
        self.eq, self.perm_note, self.status, self.gate, self.device = equation, perm_note, status, gate, device
        self.on_refresh = on_refresh
        self.baseline = data.frequency_entropy()  # nats/char knowing only the letter frequencies
        self.timeline = Timeline(self._capture, description="Transformer history", width="380px", status=status)
        self.timeline.on_scrub(self.scrubbed)
        self._draw = threading.RLock()
        self._viewing = threading.Lock()
        self._loaded: int | None = None
        self._view: dict | None = None  # the numbers of the last ``compute``, for the selection views
        self.quiet = 0
        self.quiet_end = False
        self.shuffles = 0
        self.run = None
        self.reset()

    # -- model ----------------------------------------------------------------------------
    def reset(self) -> None:
        """A new, untrained transformer with the state's switches (the worker is paused by the caller)."""
        st = self.state
        with self._draw:
            self.run = build_lm(self.p, self.data, self.device, causal=st.causal, scaled=st.scaled,
                                position=st.position, attention=st.kind)
            self.cfg = self.run.models["transformer"].cfg
            self.mirror = Mirror(self.run)
            self.viewer = None  # made when the timeline first leaves the live end
            self._loaded = None
            self.timeline.reset(0)
            self.quiet += 1
            try:
                self.state.set_sizes(n_layers=self.cfg.n_layers, n_heads=self.cfg.n_heads)
            finally:
                self.quiet -= 1
            self._read_text()

    def _capture(self) -> dict:
        return weights(self.run.models["transformer"])

    def step(self) -> int:
        return self.run.step()

    @contextlib.contextmanager
    def viewing(self):
        """The transformer every view reads, and its step: the live one (under the run's lock) at the
        live end of the timeline, else a viewer copy holding the selected snapshot."""
        sel = self.timeline.selected()
        if sel is None:
            with self.mirror.live() as (models, step):
                yield models["transformer"], step
            return
        step, snap = sel
        with self._viewing:
            if self.viewer is None:
                with self.run.lock:
                    self.viewer = copy.deepcopy(self.run.models["transformer"])
            if self._loaded != step:
                self.viewer.load_state_dict(snap)
                self._loaded = step
            yield self.viewer, step

    # -- typed text -----------------------------------------------------------------------
    def _read_text(self) -> None:
        """Tokens of the state's text for this model, and one sentence about what could not be shown
        as typed (it stays on the status line until the box holds a text that needs none)."""
        st, cfg = self.state, self.cfg
        text, notes = st.text, []
        cap = cfg.max_len if cfg.position == "learned" else 2 * cfg.max_len
        if len(text) > cap:
            why = ("the learned position embeddings cover only" if cfg.position == "learned"
                   else "it was trained on windows of")
            notes.append(f"Showing the first {cap} characters: {why} {cfg.max_len} positions.")
            text = text[:cap]
        elif len(text) > cfg.max_len:
            notes.append(f"The transformer was trained on windows of {cfg.max_len} characters; positions beyond "
                         "that were never seen, so treat those rows with care.")
        ids, unknown = self.data.encode(text)
        if unknown:
            odd = sorted({c for c in text if c not in self.data.vocab or c == CharData.UNKNOWN})[:5]
            notes.append(f"{unknown} character(s) the model never saw ({' '.join(odd)}) are shown as "
                         f"'{CharData.UNKNOWN}'.")
        self.text = "".join(c if c in self.data.vocab else CharData.UNKNOWN for c in text)
        self.ids = ids
        self._say_text(" ".join(notes))
        self.quiet += 1
        try:
            st.set_sizes(n_tokens=len(ids))
        finally:
            self.quiet -= 1

    def _say_text(self, sentence: str) -> None:
        st = self.state
        if sentence:
            earlier = st.corrections.get("text")  # what the box's own check said (cut, odd characters)
            sentence = f"{earlier} {sentence}" if earlier and sentence not in earlier else sentence
            st.correct("text", sentence)
            self.status.correct("text", sentence)
        elif "text" not in st.corrections:
            self.status.clear("text")

    def new_text(self) -> None:
        if self.quiet:
            return
        with self._draw:
            self._read_text()
            self.draw()

    # -- views ------------------------------------------------------------------------------
    def compute(self) -> dict:
        """Run the selected transformer on the text: the chosen head's weights and q, k, v."""
        st = self.state
        with self.viewing() as (m, step):
            with torch.no_grad(), inspecting(m):
                tr = []
                m(self.ids[None].to(m.head.weight.device), trace=tr)
            layer, head = min(st.layer, len(tr) - 1), min(st.head, m.cfg.n_heads - 1)
            t = tr[layer]
            # the weights from the equation, in float64 numpy, from the same parameters (under the same lock)
            w_eq = recompute_self_attention(m, t["x_in"], layer)[0][0, head]
            view = dict(step=step, text=self.text, layer=layer, head=head, w_eq=w_eq,
                        w=t["weights"][0, head].cpu().numpy(),  # (T, T)
                        causal=m.cfg.causal, scaled=m.cfg.scaled, kind=m.cfg.attention,
                        **{n: t[n][0, head].cpu().numpy() for n in ("q", "k", "v")})  # (T, d_k)
        self._view = view
        return view

    def cell(self, view) -> tuple[int, int]:
        T = view["w"].shape[0]
        return min(self.state.query, T - 1), min(self.state.key, T - 1)

    def draw(self) -> None:
        """Every view: the matrix at once, the query's pane, the equation and the curves once it is drawn."""
        with self._draw:
            view = self.compute()
            self.panes["part2"].apply(fa.self_attention_patch(view["w"], view["text"], self.cell(view)))
        self.later(self._rest, "rest")

    def _rest(self) -> None:
        with self._draw:
            view = self._view
            i, j = self.cell(view)
            pane = self.panes["part2_query"]
            with pane.batch():
                pane.apply(fa.qkv_patch(view["q"], view["k"], view["v"], view["text"], i))
                pane.apply(fa.query_patch(view["w"], view["text"], (i, j), view["q"].shape[1]))
            self.worked_cell(view, i, j)
            self.draw_curves()

    def draw_heat(self) -> None:
        """While training: the matrix and the query's pane (one after the other), equation, diamond."""
        with self._draw:
            view = self.compute()
            i, j = self.cell(view)
            self.panes["part2"].apply(fa.self_attention_patch(view["w"], view["text"], (i, j)))
            pane = self.panes["part2_query"]
            with pane.batch():
                pane.apply(fa.qkv_patch(view["q"], view["k"], view["v"], view["text"], i))
                pane.apply(fa.query_patch(view["w"], view["text"], (i, j), view["q"].shape[1]))
            self.worked_cell(view, i, j)

    def selection(self) -> None:
        """Query i or key j moved: the query's small pane first, from the numbers of the last view (no
        forward pass), the box on the matrix once that pane is drawn."""
        if self.quiet:
            return
        self.gate.hold()
        with self._draw:
            view = self._view
            if view is None or view["text"] != self.text:
                self.draw()
                return
            i, j = self.cell(view)
            self.panes["part2_query"].apply(fa.query_patch(view["w"], view["text"], (i, j), view["q"].shape[1]))
            self.worked_cell(view, i, j)
        self.later(self._box, "box", pane="part2_query")

    def _box(self) -> None:
        with self._draw:
            view = self._view
            self.panes["part2"].apply(fa.selection_box_patch(*self.cell(view)))

    def worked_cell(self, view, i: int, j: int) -> None:
        q, k, v, w, T = view["q"], view["k"], view["v"], view["w"], view["w"].shape[0]
        allowed = np.arange(T) <= i if view["causal"] else None
        cell = worked_cell(q[i], k, j, view["scaled"], allowed)
        self.eq.body = self_attention_equation(i, j, view["text"], cell, q[i], k[j], v[j], float(w[i, j]),
                                               float(view["w_eq"][i, j]), view["layer"], view["head"], view["kind"],
                                               view["step"])

    def entropy_patch(self, view) -> dict:
        """The head's mean row entropy beside random scores over the same rows and key counts."""
        T = view["w"].shape[0]
        counts = keys_per_row(T, view["causal"])
        tables = reference_tables(max(2 * self.cfg.max_len, T))
        causal = view["causal"]
        rows = f"{T} rows of {'1 to ' if causal and T > 1 else ''}{T} keys" + (", causal" if causal else "")
        return fa.entropy_patch(DIMS, reference_entropy(tables[True], counts), reference_entropy(tables[False], counts),
                                max_entropy(counts), rows, view["q"].shape[1], float(row_entropy(view["w"]).mean()))

    def curves_patch(self) -> dict:
        sel = self.timeline.selected()
        return fa.lm_curve_patch(self.run.history["transformer"], self.baseline, at=None if sel is None else sel[0])

    def draw_curves(self) -> None:
        """The loss curve and the entropy panel (one pane)."""
        with self._draw:
            pane = self.panes["part2_curves"]
            with pane.batch():
                pane.apply(self.curves_patch())
                if self._view is not None:
                    pane.apply(self.entropy_patch(self._view))

    def later(self, fn, key: str, pane: str = "part2") -> None:
        self.panes[pane].when_drawn(fn, key=("attention-part2", key, id(self)))

    def scrubbed(self) -> None:
        self.gate.hold()
        self.draw()

    # -- controls ---------------------------------------------------------------------------
    def head_changed(self) -> None:
        if not self.quiet:
            self.gate.hold()
            self.draw()

    def switched(self, name: str) -> str:
        """A switch (causal, scaled, position, kind) built a new transformer: what it changed."""
        st = self.state
        return switch_sentence(name, st.causal, st.scaled, st.position, st.kind)

    def shuffle(self) -> None:
        """Shuffle the text; say how far the model is from permutation equivariance."""
        self.shuffles += 1
        perm = torch.randperm(len(self.ids), generator=torch.Generator().manual_seed(self.shuffles))
        with self.viewing() as (m, _):
            gap = permutation_gap(m, self.ids[None].to(m.head.weight.device), perm)
        self.perm_note.value = shuffle_note(gap)
        self.state.text = "".join(self.text[int(p)] for p in perm)

    # -- training ---------------------------------------------------------------------------
    def on_step(self, step: int) -> None:
        self.mirror.update()
        self.timeline.record(step)
        g, p = self.gate, self.panes
        if g.ready("part2-curves", CURVES_HZ, [p["part2_curves"]]):
            with self._draw:
                p["part2_curves"].apply(self.curves_patch())
            self.on_refresh()
        elif self.timeline.following and g.ready("part2-heat", HEAT_HZ, [p["part2"], p["part2_query"]]):
            self.draw_heat()
            with self._draw:
                p["part2_curves"].apply(self.entropy_patch(self._view))

    def on_end(self, why: str) -> str | None:
        self.timeline.record(self.run.steps, force=True)
        if self.quiet_end:
            return None
        self.draw_heat()
        self.draw_curves()
        self.on_refresh()
        if why == "stopped":
            return f"Part 2 paused at step {self.run.steps}. Press Train to go on."
        return None

    def progress(self) -> dict | None:
        h = self.run.history["transformer"]
        if not len(h):
            return None
        return dict(step=int(h.last("step")), loss=float(h.running_mean("loss", fa.WINDOW)[-1]))
