"""The batching lesson in a real browser: Voila + headless Chromium, nothing fetched from outside."""

from __future__ import annotations

import pytest

from tests.conftest import SHOTS, assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser

LESSON = "01_sequences_as_tensors.ipynb"


def trace(page, meta):
    return by_meta(page, meta)


def status(page) -> str:
    return page.inner_text(".seqviz-status")


def rest_layout(page) -> dict:
    return page.evaluate("""() => { const g = document.querySelectorAll('.js-plotly-plot')[2];
        return JSON.parse(JSON.stringify({annotations: g.layout.annotations, xaxis6: g.layout.xaxis6,
                                          yaxis6: g.layout.yaxis6})); }""")


def lit(page):
    return [(r, c) for r, row in enumerate(trace(page, "packed")["z"]) for c, v in enumerate(row) if v == 2]


def send_text(page, text):
    box = page.locator("textarea").first
    box.fill(text)
    box.press("Tab")  # the text is sent when the box loses focus


def test_batching_dashboard_in_browser(page, voila_url):
    page.set_viewport_size({"width": 1400, "height": 3200})  # tall: Voila scrolls inside the page
    open_dashboard(page, voila_url, LESSON, n_plots=3)  # three plot panes
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".js-plotly-plot").nth(2).screenshot(path=str(SHOTS / "batching_initial_rest.png"))
    grid = trace(page, "grid")
    assert grid["z"] and len(grid["y"]) == 8  # the sample sentences, batch of 8
    assert_no_error_text(page)

    # Before Measure the timing panel holds a message in its plot area, not empty axes.
    lay = rest_layout(page)
    hint = lay["annotations"][-1]
    assert "Nothing measured yet" in hint["text"] and hint.get("visible", True) is not False
    assert lay["xaxis6"]["visible"] is False and lay["yaxis6"]["visible"] is False
    assert "Nothing measured yet" in page.locator(".js-plotly-plot").nth(2).inner_text()  # drawn, not only data

    # Pad on the left: the mask moves to the right end of every row.
    page.get_by_role("button", name="left", exact=True).click()
    assert wait_until(page, lambda: trace(page, "grid")["z"] != grid["z"])
    assert all(row[-1] == 1 for row in trace(page, "grid")["z"])

    # The step slider moves the highlight in the packed grid to column t = 1: batch_sizes[1] rows.
    handle = page.locator(".widget-slider", has=page.locator("label:text-is('Packed step t')")).locator(".noUi-handle")
    handle.press("ArrowRight")
    assert wait_until(page, lambda: lit(page) and all(c == 1 for _, c in lit(page)))
    assert len(lit(page)) == trace(page, "bsizes")["y"][1]

    # Type two sentences: the batch becomes 2 rows; panel 3 draws both sequences.
    send_text(page, "hello there world\nhi")
    assert wait_until(page, lambda: len(trace(page, "grid")["y"]) == 2)
    assert wait_until(page, lambda: trace(page, "bsizes")["y"] == [2, 1, 1])
    assert wait_until(page, lambda: len(trace(page, "w_rand_real")["x"]) == 2)

    # Bad input from the browser: one sentence each, the plots keep the last batch, the warning
    # goes once the text is clean again.
    send_text(page, "   ")
    assert wait_until(page, lambda: "previous text is kept" in status(page))
    assert len(trace(page, "grid")["y"]) == 2
    send_text(page, "e\u0301🙂\u202e\u0000\nok")
    assert wait_until(page, lambda: "direction" in status(page))
    assert wait_until(page, lambda: len(trace(page, "grid")["y"]) == 2 and "é" in str(trace(page, "grid")["text"]))
    send_text(page, "word " * 20_000)  # 100,000 characters
    assert wait_until(page, lambda: "only the first 20000" in status(page), timeout=120)
    assert "direction" not in status(page)  # that text is gone, and so is what was said about it
    send_text(page, "the cat sat on the mat\na dog barked\nsequences come in many lengths")
    assert wait_until(page, lambda: len(trace(page, "grid")["y"]) == 3)
    assert wait_until(page, lambda: "only the first" not in status(page))
    box = page.locator(".widget-inline-hbox", has=page.locator("label:text-is('Batch size B')")).locator("input")
    box.click()
    box.press("Control+a")
    page.keyboard.type("1e999")
    box.press("Enter")
    assert wait_until(page, lambda: "Batch size B" in status(page))
    assert len(trace(page, "grid")["y"]) == 3
    box.click()
    box.press("Control+a")
    page.keyboard.type("8")
    box.press("Enter")  # a clean value: the sentence about the bad one goes
    assert wait_until(page, lambda: "Batch size B" not in status(page))
    assert_no_error_text(page)

    # Measure the LSTM: four timing bars appear, named by the device they ran on, said to be medians.
    page.get_by_role("button", name="Measure").click()
    handle.press("ArrowRight")  # a control still answers while measuring
    assert wait_until(page, lambda: lit(page) and all(c == 2 for _, c in lit(page)))
    assert wait_until(page, lambda: len(trace(page, "time")["y"]) == 4, timeout=120)
    assert wait_until(page, lambda: "Measured on" in page_text(page))
    assert "median of 3 runs" in page_text(page)
    lay = rest_layout(page)
    assert lay["annotations"][-1]["visible"] is False and lay["yaxis6"]["visible"] is True
    assert "median of 3 runs" in lay["yaxis6"]["title"]["text"]
    assert_no_error_text(page)
    assert page.external == [], page.external
    screenshot(page, "batching")
    for i, part in enumerate(("grid", "packed", "rest")):
        page.locator(".js-plotly-plot").nth(i).screenshot(path=str(SHOTS / f"batching_{part}.png"))

    # Random lengths (the lesson's data set): every sequence drawn in panel 3, labels whole.
    page.get_by_role("button", name="random lengths").click()
    assert wait_until(page, lambda: len(trace(page, "w_rand_real")["x"]) > 8)
    n = len(trace(page, "w_rand_real")["x"])
    assert wait_until(page, lambda: len(trace(page, "w_sorted_real")["x"]) == n)
    assert wait_until(page, lambda: "data changed" in rest_layout(page)["annotations"][-1]["text"])
    assert_no_error_text(page)
    screenshot(page, "batching_random")
    for i, part in enumerate(("grid", "packed", "rest")):
        page.locator(".js-plotly-plot").nth(i).screenshot(path=str(SHOTS / f"batching_random_{part}.png"))
