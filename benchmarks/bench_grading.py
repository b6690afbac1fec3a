"""How fast `course grade` grades a class: per student, per notebook, serial and in parallel,
against plain nbgrader on the same submissions.

    .venv/bin/python benchmarks/bench_grading.py [--students 4] [--jobs 2]

In a scratch copy of the course, a class of students who hand in the reference solution of
every notebook is graded three times: autograde alone in one process, then with the feedback
HTML and the CSV export in one process, then in --jobs processes. So is a "floor" class, the
same number of trivial notebooks (one answer cell, one test cell each) through the same
pipeline on the same machine in the same run. Then plain nbgrader grades the same submissions
in another copy of the course, as an instructor would without this course's grader: nbgrader's
own configuration (the course id, gradebook and timeout of nbgrader_config.py, nbgrader's
default preprocessors), `nbgrader autograde` and `nbgrader generate_feedback` for each
assignment and `nbgrader export`.

Prints, per student, the autograde time of the course against the floor (goal: at most 1.3x),
the same with feedback and export, `course grade` (in the sandbox where it runs) against plain
nbgrader (goal: at most 0.6x), the speed-up of --jobs, and each notebook's own autograde time.
Figures depend on the machine and on what else runs on it: the load average is printed with them.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import nbformat  # noqa: E402

from grader import build, coursedir, democlass, grading, sandbox  # noqa: E402

PLAIN_CONFIG = """\
# plain nbgrader: what the course's nbgrader_config.py sets for the course, none of its grading
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "batchnorm-tutorial10"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ExecutePreprocessor.timeout = 120
"""


def nbgrader(root, *args):
    """Run an nbgrader command in the course `root`, as an instructor would."""
    command = [str(Path(sys.executable).parent / "nbgrader"), *args]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def plain_nbgrader(root, students):
    """Seconds plain nbgrader takes to autograde every submission, write the feedback and export
    the grades; and whether every student got every autograded point."""
    assignments = coursedir.assignments(root)
    for assignment in assignments:
        nbgrader(root, "generate_assignment", assignment, "--force")
    started = time.perf_counter()
    for assignment in assignments:
        nbgrader(root, "autograde", assignment, "--force")
    for assignment in assignments:
        nbgrader(root, "generate_feedback", assignment, "--force")
    nbgrader(root, "export", "--to", str(root / "plain-grades.csv"))
    seconds = time.perf_counter() - started
    rows = [r for r in coursedir.read_csv(root / "plain-grades.csv") if r["student_id"].startswith("student-")]
    manual = {assignment: _manual_points(root, assignment) for assignment in assignments}
    full = len(rows) == students * len(assignments) and all(
        float(r["raw_score"] or 0) >= float(r["max_score"] or 0) - manual[r["assignment"]] for r in rows)
    return seconds, full


def _manual_points(root, assignment):
    """Points of the written answers (graded by hand, so not in an autograde total)."""
    total = 0.0
    for path in coursedir.source_notebooks(root, assignment):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("points") and (cell.cell_type == "markdown" or meta.get("task")):
                total += float(meta["points"])
    return total


def perfect_class(root, students):
    """submitted/<student>/<part>/: the reference solution of every notebook, as handed in."""
    build.release(root)
    for index in range(students):
        for assignment in coursedir.assignments(root):
            target = root / "submitted" / f"student-{index + 1:03d}" / assignment
            target.mkdir(parents=True)
            for path in coursedir.source_notebooks(root, assignment):
                nbformat.write(democlass.demo_submission(root, "demo-perfect", assignment, path, False),
                               str(target / path.name))


def trivial_course(root, like):
    """A course with as many notebooks per assignment as `like`, each trivial, and a class of
    students who answer them all."""
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for assignment in coursedir.assignments(like):
        for path in coursedir.source_notebooks(like, assignment):
            nb = nbformat.v4.new_notebook()
            nb.metadata = nbformat.read(path, as_version=4).metadata
            nb.cells = [
                nbformat.v4.new_markdown_cell("# A trivial notebook"),
                nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 1\n### END SOLUTION", metadata={"nbgrader": {
                    "grade": False, "solution": True, "locked": False, "grade_id": "answer", "schema_version": 3,
                    "task": False}}),
                nbformat.v4.new_code_cell("assert answer == 1", metadata={"nbgrader": {
                    "grade": True, "solution": False, "locked": True, "grade_id": "test", "points": 1,
                    "schema_version": 3, "task": False}}),
            ]
            (root / "source" / assignment).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(root / "source" / assignment / path.name))


def grade(root, jobs, feedback):
    for folder in ("autograded", "feedback", "exports"):
        shutil.rmtree(root / folder, ignore_errors=True)
    started = time.perf_counter()
    grades = grading.grade_class(root, jobs=jobs, feedback=feedback, export=feedback,
                                 progress=lambda message: None, unsandboxed=sandbox.available() is not None)
    seconds = time.perf_counter() - started
    assert not grades.failures, grades.failures
    return seconds, grades


RUNS = (  # (label, jobs is parallel, with feedback and export)
    ("autograde", False, False),
    ("autograde + feedback + export", False, True),
    ("autograde + feedback + export", True, True),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from test_grading import copy_course

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        course = Path(scratch) / "course"
        course.mkdir()
        copy_course(course)
        floor = Path(scratch) / "floor"
        floor.mkdir()
        trivial_course(floor, course)
        plain = Path(scratch) / "plain"
        plain.mkdir()
        copy_course(plain)
        (plain / "nbgrader_config.py").write_text(PLAIN_CONFIG.format(root=str(plain)))
        perfect_class(course, args.students)
        perfect_class(floor, args.students)
        perfect_class(plain, args.students)
        notebooks = sum(len(coursedir.source_notebooks(course, a)) for a in coursedir.assignments(course))
        why = sandbox.available()
        print(f"{args.students} students x {notebooks} notebooks; {os.cpu_count()} cores; "
              f"kernels {'in the sandbox' if why is None else 'NOT sandboxed (' + why + ')'}; "
              f"load average before: {os.getloadavg()[0]:.2f}")
        results = {}
        for label, parallel, feedback in RUNS:
            jobs = args.jobs if parallel else 1
            for name, root in (("course", course), ("floor", floor)):
                seconds, grades = grade(root, jobs, feedback)
                results[name, jobs, feedback] = (seconds, grades)
                rows = [r for rows in grades.values() for r in rows]
                full = all(r.code_score == r.max_code_score for r in rows)
                print(f"  {name:6s} {label:30s} --jobs {jobs}: {seconds:6.1f} s "
                      f"({seconds / args.students:5.1f} s per student)"
                      f"{'' if full else '  (NOT all autograded points!)'}")
        plain_seconds, plain_full = plain_nbgrader(plain, args.students)
        print(f"  {'plain':6s} {'nbgrader autograde, feedback, export':30s} --jobs 1: {plain_seconds:6.1f} s "
              f"({plain_seconds / args.students:5.1f} s per student)"
              f"{'' if plain_full else '  (NOT all autograded points)'}")
        print(f"load average after: {os.getloadavg()[0]:.2f}\n")
        per = {k: v[0] / args.students for k, v in results.items()}
        for label, feedback in (("autograde only", False), ("with feedback and export", True)):
            course_s, floor_s = per["course", 1, feedback], per["floor", 1, feedback]
            print(f"per student, serial, {label + ':':26s} course {course_s:5.1f} s, floor {floor_s:5.1f} s "
                  f"-> {course_s / floor_s:.2f}x the floor (goal <= 1.3x)")
        ours, theirs = per["course", 1, True], plain_seconds / args.students
        print(f"per student, serial, `course grade` against plain nbgrader (autograde + feedback + export): "
              f"{ours:5.1f} s against {theirs:5.1f} s -> {ours / theirs:.2f}x (goal <= 0.6x)")
        for name in ("course", "floor"):
            print(f"speed-up with --jobs {args.jobs} ({name}): {per[name, 1, True] / per[name, args.jobs, True]:.2f}x")
        print("\nautograde time of each notebook (median over students, serial run; floor alongside):")
        course_rows = [r for rows in results["course", 1, False][1].values() for r in rows]
        floor_rows = [r for rows in results["floor", 1, False][1].values() for r in rows]
        for assignment in coursedir.assignments(course):
            for path in coursedir.source_notebooks(course, assignment):
                mine = statistics.median(r.seconds for r in course_rows if r.notebook == path.stem)
                base = statistics.median(r.seconds for r in floor_rows if r.notebook == path.stem)
                print(f"  {assignment}/{path.stem:28s} {mine:5.1f} s   (trivial: {base:4.1f} s)")


if __name__ == "__main__":
    main()
