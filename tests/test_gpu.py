"""seqviz on a CUDA GPU (issue 19). Every test here but the first needs one and is reported as
skipped, with the reason, where there is none (``pytest -ra`` lists them):

- the fork server never initialises CUDA before it forks (runs everywhere on Linux);
- every model and probe lives and computes on the GPU;
- CPU and GPU agree on the same seeded batches (benchmarks/gpu_check.py's comparisons);
- kernels forked by the fork server initialise CUDA themselves, and two train on one GPU at once
  (also needs jupyter_client and ipykernel).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")
HAS_KERNELS = all(importlib.util.find_spec(m) is not None for m in ("jupyter_client", "ipykernel", "psutil"))

PRELOAD = """
import json, os, sys, torch
calls = []
real = torch.cuda._lazy_init
torch.cuda._lazy_init = lambda: calls.append('lazy_init') or real()
from seqviz_server.kernel_fork import preload
preload()
print(json.dumps({'initialised': torch.cuda.is_initialized(), 'lazy_init_calls': calls,
                  'nvml': os.environ.get('PYTORCH_NVML_BASED_CUDA_CHECK'),
                  'ours': sorted(m for m in sys.modules if m.split('.')[0] in ('seqviz', 'widgets'))}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the fork server is Linux-only (seqviz_server.serve)")
@pytest.mark.skipif(importlib.util.find_spec("ipykernel") is None, reason="the fork server preloads ipykernel")
def test_the_fork_server_never_initialises_cuda_before_forking():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
    out = subprocess.run([sys.executable, "-c", PRELOAD], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["initialised"] is False and got["lazy_init_calls"] == []
    assert got["nvml"] == "1"  # torch.cuda.is_available() asks NVML (fork-safe), not the CUDA runtime
    # only seqviz.training was imported (for the optimizer warm-up), and no device picked at import
    assert not [m for m in got["ours"] if m.startswith(("seqviz.experiments", "widgets"))], got["ours"]


# -- on a GPU ------------------------------------------------------------------------------------------
def _on(module: torch.nn.Module, device_type: str = "cuda") -> bool:
    tensors = [*module.parameters(), *module.buffers()]
    return bool(tensors) and all(t.device.type == device_type for t in tensors)


@needs_cuda
def test_pick_device_picks_the_gpu_and_names_it():
    from seqviz.devices import is_cuda, pick_device

    info = pick_device()
    assert info.device.type == "cuda" and is_cuda()
    assert info.label == f"GPU: {torch.cuda.get_device_name(0)}"


@needs_cuda
def test_every_model_and_probe_is_placed_on_the_gpu():
    from seqviz.data.translation import CharData, char_corpus
    from seqviz.experiments import GradFlowConfig, build_gradflow_run
    from seqviz.experiments import attention as A
    from seqviz.experiments import charlm as C
    from seqviz.experiments import embeddings as E
    from seqviz.experiments.forecasting import Forecast, preset_config
    from seqviz.data.series import seasonal
    from seqviz.experiments.race import DEFAULT_RACE, RACE_PRESETS, Race
    from seqviz.models.tcn import TCNConfig
    from seqviz.probes.gates import gate_traces
    from seqviz.probes.gradients import probe_gradients
    from seqviz.probes.receptive import input_gradient

    dev = torch.device("cuda")
    run = build_gradflow_run(GradFlowConfig(T=30), dev)
    pb = run.setup.probe_batch
    assert pb.x.device.type == "cuda"
    for m in run.models.values():
        assert _on(m)
        p = probe_gradients(m, run.setup.task, pb)
        assert p.h_norms.shape == (30,) and (p.h_norms > 0).all()
        assert gate_traces(m, pb.x, [0] * len(pb.x))[0].h.shape == (30, m.cfg.hidden)
    run.step()
    race = Race(RACE_PRESETS[DEFAULT_RACE], TCNConfig(), dev)
    assert all(_on(r.models[k]) for k, r in race.runs.items())
    race.step()
    tcn = race.runs["tcn"].models["tcn"]
    assert input_gradient(tcn, 40, 39, seed=0).shape[-1] == 40
    task, s2s = A.build_s2s(A.PRESETS["default"], device=dev)
    assert all(_on(m) for m in s2s.models.values())
    s2s.step()
    lm = A.build_lm(A.PRESETS["default"], CharData.from_text(char_corpus()), dev)
    assert _on(lm.models["transformer"])
    lm.step()
    ch = C.build_charlm_run(C.load_corpus("names"), "lstm", "cpu", dev, evaluate=False)
    assert all(_on(m) for m in ch.models.values())
    ch.step()
    f = Forecast(seasonal(), preset_config(dev), dev)
    assert all(_on(m) for m in f.models.values())
    f.step()
    corpus = E.load_corpus("brown")
    for r in (E.build_word2vec(corpus, E.PRESETS["cuda"], dev), E.build_bilm(corpus, E.BILM_PRESETS["cuda"], dev)):
        assert all(_on(m) for m in r.models.values())
        r.step()


@needs_cuda
@pytest.mark.parametrize("name", ["gradient flow", "TCN race", "seq2seq", "transformer", "packing", "forecasting",
                                  "char-level LM", "embeddings", "Markov"])
def test_cpu_and_gpu_agree(name, capsys):
    import gpu_check as G

    bad, rows = G.check(("cuda", "cpu"), [name])
    assert len(rows) == 1 and bad == 0, capsys.readouterr().out


KERNEL_GPU = ("json.dumps({'name': torch.cuda.get_device_name(0),"
              " 'loss': float(run.history[next(iter(run.models))].loss[-1]), 'after': torch.cuda.is_initialized(),"
              " 'where': str(next(iter(run.models.values())).head.weight.device)})")
KERNEL_SETUP = ("import json, torch\nfrom seqviz.experiments import GradFlowConfig, build_gradflow_run\n"
                "run = build_gradflow_run(GradFlowConfig(T=100, hidden=128), torch.device('cuda'))\n"
                "[run.step() for _ in range(30)]")


@needs_cuda
@pytest.mark.skipif(sys.platform != "linux" or not HAS_KERNELS,
                    reason="needs Linux, jupyter_client, ipykernel and psutil (the fork server)")
def test_forked_kernels_initialise_cuda_themselves_and_two_train_at_once(tmp_path_factory, tmp_path, monkeypatch):
    from tests.test_kernel_fork import evaluate, run_kernel, start_server

    spec = tmp_path / "share" / "kernels" / "forktest"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fork test", "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "seqviz-fork"}}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    sock = tmp_path_factory.mktemp("fork") / "fork.sock"
    proc = start_server(sock, os.getpid())
    monkeypatch.setenv("SEQVIZ_FORK_SOCKET", str(sock))
    kernels = []
    try:
        kernels = [run_kernel(tmp_path) for _ in range(2)]
        ids = [kc.execute(KERNEL_SETUP) for _, kc in kernels]  # both train at once
        for (_, kc), msg_id in zip(kernels, ids):
            while kc.get_shell_msg(timeout=300)["parent_header"].get("msg_id") != msg_id:
                pass
        seen = [evaluate(kc, KERNEL_GPU, setup="import json, torch", timeout=120) for _, kc in kernels]
        for s in seen:
            assert s["after"] and s["where"].startswith("cuda") and s["loss"] == s["loss"]
            assert s["name"] == torch.cuda.get_device_name(0)
        assert seen[0]["loss"] == pytest.approx(seen[1]["loss"], rel=1e-4)  # same seed, same GPU: same run
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        proc.terminate()
        proc.wait(10)
