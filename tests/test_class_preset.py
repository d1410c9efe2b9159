"""The class preset (issue 17): on a crowded machine the gradient-flow dashboard starts with a
smaller preset that tells the same story, and says why.

- the crowding signal (``seqviz.crowd``) from a fake server count or load average, the override,
  and the file the admission server writes for its kernels (read back, stale, garbled);
- through a real ``make dashboard`` server: a kernel reads how many dashboards are open;
- the class preset is a valid ``GradFlowConfig`` with the RNN / LSTM pair, its arithmetic is what
  PyTorch's own weight matrices imply, and ``dashboard()`` picks it (or not) and says the sentence;
- a short headless training: the LSTM reaches the story while the RNN stays at the task's
  baseline, which is Var(U1 + U2) = 1/6 by a direct count over sampled batches.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
import requests
import torch

from seqviz import crowd as C
from seqviz.data.tasks import get_task
from seqviz.experiments import DEFAULT_PRESET, PRESETS, GradFlowConfig, build_gradflow_run
from seqviz.experiments.gradflow import CLASS_PRESET, model_configs
from seqviz_server.admission import write_crowd_file
from tests.conftest import ROOT, eventually, free_port, stop_process_group

AUTO = {C.MODE_ENV: "auto"}


# -- the signal ---------------------------------------------------------------------------------

def test_the_server_count_decides_more_than_six_per_core():
    busy = C.crowding(AUTO, server=(30, 2), load=0.0)
    assert busy.crowded and busy.source == "server" and busy.count == 30
    assert busy.reason == "30 dashboards are open on this machine's 2 cores"
    assert not C.crowding(AUTO, server=(12, 2), load=0.0).crowded  # 6 per core: still the default story
    assert C.crowding(AUTO, server=(13, 2), load=0.0).crowded
    # with a server count, a busy machine for other reasons does not switch (the count is the signal)
    assert not C.crowding(AUTO, server=(3, 2), load=50.0).crowded


def test_without_a_server_the_load_average_decides():
    busy = C.crowding(AUTO, server=None, load=36.8, cores=2)
    assert busy.crowded and busy.source == "load" and "load average of 36.8" in busy.reason
    assert not C.crowding(AUTO, server=None, load=3.0, cores=2).crowded
    assert C.crowding(AUTO, server=None, load=13.0, cores=2).crowded
    assert not C.crowding(AUTO, server=None, load=13.0, cores=4).crowded


def test_the_setting_overrides_both_signals():
    assert C.crowding({C.MODE_ENV: "on"}, server=(1, 16), load=0.0).crowded
    assert not C.crowding({C.MODE_ENV: "off"}, server=(100, 1), load=99.0).crowded
    assert C.crowding({C.MODE_ENV: "on"}).source == "setting"


def test_the_file_the_server_writes_is_what_a_kernel_reads(tmp_path):
    path = str(tmp_path / "crowd.json")
    write_crowd_file(path, 30, cores=2)
    env = {C.CROWD_FILE_ENV: path}
    assert C.server_count(env) == (30, 2)
    assert C.crowding({**env, **AUTO}, load=0.0).crowded
    write_crowd_file(path, 4, cores=2)  # rewritten whole: the new count
    assert C.server_count(env) == (4, 2)
    # a file left by a server that is gone says nothing
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_crowd_file(path, 30, cores=2, pid=dead.pid)
    assert C.server_count(env) is None
    (tmp_path / "crowd.json").write_text("{not json")
    assert C.server_count(env) is None
    (tmp_path / "crowd.json").write_text(json.dumps({"open": "x", "cores": 2, "pid": os.getpid()}))
    assert C.server_count(env) is None
    assert C.server_count({C.CROWD_FILE_ENV: str(tmp_path / "missing.json")}) is None
    assert C.server_count({}) is None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``make dashboard``'s server (no cap) on a notebook that prints what its kernel reads."""
    from seqviz_server.serve import serve_command, voila_env

    root = tmp_path_factory.mktemp("nb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from seqviz.crowd import server_count\nprint('crowd:', server_count())")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(root / "crowd.ipynb"))
    port = free_port()
    env = voila_env()
    env.update(SEQVIZ_MAX_KERNELS="0")
    env.pop(C.CROWD_FILE_ENV, None)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    logpath = ROOT / "artifacts" / "class-preset-test.log"
    log = open(logpath, "w")
    proc = subprocess.Popen(serve_command(port, root=root), cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"

    def up():
        assert proc.poll() is None, f"the server exited; see {logpath}"
        try:
            return requests.get(base + "seqviz-queue/status", timeout=2).ok
        except requests.RequestException:
            return False

    assert eventually(up, 90, interval=0.3), f"the server did not answer; see {logpath}"
    yield base
    stop_process_group(proc, 20)
    log.close()


def test_a_kernel_of_the_server_reads_how_many_dashboards_are_open(server):
    sessions = [requests.Session() for _ in range(2)]
    seen = []
    for s in sessions:
        r = s.get(server + "voila/render/crowd.ipynb", timeout=120)
        assert r.status_code == 200 and r.headers.get("X-Seqviz-Admission") == "in"
        m = re.search(r"crowd: \((\d+), (\d+)\)", r.text)
        assert m, "the kernel found no count from the server"
        seen.append((int(m.group(1)), int(m.group(2))))
    open_now = requests.get(server + "seqviz-queue/status", timeout=10).json()["open"]
    assert seen[0][1] == seen[1][1] == os.cpu_count()
    assert seen[1][0] == seen[0][0] + 1 and seen[1][0] == open_now == 2  # each page counts itself


# -- the preset -----------------------------------------------------------------------------------

def test_the_class_preset_is_the_rnn_lstm_pair_on_a_smaller_problem():
    cfg, default = PRESETS[CLASS_PRESET], PRESETS[DEFAULT_PRESET]
    assert isinstance(cfg, GradFlowConfig) and list(PRESETS)[0] == DEFAULT_PRESET  # the default stays first
    assert (cfg.task, cfg.other, cfg.activation, cfg.T, cfg.hidden) == ("adding", "lstm", "tanh", 40, 16)
    assert (cfg.radius, cfg.forget_bias, cfg.clip, cfg.tbptt) == (default.radius, default.forget_bias, None, None)
    assert {k: mc.cell for k, mc in model_configs(cfg).items()} == {"rnn": "rnn", "lstm": "lstm"}
    run = build_gradflow_run(cfg, device=torch.device("cpu"))
    assert isinstance(run.models["rnn"].rnn, torch.nn.RNN) and isinstance(run.models["lstm"].rnn, torch.nn.LSTM)
    assert run.models["lstm"].rnn.hidden_size == 16 and run.setup.T == 40
    # the vanishing at init the lesson shows is there at this T: the RNN's gradient at step 0 is a
    # small fraction of the one at the last step, the LSTM's memory keeps far more of it
    with run.lock:
        p = {k: run.probe_fn(k, m) for k, m in run.models.items()}
    rnn_ratio = p["rnn"].h_norms[0] / p["rnn"].h_norms[-1]
    lstm_ratio = p["lstm"].c_norms[0] / p["lstm"].c_norms[-1]
    assert rnn_ratio < 1e-3 and lstm_ratio > 100 * rnn_ratio, (rnn_ratio, lstm_ratio)


def _crowded(monkeypatch, crowded: bool, n=30, cores=2):
    import widgets.gradient_flow as W

    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.setattr(W, "crowding", lambda: C.crowding(AUTO, server=(n, cores), load=0.0))
    return W


def test_a_crowded_machine_starts_with_the_class_preset_and_says_so(monkeypatch):
    W = _crowded(monkeypatch, True)
    d = W.dashboard()
    try:
        assert d.state.preset == CLASS_PRESET and d.run.setup.T == 40 and d.run.models["rnn"].rnn.hidden_size == 16
        assert d.run.cfg.lr == PRESETS[CLASS_PRESET].lr
        text = d.status.text
        assert ("The machine is shared: 30 dashboards are open on this machine's 2 cores, so this dashboard "
                "starts with the class preset (T = 40, H = 16)") in text
        assert "sequences of 40 steps instead of 100, with 16 hidden units instead of 32" in text
        assert "Choose another preset to change it." in text
        assert d.c["preset"].value == CLASS_PRESET and d.c["T"].value == 40  # the controls show it
        d.state.preset = DEFAULT_PRESET  # a student can still pick any preset
        assert d.run.setup.T == 100 and "Preset loaded" in d.status.text
    finally:
        d.close_worker()


def test_a_quiet_machine_explicit_settings_or_an_address_keep_the_default(monkeypatch):
    W = _crowded(monkeypatch, False)
    monkeypatch.setattr(W, "crowding", lambda: C.crowding(AUTO, server=(5, 2), load=0.0))
    assert W.class_start() is None
    W = _crowded(monkeypatch, True)
    assert W.class_start()[0] == CLASS_PRESET
    monkeypatch.setenv("QUERY_STRING", "T=60")  # the address chose: it decides
    assert W.class_start() is None
    monkeypatch.setenv("QUERY_STRING", "presenter=1")  # not a knob
    assert W.class_start()[0] == CLASS_PRESET
    monkeypatch.delenv("QUERY_STRING")
    d = W.dashboard(T=20, hidden=8)  # settings given in code: no switch
    try:
        assert d.state.preset == DEFAULT_PRESET and d.run.setup.T == 20 and d.class_note is None
        assert "class preset" not in d.status.text
    finally:
        d.close_worker()


# -- the story --------------------------------------------------------------------------------

def test_the_class_preset_tells_the_story_against_the_tasks_baseline():
    cfg = PRESETS[CLASS_PRESET]
    task = get_task(cfg.task)
    # the baseline the README states (predict 1: MSE 1/6), counted directly over sampled batches
    b = task.sample(20_000, cfg.T, torch.Generator().manual_seed(123))
    blind = float(((b.y - 1.0) ** 2).mean())
    assert task.baseline_loss(cfg.T) == pytest.approx(1 / 6) and blind == pytest.approx(1 / 6, abs=0.005)
    run = build_gradflow_run(cfg, device=torch.device("cpu"))
    solved = None
    while run.steps < 1200 and solved is None:
        run.step()
        lstm = run.history["lstm"].loss
        if len(lstm) >= 50 and sum(lstm[-50:]) / 50 < 0.01:
            solved = run.steps
    rnn = run.history["rnn"].loss
    assert solved is not None, f"the LSTM did not reach MSE < 0.01 in {run.steps} steps: {sum(lstm[-50:]) / 50:.3f}"
    rnn_now = sum(rnn[-50:]) / 50
    # the RNN: at the input-blind baseline, nowhere near even the "second number only" one (1/12)
    assert abs(rnn_now - blind) < 0.03 and rnn_now > 1 / 12 + 0.04, rnn_now
