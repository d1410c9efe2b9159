"""The embeddings lesson in a real headless Chromium through Voila, used as a person would: Train, the
keyboard on sliders, words typed into boxes (good and bad), the language model trained and its layers
mixed; screenshots for a human to look at."""

import pytest

from tests.conftest import assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser
NOTEBOOK = "08_embeddings.ipynb"


def handle(page, label):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).locator(".noUi-handle")


def status(page):
    return page.locator(".seqviz-status").inner_text()


def typed(page, label, text):
    box = page.get_by_role("textbox", name=label, exact=True)
    box.fill(text)
    box.press("Enter")


def neighbours(page):
    return page.locator(".seqviz-neighbours").inner_text()


def test_embeddings_dashboard_in_the_browser(voila_url, page):
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=5)
    try:
        _use_it(page)
    except Exception:
        screenshot(page, "embeddings_fail")
        raise


def _use_it(page):
    assert wait_until(page, lambda: "8,612 words" in page_text(page) and len(by_meta(page, "space")["x"]) == 10)
    assert wait_until(page, lambda: "Ready: 8,612 words" in status(page))  # the text set while the page opened
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 5
    assert len(by_meta(page, "space")["x"]) == 10 and len(by_meta(page, "obj_before")["y"]) == 6
    assert by_meta(page, "elmo_cos")["y"][0] == pytest.approx(1.0)
    assert "Computing on:" in page_text(page) and "8,612 words" in page_text(page)
    page.set_viewport_size({"width": 1450, "height": 1900})
    page.get_by_text("1. Skip-gram trained live").scroll_into_view_if_needed()
    screenshot(page, "embeddings_open")

    # Train: the loss and the overlap with gensim grow, the space moves.
    x0 = list(by_meta(page, "space")["x"])
    page.get_by_role("button", name="Train").first.click()
    assert wait_until(page, lambda: len(by_meta(page, "loss")["x"]) > 50 and len(by_meta(page, "overlap")["x"]) >= 3)
    assert wait_until(page, lambda: by_meta(page, "space")["x"] != x0)

    # Negatives k from the keyboard while training: the objective pane shows one more noise word.
    handle(page, "Negatives k").press("ArrowRight")
    assert wait_until(page, lambda: len(by_meta(page, "obj_before")["y"]) == 7)
    handle(page, "Negatives k").press("ArrowLeft")
    assert wait_until(page, lambda: len(by_meta(page, "obj_before")["y"]) == 6)

    # A typed word: its neighbours; an unknown word: one sentence, the table stays.
    typed(page, "Word", "two")
    assert wait_until(page, lambda: "Nearest words to “two”" in neighbours(page))
    shown = neighbours(page)
    typed(page, "Word", "zzqxv")
    assert wait_until(page, lambda: "not in the vocabulary" in status(page))
    assert "Nearest words to “two”" in neighbours(page) and shown.split("\n")[0] == neighbours(page).split("\n")[0]
    assert_no_error_text(page)

    # The word set: a new set on the space pane.
    page.get_by_label("Words shown").select_option("days")
    assert wait_until(page, lambda: by_meta(page, "space")["text"][0] == "monday")
    assert wait_until(page, lambda: len(by_meta(page, "loss")["x"]) > 300, timeout=120)
    page.get_by_text("3. The space as it learns").scroll_into_view_if_needed()
    screenshot(page, "embeddings_training")
    page.get_by_role("button", name="Pause").first.click()
    assert wait_until(page, lambda: "Paused" in status(page))

    # The analogy without its inputs excluded says what took first place.
    page.get_by_label("Leave the inputs out of the answers").uncheck()
    assert wait_until(page, lambda: "Inputs allowed" in page.locator(".seqviz-analogy").inner_text())

    # The language model: Train LM, its loss curve, then the mixture slider.
    page.get_by_role("button", name="Train LM").click()
    assert wait_until(page, lambda: len(by_meta(page, "lm_loss")["x"]) >= 3, timeout=120)
    page.get_by_role("button", name="Pause LM").click()
    assert wait_until(page, lambda: "Paused" in status(page))
    cos = by_meta(page, "elmo_cos")["y"]
    assert cos[0] == pytest.approx(1.0) and min(cos[1:]) < 0.9999
    assert "s0 = 0.33" in page_text(page)
    for _ in range(20):
        handle(page, "w₀ (embedding)").press("ArrowRight")
    # softmax(2, 0, 0) = 0.79, 0.11, 0.11: the mixture now leans on the embedding layer
    assert wait_until(page, lambda: "s0 = 0.79, s1 = 0.11, s2 = 0.11" in page_text(page))
    assert len(by_meta(page, "elmo_mix")["y"]) == 1
    page.locator(".js-plotly-plot").nth(4).scroll_into_view_if_needed()
    screenshot(page, "embeddings_elmo")
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
