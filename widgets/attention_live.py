"""The live part of the attention dashboard: models, training thread, and refreshing
the figure and the equations. ``AttentionDashboard`` owns one ``LiveViews``."""

from __future__ import annotations

import copy
import math
import threading
import time

import numpy as np
import torch

from seqviz.data.translation import CharData, TranslationConfig, char_corpus
from seqviz.devices import pick_device
from seqviz.figures import attention as fa
from seqviz.probes.attention import (accuracy_by_length, entropy_vs_dim, permutation_gap, recompute_additive,
                                     recompute_self_attention, row_entropy, worked_cell)
from seqviz.training_attention import build_lm, build_s2s
from widgets.attention_views import additive_equation, self_attention_equation

MAX_TRAIN_S = 300  # a forgotten dashboard stops training after 5 minutes
MAX_SNAPSHOTS = 60  # model copies kept for the history slider (about 0.4 MB each)
DIMS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]  # key dimensions k of the entropy panel
DEFAULT_TEXT = "Simple is better than complex."
SOURCES = {"reverse": "abcdefgh", "date": "22 Nov 2026"}


class LiveViews:
    def __init__(self, dash, preset):
        self.d, self.p = dash, preset
        self.device = pick_device().device
        self.data = CharData.from_text(char_corpus())
        counts = torch.bincount(self.data.ids, minlength=len(self.data.vocab)).double()
        pr = counts[counts > 0] / counts.sum()
        self.lm_baseline = float(-(pr * pr.log()).sum())  # nats/char knowing only letter frequencies
        self.ent = {s: entropy_vs_dim(DIMS, T=preset.transformer.max_len, scaled=s) for s in (True, False)}
        self.ax = fa.axes_of(dash.fig)
        self.job = None
        self.shuffles = 0
        self.muted = 0  # > 0 while limits are adjusted: the refreshes that follow do the drawing

    # -- plumbing -------------------------------------------------------------------------
    def apply(self, traces=None, axes=None) -> None:
        with self.d._fig_lock, self.d.fig.batch_update():
            fa.apply(self.d.fig, traces, axes, self.ax)

    def set_limit(self, name: str, hi: int, options: bool = False) -> None:
        st, w = self.d.state, self.d.c[name]
        st.limits[name] = hi
        self.muted += 1
        try:
            if getattr(st, name) > hi:
                setattr(st, name, hi)
            if options and list(w.options) != list(range(hi + 1)):
                w.options = list(range(hi + 1))
                w.value = getattr(st, name)
            elif not options:
                w.max = hi
        finally:
            self.muted -= 1

    def start(self, which: str) -> None:
        if self.d.worker.running and self.job == which:
            self.d.status.say("Already training; press Stop to pause.", "info")
            return
        self.d.worker.stop()
        self.job = which
        self.d.worker.start(self._loop_s2s if which == "s2s" else self._loop_lm)
        self.d.status.say("Training the encoder-decoders (with and without attention) on the same batches..."
                          if which == "s2s" else "Training the transformer on windows of the Zen of Python...")

    def stop(self) -> None:
        was = self.d.worker.running
        self.d.worker.stop()
        if not was:
            self.d.status.say("Nothing is training.", "info")

    def _loop(self, stop, run, refresh, every=None) -> str:
        t0 = time.monotonic()

        def on_step(_):
            if every:
                every()
            if self.d.throttle.ready():
                refresh()
            if time.monotonic() - t0 > MAX_TRAIN_S:
                stop.set()

        why = run.train(stop, on_step)
        refresh()
        if why.startswith("diverged"):
            self.d.status.say("The loss became NaN or infinite, so training stopped; press Reset.", "error")
        elif time.monotonic() - t0 > MAX_TRAIN_S:
            self.d.status.say(f"Paused after {MAX_TRAIN_S // 60} minutes to free the machine. Press Train to go on.")
        else:
            self.d.status.say(f"Paused at step {run.steps}. Press Train to go on.", "info")
        return why

    # -- part 1: alignment ------------------------------------------------------------------
    def reset_s2s(self, first: bool = False) -> None:
        self.d.worker.stop()
        st = self.d.state
        tcfg = TranslationConfig(**{**self.p.task.__dict__, "task": st.task})
        self.task, self.s2s = build_s2s(self.p, tcfg, st.cell, self.device)
        self.viewer = copy.deepcopy(self.s2s.models["attention"])
        self.snaps, self.snap_every = [], 10
        self.take_snapshot()
        lo, hi = self.task.train_lengths
        self.lengths = list(range(lo, hi + 5)) if lo != hi else [lo]
        self.refresh_length()
        src, msg = self.task.parse(st.source)
        if src is None:
            default = SOURCES.get(st.task) or "".join(self.task.vocab[1 + k % (self.task.V - 1)] for k in range(hi))
            src, msg = self.task.parse(default)
            self._src = src
            st.source = default  # observers call new_source, which finds the same tokens
        self._src = src
        self.refresh_alignment()
        if not first:
            self.d.status.say(f"New models for '{st.task}' with a {st.cell.upper()} encoder and decoder. Press Train.")

    def take_snapshot(self) -> None:
        m = self.s2s.models["attention"]
        self.snaps.append((self.s2s.steps, {k: v.detach().clone() for k, v in m.state_dict().items()}))
        if len(self.snaps) > MAX_SNAPSHOTS:  # keep every other one, snapshot half as often
            self.snaps = self.snaps[::2] + ([self.snaps[-1]] if len(self.snaps) % 2 == 0 else [])
            self.snap_every *= 2
        st = self.d.state
        following = st.snapshot >= st.limits["snapshot"]
        self.set_limit("snapshot", len(self.snaps) - 1)
        if following:
            self.muted += 1
            try:
                st.snapshot = len(self.snaps) - 1
            finally:
                self.muted -= 1

    def new_source(self) -> None:
        src, msg = self.task.parse(self.d.state.source)
        if src is None:
            self.d.status.say(msg + " The previous source is still shown.", "warn")
            return
        self._src = src
        if msg:
            self.d.status.say(msg, "warn")
        self.refresh_alignment()

    @torch.no_grad()
    def refresh_alignment(self) -> None:
        if self.muted:
            return
        st = self.d.state
        k = min(st.snapshot, len(self.snaps) - 1)
        live = k == len(self.snaps) - 1
        src = self._src
        tgt, align = self.task.target_and_alignment(src[None])
        with self.s2s.lock:
            model = self.s2s.models["attention"]
            if not live:
                self.viewer.load_state_dict(self.snaps[k][1])
                model = self.viewer
            was = model.training
            model.eval()
            tr = model.run(src[None].to(self.device), n_out=tgt.shape[1])
            alpha_eq, e = recompute_additive(model, tr.h, tr.s_prev)
            model.train(was)
        w = tr.weights[0].cpu().numpy()  # (T, S)
        T, S = w.shape
        self.set_limit("out_i", T - 1)
        self.set_limit("src_j", S - 1)
        i, j = min(st.out_i, T - 1), min(st.src_j, S - 1)
        pred = self.task.decode(tr.tokens[0])
        labels = [p if p == t else f"{p}\u2260{t}" for p, t in zip(pred, self.task.decode(tgt[0]))]
        self.apply(*fa.alignment_panel(w, self.task.decode(src), labels, align[0].numpy(), (i, j)))
        self.d.eq_a.value = self._eq(self.d.eq_a, additive_equation(
            i, j, self.task.decode(src), e[0, i], float(w[i, j]), float(alpha_eq[0, i, j]), self.snaps[k][0]))
        self.d.c["snapshot"].description = f"History: step {self.snaps[k][0]}"

    def refresh_length(self) -> None:
        with self.s2s.lock:
            acc = accuracy_by_length(self.task, self.s2s.models, self.lengths, n=32)
        self.apply(*fa.length_panel(self.lengths, acc, self.task.train_lengths[1]))

    def refresh_s2s(self) -> None:
        self.apply(*fa.s2s_curves(self.s2s.history))
        self.refresh_alignment()
        self.progress_line()
        self.d.refresh_times.append(time.monotonic())

    def _loop_s2s(self, stop: threading.Event) -> None:
        run, last = self.s2s, [self.s2s.steps]

        def every():
            if run.steps % self.snap_every == 0:
                self.take_snapshot()
            if run.steps - last[0] >= 300:
                last[0] = run.steps
                self.refresh_length()

        self._loop(stop, run, self.refresh_s2s, every)
        self.refresh_length()

    # -- part 2: self-attention ---------------------------------------------------------------
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
        self.apply(*fa.lm_curve(None, self.lm_baseline))
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

    def refresh_self(self) -> None:
        if self.muted:
            return
        st = self.d.state
        m, tr = self.trace(self._ids)
        layer, head = min(st.layer, len(tr) - 1), min(st.head, m.cfg.n_heads - 1)
        t = tr[layer]
        w = t["weights"][0, head].cpu().numpy()  # (T, T)
        q, k, v = (t[n][0, head].cpu().numpy() for n in ("q", "k", "v"))  # (T, d_k)
        T = w.shape[0]
        i, j = min(st.query, T - 1), min(st.key, T - 1)
        w_eq = recompute_self_attention(m, t["x_in"], layer)[0][0, head]
        allowed = np.arange(T) <= i if m.cfg.causal else None
        cell = worked_cell(q[i], k, j, m.cfg.scaled, allowed)
        dk = q.shape[1]
        self.apply(*fa.self_attention_panel(w, self._text, (i, j)))
        self.apply(*fa.qkv_panel(q, k, v, self._text, i))
        self.apply(*fa.entropy_panel(DIMS, self.ent[True], self.ent[False], m.cfg.max_len, dk,
                                     float(row_entropy(w).mean())))
        self.d.eq_b.value = self._eq(self.d.eq_b, self_attention_equation(
            i, j, self._text, cell, q[i], k[j], v[j], float(w[i, j]), float(w_eq[i, j]), layer, head, m.cfg.attention))

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
        self.apply(*fa.lm_curve(self.lm.history["transformer"], self.lm_baseline))
        self.refresh_self()
        self.progress_line()
        self.d.refresh_times.append(time.monotonic())

    def _loop_lm(self, stop: threading.Event) -> None:
        self._loop(stop, self.lm, self.refresh_lm)

    # -- shared ---------------------------------------------------------------------------------
    def clicked(self, trace, points, _selector=None) -> None:
        if not points.xs:
            return
        x, y = int(points.xs[0]), int(points.ys[0])
        st = self.d.state
        if trace.name == "align":
            st.out_i, st.src_j = y, x
        else:
            st.query, st.key = y, x

    def progress_line(self) -> None:
        a, lm = self.s2s.history["attention"], self.lm.history["transformer"]
        parts = []
        if a.step:
            al = a.metrics["alignment"][-20:]
            parts.append(f"Part 1: step <b>{a.step[-1]}</b> · {a.seconds[-1] + self.s2s.history['bottleneck'].seconds[-1]:.0f} s"
                         f" · alignment accuracy <b>{100 * np.mean(al):.0f}%</b> (last 20 batches)")
        if lm.step:
            parts.append(f"Part 2: step <b>{lm.step[-1]}</b> · loss {np.mean(lm.loss[-20:]):.2f} nats/char "
                         f"(letter frequencies alone: {self.lm_baseline:.2f})")
        self.d.progress.value = "<span style='font-size:15px'>" + " &nbsp;|&nbsp; ".join(parts) + "</span>"

    @staticmethod
    def _eq(box, body: str) -> str:
        return box.value.split("</div>", 1)[0] + "</div>" + body + "</div>"
