"""Part 2 of the attention dashboard: the transformer, its switches, typed text and the
shuffle check. A mixin of ``LiveViews`` (``widgets.attention_live``), which holds the
shared plumbing (``apply``, ``set_limit``, ``_loop``)."""

from __future__ import annotations

import threading
import time

import numpy as np
import torch

from seqviz.data.translation import CharData
from seqviz.figures import attention as fa
from seqviz.probes.attention import permutation_gap, recompute_self_attention, row_entropy, worked_cell
from seqviz.training_attention import build_lm
from widgets.attention_views import self_attention_equation
from widgets.common import set_box_body

DIMS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]  # key dimensions k of the entropy panel
DEFAULT_TEXT = "Simple is better than complex."


class SelfAttentionViews:
    _view: dict | None = None  # the numbers of the last ``refresh_self``, for ``refresh_selection``

    def reset_lm(self, first: bool = False) -> None:
        self.d.worker.stop()
        st = self.d.state
        self.lm = build_lm(self.p, self.data, self.device, causal=st.causal, scaled=st.scaled,
                           position=st.position, attention=st.kind)
        cfg = self.lm.models["transformer"].cfg
        self.set_limit("layer", cfg.n_layers - 1, options=True)
        self.set_limit("head", cfg.n_heads - 1, options=True)
        if not st.text:
            self.muted += 1
            try:
                st.text = DEFAULT_TEXT
            finally:
                self.muted -= 1
        self.new_text(quiet=True)
        self.apply(fa.lm_curve(None, self.lm_baseline))
        if not first:
            self.d.status.say("A new transformer was built with these switches. Press Train in part 2.")

    def switch(self, name: str) -> None:
        st = self.d.state
        self.reset_lm()
        what = {"causal": "Causal mask " + ("on" if st.causal else "off: each token can see the next one, "
                                              "so predicting it is cheating. Train and watch the loss"),
                "scaled": "Scores " + ("divided by sqrt(k)" if st.scaled else "not scaled"),
                "position": f"Position embedding: {st.position}", "kind": "Attention: " + (
                    "keys, queries and values" if st.kind == "qkv" else "parameter-free, w_ij = x_i . x_j")}[name]
        self.d.status.say(what + ". A new transformer was built; press Train in part 2.", "info")

    def new_text(self, quiet: bool = False) -> None:
        st, cfg = self.d.state, self.lm.models["transformer"].cfg
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
            odd = sorted({c for c in text if c not in self.data.vocab})[:5]
            notes.append(f"{unknown} character(s) the model never saw ({' '.join(odd)}) are shown as "
                         f"'{CharData.UNKNOWN}'.")
        self._text, self._ids = "".join(c if c in self.data.vocab else CharData.UNKNOWN for c in text), ids
        self.set_limit("query", len(ids) - 1)
        self.set_limit("key", len(ids) - 1)
        self.refresh_self()
        if notes and not quiet:
            self.d.status.say(" ".join(notes), "warn")

    @torch.no_grad()
    def trace(self, ids):
        m = self.lm.models["transformer"]
        with self.lm.lock:
            was = m.training
            m.eval()
            tr = []
            m(ids[None].to(self.device), trace=tr)
            m.train(was)
        return m, tr

    def refresh_self(self, extra=()) -> None:
        """Run the transformer on the text and redraw part 2's views (and ``extra`` updates in the
        same messages); what the selected cell needs is kept for ``refresh_selection``."""
        if self.muted:
            return
        st = self.d.state
        m, tr = self.trace(self._ids)
        layer, head = min(st.layer, len(tr) - 1), min(st.head, m.cfg.n_heads - 1)
        t = tr[layer]
        w = t["weights"][0, head].cpu().numpy()  # (T, T)
        q, k, v = (t[n][0, head].cpu().numpy() for n in ("q", "k", "v"))  # (T, d_k)
        w_eq = recompute_self_attention(m, t["x_in"], layer)[0][0, head]
        view = self._view = dict(w=w, q=q, k=k, v=v, w_eq=w_eq, text=self._text, layer=layer, head=head,
                                 causal=m.cfg.causal, scaled=m.cfg.scaled, kind=m.cfg.attention)
        i, j = self._cell(view)
        self.apply(*extra, fa.self_attention_panel(w, self._text, (i, j)), fa.qkv_panel(q, k, v, self._text, i),
                   fa.entropy_panel(DIMS, self.ent[True], self.ent[False], m.cfg.max_len, q.shape[1],
                                    float(row_entropy(w).mean())))
        self._worked_cell(view, i, j)

    def refresh_selection(self) -> None:
        """Query i or key j moved: redraw only what depends on them (the query's pane first, then
        the box on the matrix) from the numbers of the last ``refresh_self``; no forward pass."""
        if self.muted:
            return
        self.hold()
        view = self._view
        if view is None or view["text"] != self._text:
            self.refresh_self()
            return
        i, j = self._cell(view)
        tr, _ = fa.query_panel(view["w"], view["text"], (i, j), view["q"].shape[1])
        box = tr.pop("self_sel")
        self.apply((tr, {}))
        self._worked_cell(view, i, j)
        # The box on the matrix waits until the browser has drawn the query's pane: redrawing the
        # matrix's pane (30-60 ms for a moved box) must not delay the chart the user is watching.
        self.after_drawn(("part2_query",), lambda: self.apply(({"self_sel": box}, {})), key="self_sel")

    def _cell(self, view) -> tuple[int, int]:
        T = view["w"].shape[0]
        return min(self.d.state.query, T - 1), min(self.d.state.key, T - 1)

    def _worked_cell(self, view, i: int, j: int) -> None:
        q, k, v, w, T = view["q"], view["k"], view["v"], view["w"], view["w"].shape[0]
        allowed = np.arange(T) <= i if view["causal"] else None
        cell = worked_cell(q[i], k, j, view["scaled"], allowed)
        set_box_body(self.d.eq_b, self_attention_equation(
            i, j, view["text"], cell, q[i], k[j], v[j], float(w[i, j]), float(view["w_eq"][i, j]), view["layer"],
            view["head"], view["kind"]))

    def shuffle_text(self) -> None:
        m = self.lm.models["transformer"]
        self.shuffles += 1
        ids = self._ids
        perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(self.shuffles))
        with self.lm.lock:
            gap = permutation_gap(m, ids[None].to(self.device), perm)
        equi = gap < 1e-4
        why = ("no position information and no causal mask: the model is permutation equivariant, so the new "
               "matrix is the old one with rows and columns shuffled alike" if equi else
               "position embeddings or the causal mask tell the model where each token is, so shuffling the "
               "input changes more than the order of the output")
        self.d.perm_note.value = (f"<div style='font-size:15px'>Shuffled. Largest |f(shuffled x) &minus; shuffled "
                                  f"f(x)| = <b>{gap:.1e}</b>: {why}.</div>")
        self.d.state.text = "".join(self._text[int(p)] for p in perm)

    def refresh_lm(self) -> None:
        """While training: the loss curve (often)."""
        self.apply(fa.lm_curve(self.lm.history["transformer"], self.lm_baseline))
        self.progress_line()
        self.d.refresh_times.append(time.monotonic())

    def _loop_lm(self, stop: threading.Event) -> None:
        self._loop(stop, self.lm, self.refresh_lm, self.refresh_self, ("part2_curves",), ("part2", "part2_query"))
