"""The class report: what the class got wrong, read from the gradebook and the graded notebooks.

After grading, a teaching team asks what the class got wrong and what to say in the next
lecture. The course's checks name the mistake behind most failures (the `mistakes={...}` of
course.testing.check_array and course.symbolic.check); the grader records the name it matched
beside the test cell's outputs (a verdict record, grader.judge.verdict_record) and here those
names are tallied over the class, test by test, as data: rewording a message changes no count.
Beside them: the score distributions, the written answers that wait for a grader and the
notebooks that could not be graded.

    collect(root)          -> ClassReport: every number, from the gradebook, autograded/ and
                              the last grading runs' results (exports/grading-results.json)
    summary(report)        -> the short terminal summary (str)
    build(root)            -> collect() and the page, exports/class-report.html
                              (grader.report_page: plots embedded, math as MathML)
    save_results(root, grades)  keep what a grading run found that the gradebook does not hold
                              (why a notebook was not graded, what was flagged for review, when
                              the run ended and its notes)

Numbers are never typed in: scores and pass rates come from nbgrader's gradebook, the failures
from the autograded notebooks' test cells (grader.record.failures).
"""
import datetime
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import coursedir, record, table
from nbgrader.utils import is_grade, is_task

RESULTS = Path("exports") / "grading-results.json"
REPORT = Path("exports") / "class-report.html"
ROSTER = "roster.csv"   # the LMS roster (grader.lms), read here for students' names only
# The entry of grading-results.json about the last run itself: no student has this id, since
# grading skips hidden folders of submitted/ (grader.grading.find_students).
RUN = ".run"

# The sentences with which course.testing and course.symbolic name a known mistake.
NOT_ANSWERED = "not answered (the answer cell still raises NotImplementedError)"
ANSWER_FAILS = "the answer cell itself fails: {}"
NOT_RECOGNISED = "not recognised"
NO_MESSAGE = "lost points without a message (see the autograded notebook)"


def mistake_of(failure, answer_error=None):
    """What went wrong in a failing test (a grader.record.Failure): the known mistake its check
    named (its verdict record); else, when an answer cell of the notebook raised (answer_error,
    a Failure), that error (NOT_ANSWERED for the release stub's NotImplementedError); else
    NOT_RECOGNISED."""
    if failure.mistake:
        return failure.mistake.strip().rstrip(".")
    if answer_error is not None and answer_error.kind == "NotImplementedError" or failure.kind == "NotImplementedError":
        return NOT_ANSWERED
    if answer_error is not None:
        return ANSWER_FAILS.format(f"{answer_error.kind}: {answer_error.message}".strip().splitlines()[0][:120])
    return NOT_RECOGNISED


# --------------------------------------------------------------------------- grading results

def save_results(root, grades):
    """Merge what this grading run found that the gradebook does not hold (per student: why a
    notebook was not graded, what was flagged for review, a failure of the grader itself) into
    exports/grading-results.json; students not graded in this run keep their entry."""
    path = Path(root) / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.is_file() else {}
    failures = getattr(grades, "failures", {})
    results[RUN] = {"finished": _now(), "notes": list(getattr(grades, "notes", []))}
    for student, rows in grades.items():
        results[student] = {
            "notebooks": {r.name: {"problem": r.problem, "reason": r.reason, "flags": list(r.flags)} for r in rows
                          if r.problem or r.flags},
            "error": failures.get(student, ""),
        }
    path.write_text(json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False))
    return path


