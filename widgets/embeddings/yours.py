"""Lesson 08 on the student's own vectors or corpus: ``yours(vectors=None, vocab=None, corpus=None)`` (JupyterLab).

- ``yours(corpus=...)`` (a str, a list of sentences or a list of token lists): the lesson's dashboard, skip-gram
  trained live on that corpus (its pasted-text path: one sentence a line, the first 200,000 characters, words seen
  at least twice; a cut is said on the status line);
- ``yours(vectors, vocab)``: the student's embedding matrix (a torch tensor or numpy array (V, D), an
  ``nn.Embedding``, or gensim's ``KeyedVectors``, whose ``index_to_key`` is the vocabulary when ``vocab`` is not
  given) with its V words: the words on two PCA axes, the nearest neighbours of a typed word (cosine) and
  analogies a − b + c with and without the inputs, computed by lesson 08's own code (``Space``) on those vectors.

Checked first (``seqviz.yours.text_models.as_vectors``): the shapes, NaN rows, duplicate words, too few words or
dimensions; a typed word the vectors lack gets a sentence and the previous answer stays.
"""

from __future__ import annotations

import html
import re

import ipywidgets as ipw
import traitlets as tl

from seqviz.data import corpora
from seqviz.experiments import embeddings as E
from seqviz.figures.embeddings import build_embedding_figures
from seqviz.yours import text_models as TM
from seqviz.yours.fit import DoesNotFit
from widgets.embeddings import panels as P
from widgets.embeddings.state import EmbeddingsState
from widgets.embeddings.view import EmbeddingsDashboard
from widgets.kit import CheckedState, LiveDashboard, PlotPane, bind_all
from widgets.kit.yours import your_model_entry

MAX_SHOWN = 40  # words on the PCA plot at once (the first 40 of the vocabulary unless typed)
MAX_K = 20  # most neighbours listed and coloured
FONT = "font-size:15px"


def split_words(text: str) -> list[str]:
    """Words typed in a box: separated by spaces or commas, each once, in order."""
    return list(dict.fromkeys(w for w in re.split(r"[\s,]+", text or "") if w))


class YourVectorsState(CheckedState):
    TEXTS = {"words": 2000, "word": 60, "a": 60, "b": 60, "c": 60}
    CHOICES = {"exclude_inputs": (True, False)}
    RANGES = {"k": lambda s: (1, max(1, min(MAX_K, int(s.n_words) - 1)), True)}
    LABELS = {"words": "Words shown", "word": "Word", "a": "a", "b": "b", "c": "c",
              "exclude_inputs": "exclude inputs", "k": "Neighbours k"}
    n_words = tl.Int(MAX_K + 1)  # V (the k slider's range); set first
    k = tl.Any(5)
    words = tl.Any("")
    word = tl.Any("")
    a = tl.Any("")
    b = tl.Any("")
    c = tl.Any("")
    exclude_inputs = tl.Any(True)


def _defaults(words: list[str]) -> dict:
    """The first words shown, and an analogy the words allow (king − man + woman when they are there)."""
    low = {w.lower(): w for w in words}
    abc = [low[w] for w in ("king", "man", "woman") if w in low]
    abc = abc if len(abc) == 3 else words[:3]
    return {"n_words": len(words), "k": min(5, len(words) - 1), "words": " ".join(words[:MAX_SHOWN]),
            "word": words[0], "a": abc[0], "b": abc[1], "c": abc[2]}


