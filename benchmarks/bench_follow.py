"""Follow mode under a class (issue 16): the teacher trains lesson 03 in a real headless Chromium
through Voila and shares it; 300 lightweight followers (plain asyncio sockets, in a process of
their own) and 3 real-browser followers watch.

Run:  .venv/bin/python benchmarks/bench_follow.py [--followers 300] [--browsers 3] [--seconds 12]

Phases, all while the teacher's dashboard trains (Train pressed, refreshes showing):
  A1  no share, no followers           (the teacher's baseline)
  B   shared, every follower connected  (the teacher's cost of a class)
  A2  share stopped, followers gone     (the baseline again: later steps draw longer curves)
In each: the teacher's refresh rate (distinct lengths of the live loss curve a second, in the
teacher's page) and the teacher's control latency (key press on "Sequence shown" -> the belt's
plot changed, measured inside the page, n presses), and the CPU each process used.
Followers: the time from connecting to the first full frame (lightweight: the whole state event
read; browsers: every pane drawn, from navigation start), update events a second while B trains,
whether every follower ends with the teacher's final state, and the server's memory per follower.

Final state, checked end to end: one reference follower (Python, in this process) replays its
stream with plotly.py's own ``plotly_update``; its panes must equal the teacher's page pane by
pane (x, y, z, text of every trace). Every lightweight follower must have received the same
state (follower count aside) and byte-identical update events as the reference; every browser
follower's panes must equal the teacher's. Nothing is asserted: the table says what held.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

NOTEBOOK = "03_rnn_bptt.ipynb"
_N = re.compile(rb'"n":\d+')


# -- the lightweight followers (a child process: its own interpreter, its own GIL) --------------
class Rec:
    def __init__(self):
        self.t_connect = 0.0
        self.first = None  # seconds from connecting to the whole state event
        self.states = 0
        self.state_hash = ""
        self.batches: list[float] = []
        self.hash = hashlib.sha1()
        self.bytes = 0
        self.ended = False
        self.error = ""


async def where(host: str, port: int, path: str) -> tuple[str, int, str]:
    """The follow address as a browser ends up at it: Voila redirects ``/follow/<code>`` to the
    fan-out process (one small request per follower, on Voila's loop, as for a real class)."""
    from urllib.parse import urlsplit

    r, w = await asyncio.open_connection(host, port)
    w.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
    await w.drain()
    head = (await r.read(1 << 16)).split(b"\r\n\r\n", 1)[0].decode("latin-1")
    w.close()
    if head.split(" ", 2)[1] in ("301", "302", "307"):
        loc = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("location:"))
        u = urlsplit(loc)
        return u.hostname or host, u.port or port, u.path
    return host, port, path


async def light_follower(host: str, port: int, path: str, rec: Rec) -> None:
    rec.t_connect = time.time()
    try:
        host, port, page = await where(host, port, path)
        path = page.rstrip("/") + "/events"  # what the page's EventSource opens
        r, w = await asyncio.open_connection(host, port, limit=1 << 22)
        w.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await w.drain()
        buf, head = b"", True
        while True:
            chunk = await r.read(1 << 17)
            if not chunk:
                break
            rec.bytes += len(chunk)
            buf += chunk
            if head:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    continue
                buf, head = buf[i + 4:], False
            *events, buf = buf.split(b"\n\n")
            now = time.time()
            for ev in events:
                if ev.startswith(b"event: state"):
                    rec.states += 1
                    if rec.first is None:
                        rec.first = now - rec.t_connect
                        rec.state_hash = hashlib.sha1(_N.sub(b"", ev)).hexdigest()
                elif ev.startswith(b"event: batch"):
                    if b'{"p":' in ev:  # an event that changes a pane (not the status line alone)
                        rec.batches.append(now)
                    rec.hash.update(ev)
                elif ev.startswith(b"event: end"):
                    rec.ended = True
    except (OSError, asyncio.IncompleteReadError) as e:
        rec.error = type(e).__name__


