"""The sandbox students' kernels are graded in (grader.sandbox: bubblewrap).

A kernel started the way `course grade` starts it must see no course folder, no grader's files,
no network and no other process; it keeps to its limits; it is interrupted at the timeout and
leaves no process behind. Without the sandbox `course grade` and `course check` refuse to run
unless told --unsandboxed, and the demo class runs all the same. The sample class's students who
try to reach out of the kernel (tests/sample_class.py: cheat-read-source, cheat-write-gradebook,
cheat-network, fault-fork-bomb) are graded by tests/test_faults.py and tests/test_cheating.py.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import democlass, execute, sandbox
from test_grading import copy_course

ROOT = Path(__file__).resolve().parents[1]


def require_sandbox():
    why = sandbox.available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI grades in the sandbox, and it cannot run here: {why}", pytrace=False)
        pytest.skip(why)


@pytest.fixture(params=["started", "forked"])
def forked(request):
    """Each kernel test twice: a kernel started anew, and one forked from a student's zygote
    (IsolatedExecute.zygote, as `course grade` runs them); the zygote is stopped after the test."""
    yield request.param == "forked"
    execute._KernelZygote.discard_all()


def run_kernel(cells, tmp_path, timeout=30, forked=False):
    """The stdout of each cell, run by the grader's kernel in the sandbox."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in cells]
    executed, _ = execute.IsolatedExecute(timeout=timeout, sandbox=True, zygote=forked).preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    return ["".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout") +
            "".join(f"{o['ename']}: {o['evalue']}" for o in cell.outputs if o["output_type"] == "error")
            for cell in executed.cells]


PROBE = '''
import json, os, socket
seen = {{}}
seen["visible"] = [p for p in {paths!r} if os.path.exists(p)]
try:
    open({write!r}, "w").write("pwned")
    seen["wrote"] = True
except OSError:
    seen["wrote"] = False
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    seen["network"] = True
except OSError:
    seen["network"] = False
try:
    os.kill({grader}, 0)
    seen["grader"] = True
except OSError:
    seen["grader"] = False
seen["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
try:
    import grader.judge
    seen["grader_package"] = True
except ImportError:
    seen["grader_package"] = False
seen["secret"] = "COURSE_TEST_SECRET" in os.environ
seen["uid"] = os.getuid()
seen["home"] = os.path.expanduser("~")
seen["cwd"] = os.getcwd()
open("mine.txt", "w").write("a kernel may write in its own folder")
print(json.dumps(seen))
'''


def test_a_sandboxed_kernel_sees_no_course_no_grader_no_network_and_no_other_process(tmp_path, monkeypatch, forked):
    require_sandbox()
    monkeypatch.setenv("COURSE_TEST_SECRET", "s3cret")
    secret = tmp_path / "grader-only.txt"
    secret.write_text("the grader's")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    paths = [str(ROOT / name) for name in ("source", "answers", "tests", "grader", "nbgrader_config.py", "pyproject.toml")]
    paths += [str(secret), str(Path.home() / ".bashrc"), "/etc/shadow", "/srv", "/var/lib"]
    code = PROBE.format(paths=[p for p in paths if os.path.exists(p)], write=str(tmp_path / "pwned.txt"),
                        port=listener.getsockname()[1], grader=os.getpid())
    out, = run_kernel([code], tmp_path, forked=forked)
    listener.close()
    seen = json.loads(out)
    assert seen["visible"] == [], f"the kernel can see {seen['visible']}"
    assert not seen["wrote"] and not (tmp_path / "pwned.txt").exists()
    assert not seen["network"], "the kernel reached a server on the grading machine"
    assert not seen["grader"], "the kernel can signal the grading process"
    assert len(seen["pids"]) <= 3, f"the kernel sees the processes {seen['pids']}"
    assert not seen["secret"], "the grader's environment leaked into the kernel"
    assert not seen["grader_package"], "the kernel can import the grader's package"
    assert seen["home"].startswith(str(Path(seen["cwd"]).parent)), seen
    if os.geteuid() == 0:
        assert seen["uid"] != 0, "a root grader's kernel must not run as root"


