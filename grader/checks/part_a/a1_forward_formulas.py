"""Hidden checks of A1: the four forward-pass formulas (mu_B, sigma2_B, x_hat_i, y_i), typed as
SymPy expressions in x, m and the parameters only (no shorthands).

Each formula builds on the ones before it (the student's sigma2_B is typed with their own mu_B).
A check compares its answer with the expected formula on the references; where an earlier answer
is wrong, also with the formula applied to the student's own earlier answers
(grader.checks.symbolic.graded): a mistake costs the test of the formula it is in, and a later test
only says that it builds on it.

The answers come in as functions of no arguments (`lambda: sigma2_B`), read when the check needs
them, so that a name whose cell raised is reported with the earlier answer it builds on.
"""
from sympy import Sum, sqrt

from course.symbolic import check, symbols
from grader.checks.symbolic import graded

x, i, j, m = symbols("x i j m")
gamma, beta, eps = symbols("gamma beta eps")

MEAN = Sum(x[j], (j, 1, m)) / m


def _variance(mu):
    """The biased variance of the batch about mu."""
    return Sum((x[j] - mu)**2, (j, 1, m)) / m


VARIANCE = _variance(MEAN)
X_HAT = (x[i] - MEAN) / sqrt(VARIANCE + eps)


def test_mu(mu_B):
    """Task 1: the batch mean."""
    check("mu_B", mu_B, MEAN, shorthands=False, mistakes={
        "the sum is not divided by m": Sum(x[j], (j, 1, m)),
        "the sum is divided by m - 1": Sum(x[j], (j, 1, m)) / (m - 1),
    })


def test_var(sigma2_B, mu_B):
    """Task 2: the biased batch variance, on the reference mean or the student's own mu_B."""
    graded("sigma2_B", sigma2_B, _variance, lambda mu: {
        "you divide by m - 1 (the unbiased estimate); batch norm normalizes with the biased 1/m":
            Sum((x[j] - mu)**2, (j, 1, m)) / (m - 1),
        "you take the square root: that is the standard deviation, not the variance": sqrt(_variance(mu)),
        "the deviations are not squared": Sum(x[j] - mu, (j, 1, m)) / m,
    }, [("mu_B", mu_B, MEAN, "Task 1")], shorthands=False)


def test_xhat(x_hat_i, mu_B, sigma2_B):
    """Task 3: the normalization, eps inside the square root."""
    graded("x_hat_i", x_hat_i, lambda mu, var: (x[i] - mu) / sqrt(var + eps), lambda mu, var: {
        "eps is added outside the square root: use sqrt(sigma2_B + eps)": (x[i] - mu) / (sqrt(var) + eps),
        "eps is left out": (x[i] - mu) / sqrt(var),
        "you divide by the variance instead of the standard deviation": (x[i] - mu) / (var + eps),
        "the mean is not subtracted": x[i] / sqrt(var + eps),
    }, [("mu_B", mu_B, MEAN, "Task 1"), ("sigma2_B", sigma2_B, VARIANCE, "Task 2")], shorthands=False)


def test_y(y_i, x_hat_i):
    """Task 4: scale and shift."""
    graded("y_i", y_i, lambda xh: gamma * xh + beta, lambda xh: {
        "beta is not added": gamma * xh,
        "gamma and beta are swapped (y_i = gamma * x_hat_i + beta)": beta * xh + gamma,
        "gamma is not applied": xh + beta,
    }, [("x_hat_i", x_hat_i, X_HAT, "Task 3")], shorthands=False)
