"""Grading processes that a submission can kill without costing anyone else anything.

concurrent.futures' process pool fails every task it holds once one of its processes dies, and
a student's kernel can kill the process that started it (`os.kill(os.getppid(), 9)`): every
student graded at that moment would lose their grades. Here each worker process has its own
pipe; a worker says where it is ("part_b/b1_forward") before each step of its task, and when it
dies the pool starts a new one and reports the task and that step, so that the caller can grade
the task again without the step that killed it. The other workers never notice.

    with Workers(jobs, initializer, initargs, function, isolate=True) as pool:
        pool.submit(task)
        for task, result, died_at in pool.results():
            ...  # result is None when the worker died (died_at: its last step, or None)

isolate=True starts each worker in a PID namespace of its own (bubblewrap, with the file system
and everything else as they are): no process of the grading run is visible to it, so a worker
(or whatever took one over) cannot signal, trace or wait for the process that started it.
"""
import collections
import multiprocessing
import multiprocessing.connection
import multiprocessing.spawn
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

from grader.sandbox import SLOT


def _serve(conn, initializer, initargs, function):
    """A worker: run function(task, report) for each task received, until None."""
    initializer(*initargs)
    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        try:
            result = ("done", function(task, lambda where, scratch=None: conn.send(("at", where, scratch))))
        except Exception:  # noqa: BLE001 (handed back to the caller as text)
            result = ("error", traceback.format_exc())
        conn.send(result)


class _Worker:
    def __init__(self, context, target, args):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.task = self.where = self.scratch = None


def isolating_python(folder):
    """The path of a program, written into `folder`, that runs this Python in a PID namespace
    of its own (bubblewrap: the same files, users and network, its own /proc); None where
    bubblewrap cannot do that here. The workers' Python is started through it."""
    bwrap = shutil.which("bwrap")
    if bwrap is None or not sys.platform.startswith("linux"):
        return None
    options = "--dev-bind / / --proc /proc --unshare-pid --die-with-parent"
    if os.geteuid() != 0:  # an unprivileged bubblewrap needs a user namespace, mapped to the same ids
        options += f" --unshare-user --uid {os.getuid()} --gid {os.getgid()}"
    program = os.path.join(folder, "python-in-own-pid-namespace")
    with open(program, "w") as f:
        f.write(f'#!/bin/sh\nexec {bwrap} {options} -- {sys.executable} "$@"\n')
    os.chmod(program, 0o700)
    try:
        probe = subprocess.run([program, "-c", "import os; print(os.getpid())"], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return program if probe.returncode == 0 and probe.stdout.strip() != str(os.getpid()) else None


class Workers:
    """`jobs` worker processes (spawned) running function(task, report) on submitted tasks;
    a worker that dies is replaced. initializer(*initargs) runs once in each worker.
    isolate: start each worker in a PID namespace of its own where bubblewrap can (.isolated
    says whether it could)."""

    def __init__(self, jobs, initializer, initargs, function, isolate=False):
        self._context = multiprocessing.get_context("spawn")
        self._args = (initializer, initargs, function)
        self._jobs = max(1, jobs)
        self._workers = []
        self._pending = collections.deque()
        self._isolate = isolate
        self._folder = self._python = None
        self.isolated = False

    def __enter__(self):
        if self._isolate:
            self._folder = tempfile.mkdtemp(prefix="course-workers-")
            self._python = isolating_python(self._folder)
            self.isolated = self._python is not None
        self._workers = [self._start() for _ in range(self._jobs)]
        return self

    def __exit__(self, *exc):
        for worker in self._workers:
            if exc[0] is None and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
                worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
        return False

    def _start(self):
        if self._python is None:
            return _Worker(self._context, _serve, self._args)
        # in its own PID namespace every worker's pid is the same: the slot tells their sandboxes'
        # user ids apart (grader.sandbox.sandbox_uid), by this process's pid and a count
        self._started = getattr(self, "_started", 0) + 1
        usual, slot = multiprocessing.spawn.get_executable(), os.environ.get(SLOT)
        multiprocessing.spawn.set_executable(self._python)  # read when the process starts
        os.environ[SLOT] = str(os.getpid() % 500 * 8 + self._started % 8)
        try:
            return _Worker(self._context, _serve, self._args)
        finally:
            multiprocessing.spawn.set_executable(usual)
            if slot is None:
                os.environ.pop(SLOT, None)
            else:
                os.environ[SLOT] = slot

    def submit(self, task, first=False):
        (self._pending.appendleft if first else self._pending.append)(task)

    def results(self):
        """Yield (task, result, died_at) as tasks finish, until none is left (tasks submitted
        meanwhile included). result is ("done", value) or ("error", traceback text), or None
        when the worker died; died_at is then the last step it reported (None before any)."""
        while True:
            for index, worker in enumerate(self._workers):
                if worker.task is None and self._pending:
                    task = self._pending.popleft()
                    try:
                        worker.conn.send(task)
                    except OSError:  # it died while idle: a new one takes the task
                        self._pending.appendleft(task)
                        worker.process.kill()
                        self._workers[index] = worker = self._start()
                        continue
                    worker.task, worker.where, worker.scratch = task, None, None
            busy = [w for w in self._workers if w.task is not None]
            if not busy:
                return
            ready = multiprocessing.connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                message = None
                try:
                    if worker.conn.poll():
                        message = worker.conn.recv()
                except (EOFError, OSError):
                    message = None
                if message is not None and message[0] == "at":
                    worker.where, worker.scratch = message[1], message[2]
                    continue
                if message is not None:
                    task, worker.task = worker.task, None
                    yield task, message, None
                    continue
                if worker.process.is_alive() and worker.conn not in ready:
                    continue
                # the worker died: replace it, and hand its task back with where it died
                worker.process.join(1)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join()
                if worker.scratch:
                    shutil.rmtree(worker.scratch, ignore_errors=True)
                task, where = worker.task, worker.where
                self._workers[self._workers.index(worker)] = self._start()
                yield task, None, where
