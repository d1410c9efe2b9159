"""Benchmark of the gradient-flow dashboard (issue: foundation and first dashboard).

Prints: probe cost vs a fused training step; first render (cold kernel); control-to-plot
latency in the browser, idle and while training; refresh rate while training; kernel memory.
Run: make bench   (or .venv/bin/python benchmarks/bench_gradflow.py)
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from bench_browser import report  # noqa: E402
from browser_timing import browser, open_page, serve  # noqa: E402
from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.experiments import GradFlowConfig, build_gradflow_run  # noqa: E402

NB = "03_rnn_bptt.ipynb"


def probe_cost():
    """Median ms of a fused training step (B=32) and of a step that also probes (8 sequences, float64)."""
    configure_threads()
    cfg = GradFlowConfig()
    per = {}
    for pe, n in ((0, 80), (1, 25)):
        run = build_gradflow_run(GradFlowConfig(**{**cfg.__dict__, "probe_every": pe}), device="cpu")
        run.step()  # warm-up
        times = {k: [] for k in run.models}
        for _ in range(n):
            for r in run.step():
                times[r.name].append(r.seconds * 1000)
        per[pe] = {k: statistics.median(v) for k, v in times.items()}
    for k in per[0]:
        f, p = per[0][k], per[1][k]
        amort = (p - f) / cfg.probe_every / f * 100
        print(f"  {k.upper():4s}: fused training step {f:.1f} ms; step + probe {p:.1f} ms, so one probe costs "
              f"{(p - f) / f:.1f} fused steps; at one probe every {cfg.probe_every} steps: +{amort:.0f}% training time")


def main():
    print(f"gradient-flow dashboard benchmark on {pick_device().label} ({os.cpu_count()} cores), torch {torch.__version__}")
    print("probe cost vs a fused training step (default preset: adding, T=100, H=32, B=32; probe: 8 sequences, float64):")
    probe_cost()
    report("03_rnn_bptt")  # first render, latency idle and while training, refreshes, memory
    with serve(preheat=1) as base, browser() as b:
        time.sleep(60)  # let Voila execute its pool of kernels (one per lesson) before the visitor comes
        page = open_page(b, base, NB, n_plots=4)
        print(f"first render with a preheated kernel (make dashboard PREHEAT=1), first visitor: "
              f"{page.first_render_s:.2f} s")
        page.close()


if __name__ == "__main__":
    main()
