"""Hidden checks of B2: batchnorm_backward, batchnorm_backward_alt and the forward pass pasted in.

Every check of a backward pass runs it on caches that the reference forward pass builds
(grader.checks.reference), so a mistake in the pasted forward pass costs only test_pair, which in
turn grades that forward pass with the reference backward pass. The known mistakes are the
reference backward with one thing changed: a term dropped or its sign flipped, gamma forgotten,
eps misplaced (EPS_MISTAKES), the cache unpacked in another order.
"""
import numpy as np

from course.testing import CheckFailed, case, check_array, check_tuple, check_unchanged
from grader.checks.reference import (
    CACHE_PARTS,
    EPS_MISTAKES,
    INVERSE_STD,
    batchnorm_staged,
    numerical_gradient,
)
from grader.checks.reference import batchnorm_backward as reference_backward
from grader.checks.reference import batchnorm_forward as reference_forward

GRADIENTS = ("dx", "dgamma", "dbeta")
ORDER = "Return (dx, dgamma, dbeta) in this order: dx has the shape of dout, dgamma and dbeta the shape of gamma."
NEAR = (1e-3, ("a near miss, small compared with the gradient: check how eps enters (sqrt(var + eps), as in the "
               "forward pass)"))
# how each of EPS_MISTAKES reads when it is made in an x_hat recomputed for dgamma
X_HAT_MISTAKES = ("eps is left out of x_hat", "eps is added outside the square root in x_hat",
                  "x_hat uses sqrt(var - eps)")
FORWARD_HINT = ("Batch norm's gradients, computed on the cache of your forward pass, disagree with the centered "
                "differences of your forward pass: check the forward pass pasted at the top (compare it with B1). "
                "Its cache must be (x, x_hat, mu, var, gamma, eps), with the biased variance.")


# -- the known mistakes, each the reference with one thing changed -------------------------------

def _unpacked_wrong(cache):
    """{description: cache} for a cache unpacked in another order than (x, x_hat, mu, var, gamma, eps)."""
    out = {}
    for i, j in [(0, 1), (2, 3)]:
        swapped = list(cache)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        out[f"the cache is unpacked in another order than (x, x_hat, mu, var, gamma, eps): {CACHE_PARTS[i]} and "
            f"{CACHE_PARTS[j]} are swapped"] = tuple(swapped)
    return out


def _dx_mistakes(dout, cache, staged=True):
    """{description: dx} of known mistakes; staged=False leaves out those only a staged backward makes."""
    n = len(dout)
    with np.errstate(all="ignore"):
        mistakes = {
            "dx misses the term through the mean (dmu)": reference_backward(dout, cache, mean=0.0)[0],
            "dx misses the term through the variance (dvar)": reference_backward(dout, cache, var=0.0)[0],
            "dx misses both the term through the mean and the term through the variance":
                reference_backward(dout, cache, mean=0.0, var=0.0)[0],
            ("the sign of the term through the variance is flipped: "
             "d(var + eps)^(-1/2) / dvar = -1/2 (var + eps)^(-3/2)"): reference_backward(dout, cache, var=-1.0)[0],
            "the sign of the term through the mean is flipped": reference_backward(dout, cache, mean=-1.0)[0],
            "dx has the wrong sign": reference_backward(dout, cache, sign=-1.0)[0],
            "dx forgets the factor gamma (dx_hat = dout * gamma)": reference_backward(dout, cache, gamma=False)[0],
            "the mean over the batch divides by N-1 instead of N":
                reference_backward(dout, cache, mean=n / (n - 1), var=n / (n - 1))[0],
        }
        for formula, nodes, s, ds in EPS_MISTAKES:
            mistakes[formula] = reference_backward(dout, cache, s=s(cache[3], cache[5]))[0]
            if staged:
                mistakes[nodes] = batchnorm_staged(dout, cache, s, ds)
        for what, wrong in _unpacked_wrong(cache).items():
            try:
                if staged:
                    mistakes[what] = batchnorm_staged(dout, wrong, *INVERSE_STD)
                mistakes[what + " (in the short formula)"] = reference_backward(dout, wrong)[0]
            except ValueError:  # shapes that do not broadcast
                pass
    return mistakes


