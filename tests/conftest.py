"""Shared fixtures: a Voila server on 127.0.0.1 and a headless system Chromium.

Browser tests never skip under CI=true: if Chromium or Playwright cannot start,
they fail and say why. Screenshots land in artifacts/screenshots/ for a human to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

# One OpenMP thread per process, as `make test` and every kernel use (set before torch is imported):
# a bare `pytest` with torch's default threads ran the gradient-flow widget tests 17x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The gradient-flow dashboard starts with its class preset when the machine looks crowded (seqviz.crowd:
# the load average where no server counts). A test machine's load must not pick the preset a test reads;
# tests/test_class_preset.py tests that choice with the signals given explicitly.
os.environ.setdefault("SEQVIZ_CLASS_PRESET", "off")

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for p in (os.environ.get("SEQVIZ_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if p and os.path.exists(p):
            return p
    return None


def _cannot(msg: str):
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc, wait_s: float = 15) -> None:
    """SIGTERM to the process group ``proc`` leads (Voila, JupyterLab and the hub ignore SIGINT when
    started from a script), SIGKILL if it has not exited after ``wait_s`` seconds."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Served(str):
    """The base URL, carrying the Voila server's pid."""

    def __new__(cls, url: str, pid: int):
        obj = super().__new__(cls, url)
        obj.pid = pid
        return obj


@pytest.fixture(scope="session")
def voila_url():
    """Base URL of a Voila server serving lessons/ exactly as `make dashboard` does."""
    from seqviz_server.serve import serve_command, voila_env

    port = free_port()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / "voila-test.log", "w")
    proc = subprocess.Popen(serve_command(port), cwd=ROOT, env=voila_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def answers():
        if proc.poll() is not None:
            pytest.fail(f"Voila exited with code {proc.returncode}; see artifacts/voila-test.log")
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except OSError:
            return False

    if not eventually(answers, 60, interval=0.3):
        proc.kill()
        pytest.fail("Voila did not answer within 60 s; see artifacts/voila-test.log")
    yield Served(url, proc.pid)
    stop_process_group(proc, 15)
    log.close()


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        _cannot("Chromium not found: install it (apt-get install -y chromium) or set SEQVIZ_CHROMIUM.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - environment problem
        _cannot(f"Playwright is not installed: {e}")
    pw = sync_playwright().start()
    try:
        # Playwright gives every launch a fresh, temporary user-data dir of its own.
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
    except Exception as e:  # noqa: BLE001
        pw.stop()
        _cannot(f"Chromium at {exe} did not start: {e}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser):
    """A fresh page; requests leaving 127.0.0.1 are blocked and recorded in ``page.external``."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.external = []
    pg.console_errors = []

    def route(r):
        u = r.request.url
        if u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            pg.external.append(u)
            r.abort()

    pg.route("**/*", route)
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()


# -- helpers for dashboard tests -------------------------------------------------------

ERROR_MARKERS = ("Traceback", "Error:", "Exception", "There was an error when executing cell")


def open_dashboard(page, base_url: str, notebook: str, n_plots: int = 1, timeout_ms: int = 90_000):
    """Open a lesson in Voila and wait until its plots have data. Returns seconds taken."""
    t0 = time.time()
    page.goto(base_url + "voila/render/" + notebook, timeout=timeout_ms)
    page.wait_for_function(
        "n => { const g = document.querySelectorAll('.js-plotly-plot');"
        " return g.length >= n && Array.from(g).every(x => x.data && x.data.length > 0); }",
        arg=n_plots, timeout=timeout_ms)
    return time.time() - t0


def plot_data(page, index: int = 0):
    """The plotly ``data`` array of the index-th plot, as JSON (typed arrays become lists)."""
    return json.loads(page.evaluate(
        """i => JSON.stringify(document.querySelectorAll('.js-plotly-plot')[i].data,
              (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v))""", index))


def wait_until(page, fn, timeout: float = 90.0) -> bool:
    """``eventually(fn, timeout, page=page)``: poll a condition on a page."""
    return eventually(fn, timeout, page=page)


def by_meta(page, tag: str) -> dict:
    """The trace tagged ``tag`` (its ``meta``) in whichever plot of the page holds it."""
    n = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
    return next(t for i in range(n) for t in plot_data(page, i) if t.get("meta") == tag)


def page_text(page) -> str:
    return page.evaluate("document.body.innerText")


def assert_no_error_text(page):
    text = page_text(page)
    for m in ERROR_MARKERS:
        assert m not in text, f"error text {m!r} on the page: ...{text[max(0, text.find(m) - 200): text.find(m) + 300]}"


def screenshot(page, name: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# -- helpers for widget tests (plain pytest, no browser) ---------------------------------

def dashboard_trace(d, tag: str):
    """Widget tests: the one trace tagged ``tag`` (its ``meta``) in any of dashboard ``d``'s panes."""
    found = [tr for p in d.panes.values() for tr in p.figure.data if tr.meta == tag]
    assert len(found) == 1, f"{len(found)} traces tagged {tag!r}"
    return found[0]


def eventually(cond, timeout: float = 30.0, page=None, interval: float = 0.05) -> bool:
    """The one polling helper of the suite: True as soon as ``cond()`` is true, False after
    ``timeout`` seconds. With ``page`` (Playwright), the wait lets the page's events run; a
    condition caught mid-update (a trace not there yet: StopIteration, KeyError, IndexError,
    TypeError) counts as "not yet". Tests wait on conditions, never for a fixed time."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        try:
            if cond():
                return True
        except (StopIteration, KeyError, IndexError, TypeError):
            pass
        if time.monotonic() >= deadline:
            return False
        if page is not None:
            page.wait_for_timeout(max(interval, 0.1) * 1000)
        else:
            pause.wait(interval)


def wait_for(cond, timeout: float = 30.0) -> bool:
    """``eventually(cond, timeout)`` (widget tests: no page)."""
    return eventually(cond, timeout)


def workers_alive(prefix: str = "seqviz-") -> list:
    """Dashboard training threads still running (``widgets.kit.TrainingWorker`` names them seqviz-...)."""
    import threading

    return [t for t in threading.enumerate() if t.name.startswith(prefix)]
