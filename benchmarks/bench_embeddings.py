"""Lesson 08's training, headless: how fast skip-gram's neighbours become sensible on one CPU thread
(the issue's "within 60 s of Train"), as the share of gensim's 10 nearest neighbours that ours share
(the vendored reference, Brown, default settings), with the neighbours of a few common words; and the
bidirectional LM's loss over its first minute. Prints numbers and the load; asserts nothing.

Run:  .venv/bin/python benchmarks/bench_embeddings.py [--seconds 60] [--lm-seconds 60]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.experiments import embeddings as E  # noqa: E402

WORDS = ("two", "city", "war", "said", "good", "monday", "she")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--lm-seconds", type=float, default=60)
    a = ap.parse_args()
    configure_threads()
    dev = pick_device()
    print(f"device: {dev.label}; load average before: {os.getloadavg()[0]:.2f}, {os.getloadavg()[1]:.2f}")
    t0 = time.perf_counter()
    corpus = E.load_corpus("brown")
    print(f"corpus load: {time.perf_counter() - t0:.2f} s; {corpus.describe()}")
    key = "cuda" if dev.device.type == "cuda" else "cpu"
    cfg = E.PRESETS[key]
    ref = E.load_reference()
    run = E.build_word2vec(corpus, cfg, dev.device)
    marks = [m for m in (5, 10, 20, 30, 45, 60, 90, 120) if m <= a.seconds] or [a.seconds]
    t0 = time.perf_counter()
    i = 0
    print(f"preset {key}: {cfg}")
    print("wall s | steps | loss (mean of last 50) | overlap with gensim at k=10 | analogies right (of 98)")
    while i < len(marks):
        run.step()
        el = time.perf_counter() - t0
        if el >= marks[i]:
            sp = E.Space.of(run.models["w2v"], corpus.vocab)
            right, asked, _ = sp.analogy_accuracy(E.load_analogies())
            loss = run.history["w2v"].running_mean("loss", 50)[-1]
            print(f"{el:6.1f} | {run.steps:6d} | {loss:.3f} | {sp.overlap(ref):.3f} | {right}/{asked}")
            i += 1
    sp = E.Space.of(run.models["w2v"], corpus.vocab)
    for w in WORDS:
        print(f"  {w}: {', '.join(x for x, _ in sp.neighbours(w, 8))}")
    print(f"gensim reference ({ref.get('epochs')} epochs, {ref.get('train_seconds')} s): analogies "
          f"{ref.get('analogy_right')}/{ref.get('analogy_asked')}")
    lm = E.build_bilm(corpus, E.BILM_PRESETS[key], dev.device)
    t0 = time.perf_counter()
    nxt = 10.0
    while time.perf_counter() - t0 < a.lm_seconds:
        lm.step()
        if time.perf_counter() - t0 >= nxt:
            print(f"BiLM {nxt:.0f} s: step {lm.steps}, loss (mean of last 20) "
                  f"{lm.history['bilm'].running_mean('loss', 20)[-1]:.3f} nats")
            nxt += 10
    ctx = E.contextual(lm.models["bilm"], lm.lm_vocab, "bank", "he sat on the bank of the river".split(),
                       "she put the money in the bank".split())
    print("bank, river vs money sentence, cosine per layer:", ", ".join(f"{c:.3f}" for c in ctx["cosine"]))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
