"""The knn assignment's checks: tolerances that scale, memory in the clean room, ties, folds,
the best k and the digits accuracy. (Every corpus entry is judged by tests/test_checks.py.)"""
from __future__ import annotations

import re

import pytest
import torch

from autograder.checks import given as given_cells
from autograder.checks import items
from autograder.checks.knn import MEMORY_CAP_MB, TOL_UNITS, distance_cases
from autograder.checks.knn_voting import DIGITS_ACCURACY, best_k
from autograder.checks.knn_reference import (ReferenceKnn, ambiguous, digits_accuracy, digits_cross_validation,
                                             expected_folds, reference_distances, reference_predict_labels)
from autograder.cleanroom.runner import grade_notebook
from autograder.cleanroom.session import Limits
from autograder.corpus import entries
from autograder.corpus.notebooks import answers, functions, read
from autograder.grading.cleanroomgrade import CleanRoomGrade
from autograder.kernel import check
from autograder.layout import REPO, SOURCE

A = "knn"


def entry(name):
    return next(e for e in entries(A) if e.name == name)


def solved(name="ok-reference"):
    return functions(entry(name).notebook(A))


def test_corpus_is_big_enough():
    """At least 12 realistic bugs and 4 correct variants besides the reference."""
    names = [e.name for e in entries(A)]
    assert len([n for n in names if n.startswith("bug-")]) >= 12
    assert len([n for n in names if n.startswith("ok-") and n != "ok-reference"]) >= 4


def test_correct_float32_expansion_cancels_but_stays_within_the_scaled_tolerance():
    """At pixel scale float32 expansion leaves round-off where the answer is 0, far below the
    tolerance (which scales with ||p||^2 + ||q||^2), while an absolute 1e-3 would fail it."""
    gen = torch.Generator().manual_seed(0)
    p = torch.randint(0, 256, (40, 3072), generator=gen).float()
    got = reference_distances(p, p).double()
    scale = (p.double() ** 2).sum(1)[:, None] + (p.double() ** 2).sum(1)[None, :]
    exact = ((p.double()[:, None] - p.double()[None]) ** 2).sum(-1)
    units = ((got - exact).abs() / (torch.finfo(torch.float32).eps * scale)).max().item()
    assert got.diagonal().abs().max() > 1e-3  # cancellation is real
    assert units < TOL_UNITS / 4, units


def test_square_rooted_distances_fail_saying_squared():
    for name, item in (("bug-two-loops-sqrt", "compute_distances_two_loops"),
                       ("bug-no-loops-sqrt", "compute_distances_no_loops")):
        verdict = check(A, item, solved(name)[item])
        assert verdict.status == "failed" and "SQUARED" in verdict.message, verdict.message


def test_a_nan_from_sqrt_of_round_off_is_called_a_square_root():
    def compute_distances_no_loops(x_train, x_test):
        p, q = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
        return ((p * p).sum(1)[:, None] + (q * q).sum(1)[None] - 2 * p @ q.T).sqrt()
    verdict = check(A, "compute_distances_no_loops", compute_distances_no_loops)
    assert verdict.status == "failed" and "SQUARED" in verdict.message, verdict.message


def test_library_distances_and_loops_cost_their_items():
    def compute_distances_one_loop(x_train, x_test):
        return torch.cdist(x_train.flatten(1), x_test.flatten(1)) ** 2
    verdict = check(A, "compute_distances_one_loop", compute_distances_one_loop)
    assert verdict.status == "failed" and "torch.cdist" in verdict.message
    def compute_distances_two_loops(x_train, x_test):  # noqa: E306 (the second variant, right after the first's assert)
        p, q = x_train.flatten(1), x_test.flatten(1)
        return torch.stack([(p - q[j]).norm(dim=1) ** 2 for j in range(len(q))], 1)
    verdict = check(A, "compute_distances_two_loops", compute_distances_two_loops)
    assert verdict.status == "failed" and "norm" in verdict.message


def test_memory_case_exceeds_the_sandbox_cap_while_the_expansion_fits():
    """The cap the case is sized for is the clean room's; a broadcast would need more, the
    expansion's largest tensor a few MB."""
    assert MEMORY_CAP_MB == CleanRoomGrade().memory_limit_mb == Limits().memory_mb
    assert re.search(rf"^c.CleanRoomGrade.memory_limit_mb = {MEMORY_CAP_MB}$", (REPO / "nbgrader_config.py").read_text(), re.M)
    case = next(c for c in distance_cases(no_loops=True) if c.extra.get("big"))
    p, q = case.args
    assert p.shape[0] * q.shape[0] * p.shape[1] * 4 > MEMORY_CAP_MB * 2 ** 20
    assert p.shape[0] * q.shape[0] * 4 < 16 * 2 ** 20
    assert "(num_train, num_test, D)" in case.label and "expansion" in case.label


