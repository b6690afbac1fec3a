"""Grade a class: every student's notebooks, each on its own, by worker processes.

The stages a submission passes through, one module each:
- read and repair (grader.repair): the handed-in file read, the notebook rebuilt around the
  instructor's cells, however its metadata was mangled;
- run sandboxed and judge (grader.execute, grader.sandbox, grader.judge): nbgrader's autograde in
  a private scratch course, the kernel in the sandbox running the student's code, each test cell
  judged in a sandboxed process of its own (grader.judge_process), the kernel asked only for values
  (course.agent);
- review (grader.review): the scan of the student's code, for the instructor to review;
- record (grader.record): the scratch gradebook's grades into the class gradebook, the export;
- report (grader.table, grader.report): the table, the problems, the class report.

This module runs them for a class (grade_class): each student graded in a private scratch course
by one of several worker processes (grader.workers), one notebook at a time (a kernel that dies
loses only its notebook), and one process alone writing the class gradebook (SQLite or
PostgreSQL). Around it: grader.build (release/), grader.democlass (the demo class),
grader.selfcheck (`course check`), grader.coursedir (the course folder and nbgrader's API).
"""
import hashlib
import html
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import sandbox
from grader.coursedir import (
    Refused, assignments, course_root, grading_key, make_api, require_success, shared_engines, source_notebooks,
    stderr_to, working_directory)
from grader import execute
from grader.execute import last_failure
from grader.progress import GradingProgress
from grader.record import (
    GRADER_KILLED, KERNEL_DIED, MISSING, NOT_GRADED, TIMED_OUT, UNREADABLE, export_csv, merge_outcome,
    read_grades, scratch_grades, set_scratch_grades, task_ids)
from grader.repair import read_submission, repair
from grader.review import notebook_rules, scan_notebook, skip_tag_flags
from grader.workers import Workers

SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")  # written by nbgrader submit
SCRATCH_ID = "student"          # the id a submission has inside its private scratch course
DEFAULT_MEMORY_MB = 4096        # address space of a student's kernel (and of its grading process)


@dataclass
class NotebookOutcome:
    """What grading one notebook of one student in its scratch course gave (sent between processes)."""
    assignment: str
    notebook: str
    problem: str = ""                             # "" when graded
    reason: str = ""                              # the same as data (grader.record: NOT_SUBMITTED, ...)
    grades: dict = field(default_factory=dict)    # grade_id -> (auto_score, needs_manual_grade)
    comments: dict = field(default_factory=dict)  # grade_id -> auto_comment
    flags: list = field(default_factory=list)
    seconds: float = 0.0
    late_penalty: float | None = None             # nbgrader's AssignLatePenalties, in the scratch course


@dataclass
class StudentOutcome:
    student: str
    notebooks: list = field(default_factory=list)   # [NotebookOutcome]
    timestamps: dict = field(default_factory=dict)  # assignment -> timestamp.txt contents
    notes: list = field(default_factory=list)       # files not graded, ...
    error: str = ""                                  # the grader itself failed (not the student)


class TemplateChanged(RuntimeError):
    """A file of the template scratch course is not the one built for this run: something wrote it
    while the class was graded. The student is not graded (a failure of the grader)."""


def _template_file(task, name):
    """The bytes of the template's file `name` ("gradebook.db", "release/part_b/b1_forward.ipynb"),
    checked against the SHA-256 recorded when the template was built (task["template_sha256"]);
    raises TemplateChanged when they differ. The bytes checked are the bytes used."""
    path = Path(task["template"]) / name
    data = path.read_bytes()
    expected = (task.get("template_sha256") or {}).get(name)
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        what = "gradebook" if name == "gradebook.db" else f"file {name}"
        raise TemplateChanged(
            f"the template {what} changed while the class was graded: {path} has SHA-256 {found[:16]}, "
            + (f"{expected[:16]} when it was built" if expected else "none was recorded when it was built")
            + "; this student was not graded")
    return data


