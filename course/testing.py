"""Checks for the notebooks' test cells, with messages a student can act on.

Every check raises `CheckFailed` (an `AssertionError`) whose message says which output is
wrong, what was expected, where it differs and, when the wrong value matches a known mistake,
which mistake it is. Nothing here knows the answers: the expected values come from the test
cells.

The checks hold their own references to the NumPy and Python functions they trust, taken when
this module is imported (the first cell of every notebook), and they check types before values:
a solution cell that later rebinds `np.allclose` or `isinstance`, or returns an object whose
`==` is always true, does not fool them.
"""
import builtins
import contextlib
import math

import numpy as np

# Trusted references, taken before any student code runs.
_ndarray = np.ndarray
_array = np.array
_abs = np.abs
_isfinite = np.isfinite
_isnan = np.isnan
_maximum = np.maximum
_float64 = np.float64
_argwhere = np.argwhere
_argmax = np.argmax
_unravel_index = np.unravel_index
_dtype = np.dtype
_errstate = np.errstate
_type = builtins.type
_isinstance = builtins.isinstance
_len = builtins.len
_tuple = builtins.tuple
_float = builtins.float
_int = builtins.int
_callable = builtins.callable
_getattr = builtins.getattr

__all__ = [
    "CheckFailed",
    "check_array",
    "check_scalar",
    "check_tuple",
    "check_unchanged",
    "check_callable",
    "compare",
    "case",
    "in_kernel",
    "runs_in_kernel",
    "with_stand_ins",
]


class CheckFailed(AssertionError):
    """A test failed; the message says what is wrong and how to find out why.

    mistake: the description of the known mistake the answer matches (the `mistakes` of
    check_array, course.symbolic.check), None when it matches none: the class report counts
    mistakes by it, never by reading the message.
    formula: the student's answer as LaTeX (`name = ...`), None when the check is not about a
    formula: the feedback shows it as math beside the message."""

    def __init__(self, message="", mistake=None, formula=None):
        super().__init__(message)
        self.mistake = mistake
        self.formula = formula


def _fail(lines, hint=None, mistake=None):
    __tracebackhide__ = True
    if hint:
        lines = list(lines) + [f"Hint: {hint}"]
    raise CheckFailed("\n".join(lines), mistake)  # the message below says what is wrong and why


def _fmt(v):
    """A number as a student would write it: short, but enough digits to see a difference."""
    return f"{v:.8g}"


def _where(index):
    return "[" + ", ".join(str(_int(i)) for i in index) + "]"


def _as_float_array(value):
    return _array(value, dtype=_float64, copy=True)


def check_tuple(name, value, length, parts=None, hint=None):
    """Check that `value` is a tuple (or list) of `length` items.

    Inputs:
    - name: what to call the value in a message, e.g. "batchnorm_forward(x, gamma, beta)"
    - value: the object returned by the student's code
    - length: the number of items expected
    - parts: optional names of the items, e.g. ("out", "cache"), used in the message
    - hint: optional sentence for a value of the wrong kind or length, for a tuple that is not what
      the function returns (a cache); by default, `return` followed by the parts
    Raises CheckFailed otherwise.
    """
    __tracebackhide__ = True
    what = "(" + ", ".join(parts) + ")" if parts else f"{length} values"
    if value is None:
        _fail([f"{name} returned None; it should return {what}."],
              "Did you forget the `return` statement, or is the function still the stub?")
    if not _isinstance(value, (_tuple, list)) or _len(value) != length:
        got = f"a {_type(value).__name__}"
        if _isinstance(value, (_tuple, list)):
            got += f" of {_len(value)} items"
        _fail([f"{name} should return {what}; it returned {got}."],
              hint or (f"End the function with `return {', '.join(parts)}`." if parts else None))


def check_callable(name, value):
    """Check that `value` (a function or class the student defines) exists and is callable."""
    __tracebackhide__ = True
    if not _callable(value):
        _fail([f"{name} should be a function or class; got a {_type(value).__name__}."],
              f"Run the cell that defines {name} first.")


