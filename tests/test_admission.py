"""Admission control (issue 17): the cap on dashboard kernels, the queue, closed tabs, bad input.

Unit tests drive ``seqviz_server.admission.Admission`` with a hand-moved clock; the HTTP tests
start the server exactly as ``make dashboard`` does (``serve_command``) on a one-cell notebook
with a cap of 2, and count kernels from the server's own log.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
import requests

from seqviz_server.admission import TICKET_RE, Admission, Limits, default_limits, waiting_sentence
from tests.conftest import ROOT, eventually, free_port, stop_process_group


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make(cap=2, **kw):
    clock = Clock()
    return Admission(Limits(max_kernels=cap, start_at_once=1, **kw), clock=clock), clock


# -- unit: the bookkeeping -----------------------------------------------------------------

def test_cap_then_queue_first_come_first_served():
    adm, clock = make(cap=2)
    a, b = adm.arrive("10.0.0.1", "/nb"), adm.arrive("10.0.0.2", "/nb")
    assert (a.kind, b.kind) == ("in", "in")
    waits = [adm.arrive(f"10.0.1.{i}", "/nb") for i in range(3)]
    assert [w.kind for w in waits] == ["wait"] * 3
    assert [adm.position(w.ticket) for w in waits] == [1, 2, 3]
    assert len(adm.slots) == 2  # the cap held
    adm.bind(a.slot, "k1")
    adm.bind(b.slot, "k2")
    # k1's kernel is gone (culled or its tab closed): the head of the queue gets the place
    adm.tick(live={"k2"})
    assert waits[0].ticket.state == "admitted" and waits[1].ticket.state == "waiting"
    assert adm.position(waits[1].ticket) == 1
    # a newcomer does not jump the queue even though it arrives right when places change
    late = adm.arrive("10.0.2.1", "/nb")
    assert late.kind == "wait" and adm.position(late.ticket) == 3
    # the admitted student's page comes with its ticket and takes the reserved place
    d = adm.arrive("10.0.1.0", "/nb", waits[0].ticket.id)
    assert d.kind == "in" and d.slot is waits[0].ticket.slot and len(adm.slots) == 2


def test_forged_and_foreign_tickets_are_new_arrivals():
    adm, clock = make(cap=1)
    adm.bind(adm.arrive("1.1.1.1", "/nb").slot, "k1")
    w = adm.arrive("2.2.2.2", "/nb")
    adm.tick(live=set())
    assert w.ticket.state == "admitted"
    for forged in ("x" * 22, "../../etc/passwd", "", "A" * 10_000, "\x00\u202e", w.ticket.id.upper()):
        d = adm.arrive("3.3.3.3", "/nb", forged)
        assert d.kind == "wait", forged  # full: a forged ticket only queues
    # the real ticket from another address does not take the place either
    assert adm.arrive("3.3.3.3", "/nb", w.ticket.id).kind == "wait"
    assert w.ticket.state == "admitted"
    assert adm.arrive("2.2.2.2", "/nb", w.ticket.id).kind == "in"
    # a ticket is used once
    assert adm.arrive("2.2.2.2", "/nb", w.ticket.id).kind == "wait"
    assert adm.look("not a ticket", "2.2.2.2") is None
    assert adm.status(None)["state"] == "unknown"


def test_reload_keeps_place_and_flood_from_one_address_is_refused():
    adm, clock = make(cap=1, waiting_per_address=5)
    adm.arrive("9.9.9.9", "/nb")
    first = adm.arrive("5.5.5.5", "/nb")
    again = adm.arrive("5.5.5.5", "/nb", first.ticket.id)  # the waiting page reloaded (cookie)
    assert again.ticket is first.ticket and len(adm.queue) == 1
    kinds = [adm.arrive("5.5.5.5", "/nb").kind for _ in range(200)]
    assert kinds.count("wait") == 4 and kinds.count("refused") == 196
    assert len(adm.slots) == 1  # nothing of the flood got a place
    other = adm.arrive("6.6.6.6", "/nb")
    assert other.kind == "wait" and adm.position(other.ticket) == 6


def test_per_address_kernel_limit():
    adm, _ = make(cap=10, per_address=2)
    kinds = [adm.arrive("7.7.7.7", "/nb").kind for _ in range(5)]
    assert kinds == ["in", "in", "refused", "refused", "refused"]
    assert adm.arrive("8.8.8.8", "/nb").kind == "in"


def test_reservation_and_idle_waiting_pages_expire():
    adm, clock = make(cap=1, reserve_s=30, ticket_idle_s=30)
    adm.bind(adm.arrive("1.1.1.1", "/nb").slot, "k1")
    w1, w2, w3 = (adm.arrive(f"2.2.2.{i}", "/nb") for i in range(3))
    adm.tick(live=set())
    assert w1.ticket.state == "admitted"
    clock.t += 20
    adm.look(w2.ticket.id, "2.2.2.1")  # w2's page keeps asking; w3's page was closed
    clock.t += 15
    adm.tick(live=set())  # w1 never came within 30 s: its place goes on; w3 stopped asking
    assert w1.ticket.id not in adm.queue and w3.ticket.id not in adm.queue
    assert w2.ticket.state == "admitted" and len(adm.slots) == 1


def test_a_request_that_ends_without_kernel_frees_its_place():
    adm, _ = make(cap=1)
    d = adm.arrive("1.1.1.1", "/nb")
    w = adm.arrive("2.2.2.2", "/nb")
    adm.release(d.slot)  # e.g. the notebook could not start
    assert w.ticket.state == "admitted"


def test_disconnected_kernel_reclaimed_only_while_someone_waits():
    adm, clock = make(cap=1, reclaim_s=60)
    adm.bind(adm.arrive("1.1.1.1", "/nb").slot, "k1")
    assert adm.tick({"k1"}, {"k1": 1}) == []
    clock.t += 1
    adm.tick({"k1"}, {"k1": 0})  # the page went away
    clock.t += 120
    assert adm.tick({"k1"}, {"k1": 0}) == []  # nobody waits: the kernel stays (the 10-minute cull decides)
    assert adm.reclaimable() == ["k1"]  # what a new arrival that finds the class full takes back first
    adm.arrive("2.2.2.2", "/nb")
    assert adm.tick({"k1"}, {"k1": 0}) == ["k1"]
    # a page that never connected yet (still loading) is not reclaimed
    adm2, clock2 = make(cap=1, reclaim_s=60)
    adm2.bind(adm2.arrive("1.1.1.1", "/nb").slot, "k1")
    adm2.arrive("2.2.2.2", "/nb")
    clock2.t += 600
    assert adm2.tick({"k1"}, {"k1": 0}) == [] and adm2.reclaimable() == []


def test_estimate_from_how_often_places_free():
    adm, clock = make(cap=3)
    held = [adm.arrive(f"1.1.1.{i}", "/nb").slot for i in range(3)]
    w = adm.arrive("2.2.2.2", "/nb")
    st = adm.status(w.ticket)
    assert st["position"] == 1 and st["estimate_s"] is None and "no estimate yet" in st["sentence"]
    clock.t += 300
    for slot in held:  # three places freed in the first 5 minutes
        adm.release(slot)
    assert adm.estimate_s(4) == pytest.approx(4 * 300 / 3)
    assert "number 4" in waiting_sentence(4, 30, 400.0) and "7 minutes" in waiting_sentence(4, 30, 400.0)
    assert "seconds" in waiting_sentence(1, 30, 30.0) and "You are next" in waiting_sentence(1, 30, 30.0)


def test_default_cap_from_the_machine():
    lim = default_limits({}, cores=2, memory_mb=24_000)
    assert lim.max_kernels == min(2 * 15, (24_000 - 1500) // 300) == 30 and lim.start_at_once == 2
    small = default_limits({}, cores=8, memory_mb=4000)
    assert small.max_kernels == (4000 - 1500) // 300 == 8  # memory decides
    assert default_limits({}, cores=1, memory_mb=1000).max_kernels == 2  # never below 2
    env = {"SEQVIZ_MAX_KERNELS": "7", "SEQVIZ_START_AT_ONCE": "3"}
    assert (default_limits(env, cores=2, memory_mb=24_000).max_kernels, default_limits(env).start_at_once) == (7, 3)
    bad = {"SEQVIZ_MAX_KERNELS": "lots", "SEQVIZ_START_AT_ONCE": "-4"}
    assert default_limits(bad, cores=2, memory_mb=24_000).max_kernels == 30
    assert default_limits(bad, cores=2, memory_mb=24_000).start_at_once == 2
    assert default_limits({"SEQVIZ_MAX_KERNELS": "0"}).max_kernels == 0  # no cap
    adm = Admission(Limits(max_kernels=0, start_at_once=1))
    assert all(adm.arrive("1.1.1.1", "/nb").kind == "in" for _ in range(100))


# -- through HTTP: the real server ----------------------------------------------------------------

CAP = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``make dashboard``'s server on a one-cell notebook, at most CAP dashboards at once."""
    from seqviz_server.serve import serve_command, voila_env

    root = tmp_path_factory.mktemp("nb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('tiny dashboard', 6 * 7)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(root / "tiny.ipynb"))
    port = free_port()
    env = voila_env()
    env.update(SEQVIZ_MAX_KERNELS=str(CAP), SEQVIZ_WAITING_PER_ADDRESS="8", SEQVIZ_RECLAIM_S="2", SEQVIZ_RESERVE_S="5",
               SEQVIZ_TICKET_IDLE_S="5")
    (ROOT / "artifacts").mkdir(exist_ok=True)
    logpath = ROOT / "artifacts" / "admission-test.log"
    log = open(logpath, "w")
    proc = subprocess.Popen(serve_command(port, root=root), cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"

    def up():
        assert proc.poll() is None, f"the server exited; see {logpath}"
        try:
            return requests.get(base + "seqviz-queue/status", timeout=2).ok
        except requests.RequestException:
            return False

    assert eventually(up, 90, interval=0.3), f"the server did not answer; see {logpath}"

    class S:
        url = base
        log_path = logpath

        @staticmethod
        def started():
            return len(re.findall(r"Kernel started: ", logpath.read_text()))

        @staticmethod
        def counts():
            return requests.get(base + "seqviz-queue/status", timeout=10).json()

    yield S
    stop_process_group(proc, 20)
    log.close()


class Student:
    """One browser's cookies, without a browser."""

    def __init__(self, server):
        self.s, self.server = requests.Session(), server
        self.kernel_id = None

    def open(self, **params):
        r = self.s.get(self.server.url + "voila/render/tiny.ipynb", params=params, timeout=120)
        m = re.search(r'"kernelId": "([0-9a-f-]{36})"', r.text)
        if r.headers.get("X-Seqviz-Admission") == "in" and m:
            self.kernel_id = m.group(1)
        return r

    def close_tab(self):
        """What Voila's page sends when its tab closes (a beacon with the _xsrf cookie as form field)."""
        x = self.s.cookies.get("_xsrf")
        return self.s.post(self.server.url + f"voila/api/shutdown/{self.kernel_id}", data={"_xsrf": x},
                           headers={"Origin": self.server.url.rstrip("/")}, timeout=30)

    def kernel_alive(self):
        return self.s.get(self.server.url + f"api/kernels/{self.kernel_id}", timeout=10).status_code == 200


def _empty(server, students):
    for st in students:
        if st.kernel_id and st.kernel_alive():
            st.close_tab()
    assert eventually(lambda: server.counts()["open"] == 0 and server.counts()["waiting"] == 0, 60, interval=0.3)


def test_http_cap_queue_and_admission_by_itself(server):
    a, b, c = Student(server), Student(server), Student(server)
    try:
        with ThreadPoolExecutor(2) as ex:  # two at once: both in, each page executed
            ra, rb = ex.map(lambda s: s.open(), (a, b))
        for r in (ra, rb):
            assert r.status_code == 200 and "tiny dashboard 42" in r.text
        assert a.kernel_id and b.kernel_id and a.kernel_id != b.kernel_id
        n0 = server.started()
        rc = c.open()
        assert rc.headers["X-Seqviz-Admission"] == "queued" and rc.headers["X-Seqviz-Queue-Position"] == "1"
        assert "The class is full" in rc.text
        assert "You are next." in rc.text
        assert "tiny dashboard" not in rc.text and server.started() == n0  # no kernel for the waiting page
        ticket = c.s.cookies.get("seqviz_queue")
        assert ticket and TICKET_RE.match(ticket)
        # the waiting page reloaded: same place, same ticket
        assert c.open().headers["X-Seqviz-Queue-Position"] == "1" and c.s.cookies.get("seqviz_queue") == ticket
        st = c.s.get(server.url + "seqviz-queue/status", params={"t": ticket}).json()
        assert st["state"] == "waiting" and st["position"] == 1 and st["open"] == CAP
        # a's tab closes: Voila's shutdown request is accepted now (the page set its _xsrf cookie)
        assert a.close_tab().status_code == 204
        assert eventually(lambda: not a.kernel_alive(), 30)
        assert eventually(lambda: c.s.get(server.url + "seqviz-queue/status",
                                          params={"t": ticket}).json()["state"] == "admitted", 30)
        st = c.s.get(server.url + "seqviz-queue/status", params={"t": ticket}).json()
        r = c.open(seqviz_ticket=st["ticket"])  # what the waiting page's script does
        assert r.headers["X-Seqviz-Admission"] == "in" and "tiny dashboard 42" in r.text
        assert server.counts()["open"] == CAP
    finally:
        _empty(server, (a, b, c))


def test_http_shutdown_without_the_cookie_still_refused(server):
    a = Student(server)
    try:
        a.open()
        r = requests.post(server.url + f"voila/api/shutdown/{a.kernel_id}", timeout=30)  # a stranger's request
        assert r.status_code == 403 and a.kernel_alive()
    finally:
        _empty(server, (a,))


def test_http_forged_parameters_and_flood_start_no_kernel(server):
    full = [Student(server) for _ in range(CAP)]
    try:
        for s in full:
            assert "tiny dashboard 42" in s.open().text
        n0 = server.started()
        forged = ["", "x" * 22, "../../../etc/passwd", "A" * 5000, "<script>alert(1)</script>", "\u202e\u0000"]
        for f in forged:
            r = Student(server).open(seqviz_ticket=f)
            assert r.status_code in (200, 429) and r.headers["X-Seqviz-Admission"] in ("queued", "refused")
            assert "<script>alert(1)</script>" not in r.text
            q = requests.get(server.url + "seqviz-queue/status", params={"t": f}, timeout=10)
            assert q.status_code in (200, 400) and q.json()["state"] in ("unknown", "none")
        # a flood from one address: 60 requests at once, none with a cookie
        with ThreadPoolExecutor(16) as ex:
            rs = list(ex.map(lambda _: requests.get(server.url + "voila/render/tiny.ipynb", timeout=60), range(60)))
        kinds = [r.headers.get("X-Seqviz-Admission") for r in rs]
        assert set(kinds) <= {"queued", "refused"} and all(r.status_code in (200, 429) for r in rs)
        assert kinds.count("refused") >= 60 - 8 and server.counts()["waiting"] <= 8
        assert "people are already waiting from this address" in next(r.text for r in rs if r.status_code == 429)
        assert server.started() == n0  # the flood and the forgeries started no kernel
        assert server.counts()["open"] == CAP
    finally:
        _empty(server, full)
        assert eventually(lambda: server.counts()["waiting"] == 0, 60)


def _connected(page):
    """The tiny notebook's output is on the page (False while the page is navigating)."""
    from playwright.sync_api import Error

    try:
        return "tiny dashboard 42" in page.evaluate("document.body.innerText")
    except Error:
        return False


@pytest.mark.browser
def test_browser_closed_tab_frees_its_kernel_and_queue_page_takes_student_in(server, browser):
    """Real Chromium: a student waits on the queue page, another closes their tab; the closed tab's
    kernel is shut down at once (not after the 10-minute cull) and the waiting page enters by itself."""
    from tests.conftest import screenshot

    holder = Student(server)
    late = Student(server)
    ctx1 = browser.new_context()
    ctx2 = browser.new_context()
    try:
        assert "tiny dashboard 42" in holder.open().text
        p1 = ctx1.new_page()
        p1.goto(server.url + "voila/render/tiny.ipynb", timeout=120_000)
        assert eventually(lambda: _connected(p1), 90, page=p1)
        assert server.counts()["open"] == CAP
        p2 = ctx2.new_page()
        p2.goto(server.url + "voila/render/tiny.ipynb", timeout=120_000)
        assert "The class is full" in p2.inner_text("body")
        assert p2.get_attribute("body", "data-seqviz-queue") == "1"
        screenshot(p2, "admission_queue_page")
        kid = p1.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        p1.close(run_before_unload=True)  # the student closes the tab
        gone = lambda: requests.get(server.url + f"api/kernels/{kid}", timeout=10).status_code == 404  # noqa: E731
        assert eventually(gone, 30), "the closed tab's kernel is still running"
        assert "Kernel shutdown: " + kid in server.log_path.read_text()
        # the waiting page takes its student in by itself
        assert eventually(lambda: _connected(p2), 90, page=p2), p2.inner_text("body")[:300]
        screenshot(p2, "admission_admitted")
        # p2's browser crashes (no shutdown request): once the place is needed, the kernel whose page
        # has been disconnected for SEQVIZ_RECLAIM_S (2 s here) gives it up to the next student
        kid2 = p2.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        # the server has seen the page's widget manager connected (holder never connects a page)
        assert eventually(lambda: server.counts()["connected"] == 1, 60, interval=0.3)
        ctx2.close()

        def late_in():
            r = late.open()
            return r.headers.get("X-Seqviz-Admission") == "in" and "tiny dashboard 42" in r.text

        assert eventually(late_in, 60, interval=1.0)
        assert requests.get(server.url + f"api/kernels/{kid2}", timeout=10).status_code == 404
        assert holder.kernel_alive()  # never connected a page (still loading, as far as the server knows): kept
    finally:
        for ctx in (ctx1, ctx2):
            with contextlib.suppress(Exception):  # (ctx2 may be closed already)
                for pg in ctx.pages:
                    pg.close(run_before_unload=True)
                ctx.close()
        _empty(server, (holder, late))
        assert eventually(lambda: server.counts()["open"] == 0, 60)
