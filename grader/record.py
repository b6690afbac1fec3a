"""Record grades: the scratch gradebooks of the workers, the class gradebook, its export."""
from dataclasses import dataclass, field

import nbformat

from grader.coursedir import assignments, source_notebooks
from nbgrader.utils import is_grade, is_solution, is_task


# Why a notebook has no grade, as data (NotebookGrade.reason; .problem says it in words).
NOT_SUBMITTED = "not-submitted"          # the assignment was not handed in
MISSING = "missing"                      # the assignment was, without this notebook
UNREADABLE = "unreadable"                # not a notebook, or not valid JSON
TIMED_OUT = "timed-out"                  # a cell ignored the interrupt, or the kernel stopped answering
KERNEL_DIED = "kernel-died"
GRADER_KILLED = "grader-killed"          # the grading process died while grading it
NOT_GRADED = "not-graded"                # any other failure


def to_be_graded(grade):
    """Whether a gradebook grade (nbgrader.api.Grade) waits for a grader's hand: it needs a manual
    grade and has none. (A regrade sets needs_manual_grade again on an answer already graded by
    hand; its manual score stands.)"""
    return bool(grade.needs_manual_grade) and grade.manual_score is None


@dataclass
class NotebookGrade:
    """One student's grade for one notebook."""
    assignment: str
    notebook: str
    score: float | None = None      # None: not submitted
    max_score: float = 0.0
    needs_manual: bool = False
    code_score: float | None = None  # the autograded part
    max_code_score: float = 0.0
    failures: list = field(default_factory=list)  # [Failure] of its cells
    problem: str = ""               # why the notebook was not graded (it then scores 0), in words
    reason: str = ""                # the same as data: "" when graded, else NOT_SUBMITTED, ...
    flags: list = field(default_factory=list)     # what in the student's code needs a look
    seconds: float = 0.0            # autograde run time
    late_penalty: float = 0.0       # points taken off for a late submission (nbgrader_config.py)

    @property
    def name(self):
        return f"{self.assignment}/{self.notebook}"

    @property
    def messages(self):
        """Its failures as lines to show ("grade_id: ename: message"); read the fields instead."""
        return [str(failure) for failure in self.failures]


def scratch_grades(gb, notebook, assignment, student):
    sub = gb.find_submission_notebook(notebook, assignment, student)
    grades = {g.name: (g.auto_score, bool(g.needs_manual_grade)) for g in sub.grades}
    comments = {c.name: c.auto_comment for c in sub.comments}
    return grades, comments


def task_ids(nb):
    """grade_ids of the manually graded task cells of a source notebook."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if is_task(c)]


def set_scratch_grades(gb, notebook, assignment, student, grades):
    sub = gb.find_submission_notebook(notebook, assignment, student)
    for grade in sub.grades:
        if grade.name in grades:
            grade.auto_score = grades[grade.name][0]
    gb.db.commit()


def merge_outcome(gb, outcome):
    """Write one student's grades from their scratch course into the class gradebook. Manual
    grades already given are kept (nbgrader's rule: a manual score overrides the automatic one)."""
    from nbgrader.api import MissingEntry

    gb.update_or_create_student(outcome.student)
    for assignment in dict.fromkeys(row.assignment for row in outcome.notebooks):
        stamp = outcome.timestamps.get(assignment)
        try:
            gb.update_or_create_submission(assignment, outcome.student, **({"timestamp": stamp} if stamp else {}))
        except Exception:  # noqa: BLE001 (an unreadable timestamp.txt: grade without it)
            gb.db.rollback()
            gb.update_or_create_submission(assignment, outcome.student)
        for row in (r for r in outcome.notebooks if r.assignment == assignment):
            try:
                sub = gb.find_submission_notebook(row.notebook, assignment, outcome.student)
            except MissingEntry:
                continue
            for grade in sub.grades:
                if row.problem:
                    grade.auto_score, grade.needs_manual_grade = 0.0, False
                else:
                    grade.auto_score, grade.needs_manual_grade = row.grades.get(grade.name, (0.0, False))
            for comment in sub.comments:
                comment.auto_comment = None if row.problem else row.comments.get(comment.name)
            sub.late_submission_penalty = None if row.problem else row.late_penalty
        gb.db.commit()


def _notebook_maxima(root):
    """{(assignment, notebook): max points} from the source notebooks."""
    maxima = {}
    for assignment in assignments(root):
        for path in source_notebooks(root, assignment):
            nb = nbformat.read(path, as_version=4)
            maxima[(assignment, path.stem)] = sum(
                float(c.metadata.get("nbgrader", {}).get("points", 0))
                for c in nb.cells if is_grade(c) or is_task(c))
    return maxima


@dataclass
class Failure:
    """What went wrong in one cell of an autograded notebook, as fields (never parsed back from
    a message): the test cell's (or, your_code, the student's answer cell's) grade_id, the
    error's name and message, and the known mistake the check named (its verdict record, see
    grader.judge.verdict_record), None when it named none. stderr: the cell wrote to stderr,
    which scores a test cell zero."""
    cell: str
    kind: str
    message: str
    mistake: str | None = None
    your_code: bool = False
    stderr: bool = False

    def __str__(self):
        return f"{self.cell}{' (your code)' if self.your_code else ''}: {self.kind}: {self.message}"


def failures(path):
    """[Failure] of the test and answer cells of an autograded notebook with an error or
    stderr output ([] for a missing or broken file)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 (a missing or broken file simply has no failures)
        return []
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not (is_grade(cell) or is_solution(cell)):
            continue
        grade_id, test = str(cell.metadata["nbgrader"].get("grade_id")), bool(is_grade(cell))
        verdict = cell.metadata.get("course", {}).get("verdict") if test else None
        mistake = verdict.get("mistake") if isinstance(verdict, dict) and type(verdict.get("mistake")) is str else None
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(Failure(grade_id, str(output.get("ename")), str(output.get("evalue")),
                                     mistake=mistake, your_code=not test))
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                first = output.get("text", "").strip().splitlines()[:1]
                found.append(Failure(grade_id, "stderr", f"wrote to stderr (scores zero): {first}", stderr=True))
    return found


def read_grades(api, root, students, maxima=None, outcomes=None):
    """{student: [NotebookGrade]} from the gradebook and the autograded notebooks, with the
    problems, flags and run times of this run's outcomes."""
    from nbgrader.api import Gradebook, MissingEntry

    maxima = maxima or _notebook_maxima(root)
    outcomes = outcomes or {}
    grades = {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for student in students:
            ran = {(r.assignment, r.notebook): r for r in getattr(outcomes.get(student), "notebooks", [])}
            rows = []
            for (assignment, notebook), max_score in maxima.items():
                row = NotebookGrade(assignment, notebook, max_score=max_score)
                try:
                    sub = gb.find_submission_notebook(notebook, assignment, student)
                    row.score, row.max_score = sub.score, sub.max_score
                    row.code_score, row.max_code_score = sub.code_score, sub.max_code_score
                    row.needs_manual = bool(sub.needs_manual_grade)
                    row.late_penalty = sub.late_submission_penalty or 0.0
                except MissingEntry:
                    row.problem, row.reason = "not submitted", NOT_SUBMITTED
                if (assignment, notebook) in ran:
                    outcome = ran[(assignment, notebook)]
                    row.problem, row.flags, row.seconds = outcome.problem, outcome.flags, outcome.seconds
                    row.reason = outcome.reason
                autograded = root / "autograded" / student / assignment / f"{notebook}.ipynb"
                row.failures = failures(autograded)
                rows.append(row)
            grades[student] = rows
    return grades


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
