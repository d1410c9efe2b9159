"""Which engine data feeds which pane of the Markov dashboard, and its HTML panels.

Every function reads the engine (``seqviz``) and returns a figure patch or HTML; none touches a widget.

| pane / panel | shows | from |
| --- | --- | --- |
| next | next-token probabilities after the typed text, counted and smoothed | ``NGramModel.distribution`` |
| next table | the same as counts and numbers | idem |
| chain | −log₂ p of every chain-rule factor of the typed text | ``NGramModel.factors`` |
| chain table | each factor's context, counts, p, log₂ p | idem |
| order | training / held-out bits and unseen shares against order | ``OrderStudy.curves`` |
| classify | held-out accuracy against order; the typed text's log-odds shares | ``ClassifierStudy``, ``MarkovClassifier.contributions`` |
| samples | Markov-chain samples | ``NGramModel.sample`` |
| bridge | held-out bits per token, the number lesson 07's network is compared with | ``OrderStudy.curves`` |
"""

from __future__ import annotations

import html
import math

from seqviz.data import corpora
from seqviz.experiments.markov import CorpusData, level_word
from seqviz.figures import markov as fm
from seqviz.figures.patch import merge, patch
from seqviz.models.ngram import EOS, NGramModel

MAX_ROWS = 12  # rows of the next-token table
MAX_FACTORS = 40  # chain-rule factors drawn and listed (the total always covers all of them)
SAMPLE_TOKENS = {"char": 240, "word": 60}  # what one press of Sample writes, at most

CELL = "padding:1px 8px;text-align:right"
LEFT = "padding:1px 8px;text-align:left"


def esc(s) -> str:
    return html.escape(str(s))


def tok(w: str) -> str:
    return esc(fm.show_token(w))


def typed_tokens(text: str, level: str) -> list[str]:
    """The typed text as the model reads it (lower-cased, like the corpus)."""
    return corpora.tokens(text, level)


def fmt_p(p: float) -> str:
    if p != p:  # nan
        return "–"
    return "0" if p == 0 else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def fmt_lp(v: float) -> str:
    return "−∞" if v == -math.inf else f"{v:.2f}"


# -- next token ---------------------------------------------------------------------------------------------
def next_view(model: NGramModel, prefix: list[str]) -> tuple[dict, str]:
    """The next pane's patch and the table under it, for the context after ``prefix``."""
    d = model.distribution(model.context_of(prefix))
    p = fm.next_patch(d, model.vocab, model.alpha)
    rows = []
    counts, mle, sm = d["counts"], d["mle"], d["smoothed"]
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))[:MAX_ROWS]
    for i in order:
        rows.append(f"<tr><td style='{LEFT}'>{tok(model.vocab[i])}</td><td style='{CELL}'>{counts[i]:,}</td>"
                    f"<td style='{CELL}'>{fmt_p(mle[i]) if d['seen'] else '0/0'}</td>"
                    f"<td style='{CELL}'>{fmt_p(sm[i])}</td></tr>")
    a, V = model.alpha, model.V
    if not d["seen"]:
        rows = [f"<tr><td style='{LEFT}' colspan='4'>This context was never seen in training: every count is 0, "
                f"counting alone gives 0/0, and smoothing gives each of the V = {V:,} tokens "
                f"(0 + {a:g})/(0 + {a:g}·{V:,}) = {fmt_p(1 / V) if a > 0 else '0/0'}.</td></tr>"]
    head = (f"<th style='{LEFT}'>next</th><th style='{CELL}'>count</th><th style='{CELL}'>count/{d['context_count']:,}"
            f"</th><th style='{CELL}'>(count+{a:g})/({d['context_count']:,}+{a:g}·{V:,})</th>")
    note = (f"<div style='font-size:13px;color:#444'>V = {V:,}: every training token + "
            f"{esc(EOS)} (end) + &lt;unk&gt; (anything unseen). {sum(1 for c in counts if c):,} different tokens "
            f"followed this context.</div>")
    table = (f"<table class='seqviz-next' style='font-size:14px;border-collapse:collapse'><tr>{head}</tr>"
             + "".join(rows) + "</table>" + note)
    return p, table