def _why_not_graded(failure, log):
    """(reason, words) for a notebook nbgrader could not grade: failure is what the executor
    recorded (grader.execute.last_failure()); the log only fills in the words of any other."""
    if failure == "ignored-interrupt":
        return TIMED_OUT, ("a cell ran past the timeout and ignored the interrupt (it catches KeyboardInterrupt "
                           "or ignores SIGINT): the kernel was stopped, scored 0")
    if failure == "unresponsive":
        return TIMED_OUT, "the kernel stopped responding after a timeout: scored 0"
    if failure == "kernel-died":
        return KERNEL_DIED, "kernel died (the notebook crashed Python, e.g. os._exit or out of memory): scored 0"
    errors = [l.strip() for l in log.splitlines() if l.strip() and "[" not in l[:1]]
    return NOT_GRADED, "could not be graded: " + (errors[-1][:200] if errors else "see grading.log") + ": scored 0"


def _ungraded_page(path, notebook, problem, reason=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    said = f"This notebook was {problem}: it scores 0." if reason == MISSING else (
        f"This notebook could not be graded: {problem}.")
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{0}</title></head><body>\n"
        "<h4>{0} (Score: 0)</h4>\n<p>{1}</p>\n"
        "</body></html>\n".format(html.escape(notebook), html.escape(said)))


def _grade_notebook(api, scratch, task, assignment, path, source_path, row, outcome):
    """grade_notebook with the source and release notebooks of the run's template."""
    source_nb = nbformat.read(source_path, as_version=4)
    release_nb = nbformat.reads(_template_file(task, f"release/{assignment}/{path.name}").decode("utf-8"),
                                as_version=4)
    return grade_notebook(api, scratch, assignment, path, source_nb, release_nb, row, outcome.notes)


def grade_notebook(api, scratch, assignment, path, source_nb, release_nb, row, notes, student=SCRATCH_ID):
    """The steps of grading one handed-in notebook in a scratch course (api, scratch: one with the
    assignment generated), as `course grade` and `course check` both take them: read it
    (read_submission), rebuild it around the instructor's cells (repair), scan the student's code
    (scan_notebook), autograde it (a failed start tried once more), read its grades. Fills row (a
    NotebookOutcome) and appends repair's notes to `notes`; True when it was graded, else
    row.problem and row.reason say why."""
    from nbgrader.api import Gradebook

    nb, row.problem = read_submission(path)
    if nb is None:
        row.reason = UNREADABLE
        return False
    repaired, repaired_notes = repair(nb, release_nb, source_nb)
    notes += [f"{assignment}/{row.notebook}: {note}" for note in repaired_notes]
    (scratch / "submitted" / student / assignment).mkdir(parents=True, exist_ok=True)
    nbformat.write(repaired, str(scratch / "submitted" / student / assignment / path.name))
    rules = notebook_rules(source_nb)
    try:
        row.flags = list(dict.fromkeys(scan_notebook(repaired, rules) + skip_tag_flags(nb)))
    except Exception as error:  # noqa: BLE001 (code the scan cannot walk, e.g. nested too deeply)
        row.flags = [f"the scan could not read the student's code ({type(error).__name__}); not scanned"]
    started = time.perf_counter()
    ok = _autograde_notebook(api, scratch, assignment, path.name, student, row)
    row.seconds = time.perf_counter() - started
    if not ok:
        return False
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        row.grades, row.comments = scratch_grades(gb, row.notebook, assignment, student)
        row.late_penalty = gb.find_submission_notebook(row.notebook, assignment, student).late_submission_penalty
    # nbgrader scores the notebooks not yet copied in as missing (0, no manual grade
    # needed), and autograde never revisits task cells: a task cell of a notebook
    # that was graded always awaits the grader's hand.
    for grade_id in task_ids(source_nb):
        row.grades[grade_id] = (None, True)
    return True


def grade_student(task, report=None):
    """Autograde one student's submissions in a private scratch course and copy the autograded
    notebooks and feedback into the course. Runs in a worker process; returns a StudentOutcome.

    task: dict(root, template, template_sha256 ({file of the template: SHA-256}, checked before a
    file is used: a changed one fails this student with TemplateChanged), student, timeout,
    feedback, duedates, notebooks (["part_b/b1_forward", ...]: grade only these, leaving the
    student's other notebooks, their autograded files and feedback as they are; None: all), and
    killed: {"part_b/b1_forward": why} for notebooks that killed an earlier worker, scored 0 with
    that reason); report(step, scratch), if given, is called before each notebook (grader.workers).
    Each notebook is read and repaired (grader.repair) and graded
    on its own (a kernel that dies loses only its notebook), in a kernel started in an empty
    folder, each test cell judged in this process (grader.judge).
    """
    with shared_engines(scratch=True):  # the scratch gradebook, opened a dozen times a notebook
        return _grade_student(task, report)


