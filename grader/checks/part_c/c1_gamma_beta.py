"""Hidden checks of C1 (why batch norm needs gamma and beta): identity_params, and the sigmoid's
linearity and range.

Batch norm itself is the reference's, never the batchnorm_forward pasted at the top of the
notebook (B1 grades that): a mistake there costs nothing here.
"""
import numpy as np

from course.testing import check_array, check_scalar, check_tuple
from grader.checks import reference


def _statistics(x, eps, ddof=0):
    """(mu, var) of each feature of x, from the reference forward pass's cache."""
    cache = reference.batchnorm_forward(x, 1.0, 0.0, eps, ddof=ddof)[1]
    return cache[2], cache[3]


def test_identity(identity_params):
    """gamma = sqrt(var + eps) and beta = mu for batches whose stds run from 0.001 to 10 (N = 2 to
    64, two eps), and the reference batch norm with them gives back x to 1e-8."""
    rng = np.random.default_rng(2024)
    for n, d, eps in [(5, 3, 1e-5), (64, 6, 1e-3), (2, 2, 1e-5)]:
        x = rng.normal(-1.0, 1.0, size=(n, d)) * np.logspace(-3, 1, d)  # std from 0.001 to 10
        result = identity_params(x.copy(), eps=eps)
        check_tuple(f"identity_params(x, eps={eps})", result, 2, parts=("gamma", "beta"))
        gamma, beta = result
        mu, var = _statistics(x, eps)
        mistakes = {
            "gamma and beta are swapped": mu,
            "gamma leaves out eps: batch norm divides by sqrt(var + eps), so gamma must be sqrt(var + eps)":
                np.sqrt(var),
            "gamma is the variance, not the standard deviation": var + eps,
            "the variance divides by N-1 (ddof=1); batch norm uses 1/N": np.sqrt(_statistics(x, eps, ddof=1)[1] + eps),
        }
        if eps != reference.EPS:
            mistakes["the eps argument is not used (eps=1e-5 instead)"] = np.sqrt(var + reference.EPS)
        check_array(f"gamma for x of shape {x.shape}, eps={eps}", gamma, np.sqrt(var + eps), rtol=1e-9,
                    mistakes=mistakes)
        check_array(f"beta for x of shape {x.shape}", beta, mu, rtol=1e-9, atol=1e-12,
                    mistakes={"beta is 0: the mean has to be added back": np.zeros(d)})
        out = reference.batchnorm_forward(x, gamma, beta, eps)[0]
        check_array(f"batch norm (the course's) of x with your gamma and beta, eps={eps}, for x of shape {x.shape}",
                    out, x, rtol=1e-8, atol=1e-12)


def _check_number(name, got, expected, mistakes, tol, hint):
    """got is a number (not an array or None) within tol of expected; the message names a mistake it matches."""
    check_scalar(name, got, expected, rtol=np.inf)
    check_array(name, np.array([float(got)]), [expected], rtol=0, atol=tol,
                mistakes={description: [value] for description, value in mistakes.items()}, hint=hint)


def test_sigmoid(sigmoid_linearity, sigmoid_range):
    """R^2 and the central 95% range of sigmoid(z) for z of three spreads and shifts."""
    rng = np.random.default_rng(7)
    for scale, shift in [(3.0, 0.0), (1.0, 2.0), (0.3, -1.0)]:
        z = rng.normal(shift, scale, size=5000)
        s = 1.0 / (1.0 + np.exp(-z))
        c = np.corrcoef(z, s)[0, 1]
        _check_number(f"sigmoid_linearity(z) for z ~ N({shift}, {scale}^2)", sigmoid_linearity(z.copy()), c ** 2, {
            "the correlation is not squared: R^2 is the squared correlation": c,
            "the fit is of z against itself, not sigmoid(z) against z": 1.0,
            "the correlation is between z and the sigmoid's derivative": np.corrcoef(z, s * (1 - s))[0, 1] ** 2,
        }, 1e-9, "R^2 = np.corrcoef(z, sigmoid(z))[0, 1] ** 2")
        low, high = np.percentile(s, [2.5, 97.5])
        _check_number(f"sigmoid_range(z) for z ~ N({shift}, {scale}^2)", sigmoid_range(z.copy()), high - low, {
            "it uses the smallest and largest output (the whole range), not the central 95%": s.max() - s.min(),
            "it measures the percentiles of z, not of sigmoid(z)": np.ptp(np.percentile(z, [2.5, 97.5])),
            "it uses the 5th and 95th percentiles (the central 90%)": np.ptp(np.percentile(s, [5, 95])),
        }, 1e-3, "Take the 2.5th and 97.5th percentiles of sigmoid(z) and subtract.")
