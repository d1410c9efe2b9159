"""Follow mode (issue 16): one teacher's live dashboard, watched read-only by a whole class.

The teacher's kernel publishes; a fan-out process of its own fans out; followers only read.

    kernel (widgets/kit/share.py)                 the fan-out process (``python -m         followers
                                                  seqviz_server.follow``, started by
                                                  seqviz_server/voila_app.py)
    POST /follow-api/shares        token  ──────▶  a code + a per-share secret
    POST /follow-api/shares/C/publish  secret ──▶  per pane: last full figure + the
         (batched, <= 10 a second, a               updates since; the status line   ──▶  GET /follow/C         (plain HTML)
          heartbeat every second)                  one SSE message per batch, the   ──▶  GET /follow/C/events  (server-sent events)
    POST /follow-api/shares/C/stop     secret ──▶  same bytes for every follower         a late joiner first gets the whole state

Rules:
- followers can only GET a page, a stream and plotly.js: nothing they send reaches a kernel
  (the page holds no kernel id, opens no websocket, and every follow URL refuses other methods);
- ``/follow-api/`` answers loopback addresses only, refuses any request a browser makes (an
  ``Origin`` header), wants the server's token (set in this process's environment, which only
  the kernels it starts inherit) to create a share, and the share's secret to publish to it;
- codes: 8 characters from 31 (no 0/O, 1/I/L), about 40 bits. A share lives while its kernel
  publishes (at most 8 hours), and is forgotten 10 minutes after it ended;
- a follower whose connection falls behind is skipped, then sent the whole state again once it
  has caught up (a slow phone never makes the server buffer without bound); the state holds,
  per pane, the last full figure and the updates since merged into as few as draw the same
  frame (``compact``), so catching up is one draw per pane, not a replay of a backlog.

Why a process of its own: on Voila's event loop the fan-out (one write per follower per batch)
shared that loop, and its CPU, with the teacher's own widget messages. Voila only redirects
``/follow/...`` there (one small request per follower); the page, its event stream and
plotly.js come from the fan-out process, which runs at a lower priority than the teacher's
kernel (``SEQVIZ_FOLLOW_NICE``). Each batch is framed and encoded once; the same bytes go to
every follower, straight into its socket when the socket has room (no buffer, future or
callback per follower).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import html
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import tornado.iostream
import tornado.locks
import tornado.netutil
import tornado.web
from tornado.ioloop import IOLoop, PeriodicCallback

TOKEN_ENV = "SEQVIZ_FOLLOW_TOKEN"  # the server's token: kernels it starts inherit it
URL_ENV = "SEQVIZ_FOLLOW_URL"  # where kernels reach this server (loopback)
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a projector without doubt
CODE_LEN = 8  # 31**8 = 8.5e11 codes
SILENT_S = 8.0  # no publish (the kernel sends a heartbeat every second) for this long: its kernel is gone
MAX_SHARE_S = 8 * 3600.0  # a school day
KEEP_ENDED_S = 600.0  # an ended share still answers "it ended" for 10 minutes
MAX_SHARES = 200
MAX_FOLLOWERS = 5000  # per share
MAX_LOG = 400  # updates kept per pane since its last full figure (the kernel sends one every 50)
BEHIND = 16  # events waiting for a follower's connection, after which it is skipped, then resynchronised
BEHIND_BYTES = 8 << 20  # ... or this many bytes
PING_S = 15.0
FAN_SLICE = 25  # followers written to between two turns of the server's loop
DIRECT_SEND = True  # an event goes straight into a follower's socket when it has room (False: through tornado's stream)
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
UNDEFINED = "__seqviz_undefined__"  # the kit's marker for plotly's Undefined: "leave this trace's value alone"
STATIC = Path(__file__).resolve().parent.parent / "share" / "jupyter" / "voila" / "templates" / "seqviz" / "static"

SENTENCES = {
    "stopped": "The teacher stopped sharing. This is the last frame they shared.",
    "kernel": "The teacher's dashboard has ended (its kernel stopped). This is the last frame it shared.",
    "closed": "The teacher closed the dashboard. This is the last frame it shared.",
    "expired": "This live view was shared for 8 hours and has now ended. This is its last frame.",
    "server": "This server stopped the live view. This is the last frame it shared.",
}


def normalise_code(text: str) -> str | None:
    """'k7qx-m3ta', 'K7QX M3TA' -> 'K7QXM3TA'; None when it cannot be a code."""
    code = "".join(str(text).split()).replace("-", "").upper()
    if len(code) != CODE_LEN or any(c not in ALPHABET for c in code):
        return None
    return code


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie counts as ended)."""
    if not pid:
        return True  # unknown: the heartbeat decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True


