"""Does each notebook state exactly the rules the grader checks, and no item carry an unstated one?"""
import json

from autograder.checks import items
from autograder.layout import assignments
from autograder.checks.rules import BEGIN, END, NO_TORCH_RELU, RULES, stale_statements, statement
from autograder.layout import REPO


def test_source_notebooks_state_the_rules_the_grader_checks():
    """Is every source notebook's rules block the one generated from checks/rules.py?"""
    assert stale_statements(assignments()) == []


def test_the_release_states_them_too():
    """Does the student's notebook carry the same block (what they read is what is graded)?"""
    for assignment in assignments():
        nb = json.loads((REPO / "release" / assignment / f"{assignment}.ipynb").read_text())
        text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert statement(items(assignment)) in text, assignment


def test_every_item_with_a_rule_is_listed_with_exactly_its_rules():
    """Is each graded function that carries a rule named in its notebook's table with those rules?"""
    for assignment in assignments():
        block = statement(items(assignment))
        rows = [line for line in block.splitlines() if line.startswith("| `")]
        for name, item in items(assignment).items():
            row = [r for r in rows if f"`{name}`" in r]
            assert bool(row) == bool(item.rules), name
            if row:
                listed = row[0].split("|")[2]
                assert all((r.title in listed) == (r in item.rules) for r in RULES), (name, listed)
        assert block.startswith(BEGIN) and block.endswith(END)


def test_relu_is_banned_only_where_a_notebook_says_so():
    """The linear classifiers never ban relu; the two-layer net's flat functions do."""
    assert not any(NO_TORCH_RELU in i.rules for i in items("linear_classifiers").values())
    assert NO_TORCH_RELU in items("two_layer_net")["nn_forward_backward"].rules
