"""The forecasting lesson in a real headless Chromium through Voila, used like a person would:
keyboard on the sliders, a bad and a good paste, Train to the end, the fold animation, another
series; screenshots for a human to look at."""

import pytest

from tests.conftest import SHOTS, assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser
NOTEBOOK = "00_sequences_of_numbers.ipynb"


def handle(page, label):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).locator(".noUi-handle")


def status(page):
    return page.locator(".seqviz-status").inner_text()


def dashboard_shot(page, name):
    """The dashboard itself (the lesson's text above it left out)."""
    page.evaluate("""() => { const h = [...document.querySelectorAll('h2')].find(
        e => e.textContent.startsWith('Numbers in time: forecasting a series, and validating'));
        h.closest('.widget-vbox').parentElement.closest('.widget-vbox').id = 'seqviz-shot'; }""")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2600})  # the whole dashboard in view: every pane painted
    page.locator("#seqviz-shot").scroll_into_view_if_needed()
    page.locator("#seqviz-shot").screenshot(path=str(SHOTS / f"{name}.png"))


def real(v):
    return [x for x in (v or []) if x is not None]


def test_forecasting_dashboard_in_the_browser(voila_url, page):
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=5)
    try:
        _use_it(page)
    except Exception:
        screenshot(page, "forecasting_fail")
        raise


def _use_it(page):
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 5
    assert len(by_meta(page, "series")["y"]) == 309  # the sunspots, 1700-2008
    assert len(real(by_meta(page, "pred_ar")["y"])) == 59  # the test period
    assert len(by_meta(page, "window")["x"]) == 12 and by_meta(page, "target")["x"] == [1950]
    assert wait_until(page, lambda: len(real(by_meta(page, "free_ar")["y"])) == 20)
    assert "Computing on:" in page_text(page) and "Ready: Sunspots" in status(page)
    dashboard_shot(page, "forecasting_open")

    # The window slides from the keyboard; the pairs table follows.
    t = handle(page, "Window position t")
    for _ in range(3):
        t.press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "target")["x"] == [1947])
    assert by_meta(page, "window")["x"][-1] == 1946
    assert wait_until(page, lambda: "1947" in page_text(page))
    # the horizon: the free-running path and the horizon panel shorten
    h = handle(page, "Horizon H")
    h.press("ArrowLeft")
    assert wait_until(page, lambda: len(by_meta(page, "path_ar")["x"]) == 19 and len(by_meta(page, "free_gru")["x"]) == 19)

    # A bad paste: one sentence, the sunspots stay; a good one is used.
    box = page.get_by_role("textbox", name="Paste numbers")
    box.fill("1, 2, abc, 4")
    box.press("Tab")
    assert wait_until(page, lambda: "is not a number" in status(page))
    assert len(by_meta(page, "series")["y"]) == 309
    assert_no_error_text(page)
    box.fill(" ".join(str((i % 12) * 3 + i / 5) for i in range(72)))
    box.press("Tab")
    assert wait_until(page, lambda: len(by_meta(page, "series")["y"]) == 72)
    page.get_by_role("combobox", name="Series").select_option(label="Sunspots, yearly 1700-2008")
    assert wait_until(page, lambda: len(by_meta(page, "series")["y"]) == 309)

    # Train: the loss curves grow, the fold shown follows walk-forward, and every score arrives.
    page.get_by_role("button", name="Train").click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_gru")["x"]) >= 20)
    assert wait_until(page, lambda: len(page.evaluate(
        "() => document.querySelectorAll('.js-plotly-plot')[1].layout.shapes") or []) == 1
        and page.evaluate("() => document.querySelectorAll('.js-plotly-plot')[1].layout.shapes[0].y0") > 0, 120)
    # while training, the window slider still redraws the window
    before = by_meta(page, "target")["x"]
    t.press("ArrowRight")
    assert wait_until(page, lambda: by_meta(page, "target")["x"] != before)
    assert wait_until(page, lambda: "Done" in status(page), 240)
    for split in ("holdout", "walk", "random"):
        assert len(real(by_meta(page, f"score_{split}")["y"])) == 5
    assert "random split" in status(page) and ("lower" in status(page) or "higher" in status(page))
    assert_no_error_text(page)
    dashboard_shot(page, "forecasting_trained")

    # The fold slider (what Animate moves): its band on the series, its frame on the diagram.
    f = handle(page, "Fold shown")
    for _ in range(int(float(f.get_attribute("aria-valuenow")))):  # back to fold 0, then one on
        f.press("ArrowLeft")
    f.press("ArrowRight")
    assert wait_until(page, lambda: page.evaluate(
        "() => document.querySelectorAll('.js-plotly-plot')[1].layout.shapes[0].y0") == 0.5)
    assert wait_until(page, lambda: len(page.evaluate(
        "() => document.querySelectorAll('.js-plotly-plot')[0].layout.shapes")) == 4)

    # Animate: the player moves the fold shown, frame by frame, in the browser.
    frame_y0 = "() => document.querySelectorAll('.js-plotly-plot')[1].layout.shapes[0].y0"
    start = page.evaluate(frame_y0)
    page.locator(".widget-play button").first.click()
    assert wait_until(page, lambda: page.evaluate(frame_y0) not in (start, None), 30)
    page.locator(".widget-play button >> visible=true").nth(1).click()  # pause (play, pause, stop are shown)
    assert_no_error_text(page)

    # CO2: 2284 weeks, the gaps said on screen.
    page.get_by_role("combobox", name="Series").select_option(label="CO2 at Mauna Loa, weekly 1958-2001")
    assert wait_until(page, lambda: len(by_meta(page, "series")["y"]) == 2284)
    assert wait_until(page, lambda: "59 of 2284 weeks have no measurement" in page_text(page))
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
    dashboard_shot(page, "forecasting_co2")
