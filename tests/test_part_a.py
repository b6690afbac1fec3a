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

