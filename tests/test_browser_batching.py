"""The batching lesson in a real browser: Voila + headless Chromium, nothing fetched from outside."""

from __future__ import annotations

import time

from tests.conftest import SHOTS, assert_no_error_text, by_meta, open_dashboard, screenshot

LESSON = "01_sequences_as_tensors.ipynb"


def trace(page, meta):
    return by_meta(page, meta)


def wait_for(page, fn, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if fn():
                return True
        except (StopIteration, KeyError, IndexError):
            pass
        page.wait_for_timeout(150)
    return False


def test_batching_dashboard_in_browser(page, voila_url):
    page.set_viewport_size({"width": 1400, "height": 3200})  # tall: Voila scrolls inside the page
    open_dashboard(page, voila_url, LESSON, n_plots=3)  # three plot panes
    page.locator(".js-plotly-plot").nth(1).screenshot(path=str(SHOTS / "batching_initial_packed.png"))
    grid = trace(page, "grid")
    assert grid["z"] and len(grid["y"]) == 8  # the sample sentences, batch of 8
    assert_no_error_text(page)

    # Pad on the left: the mask moves to the right end of every row.
    page.get_by_role("button", name="left", exact=True).click()
    assert wait_for(page, lambda: trace(page, "grid")["z"] != grid["z"])
    z = trace(page, "grid")["z"]
    assert all(row[-1] == 1 for row in z)

    # The step slider moves the highlight in the packed grid to column t = 1: batch_sizes[1] rows.
    handle = page.locator(".widget-slider", has=page.locator("label:text-is('Packed step t')")).locator(".noUi-handle")
    handle.press("ArrowRight")
    lit = lambda: [(r, c) for r, row in enumerate(trace(page, "packed")["z"]) for c, v in enumerate(row) if v == 2]  # noqa: E731
    assert wait_for(page, lambda: lit() and all(c == 1 for _, c in lit()))
    assert len(lit()) == trace(page, "bsizes")["y"][1]

    # Type two sentences: the batch becomes 2 rows, the title says so.
    box = page.locator("textarea").first
    box.fill("hello there world\nhi")
    box.press("Tab")  # the text is sent when the box loses focus
    assert wait_for(page, lambda: len(trace(page, "grid")["y"]) == 2)
    assert wait_for(page, lambda: trace(page, "bsizes")["y"] == [2, 1, 1])

    # Bad input from the browser: an empty text keeps the plot and says why.
    box.fill("   ")
    box.press("Tab")
    assert wait_for(page, lambda: "still show the last batch" in page.inner_text(".seqviz-status"))
    assert len(trace(page, "grid")["y"]) == 2

    # Measure the LSTM: four timing bars appear, named by the device they ran on.
    page.get_by_role("button", name="Measure").click()
    assert wait_for(page, lambda: len(trace(page, "time")["y"]) == 4, timeout=90)
    assert "Measured on" in page.inner_text("body")
    assert_no_error_text(page)
    assert page.external == [], page.external
    screenshot(page, "batching")
    for i, part in enumerate(("grid", "packed", "rest")):
        page.locator(".js-plotly-plot").nth(i).screenshot(path=str(SHOTS / f"batching_{part}.png"))
