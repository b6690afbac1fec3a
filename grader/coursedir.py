"""The course folder, its configuration and nbgrader's API on it."""
import csv
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

ASSIGNMENTS = ("part_a", "part_b", "part_c")
CONFIG_FILE = "nbgrader_config.py"


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


def require_success(result, what):
    if not result.get("success"):
        errors = [l for l in (result.get("log") or "").splitlines() if "ERROR" in l or l.startswith(" ")]
        detail = "\n".join(errors[-30:]) or result.get("error") or ""
        raise RuntimeError(f"{what} failed:\n{detail}")
    return result


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


GRADING_KEY = ".grading-key"  # in the course folder; never released, never committed


def grading_key(root):
    """The course's secret (hex), from which each notebook's symbolic checks draw the batch sizes
    they compare at (grader.execute.IsolatedExecute.sizes_key); made at random the first time,
    readable by its owner only. Grading again with the same key gives the same grades."""
    import secrets

    path = Path(root) / GRADING_KEY
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    bytes.fromhex(key)  # ValueError for a key that is not hex
    return key
