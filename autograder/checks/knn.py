"""Checks for assignments/knn: flattening without copies, squared distances three ways,
voting, the classifier, cross-validation with torch.chunk's folds, the best k.

Distances are judged against the grader's float64 squared distances with a tolerance that
scales with ||p||^2 + ||q||^2: the expansion ||p||^2 + ||q||^2 - 2 p.q cancels, and correct
float32 code is off by units at pixel scale where the distance is 0.
"""
from __future__ import annotations

import ast
import functools

import torch

from .adapters import classifier_adapter, layout_adapter
from .item import Case, Item
from .knn_reference import ReferenceKnn, reference_distances, reference_flatten, reference_predict_labels
from .knn_voting import (best_k_cases, classifier_cases, cross_validate_cases, judge_best_k,
                         judge_classifier, judge_cross_validate, judge_predict, predict_cases)
from .outputs import _float32_note, tensor_problem
from .rules import NO_HIDDEN_CALLS, NO_LOOPS, NO_TORCH_NN, Rule
from .samples import devices

SEED = 498
TOL_UNITS = 16  # tolerance in units of eps * (||p||^2 + ||q||^2); correct float32 code stays < 1
MEMORY_CAP_MB = 2048  # the clean room's cap (nbgrader_config.py: CleanRoomGrade.memory_limit_mb)
MEMORY_SHAPE = (1000, 1000, 640)  # (num_train, num_test, D): a float32 broadcast needs 2.56 GB > 2 GiB


def tol_units(D: int) -> float:
    """Units of eps * (||p||^2 + ||q||^2) a correct sum over D pixels may be off: torch's sums
    stay < 1, but einsum("id,id->i") accumulates in order and reached 152 at D = 3072 (the
    bound of any order is D). Real bugs are off by a share of the scale, not by eps."""
    return max(TOL_UNITS, D / 4)


def exact_distances(x_train, x_test) -> torch.Tensor:
    """float64 squared distances on the CPU, from differences (no cancellation), in blocks."""
    p = x_train.reshape(x_train.shape[0], -1).to("cpu", torch.float64)
    q = x_test.reshape(x_test.shape[0], -1).to("cpu", torch.float64)
    return torch.cat([((p[:, None, :] - q[None, j:j + 64, :]) ** 2).sum(-1) for j in range(0, q.shape[0], 64)], 1)


# --- flatten_images: .view vs .reshape, by behaviour ------------------------------------

def flatten_cases() -> list:
    gen = torch.Generator().manual_seed(SEED)
    images = torch.randn(6, 3, 4, 5, dtype=torch.float64, generator=gen)
    return [Case("contiguous images (6, 3, 4, 5)", ("x", "layout"), (images, "contiguous")),
            Case("already flat rows (6, 60)", ("x", "layout"), (images.reshape(6, 60), "contiguous")),
            Case("transposed images x.transpose(2, 3) (not contiguous: no view can flatten it)",
                 ("x", "layout"), (images, "transposed")),
            Case("every other image x[::2] (not contiguous, yet each row can be flattened without a copy)",
                 ("x", "layout"), (images.float(), "every_other"))]


def judge_flatten(case: Case, outcome) -> str | None:
    x, layout = case.args
    view = {"contiguous": x, "transposed": x.transpose(-2, -1), "every_other": x[::2]}[layout]
    expected = view.reshape(view.shape[0], -1)
    if not (isinstance(outcome.value, (tuple, list)) and len(outcome.value) == 2):
        return "the grader could not call it"
    value, shares = outcome.value
    if problem := tensor_problem("the result", value, expected):
        return problem
    if not torch.equal(value, expected):
        return ("the rows are not the images flattened in order: row i must be x[i] flattened "
                "(what x.reshape(N, -1) gives); a transpose or permute before flattening changes the order")
    can_view = layout != "transposed"
    if can_view and not shares:
        return ("the result is a copy, but this x can be flattened without one: return a view "
                "(.view or .reshape; .contiguous() and .clone() copy)")
    return None


# --- the three distance functions ---------------------------------------------------------

def pixels(n: int, shape: tuple, gen) -> torch.Tensor:
    return torch.randint(0, 256, (n, *shape), generator=gen).to(torch.float64)


