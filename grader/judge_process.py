"""The judge's own process: a notebook's test cells meet the student's values there, and nowhere else.

grader.judge decodes what a student's kernel sends and runs the instructor's test cells on it:
code that reads hostile input. It does not run in the grading process:

    grading worker: runs nbgrader, writes the scratch gradebook, and passes text between the
    │   kernel and the judge; it never decodes a value of the student's
    └── zygote (`python -I -m grader.judge_process FD`), in the sandbox (grader.sandbox): nothing
        │   writable but an empty /tmp, no network, a PID namespace of its own, a user id of its
        │   own when the grader is root; NumPy, SymPy and the course's checks imported once; it
        │   holds no test and no key, and it cannot be traced (not dumpable)
        └── one child per notebook, forked: it gets that notebook's locked and test cells and
            its sizes key (course.symbolic), judges them (grader.judge), asks the kernel for
            values through the worker, and answers each test cell's outputs as data

Once a child has ended, and before the next is forked, the zygote kills every process the child
left behind and empties /tmp, so that nothing of one notebook's judging reaches the next one's.
A child that kills the zygote ends its own notebook's judging only: the worker starts another.
The worker reads what the child says as JSON in frames of bounded size, and takes from it only
outputs of the shape a test cell's have (streams and one error, strings of bounded length).

Each request to the kernel carries a fresh token that course.agent's reply repeats: an input()
prompt of the student's own code (no token) is answered with an empty line, never taken for the
agent's reply.

    client = JudgeClient(send, finish, timeout=120, sandboxed=True, key=b"...")
    client.run_locked(source)          # a locked cell of the instructor's
    outputs = client.run_test(source)  # a test cell: its outputs, as nbformat dicts
    client.close()
"""
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from course.zygote import clear_sandbox, dumpable, import_quietly
from grader import sandbox

MAX_FRAME = 80 * 2**20   # bytes of one message between the worker and the judge
MAX_TEXT = 20_000        # characters of one stream or error message the worker keeps from a test cell
MAX_TRACEBACK = 20       # lines of an error's traceback kept
START_TIMEOUT = 120      # seconds a new zygote has to import what it needs
MARGIN = 30              # seconds past the test cell's timeout before the worker gives up on its judge
# imported once in the zygote, so that no notebook's child waits for them
WARM = ("numpy", "sympy", "matplotlib", "matplotlib.pyplot", "IPython.display", "ipywidgets",
        "grader.judge", "course.testing", "course.symbolic", "course.gradcheck", "course.data",
        "course.mlp", "course.viz", "course.experiments")
# what the zygote keeps of the worker's environment (names starting so)
ENV = ("PATH", "LANG", "LC_", "TZ", "OPENBLAS_", "OMP_", "MKL_", "PYTHONHASHSEED")


class JudgeFailed(RuntimeError):
    """The judge process stopped, or said something that is not an answer."""


# ---------------------------------------------------------------------------------------------
# Frames: a 4-byte length, then that many bytes of JSON.

_LENGTH = struct.Struct("!I")


def send_frame(sock, message):
    data = json.dumps(message).encode()
    if len(data) > MAX_FRAME:
        raise JudgeFailed("a message too large to send")
    sock.sendall(_LENGTH.pack(len(data)) + data)


def recv_frame(sock, deadline=None):
    """The next message (a dict); TimeoutError past the deadline (time.monotonic()), JudgeFailed
    when the other side is gone or sends something that is not a message."""
    (length,) = _LENGTH.unpack(_recv_exactly(sock, _LENGTH.size, deadline))
    if length > MAX_FRAME:
        raise JudgeFailed("a message too large to read")
    try:
        message = json.loads(_recv_exactly(sock, length, deadline))
    except (ValueError, RecursionError):
        raise JudgeFailed("a message that is not JSON") from None
    if type(message) is not dict:
        raise JudgeFailed("a message that is not an object")
    return message


