"""Seconds from pressing Train in headless Chromium (Voila, lesson 03, default preset) until the
LSTM's running-mean MSE (mean of the last 50 steps, the curve the page draws) is below 0.01: the time a
class waits, as seen in the browser (training and the page's refreshes share the CPU).
Run: .venv/bin/python benchmarks/bench_time_to_solve.py [runs]"""
import os, re, sys, time
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parent))
from browser_timing import serve, browser, open_page
from tests.conftest import by_meta, page_text
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
print(f"load average at start {os.getloadavg()[0]:.1f}")
with serve() as base, browser() as b:
    for r in range(runs):
        page = open_page(b, base, "03_rnn_bptt.ipynb", n_plots=5)
        page.wait_for_timeout(10_000)  # the page settled; torch's optimizer imports warmed up (warm_up_torch: 8 s)
        t0 = time.perf_counter()
        page.get_by_role("button", name="Train").click()
        done = None
        while time.perf_counter() - t0 < 280:
            try:
                y = by_meta(page, "loss_other")["y"]
                if y and y[-1] is not None and y[-1] < 0.01:
                    done = time.perf_counter() - t0
                    break
            except Exception:
                pass
            page.wait_for_timeout(100)  # (a benchmark polling the page, not a test)
        text = page_text(page)
        step = re.search(r"step (\d+)", text[text.find("Gradient flow"):])
        print(f"run {r + 1}: LSTM mean-of-50 MSE < 0.01 after {done:.1f} s, at step {step.group(1) if step else '?'}"
              if done else "run {r + 1}: not within 280 s", flush=True)
        page.get_by_role("button", name="Pause").click()
        page.wait_for_timeout(1500)
        page.set_viewport_size({"width": 1400, "height": 4300})
        page.screenshot(path=str(HERE.parent / "artifacts" / f"solve{r + 1}.png"), full_page=True)
        page.close()
print(f"load average at end {os.getloadavg()[0]:.1f}")
