"""CheckCellMetadata's validator: nbgrader's rules, each passing cell remembered, never a failing one."""
from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3, ValidationError

from autograder.grading.checkmetadata import FastMetadataValidator
from autograder.layout import SOURCE


@pytest.mark.parametrize("break_it", ["drop points", "drop grade_id", "markdown grade without solution",
                                      "duplicate grade_id"])
def test_a_broken_cell_fails_after_intact_copies_passed(break_it):
    nb = nbformat.read(SOURCE / "two_layer_net" / "two_layer_net.ipynb", as_version=4)
    FastMetadataValidator().validate_nb(nb)
    FastMetadataValidator().validate_nb(nb)  # the second time from what it remembers
    bad = copy.deepcopy(nb)
    graded = [c for c in bad.cells if c.metadata.get("nbgrader", {}).get("grade")]
    meta = graded[0].metadata.nbgrader
    if break_it == "drop points":
        del meta["points"]
    elif break_it == "drop grade_id":
        del meta["grade_id"]
    elif break_it == "markdown grade without solution":
        graded[0].cell_type, meta["solution"] = "markdown", False
    else:
        meta["grade_id"] = graded[1].metadata.nbgrader["grade_id"]
    with pytest.raises(ValidationError):
        MetadataValidatorV3().validate_nb(bad)  # nbgrader's own verdict
    with pytest.raises(ValidationError):
        FastMetadataValidator().validate_nb(bad)
