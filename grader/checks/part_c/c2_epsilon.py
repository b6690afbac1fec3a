"""Hidden checks of C2 (why eps sits in the denominator): xhat_jacobian and gradient_bound.

Every Jacobian a check compares with, the expected one and those of the known mistakes, is the
reference's (its forward and backward pass), never one of the student's: not the
batchnorm_forward pasted at the top (B1 grades that), and for gradient_bound not the student's
xhat_jacobian (Task 1 grades that).
"""
import numpy as np

from course.testing import CheckFailed, check_array, check_scalar
from grader.checks import reference


def _jacobian(x, eps, *, ddof=0, **backward):
    """d x_hat / d x of one feature x of shape (m,), shape (m, m): row i is the reference backward
    pass of the upstream gradient e_i. ddof and the backward pass's keywords (mean=0.0 drops the
    path through the mean, var=0.0 the one through the variance) make the known mistakes."""
    cache = reference.batchnorm_forward(x[:, None], 1.0, 0.0, eps, ddof=ddof)[1]
    return np.stack([reference.batchnorm_backward(e[:, None], cache, **backward)[0][:, 0] for e in np.eye(len(x))])


def test_jacobian(xhat_jacobian):
    """The Jacobian for four features (m = 2 to 16, std down to 0.003, two eps), each mistake named."""
    rng = np.random.default_rng(2024)
    for m, scale, eps in [(4, 1.0, 1e-5), (9, 0.003, 1e-5), (16, 0.05, 1e-3), (2, 1.0, 1e-5)]:
        x = rng.normal(1.0, scale, size=m)
        mistakes = {
            "only the direct path is kept: x_hat also depends on x through the mean and the variance":
                _jacobian(x, eps, mean=0.0, var=0.0),
            "the path through the variance is missing": _jacobian(x, eps, var=0.0),
            "the path through the mean is missing": _jacobian(x, eps, mean=0.0),
            "eps is left out": _jacobian(x, 0.0),
            # with var = m / (m - 1): the exact Jacobian of the normalization with the unbiased variance
            "the variance divides by m-1 (ddof=1)": _jacobian(x, eps, ddof=1, var=m / (m - 1)),
        }
        if eps != reference.EPS:
            mistakes = {"the eps argument is not used (eps=1e-5 instead)": _jacobian(x, reference.EPS), **mistakes}
        check_array(f"xhat_jacobian(x, eps={eps}) for m = {m}, std(x) = {scale}", xhat_jacobian(x.copy(), eps=eps),
                    _jacobian(x, eps), rtol=1e-6, atol=1e-9, mistakes=mistakes)


def test_bound(gradient_bound):
    """1/sqrt(eps) for four eps, and no smaller than the norm of the (reference) Jacobian of a
    nearly constant feature."""
    for eps in [1e-5, 1e-3, 0.25, 2.0]:
        check_scalar(f"gradient_bound({eps})", gradient_bound(eps), 1 / np.sqrt(eps), rtol=1e-9, atol=0,
                     hint="A bound in terms of eps alone: the norm of J is largest for a constant feature "
                          "(variance 0).")
    x = np.random.default_rng(5).normal(size=7) * 1e-4  # a nearly constant feature gets close to the bound
    norm, bound = np.linalg.norm(_jacobian(x, 1e-5), 2), gradient_bound(1e-5)
    if not norm <= bound * (1 + 1e-9):
        raise CheckFailed(f"gradient_bound(1e-5) is {bound:.8g}, smaller than {norm:.8g}, the norm of the Jacobian "
                          "of a nearly constant feature: it is not an upper bound.")
