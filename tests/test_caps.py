"""Bounded artifacts: an autograded notebook's outputs are capped (grader.limits.CapOutputs)
without changing a score, and a feedback page's math is rendered within a budget (grader.mathml)."""
import json

import nbformat
from nbgrader.utils import determine_grade

from grader import limits, mathml

BIG = "x" * 10_000_000


def _notebook():
    nb = nbformat.v4.new_notebook()
    flood = nbformat.v4.new_code_cell("print(BIG)")
    flood.outputs = [nbformat.v4.new_output("stream", name="stdout", text=BIG)]
    failing = nbformat.v4.new_code_cell("assert answer == 1")
    failing.metadata["nbgrader"] = {"grade": True, "grade_id": "t1", "points": 2, "solution": False, "locked": True}
    failing.outputs = [nbformat.v4.new_output("stream", name="stdout", text=BIG),
                       nbformat.v4.new_output("error", ename="CheckFailed", evalue=BIG, traceback=[BIG] * 5)]
    passing = nbformat.v4.new_code_cell("pass")
    passing.metadata["nbgrader"] = {"grade": True, "grade_id": "t2", "points": 1, "solution": False, "locked": True}
    passing.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": BIG})]
    normal = nbformat.v4.new_code_cell("print('mean 0.0, std 1.0')")
    normal.outputs = [nbformat.v4.new_output("stream", name="stdout", text="mean 0.0, std 1.0\n")]
    nb.cells = [flood, failing, passing, normal]
    return nb


def test_a_notebook_of_huge_outputs_stays_small_and_scores_the_same():
    nb = _notebook()
    before = [determine_grade(c) for c in nb.cells if c.metadata.get("nbgrader")]
    capped, _ = limits.CapOutputs().preprocess(nb, {})
    after = [determine_grade(c) for c in capped.cells if c.metadata.get("nbgrader")]
    assert before == after == [(0, 2), (1, 1)]
    size = len(json.dumps(capped))
    assert size < 2 * limits.MAX_NOTEBOOK, size
    assert capped.cells[3].outputs[0]["text"] == "mean 0.0, std 1.0\n"  # a normal output is untouched
    assert "more characters not shown" in json.dumps(capped.cells[0].outputs)


def test_a_page_of_many_formulas_is_rendered_within_its_budget():
    page = "<p>" + " ".join(f"$x_{{{n}}}$" for n in range(120_000)) + "</p>"
    out = mathml.render_math(page)
    assert out.count("<math") <= mathml.MAX_FORMULAS
    assert out.count("math-not-rendered") == 1
    assert "$x_{119999}$" in out  # the rest is still there, as LaTeX
    small = mathml.render_math("<p>$\\mu_B = \\frac{1}{m}$</p>")
    assert "<math" in small and "math-not-rendered" not in small
