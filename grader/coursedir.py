"""The course folder, its configuration and nbgrader's API on it; what a command checks before it
starts (the folder, whether it can write there, the gradebook, another command at work)."""
import csv
import functools
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

ASSIGNMENTS = ("part_a", "part_b", "part_c")
CONFIG_FILE = "nbgrader_config.py"


class Refused(ValueError):
    """A command that cannot be meant, refused before it did anything: its message is one line
    saying what is wrong and what to do (the command line exits with 2)."""


def is_course(folder):
    """True when `folder` is a course folder: it holds nbgrader_config.py and source/."""
    folder = Path(folder)
    return (folder / CONFIG_FILE).is_file() and (folder / "source").is_dir()


def course_root(start=None):
    """The course folder: the nearest folder at or above `start` (default: the current folder)
    with an nbgrader_config.py and a source/ folder. Nothing else is ever taken for the course
    (not the folder this package sits in: that may be another class's).

    Raises Refused when there is none, saying where it looked.
    """
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if is_course(folder):
            return folder
    raise Refused(f"no course folder in {here} or above it (a course folder holds {CONFIG_FILE} and source/): "
                  "run the command inside one, or name it with --root PATH")


def given_root(path):
    """The course folder named by --root, resolved; raises Refused when it is not one."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise Refused(f"--root {path}: no such folder")
    if not is_course(folder):
        missing = CONFIG_FILE if not (folder / CONFIG_FILE).is_file() else "source/"
        raise Refused(f"--root {path}: not a course folder (it has no {missing}); name the folder that holds "
                      f"{CONFIG_FILE} and source/")
    return folder


def require_writable(root, names):
    """Raise Refused unless this process can write the course folder's `names` ("release",
    "gradebook.db", ...; those that do not exist yet: the folder they would be made in)."""
    root = Path(root)
    for name in ("", *names):
        path = root / name
        while not path.exists() and path != root:
            path = path.parent
        if not os.access(path, os.W_OK):
            shown = f"{path}{os.sep if path.is_dir() else ''}"
            raise Refused(f"cannot write {shown} (read-only, or not yours): nothing was done; run the command "
                          "as the course's owner, or on a writable copy of the course")


@contextmanager
def exclusive(root, db_url):
    """Hold the course folder for one command that writes a SQLite gradebook: a second one (two
    `course grade` runs at once, say) is refused instead of writing the same files and gradebook.
    A PostgreSQL gradebook is shared by design (graders on several machines): nothing is held.
    The lock is the operating system's (flock on the folder), so it ends with the process."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock (and no grading, see grader.cli)
        yield
        return
    if not str(db_url).startswith("sqlite"):
        yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(f"another course command (course grade, demo or release) is working on {root} and its "
                          "SQLite gradebook: wait until it has ended, then run this one again") from None
        yield
    finally:
        os.close(fd)


def sqlite_path(url):
    """The file of a sqlite:/// URL (None for an in-memory database)."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return None if database in (None, "", ":memory:") else Path(database)


def shown_url(url):
    """The gradebook URL as it may be printed: without a password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (a URL SQLAlchemy cannot parse is shown as given)
        return str(url)


