"""The kernel's side of grading: it answers the grader's requests with values, never verdicts.

When a notebook is graded, its test cells run in the grader's process (grader.judge), not in
the student's kernel. Whenever a test needs something of the student's (a function to call, a
SymPy expression, an attribute of an object), the grader sends a request here and gets back a
value, encoded as JSON data (the tags and limits: course.protocol):

    serve(request_text, namespace=None) -> reply_text

- numbers, strings, None, lists, tuples and dicts of them, NumPy arrays and scalars (their raw
  bytes, with dtype and shape), SymPy expressions (as trees: course.symtree);
- NumPy's random generators (PCG64) as their state;
- anything else (a function, a class, an object of the student's) as a handle the grader can
  call, read attributes of or pass back.

What the student's code prints while it runs reaches the grader as the kernel's output. The
student's kernel can of course change this module: that changes only the values it sends, and a
student's function can send any value it likes anyway. The grader decodes the reply as data
(grader.judge) and reaches every verdict itself.
"""
import base64
import json
import marshal
import sys
import types

import numpy as np

from course.protocol import DATA_KINDS, MAX_DEPTH, MAX_PRINTED, PROMPT, VALUE_CLASSES  # noqa: F401 (the exchange)

_objects = {}     # handle -> object the grader holds a handle to
_answers = {}     # the request calling a test's pure function ("$pcb") -> the grader's answer, as JSON data
ANSWERS_KEPT = 64 * 2 ** 20  # characters of those answers kept (past them, repeats are asked again)
_counter = [0]


def serve(request, namespace=None):
    """Answer one request (JSON text) of the grader; return the reply (JSON text)."""
    if namespace is None:
        namespace = _user_namespace()
    try:
        message = json.loads(request)
        result, writeback = _handle(message, namespace)
        reply = {"ok": _encode(result)}
        if writeback:
            reply["writeback"] = writeback
    except BaseException as error:  # noqa: BLE001 - anything the student's code raises is reported
        reply = {"error": _describe(error)}
    return json.dumps(reply, allow_nan=False)




def serve_loop(namespace=None):
    """Answer requests until the grader says "done": each request is read with input() (Jupyter's
    stdin channel), and each reply goes out as the prompt of the next input(). One test cell's
    requests then cost a message each way, not an execution of a cell each. What the student's
    code prints during a request goes back with its reply.

    A request is "TOKEN JSON", and its reply's prompt starts with the same token: the grader
    knows the prompt of an input() the student's own code calls (it has no token) from the
    agent's, and answers it with an empty line."""
    import contextlib
    import io

    state = {"token": ""}

    def exchange(prompt):
        """input(prompt), quietly; the request it answers, its token kept for the next reply."""
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            line = input(prompt)  # (input() flushes stdout first: a StringIO's flush waits for nothing)
        if line == "done":
            return None
        state["token"], _, request = line.partition(" ")
        return request

    def reply(text, out="", err=""):
        return PROMPT + state["token"] + " " + json.dumps({"reply": text, "stdout": out[-MAX_PRINTED:],
                                                           "stderr": err[-MAX_PRINTED:]})

    _ask_grader[0] = lambda text: exchange(reply(text))
    try:
        request = exchange(PROMPT + json.dumps({"ready": True}))
        while request is not None:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                answer = serve(request, namespace)
            request = exchange(reply(answer, out.getvalue(), err.getvalue()))
    finally:
        _ask_grader[0] = None


_ask_grader = [None]  # text -> text: a message to the grader, and its answer (set while a loop serves)


def _callback(ref, namespace, pure=False):
    """A function of the test's that stays in the grader: calling it asks the grader to run it
    (grader.judge.Kernel.call_back); requests the grader makes meanwhile are served here. A pure
    one's answer is kept, and a call with the same arguments answered with a copy of it."""
    def grader_function(*args, **kwargs):
        if _ask_grader[0] is None:
            raise RuntimeError("the grader's function can only be called while the grader asks")
        text = json.dumps({"callback": ref, "args": [_encode(a) for a in args],
                           "kwargs": [[k, _encode(v)] for k, v in kwargs.items()]})
        # a handle among the arguments stands for an object whose state may have changed: asked again
        pure_here = pure and '"$r"' not in text
        if pure_here and text in _answers:
            return _decode(_answers[text][0], namespace)
        while True:
            raw = _ask_grader[0](text)
            message = json.loads(raw)
            if "result" not in message:  # a request of the grader's, made while its function runs
                text = serve(raw, namespace)
                continue
            result = message["result"]
            if "error" in result:
                kind = getattr(__import__("builtins"), str(result["error"].get("type")), Exception)
                raise (kind if isinstance(kind, type) and issubclass(kind, Exception) else Exception)(
                    "raised by the grader's function")
            if pure_here and sum(size for _, size in _answers.values()) + len(raw) <= ANSWERS_KEPT:
                _answers[text] = (result["ok"], len(raw))
            return _decode(result["ok"], namespace)

    return grader_function