def _recv_exactly(sock, n, deadline):
    chunks, left = [], n
    while left:
        sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 0.001))
        try:
            chunk = sock.recv(min(left, 2**20))
        except socket.timeout:
            raise TimeoutError() from None
        except OSError as error:
            raise JudgeFailed(f"the connection failed ({error})") from None
        if not chunk:
            raise JudgeFailed("the other side is gone")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# The worker's side.

def stop_process(ctrl, process, folder):
    """Close the control socket of a sandboxed helper process (a judge's or the kernels' zygote),
    kill its process group (its sandbox with it) and remove its folder."""
    try:
        ctrl.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except (OSError, AttributeError):
        pass
    shutil.rmtree(folder, ignore_errors=True)


class _Zygote:
    """The sandboxed process that forks one judge per notebook; one per grading process."""

    current = None

    def __init__(self, sandboxed):
        self.sandboxed = sandboxed
        self.scratch = tempfile.mkdtemp(prefix="course-judge-")
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-I", "-m", "grader.judge_process", str(theirs.fileno())]
        if sandboxed:
            os.chmod(self.scratch, 0o755)
            argv = sandbox.command(argv + ["--private"], self.scratch, writable=False, uid=sandbox.judge_uid(),
                                   grader=True)
        env = {name: value for name, value in os.environ.items() if name.startswith(ENV)}
        env["MPLBACKEND"] = "Agg"
        if sandboxed:  # Matplotlib's folder in the sandbox's /tmp, its font list copied from the grader's
            from grader.execute import _copy_font_cache

            fonts = os.path.join(self.scratch, "matplotlib")
            os.makedirs(fonts)
            _copy_font_cache(fonts)
            env.update(MPLCONFIGDIR="/tmp/matplotlib", COURSE_JUDGE_FONTS=fonts)
        try:
            self.process = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env, cwd=self.scratch,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=None if os.environ.get("COURSE_JUDGE_DEBUG") else subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        self.ctrl, self.child = ours, False
        try:
            if recv_frame(self.ctrl, time.monotonic() + START_TIMEOUT).get("op") != "ready":
                raise JudgeFailed("the judge did not start")
        except (TimeoutError, JudgeFailed):
            self.stop()
            raise JudgeFailed("the judge process could not start") from None

    @classmethod
    def get(cls, sandboxed):
        zygote = cls.current
        if zygote is not None and (zygote.sandboxed != sandboxed or zygote.process.poll() is not None):
            zygote.stop()
            zygote = None
        if zygote is None:
            zygote = cls.current = cls(sandboxed)
        return zygote

    def fork(self):
        """A socket to a new child, which judges one notebook."""
        self.settle()
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.ctrl, [b"fork"], [theirs.fileno()])
        except OSError:
            ours.close()
            raise JudgeFailed("the judge process is gone") from None
        finally:
            theirs.close()
        self.child = True
        return ours

    def settle(self):
        """Wait until the last child has ended and the zygote has cleared what it left."""
        if not self.child:
            return
        self.child = False
        try:
            recv_frame(self.ctrl, time.monotonic() + 10)
        except (TimeoutError, JudgeFailed):
            self.stop()
            raise JudgeFailed("the judge process did not end its last notebook") from None

    def stop(self):
        if _Zygote.current is self:
            _Zygote.current = None
        stop_process(self.ctrl, self.process, self.scratch)

    @classmethod
    def discard(cls):
        if cls.current is not None:
            cls.current.stop()


