"""Run a notebook for grading: nbgrader's Execute with a kernel of its own, sandboxed."""
import asyncio
import atexit
import copy
import functools
import json
import multiprocessing.util
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import ClearOutput, Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_locked, is_solution, is_task
from traitlets import Bool, Enum, Int, Type, Unicode

from grader import sandbox
from course.agent import PROMPT
from grader.judge import KernelDied, NoReply, _names, hidden_removed, visible_runs_needed
from grader.judge_process import JudgeClient, JudgeFailed, _Zygote, stop_process


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


def _without_pause(method):
    """jupyter_client's in_pending_state around KernelManager's `method` (its start and shutdown),
    without the 10 ms sleep it adds "to ensure tests can capture the state": 20 ms a notebook."""
    inner = getattr(method, "__wrapped__", None)
    if inner is None:  # another jupyter_client: its own
        return method

    @functools.wraps(inner)
    async def pending(self, *args, **kwargs):
        if self._attempted_start or not self._ready:
            self._ready = asyncio.get_running_loop().create_future()
        try:
            out = await inner(self, *args, **kwargs)
        except Exception as error:
            self._ready.set_exception(error)
            self.log.exception(self._ready.exception())
            raise
        if self.owns_kernel:
            self._ready.set_result(None)
        return out

    return pending


