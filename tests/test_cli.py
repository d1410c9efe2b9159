"""The ``seqviz`` command from a built wheel, installed into a throwaway venv, run from a folder
outside the clone (issue 18): the landing page and the template come from the package, and
``seqviz lab`` copies the lessons into the folder a person names without overwriting their edits."""

import json
import os
import signal
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import eventually, free_port, stop_process_group

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A wheel of this tree in a venv of its own; the project venv's packages (torch, voila...) are
    reached through a .pth file, so nothing is downloaded, and seqviz itself comes from the wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp / "dist")], check=True, cwd=tmp, timeout=120)
    wheel = next((tmp / "dist").glob("seqviz-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=120)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "zz_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "elsewhere"  # not the clone: nothing can come from the working tree
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(SEQVIZ_HOME=str(tmp / "home"), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               OMP_NUM_THREADS="1", SEQVIZ_FORK="0")
    where = subprocess.run([str(py), "-c", "import seqviz_server, widgets; print(seqviz_server.__file__, widgets.__file__)"],
                           capture_output=True, text=True, check=True, cwd=work, env=env).stdout
    assert str(ROOT) not in where and str(venv) in where  # the wheel's copy, not the clone's
    return venv, work, env, tmp


def test_seqviz_serves_the_landing_page_from_the_installed_package(installed):
    venv, work, env, tmp = installed
    port = free_port()
    log = open(tmp / "seqviz.log", "w")
    proc = subprocess.Popen([str(venv / "bin" / "seqviz"), "--no-browser", f"--port={port}"], cwd=work, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def page():
        assert proc.poll() is None, (tmp / "seqviz.log").read_text()[-2000:]
        try:
            return urllib.request.urlopen(url, timeout=3).read().decode()
        except OSError:
            return None

    try:
        assert eventually(lambda: page() is not None, 90, interval=0.3), (tmp / "seqviz.log").read_text()[-2000:]
        html = page()
        assert "seqviz: sequence models you can watch learn" in html
        for name in LESSONS:  # every lesson of the clone is listed, served from the package
            assert name in html
        js = urllib.request.urlopen(url + "voila/templates/seqviz/static/plotly.min.js", timeout=10).read()
        assert len(js) > 1_000_000  # plotly.js, offline, next to the installed template
        assert sorted(p.name for p in (tmp / "home" / "lessons").glob("*.ipynb")) == LESSONS
    finally:
        stop_process_group(proc, 15)
        log.close()


def test_seqviz_lab_copies_the_lessons_and_keeps_a_persons_edits(installed):
    venv, work, env, _ = installed
    run = lambda *a: subprocess.run([str(venv / "bin" / "seqviz"), "lab", *a], cwd=work, env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    first = run("mine", "--dry-run", "--no-browser")
    assert first.returncode == 0, first.stderr
    folder = work / "mine"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == LESSONS
    assert json.loads((folder / LESSONS[0]).read_text()) == json.loads((ROOT / "lessons" / LESSONS[0]).read_text())
    assert "jupyterlab" in first.stdout and f"--ServerApp.root_dir={folder}" in first.stdout
    assert ("--allow-root" in first.stdout) == (os.geteuid() == 0)
    (folder / LESSONS[0]).write_text('{"edited": true}')
    again = run("mine", "--dry-run")
    assert "already there and kept" in again.stdout
    assert json.loads((folder / LESSONS[0]).read_text()) == {"edited": True}


def test_seqviz_lab_starts_jupyterlab_in_that_folder(installed):
    venv, work, env, tmp = installed
    port = free_port()
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen([str(venv / "bin" / "seqviz"), "lab", "class", "--no-browser", f"--port={port}",
                             "--IdentityProvider.token=t18"], cwd=work, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def contents():
        assert proc.poll() is None, (tmp / "lab.log").read_text()[-2000:]
        try:
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=t18", timeout=3).read())
        except OSError:
            return None

    try:
        assert eventually(lambda: contents() is not None, 60, interval=0.3), (tmp / "lab.log").read_text()[-2000:]
        assert sorted(c["name"] for c in contents()["content"] if c["name"].endswith(".ipynb")) == LESSONS
    finally:
        stop_process_group(proc, 15)
        log.close()
