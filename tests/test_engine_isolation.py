"""seqviz (the engine) must import and work with ipywidgets and IPython unavailable."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('ipywidgets', 'IPython', 'ipykernel', 'traitlets', 'anywidget', 'widgets'):
            raise ImportError(f'{name} is blocked in this test')
        return None
sys.meta_path.insert(0, Block())
import seqviz
mods = [m.name for m in pkgutil.walk_packages(seqviz.__path__, 'seqviz.')]
for m in mods:
    importlib.import_module(m)
from seqviz.experiments import per_step_gradient_norms
assert per_step_gradient_norms(T=10)['dL/dh_t'].shape == (10,)
bad = [m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'IPython')]
assert not bad, bad
print(len(mods))
"""


def test_engine_imports_without_ipywidgets_or_ipython():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.strip()) >= 8  # every engine module was imported


def test_the_blocker_really_blocks():
    r = subprocess.run([sys.executable, "-c", SCRIPT.split("import seqviz")[0] + "import ipywidgets"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "blocked" in r.stderr
