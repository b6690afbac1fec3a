"""The instructor's and self-learner's paths through nbgrader, end to end.

The demo class is graded in a scratch copy of the course (nothing here writes into the
repository): the perfect student gets full marks, the empty one zero, the others in between;
feedback shows no hidden test; a re-run gives the same grades and leaves real students alone.
Also pinned here: nbgrader facts the course depends on.
"""
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import nbrun
from grader import build, coursedir, democlass, grading, table

ROOT = Path(__file__).resolve().parents[1]


def copy_course(target, notebooks=None):
    """A scratch course: config, answers and source notebooks (all, or only those named)."""
    shutil.copy(ROOT / "nbgrader_config.py", target)
    shutil.copytree(ROOT / "answers", target / "answers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in sorted((ROOT / "source").glob("part_*/*.ipynb")):
        relative = path.relative_to(ROOT / "source")
        if notebooks is None or str(relative) in notebooks:
            (target / "source" / relative.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / "source" / relative)
    for path in sorted((ROOT / "source").glob("part_*/*")):  # what an assignment hands out besides
        if path.suffix != ".ipynb" and (target / "source" / path.parent.name).is_dir():
            shutil.copy(path, target / "source" / path.relative_to(ROOT / "source"))
    return target


@pytest.fixture(scope="module")
def demo_course(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("demo"))
    grades = democlass.demo(root, progress=lambda message: None)
    return root, grades


def totals(rows, attribute="code_score"):
    return sum(getattr(r, attribute) or 0 for r in rows)


def test_demo_perfect_student_gets_every_autograded_point(demo_course):
    root, grades = demo_course
    for row in grades["demo-perfect"]:
        assert row.code_score == row.max_code_score > 0, (row.name, row.code_score, row.messages)


def test_demo_empty_student_gets_nothing(demo_course):
    root, grades = demo_course
    assert totals(grades["demo-empty"]) == 0
    assert all(r.score == 0 for r in grades["demo-empty"])


@pytest.mark.parametrize("student", ["demo-partly-wrong", "demo-crashing"])
def test_demo_other_students_land_in_between(demo_course, student):
    root, grades = demo_course
    possible = totals(grades["demo-perfect"], "max_code_score")
    assert 0 < totals(grades[student]) < possible


def test_demo_partly_wrong_student_loses_points_in_every_notebook_with_wrong_answers(demo_course):
    root, grades = demo_course
    for row in grades["demo-partly-wrong"]:
        if (root / "answers" / row.assignment / f"{row.notebook}.py").exists():
            assert row.code_score < row.max_code_score, f"{row.name}: the wrong answer kept full marks"
            assert row.messages, f"{row.name}: lost points without a message"


def test_demo_crash_is_reported_with_its_cause(demo_course):
    root, grades = demo_course
    crashed = [r for r in grades["demo-crashing"] if r.code_score < r.max_code_score]
    assert crashed
    assert all(any("No module named 'torch'" in m for m in r.messages) for r in crashed)


def test_demo_writes_feedback_without_hidden_tests(demo_course):
    root, grades = demo_course
    for student in democlass.DEMO_STUDENTS:
        for row in grades[student]:
            page = root / "feedback" / student / row.assignment / f"{row.notebook}.html"
            assert page.exists(), f"no feedback at {page}"
            text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
            # whole lines, also as a traceback quotes them ("---> 12 line"), but not as parts of
            # a student's own line that happens to contain the same expression
            shown = {re.sub(r"^(-*>)?\s*\d+\s+", "", line.strip()) for line in text.splitlines()}
            for line in hidden_lines(root / "source" / row.assignment / f"{row.notebook}.ipynb"):
                assert line not in shown, f"{page.name} leaks a hidden test line: {line}"
            assert "MARK SCHEME" not in text


def hidden_lines(path):
    """The distinctive lines of a notebook's hidden tests (those that appear nowhere else in it:
    a line the reference solution or the text shares with a hidden test is no leak)."""
    lines, visible, inside = [], set(), False
    for cell in nbformat.read(path, as_version=4).cells:
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
            elif not inside:
                visible.add(line.strip())
    return [line for line in lines if line not in visible]


def test_demo_exports_a_csv_row_per_student_and_assignment(demo_course):
    root, grades = demo_course
    rows = coursedir.read_csv(root / "exports" / "grades.csv")
    parts = {r.assignment for r in grades["demo-perfect"]}
    for student in democlass.DEMO_STUDENTS:
        assert {r["assignment"] for r in rows if r["student_id"] == student} == parts


def test_demo_table_names_every_student_and_notebook(demo_course):
    root, grades = demo_course
    printed = table.format_table(grades)
    for student in democlass.DEMO_STUDENTS:
        assert student in printed
    assert "b1" in printed.splitlines()[0]
    perfect = next(l for l in printed.splitlines() if l.startswith("demo-perfect"))
    assert "–" not in perfect


@pytest.fixture()
def small_course(tmp_path):
    return copy_course(tmp_path, notebooks={"part_b/b1_forward.ipynb"})


def test_demo_twice_gives_the_same_grades_and_leaves_real_students_alone(small_course):
    root = small_course
    build.release(root)
    alice = root / "submitted" / "alice" / "part_b" / "b1_forward.ipynb"
    alice.parent.mkdir(parents=True)
    shutil.copy(root / "release" / "part_b" / "b1_forward.ipynb", alice)
    before = alice.read_bytes()
    first = table.grades_as_dict(democlass.demo(root, progress=lambda m: None))
    second = table.grades_as_dict(democlass.demo(root, progress=lambda m: None))
    assert first == second
    assert set(first) == set(democlass.DEMO_STUDENTS)
    assert alice.read_bytes() == before
    assert not (root / "autograded" / "alice").exists()


def _filled(root, tmp_path, answers):
    release_nb = nbformat.read(root / "release" / "part_b" / "b1_forward.ipynb", as_version=4)
    path = tmp_path / "mine" / "b1_forward.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(democlass.fill_release(release_nb, answers), str(path))
    return path


def _check(root, path):
    """`course check` on `path`: in the sandbox where it runs (always in CI, tests/test_sandbox.py)."""
    from grader import sandbox

    unsandboxed = ["--unsandboxed"] if sandbox.available() is not None else []
    return subprocess.run([sys.executable, "-m", "grader", "--root", str(root), "check", str(path), *unsandboxed],
                          capture_output=True, text=True, timeout=300)


def test_check_gives_full_marks_to_a_correct_notebook_without_touching_the_gradebook(small_course, tmp_path):
    root = small_course
    build.release(root)
    source = nbrun.load("part_b/b1_forward.ipynb")
    perfect = {nbrun.grade_id(c): democlass._solution_source(c) for c in source.cells
               if nbrun.meta(c).get("solution")}
    (root / "gradebook.db").unlink()
    run = _check(root, _filled(root, tmp_path, perfect))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "✓ b1-test-values" in run.stdout and "✗" not in run.stdout
    assert "score: 10 of 10" in run.stdout
    assert not (root / "gradebook.db").exists()


def test_check_explains_a_wrong_notebook_and_exits_non_zero(small_course, tmp_path):
    import answers

    root = small_course
    build.release(root)
    wrong = next(a for a in answers.load("part_b/b1_forward.ipynb").WRONG if "ddof" in a.name)
    run = _check(root, _filled(root, tmp_path, wrong.cells))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "✗ b1-test-values" in run.stdout
    assert "ddof=1" in run.stdout


def test_check_refuses_a_notebook_that_is_not_part_of_the_course(small_course, tmp_path):
    stray = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(stray))
    run = _check(small_course, stray)
    assert run.returncode == 2
    assert "not a notebook of this course" in run.stderr


