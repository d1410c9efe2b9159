"""Admission control for ``make dashboard`` (issue 17): a class of 30 on one machine.

Voila starts a kernel for every page request and has no cap (voila issue #617): on a small
machine a crowd slows everyone down together and nothing tells a student to wait. Here:

- **a cap on live dashboard kernels** (``SEQVIZ_MAX_KERNELS``; default from the machine, see
  ``default_limits``). Above it a student gets a plain page: the class is full, their place in
  the queue, an estimate, and the page takes them in by itself when a kernel frees (a culled idle
  kernel, a closed tab). First come, first served: while anyone waits, a new arrival queues too.
- **a start gate**: at most ``SEQVIZ_START_AT_ONCE`` notebooks (default: the number of cores)
  start and execute at once, the others wait their turn in arrival order. 30 notebooks executed
  all at once all finished together after 23 s; one after another the first is ready in about
  a second and the median student in less than half of that.
- **nothing half-started**: a page whose request ends without a kernel frees its place at once;
  a kernel whose page never reached its browser (the request was dropped mid-page) is shut down.
- **closed tabs**: Voila's page asks for its kernel's shutdown when the tab closes, with the
  ``_xsrf`` cookie as its token, but Voila's page never set that cookie, so the request was refused
  and the kernel waited for the 10-minute cull. The dashboard response sets it now. When the
  place is needed (someone waits, or a newcomer finds the class full), a kernel whose page has been
  disconnected for ``SEQVIZ_RECLAIM_S`` (60 s; a crashed tab, a test browser) gives its place.
- **how crowded it is, for the kernels**: the number of open dashboards is written to a small
  file (``write_crowd_file``) named by ``SEQVIZ_CROWD_FILE``, which every kernel inherits; a
  dashboard opened on a crowded machine starts with its class preset and says so (``seqviz.crowd``).
- **bad input**: a queue ticket is a random 128-bit token the server made (in the waiting page's
  cookie and, once admitted, its URL); anything else is ignored (the request queues or enters as
  a new arrival). Nothing a client sends sets its place. One address may hold at most
  ``SEQVIZ_WAITING_PER_ADDRESS`` places in the queue (default 60) and, if set,
  ``SEQVIZ_MAX_PER_ADDRESS`` kernels; past either it gets a plain refusal (429) and no kernel.

``Admission`` is the bookkeeping alone (no tornado, a clock passed in: unit-tested);
``install(app, handlers)`` puts it in front of Voila's render handler (``voila_app.py``).
"""

from __future__ import annotations

import asyncio
import atexit
import html
import json
import os
import re
import secrets
import tempfile
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

PER_KERNEL_MB = 300  # machine memory one dashboard kernel may take while training (measured ~140-220 MB, + headroom)
PER_CORE = 15  # live dashboards per core (see README: 30 training at once on 2 cores)
RESERVE_MB = 1500  # left for the server, the fork server and the system
TICKET_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)
COOKIE = "seqviz_queue"
PARAM = "seqviz_ticket"


