"""Drive nbgrader for this course: build the release, grade a class, run the demo class, check one notebook.

A thin layer over nbgrader's Python API (`nbgrader.apps.NbGraderAPI`) and its gradebook: each
function does what an instructor would do with nbgrader's own commands, in the course's order,
and returns data the command line prints.

Grading a class (grade_class) adds what nbgrader alone lacks for a large, untrusted class: each
student graded in a private scratch course by one of several worker processes, one notebook at
a time (a kernel that dies loses only its notebook), kernels started in an empty folder, a scan
of the students' code for tricks and a definitions-only re-run that undoes top-level tampering,
and one process alone writing the class gradebook (SQLite or PostgreSQL).
"""
import ast
import asyncio
import copy
import csv
import html
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution, is_task
from traitlets import Bool, Enum, Type
from traitlets.config.loader import PyFileConfigLoader

from course import sandbox
from course.progress import GradingProgress
from course.repair import claimed_id, read_notebook, repair
from course.workers import Workers

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


def load_config(config_dir, overrides=None, **course_directory):
    """The nbgrader configuration in config_dir, with CourseDirectory traits overridden by
    keywords (e.g. root=..., db_url=...) and others by `overrides` ({"Class.trait": value})."""
    config = PyFileConfigLoader(CONFIG_FILE, path=str(config_dir)).load_config()
    for name, value in course_directory.items():
        setattr(config.CourseDirectory, name, value)
    for key, value in (overrides or {}).items():
        section, name = key.rsplit(".", 1)
        setattr(config[section], name, value)
    return config


