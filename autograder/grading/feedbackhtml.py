"""The feedback page exporter: nbconvert's HTMLExporter without its BeautifulSoup pass.

HTMLExporter re-parses every page it renders with BeautifulSoup to add alt text to images and
tabindex to cells: about half of the ~1.5 s a notebook's feedback costs. Feedback pages have
no images; the tabindex attributes are added here with two substitutions instead.
"""
from __future__ import annotations

import re

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

FOCUSABLE = re.compile(r'<div class="(jp-Cell-inputWrapper|jp-OutputArea-output)([^"]*)"')


class QuickHTMLExporter(HTMLExporter):
    def from_notebook_node(self, nb, resources=None, **kw):
        lexer = nb.metadata.get("language_info", {}).get("pygments_lexer")
        self.register_filter("highlight_code", self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer or "ipython3", parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return FOCUSABLE.sub(r'<div class="\1\2" tabindex="0"', html), resources
