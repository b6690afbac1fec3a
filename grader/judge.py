"""The grader's side of a test cell: it runs in the grader's process, and reaches the verdict there.

A test cell of the instructor's notebook (hidden tests included) is executed here, in a namespace
of the grader's own: the notebook's locked cells (imports, the course's checks, worked examples)
are run here first, with the grader's NumPy and SymPy. Every other name the test reads (the
student's `batchnorm_forward`, `mu_B`, `LayerNorm`) is looked up in the student's kernel through
course.agent and comes back as a value:

- numbers, strings, lists, tuples, dicts, NumPy arrays and scalars are decoded as data (raw
  bytes of a numeric dtype; no pickle, no eval);
- SymPy expressions are rebuilt from a tree of allow-listed node kinds (course.symtree), never
  from text;
- anything else stays in the kernel: a Remote stands for it, and calling it, reading or setting
  its attributes and items are requests to the kernel. Arguments go to the kernel as data; a
  function the test passes stays here, and the kernel calls it back (Kernel.call_back); only a
  locked cell's function runs there, through course.testing.in_kernel. An array the student's
  code changes in place is changed here as well, so a test can see that it happened; an item a
  test writes into an attribute's array is written in the kernel too (KernelArray); a random
  generator the student's code draws from moves on here too.

The expected values, tolerances, catalogues of mistakes and messages never leave this process,
and nothing the kernel prints, raises or displays decides a score: the grader writes each test
cell's outputs itself (Judge.run_test). Used in the judge's own process (grader.judge_process)
and by the tests' fast runner.
"""
import ast
import base64
import builtins
import contextlib
import functools
import io
import json
import marshal
import math
import re
import signal
import sys
import threading
import time
import types
import warnings

import numpy as np

from course.protocol import DATA_KINDS, KERNEL_FUNCTIONS, MAX_REPLY, VALUE_CLASSES  # the exchange, defined once
from course.protocol import MAX_DECODED_DEPTH as MAX_DEPTH

MAX_OUTPUT = 20_000        # characters of a test cell's printed output kept
LOCKED = "<locked>"        # the file name the code of the instructor's locked cells is compiled with
TEST = "<test>"            # and that of a test cell's


class StudentError(Exception):
    """The student's code raised this exception while a test ran it (in the kernel)."""

    kind = "Exception"


class KernelTimeout(StudentError):
    """The student's code ran past the time a test cell has."""

    kind = "TimeoutError"


class KernelDied(RuntimeError):
    """The kernel died (or stopped answering) while a test ran the student's code."""


class BadReply(StudentError):
    """The kernel sent something that is not a value the grader reads."""

    kind = "BadReply"


class NoReply(BadReply):
    """The kernel stopped answering (its IPython was changed so that the requests never run)."""


_error_classes = {}


class NamedTuple(tuple):
    """A named tuple of the kernel's (a collections.namedtuple, a typing.NamedTuple): a tuple,
    whose items can also be read by their field names. Built without namedtuple's code
    generation, so that no name of the student's reaches eval."""

    _fields = ()

    @classmethod
    def of(cls, fields, values):
        made = cls(values)
        made.__dict__["_fields"] = tuple(fields)
        return made

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", ())
        if name in fields:
            return self[fields.index(name)]
        raise AttributeError(name)

    def _asdict(self):
        return dict(zip(self._fields, self))


def student_error(kind, message):
    """An exception for what the student's code raised in the kernel: a StudentError that is also
    the built-in exception of that name (NameError, ValueError, ...), so that a test's `except`
    works as it would in the kernel."""
    kind = kind if kind.isidentifier() else "Exception"
    base = getattr(builtins, kind, None)
    if not (isinstance(base, type) and issubclass(base, Exception)) or base is Exception:
        base = None
    key = (kind, base)
    if key not in _error_classes:
        bases = (StudentError, base) if base is not None else (StudentError,)
        _error_classes[key] = type(kind, bases, {"kind": kind, "__module__": "kernel"})
    return _error_classes[key](message)


# ---------------------------------------------------------------------------------------------
# Values out of the kernel, decoded as data.

