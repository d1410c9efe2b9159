"""Lesson 02 (Markov models): what counting costs, headless, and every control in the browser.

Run:  .venv/bin/python benchmarks/bench_markov.py [--controls] [--n 4]

1. Counting, per corpus at its token level: seconds to load, tokenise and split; then, per order 0..7, seconds to
   count (``NGramModel.fit``) and to score the training and held-out text (``count_pairs``, all any alpha needs),
   and the distinct contexts; and how long redrawing every curve for a new alpha takes (arithmetic on kept counts).
2. ``--controls``: ``bench_controls.py`` on lesson 02 (its list of dashboards does not hold lesson 02, so this
   script adds it), idle only (the lesson has nothing that trains: counting runs in the background).

Timings are noisy on a shared machine: the load average is printed with them. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def counting() -> None:
    from seqviz.data.corpora import CORPORA
    from seqviz.experiments import markov as EM

    print(f"counting: {time.strftime('%Y-%m-%d %H:%M')}, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}; training text capped at {EM.TRAIN_CAP:,} tokens")
    for key, info in CORPORA.items():
        t0 = time.perf_counter()
        st = EM.OrderStudy(EM.make_corpus(key, info.level))
        load = time.perf_counter() - t0
        d = st.data
        cells = []
        for k in range(EM.MAX_ORDER + 1):
            t0 = time.perf_counter()
            st.model(k)
            fit = time.perf_counter() - t0
            t0 = time.perf_counter()
            p = st.point(k)
            score = time.perf_counter() - t0
            cells.append(f"k={k}: {fit:.2f}+{score:.2f} s ({p['n_contexts']:,} ctx)")
        t0 = time.perf_counter()
        st.curves(0.1)
        redraw = time.perf_counter() - t0
        print(f"- {key} by {info.level}s: {d.n_train_tokens:,} of {d.n_train_all:,} training tokens counted, "
              f"{sum(len(x) for x in d.held):,} held out; load+split {load:.2f} s; count+score " + "; ".join(cells)
              + f"; all 8 curves for a new alpha {1000 * redraw:.1f} ms")
    for task in EM.TASKS:
        t0 = time.perf_counter()
        cs = EM.ClassifierStudy(task)
        for k in range(EM.MAX_ORDER + 1):
            cs.classifier(k)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        cs.curve(0.1)
        print(f"- classifier {task}: load + count orders 0..7 {fit:.2f} s; accuracy at a new alpha, 8 orders "
              f"{1000 * (time.perf_counter() - t0):.1f} ms")


def controls(n: int) -> None:
    import bench_controls as B

    if "02_markov_models.ipynb" not in B.DASHBOARDS:
        B.DASHBOARDS.append("02_markov_models.ipynb")
    sys.argv = [sys.argv[0], "--only", "02_", "--n", str(n), "--phases", "idle"]
    B.main()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--controls", action="store_true", help="also every control in the browser")
    ap.add_argument("--n", type=int, default=4)
    a = ap.parse_args()
    counting()
    if a.controls:
        controls(a.n)