def make_api(config_dir, overrides=None, **course_directory):
    """An NbGraderAPI for the course configured in config_dir (overrides applied)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _put_scripts_on_path()
    config = load_config(config_dir, overrides, **course_directory)
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

class StripHiddenTraces(NbGraderPreprocessor):
    """Reduce every error in a feedback notebook to its message.

    nbgrader puts hidden tests back before grading, so a traceback in the feedback would quote
    hidden test code; the student sees what failed and why, not how it was tested. (An nbgrader
    preprocessor: enabled by default, unlike nbconvert's.)
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


# --------------------------------------------------------------------------- grading: what nbgrader runs

class _GradingKernelClient(AsyncKernelClient):
    """jupyter_client's kernel client, ready as soon as the kernel has answered.

    jupyter_client's wait_for_ready, once the kernel has answered kernel_info on the shell
    channel and IOPub delivers, waits for 0.2 s of silence on IOPub: a quarter of what a
    kernel costs a short notebook. nbclient matches every IOPub message to the request it
    answers, so what the start leaves on IOPub is ignored anyway; it is dropped here without
    waiting for more."""

    async def wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:  # IOPub is connected once it delivers anything
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break


class _GradingKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, with _GradingKernelClient, and looking every 10 ms
    (not every 100 ms) whether a kernel it stopped is gone. With `sandbox_folder` set, the kernel
    runs in the sandbox (course.sandbox), that folder its only writable one."""

    client_factory = Type(_GradingKernelClient, klass=AsyncKernelClient, config=True)
    sandbox_folder = None

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        if self.sandbox_folder is None:
            return argv
        sandbox.prepare(self.sandbox_folder)  # the connection file, written just now, included
        return sandbox.command(argv, self.sandbox_folder)

    async def _async_wait(self, pollinterval=0.01):
        await super()._async_wait(pollinterval=min(pollinterval, 0.01))


INTERRUPT_GRACE = 5  # seconds a cell interrupted at the timeout has to stop before its kernel is killed


class KernelIgnoredInterrupt(RuntimeError):
    """A cell went on running after the interrupt sent at its timeout."""


class IsolatedExecute(Execute):
    """nbgrader's Execute, with the kernel started in an empty folder of its own.

    nbgrader starts the kernel in the autograded folder: next to the notebook with its hidden
    tests put back, and next to any file the student handed in (a `numpy.py` or `course/` there
    would shadow the real ones). Here the kernel sees neither; the course's notebooks take what
    they need from the installed `course` package, never from their folder. The kernel also
    listens on Unix sockets instead of TCP ports, and has an IPython folder of its own
    (IPYTHONDIR, next to its empty folder): it runs no startup file and reads no configuration
    of the grader's IPython profile, and a startup file that a student's code writes into the
    grader's profile is never run when grading the next notebook.

    Once every cell has run, the kernel is killed (shutdown_kernel = "immediate") instead of
    asked to shut down: each cell's outputs are all in by the time its execution is complete,
    and ipykernel 7 asked to shut down sometimes hangs (its control thread flushing stdout
    through the IOPub thread that its main thread has already stopped) until jupyter_client
    sends SIGTERM 2.5 s later. Killing signals the kernel's process group, so processes that
    the student's code started go too.
    """

    shutdown_kernel = Enum(
        ["graceful", "immediate"], default_value="immediate",
        help="How the kernel is stopped once every cell has run (see the class docstring).",
    ).tag(config=True)

    sandbox = Bool(
        False, help="Run the kernel in the sandbox (course.sandbox): no course folder, no network, "
                    "no other process, limits. `course grade` turns it on.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", _GradingKernelManager)
        super().__init__(*args, **kwargs)
        self._scratch = None

    def create_kernel_manager(self):
        """Kernels talk over Unix sockets, not TCP ports: two kernels started at once by
        parallel grading processes cannot race for the same port. The sockets and the
        connection file are in the notebook's scratch folder. A sandboxed kernel is interrupted
        by a message (ipykernel then signals itself): a signal from outside would reach the
        sandbox's own processes first."""
        km = super().create_kernel_manager()
        km.transport = "ipc"
        km.ip = os.path.join(self._scratch, "ipc", "kernel")
        km.connection_file = os.path.join(self._scratch, "kernel.json")
        if self.sandbox:
            km.sandbox_folder = self._scratch
            km.kernel_spec.interrupt_mode = "message"
        return km

    async def async_start_new_kernel(self, **kwargs):
        """Start the kernel with its home, IPython and Matplotlib folders in the scratch folder,
        and (in the sandbox) only the environment variables a kernel needs."""
        env = dict(kwargs.get("env") or os.environ)
        if self.sandbox:
            env = {name: value for name, value in env.items() if name.startswith(KERNEL_ENV)}
        env.update({name: os.path.join(self._scratch, folder) for name, folder in SCRATCH_FOLDERS.items()})
        kwargs["env"] = env
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        """nbclient's collection of a cell's outputs, which ends when the kernel goes idle after
        the cell; self._cell_done says so to _async_handle_timeout."""
        self._cell_done = asyncio.Event()
        try:
            await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        finally:
            self._cell_done.set()

    async def _async_handle_timeout(self, timeout, cell=None):
        """Interrupt a cell that ran past the timeout (nbgrader's way), and stop the kernel when
        the cell ignores the interrupt (it catches KeyboardInterrupt, or ignores SIGINT).

        nbgrader sends the next cell to a kernel that is still busy, and each later cell waits
        out its own timeout: minutes for a notebook, per attempt. Here a cell that is still
        running INTERRUPT_GRACE seconds after the interrupt ends the notebook (KernelIgnoredInterrupt:
        the kernel is killed, the notebook scores 0 and says why)."""
        reply = await super()._async_handle_timeout(timeout, cell)
        done = getattr(self, "_cell_done", None)
        if done is not None:
            try:
                await asyncio.wait_for(done.wait(), INTERRUPT_GRACE)
            except asyncio.TimeoutError:
                raise KernelIgnoredInterrupt(
                    f"a cell ran past the {timeout:g} s timeout and went on after being interrupted") from None
        return reply

    def preprocess(self, nb, resources=None, km=None):
        resources = resources if resources is not None else {}
        metadata = resources.setdefault("metadata", {})
        path = metadata.get("path")
        with tempfile.TemporaryDirectory(prefix="course-kernel-") as scratch:
            for folder in ("work", "ipc", *SCRATCH_FOLDERS.values()):
                os.makedirs(os.path.join(scratch, folder), exist_ok=True)
            _copy_font_cache(os.path.join(scratch, SCRATCH_FOLDERS["MPLCONFIGDIR"]))
            metadata["path"] = os.path.join(scratch, "work")
            self._scratch = scratch
            try:
                return super().preprocess(nb, resources, km)
            finally:
                metadata["path"] = path
                self._scratch = None


# the kernel's own folders, in its scratch folder (environment variable -> folder)
SCRATCH_FOLDERS = {"HOME": "home", "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "matplotlib"}
# what a sandboxed kernel keeps of the grader's environment (names starting so)
KERNEL_ENV = ("PATH", "LANG", "LC_", "TZ", "NBGRADER_", "JPY_", "OPENBLAS_", "OMP_", "MKL_",
              "MPLBACKEND", "PYDEVD_", "PYTHONHASHSEED", "JUPYTER_PLATFORM_DIRS")


def _copy_font_cache(folder):
    """Matplotlib's font list, copied from the grader's cache: without it each kernel would
    rebuild it (seconds, and a message on stderr)."""
    try:
        import matplotlib

        cache = Path(matplotlib.get_cachedir())
    except Exception:  # noqa: BLE001 (no cache: the kernel builds its own)
        return
    if not any(cache.glob("fontlist-*.json")):
        import matplotlib.font_manager  # noqa: F401 (builds the font list into the cache)
    for path in cache.glob("fontlist-*.json"):
        shutil.copy(path, folder)


SKIP_TAG = "skip-when-grading"  # a cell that only draws or explores: the grader need not run it
NBCLIENT_SKIP_TAG = "skip-execution"  # nbclient skips cells with this tag, whoever set it
SKIPPED_NOTE = "Not run while grading: this cell only draws a figure or runs an experiment for you to look at.\n"


def skipped_when_grading(cell):
    """True for a cell the grader does not run: a code cell tagged SKIP_TAG that is neither a
    test, an answer nor a task (a tag on those is ignored)."""
    return (cell.cell_type == "code" and SKIP_TAG in cell.metadata.get("tags", [])
            and not (is_grade(cell) or is_solution(cell) or is_task(cell)))


class SkipWhenGrading(NbGraderPreprocessor):
    """Decide which cells the grader's kernel skips; run before the execute preprocessor.

    nbclient skips every cell tagged "skip-execution", and the tags of a handed-in notebook are
    the student's: a test cell so tagged would never run and so never fail (plain nbgrader
    scores it full marks). Here that tag is removed from every cell, and given back only to the
    cells skipped_when_grading accepts: the course's figure and experiment cells, which no
    graded cell depends on (tests/test_notebooks.py checks that). A skipped cell gets a note
    as its output, so the feedback says why it is empty.
    """

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        tags = cell.metadata.get("tags")
        if tags is not None:
            cell.metadata["tags"] = [tag for tag in tags if tag != NBCLIENT_SKIP_TAG]
        if skipped_when_grading(cell):
            cell.metadata["tags"].append(NBCLIENT_SKIP_TAG)
            cell["outputs"] = [nbformat.v4.new_output("stream", name="stdout", text=SKIPPED_NOTE)]
        return cell, resources


class StderrAsOutput(NbGraderPreprocessor):
    """Keep what a graded cell wrote to stderr as ordinary output instead of failing the cell.

    nbgrader scores a test cell with any stderr output zero. The course's tests never write to
    stderr, so such output comes from the student's own code (a debugging print to stderr, a
    library warning) and must not cost the points of a test that passes.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources


# --------------------------------------------------------------------------- grading: student code

# What honest answers to this course never need, and tricks use: looked for in every cell the
# student wrote (answer cells and cells they added), reported for review.
SCAN_MODULES = {
    "builtins", "ctypes", "gc", "glob", "importlib", "inspect", "io", "IPython", "marshal",
    "multiprocessing", "nbformat", "nbgrader", "os", "pathlib", "pickle", "resource", "shutil",
    "signal", "socket", "sqlite3", "subprocess", "sys", "threading", "traitlets", "types",
    "urllib", "requests", "http"}
SCAN_CALLS = {"open", "exec", "eval", "compile", "__import__", "setattr", "delattr", "globals",
              "vars", "locals", "get_ipython", "breakpoint", "exit", "quit"}
SCAN_ATTRIBUTES = {
    "f_back", "f_globals", "f_locals", "f_builtins", "_getframe", "__globals__", "__builtins__",
    "__code__", "__dict__", "__class__", "__subclasses__", "input_transformers_cleanup",
    "input_transformers_post", "ast_transformers", "set_custom_exc", "excepthook", "modules",
    "settrace", "setprofile", "_exit", "run_cell", "user_ns", "events", "showtraceback"}
SCAN_METHODS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__",
                "__array_ufunc__", "__array_function__", "__array_finalize__", "__float__",
                "__abs__", "__instancecheck__"}


def _python_source(code):
    """A cell's code as IPython runs it (magics turned into calls); None if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        text = TransformerManager().transform_cell(code)
        return text, ast.parse(text)
    except Exception:  # noqa: BLE001 (a syntax error is the student's, and fails on its own)
        return code, None


def _bound_names(tree):
    """Names a piece of code binds at its top level (assignments, loops, defs, imports), not
    the local names inside its functions and classes."""
    names, todo = set(), list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _all_bound(tree):
    """Every name a piece of code binds anywhere, its functions' locals and arguments included."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@dataclass
class NotebookRules:
    """What the source notebook says about the code a student may write in it.

    - locked: grade_ids of the cells nbgrader puts back from the source (setup and tests)
    - protected: names the notebook's own cells define and its tests use (np, check_array, ...)
    - imports: the source's own import statements (a student repeating one is harmless)
    - hidden: names defined only inside hidden tests (_expected, _rng, ...)
    - modules: names the notebook's own imports bind (np, ...)
    - course_code: the code of the notebook's other cells (demonstrations a student may run)
    """
    locked: set
    protected: set
    imports: set
    hidden: set
    modules: set
    course_code: set


def notebook_rules(source_nb):
    """The NotebookRules of a source notebook."""
    locked, protected, imports, hidden, modules, course_code = set(), set(), set(), set(), set(), set()
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("solution"):
            continue
        if not meta.get("grade_id"):
            course_code.add(cell.source.strip())
            continue
        if meta.get("grade_id"):
            locked.add(meta["grade_id"])
        visible, secret, inside = [], [], False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            else:
                (secret if inside else visible).append(line)
        _, tree = _python_source("\n".join(visible))
        if tree is not None:
            if not meta.get("grade"):
                protected |= _bound_names(tree)
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    imports.add(ast.dump(node))
                    modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        _, tree = _python_source("\n".join(secret))
        if tree is not None:
            # every name the hidden tests bind, the locals of their functions included: the hidden
            # checks run inside a function, and student code that names one of them is still flagged
            hidden |= {n for n in _all_bound(tree)
                       if n.startswith("_") and not n.startswith("__") and n != "_"}
    return NotebookRules(locked, protected, imports, hidden, modules, course_code)


def student_cells(nb, rules):
    """[(index, label, code)] of the code cells a student wrote: answer cells and added cells."""
    cells = []
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if (cell.cell_type == "code" and grade_id not in rules.locked
                and (grade_id or cell.source.strip() not in rules.course_code)):
            cells.append((index, grade_id or f"cell {index + 1}", cell.source))
    return cells


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_cell(code, rules):
    """What in one cell of student code looks like a trick: ["line 3: changes np.allclose", ...]."""
    text, tree = _python_source(code)
    if tree is None:
        return []
    modules = rules.modules | {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    local = _all_bound(tree)
    found = []

    def flag(node, what):
        found.append(f"line {getattr(node, 'lineno', 1)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in SCAN_MODULES:
                    flag(node, f"imports {name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SCAN_CALLS:
            flag(node, f"calls {node.func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in SCAN_ATTRIBUTES:
            flag(node, f"uses .{node.attr}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for part in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                    root = _root_name(part)
                    if isinstance(part, (ast.Attribute, ast.Subscript)) and (
                            root in modules or (root in rules.protected and root not in local)):
                        flag(node, f"changes {ast.unparse(part)}")
        elif isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b.split(".")[-1] in ("ndarray", "float", "int", "tuple") for b in bases):
                flag(node, f"class {node.name} derives from {', '.join(bases)}")
            methods = sorted(f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.Assign))
                             and getattr(f, "name", None) in SCAN_METHODS)
            methods += sorted(t.id for f in node.body if isinstance(f, ast.Assign)
                              for t in f.targets if isinstance(t, ast.Name) and t.id in SCAN_METHODS)
            if methods:
                flag(node, f"class {node.name} defines {', '.join(methods)}")
        elif isinstance(node, ast.Name) and node.id in rules.hidden and node.id not in local:
            flag(node, f"uses {node.id}, a name of the hidden tests")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in rules.hidden:
            flag(node, f"mentions '{node.value}', a name of the hidden tests")
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and ast.dump(node) in rules.imports:
            continue  # the notebook's own import, repeated
        rebound = sorted(_bound_names(ast.Module(body=[node], type_ignores=[])) & rules.protected)
        if rebound:
            flag(node, f"redefines {', '.join(rebound)}, which the notebook's tests use")
    return list(dict.fromkeys(found))


def scan_notebook(nb, rules):
    """Every trick-like statement in the student's cells of nb: ["b1-forward, line 3: ...", ...]."""
    flags = []
    for _, label, code in student_cells(nb, rules):
        flags += [f"{label}, {item}" for item in scan_cell(code, rules)]
    return flags + skip_tag_flags(nb)


def skip_tag_flags(nb):
    """The cells of a handed-in notebook tagged to be skipped by nbclient: ["b1-test-values, tagged ..."]."""
    flags = []
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags")
        if isinstance(tags, (list, dict)) and NBCLIENT_SKIP_TAG in tags:
            label = claimed_id(cell) or f"cell {index + 1}"
            flags.append(f"{label}, tagged {NBCLIENT_SKIP_TAG!r} (which would stop it from running); "
                         "the tag was ignored")
    return flags


class _HideNames(ast.NodeTransformer):
    """Rename the hidden tests' names, so student code cannot reach them."""

    def __init__(self, hidden):
        self.hidden = hidden

    def visit_Name(self, node):
        if node.id in self.hidden:
            node.id += "_not_available"
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, str) and node.value in self.hidden:
            node.value += "_not_available"
        return node


def definitions_only(code, rules):
    """A cell of student code reduced to its definitions: imports, functions, classes and
    assignments to plain names, none of which may redefine a name the tests use, and a final
    `a, b` that shows values; names of the hidden tests made unreachable. Everything else at the top level (calls, loops, attribute
    assignments such as `np.allclose = ...`) is dropped. Returns the new code, or `code` itself
    when nothing changes."""
    text, tree = _python_source(code)
    if tree is None:
        return code
    kept = []
    for node in tree.body:
        bound = _bound_names(ast.Module(body=[node], type_ignores=[]))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            ok = ast.dump(node) in rules.imports or (
                not any(a.name == "*" for a in node.names) and not bound & rules.protected)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            ok = node.name not in rules.protected
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            ok = all(isinstance(t, ast.Name) or (isinstance(t, ast.Tuple) and all(
                isinstance(e, ast.Name) for e in t.elts)) for t in targets) and not bound & rules.protected
        elif isinstance(node, ast.Expr):  # showing a value (`a, b` at the end of a cell) runs no code
            ok = all(isinstance(n, (ast.Name, ast.Constant, ast.Tuple, ast.Load)) for n in ast.walk(node.value))
        else:
            ok = False
        if ok:
            kept.append(node)
    dropped = len(kept) != len(tree.body)
    before = ast.dump(ast.Module(body=kept, type_ignores=[]))
    free = rules.hidden - _all_bound(tree)  # hidden names the student uses without defining them
    module = _HideNames(free).visit(ast.Module(body=kept, type_ignores=[]))
    renamed = ast.dump(module) != before
    if not dropped and not renamed:
        return code
    return ast.unparse(module) or "pass"


def crosscheck_version(nb, rules):
    """nb with every student cell reduced by definitions_only(); None when that changes nothing."""
    variant = copy.deepcopy(nb)
    changed = False
    for index, _, code in student_cells(variant, rules):
        new = definitions_only(code, rules)
        if new != code:
            variant.cells[index].source = new
            changed = True
    return variant if changed else None


# --------------------------------------------------------------------------- grading: one student

SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")  # written by nbgrader submit
SCRATCH_ID = "student"          # the id a submission has inside its private scratch course
CROSSCHECK_ID = "crosscheck"    # ... and its definitions-only version
DEFAULT_MEMORY_MB = 4096        # address space of a student's kernel (and of its grading process)


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
    messages: list = field(default_factory=list)  # "grade_id: what failed"
    problem: str = ""               # why the notebook was not graded (it then scores 0)
    flags: list = field(default_factory=list)     # what in the student's code needs a look
    seconds: float = 0.0            # autograde run time
    crosschecked: bool = False      # also graded with the definitions of the student's cells only
    late_penalty: float = 0.0       # points taken off for a late submission (nbgrader_config.py)

    @property
    def name(self):
        return f"{self.assignment}/{self.notebook}"


@dataclass
class NotebookOutcome:
    """What grading one notebook of one student in its scratch course gave (sent between processes)."""
    assignment: str
    notebook: str
    problem: str = ""                             # "" when graded
    grades: dict = field(default_factory=dict)    # grade_id -> (auto_score, needs_manual_grade)
    comments: dict = field(default_factory=dict)  # grade_id -> auto_comment
    flags: list = field(default_factory=list)
    seconds: float = 0.0
    crosschecked: bool = False                    # graded a second time, definitions only
    late_penalty: float | None = None             # nbgrader's AssignLatePenalties, in the scratch course


@dataclass
class StudentOutcome:
    student: str
    notebooks: list = field(default_factory=list)   # [NotebookOutcome]
    timestamps: dict = field(default_factory=dict)  # assignment -> timestamp.txt contents
    notes: list = field(default_factory=list)       # files not graded, ...
    error: str = ""                                  # the grader itself failed (not the student)


def read_submission(path):
    """(notebook, "") for a readable notebook file, else (None, why it cannot be graded).

    Only the cells' types and texts are trusted (course.repair.read_notebook): metadata that
    nbformat's schema rejects (tags as a dict, say) does not make a notebook ungradable."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"not a notebook: the file is not valid JSON ({error})"
    except RecursionError:
        return None, "not a notebook: the file is JSON nested too deeply to read"
    nb = read_notebook(data)
    if nb is None:
        return None, "not a notebook: valid JSON, but without notebook cells"
    return nb, ""


def _why_not_graded(log):
    if "KernelIgnoredInterrupt" in log:
        return ("a cell ran past the timeout and ignored the interrupt (it catches KeyboardInterrupt "
                "or ignores SIGINT): the kernel was stopped, scored 0")
    if "UnresponsiveKernelError" in log or "unresponsive" in log:
        return "the kernel stopped responding after a timeout: scored 0"
    if "DeadKernelError" in log or "Kernel died" in log:
        return "kernel died (the notebook crashed Python, e.g. os._exit or out of memory): scored 0"
    errors = [l.strip() for l in log.splitlines() if l.strip() and "[" not in l[:1]]
    return "could not be graded: " + (errors[-1][:200] if errors else "see grading.log") + ": scored 0"


def _scratch_grades(gb, notebook, assignment, student):
    sub = gb.find_submission_notebook(notebook, assignment, student)
    grades = {g.name: (g.auto_score, bool(g.needs_manual_grade)) for g in sub.grades}
    comments = {c.name: c.auto_comment for c in sub.comments}
    return grades, comments


def _task_ids(nb):
    """grade_ids of the manually graded task cells of a source notebook."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("task")]


def _set_scratch_grades(gb, notebook, assignment, student, grades):
    sub = gb.find_submission_notebook(notebook, assignment, student)
    for grade in sub.grades:
        if grade.name in grades:
            grade.auto_score = grades[grade.name][0]
    gb.db.commit()


def _ungraded_page(path, notebook, problem):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{0}</title></head><body>\n"
        "<h4>{0} (Score: 0)</h4>\n<p>This notebook could not be graded: {1}.</p>\n"
        "</body></html>\n".format(html.escape(notebook), html.escape(problem)))


