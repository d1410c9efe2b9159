"""The kernel fork server (seqviz_server/kernel_fork.py): kernels it forks are fresh, work, can be
interrupted and shut down, and the server goes away with its parent. Linux only, like the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import eventually

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the fork server is Linux-only (seqviz_server.serve)")

ROOT = Path(__file__).resolve().parent.parent

PROBE = ("json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'cwd': os.getcwd(), 'mark': os.environ.get('SEQVIZ_MARK'),"
         " 'torch': 'torch' in sys.modules, 'dynamo': 'torch._dynamo' in sys.modules,"
         " 'ours': sorted(m for m in sys.modules if m.split('.')[0] in ('seqviz', 'widgets')),"
         " 'rand': random.random()})")


def start_server(sock: Path, parent: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "seqviz_server.kernel_fork", str(sock), f"--parent={parent}"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready():
        assert proc.poll() is None, "the fork server exited during its preload"
        return sock.exists()

    assert eventually(ready, 120, interval=0.1), "the fork server did not open its socket within 120 s"
    return proc


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sock = tmp_path_factory.mktemp("fork") / "fork.sock"
    proc = start_server(sock, os.getpid())
    yield sock, proc
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def kernelspec(tmp_path, monkeypatch):
    """A kernelspec that asks for the seqviz-fork provisioner, found through JUPYTER_PATH."""
    spec = tmp_path / "share" / "kernels" / "forktest"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fork test", "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "seqviz-fork"}}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("SEQVIZ_MARK", "passed through")
    work = tmp_path / "work"
    work.mkdir()
    return work


def run_kernel(cwd: Path):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="forktest")
    km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def evaluate(kc, expr: str, setup: str = "import json, os, random, sys", timeout: float = 60) -> dict:
    msg_id = kc.execute(setup, user_expressions={"r": expr}, silent=False)
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    content = reply["content"]
    assert content["status"] == "ok", content
    r = content["user_expressions"]["r"]
    assert r["status"] == "ok", r
    return json.loads(eval(r["data"]["text/plain"]))  # the repr of a JSON string


def test_forked_kernels_are_fresh_processes_of_the_server(server, kernelspec, monkeypatch):
    sock, proc = server
    monkeypatch.setenv("SEQVIZ_FORK_SOCKET", str(sock))
    kernels = [run_kernel(kernelspec) for _ in range(2)]
    try:
        seen = [evaluate(kc, PROBE) for _, kc in kernels]
        for (km, _), s in zip(kernels, seen):
            assert s["pid"] == km.provisioner.pid != proc.pid
            assert s["ppid"] == proc.pid  # forked by the server, not started by this process
            assert psutil.Process(s["pid"]).name() == "seqviz-kernel"
            assert s["torch"] and s["dynamo"]  # preloaded: no import wait in the kernel
            assert s["ours"] == []  # seqviz's own code is imported afresh by each kernel
            assert s["cwd"] == str(kernelspec) and s["mark"] == "passed through"
        assert seen[0]["pid"] != seen[1]["pid"]
        assert seen[0]["rand"] != seen[1]["rand"]  # Python's RNG reseeded after the fork
        km, kc = kernels[0]
        # the kernel runs seqviz and torch like any kernel
        out = evaluate(kc, "json.dumps(float(per_step_gradient_norms(cell='rnn', T=12)['dL/dh_t'][-1]))",
                       setup="import json\nfrom seqviz.experiments import per_step_gradient_norms")
        assert out > 0
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    for s in seen:
        assert eventually(lambda: gone(s["pid"]), 10, interval=0.1), "a shut-down kernel is still running"


def test_forked_kernel_can_be_interrupted(server, kernelspec, monkeypatch):
    monkeypatch.setenv("SEQVIZ_FORK_SOCKET", str(server[0]))
    km, kc = run_kernel(kernelspec)
    assert psutil.Process(km.provisioner.pid).ppid() == server[1].pid
    try:
        msg_id = kc.execute("import threading\nprint('looping', flush=True)\nthreading.Event().wait(60)")
        while True:  # interrupt once the loop really runs (the kernel said so), not after a guessed delay
            msg = kc.get_iopub_msg(timeout=30)
            if msg["msg_type"] == "stream" and "looping" in msg["content"].get("text", ""):
                break
        km.interrupt_kernel()
        while True:
            reply = kc.get_shell_msg(timeout=20)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert evaluate(kc, "json.dumps(1 + 1)") == 2  # and it keeps working
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_without_the_server_kernels_start_as_usual(kernelspec, monkeypatch, tmp_path):
    monkeypatch.setenv("SEQVIZ_FORK_SOCKET", str(tmp_path / "no-such.sock"))
    km, kc = run_kernel(kernelspec)
    try:
        s = evaluate(kc, PROBE)
        assert s["ppid"] == os.getpid() and not s["dynamo"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_server_and_its_kernels_exit_with_its_parent(tmp_path, kernelspec, monkeypatch):
    parent = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait(600)"])
    sock = tmp_path / "fork.sock"
    proc = start_server(sock, parent.pid)
    monkeypatch.setenv("SEQVIZ_FORK_SOCKET", str(sock))
    km, kc = run_kernel(kernelspec)
    kernel_pid = km.provisioner.pid
    kc.stop_channels()
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        proc.wait(15)  # the server notices within a second or two
        # and the kernel's parent poller sees its parent gone
        assert eventually(lambda: gone(kernel_pid), 15, interval=0.2), "a kernel outlived its fork server"
    finally:
        if proc.poll() is None:
            proc.kill()
        with __import__("contextlib").suppress(Exception):
            km.shutdown_kernel(now=True)
