"""The feedback exporter: the page nbconvert's HTMLExporter renders, also when its caches answer."""
from __future__ import annotations

import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config

from autograder.layout import SOURCE
from autograder.grading.feedbackhtml import TEMPLATES, QuickHTMLExporter, _highlighted, _markdown

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def text(html: str) -> str:
    return UUID.sub("<uuid>", BeautifulSoup(html, "html.parser").get_text())


def kit_html_exporter() -> HTMLExporter:
    """nbconvert's exporter with the kit's sanitizing settings (nbgrader_config.py)."""
    config = Config()
    config.HTMLExporter.sanitize_html = True
    config.HTMLExporter.filters = {"clean_html": "autograder.grading.safehtml.clean_html",
                                   "markdown2html": "autograder.grading.safehtml.SafeMarkdown"}
    return HTMLExporter(config=config)


@pytest.mark.slow
def test_quick_exporter_renders_the_page_htmlexporter_renders():
    nb = nbformat.read(SOURCE / "linear_classifiers" / "linear_classifiers.ipynb", as_version=4)
    plain, _ = kit_html_exporter().from_notebook_node(nb)
    _highlighted.cache_clear()
    _markdown.cache_clear()
    TEMPLATES.store.clear()
    first, _ = QuickHTMLExporter().from_notebook_node(nb)  # caches empty: compiled, highlighted
    assert TEMPLATES.store
    second, _ = QuickHTMLExporter().from_notebook_node(nb)  # a new exporter, as nbgrader makes per page
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    assert _highlighted.cache_info().hits >= code_cells  # every cell's highlighting reused
    assert _markdown.cache_info().hits >= sum(c.cell_type == "markdown" for c in nb.cells)
    assert UUID.sub("", second) == UUID.sub("", first)  # the caches change nothing
    assert text(first) == text(plain)  # what nbconvert's exporter shows, without its BeautifulSoup pass
    assert first.count('highlight hl-') == plain.count('highlight hl-')
    assert 'tabindex="0"' in first