def _grade_notebook(api, scratch, task, assignment, path, source_path, row, outcome):
    """Read, repair, scan and autograde one handed-in notebook in the scratch course (then
    cross-check it); True when it was graded, else row.problem says why."""
    from nbgrader.api import Gradebook

    nb, row.problem = read_submission(path)
    if nb is None:
        return False
    source_nb = nbformat.read(source_path, as_version=4)
    release_nb = nbformat.read(Path(task["template"]) / "release" / assignment / path.name, as_version=4)
    repaired, notes = repair(nb, release_nb, source_nb)
    outcome.notes += [f"{assignment}/{row.notebook}: {note}" for note in notes]
    nbformat.write(repaired, str(scratch / "submitted" / SCRATCH_ID / assignment / path.name))
    rules = notebook_rules(source_nb)
    try:
        row.flags = list(dict.fromkeys(scan_notebook(repaired, rules) + skip_tag_flags(nb)))
    except Exception as error:  # noqa: BLE001 (code the scan cannot walk, e.g. nested too deeply)
        row.flags = [f"the scan could not read the student's code ({type(error).__name__}); not scanned"]
    started = time.perf_counter()
    ok = _autograde_notebook(api, scratch, assignment, path.name, SCRATCH_ID, row)
    row.seconds = time.perf_counter() - started
    if not ok:
        return False
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        row.grades, row.comments = _scratch_grades(gb, row.notebook, assignment, SCRATCH_ID)
        row.late_penalty = gb.find_submission_notebook(
            row.notebook, assignment, SCRATCH_ID).late_submission_penalty
    # nbgrader scores the notebooks not yet copied in as missing (0, no manual grade
    # needed), and autograde never revisits task cells: a task cell of a notebook
    # that was graded always awaits the grader's hand.
    for grade_id in _task_ids(source_nb):
        row.grades[grade_id] = (None, True)
    if task.get("crosscheck", True):
        try:
            variant = crosscheck_version(repaired, rules)
        except Exception as error:  # noqa: BLE001 (code too deep to rewrite: graded as handed in)
            variant = None
            row.flags.append(f"the definitions-only re-run could not be built ({type(error).__name__}); "
                             "scored as handed in")
        if variant is not None:
            row.crosschecked = True
            _crosscheck(api, scratch, assignment, path.name, variant, row)
    return True


