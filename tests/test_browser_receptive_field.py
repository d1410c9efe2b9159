"""The receptive-field lesson in a real headless Chromium through Voila, used like a person would:
keyboard on the sliders, typing into the custom-dilations box, Train pressed twice, the timeline
scrubbed; screenshots for a human to look at."""

import pytest

from tests.conftest import assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser
NOTEBOOK = "05_convolutions_tcn.ipynb"


def values(trace, key):
    return [v for v in (trace.get(key) or []) if v is not None]


def handle(page, label):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).locator(".noUi-handle")


def status(page):
    return page.locator(".seqviz-status").inner_text()


def test_receptive_field_dashboard_in_the_browser(voila_url, page):
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=4)
    try:
        _use_it(page)
    except Exception:
        screenshot(page, "receptive_field_fail")
        raise


def _use_it(page):
    # four panes (diagram; gradients + causality; race | parameters), each redrawn alone
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 4
    assert len(values(by_meta(page, "active"), "x")) == 71  # output t=70 sees inputs 0..70
    assert len(by_meta(page, "nodes")["z"]) == 7  # input row + 6 blocks
    assert len(by_meta(page, "analytic")["x"]) == 71
    assert by_meta(page, "current")["x"] == [127] and by_meta(page, "current")["y"] == [4097]  # count_parameters
    assert "Computing on:" in page_text(page)
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.get_by_text("Receptive fields of dilated causal convolutions").scroll_into_view_if_needed()
    screenshot(page, "receptive_field_open")

    # The output position from the keyboard: the diagram, then the gradients and causality follow.
    t = handle(page, "Output position t")
    for _ in range(3):
        t.press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "output")["x"] == [67])
    assert len(values(by_meta(page, "active"), "x")) == 68
    assert wait_until(page, lambda: max(by_meta(page, "analytic")["x"]) == 67 and by_meta(page, "cut")["x"][0] == 67.5)

    # Kernel size from the keyboard: a new diagram, then the new race's star (R = 1 + 3 * 63 = 190).
    handle(page, "Kernel size k").press("ArrowRight")
    assert wait_until(page, lambda: by_meta(page, "current")["x"] == [190])
    assert len(values(by_meta(page, "active"), "x")) == 68 and "Kernel size k changed" in status(page)
    handle(page, "Kernel size k").press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "current")["x"] == [127])

    # Centred padding: outputs before t now move when the future changes.
    assert max(by_meta(page, "delta")["y"][:68]) == 0
    page.get_by_role("button", name="centred").click()
    assert wait_until(page, lambda: max(by_meta(page, "delta")["y"][:68]) > 0)
    page.get_by_role("button", name="causal").click()
    assert wait_until(page, lambda: max(by_meta(page, "delta")["y"][:68]) == 0)

    # Custom dilations typed: bad ones get one sentence and change nothing; k=3 with 1, 4 leaves holes.
    page.get_by_role("button", name="custom").click()
    assert wait_until(page, lambda: by_meta(page, "current")["x"] == [1 + 2 * 21])  # 1, 4, 16
    box = page.get_by_role("textbox", name="Custom dilations")
    for bad, said in (("1, x, 4", "whole numbers"), ("", "was empty"), ("99999999", "each from 1 to 256")):
        box.fill(bad)
        box.press("Enter")
        assert wait_until(page, lambda: said in status(page) and box.input_value() == "1, 4, 16")
        assert status(page).count("previous") == 1 and by_meta(page, "current")["x"] == [43]
        assert_no_error_text(page)
    box.fill("1, 4")
    box.press("Enter")
    assert wait_until(page, lambda: len(values(by_meta(page, "holes"), "x")) > 0 and "previous" not in status(page))
    assert wait_until(page, lambda: by_meta(page, "current")["x"] == [11])  # 1 + 2 (1 + 4): the race followed
    screenshot(page, "receptive_field_holes")
    page.get_by_role("button", name="doubling").click()
    assert wait_until(page, lambda: values(by_meta(page, "holes"), "x") == [] and by_meta(page, "current")["x"] == [127])

    # Train pressed twice quickly: it trains, and says so; the curves grow.
    page.get_by_role("button", name="Train").dblclick()
    assert wait_until(page, lambda: "Already training" in status(page))
    assert wait_until(page, lambda: len(by_meta(page, "loss_tcn")["x"]) >= 20)
    n1 = len(by_meta(page, "loss_lstm")["x"])
    assert wait_until(page, lambda: len(by_meta(page, "loss_lstm")["x"]) > n1 + 20)
    assert page.get_by_role("button", name="Pause").is_enabled() and "racing" in page_text(page)
    assert "mean of last 10 steps" in page_text(page)  # the curves say what they average
    handle(page, "Race history").scroll_into_view_if_needed()  # (the table is replaced twice a second)
    screenshot(page, "receptive_field_racing")
    page.get_by_role("button", name="Pause").click()
    assert wait_until(page, lambda: "Paused" in status(page) and "paused" in page_text(page))
    assert "racing" not in page.locator(".seqviz-race").inner_text()  # the table agrees with the status line

    # The timeline: back in time, the curves stop earlier and the table says that point's steps.
    live = len(by_meta(page, "raw_tcn")["x"])
    scrub = handle(page, "Race history")
    for _ in range(6):
        scrub.press("ArrowLeft")
    assert wait_until(page, lambda: "move to the right end" in page_text(page)
                      and 0 < len(by_meta(page, "raw_tcn")["x"]) < live)
    screenshot(page, "receptive_field_scrubbed")
    for _ in range(6):
        scrub.press("ArrowRight")
    assert wait_until(page, lambda: len(by_meta(page, "raw_tcn")["x"]) == live and "live (step" in page_text(page))
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