def machine_memory_mb() -> int:
    """Physical memory, or the cgroup's limit when it is lower (containers, TLJH's systemd slices)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 << 30
    for p in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = open(p).read().strip()
        except OSError:
            continue
        if raw.isdigit() and 0 < int(raw) < total:
            total = int(raw)
    return total >> 20


@dataclass
class Limits:
    max_kernels: int  # live dashboard kernels (0 = no cap)
    start_at_once: int  # notebooks started / executed at the same time
    per_address: int = 0  # kernels one address may hold (0 = no limit: a class behind one NAT)
    waiting_per_address: int = 60
    queue_max: int = 1000
    reserve_s: float = 30.0  # an admitted student's place is kept this long for their page to come
    ticket_idle_s: float = 30.0  # a waiting page that stopped asking (closed) loses its place
    reclaim_s: float = 60.0  # while someone waits: a page disconnected this long gives its kernel up
    why: str = ""


def default_limits(env=None, cores: int | None = None, memory_mb: int | None = None) -> Limits:
    """The cap from the machine: ``min(cores * PER_CORE, (memory - RESERVE_MB) / PER_KERNEL_MB)``,
    at least 2; each number overridable through the environment."""
    env = os.environ if env is None else env
    cores = cores or os.cpu_count() or 1
    memory_mb = memory_mb or machine_memory_mb()
    by_cpu = cores * PER_CORE
    by_mem = max(0, (memory_mb - RESERVE_MB) // PER_KERNEL_MB)
    cap = max(2, min(by_cpu, by_mem))
    why = (f"{cap} dashboards at once: {cores} cores x {PER_CORE} = {by_cpu}, "
           f"({memory_mb} MB - {RESERVE_MB} MB) / {PER_KERNEL_MB} MB = {by_mem}")

    def num(name, default, kind=int):
        raw = env.get(name, "")
        try:
            v = kind(raw) if raw.strip() else default
        except ValueError:
            return default
        return v if v >= 0 else default

    if env.get("SEQVIZ_MAX_KERNELS", "").strip():
        why = f"{num('SEQVIZ_MAX_KERNELS', cap)} dashboards at once (SEQVIZ_MAX_KERNELS)"
    return Limits(
        max_kernels=num("SEQVIZ_MAX_KERNELS", cap),
        start_at_once=max(1, num("SEQVIZ_START_AT_ONCE", cores)),
        per_address=num("SEQVIZ_MAX_PER_ADDRESS", 0),
        waiting_per_address=max(1, num("SEQVIZ_WAITING_PER_ADDRESS", 60)),
        queue_max=max(1, num("SEQVIZ_QUEUE_MAX", 1000)),
        reserve_s=num("SEQVIZ_RESERVE_S", 30.0, float),
        ticket_idle_s=num("SEQVIZ_TICKET_IDLE_S", 30.0, float),
        reclaim_s=num("SEQVIZ_RECLAIM_S", 60.0, float),
        why=why,
    )


@dataclass
class Slot:
    ip: str
    since: float
    state: str = "starting"  # reserved -> starting -> live
    ticket: str | None = None
    kernel_id: str | None = None
    deadline: float = 0.0
    connected_once: bool = False
    disconnected_at: float | None = None


@dataclass
class Ticket:
    id: str
    ip: str
    path: str
    created: float
    last_seen: float
    state: str = "waiting"  # waiting -> admitted
    slot: Slot | None = None


@dataclass
class Decision:
    kind: str  # "in" | "wait" | "refused"
    slot: Slot | None = None
    ticket: Ticket | None = None
    sentence: str = ""


class Admission:
    """Places (slots) for dashboard kernels and the queue in front of them."""

    def __init__(self, limits: Limits, clock=time.monotonic):
        self.limits = limits
        self.clock = clock
        self.slots: list[Slot] = []
        self.queue: OrderedDict[str, Ticket] = OrderedDict()
        self.freed: deque[float] = deque(maxlen=200)  # when places freed (for the estimate)
        self.started = clock()
        self.admitted_total = 0
        self.refused_total = 0

    # -- counts -----------------------------------------------------------------------
    def free(self) -> int:
        if self.limits.max_kernels <= 0:
            return 1 << 30
        return self.limits.max_kernels - len(self.slots)

    def waiting(self) -> list[Ticket]:
        return [t for t in self.queue.values() if t.state == "waiting"]

    def position(self, ticket: Ticket) -> int:
        """1 = next in."""
        for i, t in enumerate(self.waiting(), 1):
            if t is ticket:
                return i
        return 0

    # -- arrivals ---------------------------------------------------------------------
    def arrive(self, ip: str, path: str, ticket_id: str | None = None) -> Decision:
        now = self.clock()
        t = self.queue.get(ticket_id) if ticket_id and TICKET_RE.match(ticket_id) else None
        if t is not None and t.ip != ip:
            t = None  # a ticket is good from the address it was given to only
        if t is not None and t.state == "admitted":
            del self.queue[t.id]
            slot = t.slot
            slot.state, slot.since = "starting", now
            self.admitted_total += 1
            return Decision("in", slot=slot)
        if t is not None:  # a waiting page reloaded: same place
            t.last_seen, t.path = now, path
            return Decision("wait", ticket=t)
        lim = self.limits
        if lim.per_address and sum(s.ip == ip for s in self.slots) >= lim.per_address:
            self.refused_total += 1
            return Decision("refused", sentence=(
                f"This address already has {lim.per_address} dashboard(s) open, the most this server gives "
                "one address. Close one of them, then reload this page."))
        if self.free() > 0 and not self.waiting():
            slot = Slot(ip=ip, since=now)
            self.slots.append(slot)
            self.admitted_total += 1
            return Decision("in", slot=slot)
        if sum(q.ip == ip for q in self.queue.values()) >= lim.waiting_per_address:
            self.refused_total += 1
            return Decision("refused", sentence=(
                f"{lim.waiting_per_address} people are already waiting from this address, the most this server "
                "keeps for one address. Please try again in a few minutes."))
        if len(self.queue) >= lim.queue_max:
            self.refused_total += 1
            return Decision("refused", sentence=(
                f"{lim.queue_max} people are already waiting, the most this server keeps. "
                "Please try again in a few minutes."))
        t = Ticket(id=secrets.token_urlsafe(16), ip=ip, path=path, created=now, last_seen=now)
        self.queue[t.id] = t
        return Decision("wait", ticket=t)

    def look(self, ticket_id: str | None, ip: str) -> Ticket | None:
        """A waiting page asking where it stands (keeps its place alive)."""
        if not ticket_id or not TICKET_RE.match(ticket_id):
            return None
        t = self.queue.get(ticket_id)
        if t is None or t.ip != ip:
            return None
        t.last_seen = self.clock()
        return t

    # -- a page's kernel ----------------------------------------------------------------
    def bind(self, slot: Slot, kernel_id: str) -> None:
        slot.kernel_id, slot.state = kernel_id, "live"

    def release(self, slot: Slot) -> None:
        if slot in self.slots:
            self.slots.remove(slot)
            self.freed.append(self.clock())
        self.admit()

    def admit(self) -> list[Ticket]:
        """Give free places to the head of the queue (each kept ``reserve_s`` for its page)."""
        now, out = self.clock(), []
        for t in self.waiting():
            if self.free() <= 0:
                break
            slot = Slot(ip=t.ip, since=now, state="reserved", ticket=t.id, deadline=now + self.limits.reserve_s)
            self.slots.append(slot)
            t.state, t.slot = "admitted", slot
            out.append(t)
        return out

    def tick(self, live: set[str], connections: dict[str, int] | None = None) -> list[str]:
        """Once a second: free places whose kernel is gone, expired reservations, and closed waiting
        pages; admit the head of the queue. Returns kernels to shut down (disconnected for
        ``reclaim_s`` while someone waits)."""
        now, lim = self.clock(), self.limits
        connections = connections or {}
        for s in list(self.slots):
            if s.state == "live" and s.kernel_id not in live:
                self.slots.remove(s)
                self.freed.append(now)
            elif s.state == "reserved" and now > s.deadline:
                self.slots.remove(s)
                self.queue.pop(s.ticket, None)
        for t in list(self.queue.values()):
            if t.state == "waiting" and now - t.last_seen > lim.ticket_idle_s:
                del self.queue[t.id]
        for s in self.slots:
            if s.state != "live":
                continue
            n = connections.get(s.kernel_id, 0)
            if n > 0:
                s.connected_once, s.disconnected_at = True, None
            elif s.connected_once and s.disconnected_at is None:
                s.disconnected_at = now
        reclaim = self.reclaimable() if self.waiting() else []
        self.admit()
        return reclaim

    def reclaimable(self) -> list[str]:
        """Kernels whose page has been disconnected for ``reclaim_s`` (a tab closed without its
        shutdown request: a crash, a phone, a test browser): shut down when the place is needed."""
        now, lim = self.clock(), self.limits
        if lim.reclaim_s <= 0:
            return []
        return [s.kernel_id for s in self.slots if s.state == "live" and s.disconnected_at is not None
                and now - s.disconnected_at >= lim.reclaim_s]

    # -- what the waiting page says -------------------------------------------------------
    def estimate_s(self, position: int) -> float | None:
        """Seconds until ``position`` is in, from how often places freed in the last 15 minutes."""
        now = self.clock()
        recent = [f for f in self.freed if now - f <= 900]
        if not recent:
            return None
        window = max(60.0, min(900.0, now - self.started))
        return position * window / len(recent)

    def status(self, t: Ticket | None) -> dict:
        if t is None:
            return {"state": "unknown", "sentence": "This place in the queue has expired; reloading the page queues you again."}
        if t.state == "admitted":
            return {"state": "admitted", "go": t.path, "ticket": t.id, "sentence": "A place is free: opening your dashboard."}
        pos = self.position(t)
        est = self.estimate_s(pos)
        return {"state": "waiting", "position": pos, "waiting": len(self.waiting()),
                "open": len(self.slots), "cap": self.limits.max_kernels, "estimate_s": est,
                "sentence": waiting_sentence(pos, self.limits.max_kernels, est)}


def write_crowd_file(path: str, open_dashboards: int, cores: int | None = None, pid: int | None = None) -> None:
    """What a kernel reads to know how crowded the machine is (``seqviz.crowd.server_count``):
    the open dashboards, the cores and this server's pid (a file left by a dead server is ignored).
    Written whole, then renamed: a kernel never reads half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"open": int(open_dashboards), "cores": cores or os.cpu_count() or 1,
                   "pid": pid or os.getpid()}, f)
    os.replace(tmp, path)