# -- chain rule ---------------------------------------------------------------------------------------------
def chain_view(model: NGramModel, doc: list[str]) -> tuple[dict, str]:
    """The chain pane's patch and its table: every factor of ``doc`` (its end ``</s>`` included)."""
    fs = model.factors(doc)
    counted = model.with_alpha(0.0).factors(doc)
    shown, shown_c = fs[:MAX_FACTORS], counted[:MAX_FACTORS]
    p = fm.chain_patch(shown, shown_c, model.alpha)
    rows = []
    for i, (f, g) in enumerate(zip(shown, shown_c)):
        ctx = " ".join(fm.show_token(w) for w in f.context) or "–"
        bad = " style='color:#a40000;font-weight:600'" if g.p == 0 else ""
        rows.append(f"<tr{bad}><td style='{CELL}'>{i + 1}</td><td style='{LEFT}'>p({tok(f.token)} | {esc(ctx)})</td>"
                    f"<td style='{CELL}'>{f.count:,}/{f.context_count:,}</td><td style='{CELL}'>{fmt_lp(g.log2p)}</td>"
                    f"<td style='{CELL}'>{fmt_lp(f.log2p)}</td></tr>")
    total = sum(f.log2p for f in fs)
    total_c = sum(g.log2p for g in counted)
    more = (f"<div style='font-size:13px'>… {len(fs) - MAX_FACTORS} more factors (in the totals)</div>"
            if len(fs) > MAX_FACTORS else "")
    head = (f"<th style='{CELL}'>t</th><th style='{LEFT}'>factor</th><th style='{CELL}'>counts</th>"
            f"<th style='{CELL}'>log₂ p counted</th><th style='{CELL}'>log₂ p, α = {model.alpha:g}</th>")
    foot = (f"<tr style='font-weight:600'><td></td><td style='{LEFT}'>sum = log₂ p(text)</td><td></td>"
            f"<td style='{CELL}'>{fmt_lp(total_c)}</td><td style='{CELL}'>{fmt_lp(total)}</td></tr>")
    table = (f"<table class='seqviz-chain' style='font-size:14px;border-collapse:collapse'><tr>{head}</tr>"
             + "".join(rows) + foot + "</table>" + more)
    return p, table


# -- samples ------------------------------------------------------------------------------------------------
def samples_html(model: NGramModel, prefix: list[str], level: str, temperature: float, seed: int) -> str:
    """Markov-chain samples: the typed text continued, then new documents from an empty context, until the
    budget of tokens is written; each line one document."""
    budget = SAMPLE_TOKENS[level]
    join = "" if level == "char" else " "
    lines, n, first = [], 0, True
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    while n < budget and len(lines) < 12:
        start = prefix if first else []
        out = model.sample(start, max_tokens=budget - n, temperature=temperature, generator=gen)
        n += len(out) + 1
        text = esc(join.join(out))
        lines.append((f"<b>{esc(join.join(prefix))}</b>" + (join if prefix and level == "word" else "") + text)
                     if first else text)
        first = False
    t = "argmax (T = 0)" if temperature <= 1e-6 else f"T = {temperature:g}"
    return (f"<div class='seqviz-samples' style='font-family:DejaVu Sans Mono,monospace;font-size:15px;"
            f"white-space:pre-wrap;border:1px solid #ccc;border-radius:6px;padding:6px 10px;background:#fcfcfc;"
            f"max-height:220px;overflow:auto'>" + "<br>".join(lines or ["(empty)"]) + "</div>"
            f"<div style='font-size:13px;color:#444'>order {model.order}, α = {model.alpha:g}, {t}, seed {seed}: "
            "the typed text (bold) continued, then new documents, one a line. &lt;unk&gt; is never drawn"
            + ("; after a context never seen, α = 0 has no estimate, so that token is drawn uniformly"
               if model.alpha == 0 else "") + ".</div>")


# -- curves and bridge ----------------------------------------------------------------------------------------
def order_view(curves: dict, order: int) -> dict:
    return fm.order_patch(curves, order)


def empty_order_view(order: int) -> dict:
    return fm.order_patch({"order": [], "train": [], "held": [], "unseen_ngram": [], "unseen_context": []}, order)


def bridge_html(data: CorpusData, curves: dict, order: int, alpha: float) -> str:
    lw = level_word(data.level)
    if order not in curves["order"]:
        return f"<div class='seqviz-bridge'>Counting order {order}…</div>"
    i = curves["order"].index(order)
    held, train = curves["held"][i], curves["train"][i]
    if not data.held:
        num = "no held-out text (paste two or more lines)"
    elif math.isinf(held):
        num = ("<b>∞</b> bits: with α = 0 a held-out n-gram never counted has probability 0 "
               f"({100 * curves['unseen_ngram'][i]:.1f}% of them here)")
    else:
        num = f"<b>{held:.3f}</b> bits per {lw} (perplexity {2 ** held:,.1f})"
    tr = "∞" if math.isinf(train) else f"{train:.3f}"
    cap = (f" Counted on the first {data.n_train_tokens:,} of {data.n_train_all:,} training {lw}s; lesson 07 may "
           "count all of them (<code>markov_bits</code>), which can read a little lower." if data.capped else "")
    return (f"<div class='seqviz-bridge' style='font-size:15px'><b>The number to beat.</b> Held-out: {num}; "
            f"training text: {tr}. Order {order}, α = {alpha:g}, {esc(data.title)} by {lw}s, "
            f"{len(data.train):,} training and {len(data.held):,} held-out documents (90/10 by document, seed 0). "
            + ("Lesson 07's character-level network reports held-out bits per character on this same split, so "
               f"the two compare directly (<code>seqviz.models.ngram.markov_bits(train, held, {order}, {alpha:g})"
               "</code>)." if data.level == "char" else
               "Lesson 07's network reads characters: set Tokens to characters for the number it is compared with.")
            + f"{cap}</div>")