class YourVectorsView(LiveDashboard):
    """The student's word vectors: the space on PCA axes, neighbours, analogies (nothing trains here)."""

    kind = "embeddings-yours"

    def __init__(self, space: E.Space, source: str):
        super().__init__(YourVectorsState(**_defaults(space.vocab.words)))
        self.space, self.source = space, source
        self.proj = E.Projection()
        V, D = space.U.shape
        self._shown = {"word": self.state.word, "abc": (self.state.a, self.state.b, self.state.c)}
        self.c = {
            "words": ipw.Text(description="Words shown", continuous_update=False, layout=ipw.Layout(width="620px"),
                              style={"description_width": "100px"}),
            "word": ipw.Text(description="Word", continuous_update=False, layout=ipw.Layout(width="260px"),
                             style={"description_width": "50px"}),
            "k": ipw.IntSlider(min=1, max=max(1, min(MAX_K, V - 1)), description="Neighbours k",
                               continuous_update=False, layout=ipw.Layout(width="340px"),
                               style={"description_width": "100px"}),
            "a": ipw.Text(description="a", continuous_update=False, layout=ipw.Layout(width="170px"),
                          style={"description_width": "60px"}),
            "b": ipw.Text(description="− b", continuous_update=False, layout=ipw.Layout(width="170px"),
                          style={"description_width": "60px"}),
            "c": ipw.Text(description="+ c", continuous_update=False, layout=ipw.Layout(width="170px"),
                          style={"description_width": "60px"}),
            "exclude_inputs": ipw.Checkbox(description="Leave the inputs out of the answers", indent=False,
                                           layout=ipw.Layout(width="340px")),
        }
        self.pane = PlotPane(build_embedding_figures()["space"])
        self.panes = {"space": self.pane}
        self.info, self.neigh, self.analogy = ipw.HTML(), ipw.HTML(), ipw.HTML()
        bind_all(self.c, self.state, self.status)
        g, s = self.guarded, self.state
        s.observe(g("show the words")(lambda _: self._hold(lambda: self.draw_space(refit=True, say=True))), "words")
        s.observe(g("find the neighbours")(lambda _: self._hold(self.word_changed)), ["word", "k"])
        s.observe(g("solve the analogy")(lambda _: self._hold(self.draw_analogy)), ["a", "b", "c", "exclude_inputs"])
        zeros = TM.zero_rows(space)
        self.info.value = (f"<div style='{FONT};color:#333'>{html.escape(source)}: V = {V:,} words, D = {D} "
                           f"dimensions; cosine similarity on these vectors as they are (no training here)."
                           + (f" {len(zeros)} all-zero rows ({html.escape(', '.join(zeros[:3]))}): cosine 0 with "
                              "every word." if zeros else "") + "</div>")
        self.page(ipw.HTML("<h2 style='margin:4px 0'>Your word vectors</h2>"), self.status, self.info,
                  self.c["words"],
                  ipw.HBox([ipw.VBox([ipw.HBox([self.c["word"], self.c["k"]],
                                               layout=ipw.Layout(flex_flow="row wrap")), self.pane]),
                            ipw.VBox([self.neigh], layout=ipw.Layout(width="400px", padding="40px 0 0 10px"))],
                           layout=ipw.Layout(flex_flow="row wrap")),
                  ipw.HTML("<h3 style='margin:14px 0 4px 0'>Analogies</h3>"),
                  ipw.HBox([self.c["a"], self.c["b"], self.c["c"]], layout=ipw.Layout(flex_flow="row wrap")),
                  self.c["exclude_inputs"], self.analogy)
        self.draw_space(refit=True, say=True)
        self.word_changed()
        self.draw_analogy()
        self.status.say(f"Ready: {V:,} words of {D} dimensions. Type a word, or a − b + c.", "info")

    def _hold(self, fn) -> None:
        self.gate.hold()
        fn()

    def shown_words(self) -> tuple[list[str], list[str]]:
        """(the typed words the vectors have, in the vocabulary's spelling; those they lack)."""
        got, missing = [], []
        for w in split_words(self.state.words)[: 4 * MAX_SHOWN]:
            hit = TM.find_word(self.space, w)
            (got if hit is not None else missing).append(hit if hit is not None else w)
        return list(dict.fromkeys(got))[:MAX_SHOWN], missing

    def draw_space(self, refit: bool = False, say: bool = False) -> None:
        words, missing = self.shown_words()
        if len(words) < 2:
            if say:
                self.status.correct("words", "Give at least two of your words to see them on the PCA axes"
                                    + (f" (not among your words: {', '.join(missing[:6])})" if missing else "")
                                    + "; the previous words stay.", None)
            return
        if say:
            if missing:
                self.status.correct("words", f"Not among your words, so not shown: {', '.join(missing[:8])}"
                                    f"{'…' if len(missing) > 8 else ''}.", None)
            else:
                self.status.clear("words")
        self._words = words
        self._plot(refit)

    def _plot(self, refit: bool = False) -> None:
        """The shown words on the PCA axes; the Word's k nearest neighbours among them coloured."""
        words, k = self._words, int(self.state.k)
        near = {w for w, _ in self.space.neighbours(self._shown["word"], k)}
        groups = [1 if w in near else 0 for w in words]
        title = f"Your words on two PCA axes; orange-red: the {k} nearest to “{self._shown['word'][:16]}”"
        self.pane.apply(P.space_view(self.space, self.proj, words, groups, self._shown["word"], refit, title))

    def word_changed(self) -> None:
        typed = str(self.state.word).strip()
        hit = TM.find_word(self.space, typed)
        if hit is None:
            self.status.correct("word", TM.unknown_word(self.space, typed) + f" Still showing “{self._shown['word']}”.",
                                typed)
        else:
            self.status.clear("word")
            self._shown["word"] = hit
        self.draw_neighbours()
        if getattr(self, "_words", None):
            self._plot()

    def draw_neighbours(self) -> None:
        w, k = self._shown["word"], int(self.state.k)
        got = self.space.neighbours(w, k)
        rows = "".join(f"<tr><td style='padding:1px 8px'>{i + 1}</td><td style='padding:1px 8px'>{html.escape(n)}</td>"
                       f"<td style='padding:1px 8px'>{c:.3f}</td></tr>" for i, (n, c) in enumerate(got))
        self.neigh.value = (f"<div class='seqviz-neighbours'><div style='{FONT}'><b>Nearest words to "
                            f"“{html.escape(w)}”</b> (cosine, {len(got)} of your {len(self.space.vocab) - 1:,} other "
                            f"words)</div><table style='{FONT};border-collapse:collapse'>{rows}</table></div>")

    def draw_analogy(self) -> None:
        s = self.state
        typed = [str(s.a).strip(), str(s.b).strip(), str(s.c).strip()]
        hits = [TM.find_word(self.space, w) for w in typed]
        bad = [w for w, h in zip(typed, hits) if h is None]
        if bad:
            self.status.correct("analogy", TM.unknown_word(self.space, bad[0]) + " The previous analogy is shown.",
                                None)
        else:
            self.status.clear("analogy")
            self._shown["abc"] = tuple(hits)
        a, b, c = self._shown["abc"]
        note = ""
        if len(self.space.vocab) < TM.ANALOGY_WORDS:
            note = (f"<div style='{FONT};color:#8a4b00'>With {len(self.space.vocab)} words, nothing is left to answer "
                    "once the three inputs are left out: untick the box to see them ranked.</div>")
        self.analogy.value = P.analogy_html(self.space, a, b, c, bool(s.exclude_inputs)) + note