def grade_student(task, report=None):
    """Autograde one student's submissions in a private scratch course and copy the autograded
    notebooks and feedback into the course. Runs in a worker process; returns a StudentOutcome.

    task: dict(root, template, student, timeout, crosscheck, feedback, duedates, and killed:
    {"part_b/b1_forward": why} for notebooks that killed an earlier worker, scored 0 with that
    reason); report(step, scratch), if given, is called before each notebook (course.workers).
    Each notebook is read and repaired (course.repair) and graded
    on its own (a kernel that dies loses only its notebook), in a kernel started in an empty
    folder; then, where the student's cells do more than define things, once more with only their
    definitions (crosscheck_version), each test keeping the lower of the two scores.
    """
    from nbgrader.api import Gradebook

    root, student = Path(task["root"]), task["student"]
    outcome = StudentOutcome(student)
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        shutil.copy(Path(task["template"]) / "gradebook.db", scratch / "gradebook.db")
        overrides = {"IsolatedExecute.sandbox": bool(task.get("sandbox"))}
        if task.get("timeout"):
            overrides["IsolatedExecute.timeout"] = task["timeout"]
        api = make_api(root, root=str(scratch), db_url=f"sqlite:///{scratch / 'gradebook.db'}",
                       overrides=overrides)
        for assignment in assignments(root):
            handed_in = root / "submitted" / student / assignment
            if not handed_in.is_dir():
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
            graded = []
            for name, source_path in expected.items():
                row = NotebookOutcome(assignment, source_path.stem)
                outcome.notebooks.append(row)
                step = f"{assignment}/{source_path.stem}"
                if step in (task.get("killed") or {}):
                    row.problem = task["killed"][step]
                    continue
                if report is not None:
                    report(step, str(scratch))
                if not (handed_in / name).is_file():
                    row.problem = "not submitted: scored 0"
                    continue
                try:
                    if _grade_notebook(api, scratch, task, assignment, handed_in / name, source_path, row, outcome):
                        graded.append(row)
                except Exception as error:  # noqa: BLE001 (this notebook's fault or the grader's: it alone scores 0)
                    import traceback

                    traceback.print_exc()  # into grading.log
                    row.problem = f"could not be graded ({type(error).__name__}: {str(error)[:200]}): scored 0"
                    row.grades = {}
                    (scratch / "autograded" / SCRATCH_ID / assignment / name).unlink(missing_ok=True)
            if graded and task.get("feedback", True):
                with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
                    for row in graded:
                        _set_scratch_grades(gb, row.notebook, assignment, SCRATCH_ID, row.grades)
                with working_directory(scratch):
                    result = api.generate_feedback(assignment, SCRATCH_ID, force=True)
                if not result.get("success"):
                    outcome.notes.append(f"{assignment}: some feedback could not be written (see grading.log)")
            for folder in ("autograded", "feedback"):
                mine = root / folder / student / assignment
                shutil.rmtree(mine, ignore_errors=True)
                if (scratch / folder / SCRATCH_ID / assignment).is_dir():
                    shutil.copytree(scratch / folder / SCRATCH_ID / assignment, mine)
            if task.get("feedback", True):
                for row in outcome.notebooks:
                    if row.assignment == assignment and row.problem:
                        _ungraded_page(root / "feedback" / student / assignment / f"{row.notebook}.html",
                                       row.notebook, row.problem)
    except Exception:  # noqa: BLE001 (reported as a failure of the grader, not of the student)
        import traceback

        outcome.error = traceback.format_exc()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcome


ATTEMPTS = 2  # a notebook that cannot be graded is tried once more before it scores 0


def _autograde_notebook(api, scratch, assignment, name, student, row):
    """Autograde one notebook in the scratch course; True when it was graded. A notebook nbgrader
    could not grade (a kernel that died or failed to start) is tried again once, so that a
    hiccup of the machine never costs a student points; a timeout is not retried."""
    from nbgrader.utils import temp_attrs

    for attempt in range(ATTEMPTS):
        with temp_attrs(api.coursedir, notebook_id=Path(name).stem):
            log = autograde_student(api, scratch, assignment, student)
        if (scratch / "autograded" / student / assignment / name).exists():
            row.problem = ""
            return True
        row.problem = _why_not_graded(log)
        if "timeout" in row.problem:
            break
    return False


def _crosscheck(api, scratch, assignment, name, variant, row):
    """Grade the definitions-only version of a notebook; each test keeps the lower score."""
    from nbgrader.api import Gradebook

    target = scratch / "submitted" / CROSSCHECK_ID / assignment
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(variant, str(target / name))
    rerun = NotebookOutcome(assignment, row.notebook)
    if not _autograde_notebook(api, scratch, assignment, name, CROSSCHECK_ID, rerun):
        row.flags.append(f"the definitions-only re-run could not be graded ({rerun.problem}); scored as handed in")
        return
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        other, _ = _scratch_grades(gb, row.notebook, assignment, CROSSCHECK_ID)
    lowered = []
    for grade_id, (score, manual) in row.grades.items():
        alternative = other.get(grade_id, (score, manual))[0]
        if score is not None and alternative is not None and alternative < score:
            row.grades[grade_id] = (alternative, manual)
            lowered.append(f"{grade_id} {score:g} -> {alternative:g}")
    if lowered:
        row.flags.append("graded with the definitions only of the student's cells (top-level code dropped, "
                         "hidden-test names unreachable), which scored lower: " + ", ".join(lowered))


