"""Seconds from pressing Train in headless Chromium (Voila, default preset) until the model reaches its
goal, read off what the page shows: the time a class waits (training and the page's refreshes share the CPU).

- ``03`` (gradient flow): the LSTM's running-mean MSE (mean of the last 50 steps, the curve the page draws)
  is below 0.01.
- ``06`` (attention, part 1): the alignment-accuracy curve (mean of the last batches, the curve the page
  draws) reaches 90%.
- ``05`` (receptive field, the race): every racer's verdict in the race table ("reached target at X s" is
  that model's own compute seconds); the wall time from Train until the table shows each verdict.

Run: .venv/bin/python benchmarks/bench_time_to_solve.py [--lesson 03|05|06] [--runs N] [--limit 280]
The load average is printed at the start and the end (numbers on a loaded machine read high).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from browser_timing import browser, open_page, serve  # noqa: E402

from tests.conftest import by_meta, page_text  # noqa: E402

LESSONS = {  # lesson -> (notebook, plots to wait for, the button's accessible name, what "solved" means)
    "03": ("03_rnn_bptt.ipynb", 5, "Train", "LSTM mean-of-50 MSE < 0.01"),
    "05": ("05_convolutions_tcn.ipynb", 4, "Train", "each racer's verdict in the race table"),
    "06": ("06_attention_transformers.ipynb", 6, "Train", "alignment accuracy (curve the page draws) >= 90%"),
}


def _last(tag: str):
    try:
        y = by_meta(PAGE, tag)["y"]
        return y[-1] if y else None
    except Exception:  # the trace is not drawn yet
        return None


def solve_03(t0: float, limit: float) -> str:
    while time.perf_counter() - t0 < limit:
        y = _last("loss_other")
        if y is not None and y < 0.01:
            text = page_text(PAGE)
            step = re.search(r"step (\d+)", text[text.find("Gradient flow"):])
            return f"{time.perf_counter() - t0:.1f} s after Train, at step {step.group(1) if step else '?'}"
        PAGE.wait_for_timeout(100)  # (a benchmark polling the page, not a test)
    return f"not within {limit:.0f} s"


def solve_06(t0: float, limit: float) -> str:
    while time.perf_counter() - t0 < limit:
        y = _last("acc_align")
        if y is not None and y >= 0.9:
            return f"{time.perf_counter() - t0:.1f} s after Train"
        PAGE.wait_for_timeout(100)
    return f"not within {limit:.0f} s"


def solve_05(t0: float, limit: float) -> str:
    """Each racer's final verdict (reached target / failed / the race's time is up) and when the table showed it."""
    seen: dict[str, str] = {}
    open_verdicts = ("racing", "paused", "not started")
    while time.perf_counter() - t0 < limit:
        rows = PAGE.evaluate("() => [...document.querySelectorAll('table.seqviz-race tr')].slice(1)"
                             ".map(r => [...r.cells].map(c => c.innerText))")
        for cells in rows:
            name, verdict = cells[0].strip(), cells[-1].strip()
            if name not in seen and not verdict.startswith(open_verdicts):
                seen[name] = f"{verdict} (shown {time.perf_counter() - t0:.1f} s after Train)"
        if rows and len(seen) == len(rows):
            break
        PAGE.wait_for_timeout(200)  # (a benchmark polling the page, not a test)
    return "; ".join(f"{k}: {v}" for k, v in seen.items()) or f"nothing within {limit:.0f} s"


def main() -> None:
    global PAGE
    ap = argparse.ArgumentParser()
    ap.add_argument("--lesson", choices=sorted(LESSONS), default="03")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--limit", type=float, default=280.0)
    a = ap.parse_args()
    notebook, n_plots, button, goal = LESSONS[a.lesson]
    solve = {"03": solve_03, "05": solve_05, "06": solve_06}[a.lesson]
    print(f"{notebook}: {goal}; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    (HERE.parent / "artifacts").mkdir(exist_ok=True)
    with serve() as base, browser() as b:
        for r in range(a.runs):
            PAGE = open_page(b, base, notebook, n_plots=n_plots)
            PAGE.wait_for_timeout(10_000)  # the page settled; torch's optimizer imports warmed up (warm_up_torch)
            t0 = time.perf_counter()
            PAGE.get_by_role("button", name=button).first.click()
            print(f"run {r + 1}: {solve(t0, a.limit)}", flush=True)
            pause = PAGE.get_by_role("button", name="Pause").first
            if pause.is_enabled():  # (a race that finished has nothing to pause)
                pause.click()
            PAGE.wait_for_timeout(1500)
            PAGE.set_viewport_size({"width": 1400, "height": 4300})
            PAGE.screenshot(path=str(HERE.parent / "artifacts" / f"solve{a.lesson}_{r + 1}.png"), full_page=True)
            PAGE.close()
    print(f"load average at end {os.getloadavg()[0]:.1f}")


PAGE = None
if __name__ == "__main__":
    main()
