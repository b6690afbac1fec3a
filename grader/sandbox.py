"""The sandbox a student's kernel runs in while the course grades it: bubblewrap (`bwrap`).

A handed-in notebook is code the grader runs, written by someone who may want a better grade.
Inside the sandbox the kernel sees:

- files: the system's programs and libraries (/usr, a few harmless files of /etc), the Python
  installation and the `course` package, all read-only, and its own scratch folder (its working
  folder, home, IPython and Matplotlib folders, the sockets it talks over), which is deleted
  afterwards. Not the course folder (source/, the gradebook, other students' work, the
  configuration), not the instructor's home, not /srv or /var;
- no network (a network namespace of its own with no interface up);
- no other process: a process namespace of its own, so it can neither see nor signal nor trace
  the grader or other students' kernels, and everything it started dies with it;
- limits: NPROC processes and threads, FSIZE bytes per file it writes; memory is the grading
  process's own limit (`course grade --memory-limit`), time the cell timeout.

`course grade` runs one sandbox per student: the process its kernels are forked from (course.zygote)
runs in it, its writable folder holding that process's folders and the scratch folder of the one
kernel running at a time (grader.execute.IsolatedExecute.zygote).

When the grader runs as root, the kernel runs as a user id of its own (UID_BASE + a number) that
owns nothing outside the scratch folder, and the process limit counts that id alone. Otherwise it
runs as the instructor's user inside a user namespace, and the limit counts the instructor's
processes too (NPROC more than they have).

    available() -> None, or why the sandbox cannot run here
    command(argv, scratch) -> the kernel's command line, wrapped
"""
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NPROC = 64                    # processes and threads of a kernel (ipykernel itself uses about ten)
FSIZE = 256 * 1024 * 1024     # bytes in one file the kernel writes
UID_BASE = 60000              # with a root grader: kernels run as UID_BASE + (pid % UID_SPAN)
UID_SPAN = 4000
SYSTEM = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC = ("alternatives", "fonts", "group", "hosts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
       "localtime", "matplotlibrc", "mime.types", "nsswitch.conf", "passwd")
HOW = ("install bubblewrap (Debian and Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
       "`sudo dnf install bubblewrap`) on a Linux machine that allows user namespaces")


class SandboxMissing(RuntimeError):
    """Student code would run unsandboxed, and nobody said that was meant."""


def _root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


SLOT = "COURSE_SANDBOX_SLOT"  # set by grader.workers in each worker: its number on this machine


def sandbox_uid():
    """The user id a root grader runs kernels as: one per grading process, so that one kernel's
    processes never count against another's limit. A worker in a PID namespace of its own
    (grader.workers) has the same pid as every other, so it goes by the slot its pool gave it."""
    slot = os.environ.get(SLOT, "")
    return UID_BASE + (int(slot) if slot.isdigit() else os.getpid()) % UID_SPAN


def judge_uid():
    """The user id a root grader runs its judge as (grader.judge_process): another than its
    kernels', so that neither can signal, trace or count against the other."""
    return sandbox_uid() + UID_SPAN


def readable_paths(grader=False):
    """What the kernel reads besides the system: the Python installation(s) and the student
    package `course`; grader=True adds the package `grader` (the judge's sandbox: a kernel's
    never has it)."""
    import site

    import course

    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths.add(Path(course.__file__).resolve().parent)
    if grader:
        paths.add(Path(__file__).resolve().parent)
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and os.path.isdir(user_site):
        paths.add(Path(user_site).resolve())
    paths = sorted(p for p in paths if p != Path("/"))
    # a folder inside another is bound with it
    return [p for p in paths if not any(q != p and q in p.parents for q in paths)]


def _bound(path, bound):
    return any(path == b or b in path.parents for b in bound)


