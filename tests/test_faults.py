"""Grading a class with faulty submissions: each fault loses only its own points, with a reason.

The sample class (tests/sample_class.py: 33 students handing in B1 and B2) is graded once by
`course grade` with two worker processes, in a scratch course. Every notebook must score what
its honest equivalent scores under tests/nbrun.py (or the fixed outcome its fault calls for),
feedback and a CSV row exist for everyone, and a serial re-run gives the same grades.
"""
import json

import nbformat
import pytest

import nbrun
import sample_class
from class_fixture import graded_class  # noqa: F401 (a fixture)
from grader import coursedir, execute, grading, table

STUDENTS = [s.student for s in sample_class.sample_class()]


def test_the_sample_class_is_big_and_mixed():
    subs = sample_class.sample_class()
    assert len(subs) >= 20
    assert {s.kind for s in subs} == {"honest", "wrong", "fault", "cheat"}


@pytest.mark.parametrize("student", STUDENTS)
def test_every_student_gets_the_expected_grades(graded_class, student):  # noqa: F811
    root, subs, grades, expected = graded_class
    got = sample_class.scores(grades)[student]
    assert got == expected[student], (
        f"{student}: graded {got}, expected {expected[student]}\n" + table.format_problems({student: grades[student]}))


def test_the_run_grades_everyone_and_never_fails(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    assert set(grades) == set(STUDENTS)
    assert grades.failures == {}


def _row(grades, student, stem):
    return next(r for r in grades[student] if r.notebook == stem)


@pytest.mark.parametrize("student, stem, phrase", [
    ("fault-kernel-dies", "b1_forward", "kernel died"),
    ("fault-missing-notebook", "b1_forward", "not submitted"),
    ("fault-broken-files", "b1_forward", "not valid JSON"),
    ("fault-broken-files", "b2_backward", "not a notebook"),
    *([] if sample_class.SANDBOXED else [("fault-kills-grader", "b1_forward", "grading process was killed")]),
    ("fault-ignores-interrupt", "b1_forward", "ignored the interrupt"),
    ("fault-ignores-interrupt", "b2_backward", "ignored the interrupt"),
])
def test_an_ungraded_notebook_scores_zero_with_its_reason(graded_class, student, stem, phrase):  # noqa: F811
    root, subs, grades, expected = graded_class
    row = _row(grades, student, stem)
    assert row.score == 0 and phrase in row.problem
    assert phrase in table.format_problems({student: grades[student]})
    page = root / "feedback" / student / "part_b" / f"{stem}.html"
    assert phrase in page.read_text(), "the student's feedback says why the notebook has no grade"


def test_a_dead_kernel_loses_only_its_own_notebook(graded_class):  # noqa: F811
    """nbgrader drops every notebook of a submission when one kernel dies (see test_grading.py);
    graded one notebook at a time, the other notebook keeps its grade and its files."""
    root, subs, grades, expected = graded_class
    assert _row(grades, "fault-kernel-dies", "b2_backward").score == 14
    assert (root / "autograded" / "fault-kernel-dies" / "part_b" / "b2_backward.ipynb").exists()
    assert (root / "feedback" / "fault-kernel-dies" / "part_b" / "b2_backward.html").exists()


def test_a_killed_grading_process_costs_only_the_notebook_that_killed_it(graded_class):  # noqa: F811
    """A kernel that kills its grading process (its parent) takes no one else's grades with it:
    the process is replaced, the student's other notebook is graded, and every other student
    graded alongside keeps their grades (test_every_student_gets_the_expected_grades). In the
    sandbox the kernel's parent is the sandbox's init, which it may not signal: its notebook is
    graded as if it had not tried (an unsandboxed run, in the command-line test below, has the
    grading process killed)."""
    root, subs, grades, expected = graded_class
    if sample_class.SANDBOXED:
        assert _row(grades, "fault-kills-grader", "b1_forward").score == 10
    assert _row(grades, "fault-kills-grader", "b2_backward").score == 14
    assert (root / "feedback" / "fault-kills-grader" / "part_b" / "b2_backward.html").exists()
    assert all(row.score == row.max_score for row in grades["honest-perfect"])


def test_a_cell_that_ignores_interrupts_is_stopped_once_at_the_timeout(graded_class):  # noqa: F811
    """A loop that ignores SIGINT (or catches KeyboardInterrupt) is interrupted at the timeout,
    then its kernel is killed INTERRUPT_GRACE seconds later: once, not once per later cell and attempt."""
    root, subs, grades, expected = graded_class
    for student, stem in [("fault-ignores-interrupt", "b1_forward"), ("fault-ignores-interrupt", "b2_backward"),
                          ("fault-judged-call-ignores-interrupt", "b1_forward")]:
        row = _row(grades, student, stem)
        assert row.seconds < sample_class.TEST_TIMEOUT + execute.INTERRUPT_GRACE + 15, (student, stem, row.seconds)
        assert "ignored the interrupt" in row.problem, (student, stem, row.problem)


def test_a_judged_call_that_ignores_the_interrupt_ends_the_notebook_once(graded_class):  # noqa: F811
    """The test's call into the student's function never returns and the kernel ignores the
    interrupt: the kernel is killed after the grace, the notebook ends there with that reason
    (once: the later test cells do not each wait out a timeout), and B2 is graded as usual."""
    root, subs, grades, expected = graded_class
    row = _row(grades, "fault-judged-call-ignores-interrupt", "b1_forward")
    assert row.score == 0 and row.problem.count("ignored the interrupt") == 1, row.problem
    assert _row(grades, "fault-judged-call-ignores-interrupt", "b2_backward").score == 14


@pytest.mark.parametrize("student", ["honest-copied-cells", "honest-mangled-metadata"])
def test_mangled_cells_are_found_and_the_tests_are_the_instructors(graded_class, student):  # noqa: F811
    """Copied cells (with their grade_ids), metadata of the wrong type, changed ids, stripped
    metadata, moved cells and a cell before the setup: every test cell graded is the
    instructor's, once, in the instructor's order, and the perfect answers keep full marks."""
    root, subs, grades, expected = graded_class
    for stem in ("b1_forward", "b2_backward"):
        source = nbrun.load(f"part_b/{stem}.ipynb")
        graded = nbformat.read(root / "autograded" / student / "part_b" / f"{stem}.ipynb", as_version=4)
        tests = [nbrun.grade_id(c) for c in source.cells if nbrun.meta(c).get("grade")]
        assert [nbrun.grade_id(c) for c in graded.cells if nbrun.meta(c).get("grade")] == tests
        assert _row(grades, student, stem).score == _row(grades, "honest-perfect", stem).score
        assert not _row(grades, student, stem).problem


def test_code_too_deep_for_the_graders_ast_walks_is_graded_as_handed_in(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    row = _row(grades, "fault-deep-expression", "b1_forward")
    assert not row.problem and row.score == 10
    assert grades.failures == {}


@pytest.mark.parametrize("student", ["fault-deleted-tests", "fault-edited-tests"])
def test_deleted_and_edited_test_cells_are_put_back(graded_class, student):  # noqa: F811
    root, subs, grades, expected = graded_class
    graded = nbformat.read(root / "autograded" / student / "part_b" / "b1_forward.ipynb", as_version=4)
    source = nbrun.load("part_b/b1_forward.ipynb")
    tests = {nbrun.grade_id(c): c.source for c in source.cells if nbrun.meta(c).get("grade")}
    got = {nbrun.grade_id(c): c.source for c in graded.cells if nbrun.meta(c).get("grade")}
    for grade_id, code in tests.items():
        assert grade_id in got and got[grade_id].strip().endswith(code.strip()), f"{grade_id} not restored"


def test_an_infinite_loop_stops_at_the_cell_timeout(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    graded = nbformat.read(root / "autograded" / "fault-infinite-loop" / "part_b" / "b1_forward.ipynb", as_version=4)
    errors = [o for c in graded.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors, "the looping cell should end with an error"
    assert _row(grades, "fault-infinite-loop", "b1_forward").score == 10


def test_a_failed_import_is_named_once_in_each_test_it_breaks(graded_class):  # noqa: F811
    """B1's answer cell stops at `import torch`: every test after it says which cell failed and why,
    not only that batchnorm_forward is not defined."""
    root, subs, grades, expected = graded_class
    graded = nbformat.read(root / "autograded" / "fault-import-error" / "part_b" / "b1_forward.ipynb", as_version=4)
    undefined = [o for c in graded.cells if c.cell_type == "code" for o in c.outputs
                 if o.output_type == "error" and o.ename == "NameError"]
    assert undefined, "the tests after the failed answer cell should raise NameError"
    culprit = next(c for c in graded.cells if c.cell_type == "code" and "import torch" in c.source)
    for output in undefined:
        assert f"In [{culprit.execution_count}], stopped with ModuleNotFoundError" in output.evalue, output.evalue
        assert output.evalue.count("fix that cell first") == 1, output.evalue
        assert output.traceback[-1].endswith("fix that cell first, and this cell runs on your code.")


def test_an_output_flood_is_cut(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    graded = nbformat.read(root / "autograded" / "fault-output-flood" / "part_b" / "b1_forward.ipynb", as_version=4)
    for cell in graded.cells:
        for output in cell.get("outputs", []):
            assert len(output.get("text", "").splitlines()) <= 205
    assert (root / "feedback" / "fault-output-flood" / "part_b" / "b1_forward.html").stat().st_size < 2_000_000


def test_printing_to_stderr_does_not_cost_points(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    assert _row(grades, "fault-stderr", "b2_backward").score == 14


def test_extra_files_are_reported_and_cannot_shadow_modules(graded_class):  # noqa: F811
    """A numpy.py or course/testing.py handed in would shadow the real modules if the kernel
    started next to them; the kernel starts in an empty folder, and the run notes the files."""
    root, subs, grades, expected = graded_class
    assert _row(grades, "fault-extra-files", "b1_forward").score == 10
    note = next(n for n in grades.notes if n.startswith("fault-extra-files"))
    for name in ("numpy.py", "course/testing.py", "notes.txt", "b1_forward-Copy1.ipynb"):
        assert name in note
    assert ".ipynb_checkpoints" not in note
    assert "conventions.md" not in note, "a file the assignment hands out is not the student's extra"


def test_files_in_submitted_that_are_not_students_are_noted(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    assert any(".DS_Store" in n for n in grades.notes) and any("README.txt" in n for n in grades.notes)
    assert ".DS_Store" not in grades and "README.txt" not in grades


def test_feedback_and_a_csv_row_for_everyone(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    rows = coursedir.read_csv(root / "exports" / "grades.csv")
    exported = {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in rows}
    for sub in subs:
        for stem in ("b1_forward", "b2_backward"):
            assert (root / "feedback" / sub.student / "part_b" / f"{stem}.html").exists() or (
                f"{stem}.ipynb" not in sub.files and "not submitted" in _row(grades, sub.student, stem).problem), (
                f"no feedback for {sub.student} {stem}")
        total = sum(sample_class.scores(grades)[sub.student].values())
        assert exported[(sub.student, "part_b")] == pytest.approx(total), sub.student


def test_odd_folder_names_are_graded_under_their_own_names(graded_class):  # noqa: F811
    root, subs, grades, expected = graded_class
    for name in ("o'brien", "anne marie", "zoë [2]"):
        assert (root / "autograded" / name / "part_b" / "b1_forward.ipynb").exists()
        assert (root / "feedback" / name / "part_b" / "b2_backward.html").exists()
    assert _row(grades, "zoë [2]", "b1_forward").score == 10


def test_a_serial_rerun_gives_identical_grades(graded_class):  # noqa: F811
    """A second run, with one process instead of two, over the same course (and the same
    gradebook) gives every student the same grades."""
    root, subs, grades, expected = graded_class
    again = ["honest-perfect", "fault-kernel-dies", "fault-missing-notebook", "cheat-input-transformer",
             "honest-mangled-metadata", "fault-kills-grader", "fault-ignores-interrupt",
             *(["cheat-write-gradebook", "fault-fork-bomb"] if sample_class.SANDBOXED else [])]
    serial = grading.grade_class(root, students=again, jobs=1, timeout=sample_class.TEST_TIMEOUT,
                                 progress=lambda message: None, unsandboxed=not sample_class.SANDBOXED)
    first = {s: sample_class.scores(grades)[s] for s in again}
    assert sample_class.scores(serial) == first
    assert {s: [r.problem for r in serial[s]] for s in again} == {s: [r.problem for r in grades[s]] for s in again}


def test_the_command_line_grades_a_class_and_exits_zero(tmp_path):
    """`course grade --unsandboxed` (a machine without the sandbox): a kernel that kills its
    grading process costs its own notebook only, and the report says the run was unsandboxed."""
    import subprocess
    import sys

    from test_grading import copy_course

    root = copy_course(tmp_path, notebooks={"part_b/b1_forward.ipynb"})
    sample_class.write_sample_class(root, ["honest-perfect", "fault-broken-files", "fault-kills-grader",
                                           "honest-mangled-metadata"])
    run = subprocess.run([sys.executable, "-m", "grader", "--root", str(root), "grade", "--jobs", "2",
                          "--timeout", "10", "--json", str(tmp_path / "grades.json"), "--unsandboxed"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "honest-perfect" in run.stdout and "not valid JSON" in run.stdout
    graded = json.loads((tmp_path / "grades.json").read_text())
    assert graded["honest-perfect"]["part_b/b1_forward"] == 10
    assert graded["honest-mangled-metadata"]["part_b/b1_forward"] == 10
    assert graded["fault-kills-grader"]["part_b/b1_forward"] == 0 and "grading process was killed" in run.stdout


def test_a_graded_kernel_keeps_out_of_the_graders_ipython_profile(tmp_path, monkeypatch):
    """A startup file in the grader's IPython profile (one that a student's code wrote there
    while an earlier notebook was graded, say) never runs in a graded kernel, which writes
    nothing into that profile either; and the kernel, killed once every cell has run, has
    handed in all the outputs of the last cell."""
    profile = tmp_path / "ipython"
    (profile / "profile_default" / "startup").mkdir(parents=True)
    (profile / "profile_default" / "startup" / "00-planted.py").write_text("planted = True\n")
    monkeypatch.setenv("IPYTHONDIR", str(profile))
    before = sorted(profile.rglob("*"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import os\nprint('planted' in globals(), os.listdir('.'))"),
        nbformat.v4.new_code_cell("import sys\nprint('first')\nsys.stdout.write('last, no newline')\n"
                                  "sys.stderr.write('to stderr')\n6 * 7"),
    ]
    executed, _ = execute.IsolatedExecute(timeout=60).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert [o.get("text") for o in executed.cells[0].outputs] == ["False []\n"]
    last = executed.cells[1].outputs
    assert "".join(o["text"] for o in last if o.get("name") == "stdout") == "first\nlast, no newline"
    assert "".join(o["text"] for o in last if o.get("name") == "stderr") == "to stderr"
    assert [o["data"]["text/plain"] for o in last if o["output_type"] == "execute_result"] == ["42"]
    assert sorted(profile.rglob("*")) == before
