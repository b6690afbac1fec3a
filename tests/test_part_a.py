"""Part A (derivations): every wrong answer in answers/part_a loses points, every right one keeps them;
the source notebooks pass their own tests quickly, and the written derivations reach manual grading
with their points and mark schemes (never the release). That the release stubs pass no test, and
that notebooks carry no outputs or magics, is checked for every notebook in test_notebooks.py."""
import time

import pytest

import nbrun
from suites import check_right, check_wrong, right_cases, wrong_cases

NOTEBOOKS = ["part_a/a1_forward_formulas.ipynb", "part_a/a2_grad_gamma.ipynb", "part_a/a3_grad_xhat.ipynb",
             "part_a/a4_backward_derivation.ipynb", "part_a/a5_running_statistics.ipynb"]
SECONDS = 10  # a notebook's tests must run in well under this (nbrun, warm process)


@pytest.mark.parametrize("notebook, answer", wrong_cases("part_a"))
def test_wrong_answer_loses_points(notebook, answer):
    check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", right_cases("part_a"))
def test_right_answer_keeps_full_marks(notebook, answer):
    check_right(notebook, answer)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_source_scores_full_marks_fast(notebook):
    start = time.perf_counter()
    result = nbrun.run(nbrun.load(notebook))
    elapsed = time.perf_counter() - start
    assert result.max_score > 0
    assert result.score == result.max_score, result.messages()
    assert elapsed < SECONDS, f"{notebook} took {elapsed:.1f} s"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_written_derivations_are_manually_graded_tasks(notebook):
    source = nbrun.load(notebook)
    release = nbrun.release_version(source)
    tasks = [c for c in source.cells if nbrun.meta(c).get("task")]
    assert tasks, f"{notebook} has no manually graded task cell"
    released = nbrun.cells_by_id(release)
    for cell in tasks:
        m = nbrun.meta(cell)
        assert cell.cell_type == "markdown" and m["locked"] and m["points"] > 0 and not m["grade"]
        assert "=== BEGIN MARK SCHEME ===" in cell.source and "=== END MARK SCHEME ===" in cell.source
        kept = released[m["grade_id"]].source
        assert "MARK SCHEME" not in kept and len(kept) > 50, f"{m['grade_id']}: mark scheme not removed cleanly"
        # the student writes in an ordinary markdown cell right after the task
        after = source.cells[source.cells.index(cell) + 1]
        assert after.cell_type == "markdown" and not nbrun.meta(after)



@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_visible_tests_check_the_worked_example_and_say_what_they_did_not_check(notebook):
    """In JupyterLab a student runs only the visible part of a test cell: it must check more than the
    form (a wrong formula fails on the worked example), and print what it did and did not check."""
    release = nbrun.release_version(nbrun.load(notebook))
    for cell in release.cells:
        m = nbrun.meta(cell)
        if cell.cell_type != "code" or not m.get("grade") or m.get("solution"):
            continue
        uses_formula = "check_form(" in cell.source or "check_example(" in cell.source
        if uses_formula:
            assert "check_example(" in cell.source or "Not checked here" in cell.source, (
                f"{m['grade_id']}: the visible test checks only the form and does not say so")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_wrong_formula_fails_the_visible_test_too(notebook):
    """The first wrong answer of each formula cell fails the release's (visible) test cell."""
    import answers

    source = nbrun.load(notebook)
    release = nbrun.release_version(source)
    for cell, stub in zip(source.cells, release.cells):  # the reference solutions, visible tests only
        if nbrun.meta(cell).get("solution"):
            stub.source = cell.source
    tested = set()
    for answer in answers.load(notebook).WRONG:
        (grade_id, code), = answer.cells.items() if len(answer.cells) == 1 else ((None, None),)
        if grade_id is None or grade_id in tested or "def " in code:
            continue
        tested.add(grade_id)
        result = nbrun.run(nbrun.with_answers(release, answer.cells))
        assert result.score < result.max_score, f"'{answer.name}' passes every visible test of {notebook}"


def test_a4_closing_sums_are_what_the_text_says():
    """sum dL/dx = 0 for every eps; sum x_hat dL/dx = 0 only at eps = 0, of order eps otherwise."""
    result = nbrun.run(nbrun.load("part_a/a4_backward_derivation.ipynb"))
    rows = [line.split("|") for line in result.stdout.splitlines() if line.count("|") == 3 and "eps" not in line]
    table = {float(r[0]): [float(v) for v in r[1:]] for r in rows}
    assert sorted(table) == [0.0, 0.01, 0.1, 1.0], result.stdout
    for eps, (sum_dx, sum_xhat_dx, predicted) in table.items():
        assert abs(sum_dx) < 1e-12, f"sum of dL/dx is {sum_dx} at eps = {eps}"
        assert sum_xhat_dx == pytest.approx(predicted, rel=1e-3, abs=1e-12)
        if eps == 0:
            assert abs(sum_xhat_dx) < 1e-12
        else:
            assert abs(sum_xhat_dx) > 1e-4
    small, large = abs(table[0.01][1]), abs(table[0.1][1])
    assert 5 < large / small < 12, "of order eps: ten times eps, about ten times the sum"


def test_a5_leaves_the_effective_window_to_the_student():
    """1/(1 - momentum) is Task 3's answer: only the hidden tests and the mark scheme may hold it."""
    nb = nbrun.load("part_a/a5_running_statistics.ipynb")
    for index, cell in enumerate(nb.cells):
        if nbrun.meta(cell).get("solution") or nbrun.meta(cell).get("task"):
            continue
        text = cell.source.split("### BEGIN HIDDEN TESTS")[0] + cell.source.split("### END HIDDEN TESTS")[-1] \
            if "### BEGIN HIDDEN TESTS" in cell.source else cell.source
        compact = text.replace(" ", "").replace("\\", "")
        for giveaway in ("1/(1-mom", "1/(1-rho", "1/(1-beta", "1/(1-momentum"):
            assert giveaway not in compact, f"cell {index} gives the effective window away: {giveaway}"
    stream = nbrun.run(nbrun.load("part_a/a5_running_statistics.ipynb")).stdout
    assert "your effective window    10.0 batches" in stream  # computed from effective_window


@pytest.mark.parametrize("factor", [0, 1, -1, -7, 2, 0.5])
def test_a4_grades_dL_dmu_at_any_mu_not_only_at_the_batch_mean(factor):
    """The term of the path through sigma^2 is 0 at mu = mu_B: left out (0) or written as the chain rule
    has it (1) is right; any other factor passes at the batch mean but not with mu moved off it."""
    from course.testing import CheckFailed
    from grader.checks.part_a import a4_backward_derivation as a4

    answer = a4.DMU_DIRECT + factor * a4.DSIGMA2 * a4.DSIGMA2_DMU
    if factor in (0, 1):
        a4.test_dmu(lambda: answer, lambda: a4.DSIGMA2)
        return
    with pytest.raises(CheckFailed) as failed:
        a4.test_dmu(lambda: answer, lambda: a4.DSIGMA2)
    assert failed.value.mistake == a4.SIGMA2_PATH
    assert f"is {factor:g} times the chain rule's" in str(failed.value)
