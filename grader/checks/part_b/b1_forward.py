"""Hidden checks of B1 (batchnorm_forward): its values, its robustness, its cache.

Each check grades one thing, so that one mistake costs one test: test_values the formula's values,
test_robust what the function does to its inputs and the dtype and finiteness of what it returns,
test_cache the structure of the cache. The expected values come from grader.checks.reference; the
known mistakes are the reference with one thing changed.

The dtype is test_robust's business alone: test_values and test_cache compare what a forward pass
computed in another floating dtype (float32) at float32's precision, and a float64 one strictly.
"""
import numpy as np

from course.testing import CheckFailed, check_array, check_unchanged
from grader.checks.reference import CACHE_PARTS
from grader.checks.reference import batchnorm_forward as reference_forward

# The tolerance a right float32 result meets (float32 keeps about 7 significant digits, and out is of order 1);
# every known mistake of the forward pass is much farther off.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-5}


def _not_float64(value):
    """Whether value is an array of a floating dtype other than float64 (float32, say)."""
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != np.float64


def _tolerance(rtol, atol, *arrays):
    """{"rtol", "atol"} to compare what was computed from `arrays` at: as given when they are all
    float64, float32's precision when one has another floating dtype (test_robust grades the dtype)."""
    if any(_not_float64(a) for a in arrays):
        return {"rtol": max(rtol, FLOAT32["rtol"]), "atol": max(atol, FLOAT32["atol"])}
    return {"rtol": rtol, "atol": atol}


def _parts(cache):
    """The items of a cache that is a tuple or a list (none otherwise: test_cache grades its structure)."""
    return tuple(cache) if isinstance(cache, (tuple, list)) else ()


def _value_mistakes(x, gamma, beta):
    """{description: out} of the known mistakes of the forward pass, for a batch x (N, D)."""
    return {
        "the variance divides by N-1 (ddof=1); batch norm uses 1/N": reference_forward(x, gamma, beta, ddof=1)[0],
        "eps is added outside the square root: use sqrt(var + eps)":
            reference_forward(x, gamma, beta, eps_outside=True)[0],
        "eps is left out": reference_forward(x, gamma, beta, eps=0.0)[0],
        "gamma and beta are swapped (out should be gamma * x_hat + beta)": reference_forward(x, beta, gamma)[0],
        "beta is not added": reference_forward(x, gamma, 0.0)[0],
        "gamma is not applied": reference_forward(x, 1.0, beta)[0],
        "you divide by the variance instead of the standard deviation": reference_forward(x, gamma, beta, power=1.0)[0],
        "you normalize over axis=1 (each example) instead of axis=0 (each feature)":
            reference_forward(x, gamma, beta, axis=1)[0],
    }


def test_values(batchnorm_forward):
    """out on random batches of three shapes, gamma != 1, beta != 0, features whose scales run
    from 0.0015 to 15 (the smallest variances about as small as eps, where eps's place shows)."""
    rng = np.random.default_rng(2024)
    for n, d in [(7, 5), (3, 11), (200, 4)]:
        x = rng.normal(2.0, 1.5, size=(n, d)) * np.logspace(-3, 1, d)
        gamma, beta = rng.uniform(0.5, 2.0, d), rng.normal(0.0, 1.0, d)
        # copies: test_robust grades changes in place
        out, cache = batchnorm_forward(x.copy(), gamma.copy(), beta.copy())
        check_array(f"out for x of shape {x.shape}", out, reference_forward(x, gamma, beta)[0], dtype=None,
                    **_tolerance(1e-9, 1e-12, out, *_parts(cache)), mistakes=_value_mistakes(x, gamma, beta))


