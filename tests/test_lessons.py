"""Every lesson executes headless in fast mode with no error output, and stays thin."""

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
OWN_MODEL_TAG = "your-own-model"  # the cell where a student hands the dashboard their own model or data


def test_there_are_lessons():
    assert len(LESSONS) >= 2


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_is_thin_and_stripped(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") for c in code), "strip outputs before committing"
    src = "\n".join("".join(c["source"]) for c in code)
    # The lesson's own code holds no def or class; the student's model in a "your own model" cell may
    # (that cell carries the tag OWN_MODEL_TAG in its metadata, and is never the dashboard cell).
    own = "\n".join("".join(c["source"]) for c in code if OWN_MODEL_TAG not in c.get("metadata", {}).get("tags", []))
    assert "\ndef " not in "\n" + own and "\nclass " not in "\n" + own, \
        f"lessons hold no def or class, except in a cell tagged {OWN_MODEL_TAG!r} (the student's own model)"
    assert OWN_MODEL_TAG not in code[-1].get("metadata", {}).get("tags", []), "the last cell is the lesson's dashboard"
    assert 'SEQVIZ_FAST' in src, "a parameters cell must read the fast flag"
    assert "dashboard(" in "".join(code[-1]["source"]), "the dashboard is the last expression"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_executes_in_fast_mode(path, monkeypatch):
    monkeypatch.setenv("SEQVIZ_FAST", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "lessons")}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{out.get('ename')}: {out.get('evalue')}"
            assert out.get("name") != "stderr" or "Traceback" not in out.get("text", "")
    for cell in [c for c in nb.cells if c.cell_type == "code"][:-1]:  # Voila shows every result: no raw reprs
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("execute_result", "display_data"):
                assert set(out.get("data", {})) - {"text/plain"}, \
                    f"a bare repr shows in Voila: {out['data'].get('text/plain', '')[:80]!r} (print a sentence instead)"
    last = nb.cells[-1] if nb.cells[-1].cell_type == "code" else [c for c in nb.cells if c.cell_type == "code"][-1]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in last.outputs), \
        "the last code cell must show the dashboard"
