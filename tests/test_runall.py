"""Run All of each reference notebook with nbclient, offline, as a student would (bench.runall_bench).

Slow (about a minute for the three): it runs the release notebooks end to end in a real kernel.
No timing is asserted here; `python -m bench.runall_bench` reports the time against the
2-minute target.
"""
from __future__ import annotations

import pytest

from autograder.layout import assignments
from bench.runall_bench import run_all


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignments())
def test_reference_notebook_runs_all_cells_offline(assignment):
    result = run_all(assignment)
    assert result.errors == [], result.errors
    assert result.wrong == [], result.wrong
    assert result.first_output.startswith("OK: "), result.first_output  # the environment cell
    assert not [line for line in result.stderr if "IProgress" in line or "Traceback" in line], result.stderr
    if assignment != "backprop_basics":  # the failed download: one line, then the digits
        assert len(result.notes) == 1 and result.notes[0].startswith("NOTE: Could not download CIFAR-10")
