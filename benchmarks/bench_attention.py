"""Benchmark of the attention dashboard (issue 5).

Prints: time from pressing Train (part 1, default preset, both encoder-decoders side by
side, as in the dashboard) to 90% alignment accuracy; first render (cold kernel);
control-to-plot latency in the browser, idle and while training; refresh rate while
training; kernel memory.
Run: make bench   (or .venv/bin/python benchmarks/bench_attention.py)
"""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_browser import report  # noqa: E402
from seqviz.devices import pick_device  # noqa: E402
from seqviz.probes.attention import alignment_accuracy  # noqa: E402



def time_to_alignment(limit_s: float = 90.0):
    """Seconds from Train to 90% alignment accuracy in the dashboard object (no browser):
    (a) the mean over the last 20 training batches, as the progress line shows it;
    (b) greedy decoding of held-out sources of every training length (32 each), checked every ~2 s."""
    from widgets.attention import dashboard

    d = dashboard()
    part = d.part1
    held = [part.task.sample(32, torch.Generator().manual_seed(1000 + L), length=L) for L in range(4, 13)]
    d.buttons["part1"]["train"].click()
    t0 = time.perf_counter()
    first = {"batches": None, "held-out": None}
    last_eval = 0.0
    while time.perf_counter() - t0 < limit_s and None in first.values():
        time.sleep(0.1)
        now = time.perf_counter() - t0
        al = part.run.history["attention"].metrics.get("alignment", [])
        if first["batches"] is None and len(al) >= 20 and np.mean(al[-20:]) >= 0.9:
            first["batches"] = (now, part.run.steps)
        if first["held-out"] is None and now - last_eval >= 2.0:
            last_eval = now
            with part.run.lock, torch.no_grad():
                m = part.run.models["attention"]
                acc = np.mean([alignment_accuracy(m.run(p.src, n_out=p.tgt.shape[1]).weights, p.align) for p in held])
            if acc >= 0.9:
                first["held-out"] = (now, part.run.steps)
    d.buttons["part1"]["pause"].click()
    assert not [t for t in threading.enumerate() if t.name.startswith("seqviz-attention")]
    for k, v in first.items():
        print(f"  90% alignment accuracy ({k}): " + (f"{v[0]:.1f} s after Train, step {v[1]}" if v else
                                                     f"not reached in {limit_s:.0f} s"))
    h = part.run.history["attention"]
    print(f"  training speed with the dashboard refreshing: {part.run.steps / h.seconds[-1] / 2:.0f} steps/s of "
          f"compute per model ({part.run.steps} steps of both models in {time.perf_counter() - t0:.0f} s wall)")


def main():
    print(f"attention dashboard benchmark on {pick_device().label} ({os.cpu_count()} cores), torch {torch.__version__}")
    print("time to 90% alignment accuracy, default preset (reverse 4-12 letters, GRU, B=64; "
          "attention and bottleneck models trained side by side):")
    time_to_alignment()
    report("06_attention")  # first render, latency idle and while part 1 trains, refreshes, memory


if __name__ == "__main__":
    main()