def sse(event: str, data: str) -> bytes:
    """One server-sent event; ``data`` is JSON text (no raw newline)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


# -- merging a pane's updates (the follow page's own rule, in Python) ----------------------------
def _same_keys(a, b) -> bool:
    return set(a or {}) == set(b or {})


def mergeable(a: dict | None, b: dict) -> bool:
    """Two update messages that set the same properties of the same traces: ``b`` after ``a`` draws
    the same as their merge (the follow page's ``mergeable``)."""
    return (isinstance(a, dict) and a.get("kind") == "update" and b.get("kind") == "update"
            and a.get("traces") == b.get("traces") and _same_keys(a.get("restyle"), b.get("restyle"))
            and _same_keys(a.get("relayout"), b.get("relayout")))


def merge(a: dict, b: dict) -> dict:
    """One update that draws as ``a`` then ``b``: ``b``'s values win, except where ``b`` leaves a
    trace's value alone (the Undefined marker), which keeps ``a``'s."""
    ra, rb = a.get("restyle") or {}, b.get("restyle") or {}
    restyle = {}
    for k, vb in rb.items():
        va = ra.get(k)
        if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            restyle[k] = [old if isinstance(new, str) and new == UNDEFINED else new for old, new in zip(va, vb)]
        else:
            restyle[k] = vb
    return {"kind": "update", "restyle": restyle, "relayout": {**(a.get("relayout") or {}), **(b.get("relayout") or {})},
            "traces": b.get("traces")}


def compact(msgs: list[dict]) -> list[dict]:
    """A pane's messages cut to those that draw the same last frame: from its last full figure on,
    runs of mergeable updates merged into one."""
    start = max((i for i, m in enumerate(msgs) if m.get("kind") == "react"), default=0)
    out: list[dict] = []
    for m in msgs[start:]:
        if out and mergeable(out[-1], m):
            out[-1] = merge(out[-1], m)
        else:
            out.append(m)
    return out


def _dumps(m: dict) -> str:
    return json.dumps(m, separators=(",", ":"))


class PaneLog:
    """One pane as a late joiner needs it: its last full figure (the kernel's text as sent) and the
    updates since, merged as they arrive (each parsed once, whatever the number of followers)."""

    def __init__(self):
        self.full: str | None = None
        self.updates: list[dict] = []  # merged
        self.n = 0  # updates received since the full figure (the kernel is asked for a new one past MAX_LOG)
        self._text: str | None = None  # the messages as one JSON list's inside, built when first asked

    def reset(self, full: str) -> None:
        self.full, self.updates, self.n, self._text = full, [], 0, None

    def add(self, payload: str) -> None:
        m = json.loads(payload)
        if not isinstance(m, dict) or m.get("kind") not in ("update", "react"):
            raise ValueError("bad pane message")
        if m["kind"] == "react":  # a full figure sent as an update of the page's pane
            self.reset(payload)
            return
        self.n += 1
        self._text = None
        if self.updates and mergeable(self.updates[-1], m):
            self.updates[-1] = merge(self.updates[-1], m)
        else:
            self.updates.append(m)

    def text(self) -> str:
        if self._text is None:
            self._text = ",".join([self.full or ""] + [_dumps(m) for m in self.updates]) if self.full else ""
        return self._text


@dataclass
class Share:
    code: str
    secret: str
    title: str
    order: list[str]
    pid: int | None = None
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    logs: dict[str, PaneLog] = field(default_factory=dict)  # pane -> its last full figure + merged updates
    status: str = '["",  "info"]'  # JSON [text, level]
    ended: str | None = None
    ended_at: float = 0.0
    followers: set = field(default_factory=set)
    published: int = 0  # batches received: the sequence number of the last one (a state includes it)
    _outbox: list = field(default_factory=list)  # (seq, event bytes, ends?) waiting for the fan-out
    _fanning: bool = False
    _state: tuple | None = None  # (published, ended, the state's bytes before and after its follower count)

    def state(self) -> bytes:
        """Everything a follower needs to draw the current frame, built once per batch from stored
        JSON text and shared by every follower that joins or catches up before the next batch."""
        key = (self.published, self.ended)
        if self._state is None or self._state[0] != key:
            panes = ",".join('{"id":%s,"msgs":[%s]}' % (json.dumps(p), self.logs[p].text() if p in self.logs else "")
                             for p in self.order)
            ended = json.dumps(SENTENCES.get(self.ended) if self.ended else None)
            head = sse("state", '{"code":%s,"title":%s,"panes":[%s],"status":%s,"n":'
                       % (json.dumps(self.code), json.dumps(self.title), panes, self.status))
            self._state = (key, head[:-2], (',"ended":%s}\n\n' % ended).encode())
        _, head, tail = self._state
        return head + str(len(self.followers)).encode() + tail

    def publish(self, body: str) -> tuple[bytes | None, list[str]]:
        """Store one batch from the kernel; returns the event for followers (None: nothing new)
        and the panes whose stored updates grew too long (the kernel sends their full figure).

        Body: lines in pairs, a small JSON head then a JSON payload: ``{"p": id, "r": full?}`` +
        a pane message as the dashboard's own pane sends it, or ``{"s": 1}`` + ``[text, level]``.
        The event is framed once here: every follower is sent these very bytes."""
        lines = body.split("\n") if body else []
        if len(lines) % 2:
            raise ValueError("odd number of lines")
        out, resync = [], []
        for head, payload in zip(lines[::2], lines[1::2]):
            h = json.loads(head)
            if not isinstance(h, dict) or not payload:
                raise ValueError("bad head")
            if "s" in h:
                st = json.loads(payload)
                if not (isinstance(st, list) and len(st) == 2 and all(isinstance(x, str) for x in st)):
                    raise ValueError("bad status")
                self.status = json.dumps(st)
                out.append('{"s":%s}' % self.status)
                continue
            pane = h.get("p")
            if pane not in self.logs and pane not in self.order:
                raise ValueError("unknown pane")
            log = self.logs.setdefault(pane, PaneLog())
            if h.get("r"):
                if not isinstance(json.loads(payload), dict):
                    raise ValueError("bad pane message")
                log.reset(payload)
            elif log.full is None:
                continue  # an update before the pane's first full figure: useless to anyone
            elif log.n >= MAX_LOG:
                resync.append(pane)
                continue
            else:
                log.add(payload)
            out.append('{"p":%s,"m":%s}' % (json.dumps(pane), payload))
        self.published += 1
        self.last_seen = time.monotonic()
        if not out:
            return None, resync
        return sse("batch", '{"ev":[%s],"n":%d}' % (",".join(out), len(self.followers))), resync

    def end(self, why: str) -> None:
        if self.ended:
            return
        self.ended, self.ended_at = why, time.monotonic()
        msg = sse("end", json.dumps({"why": why, "sentence": SENTENCES.get(why, SENTENCES["stopped"])}))
        self.fan_out(msg, ends=True)

    def fan_out(self, msg: bytes, ends: bool = False) -> None:
        """Send ``msg`` to every follower, in order after what is already waiting, a slice of
        followers at a time: the server's loop (which also carries the teacher's own page) never
        waits behind a whole class. A follower that joined after this batch (its state holds it)
        is skipped."""
        self._outbox.append((self.published, msg, ends))
        if not self._fanning:
            self._fanning = True
            IOLoop.current().spawn_callback(self._fan)

    async def _fan(self) -> None:
        try:
            while self._outbox:
                seq, msg, ends = self._outbox.pop(0)
                followers = list(self.followers)
                for i in range(0, len(followers), FAN_SLICE):
                    for f in followers[i:i + FAN_SLICE]:
                        if f.joined_at < seq or ends:
                            f.send(msg)
                            if ends:
                                f.close_soon()
                    await asyncio.sleep(0)
        finally:
            self._fanning = False


class FollowHub:
    """The shares of one server, and their followers."""

    def __init__(self, token: str | None = None, allowed_ips=()):
        self.token = token or secrets.token_urlsafe(32)
        self.allowed = LOOPBACK | set(allowed_ips)
        self.shares: dict[str, Share] = {}
        self._sweeper: PeriodicCallback | None = None
        self._last_ping = time.monotonic()

    def start(self) -> None:
        """Check every second for kernels that went away (call on the server's IO loop)."""
        if self._sweeper is None:
            self._sweeper = PeriodicCallback(self.sweep, 1000)
            self._sweeper.start()

    def create(self, title: str, order: list[str], pid: int | None) -> Share:
        live = [s for s in self.shares.values() if not s.ended]
        if len(live) >= MAX_SHARES:
            raise ValueError("too many shares")
        code = new_code()
        while code in self.shares:
            code = new_code()
        share = Share(code, secrets.token_urlsafe(32), title[:200], order, pid)
        self.shares[code] = share
        return share

    def sweep(self) -> None:
        now = time.monotonic()
        ping = now - self._last_ping > PING_S
        if ping:
            self._last_ping = now
        for code, s in list(self.shares.items()):
            if s.ended:
                if now - s.ended_at > KEEP_ENDED_S:
                    del self.shares[code]
                continue
            if not pid_alive(s.pid) or now - s.last_seen > SILENT_S:
                s.end("kernel")
            elif now - s.created > MAX_SHARE_S:
                s.end("expired")
            elif ping:
                for f in list(s.followers):
                    f.send(b": ping\n\n")

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
        for s in self.shares.values():
            s.end("server")


# -- handlers ----------------------------------------------------------------------------------

class _Base(tornado.web.RequestHandler):
    def initialize(self, hub: FollowHub, base_url: str = "/"):
        self.hub, self.base_url = hub, base_url

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def check_xsrf_cookie(self):  # the API is for kernels (secret-checked), the pages are read-only
        return


class _ReadOnly(_Base):
    """Followers may only read: any other method is refused."""

    def _refuse(self, *args, **kwargs):
        self.set_status(405)
        self.set_header("Allow", "GET, HEAD")
        self.finish("A follow page is read-only.")

    post = put = delete = patch = options = _refuse


class _KernelOnly(_Base):
    """Loopback only, never from a browser."""

    def prepare(self):
        if self.request.remote_ip not in self.hub.allowed or "Origin" in self.request.headers:
            raise tornado.web.HTTPError(403)

    def _share(self, code: str) -> Share:
        share = self.hub.shares.get(code)
        given = self.request.headers.get("X-Seqviz-Secret", "")
        if share is None or not hmac.compare_digest(given.encode(), share.secret.encode()):
            raise tornado.web.HTTPError(403)
        return share

    def get(self, *args):
        raise tornado.web.HTTPError(405)


class CreateHandler(_KernelOnly):
    def post(self):
        if not hmac.compare_digest(self.request.headers.get("X-Seqviz-Token", "").encode(), self.hub.token.encode()):
            raise tornado.web.HTTPError(403)
        try:
            body = json.loads(self.request.body or b"{}")
            order = [str(p) for p in body.get("order", [])][:64]
            pid = int(body["pid"]) if body.get("pid") else None
            share = self.hub.create(str(body.get("title", "seqviz")), order, pid)
        except (ValueError, TypeError, KeyError) as e:
            raise tornado.web.HTTPError(400, str(e)) from None
        self.finish({"code": share.code, "secret": share.secret})


class PublishHandler(_KernelOnly):
    def post(self, code):
        share = self._share(code)
        if share.ended:
            self.set_status(410)
            self.finish({"ended": share.ended})
            return
        try:
            msg, resync = share.publish(self.request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise tornado.web.HTTPError(400, str(e)[:100]) from None
        if msg is not None:
            share.fan_out(msg)
        self.finish({"n": len(share.followers), "resync": resync})


class StopHandler(_KernelOnly):
    def post(self, code):
        share = self._share(code)
        try:
            why = json.loads(self.request.body or b"{}").get("why", "stopped")
        except ValueError:
            why = "stopped"
        share.end(why if why in SENTENCES else "stopped")
        self.finish({"n": 0})


class EventsHandler(_ReadOnly):
    """The stream a follower reads: the whole state, then one event per batch."""

    async def get(self, code):
        share = self.hub.shares.get(normalise_code(code) or "")
        if share is None:
            raise tornado.web.HTTPError(404)
        if len(share.followers) >= MAX_FOLLOWERS:
            raise tornado.web.HTTPError(503)
        # The stream is written raw (no chunked encoding, the body ends when the connection does):
        # the same bytes go to every follower without a copy per follower.
        self._auto_finish = False
        self.stream = self.request.connection.detach()
        self.stream.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                          b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                          b"X-Accel-Buffering: no\r\nConnection: close\r\n\r\n")
        self.stream.set_close_callback(self._gone)
        self.share, self.stale, self.gone, self.closing = share, False, False, False
        self.flushing = False  # one write in flight at a time; later events wait in the backlog
        self.sock = self.stream.socket
        self.fast = DIRECT_SEND and not isinstance(self.stream, tornado.iostream.SSLIOStream)  # plain sockets: send() directly
        self.sent = 0  # events that went straight into the socket
        self.backlog: list[bytes] = []  # events waiting for it
        self.backlog_bytes = 0
        self._done = tornado.locks.Event()
        self.joined_at = share.published  # the state below holds every batch up to this one
        share.followers.add(self)
        self.send(b"retry: 2000\n\n" + share.state())
        if share.ended:
            self.close_soon()
        await self._done.wait()
        self.stream.close()

    def send(self, data: bytes) -> None:
        if self.gone or self.closing:
            return
        if not self.flushing:
            self._write(data)
        elif not self.stale:
            self.backlog.append(data)
            self.backlog_bytes += len(data)
            if len(self.backlog) > BEHIND or self.backlog_bytes > BEHIND_BYTES:
                self.backlog, self.backlog_bytes, self.stale = [], 0, True  # the whole state follows instead

    def _write(self, data: bytes) -> None:
        """Into the socket at once when it has room (the usual case: no copy, no future, no callback
        for this follower); what does not fit is handed to the stream and waits for its flush."""
        if self.fast and not self.stream.writing():
            try:
                n = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self._gone()
                return
            if n == len(data):
                self.sent += 1
                return
            data = data[n:]
        self.flushing = True
        try:
            fut = self.stream.write(data)
        except Exception:  # noqa: BLE001 - closed under us
            self._gone()
            return
        fut.add_done_callback(self._flushed)

    def _flushed(self, fut) -> None:
        self.flushing = False
        if fut.cancelled() or fut.exception() is not None:
            self._gone()
            return
        if self.gone:
            return
        if self.stale:
            self.stale = False
            self._write(self.share.state())  # (an ended share's state carries its sentence)
        elif self.backlog:
            data = b"".join(self.backlog)
            self.backlog, self.backlog_bytes = [], 0
            self._write(data)
        elif self.closing:
            self._gone()

    def close_soon(self) -> None:
        """End the stream once what was sent to this follower (the end event) has gone out."""
        if not self.closing:
            self.closing = True
            if not self.flushing:
                self._gone()

    def on_connection_close(self) -> None:
        if hasattr(self, "share"):
            self._gone()

    def _gone(self) -> None:  # (also the stream's close callback)
        if not self.gone:
            self.gone = True
            self.share.followers.discard(self)
            self._done.set()


class PageHandler(_ReadOnly):
    def get(self, code=None):
        if code is None:
            typed = self.get_argument("code", "")
            norm = normalise_code(typed) if typed else None
            if norm:
                self.redirect(f"{self.base_url}follow/{norm}")
                return
            self.finish(ask_page(self.base_url, bad=bool(typed)))
            return
        norm = normalise_code(code)
        if norm is None or norm not in self.hub.shares:
            self.set_status(404)
            self.finish(ask_page(self.base_url, bad=True))
            return
        if norm != code:
            self.redirect(f"{self.base_url}follow/{norm}")
            return
        self.set_header("Content-Security-Policy",
                        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                        "img-src 'self' data:; connect-src 'self'")
        self.finish(follow_page(norm, self.hub.shares[norm].title, self.base_url))


class _Plotly(tornado.web.StaticFileHandler):
    """plotly.js for the follow page, from the local copy the dashboards serve (the fan-out process
    serves the page, so it serves its one script too: the page's CSP allows its own origin only)."""

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self):
        return