def _corpus_dashboard(corpus) -> EmbeddingsDashboard:
    text = TM.corpus_text(corpus)
    n, cap = len(text), corpora.MAX_USER_CHARS
    text = text[:cap]
    try:
        c = E.load_corpus("pasted", text)  # the same checks the dashboard makes: too small a corpus is one sentence
    except E.CorpusError as e:
        said = e.args[0].replace("The pasted text gives", "it gives")
        raise DoesNotFit(f"Your corpus cannot train word vectors: {said}") from None
    state = EmbeddingsState(corpus="pasted", paste=text)
    ix, words = c.vocab.index, c.vocab.words
    if state.word not in ix:  # the lesson's defaults (city; his - he + she) may not be in this corpus
        state.word = words[min(50, len(words) - 1)]
    if not all(w in ix for w in (state.a, state.b, state.c)):
        state.a, state.b, state.c = words[:3]
    dash = EmbeddingsDashboard(state)
    if n > cap:
        dash.status.correct("yours-corpus", f"Your corpus has {n:,} characters; word2vec trains on the first "
                            f"{cap:,} (the cap on pasted text).", None)
    return dash


@your_model_entry
def yours(vectors=None, vocab=None, corpus=None):
    """Lesson 08's views on your own word vectors (``vectors`` (V, D) with ``vocab``, V words), or the lesson's
    dashboard trained on your ``corpus`` (module docstring)."""
    if vectors is None:
        if corpus is None:
            raise DoesNotFit("Pass vectors= with vocab= (your word vectors and their words), or corpus= (your text "
                             "to train word2vec on).")
        return _corpus_dashboard(corpus)
    space = TM.vector_space(vectors, vocab)
    kind = ("gensim KeyedVectors" if hasattr(vectors, "index_to_key") else
            "your nn.Embedding" if hasattr(vectors, "num_embeddings") else "your vectors")
    return YourVectorsView(space, kind[0].upper() + kind[1:])


__all__ = ["YourVectorsView", "YourVectorsState", "yours", "split_words"]