def _grade_student(task, report):
    from nbgrader.api import Gradebook

    root, student = Path(task["root"]), task["student"]
    outcome = StudentOutcome(student)
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        # the checked bytes, not a copy of the file: its read-only mode stays with the template
        (scratch / "gradebook.db").write_bytes(_template_file(task, "gradebook.db"))
        overrides = {"IsolatedExecute.sandbox": bool(task.get("sandbox")), "IsolatedExecute.prestart": True,
                     "IsolatedExecute.zygote": True,
                     "IsolatedExecute.sizes_key": task.get("sizes_key", "")}
        if task.get("timeout"):
            overrides["IsolatedExecute.timeout"] = task["timeout"]
        api = make_api(root, root=str(scratch), db_url=f"sqlite:///{scratch / 'gradebook.db'}",
                       overrides=overrides)
        only = task.get("notebooks")
        for assignment in assignments(root):
            handed_in = root / "submitted" / student / assignment
            if not handed_in.is_dir() or (only is not None and not any(n.startswith(f"{assignment}/") for n in only)):
                continue
            if (task.get("duedates") or {}).get(assignment):
                # the class gradebook's due date, so that nbgrader's AssignLatePenalties applies
                # the late-penalty settings of nbgrader_config.py against timestamp.txt
                with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
                    gb.update_or_create_assignment(assignment, duedate=task["duedates"][assignment])
            (scratch / "source" / assignment).mkdir(parents=True, exist_ok=True)
            target = scratch / "submitted" / SCRATCH_ID / assignment
            target.mkdir(parents=True)
            # nbgrader's own files of a submission: its time, and the secret that names its
            # feedback in the exchange (release_feedback reads it from feedback/, where
            # generate_feedback copies it)
            for kept in SUBMISSION_FILES:
                if (handed_in / kept).is_file():
                    shutil.copy(handed_in / kept, target / kept)
            if (handed_in / "timestamp.txt").is_file():
                outcome.timestamps[assignment] = (handed_in / "timestamp.txt").read_text().strip()
            expected = {p.name: p for p in source_notebooks(root, assignment)}
            shipped = root / "source" / assignment  # files the assignment hands out (conventions.md)
            extra = sorted(str(p.relative_to(handed_in)) for p in handed_in.rglob("*")
                           if p.is_file() and p.name not in expected and p.name not in SUBMISSION_FILES
                           and ".ipynb_checkpoints" not in p.parts
                           and not (shipped / p.relative_to(handed_in)).is_file())
            if extra:
                outcome.notes.append(f"{assignment}: files not graded: {', '.join(extra)}")
            if only is not None:
                expected = {n: p for n, p in expected.items() if f"{assignment}/{p.stem}" in only}
            graded = []
            for name, source_path in expected.items():
                row = NotebookOutcome(assignment, source_path.stem)
                outcome.notebooks.append(row)
                step = f"{assignment}/{source_path.stem}"
                if step in (task.get("killed") or {}):
                    row.problem, row.reason = task["killed"][step], GRADER_KILLED
                    continue
                if report is not None:
                    report(step, str(scratch))
                if not (handed_in / name).is_file():
                    row.problem, row.reason = f"not submitted ({assignment} was handed in without {name})", MISSING
                    continue
                try:
                    if _grade_notebook(api, scratch, task, assignment, handed_in / name, source_path, row, outcome):
                        graded.append(row)
                except TemplateChanged:
                    raise  # the grader's failure, not this notebook's
                except Exception as error:  # noqa: BLE001 (this notebook's fault or the grader's: it alone scores 0)
                    import traceback

                    traceback.print_exc()  # into grading.log
                    row.problem = f"could not be graded ({type(error).__name__}: {str(error)[:200]}): scored 0"
                    row.reason = NOT_GRADED
                    row.grades = {}
                    (scratch / "autograded" / SCRATCH_ID / assignment / name).unlink(missing_ok=True)
            if graded and task.get("feedback", True):
                with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
                    for row in graded:
                        set_scratch_grades(gb, row.notebook, assignment, SCRATCH_ID, row.grades)
                with working_directory(scratch):
                    result = api.generate_feedback(assignment, SCRATCH_ID, force=True)
                if not result.get("success"):
                    outcome.notes.append(f"{assignment}: some feedback could not be written (see grading.log)")
            for folder, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
                mine = root / folder / student / assignment
                if only is None:
                    shutil.rmtree(mine, ignore_errors=True)
                else:  # the notebooks graded now replace theirs; the others' files stay
                    for path in expected.values():
                        (mine / f"{path.stem}{suffix}").unlink(missing_ok=True)
                if (scratch / folder / SCRATCH_ID / assignment).is_dir():
                    shutil.copytree(scratch / folder / SCRATCH_ID / assignment, mine, dirs_exist_ok=True)
            if task.get("feedback", True):
                for row in outcome.notebooks:
                    if row.assignment == assignment and row.problem:
                        _ungraded_page(root / "feedback" / student / assignment / f"{row.notebook}.html",
                                       row.notebook, row.problem, row.reason)
    except Exception:  # noqa: BLE001 (reported as a failure of the grader, not of the student)
        import traceback

        outcome.error = traceback.format_exc()
    finally:
        execute.end_student()  # no later student's kernel comes from a process this one's code ran in
        shutil.rmtree(scratch, ignore_errors=True)
    return outcome


