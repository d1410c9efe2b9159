"""Share live view (follow mode, issue 16): the teacher's dashboard published to a class.

Every ``LiveDashboard`` shows a ``ShareControl`` (``dashboard.share``). Pressed, it finds the
dashboard's plot panes and status line, asks the seqviz server (``seqviz_server/follow.py``) for
a code, and a ``Publisher`` sends what those panes send to the teacher's browser (the very same
update messages, already serialised) and the status text to the server, which fans them out to
everyone at ``/follow/<code>``.

Off the training thread's path: ``PlotPane`` and ``StatusLine`` only append to a list (they
notify ``pane.publisher`` / ``status.publisher``, None when not sharing: nothing changes then);
one sender thread posts a batch at most ``MAX_HZ`` times a second, a heartbeat every second, and
a pane's full figure when the share starts and after every ``FULL_EVERY`` updates (so a late
follower replays little). Nothing here waits on a follower.
"""

from __future__ import annotations

import atexit
import html
import http.client
import json
import os
import threading
import time
import weakref
from urllib.parse import urlsplit

import ipywidgets as ipw

from widgets.kit.plotpane import PlotPane, _plain, page_link
from widgets.kit.status import StatusLine, log

URL_ENV = "SEQVIZ_FOLLOW_URL"  # set by seqviz_server/voila_app.py for the kernels it starts
TOKEN_ENV = "SEQVIZ_FOLLOW_TOKEN"
MAX_HZ = 10.0  # batches a second at most
HEARTBEAT_S = 1.0  # the server ends a share it has not heard from for 8 s
FULL_EVERY = 50  # updates of a pane between two of its full figures
MAX_PENDING = 2000  # queued updates; beyond, they are dropped and every pane's full figure sent instead

_LIVE: weakref.WeakSet = weakref.WeakSet()


def find_parts(widget) -> tuple[list[PlotPane], list[StatusLine]]:
    """The plot panes and status lines inside ``widget``, in page order."""
    panes, lines, seen = [], [], set()

    def walk(w):
        if id(w) in seen:
            return
        seen.add(id(w))
        if isinstance(w, PlotPane) and w.role == "pane":
            panes.append(w)
        elif isinstance(w, StatusLine):
            lines.append(w)
        for c in getattr(w, "children", ()) or ():
            walk(c)

    walk(widget)
    return panes, lines


class ShareRefused(Exception):
    """The server refused or did not answer; the message is a sentence for the status line."""