def order_caption(data: CorpusData, curves: dict) -> str:
    """One line under the order pane: where held-out bits are lowest, and the overfitting turn."""
    held = [(h, k) for k, h in zip(curves["order"], curves["held"]) if math.isfinite(h)]
    if len(held) < 2:
        return ""
    best, k = min(held)
    last = curves["order"][-1]
    turn = (f"it turns back up after order {k}: longer contexts are mostly unseen in training, so their "
            "probabilities rest on few counts and on smoothing" if k < last else
            "it is still falling at the highest order counted")
    train = [(h, j) for j, h in zip(curves["order"], curves["train"]) if math.isfinite(h)]
    t_best, t_k = min(train)
    falls = all(b <= a + 1e-12 for (a, _), (b, _) in zip(train, train[1:]))
    tr = ("Training bits only fall with order: the model memorises its training text." if falls else
          f"Training bits are lowest at order {t_k} and rise after it too: the smoothing's pseudo-counts (α for "
          "each of V tokens) outweigh a rare context's few real counts; a smaller α lets it memorise.")
    return (f"<div class='seqviz-order-note' style='font-size:14px'>Held-out bits are lowest at order <b>{k}</b> "
            f"({best:.3f}); {turn}. {tr}</div>")


# -- classifier ---------------------------------------------------------------------------------------------
def accuracy_view(curves: dict, task: str, order: int, max_order: int) -> dict:
    return fm.accuracy_patch(curves, task, order, max_order)


def classify_view(clf, doc: list[str], order: int, classes: tuple[str, str]) -> tuple[dict, str]:
    """The typed text's log-odds shares toward ``classes[0]`` against ``classes[1]``, and the verdict."""
    a, b = classes
    prior, parts = clf.contributions(doc, a, b)
    total = prior + sum(v for _, v in parts)
    p = fm.contrib_patch(prior, parts[:MAX_FACTORS], a, b)
    if math.isnan(total):
        verdict = "undecided: both classes give the text probability 0 (α = 0)"
    else:
        verdict = (f"<b>{esc(a if total > 0 else b)}</b> (log₂-odds "
                   + (f"{total:+.2f} bits: " if math.isfinite(total) else
                      f"{'+' if total > 0 else '−'}∞: the other class gives the text probability 0; ")
                   + f"p({esc(a)} | text) = {1 / (1 + 2 ** -total) if abs(total) < 1000 else float(total > 0):.3f})")
    fa, fb = clf.models[a].factors(doc), clf.models[b].factors(doc)
    blind = sum(1 for x, y in zip(fa, fb) if x.context_count == 0 and y.context_count == 0)
    if blind and order > 0 and clf.alpha > 0:
        verdict += (f". {blind} of {len(fa)} factors have a context neither class ever saw: both give 1/V there, "
                    "so they add 0")
    name = "naive Bayes: every token independent given the class" if order == 0 else f"order {order}"
    return p, (f"<div class='seqviz-verdict' style='font-size:15px'>Order-{order} classifier ({name}): {verdict}. "
               "Bars: the prior, then each token's log₂ p(token | context, class) difference; they add up.</div>")


def accuracy_caption(curves: dict, alpha: float) -> str:
    parts = []
    for task, c in curves.items():
        if not c["order"]:
            continue
        acc = c["accuracy"]
        best = max(range(len(acc)), key=lambda i: acc[i])
        o0 = acc[c["order"].index(0)] if 0 in c["order"] else None
        parts.append(f"{fm.TASK_NAMES[task]}: naive Bayes (order 0) {100 * o0:.1f}%" if o0 is not None else
                     f"{fm.TASK_NAMES[task]}:")
        parts[-1] += (f", best {100 * acc[best]:.1f}% at order {c['order'][best]}, majority class "
                      f"{100 * c['majority']:.1f}% ({c['n_held']:,} held-out documents: one is "
                      f"{100 / c['n_held']:.2g} points)")
    zero = " With α = 0 most held-out texts are impossible under both classes, so accuracy collapses." if alpha == 0 \
        else ""
    return ("<div class='seqviz-acc' style='font-size:14px'>Measured on the held-out 10% (α = "
            f"{alpha:g}): " + "; ".join(parts) + "." + zero + "</div>") if parts else ""
