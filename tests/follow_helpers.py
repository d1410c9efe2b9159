"""Helpers for the follow-mode tests and benchmark: a follow server in a thread (the handlers
Voila mounts, without Voila), and a follower that reads the event stream with plain sockets."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading

import plotly.graph_objects as go


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FollowServer:
    """seqviz_server.follow's handlers on 127.0.0.1 in a thread of their own (``handlers``: other
    handlers instead, e.g. the redirects Voila mounts)."""

    def __init__(self, handlers=None):
        import tornado.web
        from tornado.ioloop import IOLoop

        from seqviz_server.follow import FollowHub, follow_handlers

        self.hub = FollowHub()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(asyncio.new_event_loop())
            self.loop = IOLoop.current()
            app = tornado.web.Application(handlers if handlers is not None else follow_handlers(self.hub))
            self.http = app.listen(self.port, "127.0.0.1")
            self.hub.start()
            ready.set()
            self.loop.start()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def call(self, fn):
        """Run ``fn()`` on the server's loop and return its result."""
        done, box = threading.Event(), []

        def go_():
            try:
                box.append(fn())
            finally:
                done.set()

        self.loop.add_callback(go_)
        done.wait(10)
        return box[0] if box else None

    def close(self):
        def stop():
            self.hub.close()
            self.http.stop()
            self.loop.stop()

        self.loop.add_callback(stop)
        self.thread.join(10)


def request(url: str, method: str = "GET", path: str = "/", body: bytes | None = None, headers=None):
    """(status, body bytes) of one plain request."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def revive(v):
    """The kit's marker for plotly's Undefined ("leave this trace's property alone") back to Undefined,
    as the follow page's JSON reviver does."""
    from plotly.basedatatypes import Undefined

    if v == "__seqviz_undefined__":
        return Undefined
    if isinstance(v, dict):
        return {k: revive(x) for k, x in v.items()}
    if isinstance(v, list):
        return [revive(x) for x in v]
    return v


def draw_message(fig: go.Figure | None, m: dict) -> go.Figure | None:
    """``fig`` after one pane message, drawn with plotly.py's own ``plotly_update`` (an independent
    implementation of Plotly.react / Plotly.update); an update before any figure draws nothing."""
    m = revive(m)
    if m["kind"] == "react":
        return go.Figure({"data": m["data"], "layout": m["layout"]})
    if fig is not None:
        fig.plotly_update(restyle_data=m.get("restyle") or {}, relayout_data=m.get("relayout") or {},
                          trace_indexes=m.get("traces"))
    return fig


def replay(msgs: list[dict]) -> go.Figure | None:
    fig = None
    for m in msgs:
        fig = draw_message(fig, m)
    return fig


class Follower:
    """Reads ``/follow/<code>/events`` in a thread; ``events`` is [(name, data dict)]."""

    def __init__(self, url: str, code: str, paused: bool = False):
        """``paused``: read nothing until ``resume()`` (a device that stopped reading)."""
        from urllib.parse import urlsplit

        u = urlsplit(url)
        self.events: list[tuple[str, dict]] = []
        self.raw: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.go = threading.Event()
        if not paused:
            self.go.set()
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.conn.connect()
        self.conn.request("GET", f"/follow/{code}/events")
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse() if not paused else None
        self.http_status = self.resp.status if self.resp is not None else None
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def resume(self):
        self.go.set()

    def _read(self):
        name, data = "message", []
        self.go.wait()
        try:
            if self.resp is None:
                self.resp = self.conn.getresponse()
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    text = "\n".join(data)
                    with self.lock:
                        self.raw.append((name, text))
                        self.events.append((name, json.loads(text)))
                    name, data = "message", []
        except Exception:  # noqa: BLE001 - closed by close(), or the server went away
            pass
        self.closed = True

    def names(self) -> list[str]:
        with self.lock:
            return [n for n, _ in self.events]

    def figures(self) -> dict[str, go.Figure]:
        """Every pane as a follower's page would now draw it, replayed with plotly.py's own
        ``plotly_update`` (an independent implementation of Plotly.react / Plotly.update)."""
        with self.lock:
            events = list(self.events)
        figs: dict[str, go.Figure] = {}

        def draw(pane, m):
            figs[pane] = draw_message(figs.get(pane), m)

        for name, d in events:
            if name == "state":
                figs = {}
                for p in d["panes"]:
                    for m in p["msgs"]:
                        draw(p["id"], m)
            elif name == "batch":
                for ev in d["ev"]:
                    if "p" in ev:
                        draw(ev["p"], ev["m"])
        return figs

    def status(self) -> list[str] | None:
        """The status line a follower shows now: [text, level]."""
        with self.lock:
            events = list(self.events)
        st = None
        for name, d in events:
            if name == "state":
                st = d["status"]
            elif name == "batch":
                for ev in d["ev"]:
                    st = ev.get("s", st)
        return st

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()