class _GradingKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, with _GradingKernelClient, and looking every 10 ms
    (not every 100 ms) whether a kernel it stopped is gone (a forked kernel: told by its zygote
    at once). With `sandbox_folder` set, the kernel runs in the sandbox (grader.sandbox), that
    folder its only writable one."""

    client_factory = Type(_GradingKernelClient, klass=AsyncKernelClient, config=True)
    sandbox_folder = None
    zygote = None  # _KernelZygote: the kernel is forked from it (its scratch folder is inside the zygote's)
    scratch = None
    forked = None  # the forked kernel's _ZygoteKernel

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        if self.sandbox_folder is None:
            return argv
        sandbox.prepare(self.sandbox_folder)  # the connection file, written just now, included
        return sandbox.command(argv, self.sandbox_folder)

    start_kernel = _without_pause(KernelManager._async_start_kernel)
    shutdown_kernel = _without_pause(KernelManager._async_shutdown_kernel)

    async def _async_wait(self, pollinterval=0.01):
        if self.forked is not None:  # the zygote says when it is gone (within the 5 s jupyter_client waits)
            try:
                self.forked.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
        await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    def _close_control_socket(self):
        """Close the control socket without waiting for what it still holds: the interrupt request
        jupyter_client sends a kernel it is about to kill would otherwise keep the socket's context
        0.1 s (its linger) from ending, for every notebook."""
        if self._control_socket is not None:
            self._control_socket.close(linger=0)
            self._control_socket = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.zygote is None:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.zygote.sandboxed:
            sandbox.prepare(self.scratch)  # the connection file, written just now, included
        env = dict(kw.get("env") or os.environ)
        env["JPY_PARENT_PID"] = "1"  # its parent is the zygote: no poller thread watching it
        self.provisioner.process = self.forked = self.zygote.fork(_launcher_arguments(kernel_cmd), env, kw.get("cwd"))
        self.provisioner.pid = self.provisioner.pgid = None
        self._reconcile_connection_info(self.provisioner.connection_info)


def _launcher_arguments(argv):
    """The arguments of ipykernel's launcher in a kernel's command line (after `-m ipykernel_launcher`),
    or None for a command line that is not one."""
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] in ("ipykernel_launcher", "ipykernel"):
            return list(argv[i + 2:])
    return None


MAX_PROMPT = 72 * 2**20  # characters of one prompt of the kernel's passed on to the judge
HANDSHAKE = "__import__('builtins').input()"  # the built-in input(), whatever the student named `input`
INTERRUPT_GRACE = 5  # seconds a cell interrupted at the timeout has to stop before its kernel is killed


_LAST_FAILURE = [None]  # why the last notebook this process ran could not be run to its end


def last_failure(clear=False):
    """Why the last notebook IsolatedExecute ran in this process stopped, as data:
    "ignored-interrupt", "unresponsive", "kernel-died", "failed" (anything else), or None when it
    ran to its end. clear=True forgets it (before the next notebook)."""
    failure = _LAST_FAILURE[0]
    if clear:
        _LAST_FAILURE[0] = None
    return failure


def _failure_of(error):
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(error, KernelIgnoredInterrupt):
        return "ignored-interrupt"
    if isinstance(error, DeadKernelError):
        return "kernel-died"
    if isinstance(error, (CellTimeoutError, TimeoutError)):
        return "unresponsive"
    return "failed"


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
        False, help="Run the kernel in the sandbox (grader.sandbox): no course folder, no network, "
                    "no other process, limits. `course grade` turns it on.",
    ).tag(config=True)

    judge = Bool(
        True, help="Judge the test cells in the grader (grader.judge), the kernel only answering with values; "
                   "False runs them in the kernel, as plain nbgrader does.",
    ).tag(config=True)

    prestart = Bool(
        False, help="Start the next notebook's kernel while this one runs, so that grading a class never waits "
                    "for a kernel to boot; `course grade` turns it on (see _Spare).",
    ).tag(config=True)

    zygote = Bool(
        False, help="In the sandbox, fork each notebook's kernel from one process per student that has imported "
                    "ipykernel and what the course's notebooks import (course.zygote), instead of starting Python "
                    "anew; `course grade` turns it on. A kernel that cannot be forked, or any kernel without the "
                    "sandbox (which alone can clear what one kernel leaves for the next), is started the usual way.",
    ).tag(config=True)

    sizes_key = Unicode(
        "", help="The course's secret (hex) from which each notebook's symbolic checks draw the batch sizes they "
                 "compare formulas at (course.symbolic.set_sizes_key); `course grade` reads it from the course "
                 "folder (grader.coursedir.grading_key). Empty: the fixed sizes a student's own kernel uses.",
    ).tag(config=True)

    max_output = Int(
        2_000_000, help="Characters of output one cell keeps; what it prints past that is dropped as it arrives, "
                        "so that a cell that floods its output stays as quick to stop as any other.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", _GradingKernelManager)
        super().__init__(*args, **kwargs)
        self._scratch = None
        self._judge = None
        self._channel = None  # the judge's channel to the kernel (_JudgeChannel)
        self._sources = None  # {grade_id: source} of the instructor's cells, from the gradebook
        self._zygote = None  # the _KernelZygote the kernel being launched is forked from

    def create_kernel_manager(self):
        """Kernels talk over Unix sockets, not TCP ports: two kernels started at once by
        parallel grading processes cannot race for the same port. The sockets and the
        connection file are in the kernel's scratch folder. A sandboxed kernel is interrupted
        by a message (ipykernel then signals itself): a signal from outside would reach the
        sandbox's own processes first."""
        km = super().create_kernel_manager()
        km.transport = "ipc"
        km.ip = os.path.join(self._scratch, "ipc", "kernel")
        km.connection_file = os.path.join(self._scratch, "kernel.json")
        if self.sandbox:
            km.sandbox_folder = self._scratch
            km.kernel_spec.interrupt_mode = "message"
        if self._zygote is not None:  # forked inside the zygote's sandbox, which has imported it all
            km.zygote, km.scratch, km.sandbox_folder = self._zygote, self._scratch, None
        return km

    async def async_start_new_kernel(self, **kwargs):
        """Start the kernel with its home, IPython and Matplotlib folders in the scratch folder,
        and (in the sandbox) only the environment variables a kernel needs."""
        env = self._kernel_env(kwargs.get("env"))
        env.update({name: os.path.join(self._scratch, folder) for name, folder in SCRATCH_FOLDERS.items()})
        kwargs["env"] = env
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        """nbclient's client start, once the kernel's Unix sockets are there: zmq tries a socket
        that is not there again only after 0.1 s, and a forked kernel binds its sockets in less."""
        km = self.km
        if getattr(km, "transport", None) == "ipc":
            paths = [f"{km.ip}-{port}" for port in (km.shell_port, km.iopub_port, km.stdin_port, km.control_port,
                                                    km.hb_port) if port]
            deadline = time.monotonic() + (self.startup_timeout or 60)
            while (not all(os.path.exists(path) for path in paths) and time.monotonic() < deadline
                   and await km.is_alive()):
                await asyncio.sleep(0.002)
        return await super().async_start_new_kernel_client()

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _kernel_env(self, env=None):
        """The environment a kernel gets of the grader's (its folders are added to it)."""
        env = dict(env or os.environ)
        if self.sandbox:
            env = {name: value for name, value in env.items() if name.startswith(KERNEL_ENV)}
        return env

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        """nbclient's collection of a cell's outputs, which ends when the kernel goes idle after
        the cell; self._cell_done says so to _async_handle_timeout."""
        self._cell_done = asyncio.Event()
        self._printed, self._flooded = 0, False
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

    def preprocess_cell(self, cell, resources, index):
        """A test cell is judged in the grader (grader.judge): the instructor's whole cell runs here,
        and its outputs are what the grader wrote. Where a later cell reads a name its visible part
        defines (grader.judge.visible_runs_needed), that part first runs in the kernel too, as in
        the student's JupyterLab; its outputs decide nothing."""
        if (self._judge is None or cell.cell_type != "code" or not is_grade(cell) or is_solution(cell)
                or not self._instructors(cell)):
            cell, resources = super().preprocess_cell(cell, resources, index)
            if cell.cell_type == "code":
                _explain_undefined(cell.get("outputs", []), self.nb.cells[:index])
            return cell, resources
        judge, todo, visible_needed = self._judge
        if index in visible_needed:
            visible = copy.deepcopy(cell)
            visible.source = hidden_removed(cell.source)
            super().preprocess_cell(visible, resources, index)
            self.nb.cells[index] = cell  # nbclient put the visible copy in its place
        try:
            while todo and todo[0][0] < index:
                judge.run_locked(todo.pop(0)[1])
        except JudgeFailed:
            pass  # the test that needs them says why
        cell.metadata.pop("course", None)  # what the grader records is the grader's
        try:
            outputs = judge.run_test(cell.source)
            if getattr(judge, "verdict", None):
                cell.metadata["course"] = {"verdict": dict(judge.verdict)}
        except KernelDied:
            from nbclient.exceptions import DeadKernelError

            raise DeadKernelError("Kernel died") from None
        except JudgeFailed as error:
            outputs = [{"output_type": "error", "ename": "JudgeFailed", "traceback": [],
                        "evalue": f"The grader could not judge this test: its judge process stopped ({error}). "
                                  "The test scores 0."}]
        formula = getattr(judge, "formula", None)
        if formula:  # the student's formula the failed check is about, as math above its message
            errors = [i for i, output in enumerate(outputs) if output.get("output_type") == "error"]
            outputs.insert(errors[0] if errors else len(outputs), {
                "output_type": "display_data", "metadata": {},
                "data": {"text/latex": f"Your answer: $${formula}$$", "text/plain": f"Your answer: {formula}"}})
        _explain_undefined(outputs, self.nb.cells[:index])
        cell.outputs = [nbformat.from_dict(output) for output in outputs]
        cell.execution_count = 0  # it ran (numbered with the others by _number_cells)
        return cell, self.resources

    def _send(self, text, timeout):
        if self._channel is None:
            self._channel = _JudgeChannel(self.km, self.timeout or 120)  # closed at the end of preprocess
            self._channel.handshake()
        return self._channel.send(text, timeout)

    def _finish(self):
        if self._channel is not None:
            self._channel.finish()

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's handling of one output message, with what a cell prints past max_output
        characters dropped (and said once)."""
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in (content.get("data") or {}).values())
        self._printed = getattr(self, "_printed", 0) + size
        if self._printed > self.max_output and msg.get("msg_type") != "error":
            if not getattr(self, "_flooded", False):
                self._flooded = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"\n[... this cell printed more than {self.max_output} characters; the rest is not kept]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _instructors(self, cell):
        """Whether a cell is the instructor's, word for word: only such cells run in the grader.

        Under nbgrader's autograde, the gradebook's source cells say (a cell a student added with
        test or locked metadata of their own never runs in the grader's process, even where the
        notebook was not rebuilt by grader.repair first, as in formgrader's autograde button).
        Without a gradebook (the notebook handed to preprocess directly) every cell is trusted."""
        if self._sources is None:
            return True
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        return isinstance(grade_id, str) and self._sources.get(grade_id) == cell.source

    def preprocess(self, nb, resources=None, km=None):
        self._sources = _instructor_sources(resources)
        for cell in nb.cells:  # a verdict record is the grader's to write, never the student's
            cell.metadata.pop("course", None)
        if self.judge:
            locked = [(index, cell.source) for index, cell in enumerate(nb.cells)
                      if cell.cell_type == "code" and is_locked(cell) and not is_grade(cell) and self._instructors(cell)]
            self._judge = (JudgeClient(self._send, self._finish, timeout=self.timeout or 120, sandboxed=self.sandbox,
                                       key=self._notebook_key(resources)),
                           locked, visible_runs_needed(nb.cells))
        try:
            nb, resources = self._preprocess(nb, resources, km)
            _number_cells(nb)
            return nb, resources
        except BaseException as error:
            _LAST_FAILURE[0] = _failure_of(error)
            raise
        finally:
            if self._judge is not None:
                judge, self._judge = self._judge[0], None
                judge.close_quietly()
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def _notebook_key(self, resources):
        """This notebook's sizes key: the course's secret and the notebook's name, hashed (the judge
        of one notebook learns nothing of another's sizes, nor the course's secret)."""
        if not self.sizes_key:
            return None
        import hashlib
        import hmac

        info = (resources or {}).get("nbgrader") or {}
        name = f"{info.get('assignment', '')}/{info.get('notebook', '')}".encode()
        return hmac.new(bytes.fromhex(self.sizes_key), name, hashlib.sha256).digest()

    def _preprocess(self, nb, resources=None, km=None):
        resources = resources if resources is not None else {}
        metadata = resources.setdefault("metadata", {})
        path = metadata.get("path")
        if km is not None:  # the caller's kernel (it then has its own folders)
            return super().preprocess(nb, resources, km)
        self.nb = nb
        key = self._spare_key()
        kernel = forked = None
        if self.zygote and self.sandbox:  # only the sandbox can clear what one kernel leaves for the next
            _Spare.discard()
            kernel = forked = self._fork(key)
        if kernel is None:
            kernel = _Spare.take(key) or self._launch()
            if self.prestart and not (self.zygote and self.sandbox):
                _Spare.put(key, self._launch)
        metadata["path"] = os.path.join(kernel.scratch, "work")
        self._scratch = kernel.scratch
        try:
            return super().preprocess(nb, resources, kernel.km)
        finally:
            metadata["path"] = path
            self._scratch = None
            try:
                self._cleanup_kernel()
            finally:
                kernel.remove()
                if forked is not None and not _ended_cleanly(forked):
                    _KernelZygote.discard()  # a zygote that may hang or keep what the kernel left is not used again

    def _spare_key(self):
        """What a kernel started ahead must share with the one this notebook needs."""
        name = self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name")
        return (name, self.sandbox, tuple(sorted(self._kernel_env().items())), tuple(self.extra_arguments))

    def _zygote_spec(self, key):
        """What _KernelZygote needs to start one for this notebook's kernel: (key, python, env,
        sandboxed); None for a kernel that is not ipykernel's."""
        argv = self.kernel_manager_class(kernel_name=self.kernel_name or self.nb.metadata.get(
            "kernelspec", {}).get("name") or "python3").kernel_spec.argv
        if _launcher_arguments(argv) is None:
            return None
        python = argv[0]
        if python in ("python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])):
            python = sys.executable  # as jupyter_client's format_kernel_cmd reads it
        return key, python, self._kernel_env(), self.sandbox

    def _fork(self, key):
        """A kernel forked from this student's zygote (_KernelZygote), or None when there is none to
        fork from (the kernel is then started the usual way)."""
        spec = self._zygote_spec(key)
        zygote = None if spec is None else _KernelZygote.get(*spec)
        if zygote is None:
            return None
        self._zygote = zygote
        try:
            return self._launch(folder=zygote.root)
        except Exception:  # noqa: BLE001 (the zygote is not used again; a kernel is started the usual way)
            _KernelZygote.discard()
            return None
        finally:
            self._zygote = None

    def _launch(self, folder=None):
        """Start a kernel in a new scratch folder (its work folder, home, IPython and Matplotlib
        folders and sockets); _Kernel. The kernel boots in its own process: this returns at once.
        folder: where the scratch folder is made (a zygote's)."""
        scratch = tempfile.mkdtemp(prefix="course-kernel-", dir=folder)
        saved = self.km, self._scratch
        try:
            for folder in ("work", "ipc", *SCRATCH_FOLDERS.values()):
                os.makedirs(os.path.join(scratch, folder), exist_ok=True)
            _copy_font_cache(os.path.join(scratch, SCRATCH_FOLDERS["MPLCONFIGDIR"]))
            self._scratch = scratch
            km = self.create_kernel_manager()
            self.start_new_kernel(cwd=os.path.join(scratch, "work"))
            return _Kernel(km, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        finally:
            self.km, self._scratch = saved


UNDEFINED = re.compile(r"name '([A-Za-z_][A-Za-z0-9_]{0,99})' is not defined")


def _explain_undefined(outputs, earlier):
    """A test's NameError for a name that an earlier cell defines, where that cell raised: say which
    cell (its In [n], as _number_cells will number it) and what it raised, once per message. A
    failed import in an answer cell otherwise shows as a NameError in every test after it."""
    for output in outputs:
        found = (UNDEFINED.search(output.get("evalue") or "")
                 if output.get("output_type") == "error" and output.get("ename") == "NameError" else None)
        if not found:
            continue
        name, number, culprit = found.group(1), 0, None
        for cell in earlier:
            if cell.cell_type != "code" or NBCLIENT_SKIP_TAG in cell.metadata.get("tags", []) \
                    or cell.get("execution_count") is None:
                continue
            number += 1
            names = _names(cell.source)
            error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
            # a cell that does not parse (a SyntaxError) binds nothing: one that names it is the one
            if (name in names[0]) if names is not None else re.search(rf"\b{name}\b", cell.source):
                culprit = (number, error) if error is not None else None  # the last cell to bind it counts
        if culprit is None:
            continue
        number, error = culprit
        raised = f"{error.get('ename', 'an error')}: {str(error.get('evalue', ''))[:300]}".rstrip(": ")
        note = (f"The cell that defines {name}, In [{number}], stopped with {raised}, so {name} was never "
                "defined: fix that cell first, and this cell runs on your code.")
        simple = output.get("traceback") == [f"{output['ename']}: {output['evalue']}"]  # a judged test's
        output["evalue"] = f"{output['evalue']}. {note}"
        output["traceback"] = ([f"{output['ename']}: {output['evalue']}"] if simple
                               else [*output.get("traceback", []), note])


def _number_cells(nb):
    """In [1], In [2], ...: the code cells that ran, in their order (the grader runs them top to
    bottom). The kernel's own counts skip the requests of the tests' judge, and a test cell judged
    in the grader has none; a cell that did not run (skipped, or after the kernel stopped) has none."""
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if NBCLIENT_SKIP_TAG in cell.metadata.get("tags", []) or cell.get("execution_count") is None:
            cell.execution_count = None
        else:
            number += 1
            cell.execution_count = number


class _Kernel:
    """A started kernel and its scratch folder."""

    def __init__(self, km, scratch):
        self.km, self.scratch = km, scratch

    def alive(self):
        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:  # noqa: BLE001
            return False

    def remove(self):
        """Kill the kernel (if it still runs) and remove its folder."""
        try:
            if self.alive():
                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 (already gone)
            pass
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


class _Spare:
    """The kernel started for the next notebook while this one runs (IsolatedExecute.prestart).

    A kernel takes about 0.4 s to boot, most of what a short notebook costs; started one notebook
    ahead, it boots while the grader works. It has run nothing when a notebook takes it: it is as
    fresh as a kernel started then, in a scratch folder of its own. A notebook that needs another
    kind of kernel (another kernel name, sandbox setting or environment) gets a new one, and the
    spare is stopped. The last spare is stopped when the grading process ends."""

    kernel, key = None, None

    @classmethod
    def take(cls, key):
        kernel, cls.kernel = cls.kernel, None
        if kernel is not None and cls.key == key and kernel.alive():
            return kernel
        if kernel is not None:
            kernel.remove()
        return None

    @classmethod
    def put(cls, key, launch):
        cls.discard()
        try:
            cls.kernel, cls.key = launch(), key
        except Exception:  # noqa: BLE001 (the next notebook starts its own, and says why if it cannot)
            cls.kernel = None

    @classmethod
    def discard(cls):
        kernel, cls.kernel = cls.kernel, None
        if kernel is not None:
            kernel.remove()


class _KernelZygote:
    """The process (course.zygote) this student's kernels are forked from, in a sandbox of its own
    whose writable folder (`root`) holds each kernel's scratch folder. One per grading process at a
    time, for one student: end_student() stops it, so that no student's kernel is forked from a
    process another student's code ran in. The next student's (`spare`, in a sandbox of its own,
    where no kernel has run) is started as this student's first kernel is forked: it imports while
    this student is graded, and is ready when the next student's first notebook needs it."""

    current = None
    spare = None  # the next student's, started when the current one forks its first kernel
    START_TIMEOUT = 60  # seconds it has to import what the kernels need

    def __init__(self, key, python, env, sandboxed):
        self.spec = (key, python, env, sandboxed)
        self.sandboxed, self.ready, self.dead = sandboxed, False, False
        self.root = tempfile.mkdtemp(prefix="course-kernels-")
        own = os.path.join(self.root, "zygote")  # its home, IPython and Matplotlib folders
        for folder in SCRATCH_FOLDERS.values():
            os.makedirs(os.path.join(own, folder))
        _copy_font_cache(os.path.join(own, SCRATCH_FOLDERS["MPLCONFIGDIR"]))
        env = dict(env, **{name: os.path.join(own, folder) for name, folder in SCRATCH_FOLDERS.items()})
        env["JPY_PARENT_PID"] = "1"
        self.ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [python, "-m", "course.zygote", str(theirs.fileno())]
        if sandboxed:
            sandbox.prepare(self.root)
            argv = sandbox.command(argv + ["--private"], self.root)
        try:
            self.process = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env, cwd=self.root,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            self.ctrl.close()
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        finally:
            theirs.close()

    @classmethod
    def get(cls, key, python, env, sandboxed):
        """The zygote for kernels of `key` (started now if there is none, or it is for another key
        or has died); None when none can start."""
        zygote = cls.current
        if zygote is not None and (zygote.spec[0] != key or zygote.dead or zygote.process.poll() is not None):
            cls.discard()
            zygote = None
        if zygote is None:
            try:
                zygote = cls.current = cls(key, python, env, sandboxed)
            except OSError:
                return None
        if not zygote.wait_ready():
            cls.discard()
            return None
        if cls.spare is None:
            try:
                cls.spare = cls(*zygote.spec)
            except OSError:  # the next student starts one, and says why if it cannot
                cls.spare = None
        return zygote

    def wait_ready(self):
        if not self.ready and not self.dead:
            message = self._receive(self.START_TIMEOUT)
            self.ready = message == {"op": "ready"}
            self.dead = not self.ready
        return self.ready and not self.dead

    def _receive(self, timeout):
        """The zygote's next message (a dict, as data), None when there is none within `timeout`
        seconds; marks it dead when it is gone or says something else than a small JSON object."""
        ready, _, _ = select.select([self.ctrl], [], [], timeout)
        if not ready:
            return None
        try:
            data = self.ctrl.recv(4096)
            message = json.loads(data) if data else None
        except (OSError, ValueError, RecursionError):
            message = None
        if type(message) is not dict:
            self.dead = True
            return None
        return message

    def fork(self, arguments, env, cwd):
        """Fork a kernel (ipykernel's launcher arguments, its environment and folder): a _ZygoteKernel."""
        if arguments is None or self.dead:
            raise RuntimeError("no kernel can be forked")
        self.ctrl.send(json.dumps({"op": "fork", "argv": arguments, "env": env, "cwd": cwd}).encode())
        return _ZygoteKernel(self)

    def signal(self, number):
        try:
            self.ctrl.send(json.dumps({"op": "signal", "signal": int(number)}).encode())
        except OSError:
            self.dead = True

    def exited(self, timeout=0.0):
        """The kernel's exit status once the zygote says it has exited and cleared its sandbox
        (-9 when the zygote is gone), else None."""
        if self.dead:
            return -9
        message = self._receive(timeout)
        if message is not None and message.get("op") == "exited":
            status = message.get("status")
            if message.get("clean") is not True:
                self.dead = True  # what its kernel left was not all stopped: no kernel is forked from it again
            return status if type(status) is int else -9
        return -9 if self.dead else None

    def stop(self):
        self.dead = True
        stop_process(self.ctrl, self.process, self.root)

    @classmethod
    def discard(cls):
        zygote, cls.current = cls.current, None
        if zygote is not None:
            zygote.stop()

    @classmethod
    def discard_all(cls):
        """Stop this student's zygote and the next one's (the grading process ends)."""
        cls.discard()
        spare, cls.spare = cls.spare, None
        if spare is not None:
            spare.stop()

    @classmethod
    def renew(cls):
        """End this student's zygote; the next student's is the spare (started with this student's
        first kernel), or one started now, in the background, for the same kernels."""
        spec = cls.current.spec if cls.current is not None and cls.current.ready else None
        cls.discard()
        spare, cls.spare = cls.spare, None
        if spare is not None and (spec is None or spare.spec == spec) and not spare.dead \
                and spare.process.poll() is None:
            cls.current = spare
            return
        if spare is not None:
            spare.stop()
        if spec is not None:
            try:
                cls.current = cls(*spec)
            except OSError:
                cls.current = None


def _ended_cleanly(kernel):
    """Whether a forked kernel (_Kernel) is gone and its zygote says so, ready to fork the next."""
    process = getattr(kernel.km, "forked", None)
    zygote = _KernelZygote.current
    return (isinstance(process, _ZygoteKernel) and process.returncode is not None and zygote is process.zygote
            and not zygote.dead)


class _ZygoteKernel:
    """A forked kernel as jupyter_client's provisioner handles its process (a Popen's poll, wait,
    send_signal, kill, terminate); signals go to the zygote, which sends them on."""

    stdin = stdout = stderr = None

    def __init__(self, zygote):
        self.zygote, self.returncode, self.pid = zygote, None, zygote.process.pid

    def poll(self):
        if self.returncode is None:
            self.returncode = self.zygote.exited()
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            self.returncode = self.zygote.exited(0.05)
        return self.returncode

    def send_signal(self, number):
        if self.poll() is None:
            self.zygote.signal(number)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


def start_zygote(sandboxed, kernel_name="python3"):
    """Start the kernels' zygote of a grading process ahead of its first notebook (not waiting for
    it): the kernel of the first notebook of `kernel_name` is then forked at once. Only sandboxed."""
    if not sandboxed:
        return
    from nbgrader.utils import setenv

    try:
        grading = IsolatedExecute(sandbox=sandboxed, zygote=True)
        grading.nb = nbformat.from_dict({"metadata": {"kernelspec": {"name": kernel_name}}, "cells": []})
        # the environment of nbgrader's autograde, which its kernels get (and so the zygote's key):
        # else the first notebook finds a zygote for other kernels, and waits a second for its own
        with setenv(NBGRADER_EXECUTION="autograde"):
            spec = grading._zygote_spec(grading._spare_key())
        if spec is not None and _KernelZygote.current is None:
            _KernelZygote.current = _KernelZygote(*spec)
    except Exception:  # noqa: BLE001 (only the speed depends on it: the first notebook starts one)
        _KernelZygote.current = None


def end_student():
    """This student is graded: their kernels' zygote is stopped (the next student's is started)."""
    _KernelZygote.renew()


atexit.register(_Spare.discard)
atexit.register(_Zygote.discard)
atexit.register(_KernelZygote.discard_all)
# a worker process of multiprocessing ends without running atexit's functions, but runs these
multiprocessing.util.Finalize(None, _Spare.discard, exitpriority=0)
multiprocessing.util.Finalize(None, _Zygote.discard, exitpriority=0)
multiprocessing.util.Finalize(None, _KernelZygote.discard_all, exitpriority=0)


class _JudgeChannel:
    """The judge's requests to the kernel (course.agent answers them), over a blocking client of
    the kernel's own: send(text, timeout) answers the kernel's pending input() with text and
    returns the prompt of its next one, as text (the judge reads it: grader.judge_process).

    The first request of a test cell starts course.agent.serve_loop in the kernel; each request
    then goes as the answer to its input() prompt (Jupyter's stdin channel), and the reply comes as
    the next prompt. A blocking client of its own (not nbclient's asynchronous one) keeps a
    request to a fraction of a millisecond of the grader's time."""

    def __init__(self, km, timeout):
        import zmq
        from jupyter_client.blocking import BlockingKernelClient

        self.km, self.timeout, self.loop = km, timeout, None
        self.kc = BlockingKernelClient(context=zmq.Context())
        self.kc.load_connection_info(km.get_connection_info())  # a session (and zmq identity) of its own
        self.kc.start_channels(shell=True, iopub=False, stdin=True, hb=False, control=False)

    def handshake(self):
        """Make sure the kernel's stdin socket knows this client. zmq connects in the background, and
        until it has, an input request the kernel sends here is lost (the loop's first prompt, lost,
        would leave a test waiting out its timeout). One input() whose request arrived here, and was
        answered, proves the way. A request that does not come in time is never answered unasked (an
        answer the kernel has not asked for could be read as the answer to a later request): the
        kernel is interrupted, and the handshake tried again, waiting twice as long each time."""
        wait = 1.0  # seconds: a lost request is rare (1 notebook in 50), a late one on a loaded machine is not
        for _ in range(5):
            self.loop = self.kc.execute(HANDSHAKE, silent=True, store_history=False, allow_stdin=True)
            if self._asked(time.monotonic() + wait):
                self.kc.input("")
                reply = self._loop_reply(INTERRUPT_GRACE)
            else:
                reply = self._loop_reply(0.0)
            if reply is None:  # its request was lost, or is late: end the input() unanswered
                run_sync(self.km.interrupt_kernel)()
                reply = self._loop_reply(INTERRUPT_GRACE)
            self.loop = None
            if reply is not None and reply["content"].get("status") == "ok":
                return  # answered; or run without asking (an IPython that runs no request: send says so)
            wait *= 2

    def _asked(self, deadline):
        """Whether the handshake's input request arrives before the deadline."""
        while True:
            try:
                msg = self.kc.stdin_channel.get_msg(timeout=max(deadline - time.monotonic(), 0.001))
            except Empty:
                return False
            if msg["msg_type"] == "input_request" and msg.get("parent_header", {}).get("msg_id") == self.loop:
                return True

    def close(self):
        """Close the client's sockets and its own zmq context at once: a message still queued for a
        kernel that is gone would otherwise make the context's end (at garbage collection, in a
        grading process) wait for ever."""
        self.kc.stop_channels()
        self.kc.context.destroy(linger=0)

    def send(self, text, timeout):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        if self.loop is None:
            self._start()
            self._prompt(deadline, starting=True)
        self.kc.input(text)
        return self._prompt(deadline)[:MAX_PROMPT]

    def _start(self):
        self.loop = self.kc.execute("__import__('course.agent').agent.serve_loop()", silent=True,
                                    store_history=False, allow_stdin=True)

    def _prompt(self, deadline, starting=False):
        """The text of the loop's next input() prompt; interrupts the kernel at the deadline."""
        interrupted, restarts = False, 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if starting:
                    raise NoReply("the kernel did not start answering the grader's requests")
                if interrupted:
                    raise KernelIgnoredInterrupt("a test's call of the student's code went on after being interrupted")
                run_sync(self.km.interrupt_kernel)()
                interrupted, deadline = True, time.monotonic() + INTERRUPT_GRACE
                continue
            try:
                msg = self.kc.stdin_channel.get_msg(timeout=min(left, 0.5))
            except Empty:
                if not run_sync(self.km.is_alive)():
                    raise KernelDied("the kernel died") from None
                reply = self._loop_reply()
                if reply is not None and starting and reply["content"].get("status") == "aborted" and restarts < 20:
                    # the kernel aborts what arrives just after a cell that failed (ipykernel's stop_on_error)
                    restarts += 1
                    self._start()
                    continue
                if reply is not None:
                    self.loop = None
                    if interrupted:
                        raise TimeoutError() from None
                    raise NoReply("the kernel stopped answering the grader's requests (was its IPython changed?)") from None
                continue
            if msg["msg_type"] != "input_request" or msg.get("parent_header", {}).get("msg_id") != self.loop:
                continue
            prompt = str(msg["content"].get("prompt", ""))
            if interrupted:
                raise TimeoutError()
            return prompt[len(PROMPT):] if prompt.startswith(PROMPT) else prompt

    def _loop_reply(self, timeout=0.0):
        """The kernel's answer to the loop's execute request (the loop is over), or None."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.shell_channel.get_msg(timeout=max(deadline - time.monotonic(), 0))
            except Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") == self.loop:
                return msg

    def finish(self):
        """End the loop (the test cell is judged): the kernel goes back to idle. A loop still
        waiting (the student's code called input() itself) is interrupted."""
        if self.loop is None:
            return
        self.kc.input("done")
        if self._loop_reply(INTERRUPT_GRACE) is None:
            run_sync(self.km.interrupt_kernel)()
            self._loop_reply(INTERRUPT_GRACE)
        self.loop = None


def _instructor_sources(resources):
    """{grade_id: source} of the notebook's cells in nbgrader's gradebook (the instructor's), or None
    when the notebook is not being autograded by nbgrader (no gradebook in resources)."""
    info = (resources or {}).get("nbgrader") or {}
    if not (info.get("db_url") and info.get("notebook") and info.get("assignment")):
        return None
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(info["db_url"]) as gb:
        try:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
        except MissingEntry:
            return {}
        return {cell.name: cell.source for cell in notebook.source_cells}


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
KEPT_NOTE = ("Not run while grading: this cell only draws a figure or runs an experiment.\n"
             "Below: its output as handed in (text and PNG or JPEG images only).\n")


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
            kept = [output for output in cell.get("outputs", [])
                    if not (output.get("output_type") == "stream" and output.get("text") in (SKIPPED_NOTE, KEPT_NOTE))]
            note = KEPT_NOTE if kept else SKIPPED_NOTE
            cell["outputs"] = [nbformat.v4.new_output("stream", name="stdout", text=note), *kept]
        return cell, resources


class KeepFigureOutputs(ClearOutput):
    """nbgrader's ClearOutput, except for the cells the grader does not run (skipped_when_grading):
    they keep the outputs the student handed in, so that formgrader and the feedback show the
    student's own figures (B5's written answer is about them). Those outputs are the student's
    and untrusted: grader.sanitize.SanitizeNotebook, later in the same steps, keeps only their
    text and PNG or JPEG images, and SkipWhenGrading says where they come from."""

    def preprocess_cell(self, cell, resources, index):
        if skipped_when_grading(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


class StderrAsOutput(NbGraderPreprocessor):
    """Keep what a graded cell wrote to stderr as ordinary output instead of failing the cell.

    nbgrader scores a test cell with any stderr output zero. The course's tests never write to
    stderr, so such output comes from the student's own code (a debugging print to stderr, a
    library warning) and must not cost the points of a test that passes.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources


class ResultsAsDisplay(NbGraderPreprocessor):
    """Show a test cell's `execute_result` outputs as plain displays, which nbgrader does not score.

    nbgrader reads the first `execute_result` of a test cell as partial credit, before it looks
    at the error that follows: a student's function that calls the displayhook (`sys.displayhook(1.0)`)
    would turn a failing test into half marks. The course's test cells never end with an expression
    (tests/test_notebooks.py checks), so every such result in one comes from the student's code.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "execute_result":
                    output["output_type"] = "display_data"
                    output.pop("execution_count", None)
        return cell, resources