def follow_handlers(hub: FollowHub, base_url: str = "/", plotly: bool = False) -> list:
    """The follow URLs; ``plotly``: serve the page's plotly.js too (a server that is not Voila)."""
    b = base_url.rstrip("/")
    kw = {"hub": hub, "base_url": b + "/"}
    code = r"([^/]{1,32})"
    return [
        (rf"{b}/follow-api/shares", CreateHandler, kw),
        (rf"{b}/follow-api/shares/{code}/publish", PublishHandler, kw),
        (rf"{b}/follow-api/shares/{code}/stop", StopHandler, kw),
        (rf"{b}/follow/?", PageHandler, kw),
        (rf"{b}/follow/{code}/events", EventsHandler, kw),
        (rf"{b}/follow/{code}/?", PageHandler, kw),
    ] + ([(rf"{b}/voila/templates/seqviz/static/(plotly\.min\.js)", _Plotly, {"path": str(STATIC)})] if plotly else [])


class _Redirect(tornado.web.RequestHandler):
    """On Voila: ``/follow...`` sends the follower to the fan-out process (same host, its port)."""

    def initialize(self, port: int):
        self.port = port

    def check_xsrf_cookie(self):
        return

    def get(self, *args):
        host = urlsplit("//" + self.request.host).hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.redirect(f"{self.request.protocol}://{host}:{self.port}{self.request.uri}")

    def _refuse(self, *args, **kwargs):
        self.set_status(405)
        self.set_header("Allow", "GET, HEAD")
        self.finish("A follow page is read-only.")

    post = put = delete = patch = options = _refuse