def _dgamma_mistakes(dout, cache):
    """{description: dgamma} of known mistakes, among them an x_hat recomputed with eps misplaced."""
    x, _, mu, var, _, eps = cache
    with np.errstate(all="ignore"):
        mistakes = {"dgamma uses x instead of x_hat (dgamma = sum of dout * x_hat)": (dout * x).sum(axis=0),
                    "dgamma and dbeta are swapped": dout.sum(axis=0)}
        for (_, _, s, _), short in zip(EPS_MISTAKES, X_HAT_MISTAKES):
            mistakes[f"{short} (recomputed in the backward pass; use the cache's x_hat)"] = (
                dout * (x - mu) * s(var, eps)).sum(axis=0)
    return mistakes


def _dbeta_mistakes(dout, cache):
    """{description: dbeta} of known mistakes."""
    return {"dgamma and dbeta are swapped": (dout * cache[1]).sum(axis=0)}


def _expected(dout, cache, staged=True):
    """(the exact dx, dgamma, dbeta; their known mistakes), computed before the student's code runs
    (it may change dout or the cache in place)."""
    return reference_backward(dout, cache), (_dx_mistakes(dout, cache, staged), _dgamma_mistakes(dout, cache),
                                             _dbeta_mistakes(dout, cache))


# -- what the checks share ------------------------------------------------------------------------

def _batch(rng, shape, loc, scale):
    """x, gamma, beta and dout of a random batch of this shape, and the reference cache of x."""
    x, gamma, beta = rng.normal(loc, scale, shape), rng.uniform(0.5, 2.0, shape[1]), rng.normal(size=shape[1])
    dout = rng.normal(size=shape)
    return x, gamma, beta, dout, reference_forward(x, gamma, beta)[1]


def _keepdims(cache):
    """The cache as a forward pass that used keepdims=True builds it: mu and var of shape (1, D)."""
    x, x_hat, mu, var, gamma, eps = cache
    return x, x_hat, mu.reshape(1, -1), var.reshape(1, -1), gamma, eps


def _copies(dout, cache):
    """Copies of dout and of the arrays of the cache, to tell whether a backward pass changed them."""
    return dout.copy(), [np.copy(part) for part in cache[:5]]


def _check_unchanged(culprit, copies, dout, cache):
    """dout and the arrays of the cache are what they were when `copies` was taken."""
    dout_before, cache_before = copies
    check_unchanged("dout", dout_before, dout, culprit=culprit)
    for name, before, after in zip(CACHE_PARTS, cache_before, cache):
        check_unchanged(f"cache {name}", before, after, culprit=culprit)


def _check_gradients(what, grads, exact, mistakes, close_dgamma=None):
    """dbeta, dgamma, dx (`what` names the case) against the exact gradients, naming a known mistake."""
    dx, dgamma, dbeta = grads
    check_array("dbeta" + what, dbeta, exact[2], rtol=1e-9, atol=1e-12, mistakes=mistakes[2], reshape=True)
    check_array("dgamma" + what, dgamma, exact[1], rtol=1e-9, atol=1e-12, mistakes=mistakes[1], reshape=True,
                close=close_dgamma)
    check_array("dx" + what, dx, exact[0], rtol=1e-9, atol=1e-12, mistakes=mistakes[0], reshape=True, close=NEAR)


def _numerical_gradients(forward, x, gamma, beta, dout):
    """The centred differences of sum(forward(x, gamma, beta)[0] * dout) with respect to x, gamma and beta."""
    return [numerical_gradient(lambda z: forward(z, gamma, beta)[0], x, dout),
            numerical_gradient(lambda z: forward(x, z, beta)[0], gamma, dout),
            numerical_gradient(lambda z: forward(x, gamma, z)[0], beta, dout)]


# -- Task 1: batchnorm_backward ---------------------------------------------------------------

def test_shapes(batchnorm_backward):
    """Three gradients of the right shapes, and dbeta the column sum of dout, on two batches."""
    rng = np.random.default_rng(101)  # features of positive mean: a mistake in the values keeps them finite
    for shape in [(7, 5), (3, 11)]:
        _, gamma, _, dout, cache = _batch(rng, shape, 6.0, 2.0)
        want, wrong = dout.sum(axis=0), _dbeta_mistakes(dout, cache)
        result = batchnorm_backward(dout, cache)
        check_tuple("batchnorm_backward(dout, cache)", result, 3, parts=GRADIENTS)
        dx, dgamma, dbeta = result
        check_array(f"dx for dout of shape {dout.shape}", dx, dout, rtol=0.0, atol=np.inf, hint=ORDER)
        check_array(f"dgamma for dout of shape {dout.shape}", dgamma, gamma, rtol=0.0, atol=np.inf, hint=ORDER)
        check_array(f"dbeta for dout of shape {dout.shape}", dbeta, want, rtol=1e-12, atol=1e-12,
                    mistakes=wrong, hint="dbeta is the sum of dout over the batch, axis=0.")


