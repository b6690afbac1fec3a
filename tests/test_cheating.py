"""Cheating: detected, and scored as if the trick were absent.

Layers, each tested here:
1. the test cells run in the grader's process (grader.judge): the kernel only answers with values
   (decoded as data), so nothing the student's code changes in the kernel (the checks, NumPy,
   IPython's transformers and handlers, the displayhook, the caller's frames, course.agent itself)
   reaches a verdict;
2. course.testing's checks hold their own references to the NumPy and Python functions they
   trust and check types before values (patched np.abs, ndarray subclasses, always-equal objects),
   which keeps the visible tests honest in the student's own kernel;
3. the kernel runs in the sandbox, in an empty folder: no hidden tests, gradebook or handed-in
   modules to reach;
4. a static scan of the student's cells flags tricks for review in the grade report (it changes
   no grade).
The sample class's cheating students (tests/sample_class.py) must score exactly what the same
code without its trick scores (tests/test_faults.py checks every student's table row).
"""
import numpy as np
import pytest

import answers
import nbrun
import sample_class
from class_fixture import graded_class  # noqa: F401 (a fixture)
from course import testing
from grader import review, table

CHEATS = [s for s in sample_class.sample_class() if s.kind == "cheat"]


def _row(grades, student, stem):
    return next(r for r in grades[student] if r.notebook == stem)


@pytest.mark.parametrize("sub", CHEATS, ids=[s.student for s in CHEATS])
def test_a_cheat_is_flagged_and_scored_as_if_absent(graded_class, sub):  # noqa: F811
    root, subs, grades, expected = graded_class
    for stem, expect in sub.expect.items():
        row = _row(grades, sub.student, stem)
        assert (row.score or 0) == expected[sub.student][stem], (sub.student, stem, row.flags)
        if expect.flagged:
            assert row.flags, f"{sub.student} {stem}: the trick was not flagged for review"
    assert "?" in next(l for l in table.format_table(grades).splitlines() if l.startswith(sub.student))