class Publisher:
    """One share: a code, its secret, a queue and the thread that empties it."""

    def __init__(self, panes: list[PlotPane], status: StatusLine | None, title: str,
                 url: str | None = None, token: str | None = None, on_count=None, on_end=None):
        self.url = url or os.environ.get(URL_ENV, "")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        if not self.url or not self.token:
            raise ShareRefused("Sharing needs the seqviz server: open this dashboard through `make dashboard` "
                               "(Voila), not here.")
        self.panes = list(panes)
        self.status = status
        self.title = title
        self.ids = {id(p): f"p{i}" for i, p in enumerate(self.panes)}
        self.on_count, self.on_end = on_count, on_end
        self.followers = 0
        self.code = self.secret = ""
        self.sent_batches = 0
        self.thread_cpu_s = 0.0
        self._lock = threading.Lock()
        self._queue: list[tuple[str, str | dict]] = []  # (head, payload) lines; a full figure is a dict until sent
        self._full: set[int] = set()  # panes whose full figure goes next
        self._since_full: dict[int, int] = {}
        self._status: tuple[str, str] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: http.client.HTTPConnection | None = None
        split = urlsplit(self.url)
        self._host, self._port = split.hostname or "127.0.0.1", split.port or 80
        self._base = split.path.rstrip("/")

    # -- called by the panes and the status line (any thread, often under the pane's lock) --------
    def pane_changed(self, pane: PlotPane, payload: str | None) -> None:
        """``payload``: the update message as sent to the browser; None: no browser view yet,
        so the pane's full figure goes next."""
        key = id(pane)
        with self._lock:
            if payload is None or len(self._queue) >= MAX_PENDING:
                if payload is not None:  # far behind: everything's full figure instead
                    self._queue.clear()
                    self._full.update(id(p) for p in self.panes)
                self._full.add(key)
            else:
                self._queue.append((f'{{"p":"{self.ids[key]}"}}', payload))
                n = self._since_full.get(key, 0) + 1
                self._since_full[key] = n
                if n >= FULL_EVERY:
                    self._full.add(key)
        self._wake.set()

    def status_changed(self, text: str, level: str) -> None:
        with self._lock:
            self._status = (text, level)
        self._wake.set()

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> str:
        """Create the share on the server (raises ``ShareRefused``), hook the panes, start sending."""
        reply = self._post("/follow-api/shares", json.dumps(
            {"title": self.title, "order": [self.ids[id(p)] for p in self.panes], "pid": os.getpid()}),
            {"X-Seqviz-Token": self.token})
        self.code, self.secret = reply["code"], reply["secret"]
        self._full.update(id(p) for p in self.panes)
        for p in self.panes:
            p.publisher = self
        if self.status is not None:
            self._status = (self.status.text, self.status.level)
            self.status.publisher = self
        self._wake.set()  # the first frame goes at once
        self._thread = threading.Thread(target=self._run, name="seqviz-share", daemon=True)
        self._thread.start()
        _LIVE.add(self)
        return self.code

    @property
    def sharing(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def stop(self, why: str = "stopped", wait: bool = True) -> None:
        """Stop publishing; followers are told ``why`` ("stopped", "kernel", "closed")."""
        if self._stop.is_set():
            return
        self._unhook()
        self._stop.set()
        self._wake.set()
        t = self._thread
        if wait and t is not None and t is not threading.current_thread():
            t.join(3.0)
        try:
            self._post(f"/follow-api/shares/{self.code}/stop", json.dumps({"why": why}),
                       {"X-Seqviz-Secret": self.secret}, timeout=1.0)
        except ShareRefused:
            pass  # the server is gone or forgot the share: nobody to tell

    def _unhook(self) -> None:
        for p in self.panes:
            if getattr(p, "publisher", None) is self:
                p.publisher = None
        if self.status is not None and getattr(self.status, "publisher", None) is self:
            self.status.publisher = None

    def _run(self) -> None:
        last = 0.0
        failures = 0
        while not self._stop.is_set():
            self.thread_cpu_s = time.thread_time()  # the sender's own CPU so far (benchmarks read it)
            self._wake.wait(HEARTBEAT_S)
            self._wake.clear()
            wait = last + 1.0 / MAX_HZ - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            if page_link().page_gone():
                self._end("closed", "Stopped sharing: the dashboard's page was closed.")
                return
            body = self._batch()
            last = time.monotonic()
            try:
                reply = self._post(f"/follow-api/shares/{self.code}/publish", body,
                                   {"X-Seqviz-Secret": self.secret}, timeout=5.0)
            except ShareRefused as e:
                failures += 1
                if failures >= 3 or "ended" in str(e):
                    self._end(None, f"Stopped sharing: {e}")
                    return
                continue
            failures = 0
            self.sent_batches += 1
            with self._lock:
                self._full.update(id(p) for p in self.panes if self.ids[id(p)] in set(reply.get("resync", ())))
            n = int(reply.get("n", 0))
            if n != self.followers:
                self.followers = n
                if self.on_count is not None:
                    self.on_count(n)

    def _end(self, why: str | None, sentence: str) -> None:
        self._unhook()
        self._stop.set()
        if why is not None:
            try:
                self._post(f"/follow-api/shares/{self.code}/stop", json.dumps({"why": why}),
                           {"X-Seqviz-Secret": self.secret}, timeout=1.0)
            except ShareRefused:
                pass
        if self.on_end is not None:
            self.on_end(sentence)

    def _batch(self) -> str:
        """The lines to post: queued updates, full figures due (taken under each pane's lock, so
        they fall between the updates exactly where they were), the latest status."""
        with self._lock:
            full = [p for p in self.panes if id(p) in self._full]
        for p in full:
            with p.lock:  # (only the copy is made under the pane's lock: the training thread waits for no JSON)
                fig = p.figure.to_plotly_json()  # a deep copy
                with self._lock:
                    self._full.discard(id(p))
                    self._since_full[id(p)] = 0
                    self._queue.append((f'{{"p":"{self.ids[id(p)]}","r":1}}', fig))
        with self._lock:
            queue, self._queue = self._queue, []
            status, self._status = self._status, None
        queue = [(h, x if isinstance(x, str) else json.dumps(
            _plain({"kind": "react", "data": x["data"], "layout": x["layout"]}), separators=(",", ":")))
            for h, x in queue]
        # a pane's full figure makes its earlier updates in this batch useless
        last_full = {h: i for i, (h, _) in enumerate(queue) if h.endswith(',"r":1}')}
        lines = []
        for i, (head, payload) in enumerate(queue):
            full_at = last_full.get(head[:-1] + ',"r":1}', -1) if not head.endswith(',"r":1}') else -1
            if i < full_at:
                continue
            lines += [head, payload]
        if status is not None:
            lines += ['{"s":1}', json.dumps(list(status))]
        return "\n".join(lines)

    def _post(self, path: str, body: str, headers: dict, timeout: float = 3.0) -> dict:
        for attempt in (0, 1):  # a kept-alive connection the server closed: once more, fresh
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
                self._conn.timeout = timeout
                self._conn.request("POST", self._base + path, body=body.encode("utf-8"),
                                   headers={**headers, "Content-Type": "text/plain; charset=utf-8"})
                r = self._conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                self._conn = None
                if attempt:
                    raise ShareRefused(f"the seqviz server did not answer ({type(e).__name__}).") from None
                continue
            if r.status == 410:
                raise ShareRefused("the share has ended on the server.")
            if r.status != 200:
                raise ShareRefused(f"the seqviz server refused it (HTTP {r.status}).")
            return json.loads(data or b"{}")
        raise ShareRefused("the seqviz server did not answer.")


@atexit.register
def _kernel_ends() -> None:
    for p in list(_LIVE):
        try:
            p.stop("kernel", wait=False)
        except Exception:  # noqa: BLE001 - the interpreter is going
            pass


def follow_address(code: str) -> str:
    """The address students type: this page's own server (as the teacher's browser reached it)."""
    page = os.environ.get("VOILA_REQUEST_URL", "")
    split = urlsplit(page)
    if split.scheme and split.netloc:
        base = f"{split.scheme}://{split.netloc}"
    else:
        pub = urlsplit(os.environ.get(URL_ENV, ""))
        base = f"{pub.scheme or 'http'}://{pub.netloc}"
    prefix = os.environ.get("VOILA_BASE_URL", "/").rstrip("/")
    return f"{base}{prefix}/follow/{code}"


def qr_svg(text: str) -> str | None:
    """A QR code of ``text`` as inline SVG (segno: pure Python, offline); None without segno."""
    try:
        import segno
    except ImportError:
        return None
    return segno.make(text, error="m").svg_inline(scale=4, border=2)


class ShareControl(ipw.VBox):
    """The "Share live view" button and what a class needs to follow: the address, the code in
    large letters, a QR code, and how many people follow."""

    def __init__(self, dashboard, **kwargs):
        super().__init__(**kwargs)
        self._dash = weakref.ref(dashboard)
        self.button = ipw.Button(description="Share live view", tooltip="Let a class follow this dashboard, read-only",
                                 layout=ipw.Layout(width="160px"))
        self.info = ipw.HTML("")
        self.publisher: Publisher | None = None
        self.button.on_click(lambda _: self.toggle())
        self.children = [ipw.HBox([self.button, self.info])]

    def toggle(self) -> None:
        if self.publisher is not None and self.publisher.sharing:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        dash = self._dash()
        if dash is None:
            return
        status = dash.status
        try:
            panes, lines = find_parts(dash)
            title = dash.kind.replace("-", " ").replace("_", " ")
            lesson = os.path.basename(os.environ.get("SCRIPT_NAME", ""))  # Voila: /voila/render/<lesson>.ipynb
            if lesson.endswith(".ipynb"):
                title = f"{title} ({lesson[:-6]})"
            self.publisher = Publisher(panes, status if status in lines or not lines else lines[0], str(title),
                                       on_count=lambda n: self._render(), on_end=self._ended)
            code = self.publisher.start()
        except ShareRefused as e:
            self.publisher = None
            status.say(str(e) if str(e)[:1].isupper() else f"Could not share: {e}", "warn")
            return
        except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
            log.exception("share failed")
            self.publisher = None
            status.say(f"Could not share the live view: {str(e)[:160] or type(e).__name__}.", "error")
            return
        self.button.description, self.button.button_style = "Stop sharing", "info"
        self._render()
        status.say(f"Sharing live: students open {follow_address(code)} (code {code[:4]} {code[4:]}).", "ok")

    def stop(self) -> None:
        pub, self.publisher = self.publisher, None
        if pub is not None:
            pub.stop("stopped")
        self.button.description, self.button.button_style = "Share live view", ""
        self.info.value = ""
        dash = self._dash()
        if dash is not None:
            dash.status.say("Stopped sharing: followers keep the last frame.", "info")

    def _ended(self, sentence: str) -> None:
        self.publisher = None
        self.button.description, self.button.button_style = "Share live view", ""
        self.info.value = ""
        dash = self._dash()
        if dash is not None:
            dash.status.say(sentence, "warn")

    @property
    def code(self) -> str:
        return self.publisher.code if self.publisher is not None else ""

    def _render(self) -> None:
        pub = self.publisher
        if pub is None:
            return
        addr = follow_address(pub.code)
        n = pub.followers
        qr = qr_svg(addr)
        local = urlsplit(addr).hostname in ("127.0.0.1", "localhost", "::1")
        where = (" <span style='color:#8a4b00'>(127.0.0.1 is this computer only: for a class, start the "
                 "server with <code>--ip=0.0.0.0</code> and use this computer's network address)</span>"
                 if local else "")
        self.info.value = (
            "<div class='seqviz-share' style='display:flex;gap:14px;align-items:center;font-size:15px'>"
            + (f"<div class='seqviz-share-qr' style='width:116px;height:116px'>{qr}</div>" if qr else "")
            + "<div><div>Follow live, read-only, at "
            f"<b class='seqviz-share-address'>{html.escape(addr)}</b>{where}</div>"
            "<div>or type the code at <b>/follow</b>: <span class='seqviz-share-code' "
            f"style='font-size:34px;font-weight:700;letter-spacing:4px;font-family:monospace'>"
            f"{html.escape(pub.code[:4])} {html.escape(pub.code[4:])}</span></div>"
            f"<div class='seqviz-share-count'>{n} {'person' if n == 1 else 'people'} following</div></div></div>")