def _user_namespace():
    try:
        return get_ipython().user_ns  # noqa: F821 - defined in a kernel
    except NameError:
        return sys.modules["__main__"].__dict__


def _describe(error):
    try:
        message = str(error)
    except BaseException:  # noqa: BLE001 - an exception whose str() fails
        message = "(its message could not be read)"
    return {"type": type(error).__name__, "message": message[:4000]}


def _handle(message, namespace):
    op = message["op"]
    if op == "get":
        name = message["name"]
        if name not in namespace:
            raise NameError(f"name '{name}' is not defined")
        return namespace[name], None
    if op == "forget":
        _objects.clear()
        _answers.clear()
        return None, None
    target = _objects[message["ref"]] if "ref" in message else None
    if op in ("call", "apply"):
        if op == "apply":
            target = _decode(message["function"], namespace)
        args = [_decode(a, namespace) for a in message["args"]]
        kwargs = {k: _decode(v, namespace) for k, v in message["kwargs"]}
        before = [(path, a, _snapshot(a)) for path, a in _arrays(args, kwargs)]
        result = target(*args, **kwargs)
        changed = [[path, _encode(a)] for path, a, old in before if _snapshot(a) != old]
        return result, changed
    if op == "getattr":
        return getattr(target, message["attr"]), None
    if op == "setattr":
        setattr(target, message["attr"], _decode(message["value"], namespace))
        return None, None
    if op == "getitem":
        return target[_decode(message["key"], namespace)], None
    if op == "setitem":
        target[_decode(message["key"], namespace)] = _decode(message["value"], namespace)
        return None, None
    if op == "setitem_attr":  # an item of an attribute's array, written in place (grader.judge.KernelArray)
        getattr(target, message["attr"])[_decode(message["key"], namespace)] = _decode(message["value"], namespace)
        return None, None
    if op == "len":
        return len(target), None
    if op == "list":
        return list(target), None
    if op == "bool":
        return bool(target), None
    if op == "str":
        return str(target)[:10000], None
    raise ValueError(f"unknown request {op!r}")


def _arrays(args, kwargs):
    """(path, array) of every NumPy array among the arguments, in lists and tuples too: the
    grader's copies are updated when the call changes them in place."""
    found = []

    def walk(value, path):
        if type(value) in (np.ndarray, np.random.Generator) or _value_class(value):
            found.append((path, value))
        elif type(value) in (list, tuple) and len(path) < 4:
            for i, item in enumerate(value):
                walk(item, path + [i])

    for i, a in enumerate(args):
        walk(a, ["a", i])
    for k, v in kwargs.items():
        walk(v, ["k", k])
    return found


def _snapshot(value, depth=0):
    """What a call may change in place of an argument: an array's bytes and shape, a generator's
    state, the state of one of the course's objects."""
    if type(value) is np.random.Generator:
        return json.dumps(value.bit_generator.state, sort_keys=True, default=str)
    if type(value) is np.ndarray:
        return (value.shape, value.dtype.str, value.tobytes())
    if depth < 8 and _value_class(value):
        return _snapshot(_state(value), depth + 1)
    if depth < 8 and type(value) in (list, tuple):
        return tuple(_snapshot(v, depth + 1) for v in value)
    if depth < 8 and type(value) is dict:
        return tuple((k, _snapshot(v, depth + 1)) for k, v in value.items())
    return (type(value).__name__, value) if type(value) in (int, float, str, bool, type(None)) else id(value)


def _value_class(value):
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}" in VALUE_CLASSES


def _state(value):
    return tuple(value) if isinstance(value, tuple) else dict(vars(value))