class JudgeClient:
    """A notebook's judge in a process of its own (see the module docstring); the same calls as
    grader.judge.Judge. send(text, timeout) -> the kernel's next input() prompt (raw text) and
    finish() are the worker's channel to the kernel (grader.execute._JudgeChannel)."""

    def __init__(self, send, finish, timeout=120, sandboxed=False, key=None):
        self._send, self._finish, self.timeout = send, finish, timeout
        self._kernel_error = None
        self.sock = _Zygote.get(sandboxed).fork()
        self._call({"op": "start", "timeout": timeout, "key": key.hex() if key else None})

    def run_locked(self, source):
        self._call({"op": "locked", "source": source})

    def run_test(self, source):
        """The test cell's outputs; .verdict then holds its record (verdict_record) or None, and
        .formula the LaTeX of the student's formula the failed test was about (formula_record) or None."""
        self.verdict = self.formula = None
        return self._call({"op": "test", "source": source})

    def close(self):
        try:
            self._call({"op": "close"})
        finally:
            self.close_quietly()

    def close_quietly(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _call(self, message):
        if self.sock is None:
            raise JudgeFailed("the judge process has ended")
        try:
            send_frame(self.sock, message)
            return self._answer(time.monotonic() + self.timeout + MARGIN)
        except (JudgeFailed, TimeoutError) as error:
            self.close_quietly()
            if _Zygote.current is not None:
                _Zygote.current.stop()  # a judge that stopped answering is not asked again
            if self._kernel_error is not None:
                raise self._kernel_error from None
            raise JudgeFailed(str(error) or "the judge process stopped answering in time") from None

    def _answer(self, deadline):
        """Serve the child's requests until it answers: outputs, or done."""
        from grader.judge import KernelDied

        while True:
            message = recv_frame(self.sock, deadline)
            op = message.get("op")
            if op == "kernel":
                text, timeout = message.get("text"), message.get("timeout")
                if type(text) is not str or type(timeout) not in (int, float):
                    raise JudgeFailed("a malformed request to the kernel")
                send_frame(self.sock, self._relay(text, min(max(float(timeout), 0.01), self.timeout)))
            elif op == "finish":
                self._finish()
                send_frame(self.sock, {"op": "finished"})
            elif op == "outputs":
                outputs = test_outputs(message.get("outputs"))
                self.verdict = verdict_record(message.get("verdict"))
                self.formula = formula_record(message.get("formula"))
                return outputs
            elif op == "done":
                return []
            elif op == "died":
                raise self._kernel_error or KernelDied("the kernel died")
            else:
                raise JudgeFailed("an answer the grader does not read")

    def _relay(self, text, timeout):
        from grader.judge import KernelDied, NoReply

        if self._kernel_error is not None:
            return {"op": "died"}
        try:
            return {"op": "prompt", "text": self._send(text, timeout)}
        except TimeoutError:
            return {"op": "timeout"}
        except NoReply as error:
            return {"op": "noreply", "message": str(error)[:500]}
        except KernelDied as error:
            self._kernel_error = error
        except RuntimeError as error:  # the kernel ignored the interrupt (grader.execute): it is stopped
            self._kernel_error = error
        return {"op": "died"}


def _capped(text, limit=MAX_TEXT):
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters not shown]\n"


def verdict_record(value):
    """A test's verdict record as the judge sent it ({"mistake": description} or None), if it is
    one; None otherwise (a record decides no grade: a judge that sends a wrong one misleads only
    the report's tally of its own notebook)."""
    from grader.judge import MAX_MISTAKE

    if type(value) is dict and set(value) == {"mistake"} and type(value["mistake"]) is str:
        return {"mistake": value["mistake"][:MAX_MISTAKE]}
    return None


def formula_record(value):
    """The LaTeX of a formula as the judge sent it, if it is a string of at most MAX_FORMULA
    characters; None otherwise. It is shown, never evaluated (and sanitised before it is shown:
    grader.sanitize, grader.mathml)."""
    from grader.judge import MAX_FORMULA

    return value if type(value) is str and 0 < len(value) <= MAX_FORMULA else None


def test_outputs(value):
    """A test cell's outputs as the judge sent them, if they are what a test cell's outputs are
    (streams, then at most one error; strings, capped); JudgeFailed otherwise."""
    if type(value) is not list or len(value) > 3:
        raise JudgeFailed("outputs the grader does not accept")
    outputs = []
    for output in value:
        kind = output.get("output_type") if type(output) is dict else None
        if kind == "stream" and output.get("name") in ("stdout", "stderr") and type(output.get("text")) is str:
            outputs.append({"output_type": "stream", "name": output["name"], "text": _capped(output["text"])})
        elif kind == "error" and type(output.get("ename")) is str and type(output.get("evalue")) is str \
                and type(output.get("traceback")) is list and all(type(t) is str for t in output["traceback"]):
            outputs.append({"output_type": "error", "ename": output["ename"][:80] or "Error",
                            "evalue": _capped(output["evalue"]),
                            "traceback": [_capped(t) for t in output["traceback"][:MAX_TRACEBACK]]})
        else:
            raise JudgeFailed("outputs the grader does not accept")
    return outputs


