"""The ``seqviz`` command (``pip install .`` or a wheel puts it on the PATH).

    seqviz [--port 8866] [--ip 127.0.0.1] [--no-browser]
        serves the dashboards (Voila, seqviz's settings: ``seqviz_server/serve.py``) from the
        installed package and opens the landing page in the default browser.
    seqviz lab [FOLDER] [--no-browser] [--port 8888]
        copies the lessons into FOLDER (default ``./seqviz-lessons``; files already there are
        kept, so a person's edits stay theirs) and opens JupyterLab there.

The lessons and the Voila template ship inside the package (``seqviz_server/bundle``, links to
``lessons/`` and ``share/`` in a clone, real files in a wheel), so this works from any folder.
The server runs on a copy of them in a writable folder (``$XDG_CACHE_HOME/seqviz/<version>``, or
``SEQVIZ_HOME``): the installed package may be read-only, and Voila's page needs plotly.js
next to the template.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import webbrowser
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "bundle"
TEMPLATE = Path("share") / "jupyter" / "voila" / "templates" / "seqviz"


def version() -> str:
    try:
        from importlib.metadata import version as v

        return v("seqviz")
    except Exception:  # noqa: BLE001 - not installed (a clone on PYTHONPATH)
        return "dev"


def lessons_source() -> Path:
    return BUNDLE / "lessons"


def lesson_files() -> list[Path]:
    return sorted(lessons_source().glob("*.ipynb"))


def home() -> Path:
    """The writable folder the server runs from."""
    if os.environ.get("SEQVIZ_HOME"):
        return Path(os.environ["SEQVIZ_HOME"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "seqviz" / version()


def prepare_home(dest: Path | None = None) -> Path:
    """``dest/lessons`` and ``dest/share/.../seqviz``: fresh copies of the shipped ones."""
    dest = dest or home()
    (dest / "lessons").mkdir(parents=True, exist_ok=True)
    for f in lesson_files():
        shutil.copyfile(f, dest / "lessons" / f.name)
    src = BUNDLE / TEMPLATE
    for f in src.rglob("*"):
        if f.is_file() and f.name != "plotly.min.js":  # serve.py puts the installed plotly's copy there
            out = dest / TEMPLATE / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, out)
    return dest


def copy_lessons(folder: Path) -> tuple[list[str], list[str]]:
    """Copy the lessons into ``folder``; return (copied, kept): a file already there is kept."""
    folder.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for f in lesson_files():
        out = folder / f.name
        if out.exists():
            kept.append(f.name)
        else:
            shutil.copyfile(f, out)
            copied.append(f.name)
    return copied, kept


def wait_and_open(url: str, host: str, port: int, timeout_s: float = 120.0) -> None:
    """Open ``url`` in the default browser once ``host:port`` answers."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        try:
            with socket.create_connection((host, port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    webbrowser.open(url)


def _root_flag() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def serve(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="seqviz", description="Serve the seqviz dashboards and open the landing page.")
    ap.add_argument("--port", type=int, default=int(os.environ.get("SEQVIZ_PORT", 8866)))
    ap.add_argument("--ip", default=os.environ.get("SEQVIZ_IP", "127.0.0.1"),
                    help="address to listen on; 0.0.0.0 lets a class reach it")
    ap.add_argument("--preheat", type=int, default=0, help="executed kernels kept ready per dashboard")
    ap.add_argument("--no-browser", action="store_true", help="do not open a browser")
    a = ap.parse_args(argv)
    root = prepare_home()
    from seqviz_server import serve as s

    # serve.py finds the lessons and the template next to the package in a clone; here, in ``root``.
    s.ROOT = root
    s.STATIC = root / TEMPLATE / "static"
    host = "127.0.0.1" if a.ip in ("0.0.0.0", "::") else a.ip
    url = f"http://{host}:{a.port}/"
    if not a.no_browser:  # Voila replaces this process: a small helper opens the page once it answers
        subprocess.Popen([sys.executable, "-m", "seqviz_server.cli", "_open", url, host, str(a.port)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    s.main([f"--port={a.port}", f"--ip={a.ip}", f"--preheat={a.preheat}", f"--root={root / 'lessons'}"])


def lab(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="seqviz lab", description="Copy the lessons into a folder and open JupyterLab there.")
    ap.add_argument("folder", nargs="?", default="seqviz-lessons", help="where the lessons go (default ./seqviz-lessons)")
    ap.add_argument("--port", type=int, default=8888)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="copy the lessons and print the command, start nothing")
    a, extra = ap.parse_known_args(argv)
    folder = Path(a.folder).expanduser().resolve()
    copied, kept = copy_lessons(folder)
    print(f"seqviz lessons in {folder}: {len(copied)} copied"
          + (f", {len(kept)} already there and kept (your edits stay yours)" if kept else ""), flush=True)
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", f"--port={a.port}",
           *(["--no-browser"] if a.no_browser else []), *_root_flag(), *extra]
    if a.dry_run:
        print(" ".join(cmd))
        return
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        sys.exit("JupyterLab is not installed: pip install 'seqviz[lab]' (or pip install jupyterlab), then "
                 "run seqviz lab again.")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # kernels spinning OpenMP threads slow training on small machines
    os.chdir(folder)
    os.execvpe(sys.executable, cmd, env)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lab"]:
        lab(argv[1:])
    elif argv[:1] == ["_open"]:
        wait_and_open(argv[1], argv[2], int(argv[3]))
    else:
        serve(argv)


if __name__ == "__main__":
    main()
