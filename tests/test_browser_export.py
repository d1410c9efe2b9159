"""Issue 18 in a real browser through Voila: knobs from the address (clamped, one sentence), Copy link
reopens the same settings, Save settings gives a snippet that names them, every pane saves PNG / SVG /
CSV / JSON offline (the CSV holds the numbers the plot draws), the presenter view, and panes that
fit a laptop window."""

import csv
import io
import json

import pytest

from tests.conftest import SHOTS, assert_no_error_text, by_meta, open_dashboard, page_text, plot_data, wait_until

pytestmark = pytest.mark.browser

LESSON = "03_rnn_bptt.ipynb"


def shot(page, name: str, path=None):
    """The dashboard itself (Voila scrolls inside the page: a full-page shot shows the prose only)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    h = page.evaluate("Math.ceil(document.querySelector('.seqviz-dashboard').getBoundingClientRect().height) + 400")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(h, 6000))})
    try:
        page.locator(".seqviz-dashboard").first.screenshot(path=str(path or SHOTS / f"{name}.png"))
    finally:
        page.set_viewport_size(size)


def modebar_download(page, plot_index: int, title: str):
    plot = page.locator(".js-plotly-plot").nth(plot_index)
    plot.hover()
    with page.expect_download() as dl:
        plot.locator(f".modebar-btn[data-title='{title}']").click()
    d = dl.value
    return d.suggested_filename, open(d.path(), "rb").read()


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("""() => {
      const doc = document.documentElement;
      if (doc.scrollWidth > doc.clientWidth + 1) return false;
      return Array.from(document.querySelectorAll('.seqviz-dashboard')).every(d => {
        const r = d.getBoundingClientRect();
        return Array.from(d.querySelectorAll('.js-plotly-plot, .widget-box, .widget-html')).every(p => {
          const q = p.getBoundingClientRect();
          return q.width === 0 || (q.left >= r.left - 1 && q.right <= r.right + 1);
        });
      });
    }""")


def test_address_link_settings_and_export(voila_url, page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=voila_url.rstrip("/"))
    open_dashboard(page, voila_url, LESSON + "?T=40&lr=5&bogus=1", n_plots=5)
    assert len(by_meta(page, "graph_net")["x"]) == 40  # built with the address's T
    text = page_text(page)
    assert "Learning rate must be at most 1.0" in text and "'bogus'" in text
    assert_no_error_text(page)
    assert wait_until(page, lambda: no_horizontal_overflow(page), 20)
    shot(page, "export_voila_1280")

    # Copy link: the address with this dashboard's knobs; opening it gives the same settings.
    page.get_by_role("button", name="Copy link").click()
    link = page.locator(".seqviz-link").input_value()
    assert "T=40" in link and "lr=1.0" in link and "bogus" not in link and "/voila/render/" + LESSON in link
    assert wait_until(page, lambda: "Link copied: " + link in page_text(page), 20)
    assert page.evaluate("navigator.clipboard.readText()") == link

    # Save settings: the knobs and a snippet that rebuilds the dashboard with them.
    with page.expect_download() as dl:
        page.get_by_role("button", name="Save settings (.py)").click()
    snippet = open(dl.value.path()).read()
    assert "'T': 40" in snippet and "'lr': 1.0" in snippet and "GradientFlowDashboard(state)" in snippet
    compile(snippet, "snippet.py", "exec")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Save settings (.json)").click()
    saved = json.loads(open(dl.value.path()).read())
    assert saved["settings"]["T"] == 40 and saved["settings"]["lr"] == 1.0

    # Every pane: PNG and SVG drawn by plotly.js in the page, the data as CSV and JSON.
    n = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
    for i in range(n):
        name, png = modebar_download(page, i, "Save as PNG")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and name.endswith(".png") and name.startswith("seqviz-03-rnn-bptt")
    _, svg = modebar_download(page, 0, "Save as SVG")
    assert svg.lstrip().startswith(b"<svg")
    # the CSV holds what the plot draws, point by point (heatmaps cell by cell)
    data = plot_data(page, 0)
    _, raw = modebar_download(page, 0, "Save the data as CSV")
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    expect = 0
    for t in data:
        z = t.get("z")
        if isinstance(z, list) and z and isinstance(z[0], list):
            expect += sum(len(r) for r in z)
        else:
            expect += max(len(t.get("x") or []), len(t.get("y") or []))
    assert len(rows) == expect > 0
    _, raw = modebar_download(page, 0, "Save the data as JSON")
    assert [t.get("meta") for t in json.loads(raw)["traces"]] == [t.get("meta") for t in data]

    # The link reopens the dashboard with the same settings.
    page.goto(link)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5"
                           " && Array.from(document.querySelectorAll('.js-plotly-plot')).every(g => g.data && g.data.length)",
                           timeout=90_000)
    assert len(by_meta(page, "graph_net")["x"]) == 40
    assert "Learning rate must be" not in page_text(page)  # 1.0 is in range: nothing to say
    assert_no_error_text(page)


def test_presenter_view(voila_url, page):
    page.set_viewport_size({"width": 1920, "height": 1080})
    open_dashboard(page, voila_url, LESSON + "?presenter=1", n_plots=5)
    assert page.evaluate("document.body.classList.contains('seqviz-presenter')")
    visible_prose = page.evaluate("""() => Array.from(document.querySelectorAll('.jp-MarkdownCell'))
        .filter(c => c.offsetParent !== null).length""")
    assert visible_prose == 0 and page.evaluate("document.querySelectorAll('.jp-MarkdownCell').length") > 0
    loss = page.evaluate("""() => { const g = Array.from(document.querySelectorAll('.js-plotly-plot'))
        .find(g => g.data.some(t => t.meta === 'loss_other'));
        return [g._fullLayout.font.size, (g.data.find(t => t.meta === 'loss_other').line || {}).width]; }""")
    assert loss[0] >= 16 and loss[1] >= 3  # larger type, thicker lines
    label = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.seqviz-dashboard .widget-label')).fontSize)")
    assert label >= 18
    page.get_by_role("button", name="Train").click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_other")["x"]) >= 10)
    page.get_by_role("button", name="Pause").click()
    assert wait_until(page, lambda: "Paused at step" in page_text(page))
    assert wait_until(page, lambda: no_horizontal_overflow(page), 20)
    assert_no_error_text(page)
    shot(page, "presenter_1920")
