"""The landing page lists every lesson with one line on what it teaches."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "share/jupyter/voila/templates/seqviz/tree.html"


def test_every_lesson_has_a_title_and_a_line():
    about = dict((m[0], (m[1], m[2])) for m in re.findall(r'"([^"]+\.ipynb)":\s*\("([^"]+)",\s*"([^"]+)"\)',
                                                            TREE.read_text()))
    lessons = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb"))
    missing = [n for n in lessons if n not in about]
    assert not missing, f"add these to the landing page in {TREE.relative_to(ROOT)}: {missing}"
    stale = [n for n in about if n not in lessons]
    assert not stale, f"the landing page lists lessons that do not exist: {stale}"


@pytest.mark.browser
def test_landing_page_served_by_voila(voila_url, page):
    page.goto(voila_url)
    page.wait_for_selector("#seqviz-landing")
    items = page.locator("li.seqviz-dashboard")
    lessons = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb"))
    assert items.count() == len(lessons)
    for i in range(items.count()):
        text = items.nth(i).inner_text()
        assert len(text.splitlines()) >= 3 and all(line.strip() for line in text.splitlines()[:3])
    assert page.external == []
    from tests.conftest import screenshot

    screenshot(page, "landing")
