"""The command line, used as an instructor would, with the usual slips: a table of bad inputs.

Every case runs one `course` command on a small scratch course (two notebooks of part B, alice
handed in one of them, bob only a folder the course does not have) and asserts its exit status
(2: refused, nothing done; 3: started and failed; 130: interrupted; README, "Exit status"), a
message of one line without a traceback, and that nothing in the course folder changed where
nothing should. Most cases run in this process (grader.cli.main); those that need a process of
their own (another current folder, Ctrl-C, a file-size limit, a read-only mount, a second run
beside a running one) run `python -m grader`. One real grading run, of one notebook, in the file.
"""
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import cli, coursedir, grading, sandbox, table
from grader.progress import GradingProgress
from grader.record import MISSING, NOT_SUBMITTED, NotebookGrade

ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "batchnorm-tutorial10"
WIDTH = 100


def make_course(folder):
    """A course of two notebooks (part_b: b1, b2) with a gradebook; alice hands in b1, bob a
    folder of no assignment (part_z)."""
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    (folder / "source" / "part_b").mkdir(parents=True)
    for path in sorted((ROOT / "source" / "part_b").iterdir()):
        if path.suffix != ".ipynb" or path.stem in ("b1_forward", "b2_backward"):
            shutil.copy(path, folder / "source" / "part_b" / path.name)
    (folder / "submitted" / "alice" / "part_b").mkdir(parents=True)
    shutil.copy(ROOT / "release" / "part_b" / "b1_forward.ipynb", folder / "submitted" / "alice" / "part_b")
    (folder / "submitted" / "bob" / "part_z").mkdir(parents=True)
    (folder / "submitted" / "bob" / "part_z" / "notes.txt").write_text("the wrong folder\n")
    from nbgrader.api import Gradebook

    coursedir._put_scripts_on_path()  # nbgrader makes a new gradebook with the `alembic` command
    Gradebook(f"sqlite:///{folder / 'gradebook.db'}", COURSE_ID).close()
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("base"))


@pytest.fixture()
def course(base, tmp_path):
    """(a fresh copy of the scratch course, a scratch folder beside it)."""
    root = tmp_path / "course"
    shutil.copytree(base, root)
    (tmp_path / "elsewhere").mkdir()
    return root, tmp_path / "elsewhere"


def snapshot(folder):
    """{path: SHA-256 of a file, or "/" for a folder} of everything under `folder`."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
            for p in sorted(Path(folder).rglob("*"))}


def changed(before, after, allowed=()):
    """What changed between two snapshots, outside the top-level entries `allowed`."""
    paths = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    return sorted(p for p in paths if Path(p).parts[0] not in allowed)


def one_line(err):
    """The one line a refused or failed command says on stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, f"not one line:\n{err}"
    return lines[0]


def sandbox_flag():
    return [] if sandbox.available() is None else ["--unsandboxed"]


# ----------------------------------------------------------------------------- the table

def junk_gradebook(root, tmp, monkeypatch, stack):
    (root / "gradebook.db").write_bytes(b"this is not a database" * 100)


def no_gradebook(root, tmp, monkeypatch, stack):
    (root / "gradebook.db").unlink()


def empty_gradebook(root, tmp, monkeypatch, stack):
    (root / "gradebook.db").write_bytes(b"")


def nobody_handed_in(root, tmp, monkeypatch, stack):
    shutil.rmtree(root / "submitted")


def on_windows(root, tmp, monkeypatch, stack):
    monkeypatch.setattr(sys, "platform", "win32")


def no_sandbox(root, tmp, monkeypatch, stack):
    monkeypatch.setattr(sandbox, "available", lambda: "`bwrap` is not installed")


def another_run(root, tmp, monkeypatch, stack):
    """Another command holds the course (the lock a running `course grade` holds)."""
    stack.enter_context(coursedir.exclusive(root, "sqlite:///gradebook.db"))