def waiting_sentence(position: int, cap: int, estimate: float | None) -> str:
    ahead = "You are next." if position == 1 else f"You are number {position} in the queue."
    if estimate is None:
        when = ("There is no estimate yet: no dashboard has closed in the last minutes "
                "(idle dashboards close by themselves after 10 minutes).")
    elif estimate < 90:
        when = f"Estimated wait: about {max(5, round(estimate / 5) * 5):.0f} seconds."
    else:
        when = f"Estimated wait: about {round(estimate / 60):.0f} minutes."
    return (f"The class is full: this server runs {cap} dashboards at once and all of them are in use. "
            f"{ahead} {when} This page takes you in by itself when a place frees; keep it open.")


# -- the waiting page ------------------------------------------------------------------------

def queue_page(status: dict, status_url: str, ticket: str) -> str:
    s = html.escape(status.get("sentence", ""))
    pos = status.get("position", 0)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>seqviz: the class is full ({pos} in the queue)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="10"></noscript>
<style>body{{font:18px/1.5 system-ui,sans-serif;max-width:40em;margin:12vh auto;padding:0 1em;color:#222}}
h1{{font-size:1.4em}} #pos{{font-size:3em;font-weight:600;margin:.2em 0}} .small{{color:#666;font-size:.85em}}</style>
</head><body data-seqviz-queue="{pos}">
<h1>The class is full &mdash; please wait</h1>
<div id="pos">{pos}</div>
<p id="seqviz-queue-status">{s}</p>
<p class="small">You do not need to reload. Closing this page gives up your place.</p>
<script>
(function() {{
  var url = {json.dumps(status_url)} + "?t=" + encodeURIComponent({json.dumps(ticket)});
  function poll() {{
    fetch(url, {{cache: "no-store", credentials: "same-origin"}}).then(function(r) {{ return r.json(); }})
      .then(function(s) {{
        if (s.state === "admitted") {{
          document.getElementById("seqviz-queue-status").textContent = s.sentence;
          var sep = s.go.indexOf("?") < 0 ? "?" : "&";
          window.location.replace(s.go + sep + "{PARAM}=" + encodeURIComponent(s.ticket));
          return;
        }}
        if (s.state === "unknown") {{ window.location.reload(); return; }}
        document.getElementById("seqviz-queue-status").textContent = s.sentence;
        document.getElementById("pos").textContent = s.position;
        document.body.setAttribute("data-seqviz-queue", s.position);
        document.title = "seqviz: the class is full (" + s.position + " in the queue)";
        setTimeout(poll, 2000);
      }}).catch(function() {{ setTimeout(poll, 4000); }});
  }}
  setTimeout(poll, 1000);
}})();
</script></body></html>"""


def refused_page(sentence: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>seqviz: please wait</title></head>"
            f"<body style=\"font:18px/1.5 system-ui,sans-serif;max-width:40em;margin:12vh auto\">"
            f"<p id=\"seqviz-queue-status\">{html.escape(sentence)}</p></body></html>")


# -- tornado: in front of Voila's render handler ------------------------------------------------

class _Recording:
    """The kernel manager as Voila's handler sees it: every kernel it starts (or takes from the
    preheated pool) is tied to the request's place."""

    def __init__(self, km, on_kernel):
        self._km, self._on_kernel = km, on_kernel

    def __getattr__(self, name):
        return getattr(self._km, name)

    async def start_kernel(self, *a, **kw):
        res = self._km.start_kernel(*a, **kw)
        kid = await res if asyncio.iscoroutine(res) or asyncio.isfuture(res) else res
        self._on_kernel(kid)
        return kid

    async def get_rendered_notebook(self, *a, **kw):
        out = await self._km.get_rendered_notebook(*a, **kw)
        self._on_kernel(out[2])
        return out


def install(app, handlers: list) -> list:
    """Put admission in front of Voila's ``/voila/render/`` handler, add ``/seqviz-queue/status``,
    and start the once-a-second bookkeeping. ``app`` is the Voila application."""
    import tornado.web
    from jupyter_server.utils import url_path_join
    from tornado.ioloop import IOLoop, PeriodicCallback
    from voila.tornado.handler import TornadoVoilaHandler

    limits = default_limits()
    adm = Admission(limits)
    gate = asyncio.Semaphore(limits.start_at_once)
    status_url = url_path_join(app.server_url, "/seqviz-queue/status")
    app.log.info("seqviz admission: %s; %d notebook(s) start at once", limits.why, limits.start_at_once)
    from seqviz.crowd import CROWD_FILE_ENV

    crowd_path = os.path.join(tempfile.gettempdir(), f"seqviz-crowd-{os.getpid()}-{secrets.token_hex(4)}.json")
    os.environ[CROWD_FILE_ENV] = crowd_path  # kernels inherit this process's environment
    published = [None]

    def publish():
        """The open dashboards for the kernels (when the count changed)."""
        n = len(adm.slots)
        if n != published[0]:
            try:
                write_crowd_file(crowd_path, n)
                published[0] = n
            except OSError as e:
                app.log.warning("seqviz admission: could not write %s: %s", crowd_path, e)

    def unpublish():
        try:
            os.remove(crowd_path)
        except OSError:
            pass

    atexit.register(unpublish)

    class AdmittedVoilaHandler(TornadoVoilaHandler):
        _slot: Slot | None = None
        _kernel_id: str | None = None
        _closed = False

        @property
        def kernel_manager(self):
            return _Recording(self.settings["kernel_manager"], self._got_kernel)

        def _got_kernel(self, kid):
            self._kernel_id = kid
            if self._slot is not None:
                adm.bind(self._slot, kid)

        def on_connection_close(self):
            self._closed = True
            super().on_connection_close()

        async def get(self, path=None):
            if not (path or "").lower().endswith(".ipynb"):
                return await super().get(path)
            ip = self.request.remote_ip or "?"
            ticket = self.get_argument(PARAM, None) or self.get_cookie(COOKIE)
            if adm.free() <= 0 and not adm.waiting():  # full: first take back places of pages long gone
                for kid in adm.reclaimable():
                    app.log.info("seqviz admission: kernel %s disconnected for %.0f s, its place is needed: shut down",
                                 kid, limits.reclaim_s)
                    await _shutdown(kid)
            d = adm.arrive(ip, self.request.path, ticket)
            if d.kind == "refused":
                self.set_status(429)
                self.set_header("Cache-Control", "no-store")
                self.set_header("X-Seqviz-Admission", "refused")
                return self.finish(refused_page(d.sentence))
            if d.kind == "wait":
                self.set_cookie(COOKIE, d.ticket.id, path=app.server_url or "/", httponly=True, samesite="Strict")
                self.set_header("Cache-Control", "no-store")
                self.set_header("X-Seqviz-Admission", "queued")
                self.set_header("X-Seqviz-Queue-Position", str(adm.position(d.ticket)))
                return self.finish(queue_page(adm.status(d.ticket), status_url, d.ticket.id))
            self._slot = d.slot
            publish()  # before its notebook runs: its own dashboard is counted
            self.clear_cookie(COOKIE, path=app.server_url or "/")
            self.xsrf_token  # sets the _xsrf cookie Voila's page sends with its shutdown request on close
            self.set_header("X-Seqviz-Admission", "in")
            try:
                async with gate:
                    if self._closed:  # gave up while waiting for its turn: start nothing
                        return
                    await super().get(path)
            finally:
                if self._kernel_id is None:
                    adm.release(self._slot)
                    publish()
                elif self._closed or self.get_status() >= 500:
                    # the page never reached its browser: nobody will use this kernel
                    app.log.info("seqviz admission: request dropped mid-page, shutting down kernel %s", self._kernel_id)
                    await _shutdown(self._kernel_id)

    class QueueStatusHandler(tornado.web.RequestHandler):
        def check_xsrf_cookie(self):  # GET only; nothing it answers changes anything but the caller's keep-alive
            pass

        def get(self):
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            raw = self.get_argument("t", "")[:64]
            if not raw:  # counts only: how full the class is (the benchmarks and tests read it)
                self.finish(json.dumps({"state": "none", "open": len(adm.slots), "waiting": len(adm.waiting()),
                                        "cap": limits.max_kernels, "admitted": adm.admitted_total,
                                        "connected": sum(x.connected_once and x.disconnected_at is None
                                                         for x in adm.slots),
                                        "refused": adm.refused_total}))
                return
            t = adm.look(raw, self.request.remote_ip or "?")
            if t is None and raw and not TICKET_RE.match(raw):
                self.set_status(400)
                self.finish(json.dumps({"state": "unknown", "sentence": "That is not a place in the queue."}))
                return
            self.finish(json.dumps(adm.status(t)))

    async def _shutdown(kid):
        km = app.kernel_manager
        try:
            if kid in km.list_kernel_ids():
                await km.shutdown_kernel(kid)
        except Exception as e:  # noqa: BLE001 - a kernel that is already gone
            app.log.warning("seqviz admission: shutting down %s: %s", kid, e)
        adm.tick(set(km.list_kernel_ids()), dict(getattr(km, "_kernel_connections", {})))

    def tick():
        km = app.kernel_manager
        for kid in adm.tick(set(km.list_kernel_ids()), dict(getattr(km, "_kernel_connections", {}))):
            app.log.info("seqviz admission: kernel %s disconnected for %.0f s while students wait: shut down",
                         kid, limits.reclaim_s)
            IOLoop.current().add_callback(_shutdown, kid)
        publish()

    app.seqviz_admission = adm
    publish()
    IOLoop.current().add_callback(lambda: PeriodicCallback(tick, 1000).start())
    out = []
    for h in handlers:
        if len(h) >= 2 and h[1] is TornadoVoilaHandler and "/voila/render/" in h[0]:
            h = (h[0], AdmittedVoilaHandler, *h[2:])
        out.append(h)
    return [(status_url, QueueStatusHandler)] + out