def test_a_sandboxed_kernel_keeps_to_its_process_limit(tmp_path, forked):
    require_sandbox()
    fork = '''
import os, time
children = 0
try:
    while children < 1000:
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        children += 1
except OSError as error:
    print(children, type(error).__name__)
'''
    out, = run_kernel([fork], tmp_path, forked=forked)
    children, error = out.split()
    assert int(children) < sandbox.NPROC and error == "BlockingIOError", out


def test_a_sandboxed_kernel_is_interrupted_at_the_timeout_and_leaves_nothing_behind(tmp_path, forked):
    require_sandbox()
    marker = f"301.{os.getpid()}"  # this run's own: the suites of other Pythons run this test at the same time
    cells = [f"import subprocess\nsubprocess.Popen(['sleep', '{marker}'], start_new_session=True)\nprint('started')",
             "while True:\n    pass",
             "print('after')"]
    started, looped, after = run_kernel(cells, tmp_path, timeout=5, forked=forked)
    assert started == "started\n"
    assert "KeyboardInterrupt" in looped, looped
    assert after == "after\n", "the kernel did not survive the interrupt"
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == ["sleep", marker]]
    assert left == [], "a process the kernel started outlived it"


def test_a_sandboxed_kernel_starts_in_an_empty_folder(tmp_path, forked):
    """As without the sandbox: the kernel's connection file, sockets and home are beside its working
    folder, not in it."""
    require_sandbox()
    (out,) = run_kernel(["import os\nprint(os.path.basename(os.getcwd()), os.listdir('.'))\n"], tmp_path, forked=forked)
    assert out.strip() == "work []"


