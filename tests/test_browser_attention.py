"""The attention lesson in a real headless Chromium through Voila, used as a person would: the
plots drawn, the query slider, a switch, bad and clean input in both text boxes, part 1 trained
until the alignment shows, part 2 started while part 1 trains, both timelines scrubbed back.

Every wait is on a condition (``wait_until``): the panes draw what the kernel last sent (a view
that appears late asks for the whole figure, and updates queue in the page), so the final state
always arrives; nothing here waits a fixed time."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SHOTS, assert_no_error_text, by_meta, open_dashboard, screenshot, wait_until

pytestmark = pytest.mark.browser
LESSON = "06_attention_transformers.ipynb"
TEXT = "Simple is better than complex."


def upper(z):
    return [z[i][j] for i in range(len(z)) for j in range(i + 1, len(z))]


def status(page) -> str:
    return page.inner_text(".seqviz-status")


def slider(page, label: str):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).locator(".noUi-handle")


def timeline_label(page, label: str) -> str:
    return page.locator(".widget-hbox", has=page.locator(f"label:text-is('{label}')")).last.inner_text()


def to_live_end(page, label: str) -> bool:
    """Move a timeline's slider to its right end with the arrow key, as a person would."""
    for _ in range(12):
        if "live (step" in timeline_label(page, label):
            return True
        for _ in range(10):
            slider(page, label).press("ArrowRight")
        wait_until(page, lambda: "live (step" in timeline_label(page, label), 2)
    return "live (step" in timeline_label(page, label)


def typed(page, label: str, text: str) -> None:
    box = page.get_by_role("textbox", name=label)
    box.fill(text)
    box.press("Enter")


def progress(page) -> str:
    return page.inner_text("body")


def alignment_pct(page) -> float:
    m = re.search(r"alignment accuracy (\d+)%", page.inner_text("body"))
    return float(m.group(1)) if m else -1.0


