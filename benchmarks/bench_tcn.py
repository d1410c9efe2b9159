"""Benchmark of the receptive-field dashboard (issue 4).

Prints: time to measure the empirical receptive field of a 6-layer TCN on length 256;
the race's times to target (default preset, own compute seconds, steps, wall clock); a
TCN whose receptive field is below the task's reach against its predicted floor; first
render (cold kernel); control-to-plot latency idle and while racing; refresh rate; kernel memory.
Run: make bench   (or .venv/bin/python benchmarks/bench_tcn.py [--no-browser] [--seeds 0,1,2])
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import replace

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from browser_timing import browser, control_latency, first_render, kernel_rss_mb, refresh_rate, open_page, serve, slider_handle, summary  # noqa: E402
from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.models.tcn import TCNConfig, build_tcn, doubling  # noqa: E402
from seqviz.probes.receptive import input_gradient, receptive_field  # noqa: E402
from seqviz.experiments.race import DEFAULT_RACE, RACE_PRESETS, WINDOW, Race  # noqa: E402

NB = "05_convolutions_tcn.ipynb"
N_PLOTS = 4  # plot panes: the diagram; gradients and causality; race; parameters


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()  # a fixed port could be answered by another engineer's (or a stale) server


def empirical_rf_time():
    cfg = TCNConfig(n_in=2, channels=16, kernel_size=3, dilations=doubling(6))
    m, T = build_tcn(cfg, 0), 256
    one, full = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        g = input_gradient(m, T, T - 1, seed=1)  # one output: B=16, float64, one backward
        one.append(time.perf_counter() - t0)
    for _ in range(2):
        t0 = time.perf_counter()
        extents = [int((input_gradient(m, T, t, seed=1) > 0).sum()) for t in range(T)]  # every output
        full.append(time.perf_counter() - t0)
    print(f"empirical receptive field, 6-block TCN (k=3, C=16), T=256: one output {statistics.median(one) * 1000:.0f} ms "
          f"(median of 5; {int((g > 0).sum())} inputs seen, analytic {receptive_field(3, doubling(6))}); "
          f"all 256 outputs {statistics.median(full):.1f} s (max extent {max(extents)})")


def race_times(seeds):
    preset = RACE_PRESETS[DEFAULT_RACE]
    for seed in seeds:
        race = Race(replace(preset, seed=seed), TCNConfig())
        stop = threading.Event()
        t_order = {}

        def on_step():
            for k, v in race.finished.items():
                t_order.setdefault(k, race.wall)
            if all(k in race.finished for k in ("tcn", "gru", "lstm")):
                stop.set()

        why = race.train(stop, on_step)
        parts = []
        for k in ("tcn", "gru", "lstm", "rnn"):
            h = race.history(k)
            if k in race.finished:
                parts.append(f"{k.upper()} {race.finished[k]:.1f} s own / {len(h.loss)} steps (wall {t_order[k]:.1f} s)")
            else:
                parts.append(f"{k.upper()} not reached ({len(h.loss)} steps, {h.seconds[-1]:.1f} s own, "
                             f"mean loss {race.mean_loss(k):.3f})")
        print(f"  seed {seed}: " + "; ".join(parts) + f"; race wall {race.wall:.1f} s ({why})")


def shrunk_tcn(seconds: float = 20.0):
    """A TCN with 5 blocks (R = 63 < 100) on the adding problem: where does it stall?"""
    preset = RACE_PRESETS[DEFAULT_RACE]
    race = Race(preset, TCNConfig(dilations=doubling(5)))
    run = race.runs["tcn"]
    h = run.history["tcn"]
    while not len(h) or h.last("seconds") < seconds:
        run.step()
    tail = h.loss[-200:]
    best = min(sum(h.loss[i:i + WINDOW]) / WINDOW for i in range(len(h.loss) - WINDOW))
    print(f"TCN with R = {race.rf} < {race.reach} on adding T=100, {len(h.loss)} steps / {h.seconds[-1]:.0f} s: "
          f"mean loss of last 200 steps {sum(tail) / len(tail):.4f}, best 10-step mean {best:.4f}; "
          f"predicted floor {race.floor:.4f}; target {preset.target}")


def browser_part():
    with serve(PORT) as base, browser() as b:
        fr = first_render(b, base, NB, repeats=3, n_plots=N_PLOTS)
        print(f"first render, cold kernel ({NB}, 3 runs): median {statistics.median(fr):.2f} s, "
              f"all {', '.join(f'{x:.2f}' for x in fr)} s")
        page = open_page(b, base, NB, n_plots=N_PLOTS)
        handle = slider_handle(page, "Output position t")
        act = lambda i: handle.press("ArrowLeft" if i % 10 < 5 else "ArrowRight")  # noqa: E731
        idle = control_latency(page, act, "active", "x", n=20)
        print(f"control-to-plot latency, idle (Output position t -> the layered diagram): {summary(idle)} ms")
        follow = control_latency(page, act, "analytic", "x", n=10)
        print(f"  same slider -> gradient and causality pane (drawn after the diagram): {summary(follow)} ms")
        page.get_by_role("button", name="Train").click()
        page.wait_for_timeout(2000)
        rate = refresh_rate(page, "loss_rnn")
        print(f"refreshes per second while racing (loss curve updates seen in the browser): {rate:.1f}")
        busy = control_latency(page, act, "active", "x", n=20)
        print(f"control-to-plot latency, while racing (the race stops itself after 60 s): {summary(busy)} ms")
        try:
            print(f"kernel memory (RSS) while racing: {', '.join(f'{x:.0f}' for x in kernel_rss_mb(base.pid))} MB")
        except Exception as e:  # noqa: BLE001
            print(f"kernel memory: not measured ({e})")
        if page.get_by_role("button", name="Pause").count():
            page.get_by_role("button", name="Pause").click()
            page.wait_for_timeout(500)
        page.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--seeds", default="0")
    a = ap.parse_args()
    configure_threads()
    print(f"receptive-field dashboard benchmark on {pick_device().label} ({os.cpu_count()} cores), "
          f"torch {torch.__version__}")
    empirical_rf_time()
    print(f"race, default preset ({DEFAULT_RACE}; B=32, Adam 1e-2, H=32, TCN k=3 x 6 blocks C=16), "
          "until TCN, GRU and LSTM reach the target:")
    race_times([int(s) for s in a.seeds.split(",")])
    shrunk_tcn()
    if not a.no_browser:
        browser_part()


if __name__ == "__main__":
    main()
