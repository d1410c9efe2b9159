"""The receptive-field lesson in a real headless Chromium through Voila."""

import pytest

from tests.conftest import by_meta, wait_until, assert_no_error_text, open_dashboard, screenshot

pytestmark = pytest.mark.browser
NOTEBOOK = "05_convolutions_tcn.ipynb"


def values(trace, key):
    return [v for v in (trace.get(key) or []) if v is not None]


def test_receptive_field_dashboard_in_the_browser(voila_url, page):
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=4)
    # four panes (diagram; gradients + causality; race | parameters), each redrawn alone
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 4
    assert len(values(by_meta(page, "active"), "x")) == 71  # output t=70 sees inputs 0..70, drawn at once
    assert len(by_meta(page, "nodes")["z"]) == 7  # input row + 6 blocks
    assert len(by_meta(page, "analytic")["x"]) == 71  # k=3, 6 doubling blocks: output 70 sees inputs 0..70
    assert "Computing on:" in page.inner_text("body")

    # The output position from the keyboard: the diagram, then the gradients and causality follow.
    handle = page.locator(".widget-slider", has=page.locator("label:text-is('Output position t')")).locator(".noUi-handle")
    for _ in range(3):
        handle.press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "output")["x"] == [67])
    assert len(values(by_meta(page, "active"), "x")) == 68
    assert wait_until(page, lambda: max(by_meta(page, "analytic")["x"]) == 67 and by_meta(page, "cut")["x"][0] == 67.5)
    for _ in range(3):
        handle.press("ArrowRight")
    assert wait_until(page, lambda: by_meta(page, "output")["x"] == [70] and max(by_meta(page, "analytic")["x"]) == 70)

    # Centred padding from the browser: outputs before t now move when the future changes.
    assert max(by_meta(page, "delta")["y"][:71]) == 0  # causal: nothing at or before t=70 moves
    page.get_by_role("button", name="centred").click()
    assert wait_until(page, lambda: max(by_meta(page, "delta")["y"][:71]) > 0)
    page.get_by_role("button", name="causal").click()
    assert wait_until(page, lambda: max(by_meta(page, "delta")["y"][:71]) == 0)

    # Custom dilations typed in the browser: k=3 with 1, 4 leaves holes, marked on the inputs.
    assert values(by_meta(page, "holes"), "x") == []
    page.get_by_role("button", name="custom").click()
    box = page.get_by_role("textbox", name="Custom dilations")
    box.fill("1, 4")
    box.press("Enter")
    assert wait_until(page, lambda: len(values(by_meta(page, "holes"), "x")) > 0)
    box.fill("1, 2, 4, ∞")  # garbage: one sentence, nothing lost
    box.press("Enter")
    assert wait_until(page, lambda: "whole numbers" in page.inner_text("body"))
    page.get_by_role("button", name="doubling").click()
    assert wait_until(page, lambda: values(by_meta(page, "holes"), "x") == [])

    # Race: the curves grow while training; Stop ends it.
    page.get_by_role("button", name="Train").click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_tcn")["x"]) >= 20)
    n1 = len(by_meta(page, "loss_lstm")["x"])
    assert wait_until(page, lambda: len(by_meta(page, "loss_lstm")["x"]) > n1 + 20)
    assert "own seconds" in page.inner_text("body")  # the results table filled in
    page.get_by_role("button", name="Stop").click()
    try:
        page.get_by_role("button", name="Train").wait_for(timeout=60_000)
    except Exception:
        screenshot(page, "receptive_field_fail")
        raise
    assert wait_until(page, lambda: "Stopped" in page.inner_text("body") or "Reached" in page.inner_text("body"))
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
    page.set_viewport_size({"width": 1400, "height": 1700})
    screenshot(page, "receptive_field")
