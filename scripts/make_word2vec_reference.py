"""Train gensim's Word2Vec on the Brown corpus with the embeddings dashboard's default settings and
write the small reference the dashboard shows beside its own model (seqviz/data/embeddings_reference.json):
the 10 nearest neighbours of the words it compares (PROBE_WORDS and the shipped word sets), gensim's
accuracy on the shipped analogy set, gensim's version and the settings.

gensim is a test/reference dependency only: the dashboard reads the JSON, never gensim.

Run:  .venv/bin/python scripts/make_word2vec_reference.py   (about a minute on one core)
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gensim  # noqa: E402
from gensim.models import Word2Vec  # noqa: E402

from seqviz.experiments import embeddings as E  # noqa: E402

EPOCHS = 5  # gensim's default


def train(corpus, cfg, epochs=EPOCHS, seed=0):
    return Word2Vec(corpus.sentences, vector_size=cfg.dim, window=cfg.window, negative=cfg.negatives,
                    sample=cfg.sample, min_count=corpus.min_count, sg=1, hs=0, epochs=epochs, seed=seed,
                    workers=1, max_vocab_size=None)


def analogy_file(path_out):
    with open(os.path.join(E.DATA, "analogies.txt"), encoding="utf-8") as f, open(path_out, "w") as g:
        g.writelines(ln for ln in f if not ln.startswith("#"))


def main():
    corpus = E.load_corpus("brown")
    cfg = E.PRESETS["cpu"]
    t0 = time.time()
    m = train(corpus, cfg)
    secs = time.time() - t0
    words = sorted(set(E.PROBE_WORDS) | {w for s in E.WORD_SETS.values() for w in s.split()})
    neighbours = {w: [x for x, _ in m.wv.most_similar(w, topn=10)] for w in words if w in m.wv.key_to_index}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "q.txt")
        analogy_file(p)
        score, sections = m.wv.evaluate_word_analogies(p, case_insensitive=False)
    total = next(s for s in sections if s["section"] == "Total accuracy")
    ref = {"about": "gensim Word2Vec (skip-gram, negative sampling) trained by scripts/make_word2vec_reference.py "
                    "on the dashboard's corpus with its default settings",
           "gensim": gensim.__version__, "corpus": "brown", "epochs": EPOCHS, "train_seconds": round(secs, 1),
           "settings": {"dim": cfg.dim, "window": cfg.window, "negatives": cfg.negatives, "sample": cfg.sample,
                        "min_count": corpus.min_count, "sg": 1, "seed": 0, "workers": 1},
           "vocabulary": len(m.wv), "analogy_accuracy": round(float(score), 4),
           "analogy_right": len(total["correct"]), "analogy_asked": len(total["correct"]) + len(total["incorrect"]),
           "neighbours": neighbours}
    with open(os.path.join(E.DATA, "embeddings_reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=0, sort_keys=True)
    print(f"gensim {gensim.__version__}: {secs:.1f} s, vocabulary {len(m.wv)}, analogies {score:.3f} "
          f"({ref['analogy_right']}/{ref['analogy_asked']})")


if __name__ == "__main__":
    main()
