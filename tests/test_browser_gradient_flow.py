"""The gradient-flow lessons in a real headless Chromium through Voila."""

import sys

import psutil
import pytest

from tests.conftest import by_meta, wait_until, assert_no_error_text, open_dashboard, screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("notebook", ["03_rnn_bptt.ipynb", "04_lstm_gru.ipynb"])
def test_gradient_flow_dashboard_in_the_browser(voila_url, page, notebook):
    open_dashboard(page, voila_url, notebook, n_plots=4)
    assert len(by_meta(page, "graph_rnn_h")["x"]) == 100  # the unrolled network is drawn at once
    assert len(by_meta(page, "belt_state")["z"]) > 0
    assert "Computing on:" in page.inner_text("body")
    if sys.platform == "linux":  # the page's kernel was forked by the fork server (seqviz_server/kernel_fork.py)
        procs = psutil.Process(voila_url.pid).children(recursive=True)
        servers = [p.pid for p in procs if "seqviz_server.kernel_fork" in " ".join(p.cmdline())
                   and p.name() != "seqviz-kernel"]
        assert len(servers) == 1
        assert [p for p in procs if p.name() == "seqviz-kernel" and p.ppid() == servers[0]]

    # Move a control: truncated BPTT draws cut points and the gradient before them dies.
    assert not [x for x in by_meta(page, "graph_cuts")["x"] if x is not None]
    page.get_by_role("checkbox", name="Truncated BPTT").check()
    assert wait_until(page, lambda: len([x for x in by_meta(page, "graph_cuts")["x"] if x is not None]) > 0)
    page.get_by_role("checkbox", name="Truncated BPTT").uncheck()

    # Train: the curves grow; Pause: they stop; no error text anywhere.
    page.get_by_role("button", name="Train").click()
    assert wait_until(page, lambda: len(by_meta(page, "loss_other")["x"]) >= 20)
    n1 = len(by_meta(page, "loss_other")["x"])
    assert wait_until(page, lambda: len(by_meta(page, "loss_other")["x"]) > n1 + 20)
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Train").wait_for(timeout=20_000)
    assert "Paused" in page.inner_text("body")
    # After many small updates the views are still whole: baselines flat, the unrolled graph drawn.
    for tag in ("loss_base", "acc_base"):
        y = by_meta(page, tag)["y"]
        assert len(y) == 2 and y[0] == y[1]
    graph = by_meta(page, "graph_rnn_h")
    assert len(graph["x"]) == 100 and graph["y"] == ["RNN h_t"] * 100 and len(graph["marker"]["color"]) == 100
    assert_no_error_text(page)
    assert page.external == [], f"requests left the machine: {page.external[:3]}"
    page.set_viewport_size({"width": 1400, "height": 3800})
    screenshot(page, notebook.replace(".ipynb", ""))
