"""Follow mode (issue 16): the kernel's publisher, the server's fan-out and late join, the
secrets and refusals, and escaping. The server is seqviz_server.follow's handlers in a thread;
a follower's view is replayed with plotly.py's own update logic and compared with the pane."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys

import ipywidgets as ipw
import numpy as np
import plotly.graph_objects as go
import pytest

from seqviz.figures.patch import patch
from seqviz_server import follow
from tests.conftest import eventually
from tests.follow_helpers import Follower, FollowServer, request
from widgets.kit import LiveDashboard, PlotPane, StatusLine
from widgets.kit.checked import CheckedState
from widgets.kit.share import Publisher, ShareRefused, find_parts


@pytest.fixture
def server():
    s = FollowServer()
    yield s
    s.close()


def viewed_pane(fig: go.Figure) -> PlotPane:
    """A pane a browser has drawn: its edits travel as update messages (sent nowhere here)."""
    pane = PlotPane(fig)
    pane.send = lambda msg: None
    pane._on_msg(pane, {"type": "ready", "rev": -1}, [])
    return pane


def two_panes():
    a = viewed_pane(go.Figure([go.Scatter(x=[0], y=[0], meta="loss", name="loss")]))
    b = PlotPane(go.Figure([go.Heatmap(z=[[0, 1], [1, 0]], meta="grad")]))  # never viewed: whole figures go
    return a, b


def same_data(follower_fig: go.Figure, pane: PlotPane) -> bool:
    got = json.loads(json.dumps(follower_fig.to_plotly_json()["data"], cls=_Enc))
    want = pane.snapshot()["data"]
    return _plainlist(got) == _plainlist(want)


class _Enc(json.JSONEncoder):
    def default(self, o):
        from widgets.kit.plotpane import _plain

        return _plain(o)


def _plainlist(data):
    from widgets.kit.plotpane import _plain

    return json.loads(json.dumps(_plain(data)))


def publisher(server, panes, status, **kw):
    return Publisher(panes, status, "test dashboard", url=server.url, token=server.hub.token, **kw)


def test_codes_are_long_random_and_typed_loosely():
    codes = {follow.new_code() for _ in range(2000)}
    assert len(codes) == 2000  # no repeats in 2000 draws of 31**8
    assert all(len(c) == 8 and set(c) <= set(follow.ALPHABET) for c in codes)
    assert not set("01OIL") & set(follow.ALPHABET)
    assert follow.normalise_code(" k7qx-m3ta ") == "K7QXM3TA"
    assert follow.normalise_code("K7QX M3T") is None and follow.normalise_code("K7QXM3T0") is None


def test_late_joiner_gets_the_current_state_then_the_changes(server):
    a, b = two_panes()
    status = StatusLine()
    status.say("Ready. Press Train.")
    pub = publisher(server, [a, b], status)
    code = pub.start()
    early = Follower(server.url, code)
    try:
        for step in range(1, 30):
            a.apply(patch({"loss": {"x": list(range(step + 1)), "y": list(np.linspace(1, 0, step + 1))}}))
            if step % 7 == 0:
                b.apply(patch({"grad": {"z": (np.arange(4).reshape(2, 2) * step).tolist()}}))
        status.say("Training... step 29", "info")
        assert eventually(lambda: early.status() == ["Training... step 29", "info"], 10)
        late = Follower(server.url, code)  # arrives in the middle
        try:
            assert eventually(lambda: "state" in late.names(), 5)
            first = late.figures()
            assert same_data(first["p0"], a) and same_data(first["p1"], b)  # the current frame at once
            assert late.status() == ["Training... step 29", "info"]
            a.apply(patch({"loss": {"x": [0, 1, 2], "y": [5.0, float("nan"), 3.0]}}))
            b.apply(patch({"grad": {"z": [[9, 9], [9, 9]]}}))
            for f in (early, late):
                assert eventually(lambda f=f: same_data(f.figures()["p0"], a) and same_data(f.figures()["p1"], b), 10)
            assert early.figures()["p0"].data[0].y == (5.0, None, 3.0)  # NaN arrives as a gap
            assert "update" in [ev["m"]["kind"] for n, d in early.events if n == "batch" for ev in d["ev"] if "p" in ev]
        finally:
            late.close()
    finally:
        early.close()
        pub.stop()


def test_every_follower_gets_the_same_bytes_and_the_count(server):
    a, b = two_panes()
    pub = publisher(server, [a], None)
    code = pub.start()
    fs = [Follower(server.url, code) for _ in range(3)]
    try:
        assert eventually(lambda: pub.followers == 3, 10)
        a.apply(patch({"loss": {"y": [1.0, 2.0]}}))
        def carrying(f):
            with f.lock:
                return [t for n, t in f.raw if n == "batch" and "[1.0,2.0]" in t]

        assert eventually(lambda: all(len(carrying(f)) == 1 for f in fs), 10)
        assert carrying(fs[0]) == carrying(fs[1]) == carrying(fs[2])  # one event, the same bytes for all
        assert '"n":3' in carrying(fs[0])[0]
        fs[0].close()
        assert eventually(lambda: pub.followers == 2, 10)
    finally:
        for f in fs:
            f.close()
        pub.stop()


def test_stop_and_a_dead_kernel_each_give_followers_their_sentence(server):
    a, _ = two_panes()
    pub = publisher(server, [a], None)
    f = Follower(server.url, publisher_code := pub.start())
    try:
        assert eventually(lambda: "state" in f.names(), 5)
        pub.stop()
        assert eventually(lambda: "end" in f.names(), 5)
        end = dict(f.events)["end"]
        assert end["why"] == "stopped" and end["sentence"] == follow.SENTENCES["stopped"]
        assert eventually(lambda: f.closed, 5)
        assert a.publisher is None  # the pane is unhooked: nothing more is queued
        late = Follower(server.url, publisher_code)  # after the end: the last frame and the sentence
        assert eventually(lambda: late.names()[:1] == ["state"], 5)
        assert late.events[0][1]["ended"] == follow.SENTENCES["stopped"]
        late.close()
    finally:
        f.close()
    # a kernel killed without a word: its process is gone, the server notices by itself
    # (a stand-in kernel: a process that lives until it is killed, blocked reading its stdin)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    share = server.call(lambda: server.hub.create("t", ["p0"], proc.pid))
    f2 = Follower(server.url, share.code)
    try:
        assert eventually(lambda: "state" in f2.names(), 5)
        proc.kill()
        proc.wait()
        assert eventually(lambda: "end" in f2.names(), 10)
        assert dict(f2.events)["end"]["sentence"] == follow.SENTENCES["kernel"]
    finally:
        f2.close()


def test_publishing_needs_the_share_secret_the_token_and_loopback(server):
    a, _ = two_panes()
    pub = publisher(server, [a], None)
    code = pub.start()
    body = b'{"s":1}\n["forged", "error"]'
    path = f"/follow-api/shares/{code}/publish"
    assert request(server.url, "POST", path, body)[0] == 403
    assert request(server.url, "POST", path, body, {"X-Seqviz-Secret": "x" * 43})[0] == 403
    assert request(server.url, "POST", path, body, {"X-Seqviz-Secret": pub.secret, "Origin": "http://evil"})[0] == 403
    assert request(server.url, "POST", "/follow-api/shares", b"{}")[0] == 403  # no server token
    assert request(server.url, "POST", "/follow-api/shares", b"{}", {"X-Seqviz-Token": "guess"})[0] == 403
    # a follower's page may only read: writing to its stream or page is refused
    assert request(server.url, "POST", f"/follow/{code}/events", b"{}")[0] == 405
    assert request(server.url, "PUT", f"/follow/{code}", b"{}")[0] == 405
    assert request(server.url, "GET", path)[0] in (403, 405)
    # the owner's secret works; a non-loopback address would not
    assert request(server.url, "POST", path, body, {"X-Seqviz-Secret": pub.secret})[0] == 200
    saved = server.hub.allowed
    server.hub.allowed = {"10.1.2.3"}
    try:
        assert request(server.url, "POST", path, body, {"X-Seqviz-Secret": pub.secret})[0] == 403
    finally:
        server.hub.allowed = saved
    f = Follower(server.url, code)
    assert eventually(lambda: f.status() == ["forged", "error"], 5)  # (what the owner sent)
    f.close()
    assert request(server.url, "GET", "/follow/AAAAAAAA/events")[0] == 404
    pub.stop()


def test_the_follow_page_escapes_what_it_shows(server):
    a, _ = two_panes()
    pub = Publisher([a], None, '<script>alert("t")</script> & co', url=server.url, token=server.hub.token)
    code = pub.start()
    status, page = request(server.url, "GET", f"/follow/{code}")
    text = page.decode()
    assert status == 200
    assert '<script>alert("t")' not in text and "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt; &amp; co" in text
    assert "textContent" in text and "innerHTML" not in text  # status and sentences never parsed as HTML
    assert "voila/templates/seqviz/static/plotly.min.js" in text and "http" not in text.split("<script", 2)[1][:80]
    assert request(server.url, "GET", f"/follow/{code.lower()}")[0] == 302  # typed in lower case: redirected
    assert request(server.url, "GET", "/follow?code=" + code[:4] + "-" + code[4:])[0] == 302
    missing = request(server.url, "GET", "/follow/ZZZZZZZZ")
    assert missing[0] == 404 and b"No live view is shared under that code" in missing[1]
    pub.stop()


def test_without_the_server_share_says_a_sentence(monkeypatch):
    monkeypatch.delenv("SEQVIZ_FOLLOW_URL", raising=False)
    monkeypatch.delenv("SEQVIZ_FOLLOW_TOKEN", raising=False)
    with pytest.raises(ShareRefused, match="make dashboard"):
        Publisher([], None, "t")
    dash = TinyDashboard()
    dash.share.button.click()
    assert "Sharing needs the seqviz server" in dash.status.text
    assert dash.share.publisher is None and dash.share.button.description == "Share live view"


class TinyState(CheckedState):
    RANGES = {}


class TinyDashboard(LiveDashboard):
    kind = "tiny-follow-test"

    def __init__(self):
        super().__init__(TinyState())
        self.pane = PlotPane(go.Figure([go.Scatter(x=[0, 1], y=[1, 0], meta="curve")]))
        self.other = PlotPane(go.Figure([go.Bar(x=["a"], y=[1], meta="bar")]))
        self.page(ipw.HBox([self.status]), ipw.HBox([self.pane, ipw.VBox([self.other])]))


def test_share_button_publishes_the_dashboards_panes_and_counts_followers(server, monkeypatch):
    monkeypatch.setenv("SEQVIZ_FOLLOW_URL", server.url)
    monkeypatch.setenv("SEQVIZ_FOLLOW_TOKEN", server.hub.token)
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://192.168.1.20:8866/voila/render/03_rnn_bptt.ipynb")
    dash = TinyDashboard()
    assert find_parts(dash) == ([dash.pane, dash.other], [dash.status])
    assert dash.children[-2] is dash.share  # on every dashboard, before the page link
    dash.share.button.click()
    code = dash.share.code
    assert len(code) == 8 and dash.share.button.description == "Stop sharing"
    addr = f"http://192.168.1.20:8866/follow/{code}"
    assert addr in dash.status.text and f"{code[:4]} {code[4:]}" in dash.status.text
    assert addr in dash.share.info.value and "<svg" in dash.share.info.value  # the QR code
    assert "0 people following" in dash.share.info.value
    f = Follower(server.url, code)
    try:
        assert eventually(lambda: "1 person following" in dash.share.info.value, 10)
        dash.pane.apply(patch({"curve": {"y": [3, 4]}}))
        dash.status.say("Step 5: loss 0.25", "ok")
        assert eventually(lambda: f.status() == ["Step 5: loss 0.25", "ok"], 10)
        assert eventually(lambda: same_data(f.figures()["p0"], dash.pane), 10)
        assert same_data(f.figures()["p1"], dash.other)
        dash.share.button.click()  # Stop sharing
        assert eventually(lambda: "end" in f.names(), 10)
        assert dash.share.button.description == "Share live view" and dash.share.info.value == ""
        assert "Stopped sharing" in dash.status.text
    finally:
        f.close()


def test_a_share_ends_when_the_kernel_process_exits(server, tmp_path):
    """A real process that shares and then exits normally: atexit tells the followers."""
    script = tmp_path / "k.py"
    script.write_text(
        "import plotly.graph_objects as go, sys\n"
        "from widgets.kit.plotpane import PlotPane\n"
        "from widgets.kit.share import Publisher\n"
        "p = PlotPane(go.Figure([go.Scatter(y=[1, 2])]))\n"
        f"pub = Publisher([p], None, 'k', url={server.url!r}, token={server.hub.token!r})\n"
        "print(pub.start(), flush=True)\n"
        "sys.stdin.readline()\n")
    env = {**os.environ, "PYTHONPATH": str(os.getcwd())}
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                            text=True)
    try:
        code = proc.stdout.readline().strip()
        f = Follower(server.url, code)
        assert eventually(lambda: "state" in f.names(), 10)
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(20)
        assert eventually(lambda: "end" in f.names(), 10)
        assert dict(f.events)["end"]["why"] == "kernel"
        f.close()
    finally:
        proc.kill()


def test_a_follower_that_falls_behind_is_skipped_then_sent_the_whole_state(server):
    """A slow device: the server stops writing to it after a few unsent events (its memory stays
    bounded), and once the device has caught up it gets the whole current state."""
    big = viewed_pane(go.Figure([go.Scatter(x=[], y=[], meta="loss")]))
    pub = publisher(server, [big], None)
    code = pub.start()
    share = server.hub.shares[code]
    slow = Follower(server.url, code, paused=True)
    try:
        assert eventually(lambda: len(share.followers) == 1, 5)
        handler = next(iter(share.followers))
        n = 0
        while not handler.stale and n < 400:  # each update ~0.5 MB: the sockets' buffers fill, events wait
            n += 1
            big.apply(patch({"loss": {"x": list(range(40_000)), "y": [float(n)] * 40_000}}))
            assert eventually(lambda: not pub._queue, 10)  # posted
        assert handler.stale and handler.backlog == []  # nothing more is held for it
        slow.resume()
        assert eventually(lambda: slow.names().count("state") == 2, 60)  # the first, then the catch-up
        assert eventually(lambda: same_data(slow.figures()["p0"], big), 30)
        assert slow.figures()["p0"].data[0].y[0] == float(n)
    finally:
        slow.close()
        pub.stop()


# -- the fan-out's own work: merged catch-up, bytes framed once, the process of its own ----------
def pane_messages(pane: PlotPane) -> list[dict]:
    """A viewed pane whose sent update messages are kept (as the teacher's browser gets them)."""
    sent = []
    pane.send = lambda msg: sent.append(json.loads(msg["payload"]))
    return sent


def test_merged_updates_draw_what_the_updates_draw_one_by_one():
    """``follow.compact`` (what a late or slow follower gets) against plotly.py replaying every message:
    random edits of a three-trace pane, some touching several traces with different properties (so
    messages carry the "leave this trace alone" marker), some the layout."""
    from tests.follow_helpers import replay

    rng = np.random.default_rng(7)
    fig = go.Figure([go.Scatter(x=[0], y=[0], meta=f"t{i}", name=f"t{i}") for i in range(3)])
    pane = viewed_pane(fig)
    sent = pane_messages(pane)
    first = pane.snapshot()
    shapes = [({"t0": ("x", "y")}, None), ({"t0": ("y",), "t2": ("x",)}, None), ({"t1": ("y",)}, "xaxis"),
              ({}, "title")]
    for step in range(120):
        traces, layout = shapes[rng.integers(len(shapes))] if rng.random() < 0.3 else shapes[step // 30]
        n = int(rng.integers(1, 8))
        props = {t: {k: rng.normal(size=n).round(3).tolist() for k in ks} for t, ks in traces.items()}
        lay = {} if layout is None else ({"xaxis": {"range": [0, step]}} if layout == "xaxis"
                                         else {"title": {"text": f"step {step}"}})
        pane.apply(patch(props, lay))
    start = {"kind": "react", "data": first["data"], "layout": first["layout"]}
    merged = follow.compact([start] + sent)
    assert len(merged) < len(sent) / 2  # runs of the same edit became one message each
    assert any(follow.UNDEFINED in json.dumps(m) for m in sent)  # the marker was exercised
    one_by_one, at_once = replay([start] + sent), replay(merged)
    want = pane.snapshot()
    for got in (one_by_one, at_once):
        assert _plainlist(got.to_plotly_json()["data"]) == _plainlist(want["data"])
        assert got.layout.title.text == want["layout"]["title"]["text"]
        assert list(got.layout.xaxis.range) == want["layout"]["xaxis"]["range"]


def test_a_late_joiner_gets_one_merged_update_per_pane_and_the_batch_bytes_as_published(server):
    a, _ = two_panes()
    sent = []
    a.send = lambda msg: sent.append(msg["payload"])
    pub = publisher(server, [a], None)
    code = pub.start()
    early = [Follower(server.url, code) for _ in range(3)]
    try:
        assert eventually(lambda: pub.followers == 3, 10)
        for step in range(1, 40):
            a.apply(patch({"loss": {"x": list(range(step + 1)), "y": [1.0 / step] * (step + 1)}}))
        assert eventually(lambda: all(same_data(f.figures()["p0"], a) for f in early), 10)
        # every update reached every follower inside a batch event framed once: the bytes each got
        # are the server's framing of the very text the pane sent its own browser
        for f in early:
            with f.lock:
                batches = [json.loads(t) for n, t in f.raw if n == "batch"]
                text = "".join(t for n, t in f.raw if n == "batch")
            got = [ev["m"] for b in batches for ev in b["ev"] if "p" in ev and ev["m"]["kind"] == "update"]
            assert got == [json.loads(p) for p in sent]
            assert all(p in text for p in sent)  # verbatim: the kernel's text, not re-encoded
        def updates(f):  # (all three followed before the first update)
            with f.lock:
                return [t for n, t in f.raw if n == "batch" and '"kind":"update"' in t]

        assert updates(early[0]) == updates(early[1]) == updates(early[2]) != []  # the same bytes for all
        share = server.hub.shares[code]
        state = server.call(share.state)
        assert state == server.call(share.state)  # built once, the same bytes for the next joiner
        late = Follower(server.url, code)
        try:
            assert eventually(lambda: "state" in late.names(), 5)
            msgs = late.events[0][1]["panes"][0]["msgs"]
            assert [m["kind"] for m in msgs] == ["react", "update"]  # 39 updates drawn as one
            assert same_data(late.figures()["p0"], a)
        finally:
            late.close()
        assert all(h.sent > 0 for h in server.call(lambda: list(share.followers)))  # straight into the sockets
    finally:
        for f in early:
            f.close()
        pub.stop()


def test_the_fanout_process_serves_followers_refuses_writers_and_ends_with_its_server(tmp_path):
    """The process voila_app starts: publish only with the token and the share's secret from
    loopback, followers read only; Voila's side only redirects; it ends when its server does."""
    from seqviz_server.serve import install_static_plotly
    from seqviz_server.voila_app import start_fanout

    install_static_plotly()
    stand_in = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    token = "t" * 43
    started = start_fanout("127.0.0.1", "/", token, parent=stand_in.pid, nice=0)
    assert started is not None
    proc, port = started
    url = f"http://127.0.0.1:{port}/"
    voila = FollowServer(follow.redirect_handlers(port))  # what Voila mounts
    f = None
    try:
        a, _ = two_panes()
        pub = Publisher([a], None, "<b>t</b>", url=url, token=token)
        code = pub.start()
        f = Follower(url, code)
        a.apply(patch({"loss": {"y": [4.0]}}))
        assert eventually(lambda: same_data(f.figures()["p0"], a), 10)
        status, page = request(url, "GET", f"/follow/{code}")
        assert status == 200 and b"&lt;b&gt;t&lt;/b&gt;" in page and b"<b>t</b>" not in page
        assert request(url, "GET", "/voila/templates/seqviz/static/plotly.min.js")[0] == 200
        body = b'{"s":1}\n["forged", "error"]'
        path = f"/follow-api/shares/{code}/publish"
        assert request(url, "POST", path, body)[0] == 403
        assert request(url, "POST", path, body, {"X-Seqviz-Secret": pub.secret, "Origin": "http://x"})[0] == 403
        assert request(url, "POST", "/follow-api/shares", b"{}", {"X-Seqviz-Token": "guess"})[0] == 403
        assert request(url, "POST", f"/follow/{code}/events", b"{}")[0] == 405
        assert request(url, "PUT", f"/follow/{code}", b"{}")[0] == 405
        # Voila's port: the follow address redirects to the fan-out, the API is not there at all
        r = http.client.HTTPConnection("127.0.0.1", voila.port, timeout=10)
        r.request("GET", f"/follow/{code}?x=1")
        resp = r.getresponse()
        assert resp.status == 302 and resp.getheader("Location") == f"http://127.0.0.1:{port}/follow/{code}?x=1"
        r.close()
        assert request(voila.url, "POST", f"/follow/{code}/events", b"{}")[0] == 405
        assert request(voila.url, "POST", path, body, {"X-Seqviz-Secret": pub.secret})[0] == 403
        assert "forged" not in json.dumps(f.status())
        # the server that started it is killed: the fan-out tells its followers and exits
        pub._stop.set()
        stand_in.kill()
        stand_in.wait()
        proc.wait(15)
        assert eventually(lambda: "end" in f.names(), 5)
        assert dict(f.events)["end"]["sentence"] == follow.SENTENCES["server"]
    finally:
        if f is not None:
            f.close()
        voila.close()
        stand_in.kill()
        proc.kill()