class _Nothing(tornado.web.RequestHandler):
    """On Voila: the publish API lives in the fan-out process (loopback, secret); here it is refused."""

    def check_xsrf_cookie(self):
        return

    def prepare(self):
        raise tornado.web.HTTPError(403)


def redirect_handlers(port: int, base_url: str = "/") -> list:
    """What Voila mounts when the fan-out runs in a process of its own on ``port``."""
    b = base_url.rstrip("/")
    return [(rf"{b}/follow-api/.*", _Nothing), (rf"{b}/follow(/.*)?", _Redirect, {"port": port})]


def serve_fanout(ip: str, port: int, base_url: str, parent: int | None, allowed_ips=(), announce=print) -> None:
    """The fan-out process: the follow pages, streams, plotly.js and the publish API on ``ip:port``,
    until ``parent`` (the Voila server) is gone."""
    import tornado.httpserver

    hub = FollowHub(token=os.environ.get(TOKEN_ENV) or None, allowed_ips=allowed_ips)

    async def run():
        app = tornado.web.Application(follow_handlers(hub, base_url, plotly=True))
        server = tornado.httpserver.HTTPServer(app, xheaders=False)
        socks = tornado.netutil.bind_sockets(port, ip or None)
        server.add_sockets(socks)
        announce(f"seqviz-follow listening {socks[0].getsockname()[1]}")
        hub.start()
        gone = asyncio.Event()
        ppid = os.getppid()

        def watch():  # the server that started it is gone (even killed): so is the fan-out
            if os.getppid() != ppid or (parent and not pid_alive(parent)):
                gone.set()

        PeriodicCallback(watch, 1000).start()
        await gone.wait()
        hub.close()
        await asyncio.sleep(0.3)  # the end events go out
        server.stop()

    asyncio.run(run())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="seqviz follow mode's fan-out process (started by voila_app)")
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--base-url", default="/")
    ap.add_argument("--parent", type=int, default=0, help="exit when this process (the Voila server) ends")
    ap.add_argument("--allow", action="append", default=[], help="another address allowed to publish")
    ap.add_argument("--nice", type=int, default=0)
    a = ap.parse_args(argv)
    if a.nice:
        os.nice(a.nice)
    serve_fanout(a.ip, a.port, a.base_url, a.parent or None, a.allow, lambda line: print(line, flush=True))


