"""The given cells students run: the environment cell (Colab, packages), visible checks that do not
trust the student's earlier functions, and the computational graph that draws itself.

Cells of the release notebooks run in one namespace in a copy of their release folder, with the
reference answers (or a planted bug) in place of the answer cells.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import types
from pathlib import Path

import matplotlib
import pytest

from autograder.corpus.notebooks import answers, release_notebook
from autograder.layout import REPO, assignments

matplotlib.use("Agg")

ENV_ID = "environment"


def cells(assignment: str) -> dict[str, str]:
    return {c["id"]: "".join(c["source"]) for c in release_notebook(assignment)["cells"]}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """Run in a copy of a release folder, as a student does; restore cwd and sys.path after."""
    def make(assignment):
        dest = tmp_path / assignment
        shutil.copytree(REPO / "release" / assignment, dest)
        monkeypatch.chdir(dest)
        monkeypatch.syspath_prepend(str(dest))
        for name in ("gradcheck", "flatgrad_data"):  # the copies in this folder
            monkeypatch.delitem(sys.modules, name, raising=False)
        return dest
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return make


def run(ns: dict, *sources: str) -> str:
    """Exec cell sources in ns; return what they printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for source in sources:
            exec(compile(source, "<cell>", "exec"), ns)  # noqa: S102 (the kit's own cells)
    return out.getvalue()


# --- the environment cell ---------------------------------------------------------------------