_NUMERIC_KINDS = DATA_KINDS


DTYPE = re.compile(r"[<>|=]?[biufc][1-9][0-9]?")  # a numeric dtype's .str: "<f8", "|b1", "<c16"
CLASS_NAME = re.compile(r"[A-Za-z0-9_.<>]{1,200}")  # a class's module.qualname ("f.<locals>.A")
MAX_ELEMENTS = 10**8   # items of one array (its bytes must also be in the reply)


def _array(body):
    """An array from {"dtype", "shape", "b64"}, every field checked before NumPy reads it."""
    if set(body) != {"dtype", "shape", "b64"}:
        raise BadReply("a malformed array")
    dtype, shape, b64 = body["dtype"], body["shape"], body["b64"]
    if type(dtype) is not str or not DTYPE.fullmatch(dtype):
        raise BadReply("an array whose dtype is not a number's")
    dtype = np.dtype(dtype)
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise BadReply(f"an array of dtype {dtype} is not data")
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and 0 <= n <= MAX_ELEMENTS
                                                             for n in shape):
        raise BadReply("an array of impossible shape")
    if math.prod(shape) > MAX_ELEMENTS or type(b64) is not str:
        raise BadReply("an array too large to read")
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:  # binascii.Error
        raise BadReply("an array whose bytes are not base64") from None
    if len(raw) != dtype.itemsize * math.prod(shape):
        raise BadReply("an array whose bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(value, kernel, depth=0):
    """A value the kernel sent (parsed JSON), as data or a Remote; BadReply if it is neither
    (whatever it is: no other exception leaves the decoder)."""
    if depth:
        return _decode(value, kernel, depth)
    try:
        return _decode(value, kernel, 0)
    except (BadReply, KernelDied, KernelTimeout):
        raise
    except RecursionError:
        raise BadReply("a value nested too deeply") from None
    except Exception as error:  # noqa: BLE001 - a reply that breaks a check of the decoder's
        raise BadReply(f"a value the grader could not read ({type(error).__name__})") from None


def _decode(value, kernel, depth=0):
    if depth > MAX_DEPTH:
        raise BadReply("a value nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_decode(v, kernel, depth + 1) for v in value]
    if type(value) is not dict or len(value) not in (1, 3):
        raise BadReply("a value the grader does not read")
    if "$r" in value:
        ref, kind, call = value.get("$r"), value.get("type"), value.get("call")
        if type(ref) is not int or type(kind) is not str or type(call) is not bool:
            raise BadReply("a malformed handle")
        kind = kind if CLASS_NAME.fullmatch(kind) else "object"
        return remote(kernel, ref, kind, call)
    (tag, body), = value.items()
    if tag == "$f" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$c" and type(body) is list and len(body) == 2:
        parts = [_decode(v, kernel, depth + 1) for v in body]
        if all(type(p) in (int, float) for p in parts):
            return complex(*parts)
    if tag in ("$a", "$s") and type(body) is dict:
        a = _array(body)
        if tag == "$a":
            return a
        if a.ndim == 0:
            return a[()]
    if tag == "$t" and type(body) is list:
        return tuple(_decode(v, kernel, depth + 1) for v in body)
    if tag == "$nt" and type(body) is list and len(body) == 2 and type(body[0]) is list and type(body[1]) is list:
        fields, values = body
        if len(fields) != len(values) or not all(type(f) is str and f.isidentifier() and len(f) <= 100
                                                 for f in fields) or len(set(fields)) != len(fields):
            raise BadReply("a malformed named tuple")
        return NamedTuple.of(fields, [_decode(v, kernel, depth + 1) for v in values])
    if tag == "$d" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise BadReply("a malformed dict")
            key = _decode(pair[0], kernel, depth + 1)
            try:
                out[key] = _decode(pair[1], kernel, depth + 1)
            except TypeError:
                raise BadReply("a dict key that cannot be a key") from None
        return out
    if tag == "$sym":
        from course import symtree

        try:
            return symtree.decode(body)
        except symtree.Refused as refused:
            raise BadReply(str(refused)) from None
    if tag == "$g" and type(body) is dict:
        return _generator(body)
    if tag == "$o" and type(body) is list and len(body) == 2:
        return _course_object(body[0], _decode(body[1], kernel, depth + 1))
    raise BadReply(f"a value tagged {tag!r} that the grader does not read")


def _generator(state):
    """A NumPy Generator (PCG64) in the state the kernel sent."""
    inner = state.get("state")
    if state.get("bit_generator") != "PCG64" or type(inner) is not dict or set(inner) != {"state", "inc"} \
            or not all(type(v) is int for v in (inner["state"], inner["inc"], state.get("has_uint32"), state.get("uinteger"))):
        raise BadReply("a malformed random generator")
    generator = np.random.Generator(np.random.PCG64())
    try:
        generator.bit_generator.state = {"bit_generator": "PCG64", "state": dict(inner),
                                         "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}
    except (TypeError, ValueError, OverflowError):
        raise BadReply("a malformed random generator") from None
    return generator


def _value_classes():
    """{module.qualname: class} of the course's classes that cross as their state
    (course.protocol.VALUE_CLASSES)."""
    import importlib

    found = {}
    for name in VALUE_CLASSES:
        module, _, qualname = name.rpartition(".")
        found[name] = getattr(importlib.import_module(module), qualname)
    return found


def _course_object(name, state):
    """One of the course's objects, from the state the kernel sent: a Split from its four arrays,
    a network or its batch norm from their attributes (data and handles, checked by the code that
    uses them as for any value)."""
    kind = _value_classes().get(name) if type(name) is str else None
    if kind is None:
        raise BadReply("an object of a class the grader does not rebuild")
    if isinstance(state, tuple) and kind is _value_classes()["course.data.Split"] and len(state) == 4:
        return kind(*state)
    if type(state) is dict and all(type(k) is str and k.isidentifier() for k in state) and not issubclass(kind, tuple):
        obj = kind.__new__(kind)
        vars(obj).update(state)
        return obj
    raise BadReply("a malformed object of the course's")


# ---------------------------------------------------------------------------------------------
# Values into the kernel.

def _kernel_function(function):
    """module.name of one of the course's KERNEL_FUNCTIONS (sent by name, run by the kernel's own
    copy), else None."""
    name = f"{getattr(function, '__module__', '')}.{getattr(function, '__name__', '')}"
    if name in KERNEL_FUNCTIONS:
        module = sys.modules.get(name.rsplit(".", 1)[0])
        if module is not None and getattr(module, name.rsplit(".", 1)[1], None) is function:
            return name
    return None


def pure(function):
    """Mark a test's function whose result depends on its arguments alone (called again with the
    same arguments, it returns the same value and does nothing else). Handed to the student's
    code, it crosses as "$pcb": the kernel asks the grader once for each distinct arguments and
    answers the repeats itself, each with a fresh copy. B3's reference forward pass is one: a
    gradient checker calls it at the same few thousand points for every backward pass the test
    hands it, each call a round trip to the grader. Nothing is decided in the kernel by it: the
    student's code could always call the function with anything, and do anything with what it got."""
    function.pure = True
    return function


def encode(value, depth=0, callbacks=None):
    """A value of the test's, as JSON data for the kernel (course.agent decodes it).

    callbacks: a Kernel's list of the test's functions the kernel may call back. A function
    among the values then stays here: the kernel gets a handle ({"$cb": n}), and calling it is a
    request of the kernel's to the grader (Kernel.request), so that no test code, name or
    constant reaches the kernel. Without callbacks (the function course.testing.in_kernel runs
    there), a function goes as its code."""
    if depth > MAX_DEPTH:
        raise TypeError("a value nested too deeply to send to the kernel")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if np.isfinite(value) else {"$f": repr(value)}
    if kind is complex:
        return {"$c": [encode(value.real, 1, callbacks), encode(value.imag, 1, callbacks)]}
    if isinstance(value, Remote):
        return {"$r": object.__getattribute__(value, "_ref")}
    if isinstance(value, np.ndarray) and value.dtype.kind in _NUMERIC_KINDS:
        a = np.array(value, order="C", copy=True)
        return {"$a": {"dtype": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}}
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        a = np.asarray(value)
        return {"$s": {"dtype": a.dtype.str, "shape": [], "b64": base64.b64encode(a.tobytes()).decode()}}
    name = f"{kind.__module__}.{kind.__qualname__}"
    if name in ("course.mlp.MLP", "course.mlp.BatchNorm", "course.data.Split"):
        state = tuple(value) if isinstance(value, tuple) else dict(vars(value))
        return {"$o": [name, encode(state, depth + 1, callbacks)]}
    if isinstance(value, list):
        return [encode(v, depth + 1, callbacks) for v in value]
    if isinstance(value, tuple):
        return {"$t": [encode(v, depth + 1, callbacks) for v in value]}
    if isinstance(value, dict):
        return {"$d": [[encode(k, depth + 1, callbacks), encode(v, depth + 1, callbacks)] for k, v in value.items()]}
    if kind is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
        return {"$g": value.bit_generator.state}
    if kind is slice:
        return {"$sl": [encode(value.start), encode(value.stop), encode(value.step)]}
    if value is Ellipsis:
        return {"$e": 1}
    by_name = _kernel_function(value) if kind is types.FunctionType else None
    if by_name:
        return {"$kf": by_name}
    if callbacks is not None and kind in (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                                          functools.partial) \
            and not (kind is types.FunctionType and getattr(value, "runs_in_kernel", False) is True):
        if getattr(value, "pure", False) is True and kind is types.FunctionType:
            # one handle for every time it is handed over: the kernel's answers to repeats stay valid
            ref = next((i for i, f in enumerate(callbacks) if f is value), None)
            if ref is None:
                callbacks.append(value)
                ref = len(callbacks) - 1
            return {"$pcb": ref}
        callbacks.append(value)
        return {"$cb": len(callbacks) - 1}
    if kind is types.FunctionType:
        if value.__code__.co_filename not in (LOCKED, TEST):
            # a hidden check's code (grader.checks) never goes to the student's kernel
            raise TypeError(f"{value.__name__} is not a function of the notebook's own cells: only those run in the "
                            "kernel as code (a check's own function stays in the grader, called back)")
        closure = [encode(cell.cell_contents, depth + 1, callbacks) for cell in value.__closure__ or ()]
        return {"$fn": {"code": base64.b64encode(marshal.dumps(value.__code__)).decode(), "name": value.__name__,
                        "defaults": encode(value.__defaults__, depth + 1, callbacks),
                        "kwdefaults": encode(value.__kwdefaults__, depth + 1, callbacks), "closure": closure}}
    sympy = sys.modules.get("sympy")
    if sympy is not None and isinstance(value, sympy.Basic):
        from course import symtree

        return {"$sym": symtree.encode(value)}
    raise TypeError(f"a {kind.__name__} cannot be sent to the kernel (only data, functions and the kernel's own objects)")


# ---------------------------------------------------------------------------------------------
# Objects that stay in the kernel.

class Remote:
    """An object of the student's kernel (a function, a class, a LayerNorm, ...): calling it,
    reading and setting its attributes and items are requests to the kernel; what comes back is
    data again, or another Remote. Its class is named after the kernel object's type, so that a
    message saying "got a <type>" names the student's type."""

    __slots__ = ("_kernel", "_ref", "_type", "_methods")

    def __init__(self, kernel, ref, kind):
        object.__setattr__(self, "_kernel", kernel)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_methods", {})

    def _ask(self, op, **fields):
        return object.__getattribute__(self, "_kernel").request(op, ref=object.__getattribute__(self, "_ref"), **fields)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        methods = object.__getattribute__(self, "_methods")
        if name in methods:  # a bound method read before: calling it again needs no new handle
            return methods[name]
        value = self._ask("getattr", attr=name)
        if isinstance(value, Remote) and object.__getattribute__(value, "_type") == "builtins.method":
            methods[name] = value
        if type(value) is np.ndarray:
            value = KernelArray.of(value, self, name)
        return value

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_methods").pop(name, None)
        self._ask("setattr", attr=name, value=value)

    def __getitem__(self, key):
        return self._ask("getitem", key=key)

    def __setitem__(self, key, value):
        self._ask("setitem", key=key, value=value)

    def __len__(self):
        n = self._ask("len")
        if type(n) is not int or n < 0:
            raise BadReply("len() of a kernel object that is not a number")
        return n

    def __iter__(self):
        items = self._ask("list")
        if type(items) is not list:
            raise BadReply("the items of a kernel object that are not a list")
        return iter(items)

    def __bool__(self):
        return self._ask("bool") is True

    def __str__(self):
        text = self._ask("str")
        return text if type(text) is str else "?"

    def __repr__(self):
        return f"<{object.__getattribute__(self, '_type')} object of the kernel>"

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self  # a handle: a copy would name the same object of the kernel


class KernelArray(np.ndarray):
    """An array read from an attribute of a kernel object (`layer.gamma`). Writing an item of it
    (`layer.gamma[0] = 7`) writes the kernel's array too, so that a test sees what the student's
    objects share, as it would in the kernel. Any other change in place (`+=`, np.copyto, a
    slice's items) fails loudly: the array is read-only but for item assignment."""

    @classmethod
    def of(cls, array, owner, attr):
        view = array.view(cls)
        view._origin = (owner, attr)
        view.flags.writeable = False
        return view

    def __array_finalize__(self, obj):
        self._origin = None  # a view or result of it writes nowhere

    def __setitem__(self, key, value):
        origin = getattr(self, "_origin", None)
        if origin is None:
            return super().__setitem__(key, value)
        self.flags.writeable = True
        try:
            super().__setitem__(key, value)
        finally:
            self.flags.writeable = False
        owner, attr = origin
        owner._ask("setitem_attr", attr=attr, key=key, value=value)


class RemoteCallable(Remote):
    __slots__ = ()

    def __call__(self, *args, **kwargs):
        return self._ask("call", args=list(args), kwargs=kwargs)


_remote_classes = {}


def remote(kernel, ref, kind, call):
    short = kind.rsplit(".", 1)[-1]
    short = short if short.isidentifier() else "object"
    key = (short, call)
    if key not in _remote_classes:
        _remote_classes[key] = type(short, (RemoteCallable if call else Remote,), {"__slots__": (), "__module__": "kernel"})
    return _remote_classes[key](kernel, ref, kind)


# ---------------------------------------------------------------------------------------------
# The connection to the kernel.

class Kernel:
    """Requests to the kernel over a transport: send(text, timeout) -> (reply text, [(stream,
    text)]). The transport raises TimeoutError when the kernel does not answer in time (it has
    then interrupted it) and KernelDied when it is gone."""

    def __init__(self, send):
        self._send = send
        self.deadline = None
        self.callbacks = []  # the test's functions the kernel holds handles to (encode)

    def apply(self, function, args, kwargs):
        """function(*args, **kwargs) run in the kernel (course.testing.in_kernel). Only a function
        of a locked cell's goes there as code (the student sees those cells anyway); a hidden
        test's own code never does; one of the course's KERNEL_FUNCTIONS goes by name (encode)."""
        code = getattr(function, "__code__", None)
        if not _kernel_function(function) and (
                type(function) is not types.FunctionType or code is None or code.co_filename != LOCKED):
            raise TypeError("in_kernel runs only functions defined in a locked cell of the notebook "
                            "(a hidden test's code never goes to the student's kernel)")
        return self.request("apply", function=function, args=list(args), kwargs=dict(kwargs))

    def request(self, op, **fields):
        if "function" in fields:
            fields["function"] = encode(fields["function"])
        if "args" in fields:
            args = fields["args"]
            fields["args"] = [encode(a, callbacks=self.callbacks) for a in args]
            kwargs = fields["kwargs"]
            fields["kwargs"] = [[k, encode(v, callbacks=self.callbacks)] for k, v in kwargs.items()]
        for key in ("value", "key"):
            if key in fields:
                fields[key] = encode(fields[key], callbacks=self.callbacks)
        reply = self._exchange(json.dumps({"op": op, **fields}))
        while "callback" in reply:  # the student's code called a function of the test's: it runs here
            reply = self._exchange(self.call_back(reply))
        if "error" in reply:
            error = reply["error"]
            if type(error) is not dict or type(error.get("type")) is not str or type(error.get("message")) is not str:
                raise BadReply("the kernel's error is malformed")
            if error["type"] == "KeyboardInterrupt":
                raise KernelTimeout("your code was still running when the test cell's time was up")
            raise student_error(error["type"][:80], error["message"][:4000])
        if "ok" not in reply:
            raise BadReply("the kernel's reply holds no value")
        if op in ("call", "apply") and reply.get("writeback"):
            _write_back(args, kwargs, reply["writeback"], self)
        return decode(reply["ok"], self)

    def _exchange(self, text):
        """Send text; the kernel's reply (a dict), what its code printed meanwhile written here."""
        left = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.01)
        try:
            text, streams = self._send(text, left)
        except TimeoutError:
            raise KernelTimeout("your code was still running when the test cell's time was up "
                                "(an endless loop, or a much too slow computation?)") from None
        for name, chunk in streams:
            (sys.stderr if name == "stderr" else sys.stdout).write(chunk)
        if type(text) is not str or len(text) > MAX_REPLY:
            raise BadReply("a reply too large to read, or none")
        try:
            reply = json.loads(text)
        except RecursionError:
            raise BadReply("a reply nested too deeply to read") from None
        except ValueError:
            raise BadReply("a reply that is not JSON") from None
        if type(reply) is not dict:
            raise BadReply("a reply of the wrong form")
        return reply

    def call_back(self, request):
        """Run the test's function the kernel called ({"callback": n, "args": [...], "kwargs":
        [[name, value], ...]}); the answer for the kernel, as JSON text. What it raises reaches
        the kernel as its type alone: no message of the test's goes there."""
        ref, args, kwargs = request.get("callback"), request.get("args"), request.get("kwargs")
        if type(ref) is not int or not 0 <= ref < len(self.callbacks) or type(args) is not list \
                or type(kwargs) is not list or not all(type(p) is list and len(p) == 2 and type(p[0]) is str
                                                       for p in kwargs):
            raise BadReply("a malformed call of the test's function")
        function = self.callbacks[ref]
        try:
            result = function(*[decode(a, self) for a in args], **{k: decode(v, self) for k, v in kwargs})
            return json.dumps({"result": {"ok": encode(result, callbacks=self.callbacks)}})
        except (KernelDied, KernelTimeout):
            raise
        except Exception as error:  # noqa: BLE001 - the kernel's code sees an exception of that type
            kind = type(error).__name__ if type(error).__module__ == "builtins" else "Exception"
            return json.dumps({"result": {"error": {"type": kind}}})

    def forget(self):
        """Drop the kernel's handles (at the end of a notebook)."""
        with contextlib.suppress(Exception):
            self.request("forget")
        self.callbacks.clear()


def _write_back(args, kwargs, changes, kernel):
    """Update the test's arrays that the student's code changed in place in the kernel."""
    if type(changes) is not list:
        raise BadReply("a malformed list of changed arguments")
    for change in changes:
        if type(change) is not list or len(change) != 2 or type(change[0]) is not list or len(change[0]) < 2:
            raise BadReply("a malformed changed argument")
        path, value = change
        where, first, rest = path[0], path[1], path[2:]
        try:
            target = args[first] if where == "a" else kwargs[first]
            for index in rest:
                target = target[index]
        except (IndexError, KeyError, TypeError):
            raise BadReply("a changed argument that was not sent") from None
        new = decode(value, kernel)
        if type(target) is np.random.Generator and type(new) is np.random.Generator:
            target.bit_generator.state = new.bit_generator.state
            continue
        if type(new) is type(target) and not isinstance(target, (np.ndarray, tuple)) and hasattr(target, "__dict__"):
            vars(target).clear()
            vars(target).update(vars(new))  # a network the student's code trained in place
            continue
        if not isinstance(target, np.ndarray) or not isinstance(new, np.ndarray):
            raise BadReply("a changed argument that is not an array")
        if new.shape == target.shape:
            with np.errstate(all="ignore"):
                target[...] = new
        else:  # its shape changed (resize): the test sees a NaN-filled array
            with contextlib.suppress(TypeError, ValueError):
                target[...] = np.nan


# ---------------------------------------------------------------------------------------------
# The namespace of a notebook's tests, and running them.

class Namespace(dict):
    """The grader's globals for a notebook's tests: names it defines itself, else the kernel's."""

    def __init__(self, kernel):
        super().__init__(__name__="__main__", __builtins__=builtins)
        self.kernel = kernel
        self.cache = {}

    def __missing__(self, name):
        if name in builtins.__dict__ or name.startswith("__"):
            raise KeyError(name)
        if name not in self.cache:
            value = self.kernel.request("get", name=name)
            if isinstance(value, Remote) and object.__getattribute__(value, "_type") == "builtins.module":
                # a test that reads a module no locked cell imports would be using the student's
                raise NameError(f"name '{name}' is not defined in the grader: import it in a locked cell")
            self.cache[name] = value
        return self.cache[name]


def _names(source):
    """(names a cell's code binds at its top level, names it reads anywhere); None if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    stores = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            stores |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return stores, loads


def visible_runs_needed(cells):
    """Indices of the test cells whose visible part must also run in the kernel: those that define
    a name a later code cell reads (a student's cell may use the `x` a test made, as it did in
    JupyterLab). The others are only judged: their visible part would compute nothing anyone uses.
    Code that cannot be parsed counts as reading everything."""
    needed, later_loads, everything = set(), set(), False
    for index in range(len(cells) - 1, -1, -1):
        cell = cells[index]
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {}) if isinstance(cell.metadata.get("nbgrader"), dict) else {}
        test = bool(meta.get("grade") and not meta.get("solution"))
        names = _names(hidden_removed(cell.source) if test else cell.source)
        if test and (everything or names is None or names[0] & later_loads):
            needed.add(index)
        if names is None:
            everything = True
        else:
            later_loads |= names[1]
    return needed


HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")  # nbgrader's delimiters (ClearHiddenTests)


def hidden_split(source):
    """(visible, hidden): a test cell's source without its hidden tests (what the student's
    release shows), and the hidden tests alone. nbgrader's rule: a line that contains a
    delimiter opens or closes a hidden section, and is itself dropped."""
    parts, hidden = ([], []), False
    for line in source.splitlines(keepends=True):
        if HIDDEN[0] in line:
            hidden = True
        elif HIDDEN[1] in line:
            hidden = False
        else:
            parts[hidden].append(line)
    return "".join(parts[0]), "".join(parts[1])


def hidden_removed(source):
    """A test cell's source without its hidden tests (what the student's release shows)."""
    return hidden_split(source)[0]


class _Alarm(BaseException):
    pass


class Judge:
    """Runs one notebook's locked and test cells in the grader, against one kernel.

    judge = Judge(send, timeout=120)
    judge.run_locked(source)          # a locked cell of the instructor's (setup, examples)
    outputs = judge.run_test(source)  # a test cell: nbformat outputs (stream, error)
    judge.close()
    """

    def __init__(self, send, timeout=120, finish=None):
        self.kernel = Kernel(send)
        self.finish = finish or (lambda: None)
        self.namespace = Namespace(self.kernel)
        self.timeout = timeout
        self.verdict = None  # the last test's record (verdict_record), None when it passed or named nothing
        self.formula = None  # the LaTeX of the formula the last failed test was about (formula_of)
        self._numpy_state = (np.get_printoptions(), np.geterr())

    def run_locked(self, source):
        """Run a locked cell here, quietly; a failure leaves its names undefined (a test that needs
        them then says so)."""
        self._run(source, quiet=True)

    def run_test(self, source):
        return self._run(source, quiet=False)

    def close(self):
        self.kernel.forget()
        self.close_quietly()

    def close_quietly(self):
        """Put back NumPy's print options and error state (the grader's process goes on to other
        notebooks); the kernel is not asked anything (it may be gone)."""
        printoptions, errstate = self._numpy_state
        np.set_printoptions(**printoptions)
        np.seterr(**errstate)

    def _run(self, source, quiet):
        self.namespace.cache.clear()
        out, err = io.StringIO(), io.StringIO()
        error = None
        self.verdict = self.formula = None
        self.kernel.deadline = time.monotonic() + self.timeout
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught, self._alarm(), self._in_kernel():
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.filterwarnings("ignore", category=category)
            try:
                exec(compile(source, LOCKED if quiet else TEST, "exec"), self.namespace)
            except KernelDied:
                raise
            except _Alarm:
                error = ("TimeoutError", f"The test cell ran longer than {self.timeout:g} s.")
            except RecursionError:
                error = ("RecursionError", "The test cell reached Python's recursion limit on your answer "
                                           "(an expression or structure nested far too deeply?).")
            except BaseException as e:  # noqa: BLE001 - whatever the test raised is its verdict
                error = _verdict(e)
                self.verdict = verdict_record(e)
                self.formula = formula_of(e)
            finally:
                self.finish()
        if quiet:
            return []
        stderr = err.getvalue() + "".join(
            warnings.formatwarning(w.message, w.category, "<test>" if w.filename == "<test>" else w.filename, w.lineno)
            for w in caught)
        outputs = []
        for name, text in (("stdout", out.getvalue()), ("stderr", stderr)):
            if text:
                if len(text) > MAX_OUTPUT:
                    text = text[:MAX_OUTPUT] + f"\n[... {len(text) - MAX_OUTPUT} more characters not shown]\n"
                outputs.append({"output_type": "stream", "name": name, "text": text})
        if error is not None:
            ename, evalue = error
            outputs.append({"output_type": "error", "ename": ename, "evalue": evalue,
                            "traceback": [f"{ename}: {evalue}"]})
        return outputs

    @contextlib.contextmanager
    def _in_kernel(self):
        """course.testing.in_kernel(f, ...) runs f in the student's kernel while this judge runs a cell."""
        from course import testing

        previous, testing._apply = testing._apply, self.kernel.apply
        try:
            yield
        finally:
            testing._apply = previous

    @contextlib.contextmanager
    def _alarm(self):
        """A limit on the grader's own time in a test cell (a SymPy simplification that never
        ends): SIGALRM, where the grader runs in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_alarm(signum, frame):
            raise _Alarm()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout + 5)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


MAX_MISTAKE = 200  # characters of a mistake's description in a verdict record


def verdict_record(error):
    """The facts of a failed test as data, for the class report and the grade table to read as
    fields (never parsed back from the message): {"mistake": description} when a check named the
    known mistake the answer matches (course.testing.CheckFailed.mistake), else None."""
    mistake = getattr(error, "mistake", None) if type(error).__module__ == "course.testing" else None
    if type(mistake) is str and mistake:
        return {"mistake": mistake[:MAX_MISTAKE]}
    return None


MAX_FORMULA = 2_000  # characters of the student's formula shown as math above a failed check's message


def formula_of(error):
    """The LaTeX of the student's formula a failed check carries (course.testing.CheckFailed.formula),
    when it is short enough to show as math; else None."""
    formula = getattr(error, "formula", None) if type(error).__module__ == "course.testing" else None
    return formula if type(formula) is str and 0 < len(formula) <= MAX_FORMULA else None


def _verdict(error):
    """(ename, evalue) of what a test cell raised, as the student reads it."""
    if isinstance(error, StudentError):
        if isinstance(error, KernelTimeout):
            return "TimeoutError", str(error)
        if isinstance(error, NoReply):
            return "NoReply", f"The test could not run your code: {error}."
        if isinstance(error, BadReply):
            return "BadReply", f"The kernel sent {error}; the test cannot read it."
        return error.kind, f"your code raised {error.kind}: {error}"
    try:
        message = str(error)
    except Exception:  # noqa: BLE001
        message = ""
    return type(error).__name__, message