def _now():
    """The time now, in UTC, to the minute: "2026-12-04 06:40 UTC"."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _load_results(root):
    path = Path(root) / RESULTS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- the numbers

@dataclass
class TestStats:
    """One graded test cell over the class."""
    assignment: str
    notebook: str
    grade_id: str
    points: float
    heading: str = ""                                   # the markdown heading above the cell
    graded: int = 0                                     # students whose notebook was graded
    passed: int = 0
    failures: dict = field(default_factory=dict)        # mistake -> [student]
    examples: dict = field(default_factory=dict)        # mistake -> an anonymised message

    @property
    def label(self):
        return test_label(self.notebook, self.grade_id)

    def ranked(self):
        """[(mistake, students, example)], most students first, 'not recognised' last."""
        return sorted(((m, s, self.examples.get(m, "")) for m, s in self.failures.items()),
                      key=lambda t: (t[0] == NOT_RECOGNISED, -len(t[1]), t[0]))


@dataclass
class NotebookStats:
    """One notebook over the class: autograded scores of those who handed it in."""
    assignment: str
    notebook: str
    title: str
    max_code: float
    max_manual: float
    scores: dict = field(default_factory=dict)          # student -> autograded score
    not_submitted: list = field(default_factory=list)   # students
    not_graded: dict = field(default_factory=dict)      # student -> why
    manual_waiting: list = field(default_factory=list)  # students with written answers to grade
    manual_cells: int = 0                               # written answers still to grade

    @property
    def name(self):
        return f"{self.assignment}/{self.notebook}"

    def median(self):
        return statistics.median(self.scores.values()) if self.scores else None

    def full_marks(self):
        """How many students have every autograded point."""
        return sum(1 for s in self.scores.values() if s >= self.max_code > 0)

    def zero(self):
        """How many graded students have no autograded point."""
        return sum(1 for s in self.scores.values() if s <= 0)


@dataclass
class ClassReport:
    students: list
    notebooks: list                                     # [NotebookStats], course order
    tests: list                                         # [TestStats], course order
    flagged: list = field(default_factory=list)         # [(student, notebook, flag)]
    failures: dict = field(default_factory=dict)        # student -> grader failure
    sources: dict = field(default_factory=dict)         # notebook name -> source notebook
    course_id: str = ""                                 # nbgrader's CourseDirectory.course_id
    built: str = ""                                     # when the report was made ("2026-12-04 06:40 UTC")
    graded: str = ""                                    # when the last grading run ended ("" unknown)
    notes: list = field(default_factory=list)           # that run's notes (files not graded, no sandbox...)
    names: dict = field(default_factory=dict)           # student -> name (gradebook, else roster)
    feedback: dict = field(default_factory=dict)        # (student, notebook name) -> "feedback/.../x.html"
    root: str = ""                                      # the course folder (the feedback paths are in it)

    def _grouped(self):
        """{mistake: (students, [TestStats], points lost)} of the named mistakes."""
        students, where, names, lost = defaultdict(set), defaultdict(list), defaultdict(set), defaultdict(float)
        for test in self.tests:
            for mistake, who in test.failures.items():
                if not named(mistake):
                    continue
                # one mistake worded at more length by another test: "the variance divides by
                # N-1 (ddof=1)" and "the variance divides by N-1 (ddof=1); batch norm uses 1/N"
                key = re.split(r";|: ", mistake, maxsplit=1)[0].strip()
                names[key].add(mistake)
                students[key] |= set(who)
                lost[key] += test.points * len(who)
                if test not in where[key]:
                    where[key].append(test)
        return {min(names[k], key=len): (sorted(students[k]), where[k], lost[k]) for k in students}

    def mistakes(self):
        """[(mistake, students, [TestStats])] over the whole class: named mistakes only, by the
        number of students they affect, then by the points they cost the class, then by name (so
        that ties come out the same way every time)."""
        grouped = self._grouped()
        return [(m, who, where) for m, (who, where, _) in
                sorted(grouped.items(), key=lambda kv: (-len(kv[1][0]), -kv[1][2], kv[0]))]

    def points_lost(self):
        """{mistake: the points the class lost to it} (a student failing two tests under the
        same mistake loses both tests' points)."""
        return {m: lost for m, (_, _, lost) in self._grouped().items()}

    def name(self, student):
        """'Ada Lovelace (ada)', or the id alone when no name is known."""
        known = self.names.get(student, "")
        return f"{known} ({student})" if known else student

    def handed_in_nothing(self):
        """The students who handed in none of the notebooks."""
        return [s for s in self.students if all(s in nb.not_submitted for nb in self.notebooks)]


def named(mistake):
    """True for the name of a known mistake, False for the other kinds of failure."""
    return mistake not in (NOT_RECOGNISED, NOT_ANSWERED, NO_MESSAGE) and not mistake.startswith(
        ANSWER_FAILS.format(""))


def test_label(notebook, grade_id):
    """'b1_forward', 'b1-test-values' -> 'B1 · values'."""
    short = table.short_name(notebook)
    rest = re.sub(rf"^{re.escape(short)}-(test-)?", "", grade_id)
    return f"{short.upper()} · {rest}"


def _anonymise(message, students):
    for student in sorted(students, key=len, reverse=True):
        if student:
            message = message.replace(student, "<student>")
    message = re.sub(r"(/[^\s/:'\"]+)+/", "…/", message)   # folders of the grading machine
    return message[:600]


def _test_failures(path):
    """({grade_id: Failure} of the test cells that failed in an autograded notebook, the Failure
    of the first answer cell with an error or None)."""
    out, answer = {}, None
    for failure in record.failures(path):
        if failure.your_code:
            answer = answer or failure
        else:
            out.setdefault(failure.cell, failure)
    return out, answer


def _headings(source_nb):
    """{grade_id: the last markdown heading before the cell}, and the notebook's title."""
    title, last, found = "", "", {}
    for cell in source_nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    text = line.lstrip("#").strip()
                    title = title or text
                    last = text
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            found[grade_id] = last
    return title, found


def _tally(by_test, grades, autograded, student, students):
    """Count one student's graded notebook into its tests: a pass, or a failure under the name
    of what went wrong (mistake_of the test's message in the autograded notebook)."""
    failures = answer_error = None   # read only when a test failed: most notebooks pass
    for grade in grades:
        test = by_test.get(grade.name)
        if test is None:
            continue
        test.points = float(grade.max_score or 0.0)
        test.graded += 1
        if (grade.score or 0.0) >= test.points:
            test.passed += 1
            continue
        if failures is None:
            failures, answer_error = _test_failures(autograded)
        failure = failures.get(grade.name)
        mistake = mistake_of(failure, answer_error) if failure else NO_MESSAGE
        test.failures.setdefault(mistake, []).append(student)
        if failure and mistake not in test.examples:
            test.examples[mistake] = _anonymise(f"{failure.kind}: {failure.message}", students)


def _names(gb, root):
    """{student: "First Last"} from the gradebook, else from the roster (roster.csv)."""
    from grader.lms import read_roster

    try:
        roster = read_roster(root / ROSTER) if (root / ROSTER).is_file() else {}
    except (OSError, ValueError):   # a roster that cannot be read costs only the names
        roster = {}
    names = {}
    for student in gb.students:
        row = roster.get(student.id, {})
        first = student.first_name or row.get("first_name", "")
        last = student.last_name or row.get("last_name", "")
        if f"{first} {last}".strip():
            names[student.id] = f"{first} {last}".strip()
    return names


def collect(root=None, db_url=None):
    """Every number of the class report: a ClassReport of the class in the gradebook (db_url,
    default: the course's), its autograded notebooks, the feedback pages and the saved grading
    results."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(root or coursedir.course_root())
    api = coursedir.make_api(root, **({"db_url": db_url} if db_url else {}))
    # a report of no gradebook is refused (grader.coursedir.Refused); nbgrader would make an empty one
    coursedir.check_gradebook(api.coursedir.db_url, must_exist=True)
    results = _load_results(root)
    run = results.pop(RUN, {})
    notebooks, tests, flagged, sources, feedback = [], [], [], {}, {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        students = sorted(s.id for s in gb.students)
        names = _names(gb, root)
        for assignment in coursedir.assignments(root):
            for path in coursedir.source_notebooks(root, assignment):
                source = nbformat.read(path, as_version=4)
                title, headings = _headings(source)
                sources[f"{assignment}/{path.stem}"] = source
                cells = [c.metadata["nbgrader"] for c in source.cells if is_grade(c) or is_task(c)]
                test_ids = [m["grade_id"] for m in cells if m.get("grade") and not m.get("solution")
                            and not m.get("task") and m.get("grade_id")]
                manual = sum(float(m.get("points", 0)) for m in cells if m.get("task") or m.get("solution"))
                code = sum(float(m.get("points", 0)) for m in cells if m["grade_id"] in test_ids)
                stats = NotebookStats(assignment, path.stem, title, code, manual)
                by_test = {g: TestStats(assignment, path.stem, g, 0.0, headings.get(g, "")) for g in test_ids}
                for student in students:
                    saved = results.get(student, {}).get("notebooks", {}).get(stats.name, {})
                    flagged += [(student, stats.name, flag) for flag in saved.get("flags", [])]
                    page = Path("feedback", student, assignment, f"{path.stem}.html")
                    if (root / page).is_file():   # also the page saying it was not handed in
                        feedback[student, stats.name] = page.as_posix()
                    try:
                        sub = gb.find_submission_notebook(path.stem, assignment, student)
                    except MissingEntry:
                        stats.not_submitted.append(student)
                        continue
                    autograded = root / "autograded" / student / assignment / f"{path.stem}.ipynb"
                    problem = saved.get("problem", "")
                    if saved.get("reason") in (record.NOT_SUBMITTED, record.MISSING) or (
                            not autograded.exists()
                            and not (root / "submitted" / student / assignment / f"{path.stem}.ipynb").exists()):
                        stats.not_submitted.append(student)
                        continue
                    if problem or not autograded.exists():
                        stats.not_graded[student] = problem or "no autograded notebook (see grading.log)"
                        continue
                    stats.scores[student] = float(sub.code_score or 0.0)
                    waiting = [g for g in sub.grades if record.to_be_graded(g)]
                    if waiting:
                        stats.manual_waiting.append(student)
                        stats.manual_cells += len(waiting)
                    _tally(by_test, sub.grades, autograded, student, students)
                notebooks.append(stats)
                tests += by_test.values()
    failures = {s: r["error"] for s, r in results.items() if r.get("error") and s in students}
    return ClassReport(students, notebooks, tests, flagged, failures, sources, course_id=api.coursedir.course_id,
                       built=_now(), graded=run.get("finished", ""), notes=list(run.get("notes", [])),
                       names=names, feedback=feedback, root=str(root))


# --------------------------------------------------------------------------- terminal

def share(part, whole):
    """part of whole as a percentage for people: "25%", or "–" of nothing."""
    return f"{100 * part / whole:.0f}%" if whole else "–"


def summary(report, limit=3):
    """The class report in a few lines for the terminal."""
    n = len(report.students)
    lines = [f"Class report: {n} students"]
    for nb in report.notebooks:
        median = nb.median()
        lines.append(
            f"  {table.short_name(nb.notebook):4s} median {'–' if median is None else f'{median:g}'}"
            f"/{nb.max_code:g}  full marks {share(nb.full_marks(), n)}"
            f"  not submitted {share(len(nb.not_submitted), n)}"
            + (f"  not graded {len(nb.not_graded)}" if nb.not_graded else "")
            + (f"  written answers to grade {nb.manual_cells}" if nb.manual_cells else ""))
    top = report.mistakes()[:limit]
    if top:
        lines.append("Most common mistakes:")
        for mistake, who, where in top:
            lines.append(f"  {len(who)} of {n}: {mistake}  ({', '.join(t.label for t in where)})")
    if report.flagged:
        lines.append(f"Flagged for review: {len(report.flagged)} (see the report)")
    return "\n".join(lines)



def build(root=None, db_url=None):
    """collect() and write exports/class-report.html. Returns (ClassReport, path)."""
    from grader.report_page import write_html

    root = Path(root or coursedir.course_root())
    report = collect(root, db_url)
    return report, write_html(report, root / REPORT, config=coursedir.load_config(root))
