"""GPU presets (issue 19), on the CPU: hidden unless seqviz.devices reports CUDA, offered when it does
(a kernel with pick_device patched to CUDA, in a subprocess), and every GPU preset's configuration
builds and runs a tiny forward pass on the CPU."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from seqviz.devices import is_cuda
from seqviz.experiments import GPU_PRESETS, PRESETS, build_gradflow_run, limits_for, presets_for
from seqviz.experiments import attention as A
from seqviz.experiments import race as R

ROOT = Path(__file__).resolve().parent.parent
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the presets are offered here")
widget_stack = pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("ipywidgets", "plotly")),
                                  reason="the dashboards need ipywidgets and plotly (not on a bare GPU machine)")


def test_the_engine_offers_gpu_presets_on_cuda_only():
    assert is_cuda("cuda") and is_cuda(torch.device("cuda", 0)) and not is_cuda("cpu")
    assert presets_for("cpu") == PRESETS and set(GPU_PRESETS).isdisjoint(presets_for("cpu"))
    assert list(presets_for("cuda")) == [*PRESETS, *GPU_PRESETS]
    assert limits_for("cpu") == (200, 128) and limits_for("cuda") == (1000, 256)
    assert set(R.GPU_RACES).isdisjoint(R.races_for("cpu")) and set(R.GPU_RACES) <= set(R.races_for("cuda"))
    assert "gpu" not in A.presets_for("cpu") and "gpu" in A.presets_for("cuda")
    assert A.default_preset("cpu") == "default" and A.default_preset("cuda") == "gpu"


@no_cuda
@widget_stack
def test_dashboards_without_cuda_hide_the_gpu_presets():
    from widgets.attention import view as av
    from widgets.gradient_flow.state import GradientFlowState
    from widgets.gradient_flow.view import make_controls
    from widgets.receptive_field.state import ReceptiveFieldState

    opts = make_controls()["preset"].options
    assert list(opts) == list(PRESETS) and set(GPU_PRESETS).isdisjoint(opts)
    s = GradientFlowState()
    assert s.CHOICES["preset"] == tuple(PRESETS) and s.limits("T")[1] == 200 and s.limits("hidden")[1] == 128
    s.T = 1000  # a forged value: clamped to the CPU's limit
    assert s.T == 200
    assert set(R.GPU_RACES).isdisjoint(ReceptiveFieldState.CHOICES["race"])
    assert "gpu" not in av.PRESETS


PATCHED = """
import json, torch, seqviz.devices as d
d.pick_device = lambda prefer=None: d.DeviceInfo(torch.device('cuda'), 'GPU: pretend')
from widgets.gradient_flow.state import GradientFlowState
from widgets.gradient_flow.view import make_controls
from widgets.receptive_field.state import ReceptiveFieldState
from widgets.attention import view as av
s = GradientFlowState(); s.T = 1000; s.hidden = 256
print(json.dumps({'options': list(make_controls()['preset'].options), 'T': s.T, 'H': s.hidden,
                  'slider': make_controls()['T'].max, 'races': list(ReceptiveFieldState.CHOICES['race']),
                  'attention': list(av.PRESETS)}))
"""


@widget_stack
def test_dashboards_on_cuda_offer_the_gpu_presets():
    out = subprocess.run([sys.executable, "-c", PATCHED], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["options"] == [*PRESETS, *GPU_PRESETS]
    assert (got["T"], got["H"], got["slider"]) == (1000, 256, 1000)
    assert set(R.GPU_RACES) <= set(got["races"]) and "gpu" in got["attention"]


@pytest.mark.parametrize("name", list(GPU_PRESETS))
def test_gradient_flow_gpu_presets_build_and_run_a_step_on_the_cpu(name):
    cfg = replace(GPU_PRESETS[name], T=20)  # the preset's models; a short sequence keeps the CPU quick
    run = build_gradflow_run(cfg, torch.device("cpu"))
    assert all(m.cfg.hidden == 256 for m in run.models.values())
    # parameters of the LSTM beside the RNN, by hand: 4 gates of (n_in + H) x H weights and 2 H biases each
    lstm = run.models["lstm"].rnn
    n_in = run.setup.task.n_in
    assert sum(p.numel() for p in lstm.parameters()) == 4 * ((n_in + 256) * 256 + 2 * 256)
    run.step()
    assert all(torch.isfinite(torch.tensor(h.loss)).all() for h in run.history.values())


def test_the_gpu_race_builds_and_its_tcn_can_be_made_to_see_1000_steps():
    from seqviz.models.tcn import TCNConfig
    from seqviz.probes.receptive import required_reach

    for p in R.GPU_RACES.values():
        assert p.T == 1000
        tcn = TCNConfig(kernel_size=7, dilations=(1, 2, 4, 8, 16, 32, 64, 128))
        race = R.Race(replace(p, T=30), tcn, "cpu")
        assert race.rf == 1 + 6 * 255 >= required_reach(p.task, p.T)  # closed form: 1 + (k - 1) * sum(d)
        race.runs["tcn"].step()
        assert race.params["gru"] == sum(x.numel() for x in race.runs["gru"].models["gru"].parameters())


def test_the_attention_gpu_preset_builds_and_runs_forward_on_the_cpu():
    from seqviz.data.translation import CharData, char_corpus

    p = A.GPU_PRESETS["gpu"]
    task, run = A.build_s2s(p)
    pairs = task.sample(4, torch.Generator().manual_seed(0))
    logits, w = run.models["attention"](pairs.src, pairs.tgt)
    assert logits.shape == (*pairs.tgt.shape, task.V)
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:2]))  # each row of weights sums to 1
    lm = A.build_lm(p, CharData.from_text(char_corpus()))
    x, _ = lm.batch_fn(torch.Generator().manual_seed(0))
    trace: list = []
    lm.models["transformer"](x[:2], trace=trace)
    assert len(trace) == 4 and trace[0]["weights"].shape == (2, 4, x.shape[1], x.shape[1])


def test_the_new_lessons_gpu_presets_build_on_the_cpu():
    from seqviz.experiments import charlm as C
    from seqviz.experiments import embeddings as E
    from seqviz.experiments.forecasting import Forecast, preset_config
    from seqviz.data.series import seasonal

    corpus = C.load_corpus("names")
    run = C.build_charlm_run(corpus, "lstm", C.with_preset(C.PRESETS[C.default_preset("cuda")], T=16, batch=4),
                             "cpu", evaluate=False)
    assert C.default_preset("cuda") == "gpu" and C.default_preset("cpu") == "cpu"
    run.step()
    assert len(run.history["tf"]) == 1
    f = Forecast(seasonal(), preset_config("cuda"), "cpu")
    assert f.cfg.hidden == 64 and f.models["gru"].cfg.hidden == 64
    f.step()
    assert E.PRESETS["cuda"].dim == 128 and E.BILM_PRESETS["cuda"].dim == 256
    from seqviz.data import corpora

    small = E.load_corpus("pasted", text=" ".join(corpora.documents("python_docs")[:300]))
    w2v = E.build_word2vec(small, replace(E.PRESETS["cuda"], batch=64), torch.device("cpu"))
    w2v.step()
    assert w2v.models["w2v"].centre.weight.shape == (len(small.vocab), 128)


def test_every_dashboard_shows_where_it_computes():
    views = sorted(p for p in (ROOT / "widgets").glob("*/view.py") if p.parent.name != "kit")
    assert len(views) >= 8
    for v in views:
        assert "device_badge()" in v.read_text(), f"{v.parent.name} does not show the device"