# ---------------------------------------------------------------------------------------------
# The judge's side: the zygote and its children.

def _warm():
    import_quietly(WARM + _checks_modules())


def _checks_modules():
    """The hidden checks' modules (grader.checks), one per notebook."""
    import pkgutil

    import grader.checks

    return tuple(info.name for info in pkgutil.walk_packages(grader.checks.__path__, "grader.checks."))


def _zygote(fd, private):
    ctrl = socket.socket(fileno=fd)
    dumpable(False)
    if private and os.environ.get("MPLCONFIGDIR"):
        shutil.copytree(os.environ.get("COURSE_JUDGE_FONTS", "/nonexistent"), os.environ["MPLCONFIGDIR"],
                        dirs_exist_ok=True)
    _warm()
    send_frame(ctrl, {"op": "ready"})
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(ctrl, 16, 1)
        except OSError:
            return
        if not fds:
            return  # the worker is gone
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            status = 1
            try:
                status = _child(socket.socket(fileno=fds[0]))
            finally:
                os._exit(status)
        os.close(fds[0])
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        clear_sandbox(private)
        send_frame(ctrl, {"op": "ended"})


def _child(sock):
    """Judge one notebook: the worker's requests, until it says close."""
    from course import symbolic
    from grader import judge

    def relay(text, timeout):
        """The judge's transport (grader.judge.Kernel): the request goes with a fresh token, and
        only a prompt that repeats it is the agent's reply."""
        token = secrets.token_hex(8)
        deadline = time.monotonic() + (timeout if timeout is not None else 120)
        line = f"{token} {text}"
        while True:
            send_frame(sock, {"op": "kernel", "text": line, "timeout": max(deadline - time.monotonic(), 0.01)})
            answer = recv_frame(sock)
            op = answer.get("op")
            if op == "timeout":
                raise TimeoutError()
            if op == "noreply":
                raise judge.NoReply(str(answer.get("message", "")))
            if op != "prompt" or type(answer.get("text")) is not str:
                raise judge.KernelDied("the kernel died")
            prompt = answer["text"]
            if prompt.startswith(token + " "):
                try:
                    reply = json.loads(prompt[len(token) + 1:])
                    streams = [(name, reply[name]) for name in ("stdout", "stderr")
                               if type(reply.get(name)) is str and reply[name]]
                    return reply["reply"], streams
                except (ValueError, KeyError, TypeError, RecursionError):
                    return None, []
            line = ""  # the student's own code called input(): it reads an empty line

    def finish():
        send_frame(sock, {"op": "finish"})
        if recv_frame(sock).get("op") != "finished":
            raise judge.KernelDied("the kernel died")

    judged = None
    while True:
        try:
            message = recv_frame(sock)
        except JudgeFailed:
            return 0
        op = message.get("op")
        try:
            if op == "start":
                key = message.get("key")
                symbolic.set_sizes_key(bytes.fromhex(key) if type(key) is str else None)
                judged = judge.Judge(relay, timeout=float(message.get("timeout") or 120), finish=finish)
                send_frame(sock, {"op": "done"})
            elif op == "locked":
                judged.run_locked(str(message.get("source", "")))
                send_frame(sock, {"op": "done"})
            elif op == "test":
                outputs = judged.run_test(str(message.get("source", "")))
                send_frame(sock, {"op": "outputs", "outputs": outputs, "verdict": judged.verdict,
                                  "formula": judged.formula})
            elif op == "close":
                judged.close()
                send_frame(sock, {"op": "done"})
                return 0
            else:
                return 1
        except judge.KernelDied:
            send_frame(sock, {"op": "died"})


if __name__ == "__main__":
    _zygote(int(sys.argv[1]), "--private" in sys.argv[2:])
