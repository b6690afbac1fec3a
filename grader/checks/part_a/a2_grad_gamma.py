"""Hidden checks of A2: dL/dgamma and dL/dbeta, typed as SymPy expressions.

The two are separate tasks and neither builds on the other: each check takes only its own answer
and compares it with the expected formula (course.symbolic.check), naming the known mistakes.
"""
from sympy import Sum, sqrt

from course.symbolic import check, symbols

x, dy, i, j, m = symbols("x dy i j m")
gamma, beta, eps = symbols("gamma beta eps")
mu_B, sigma2_B = symbols("mu_B sigma2_B")


def _x_hat(t):
    """x_hat_t from the shorthands mu_B and sigma2_B (A1's normalization)."""
    return (x[t] - mu_B) / sqrt(sigma2_B + eps)


def test_dgamma(dL_dgamma):
    """Task 2: dL/dgamma = sum_j dy_j x_hat_j."""
    expected = Sum(dy[j] * _x_hat(j), (j, 1, m))
    check("dL_dgamma", dL_dgamma, expected, mistakes={
        "you sum the upstream gradients alone: that is dL/dbeta, the gradient of the shift, not of the scale":
            Sum(dy[j], (j, 1, m)),
        "the sum over the batch is missing: gamma is shared by all m outputs, so their contributions add up":
            dy[i] * _x_hat(i),
        "gamma is multiplied in: dy_i/dgamma is x_hat_i alone": gamma * expected,
        "the sum is averaged (divided by m)": expected / m,
        "x_i is used instead of x_hat_i": Sum(dy[j] * x[j], (j, 1, m)),
    })


def test_dbeta(dL_dbeta):
    """Task 3: dL/dbeta = sum_j dy_j."""
    expected = Sum(dy[j], (j, 1, m))
    check("dL_dbeta", dL_dbeta, expected, mistakes={
        "the sum over the batch is missing: beta is shared by all m outputs, so their contributions add up": dy[i],
        "x_hat_j multiplies the upstream gradient: that is dL/dgamma; dy_i/dbeta is 1":
            Sum(dy[j] * _x_hat(j), (j, 1, m)),
        "gamma is multiplied in: dy_i/dbeta = 1, gamma scales x_hat_i only": gamma * expected,
        "the sum is averaged (divided by m)": expected / m,
        "you count the outputs (dy_i/dbeta = 1 for each) but drop the upstream gradients that weigh them": m,
    })