def command(argv, scratch, writable=True, uid=None, grader=False):
    """`argv` (the kernel's command line) run in the sandbox, with `scratch` its only writable
    folder (it must exist, and belong to sandbox_uid() when the grader is root: prepare()).
    writable=False binds `scratch` read-only too: nothing but /tmp (a fresh tmpfs) can be written.
    uid: the user id a root grader runs it as (default sandbox_uid()).
    grader: whether the package `grader` is readable in it (the judge's; never a kernel's)."""
    scratch = Path(scratch).resolve()
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent"]
    if _root():
        # bwrap sets up the mounts as root, then the kernel drops to an id of its own
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--disable-userns"]  # and no user namespace of its own inside
    bound = [Path("/usr")]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
            bound.append(path)
    for name in ETC:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]  # as /tmp is anywhere
    made = {Path("/tmp")}
    for path in [*readable_paths(grader), scratch]:
        if _bound(path, bound):
            continue
        for parent in reversed(path.parents):
            if parent != Path("/") and parent not in made and not _bound(parent, bound):
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--bind" if path == scratch and writable else "--ro-bind", str(path), str(path)]
        bound.append(path)
    # ipykernel exits when its parent looks gone, and its parent here is the sandbox's init
    # (pid 1): told that its parent is pid 1, it never looks (--die-with-parent stops it with the
    # grader instead), and it prints nothing to the grader's terminal
    # it starts in the scratch folder's work/ (the empty folder grader.execute starts kernels in)
    work = scratch / "work"
    args += ["--setenv", "JPY_PARENT_PID", "1", "--chdir", str(work if work.is_dir() else scratch), "--"]
    if _root():
        uid = sandbox_uid() if uid is None else uid
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--"]
        nproc = NPROC
    else:
        nproc = NPROC + _my_tasks()
    program = os.path.abspath(argv[0]) if os.sep in argv[0] else argv[0]  # no "tests/../" left to resolve
    args += ["prlimit", f"--nproc={nproc}", f"--fsize={FSIZE}", "--", program, *argv[1:]]
    return args


def _my_tasks():
    """How many processes and threads this user runs (what RLIMIT_NPROC counts)."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def prepare(scratch):
    """Give the sandboxed kernel its scratch folder (owned by its user id when the grader is root)."""
    if _root():
        uid = sandbox_uid()
        for folder, _, files in os.walk(scratch):
            os.chown(folder, uid, uid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, uid)


@functools.cache
def available():
    """None when a kernel can run in the sandbox here, else why not (and how to fix it)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    for program in ("bwrap", "prlimit") + (("setpriv",) if _root() else ()):
        if shutil.which(program) is None:
            return f"`{program}` is not installed; " + HOW
    with tempfile.TemporaryDirectory(prefix="course-sandbox-probe-") as scratch:
        prepare(scratch)
        probe = [sys.executable, "-c", "import course"]
        try:
            result = subprocess.run(command(probe, scratch), capture_output=True, text=True, timeout=60,
                                    stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not start a sandbox ({error}); " + HOW
    if result.returncode != 0:
        said = result.stderr.strip().splitlines()
        if any(line.startswith("bwrap:") for line in said) or not said:
            return f"bubblewrap could not start a sandbox ({result.stderr.strip()[-300:]}); " + HOW
        # the sandbox ran, and Python in it failed: bubblewrap is not what is missing
        return (f"the sandbox started, but Python in it could not import the course ({said[-1][-300:]}); it "
                "sees only the system's /usr, this Python installation and the installed package `course`: "
                "install the course into this Python (`pip install -e .` in the course folder, as ./run setup "
                "does) and make sure what it imports lives there")
    return None


def require(unsandboxed=False):
    """True: kernels run in the sandbox. False when `unsandboxed` says to run them without it (the
    instructor's explicit choice). Raises SandboxMissing when the sandbox cannot run here."""
    if unsandboxed:
        return False
    why = available()
    if why is not None:
        raise SandboxMissing(
            f"Students' notebooks are not graded outside the sandbox, and it cannot run here: {why}. "
            "Their code could read the hidden tests and the gradebook, use the network, or stop the "
            "grader. Grade on a Linux machine with bubblewrap, or pass --unsandboxed to grade here "
            "anyway (only for code you trust).")
    return True