# -- the pages ---------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 24px;color:#1a1a1a;background:#fff}
h1{font-size:20px;margin:0 0 4px 0} .sub{color:#555;font-size:14px;margin-bottom:10px}
#status{font-size:18px;min-height:1.4em;margin:8px 0} .warn{color:#8a4b00;font-weight:600}
.error{color:#a40000;font-weight:600} .ok{color:#006b3c} .info{color:#1a1a1a}
#note{font-size:18px;font-weight:600;color:#8a4b00;margin:8px 0;min-height:1.2em}
#panes{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start} .pane{max-width:100%;overflow-x:auto}
form input{font-size:24px;letter-spacing:4px;width:12em;text-transform:uppercase} form button{font-size:20px}
"""

_SCRIPT = r"""
(function () {
  const body = document.body, code = body.dataset.code;
  const panesEl = document.getElementById("panes"), statusEl = document.getElementById("status");
  const noteEl = document.getElementById("note"), countEl = document.getElementById("count");
  const config = { displaylogo: false, responsive: false, staticPlot: false,
                   modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const LEVELS = { info: 1, ok: 1, warn: 1, error: 1 };
  const revive = (k, v) => (v === "__seqviz_undefined__" ? undefined : v);
  const divs = {};
  const pending = new Map();  // pane id -> messages not drawn yet, in order
  let pumping = false, ended = false, firstPending = false;
  // (tests and benchmarks read these; times are performance.now(), from the start of navigation)
  const stats = (window.__follow = { states: 0, batches: 0, drawn: 0, firstFrameMs: null, connectMs: null });
  const say = (el, text) => { el.textContent = text; };  // textContent: nothing shown is ever parsed as HTML
  const setStatus = (st) => {
    say(statusEl, st[0]);
    statusEl.className = LEVELS[st[1]] ? st[1] : "info";
  };
  const setCount = (n) => say(countEl, n === 1 ? "1 person following" : n + " people following");
  const draw = (div, m) => {
    if (m.kind === "react") return Plotly.react(div, m.data, m.layout, config);
    if (m.kind === "update" && div.data) return Plotly.update(div, m.restyle || {}, m.relayout || {}, m.traces);
  };
  const sameKeys = (a, b) => {
    const ka = Object.keys(a || {}), kb = Object.keys(b || {});
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b || {}, k));
  };
  // Two updates that set the same properties of the same traces draw as one, the later values
  // winning (a value left undefined, "leave it alone", keeps the earlier one): a late joiner, or a
  // slow device that fell behind, draws each pane once instead of replaying every refresh.
  const mergeable = (a, b) => a && a.kind === "update" && b.kind === "update" &&
    JSON.stringify(a.traces) === JSON.stringify(b.traces) && sameKeys(a.restyle, b.restyle) && sameKeys(a.relayout, b.relayout);
  const merge = (a, b) => {
    const restyle = {};
    for (const k of Object.keys(b.restyle || {})) {
      const va = a.restyle[k], vb = b.restyle[k];
      restyle[k] = Array.isArray(va) && Array.isArray(vb) && va.length === vb.length
        ? vb.map((v, i) => (v === undefined ? va[i] : v)) : vb;
    }
    return { kind: "update", restyle, relayout: Object.assign({}, a.relayout, b.relayout), traces: b.traces };
  };
  const compact = (msgs) => {
    let from = 0;
    for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i].kind === "react") { from = i; break; }
    const out = [];
    for (const m of msgs.slice(from)) {
      if (mergeable(out[out.length - 1], m)) out[out.length - 1] = merge(out[out.length - 1], m);
      else out.push(m);
    }
    return out;
  };
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (pending.size) {
        for (const [id, msgs] of Array.from(pending)) {
          pending.delete(id);
          const div = divs[id];
          if (!div) continue;
          for (const m of compact(msgs)) {
            try { await draw(div, m); } catch (e) { console.warn("follow: a frame failed", e); }
          }
        }
        stats.drawn += 1;
      }
      if (firstPending) { firstPending = false; stats.firstFrameMs = performance.now(); }
    } finally {
      pumping = false;
    }
  };
  const parse = (text) => (text.includes("__seqviz_undefined__") ? JSON.parse(text, revive) : JSON.parse(text));
  stats.connectMs = performance.now();
  const es = new EventSource(location.pathname.replace(/\/$/, "") + "/events");
  es.addEventListener("state", (e) => {
    const s = parse(e.data);
    stats.states += 1;
    setStatus(s.status);
    setCount(s.n);
    const keep = new Set(s.panes.map((p) => p.id));
    for (const id of Object.keys(divs)) if (!keep.has(id)) { Plotly.purge(divs[id]); divs[id].remove(); delete divs[id]; }
    for (const p of s.panes) {
      if (!divs[p.id]) {
        const d = document.createElement("div");
        d.className = "pane"; d.dataset.pane = p.id;
        divs[p.id] = d;
      }
      panesEl.appendChild(divs[p.id]);  // in the teacher's order
      pending.set(p.id, p.msgs.slice());  // the whole state replaces whatever was still to draw
    }
    if (stats.firstFrameMs === null) firstPending = true;
    pump();
    if (s.ended) { ended = true; say(countEl, ""); say(noteEl, s.ended); es.close(); }
    else say(noteEl, "");
  });
  es.addEventListener("batch", (e) => {
    const b = parse(e.data);
    stats.batches += 1;
    setCount(b.n);
    for (const ev of b.ev) {
      if (ev.s) setStatus(ev.s);
      else if (divs[ev.p]) {
        if (!pending.has(ev.p)) pending.set(ev.p, []);
        pending.get(ev.p).push(ev.m);
      }
    }
    pump();
  });
  es.addEventListener("end", (e) => {
    ended = true;
    say(countEl, "");
    say(noteEl, JSON.parse(e.data).sentence);
    es.close();
  });
  es.onerror = () => {
    if (ended) return;
    if (es.readyState === EventSource.CLOSED) say(noteEl, "The live view is no longer available. This is the last frame it shared.");
    else say(noteEl, "The connection to the live view was lost; trying again...");
  };
  es.onopen = () => { if (!ended) say(noteEl, ""); };
})();
"""


def follow_page(code: str, title: str, base_url: str = "/") -> str:
    """The follower's page: plain HTML, the local plotly.js, no kernel, no widgets."""
    e = html.escape
    spaced = f"{code[:4]} {code[4:]}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Following {e(title)} ({e(spaced)})</title><style>{_STYLE}</style>
<script src="{e(base_url)}voila/templates/seqviz/static/plotly.min.js"></script></head>
<body data-code="{e(code)}">
<h1>Following: {e(title)}</h1>
<div class="sub">Live view {e(spaced)}, read-only: the teacher trains, this page shows what their dashboard shows.
<span id="count"></span></div>
<div id="note"></div>
<div id="status" class="info"></div>
<div id="panes"></div>
<script>{_SCRIPT}</script>
</body></html>"""


def ask_page(base_url: str = "/", bad: bool = False) -> str:
    e = html.escape
    msg = ("<p class='warn'>No live view is shared under that code (it may have ended). Check the code "
           "on the teacher's screen.</p>") if bad else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Follow a live view</title><style>{_STYLE}</style></head><body>
<h1>Follow the teacher's live view</h1>{msg}
<form method="get" action="{e(base_url)}follow"><p>Type the code shown on the teacher's screen:</p>
<input name="code" autocomplete="off" maxlength="16" placeholder="K7QX M3TA" autofocus>
<button type="submit">Follow</button></form></body></html>"""


if __name__ == "__main__":
    main(sys.argv[1:])