def test_attention_dashboard_in_the_browser(voila_url, page):
    page.set_viewport_size({"width": 1400, "height": 2400})
    open_dashboard(page, voila_url, LESSON, n_plots=6)
    # the first state of every pane (whatever order the views appeared in)
    assert wait_until(page, lambda: len(by_meta(page, "self")["z"]) == len(TEXT))
    assert wait_until(page, lambda: len(by_meta(page, "len_att")["y"]) > 0)
    assert wait_until(page, lambda: len(by_meta(page, "ent_scaled")["y"]) == 10)
    z = by_meta(page, "self")["z"]
    assert all(len(r) == len(z) for r in z) and all(w == 0 for w in upper(z))  # causal mask: exact zeros
    assert len(by_meta(page, "align")["z"]) == 8
    assert "Computing on:" in page.inner_text("body")

    # The query slider from the keyboard: its small pane shows row i of the drawn matrix, and the box
    # on the matrix follows (once the query's pane is drawn).
    slider(page, "Query token i").press("ArrowLeft")
    i = 4  # the default query is 5
    assert wait_until(page, lambda: by_meta(page, "query")["y"] == by_meta(page, "self")["z"][i]), (
        f"query bar {by_meta(page, 'query')['y'][:4]} vs row {i} {by_meta(page, 'self')['z'][i][:4]}")
    assert wait_until(page, lambda: min(by_meta(page, "self_sel")["y"]) == i - 0.5)
    assert wait_until(page, lambda: min(by_meta(page, "qkv_sel")["y"]) == i - 0.5)

    # A switch from the browser: without the causal mask every token sees every token.
    page.get_by_role("checkbox", name="Causal mask (no looking ahead)").uncheck()
    assert wait_until(page, lambda: all(w > 0 for w in upper(by_meta(page, "self")["z"]))), (
        f"status: {status(page)!r}; console errors: {page.console_errors[:3]}")
    page.get_by_role("checkbox", name="Causal mask (no looking ahead)").check()
    assert wait_until(page, lambda: all(w == 0 for w in upper(by_meta(page, "self")["z"])))

    # Train part 1 until the alignment shows (the progress line's running mean).
    page.get_by_role("button", name="Train").first.click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_att")["x"]) >= 20)
    assert wait_until(page, lambda: alignment_pct(page) >= 80, 180), f"progress: {alignment_pct(page)}"
    assert wait_until(page, lambda: "Part 1: step" in progress(page) and "last 20 batches" in progress(page))

    # Bad input into both text boxes while part 1 trains: one sentence each, and it goes with a clean text.
    for label, alien, clean, shown in (("Source to show", "abc\u00e9\u00e9", "abcdef", ("align", 6)),
                                       ("Text to look at", "\u00e9\u00e9\u00e9 \u00e0", "Now is better than never.",
                                        ("self", 25))):
        typed(page, label, "")
        assert wait_until(page, lambda: "empty" in status(page)), status(page)
        typed(page, label, "x" * 5000)
        assert wait_until(page, lambda: "5000 characters" in status(page)), status(page)
        typed(page, label, "e\u0301\U0001F642\u202e")
        assert wait_until(page, lambda: "text-direction override" in status(page) and "5000" not in status(page)), \
            status(page)
        typed(page, label, alien)
        word = "alphabet" if label == "Source to show" else "never saw"
        assert wait_until(page, lambda: word in status(page)), status(page)
        typed(page, label, clean)
        assert wait_until(page, lambda: word not in status(page) and not page.locator(".seqviz-correction").count()), \
            status(page)
        assert wait_until(page, lambda: len(by_meta(page, shown[0])["z"]) == shown[1])

    # Part 2 while part 1 trains: part 1 pauses, and the page says so.
    page.get_by_role("button", name="Train").nth(1).click()
    assert wait_until(page, lambda: "Part 1 paused: one model trains at a time." in status(page)), status(page)
    assert wait_until(page, lambda: len(by_meta(page, "lm_loss")["x"]) >= 10)

    # Part 1's timeline back to the untrained model: near-uniform rows, a marker on the curves; then live.
    trained = by_meta(page, "align")["z"]
    slider(page, "Training history").press("Home")
    assert wait_until(page, lambda: max(max(r) for r in by_meta(page, "align")["z"]) < 0.5), \
        by_meta(page, "align")["z"][0]
    assert wait_until(page, lambda: "step 0 of" in timeline_label(page, "Training history"))
    assert wait_until(page, lambda: page.evaluate(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some("
        "g => (g.layout.shapes || []).some(s => s.name === 'timeline'))"))
    assert to_live_end(page, "Training history")
    assert wait_until(page, lambda: by_meta(page, "align")["z"] == trained)

    # Part 2's timeline while part 2 trains: back to step 0 (its matrix is the untrained one), then live.
    slider(page, "Transformer history").press("Home")
    assert wait_until(page, lambda: "step 0 of" in timeline_label(page, "Transformer history"))
    assert wait_until(page, lambda: "weights of step 0" in page.inner_text("body"))
    assert to_live_end(page, "Transformer history")
    page.get_by_role("button", name="Pause").nth(1).click()
    assert wait_until(page, lambda: "Part 2 paused at step" in status(page), 30), status(page)
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"

    page.set_viewport_size({"width": 1400, "height": 4400})  # Voila scrolls inside the page: make it tall
    last = page.locator(".js-plotly-plot").last
    assert wait_until(page, lambda: last.bounding_box()["y"] + last.bounding_box()["height"] < 4400)
    screenshot(page, "attention")
    for n, top in enumerate((0, 1450, 2900)):  # the page in three readable pieces
        page.screenshot(path=str(SHOTS / f"attention_page{n + 1}.png"), full_page=True,
                        clip={"x": 0, "y": top, "width": 1400, "height": 1500})
    for n, plot in enumerate(page.locator(".js-plotly-plot").all()):
        plot.screenshot(path=str(SHOTS / f"attention_figure{n + 1}.png"))
