"""Fresh kernels without the wait for ``import torch``: a fork server for Voila (Linux).

Every dashboard page gets a new kernel, and before this a new kernel spent about 1.7 s of the
first render importing torch, IPython, ipykernel and plotly, then 1.4 s more on torch's
optimizer imports when Train was first pressed (measured here; README "Measured numbers").
``python -m seqviz_server.serve`` starts this module's server next to Voila. The server imports
those third-party packages once, then forks a new kernel process for each page. Each fork is
a new process with nothing of the notebook in it: the notebook still runs from the top when
the page opens, and seqviz's own modules are imported afresh by each kernel (a kernel drops
the few the server imported, so an edited file is picked up by the next page, as before).

Voila reaches the server through the kernel provisioner ``seqviz-fork`` (registered in
pyproject.toml). If the server is not running, or the kernel command is not this Python's
ipykernel, the provisioner starts the kernel the usual way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback

from jupyter_client.provisioning import LocalProvisioner

SOCKET_ENV = "SEQVIZ_FORK_SOCKET"
KERNEL_NAME = "seqviz-kernel"  # a forked kernel's process name (ps -o comm, psutil name()); its argv is the server's

# What every dashboard kernel imports that is not seqviz's own code.
PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.nn.utils.rnn", "torch.optim",
           "traitlets", "ipywidgets", "anywidget", "plotly.graph_objects", "plotly.subplots", "plotly.io",
           "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.comm",
           "comm", "jedi")


def preload() -> float:
    """Import PRELOAD and pay torch's one-time optimizer imports (torch._dynamo); returns seconds."""
    t0 = time.perf_counter()
    # CUDA must not be initialised before a fork (a child could not use the GPU): nothing here
    # touches it, and should torch ask whether a GPU exists, it asks NVML, which is fork-safe
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    sys.modules.setdefault("rfc3987_syntax", None)  # as widgets/__init__.py does, for plotly.io
    for name in PRELOAD:
        importlib.import_module(name)
    import torch

    from seqviz.training import warm_up_optimizer  # each kernel drops seqviz's modules (_run_kernel)

    warm_up_optimizer()
    if torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised before forking kernels")
    return time.perf_counter() - t0


def _is_ipykernel(cmd: list[str]) -> bool:
    return (len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable))


def _name_process(name: str) -> None:
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def _run_kernel(request: dict) -> None:
    """In the forked child: become the kernel that ``request["cmd"]`` would have started."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server ignores it; a kernel's subprocesses need it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _name_process(KERNEL_NAME)
    os.setsid()  # as jupyter_client does: interrupts go to the kernel's own process group
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    env = dict(request["env"] or os.environ)
    env["JPY_PARENT_PID"] = str(os.getppid())
    os.environ.clear()
    os.environ.update(env)
    cwd = request.get("cwd") or os.getcwd()
    os.chdir(cwd)
    sys.path[0] = cwd  # what `python -m` puts first
    for name in [m for m in sys.modules if m.split(".")[0] in ("widgets", "seqviz")]:
        del sys.modules[name]  # the server's copies: the kernel imports seqviz's code afresh
    import random

    import numpy as np

    random.seed()  # a fresh process draws these from the OS; torch's default seed is fixed anyway
    np.random.seed()
    # ipykernel read JPY_PARENT_PID when this server imported it (unset then): pass it on the
    # command line, so that the kernel exits when this server does (its parent poller)
    sys.argv = ["ipykernel_launcher", *request["cmd"][3:], f"--IPKernelApp.parent_handle={os.getppid()}"]
    import runpy

    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


def serve_forks(path: str, parent_pid: int | None = None) -> None:
    """Preload, then fork a kernel for each request on the unix socket ``path``.

    Exits when ``parent_pid`` (the Voila server) is gone. Requests are one JSON line
    {"cmd", "env", "cwd"}; the reply is {"pid"} or {"error"}.
    """
    secs = preload()
    print(f"seqviz fork server: torch and the notebook stack preloaded in {secs:.1f} s", flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the OS
    with contextlib.suppress(OSError):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o600)
    srv.listen(16)
    srv.settimeout(1.0)
    try:
        while parent_pid is None or not _exited(parent_pid):
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                _answer(srv, conn)
    finally:
        srv.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(os.path.dirname(path))  # the temporary folder seqviz_server.serve made, once empty


def _answer(srv: socket.socket, conn: socket.socket) -> None:
    """Read one request; fork the kernel it asks for and reply with its pid (or with the error)."""
    conn.settimeout(10)
    try:
        request = json.loads(conn.makefile("r").readline())
        if not _is_ipykernel(request["cmd"]):
            raise ValueError("not this Python's ipykernel_launcher")
    except (OSError, ValueError, KeyError, TypeError) as e:
        with contextlib.suppress(OSError):
            conn.sendall((json.dumps({"error": str(e)}) + "\n").encode())
        return
    pid = os.fork()
    if pid == 0:  # the kernel: never returns into the server's loop
        srv.close()
        conn.close()
        code = 1
        try:
            _run_kernel(request)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0
        except BaseException:  # noqa: BLE001 - reported, then the process ends
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    with contextlib.suppress(OSError):
        conn.sendall((json.dumps({"pid": pid}) + "\n").encode())


def request_fork(path: str, cmd: list[str], env: dict | None, cwd: str | None, timeout: float = 10.0) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps({"cmd": cmd, "env": env, "cwd": cwd}) + "\n").encode())
        reply = json.loads(s.makefile("r").readline() or "{}")
    if "pid" not in reply:
        raise OSError(reply.get("error", "no reply from the fork server"))
    return int(reply["pid"])


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a zombie (its reaper is gone and pid 1 does not reap) counts as exited
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class ForkedProcess:
    """The parts of subprocess.Popen that LocalProvisioner uses, for a process that is not our child
    (the fork server is its parent and reaps it, so its exit status is not known here)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and _exited(self.pid):
            self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        t0 = time.monotonic()
        while self.poll() is None:
            if timeout is not None and time.monotonic() - t0 > timeout:
                import subprocess

                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner that asks the fork server for the kernel process when one is running."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        path = os.environ.get(SOCKET_ENV)
        if not path or not _is_ipykernel(cmd) or not os.path.exists(path):
            return await super().launch_kernel(cmd, **kwargs)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            pid = await asyncio.to_thread(request_fork, path, cmd, kwargs.get("env"), cwd)
        except OSError as e:
            self.log.warning("seqviz fork server unavailable (%s); starting the kernel the usual way", e)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = ForkedProcess(pid)
        self.pid = self.pgid = pid  # the child called setsid()
        self.cwd = cwd
        return self.connection_info


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="seqviz kernel fork server (started by seqviz_server.serve)")
    ap.add_argument("socket")
    ap.add_argument("--parent", type=int, default=None, help="exit when this process is gone")
    a = ap.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C on `make dashboard` reaches this process too
        serve_forks(a.socket, a.parent)


if __name__ == "__main__":
    main()