def _encode(value, depth=0):
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if value == value and abs(value) != float("inf") else {"$f": repr(value)}
    if kind is complex:
        return {"$c": [_encode(value.real), _encode(value.imag)]}
    if depth < MAX_DEPTH:
        if kind is np.ndarray and value.dtype.kind in DATA_KINDS and value.dtype.fields is None:
            return {"$a": _array(value)}
        if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in DATA_KINDS:
            return {"$s": _array(np.asarray(value))}
        if kind is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
            return {"$g": value.bit_generator.state}
        if _value_class(value):
            return {"$o": [f"{kind.__module__}.{kind.__qualname__}", _encode(_state(value), depth + 1)]}
        # subclasses of list, tuple and dict (a namedtuple, an OrderedDict) cross as what they are
        if isinstance(value, list):
            return [_encode(v, depth + 1) for v in list.__iter__(value)]
        if isinstance(value, tuple):
            items = [_encode(v, depth + 1) for v in tuple.__iter__(value)]
            fields = getattr(kind, "_fields", None)
            if isinstance(fields, tuple) and len(fields) == len(items) and all(type(f) is str for f in fields):
                return {"$nt": [list(fields), items]}
            return {"$t": items}
        if isinstance(value, dict):
            return {"$d": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in dict.items(value)]}
        sympy = sys.modules.get("sympy")
        if sympy is not None and isinstance(value, sympy.Basic):
            from course import symtree

            return {"$sym": symtree.encode(value)}
    return _handle_of(value)


def _array(a):
    a = np.array(a, order="C", copy=True)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def _handle_of(value):
    _counter[0] += 1
    _objects[_counter[0]] = value
    kind = type(value)
    try:
        name = f"{kind.__module__}.{kind.__qualname__}"
    except BaseException:  # noqa: BLE001
        name = "object"
    return {"$r": _counter[0], "type": str(name)[:200], "call": callable(value)}


def _decode(value, namespace):
    """A value the grader sent: data, a handle, or a function of the instructor's test."""
    if isinstance(value, list):
        return [_decode(v, namespace) for v in value]
    if not isinstance(value, dict):
        return value
    (tag, body), = value.items()
    if tag == "$f":
        return float(body)
    if tag == "$c":
        return complex(_decode(body[0], namespace), _decode(body[1], namespace))
    if tag in ("$a", "$s"):
        a = np.frombuffer(base64.b64decode(body["b64"]), dtype=np.dtype(body["dtype"])).reshape(body["shape"]).copy()
        return a[()] if tag == "$s" else a
    if tag == "$t":
        return tuple(_decode(v, namespace) for v in body)
    if tag == "$d":
        return {_decode(k, namespace): _decode(v, namespace) for k, v in body}
    if tag == "$r":
        return _objects[body]
    if tag == "$cb":
        return _callback(body, namespace)
    if tag == "$pcb":
        return _callback(body, namespace, pure=True)
    if tag == "$o":
        name, state = body[0], _decode(body[1], namespace)
        if name not in VALUE_CLASSES:
            raise ValueError(f"{name} is not one of the course's classes that cross as their state")
        module, _, qualname = name.rpartition(".")
        kind = getattr(__import__(module, fromlist=["_"]), qualname)
        if isinstance(state, tuple):
            return kind(*state)
        obj = kind.__new__(kind)
        vars(obj).update(state)
        return obj
    if tag == "$g":
        generator = np.random.Generator(np.random.PCG64())
        generator.bit_generator.state = body
        return generator
    if tag == "$sym":
        from course import symtree

        return symtree.decode(body)
    if tag == "$sl":
        return slice(*(_decode(v, namespace) for v in body))
    if tag == "$e":
        return Ellipsis
    if tag == "$kf":
        import importlib

        from course.protocol import KERNEL_FUNCTIONS

        if type(body) is not str or body not in KERNEL_FUNCTIONS:
            raise ValueError("not a function the kernel runs by name")
        module, name = body.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)
    if tag == "$fn":
        closure = tuple(types.CellType(_decode(v, namespace)) for v in body["closure"]) or None
        function = types.FunctionType(marshal.loads(base64.b64decode(body["code"])), namespace, body["name"],
                                      _decode(body["defaults"], namespace), closure)
        function.__kwdefaults__ = _decode(body["kwdefaults"], namespace)
        return function
    raise ValueError(f"unknown value tag {tag!r}")
