"""Hidden checks of A3: dL/dx_hat_i, typed as a SymPy expression.

One task, one answer: the check compares it with gamma dy_i (course.symbolic.check) and names the
known mistakes.
"""
from sympy import Sum

from course.symbolic import check, symbols

dy, i, j, m = symbols("dy i j m")
gamma, beta = symbols("gamma beta")


def test_dxhat(dL_dxhat_i):
    """Task 2: dL/dx_hat_i = gamma dy_i (only y_i depends on x_hat_i)."""
    check("dL_dxhat_i", dL_dxhat_i, gamma * dy[i], mistakes={
        "gamma is missing: dy_i/dx_hat_i = gamma": dy[i],
        "you sum over the batch: only y_i depends on x_hat_i": gamma * Sum(dy[j], (j, 1, m)),
        "you divide by gamma instead of multiplying": dy[i] / gamma,
        "beta is added: beta is a constant shift and drops out of the derivative": gamma * dy[i] + beta,
    })
