"""docs/architecture.md's "how to add a dashboard" example is real code: write its four files
into a package, build the dashboard, and use it as a person would."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import wait_for

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


@pytest.fixture
def echo(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n# (echo/[\w_]+\.py)\n(.*?)```", DOC.read_text(), re.S)
    assert sorted(name for name, _ in blocks) == ["echo/__init__.py", "echo/panels.py", "echo/state.py",
                                                  "echo/view.py"]
    for name, code in blocks:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("echo", None)
    mod = importlib.import_module("echo")
    yield mod
    for k in [k for k in sys.modules if k == "echo" or k.startswith("echo.")]:
        sys.modules.pop(k)


def test_the_guide_s_dashboard_trains_scrubs_and_checks_its_input(echo):
    d = echo.dashboard(delay=5)
    try:
        assert "repeat its input 5 steps later" in d.status.text
        d.buttons["train"].click()
        assert d.worker.running and d.buttons["pause"].disabled is False and d.buttons["train"].disabled
        assert wait_for(lambda: d.run.steps >= 25, 60)
        d.buttons["train"].click()  # a second press while training does not pause
        assert d.worker.running and "Already training" in d.status.text
        d.buttons["pause"].click()
        assert not d.worker.running and d.status.text.startswith("Paused")
        h = d.run.history["lstm"]
        shown = d.pane.snapshot()["data"][0]
        # the curve is the running mean of the recorded losses, computed here directly
        loss = h.loss
        direct = [loss[max(0, i - 19): i + 1].mean() for i in range(len(loss))]
        np.testing.assert_allclose(shown["y"], direct, rtol=1e-9)
        # scrub back: the curve stops at the snapshot's step
        d.timeline.slider.value = 1
        step = d.timeline.selected()[0]
        assert max(d.pane.snapshot()["data"][0]["x"]) == step
        # bad input: one sentence, the value used is shown, nothing lost
        d.controls["delay"].value = 20
        d.state.delay = float("nan")  # in code, as a lesson cell might
        assert d.state.delay == 20 and "Delay d must be a finite number" in d.status.text
        d.controls["lr"].value = float("nan")  # from the browser: the slider takes NaN, the state does not
        assert d.state.lr == 1e-2 and d.controls["lr"].value == 1e-2
        assert "Learning rate must be a finite number; using 0.01" in d.status.text
        d.controls["lr"].value = 0.02  # a clean value: the sentence about the earlier one goes
        assert "Learning rate must" not in d.status.text and d.run.cfg.lr == 0.02
        # the rebuilt task: the target really is the input 20 steps late
        x, y = d.run.batch_fn(torch.Generator().manual_seed(0))
        assert torch.equal(y[:, 20:], x[:, :20]) and torch.equal(y[:, :20], torch.zeros(32, 20, 1))
    finally:
        d.close_worker()