async def crowd(url: str, n: int) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    recs = [Rec() for _ in range(n)]
    tasks = []
    for rec in recs:  # a class arriving over a second or so
        tasks.append(asyncio.create_task(light_follower(u.hostname, u.port, u.path, rec)))
        await asyncio.sleep(0.003)
    while sum(r.first is not None for r in recs) < n and not all(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    print(json.dumps({"connected": sum(r.first is not None for r in recs)}), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)  # "report T0 T1"
    _, t0, t1 = line.split()
    t0, t1 = float(t0), float(t1)
    out = []
    for r in recs:
        inside = [t for t in r.batches if t0 <= t <= t1]
        out.append({"first": r.first, "states": r.states, "state": r.state_hash, "hash": r.hash.hexdigest(),
                    "batches_in_window": len(inside), "bytes": r.bytes, "ended": r.ended, "error": r.error})
    print(json.dumps({"followers": out}), flush=True)
    for t in tasks:
        t.cancel()


# -- the teacher and the phases ------------------------------------------------------------------
TRACES = """() => JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(g => g.data || []),
             (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v))"""


def traces_of(page) -> dict:
    keep = ("x", "y", "z", "text")
    return {t["meta"]: {k: t.get(k) for k in keep} for t in json.loads(page.evaluate(TRACES))
            if isinstance(t.get("meta"), str)}


def replayed(follower) -> dict:
    from widgets.kit.plotpane import _plain

    keep = ("x", "y", "z", "text")
    out = {}
    for fig in follower.figures().values():
        for t in json.loads(json.dumps(_plain(fig.to_plotly_json()["data"]))):
            if isinstance(t.get("meta"), str):
                out[t["meta"]] = {k: t.get(k) for k in keep}
    return out


def cpu_s(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - gone
            pass
    return total


def phase(page, name: str, seconds: float, n_presses: int, procs: dict) -> dict:
    """Train, then measure the teacher's refresh rate and control latency; Pause."""
    from browser_timing import control_latency, refresh_rate, slider_handle

    page.get_by_role("button", name="Train").click()
    page.wait_for_function("() => { const g = Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".flatMap(x => x.data).find(t => t.meta === 'loss_other'); return g && g.x.length > 5; }",
                           timeout=60_000)
    t0 = time.time()
    c0 = {k: cpu_s(v) for k, v in procs.items()}
    rate = refresh_rate(page, "loss_other", seconds)
    handle = slider_handle(page, "Sequence shown")
    ms = control_latency(page, lambda i: handle.press("ArrowRight" if i % 2 == 0 else "ArrowLeft"), "belt_keys", "x",
                         n=n_presses)
    t1 = time.time()
    cpu = {k: (cpu_s(v) - c0[k]) / (t1 - t0) for k, v in procs.items()}
    load = os.getloadavg()[0]
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function("() => document.body.innerText.includes('Paused at step')", timeout=30_000)
    return {"name": name, "rate": rate, "ms": ms, "t0": t0, "t1": t1, "cpu": cpu, "load": load}


def ours_chromium() -> list:
    """This benchmark's Chromium processes (not other people's on a shared machine)."""
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))] if xs else float("nan")


def kernel_cost(seconds: float, rounds: int) -> list[dict]:
    """The publisher's own cost inside a kernel, without browsers: lesson 03's dashboard built in this
    process, its panes acknowledging every update at once, training for ``seconds``; not shared,
    then shared (to a follow server in a thread, one follower: the kernel sends once, whatever
    the number of followers), alternately. The sender thread's CPU comes from ``thread_time``."""
    from tests.follow_helpers import Follower, FollowServer
    from widgets.gradient_flow import dashboard
    from widgets.kit.share import Publisher, find_parts

    out = []
    for i in range(2 * rounds):
        shared = i % 2 == 1
        d = dashboard()
        panes, _ = find_parts(d)
        for p in panes:
            p.send = lambda m, p=p: p._on_msg(p, {"type": "drawn", "id": m["id"]}, [])
            p._on_msg(p, {"type": "ready", "rev": -1}, [])
        pub = srv = f = None
        if shared:
            srv = FollowServer()
            pub = Publisher(panes, d.status, "bench", url=srv.url, token=srv.hub.token)
            pub.start()
            f = Follower(srv.url, pub.code)
        d.train()
        time.sleep(2.0)
        n0, t0 = len(d.refresh_times), time.time()
        time.sleep(seconds)
        n, t = len(d.refresh_times) - n0, time.time() - t0
        d.worker.pause()
        row = {"shared": shared, "rate": n / t, "sender_cpu": None, "batches": None}
        if shared:
            row["sender_cpu"] = pub.thread_cpu_s / (time.time() - t0 + 2.0)
            row["batches"] = pub.sent_batches
            pub.stop()
            f.close()
            srv.close()
        d.close_worker()
        out.append(row)
    return out