def requirements_txt(assignment):
    lines = (REPO / "release" / assignment / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("assignment", assignments())
def test_environment_cell_is_first_and_lists_requirements_txt(assignment, folder):
    nb = release_notebook(assignment)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[0]["id"] == ENV_ID
    folder(assignment)
    ns = {}
    out = run(ns, cells(assignment)[ENV_ID])
    assert ns["REQUIREMENTS"] == requirements_txt(assignment)
    assert out.startswith("OK: ") and len(out.splitlines()) == 1


def test_environment_cell_prints_one_pip_line_for_missing_packages(folder, monkeypatch):
    import importlib.util
    folder("linear_classifiers")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tqdm", "torch") else real(name, *a))
    out = run({}, cells("linear_classifiers")[ENV_ID])
    pip = [line.strip() for line in out.splitlines() if "pip install" in line]
    assert pip == ["%pip install torch==2.13.0 tqdm==4.70.1"]
    assert out.startswith("MISSING packages")


def fake_colab(monkeypatch, drive_root: Path, on_mount=None):
    """google.colab in sys.modules (what Colab's kernel has), drive.mount recording its calls."""
    mounts = []

    def mount(path):
        mounts.append(path)
        if on_mount:
            on_mount()
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return mounts


def colab_cell(assignment, content: Path) -> str:
    """The environment cell with Colab's /content moved under a temporary folder."""
    return cells(assignment)[ENV_ID].replace('"/content', f'"{content}')


def test_colab_uses_the_uploaded_files_without_mounting(folder, monkeypatch):
    release = folder("two_layer_net")
    mounts = fake_colab(monkeypatch, release)
    out = run({}, colab_cell("two_layer_net", release.parent / "content"))
    assert mounts == [] and out.startswith("OK: ")


def test_colab_mounts_drive_and_works_in_the_drive_folder(folder, monkeypatch, tmp_path):
    release = folder("backprop_basics")
    content = tmp_path / "content"
    session = content / "session"
    session.mkdir(parents=True)
    monkeypatch.chdir(session)  # Colab starts in /content, without the files
    drive_folder = content / "drive" / "MyDrive" / "flatgrad" / "backprop_basics"
    mounts = fake_colab(monkeypatch, content, on_mount=lambda: shutil.copytree(release, drive_folder))
    out = run({}, colab_cell("backprop_basics", content))
    assert mounts == [f"{content}/drive"]
    assert Path(os.getcwd()) == drive_folder and str(drive_folder) in sys.path
    assert out.splitlines() == [f"Working in {drive_folder}", out.splitlines()[1]]
    assert out.splitlines()[1].startswith("OK: ")


def test_colab_without_the_files_says_so_in_one_line(folder, monkeypatch, tmp_path):
    folder("linear_classifiers")
    empty = tmp_path / "content"
    empty.mkdir()
    monkeypatch.chdir(empty)
    mounts = fake_colab(monkeypatch, empty)
    out = run({}, colab_cell("linear_classifiers", empty))
    assert len(mounts) == 1
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("NOT FOUND: gradcheck.py, flatgrad_data.py, digits.npz")
    assert "MyDrive/flatgrad/linear_classifiers/" in lines[0]


# --- visible checks compare with independent numerics -------------------------------------------

LC_CELLS = ("setup", "cell-4", "data_tensors", "check_helpers", "timing_helper",
            "softmax_check_helpers")


def linear_namespace(overrides: dict[str, str]) -> dict:
    """linear_classifiers: given cells up to the vectorized checks, answers with overrides."""
    source = cells("linear_classifiers")
    solved = {**answers("linear_classifiers"), **overrides}
    ns = {}
    run(ns, source["setup"], source["cell-4"].replace("DATASET = None", 'DATASET = "digits"'),
        source["data_tensors"], source["check_helpers"], source["timing_helper"],
        source["softmax_check_helpers"], *(solved[f"{name}_code"] for name in (
            "svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")))
    return ns


def replaced(gid: str, old: str, new: str, assignment="linear_classifiers") -> dict:
    text = answers(assignment)[gid]
    assert old in text
    return {gid: text.replace(old, new)}


# the L2 gradient without its factor 2, in the loop versions only
SVM_NAIVE_BUG = replaced("svm_loss_naive_code", "dW = dW / num_train + 2 * reg * W",
                         "dW = dW / num_train + reg * W")
SOFTMAX_NAIVE_BUG = replaced("softmax_loss_naive_code", "dW = dW / num_train + 2 * reg * W",
                             "dW = dW / num_train + reg * W")


@pytest.mark.parametrize("bug, cell", [(SVM_NAIVE_BUG, "svm_vec_checks"),
                                       (SOFTMAX_NAIVE_BUG, "softmax_vec_checks")])
def test_a_wrong_naive_version_never_makes_a_correct_vectorized_one_wrong(folder, bug, cell):
    folder("linear_classifiers")
    ns = linear_namespace(bug)
    out = run(ns, cells("linear_classifiers")[cell])
    assert "WRONG" not in out, out
    assert "NOT COMPARED: your" in out and "fails its own checks above" in out
    assert out.count("OK:") >= 3  # hand example, numeric derivatives, conventions


def test_the_comparison_still_runs_and_catches_a_wrong_vectorized_version(folder):
    folder("linear_classifiers")
    ns = linear_namespace({})
    out = run(ns, cells("linear_classifiers")["svm_vec_checks"])
    assert "WRONG" not in out and "NOT COMPARED" not in out
    assert "OK: loss, naive vs vectorized" in out and "faster" in out
    bug = replaced("svm_loss_vectorized_code", "+ 2 * reg * W", "+ reg * W")
    ns = linear_namespace(bug)
    out = run(ns, cells("linear_classifiers")["svm_vec_checks"])
    assert "WRONG: dW, naive vs vectorized" in out and "WRONG: dW" in out.split("naive vs")[0]


def test_the_graph_check_does_not_trust_sigmoid_circuit(folder):
    folder("backprop_basics")
    source = cells("backprop_basics")
    solved = answers("backprop_basics")
    wrong_part3 = solved["sigmoid_circuit_code"].replace("grad_w0 = grad_s0 * x0", "grad_w0 = grad_s0 * w0")
    assert wrong_part3 != solved["sigmoid_circuit_code"]
    ns = {}
    run(ns, source["setup"], source["gates"], source["graph_drawing"], wrong_part3,
        solved["ComputationalGraph_code"])
    out = run(ns, source["sigmoid_circuit_checks"])
    assert "WRONG" in out  # Part 3's own checks catch it ...
    out = run(ns, source["graph_checks"])
    assert "WRONG" not in out and out.count("OK:") == 8, out  # ... Part 8's do not blame the graph
    bad_graph = solved["ComputationalGraph_code"].replace("grads[name] = grads[name] + grad ", "grads[name] = grad ")
    run(ns, bad_graph)
    assert "WRONG: graph gradients vs numeric derivatives" not in run(ns, source["graph_checks"].split("# f = x")[0])
    assert "WRONG" in run(ns, source["graph_checks"])  # fan-out not accumulated: caught


def test_the_nn_train_check_does_not_use_nn_predict(folder):
    folder("two_layer_net")
    source = cells("two_layer_net")
    solved = answers("two_layer_net")
    ns = {}
    run(ns, source["setup"], source["helper_sample_batch"], source["helper_init_params"],
        source["check_helpers"], solved["nn_train_code"],
        "def nn_predict(params, loss_func, X):\n    return loss_func(params, X).argmax(dim=1) + 1\n")
    out = run(ns, source["train_fake_checks"])
    assert "WRONG" not in out and out.count("OK:") == 5, out  # 5: inputs unchanged (issue "unseen2")


# --- the graph draws itself --------------------------------------------------------------------

def test_a_graph_draws_the_lecture_picture(folder, tmp_path):
    import matplotlib.pyplot as plt
    folder("backprop_basics")
    source = cells("backprop_basics")
    solved = answers("backprop_basics")
    ns = {}
    run(ns, source["setup"], source["gates"], source["graph_drawing"], solved["ComputationalGraph_code"])
    graph = ns["ComputationalGraph"]([ns["AddGate"](["x", "y"], "q"), ns["MulGate"](["q", "z"], "f")])
    ax = graph.draw()  # before forward: the structure only
    assert {"x", "y", "z", "+", "×", " f"} <= {t.get_text() for t in ax.texts}
    plt.close("all")
    graph.forward({"x": -2.0, "y": 5.0, "z": -4.0})
    ax = graph.draw(graph.backward(), title="f = (x + y) z")
    texts = [(t.get_text(), t.get_color()) for t in ax.texts]
    values = {text for text, color in texts if color == "green"}
    grads = sorted(text for text, color in texts if color == "red")
    assert values == {"x = -2", "y = 5", "z = -4", "q = 3", "f = -12"}
    assert grads == sorted(["-4", "-4", "3", "-4", "1"])  # x, y, z, q, f (the lecture's numbers)
    png = tmp_path / "graph.png"
    ax.figure.savefig(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close("all")


def test_the_sigmoid_neuron_picture_and_the_notebook_cell(folder):
    import matplotlib.pyplot as plt
    folder("backprop_basics")
    source = cells("backprop_basics")
    solved = answers("backprop_basics")
    ns = {}
    run(ns, source["setup"], source["gates"], source["graph_drawing"], solved["sigmoid_circuit_code"],
        source["sigmoid_circuit_checks"], solved["ComputationalGraph_code"], source["graph_checks"],
        source["graph_pictures"])
    ax_circuit, ax_neuron = plt.gcf().axes
    assert ax_circuit.get_title() == "f = (x + y) z"
    texts = {t.get_text() for t in ax_neuron.texts}
    assert {"w0 = 2", "x0 = -1", "s3 = 1", "L = 0.731", "σ", "0.197", "-0.197", "1"} <= texts
    plt.close("all")
    # an unwritten Part 8 still draws the structure, and the grader never draws
    ns["ComputationalGraph"].forward = lambda self, inputs: (_ for _ in ()).throw(NotImplementedError())
    run(ns, source["graph_pictures"])
    assert "σ" in {t.get_text() for t in plt.gcf().axes[1].texts}
    plt.close("all")


def test_the_training_demo_says_when_the_loss_it_trains_with_is_wrong(folder):
    folder("linear_classifiers")
    source = cells("linear_classifiers")
    bug = replaced("svm_loss_vectorized_code", "+ 2 * reg * W", "+ reg * W")
    solved = answers("linear_classifiers")
    for overrides, judged in (({}, True), (bug, False)):
        ns = linear_namespace(overrides)
        run(ns, solved["sample_batch_code"], solved["train_linear_classifier_code"],
            source["setup"].replace("DEMO_ITERS = 200 if GRADING else 1500", "DEMO_ITERS = 200"))
        out = run(ns, source["train_demo"])
        assert ("OK: the loss went down" in out) == judged, out
        assert ("NOT JUDGED: this run trains with your svm_loss_vectorized" in out) == (not judged), out


def test_two_layer_prediction_and_training_checks_do_not_trust_part_2(folder):
    folder("two_layer_net")
    source = cells("two_layer_net")
    solved = answers("two_layer_net")
    wrong_part2 = solved["nn_forward_backward_code"].replace("grad_scores = ", "grad_scores = 2 * ", 1)
    assert wrong_part2 != solved["nn_forward_backward_code"]
    ns = {}
    run(ns, source["setup"].replace("DEMO_ITERS = 500 if GRADING else 1500", "DEMO_ITERS = 100"),
        source["cell-4"].replace("DATASET = None", 'DATASET = "digits"'), source["data_tensors"],
        source["helper_sample_batch"], source["helper_init_params"], source["check_helpers"],
        solved["nn_forward_pass_code"], wrong_part2, solved["nn_predict_code"], solved["nn_train_code"])
    out = run(ns, source["predict_checks"])
    assert "WRONG" not in out and out.count("OK:") == 2, out
    out = run(ns, source["train_demo"])
    assert "NOT JUDGED: this run trains with your nn_forward_backward" in out
    assert "WRONG: the loss went down" not in out


def test_part7_says_when_the_part6_functions_it_uses_are_wrong(folder):
    folder("backprop_basics")
    source = cells("backprop_basics")
    solved = answers("backprop_basics")
    given = [source["setup"], source["gates"], source["graph_drawing"], source["square_example"],
             source["two_layer_flat"]]
    ns = {}
    run(ns, *given, solved["Multiply_code"], solved["MatMul_code"], solved["ReLU_code"],
        solved["two_layer_loss_modular_code"])
    out = run(ns, source["two_layer_checks"])
    assert "NOTE" not in out and "WRONG" not in out, out
    bad_matmul = solved["MatMul_code"].replace(".t()", ".t() * 2", 1)
    assert bad_matmul != solved["MatMul_code"]
    run(ns, bad_matmul, solved["two_layer_loss_modular_code"])
    out = run(ns, source["two_layer_checks"])
    assert out.startswith("NOTE: these checks use your MatMul from Part 6"), out



# --- visible checks for the round-2 unseen students (corpus/unseen2_*.py) ------------------------

def _round2_bug(assignment, name, gid):
    """The answer-cell source of a round-2 bug (corpus/unseen2_<assignment>.py)."""
    from autograder.corpus import module
    entry = next(e for e in module(assignment).UNSEEN2 if e.name == name)
    return entry.sources(assignment)[gid]


def _checked(out, *words):
    """The OK / WRONG lines that carry one of words."""
    return [line for line in out.splitlines() if any(w in line for w in words) and line.startswith(("OK", "WRONG"))]


@pytest.mark.parametrize("solved", [True, False], ids=["reference", "bug"])
def test_round2_visible_checks_catch_their_bugs(folder, solved):
    """Each visible check added for issue "unseen2" says WRONG on its bug and OK on the reference:
    the bias row left out of the L2 term, C from the labels seen, nn_train shuffling X in place,
    the modular loss without the max shift, k clipped to num_train - 1."""
    want = "OK" if solved else "WRONG"
    folder("linear_classifiers")
    gid = "svm_loss_naive_code"
    ns = linear_namespace({} if solved else {gid: _round2_bug("linear_classifiers", "bug-svm-naive-bias-row-not-regularized", gid)})
    (line,) = _checked(run(ns, "check_conventions(svm_loss_naive)"), "svm_loss_naive")
    assert line.startswith(want) and (solved or "the bias row too" in line), line
    source, solved_lc = cells("linear_classifiers"), answers("linear_classifiers")
    gid = "train_linear_classifier_code"
    train = solved_lc[gid] if solved else _round2_bug("linear_classifiers", "bug-train-classes-from-unique-labels", gid)
    run(ns, solved_lc["sample_batch_code"], train)
    (line,) = _checked(run(ns, source["train_demo"].split("torch.manual_seed(0)\nstart")[0]), "labels 0 and 2 only")
    assert line.startswith(want), line

    folder("two_layer_net")
    source, solved_tl = cells("two_layer_net"), answers("two_layer_net")
    gid = "nn_train_code"
    ns = {}
    run(ns, source["setup"], source["helper_sample_batch"], source["helper_init_params"], source["check_helpers"],
        solved_tl[gid] if solved else _round2_bug("two_layer_net", "bug-train-shuffles-x-in-place", gid))
    (line,) = _checked(run(ns, source["train_fake_checks"]), "y_val unchanged", "changed X or y")
    assert line.startswith(want), line

    folder("backprop_basics")
    source, solved_bb = cells("backprop_basics"), answers("backprop_basics")
    gid = "two_layer_loss_modular_code"
    ns = {}
    run(ns, source["setup"], source["gates"], source["graph_drawing"], source["square_example"], source["two_layer_flat"],
        solved_bb["Multiply_code"], solved_bb["MatMul_code"], solved_bb["ReLU_code"],
        solved_bb[gid] if solved else _round2_bug("backprop_basics", "bug-modular-loss-no-max-shift", gid))
    (line,) = _checked(run(ns, source["two_layer_checks"]), "scores of ~1000")
    assert line.startswith(want), line

    folder("knn")
    source, solved_knn = cells("knn"), answers("knn")
    gid = "predict_labels_code"
    ns = {}
    verdict = 'def verdict(ok, message):\n    print(("OK: " if ok else "WRONG: ") + message)\n'  # as show_images has it
    run(ns, source["setup"], verdict, solved_knn[gid] if solved else _round2_bug("knn", "bug-predict-k-clipped-one-short", gid))
    (line,) = _checked(run(ns, source["predict_checks"]), "k=6 = num_train")
    assert line.startswith(want), line
