"""Start Voila on the lessons with seqviz's settings; used by ``make dashboard`` and the tests.

    python -m seqviz_server.serve [--port 8866] [--root lessons]

Settings, and why (measured on a 2-core machine):
- ``--Voila.ip=127.0.0.1``: plain ``--ip`` is ignored by Voila (``--ip=0.0.0.0`` here sets it, for a class).
- follow mode: ``seqviz_server/voila_app.py`` is Voila plus follow mode's fan-out
  (``seqviz_server/follow.py``, in a process of its own that Voila starts and redirects
  ``/follow/<code>`` to: one teacher's live dashboard watched read-only by a class).
- ``OMP_NUM_THREADS=1`` for every kernel: kernels spinning 2 OpenMP threads each on
  2 cores slowed training several hundred times.
- idle kernels are culled: Voila does not shut down the kernel of a closed tab.
- admission control (``seqviz_server/admission.py``): at most ``--max-kernels`` live dashboards
  (default from cores and memory), a queue page above it, notebooks started a few at a time in
  arrival order, and a closed tab's kernel shut down at once.
- the ``seqviz`` template: the lab template minus its CDN icon font, plus a landing page.
- plotly's JupyterLab extension is not loaded: it would parse a second plotly.js per page.
- on Linux, kernels are forked from a server that has torch and the notebook stack imported
  (``seqviz_server/kernel_fork.py``): each page still gets a new kernel and runs its notebook, 1.7 s
  sooner. ``SEQVIZ_FORK=0`` turns it off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


STATIC = ROOT / "share" / "jupyter" / "voila" / "templates" / "seqviz" / "static"


def install_static_plotly() -> Path:
    """Copy the installed plotly package's plotly.min.js next to the template (git-ignored),
    so pages load it as a cached static file instead of through the kernel."""
    import plotly

    _PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

    dest = STATIC / "plotly.min.js"
    if not dest.exists() or dest.stat().st_size != _PLOTLY_JS.stat().st_size:
        STATIC.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_PLOTLY_JS, dest)
    return dest


def voila_env(base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("SEQVIZ_THREADS", env["OMP_NUM_THREADS"])
    share = str(ROOT / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (share, env.get("JUPYTER_PATH", "")) if p)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def serve_command(port: int = 8866, root: str | Path = ROOT / "lessons", preheat: int = 0) -> list[str]:
    """What ``make dashboard`` runs (run it with ``voila_env()`` and cwd ROOT)."""
    return [sys.executable, "-m", "seqviz_server.serve", f"--port={port}", f"--root={root}", f"--preheat={preheat}"]


def fork_enabled(env: dict) -> bool:
    """Linux, not turned off, and the provisioner registered (``pip install -e .`` does it)."""
    from importlib.metadata import entry_points

    return (sys.platform == "linux" and env.get("SEQVIZ_FORK", "1") != "0"
            and bool(entry_points(group="jupyter_client.kernel_provisioners", name="seqviz-fork")))


def voila_command(port: int = 8866, root: str | Path = ROOT / "lessons", cull_after_s: int = 600,
                  preheat: int = 0, fork: bool = False, ip: str = "127.0.0.1") -> list[str]:
    """``preheat=N`` keeps N executed kernels ready per notebook (Voila's pool): the first N
    visitors of each dashboard skip kernel start and notebook execution, at ~0.4 GB each.
    ``fork``: kernels come from the fork server (``main`` starts it). ``ip``: 127.0.0.1 (this
    machine only); ``0.0.0.0`` lets a class reach the dashboards and ``/follow/<code>``."""
    provisioner = ["--KernelProvisionerFactory.default_provisioner_name=seqviz-fork"] if fork else []
    pool = ["--preheat_kernel=True", f"--pool_size={preheat}"] if preheat > 0 else []
    install_static_plotly()
    return [
        # Voila itself, which starts follow mode's fan-out beside it (seqviz_server/voila_app.py)
        sys.executable, "-m", "seqviz_server.voila_app", str(root),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--template=seqviz",
        "--VoilaConfiguration.classic_tree=True",
        "--theme=light",
        "--VoilaConfiguration.file_allowlist=[]",
        # plotly's own lab extension ships a second copy of plotly.js (3.5 MB parsed by every
        # page); the dashboards draw with the template's copy (widgets/kit/plotpane.py).
        '--VoilaConfiguration.extension_denylist=["jupyterlab-plotly"]',
        f"--MappingKernelManager.cull_idle_timeout={cull_after_s}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        *pool,
        *provisioner,
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("SEQVIZ_PORT", 8866)))
    ap.add_argument("--root", default=str(ROOT / "lessons"))
    ap.add_argument("--preheat", type=int, default=int(os.environ.get("SEQVIZ_PREHEAT", 0)),
                    help="executed kernels kept ready per dashboard (0 = off)")
    ap.add_argument("--ip", default=os.environ.get("SEQVIZ_IP", "127.0.0.1"),
                    help="address to listen on; 0.0.0.0 for a class following a teacher (/follow/<code>)")
    ap.add_argument("--max-kernels", type=int, default=None,
                    help="live dashboards at once, the rest wait in a queue (default from the machine; "
                         "seqviz_server/admission.py)")
    a = ap.parse_args(argv)
    print(f"seqviz dashboards: http://{a.ip}:{a.port}/  (Ctrl+C to stop)", flush=True)
    os.chdir(ROOT)
    env = voila_env()
    if a.max_kernels is not None:
        env["SEQVIZ_MAX_KERNELS"] = str(a.max_kernels)
    fork = fork_enabled(env)
    if fork:  # its parent is this process, which becomes Voila below; it exits with Voila
        from seqviz_server.kernel_fork import SOCKET_ENV

        env[SOCKET_ENV] = os.path.join(tempfile.mkdtemp(prefix="seqviz-fork-"), "fork.sock")
        server = subprocess.Popen([sys.executable, "-m", "seqviz_server.kernel_fork", env[SOCKET_ENV],
                                   f"--parent={os.getpid()}"], env=env, cwd=ROOT)
        for _ in range(600):  # its preload takes about 3 s; a page opened before then starts its kernel as usual
            if os.path.exists(env[SOCKET_ENV]) or server.poll() is not None:
                break
            time.sleep(0.05)
    os.execvpe(sys.executable, voila_command(a.port, a.root, preheat=a.preheat, fork=fork, ip=a.ip), env)


if __name__ == "__main__":
    main()