def check_array(name, got, expected, *, rtol=1e-7, atol=1e-10, dtype=np.float64,
                mistakes=None, hint=None, reshape=False, close=None):
    """Check an array the student computed against the expected one.

    Inputs:
    - name: what to call the array in a message, e.g. "out" or "dgamma"
    - got: the student's value; must be a plain np.ndarray (not a subclass, list or scalar)
    - expected: array-like of the expected shape and values
    - rtol, atol: tolerance, as in np.allclose: |got - expected| <= atol + rtol * |expected|
    - dtype: the dtype `got` must have (None to accept any floating dtype)
    - mistakes: optional {description: array} of what known mistakes produce; when `got`
      matches one, the message names it ("... matches what you get when <description>")
    - hint: optional sentence added to every failure message
    - reshape: when `got` has the expected number of entries but another shape, compare its
      values after reshaping it to the expected shape (for a test of values whose shape another
      test checks: a shape mistake then costs only that test); failures say so
    - close: optional (rtol, sentence): when the values are wrong but all within this looser
      relative tolerance and no known mistake matches, the message adds the sentence
    Raises CheckFailed, naming the first thing that is wrong: type, shape, dtype, NaN/inf,
    then values (largest difference and where).
    """
    __tracebackhide__ = True
    expected = _as_float_array(expected)
    if isinstance(got, _ndarray) and _type(got).__module__ == "grader.judge":
        got = got.view(_ndarray)  # an attribute's array the grader read from the kernel (grader.judge.KernelArray)
    if _type(got) is not _ndarray:
        if got is None:
            _fail([f"{name} is None; expected an array of shape {expected.shape}."],
                  hint or "Is the function still the stub, or does it miss a `return`?")
        kind = _type(got).__name__
        _fail([f"{name} should be a NumPy array (np.ndarray); got a {kind}."],
              hint or ("Return a NumPy array: build it with NumPy operations, or wrap what you have in "
                       "np.array(...)." if kind in ("list", "tuple") else "Build it with NumPy operations on arrays."))
    note = None
    if reshape and got.shape != expected.shape and got.size == expected.size:
        note = (f"  (Your {name} has shape {got.shape}; its values were compared after reshaping it to "
                f"{expected.shape}. The shape is checked by another test.)")
        got = got.reshape(expected.shape)
    if got.shape != expected.shape:
        lines = [f"{name} has shape {got.shape}; expected {expected.shape}."]
        if got.size == expected.size:
            lines.append("Same number of entries: a reshape, transpose or keepdims left over?")
        elif expected.ndim >= 1 and got.shape == expected.shape[1:]:
            lines.append(f"The first axis (of length {expected.shape[0]}) is missing: did you reduce over it by mistake?")
        elif expected.ndim >= 1 and got.shape[-1:] != expected.shape[-1:]:
            lines.append("The last axis differs: check which axis you reduce over.")
        _fail(lines, hint)
    if dtype is not None and got.dtype != dtype:
        _fail([f"{name} has dtype {got.dtype}; expected {_dtype(dtype)}."],
              hint or "Keep the computation in float64: do not cast with astype.")
    if dtype is None and got.dtype.kind != "f":
        _fail([f"{name} has dtype {got.dtype}; expected a floating-point array."], hint)
    values = _as_float_array(got)
    bad = ~_isfinite(values)
    if bad.any():
        index = tuple(_argwhere(bad)[0])
        what = "NaN" if _isnan(values[index]) else "infinite"
        _fail([f"{name} has a {what} value at {_where(index)} (expected {_fmt(expected[index])}).",
               f"{_int(bad.sum())} of {values.size} entries are not finite."],
              hint or "A division by zero? Check that eps sits inside the square root.")
    diff = _abs(values - expected)
    with _errstate(invalid="ignore"):  # rtol=inf times an expected 0: a shape-and-type-only check
        tolerance = atol + rtol * _abs(expected)
    wrong = diff > tolerance
    if wrong.any():
        index = tuple(_int(i) for i in _unravel_index(_argmax(diff - tolerance), diff.shape))
        lines = [
            f"{name} has the right shape {got.shape} but wrong values:",
            f"  {_int(wrong.sum())} of {values.size} entries differ by more than the tolerance;",
            f"  the largest difference is at {_where(index)}: "
            f"expected {_fmt(expected[index])}, got {_fmt(values[index])}.",
        ]
        matched = None
        for description, value in (mistakes or {}).items():
            candidate = _as_float_array(value)
            with _errstate(invalid="ignore"):
                matches = candidate.shape == values.shape and (
                    _abs(values - candidate) <= atol + rtol * _abs(candidate)).all()
            if matches:
                lines.append(f"  Your {name} matches what you get when {description}.")
                matched = description
                break
        if close is not None and matched is None and (diff <= atol + close[0] * _abs(expected)).all():
            lines.append(f"  Every entry is within a relative {close[0]:.0e} of the expected value: {close[1]}")
        if note:
            lines.append(note)
        _fail(lines, hint, mistake=matched)