def stray_notebook(root, tmp, monkeypatch, stack):
    (tmp / "homework.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


def broken_notebook(root, tmp, monkeypatch, stack):
    (tmp / "b1_forward.ipynb").write_text('{"cells": [ this is not JSON')


@dataclass
class Case:
    name: str
    argv: list            # "{root}" and "{tmp}" are filled in
    code: int
    says: tuple           # what the one line on stderr contains
    setup: object = None  # setup(root, tmp, monkeypatch, stack) before the run


R = ["--root", "{root}"]
CASES = [
    # course grade
    Case("an unknown student", [*R, "grade", "--student", "nobody"], 2, ("no student 'nobody'", "alice, bob")),
    Case("an unknown student among known ones", [*R, "grade", "--student", "alice", "--student", "nobody"], 2,
         ("no student 'nobody'",)),
    Case("an unknown assignment", [*R, "grade", "--assignment", "part_z"], 2, ("no assignment 'part_z'", "part_b")),
    Case("an unknown notebook", [*R, "grade", "--notebook", "b9"], 2, ("no notebook 'b9'", "b1, b2")),
    Case("nothing in submitted/", [*R, "grade"], 2, ("nothing to grade",), nobody_handed_in),
    Case("a corrupted gradebook", [*R, "grade"], 2, ("gradebook.db", "not a database"), junk_gradebook),
    Case("a gradebook in a missing folder", [*R, "grade", "--db-url", "sqlite:///{tmp}/nowhere/gradebook.db"], 2,
         ("nowhere does not exist",)),
    Case("a gradebook URL of no database", [*R, "grade", "--db-url", "foo://bar"], 2, ("foo://bar",)),
    Case("a roster that is not there", [*R, "grade", "--roster", "{tmp}/roster.csv"], 2, ("no such file",)),
    Case("--json into a missing folder", [*R, "grade", "--json", "{tmp}/nowhere/grades.json"], 2,
         ("does not exist",)),
    Case("--jobs 0", [*R, "grade", "--jobs", "0"], 2, ("--jobs: must be 1 or more",)),
    Case("--timeout that is not a number", [*R, "grade", "--timeout", "soon"], 2, ("'soon' is not a whole number",)),
    Case("a misspelt option", [*R, "grade", "--studnet", "alice"], 2, ("unrecognized arguments: --studnet",)),
    Case("grade on Windows", [*R, "grade"], 2, ("does not run on Windows",), on_windows),
    Case("grade where the sandbox cannot run", [*R, "grade"], 2, ("sandbox", "--unsandboxed"), no_sandbox),
    Case("two runs at once on one SQLite gradebook", [*R, "grade"], 2, ("another course command",), another_run),
    # course release, demo
    Case("release with a corrupted gradebook", [*R, "release"], 2, ("not a database",), junk_gradebook),
    Case("release while another run is at work", [*R, "release"], 2, ("another course command",), another_run),
    Case("demo with a corrupted gradebook", [*R, "demo"], 2, ("not a database",), junk_gradebook),
    Case("demo on Windows", [*R, "demo"], 2, ("does not run on Windows",), on_windows),
    # course report
    Case("report without a gradebook", [*R, "report"], 2, ("no gradebook at", "course grade"), no_gradebook),
    Case("report with an empty gradebook", [*R, "report"], 2, ("is empty",), empty_gradebook),
    Case("report with a corrupted gradebook", [*R, "report"], 2, ("not a database",), junk_gradebook),
    Case("report of a URL of no database", [*R, "report", "--db-url", "foo://bar"], 2, ("foo://bar",)),
    # course export
    Case("export without a gradebook", [*R, "export"], 2, ("no gradebook at", "course grade"), no_gradebook),
    Case("export with an empty gradebook", [*R, "export"], 2, ("is empty",), empty_gradebook),
    Case("export with a corrupted gradebook", [*R, "export"], 2, ("not a database",), junk_gradebook),
    Case("export with a roster that is not there", [*R, "export", "--roster", "{tmp}/roster.csv"], 2,
         ("no such file",)),
    Case("export while another run is at work", [*R, "export"], 2, ("another course command",), another_run),
    # course check
    Case("check a folder", [*R, "check", "{root}/source/part_b"], 2, ("is a folder",)),
    Case("check a notebook of no course", [*R, "check", "{tmp}/homework.ipynb"], 2,
         ("not a notebook of this course", "b1_forward.ipynb"), stray_notebook),
    Case("check a notebook that is not there", [*R, "check", "--unsandboxed", "{tmp}/b1_forward.ipynb"], 2,
         ("no such file",)),
    Case("check a file that is not JSON", [*R, "check", "--unsandboxed", "{tmp}/b1_forward.ipynb"], 2,
         ("not valid JSON",), broken_notebook),
    Case("check on Windows", [*R, "check", "{tmp}/b1_forward.ipynb"], 2, ("does not run on Windows",), on_windows),
    # the command line itself
    Case("--root that is not a course folder", ["--root", "{tmp}", "grade"], 2, ("not a course folder",)),
    Case("--root that does not exist", ["report", "--root", "{tmp}/nowhere"], 2, ("no such folder",)),
    Case("no command", [], 2, ("required: COMMAND",)),
    Case("a misspelt command", ["gradee"], 2, ("invalid choice: 'gradee'",)),
]


def run_main(argv, capsys):
    """(exit status, stdout, stderr) of `course ARGV`, run in this process."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:  # argparse: a usage error, --help, --version
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_is_refused_in_one_line_and_changes_nothing(case, course, capsys, monkeypatch):
    root, tmp = course
    with contextlib.ExitStack() as stack:
        if case.setup:
            case.setup(root, tmp, monkeypatch, stack)
        before = snapshot(root)
        code, out, err = run_main([a.format(root=root, tmp=tmp) for a in case.argv], capsys)
    line = one_line(err)
    assert code == case.code, f"exit {code}, expected {case.code}: {line}"
    for words in case.says:
        assert words in line, line
    assert changed(before, snapshot(root)) == [], "a refused command changed the course folder"


@pytest.mark.parametrize("command", [["release"], ["demo"], ["grade"], ["export"], ["report"],
                                     ["check", "b1_forward.ipynb"]])
def test_outside_a_course_folder_every_command_refuses_and_touches_nothing(tmp_path, command):
    """Never another class: not the folder the grader's package sits in (the repository here)."""
    watched = [ROOT / name for name in ("gradebook.db", "exports", "feedback", "autograded")]
    stamps = [p.stat().st_mtime_ns if p.exists() else None for p in watched]
    run = subprocess.run([sys.executable, "-m", "grader", *command], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    line = one_line(run.stderr)
    assert run.returncode == 2 and "no course folder in" in line and str(tmp_path) in line and "--root" in line
    assert "course folder:" not in run.stdout
    assert list(tmp_path.iterdir()) == []
    assert [p.stat().st_mtime_ns if p.exists() else None for p in watched] == stamps


def _read_only(root):
    """The argv prefix that runs a command with the course folder read-only, or None."""
    if os.geteuid() != 0:
        root.chmod(0o555)
        return []
    bwrap = shutil.which("bwrap")
    if bwrap and subprocess.run([bwrap, "--dev-bind", "/", "/", "true"], capture_output=True).returncode == 0:
        return [bwrap, "--dev-bind", "/", "/", "--ro-bind", str(root), str(root), "--"]
    return None


@pytest.mark.parametrize("command", ["release", "demo", "grade", "export", "report"])
def test_a_read_only_course_folder_is_refused_before_any_work(course, command):
    root, _ = course
    before = snapshot(root)
    prefix = _read_only(root)
    if prefix is None:
        pytest.skip("no way to make the course folder read-only here (root without bubblewrap)")
    try:
        run = subprocess.run([*prefix, sys.executable, "-m", "grader", "--root", str(root), command],
                             capture_output=True, text=True, timeout=120)
    finally:
        root.chmod(0o755)
    line = one_line(run.stderr)
    assert run.returncode == 2 and "cannot write" in line and "read-only" in line, line
    assert changed(before, snapshot(root)) == []


def test_a_full_disk_during_release_is_one_line_and_leaves_the_rest_alone(course):
    """A file-size limit of 1 KiB (RLIMIT_FSIZE) stands in for a full disk: the first file that
    grows past it fails as a file on a full disk does."""
    import resource

    root, _ = course
    before = snapshot(root)

    def full():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    run = subprocess.run([sys.executable, "-m", "grader", "--root", str(root), "release"], capture_output=True,
                         text=True, timeout=300, preexec_fn=full)
    line = one_line(run.stderr)
    assert run.returncode == 3 and "File too large" in line and "free some space" in line, line
    assert changed(before, snapshot(root), allowed={"release", "solution", "gradebook.db",
                                                    "gradebook.db-journal"}) == []


def test_ctrl_c_during_release_says_what_it_leaves(course):
    root, _ = course
    before = snapshot(root)
    run = subprocess.Popen([sys.executable, "-m", "grader", "--root", str(root), "release"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (root / "release").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # nbgrader has begun writing release/
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    line = one_line(err)
    assert run.returncode == 130 and "interrupted" in line and "run `course release` again" in line, line
    assert changed(before, snapshot(root), allowed={"release", "solution", "gradebook.db",
                                                    "gradebook.db-journal"}) == []


# ----------------------------------------------------------------------------- what works

def test_dry_run_says_what_would_be_graded_and_writes_nothing(course, capsys):
    root, _ = course
    before = snapshot(root)
    code, out, err = run_main(["grade", "--root", str(root), "--dry-run", *sandbox_flag()], capsys)
    assert code == 0 and err == "", err
    assert out.splitlines()[0] == f"course folder: {root}"
    assert "would grade 2 student(s), 2 notebook(s) each (part_b)" in out
    assert "alice  part_b 1 of 2 (not handed in: b2)" in out and "bob    part_b not handed in" in out
    assert "note: submitted/bob/part_z: not an assignment of this course" in out
    assert changed(before, snapshot(root)) == []
    code, out, _ = run_main(["--root", str(root), "grade", "--dry-run", "--notebook", "b1", *sandbox_flag()], capsys)
    assert code == 0 and "1 notebook(s) each" in out and "alice  part_b 1 of 1" in out


def test_version_and_a_description_in_every_commands_help(capsys):
    code, out, _ = run_main(["--version"], capsys)
    assert code == 0 and out.startswith("course 0.") and "nbgrader 0.9.6" in out
    for command in ("release", "demo", "grade", "export", "report", "check"):
        code, out, _ = run_main([command, "--help"], capsys)
        assert code == 0 and "--root PATH" in out
        description = out.split("\n\n")[1]
        assert len(description.split()) > 10, f"course {command} --help has no description:\n{out}"
    assert cli.MEMORY_MB == grading.DEFAULT_MEMORY_MB, "--help shows another default than grade_class's"


def test_export_says_when_to_use_it(capsys):
    code, out, _ = run_main(["export", "--help"], capsys)
    assert code == 0 and "after grading the written answers in formgrader" in " ".join(out.split())
    for option in ("--autograded-only", "--percent", "--bom", "--roster CSV", "--db-url URL"):
        assert option in out
    code, out, _ = run_main(["--help"], capsys)
    assert "course export" in out and "without grading" in " ".join(out.split())


def _rows(students, notebooks, assignments=("part_a", "part_b", "part_c")):
    parts = [assignments[i * len(assignments) // len(notebooks)] for i in range(len(notebooks))]
    return {s: [NotebookGrade(part, f"{name}_x", score=11.0, max_score=15.0, needs_manual=True, code_score=8.0,
                              max_code_score=9.0) for part, name in zip(parts, notebooks)] for s in students}


NOTEBOOKS = [f"{p}{i}" for p, n in (("a", 5), ("b", 5), ("c", 6)) for i in range(1, n + 1)]


def test_the_grade_table_fits_100_columns():
    grades = _rows(["demo-partly-wrong", "ada"], NOTEBOOKS)
    grades["ada"][3].score, grades["ada"][3].reason = None, NOT_SUBMITTED
    grades["ada"][4].score, grades["ada"][4].reason = 0.0, MISSING
    lines = table.format_table(grades).splitlines()
    assert max(map(len, lines)) <= WIDTH and lines[0].startswith("student") and "b1" in lines[0]
    ada = next(line for line in lines if line.startswith("ada"))
    assert ada.split()[4:6] == ["–", "–"], "a missing notebook and a missing part are marked alike"
    # ids too long for one block: one block per part, the totals with the last
    split = table.format_table(_rows(["a-student-id-of-forty-characters-or-more", "ada"], NOTEBOOKS)).splitlines()
    assert max(map(len, split)) <= WIDTH
    heads = [line for line in split if line.startswith("student")]
    assert len(heads) == 3 and "total" in heads[-1] and "total" not in heads[0]
    assert all(name in " ".join(heads) for name in NOTEBOOKS)


def test_progress_moves_a_notebook_at_a_time_for_one_student():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    with GradingProgress(1, 3, file=Terminal()) as bar:
        for _ in range(3):
            bar.begin("alice", 3)          # b1, b2, b3 start: b1 and b2 are done
        assert bar.bar.n == 2
        bar.done("alice", 3)
        assert bar.bar.n == 3 and bar.done_students == 1


def test_the_sandbox_probe_says_what_failed(monkeypatch):
    """Bubblewrap that starts, with Python in it that cannot import the course, is not told to
    install bubblewrap; bubblewrap that cannot start is."""
    monkeypatch.setattr(sandbox.shutil, "which", lambda program: f"/usr/bin/{program}")
    python_fails = [sys.executable, "-c", "raise SystemExit(\"ModuleNotFoundError: No module named 'course'\")"]
    monkeypatch.setattr(sandbox, "command", lambda argv, scratch: python_fails)
    why = sandbox.available.__wrapped__()
    assert "could not import the course" in why and "No module named 'course'" in why and "apt-get" not in why
    bwrap_fails = ["sh", "-c", "echo 'bwrap: Creating new namespace failed: Operation not permitted' >&2; exit 1"]
    monkeypatch.setattr(sandbox, "command", lambda argv, scratch: bwrap_fails)
    why = sandbox.available.__wrapped__()
    assert "bubblewrap could not start" in why and "Operation not permitted" in why


def test_grading_a_class_with_slips_and_a_second_run_beside_it(course):
    """The one real grading run: from the course folder itself (no --root), alice's b1 graded,
    her missing b2 and bob's missing part marked alike, bob's part_z noted; a second
    `course grade` started meanwhile is refused at once."""
    root, _ = course
    first = subprocess.Popen([sys.executable, "-m", "grader", "grade", *sandbox_flag()], cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("preparing the gradebook"):
            break  # the first run holds the course folder from before this line
    second = subprocess.run([sys.executable, "-m", "grader", "--root", str(root), "grade", "--student", "alice",
                             *sandbox_flag()], capture_output=True, text=True, timeout=120)
    out, err = first.communicate(timeout=600)
    out = "".join(seen) + out
    assert first.returncode == 0, out + err
    assert second.returncode == 2 and "another course command" in one_line(second.stderr)
    assert out.splitlines()[0] == f"course folder: {root}"
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("student"))
    block = lines[head:lines.index(table.LEGEND[1]) + 1]
    assert max(map(len, block)) <= WIDTH
    rows = {line.split()[0]: line.split()[1:3] for line in block if line.split()[0] in ("alice", "bob")}
    assert rows == {"alice": ["0", "–"], "bob": ["–", "–"]}, "\n".join(block)
    assert "note: submitted/bob/part_z: not an assignment of this course (part_b); not graded" in out
    assert "not submitted" in (root / "feedback" / "alice" / "part_b" / "b2_backward.html").read_text()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        assert sorted(s.id for s in gb.students) == ["alice", "bob"]
        assert [a.name for a in gb.assignments] == ["part_b"]
