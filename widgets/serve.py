"""Start Voila on the lessons with seqviz's settings; used by ``make dashboard`` and the tests.

    python -m widgets.serve [--port 8866] [--root lessons]

Settings, and why (measured, see shared/design.md):
- ``--Voila.ip=127.0.0.1``: plain ``--ip`` is ignored by Voila.
- ``OMP_NUM_THREADS=1`` for every kernel: kernels spinning 2 OpenMP threads each on
  2 cores slowed training several hundred times.
- idle kernels are culled: Voila does not shut down the kernel of a closed tab.
- the ``seqviz`` template: the lab template minus its CDN icon font, plus a landing page.
- plotly's JupyterLab extension is not loaded: it would parse a second plotly.js per page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


STATIC = ROOT / "share" / "jupyter" / "voila" / "templates" / "seqviz" / "static"


def install_static_plotly() -> Path:
    """Copy the installed plotly package's plotly.min.js next to the template (git-ignored),
    so pages load it as a cached static file instead of through the kernel."""
    from widgets.plotpane import _PLOTLY_JS

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


def voila_command(port: int = 8866, root: str | Path = ROOT / "lessons", cull_after_s: int = 600,
                  preheat: int = 0) -> list[str]:
    """``preheat=N`` keeps N executed kernels ready per notebook (Voila's pool): the first N
    visitors of each dashboard skip kernel start and notebook execution, at ~0.4 GB each."""
    pool = ["--preheat_kernel=True", f"--pool_size={preheat}"] if preheat > 0 else []
    install_static_plotly()
    return [
        sys.executable, "-m", "voila", str(root),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--template=seqviz",
        "--VoilaConfiguration.classic_tree=True",
        "--theme=light",
        "--VoilaConfiguration.file_allowlist=[]",
        # plotly's own lab extension ships a second copy of plotly.js (3.5 MB parsed by every
        # page); the dashboards draw with the template's copy (widgets/plotpane.py).
        '--VoilaConfiguration.extension_denylist=["jupyterlab-plotly"]',
        f"--MappingKernelManager.cull_idle_timeout={cull_after_s}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        *pool,
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("SEQVIZ_PORT", 8866)))
    ap.add_argument("--root", default=str(ROOT / "lessons"))
    ap.add_argument("--preheat", type=int, default=int(os.environ.get("SEQVIZ_PREHEAT", 0)),
                    help="executed kernels kept ready per dashboard (0 = off)")
    a = ap.parse_args(argv)
    print(f"seqviz dashboards: http://127.0.0.1:{a.port}/  (Ctrl+C to stop)", flush=True)
    os.chdir(ROOT)
    os.execvpe(sys.executable, voila_command(a.port, a.root, preheat=a.preheat), voila_env())


if __name__ == "__main__":
    main()
