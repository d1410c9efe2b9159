"""The Markov-models lesson in a real headless Chromium through Voila, used like a person would: the order and
smoothing sliders from the keyboard, text typed, Sample pressed, the corpus switched and text pasted; screenshots
for a human to look at."""

import pytest

from tests.conftest import SHOTS, assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser
NOTEBOOK = "02_markov_models.ipynb"


def handle(page, label):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).locator(".noUi-handle")


def status(page):
    return page.locator(".seqviz-status").first.inner_text()


def shot(page, name):
    """The page, and the dashboard alone (Voila's page screenshot stops at the viewport)."""
    screenshot(page, name)
    dash = page.locator(".widget-vbox", has=page.locator("h2", has_text="Markov models: counts")).first
    dash.screenshot(path=str(SHOTS / f"{name}_dashboard.png"))


def samples(page):
    return page.locator(".seqviz-samples").inner_text()


def test_markov_dashboard_in_the_browser(voila_url, page):
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=4)
    try:
        _use_it(page)
    except Exception:
        screenshot(page, "markov_fail")
        raise


def _use_it(page):
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 4
    # every order counted in the background: eight points on the held-out curve, and both classifiers
    assert wait_until(page, lambda: len(by_meta(page, "held_bits")["x"]) == 8 and len(by_meta(page, "acc_mail")["x"]) == 8)
    assert by_meta(page, "cur_bits")["x"] == [2]
    held = by_meta(page, "held_bits")["y"]
    assert min(held) == held[2]  # first names by characters: the overfitting turn after order 2
    assert by_meta(page, "chain_smoothed")["x"] == ["1. m", "2. a", "3. r", "4. ⟨/s⟩"]
    assert "The number to beat" in page_text(page) and "Computing on:" in page_text(page)
    page.set_viewport_size({"width": 1400, "height": 3200})  # the whole dashboard: a taller element re-lays out
    page.get_by_text("Markov models: counts, smoothing, samples and a classifier").scroll_into_view_if_needed()
    shot(page, "markov_open")

    # order from the keyboard: the marker moves at once, the next-token bars follow (a context of 4 characters)
    first_next = by_meta(page, "smoothed")["y"]
    before = samples(page)
    order = handle(page, "Order k")
    for _ in range(2):
        order.press("ArrowRight")
    assert wait_until(page, lambda: by_meta(page, "cur_bits")["x"] == [4] and by_meta(page, "cur_acc")["x"] == [4])
    assert by_meta(page, "cur_bits")["y"] == [held[4]]
    assert wait_until(page, lambda: by_meta(page, "smoothed")["y"] != first_next and samples(page) != before)

    # smoothing α from the keyboard: 1 -> 0.3 -> 0.1, and the curves are recomputed
    alpha = handle(page, "Smoothing α")
    for _ in range(2):
        alpha.press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "smoothed")["name"] == "smoothed, α = 0.1")
    assert wait_until(page, lambda: by_meta(page, "held_bits")["y"] != held)

    # a typed name never seen: with α = 0 a factor is impossible, marked with ✗
    for _ in range(4):
        alpha.press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "smoothed")["name"] == "smoothed, α = 0")
    box = page.get_by_role("textbox", name="Typed text")
    box.fill("xqzt")
    box.press("Enter")
    assert wait_until(page, lambda: len(by_meta(page, "chain_impossible")["x"]) >= 1)
    assert "−∞" in page_text(page)
    shot(page, "markov_impossible")
    box.fill("")
    box.press("Enter")
    assert wait_until(page, lambda: "was empty" in status(page))
    assert_no_error_text(page)
    for _ in range(6):
        alpha.press("ArrowRight")
    assert wait_until(page, lambda: by_meta(page, "smoothed")["name"] == "smoothed, α = 1")

    # Sample: a new seed, new samples
    s0 = samples(page)
    page.get_by_role("button", name="Sample").click()
    assert wait_until(page, lambda: samples(page) != s0 and "seed 1" in samples(page) + page_text(page))

    # the classifier: the mail task by words, its typed text and its shares
    page.get_by_role("button", name="mail: spam / ham").click()
    assert wait_until(page, lambda: "spam" in page.locator(".seqviz-verdict").inner_text())
    assert by_meta(page, "contrib")["x"][0] == "prior" and "spam" in page_text(page)

    # another corpus: Brown by words is counted in the background (the curves refill)
    page.locator("select").filter(has=page.locator("option", has_text="Brown corpus")).select_option(label="Brown corpus (1.16 M words)")
    assert wait_until(page, lambda: "Counted Brown" in status(page) or "Brown corpus" in status(page), timeout=120)
    assert wait_until(page, lambda: len(by_meta(page, "held_bits")["x"]) == 8, timeout=180)
    assert "first 499,986" in page_text(page) or "Counted the first" in page_text(page)
    assert "bits per word" in page_text(page)
    shot(page, "markov_brown")

    # pasted text, with a line that is only odd characters
    page.locator("select").filter(has=page.locator("option", has_text="Brown corpus")).select_option(label="Your pasted text")
    assert wait_until(page, lambda: len(by_meta(page, "held_bits")["x"]) == 8, timeout=120)
    area = page.get_by_role("textbox", name="Pasted text")
    area.fill("abc abd abe\n\u202e\u0000😀\nabc abc abd\nzz top")
    area.press("Tab")
    assert wait_until(page, lambda: "pasted text" in status(page) and len(by_meta(page, "held_bits")["x"]) == 8)
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