def test_robust(batchnorm_forward):
    """Inputs unchanged, out float64 and finite for a nearly and an exactly constant feature, the
    cache's arrays float64, and a batch of two; the values are test_values' business, the cache's
    structure test_cache's."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3))
    x[:, 1] = 4.2 + 1e-7 * rng.normal(size=6)  # a nearly constant feature
    x[:, 2] = -1.0                             # an exactly constant feature
    gamma, beta = np.array([1.5, 2.0, 0.7]), np.array([0.1, -0.2, 0.3])
    copies = x.copy(), gamma.copy(), beta.copy()
    out, cache = batchnorm_forward(x, gamma, beta)
    for name, before, after in zip(("x", "gamma", "beta"), copies, (x, gamma, beta)):
        check_unchanged(name, before, after, culprit="batchnorm_forward")
    # type, shape, dtype and finite values only
    check_array("out with (nearly) constant features", out, np.zeros((6, 3)), rtol=0.0, atol=np.inf)
    for name, part in zip(CACHE_PARTS, _parts(cache)):
        if _not_float64(part):
            raise CheckFailed(f"cache {name} has dtype {part.dtype}; expected float64.\n"
                              "Hint: Keep the computation in float64: do not cast with astype.")
    out2, _ = batchnorm_forward(copies[0][:2].copy(), gamma.copy(), beta.copy())
    check_array("out for a batch of two", out2, np.zeros((2, 3)), rtol=0.0, atol=np.inf)


def _axes(stat, full):
    """The axes a statistic of this shape was taken over (axis=0 for (D,) or (1, D))."""
    shape = np.shape(stat)
    if len(shape) > len(full) or np.broadcast_shapes(shape, full) != full:
        raise CheckFailed(f"the cache's statistics should have shape (D,) or (1, D) = {full[1:]} or (1, {full[1]}); "
                          f"got {shape}")
    shape = (1,) * (len(full) - len(shape)) + shape
    return tuple(i for i, (s, f) in enumerate(zip(shape, full)) if s == 1 and f > 1)


def test_cache(batchnorm_forward):
    """The cache is (x, x_hat, mu, var, gamma, eps) of this forward pass: x and gamma as passed in,
    eps, mu and var over the batch axis (the variance with N or N-1: which one is test_values'
    business), x_hat the centred x scaled per feature and the x_hat that out is computed from."""
    rng = np.random.default_rng(11)
    x = rng.normal(1.0, 2.0, size=(9, 4))
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.normal(size=4)
    x_in = x.copy()  # a copy: test_robust grades changes in place, so cache[0] is compared with what was passed
    out, cache = batchnorm_forward(x_in, gamma.copy(), beta.copy(), eps=1e-3)
    c_x, c_x_hat, c_mu, c_var, c_gamma, c_eps = cache
    c_x, c_gamma, x_hat = np.asarray(c_x), np.asarray(c_gamma), np.asarray(c_x_hat)
    check_array("cache[0] (x)", c_x, x_in, dtype=None, **_tolerance(0.0, 0.0, c_x),
                hint="cache[0] is the input x itself.")
    check_array("cache[4] (gamma)", c_gamma, gamma, dtype=None, **_tolerance(0.0, 0.0, c_gamma),
                hint="cache[4] is the gamma passed in.")
    if float(c_eps) != 1e-3:
        raise CheckFailed(f"cache[5] should be the eps passed in (1e-3); got {c_eps!r}")
    check_array("cache[1] (x_hat)", x_hat, x, rtol=0.0, atol=np.inf, dtype=None)  # type, shape, floating, finite
    mu_tol, var_tol = _tolerance(1e-10, 1e-10, np.asarray(c_mu)), _tolerance(1e-10, 1e-10, np.asarray(c_var))
    c_mu, c_var = np.asarray(c_mu, dtype=float), np.asarray(c_var, dtype=float)
    over = _axes(c_mu, x.shape)
    if _axes(c_var, x.shape) != over:
        raise CheckFailed(f"cache[2] (mu) has shape {c_mu.shape} but cache[3] (var) {c_var.shape}")
    check_array("cache[2] (mu)", np.broadcast_to(c_mu, x.shape).copy(),
                np.broadcast_to(x.mean(axis=over, keepdims=True), x.shape), **mu_tol,
                hint="cache[2] is the mean that the forward pass subtracts.")
    xc = x - c_mu
    n = np.prod([x.shape[i] for i in over])
    biased = np.broadcast_to((xc ** 2).mean(axis=over, keepdims=True), x.shape)
    var = np.broadcast_to(c_var, x.shape).copy()
    if np.allclose(var, biased * n / (n - 1), rtol=1e-10, atol=0):
        biased = var  # the variance with N-1: a mistake of the values, which test_values grades, not of the cache
    check_array("cache[3] (var)", var, biased, **var_tol,
                hint="cache[3] is the variance of x that the forward pass divides by, before eps is added.")
    values = _tolerance(1e-9, 1e-12, x_hat, out)
    scale = (xc * x_hat).sum(axis=over, keepdims=True) / (x_hat * x_hat).sum(axis=over, keepdims=True)
    check_array("cache[1] (x_hat) times its scale", x_hat * scale, xc, **values, dtype=None,
                hint="cache[1] is x_hat: x - mu, scaled per feature.")
    out = np.asarray(out, dtype=float)
    centred = x_hat - x_hat.mean(0)
    slope = ((out - out.mean(0)) * centred).sum(0) / (centred ** 2).sum(0)
    check_array("out, from cache[1] (x_hat)", slope * centred + out.mean(0), out, **values,
                hint="cache[1] should be the x_hat that out is computed from (out = gamma * x_hat + beta).")