def distance_cases(no_loops: bool) -> list:
    gen = torch.Generator().manual_seed(SEED)
    names = ("x_train", "x_test")
    images = torch.randn(13, 3, 4, 5, dtype=torch.float64, generator=gen)
    tests = torch.randn(7, 3, 4, 5, dtype=torch.float64, generator=gen)
    tests[2] = images[5]  # a duplicate: distance exactly 0
    flat_train, flat_test = pixels(20, (3072,), gen), pixels(6, (3072,), gen)
    flat_test[0] = flat_test[4] = flat_train[3]  # duplicates at pixel scale: the expansion cancels
    shifted = torch.randn(9, 16, dtype=torch.float64, generator=gen) + 50.0
    specs = [("image-shaped inputs (13, 3, 4, 5) and (7, 3, 4, 5), float64, one duplicate point",
              images, tests),
             ("flat float32 pixels 0..255, (20, 3072) and (6, 3072), test points 0 and 4 equal to "
              "training point 3", flat_train.float(), flat_test.float()),
             ("image-shaped float32 inputs (13, 3, 4, 5) and (7, 3, 4, 5)", images.float(), tests.float()),
             ("a single training and a single test point, flat (1, 16)", shifted[:1], shifted[1:2]),
             ("nine training points far from 0 and one test point, flat (9, 16) and (1, 16)",
              shifted, shifted[4:5] + 0.5)]
    specs += [(f"float32 inputs on {d}", images.float().to(d), tests.float().to(d)) for d in devices()[1:]]
    cases = [Case(label, names, (p, q)) for label, p, q in specs]
    if no_loops:
        cases.append(memory_case())
    return cases


@functools.lru_cache(maxsize=1)
def memory_inputs() -> tuple:
    """(x_train, x_test, expected, scale) of the memory case: the same for every student, so the
    grader's float64 answer is computed once per process."""
    gen = torch.Generator().manual_seed(SEED + 2)
    p = torch.rand(MEMORY_SHAPE[0], MEMORY_SHAPE[2], generator=gen, dtype=torch.float64).float()
    q = torch.rand(MEMORY_SHAPE[1], MEMORY_SHAPE[2], generator=gen, dtype=torch.float64).float()
    p64, q64 = p.double(), q.double()
    scale = (p64 * p64).sum(1)[:, None] + (q64 * q64).sum(1)[None, :]
    return p, q, reference_distances(p64, q64), scale


def memory_case() -> Case:
    """Sized so that a (num_train, num_test, D) broadcast exceeds the clean room's memory cap,
    while the expansion's largest tensor, (num_train, num_test), takes a few MB."""
    num_train, num_test, D = MEMORY_SHAPE
    gb = num_train * num_test * D * 4 / 1e9
    p, q, _, _ = memory_inputs()
    label = (f"{num_train} training and {num_test} test points of D = {D}, float32 (a (num_train, num_test, D) "
             f"tensor of these would take {gb:.1f} GB, over the grader's {MEMORY_CAP_MB // 1024} GiB memory limit: "
             "use the expansion ||p||^2 + ||q||^2 - 2 p.q, whose largest tensor is (num_train, num_test))")
    return Case(label, ("x_train", "x_test"), (p.clone(), q.clone()), {"big": True})


def judge_distances(case: Case, outcome) -> str | None:
    x_train, x_test = case.args
    num_train, num_test = x_train.shape[0], x_test.shape[0]
    value = outcome.value
    like = torch.empty(num_train, num_test, dtype=x_train.dtype, device=x_train.device)
    if torch.is_tensor(value) and num_train != num_test and tuple(value.shape) == (num_test, num_train):
        return (f"dists has shape {tuple(value.shape)} = (num_test, num_train); the course's orientation is "
                f"(num_train, num_test) = {(num_train, num_test)}: dists[i, j] compares training point i "
                "with test point j")
    if not torch.is_tensor(value) or tuple(value.shape) != tuple(like.shape):
        return tensor_problem("dists", value, like)
    if case.extra.get("big"):
        expected, scale = memory_inputs()[2:]
    else:
        p = x_train.reshape(num_train, -1).to("cpu", torch.float64)
        q = x_test.reshape(num_test, -1).to("cpu", torch.float64)
        expected, scale = exact_distances(p, q), (p * p).sum(1)[:, None] + (q * q).sum(1)[None, :]
    got = value.detach().to("cpu", torch.float64)
    units = tol_units(x_train[0].numel())
    tol = units * torch.finfo(x_train.dtype).eps * scale + 1e-300
    nan = torch.isnan(got)
    square_rooted = bool(((got * got - expected).abs() <= TOL_UNITS * 1.2e-7 * scale + 1e-12)[~nan].all()
                         and (nan <= (expected <= tol)).all() and (expected > 1).any())
    if square_rooted:
        return ("dists holds the square roots of the distances: the course's distances are SQUARED "
                "(dists[i, j] = sum of (p - q)^2, no sqrt; the square root does not change which points "
                "are nearest, and of the expansion's round-off near 0 it gives NaN)"
                + (f" ({int(nan.sum())} NaN entries)" if nan.any() else ""))
    if problem := tensor_problem("dists", value, like):
        return problem
    error = (got - expected).abs()
    if (error <= tol).all():
        return None
    loose = units * torch.finfo(torch.float32).eps * scale
    if x_train.dtype == torch.float64 and (error <= loose).all():
        _float32_note("dists", (error / scale.clamp_min(1e-300)).max().item())
        return None
    if num_train == num_test and ((got.T - expected).abs() <= tol).all():
        return "dists is transposed: dists[i, j] must compare training point i with test point j"
    i, j = divmod(int((error / tol).argmax()), num_test)
    return (f"{int((error > tol).sum())} of {error.numel()} entries are wrong; worst: dists[{i}, {j}] = "
            f"{got[i, j].item():.6g}, expected {expected[i, j].item():.6g} (the squared distance between "
            f"training point {i} and test point {j}; tolerance {tol[i, j].item():.2g}, which scales with "
            "||p||^2 + ||q||^2)")


