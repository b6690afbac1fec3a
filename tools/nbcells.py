"""Cells with the nbgrader metadata each kind needs, for writing or editing source notebooks.

    from tools.nbcells import md, code, readonly, solution, tests, task, notebook
    nb = notebook([md("# B1 ..."), readonly("b1-setup", "import numpy as np"), ...])
    nbformat.write(nb, "source/part_b/b1_forward.ipynb")

The notebooks in source/ are the truth; this only saves typing the metadata by hand.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _nbgrader(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    m = dict(grade=grade, grade_id=grade_id, locked=locked, schema_version=3,
             solution=solution, task=task)
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def md(text):
    """Narrative markdown (not part of grading)."""
    return new_markdown_cell(text.strip())


def code(text):
    """An ungraded code cell the student may run or change (demos, plots, timings)."""
    return new_code_cell(text.strip())


def readonly(grade_id, text, markdown=False):
    """A locked cell: setup code, or a task statement the student must not edit."""
    maker = new_markdown_cell if markdown else new_code_cell
    return maker(text.strip(), metadata=_nbgrader(grade_id, locked=True))


def solution(grade_id, text):
    """An autograded answer cell: code between ### BEGIN/END SOLUTION becomes the stub."""
    return new_code_cell(text.strip(), metadata=_nbgrader(grade_id, solution=True))


def tests(grade_id, points, text):
    """A locked test cell worth `points`; code between ### BEGIN/END HIDDEN TESTS is hidden."""
    return new_code_cell(text.strip(), metadata=_nbgrader(grade_id, grade=True, locked=True,
                                                          points=points))


def task(grade_id, points, text):
    """A manually graded task (markdown, locked, worth `points`): the question, then the mark
    scheme between === BEGIN MARK SCHEME === / === END MARK SCHEME === (removed from the
    release); the student answers in an ordinary markdown cell after it."""
    return new_markdown_cell(text.strip(), metadata=_nbgrader(grade_id, task=True, locked=True,
                                                              points=points))


def answer(grade_id, points, text):
    """A manually graded written answer (markdown); put the model answer between
    === BEGIN MARK SCHEME === / === END MARK SCHEME === in a `mark_scheme` cell after it,
    or the answer itself between ### BEGIN SOLUTION / ### END SOLUTION."""
    return new_markdown_cell(text.strip(), metadata=_nbgrader(grade_id, grade=True,
                                                              solution=True, points=points))


def notebook(cells):
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python", "version": "3.11"},
    }
    return nb


def write(nb, path):
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
