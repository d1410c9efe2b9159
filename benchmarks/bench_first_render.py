"""Where a dashboard's first render goes: server side (until the page's HTML is complete: kernel
start, notebook run, template) and browser side (Voila's JavaScript boot, widgets, plot panes).

Run: .venv/bin/python benchmarks/bench_first_render.py [--notebook 03_rnn_bptt.ipynb] [--plots 4] [--repeats 3]
Each visit: a new browser context (empty cache) and a new kernel, as in bench_browser.py.
"""

from __future__ import annotations

import argparse
import time

from browser_timing import WAIT_PLOTS, browser, serve

NAV = """() => { const n = performance.getEntriesByType('navigation')[0];
  return {first_byte: n.responseStart, html_done: n.responseEnd, load: n.loadEventEnd}; }"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--notebook", default="03_rnn_bptt.ipynb")
    ap.add_argument("--plots", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(f"first render of {a.notebook}, in seconds from navigation")
    print("| visit | HTML complete (server) | page load event | all plots drawn | browser share |")
    print("| --- | --- | --- | --- | --- |")
    with serve() as base, browser() as b:
        for i in range(a.repeats):
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(base + "voila/render/" + a.notebook, timeout=120_000)
            page.wait_for_function(WAIT_PLOTS, arg=a.plots, timeout=120_000)
            total = time.perf_counter() - t0
            nav = page.evaluate(NAV)
            html = nav["html_done"] / 1000
            print(f"| {i + 1} | {html:.2f} | {nav['load'] / 1000:.2f} | {total:.2f} | {total - html:.2f} |", flush=True)
            page.close()
            time.sleep(1.0)


if __name__ == "__main__":
    main()
