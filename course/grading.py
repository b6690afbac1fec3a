"""Drive nbgrader for this course: build the release, grade a class, run the demo class, check one notebook.

A thin layer over nbgrader's Python API (`nbgrader.apps.NbGraderAPI`) and its gradebook: each
function does what an instructor would do with nbgrader's own commands, in the course's order,
and returns data the command line prints.
"""
import copy
import csv
import json
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets.config.loader import PyFileConfigLoader

ASSIGNMENTS = ("part_a", "part_b", "part_c")
CONFIG_FILE = "nbgrader_config.py"

# The demo class. Their ids say what they are, so `demo` never mistakes a real student for one.
DEMO_STUDENTS = {
    "demo-perfect": "hands in the reference solution of every answer cell",
    "demo-empty": "hands in the release notebooks untouched",
    "demo-partly-wrong": "makes one realistic mistake per notebook (answers/: the first WRONG)",
    "demo-crashing": "is right everywhere but imports a package the grader lacks in one notebook per part",
}
CRASH_LINE = "import torch  # not installed where the course is graded\n"


# --------------------------------------------------------------------------- course and config

def course_root(start=None):
    """The course folder: the nearest folder at or above `start` (default: the current folder)
    with an nbgrader_config.py and a source/ folder, else the folder this package sits in.

    Raises FileNotFoundError when there is none.
    """
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parents[1]):
        if (folder / CONFIG_FILE).is_file() and (folder / "source").is_dir():
            return folder
    raise FileNotFoundError(
        f"no course here: run this inside the course folder (the one with {CONFIG_FILE} and source/)")


def load_config(config_dir, **course_directory):
    """The nbgrader configuration in config_dir, with CourseDirectory traits overridden by
    keywords (e.g. root=..., db_url=...)."""
    config = PyFileConfigLoader(CONFIG_FILE, path=str(config_dir)).load_config()
    for name, value in course_directory.items():
        setattr(config.CourseDirectory, name, value)
    return config


def make_api(config_dir, **course_directory):
    """An NbGraderAPI for the course configured in config_dir (overrides applied)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _put_scripts_on_path()
    config = load_config(config_dir, **course_directory)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _put_scripts_on_path():
    """nbgrader creates a new gradebook by running the `alembic` command, found on PATH: make the
    scripts of this Python's environment findable even when the environment is not activated."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


