"""Does the Gradescope bundle grade a submission in a simulated /autograder tree?

`make gradescope A=...` builds the zip; it is unpacked into a temporary folder laid out like
Gradescope's /autograder (source/, submission/, results/), and its own run_autograder is run
against the reference, the untouched release, a buggy notebook and a corrupt one (the four
runs at once: each is one process grading one notebook, as on Gradescope).
"""
from __future__ import annotations

import json
import subprocess
import zipfile

import pytest

from autograder.corpus import entries
from helpers import REPO, finish_autograder, item_points, manual_items, start_autograder, total_points

pytestmark = pytest.mark.slow  # builds the bundle and runs run_autograder
A = "linear_classifiers"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / f"{A}.zip"
    proc = subprocess.run(["make", "-s", "gradescope", f"A={A}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    built = REPO / "build" / "gradescope" / f"{A}.zip"
    out.write_bytes(built.read_bytes())
    return out


def corpus_submission(name):
    entry = next(e for e in entries(A) if e.name == name)
    return lambda folder: (folder / f"{A}.ipynb").write_text(json.dumps(entry.notebook(A)))


def corrupt_submission(folder):
    (folder / f"{A}.ipynb").write_text('{"cells": [')


SUBMISSIONS = {"reference": corpus_submission("ok-reference"), "blank": corpus_submission("blank-release"),
               "bug": corpus_submission("bug-svm-naive-reg-factor"), "corrupt": corrupt_submission}


@pytest.fixture(scope="module")
def results(bundle, tmp_path_factory):
    started = {name: start_autograder(bundle, tmp_path_factory.mktemp(name), write)
               for name, write in SUBMISSIONS.items()}
    return {name: finish_autograder(run) for name, run in started.items()}


def test_bundle_has_what_gradescope_expects(bundle):
    names = zipfile.ZipFile(bundle).namelist()
    for must in ("setup.sh", "run_autograder", "requirements.txt", "autograder/gradescope/resultsjson.py",
                 f"assignment/{A}.ipynb", "assignment/gradcheck.py"):
        assert must in names
    assert not any(n.startswith("autograder/corpus/") for n in names)
    requirements = zipfile.ZipFile(bundle).read("requirements.txt").decode()
    assert "torch==2.13.0" in requirements


def test_reference_gets_every_point(results):
    results = results["reference"]
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) == total_points(A, written=False)
    assert {t["visibility"] for t in results["tests"]} == {"after_due_date"}
    assert all(t["status"] == "passed" for t in results["tests"])


def test_blank_release_gets_zero_with_messages(results):
    results = results["blank"]
    assert results["score"] == 0 and len(results["tests"]) == len(item_points(A)) - len(manual_items(A))
    assert all("not implemented" in t["output"] for t in results["tests"])


def test_a_bug_costs_its_own_test_only(results):
    results = results["bug"]
    failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
    assert failed == ["svm_loss_naive"] and results["score"] == total_points(A, written=False) - item_points(A)["svm_loss_naive"]
    assert "dW" in next(t["output"] for t in results["tests"] if t["name"] == "svm_loss_naive")


def test_a_corrupt_notebook_still_gets_a_results_file(results):
    results = results["corrupt"]
    assert results["score"] == 0 and "could not be read" in results["output"]
