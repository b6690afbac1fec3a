"""Run a notebook's code cells in a forked process and score its grade cells as nbgrader does.

Grading one answer through nbgrader starts a kernel (seconds); the wrong- and right-answer
suites grade hundreds, so they run here instead: each notebook in a child process forked from
this one (NumPy, SymPy and Matplotlib already imported), cells executed top to bottom, and each
grade cell scored by nbgrader's own rule (`nbgrader.utils.determine_grade`): an error or any
stderr output scores zero, a number as the last value gives partial credit; the cells the grader
skips (grader.execute.skipped_when_grading) are skipped here too. The tests that need
nbgrader's own machinery (release, autograde, feedback) use it directly; this is for speed.
"""
import ast
import contextlib
import copy
import io
import json
import os
import re
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]

# Imported once here so that every forked child starts warm.
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402,F401
import numpy  # noqa: E402,F401

from grader.execute import skipped_when_grading  # noqa: E402
from grader.judge import Judge, KernelDied, hidden_removed, visible_runs_needed  # noqa: E402


def nbgrader_config():
    """The course's nbgrader configuration, read as nbgrader reads it."""
    c = Config()
    path = ROOT / "nbgrader_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: c, "__file__": str(path)})
    return c


IGNORE_STDERR = re.compile(nbgrader_config().IgnorePattern.pattern)


def load(relpath):
    """The source notebook at source/<relpath>."""
    return nbformat.read(ROOT / "source" / relpath, as_version=4)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def grade_id(cell):
    return meta(cell).get("grade_id")


def cells_by_id(nb):
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def with_answers(nb, answers):
    """A copy of nb with the solution cells named in `answers` (grade_id -> code) replaced."""
    nb = copy.deepcopy(nb)
    found = set()
    for cell in nb.cells:
        if grade_id(cell) in answers:
            if not meta(cell).get("solution"):
                raise ValueError(f"{grade_id(cell)} is not a solution cell")
            cell.source = answers[grade_id(cell)]
            found.add(grade_id(cell))
    missing = set(answers) - found
    if missing:
        raise KeyError(f"no solution cell named {sorted(missing)}")
    return nb