@contextmanager
def working_directory(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextmanager
def stderr_to(path):
    """Send this process's stderr, and that of the kernels it starts, to the file `path`.

    Kernels inherit file descriptor 2 and log start-up chatter there; the commands keep it in a
    log file and print their own summary instead.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield path
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def assignments(root):
    """The assignments that have at least one source notebook, in course order."""
    return [a for a in ASSIGNMENTS if any((Path(root) / "source" / a).glob("*.ipynb"))]


def source_notebooks(root, assignment):
    return sorted((Path(root) / "source" / assignment).glob("*.ipynb"))


def _require(result, what):
    if not result.get("success"):
        errors = [l for l in (result.get("log") or "").splitlines() if "ERROR" in l or l.startswith(" ")]
        detail = "\n".join(errors[-30:]) or result.get("error") or ""
        raise RuntimeError(f"{what} failed:\n{detail}")
    return result


# --------------------------------------------------------------------------- release

class StripHiddenTraces(Preprocessor):
    """Reduce every error in a feedback notebook to its message.

    nbgrader puts hidden tests back before grading, so a traceback in the feedback would quote
    hidden test code; the student sees what failed and why, not how it was tested.
    """

    enabled = True  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


def release(root=None):
    """Generate the student version of every assignment into release/ and the solutions into
    solution/ (nbgrader generate_assignment and generate_solution). Returns the written paths."""
    from nbgrader.converters import GenerateSolution as SolutionConverter
    from nbgrader.utils import capture_log, temp_attrs

    root = Path(root or course_root())
    api = make_api(root)
    written = []
    with working_directory(root):
        for assignment in assignments(root):
            _require(api.generate_assignment(assignment, force=True), f"generate_assignment {assignment}")
            with temp_attrs(api.coursedir, assignment_id=assignment):
                app = SolutionConverter(coursedir=api.coursedir, parent=api)
                app.force = True
                _require(capture_log(app), f"generate_solution {assignment}")
            for folder in ("release", "solution"):
                written += sorted((root / folder / assignment).glob("*.ipynb"))
    for path in written:
        _normalise(path)
    return written


def _normalise(path):
    """Rewrite a generated notebook in nbformat's canonical layout so regenerating is byte-stable."""
    nb = nbformat.read(path, as_version=4)
    nbformat.write(nb, str(path))


# --------------------------------------------------------------------------- grading

@dataclass
class NotebookGrade:
    """One student's grade for one notebook."""
    assignment: str
    notebook: str
    score: float | None = None      # None: not graded (missing or failed to grade)
    max_score: float = 0.0
    needs_manual: bool = False
    code_score: float | None = None  # the autograded part
    max_code_score: float = 0.0
    messages: list = field(default_factory=list)  # "grade_id: what failed"
    problem: str = ""               # why there is no score

    @property
    def name(self):
        return f"{self.assignment}/{self.notebook}"


def _notebook_maxima(root):
    """{(assignment, notebook): max points} from the source notebooks."""
    maxima = {}
    for assignment in assignments(root):
        for path in source_notebooks(root, assignment):
            nb = nbformat.read(path, as_version=4)
            maxima[(assignment, path.stem)] = sum(
                float(c.metadata.get("nbgrader", {}).get("points", 0))
                for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                or c.metadata.get("nbgrader", {}).get("task"))
    return maxima


def failure_messages(path):
    """The messages of the failing grade cells of an autograded notebook, as "grade_id: message"."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 (a missing or broken file simply has no messages)
        return []
    messages = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not (meta.get("grade") or meta.get("solution")):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                where = meta.get("grade_id") + ("" if meta.get("grade") else " (your code)")
                messages.append(f"{where}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                first = output.get("text", "").strip().splitlines()[:1]
                messages.append(f"{meta.get('grade_id')}: wrote to stderr (scores zero): {first}")
    return messages


def autograde_student(api, root, assignment, student):
    """Autograde one student's submission of one assignment. Returns the log text."""
    with working_directory(root):
        result = api.autograde(assignment, student, force=True, create=True)
    return result.get("log", "") + (result.get("error") or "")


def read_grades(api, root, students, maxima=None):
    """{student: [NotebookGrade]} from the gradebook and the autograded notebooks."""
    from nbgrader.api import Gradebook, MissingEntry

    maxima = maxima or _notebook_maxima(root)
    grades = {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for student in students:
            rows = []
            for (assignment, notebook), max_score in maxima.items():
                row = NotebookGrade(assignment, notebook, max_score=max_score)
                try:
                    sub = gb.find_submission_notebook(notebook, assignment, student)
                    row.score, row.max_score = sub.score, sub.max_score
                    row.code_score, row.max_code_score = sub.code_score, sub.max_code_score
                    row.needs_manual = bool(sub.needs_manual_grade)
                except MissingEntry:
                    submitted = root / "submitted" / student / assignment / f"{notebook}.ipynb"
                    row.problem = "not graded" if submitted.exists() else "not submitted"
                autograded = root / "autograded" / student / assignment / f"{notebook}.ipynb"
                row.messages = failure_messages(autograded)
                rows.append(row)
            grades[student] = rows
    return grades


def grade_class(root=None, students=None, feedback=True, export=True, progress=print):
    """Autograde every submission in submitted/ (or only `students`), write HTML feedback and
    exports/grades.csv. Returns {student: [NotebookGrade]}."""
    root = Path(root or course_root())
    api = make_api(root)
    submitted = root / "submitted"
    if students is None:
        students = sorted(p.name for p in submitted.iterdir() if p.is_dir()) if submitted.is_dir() else []
    with stderr_to(root / "grading.log"):
        for student in students:
            for assignment in assignments(root):
                if (submitted / student / assignment).is_dir():
                    progress(f"autograding {student} / {assignment}")
                    autograde_student(api, root, assignment, student)
                    if feedback:
                        with working_directory(root):
                            api.generate_feedback(assignment, student, force=True)
    if export:
        export_csv(api, root / "exports" / "grades.csv")
    return read_grades(api, root, students)


def export_csv(api, path):
    """nbgrader's CSV export of the whole gradebook to `path`."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    path.parent.mkdir(parents=True, exist_ok=True)
    plugin = CsvExportPlugin(parent=api)
    plugin.to = str(path)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        plugin.export(gb)
    return path


# --------------------------------------------------------------------------- the demo class

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


def demo(root=None, progress=print):
    """The main job: build the release, create the demo class, autograde it, write feedback and
    the CSV export. Returns {student: [NotebookGrade]}."""
    root = Path(root or course_root())
    progress("building release/ and solution/ from source/")
    release(root)
    students = make_demo_class(root)
    return grade_class(root, students=students, progress=progress)


# --------------------------------------------------------------------------- self-check

def find_source(root, notebook_path):
    """(assignment, source path) of the course notebook that `notebook_path` is a copy of."""
    name = Path(notebook_path).name
    for assignment in ASSIGNMENTS:
        candidate = Path(root) / "source" / assignment / name
        if candidate.exists():
            return assignment, candidate
    known = ", ".join(p.name for a in ASSIGNMENTS for p in source_notebooks(root, a))
    raise FileNotFoundError(f"{name} is not a notebook of this course (known: {known})")


def check_notebook(notebook_path, root=None):
    """Grade one filled-in notebook against the hidden tests, in a scratch course that shares
    nothing with the course's gradebook. Returns (NotebookGrade, [(grade_id, score, max, message)])."""
    from nbgrader.api import Gradebook

    root = Path(root or course_root())
    notebook_path = Path(notebook_path).resolve()
    assignment, source = find_source(root, notebook_path)
    nbformat.read(notebook_path, as_version=4)  # a clear error for a file that is not a notebook
    with tempfile.TemporaryDirectory(prefix="course-check-") as scratch:
        scratch = Path(scratch)
        (scratch / "source" / assignment).mkdir(parents=True)
        shutil.copy(source, scratch / "source" / assignment / source.name)
        target = scratch / "submitted" / "self" / assignment
        target.mkdir(parents=True)
        shutil.copy(notebook_path, target / source.name)
        api = make_api(root, root=str(scratch), db_url=f"sqlite:///{scratch / 'gradebook.db'}")
        with working_directory(scratch):
            _require(api.generate_assignment(assignment, force=True), "generate_assignment")
        autograde_student(api, scratch, assignment, "self")
        autograded = scratch / "autograded" / "self" / assignment / source.name
        row = NotebookGrade(assignment, source.stem, messages=failure_messages(autograded))
        messages = dict(m.split(": ", 1) for m in row.messages)
        tests = []
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            try:
                sub = gb.find_submission_notebook(source.stem, assignment, "self")
            except Exception:  # noqa: BLE001
                row.problem = "could not be graded (see the message above)"
                return row, tests
            row.score, row.max_score = sub.score, sub.max_score
            row.code_score, row.max_code_score = sub.code_score, sub.max_code_score
            row.needs_manual = bool(sub.needs_manual_grade)
            order = {c.metadata.get("nbgrader", {}).get("grade_id"): i
                     for i, c in enumerate(nbformat.read(source, as_version=4).cells)}
            for grade in sorted(sub.grades, key=lambda g: order.get(g.name, 0)):
                if grade.cell_type == "code" and grade.auto_score is not None:
                    tests.append((grade.name, grade.score, grade.max_score, messages.get(grade.name, "")))
                elif grade.score is None:
                    tests.append((grade.name, None, grade.max_score, "graded by hand"))
        return row, tests


# --------------------------------------------------------------------------- reports

def short_name(notebook):
    """'b1_forward' -> 'b1': the sheet's exercise number."""
    return notebook.split("_", 1)[0]


def format_table(grades):
    """A per-student, per-notebook grade table, one row a student, as text."""
    if not grades:
        return "no submissions to grade"
    columns = [(short_name(g.notebook), g.max_score) for g in next(iter(grades.values()))]
    width = max(12, *(len(s) for s in grades))

    def line(label, cells, total):
        return f"{label:{width}s}" + "".join(f"{c:>6s}" for c in cells) + f"  {total}"

    head = line("student", [name for name, _ in columns], "total")
    possible = sum(m for _, m in columns)
    lines = [head, line("(out of)", [f"{m:g} " for _, m in columns], f"{possible:g}"), "-" * len(head)]
    for student, rows in grades.items():
        cells = ["– " if r.score is None else f"{r.score:g}" + ("*" if r.needs_manual else " ")
                 for r in rows]
        total = sum(r.score or 0 for r in rows)
        pct = 100 * total / possible if possible else 0
        lines.append(line(student, cells, f"{total:g} ({pct:.0f}%)"))
    lines.append("* written answers still to be graded by hand in formgrader;  – not submitted or not graded")
    return "\n".join(lines)


def format_problems(grades, limit=3):
    """What went wrong per student and notebook: the first failing tests' messages."""
    lines = []
    for student, rows in grades.items():
        for row in rows:
            if row.problem and row.problem != "not submitted":
                lines.append(f"{student} {row.name}: {row.problem}")
            for message in row.messages[:limit]:
                text = re.sub(r"\s+", " ", message)
                lines.append(f"{student} {row.name}: {text[:160]}")
    return "\n".join(lines)


def grades_as_dict(grades):
    """{student: {"part_b/b1_forward": score or None}}, for tests and JSON output."""
    return {s: {r.name: r.score for r in rows} for s, rows in grades.items()}


def write_json(grades, path):
    Path(path).write_text(json.dumps(grades_as_dict(grades), indent=1, sort_keys=True))


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
