"""Every lesson in JupyterLab, as a student opens it (issue 18): Run All, the plots are drawn, a
control moves a plot, no error output, and the dashboard fits the notebook's output area (no
horizontal overflow, no pane past the dashboard's edge) at a laptop's 1280 x 800 and a projector's
1920 x 1080. One JupyterLab server for the module, lessons in fast mode (SEQVIZ_FAST=1), one page
reused, each lesson's kernel shut down before the next."""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SHOTS, eventually, free_port, stop_process_group

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb"))
TOKEN = "seqviz-lab-test"
SIZES = [(1280, 800), (1920, 1080)]


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "lessons"  # a copy: Run All and autosave write outputs into the notebooks
    shutil.copytree(ROOT / "lessons", work)
    settings = tmp / "settings"
    for path, value in {
        # every cell rendered, not only the ones scrolled into view
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
    }.items():
        (settings / path).parent.mkdir(parents=True, exist_ok=True)
        (settings / path).write_text(json.dumps(value))
    port = free_port()
    env = {**os.environ, "SEQVIZ_FAST": "1", "OMP_NUM_THREADS": "1", "SEQVIZ_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / "jupyterlab-test.log", "w")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={work}", f"--IdentityProvider.token={TOKEN}",
           *(["--allow-root"] if os.geteuid() == 0 else [])]
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def answers():
        assert proc.poll() is None, "JupyterLab exited; see artifacts/jupyterlab-test.log"
        try:
            urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=2)
            return True
        except OSError:
            return False

    assert eventually(answers, 90, interval=0.3), "JupyterLab did not answer; see artifacts/jupyterlab-test.log"
    yield url
    stop_process_group(proc, 20)
    log.close()


def api(url: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{url}api/{path}?token={TOKEN}", method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


def shut_down_kernels(url: str) -> None:
    for k in api(url, "kernels"):
        api(url, f"kernels/{k['id']}", "DELETE")


@pytest.fixture(scope="module")
def lab_page(browser):
    ctx = browser.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    pg = ctx.new_page()
    yield pg
    ctx.close()


PLOTS_DRAWN = """(sel) => { const g = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) ' + (sel || '') + ' .js-plotly-plot'));
  return g.length > 0 && g.every(x => x.data && x.data.length > 0) ? g.length : 0; }"""
LESSON_VIEW = ".seqviz-dashboard:not(.seqviz-yours)"  # the lesson's own dashboard
OWN_VIEW = ".seqviz-yours"  # the view the "your own model" cell builds (widgets.kit.yours)


def has_own_model_cell(lesson: str) -> bool:
    nb = json.loads((ROOT / "lessons" / lesson).read_text())
    return any("your-own-model" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])

ALL_DATA = """(sel) => JSON.stringify(Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) ' + (sel || '') + ' .js-plotly-plot'))
  .map(g => g.data), (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v))"""

# Overflow: the output area scrolls sideways, or a pane / box reaches past its dashboard's edge.
FITS = """() => {
  const bad = [];
  for (const d of document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .seqviz-dashboard')) {
    const out = d.closest('.jp-OutputArea-output') || d.parentElement;
    if (out.scrollWidth > out.clientWidth + 1) bad.push('output area scrolls: ' + out.scrollWidth + ' > ' + out.clientWidth);
    const area = (d.closest('.jp-OutputArea') || out).getBoundingClientRect();
    for (const p of d.querySelectorAll('.js-plotly-plot, .widget-box, .widget-html, .widget-inline-hbox')) {
      const q = p.getBoundingClientRect();
      if (q.width > 0 && q.right > area.right + 1) bad.push((p.className || '').toString().slice(0, 40) + ' ends at ' + q.right + ' > ' + area.right);
    }
  }
  return bad.slice(0, 5);
}"""

ERRORS = """() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'))
  .filter(o => o.dataset.mimeType === 'application/vnd.jupyter.error'
          || (o.dataset.mimeType === 'application/vnd.jupyter.stderr' && /Traceback|Error/.test(o.innerText)))
  .map(o => o.innerText.slice(0, 300))"""


def run_all(page) -> None:
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def move_a_control(page, view: str = LESSON_VIEW) -> bool:
    """Press ArrowRight on sliders of ``view`` (then its Train, if there is one) until one of its plots changes."""
    data = lambda: page.evaluate(ALL_DATA, view)  # noqa: E731
    before = data()
    box = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {view}").first
    handles = box.locator(".noUi-handle")
    for i in range(min(handles.count(), 4)):
        h = handles.nth(i)
        if not h.is_visible():
            continue
        h.press("ArrowRight")
        if eventually(lambda: data() != before, 8, page=page):
            return True
    train = box.get_by_role("button", name="Train")
    if train.count():
        train.first.click()
        moved = eventually(lambda: data() != before, 30, page=page)
        box.get_by_role("button", name="Pause").first.click()
        return moved
    return False


def shot(page, name: str, view: str = LESSON_VIEW) -> None:
    """The window with the dashboard scrolled into view, and the whole dashboard (a tall window of the
    same width: JupyterLab scrolls inside the notebook, so a plain shot holds one screenful)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    d = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {view}").first
    d.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    size = page.viewport_size
    tall = page.evaluate(f"Math.ceil(document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) {view}')"
                         ".getBoundingClientRect().height) + 300")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(tall, 6000))})
    try:
        d.screenshot(path=str(SHOTS / f"{name}_dashboard.png"))
    finally:
        page.set_viewport_size(size)


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_in_jupyterlab(lab_url, lab_page, lesson):
    page = lab_page
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    page.goto(f"{lab_url}lab/tree/{lesson}?reset&token={TOKEN}", timeout=90_000)
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=90_000)
    # the kernel has started (the status bar says "Python 3 (ipykernel) | Idle")
    assert eventually(lambda: "| Idle" in " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts()), 120,
                      page=page), f"{lesson}: the kernel did not start"
    try:
        run_all(page)
        drawn = eventually(lambda: page.evaluate(PLOTS_DRAWN, LESSON_VIEW) > 0, 240, page=page)
        if not drawn:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"jupyterlab_{lesson[:2]}_failed.png"))
        assert drawn, f"{lesson}: no plots drawn after Run All"
        n = page.evaluate(PLOTS_DRAWN, LESSON_VIEW)
        assert page.evaluate(ERRORS) == []
        assert move_a_control(page), f"{lesson}: no control moved a plot"
        assert page.evaluate(PLOTS_DRAWN, LESSON_VIEW) == n
        if has_own_model_cell(lesson):  # the student's own model: its view draws, and a control of it moves a plot
            assert eventually(lambda: page.evaluate(PLOTS_DRAWN, OWN_VIEW) > 0, 120, page=page), \
                f"{lesson}: the your-own-model view drew no plot"
            assert move_a_control(page, OWN_VIEW), f"{lesson}: no control of the your-own-model view moved its plots"
            shot(page, f"jupyterlab_{lesson[:2]}_yours", OWN_VIEW)
        for w, h in SIZES:
            page.set_viewport_size({"width": w, "height": h})
            assert eventually(lambda: page.evaluate(FITS) == [], 15, page=page), (lesson, w, page.evaluate(FITS))
            shot(page, f"jupyterlab_{lesson[:2]}_{w}")
        assert page.evaluate(ERRORS) == []
    finally:
        shut_down_kernels(lab_url)
