"""What grading costs, stage by stage, and what it holds in memory: the measurements of
bench_grading.py that need more than a stopwatch.

- stage_breakdown: one student graded in this process under cProfile, every second of it put in
  exactly one stage by the code it was spent in (the profile's own time per function, so nothing
  is counted twice);
- own_compute: the notebooks' own code, every solution notebook run top to bottom in one warm
  process (forked, NumPy, SymPy and Matplotlib imported, the tests run in the same process, no
  kernel, no nbgrader): the limit no grader can beat;
- MemorySampler: the resident memory of the grading processes and their kernels, read from /proc
  while a class is graded.
"""
import cProfile
import os
import pstats
import threading
import time
from pathlib import Path

# (stage, test on "file:function" of the profile): the first that matches takes the time
STAGES = (
    ("waiting for the kernel and the judge", lambda f: any(s in f for s in (
        "zmq/sugar/poll.py", "method 'recv' of '_socket", "method 'poll' of 'select", "method 'acquire' of '_thread",
        "method 'read' of '_io", "built-in method posix.read", "built-in method posix.waitpid",
        "built-in method time.sleep", "multiprocessing/connection.py", "method 'select' of"))),
    ("starting processes (kernel, sandbox, judge)", lambda f: any(s in f for s in (
        "fork_exec", "subprocess.py", "multiprocessing", "jupyter_client/launcher", "jupyter_client/provisioning",
        "zmq/sugar/context.py", "zmq/sugar/socket.py:133"))),
    ("the gradebook (nbgrader.api, SQLAlchemy, SQLite)", lambda f: any(s in f for s in (
        "sqlalchemy", "nbgrader/api.py", "sqlite3", "alembic"))),
    ("the feedback page (nbconvert's templates, Jinja, MathML)", lambda f: any(s in f for s in (
        "jinja2", "bs4/", "nbconvert/exporters", "nbconvert/filters", "grader/mathml.py", "latex2mathml", "mistune",
        "pygments", "markupsafe", "soupsieve", "bleach", "html5lib"))),
    ("notebook files (nbformat, JSON Schema, JSON)", lambda f: any(s in f for s in (
        "nbformat", "jsonschema", "fastjsonschema", "json/", "referencing", "rpds"))),
    ("talking to the kernel (jupyter_client, zmq)", lambda f: any(s in f for s in (
        "jupyter_client", "zmq", "nbclient", "asyncio", "tornado", "selectors.py"))),
    ("nbgrader's apps and preprocessors, traitlets", lambda f: any(s in f for s in (
        "nbgrader/", "traitlets", "nbconvert/", "jupyter_core"))),
    ("the course's grader (grader/)", lambda f: "/grader/" in f),
    ("files and folders", lambda f: any(s in f for s in ("posix.", "shutil.py", "pathlib.py", "tempfile.py",
                                                           "method 'write' of", "io.open"))),
)
OTHER = "everything else (Python itself, logging, regular expressions)"


def stage_of(key):
    """The stage a profile entry (filename, line, function) belongs to."""
    where = f"{key[0]}:{key[1]}({key[2]})"
    for stage, test in STAGES:
        if test(where):
            return stage
    return OTHER


def stage_breakdown(function, *args):
    """(seconds per stage, wall seconds, value) of function(*args) run under cProfile: each
    function's own time, summed by stage_of."""
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    try:
        value = function(*args)
    finally:
        profile.disable()
    wall = time.perf_counter() - started
    seconds = {}
    for key, (_, _, own, _, _) in pstats.Stats(profile).stats.items():
        stage = stage_of(key)
        seconds[stage] = seconds.get(stage, 0.0) + own
    return seconds, wall, value


def own_compute(root, notebooks):
    """Seconds each solution notebook's code takes run top to bottom in a warm forked process,
    its tests included and run there too (tests/nbrun.py, judged=False), as while grading
    (NBGRADER_EXECUTION set: B5's shorter run, the figure cells skipped): {notebook: seconds}."""
    import nbformat

    import nbrun

    saved = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    times = {}
    try:
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            started = time.perf_counter()
            result = nbrun.run(nb, judged=False)
            times[Path(path).stem] = time.perf_counter() - started
            if result.score < result.max_score:
                raise RuntimeError(f"{path}: the reference solution scored {result.score} of {result.max_score}")
    finally:
        if saved is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = saved
    return times


def _descendants(pid):
    """Every process below pid: {pid: command line}."""
    children, found = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            todo.append(child)
    return found


def _comm(pid):
    try:
        return (Path("/proc") / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def _rss_mb(pid):
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler:
    """Samples, every `every` seconds while active, the resident memory of this process, of the
    grading processes below it (multiprocessing's spawned workers), of the kernels (started as
    ipykernel_launcher, or forked from course.zygote, which names them course-kernel) and of the
    zygotes. mark(label) records the grading processes' memory at that moment (after each student,
    say). every=None samples nothing (a run whose time is measured alone). After the block:
    .peak_mb {"grader": this process, "worker": the largest worker, "kernel": the largest kernel,
    "zygote": the largest kernels' zygote} and .marks [(label, worker MB)]. A forked kernel shares
    most of its pages with its zygote: its resident size counts them too."""

    def __init__(self, every=0.25):
        self.every, self.peak_mb, self.marks = every, {"grader": 0.0, "worker": 0.0, "kernel": 0.0, "zygote": 0.0}, []
        self._stop = threading.Event()

    def _sample(self):
        me = os.getpid()
        self.peak_mb["grader"] = max(self.peak_mb["grader"], _rss_mb(me))
        workers = 0.0
        for pid, command in _descendants(me).items():
            if "course.zygote" in command:
                kind = "kernel" if _comm(pid) == "course-kernel" else "zygote"
            else:
                kind = "kernel" if "ipykernel_launcher" in command else "worker" if "spawn_main" in command else None
            if kind:
                rss = _rss_mb(pid)
                self.peak_mb[kind] = max(self.peak_mb[kind], rss)
                if kind == "worker":
                    workers = max(workers, rss)
        return workers

    def mark(self, label):
        self.marks.append((label, self._sample()))

    def _run(self):
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.every is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.every is not None:
            self._thread.join()