def test_hand(batchnorm_backward):
    """Two examples and eps = 0: x_hat is -1 and +1 whatever x is, so y does not depend on x and
    dx = 0; and dgamma on the same batch."""
    x = np.array([[0.3, 5.0, -1.0], [1.7, -2.0, 4.0]])
    gamma, dout = np.array([1.5, 0.5, 2.0]), np.array([[0.4, -1.0, 2.0], [0.9, 0.2, 0.7]])
    _, cache = reference_forward(x, gamma, np.zeros(3), eps=0.0)
    exact, (wrong_dx, wrong_dgamma, _) = _expected(dout, cache)
    dx, dgamma, _ = batchnorm_backward(dout, cache)
    check_array("dx for a batch of two with eps = 0", dx, np.zeros((2, 3)), atol=1e-12, reshape=True,
                mistakes=wrong_dx, hint="With two examples x_hat is always (-1, 1): the paths through mean and "
                                        "variance cancel the direct one.")
    check_array("dgamma for a batch of two", dgamma, exact[1], rtol=1e-12, mistakes=wrong_dgamma, reshape=True)


def test_values(batchnorm_backward, check_gradient):
    """dx, dgamma and dbeta on random batches (gamma != 1, beta != 0, eps = 1e-5) against the exact
    gradients and against centred differences of the reference forward pass; check_gradient is
    the notebook's (its setup cell)."""
    rng = np.random.default_rng(42)
    for shape in [(7, 5), (3, 11)]:
        x, gamma, beta, dout, cache = _batch(rng, shape, 2.0, 3.0)
        exact, mistakes = _expected(dout, cache)
        numeric = _numerical_gradients(reference_forward, x, gamma, beta, dout)
        grads = batchnorm_backward(dout, cache)
        what = f" for dout of shape {dout.shape}"
        _check_gradients(what, grads, exact, mistakes, close_dgamma=NEAR)
        for name, ours, num in zip(GRADIENTS, grads, numeric):
            check_gradient(name + what, ours, num)


def test_robust(batchnorm_backward):
    """dout and the cache unchanged, float64 and finite gradients, and a cache whose mu and var
    have shape (1, D) (keepdims=True) giving the same gradients of the same shapes; the values are
    test_hand's and test_values' business, the shapes and the order test_shapes'."""
    rng = np.random.default_rng(7)
    _, _, _, dout, cache = _batch(rng, (6, 4), 3.0, 0.5)
    copies = _copies(dout, cache)
    grads = batchnorm_backward(dout, cache)
    _check_unchanged("batchnorm_backward", copies, dout, cache)
    check_tuple("batchnorm_backward(dout, cache)", grads, 3, parts=GRADIENTS)
    for i, got in enumerate(grads):
        check_array(f"item {i} of what batchnorm_backward returns", got, np.zeros(np.shape(got)), rtol=0.0,
                    atol=np.inf)  # type, float64, finite
    keep = "mu and var in the cache may have shape (1, D) (keepdims=True); dgamma and dbeta must still have shape (D,)."
    with case("a cache whose mu and var have shape (1, D) (keepdims=True)"):
        grads_k = batchnorm_backward(dout, _keepdims(cache))
    check_tuple("batchnorm_backward(dout, cache) for a cache with mu, var of shape (1, D)", grads_k, 3, parts=GRADIENTS)
    for name, got, flat in zip(GRADIENTS, grads_k, grads):
        check_array(f"{name} (cache with mu, var of shape (1, D))", got, flat, rtol=1e-12, atol=1e-14, hint=keep,
                    reshape=True)
        if got.shape != np.shape(flat):
            raise CheckFailed(f"{name} has shape {got.shape} for a cache with mu, var of shape (1, D), but "
                              f"{np.shape(flat)} for a cache with mu, var of shape (D,).\nHint: {keep}")


# -- the pasted forward pass, graded with the reference backward pass ----------------------------

