"""The kernels of one student's notebooks, forked one at a time from a process that has already
imported what they need (grader.execute starts it, in the sandbox, when it grades a student).

A kernel started from nothing spends about half a second starting Python, IPython and ipykernel,
and as much again importing numpy, SymPy and Matplotlib, for every notebook of every student.
This process does that once per student; each notebook's kernel is a fork of it that only reads
its connection file and opens its sockets (a tenth of a second), and starts as fresh as a new
one: no cell has run in this process, and no name is bound in the kernel's namespace.

    python -m course.zygote FD      FD: a SOCK_SEQPACKET socket to the grader

The grader sends {"op": "fork", "argv": [...], "env": {...}, "cwd": "..."} (the arguments of
ipykernel's launcher, the kernel's environment and folder); the kernel runs until it exits or the
grader sends {"op": "signal", "signal": N}. Then every other process of this sandbox is killed
(what the student's code left running), the sandbox's /tmp is emptied, and the grader is told
{"op": "exited", "status": N}; only then is the next kernel forked. One kernel at a time: a
notebook never shares the sandbox with another one's processes. The kernel's code can change
this process (it is the same student's sandbox), which changes only the same student's later
kernels: every value they send is read as data and judged in the grader anyway.
"""
import json
import os
import select
import shutil
import signal
import socket
import sys
import time

# what every kernel imports (ipykernel), and what the course's notebooks import: this process imports them
# once, as the kernel a student keeps open in JupyterLab has them after the first run
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
                  "IPython.core.interactiveshell", "matplotlib_inline.backend_inline",
                  # what IPKernelApp.initialize imports (a tenth of a kernel's start when forked)
                  "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
                  "IPython.extensions.storemagic", "IPython.utils.wildcard", "sqlite3", "pdb", "faulthandler",
                  "tornado.platform.asyncio")
NOTEBOOK_MODULES = ("course.agent", "numpy", "sympy", "matplotlib.pyplot", "ipywidgets", "IPython.display",
                    "course.symbolic", "course.testing", "course.gradcheck", "course.viz", "course.mlp", "course.data",
                    "course.experiments")


def _send(ctrl, message):
    ctrl.send(json.dumps(message).encode())


def dumpable(flag):
    """PR_SET_DUMPABLE: 0 keeps another process of the same user from tracing this one or reading
    its memory (the children it forks inherit that); 1 undoes it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, int(flag), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _name(name):
    """PR_SET_NAME: the process's name in /proc/PID/comm."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(15, ctypes.c_char_p(name), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def import_quietly(modules):
    """Import `modules`, their warnings silenced; what cannot be imported is left for the code that
    needs it to say."""
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 (the notebook that imports it says why)
                pass


def _ancestors():
    """This process's id and its ancestors' in its PID namespace (the namespace's init among them)."""
    pids, pid = set(), os.getpid()
    while pid > 0 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/status") as status:
                pid = next(int(line.split()[1]) for line in status if line.startswith("PPid:"))
        except (OSError, StopIteration, ValueError):
            break
    return pids


def clear_sandbox(private):
    """Kill every process this one may signal (itself and the namespace's init excepted) until
    none is left, and empty /tmp; whether none is left. Only in a sandbox of this process's own
    (private: its PID namespace and user id; this one's, or a judge's: grader.judge_process), where
    that is nothing else's (without it: True, and nothing done)."""
    if not private:
        return True
    keep, deadline = _ancestors(), time.monotonic() + 2.0
    while True:
        try:  # again each time: a process that forked while it was being killed leaves a child
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not any(int(p) not in keep for p in os.listdir("/proc") if p.isdigit()):
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    for entry in os.scandir("/tmp"):
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    return True


def _kernel(ctrl, request):
    """In the forked child: become the notebook's kernel (never returns)."""
    status = 1
    try:
        ctrl.close()
        os.setsid()
        dumpable(True)  # the kernel's own /proc files are its own again
        _name(b"course-kernel")  # what ps and top show for it (its command line is this module's)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        sys.argv = ["ipykernel_launcher", *map(str, request["argv"])]
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=sys.argv[1:])
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    except BaseException:  # noqa: BLE001 (said on the kernel's stderr, the grading log)
        import traceback

        traceback.print_exc()
    finally:
        os._exit(status)


def _fork_kernel(ctrl, request):
    """Fork the kernel twice removed, so that its parent is the sandbox's init, as a kernel started
    in a sandbox of its own has it (it cannot kill its parent, and does not stop this process by
    trying); its process id."""
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read)
        pid = os.fork()
        if pid == 0:
            os.close(write)
            _kernel(ctrl, request)
        os.write(write, str(pid).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read()
    os.waitpid(middle, 0)
    return int(said)


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _watch(ctrl, pid, private):
    """Serve the grader's signals until the kernel `pid` exits (its exit status is its parent's to
    know: 0 here)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        ready, _, _ = select.select([ctrl] + ([pidfd] if pidfd is not None else []), [], [], None if pidfd else 0.01)
        if (pidfd is not None and pidfd in ready) or (pidfd is None and _gone(pid)):
            if pidfd is not None:
                os.close(pidfd)
            return 0
        if ctrl not in ready:
            continue
        data = ctrl.recv(1 << 16)
        if not data:  # the grader is gone
            clear_sandbox(private)
            os._exit(0)
        try:
            number = int(json.loads(data).get("signal"))
        except (ValueError, TypeError, AttributeError):
            continue
        try:
            if number == signal.SIGKILL and private:
                os.kill(-1, signal.SIGKILL)  # the kernel and all it started
            else:
                os.killpg(pid, number)
        except OSError:
            pass


def main(fd, private):
    ctrl = socket.socket(fileno=fd)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel's launcher: the working folder is the student's
    dumpable(False)
    # Matplotlib reads MPLBACKEND when it is imported: the backend ipykernel sets for its kernels
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # debugpy (ipykernel.debugger imports it) warns on stderr that Python's frozen modules may hide
    # breakpoints: nobody debugs a graded kernel, and the grader's log should hold what went wrong
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import_quietly(KERNEL_MODULES + NOTEBOOK_MODULES)
    _send(ctrl, {"op": "ready"})
    while True:
        try:
            data = ctrl.recv(1 << 20)
        except OSError:  # the grader closed the socket (it is stopping this zygote)
            return
        if not data:
            return
        try:
            request = json.loads(data)
            if request.get("op") != "fork":
                continue
        except (ValueError, AttributeError):
            continue
        try:
            pid = _fork_kernel(ctrl, request)
        except (OSError, ValueError):
            _send(ctrl, {"op": "exited", "status": 1})
            continue
        status = _watch(ctrl, pid, private)
        clean = clear_sandbox(private)
        _send(ctrl, {"op": "exited", "status": status, "clean": clean})
        if not clean:
            return  # what the kernel left would meet the next one: the grader starts another zygote


if __name__ == "__main__":
    main(int(sys.argv[1]), "--private" in sys.argv[2:])
