"""Lesson 07, headless: how fast a character-level model turns name-like, the held-out bits per character it
reaches against lesson 02's Markov model on the same split, and teacher forcing vs scheduled sampling.

Run:  .venv/bin/python benchmarks/bench_charlm.py [--kinds lstm,gru,transformer] [--seconds 60] [--preset cpu]
      [--compare-seconds 60] [--corpus names]

"Name-like" is measured, not judged by eye: every 5 s of training, 200 names are sampled at temperature 1 and
scored by lesson 02's best Markov model (fitted on the training names) in bits per character; the real held-out
names score ``ref`` under the same judge. We report the first time the samples' score is within 10% of ``ref``,
and the share of samples that are real names of the training set (copies) or unseen. The clock is training wall
time in this process, with one thread (as in a kernel). Nothing is asserted: it prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.experiments.charlm import PRESETS, build_charlm_run, held_bits, load_corpus, markov_table  # noqa: E402
from seqviz.models.charlm import sample  # noqa: E402
from seqviz.models.ngram import NGramModel  # noqa: E402


def judge_bits(judge, docs):
    return judge.bits_per_token(docs)


def samples(model, corpus, n=200, seed=0):
    outs, _ = sample(model, [], 30, 1.0, torch.Generator().manual_seed(seed), n=n)
    return [[corpus.vocab.itos[i] for i in o if i != 0] for o in outs]


def race(corpus, kind, preset, seconds, device, every=5.0):
    markov = markov_table(corpus)
    best = min(markov, key=markov.get)
    judge = NGramModel(best).fit(corpus.train)
    ref = judge.bits_per_token(corpus.held)
    train_set = {"".join(d) for d in corpus.train}
    run = build_charlm_run(corpus, kind, preset, device)
    m = run.models["tf"]
    t_train, next_check, first = 0.0, 0.0, None
    print(f"\n{kind} ({preset.name} preset, H={preset.hidden}) on {corpus.title}, {device}: Markov order {best} "
          f"held-out {markov[best]:.3f} bits/char; the judge scores real held-out names {ref:.3f}")
    while t_train < seconds + 1e-9:
        if t_train >= next_check:
            s = samples(m, corpus)
            sb = judge.bits_per_token(s)
            held = held_bits(m, corpus)
            copies = sum("".join(x) in train_set for x in s) / len(s)
            names = ", ".join("".join(x) for x in s[:6])
            if first is None and sb <= 1.1 * ref:
                first = (t_train, run.steps)
            print(f"  {t_train:5.1f} s  step {run.steps:6d}  held-out {held:.3f} bits/char  samples under the judge "
                  f"{sb:.3f}  copies of training names {copies:.0%}  e.g. {names}")
            next_check += every
        t0 = time.perf_counter()
        run.step()
        t_train += time.perf_counter() - t0
    print(f"  name-like (samples within 10% of real names under the judge): "
          f"{'at %.1f s, step %d' % first if first else 'not within the run'}; final held-out "
          f"{held_bits(m, corpus):.3f} vs Markov {markov[best]:.3f}")


def compare(corpus, kind, preset, seconds, device):
    from seqviz.experiments.charlm import free_running_bits

    run = build_charlm_run(corpus, kind, preset, device, compare=True, evaluate=False)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run.step()
    print(f"\nteacher forcing vs scheduled sampling ({kind}, {run.steps} steps in {seconds:.0f} s, both models; "
          f"scheduled-sampling probability at the end {run.history['ss'].last('p_own'):.2f}):")
    for name, label in (("tf", "teacher forcing   "), ("ss", "scheduled sampling")):
        m = run.models[name]
        free = [free_running_bits(m, corpus, seed=s) for s in range(3)]
        print(f"  {label}: held-out teacher-forced {held_bits(m, corpus):.3f} bits/char, free-running "
              f"{sum(free) / 3:.3f} (mean of seeds 0-2: {', '.join(f'{f:.3f}' for f in free)})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="lstm,gru,transformer")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--compare-seconds", type=float, default=60)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--corpus", default="names")
    ap.add_argument("--hidden", type=int, default=None)
    a = ap.parse_args()
    configure_threads()
    info = pick_device()
    preset = PRESETS[a.preset or ("gpu" if info.device.type == "cuda" else "cpu")]
    if a.hidden:
        from dataclasses import replace
        preset = replace(preset, hidden=a.hidden)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} "
          f"cores; computing on {info.label}")
    corpus = load_corpus(a.corpus)
    for kind in a.kinds.split(","):
        race(corpus, kind, preset, a.seconds, info.device)
    if a.compare_seconds > 0:
        compare(corpus, "lstm", preset, a.compare_seconds, info.device)
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
