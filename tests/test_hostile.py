"""The hostile class of tests/hostile_class.py, graded through `course grade`: replies forged in
the student's own kernel reach the grader's judge and gain nothing, cost nothing to anyone
else, and run nothing.

Each trick replaces one answer that no other test reads, so each hostile notebook must score
what the same notebook scores with a plain wrong value there (graded by tests/nbrun.py, no
trick), and the failing test must say why in the grader's own words (BadReply, CheckFailed),
never with an exception from inside the grader.
"""
import functools

import nbformat
import pytest

import hostile_class
import nbrun
from course import grading, sandbox
from test_grading import copy_course

TIMEOUT = 10  # seconds per cell


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("hostile"), notebooks=set(hostile_class.NOTEBOOKS))
    witness = tmp_path_factory.mktemp("witness") / "the payload ran"
    students = hostile_class.hostile_class(witness)
    for student, notebooks in students.items():
        folder = root / "submitted" / student / hostile_class.ASSIGNMENT
        folder.mkdir(parents=True)
        for stem, (nb, _, _) in notebooks.items():
            nbformat.write(nb, str(folder / f"{stem}.ipynb"))
    grades = grading.grade_class(root, jobs=2, timeout=TIMEOUT, progress=lambda message: None,
                                 unsandboxed=sandbox.available() is not None)
    return root, witness, students, grades


@functools.cache
def expected(stem, arrays):
    return nbrun.run(hostile_class.equivalent(stem, arrays), timeout=60).score


def _rows(grades, student):
    return {row.notebook: row for row in grades[student]}


def test_no_payload_runs_and_every_notebook_is_graded(graded):
    root, witness, students, grades = graded
    assert not witness.exists(), "a student's text ran in the grader"
    assert not grades.failures, grades.failures
    for student, notebooks in students.items():
        rows = _rows(grades, student)
        for stem in notebooks:
            assert rows[stem].score is not None and not rows[stem].problem, (student, stem, rows[stem].problem)


def test_each_trick_scores_what_the_same_wrong_answer_scores(graded):
    root, witness, students, grades = graded
    wrong = []
    for student, notebooks in students.items():
        rows = _rows(grades, student)
        for stem, (nb, arrays, trick) in notebooks.items():
            if arrays is None:
                continue
            want = expected(stem, arrays)
            if rows[stem].score != want:
                wrong.append(f"{student} {stem} ({trick}): {rows[stem].score} where the plain wrong answer "
                             f"scores {want}; {rows[stem].messages}")
    assert not wrong, "\n".join(wrong)


def test_the_trick_costs_its_own_test_only_and_nothing_to_an_honest_student(graded):
    root, witness, students, grades = graded
    for row in grades["honest-perfect"]:
        assert row.code_score == row.max_code_score, (row.notebook, row.messages)
    leaf_tests = {"a1_forward_formulas": ["a1-test-y"], "a2_grad_gamma": ["a2-test-dbeta"],
                  "a3_grad_xhat": ["a3-test-dxhat"], "a4_backward_derivation": ["a4-test-dbias"],
                  "a5_running_statistics": ["a5-test-weight"]}
    for stem, tests in leaf_tests.items():
        result = nbrun.run(hostile_class.equivalent(stem), timeout=60)
        assert list(result.failed()) == tests, (stem, result.messages())


def test_the_failing_test_says_why_in_the_graders_words(graded):
    """The leaf test's error is the grader's refusal or the check's verdict, with a message of
    bounded size: no ValueError or KeyError from inside the decoder, no quoted megabytes."""
    root, witness, students, grades = graded
    seen = {}
    for student, notebooks in students.items():
        if student == "honest-perfect":
            continue
        for stem, (_, arrays, trick) in notebooks.items():
            path = root / "autograded" / student / hostile_class.ASSIGNMENT / f"{stem}.ipynb"
            nb = nbformat.read(str(path), as_version=4)
            errors = [(nbrun.grade_id(c), o) for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []) if o.get("output_type") == "error"]
            names = {error["ename"] for _, error in errors}
            assert names & {"BadReply", "CheckFailed"} and names <= {"BadReply", "CheckFailed", "AssertionError"}, \
                (student, stem, trick, [(e["ename"], e["evalue"][:300]) for _, e in errors])
            for _, error in errors:
                seen.setdefault(error["ename"], trick)
                assert len(error["evalue"]) < 2_000, (student, stem, trick, len(error["evalue"]))
            assert path.stat().st_size < 1_000_000, (student, stem, trick, path.stat().st_size)
    assert {"BadReply", "CheckFailed"} <= set(seen), seen
