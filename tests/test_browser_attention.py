"""The attention lesson in a real headless Chromium through Voila: plots drawn, a
switch and typed text change them from the browser, training grows the curves."""

from __future__ import annotations

import pytest

from tests.conftest import by_meta, wait_until, SHOTS, assert_no_error_text, open_dashboard, screenshot

pytestmark = pytest.mark.browser
LESSON = "06_attention_transformers.ipynb"


def upper(z):
    return [z[i][j] for i in range(len(z)) for j in range(i + 1, len(z))]


def test_attention_dashboard_in_the_browser(voila_url, page):
    page.set_viewport_size({"width": 1400, "height": 2200})
    open_dashboard(page, voila_url, LESSON, n_plots=6)
    # Let every plot pane finish their first draw: an update that arrives while plotly.js
    # is still drawing the figure for the first time was lost in some runs.
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot')).every("
                           "g => g._fullLayout && g._fullData && g._fullData.length === g.data.length"
                           " && !(g._promises && g._promises.length))", timeout=60_000)
    page.wait_for_timeout(1500)
    z = by_meta(page, "self")["z"]
    assert len(z) == len("Simple is better than complex.") and all(len(r) == len(z) for r in z)
    assert all(w == 0 for w in upper(z))  # causal mask: exact zeros above the diagonal
    assert len(by_meta(page, "align")["z"]) == 8
    assert "Computing on:" in page.inner_text("body")

    # The query slider from the keyboard: its small pane shows row i of the drawn matrix, and the box
    # on the matrix follows (it waits until the query's pane is drawn).
    handle = page.locator(".widget-slider", has=page.locator("label:text-is('Query token i')")).locator(".noUi-handle")
    handle.press("ArrowLeft")
    i = 4  # the default query is 5
    assert wait_until(page, lambda: by_meta(page, "query")["y"] == by_meta(page, "self")["z"][i]), (
        f"query bar {by_meta(page, 'query')['y'][:4]} vs row {i} {by_meta(page, 'self')['z'][i][:4]}")
    assert wait_until(page, lambda: min(by_meta(page, "self_sel")["y"]) == i - 0.5)
    assert min(by_meta(page, "qkv_sel")["y"]) == i - 0.5

    # A switch from the browser: without the causal mask every token sees every token.
    page.get_by_role("checkbox", name="Causal mask (no looking ahead)").uncheck()
    assert wait_until(page, lambda: all(w > 0 for w in upper(by_meta(page, "self")["z"]))), (
        f"status: {page.inner_text('.seqviz-status')!r}; console errors: {page.console_errors[:3]}")

    # Typed text: the matrix follows it; unusual characters get a sentence.
    box = page.get_by_role("textbox", name="Text to look at")
    box.fill("Now is better than never \u00e9\U0001F600")
    box.press("Enter")
    assert wait_until(page, lambda: len(by_meta(page, "self")["z"]) == len("Now is better than never \u00e9\U0001F600"))
    assert wait_until(page, lambda: "never saw" in page.inner_text(".seqviz-status"))

    # Train part 1: the loss curves grow and the alignment matrix changes; then Stop.
    before = by_meta(page, "align")["z"]
    page.get_by_role("button", name="Train").first.click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_att")["x"]) >= 20)
    n1 = len(by_meta(page, "loss_att")["x"])
    assert wait_until(page, lambda: len(by_meta(page, "loss_att")["x"]) > n1 + 20)
    assert by_meta(page, "align")["z"] != before
    page.get_by_role("button", name="Stop").first.click()
    assert wait_until(page, lambda: "Paused" in page.inner_text(".seqviz-status"), 20)
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
    page.set_viewport_size({"width": 1400, "height": 4200})  # Voila scrolls inside the page: make it tall
    page.wait_for_timeout(500)
    screenshot(page, "attention")
    for i, plot in enumerate(page.locator(".js-plotly-plot").all()):
        plot.screenshot(path=str(SHOTS / f"attention_figure{i + 1}.png"))