# kNN's own rule, stated in its notebook only (checks.rules.statement puts it after the shared ones)
NO_LIBRARY_DISTANCES = Rule(
    "no_library_distances", "no library distances", "`torch.cdist`, `torch.norm`, `x.norm()`, "
    "`torch.linalg.norm` / `vector_norm`, `torch.dist`, `F.pairwise_distance`",
    "the notebook asks you to compute the distances yourself",
    names=("torch.cdist", "torch.norm", "torch.dist", "torch.linalg.norm", "torch.linalg.vector_norm",
           "torch.linalg.matrix_norm", "torch.pairwise_distance", "torch.cosine_similarity"),
    parts=("cdist", "norm", "vector_norm", "matrix_norm", "dist", "pairwise_distance", "cosine_similarity"))
DISTANCE_RULES = (NO_LIBRARY_DISTANCES, NO_TORCH_NN, NO_HIDDEN_CALLS)


def loop_depth(source: str) -> int:
    """How deeply Python loops nest in source (for / while, and each for of a comprehension)."""
    def depth(node) -> int:
        inner = max((depth(child) for child in ast.iter_child_nodes(node)), default=0)
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return 1 + inner
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return len(node.generators) + inner
        return inner
    try:
        return depth(ast.parse(source))
    except SyntaxError:
        return 0


def is_stub(source: str) -> bool:
    """The release's stub: the body (after the docstring) starts by raising NotImplementedError."""
    try:
        body = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)).body
    except (SyntaxError, StopIteration):
        return False
    body = body[1:] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body
    return bool(body) and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0])


def loop_structure(name: str, loops: int):
    """The docstring's loop structure: two_loops nests two loops (training points, then test
    points), one_loop has a single loop; the speed comparison of the three needs them."""
    def problem(source: str) -> str | None:
        if is_stub(source):
            return None  # not written yet: the run says so
        got = loop_depth(source)
        if loops == 2 and got < 2:
            return (f"{name} should loop over the training points and, inside, over the test points "
                    f"(two nested Python loops, one distance per inner step); it has {('no', 'one')[got]} loop level "
                    "(the version without loops is compute_distances_no_loops)")
        if loops == 1 and got != 1:
            return (f"{name} should use a single Python loop (over the training or the test points) with "
                    f"broadcasting inside it; it has {got} nested loop level(s)")
        return None
    return problem


def distance_item(name: str, no_loops: bool = False, loops: int = 0) -> Item:
    return Item(name, lambda: distance_cases(no_loops), judge_distances,
                helpers={"flatten_images": reference_flatten},
                static=loop_structure(name, loops) if loops else None,
                rules=DISTANCE_RULES + ((NO_LOOPS,) if no_loops else ()),
                passed="squared distances (num_train, num_test) match the grader's float64 values"
                       + (", and fit in memory at scale" if no_loops else ""))


# The notebook's trusted given cells its functions rely on, run before the answers.
GIVEN = ("setup",)

ITEMS = {
    "flatten_images": Item("flatten_images", flatten_cases, judge_flatten, adapter=layout_adapter,
                           passed="flattens every layout in order, without a copy where a view exists"),
    "compute_distances_two_loops": distance_item("compute_distances_two_loops", loops=2),
    "compute_distances_one_loop": distance_item("compute_distances_one_loop", loops=1),
    "compute_distances_no_loops": distance_item("compute_distances_no_loops", no_loops=True),
    "predict_labels": Item("predict_labels", predict_cases, judge_predict,
                           passed="votes of the k nearest, ties to the smallest label, k > num_train handled"),
    "KnnClassifier": Item("KnnClassifier", classifier_cases, judge_classifier, adapter=classifier_adapter,
                          helpers={"flatten_images": reference_flatten,
                                   "compute_distances_two_loops": reference_distances,
                                   "compute_distances_one_loop": reference_distances,
                                   "compute_distances_no_loops": reference_distances,
                                   "predict_labels": reference_predict_labels},
                          passed="predict passes k through and check_accuracy reports percent"),
    "knn_cross_validate": Item("knn_cross_validate", cross_validate_cases, judge_cross_validate,
                               helpers={"KnnClassifier": ReferenceKnn, "flatten_images": reference_flatten},
                               passed="torch.chunk's folds, each tested on a classifier of the others, in percent"),
    "knn_get_best_k": Item("knn_get_best_k", best_k_cases, judge_best_k,
                           passed="the smallest k among the best mean accuracies, in any key order"),
}
