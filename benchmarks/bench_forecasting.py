"""Lesson 00 (forecasting): the default preset trained headless, as the dashboard trains it.

Prints, per series: seconds to the end of the holdout fit (a trained GRU against the baselines),
to the end of walk-forward, to the end of the random split, and the test-period RMSE of every
method under holdout, walk-forward and random split, with how much lower the random split's is.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_forecasting.py [--series sunspots co2 seasonal] [--seeds N]
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_forecasting.py --browser [--runs N]
      (--browser: the lesson in headless Chromium through Voila, Train pressed; seconds until the page's
      status line says the fit is over (walking forward), the walk is over (random split) and Done:
      what a class waits, page refreshes included)
Nothing here is asserted. The load (uptime) is printed: four people may share the two cores.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from seqviz.data.series import load  # noqa: E402
from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.experiments.forecasting import METHODS, Finished, Forecast, preset_config  # noqa: E402
from widgets.forecasting.state import DEFAULTS  # noqa: E402


def load_avg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(key: str, seed: int = 0) -> dict:
    dev = pick_device()
    s = load(key)
    w, m = DEFAULTS[key]
    exp = Forecast(s, preset_config(dev.device, w=w, m=m, seed=seed), dev.device)
    t0 = time.perf_counter()
    marks = {}
    try:
        while True:
            phase = exp.phase
            exp.step()
            if exp.phase != phase:
                marks[phase] = time.perf_counter() - t0
    except Finished:
        marks[exp.phase if exp.phase != "done" else "random"] = time.perf_counter() - t0
    c = exp.cfg
    print(f"\n{s.name} (seed {seed}): n = {len(s)}, w = {w}, m = {m}, {exp.j_test} training windows, {exp.n_test} test targets, "
          f"{len(exp.wf_folds)} walk-forward folds of k = {exp.k}, {len(exp.rs_folds)} random folds; "
          f"GRU H = {c.hidden}, TCN C = {c.channels}, {c.fit_steps} fit steps, {c.fold_steps} per fold; {dev.label}")
    print(f"  seconds: fit done {marks.get('fit', float('nan')):.1f}, walk-forward done "
          f"{marks.get('walk', float('nan')):.1f}, random split done {marks.get('random', float('nan')):.1f}  "
          f"(load {load_avg()})")
    sc = exp.scores()
    print(f"  {'method':16s} {'holdout':>9s} {'walk':>9s} {'random':>9s}  random vs walk")
    for k in METHODS:
        r = sc[k]
        flat = 100 * (1 - r["random"] / r["walk"])
        said = "same" if abs(flat) < 0.5 else f"{abs(flat):.0f}% {'lower' if flat > 0 else 'higher'}"
        print(f"  {k:16s} {r['holdout']:9.4g} {r['walk']:9.4g} {r['random']:9.4g}  {said}")
    return {k: 100 * (1 - sc[k]["random"] / sc[k]["walk"]) for k in ("ar", "gru", "tcn")}


def browser_runs(runs: int) -> None:
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from browser_timing import browser, open_page, serve

    for r in range(runs):
        with serve() as base, browser() as b:
            page = open_page(b, base, "00_sequences_of_numbers.ipynb", n_plots=5)
            status = page.locator(".seqviz-status")
            page.get_by_role("button", name="Train").click()
            t0 = time.perf_counter()
            marks = {}
            while "done" not in marks and time.perf_counter() - t0 < 600:
                text = status.inner_text()
                for key, said in (("fit", "walking forward"), ("walk", "random split:"), ("done", "Done")):
                    if said in text and key not in marks:
                        marks[key] = time.perf_counter() - t0
                page.wait_for_timeout(100)
            print(f"browser run {r + 1}: seconds from Train to: fit over (a trained GRU against the baselines) "
                  f"{marks.get('fit', float('nan')):.1f}, walk-forward over {marks.get('walk', float('nan')):.1f}, "
                  f"Done {marks.get('done', float('nan')):.1f}  (load {load_avg()})", flush=True)
            page.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", nargs="*", default=["sunspots", "co2", "seasonal"])
    ap.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (models, batches, random split)")
    ap.add_argument("--browser", action="store_true", help="time the default preset in the browser instead")
    ap.add_argument("--runs", type=int, default=2)
    a = ap.parse_args()
    configure_threads()
    print(f"torch {torch.__version__}; load {load_avg()}")
    if a.browser:
        browser_runs(a.runs)
        raise SystemExit(0)
    for key in a.series:
        got = [run(key, seed) for seed in range(a.seeds)]
        if a.seeds > 1:
            print(f"  {key}: how much lower the random split's RMSE is than walk-forward's, over {a.seeds} seeds:")
            for k in ("ar", "gru", "tcn"):
                v = sorted(g[k] for g in got)
                print(f"    {k}: median {v[len(v) // 2]:+.0f}%, range {v[0]:+.0f}% to {v[-1]:+.0f}% "
                      "(+ = lower, i.e. flattering)")
