"""The Markov dashboard: controls, four plot panes, tables, samples, and one counting thread.

What happens on each control (the first changed frame is always cheap; counting never runs in a handler):
- order k: the "this order" markers on the order pane at once; then (the counting thread: counting order k if it
  was not yet) the next-token pane and table, the chain-rule pane and table, the samples, the bridge line, the
  classifier's marker and the typed text's log-odds shares;
- smoothing α: the next-token pane at once (same counts, another α); then every curve (arithmetic on kept
  counts), the chain rule, the samples, the classifier;
- typed text: the next-token and chain-rule panes at once; temperature, seed, Sample: the samples at once;
- the classifier's task or text: its log-odds shares at once (once that classifier is counted);
- corpus, token level, pasted text: the order pane is emptied and the status line says "Counting…" at once; the
  counting thread then loads and splits the corpus, counts order k, draws everything, and fills in the other
  orders one by one (the curves grow).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

import ipywidgets as ipw

from seqviz.data.corpora import CORPORA
from seqviz.experiments import markov as EM
from seqviz.figures import markov as fm
from widgets.kit import LiveDashboard, PlotPane, bind_all, device_badge, log, when_drawn
from widgets.markov import panels as P
from widgets.markov.state import ALPHAS, CLASSIFY, PROMPTS, MarkovState

STYLE = {"description_width": "110px"}
WIDE = ipw.Layout(width="380px")
ORDER_HZ = 4  # order-pane redraws a second while the other orders are being counted


class Jobs:
    """One daemon thread for the dashboard's slow work. ``urgent(key, fn)``: run soon, a newer job with the same
    key replacing one still waiting (a burst of slider moves is served once, for the latest value); urgent jobs go
    before ``background`` ones (the sweep over orders)."""

    def __init__(self, on_error):
        self._urgent: OrderedDict = OrderedDict()
        self._background: deque = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._closed = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="seqviz-markov-counting", daemon=True)
        self._thread.start()

    def urgent(self, key, fn) -> None:
        with self._cv:
            self._urgent.pop(key, None)
            self._urgent[key] = fn
            self._cv.notify()

    def background(self, fn) -> None:
        with self._cv:
            self._background.append(fn)
            self._cv.notify()

    def clear_background(self) -> None:
        with self._cv:
            self._background.clear()

    @property
    def idle(self) -> bool:
        with self._cv:
            return not (self._busy or self._urgent or self._background)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._urgent.clear()
            self._background.clear()
            self._cv.notify()

    def _run(self) -> None:
        from seqviz.devices import configure_threads

        configure_threads()
        while True:
            with self._cv:
                while not (self._urgent or self._background or self._closed):
                    self._cv.wait()
                if self._closed:
                    return
                fn = self._urgent.popitem(last=False)[1] if self._urgent else self._background.popleft()
                self._busy = True
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - one sentence on the page, the traceback in the log
                log.exception("counting job failed")
                self._on_error(e)
            finally:
                with self._cv:
                    self._busy = False


def make_controls() -> dict[str, ipw.Widget]:
    c = dict(continuous_update=False, layout=WIDE, style=STYLE)
    corpora = [(CORPORA[k].title, k) for k in CORPORA] + [("Your pasted text", EM.PASTED)]
    return {
        "corpus": ipw.Dropdown(options=corpora, description="Corpus", layout=WIDE, style=STYLE),
        "level": ipw.ToggleButtons(options=[("characters", "char"), ("words", "word")], description="Tokens",
                                   style={"description_width": "110px", "button_width": "100px"}),
        "pasted": ipw.Textarea(description="Pasted text", placeholder="one document (a name, a sentence) a line",
                               continuous_update=False, layout=ipw.Layout(width="380px", height="70px"), style=STYLE),
        "order": ipw.IntSlider(min=0, max=EM.MAX_ORDER, description="Order k", **c),
        "alpha": ipw.SelectionSlider(options=[(f"{a:g}", a) for a in ALPHAS], description="Smoothing α", **c),
        "text": ipw.Text(description="Typed text", continuous_update=False, layout=WIDE, style=STYLE),
        "temperature": ipw.FloatSlider(min=0, max=3, step=0.1, description="Temperature", **c),
        "seed": ipw.BoundedIntText(min=0, max=999_999, description="Seed", layout=ipw.Layout(width="220px"),
                                   style=STYLE),
        "task": ipw.ToggleButtons(options=[("names: female / male", "names"), ("mail: spam / ham", "mail")],
                                  description="Classifier", style={"description_width": "110px",
                                                                   "button_width": "170px"}),
        "classify": ipw.Text(description="Classify", continuous_update=False, layout=WIDE, style=STYLE),
    }


class MarkovDashboard(LiveDashboard):
    """Markov models of text: counts, smoothing, the chain rule, samples, order, a classifier."""

    kind = "markov"

    def __init__(self, state: MarkovState | None = None, **kwargs):
        super().__init__(state or MarkovState(), **kwargs)
        s = self.state
        self.c = make_controls()
        self.sample_button = ipw.Button(description="Sample", button_style="success", icon="random",
                                        layout=ipw.Layout(width="110px"))
        self.panes = {"next": PlotPane(fm.next_skeleton()), "chain": PlotPane(fm.chain_skeleton()),
                      "order": PlotPane(fm.order_skeleton(EM.MAX_ORDER)),
                      "classify": PlotPane(fm.classify_skeleton(EM.MAX_ORDER))}
        self.next_table, self.chain_table, self.samples = ipw.HTML(), ipw.HTML(), ipw.HTML()
        self.bridge, self.order_note, self.acc_note, self.verdict = ipw.HTML(), ipw.HTML(), ipw.HTML(), ipw.HTML()
        self.study: EM.OrderStudy | None = None
        self._study_key = None
        self.load_seconds: dict[tuple, float] = {}  # corpus key -> seconds from asking to the first full draw
        self._gen = 0  # bumped on every corpus change: an older load or sweep stops
        self._order_gate = 0.0
        self._lock = threading.RLock()  # views drawn from the handler and the counting thread
        self.jobs = Jobs(lambda e: self.status.say(
            f"Could not count: {str(e)[:200] or type(e).__name__}. The dashboard is still usable.", "error"))
        bind_all(self.c, s, self.status)
        self.c["pasted"].disabled = s.corpus != EM.PASTED
        on = self.guarded
        s.observe(on("change the corpus")(self._corpus_changed), ["corpus", "level", "pasted"])
        s.observe(on("change the order")(self._order_changed), "order")
        s.observe(on("change the smoothing")(self._alpha_changed), "alpha")
        s.observe(on("read the typed text")(self._text_changed), "text")
        s.observe(on("sample")(lambda _: self._draw_samples_now()), ["temperature", "seed"])
        s.observe(on("change the classifier")(self._classifier_changed), ["task", "classify"])
        self.sample_button.on_click(on("sample")(lambda _: setattr(s, "seed", (s.seed + 1) % 1_000_000)))
        self.status.say(f"Counting {self._title()}…")
        gen = self._gen
        self.jobs.urgent("load", lambda: self._load(gen))  # the page shows at once; the panes fill in as counted
        self.jobs.urgent("classify", self._classifier_job)
        self._sweep_classifiers()
        self.page(*self._layout())

    def _layout(self):
        c, p = self.c, self.panes
        head = ipw.VBox([ipw.HTML("<h2 style='margin:4px 0'>Markov models: counts, smoothing, samples and a "
                                  "classifier</h2>"), self.status, device_badge()])
        knobs = ipw.VBox([c["corpus"], c["level"], c["pasted"], c["order"], c["alpha"], c["text"],
                          ipw.HTML("<b>What comes next</b> after the typed text (its last k tokens)"), self.next_table],
                         layout=ipw.Layout(width="400px", min_width="400px"))
        sampling = ipw.VBox([ipw.HBox([self.sample_button, c["seed"]]), c["temperature"]],
                            layout=ipw.Layout(width="400px", min_width="400px"))
        wide = ipw.Layout(flex="1 1 560px")  # (the kit wraps rows: a content-sized column would wrap below)
        row1 = ipw.HBox([knobs, ipw.VBox([p["next"]], layout=wide)])
        row2 = ipw.HBox([ipw.VBox([ipw.HTML("<b>Chain rule</b>: log₂ p(text) = Σ<sub>t</sub> log₂ p(x<sub>t</sub> | "
                                            "x<sub>t−k</sub> … x<sub>t−1</sub>)"), self.chain_table],
                                  layout=ipw.Layout(width="400px", min_width="400px", max_height="420px",
                                                    overflow="auto")),
                         ipw.VBox([p["chain"]], layout=wide)])
        row3 = ipw.HBox([ipw.VBox([ipw.HTML("<b>Samples</b> (Markov chain: draw, append, repeat)"), sampling,
                                   self.samples], layout=ipw.Layout(width="400px", min_width="400px")),
                         ipw.VBox([p["order"], self.order_note, self.bridge], layout=wide)])
        row4 = ipw.HBox([ipw.VBox([ipw.HTML("<b>A classifier from Markov models</b>: one model per class, "
                                            "pick the larger log₂ p(class) + log₂ p(text | class)"),
                                   c["task"], c["classify"], self.verdict],
                                  layout=ipw.Layout(width="400px", min_width="400px")),
                         ipw.VBox([p["classify"], self.acc_note], layout=wide)])
        return head, row1, row2, row3, row4

    def close_worker(self) -> None:
        self.jobs.close()
        super().close_worker()

    # -- corpus ---------------------------------------------------------------------------------------------
    def _corpus_changed(self, change) -> None:
        self.gate.hold()
        s = self.state
        if change["name"] == "corpus":
            old, new = change["old"], change["new"]
            if new in CORPORA:
                s.level = CORPORA[new].level  # (observed too: the later request replaces the earlier)
            if s.text == PROMPTS.get(old):
                s.text = PROMPTS.get(new, s.text)
        self.c["pasted"].disabled = s.corpus != EM.PASTED
        with self._lock:
            self._gen += 1
            gen = self._gen
        cached = EM.cached_study(*s.corpus_key())
        if cached is None or not cached.has_point(s.order):
            self.panes["order"].apply(P.empty_order_view(s.order))
            self.status.say(f"Counting {self._title()}…")
        else:  # counted before: its curves at once (arithmetic on kept counts), the rest follows
            self.panes["order"].apply(P.order_view(cached.curves(s.alpha), s.order))
        self.jobs.clear_background()
        self.jobs.urgent("load", lambda: self._load(gen))

    def _title(self) -> str:
        s = self.state
        name = "your pasted text" if s.corpus == EM.PASTED else CORPORA[s.corpus].title
        return f"{name} by {EM.level_word(s.level)}s"

    def _load(self, gen: int) -> None:
        """(Counting thread, or the constructor.) Load and split the corpus, count order k, draw everything;
        then count the other orders in the background."""
        t0 = time.perf_counter()
        key = self.state.corpus_key()
        st = EM.study(*key)
        if gen != self._gen:
            return
        order = self.state.order
        st.point(order)
        with self._lock:
            if gen != self._gen:
                return
            self.study, self._study_key = st, key
            self._model_views()
        self.load_seconds[key[:2]] = time.perf_counter() - t0
        d = st.data
        m = st.model(order)
        msg = (f"Counted {d.title} by {EM.level_word(d.level)}s: {d.n_train_tokens:,} training tokens in "
               f"{len(d.train):,} documents, {len(d.held):,} held out; V = {m.V:,}; order {order} saw "
               f"{m.n_contexts:,} contexts. The other orders follow.")
        self.status.say(" ".join([*d.notes, msg]), "info")
        for k in sorted(range(EM.MAX_ORDER + 1), key=lambda k: abs(k - order)):
            self.jobs.background(lambda k=k: self._sweep_one(gen, st, k))

    def _sweep_one(self, gen: int, st: EM.OrderStudy, k: int) -> None:
        if gen != self._gen or st.has_point(k):
            return
        st.point(k)
        done = all(st.has_point(j) for j in range(EM.MAX_ORDER + 1))
        now = time.monotonic()
        if done or now - self._order_gate > 1 / ORDER_HZ:
            self._order_gate = now
            with self._lock:
                if gen == self._gen:
                    self._order_views()
        if done and gen == self._gen:
            self.status.say(" ".join([*st.data.notes, f"Every order from 0 to {EM.MAX_ORDER} is counted on "
                                      f"{st.data.title} by {EM.level_word(st.data.level)}s."]), "ok")

    # -- views ----------------------------------------------------------------------------------------------
    def _ready(self) -> bool:
        st = self.study
        return st is not None and st.has_point(self.state.order) and self._study_key == self.state.corpus_key()

    def _model(self):
        return self.study.model(self.state.order, self.state.alpha)

    def _prefix(self) -> list[str]:
        return P.typed_tokens(self.state.text, self.study.data.level)

    def _model_views(self) -> None:
        """Everything that depends on the corpus, the order and α (the counts are there)."""
        self._draw_next()
        self._draw_chain()
        self._draw_samples()
        self._order_views()

    def _order_views(self) -> None:
        st, s = self.study, self.state
        curves = st.curves(s.alpha)
        self.panes["order"].apply(P.order_view(curves, s.order))
        self.order_note.value = P.order_caption(st.data, curves)
        self.bridge.value = P.bridge_html(st.data, curves, s.order, s.alpha)

    def _draw_next(self) -> None:
        patch, table = P.next_view(self._model(), self._prefix())
        self.panes["next"].apply(patch)
        self.next_table.value = table

    def _draw_chain(self) -> None:
        patch, table = P.chain_view(self._model(), self._prefix())
        self.panes["chain"].apply(patch)
        self.chain_table.value = table

    def _draw_samples(self) -> None:
        s = self.state
        self.samples.value = P.samples_html(self._model(), self._prefix(), self.study.data.level, s.temperature,
                                            s.seed)

    def _draw_samples_now(self) -> None:
        self.gate.hold()
        if self._ready():
            with self._lock:
                self._draw_samples()
        else:
            self.jobs.urgent("views", self._views_job)

    def _views_job(self) -> None:
        if self.study is None:
            return
        with self._lock:
            gen = self._gen
        self.study.point(self.state.order)  # counts order k if it was not yet
        with self._lock:
            if gen == self._gen and self._ready():
                self._model_views()

    # -- controls -------------------------------------------------------------------------------------------
    def _order_changed(self, _change=None) -> None:
        self.gate.hold()
        s = self.state
        st = self.study
        if st is not None:
            self.panes["order"].apply(fm.order_marker_patch(st.curves(s.alpha), s.order))
        if not self._ready():
            self.status.say(f"Counting order {s.order}…")
        self.jobs.urgent("views", self._views_job)
        self.jobs.urgent("classify", self._classifier_job)

    def _alpha_changed(self, _change=None) -> None:
        self.gate.hold()
        if self._ready():
            with self._lock:
                self._draw_next()
        self.jobs.urgent("views", self._views_job)
        self.jobs.urgent("classify", self._classifier_job)

    def _text_changed(self, _change=None) -> None:
        """The next-token pane at once; the chain rule and the samples once it is drawn."""
        self.gate.hold()
        if self._ready():
            with self._lock:
                self._draw_next()
            when_drawn([self.panes["next"]], lambda: self.jobs.urgent("text", self._text_rest),
                       key=(id(self), "text"))
        else:
            self.jobs.urgent("views", self._views_job)

    def _text_rest(self) -> None:
        with self._lock:
            if self._ready():
                self._draw_chain()
                self._draw_samples()

    # -- classifier -----------------------------------------------------------------------------------------
    def _classifier_changed(self, change) -> None:
        self.gate.hold()
        s = self.state
        if change["name"] == "task" and s.classify == CLASSIFY.get(change["old"]):
            s.classify = CLASSIFY[change["new"]]  # (observed: draws again)
            return
        cs = EM._classifiers.get(s.task)
        if cs is not None and cs.has(s.order):
            with self._lock:
                self._classifier_views(contrib_only=change["name"] == "classify")
        self.jobs.urgent("classify", self._classifier_job)

    def _classifier_job(self) -> None:
        s = self.state
        EM.classifier_study(s.task).classifier(s.order)
        with self._lock:
            self._classifier_views()

    def _classifier_views(self, contrib_only: bool = False) -> None:
        s = self.state
        cs = EM.classifier_study(s.task)
        clf = cs.classifier(s.order, s.alpha)
        doc = P.typed_tokens(s.classify, cs.level)
        patch, verdict = P.classify_view(clf, doc, s.order, EM.TASKS[s.task][2])
        self.panes["classify"].apply(patch)
        self.verdict.value = verdict
        if not contrib_only:
            curves = {t: EM.classifier_study(t).curve(s.alpha) for t in EM.TASKS if t in EM._classifiers}
            self.panes["classify"].apply(P.accuracy_view(curves, s.task, s.order, EM.MAX_ORDER))
            self.acc_note.value = P.accuracy_caption(curves, s.alpha)

    def _sweep_classifiers(self) -> None:
        order = self.state.order
        for task in EM.TASKS:
            for k in sorted(range(EM.MAX_ORDER + 1), key=lambda k: abs(k - order)):
                self.jobs.background(lambda t=task, k=k: self._classifier_one(t, k))

    def _classifier_one(self, task: str, k: int) -> None:
        cs = EM.classifier_study(task)
        if cs.has(k):
            return
        cs.classifier(k)
        now = time.monotonic()
        if now - self._order_gate > 1 / ORDER_HZ or k == EM.MAX_ORDER:
            self._order_gate = now
            with self._lock:
                self._classifier_views()