# --------------------------------------------------------------------------- grading: the class

def _init_worker(memory_mb):
    """A grading process: a memory ceiling for it and the kernels it starts, one BLAS thread
    (the same numbers in serial and parallel runs), and no gradebook address for student code."""
    import resource

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    os.environ.pop("COURSE_DB_URL", None)
    if memory_mb:
        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _build_template(root, folder, db_url=None):
    """generate_assignment for every assignment in a scratch copy of source/, recording them in
    the gradebook db_url (default: a new SQLite gradebook in folder)."""
    for assignment in assignments(root):
        shutil.copytree(root / "source" / assignment, folder / "source" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"), dirs_exist_ok=True)
    api = make_api(root, root=str(folder), db_url=db_url or f"sqlite:///{folder / 'gradebook.db'}")
    with working_directory(folder):
        for assignment in assignments(root):
            _require(api.generate_assignment(assignment, force=True), f"generate_assignment {assignment}")
    return folder


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


class ClassGrades(dict):
    """{student: [NotebookGrade]}, with what else the run found: .notes (files and folders not
    graded) and .failures ({student: traceback} where the grader itself failed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.notes, self.failures = [], {}


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


def grade_class(root=None, students=None, feedback=True, export=True, progress=print, jobs=1,
                timeout=None, memory_mb=DEFAULT_MEMORY_MB, db_url=None, crosscheck=True, bar=False,
                unsandboxed=False):
    """Autograde every submission in submitted/ (or only `students`), write HTML feedback and
    exports/grades.csv. Returns ClassGrades {student: [NotebookGrade]}.

    Each student is graded in a private scratch course by one of `jobs` worker processes (see
    grade_student), then their grades are written into the class gradebook (db_url, default: the
    configured one) by this process alone, so SQLite is never written by two processes at once.
    timeout: seconds per cell (default: nbgrader_config.py); memory_mb: address-space ceiling per
    grading process and its kernels. A student's faults cost only their points; an exception of
    the grader itself lands in .failures and the other students are still graded.
    bar: show a progress bar instead of a line per student when stdout is a terminal
    (course.progress).
    Every kernel runs in the sandbox (course.sandbox); where it cannot run, SandboxMissing is
    raised before anything is graded. `unsandboxed`: run the kernels without it (said in the notes).
    """
    from nbgrader.api import Gradebook

    sandboxed = sandbox.require(unsandboxed)
    root = Path(root or course_root())
    api = make_api(root, **({"db_url": db_url} if db_url else {}))
    found, notes = find_students(root)
    students = list(students) if students is not None else found
    grades = ClassGrades()
    grades.notes += notes
    if not sandboxed:
        grades.notes.append("graded WITHOUT the sandbox (--unsandboxed): students' code ran with the "
                            "grader's rights")
    outcomes = {}
    with stderr_to(root / "grading.log"), tempfile.TemporaryDirectory(prefix="course-template-") as template:
        progress(f"preparing the gradebook ({api.coursedir.db_url.split('://')[0]})")
        _ensure_assignments(api, root)
        _build_template(root, Path(template))
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            duedates = {a.name: a.duedate for a in gb.assignments if a.duedate}
        tasks = [dict(root=str(root), template=template, student=s, timeout=timeout, sandbox=sandboxed,
                      crosscheck=crosscheck, feedback=feedback, duedates=duedates) for s in students]
        per_student = sum(len(source_notebooks(root, a)) for a in assignments(root))
        with Workers(jobs, _init_worker, (memory_mb,), grade_student) as pool, GradingProgress(
                len(tasks), len(tasks) * per_student, enabled=None if bar else False) as shown:
            say = shown.write if shown.shown else progress
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
                        shown.update(per_student)
                        continue
                    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
                        merge_outcome(gb, outcome)
                    shown.update(per_student)
                    if not shown.shown:
                        progress(f"graded {student}")
            except KeyboardInterrupt:
                # Ctrl-C: start no more students; those graded so far are in the gradebook
                say(f"interrupted: {len(outcomes)} of {len(tasks)} students graded and recorded")
                raise
        if export:
            export_csv(api, root / "exports" / "grades.csv")
    grades.update(read_grades(api, root, students, outcomes=outcomes))
    for student in students:
        grades.notes += [f"{student}: {note}" for note in outcomes.get(student, StudentOutcome(student)).notes]
    return grades


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
    """Autograde one student's submission of one assignment (all its notebooks, or the one
    named by api.coursedir.notebook_id). Returns the log text."""
    with working_directory(root):
        result = api.autograde(assignment, student, force=True, create=True)
    return result.get("log", "") + (result.get("error") or "")


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
                    row.problem = "not submitted"
                if (assignment, notebook) in ran:
                    outcome = ran[(assignment, notebook)]
                    row.problem, row.flags, row.seconds = outcome.problem, outcome.flags, outcome.seconds
                    row.crosschecked = outcome.crosschecked
                autograded = root / "autograded" / student / assignment / f"{notebook}.ipynb"
                row.messages = failure_messages(autograded)
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


def check_notebook(notebook_path, root=None, unsandboxed=False):
    """Grade one filled-in notebook against the hidden tests, in a scratch course that shares
    nothing with the course's gradebook, its kernel in the sandbox as in grade_class (and the
    same `unsandboxed`). Returns (NotebookGrade, [(grade_id, score, max, message)])."""
    from nbgrader.api import Gradebook

    sandboxed = sandbox.require(unsandboxed)
    root = Path(root or course_root())
    notebook_path = Path(notebook_path).resolve()
    assignment, source = find_source(root, notebook_path)
    handed_in, problem = read_submission(notebook_path)
    if handed_in is None:
        raise ValueError(f"{notebook_path.name}: {problem}")
    with tempfile.TemporaryDirectory(prefix="course-check-") as scratch:
        scratch = Path(scratch)
        (scratch / "source" / assignment).mkdir(parents=True)
        shutil.copy(source, scratch / "source" / assignment / source.name)
        target = scratch / "submitted" / "self" / assignment
        target.mkdir(parents=True)
        api = make_api(root, root=str(scratch), db_url=f"sqlite:///{scratch / 'gradebook.db'}",
                       overrides={"IsolatedExecute.sandbox": sandboxed})
        with working_directory(scratch):
            _require(api.generate_assignment(assignment, force=True), "generate_assignment")
        # the notebook as the class is graded: rebuilt around the instructor's cells (course.repair)
        repaired, _ = repair(handed_in, nbformat.read(scratch / "release" / assignment / source.name, as_version=4),
                             nbformat.read(source, as_version=4))
        nbformat.write(repaired, str(target / source.name))
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

    head = line("student", [name for name, _ in columns], "total    autograded")
    possible = sum(m for _, m in columns)
    # the autograded points of each notebook (the rest are written answers, graded by hand)
    auto_possible = sum(max((rows[k].max_code_score or 0) for rows in grades.values())
                        for k in range(len(columns)))
    lines = [head, line("(out of)", [f"{m:g} " for _, m in columns],
                        f"{possible:<8g} {auto_possible:g}"), "-" * len(head)]
    for student, rows in grades.items():
        cells = ["– " if r.score is None else f"{r.score:g}" + _mark(r) for r in rows]
        total = sum(r.score or 0 for r in rows)
        auto = sum(r.code_score or 0 for r in rows)
        pct = 100 * auto / auto_possible if auto_possible else 0
        lines.append(line(student, cells, f"{total:<8g} {auto:g} ({pct:.0f}%)"))
    lines.append("* written answers still to be graded by hand in formgrader;  – not submitted;  "
                 "! not graded (reason below);  ? to review (below)")
    return "\n".join(lines)


def _mark(row):
    if row.problem and row.problem != "not submitted":
        return "!"
    if row.flags:
        return "?"
    return "*" if row.needs_manual else " "


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


def format_flags(grades):
    """What the scan and the definitions-only re-run found in student code, per notebook."""
    lines = []
    for student, rows in grades.items():
        for row in rows:
            for flag in row.flags:
                lines.append(f"{student} {row.name}: {flag[:200]}")
    return "\n".join(lines)


def grades_as_dict(grades):
    """{student: {"part_b/b1_forward": score or None}}, for tests and JSON output."""
    return {s: {r.name: r.score for r in rows} for s, rows in grades.items()}


def write_json(grades, path):
    Path(path).write_text(json.dumps(grades_as_dict(grades), indent=1, sort_keys=True))


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
