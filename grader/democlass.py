"""The demo class: four students whose notebooks are built from source/ and answers/."""
import copy
import os
import shutil
import sys
from pathlib import Path

import nbformat

from grader import sandbox
from grader.build import release
from grader.coursedir import assignments, course_root, make_api, source_notebooks
from grader.grading import grade_class

# The demo class. Their ids say what they are, so `demo` never mistakes a real student for one.
DEMO_STUDENTS = {
    "demo-perfect": "hands in the reference solution of every answer cell",
    "demo-empty": "hands in the release notebooks untouched",
    "demo-partly-wrong": "makes one realistic mistake per notebook (answers/: the first WRONG)",
    "demo-crashing": "is right everywhere but imports a package the grader lacks in one notebook per part",
}
CRASH_LINE = "import torch  # not installed where the course is graded\n"


def _solution_source(cell):
    """A source solution cell's code as a student would hand it in: the markers removed."""
    lines = [l for l in cell.source.splitlines()
             if "BEGIN SOLUTION" not in l and "END SOLUTION" not in l]
    return "\n".join(lines) + "\n"


def _load_answers(root, assignment, notebook):
    """The WRONG list of answers/<assignment>/<notebook>.py, or [] when there is none."""
    import runpy

    path = Path(root) / "answers" / assignment / f"{notebook}.py"
    if not path.exists():
        return []
    sys.path.insert(0, str(root))
    try:
        return list(runpy.run_path(str(path)).get("WRONG", []))
    finally:
        sys.path.remove(str(root))


def fill_release(release_nb, answers):
    """A copy of a release notebook with its solution cells (by grade_id) replaced by `answers`."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def demo_submission(root, student, assignment, path, crash):
    """The notebook `student` of the demo class hands in for source notebook `path`."""
    source = nbformat.read(path, as_version=4)
    release_nb = nbformat.read(Path(root) / "release" / assignment / path.name, as_version=4)
    perfect = {c.metadata["nbgrader"]["grade_id"]: _solution_source(c) for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    if student == "demo-empty":
        return release_nb
    answers = dict(perfect)
    if student == "demo-partly-wrong":
        wrong = _load_answers(root, assignment, path.stem)
        if wrong:
            answers.update(wrong[0].cells)
    if student == "demo-crashing" and crash and perfect:
        first = next(iter(perfect))
        answers[first] = CRASH_LINE + answers[first]
    return fill_release(release_nb, answers)


def make_demo_class(root):
    """Write the demo class's submissions into submitted/, replacing only the demo students'
    earlier files and gradebook entries."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(root)
    api = make_api(root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for student in DEMO_STUDENTS:
            for assignment in assignments(root):
                try:
                    gb.remove_submission(assignment, student)
                except MissingEntry:
                    pass
            first, last = student.split("-", 1)
            gb.update_or_create_student(student, first_name=first.title(), last_name=last)
    for student in DEMO_STUDENTS:
        for folder in ("submitted", "autograded", "feedback"):
            shutil.rmtree(root / folder / student, ignore_errors=True)
        for assignment in assignments(root):
            notebooks = source_notebooks(root, assignment)
            crashing = notebooks[-1].stem  # the last notebook of each part crashes
            target = root / "submitted" / student / assignment
            target.mkdir(parents=True)
            for path in notebooks:
                nb = demo_submission(root, student, assignment, path, crash=path.stem == crashing)
                nbformat.write(nb, str(target / path.name))
    return list(DEMO_STUDENTS)


def demo(root=None, progress=print, bar=False):
    """The main job: build the release, create the demo class, autograde it, write feedback and
    the CSV export. Returns {student: [NotebookGrade]}."""
    root = Path(root or course_root())
    progress("building release/ and solution/ from source/")
    release(root)
    students = make_demo_class(root)
    # the course's own demo class: sandboxed where the sandbox runs, and graded anyway where not
    return grade_class(root, students=students, progress=progress, jobs=min(4, os.cpu_count() or 1), bar=bar,
                       unsandboxed=sandbox.available() is not None)