ATTEMPTS = 2  # a notebook that cannot be graded is tried once more before it scores 0


def _autograde_notebook(api, scratch, assignment, name, student, row):
    """Autograde one notebook in the scratch course; True when it was graded. A notebook nbgrader
    could not grade (a kernel that died or failed to start) is tried again once, so that a
    hiccup of the machine never costs a student points; a timeout is not retried."""
    from nbgrader.utils import temp_attrs

    for _ in range(ATTEMPTS):
        last_failure(clear=True)
        with temp_attrs(api.coursedir, notebook_id=Path(name).stem):
            log = autograde_student(api, scratch, assignment, student)
        if (scratch / "autograded" / student / assignment / name).exists():
            row.problem, row.reason = "", ""
            return True
        row.reason, row.problem = _why_not_graded(last_failure(), log)
        if row.reason == TIMED_OUT:
            break
    return False


_STEPS = None  # in a worker: the write end of the pipe that tells the run which notebook begins


def _init_worker(memory_mb, steps=None, sandboxed=None):
    """A grading process: a memory ceiling for it and the kernels it starts, one BLAS thread
    (the same numbers in serial and parallel runs), and no gradebook address for student code.
    steps: a connection to send (student, "part_b/b1_forward") to before each notebook (the
    progress bar of grade_class); every worker writes into the same pipe, each message in one
    write of a few bytes, which a pipe never interleaves. sandboxed (True or False): start the
    processes the first student's kernels and judges are forked from now, while the template
    is built."""
    import resource

    global _STEPS
    _STEPS = steps
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    os.environ.pop("COURSE_DB_URL", None)
    if memory_mb:
        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if sandboxed is not None:
        from grader.judge_process import _Zygote

        execute.start_zygote(sandboxed)
        try:
            _Zygote.get(sandboxed)
        except Exception:  # noqa: BLE001 (the first notebook starts one, and says why if it cannot)
            pass


def _grade_student_telling(task, report):
    """grade_student, and each notebook's start sent to the run's progress bar (_init_worker)."""
    def step(where, scratch=None):
        report(where, scratch)
        if _STEPS is not None:
            try:
                _STEPS.send((task["student"], where))
            except OSError:  # the run is gone or done: only the bar misses a step
                pass

    return grade_student(task, step)