def test_broadcast_no_loops_fails_in_the_clean_room_saying_why(zygote):
    """Through the real clean room (memory capped): the broadcast loses its item with a message
    that names the (num_train, num_test, D) tensor and the expansion; everything else passes."""
    nb = read(SOURCE / A / f"{A}.ipynb")
    given = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
             if c["metadata"].get("nbgrader", {}).get("grade_id") in given_cells(A)}
    files = {p.name: p.read_bytes() for p in (SOURCE / A).iterdir() if p.suffix == ".py"}
    bug = entry("bug-no-loops-broadcast")
    sources = answers(A)
    for gid, old, new in bug.edits:
        sources[gid] = sources[gid].replace(old, new)
    verdicts = grade_notebook(A, sources, given, files, zygote(), None).verdicts  # the session's (conftest)
    memory = verdicts["compute_distances_no_loops"]
    assert memory.status == "error" and "(num_train, num_test, D)" in memory.message, memory
    assert "expansion" in memory.message
    assert all(v.ok for k, v in verdicts.items() if k != "compute_distances_no_loops"), verdicts


def test_torch_mode_breaks_ties_to_the_smallest_value_on_this_cpu():
    """Undocumented, so the grader tests voting ties; on the CPU torch.mode gives the smallest."""
    labels = torch.tensor([[3, 4, 9], [1, 2, 9], [3, 4, 0], [1, 2, 0]])
    assert torch.mode(labels, dim=0).values.tolist() == [1, 2, 0]
    assert check(A, "predict_labels", solved("ok-torch-mode-voting")["predict_labels"]).ok


def test_reference_vote_breaks_ties_to_the_smallest_label_and_lets_all_vote_past_num_train():
    dists = torch.tensor([[0.1, 9.0], [0.2, 8.0], [0.3, 0.5], [0.4, 7.0], [0.5, 0.6]], dtype=torch.float64)
    y = torch.tensor([3, 1, 3, 1, 0])
    assert reference_predict_labels(dists, y, 2).tolist() == [1, 0]
    assert reference_predict_labels(dists, y, 9).tolist() == [1, 1]


def test_folds_are_torch_chunks_uneven_and_never_tested_on_themselves():
    """Distinct labels on a line: any fold tested on a classifier that saw it would score > 0."""
    x = torch.arange(23, dtype=torch.float64)[:, None]
    folds = expected_folds(x, torch.arange(23), 5, [1])
    assert folds == {1: [0.0] * 5}
    assert [len(c) for c in torch.chunk(x, 5)] == [5, 5, 5, 5, 3]


def test_distance_ties_at_the_k_boundary_are_not_judged():
    dists = torch.tensor([[1.0, 1.0], [2.0, 3.0], [2.0, 4.0]], dtype=torch.float64)
    assert ambiguous(dists, 1).tolist() == [False, False] and ambiguous(dists, 2).tolist() == [True, False]


def test_best_k_is_the_smallest_among_exact_ties_whatever_the_key_order():
    assert best_k({10: [50.0, 60.0], 3: [60.0, 50.0], 5: [40.0, 40.0]}) == 3
    assert best_k({20: [12.5, 25.0], 8: [87.5, 62.5, 75.0], 1: [75.0, 75.0, 75.0]}) == 1


def test_best_k_of_the_digits_reaches_97_percent_on_the_test_split(capsys):
    k = best_k(digits_cross_validation())
    accuracy = digits_accuracy(k)
    with capsys.disabled():
        print(f"\nknn: best k on the digits {k}, test accuracy {accuracy:.2f}%")
    assert accuracy >= DIGITS_ACCURACY


def test_classifier_item_passes_k_through_and_reports_percent():
    ns = solved()
    assert check(A, "KnnClassifier", ns["KnnClassifier"]).ok
    classifier = ReferenceKnn(torch.eye(3, dtype=torch.float64), torch.tensor([0, 1, 1]))
    assert classifier.check_accuracy(torch.eye(3, dtype=torch.float64), torch.tensor([0, 1, 0])) == pytest.approx(200 / 3)


def test_every_item_has_a_grade_cell_with_its_points_in_the_notebook():
    nb = read(SOURCE / A / f"{A}.ipynb")
    grade_cells = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"] for c in nb["cells"]
                   if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade")}
    assert set(grade_cells) == set(items(A))
    for item, points in grade_cells.items():
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == item)
        assert f"`{item}` ({points} points)" in "".join(cell["source"])