def test_nbgrader_validate_exits_zero_even_when_tests_fail(small_course):
    """A fact of nbgrader 0.9: only the output tells a failed validation; the course never
    relies on its exit code."""
    root = small_course
    build.release(root)
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "validate",
                          str(root / "release" / "part_b" / "b1_forward.ipynb")],
                         capture_output=True, text=True, cwd=root, timeout=300)
    assert run.returncode == 0
    assert "VALIDATION FAILED" in run.stdout + run.stderr


# --------------------------------------------------------------------------- nbgrader facts the grading is built around

def _nbgrader_defaults():
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, GetGrades,
                                        IgnorePattern, LimitOutput, SaveAutoGrades)

    return {"Autograde.autograde_preprocessors": [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                                  SaveAutoGrades, AssignLatePenalties, CheckCellMetadata],
            "GenerateFeedback.preprocessors": [GetGrades, CSSHTMLHeaderPreprocessor]}


@pytest.fixture(scope="module")
def plain_nbgrader(tmp_path_factory):
    """A scratch course graded by nbgrader's own autograde, with nbgrader's default steps:
    'dies' kills the kernel in B1 and is right in B2; 'noisy' is right but prints to stderr."""
    import sample_class

    root = copy_course(tmp_path_factory.mktemp("plain"), notebooks=sample_class.SMALL_COURSE)
    build.release(root)
    subs = {s.student: s for s in sample_class.sample_class()}
    for student, name in (("dies", "fault-kernel-dies"), ("noisy", "fault-stderr")):
        folder = root / "submitted" / student / "part_b"
        folder.mkdir(parents=True)
        for filename, nb in subs[name].files.items():
            nbformat.write(nb, str(folder / filename))
    api = coursedir.make_api(root, overrides=_nbgrader_defaults())
    with coursedir.stderr_to(root / "grading.log"):
        for student in ("dies", "noisy"):
            grading.autograde_student(api, root, "part_b", student)
        with coursedir.working_directory(root):
            api.generate_feedback("part_b", "noisy", force=True)
    return root, api


