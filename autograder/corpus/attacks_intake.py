"""Attacks on what the grader reads before any code runs: files, folder names, pages (issue 13).

linear_classifiers submissions whose notebook is a link, a fifo or JSON that is no notebook;
student ids that are spreadsheet formulas or glob patterns; a forged timestamp.txt; written
answers and outputs that carry scripts for the TA's browser. Graded through `make grade`
with honest students in tests/test_intake.py; the pages are loaded in a real browser in
tests/test_pages_browser.py. Each entry says its exact outcome, as in adversarial.py.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass

from .adversarial import SOURCE_NOTEBOOK, SVM_N_WRONG, cells_by_id
from .linear_classifiers import ITEMS, SVM_N
from .notebooks import Entry

A = "linear_classifiers"
WRITTEN = "written_kinks"  # a written answer (markdown), graded by hand in formgrader
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR4nGP8z8DwnwEImBigAMIAAPkqAgQ"
       "0kZ8eAAAAAElFTkSuQmCC")  # 2x2 red pixels
# Every payload, if it ever runs, sets window.pwned and the page title (tests/test_pages_browser.py).
RUN = "window.pwned=1;document.title='PWNED'"
XSS_MARKDOWN = f"""## My answer: <b>the kink</b>

HONEST-TEXT: the hinge has a kink at $m = 0$, so a central difference that straddles it
disagrees with the analytic slope.

| side | slope |
|:-----|------:|
| left | 0 |

<img src=x onerror="{RUN}">
<script>{RUN}</script>
<svg onload="{RUN}"><circle r="5"/></svg>
<a href="javascript:{RUN}">raw javascript link</a>
[markdown javascript link](javascript:{RUN.replace("'", "%27")})
<iframe src="javascript:{RUN}"></iframe>
<details open ontoggle="{RUN}"><summary>details</summary></details>
<style>body {{ background: url("javascript:{RUN}") }}</style>
<meta http-equiv="refresh" content="0;url=javascript:{RUN}">
<form action="javascript:{RUN}"><button id="honest-looking-button">submit</button></form>
<math><mtext><table><mglyph><style><img src=x onerror="{RUN}"></style></mglyph></table></mtext></math>

<img alt="honest-image" src="data:image/png;base64,{PNG}">
"""
HTML_OUTPUTS = [
    {"output_type": "display_data", "metadata": {},
     "data": {"text/html": f'<img src=x onerror="{RUN}"><script>{RUN}</script>',
              "image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{RUN}"><script>{RUN}</script></svg>',
              "application/javascript": RUN, "text/markdown": f'<img src=x onerror="{RUN}">',
              "text/plain": "HONEST-OUTPUT"}},
]


def with_xss(nb: dict) -> dict:
    """Written answer with raw HTML payloads; script-carrying outputs kept in a code cell."""
    cells = cells_by_id(nb)
    cells[WRITTEN]["source"] = XSS_MARKDOWN
    cells[f"{SVM_N}"]["outputs"] = copy.deepcopy(HTML_OUTPUTS)
    return nb


def deeply_nested_metadata(nb: dict) -> dict:
    node = nb["metadata"]
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    return nb


@dataclass
class Planted(Entry):
    """An entry whose notebook (or folder) is made with a system call: a link, a fifo."""
    plant: str = ""  # "link-to-source", "fifo", "linked-folder:<student>", "extra-link-to-source", "extra-fifo"

    def write(self, submitted, assignment):
        folder = submitted / self.name / assignment
        path = folder / f"{assignment}.ipynb"
        if self.plant.startswith("extra-"):  # an honest notebook, and beside it:
            path = Entry.write(self, submitted, assignment)
            if self.plant == "extra-link-to-source":
                os.symlink(SOURCE_NOTEBOOK, folder / "notes.txt")
            elif self.plant == "extra-fifo":
                os.mkfifo(folder / "data.bin")
            return path
        if self.plant.startswith("linked-folder:"):
            folder.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(submitted / self.plant.split(":", 1)[1] / assignment, folder)
            return path
        folder.mkdir(parents=True, exist_ok=True)
        if self.plant == "link-to-source":
            os.symlink(SOURCE_NOTEBOOK, path)
        elif self.plant == "fifo":
            os.mkfifo(path)
        return path


def _error(name: str, words: str, **kw) -> Entry:
    return Entry(name, ITEMS, status="error", item_status="error", messages={"": words}, **kw)


NOT_A_NOTEBOOK = [
    _error("intake-json-object", "not a notebook", raw=b'{"hello": "world"}'),
    _error("intake-json-list", "not a notebook", raw=b"[1, 2, 3]"),
    _error("intake-json-bad-cells", "not a valid notebook",
           raw=json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "x"}).encode()),
    _error("intake-json-deep", "nested too deeply", raw=b"[" * 100_000 + b"]" * 100_000),
    _error("intake-json-deep-metadata", "nested more than", transform=deeply_nested_metadata),
    _error("intake-json-format-1", "notebook format 1", raw=b'{"nbformat": 1, "cells": []}'),
]
FILES = [
    Planted("intake-link-to-source", ITEMS, status="error", item_status="error", plant="link-to-source",
            messages={"": "symbolic link"}, note="the notebook is a link to the source (solutions)"),
    Planted("intake-linked-folder", ITEMS, status="error", item_status="error", plant="linked-folder:ok-reference",
            messages={"": "symbolic link"}, note="the assignment folder is a link to another student's"),
    Planted("intake-fifo", ITEMS, status="error", item_status="error", plant="fifo",
            messages={"": "not a regular file"}, note="a fifo blocks whoever opens it"),
    Planted("intake-extra-link", ITEMS, status="error", item_status="error", plant="extra-link-to-source",
            messages={"": "notes.txt is a symbolic link"},
            note="notes.txt -> the source notebook: nbgrader would copy it into the released feedback"),
    Planted("intake-extra-fifo", ITEMS, status="error", item_status="error", plant="extra-fifo",
            messages={"": "data.bin is not a regular file"}, note="nbgrader's copy of the folder fails on it"),
    Entry("intake-bad-timestamp", files={"timestamp.txt": b"next tuesday, honest"},
          messages={"": "timestamp.txt was not used"}),
    Entry("intake-forged-timestamp", files={"timestamp.txt": b"2000-01-01 00:00:00.000000 UTC"},
          messages={"": "timestamp.txt was not used"}, note="claims to be 26 years early"),
]
FORGED_TIME = "2000-01-01"
NAMES = [
    Entry('=HYPERLINK("http:evil.example","open")', note="a student id that is a spreadsheet formula"),
    Entry("+1+cmd|' calc'!A0", ("svm_loss_naive",), replace={SVM_N: SVM_N_WRONG}, messages={"svm_loss_naive": "dW"}),
    Entry("@SUM(1)", note="formula by @"),
    # glob patterns: nbgrader once graded the folders these match instead of this one
    Entry("glob[ab]", ("svm_loss_naive",), replace={SVM_N: SVM_N_WRONG}, messages={"svm_loss_naive": "dW"}),
    Entry("globa", note="matched by glob[ab] and glob*"),
    Entry("glob*", note="a star in the id"),
]
XSS = [Entry("intake-xss", transform=with_xss, note="scripts in a written answer and in outputs")]
ATTACKS = NOT_A_NOTEBOOK + FILES + NAMES + XSS

for _entry in ATTACKS:
    _entry.in_process = False