def release_version(nb):
    """The student's version of a source notebook, made by nbgrader's own preprocessors."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    nb = copy.deepcopy(nb)
    config = nbgrader_config()
    resources = {}
    for pp in (ClearSolutions(config=config), ClearHiddenTests(config=config),
               ClearMarkScheme(config=config)):
        nb, resources = pp.preprocess(nb, resources)
    return nb


def release_answers(nb):
    """The stubs a student starts from, as answers for with_answers()."""
    stub = release_version(nb)
    return {grade_id(c): c.source for c in stub.cells
            if meta(c).get("solution") and c.cell_type == "code"}


@dataclass
class CellResult:
    grade_id: str
    max_points: float
    score: float
    error: str = ""
    stderr: str = ""


@dataclass
class Result:
    cells: list = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""  # everything any cell wrote to stderr, warnings included
    errors: list = field(default_factory=list)  # [(cell index, error)] of cells that are not tests

    @property
    def score(self):
        return sum(c.score for c in self.cells)

    @property
    def max_score(self):
        return sum(c.max_points for c in self.cells)

    def failed(self):
        return {c.grade_id: c.error or c.stderr for c in self.cells if c.score < c.max_points}

    def messages(self):
        return "\n".join(f"[{k}] {v}" for k, v in self.failed().items())


def _run_cell(source, namespace):
    """Execute one cell like IPython: statements, then the value of a final expression."""
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        return eval(compile(last, "<cell>", "eval"), namespace)
    return None


class _Timeout(Exception):
    pass


def _fresh_warnings():
    """Python's own warning filters and printing, as in a new kernel (pytest, our parent,
    records warnings instead of printing them, and the child would inherit that)."""
    import warnings

    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    warnings.showwarning = warnings._showwarning_orig

    def show(msg):  # what warnings._showwarnmsg_impl does before pytest replaces it
        (msg.file or sys.stderr).write(warnings._formatwarnmsg(msg))

    warnings._showwarnmsg_impl = show
    warnings._filters_mutated()


def _serve(namespace, requests, replies):
    """The child as the student's kernel: answer the judge's requests (course.agent) until it is done."""
    from course import agent

    def ask(text):  # a call of the grader's function (course.agent._callback): its answer is the next request
        replies.write(json.dumps({"reply": text, "streams": []}) + "\n")
        replies.flush()
        line = requests.readline()
        if not line:
            os._exit(1)
        return json.loads(line)["request"]

    agent._ask_grader[0] = ask
    while True:
        line = requests.readline()
        if not line:
            os._exit(1)
        message = json.loads(line)
        if message.get("done"):
            return
        out, err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = out, err
        signal.setitimer(signal.ITIMER_REAL, max(message["timeout"] or 0, 0.01))
        try:
            reply = agent.serve(message["request"], namespace)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        replies.write(json.dumps({"reply": reply, "streams": [["stdout", out.getvalue()], ["stderr", err.getvalue()]]}) + "\n")
        replies.flush()


def _child(nb, timeout, skip, judged, requests, replies):
    import matplotlib.pyplot as plt

    _fresh_warnings()

    plt.show = lambda *args, **kwargs: plt.close("all")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.chdir(tempfile.mkdtemp(prefix="nbrun-"))  # whatever a notebook writes stays out of the repo
    namespace = {"__name__": "__main__"}
    results, stdout_all, stderr_all = [], io.StringIO(), io.StringIO()

    def on_alarm(signum, frame):
        if judging[0]:
            raise KeyboardInterrupt()  # the judge's request ran out of time: as a kernel interrupted
        raise _Timeout(f"cell took longer than {timeout} s")

    judging = [False]
    signal.signal(signal.SIGALRM, on_alarm)
    errors = []
    visible_needed = visible_runs_needed(nb.cells)  # as the grader does
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (skip and skipped_when_grading(cell)):  # as the grader does
            continue
        m = meta(cell)
        test = bool(m.get("grade") and not m.get("solution"))
        out, err = io.StringIO(), io.StringIO()
        error, value = "", None
        sys.stdout, sys.stderr = out, err
        signal.alarm(timeout)
        try:
            if not (test and judged):
                value = _run_cell(cell.source, namespace)
            elif index in visible_needed:
                value = _run_cell(hidden_removed(cell.source), namespace)
        except BaseException as e:  # noqa: BLE001 (a cell may raise anything, even SystemExit)
            error = "".join(traceback.format_exception_only(type(e), e)).strip()
        finally:
            signal.alarm(0)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if test and judged:  # what the student's kernel did decides nothing: the judge's verdict counts
            replies.write(json.dumps({"judge": index}) + "\n")
            replies.flush()
            judging[0] = True
            _serve(namespace, requests, replies)
            judging[0] = False
            continue
        stdout_all.write(out.getvalue())
        stderr = err.getvalue()
        stderr_all.write(stderr)
        if IGNORE_STDERR.search(stderr):
            stderr = ""
        if test:
            results.append(_scored(m, error, stderr, value))
        elif error:
            errors.append((index, error))
    return dict(cells=results, stdout=stdout_all.getvalue()[-20000:],
                stderr=stderr_all.getvalue()[-20000:], errors=errors)


def _scored(m, error, stderr, value=None):
    """A grade cell's score by nbgrader's rule."""
    points = float(m["points"])
    score = points
    if error or stderr:
        score = 0.0
    elif value is not None:
        try:
            score = max(0.0, min(points, float(value)))
        except (TypeError, ValueError):
            pass
    return dict(grade_id=m["grade_id"], max_points=points, score=score, error=error, stderr=stderr)


def run(nb, timeout=120, skip=True, judged=True):
    """Run nb's code cells top to bottom in a forked child; return the scored Result.
    skip=False runs the cells the grader skips as well (figures, experiments). The test cells are
    judged here, in this process, as the grader does (grader.judge); judged=False runs them in
    the child, as plain nbgrader runs them in the kernel."""
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(to_parent_r)
        os.close(to_child_w)
        requests, replies = os.fdopen(to_child_r), os.fdopen(to_parent_w, "w")
        try:
            payload = json.dumps({"final": _child(nb, timeout, skip, judged, requests, replies)})
        except BaseException as e:  # noqa: BLE001
            payload = json.dumps({"final": dict(crash=repr(e))})
        replies.write(payload + "\n")
        replies.flush()
        os._exit(0)
    os.close(to_parent_w)
    os.close(to_child_r)
    replies, requests = os.fdopen(to_parent_r), os.fdopen(to_child_w, "w")
    judge, judged_cells, locked_done = None, [], 0
    data = None
    execution = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # as nbgrader's autograde sets it for the grader
    try:
        while True:
            line = replies.readline()
            if not line:
                break
            message = json.loads(line)
            if "final" in message:
                data = message["final"]
                break
            index = message["judge"]
            if judge is None:
                judge = Judge(_pipe_sender(requests, replies), timeout=timeout)
            for cell in nb.cells[locked_done:index]:
                if cell.cell_type == "code" and meta(cell).get("locked") and not meta(cell).get("grade") \
                        and not meta(cell).get("solution"):
                    judge.run_locked(cell.source)
            locked_done = index
            cell = nb.cells[index]
            try:
                outputs = judge.run_test(cell.source)
            except KernelDied:
                outputs = [{"output_type": "error", "ename": "KernelDied", "evalue": "the kernel died", "traceback": []}]
            requests.write(json.dumps({"done": True}) + "\n")
            requests.flush()
            error = "\n".join(f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error")
            stderr = "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stderr")
            judged_cells.append((index, _scored(meta(cell), error, "" if IGNORE_STDERR.search(stderr) else stderr),
                                 "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stdout")))
    finally:
        if execution is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = execution
        if judge is not None:
            with contextlib.suppress(Exception):
                judge.close()
        with contextlib.suppress(OSError):
            requests.close()
        replies.close()
        os.waitpid(pid, 0)
    if data is None:
        raise RuntimeError("the notebook's process died without a result")
    if "crash" in data:
        raise RuntimeError(f"the runner itself failed: {data['crash']}")
    cells = [CellResult(**c) for c in data["cells"]] + [CellResult(**c) for _, c, _ in judged_cells]
    order = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
    cells.sort(key=lambda c: order.get(c.grade_id, 0))
    stdout = data["stdout"] + "".join(text for _, _, text in judged_cells)
    return Result(cells, stdout[-20000:], data["stderr"], [tuple(e) for e in data["errors"]])


def _pipe_sender(requests, replies):
    """The judge's transport to the forked child."""
    def send(text, timeout):
        requests.write(json.dumps({"request": text, "timeout": timeout}) + "\n")
        requests.flush()
        line = replies.readline()
        if not line:
            raise KernelDied("the notebook's process died")
        message = json.loads(line)
        return message["reply"], [tuple(s) for s in message["streams"] if s[1]]
    return send
