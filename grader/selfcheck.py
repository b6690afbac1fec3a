"""`course check`: grade one filled-in notebook privately, as the class is graded."""
import shutil
import tempfile
from pathlib import Path

from grader.coursedir import ASSIGNMENTS, Refused, course_root, source_notebooks


def find_source(root, notebook_path):
    """(assignment, source path) of the course notebook that `notebook_path` is a copy of.
    Raises Refused at once (before the grader's start-up) for a folder, or a name that is not one
    of this course's notebooks."""
    path = Path(notebook_path)
    if path.is_dir():
        raise Refused(f"{notebook_path} is a folder: name one notebook in it, e.g. "
                      f"{path / 'b1_forward.ipynb'}")
    name = path.name
    for assignment in ASSIGNMENTS:
        candidate = Path(root) / "source" / assignment / name
        if candidate.exists():
            return assignment, candidate
    known = ", ".join(p.name for a in ASSIGNMENTS for p in source_notebooks(root, a))
    raise Refused(f"{name} is not a notebook of this course (known: {known})")


def check_notebook(notebook_path, root=None, unsandboxed=False):
    """Grade one filled-in notebook against the hidden tests, in a scratch course that shares
    nothing with the course's gradebook, its kernel in the sandbox as in grade_class (and the
    same `unsandboxed`). Returns (NotebookGrade, [(grade_id, score, max, message)])."""
    import nbformat
    from nbgrader.api import Gradebook

    from grader import sandbox
    from grader.coursedir import grading_key, make_api, require_success, working_directory
    from grader.grading import NotebookOutcome, grade_notebook
    from grader.record import NotebookGrade, failures
    from grader.repair import read_submission

    root = Path(root or course_root())
    notebook_path = Path(notebook_path).resolve()
    assignment, source = find_source(root, notebook_path)  # refused before the sandbox's probe
    sandboxed = sandbox.require(unsandboxed)
    if not notebook_path.is_file():
        raise Refused(f"{notebook_path}: no such file")
    handed_in, problem = read_submission(notebook_path)
    if handed_in is None:
        raise ValueError(f"{notebook_path.name}: {problem}")
    with tempfile.TemporaryDirectory(prefix="course-check-") as scratch:
        scratch = Path(scratch)
        (scratch / "source" / assignment).mkdir(parents=True)
        shutil.copy(source, scratch / "source" / assignment / source.name)
        api = make_api(root, root=str(scratch), db_url=f"sqlite:///{scratch / 'gradebook.db'}",
                       overrides={"IsolatedExecute.sandbox": sandboxed,
                                  "IsolatedExecute.sizes_key": grading_key(root)})
        with working_directory(scratch):
            require_success(api.generate_assignment(assignment, force=True), "generate_assignment")
        # the notebook as the class is graded: the same steps (grader.grading.grade_notebook)
        outcome = NotebookOutcome(assignment, source.stem)
        graded = grade_notebook(api, scratch, assignment, notebook_path, nbformat.read(source, as_version=4),
                                nbformat.read(scratch / "release" / assignment / source.name, as_version=4),
                                outcome, [], student="self")
        autograded = scratch / "autograded" / "self" / assignment / source.name
        row = NotebookGrade(assignment, source.stem, failures=failures(autograded), flags=outcome.flags)
        if not graded:
            row.problem, row.reason = outcome.problem, outcome.reason
            return row, []
        messages = {}
        for failure in row.failures:
            if not failure.your_code:
                messages.setdefault(failure.cell, f"{failure.kind}: {failure.message}")
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
