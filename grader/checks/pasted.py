"""The functions a notebook pastes in from another (B1's and B2's batch norm in Part C's paste
cells), and when a check needs a reference to stand in for them.

A test of task T that runs the student's code of T, which in turn calls a pasted function, runs it
with the reference in its place (the notebook's locked helper `with_stand_ins`), so that a mistake
graded in B1 costs nothing in T. A reference stays in the grader and every call of it is a round
trip to the grader (about 2 ms in the sandbox): for code that calls it thousands of times, swap it
in only where the pasted function is not right (`wrong_pastes`); a right one runs as it is.
"""
import numpy as np

from grader.checks import reference


def _probe_batch():
    rng = np.random.default_rng(31)
    return rng.normal(1.0, 2.0, (5, 3)), rng.uniform(0.5, 2.0, 3), rng.normal(size=3), rng.normal(size=(5, 3))


def _agrees(got, expected):
    """Whether got is, item for item, the float64 arrays of expected (tuples compared item by item)."""
    if isinstance(expected, tuple):
        return isinstance(got, (tuple, list)) and len(got) == len(expected) and all(
            _agrees(g, e) for g, e in zip(got, expected))
    if not isinstance(expected, np.ndarray):
        return isinstance(got, (int, float, np.floating)) and float(got) == float(expected)
    return type(got) is np.ndarray and got.dtype == np.float64 and got.shape == expected.shape \
        and bool(np.allclose(got, expected, rtol=1e-9, atol=1e-12))


def _right(name, function):
    """Whether the pasted function `name` gives the reference's results on a probe batch."""
    x, gamma, beta, dout = _probe_batch()
    out, cache = reference.batchnorm_forward(x, gamma, beta)
    if name == "batchnorm_forward":
        return _agrees(function(x.copy(), gamma.copy(), beta.copy()), (out, cache))
    if name == "batchnorm_backward":
        return _agrees(function(dout.copy(), tuple(np.copy(c) for c in cache)), reference.batchnorm_backward(dout, cache))
    if name == "batchnorm_inference":
        mean, var = x.mean(axis=0) + 0.5, x.var(axis=0) * 1.5
        return _agrees(function(x.copy(), gamma.copy(), beta.copy(), mean, var),
                       reference.batchnorm_inference(x, gamma, beta, mean, var))
    return False


def wrong_pastes(stand_ins, pasted):
    """The part of stand_ins ({name: reference}) whose pasted function (pasted: {name: a function
    returning the student's, e.g. lambda: batchnorm_forward}) is missing, raises or gives other
    results than the reference on a probe batch."""
    needed = {}
    for name, stand_in in stand_ins.items():
        try:
            right = _right(name, pasted[name]())
        except Exception:  # noqa: BLE001 - not pasted, or it raises: the reference stands in
            right = False
        if not right:
            needed[name] = stand_in
    return needed