def _read_cache(cache):
    """The cache of the student's forward pass as float arrays (var flattened, eps a float); raises
    TypeError or ValueError when it cannot be read so."""
    x, x_hat, mu, var, gamma, eps = cache
    return (x, np.asarray(x_hat, dtype=float), mu, np.reshape(np.asarray(var, dtype=float), -1),
            np.asarray(gamma, dtype=float), float(eps))


def test_pair(batchnorm_forward, check_gradient):
    """The forward pass pasted at the top: the reference backward pass on its cache agrees with the
    centred differences of its out (batchnorm_backward is graded by the tests above)."""
    for seed, shape in [(5, (6, 4)), (3, (10, 3))]:  # the visible part's batch, and another
        x, gamma, beta, dout, _ = _batch(np.random.default_rng(seed), shape, 2.0, 3.0)
        result = batchnorm_forward(x.copy(), gamma.copy(), beta.copy())
        check_tuple("batchnorm_forward(x, gamma, beta)", result, 2, parts=("out", "cache"))
        check_tuple("the cache of batchnorm_forward", result[1], 6, parts=CACHE_PARTS,
                    hint="B1's cache is one tuple, (x, x_hat, mu, var, gamma, eps): `return out, cache`.")
        numeric = _numerical_gradients(batchnorm_forward, x, gamma, beta, dout)
        try:
            with np.errstate(all="ignore"):
                grads = reference_backward(dout, _read_cache(result[1]))
        except (TypeError, ValueError) as error:
            raise CheckFailed(f"The cache of your forward pass cannot be read as (x, x_hat, mu, var, gamma, eps) "
                              f"({error}).\nHint: {FORWARD_HINT}") from None
        if not all(np.isfinite(grad).all() for grad in grads):
            raise CheckFailed("The cache of your forward pass gives gradients that are not finite.\n"
                              f"Hint: {FORWARD_HINT}")
        for name, ours, num in zip(GRADIENTS, grads, numeric):
            check_gradient(f"{name} for a batch of shape {x.shape}, from your forward pass", ours, num,
                           hint=FORWARD_HINT)


# -- Task 2: batchnorm_backward_alt -----------------------------------------------------------

def test_alt(batchnorm_backward_alt):
    """The simplified formula against the exact gradients on two random batches, dout and the
    cache unchanged, and the same gradients from a cache whose x and mu are NaN (the formula needs
    neither)."""
    rng = np.random.default_rng(2025)
    for shape in [(9, 4), (2, 6)]:
        _, _, _, dout, cache = _batch(rng, shape, -2.0, 2.5)
        copies = _copies(dout, cache)
        exact, mistakes = _expected(dout, cache, staged=False)
        grads = batchnorm_backward_alt(dout, cache)
        _check_gradients(f" (alt) for dout of shape {dout.shape}", grads, exact, mistakes)
        _check_unchanged("batchnorm_backward_alt", copies, dout, cache)
    x, x_hat, mu, var, gamma, eps = _keepdims(cache)
    cache_nan = (np.full_like(x, np.nan), x_hat, np.full_like(mu, np.nan), var, gamma, eps)
    with np.errstate(all="ignore"):
        grads = batchnorm_backward_alt(dout, cache_nan)
    simplified = ("This test passes a cache whose x and mu are NaN: batchnorm_backward_alt must use the simplified "
                  "formula, which needs only x_hat, var, gamma and eps (do not recompute x - mu).")
    for name, got, want in zip(GRADIENTS, grads, exact):
        check_array(f"{name} (alt, cache with x and mu set to NaN)", got, want, rtol=1e-9, atol=1e-12, hint=simplified,
                    reshape=True)


def test_alt_shapes(batchnorm_backward_alt):
    """dx of the shape of dout, dgamma and dbeta (D,), for a cache whose mu and var have shape (1, D)."""
    x, dout = np.random.default_rng(9).normal(1.0, 0.5, size=(2, 7, 3))
    grads = batchnorm_backward_alt(dout, _keepdims(reference_forward(x, np.ones(3), 0.0)[1]))
    for name, got, shape in zip(GRADIENTS, grads, ((7, 3), (3,), (3,))):
        check_array(f"{name} (alt) for a batch of shape (7, 3) whose cache holds mu, var of shape (1, 3)", got,
                    np.zeros(shape), rtol=0.0, atol=np.inf,
                    hint="dgamma and dbeta have the shape of gamma, (D,), even when var has shape (1, D).")
