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

import html
import re
from pathlib import Path

import hostile_class
import nbrun
from grader import grading, sandbox
from test_grading import copy_course, hidden_lines

TIMEOUT = 60  # seconds per cell: no submission here loops, so it only bounds a runaway; on a loaded two-core CI
# machine B3's spying checker outran 10 s
B3 = "part_b/b3_gradient_check.ipynb"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("hostile"), notebooks=set(hostile_class.NOTEBOOKS) | {B3})
    witness = tmp_path_factory.mktemp("witness") / "the payload ran"
    students = hostile_class.hostile_class(witness)
    for student, notebooks in students.items():
        folder = root / "submitted" / student / hostile_class.ASSIGNMENT
        folder.mkdir(parents=True)
        for stem, (nb, _, _) in notebooks.items():
            nbformat.write(nb, str(folder / f"{stem}.ipynb"))
    spy = root / "submitted" / "hostile-b3-spy" / B3
    spy.parent.mkdir(parents=True)
    nbformat.write(hostile_class.spy_b3(), str(spy))
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
        for stem, (_, arrays, trick) in notebooks.items():
            if arrays is None:
                continue
            want = expected(stem, arrays)
            if rows[stem].score != want:
                wrong.append(f"{student} {stem} ({trick}): {rows[stem].score} where the plain wrong answer "
                             f"scores {want}; {rows[stem].messages}")
    assert not wrong, "\n".join(wrong)


def test_the_trick_costs_its_own_test_only_and_nothing_to_an_honest_student(graded):
    root, witness, students, grades = graded
    for row in [r for r in grades["honest-perfect"] if r.assignment == hostile_class.ASSIGNMENT]:
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
        if student in ("honest-perfect", "hostile-b3-spy"):
            continue
        for stem, (_, _, trick) in notebooks.items():
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


def test_a_checker_that_spies_on_the_tests_functions_learns_nothing(graded):
    """B3's hidden tests hand the student's checker forward and backward passes of their own
    (a backward blind to dout, one without the variance term, ...). They stay in the grader:
    a checker that keeps every function's name, constants, closure, globals and source, printed
    by a cell the student added at the end, gets a handle's, and the feedback shows no line and
    no name of the hidden tests; its right answers keep full marks."""
    root, witness, students, grades = graded
    row = _rows(grades, "hostile-b3-spy")["b3_gradient_check"]
    assert row.code_score == row.max_code_score, row.messages  # the reference answers, spying
    page = root / "feedback" / "hostile-b3-spy" / B3.replace(".ipynb", ".html")
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    spied = re.search(r"SPIED (\d+) functions:", text)
    assert spied and int(spied.group(1)) >= 4, "the spy saw no function of the tests': it was not called"
    source = root / "source" / B3
    for line in hidden_lines(source):
        assert line not in text, f"the feedback shows a hidden test's line: {line}"
    hidden = re.findall(r"^### BEGIN HIDDEN TESTS\n(.*?)^### END HIDDEN TESTS", "\n".join(
        c.source for c in nbformat.read(str(source), as_version=4).cells), re.M | re.S)
    names = {n for block in hidden for n in re.findall(r"\b(_[A-Za-z]\w{3,})\b", block)}
    assert names, "no hidden names found to look for"
    # names the kernel can know without the tests: the course package's and the notebook's own
    known = "\n".join(path.read_text() for path in (Path(grading.__file__).parent).glob("*.py"))
    known += "\n".join(c.source for c in hostile_class.spy_b3().cells)
    leaked = sorted(n for n in names if re.search(rf"\b{n}\b", text) and not re.search(rf"\b{n}\b", known))
    assert not leaked, f"the feedback names the hidden tests' {leaked}"
