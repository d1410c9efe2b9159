"""Start a real JupyterHub from ``deploy/jupyterhub_config.py`` (used by tests/test_hub.py and
benchmarks/bench_class.py): configurable-http-proxy from ``.ci/node`` (installed here with npm
when missing), the dummy authenticator, the simple local-process spawner, the idle culler."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
CHP_VERSION = "5.3.0"  # keep in step with .ci/run
CHP = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


def ensure_proxy() -> str | None:
    """The proxy's path, installing it into .ci/node if needed; None (with why) when impossible."""
    if CHP.exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed: configurable-http-proxy cannot be installed (apt-get install -y nodejs npm)"
    r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(ROOT / ".ci" / "node"),
                        f"configurable-http-proxy@{CHP_VERSION}"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not CHP.exists():
        return f"npm could not install configurable-http-proxy@{CHP_VERSION}: {r.stderr[-500:]}"
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    def __init__(self, url, token, proc, state, log_path):
        self.url, self.token, self.proc, self.state, self.log_path = url, token, proc, state, log_path

    def api(self, method, path, **kw):
        return requests.request(method, self.url + "hub/api/" + path.lstrip("/"),
                                headers={"Authorization": f"token {self.token}"}, timeout=60, **kw)

    def server_ready(self, user) -> bool:
        r = self.api("GET", f"users/{user}")
        return r.ok and bool(r.json().get("servers", {}).get("", {}).get("ready"))

    def has_server(self, user) -> bool:
        r = self.api("GET", f"users/{user}")
        return r.ok and "" in r.json().get("servers", {})


@contextlib.contextmanager
def running_hub(state: Path, cull_timeout: int = 1800, cull_every: int = 60, log_name: str = "hub-test.log",
                **extra_env):
    from tests.conftest import eventually

    state.mkdir(parents=True, exist_ok=True)
    port, api_port, proxy_port = _free_port(), _free_port(), _free_port()
    token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(SEQVIZ_HUB_URL=f"http://127.0.0.1:{port}", SEQVIZ_HUB_API_URL=f"http://127.0.0.1:{api_port}",
               SEQVIZ_PROXY_API_URL=f"http://127.0.0.1:{proxy_port}", SEQVIZ_HUB_STATE=str(state),
               SEQVIZ_CULL_TIMEOUT=str(cull_timeout), SEQVIZ_CULL_EVERY=str(cull_every),
               SEQVIZ_HUB_MONITOR_TOKEN=token, OMP_NUM_THREADS="1", **{k: str(v) for k, v in extra_env.items()})
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log_path = ROOT / "artifacts" / log_name
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "deploy" / "jupyterhub_config.py")],
                            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    hub = Hub(f"http://127.0.0.1:{port}/", token, proc, state, log_path)

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with code {proc.returncode}; see {log_path}")
        try:
            return requests.get(hub.url + "hub/api/", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        if not eventually(up, 120, interval=0.3):
            raise RuntimeError(f"JupyterHub did not answer within 120 s; see {log_path}")
        yield hub
    finally:
        with contextlib.suppress(Exception):  # stop every user's server first, then the hub
            for u in hub.api("GET", "users").json():
                if u.get("servers"):
                    hub.api("DELETE", f"users/{u['name']}/server")
            eventually(lambda: not any(u.get("servers") for u in hub.api("GET", "users").json()), 30, interval=0.5)
        stop_process_group(proc, 30)
        log.close()