def test_a_sandboxed_kernel_cannot_reach_the_kernel_started_for_the_next_notebook(tmp_path):
    """course grade starts the next notebook's kernel while this one runs (IsolatedExecute.prestart):
    its folder (connection file, sockets) and its process are out of this kernel's sight."""
    require_sandbox()
    import tempfile

    pattern = os.path.join(tempfile.gettempdir(), "course-kernel-*")  # where the kernels' folders are made
    look = ("import glob, os\n"
            f"print(sorted(glob.glob({pattern!r})), os.getcwd())\n"
            "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(look)]
    try:
        executed, _ = execute.IsolatedExecute(timeout=60, sandbox=True, prestart=True).preprocess(
            nb, {"metadata": {"path": str(tmp_path)}})
        ahead = execute._Spare.kernel
        assert ahead is not None and os.path.isdir(ahead.scratch)
        folders, processes = executed.cells[0].outputs[0]["text"].splitlines()
        seen, cwd = folders.rsplit(" ", 1)
        visible = json.loads(seen.replace("'", '"'))
        assert len(visible) == 1 and (cwd + os.sep).startswith(visible[0] + os.sep), \
            f"the kernel sees another kernel's folder: {visible}"
        assert ahead.scratch not in folders
        assert len(json.loads(processes)) < 10, f"the kernel sees processes beyond its own: {processes}"
    finally:
        execute._Spare.discard()


def test_the_first_notebook_of_a_grading_process_is_forked_from_the_zygote_started_ahead(tmp_path):
    """A grading process starts its kernels' zygote while the run builds its template
    (execute.start_zygote): the first notebook, run in nbgrader's autograde environment, is forked
    from that one, not from one it starts because the one ahead was for other kernels (a second)."""
    require_sandbox()
    from nbgrader.utils import setenv

    try:
        execute.start_zygote(True)
        ahead = execute._KernelZygote.current
        assert ahead is not None, "no zygote was started ahead"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('graded')")])
        nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
        with setenv(NBGRADER_EXECUTION="autograde"):  # as nbgrader's autograde runs its preprocessors
            executed, _ = execute.IsolatedExecute(timeout=30, sandbox=True, zygote=True).preprocess(
                nb, {"metadata": {"path": str(tmp_path)}})
        assert executed.cells[0].outputs[0]["text"] == "graded\n"
        assert execute._KernelZygote.current is ahead, \
            "the first notebook's kernel did not come from the zygote started ahead for it"
    finally:
        execute._KernelZygote.discard_all()


def test_kernels_forked_for_one_student_start_fresh_and_leave_nothing_behind(tmp_path):
    """course grade forks each notebook's kernel from a zygote of the student's (course.zygote), one
    kernel at a time: a kernel finds nothing of the one before it (names, files in /tmp and its
    folder, processes it left running), has the course's modules imported but no name bound; a
    kernel that kills the zygote loses only its own notebook; the next student's kernels come from
    another zygote, started (in a sandbox of its own) while this student is graded."""
    require_sandbox()
    marker = f"302.{os.getpid()}"
    leave = ("import os, subprocess\nsecret = 42\nopen('/tmp/left.txt', 'w').write('x')\n"
             f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
             "print(os.getcwd())\n")
    look = ("import os, sys\nprint(os.path.exists('/tmp/left.txt'), 'secret' in globals(), 'np' in globals(),\n"
            "      'numpy' in sys.modules, 'sympy' in sys.modules,\n"
            "      any(open(f'/proc/{p}/cmdline').read().startswith('sleep') for p in os.listdir('/proc') if p.isdigit()))\n"
            "print(os.getcwd())\n")
    try:
        first, = run_kernel([leave], tmp_path, forked=True)
        zygote = execute._KernelZygote.current
        assert zygote is not None and zygote.ready, "no zygote was started"
        seen, cwd = run_kernel([look], tmp_path, forked=True)[0].splitlines()
        assert execute._KernelZygote.current is zygote, "the second kernel was not forked from the same zygote"
        assert seen == "False False False True True False", seen
        assert cwd != first.strip() and not os.path.exists(first.strip()), "the first kernel's folder is still there"
        left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == ["sleep", marker]]
        assert left == [], "a process the first kernel started outlived it"

        assert run_kernel(["print(open('/proc/self/comm').read().strip())"], tmp_path, forked=True) == ["course-kernel\n"]
        assert run_kernel(["import os\ntry:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass\nprint(os.getppid())"],
                          tmp_path, forked=True) == ["1\n"], \
            "a forked kernel's parent is not the sandbox's init"
        kill_zygote = ("import os, signal, time\n"  # every process it sees, the zygote among them
                       "for p in os.listdir('/proc'):\n"
                       "    if p.isdigit() and int(p) not in (1, os.getpid()):\n"
                       "        try:\n"
                       "            os.kill(int(p), signal.SIGKILL)\n"
                       "        except OSError:\n"
                       "            pass\n"
                       "time.sleep(30)")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(kill_zygote)])
        with pytest.raises(Exception) as died:
            execute.IsolatedExecute(timeout=60, sandbox=True, zygote=True).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
        assert "died" in str(died.value).lower() or "dead" in type(died.value).__name__.lower(), repr(died.value)
        again, = run_kernel(["print('graded')"], tmp_path, forked=True)
        assert again == "graded\n", "after a kernel killed its zygote, the next notebook was not graded"

        before, spare = execute._KernelZygote.current, execute._KernelZygote.spare
        assert spare is not None and spare is not before, "the next student's zygote was not started"
        assert spare.root != before.root and os.listdir(spare.root) == ["zygote"], \
            "the next student's zygote shares this student's folder, or a kernel ran in it"
        execute.end_student()
        after, = run_kernel(["print('next student')"], tmp_path, forked=True)
        assert after == "next student\n"
        assert execute._KernelZygote.current is spare and before.process.poll() is not None, \
            "the next student's kernel did not come from the next student's zygote"
        assert execute._KernelZygote.spare not in (None, spare), "the student after did not get a zygote of its own"
        zygotes = [execute._KernelZygote.current, execute._KernelZygote.spare]
        execute._KernelZygote.discard_all()
        assert all(z.process.poll() is not None for z in zygotes), "a zygote outlived its grading process"
    finally:
        execute._KernelZygote.discard_all()


