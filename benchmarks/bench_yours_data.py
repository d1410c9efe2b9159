"""The student's own data in lessons 00-02 (issue 21): how long ``yours(...)`` takes to return a
dashboard, in the kernel (no browser), for small and capped inputs.

Prints, per call: milliseconds from the call to the returned dashboard; for forecasting also one move
of the window position t; for Markov also the time until the first order is counted and drawn.
Run:  .venv/bin/python benchmarks/bench_yours_data.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from widgets.batching import yours as batching  # noqa: E402
from widgets.forecasting import yours as forecasting  # noqa: E402
from widgets.markov import yours as markov  # noqa: E402


def timed(label: str, fn):
    t0 = time.perf_counter()
    d = fn()
    print(f"{label}: {(time.perf_counter() - t0) * 1000:.0f} ms -> {type(d).__name__}")
    return d


def main() -> None:
    forecasting(np.arange(100.0) % 7).close_worker()  # imports and torch warmed up
    for n in (300, 10_000, 50_000):
        x = np.sin(np.arange(n) / 5) + np.random.default_rng(0).normal(0, 0.2, n)
        d = timed(f"forecasting yours({n:,} values)", lambda: forecasting(x))
        t0 = time.perf_counter()
        d.c["t"].value = d.state.t - 1
        print(f"  window position t moved: {(time.perf_counter() - t0) * 1000:.0f} ms")
        d.close_worker()
    g = torch.Generator().manual_seed(0)
    ids = [torch.randint(0, 50_000, (int(L),), generator=g) for L in torch.randint(1, 400, (2000,), generator=g)]
    timed("batching yours(2,000 id sequences up to 400 long)", lambda: batching(ids)).close_worker()
    timed("batching yours(256 sentences)", lambda: batching([f"sentence number {i} " * 5 for i in range(256)])
          ).close_worker()
    text = "\n".join(f"line {i} of some text about cats and dogs and mats" for i in range(5000))
    d = timed(f"markov yours({len(text):,} characters: cut to 200,000)", lambda: markov(text))
    t0 = time.perf_counter()
    while not d._ready() and time.perf_counter() - t0 < 120:
        time.sleep(0.005)
    print(f"  first order counted and drawn {(time.perf_counter() - t0) * 1000:.0f} ms later")
    d.close_worker()


if __name__ == "__main__":
    main()