def check_gradebook(url, must_exist=False):
    """Raise Refused (one line: the path or URL, what is wrong, what to do) unless the gradebook
    `url` can be opened. Reads only: a SQLite file is opened read-only, and nothing is created.
    must_exist: refuse a gradebook that is not there yet (a missing SQLite file, a database
    without nbgrader's tables) instead of letting nbgrader make a new one."""
    import sqlite3

    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = shown_url(url)
    if str(url).startswith("sqlite"):
        try:
            path = sqlite_path(url)
        except ArgumentError:
            raise Refused(f"the gradebook URL {shown} is not one SQLAlchemy can read: "
                          "write sqlite:////absolute/path/gradebook.db") from None
        if path is None:
            return
        if not path.parent.is_dir():
            raise Refused(f"cannot open the gradebook {path}: the folder {path.parent} does not exist "
                          "(check --db-url or COURSE_DB_URL)")
        if not path.exists():
            if must_exist:
                raise Refused(f"no gradebook at {path}: grade the class first (course grade), or name the "
                              "gradebook with --db-url")
            return
        try:
            connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                result = connection.execute("PRAGMA quick_check").fetchone()
                tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            finally:
                connection.close()
        except sqlite3.Error as error:
            raise Refused(f"cannot open the gradebook {path}: {error} (is it an nbgrader gradebook?); restore it "
                          "from a backup, or move it aside and grade again to start a new one (grades given "
                          "by hand in formgrader are only in the old one)") from None
        if result and result[0] != "ok":
            raise Refused(f"the gradebook {path} is damaged (SQLite: {result[0]}); restore it from a backup, "
                          "or move it aside and grade again to start a new one")
        if tables and "assignment" not in tables:
            raise Refused(f"{path} is an SQLite database but not an nbgrader gradebook (no assignment table); "
                          "name the gradebook with --db-url")
        if must_exist and not tables:
            raise Refused(f"the gradebook {path} is empty: grade the class first (course grade)")
        return
    try:
        engine = create_engine(url)
    except ArgumentError:
        raise Refused(f"the gradebook URL {shown} is not a database URL: write sqlite:////path/gradebook.db "
                      "or postgresql+psycopg://USER@HOST/DATABASE") from None
    except NoSuchModuleError:
        scheme = str(url).split("://", 1)[0]
        raise Refused(f"the gradebook URL {shown}: SQLAlchemy knows no database {scheme!r}; write "
                      "sqlite:////path/gradebook.db or postgresql+psycopg://USER@HOST/DATABASE") from None
    except ImportError as error:
        raise Refused(f"the gradebook {shown} needs a driver that is not installed ({error}); "
                      "install it (PostgreSQL: pip install 'psycopg[binary]')") from None
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except Exception as error:  # noqa: BLE001 (whatever the driver raises: said in one line)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise Refused(f"cannot open the gradebook {shown}: {reason[0] if reason else type(error).__name__}; "
                      "is the database server running, and the URL right?") from None
    finally:
        engine.dispose()
    if must_exist and "assignment" not in tables:
        raise Refused(f"the database {shown} holds no gradebook yet: grade the class first (course grade)")


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
    _read_alembic_head_in_process()
    config = load_config(config_dir, overrides, **course_directory)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _put_scripts_on_path():
    """nbgrader creates a new gradebook by running the `alembic` command, found on PATH: make the
    scripts of this Python's environment findable even when the environment is not activated."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def _read_alembic_head_in_process():
    """nbgrader stamps a new gradebook with its schema's revision, which it learns by running
    `alembic heads` in a new process: 1.5 to 2 s, once for every new gradebook (each grading run's
    template, a new class gradebook). The same revision, read from the same migration scripts with
    alembic's own API in this process, takes a hundredth of that; nbgrader's way where it cannot."""
    import nbgrader.api

    if getattr(nbgrader.api.get_alembic_version, "in_process", False):
        return
    run_alembic = nbgrader.api.get_alembic_version

    @functools.cache
    def alembic_head():
        try:
            from alembic.config import Config
            from alembic.script import ScriptDirectory
            from nbgrader.dbutil import _temp_alembic_ini

            with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:  # nbgrader's own arguments
                return ScriptDirectory.from_config(Config(ini)).get_current_head()
        except Exception:  # noqa: BLE001 (another alembic or nbgrader: nbgrader's own way)
            return run_alembic()

    alembic_head.in_process = True
    nbgrader.api.get_alembic_version = alembic_head


@contextmanager
def shared_engines(scratch=False):
    """While active, the nbgrader Gradebooks this process opens on one URL share one SQLAlchemy
    engine, and one opened on a URL already open skips nbgrader's check for missing tables; the
    engines are disposed of on exit.

    nbgrader opens a new Gradebook about a dozen times for each notebook it autogrades, and each
    made a new engine: a new connection, a query per table to check the schema, and an empty
    cache of compiled SQL, so every query was compiled again. For a trivial notebook that was a
    fifth of its grading time. Use it around work on gradebooks nothing else replaces meanwhile
    (a scratch course's, written once before it is opened).

    scratch=True: the gradebooks are a scratch course's, thrown away afterwards: SQLite keeps
    their journal in memory and does not wait for the disk at each commit (hundreds a student)."""
    import nbgrader.api
    from sqlalchemy import event

    if getattr(nbgrader.api.create_engine, "shared", False):  # already shared, by an enclosing call
        yield
        return
    engines, opened = {}, set()
    create_engine, create_all = nbgrader.api.create_engine, nbgrader.api.Base.metadata.create_all

    def shared_engine(url, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = create_engine(url, **kwargs)
            if scratch and engines[key].dialect.name == "sqlite":
                event.listen(engines[key], "connect", _throwaway_sqlite)
        return engines[key]

    shared_engine.shared = True

    def create_missing_tables(bind=None, **kwargs):
        if bind is None or id(bind) not in opened:
            create_all(bind=bind, **kwargs)
            if bind is not None:
                opened.add(id(bind))

    nbgrader.api.create_engine = shared_engine
    nbgrader.api.Base.metadata.create_all = create_missing_tables
    try:
        yield
    finally:
        nbgrader.api.create_engine = create_engine
        del nbgrader.api.Base.metadata.create_all  # the method of the class again
        for engine in engines.values():
            engine.dispose()


def _throwaway_sqlite(connection, record):
    """A new connection to a scratch gradebook: no durability asked of the disk."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode = MEMORY")
    cursor.execute("PRAGMA synchronous = OFF")
    cursor.close()


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
    """`result` (what an NbGraderAPI call returns) when it succeeded; else RuntimeError, whose
    first line says what failed and why (the last exception nbgrader logged), the log's errors
    below it."""
    if not result.get("success"):
        errors = [l for l in (result.get("log") or "").splitlines() if "ERROR" in l or l.startswith(" ")]
        detail = "\n".join(errors[-30:]) or result.get("error") or ""
        causes = [line.strip() for line in detail.splitlines() if _is_exception_line(line.strip())]
        raise RuntimeError(f"{what} failed" + (f": {causes[-1]}" if causes else "") + f"\n{detail}")
    return result


def _is_exception_line(line):
    """True for the last line of a Python traceback ("OSError: [Errno 28] No space left on device"):
    a dotted name, a colon, a message."""
    name, colon, _ = line.partition(":")
    return bool(colon) and not line.startswith("[") and all(part.isidentifier() for part in name.split("."))


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
