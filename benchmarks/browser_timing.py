"""Browser timing helpers shared by the dashboard benchmarks (not a benchmark itself).

    with serve() as base:
        with browser() as b:
            secs = first_render(b, base, "03_rnn_bptt.ipynb")     # cold kernel each time
            page = open_page(b, base, "03_rnn_bptt.ipynb")
            ms = control_latency(page, lambda: press_slider(page, "Sequence shown"), "belt_state", "z")

Every page opens a new Voila kernel, so ``first_render`` measures a cold kernel.
Latency is measured inside the page: from the key press (captured in JS) to the
first animation frame whose plotly data differs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqviz_server.serve import serve_command, voila_env  # noqa: E402
from tests.conftest import stop_process_group  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Served(str):
    """The base URL, carrying the Voila server's pid (for kernel memory)."""

    def __new__(cls, url: str, pid: int):
        obj = super().__new__(cls, url)
        obj.pid = pid
        return obj


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(port: int | None = None, preheat: int = 0):
    """Voila exactly as ``make dashboard`` starts it, on a free port; yields the base URL."""
    port = port or free_port()
    proc = subprocess.Popen(serve_command(port, preheat=preheat), cwd=ROOT, env=voila_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        yield Served(url, proc.pid)
    finally:
        stop_process_group(proc, 20)


@contextlib.contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=os.environ.get("SEQVIZ_CHROMIUM", "/usr/bin/chromium"),
                               headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


WAIT_PLOTS = ("n => { const g = document.querySelectorAll('.js-plotly-plot');"
              " return g.length >= n && Array.from(g).every(x => x.data && x.data.length > 0); }")


def open_page(b, base: str, notebook: str, n_plots: int = 1):
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    t0 = time.perf_counter()
    page.goto(base + "voila/render/" + notebook, timeout=120_000)
    page.wait_for_function(WAIT_PLOTS, arg=n_plots, timeout=120_000)
    page.first_render_s = time.perf_counter() - t0
    return page


def first_render(b, base: str, notebook: str, repeats: int = 3, n_plots: int = 1) -> list[float]:
    """Seconds from navigation to every plot holding data, each on a fresh kernel."""
    out = []
    for _ in range(repeats):
        page = open_page(b, base, notebook, n_plots)
        out.append(page.first_render_s)
        page.close()
        time.sleep(1.0)
    return out


# The promise is parked on window: evaluate() would otherwise wait for it before act() runs.
_ARM = """([tag, key]) => { window.__latency = new Promise(resolve => {
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  let get;
  if (tag.startsWith('shape:')) {  // a layout shape, by name
    const name = tag.slice(6);
    const has = g => (g.layout.shapes || []).some(s => s.name === name);
    const gd = plots.find(has);
    get = () => JSON.stringify(gd.layout.shapes.find(s => s.name === name)[key]);
  } else {
    const gd = plots.find(g => g.data.some(t => t.meta === tag));
    get = () => JSON.stringify(gd.data.find(t => t.meta === tag)[key]);
  }
  const before = get();
  let t0 = null;
  const onKey = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('mousedown', onKey, true);
  const tick = () => {
    if (t0 !== null && get() !== before) {
      document.removeEventListener('keydown', onKey, true);
      document.removeEventListener('mousedown', onKey, true);
      resolve(performance.now() - t0);
    } else if (t0 !== null && performance.now() - t0 > 10000) { resolve(-1); }
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}); return true; }"""


def control_latency(page, act, tag: str, key: str = "z", n: int = 20) -> list[float]:
    """Milliseconds from a key press/mouse down done by ``act()`` until trace ``tag``'s ``key`` changes
    (``tag`` = "shape:NAME": the layout shape named NAME).

    ``act`` must change the control so that the plot changes (e.g. press ArrowRight on a slider).
    Returns the successful samples (a sample that waited over 10 s is dropped and counted as failed).
    """
    out = []
    for i in range(n):
        page.evaluate(_ARM, [tag, key])
        act(i)
        ms = page.evaluate("() => window.__latency")
        if ms >= 0:
            out.append(ms)
        page.wait_for_timeout(150)
    return out


def slider_handle(page, description: str):
    """The draggable handle of the ipywidgets slider labelled ``description``."""
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{description}')")).locator(".noUi-handle")


def refresh_rate(page, tag: str, seconds: float = 5.0) -> float:
    """Updates per second of trace ``tag`` seen by the page: distinct lengths of its x over ``seconds``
    (so this counts redraws that reached the browser, not messages the kernel sent)."""
    js = ("t => { for (const g of document.querySelectorAll('.js-plotly-plot'))"
          " { const x = g.data.find(d => d.meta === t); if (x) return (x.x || []).length; } return -1; }")
    seen, t0 = set(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        seen.add(page.evaluate(js, tag))
        page.wait_for_timeout(20)
    return len(seen) / seconds


def p50_p95(xs: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, interpolated between samples (never past the largest: with 8
    samples the 95th lies between the two largest)."""
    q = statistics.quantiles(xs, n=20, method="inclusive") if len(xs) >= 2 else [xs[0]] * 19
    return statistics.median(xs), q[18]


def summary(xs: list[float]) -> str:
    if not xs:
        return "no samples"
    q = statistics.quantiles(xs, n=20) if len(xs) >= 2 else [xs[0]] * 19
    return f"median {statistics.median(xs):.0f}, p95 {q[18]:.0f} (n={len(xs)})"


def _kernels(voila_pid: int) -> list:
    """The kernel processes under the Voila server: started by Voila, or forked by
    seqviz_server/kernel_fork.py (named seqviz-kernel; they share the fork server's pages until they write them)."""
    import psutil

    from seqviz_server.kernel_fork import KERNEL_NAME

    return [p for p in psutil.Process(voila_pid).children(recursive=True)
            if p.name() == KERNEL_NAME or any("ipykernel" in part for part in p.cmdline())]


def kernel_rss_mb(voila_pid: int) -> list[float]:
    """Resident memory of each kernel process (pages shared with the fork server included)."""
    return [p.memory_info().rss / 2**20 for p in _kernels(voila_pid)]


def kernel_private_mb(voila_pid: int) -> list[float]:
    """Memory each kernel holds alone (USS): what one more visitor adds."""
    return [p.memory_full_info().uss / 2**20 for p in _kernels(voila_pid)]