def check_scalar(name, got, expected, *, rtol=1e-7, atol=1e-10, hint=None, mistakes=None):
    """Check a real number the student computed (a Python or NumPy scalar, or a 0-d array);
    mistakes: optional {description: the number that mistake gives}, named when one matches."""
    __tracebackhide__ = True
    if _type(got) is _ndarray and got.ndim == 0:
        got = got.item()
    if _type(got) not in (_float, _int, _float64, np.float32) or _type(got) is bool:
        _fail([f"{name} should be a number; got a {_type(got).__name__}."], hint)
    value = _float(got)
    if not math.isfinite(value):
        _fail([f"{name} is {value}; expected {_fmt(expected)}."], hint)
    if builtins.abs(value - expected) > atol + rtol * builtins.abs(expected):
        lines, matched = [f"{name} is {_fmt(value)}; expected {_fmt(expected)}."], None
        for description, wrong in (mistakes or {}).items():
            if builtins.abs(value - wrong) <= atol + rtol * builtins.abs(wrong):
                lines.append(f"  Your {name} matches what you get when {description}.")
                matched = description
                break
        _fail(lines, hint, mistake=matched)


def check_unchanged(name, before, after, *, culprit="your function"):
    """Check that an input array was not modified in place.

    Inputs:
    - name: the input's name, e.g. "x"
    - before: a copy taken before the call
    - after: the same array object after the call
    """
    __tracebackhide__ = True
    if before.shape != after.shape or (_as_float_array(before) != _as_float_array(after)).any():
        changed = _argwhere(_as_float_array(before) != _as_float_array(after))
        where = _where(changed[0]) if len(changed) else "its shape"
        _fail([f"{culprit} modified its input {name} in place (first change at {where})."],
              f"Leave {name} as it is: write `xc = {name} - mu`, not `{name} -= mu`.")


def compare(name, ours, reference):
    """Print how close an array is to a reference, as one line; never raises.

    >>> compare("dx", dx, dx_numerical)
    dx              | exact: False | approximate: True  | max difference: 3.1e-11
    """
    try:
        ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    except Exception as error:  # noqa: BLE001 - a value that is no array of numbers is said, not raised
        print(f"{name:15s} | not an array of numbers ({_type(error).__name__})")
        return
    if ours.shape != reference.shape:
        print(f"{name:15s} | shapes differ: {ours.shape} vs {reference.shape}")
        return
    exact = bool((ours == reference).all())
    approximate = bool(np.allclose(ours, reference, rtol=1e-7, atol=1e-10))
    difference = float(np.max(np.abs(ours - reference))) if ours.size else 0.0
    print(f"{name:15s} | exact: {str(exact):5s} | approximate: {str(approximate):5s} "
          f"| max difference: {difference:.2g}")


@contextlib.contextmanager
def case(description):
    """Run the checks of one test case so that any failure names the case.

    >>> with case("x of shape (3, 4, 6), normalized_shape (4, 6)"):
    ...     out = layer.forward(x)
    ...     check_array("out", out, expected)

    A failing check gets the case in front of its message; an exception raised by the student's
    code (a ValueError from unpacking a shape, an assert without a message, ...) becomes a
    CheckFailed that names the case and the exception, instead of a bare traceback.
    """
    __tracebackhide__ = True
    try:
        yield
    except CheckFailed as failure:
        raise CheckFailed(f"For {description}: {failure}") from None
    except Exception as error:  # noqa: BLE001 - any error of the student's code is reported
        detail = str(error) or "(no message)"
        raise CheckFailed(f"For {description}, your code raised {_type(error).__name__}: {detail}\n"
                          "Hint: run this case yourself, with an input of this shape.") from None


_apply = None  # set by the grader (grader.judge) while it judges a test cell


def with_stand_ins(stand_ins, function, *args, **kwargs):
    """function(*args, **kwargs) with the notebook's functions named in stand_ins ({name: function})
    replaced while it runs, and yours put back afterwards: a test of one task then runs your code of
    that task with the course's own version of what it calls from another task (a pasted batch norm),
    so a mistake there costs nothing here. Run it with in_kernel: it swaps names where your code runs."""
    target = _getattr(function, "__func__", function)
    namespace, missing = target.__globals__, object()
    yours = {name: namespace.get(name, missing) for name in stand_ins}
    namespace.update(stand_ins)
    try:
        return function(*args, **kwargs)
    finally:
        for name, value in yours.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def runs_in_kernel(function):
    """Mark a function a test hands to the student's code through in_kernel to run in the kernel
    as code, instead of staying in the grader and being called back (each call a round trip):
    for a function the student's code calls thousands of times. Returns the function."""
    function.runs_in_kernel = True
    return function


def in_kernel(function, *args, **kwargs):
    """function(*args, **kwargs), run where the student's code runs.

    In JupyterLab that is here. When the grader judges a test cell in its own process
    (grader.judge), the function is sent to the student's kernel and runs there (it sees the
    kernel's globals; what it closes over is sent along): for a test that must build something in
    the kernel for the student's code to use (Matplotlib Axes to draw on), or look at an object
    that stays there (isinstance of a widget). What it returns comes back as a value.
    """
    if _apply is not None:
        return _apply(function, args, kwargs)
    return function(*args, **kwargs)
