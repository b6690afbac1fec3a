"""Answers to the graded cells, other than the reference solutions in source/.

One module per notebook (answers/part_b/b1_forward.py for source/part_b/b1_forward.ipynb),
each with lists of `Answer`s:
- WRONG: realistic mistakes; each must lose points, with a message that contains `says`.
- RIGHT: other correct ways to write the answer; each must keep full marks.
- ELSEWHERE (optional): mistakes in code this notebook only uses, graded in another notebook (a
  batch norm with ddof=1 pasted into B5's or C2's paste cell); each must keep full marks here.
A module that sets ONE_TASK_PER_MISTAKE = True is held to "one mistake costs one task": each
WRONG answer loses points only in the tests of its own task (its `loses`), since every test
takes its other inputs from the references, not from the student's other answers.
tests/ grades every one of them; the demo class (`course demo`) hands in the first WRONG answer
of each notebook as its partly wrong student.
"""
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

HERE = Path(__file__).resolve().parent


@dataclass
class Answer:
    """A student's code for one or more solution cells.

    - name: what the answer does, e.g. "variance with ddof=1"
    - cells: {grade_id of a solution cell: code}; cells not named keep the reference solution
    - says: a phrase the feedback must contain for a wrong answer (case-insensitive)
    - loses: the test cells a wrong answer may cost points in, where its task is finer than its
      cells (one function of a cell of two; a value, not the robustness, of a forward pass).
      Default: the tests of the task whose cells it changes (tests/suites.py, task_tests).
    """
    name: str
    cells: dict
    says: str = ""
    tags: tuple = field(default_factory=tuple)
    loses: tuple = ()

    def __post_init__(self):
        self.cells = {k: dedent(v).strip() + "\n" for k, v in self.cells.items()}


def notebooks():
    """Paths (relative to source/) of the notebooks that have an answers module."""
    return sorted(str(p.relative_to(HERE).with_suffix(".ipynb"))
                  for p in HERE.glob("part_*/*.py") if p.name != "__init__.py")


def load(notebook):
    """The answers module of a notebook, e.g. load("part_b/b1_forward.ipynb")."""
    module = notebook.removesuffix(".ipynb").replace("/", ".")
    return importlib.import_module(f"answers.{module}")
