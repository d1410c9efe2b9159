"""The JupyterHub deployment (deploy/jupyterhub_config.py), tested for real (issue 17): a hub with
configurable-http-proxy, the dummy authenticator and local processes; three users log in through
headless Chromium, each lands on the dashboard list, opens the gradient-flow dashboard, sees its
plots drawn and Train move them; then the idle culler stops the server of the one who left.

Never skipped under CI=true: a missing proxy, npm or JupyterHub fails the test and says why.
"""

from __future__ import annotations

import pytest

from tests.conftest import _cannot, assert_no_error_text, by_meta, eventually, page_text, screenshot
from tests.hub_helpers import ensure_proxy, running_hub

pytestmark = pytest.mark.browser
USERS = ("ada", "bob", "cyd")
NOTEBOOK = "03_rnn_bptt.ipynb"
PLOTS = ("n => { const g = document.querySelectorAll('.js-plotly-plot');"
         " return g.length >= n && Array.from(g).every(x => x.data && x.data.length > 0); }")


def test_three_users_get_working_dashboards_and_the_culler_stops_an_idle_server(browser, tmp_path):
    try:
        import jupyterhub  # noqa: F401
        import jupyterhub_idle_culler  # noqa: F401
    except ImportError as e:
        _cannot(f"JupyterHub is not installed ({e}): pip install -r requirements.txt")
    why = ensure_proxy()
    if why:
        _cannot(why)
    with running_hub(tmp_path / "hub", cull_timeout=20, cull_every=5, SEQVIZ_ACTIVITY_INTERVAL=5) as hub:
        pages = {}
        for user in USERS:  # all three log in; their servers spawn at the same time
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            page.goto(hub.url + "hub/login", timeout=120_000)
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", "any")
            page.click("input[type=submit], button[type=submit]")
            pages[user] = page
        for user, page in pages.items():
            # the spawn page moves on by itself to the user's server, landing on the dashboard list
            assert eventually(lambda: f"/user/{user}/voila/tree" in page.url, 180, page=page), page.url
            page.wait_for_selector("text=Gradient flow", timeout=120_000)
            assert "Gradient flow: why a plain RNN forgets" in page_text(page)
            # the student opens the dashboard at once (the page is streamed while its notebook runs)
            page.goto(hub.url + f"user/{user}/voila/render/{NOTEBOOK}", wait_until="commit", timeout=180_000)
        for user, page in pages.items():
            page.wait_for_function(PLOTS, arg=5, timeout=240_000)
            assert eventually(lambda: len(by_meta(page, "graph_net")["x"]) == 100, 60, page=page)
            page.get_by_role("button", name="Train").click()
            assert eventually(lambda: len(by_meta(page, "loss_other")["x"]) >= 20, 180, page=page)
            n = len(by_meta(page, "loss_other")["x"])
            assert eventually(lambda: len(by_meta(page, "loss_other")["x"]) > n, 60, page=page)
            page.get_by_role("button", name="Pause").click()  # three trainings on 2 shared cores: one at a time
            assert eventually(lambda: "Paused at step" in page_text(page), 60, page=page)
            assert_no_error_text(page)
            assert hub.server_ready(user)
        screenshot(pages["ada"], "hub_gradient_flow")
        # the lessons also open in JupyterLab, from the user's own copy
        r = hub.api("GET", f"users/{USERS[0]}")
        assert r.ok
        lab = pages["ada"].context.new_page()
        lab.goto(hub.url + f"user/{USERS[0]}/api/contents", timeout=60_000)
        assert NOTEBOOK in lab.inner_text("body")
        lab.close()

        # cyd leaves: the tab closes, nothing happens on that server any more; the culler stops it.
        # ada's and bob's tabs stay open (their dashboards' heartbeat is activity): their servers stay.
        pages["cyd"].close(run_before_unload=True)
        assert eventually(lambda: not hub.has_server("cyd"), 180, interval=1.0), "the idle culler did not stop cyd's server"
        assert "Culling server cyd" in hub.log_path.read_text()
        assert hub.server_ready("ada") and hub.server_ready("bob")
        for user in ("ada", "bob"):
            pages[user].context.close()
