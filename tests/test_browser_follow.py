"""Follow mode in real browsers through Voila (issue 16): the teacher's dashboard shares, a second
browser context follows it read-only, the teacher trains, the follower's plots change and end
up holding the teacher's data; a follower cannot write to anything; stopping the share and
killing the teacher's kernel each give the follower its sentence while the last frame stays."""

from __future__ import annotations

import json

import psutil
import pytest

from seqviz_server.follow import SENTENCES
from tests.conftest import assert_no_error_text, by_meta, open_dashboard, page_text, screenshot, wait_until

pytestmark = pytest.mark.browser

NOTEBOOK = "03_rnn_bptt.ipynb"


def traces(page) -> dict:
    """meta -> trace (x, y, z, text) of every plot on the page."""
    data = json.loads(page.evaluate(
        """() => JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(g => g.data || []),
             (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v))"""))
    keep = ("x", "y", "z", "text", "visible", "name")
    return {t["meta"]: {k: t.get(k) for k in keep} for t in data if isinstance(t.get("meta"), str)}


def kernels(server_pid: int) -> set[int]:
    return {p.pid for p in psutil.Process(server_pid).children(recursive=True)
            if p.name() == "seqviz-kernel" or "ipykernel" in " ".join(p.cmdline())}


def follower_page(page):
    """A second browser context (another person), with the same offline rules as ``page``."""
    ctx = page.context.browser.new_context(viewport={"width": 1300, "height": 900})
    fp = ctx.new_page()
    fp.external = []

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            fp.external.append(r.request.url)
            r.abort()

    fp.route("**/*", route)
    return fp


def share(page) -> str:
    page.get_by_role("button", name="Share live view").click()
    assert wait_until(page, lambda: page.locator(".seqviz-share-address").count() == 1, 30)
    return page.locator(".seqviz-share-address").inner_text().strip()


def test_a_class_follows_the_teachers_dashboard(voila_url, page):
    before = kernels(voila_url.pid)
    open_dashboard(page, voila_url, NOTEBOOK, n_plots=5)
    teacher_kernel = kernels(voila_url.pid) - before
    kernel_id = json.loads(page.locator("#jupyter-config-data").inner_text())["kernelId"]

    address = share(page)
    code = address.rsplit("/", 1)[1]
    assert address == f"{voila_url}follow/{code}" and len(code) == 8
    assert f"{code[:4]} {code[4:]}" in page.locator(".seqviz-share-code").inner_text()
    assert page.locator(".seqviz-share-qr svg").count() == 1
    assert "Sharing live: students open" in page_text(page)

    fp = follower_page(page)
    try:
        fp.goto(address)
        fp.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5 && "
                             "Array.from(document.querySelectorAll('.js-plotly-plot')).every(g => g.data && g.data.length)",
                             timeout=30_000)
        assert wait_until(page, lambda: "1 person following" in page.locator(".seqviz-share-count").inner_text())
        assert fp.locator("#status").inner_text() == page.locator(".seqviz-status").inner_text()
        assert fp.evaluate("document.querySelectorAll('script[src]').length") == 1  # plotly.js, and nothing else
        assert fp.evaluate("document.querySelector('script[src]').src").endswith(
            "/voila/templates/seqviz/static/plotly.min.js")
        assert fp.evaluate("typeof window.jupyter === 'undefined' && !document.querySelector('.jupyter-widgets')")

        # The teacher trains: the follower's curves grow with the teacher's.
        n0 = len(by_meta(fp, "loss_other")["x"])
        page.get_by_role("button", name="Train").click()
        assert wait_until(fp, lambda: len(by_meta(fp, "loss_other")["x"]) > n0 + 20)
        assert "Training" in fp.locator("#status").inner_text()
        page.get_by_role("button", name="Pause").click()
        assert wait_until(page, lambda: "Paused at step" in page_text(page))
        # ... and ends up with exactly the teacher's data, pane by pane.
        assert wait_until(fp, lambda: traces(fp) == traces(page) and
                          fp.locator("#status").inner_text() == page.locator(".seqviz-status").inner_text(), 30)
        assert len(traces(fp)) >= 10
        # A late joiner (the stored state now holds a full figure and the training's updates per pane)
        # draws the same frame at once.
        late = follower_page(page)
        try:
            late.goto(address)
            assert wait_until(late, lambda: traces(late) == traces(page), 30)
            assert late.evaluate("window.__follow.states") == 1
        finally:
            late.context.close()

        # A follower can send nothing anywhere: not to its stream, its page, the publish API, a kernel.
        refused = fp.evaluate(f"""async () => {{
            const r = [];
            for (const [m, u] of [["POST", "/follow/{code}/events"], ["PUT", "/follow/{code}"],
                                  ["POST", "/follow-api/shares/{code}/publish"], ["POST", "/follow-api/shares"]]) {{
              r.push((await fetch(u, {{method: m, body: '{{"s":1}}\\n["forged","error"]'}})).status);
            }}
            return r;
        }}""")
        assert refused == [405, 405, 403, 403]
        ws = fp.evaluate(f"""() => new Promise(res => {{
            const w = new WebSocket("ws://" + location.host + "/follow/{code}/events");
            w.onopen = () => res("open"); w.onerror = () => res("refused"); }})""")
        assert ws == "refused"
        assert kernel_id not in fp.content()  # the follower never learns the teacher's kernel
        assert "forged" not in fp.locator("#status").inner_text()
        assert fp.evaluate("document.getElementById('status').children.length") == 0  # text only, never HTML

        fp.set_viewport_size({"width": 1300, "height": 2200})
        screenshot(fp, "follow_live")
        page.set_viewport_size({"width": 1400, "height": 4300})
        screenshot(page, "follow_teacher_sharing")

        # Stop sharing: the follower gets its sentence and keeps the last frame.
        last = traces(fp)
        page.get_by_role("button", name="Stop sharing").click()
        assert wait_until(fp, lambda: fp.locator("#note").inner_text() == SENTENCES["stopped"], 15)
        assert traces(fp) == last
        assert wait_until(page, lambda: "Stopped sharing" in page_text(page))
        assert_no_error_text(fp)

        # Share again, then the teacher's kernel dies: the follower is told that too.
        address2 = share(page)
        assert address2 != address
        fp.goto(address2)
        fp.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=30_000)
        assert wait_until(fp, lambda: len(traces(fp)) >= 10)
        last = traces(fp)
        assert len(teacher_kernel) == 1
        psutil.Process(teacher_kernel.pop()).kill()
        assert wait_until(fp, lambda: fp.locator("#note").inner_text() == SENTENCES["kernel"], 20)
        assert traces(fp) == last
        assert_no_error_text(fp)
        screenshot(fp, "follow_kernel_ended")
        assert fp.external == [] and page.external == []
    finally:
        fp.context.close()
