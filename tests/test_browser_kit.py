"""The live kit's page-side promises, checked in a real headless Chromium through Voila:
a number typed into a slider readout that the browser clamps gets a sentence, and closing the tab
stops the kernel's training (the page's goodbye, or its missing heartbeat)."""

import psutil
import pytest

from tests.conftest import by_meta, eventually, open_dashboard, page_text, screenshot

pytestmark = pytest.mark.browser

NOTEBOOK = "03_rnn_bptt.ipynb"


def kernels(voila_pid: int) -> set[int]:
    from seqviz_server.kernel_fork import KERNEL_NAME

    return {p.pid for p in psutil.Process(voila_pid).children(recursive=True)
            if p.name() == KERNEL_NAME or any("ipykernel" in part for part in p.cmdline())}


def cpu_busy(proc: psutil.Process, seconds: float = 1.0) -> float:
    """Share of one core the process used over ``seconds`` (psutil measures, no sleep of ours)."""
    return proc.cpu_percent(interval=seconds)


def test_typed_number_in_a_readout_gets_a_sentence(voila_url, page):
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=5)
    row = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="Length T")).first
    readout = row.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("1e999")  # parseInt reads 1; the slider clamps it to its minimum, 10
    page.keyboard.press("Enter")
    assert eventually(lambda: "read as 1" in page_text(page) and "became 10" in page_text(page), 20, page=page), \
        page_text(page)[:600]
    assert readout.inner_text() == "10"  # what the sentence says is what the slider shows
    assert eventually(lambda: len(by_meta(page, "graph_net")["x"]) == 10, 20, page=page)  # and the model uses it
    screenshot(page, "kit_typed_number")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("50")
    page.keyboard.press("Enter")
    assert eventually(lambda: "read as 1" not in page_text(page), 20, page=page)  # a clean value clears it


def test_closing_the_tab_stops_training(voila_url, browser):
    before = kernels(voila_url.pid)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=5)
    mine = kernels(voila_url.pid) - before
    assert len(mine) == 1, "one new kernel for the new page"
    proc = psutil.Process(mine.pop())
    page.get_by_role("button", name="Train").click()
    assert eventually(lambda: len(by_meta(page, "loss_rnn")["x"]) > 5, 60, page=page)
    assert cpu_busy(proc) > 30, "the kernel trains while the page is open"
    ctx.close()  # the tab goes: pagehide says goodbye; without it the heartbeat stops
    # Training ends within the heartbeat's 45 s at the latest; the goodbye makes it at once.
    assert eventually(lambda: cpu_busy(proc) < 10, 60), "the kernel kept training after its page closed"
