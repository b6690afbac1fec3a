"""Part C (concepts): every wrong answer in answers/part_c loses points, every right one keeps them,
and no test cell gives points to the stubs a student starts from."""
import pytest

import answers
import nbrun
from suites import check_right, check_wrong, right_cases, wrong_cases

NOTEBOOKS = [n for n in answers.notebooks() if n.startswith("part_c/")]


@pytest.mark.parametrize("notebook, answer", wrong_cases("part_c"))
def test_wrong_answer_loses_points(notebook, answer):
    check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", right_cases("part_c"))
def test_right_answer_keeps_full_marks(notebook, answer):
    check_right(notebook, answer)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_test_cell_fails_on_the_stubs(notebook):
    """The release stubs, with the earlier batch-norm code pasted in, score nothing anywhere."""
    nb = nbrun.load(notebook)
    stubs = {cell: code for cell, code in nbrun.release_answers(nb).items()
             if not cell.endswith("-batchnorm")}  # the pasted B1/B2/C4 code stays the reference
    assert stubs, f"{notebook} has no solution cells to stub"
    result = nbrun.run(nbrun.with_answers(nb, stubs))
    passed = [c.grade_id for c in result.cells if c.score > 0]
    assert not passed, f"{notebook}: test cells {passed} give points to the release stubs"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_written_answers_are_task_cells_with_a_mark_scheme(notebook):
    """Each notebook has a manually graded written answer: a task cell with points whose mark
    scheme reaches graders but not the student's copy, followed by a cell to write in."""
    nb = nbrun.load(notebook)
    tasks = [i for i, c in enumerate(nb.cells) if nbrun.meta(c).get("task")]
    assert tasks, f"{notebook} has no written-answer task cell"
    released = nbrun.release_version(nb)
    for i in tasks:
        cell = nb.cells[i]
        assert nbrun.meta(cell).get("points", 0) > 0, f"{nbrun.grade_id(cell)} has no points"
        assert "=== BEGIN MARK SCHEME ===" in cell.source and "=== END MARK SCHEME ===" in cell.source
        assert "MARK SCHEME" not in released.cells[i].source, f"{nbrun.grade_id(cell)}: the mark scheme leaks"
        after = nb.cells[i + 1]
        assert after.cell_type == "markdown" and not nbrun.meta(after), \
            f"{nbrun.grade_id(cell)} should be followed by an ordinary markdown cell for the answer"