def fanout_cost(followers: int, batches: int, kb: float) -> list[dict]:
    """The fan-out's own CPU (no Voila, no browser, no kernel): seqviz_server.follow's handlers in a
    thread of this process, ``followers`` lightweight followers in a child process, ``batches``
    batches of one pane update of about ``kb`` KB posted with the share's secret. CPU is the
    server thread's own (``thread_time``: what other work on the machine does not change).
    Rows: events written straight into the followers' sockets (now), and through tornado's
    stream as before (``follow.DIRECT_SEND = False``)."""
    from seqviz_server import follow
    from tests.conftest import eventually
    from tests.follow_helpers import FollowServer, request

    rows = []
    for n_f, direct in [(0, True)] + [(followers, d) for d in (True, False, True, False)]:  # (0: the fixed cost)
        follow.DIRECT_SEND = direct
        srv = FollowServer()
        share = srv.call(lambda: srv.hub.create("bench", ["p0"], None))
        hdr = {"X-Seqviz-Secret": share.secret}
        path = f"/follow-api/shares/{share.code}/publish"
        full = '{"kind":"react","data":[{"type":"scatter","meta":"loss","x":[0],"y":[0]}],"layout":{}}'
        request(srv.url, "POST", path, ('{"p":"p0","r":1}\n' + full).encode(), hdr)
        child = subprocess.Popen([sys.executable, __file__, "--crowd", f"{srv.url}follow/{share.code}",
                                  f"--followers={n_f}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT)
        connected = json.loads(child.stdout.readline())["connected"]
        n = max(1, int(kb * 1024 / 8))
        bodies = []
        for i in range(batches):
            upd = json.dumps({"kind": "update", "restyle": {"y": [[round(i + j / n, 3) for j in range(n)]]},
                              "relayout": {}, "traces": [0]}, separators=(",", ":"))
            bodies.append(('{"p":"p0"}\n' + upd).encode())
        t0 = time.time()
        c0 = srv.call(time.thread_time)
        for body in bodies:
            assert request(srv.url, "POST", path, body, hdr)[0] == 200
            time.sleep(0.01)
        eventually(lambda: srv.call(lambda: not share._outbox and not share._fanning), 60)
        c1 = srv.call(time.thread_time)
        time.sleep(1.0)  # the last bytes reach the followers
        t1 = time.time()
        child.stdin.write(f"report {t0} {t1}\n")
        child.stdin.flush()
        light = json.loads(child.stdout.readline())["followers"]
        child.wait(20)
        srv.close()
        rows.append({"direct": direct, "followers": connected, "batches": batches, "kb": len(bodies[0]) / 1024,
                     "ms_per_batch": (c1 - c0) * 1000 / batches,
                     "us_per_write": ((c1 - c0) * 1000 / batches - rows[0]["ms_per_batch"]) * 1000 / connected
                     if rows and connected else None,
                     "received_min": min((f["batches_in_window"] for f in light), default=None)})
    follow.DIRECT_SEND = True
    return rows


def niced_chromium(nice: int) -> str:
    """A launcher that starts Chromium in a session of its own whose scheduling group runs at
    ``nice`` (Linux autogroups: a process's nice only ranks it inside its session's group, and
    Chromium resets its renderers' nice itself, so the group's nice is what holds)."""
    exe = os.environ.get("SEQVIZ_CHROMIUM", "/usr/bin/chromium")
    path = Path("/tmp") / f"seqviz-bench-chromium-nice{nice}.sh"
    path.write_text("#!/bin/sh\n"
                    f"exec setsid --wait sh -c 'echo {int(nice)} > /proc/self/autogroup 2>/dev/null; "
                    f"exec nice -n {int(nice)} \"$0\" \"$@\"' \"{exe}\" \"$@\"\n")
    path.chmod(0o755)
    return str(path)


def own_group(pid: int, nice: int) -> None:
    """Put a process started with start_new_session=True in a scheduling group at ``nice``."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(int(nice)))
    except OSError:
        pass


def fanout_processes(voila_pid: int) -> list:
    """follow mode's fan-out process under the Voila server (none when it runs on Voila's loop)."""
    import psutil

    return [p for p in psutil.Process(voila_pid).children(recursive=True)
            if "seqviz_server.follow" in " ".join(p.cmdline())]


def shared_phase(b, base, page, procs, a, name: str, fb, teacher_pids: set) -> dict:
    """Share, let the class connect, train and measure, check everyone's final frame, stop sharing."""
    import psutil

    from tests.follow_helpers import Follower

    server = (procs["fan-out"] or procs["server"])[0]  # where the followers' connections live
    page.get_by_role("button", name="Share live view").click()
    page.wait_for_selector(".seqviz-share-address", timeout=30_000)
    address = page.locator(".seqviz-share-address").inner_text().strip()
    code = address.rsplit("/", 1)[1]
    time.sleep(1.5)  # the first frames are sent; the teacher is idle now
    rss0 = server.memory_info().rss
    child = subprocess.Popen([sys.executable, __file__, "--crowd", address, f"--followers={a.followers}"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             preexec_fn=lambda: os.nice(a.nice), start_new_session=True)
    own_group(child.pid, a.nice)
    t_c = time.time()
    connected = json.loads(child.stdout.readline())["connected"]
    print(f"  {connected} lightweight followers connected in {time.time() - t_c:.1f} s", flush=True)
    final = urllib.request.urlopen(address, timeout=10).geturl()  # (Voila redirects to the fan-out process)
    ref = Follower(final.split("/follow/")[0] + "/", code)
    fps, firsts = [], []
    for _ in range(a.browsers):
        ctx = fb.new_context(viewport={"width": 1300, "height": 900})
        fp = ctx.new_page()
        fp.goto(address, timeout=90_000)  # (a loaded machine: plotly.js is 3.5 MB)
        fp.wait_for_function("() => window.__follow && window.__follow.firstFrameMs !== null", timeout=60_000)
        firsts.append(fp.evaluate("[window.__follow.firstFrameMs, window.__follow.firstFrameMs - window.__follow.connectMs]"))
        fps.append(fp)
    time.sleep(1.0)
    rss1 = server.memory_info().rss
    n_conn = connected + 1 + len(fps)
    followers_chromium = [p for p in ours_chromium() if p.pid not in teacher_pids]
    procs = {**procs, "light followers": [psutil.Process(child.pid)], "followers' Chromium": followers_chromium}
    ph = phase(page, f"{name}: shared, {n_conn} followers", a.seconds, a.presses, procs)
    teacher, same_ref, same_browsers = None, False, False
    deadline = time.time() + 30  # the teacher's last frame reaches everyone
    while time.time() < deadline:
        teacher = traces_of(page)
        same_ref = replayed(ref) == teacher
        same_browsers = all(traces_of(fp) == teacher for fp in fps)
        if same_ref and same_browsers:
            break
        time.sleep(0.5)
    browser_batches = [fp.evaluate("window.__follow.batches") for fp in fps]
    child.stdin.write(f"report {ph['t0']} {ph['t1']}\n")
    child.stdin.flush()
    light = json.loads(child.stdout.readline())["followers"]
    with ref.lock:
        ref_hash = hashlib.sha1()
        for n, text in ref.raw:
            if n == "batch":
                ref_hash.update(f"event: batch\ndata: {text}".encode())
        ref_state = next(t for n, t in ref.raw if n == "state")
    ref_state_hash = hashlib.sha1(_N.sub(b"", f"event: state\ndata: {ref_state}".encode())).hexdigest()
    page.get_by_role("button", name="Stop sharing").click()
    for fp in fps:
        fp.wait_for_function("() => document.getElementById('note').textContent.length > 0", timeout=20_000)
    child.wait(20)
    ref.close()
    for fp in fps:
        fp.context.close()
    window = ph["t1"] - ph["t0"]
    ph.update(
        n_conn=n_conn, per_follower_kb=(rss1 - rss0) / n_conn / 1024, rss0=rss0, rss1=rss1,
        rates=[f["batches_in_window"] / window for f in light], first=[f["first"] for f in light if f["first"]],
        same_light=sum(f["hash"] == ref_hash.hexdigest() and f["state"] == ref_state_hash for f in light),
        n_light=len(light), resynced=sum(f["states"] > 1 for f in light), errors=[f["error"] for f in light if f["error"]],
        mb=statistics.median(f["bytes"] for f in light) / 2**20, browser_first=firsts, browser_batches=browser_batches,
        same_browsers=same_browsers, same_ref=same_ref, n_traces=len(teacher or {}))
    return ph


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--followers", type=int, default=300)
    ap.add_argument("--browsers", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0, help="refresh-rate window per phase")
    ap.add_argument("--presses", type=int, default=20, help="control presses per phase")
    ap.add_argument("--rounds", type=int, default=2, help="shared phases, each between two unshared ones")
    ap.add_argument("--nice", type=int, default=19,
                    help="niceness of the followers' processes (their own devices in a class; 0: same priority)")
    ap.add_argument("--kernel-seconds", type=float, default=10.0, help="headless publisher-cost phases (0: skip)")
    ap.add_argument("--fanout-only", action="store_true",
                    help="only the fan-out's own CPU per batch (no Voila, no browser): see fanout_cost")
    ap.add_argument("--batches", type=int, default=200, help="with --fanout-only: batches posted per row")
    ap.add_argument("--kb", type=float, default=8.0, help="with --fanout-only: size of each batch's pane update")
    ap.add_argument("--crowd", default="", help=argparse.SUPPRESS)  # the child process: its share URL
    a = ap.parse_args()
    if a.crowd:
        asyncio.run(crowd(a.crowd, a.followers))
        return
    if a.fanout_only:
        load0 = os.getloadavg()[0]
        rows = fanout_cost(a.followers, a.batches, a.kb)
        print(f"fan-out alone: {a.followers} lightweight followers, {a.batches} batches of {rows[0]['kb']:.1f} KB; "
              f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
        print()
        print("| writes | followers | server thread CPU per batch | per follower and batch (less the 0-follower row) "
              "| batches every follower got |")
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {'straight into the socket' if r['direct'] else 'through the tornado stream (before)'} "
                  f"| {r['followers']} | {r['ms_per_batch']:.2f} ms "
                  f"| {'-' if r['us_per_write'] is None else format(r['us_per_write'], '.1f') + ' us'} "
                  f"| {'-' if r['received_min'] is None else r['received_min']} of {r['batches']} |")
        return

    import psutil

    from browser_timing import CHROMIUM_ARGS, _kernels, browser, open_page, p50_p95, serve

    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} on {os.cpu_count()} cores", flush=True)
    kc = kernel_cost(a.kernel_seconds, a.rounds) if a.kernel_seconds > 0 else []
    phases = []
    with serve() as base, browser() as b:
        page = open_page(b, base, NOTEBOOK, n_plots=5)
        teacher_pids = {p.pid for p in ours_chromium()}
        procs = {"server": [psutil.Process(base.pid)], "fan-out": fanout_processes(base.pid), "kernel": _kernels(base.pid),
                 "browsers": [p for p in ours_chromium() if p.pid in teacher_pids], "bench": [psutil.Process()]}
        # the followers' Chromium is a second browser started at --nice (so are the lightweight
        # followers): in a class they run on the students' devices, not on the teacher's machine
        fb = b.browser_type.launch(executable_path=niced_chromium(a.nice), headless=True, args=CHROMIUM_ARGS)
        try:
            for r in range(a.rounds + 1):
                ph = phase(page, f"A{r + 1}: not shared", a.seconds, a.presses, procs)
                phases.append(ph)
                print(f"{ph['name']}: {ph['rate']:.1f}/s, latency median {statistics.median(ph['ms']):.0f} ms, "
                      f"load {ph['load']:.1f}", flush=True)
                if r < a.rounds:
                    ph = shared_phase(b, base, page, procs, a, f"B{r + 1}", fb, teacher_pids)
                    phases.append(ph)
                    print(f"{ph['name']}: {ph['rate']:.1f}/s, latency median {statistics.median(ph['ms']):.0f} ms, "
                          f"load {ph['load']:.1f}", flush=True)
        finally:
            fb.close()
    load1 = os.getloadavg()

    print()
    print(f"bench_follow: lesson {NOTEBOOK}, {a.followers} lightweight + {a.browsers} browser followers "
          f"(+1 reference follower), {os.cpu_count()} cores, {a.rounds} shared phases between unshared ones")
    print(f"load average (1 min): {load0[0]:.2f} at start, {load1[0]:.2f} at the end; other work shares the machine")
    fan = bool(procs["fan-out"])  # (a tree without the fan-out process, or SEQVIZ_FOLLOW_PROCESS=0: none)
    print("fan-out: " + (f"a process of its own (nice {os.environ.get('SEQVIZ_FOLLOW_NICE', '5')})" if fan
                         else "on Voila's own loop"))
    print()
    print("| phase (teacher training in Chromium) | teacher refreshes/s | teacher latency p50 / p95 ms (n) "
          "| Voila server CPU | fan-out process CPU | kernel CPU | teacher's Chromium CPU | followers' processes CPU "
          "| benchmark process CPU | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for ph in phases:
        p50, p95 = p50_p95(ph["ms"]) if ph["ms"] else (float("nan"), float("nan"))
        c = ph["cpu"]
        fol = c.get("light followers", 0.0) + c.get("followers' Chromium", 0.0)
        fol_s = f"{fol:.2f} (nice {a.nice})" if "light followers" in c else "-"
        fan_s = f"{c['fan-out']:.2f}" if procs["fan-out"] else "-"
        print(f"| {ph['name']} | {ph['rate']:.1f} | {p50:.0f} / {p95:.0f} ({len(ph['ms'])}) | {c['server']:.2f} "
              f"| {fan_s} | {c['kernel']:.2f} | {c['browsers']:.2f} | {fol_s} | {c['bench']:.2f} | {ph['load']:.1f} |")
    A = [p for p in phases if p["name"].startswith("A")]
    B = [p for p in phases if p["name"].startswith("B")]
    ra, rb = statistics.mean(p["rate"] for p in A), statistics.mean(p["rate"] for p in B)
    la = statistics.median([m for p in A for m in p["ms"]])
    lb = statistics.median([m for p in B for m in p["ms"]])
    print()
    print(f"shared against not shared (means of the phases; latency: median of all presses): refresh rate "
          f"{rb:.1f} vs {ra:.1f}/s ({100 * (rb / ra - 1):+.0f}%), latency p50 {lb:.0f} vs {la:.0f} ms "
          f"({100 * (lb / la - 1):+.0f}%)  (target: within 20%)")
    print()
    print("| phase | followers | first full frame p50 / max s | pane updates/s while training min / p50 "
          "| same final state as the teacher | resynced | server memory per follower |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for ph in B:
        print(f"| {ph['name'][:2]} | {ph['n_light']} lightweight | {statistics.median(ph['first']):.2f} / "
              f"{max(ph['first']):.2f} | {min(ph['rates']):.1f} / {statistics.median(ph['rates']):.1f} | "
              f"{ph['same_light']} of {ph['n_light']} (state and every update byte-identical to the reference) | "
              f"{ph['resynced']} | {ph['per_follower_kb']:.0f} KB ({ph['rss0'] / 2**20:.0f} -> {ph['rss1'] / 2**20:.0f} MB"
              f" RSS with {ph['n_conn']}) |")
        bb = ph["browser_batches"]
        if bb:
            nav = [x[0] / 1000 for x in ph["browser_first"]]
            conn = [x[1] / 1000 for x in ph["browser_first"]]
            print(f"| {ph['name'][:2]} | {len(bb)} browsers | {statistics.median(conn):.2f} / {max(conn):.2f} from "
                  f"connecting; {statistics.median(nav):.2f} / {max(nav):.2f} from navigation (plotly.js loaded) | "
                  f"({min(bb)}-{max(bb)} update events drawn in all) | "
                  f"{'all equal' if ph['same_browsers'] else 'NOT all equal'} the teacher's panes | - | - |")
        print(f"| {ph['name'][:2]} | reference (plotly.py replay) | - | - | "
              f"{'equals' if ph['same_ref'] else 'DIFFERS FROM'} the teacher's panes ({ph['n_traces']} traces) | - | - |")
        if ph["errors"]:
            print(f"lightweight follower errors in {ph['name'][:2]}: {len(ph['errors'])} ({ph['errors'][:3]})")
    if kc:
        print()
        print("The publisher's own cost in the kernel (no browser; lesson 03's dashboard built in the benchmark, "
              f"panes acknowledging at once, {a.kernel_seconds:.0f} s of training per row):")
        print()
        print("| shared | dashboard refreshes/s | sender thread CPU (cores) | batches posted |")
        print("| --- | --- | --- | --- |")
        for r in kc:
            cpu = "-" if r["sender_cpu"] is None else f"{r['sender_cpu']:.3f}"
            batches = "-" if r["batches"] is None else str(r["batches"])
            print(f"| {'yes' if r['shared'] else 'no'} | {r['rate']:.1f} | {cpu} | {batches} |")
    print()
    print("bytes per lightweight follower per shared phase: median "
          + ", ".join(f"{ph['mb']:.1f} MB" for ph in B))


if __name__ == "__main__":
    main()
