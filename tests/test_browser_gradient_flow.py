"""The gradient-flow lessons in a real headless Chromium through Voila."""

import sys

import psutil
import pytest

from tests.conftest import assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser


def cuts(page):
    return [x for x in by_meta(page, "graph_cuts")["x"] if x is not None]


@pytest.mark.parametrize("notebook", ["03_rnn_bptt.ipynb", "04_lstm_gru.ipynb"])
def test_gradient_flow_dashboard_in_the_browser(voila_url, page, notebook):
    open_dashboard(page, voila_url, notebook, n_plots=5)
    assert len(by_meta(page, "graph_net")["x"]) == 100  # the unrolled network is drawn at once
    assert wait_until(page, lambda: len(by_meta(page, "belt_state")["z"]) > 0)
    assert "Computing on:" in page_text(page)
    if sys.platform == "linux":  # the page's kernel was forked by the fork server (seqviz_server/kernel_fork.py)
        procs = psutil.Process(voila_url.pid).children(recursive=True)
        servers = [p.pid for p in procs if "seqviz_server.kernel_fork" in " ".join(p.cmdline())
                   and p.name() != "seqviz-kernel"]
        assert len(servers) == 1
        assert [p for p in procs if p.name() == "seqviz-kernel" and p.ppid() == servers[0]]

    # Move a control: truncated BPTT draws cut points and the gradient before them dies.
    assert not cuts(page)
    page.get_by_role("checkbox", name="Truncated BPTT").check()
    assert wait_until(page, lambda: len(cuts(page)) > 0)
    first_cut = int(min(cuts(page)) + 0.5)
    assert wait_until(page, lambda: all(v <= 1e-39 for v in by_meta(page, "norm_rnn_h")["y"][:first_cut]))
    page.get_by_role("checkbox", name="Truncated BPTT").uncheck()
    assert wait_until(page, lambda: not cuts(page))

    # Train: the curves grow; a second Train is refused in words; Pause: they stop.
    page.get_by_role("button", name="Train").click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_other")["x"]) >= 20)
    n1 = len(by_meta(page, "loss_other")["x"])
    assert wait_until(page, lambda: len(by_meta(page, "loss_other")["x"]) > n1 + 20)
    # While training, the sequence slider still redraws the belt.
    before = by_meta(page, "belt_keys")["x"]
    page.locator(".widget-slider", has=page.locator("label:text-is('Sequence shown')")) \
        .locator(".noUi-handle").press("ArrowRight")
    assert wait_until(page, lambda: by_meta(page, "belt_keys")["x"] != before)
    page.get_by_role("button", name="Pause").click()
    assert wait_until(page, lambda: "Paused at step" in page_text(page))
    assert page.get_by_role("button", name="Train").is_enabled()
    # After many small updates the views are still whole: baselines flat, the unrolled graph drawn.
    for tag in ("loss_base", "acc_base"):
        y = by_meta(page, tag)["y"]
        assert len(y) == 2 and y[0] == y[1]
    graph = by_meta(page, "graph_net")
    assert len(graph["x"]) == 100 and len(graph["z"]) == 3 and all(len(row) == 100 for row in graph["z"])
    # the heatmaps come last after the pause (belt, gates, then heatmaps): rows are the probes
    assert wait_until(page, lambda: len(by_meta(page, "heat_rnn")["z"]) >= 2)
    assert len(by_meta(page, "heat_rnn")["z"][0]) == 100
    # The timeline scrubs back: the curves end at the snapshot's step.
    steps = len(by_meta(page, "loss_rnn")["x"])
    history = page.locator(".widget-slider", has=page.locator("label:text-is('History')")).locator(".noUi-handle")
    history.press("Home")
    assert wait_until(page, lambda: len(by_meta(page, "loss_rnn")["x"]) < steps)
    assert "move to the right end for the live model" in page_text(page)
    for _ in range(int(float(history.get_attribute("aria-valuemax")))):  # (the slider ignores End)
        history.press("ArrowRight")
    assert wait_until(page, lambda: len(by_meta(page, "loss_rnn")["x"]) == steps and "live (step" in page_text(page))
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
    page.set_viewport_size({"width": 1400, "height": 4300})
    screenshot(page, notebook.replace(".ipynb", ""))