def test_honest_students_are_not_flagged(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    for sub in subs:
        if sub.kind in ("honest", "wrong"):
            for row in grades[sub.student]:
                assert not row.flags, f"{sub.student} {row.name}: {row.flags}"


def test_the_tricks_would_have_worked_in_the_kernel(graded_class):  # noqa: F811
    """Judged in the kernel, as plain nbgrader judges, these tricks keep points their answers do not
    earn; judged in the grader they change nothing."""
    root, subs, grades, expected = graded_class
    by_name = {sub.student: sub for sub in subs}
    for student in ("cheat-test-helpers", "cheat-rebind-inside"):
        handed_in = by_name[student].files["b1_forward.ipynb"]
        in_kernel = nbrun.run(handed_in, judged=False)
        assert in_kernel.score > expected[student]["b1_forward"], (student, in_kernel.score, in_kernel.messages())
        row = _row(grades, student, "b1_forward")
        assert row.score == expected[student]["b1_forward"], (student, row.flags)


# The answers catalogue's own cheats (WRONG answers that try a trick); every other answer is honest.
CATALOGUE_CHEATS = {"np.allclose monkeypatched to always agree", "an object whose == is always true"}


def test_the_scan_flags_the_catalogues_cheats_and_nothing_else():
    """No false alarms: the reference solutions and every RIGHT and honest WRONG answer of every
    notebook pass the scan unflagged; the catalogue's cheats are flagged."""
    for notebook in answers.notebooks():
        source = nbrun.load(notebook)
        rules = review.notebook_rules(source)
        module = answers.load(notebook)
        assert review.scan_notebook(source, rules) == [], notebook
        for answer in module.WRONG + module.RIGHT:
            flags = review.scan_notebook(nbrun.with_answers(source, answer.cells), rules)
            assert bool(flags) == (answer.name in CATALOGUE_CHEATS), (notebook, answer.name, flags)


def _rules():
    return review.notebook_rules(nbrun.load("part_b/b1_forward.ipynb"))


@pytest.mark.parametrize("code, phrase", [
    ("import numpy\nnumpy.allclose = lambda *a, **k: True\n", "changes numpy.allclose"),
    ("def check_array(*a, **k):\n    pass\n", "redefines check_array"),
    ("get_ipython().set_custom_exc((Exception,), None)\n", "set_custom_exc"),
    ("class A(np.ndarray):\n    pass\n", "derives from np.ndarray"),
    ("class A:\n    def __eq__(self, other):\n        return True\n", "defines __eq__"),
    ("def f():\n    return _checks.reference\n", "uses _checks"),
    ("open('gradebook.db').read()\n", "calls open()"),
    ("import sqlite3\n", "imports sqlite3"),
    ("import sys\ndef f():\n    return sys._getframe(1).f_globals\n", "f_globals"),
])
def test_the_scan_names_each_trick(code, phrase):
    assert any(phrase in flag for flag in review.scan_cell(code, _rules())), review.scan_cell(code, _rules())


def test_checks_keep_their_own_references(monkeypatch):
    """Rebinding NumPy's and Python's functions after course.testing was imported changes
    nothing in its checks."""
    monkeypatch.setattr(np, "abs", lambda a, *args, **kwargs: np.zeros_like(a))
    monkeypatch.setattr(np, "allclose", lambda *args, **kwargs: True)
    monkeypatch.setattr(np, "isfinite", lambda a: np.ones_like(a, dtype=bool))
    with pytest.raises(testing.CheckFailed, match="wrong values"):
        testing.check_array("out", np.ones(3), np.zeros(3))


def test_checks_refuse_agreeable_objects():
    class Agreeable(np.ndarray):
        def __eq__(self, other):
            return True

    class Anything:
        def __eq__(self, other):
            return True

        def __float__(self):
            return 0.0

    with pytest.raises(testing.CheckFailed, match="np.ndarray"):
        testing.check_array("out", np.zeros(3).view(Agreeable), np.ones(3))
    with pytest.raises(testing.CheckFailed, match="NumPy array"):
        testing.check_array("out", Anything(), np.ones(3))
    with pytest.raises(testing.CheckFailed, match="number"):
        testing.check_scalar("loss", Anything(), 1.0)


def test_a_result_the_students_code_puts_into_a_test_cell_is_not_partial_credit(tmp_path):
    """nbgrader reads a test cell's first `execute_result` as partial credit before it looks at the
    error after it: a student's function that calls the displayhook turns a failing test into half
    marks. ResultsAsDisplay (after the kernel has run) shows such a result as a plain display; a
    test cell judged in the grader never has one."""
    import copy

    import nbformat
    from nbgrader.utils import determine_grade

    from grader.execute import IsolatedExecute, ResultsAsDisplay

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import sys\n\ndef answer():\n    sys.displayhook(1.0)\n    return 0"),
        nbformat.v4.new_code_cell("assert answer() == 42, 'answer() should be 42'", metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "grade_id": "test", "points": 2.0,
            "schema_version": 3}}),
    ]
    executed, _ = IsolatedExecute(timeout=60, judge=False).preprocess(copy.deepcopy(nb), {"metadata": {"path": str(tmp_path)}})
    test = executed.cells[1]
    assert determine_grade(test) == (1.0, 2.0), "nbgrader alone: half marks for a failing test"
    ResultsAsDisplay().preprocess_cell(test, {}, 1)
    assert determine_grade(test) == (0, 2.0)
    assert [o["output_type"] for o in test.outputs] == ["display_data", "error"]
    judged, _ = IsolatedExecute(timeout=60).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert determine_grade(judged.cells[1]) == (0, 2.0), "judged in the grader: the result never reaches the test cell"
    assert [o["output_type"] for o in judged.cells[1].outputs] == ["error"]
