"""The one training loop and its bounded history; probes leave the model as it was."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from seqviz.experiments import GradFlowConfig, build_gradflow_run
from seqviz.probes.context import inspecting
from seqviz.probes.gates import gate_traces
from seqviz.probes.gradients import probe_gradients
from seqviz.training import Diverged, Finished, History, train_loop


def test_history_is_bounded_keeps_the_newest_rows_and_thins_older_ones_evenly():
    h = History(cap=200, keep=50)
    for i in range(20_000):
        h.add(i + 1, float(i), 0.01, accuracy=i % 2)
    assert len(h) <= 200
    steps = h.step
    assert steps[-50:].tolist() == list(range(20_000 - 49, 20_001))  # the newest rows, every one
    gaps = np.diff(steps)
    assert np.all(np.diff(gaps) <= 0)  # coarser towards the past, never the other way
    assert gaps.max() <= 20_000 / 25  # and the old part still covers the run (no hole left behind)
    # every column stays aligned with its step
    assert np.array_equal(h.loss, steps - 1) and np.array_equal(h.accuracy, (steps - 1) % 2)
    assert h.seconds[-1] == pytest.approx(20_000 * 0.01)


def test_running_mean_matches_a_direct_window_mean():
    h = History()
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    for i, v in enumerate(x):
        h.add(i + 1, v, 0.0)
    rm = h.running_mean("loss", 20)
    for i in (0, 5, 19, 20, 150, 299):
        assert rm[i] == pytest.approx(x[max(0, i - 19): i + 1].mean())


def test_probe_history_is_bounded():
    h = History(probe_cap=10)
    for i in range(1000):
        h.add(i + 1, 0.0, 0.0, probe=i)
    assert len(h.probes) <= 10 and h.probes[-1] == 999 and h.probe_step[-1] == 1000
    assert h.probes == [s - 1 for s in h.probe_step]


def test_train_loop_reports_why_it_ended():
    stop = threading.Event()
    assert train_loop(lambda: 1, stop, max_steps=3) == "max_steps"

    def boom():
        raise Diverged("rnn")

    def done():
        raise Finished("all finished")

    assert train_loop(boom, stop) == "diverged: rnn"
    assert train_loop(done, stop) == "finished: all finished"
    stop.set()
    assert train_loop(lambda: 1, stop) == "stopped"


def test_probes_restore_mode_and_gradients_even_on_error():
    run = build_gradflow_run(GradFlowConfig(T=12, hidden=6), device="cpu")
    m = run.models["lstm"]
    m.train()
    for p in m.parameters():
        p.grad = torch.full_like(p, 7.0)
    probe_gradients(m, run.setup.task, run.setup.probe_batch)
    gate_traces(m, run.setup.probe_batch.x, [0] * 8)
    assert m.training and all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in m.parameters())
    with pytest.raises(RuntimeError):
        with inspecting(m) as ins:
            ins.add_hook(m.register_forward_hook(lambda *a: None))
            assert not m.training and all(p.grad is None for p in m.parameters())
            raise RuntimeError("inside")
    assert m.training and not m._forward_hooks
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in m.parameters())
