"""The student's own view (issue 21's "your own model" cell) in a real headless Chromium through
JupyterLab: first render, refreshes per second while training, and p50/p95 latency from the key
press to the first changed plot frame for every control of the view, idle and while training.
Issue 21: training the student's model live uses the kit's worker "with the same refresh rates and
the same responsiveness" as the lesson dashboards (compare with bench_controls.py's table).

Run:  .venv/bin/python benchmarks/bench_yours.py [--only 05] [--n 8] [--controls SUBSTR] [--fast]
      (--only NN may be given several times; --fast runs the lessons with SEQVIZ_FAST=1, as the tests
      do; --lessons DIR measures the notebooks of another folder)

What it does, per lesson that holds a code cell tagged ``your-own-model``:
- One JupyterLab server for the run (a copy of lessons/ in a temporary folder, a token, a settings
  folder with windowingMode none so every cell is rendered), a fresh Chromium page per lesson.
- The cells above the your-own-model cell run (Run > Run All Above Selected Cell), then that cell
  alone (Ctrl+Enter): the lesson's own dashboard cell never runs, so what is measured is the
  student's view alone, on a kernel that holds nothing else.
- First render: from the Ctrl+Enter key press (captured in the page) to the animation frame from
  which every plot of the view (the ``.seqviz-yours`` element) holds data, once their number has
  not changed for 2 s (a pane that comes later counts).
- Refreshes while training: the view's Train button is pressed; after 1 s, for ``--train-s``
  seconds, the frames in which some plot of the view changed (bench_controls' per-leaf monitor:
  a redraw with equal numbers is no change), per second, the gaps between them (p50 / p95 / max)
  and each pane's own rate; then Pause.
- Every control: bench_controls.Bench with the view as its root (controls, HTML texts, Train
  buttons and plots are looked for inside it only), so the columns mean exactly what they mean
  there (see its docstring: per-leaf change detection, training's own leaves subtracted).
- For comparison (--no-compare skips it): the lesson's own dashboard (its last code cell) in the
  same JupyterLab, on a fresh kernel that ran the lesson's other cells one by one without the
  your-own-model cell: its first render and refreshes while training, measured the same way.

Timings are noisy on a shared machine: the header gives the load and an ``import torch`` yardstick.
Nothing here is asserted; it is a measuring tool, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_controls import STOP_LABELS, TRAIN_LABELS, Bench, Trainer, log, short, table  # noqa: E402
from browser_timing import ROOT, browser, free_port, p50_p95  # noqa: E402

from tests.conftest import stop_process_group  # noqa: E402

TAG = "your-own-model"
TOKEN = "seqviz-bench-yours"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
VIEW = f"{PANEL} .seqviz-yours"  # the view the your-own-model cell builds (widgets.kit.yours)
LESSON_VIEW = f"{PANEL} .seqviz-dashboard:not(.seqviz-yours)"  # the lesson's own dashboard (its last code cell)
STABLE_MS = 2000  # first render: the number of plots must not change for this long
RENDER_CAP_S = 240

# -- JupyterLab ------------------------------------------------------------------------------


@contextlib.contextmanager
def jupyterlab(lessons: Path, fast: bool):
    """JupyterLab on a copy of ``lessons`` (Run and autosave write into the notebooks); yields its URL."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_yours_"))
    work = tmp / "root"
    shutil.copytree(lessons, work / "lessons")
    shutil.copytree(lessons, work / "compare")  # the lesson's own dashboard: a copy autosave has not touched
    settings = tmp / "settings"
    for path, value in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
    }.items():
        (settings / path).parent.mkdir(parents=True, exist_ok=True)
        (settings / path).write_text(json.dumps(value))
    env = dict(os.environ)
    env.pop("SEQVIZ_FAST", None)
    if fast:
        env["SEQVIZ_FAST"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")  # as the Voila dashboards run (seqviz_server.serve.voila_env)
    env.setdefault("SEQVIZ_THREADS", env["OMP_NUM_THREADS"])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["JUPYTERLAB_SETTINGS_DIR"], env["JUPYTERLAB_WORKSPACES_DIR"] = str(settings), str(tmp / "workspaces")
    port = free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={work}", f"--IdentityProvider.token={TOKEN}",
           *(["--allow-root"] if os.geteuid() == 0 else [])]
    logf = open(tmp / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        t_end = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {(tmp / 'jupyterlab.log').read_text()[-500:]}")
            try:
                urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if time.monotonic() > t_end:
                    raise RuntimeError("JupyterLab did not answer in 120 s") from None
                time.sleep(0.3)
        yield url
    finally:
        stop_process_group(proc, 20)
        logf.close()
        shutil.rmtree(tmp, ignore_errors=True)


def api(url: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{url}api/{path}?token={TOKEN}", method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


def shut_down_kernels(url: str) -> None:
    for k in api(url, "kernels"):
        api(url, f"kernels/{k['id']}", "DELETE")


def own_model_cell(path: Path) -> tuple[int | None, bool]:
    """Index of the notebook's first cell tagged your-own-model, and True; else the first code cell
    calling ``yours(`` under a "## Your own model" heading, and False (its tag is missing); else None."""
    cells = json.loads(path.read_text())["cells"]
    tagged = next((i for i, c in enumerate(cells) if TAG in c.get("metadata", {}).get("tags", [])), None)
    if tagged is not None:
        return tagged, True
    src = ["".join(c["source"]) for c in cells]
    heading = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                    and src[i].lstrip().lower().startswith("## your own model")), None)
    if heading is not None:
        for i in range(heading + 1, len(cells)):
            if cells[i]["cell_type"] == "code":
                return (i, False) if "yours(" in src[i] else (None, False)
    return None, False


