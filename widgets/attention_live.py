"""The live part of the attention dashboard: models, training thread, and refreshing
the figure and the equations. ``AttentionDashboard`` owns one ``LiveViews``."""

from __future__ import annotations

import copy
import threading
import time

import numpy as np
import torch

from seqviz.data.translation import CharData, TranslationConfig, char_corpus
from seqviz.devices import pick_device
from seqviz.figures import attention as fa
from seqviz.probes.attention import accuracy_by_length, entropy_vs_dim, recompute_additive
from seqviz.training_attention import build_s2s
from widgets.attention_inside import DIMS, SelfAttentionViews
from widgets.common import Hold, log, responsive_training, set_box_body
from widgets.attention_views import additive_equation

MAX_TRAIN_S = 300  # a forgotten dashboard stops training after 5 minutes
HOLD_S = 0.1  # after a control is used, training refreshes wait this long (see LiveViews.hold)
AFTER_DRAWN_S = 0.06  # after_drawn: extra wait after the browser's "drawn", for it to paint
MAX_SNAPSHOTS = 60  # model copies kept for the history slider (about 0.4 MB each)
SOURCES = {"reverse": "abcdefgh", "date": "22 Nov 2026"}


class LiveViews(SelfAttentionViews):
    """Models, the training thread and the refreshes of both parts (part 2 in the mixin)."""

    def __init__(self, dash, preset):
        self.d, self.p = dash, preset
        self.device = pick_device().device
        self.data = CharData.from_text(char_corpus())
        counts = torch.bincount(self.data.ids, minlength=len(self.data.vocab)).double()
        pr = counts[counts > 0] / counts.sum()
        self.lm_baseline = float(-(pr * pr.log()).sum())  # nats/char knowing only letter frequencies
        self.ent = {s: entropy_vs_dim(DIMS, T=preset.transformer.max_len, n=32, scaled=s) for s in (True, False)}
        self.job = None
        self.shuffles = 0
        self.muted = 0  # > 0 while limits are adjusted: the refreshes that follow do the drawing
        self._pending, self._pending_lock = {}, threading.Lock()  # after_drawn: key -> (panes, fn)
        self._hold = Hold(HOLD_S)  # training skips its refreshes while held (``hold``)
        for pane in dash.panes.values():
            pane.on_msg(self._flush_pending)  # after the pane's own handler has counted a "drawn"

    # -- plumbing -------------------------------------------------------------------------
    def apply(self, *updates) -> None:
        """Write ``(traces, axes)`` updates, one message per figure (plotly.js redraws a whole
        figure per message), the query's small pane first (``fa.ORDER``)."""
        for part, (traces, axes) in fa.split(*updates).items():
            with self.d.panes[part].batch() as fig:
                fa.apply(fig, traces, axes, self.d.axes[part])

    def hold(self) -> None:
        """A control was used: the training thread skips its refreshes for HOLD_S so that the
        browser draws the control's change first instead of a queued curve (measured: a curve pane's
        redraw arriving just behind the query's delayed its paint by 30-100 ms while training)."""
        self._hold.hold()

    def after_drawn(self, panes, fn, key: str) -> None:
        """Call ``fn`` once the browser has drawn the last update of every pane in ``panes`` (at
        once when none is drawing, e.g. without a browser; after 1 s at the latest, should an
        acknowledgement never come). A newer ``fn`` with the same ``key`` replaces a waiting one."""
        with self._pending_lock:
            self._pending[key] = (tuple(panes), fn)
        self._flush_pending()
        if key in self._pending:
            timer = threading.Timer(1.0, self._flush_pending, kwargs=dict(force=True))
            timer.daemon = True
            timer.start()

    def _flush_pending(self, *_args, force: bool = False) -> None:
        with self._pending_lock:
            ready = [k for k, (panes, _) in self._pending.items()
                     if force or not any(self.d.panes[p].busy for p in panes)]
            fns = [self._pending.pop(k)[1] for k in ready]
        if not fns:
            return
        if any(self.d.panes[p].has_view for p in self.d.panes) and not force:
            # "drawn" comes when plotly.js has finished, before the browser has painted: give it a
            # frame or three, or this redraw still delays what was just drawn (seen while training)
            timer = threading.Timer(AFTER_DRAWN_S, self._run, args=(fns,))
            timer.daemon = True
            timer.start()
        else:
            self._run(fns)

    @staticmethod
    def _run(fns) -> None:
        for fn in fns:
            try:
                fn()
            except Exception:  # noqa: BLE001 - a late box must not break the message handler
                log.exception("deferred refresh failed")

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

    def _loop(self, stop, run, refresh, refresh_heat, panes, heat_panes, every=None) -> str:
        """Train ``run`` until ``stop``; after a step, ``refresh`` (curves: cheap to redraw, up to
        8 a second) and ``refresh_heat`` (heatmaps: the browser's slowest redraws, 2 a second),
        each skipped while one of its panes is still drawing the last update (the pane
        acknowledges), so that the browser keeps time for the controls."""
        t0 = time.monotonic()
        d = self.d

        def on_step(_):
            if every:
                every()
            if self._hold.held:
                pass  # a control was just used: its redraw goes first
            elif not any(d.panes[p].busy for p in panes) and d.throttle.ready():
                refresh()
            elif not any(d.panes[p].busy for p in heat_panes) and d.heat_throttle.ready():
                refresh_heat()
            if time.monotonic() - t0 > MAX_TRAIN_S:
                stop.set()

        with responsive_training():  # the slider's handler gets the GIL within 1 ms, not 5
            why = run.train(stop, on_step)
        refresh()
        refresh_heat()
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

    def refresh_alignment(self, extra=()) -> None:
        """Redraw part 1's matrix (and ``extra`` updates in the same message)."""
        if self.muted:
            return
        self.apply(*extra, self._alignment())

    @torch.no_grad()
    def _alignment(self):
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
        set_box_body(self.d.eq_a, additive_equation(
            i, j, self.task.decode(src), e[0, i], float(w[i, j]), float(alpha_eq[0, i, j]), self.snaps[k][0],
            model.cfg.values))
        self.d.c["snapshot"].description = f"History: step {self.snaps[k][0]}"
        return fa.alignment_panel(w, self.task.decode(src), labels, align[0].numpy(), (i, j))

    def refresh_length(self) -> None:
        with self.s2s.lock:
            acc = accuracy_by_length(self.task, self.s2s.models, self.lengths, n=32)
        self.apply(fa.length_panel(self.lengths, acc, self.task.train_lengths[1]))

    def refresh_s2s(self) -> None:
        """While training: the loss and accuracy curves (often)."""
        self.apply(fa.s2s_curves(self.s2s.history))
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

        self._loop(stop, run, self.refresh_s2s, self.refresh_alignment, ("part1_curves",), ("part1",), every)
        self.refresh_length()

    # -- shared ---------------------------------------------------------------------------------
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
