"""A class at once (issue 17): simulated students against `make dashboard`'s server and JupyterHub.

Each simulated student does what a browser does first: requests the dashboard page (the server runs
its notebook) and makes a round trip to its kernel (kernel_info over the page's websocket). Their
browsers are not simulated: in a class they run on the students' own machines.

    .venv/bin/python benchmarks/bench_class.py open  --students 30      # median / max ready, memory per kernel
    .venv/bin/python benchmarks/bench_class.py queue --students 60 --hold 20   # cap holds, everyone admitted
    .venv/bin/python benchmarks/bench_class.py train --students 30 --seconds 60   # 30 trainings at once
    .venv/bin/python benchmarks/bench_class.py train --students 30 --preset class  # the same with the class preset
    .venv/bin/python benchmarks/bench_class.py hub   --users 10         # JupyterHub: 10 spawned at once

Every result line ends with the machine's load (`uptime`): the benchmark machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from tests.conftest import stop_process_group  # noqa: E402

NOTEBOOK = "03_rnn_bptt.ipynb"
ERRORS = ("Traceback", "Error:", "There was an error when executing cell")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(**env_extra):
    """`make dashboard`'s server (admission control and all) on a free port."""
    from seqviz_server.serve import serve_command, voila_env

    port = free_port()
    env = voila_env()
    env.update({k: str(v) for k, v in env_extra.items()})
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / "bench-class-voila.log", "w")
    proc = subprocess.Popen(serve_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(400):
            try:
                if requests.get(base + "seqviz-queue/status", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        time.sleep(4)  # let the fork server finish its preload (it announces itself in the log)
        yield base, proc.pid
    finally:
        stop_process_group(proc, 30)
        log.close()


def kernel_round_trip(base: str, kernel_id: str, session: requests.Session, headers=None) -> float:
    """kernel_info_request -> reply over the kernel's websocket, as the page's widget manager does first."""
    import websocket

    ws_url = base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    hdr = [f"Cookie: {cookie}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    t0 = time.perf_counter()
    ws = websocket.create_connection(ws_url, header=hdr, origin=base.rstrip("/"), timeout=120)
    try:
        mid = uuid.uuid4().hex
        ws.send(json.dumps({"header": {"msg_id": mid, "msg_type": "kernel_info_request", "username": "bench",
                                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                            "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell", "buffers": []}))
        while True:
            m = json.loads(ws.recv())
            if m.get("parent_header", {}).get("msg_id") == mid and m["header"]["msg_type"] == "kernel_info_reply":
                return time.perf_counter() - t0
    finally:
        ws.close()


class Student:
    def __init__(self, base: str):
        self.base, self.s = base, requests.Session()
        self.kernel_id = None
        self.error = ""
        self.queued_at_arrival = False
        self.position = None

    def enter(self, t0: float, poll_s: float = 2.0, give_up_s: float = 900) -> float | None:
        """Seconds from t0 until the page is executed and its kernel answered; None on error."""
        url = self.base + "voila/render/" + NOTEBOOK
        r = self.s.get(url, timeout=600)
        if r.headers.get("X-Seqviz-Admission") == "queued":
            self.queued_at_arrival = True
            self.position = int(r.headers.get("X-Seqviz-Queue-Position", 0))
            ticket = self.s.cookies.get("seqviz_queue")
            while time.perf_counter() - t0 < give_up_s:  # what the waiting page's script does
                time.sleep(poll_s)
                st = self.s.get(self.base + "seqviz-queue/status", params={"t": ticket}, timeout=60).json()
                if st["state"] == "admitted":
                    r = self.s.get(url, params={"seqviz_ticket": st["ticket"]}, timeout=600)
                    break
                if st["state"] == "unknown":
                    self.error = "lost its place in the queue"
                    return None
        if r.status_code != 200 or r.headers.get("X-Seqviz-Admission") != "in":
            self.error = f"HTTP {r.status_code} {r.headers.get('X-Seqviz-Admission')}"
            return None
        if any(e in r.text for e in ERRORS):
            self.error = "error text on the page"
            return None
        m = re.search(r'"kernelId": "([0-9a-f-]{36})"', r.text)
        if not m:
            self.error = "no kernel id in the page"
            return None
        self.kernel_id = m.group(1)
        kernel_round_trip(self.base, self.kernel_id, self.s)
        return time.perf_counter() - t0

    def alive(self) -> bool:
        return self.s.get(self.base + f"api/kernels/{self.kernel_id}", timeout=60).status_code == 200

    def close_tab(self):
        x = self.s.cookies.get("_xsrf")
        self.s.post(self.base + f"voila/api/shutdown/{self.kernel_id}", data={"_xsrf": x},
                    headers={"Origin": self.base.rstrip("/")}, timeout=60)


def kernel_memory(server_pid: int) -> str:
    import psutil

    kernels = []
    for p in psutil.Process(server_pid).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            if p.name() == "seqviz-kernel" or "ipykernel_launcher" in cmd:
                kernels.append(p.memory_full_info())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    if not kernels:
        return "no kernel processes found"
    mb = lambda xs: statistics.mean(xs) / 2**20  # noqa: E731
    return (f"{len(kernels)} kernels: PSS {mb([k.pss for k in kernels]):.0f} MB, USS {mb([k.uss for k in kernels]):.0f} MB, "
            f"RSS {mb([k.rss for k in kernels]):.0f} MB per kernel (mean)")


def cmd_open(a):
    env = {"SEQVIZ_MAX_KERNELS": a.cap} if a.cap is not None else {}
    if a.start_at_once:
        env["SEQVIZ_START_AT_ONCE"] = a.start_at_once
    with serve(**env) as (base, pid):
        cap = requests.get(base + "seqviz-queue/status").json()["cap"]
        students = [Student(base) for _ in range(a.students)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.students) as ex:
            times = list(ex.map(lambda s: s.enter(t0), students))
        ok = sorted(t for t in times if t is not None)
        mem = kernel_memory(pid)
        alive = sum(s.alive() for s in students if s.kernel_id)
    errs = [s.error for s in students if s.error]
    print(f"open: {a.students} students at once, cap {cap}, {os.cpu_count()} cores: ready {len(ok)}/{a.students}"
          + (f", median {statistics.median(ok):.2f} s, first {ok[0]:.2f} s, max {ok[-1]:.2f} s" if ok else "")
          + f"; errors {len(errs)} {errs[:3]}; kernels alive at the end {alive}; "
          f"{mem}; {load()}")


def cmd_queue(a):
    env = {"SEQVIZ_MAX_KERNELS": a.cap} if a.cap is not None else {}
    with serve(**env) as (base, pid):
        cap = requests.get(base + "seqviz-queue/status").json()["cap"]
        peak, stop = [0], threading.Event()

        def watch():
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    peak[0] = max(peak[0], requests.get(base + "seqviz-queue/status", timeout=10).json()["open"])
                time.sleep(0.25)

        threading.Thread(target=watch, daemon=True).start()
        students = [Student(base) for _ in range(a.students)]
        killed = []

        def lesson(s: Student):
            t = s.enter(t0)
            if t is None:
                return None
            time.sleep(a.hold)  # the student works with the dashboard, then closes the tab
            if not s.alive():
                killed.append(s.kernel_id)
            s.close_tab()
            return t

        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.students) as ex:
            times = list(ex.map(lesson, students))
        stop.set()
    first = sorted(t for s, t in zip(students, times) if t is not None and not s.queued_at_arrival)
    waited = sorted(t for s, t in zip(students, times) if t is not None and s.queued_at_arrival)
    errs = [s.error for s in students if s.error]
    print(f"queue: {a.students} students at once, cap {cap}, each keeps the dashboard {a.hold:.0f} s: "
          f"{len(first)} in at once (median {statistics.median(first) if first else 0:.1f} s, max {max(first, default=0):.1f} s), "
          f"{len(waited)} queued then admitted (median {statistics.median(waited) if waited else 0:.1f} s, "
          f"max {max(waited, default=0):.1f} s); most dashboards open at once {peak[0]}; errors {len(errs)} {errs[:3]}; "
          f"kernels lost mid-lesson {len(killed)}; {load()}")


PRESET_NAMES = {"default": "DEFAULT_PRESET", "class": "CLASS_PRESET"}  # --preset: a name in seqviz.experiments.gradflow


def _trainer(args):
    i, seconds, barrier, preset, keep_going = args
    os.environ["OMP_NUM_THREADS"] = "1"
    from seqviz.devices import configure_threads, pick_device
    from seqviz.experiments import build_gradflow_run
    from seqviz.experiments import gradflow as G

    configure_threads()
    run = build_gradflow_run(G.PRESETS[getattr(G, PRESET_NAMES[preset])], device=pick_device().device)
    warm = threading.Event()  # the first steps pay one-off costs (lazy imports, the first probe): not the crowd
    run.train(warm, lambda _: warm.set() if run.steps >= 3 else None, max_seconds=300)
    barrier.wait()
    t0 = time.perf_counter()
    solved = [None]
    stop = threading.Event()

    def on_step(_):
        h = run.history["lstm"].loss
        if solved[0] is None and len(h) >= 50 and sum(h[-50:]) / 50 < 0.01:
            solved[0] = (time.perf_counter() - t0, run.steps)
            if not keep_going:
                stop.set()

    run.train(stop, on_step, max_seconds=seconds)
    return run.steps, time.perf_counter() - t0, solved[0]


def cmd_train(a):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    for n in ([1, a.students] if a.students > 1 else [1]):
        before = load()
        with ctx.Manager() as m:
            barrier = m.Barrier(n)
            with ctx.Pool(n) as pool:
                res = pool.map(_trainer, [(i, a.seconds, barrier, a.preset, a.keep_training) for i in range(n)])
        rates = sorted(s / t for s, t, _ in res)
        solved = [x for _, _, x in res if x]
        need = statistics.median([x[1] for x in solved]) if solved else None
        line = (f"train: {n} student(s) pressing Train at once on {os.cpu_count()} cores (gradient flow, {a.preset} preset"
                f"{', all train on after the story' if a.keep_training else ''}): "
                f"{statistics.median(rates):.1f} steps/s each (min {rates[0]:.1f}); "
                f"LSTM story (mean of 50 MSE < 0.01) within {a.seconds:.0f} s for {len(solved)}/{n}")
        if solved:
            line += (f" at median {statistics.median([x[0] for x in solved]):.1f} s, max {max(x[0] for x in solved):.1f} s,"
                     f" step {need:.0f}")
        print(line + f"; before: {before}, after: {load()}", flush=True)
        if n == 1 and solved:
            a._need = need
    if a.students > 1 and getattr(a, "_need", None):
        print(f"train: at {statistics.median(rates):.1f} steps/s each, the story (step {a._need:.0f}) would take "
              f"{a._need / statistics.median(rates):.0f} s with {a.students} training at once")


def cmd_hub(a):
    from tests.hub_helpers import ensure_proxy, running_hub

    why = ensure_proxy()
    if why:
        sys.exit(why)
    users = [f"student{i:02d}" for i in range(a.users)]
    with running_hub(ROOT / "artifacts" / "bench-hub-state", log_name="bench-hub.log") as hub:
        hub.api("POST", "users", json={"usernames": users})
        t0 = time.perf_counter()

        def one(u):
            hub.api("POST", f"users/{u}/server")
            while not hub.server_ready(u):
                time.sleep(0.5)
            spawned = time.perf_counter() - t0
            s = requests.Session()
            hdr = {"Authorization": f"token {hub.token}"}
            r = s.get(hub.url + f"user/{u}/voila/render/{NOTEBOOK}", headers=hdr, timeout=600)
            m = re.search(r'"kernelId": "([0-9a-f-]{36})"', r.text)
            if r.status_code != 200 or not m or any(e in r.text for e in ERRORS):
                return spawned, None
            kernel_round_trip(hub.url + f"user/{u}/", m.group(1), s, headers=hdr)
            return spawned, time.perf_counter() - t0

        with ThreadPoolExecutor(a.users) as ex:
            res = list(ex.map(one, users))
        mem = user_memory(hub.proc.pid, users)
    sp = sorted(x for x, _ in res)
    ready = sorted(y for _, y in res if y is not None)
    print(f"hub: {a.users} users spawned at once (JupyterHub, simple local-process spawner, {os.cpu_count()} cores): "
          f"server ready median {statistics.median(sp):.1f} s, max {sp[-1]:.1f} s; dashboard executed and kernel answering "
          f"{len(ready)}/{a.users}, median {statistics.median(ready) if ready else 0:.1f} s, max {max(ready, default=0):.1f} s; "
          f"{mem}; {load()}")


def user_memory(hub_pid: int, users: list[str]) -> str:
    """PSS of each user's processes (their server and its kernels: cwd under the user's home)."""
    import psutil

    per = {u: 0 for u in users}
    for p in psutil.Process(hub_pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for u in users:
                if f"/home/{u}" in p.cwd() or any(f"/home/{u}/" in x for x in p.cmdline()):
                    per[u] += p.memory_full_info().pss
                    break
    vals = [v / 2**20 for v in per.values() if v]
    if not vals:
        return "per-user memory not found"
    return (f"memory per user (server + one dashboard kernel, PSS) median {statistics.median(vals):.0f} MB, "
            f"max {max(vals):.0f} MB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    o = sub.add_parser("open")
    o.add_argument("--students", type=int, default=30)
    o.add_argument("--cap", type=int, default=None)
    o.add_argument("--start-at-once", type=int, default=None)
    q = sub.add_parser("queue")
    q.add_argument("--students", type=int, default=60)
    q.add_argument("--cap", type=int, default=None)
    q.add_argument("--hold", type=float, default=20.0)
    t = sub.add_parser("train")
    t.add_argument("--students", type=int, default=30)
    t.add_argument("--seconds", type=float, default=60.0)
    t.add_argument("--preset", choices=sorted(PRESET_NAMES), default="default",
                   help="the gradient-flow preset each student trains (class: the one a crowded machine starts with)")
    t.add_argument("--keep-training", action="store_true",
                   help="a student who reached the story trains on for the whole --seconds, as a dashboard does "
                        "(default: stops there, freeing the CPU for the others)")
    h = sub.add_parser("hub")
    h.add_argument("--users", type=int, default=10)
    a = ap.parse_args()
    {"open": cmd_open, "queue": cmd_queue, "train": cmd_train, "hub": cmd_hub}[a.what](a)


if __name__ == "__main__":
    main()