# -- in the page -------------------------------------------------------------------------------
CELL = PANEL + " .jp-Notebook .jp-Cell"

# every code cell before index k shows an execution count ("[3]:"), none is queued or running ("[*]:")
ABOVE_DONE = """([sel, k]) => { const cells = Array.from(document.querySelectorAll(sel)).slice(0, k)
  .filter(c => c.classList.contains('jp-CodeCell'));
  return cells.every(c => /\\[\\d+\\]/.test((c.querySelector('.jp-InputPrompt') || {}).textContent || '')); }"""

ERRORS = """(sel) => Array.from(document.querySelectorAll(sel + ' .jp-OutputArea-output'))
  .filter(o => o.dataset.mimeType === 'application/vnd.jupyter.error'
          || (o.dataset.mimeType === 'application/vnd.jupyter.stderr' && /Traceback|Error/.test(o.innerText)))
  .map(o => o.innerText.replace(/\\s+/g, ' ').slice(0, 200))"""

# first render: every animation frame, the view's state (shown, plots, all holding data); the key press
FIRST_JS = r"""([view, cells, k]) => {
  const W = window.__first = {press: null, states: [], notfit: null};
  document.addEventListener('keydown', e => { if (e.key === 'Enter' && W.press === null) W.press = performance.now(); }, true);
  const tick = () => {
    const v = document.querySelector(view);
    const g = v ? Array.from(v.querySelectorAll('.js-plotly-plot')) : [];
    const ready = g.length > 0 && g.every(x => x.data && x.data.length > 0);
    const s = (v ? 'v' : '-') + g.length + (ready ? 'r' : '');
    const last = W.states[W.states.length - 1];
    if (!last || last.s !== s) W.states.push({t: performance.now(), s, view: !!v, n: g.length, ready});
    const c = document.querySelectorAll(cells)[k];
    const nf = c && c.querySelector('.seqviz-notfit');
    if (nf) W.notfit = nf.textContent.trim().slice(0, 300);
    if (!W.stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

# frames logged by bench_controls' monitor between page times a and b: [t, [plot ids changed], text changed?]
FRAMES_JS = """([a, b]) => window.__bench.log.filter(e => e.t > a && e.t <= b).map(e => [e.t,
  Array.from(new Set(e.paths.filter(p => p[0] === 'P').map(p => p.split('|')[0].slice(1)))),
  e.paths.some(p => p[0] === 'T')])"""


def open_lesson(page, url: str, nb: str, folder: str = "lessons") -> None:
    page.goto(f"{url}lab/tree/{folder}/{nb}?reset&token={TOKEN}", timeout=120_000)
    page.locator(f"{PANEL} .jp-Notebook").first.wait_for(timeout=120_000)
    t_end = time.monotonic() + 180
    while "| Idle" not in " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts()):
        if time.monotonic() > t_end:
            raise RuntimeError("the kernel did not start in 180 s")
        page.wait_for_timeout(200)


def select_cell(page, k: int):
    cell = page.locator(CELL).nth(k)
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").first.click()  # selects the cell, command mode (not its editor)
    return cell


def run_above(page, k: int) -> float:
    """Run every cell above cell k (Run All Above Selected Cell); seconds until they have all run."""
    select_cell(page, k)
    t0 = time.monotonic()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Above Selected Cell", exact=True).click()
    t_end = time.monotonic() + 300
    while not page.evaluate(ABOVE_DONE, [CELL, k]):
        if time.monotonic() > t_end:
            raise RuntimeError("the cells above the your-own-model cell did not finish in 300 s")
        page.wait_for_timeout(200)
    errors = page.evaluate(ERRORS, PANEL)
    if errors:
        raise RuntimeError(f"a cell above the your-own-model cell failed: {errors[0]}")
    return time.monotonic() - t0


CELL_DONE = """([sel, i]) => /\\[\\d+\\]/.test(
  (document.querySelectorAll(sel)[i].querySelector('.jp-InputPrompt') || {}).textContent || '')"""


def run_cells(page, indices: list[int]) -> float:
    """Run these cells one by one (Ctrl+Enter, each once the one before has finished); seconds."""
    t0 = time.monotonic()
    for i in indices:
        select_cell(page, i)
        page.keyboard.press("Control+Enter")
        t_end = time.monotonic() + 300
        while not page.evaluate(CELL_DONE, [CELL, i]):
            if time.monotonic() > t_end:
                raise RuntimeError(f"cell #{i} did not finish in 300 s")
            page.wait_for_timeout(100)
        errors = page.evaluate(ERRORS, PANEL)
        if errors:
            raise RuntimeError(f"cell #{i} failed: {errors[0]}")
    return time.monotonic() - t0


def first_render(page, k: int, view: str = VIEW) -> dict:
    """Run cell k alone (Ctrl+Enter); ms from the key press to every plot of ``view`` holding data."""
    select_cell(page, k)
    page.evaluate(FIRST_JS, [view, CELL, k])
    page.keyboard.press("Control+Enter")
    t_end = time.monotonic() + RENDER_CAP_S
    out: dict = {}
    while True:
        page.wait_for_timeout(200)
        w = page.evaluate("() => ({...window.__first, now: performance.now()})")
        last = w["states"][-1] if w["states"] else None
        if w["notfit"]:
            out["notfit"] = w["notfit"]
            break
        errors = page.evaluate(ERRORS, PANEL)
        if errors:
            out["error"] = errors[0]
            break
        if last and last["ready"] and w["now"] - last["t"] >= STABLE_MS:
            break
        if time.monotonic() > t_end:
            out["error"] = (f"not every plot of the view held data after {RENDER_CAP_S} s" if last and last["view"]
                            else f"no {view.split()[-1]} view after {RENDER_CAP_S} s")
            break
    page.evaluate("() => { window.__first.stop = true; }")
    press = w["press"]
    shown = next((s for s in w["states"] if s["view"]), None)
    if press is not None and shown:
        out["view_ms"] = shown["t"] - press
    if press is not None and last and last["ready"]:
        out["ms"], out["plots"] = last["t"] - press, last["n"]
    if press is None:
        out.setdefault("error", "the Ctrl+Enter key press did not reach the page")
    return out


def refresh_rates(page, seconds: float) -> list[str]:
    """Press each Train button of the view; plot frames changed per second while it trains."""
    out = []
    buttons = [b for b in page.evaluate("() => window.__bench.buttons()")
               if b["text"] in TRAIN_LABELS and not b["hidden"] and not b["disabled"]]
    if not buttons:
        return ["no Train button in the view"]
    for b in buttons:
        tr = Trainer(page, b["id"], b["text"])
        try:
            # (not Trainer.start: it counts changes from 0.3 s after the click on, which a job done sooner never shows)
            t_click = page.evaluate("() => window.__bench.now()")
            tr._click(b["id"])
            t0, kind = time.monotonic(), None
            while time.monotonic() < t0 + 30:
                page.wait_for_timeout(100)
                if tr.text() in STOP_LABELS:
                    kind = "training"  # the button turned into Pause / Stop
                    break
                now = page.evaluate("() => window.__bench.now()")
                job = [f for f in page.evaluate(FRAMES_JS, [t_click, now]) if f[1]]
                if job and now - job[-1][0] >= 1000 and tr.text() in TRAIN_LABELS:
                    kind = "short"  # plots changed, then the page went still: a job that ended by itself
                    break
                if job and now - job[-1][0] < 1000 and time.monotonic() > t0 + 3:
                    kind = "training"  # still changing after 3 s, with no Pause: it trains on
                    break
            if kind is None:
                out.append(f"{b['text']}: training did not start (no plot changed within 30 s)")
                continue
            if kind == "short":
                out.append(f"{b['text']}: a job that ends by itself (no Pause): {len(job)} frames with a "
                           f"changed plot, the first {job[0][0] - t_click:.0f} ms and the last "
                           f"{job[-1][0] - t_click:.0f} ms after the click")
                continue
            tr.toggles = tr.text() in STOP_LABELS
            page.wait_for_timeout(1000)
            t1 = page.evaluate("() => window.__bench.now()")
            page.wait_for_timeout(int(seconds * 1000))
            t2 = page.evaluate("() => window.__bench.now()")
            frames = page.evaluate(FRAMES_JS, [t1, t2])
            running = tr.running()
        finally:
            try:
                tr.stop()
            except Exception as e:  # noqa: BLE001
                log(f"  could not stop training: {short(e)}")
        secs = (t2 - t1) / 1000
        plot_t = [f[0] for f in frames if f[1]]
        per_pane: dict[str, int] = {}
        for f in frames:
            for pid in f[1]:
                per_pane[pid] = per_pane.get(pid, 0) + 1
        names = {pid: page.evaluate("id => window.__bench.paneName(id)", pid) for pid in per_pane}
        gaps = [b_ - a_ for a_, b_ in zip(plot_t, plot_t[1:])]
        g = (f"gaps p50 {p50_p95(gaps)[0]:.0f} / p95 {p50_p95(gaps)[1]:.0f} / max {max(gaps):.0f} ms"
             if gaps else "no two changed frames")
        texts = sum(1 for f in frames if f[2])
        panes = ", ".join(f"{names[p]} {n / secs:.1f}/s" for p, n in sorted(per_pane.items(), key=lambda x: -x[1]))
        out.append(f"{b['text']}: {len(plot_t) / secs:.1f} frames/s with a changed plot over {secs:.1f} s ({g}); "
                   f"per pane: {panes or 'none'}; text widgets changed in {texts / secs:.1f} frames/s"
                   + ("" if running else "; training had stopped by the end"))
    return out


def measure_lesson(b, url: str, nb: str, k: int, a) -> tuple[list[str], list]:
    """Lines for the lesson's header and bench_controls results for its view."""
    ctx = b.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    lines: list[str] = []
    results: list = []
    try:
        open_lesson(page, url, nb)
        s_above = run_above(page, k)
        log(f"== {nb}: cells above the your-own-model cell (#{k}) ran in {s_above:.1f} s")
        fr = first_render(page, k)
        if "ms" in fr:
            lines.append(f"first render: {fr['ms'] / 1000:.2f} s from Ctrl+Enter to all {fr['plots']} plots of the view "
                         f"holding data (the view itself showed after {fr.get('view_ms', float('nan')) / 1000:.2f} s); "
                         f"the {k} cells above it ran first, in {s_above:.1f} s")
        if "notfit" in fr:
            lines.append(f"the cell shows one sentence instead of a view: {fr['notfit']!r}")
        if "error" in fr:
            lines.append(f"first render: {fr['error']}")
        if "ms" not in fr:
            return lines, results
        log(f"  first render {fr['ms'] / 1000:.2f} s, {fr['plots']} plots")
        if a.shots:
            a.shots.mkdir(parents=True, exist_ok=True)
            size = page.viewport_size  # a window as tall as the view: JupyterLab scrolls inside the notebook
            tall = page.evaluate(f"Math.ceil(document.querySelector('{VIEW}').getBoundingClientRect().height) + 300")
            page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(tall, 6000))})
            try:
                page.locator(VIEW).first.screenshot(path=str(a.shots / f"bench_yours_{nb[:2]}.png"))
            finally:
                page.set_viewport_size(size)
        page.set_default_timeout(8000)
        from bench_controls import MONITOR_JS

        page.evaluate(MONITOR_JS, VIEW)
        page.evaluate("() => window.__bench.quiet(1000, 20000)")
        if a.phases != "idle":
            for line in refresh_rates(page, a.train_s):
                lines.append("while training: " + line)
                log("  " + line)
        bench = Bench(page, nb, a.n, a.controls, root=VIEW)
        results = bench.run(a.phases)
        st = bench.monitor
        if st:
            lines.append(f"monitor cost {st['scanMean']:.2f} ms mean, {st['scanMax']:.0f} ms max per frame over "
                         f"{st['leaves']} leaves")
        errors = page.evaluate(ERRORS, PANEL)
        if errors:
            lines.append(f"error output in the notebook after the run: {errors[0]}")
    except Exception as e:  # noqa: BLE001 - the next lesson goes on
        log(f"== {nb}: {traceback.format_exc()}")
        lines.append(f"error: {short(e)}")
    finally:
        try:
            shut_down_kernels(url)
        except Exception:  # noqa: BLE001
            pass
        ctx.close()
    return lines, results


