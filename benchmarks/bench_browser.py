"""Every dashboard's browser numbers in one table, for the README.

For each dashboard: first render on a cold kernel (median of 3), control-to-plot latency idle and
while training (median / p95 of 20 key presses on its main slider), refreshes per second while
training, and kernel memory. Same definitions as the per-dashboard benchmarks (browser_timing.py).
Run: .venv/bin/python benchmarks/bench_browser.py [--only 03_rnn_bptt] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from browser_timing import (browser, control_latency, first_render, kernel_private_mb, kernel_rss_mb, open_page, refresh_rate, serve,
                            slider_handle, summary)

# notebook, plots to wait for, slider, (tag, key) the slider changes, train button, trace counted for refreshes
DASHBOARDS = [
    ("00_sequences_of_numbers.ipynb", 5, "Window position t", ("target", "x"), "Train", "loss_gru"),
    ("03_rnn_bptt.ipynb", 4, "Sequence shown", ("belt_keys", "x"), "Train", "loss_rnn"),
    ("01_sequences_as_tensors.ipynb", 3, "Packed step t", ("packed", "z"), "Measure", None),
    ("05_convolutions_tcn.ipynb", 4, "Output position t", ("active", "x"), "Train", "loss_rnn"),
    ("06_attention_transformers.ipynb", 6, "Query token i", ("query", "y"), "Train", "loss_att"),
    ("07_char_language_models.ipynb", 5, "Temperature τ", ("p_tau", "y"), "Train", "train"),
    ("08_embeddings.ipynb", 5, "Negatives k", ("obj_before", "y"), "Train", "loss"),
]


def measure(b, base, nb, n_plots, slider, watch, train, counted, repeats):
    fr = first_render(b, base, nb, repeats=repeats, n_plots=n_plots)
    page = open_page(b, base, nb, n_plots=n_plots)
    page.wait_for_timeout(1500)
    handle = slider_handle(page, slider)
    act = lambda i: handle.press("ArrowRight" if i % 10 < 5 else "ArrowLeft")  # noqa: E731
    idle = control_latency(page, act, *watch, n=20)
    page.get_by_role("button", name=train).first.click()
    page.wait_for_timeout(2000)
    busy = control_latency(page, act, *watch, n=20)
    rate = refresh_rate(page, counted) if counted else None
    rss = kernel_rss_mb(base.pid), kernel_private_mb(base.pid)
    stop = page.get_by_role("button", name="Pause")
    if stop.count():
        stop.first.click()
    page.close()
    return fr, idle, busy, rate, rss


def report(prefix: str, repeats: int = 3) -> None:
    """One dashboard's browser numbers as lines of text (the per-dashboard benchmarks print these)."""
    nb, *spec = next(d for d in DASHBOARDS if d[0].startswith(prefix))
    with serve() as base, browser() as b:
        fr, idle, busy, rate, rss = measure(b, base, nb, *spec, repeats=repeats)
    slider, tag, train = spec[1], spec[2][0], spec[3]
    print(f"first render, cold kernel ({nb}, {repeats} runs): median {statistics.median(fr):.2f} s, "
          f"all {', '.join(f'{x:.2f}' for x in fr)} s")
    print(f"control-to-plot latency, idle ({slider} slider -> trace {tag}): {summary(idle)} ms")
    print(f"control-to-plot latency, while training ({train} pressed): {summary(busy)} ms")
    if rate is not None:
        print(f"refreshes per second while training (curve updates seen in the browser): {rate:.1f}")
    print(f"kernel memory: RSS {', '.join(f'{x:.0f}' for x in rss[0])} MB; "
          f"private (USS) {', '.join(f'{x:.0f}' for x in rss[1])} MB")


def torch_import_s() -> float:
    """Seconds a fresh Python takes to import torch: a yardstick of the machine's speed right now
    (it varied by 1.5x over one day on the same 2-core machine), median of 3."""
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="a notebook name (without .ipynb)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(f"browser numbers, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load average {os.getloadavg()[0]:.1f} at start; this machine's speed today: `import torch` "
          f"in a fresh process took {torch_import_s():.2f} s")
    print("| dashboard | first render, cold (median; all) | control → plot idle (median / p95) | "
          "while training | refreshes/s | kernel RSS | kernel private (USS) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for nb, *spec in DASHBOARDS:
        if a.only and not nb.startswith(a.only):
            continue
        with serve() as base, browser() as b:  # a fresh server each: no kernels left from the others
            fr, idle, busy, rate, rss = measure(b, base, nb, *spec, repeats=a.repeats)
        q = lambda xs: summary(xs).split(" (")[0].replace("median ", "").replace(", p95 ", " / ")  # noqa: E731
        print(f"| {nb[:-6]} | {statistics.median(fr):.2f} s ({', '.join(f'{x:.1f}' for x in fr)}) | {q(idle)} ms | "
              f"{q(busy)} ms | {f'{rate:.1f}' if rate is not None else 'n/a'} | "
              f"{', '.join(f'{x:.0f}' for x in rss[0])} MB | {', '.join(f'{x:.0f}' for x in rss[1])} MB |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
