"""Voila never runs a student's model (issue 21): in every lesson with a "your own model" cell, the
Voila page shows that cell's one line (it runs in JupyterLab) instead of a second dashboard, and the
lesson's own dashboard draws as before, with no error text."""

import json
from pathlib import Path

import pytest

from tests.conftest import assert_no_error_text, eventually, open_dashboard, page_text
from widgets.kit.yours import VOILA_NOTE

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent


def own_model_lessons() -> list[str]:
    out = []
    for p in sorted((ROOT / "lessons").glob("*.ipynb")):
        cells = json.loads(p.read_text())["cells"]
        if any("your-own-model" in c.get("metadata", {}).get("tags", []) for c in cells):
            out.append(p.name)
    return out


def test_lessons_have_an_own_model_cell():
    assert own_model_lessons(), "no lesson has a cell tagged your-own-model"


@pytest.mark.parametrize("lesson", own_model_lessons())
def test_voila_shows_the_line_not_the_students_view(voila_url, page, lesson):
    open_dashboard(page, voila_url, lesson, n_plots=1, timeout_ms=120_000)
    assert eventually(lambda: VOILA_NOTE in page_text(page), 30, page=page), f"{lesson}: the note is missing"
    assert page_text(page).count(VOILA_NOTE) == 1
    assert page.locator(".seqviz-yours").count() == 0
    assert page.locator(".seqviz-dashboard").count() >= 1
    assert_no_error_text(page)