@pytest.mark.slow
def test_gradescope_bundle_grades_the_reference_to_full_marks_and_a_bug_on_its_own_test(tmp_path):
    """`make gradescope A=knn` builds; its run_autograder gives the reference every auto-graded
    point (18: the written answer is graded by hand) and a voting bug loses predict_labels only."""
    import json
    import subprocess
    import zipfile
    from helpers import finish_autograder, start_autograder, total_points
    proc = subprocess.run(["make", "-s", "gradescope", f"A={A}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    bundle = tmp_path / "knn.zip"
    bundle.write_bytes((REPO / "build" / "gradescope" / f"{A}.zip").read_bytes())
    assert "autograder/checks/knn_reference.py" in zipfile.ZipFile(bundle).namelist()
    write = lambda name: lambda folder: (folder / f"{A}.ipynb").write_text(json.dumps(entry(name).notebook(A)))  # noqa: E731 (one submission writer per corpus entry)
    ok, bug = [start_autograder(bundle, tmp_path / name, write(name))  # both at once: one notebook each
               for name in ("ok-reference", "bug-predict-ties-to-largest")]
    results = finish_autograder(ok)
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) == total_points(A, written=False)
    results = finish_autograder(bug)
    assert [t["name"] for t in results["tests"] if t["status"] == "failed"] == ["predict_labels"]
    assert results["score"] == total_points(A, written=False) - 2.0  # predict_labels' points


def test_einsum_sums_in_float32_stay_inside_the_tolerance_a_wrong_expansion_does_not():
    """einsum("id,id->i") accumulates in order: at pixel scale, D = 3072, it is off by ~150 units
    of eps * (||p||^2 + ||q||^2), where torch's sums stay < 1; tol_units(D) admits it, while a
    missing factor 2 is off by a share of the scale itself."""
    from autograder.checks.knn import tol_units
    gen = torch.Generator().manual_seed(1)
    p = torch.randint(0, 256, (20, 3072), generator=gen).float()
    q = torch.randint(0, 256, (6, 3072), generator=gen).float()
    P, Q = p.double(), q.double()
    exact = ((P[:, None] - Q[None]) ** 2).sum(-1)
    unit = torch.finfo(torch.float32).eps * ((P * P).sum(1)[:, None] + (Q * Q).sum(1)[None])
    einsum = (torch.einsum("id,id->i", p, p)[:, None] + torch.einsum("jd,jd->j", q, q)[None]
              - 2 * torch.einsum("id,jd->ij", p, q))
    off = ((einsum.double() - exact).abs() / unit).max().item()
    assert TOL_UNITS < off < tol_units(3072) / 2, off
    half_cross = (P * P).sum(1)[:, None] + (Q * Q).sum(1)[None] - P @ Q.T
    assert ((half_cross - exact).abs() / unit).min().item() > 100 * tol_units(3072)


def test_votes_with_duplicates_at_the_kth_distance_accept_any_k_of_them_never_more():
    from autograder.checks.knn_reference import possible_votes
    d = torch.tensor([0.5, 1.0, 1.0, 3.0], dtype=torch.float64)
    assert possible_votes(d, torch.tensor([5, 7, 7, 1]), 2) == {5}  # all three voting would give 7
    assert possible_votes(d, torch.tensor([5, 2, 4, 1]), 2) == {2, 4}  # 5 and 2, or 5 and 4: a tie either way
    assert possible_votes(d, torch.tensor([5, 2, 4, 1]), 3) == {2}  # no tie at the boundary: one answer
    assert possible_votes(d, torch.tensor([5, 7, 7, 1]), 9) == {7}  # k > num_train: all vote


def test_best_k_of_a_true_tie_whose_float_sums_differ_accepts_the_rounding_winner_too():
    """The same fold accuracies in another order: exactly tied, but summed in order the later k
    comes out 1.4e-14 higher (and in float32 too); an exact tie of representable sums stays strict."""
    from autograder.checks.knn_voting import THIRD, best_k_answers
    tie = {1: [THIRD * 2, 0.0, THIRD * 2, THIRD * 2, 100.0], 5: [THIRD * 2, 100.0, THIRD * 2, 0.0, THIRD * 2]}
    assert sum(tie[5]) / 5 > sum(tie[1]) / 5
    assert best_k(tie) == 1 and best_k_answers(tie) == {1, 5}
    assert best_k_answers({10: [50.0, 60.0], 3: [60.0, 50.0], 5: [40.0, 40.0]}) == {3}
    assert best_k_answers({1: [76.0, 76.8], 3: [76.1, 76.8]}) == {3}


def test_accuracy_in_float32_percent_is_accepted_a_fraction_is_not():
    """(y_pred == y_test).float().mean() * 100 is 66.66666865 for 2 of 3: 2e-6 off, and right."""
    from autograder.calls import Outcome
    from autograder.checks.item import Case
    from autograder.checks.knn_voting import judge_classifier
    x, y = torch.eye(3, dtype=torch.float64), torch.tensor([0, 1, 1])
    case = Case("three points", ("x_train", "y_train", "x_test", "y_test", "k"), (x, y, x, torch.tensor([0, 1, 0]), 1))
    y_pred = ReferenceKnn(x, y).predict(x)
    float32 = torch.tensor(2 / 3, dtype=torch.float32).item() * 100
    assert abs(float32 - 200 / 3) > 1e-6
    assert judge_classifier(case, Outcome(value=(y_pred, float32))) is None
    assert "fraction" in judge_classifier(case, Outcome(value=(y_pred, 2 / 3)))