def _build_template(root, folder, db_url=None):
    """generate_assignment for every assignment in a scratch copy of source/, recording them in
    the gradebook db_url (default: a new SQLite gradebook in folder)."""
    for assignment in assignments(root):
        shutil.copytree(root / "source" / assignment, folder / "source" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"), dirs_exist_ok=True)
    api = make_api(root, root=str(folder), db_url=db_url or f"sqlite:///{folder / 'gradebook.db'}")
    with working_directory(folder):
        for assignment in assignments(root):
            require_success(api.generate_assignment(assignment, force=True), f"generate_assignment {assignment}")
    return folder


def _seal_template(folder):
    """Make the template read-only to every process that grades a student (files 0444, folders
    0555, as far as the OS allows) and return {file, relative to folder: SHA-256} of its files.
    A grader running as root writes through the modes: each worker checks a file's hash before
    it uses it (_template_file)."""
    hashes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            hashes[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    for path in [*folder.rglob("*"), folder]:
        try:
            if not path.is_symlink():
                path.chmod(0o555 if path.is_dir() else 0o444)
        except OSError:  # a file system without modes: the hashes still hold
            pass
    return hashes


def _ensure_assignments(api, root):
    """Record the course's assignments in the class gradebook when it lacks any notebook of them
    (a new PostgreSQL gradebook, say), as `course release` would."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        missing = False
        for assignment in assignments(root):
            for path in source_notebooks(root, assignment):
                try:
                    gb.find_notebook(path.stem, assignment)
                except MissingEntry:
                    missing = True
    if missing:
        with tempfile.TemporaryDirectory(prefix="course-register-") as folder:
            _build_template(root, Path(folder), db_url=api.coursedir.db_url)


class ClassGrades(dict):
    """{student: [NotebookGrade]}, with what else the run found: .notes (files and folders not
    graded), .failures ({student: traceback} where the grader itself failed) and .selection (the
    notebooks graded, ["part_b/b1_forward", ...], when only part of the course was; else None:
    the rows then hold every notebook)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.notes, self.failures, self.selection = [], {}, None


KILLED = ("the grading process was killed while grading this notebook (its code ended the "
          "process that ran it, e.g. by signalling its parent): scored 0")


def _after_death(task, died_at):
    """When the worker grading `task` died at step `died_at` ("part_b/b1_forward"): None after
    marking that notebook in task["killed"] (to be graded again without it), or the
    StudentOutcome of a grader failure when the worker died outside any notebook twice."""
    killed = task.setdefault("killed", {})
    if died_at is not None and died_at not in killed:
        killed[died_at] = KILLED
        return None
    task["deaths"] = task.get("deaths", 0) + 1
    if task["deaths"] < 2:
        return None
    return StudentOutcome(task["student"], error=f"the grading process died twice (last at {died_at or 'start-up'})")


def find_students(root):
    """(student folders in submitted/, notes about entries that are not students)."""
    submitted = Path(root) / "submitted"
    students, notes = [], []
    for entry in sorted(submitted.iterdir()) if submitted.is_dir() else []:
        if entry.name.startswith("."):
            notes.append(f"submitted/{entry.name}: hidden folder or file, not graded")
        elif not entry.is_dir():
            notes.append(f"submitted/{entry.name}: a file, not a student folder; not graded")
        else:
            students.append(entry.name)
    return students, notes


@dataclass
class Plan:
    """What a grading run will grade (grader.grading.plan), checked before anything is done."""
    students: list                # student ids, as their folders in submitted/
    notebooks: list               # ["part_b/b1_forward", ...]: what is graded of each student
    partial: bool                 # only part of the course (--assignment, --notebook)
    handed_in: dict               # student -> {"part_b/b1_forward": True when the file is there}
    notes: list = field(default_factory=list)   # entries of submitted/ that are not graded


def _listed(names, limit=12):
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") if names else "none"


def _notebook_named(name, course):
    """The "part_b/b1_forward" that `name` means ("b1", "b1_forward", "b1_forward.ipynb",
    "part_b/b1_forward"), or None."""
    name = name.strip().removesuffix(".ipynb")
    for assignment, stems in course.items():
        for stem in stems:
            if name in (stem, stem.split("_", 1)[0], f"{assignment}/{stem}"):
                return f"{assignment}/{stem}"
    return None


def plan(root, students=None, assignment_ids=None, notebooks=None):
    """The Plan of a grading run over the course in `root`: every student folder of submitted/
    (or only `students`), every notebook of the course (or those of `assignment_ids`, or the
    `notebooks` named as in _notebook_named). Raises Refused, before anything is done, for a
    student without a folder in submitted/ (naming those there), an assignment or notebook the
    course does not have, and a class with nothing to grade. An assignment folder the course does
    not have (submitted/alice/part_z) and a file beside the assignment folders are notes."""
    root = Path(root)
    course = {a: [p.stem for p in source_notebooks(root, a)] for a in assignments(root)}
    found, notes = find_students(root)
    students = None if students is None else list(students)
    if students is not None and not students:
        raise Refused("no student named: nothing to grade")
    if students is None:
        if not found:
            raise Refused(f"nothing to grade: {root / 'submitted'} has no student folders (each student's files go "
                          "into submitted/<student>/<part>/; nbgrader collect puts them there)")
        students = found
    else:
        students = list(dict.fromkeys(students))
        unknown = [s for s in students if s not in found]
        if unknown:
            raise Refused(f"no student {_listed(map(repr, unknown))} in {root / 'submitted'} (students there: "
                          f"{_listed(found)}); nothing was graded")
    chosen = [f"{a}/{n}" for a, stems in course.items() for n in stems]
    if assignment_ids:
        unknown = [a for a in assignment_ids if a not in course]
        if unknown:
            raise Refused(f"no assignment {_listed(map(repr, unknown))} in this course (its assignments: "
                          f"{_listed(course)})")
        chosen = [n for n in chosen if n.split("/", 1)[0] in assignment_ids]
    if notebooks:
        named = {name: _notebook_named(name, course) for name in notebooks}
        unknown = [name for name, found_as in named.items() if found_as is None]
        if unknown:
            shorts = [n.split("_", 1)[0] for stems in course.values() for n in stems]
            raise Refused(f"no notebook {_listed(map(repr, unknown))} in this course (its notebooks: "
                          f"{_listed(shorts, 20)}, or their full names such as b1_forward)")
        outside = [name for name, found_as in named.items() if found_as not in chosen]
        if outside:
            raise Refused(f"notebook {_listed(map(repr, outside))} is not in --assignment "
                          f"{', '.join(assignment_ids)}: name one or the other")
        chosen = [n for n in chosen if n in named.values()]
    handed_in, known = {}, set(course)
    for student in students:
        folder = root / "submitted" / student
        handed_in[student] = {n: (folder / f"{n}.ipynb").is_file() for n in chosen}
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(".") or entry.name in known and entry.is_dir():
                continue
            what = ("not an assignment of this course" if entry.is_dir() else
                    "a file outside the assignment folders")
            notes.append(f"submitted/{student}/{entry.name}: {what} ({', '.join(course)}); not graded")
    return Plan(students, chosen, chosen != [f"{a}/{n}" for a, stems in course.items() for n in stems],
                handed_in, notes)


def grade_class(root=None, students=None, feedback=True, export=True, progress=print, jobs=1,
                timeout=None, memory_mb=DEFAULT_MEMORY_MB, db_url=None, bar=False,
                unsandboxed=False, assignment_ids=None, notebooks=None):
    """Autograde every submission in submitted/ (or only `students`), write HTML feedback and
    exports/grades.csv. Returns ClassGrades {student: [NotebookGrade]}.

    Each student is graded in a private scratch course by one of `jobs` worker processes (see
    grade_student), then their grades are written into the class gradebook (db_url, default: the
    configured one) by this process alone, so SQLite is never written by two processes at once.
    timeout: seconds per cell (default: nbgrader_config.py); memory_mb: address-space ceiling per
    grading process and its kernels. A student's faults cost only their points; an exception of
    the grader itself lands in .failures and the other students are still graded.
    bar: show a progress bar (students and notebooks done, a step per notebook) instead of a
    line per student when stdout is a terminal (grader.progress).
    assignment_ids, notebooks: grade only these (see plan()); the rows returned are then those
    notebooks', .selection names them, and the student's other grades stay as they were.
    Refused (before anything is done) for what plan() refuses.
    Every kernel runs in the sandbox (grader.sandbox); where it cannot run, SandboxMissing is
    raised before anything is graded. `unsandboxed`: run the kernels without it (said in the notes).
    """
    import multiprocessing
    import threading

    from nbgrader.api import Gradebook

    root = Path(root or course_root())
    chosen = plan(root, students, assignment_ids, notebooks)
    sandboxed = sandbox.require(unsandboxed)
    api = make_api(root, **({"db_url": db_url} if db_url else {}))
    students = chosen.students
    grades = ClassGrades()
    grades.notes += chosen.notes
    grades.selection = chosen.notebooks if chosen.partial else None
    if not sandboxed:
        grades.notes.append("graded WITHOUT the sandbox (--unsandboxed): students' code ran with the "
                            "grader's rights")
    outcomes = {}
    with stderr_to(root / "grading.log"), tempfile.TemporaryDirectory(prefix="course-template-") as template:
        progress(f"preparing the gradebook ({api.coursedir.db_url.split('://')[0]})")
        _ensure_assignments(api, root)
        per_student = len(chosen.notebooks)
        steps, tell = multiprocessing.get_context("spawn").Pipe(duplex=False)
        with Workers(jobs, _init_worker, (memory_mb, tell, sandboxed), _grade_student_telling,
                     isolate=sandboxed) as pool, \
                GradingProgress(len(students), len(students) * per_student, enabled=None if bar else False) as shown:
            say = shown.write if shown.shown else progress
            # the grading processes start, and start their kernels' and judges' processes, meanwhile
            template_sha256 = _seal_template(_build_template(root, Path(template)))
            with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
                duedates = {a.name: a.duedate for a in gb.assignments if a.duedate}
            tasks = [dict(root=str(root), template=template, template_sha256=template_sha256, student=s,
                          timeout=timeout, sandbox=sandboxed, feedback=feedback, duedates=duedates,
                          sizes_key=grading_key(root), notebooks=grades.selection)
                     for s in students]

            def listen():  # each notebook's start, from the workers: the bar moves a notebook at a time
                while True:
                    try:
                        message = steps.recv()
                    except (EOFError, OSError):
                        return
                    if message is None:
                        return
                    shown.begin(message[0], per_student)

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            if sandboxed and not pool.isolated:
                grades.notes.append("the grading processes ran without a PID namespace of their own "
                                    "(bubblewrap could not make one here)")
            for task in tasks:
                pool.submit(task)
            try:
                for task, result, died_at in pool.results():
                    student = task["student"]
                    if result is None:
                        # the grading process died (the student's code killed it, say): grade
                        # the student again, with the notebook it died on scored 0
                        outcome = _after_death(task, died_at)
                        if outcome is None:
                            pool.submit(task, first=True)
                            say(f"{student}: the grading process died on {died_at}; grading the rest again")
                            continue
                    elif result[0] == "error":
                        outcome = StudentOutcome(student, error=result[1])
                    else:
                        outcome = result[1]
                    outcomes[student] = outcome
                    if outcome.error:
                        grades.failures[student] = outcome.error
                        say(f"FAILED to grade {student}: {outcome.error.strip().splitlines()[-1]}")
                        shown.done(student, per_student)
                        continue
                    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
                        merge_outcome(gb, outcome)
                    shown.done(student, per_student)
                    if not shown.shown:
                        progress(f"graded {student}")
            except KeyboardInterrupt:
                # Ctrl-C: start no more students; those graded so far are in the gradebook
                say(f"interrupted: {len(outcomes)} of {len(tasks)} students graded and recorded")
                raise
            finally:
                tell.send(None)
                listener.join(5)
                steps.close()
                tell.close()
        if export:
            export_csv(api, root / "exports" / "grades.csv")
    rows = read_grades(api, root, students, outcomes=outcomes)
    grades.update({s: [r for r in rows[s] if grades.selection is None or r.name in grades.selection]
                   for s in students})
    for student in students:
        grades.notes += [f"{student}: {note}" for note in outcomes.get(student, StudentOutcome(student)).notes]
    return grades


def autograde_student(api, root, assignment, student):
    """Autograde one student's submission of one assignment (all its notebooks, or the one
    named by api.coursedir.notebook_id). Returns the log text."""
    with working_directory(root):
        result = api.autograde(assignment, student, force=True, create=True)
    return result.get("log", "") + (result.get("error") or "")