def test_nbgrader_drops_a_whole_submission_when_one_kernel_dies(plain_nbgrader):
    """Why `course grade` grades one notebook at a time: nbgrader removes the student's whole
    autograded folder, the notebooks that ran fine included."""
    root, api = plain_nbgrader
    assert not (root / "autograded" / "dies" / "part_b").exists()


def test_nbgrader_scores_a_test_cell_with_stderr_output_zero(plain_nbgrader):
    """Why the course's autograde keeps stderr as ordinary output (StderrAsOutput)."""
    from nbgrader.api import Gradebook

    root, api = plain_nbgrader
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        assert gb.find_submission_notebook("b2_backward", "part_b", "noisy").score < 14


def test_nbgrader_feedback_shows_hidden_tests_unless_cleared(plain_nbgrader):
    """Why nbgrader_config.py adds ClearHiddenTests and StripHiddenTraces to the feedback steps
    (the demo tests above check the course's feedback)."""
    root, api = plain_nbgrader
    page = html.unescape(re.sub(r"<[^>]+>", "", (root / "feedback" / "noisy" / "part_b" / "b1_forward.html").read_text()))
    assert any(line in page for line in hidden_lines(root / "source" / "part_b" / "b1_forward.ipynb"))


def test_demo_written_answers_await_manual_grading_in_every_notebook_that_has_them(demo_course):
    """Each notebook is graded on its own: nbgrader must not leave a later notebook's task cells
    scored as 'missing' (0, no manual grading needed)."""
    root, grades = demo_course
    for row in grades["demo-perfect"]:
        source = root / "source" / row.assignment / f"{row.notebook}.ipynb"
        has_tasks = any(c.metadata.get("nbgrader", {}).get("task")
                        for c in nbformat.read(source, as_version=4).cells)
        assert row.needs_manual == has_tasks, f"{row.name}: needs manual grading should be {has_tasks}"


def test_demo_prints_the_table_the_readme_shows(demo_course):
    """The README quotes `./run demo`'s grade table; CI grades the demo on every supported Python,
    so the table is the same on each of them."""
    root, grades = demo_course
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"```\n(student .*?)\n```", readme, re.DOTALL)
    assert quoted, "README.md quotes no grade table"
    printed = table.format_table(grades)
    assert [l.rstrip() for l in printed.splitlines()] == [l.rstrip() for l in quoted.group(1).splitlines()], (
        f"README.md's demo table is stale; ./run demo prints:\n{printed}")


def test_shared_engines_serve_every_gradebook_of_a_url_from_one_engine_and_put_nbgrader_back(tmp_path, monkeypatch):
    """grader.coursedir.shared_engines: nbgrader's Gradebook opens on one URL share an engine (its compiled SQL
    with it), the scratch gradebook does not wait for the disk, and nbgrader is unchanged afterwards."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # nbgrader's alembic
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url, "course") as gb:
        gb.add_student("ada")
    before = nbgrader.api.create_engine
    with coursedir.shared_engines(scratch=True):
        with Gradebook(url, "course") as first, Gradebook(url, "course") as second:
            assert first.engine is second.engine
            assert [s.id for s in second.students] == ["ada"]
            with first.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0
            first.add_student("grace")
        with coursedir.shared_engines():  # nested: the enclosing one stays in place
            with Gradebook(url, "course") as third:
                assert third.engine is first.engine
        assert nbgrader.api.create_engine is not before
    assert nbgrader.api.create_engine is before
    assert "create_all" not in vars(nbgrader.api.Base.metadata)
    with Gradebook(url, "course") as gb:
        assert sorted(s.id for s in gb.students) == ["ada", "grace"]
        with gb.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() != 0


def test_a_new_gradebook_is_stamped_with_the_revision_alembic_heads_prints(tmp_path, monkeypatch):
    """nbgrader stamps a new gradebook with its schema's revision, learnt by running `alembic heads` in a
    process of its own (1.5 to 2 s, for each grading run's template); coursedir.make_api has it read in this
    process from the same migration scripts: the gradebook gets the revision the command prints."""
    import nbgrader.api
    from nbgrader.api import Gradebook
    from nbgrader.dbutil import _temp_alembic_ini
    from sqlalchemy import text

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        printed = subprocess.run(["alembic", "-c", ini, "heads"], capture_output=True, text=True, check=True,
                                 timeout=120).stdout.split()[0]
    coursedir.make_api(ROOT)

    def no_process(*args, **kwargs):
        raise AssertionError(f"nbgrader ran {args[0]} to stamp a new gradebook")

    monkeypatch.setattr(nbgrader.api.sp, "check_output", no_process)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url, "course") as gb:
        stamped = gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert stamped == printed, f"a new gradebook was stamped {stamped!r}; `alembic heads` prints {printed!r}"
