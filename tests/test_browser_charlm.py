"""Lesson 07 (a character-level language model learning to write) in a real headless Chromium through Voila."""

import pytest

from tests.conftest import assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser


def slider(page, label):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).locator(".noUi-handle")


def test_charlm_dashboard_in_the_browser(voila_url, page):
    open_dashboard(page, voila_url, "07_char_language_models.ipynb", n_plots=5)
    assert wait_until(page, lambda: len(by_meta(page, "p_one")["y"]) > 5)
    markov = by_meta(page, "markov")["y"]
    assert len(markov) == 2 and markov[0] == markov[1] and 2.0 < markov[0] < 5.0
    assert "Computing on:" in page_text(page) and "one end token" in page_text(page)

    # Train: the curve grows, samples arrive with their step, held-out scores appear.
    page.locator("button[title=Train]").click()
    assert wait_until(page, lambda: len(by_meta(page, "train")["x"]) >= 20)
    assert wait_until(page, lambda: len(by_meta(page, "held")["y"]) >= 2)
    assert wait_until(page, lambda: page_text(page).count("step ") >= 4 and "s, τ 1)" in page_text(page))

    # While training: the temperature slider redraws the bars at that temperature.
    before = by_meta(page, "p_tau")["y"]
    tau = slider(page, "Temperature τ")
    for _ in range(6):
        tau.press("ArrowLeft")
    assert wait_until(page, lambda: by_meta(page, "p_tau")["y"] != before and "0.7" in by_meta(page, "p_tau")["name"])
    # A prompt: the next-character bars follow it.
    before = by_meta(page, "p_one")["x"]
    box = page.get_by_placeholder("empty: a new name from scratch")
    box.fill("chr")
    box.press("Enter")
    assert wait_until(page, lambda: by_meta(page, "p_one")["x"] != before)
    page.get_by_role("button", name="Pause").click()
    assert wait_until(page, lambda: "Paused at step" in page_text(page))

    # Units: another feature ranks them anew and the passage shows the best unit.
    before = by_meta(page, "corr")["x"]
    page.locator("select").filter(has=page.locator("option", has_text="position in the word")).select_option(
        label="position in the word")
    assert wait_until(page, lambda: by_meta(page, "corr")["x"] != before)
    assert "Unit #" in page_text(page)
    assert len(by_meta(page, "len_sample")["y"]) > 5

    # Bad input: a prompt the model cannot read is one sentence.
    box.fill("日本")
    box.press("Enter")
    assert wait_until(page, lambda: "never saw" in page_text(page))
    # Teacher forcing vs scheduled sampling: a twin trains beside it, both scored two ways.
    page.get_by_role("checkbox", name="Compare with scheduled sampling").check()
    assert wait_until(page, lambda: "Scheduled-sampling comparison changed" in page_text(page))
    page.locator("button[title=Train]").click()
    assert wait_until(page, lambda: all(len(by_meta(page, t)["y"]) >= 3 for t in ("tf_free", "ss_free", "ss_forced")))
    page.get_by_role("button", name="Pause").click()
    assert wait_until(page, lambda: "Paused at step" in page_text(page))
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
    page.set_viewport_size({"width": 1400, "height": 2700})
    screenshot(page, "07_char_language_models")
