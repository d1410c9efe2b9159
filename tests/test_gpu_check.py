"""benchmarks/gpu_check.py's comparison logic, on the CPU: the same device twice must agree exactly,
a perturbed second side must be caught (non-zero exit), no CUDA must say so and exit 0, and the
script must run without plotly or the widget stack (the GPU machine has neither)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check as G  # noqa: E402

# The GPU machine has torch, numpy, scikit-learn, statsmodels, pytest: block what it lacks.
BLOCKED = ("plotly", "ipywidgets", "IPython", "voila", "anywidget", "nbclient")
WRAPPER = f"""
import sys, runpy
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ImportError('not installed on the GPU machine: ' + name)
sys.meta_path.insert(0, Block())
sys.argv = ['gpu_check.py'] + sys.argv[1:]
runpy.run_path({str(ROOT / 'benchmarks' / 'gpu_check.py')!r}, run_name='__main__')
"""


def run_blocked(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_worst_is_the_error_in_units_of_the_tolerance():
    a, b = np.array([1.0, 2.0, 10.0]), np.array([1.0, 2.001, 10.0])
    # |2 - 2.001| / (1e-5 + 1e-4 * 2.001), worked out by hand
    assert G.worst(a, b, 1e-4, 1e-5) == pytest.approx(0.001 / (1e-5 + 2.001e-4))
    assert G.worst(b, b, 1e-4, 1e-5) == 0.0
    assert G.worst(a, b[:2], 1e-4, 1e-5) == float("inf")  # shapes differ
    nan = np.array([np.nan, 1.0])
    assert G.worst(nan, nan.copy(), 1e-4, 1e-5) == 0.0  # NaN agrees with NaN only
    assert G.worst(nan, np.array([0.0, 1.0]), 1e-4, 1e-5) == float("inf")
    inf = np.array([np.inf])
    assert G.worst(inf, inf.copy(), 1e-4, 1e-5) == 0.0
    assert G.worst(inf, -inf, 1e-4, 1e-5) == float("inf")


def test_compare_flags_a_missing_array():
    x, y = G.Outcome(), G.Outcome()
    x.add("a", torch.ones(3), G.INIT)
    x.add("b", [1.0], G.INIT)
    y.add("a", torch.ones(3), G.INIT)
    assert dict(G.compare(x, y)) == {"a": 0.0, "b": float("inf")}


ONLY = ["gradient flow", "transformer", "packing"]


def test_the_same_device_twice_agrees_on_every_comparison(capsys):
    bad, rows = G.check(("cpu", "cpu"), ONLY)
    out = capsys.readouterr().out
    assert bad == 0, out
    assert [r[0] for r in rows] == [n for n in G.CHECKS if any(o in n for o in ONLY)]
    assert all(r[1] > 0 and r[2] > 0 for r in rows)
    # the gradient-flow check compares the probe, the gate traces and the training steps
    assert "gradient flow (03/04): 19 comparisons, worst 0 of tolerance" in out


def test_a_perturbed_second_side_is_a_disagreement(capsys):
    bad, _ = G.check(("cpu", "cpu"), ["transformer"], perturb=1e-2)
    out = capsys.readouterr().out
    assert bad > 0 and "DISAGREE" in out and "attention weights" in out


def test_gpu_check_runs_without_plotly_and_the_widget_stack_and_exits_by_its_verdict():
    ok = run_blocked("--devices", "cpu,cpu", "--only", "packing", "forecasting", "Markov", "--lessons")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: every comparison agreed" in ok.stdout
    assert "Lessons headless: skipped, not importable here: nbclient" in ok.stdout
    bad = run_blocked("--devices", "cpu,cpu", "--only", "forecasting", "--perturb", "0.01")
    assert bad.returncode == 1 and "FAILED" in bad.stdout, bad.stdout + bad.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the no-GPU message is not shown")
def test_without_cuda_it_says_so_and_exits_0(capsys):
    assert G.main(["--devices", "cuda,cpu"]) == 0
    out = capsys.readouterr().out
    assert "No CUDA GPU here" in out and "nothing was run on a GPU" in out


def test_stories_run_and_count_the_presets_that_missed(monkeypatch, capsys):
    """The --stories stage on the CPU with tiny stand-ins for the GPU presets and a 3 s bound."""
    import seqviz.experiments as X
    import seqviz.experiments.race as R
    from seqviz.experiments import GradFlowConfig
    from seqviz.experiments.race import RacePreset

    monkeypatch.setattr(X, "GPU_PRESETS", {"tiny adding": GradFlowConfig(T=10, hidden=8, probe_every=0)})
    monkeypatch.setattr(R, "GPU_RACES", {"tiny race": RacePreset(T=10, hidden=8, channels=4)})
    monkeypatch.setattr(G, "STORY_S", 3.0)
    missed = G.stories(torch.device("cpu"))
    out = capsys.readouterr().out
    assert "gradient flow: tiny adding" in out and "TCN race: tiny race" in out
    assert missed == out.count("STORY NOT TOLD") and 0 <= missed <= 2