def test_a_forked_kernel_cannot_plant_anything_for_the_next_one_in_the_zygotes_folders(tmp_path):
    """The zygote's own home, IPython and Matplotlib folders are in the student's sandbox, writable by
    a kernel: a startup file, an IPython configuration or a matplotlibrc planted there never reaches
    the next kernel (each has its own IPython folder; the zygote read Matplotlib's settings before
    any kernel ran)."""
    require_sandbox()
    plant = ("import os\nzygote = os.path.join(os.path.dirname(os.path.dirname(os.getcwd())), 'zygote')\n"
             "for folder in ('ipython/profile_default/startup', 'home/.ipython/profile_default/startup'):\n"
             "    os.makedirs(os.path.join(zygote, folder), exist_ok=True)\n"
             "    open(os.path.join(zygote, folder, '00-planted.py'), 'w').write('planted = True')\n"
             "open(os.path.join(zygote, 'ipython/profile_default/ipython_kernel_config.py'), 'w').write("
             "'c.InteractiveShellApp.exec_lines = [\"planted = True\"]')\n"
             "open(os.path.join(zygote, 'matplotlib', 'matplotlibrc'), 'w').write('lines.linewidth: 9')\n"
             "print(sorted(os.listdir(zygote)))\n")
    look = "import matplotlib\nprint('planted' in globals(), matplotlib.rcParams['lines.linewidth'])\n"
    try:
        planted, = run_kernel([plant], tmp_path, forked=True)
        assert planted.strip() == "['home', 'ipython', 'matplotlib']", planted
        seen, = run_kernel([look], tmp_path, forked=True)
        assert seen.strip() == "False 1.5", seen
    finally:
        execute._KernelZygote.discard_all()


def _cmdline(proc):
    try:
        return (proc / "cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def _no_sandbox_env(tmp_path):
    """An environment in which the sandbox's programs are not found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {**os.environ, "PATH": str(empty)}


@pytest.mark.parametrize("command", [["grade"], ["check", "release/part_b/b1_forward.ipynb"]])
def test_without_the_sandbox_grade_and_check_refuse_and_say_how(tmp_path, command):
    (tmp_path / "course").mkdir()
    root = copy_course(tmp_path / "course", notebooks={"part_b/b1_forward.ipynb"})
    (root / "submitted" / "someone" / "part_b").mkdir(parents=True)
    run = subprocess.run([sys.executable, "-m", "grader", "--root", str(root), *command],
                         capture_output=True, text=True, timeout=120, env=_no_sandbox_env(tmp_path), cwd=root)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "sandbox" in run.stderr and "bubblewrap" in run.stderr and "--unsandboxed" in run.stderr, run.stderr
    assert not (root / "autograded").exists() and not (root / "gradebook.db").exists()


def test_the_demo_class_runs_without_the_sandbox(monkeypatch, tmp_path):
    """The course's own demo class needs no sandbox; a real class does (or --unsandboxed)."""
    seen = {}
    monkeypatch.setattr(sandbox, "available", lambda: "no bubblewrap on this machine")
    monkeypatch.setattr(democlass, "release", lambda root: None)
    monkeypatch.setattr(democlass, "make_demo_class", lambda root: ["demo-perfect"])
    monkeypatch.setattr(democlass, "grade_class", lambda root, **kwargs: seen.update(kwargs))
    democlass.demo(tmp_path, progress=lambda message: None)
    assert seen["unsandboxed"] is True
    with pytest.raises(sandbox.SandboxMissing, match="--unsandboxed"):
        sandbox.require()