def lesson_dashboard(b, url: str, nb: str, k: int, a) -> list[str]:
    """The lesson's own dashboard (its last code cell) in the same JupyterLab, on a fresh kernel that ran
    the lesson's cells without the your-own-model cell: its first render and refreshes while training,
    for comparison (its every control: bench_controls.py, under Voila)."""
    cells = json.loads((a.lessons / nb).read_text())["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    d = code[-1]
    if d == k:
        return ["the your-own-model cell is the last code cell: no lesson dashboard after it to compare with"]
    ctx = b.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    lines = []
    try:
        open_lesson(page, url, nb, "compare")
        secs = run_cells(page, [i for i in code if i < d and i != k])
        fr = first_render(page, d, LESSON_VIEW)
        if "ms" not in fr:
            return [f"the lesson's dashboard (cell #{d}): {fr.get('error') or fr.get('notfit')}"]
        lines.append(f"the lesson's own dashboard (cell #{d}, for comparison; the lesson's other cells ran first, "
                     f"without the your-own-model cell, in {secs:.1f} s): first render {fr['ms'] / 1000:.2f} s to all "
                     f"{fr['plots']} plots holding data")
        from bench_controls import MONITOR_JS

        page.set_default_timeout(8000)
        page.evaluate(MONITOR_JS, LESSON_VIEW)
        page.evaluate("() => window.__bench.quiet(1000, 20000)")
        for line in refresh_rates(page, a.train_s):
            lines.append("the lesson's dashboard while training: " + line)
            log("  lesson's dashboard: " + line)
    except Exception as e:  # noqa: BLE001
        log(f"== {nb} (lesson's dashboard): {traceback.format_exc()}")
        lines.append(f"the lesson's dashboard: error: {short(e)}")
    finally:
        try:
            shut_down_kernels(url)
        except Exception:  # noqa: BLE001
            pass
        ctx.close()
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", help="notebook name prefix, e.g. 05 or 05_conv (may be repeated)")
    ap.add_argument("--n", type=int, default=8, help="presses per control and phase (default 8)")
    ap.add_argument("--controls", help="only controls whose label contains this text")
    ap.add_argument("--phases", choices=("both", "idle"), default="both")
    ap.add_argument("--fast", action="store_true", help="run the lessons with SEQVIZ_FAST=1 (as the tests do)")
    ap.add_argument("--train-s", type=float, default=6.0, help="seconds of training counted for the refresh rate")
    ap.add_argument("--no-compare", dest="compare", action="store_false",
                    help="skip the lesson's own dashboard (first render and refreshes, for comparison)")
    ap.add_argument("--shots", type=Path, help="save a screenshot of each view, once drawn, into this folder")
    ap.add_argument("--lessons", type=Path, default=ROOT / "lessons", help="the folder of notebooks (default lessons/)")
    a = ap.parse_args()
    from bench_browser import torch_import_s

    nbs = [(p.name, *own_model_cell(p)) for p in sorted(a.lessons.glob("*.ipynb"))
           if not a.only or any(p.name.startswith(o) for o in a.only)]
    nbs = [(nb, k, tagged) for nb, k, tagged in nbs if k is not None]
    print(f"your-own-model views in JupyterLab, every control: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
          f"cores, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} at start; `import torch` in a fresh "
          f"process took {torch_import_s():.2f} s; {a.n} presses per control and phase; SEQVIZ_FAST "
          f"{'=1' if a.fast else 'unset'}; headless Chromium; lessons from {a.lessons}", flush=True)
    if not nbs:
        print(f"- no lesson{' matching ' + ', '.join(a.only) if a.only else ''} has a cell tagged {TAG!r}")
        return
    t_all = time.monotonic()
    try:
        with jupyterlab(a.lessons, a.fast) as url, browser() as b:
            for nb, k, tagged in nbs:
                t0 = time.monotonic()
                lines, results = measure_lesson(b, url, nb, k, a)
                if a.compare and a.phases != "idle":
                    lines += lesson_dashboard(b, url, nb, k, a)
                how = "your-own-model cell" if tagged else f"not tagged {TAG!r}: the code cell under '## Your own model'"
                print(f"\n### {nb[:-6]} (cell #{k}, {how}; {time.monotonic() - t0:.0f} s; load average "
                      f"{os.getloadavg()[0]:.1f})")
                for line in lines:
                    print(f"- {line}")
                if results:
                    print(table(results))
                sys.stdout.flush()
    except KeyboardInterrupt:
        print("- interrupted: the tables above hold what was measured")
    print(f"\n- whole run {time.monotonic() - t_all:.0f} s; load average at the end "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
