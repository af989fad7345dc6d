"""Student HTML made inert: what feedback pages and formgrader show of markdown and outputs.

A written answer or an output is the student's HTML. Rendered as is, `<img src=x onerror=…>`
runs in the student's page and, worse, in formgrader, with the TA's Jupyter session. Every
piece of it passes through `clean_html` (nbconvert's `sanitize_html` path calls the filter of
that name; nbgrader_config.py registers this one for the feedback exporter and formgrader's):
an allowlist of text tags, links and images by safe schemes only, no event handlers, no
style, no scripts, no SVG or MathML elements. Tags outside the list are shown as text, so
the reader sees what was attempted. nbconvert's own clean_html allows no headings,
paragraphs or images: the lecture's markdown would be shown as escaped tags.
"""
from __future__ import annotations

import functools
import re

import bleach
from jinja2.utils import _PassArg
from traitlets.config import LoggingConfigurable

TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div",
        "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong",
        "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
COMMON = {"class", "id", "title", "align"}
PER_TAG = {"a": {"href"}, "img": {"src", "alt", "width", "height"},
           "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}, "ol": {"start"}}
IMAGE_DATA = re.compile(r"data:image/(png|jpe?g|gif|webp|svg\+xml)[;,]", re.I)
CACHED_CHARS = 20_000  # longer inputs are cleaned every time: the cache stays under ~40 MB


def _allowed(tag: str, name: str, value: str) -> bool:
    if name in COMMON or name in PER_TAG.get(tag, ()):
        # data: only as an image (an <img> never runs the script of an SVG it shows)
        return not value.strip().lower().startswith("data:") or (
            tag == "img" and name == "src" and IMAGE_DATA.match(value.strip()) is not None)
    return False


CLEANER = bleach.Cleaner(tags=TAGS, attributes=_allowed, protocols={"http", "https", "mailto", "data"},
                         strip=False, strip_comments=True)


def clean_html(html) -> str:
    """Student HTML with only inert tags and attributes left (the rest shown as text)."""
    html = html.decode() if isinstance(html, bytes) else str(html)
    return _cached(html) if len(html) <= CACHED_CHARS else CLEANER.clean(html)


@functools.lru_cache(maxsize=1024)  # the lecture's cells are the same on every page
def _cached(html: str) -> str:
    return CLEANER.clean(html)


class SafeMarkdown(LoggingConfigurable):
    """The exporter's own markdown2html, cleaned: formgrader's template renders markdown
    cells without nbconvert's sanitize step, so its markdown filter is replaced by this one
    (a HasTraits filter: nbconvert constructs it with the exporter as parent)."""

    jinja_pass_arg = _PassArg.context  # as @pass_context: Jinja passes the template context

    def __call__(self, context, source) -> str:
        return clean_html(self.parent.markdown2html(context, source))
