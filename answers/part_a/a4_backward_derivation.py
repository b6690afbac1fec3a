"""Answers to A4 (dL/dsigma2, dL/dmu, dL/dx_i and the gradient of a bias before batch norm, as SymPy
expressions) beside the reference solution."""
from answers import Answer

SIGMA2, MU, DX, BIAS = "a4-dsigma2", "a4-dmu", "a4-dx", "a4-dbias"

WRONG = [
    Answer("exponent -1/2 instead of -3/2 in dL/dsigma2", {SIGMA2: """
        dL_dsigma2 = -gamma / 2 * (sigma2_B + eps)**Rational(-1, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
        """}, says="-1/2 instead of -3/2"),
    Answer("dL/dx missing the variance term", {DX: """
        dL_dx_i = gamma * dy[i] / sqrt(sigma2_B + eps) + dL_dmu / m
        """}, says="variance term is missing"),
    Answer("dL/dx missing the mean term", {DX: """
        dL_dx_i = gamma * dy[i] / sqrt(sigma2_B + eps) + dL_dsigma2 * 2 * (x[i] - mu_B) / m
        """}, says="mean term is missing"),
    Answer("dL/dx only the direct path", {DX: """
        dL_dx_i = gamma * dy[i] / sqrt(sigma2_B + eps)
        """}, says="only the direct path"),
    Answer("dL/dsigma2 without the -1/2", {SIGMA2: """
        dL_dsigma2 = gamma * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
        """}, says="factor -1/2"),
    Answer("dL/dmu without the sum", {MU: """
        dL_dmu = -gamma * dy[i] / sqrt(sigma2_B + eps)
        """}, says="sum over the batch is missing"),
    Answer("dL/dmu divided by m", {MU: """
        dL_dmu = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m)) / m
        """}, says="divided by m"),
    Answer("dL/dx with the tidy form missing the 1/m", {DX: """
        dL_dx_i = gamma / sqrt(sigma2_B + eps) * (m * dy[i] - Sum(dy[j], (j, 1, m))
                                                  - x_hat[i] * Sum(dy[j] * x_hat[j], (j, 1, m)))
        """}, says="a factor m"),
    Answer("an unevaluated Derivative", {SIGMA2: """
        s2 = sp.Symbol("s2")
        dL_dsigma2 = sp.Derivative(Sum(gamma * dy[j] * (x[j] - mu_B) / sqrt(s2 + eps), (j, 1, m)), s2)
        """}, says="unevaluated Derivative"),
    Answer("bias gradient as if there were no batch norm", {BIAS: """
        dL_dbias = Sum(dy[j], (j, 1, m))
        """}, says="batch norm's mean path cancels it"),
    Answer("bias gradient through the direct path only", {BIAS: """
        dL_dbias = gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
        """}, says="only the direct path is summed"),
    Answer("bias gradient without the sum over the batch", {BIAS: """
        dL_dbias = dL_dx_i
        """}, says="b is shared by all m inputs"),
    Answer("bias gradient as the string '0'", {BIAS: """
        dL_dbias = "0"
        """}, says="is a string"),
]

RIGHT = [
    Answer("tidy form with shorthands", {DX: """
        dL_dx_i = gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[i] - Sum(dy[j], (j, 1, m))
                                                        - x_hat[i] * Sum(dy[j] * x_hat[j], (j, 1, m)))
        """}),
    Answer("dL/dmu without the vanishing term, other dummy index", {MU: """
        dL_dmu = -gamma * Sum(dy[i], (i, 1, m)) / sqrt(sigma2_B + eps)
        """}),
    Answer("float exponent and x_hat in dL/dsigma2", {SIGMA2: """
        dL_dsigma2 = -0.5 * gamma * (sigma2_B + eps)**(-1.0) * Sum(dy[j] * x_hat[j], (j, 1, m))
        """}),
    Answer("dL/dx written out from dy, x, mu_B, sigma2_B", {DX: """
        s = sqrt(sigma2_B + eps)
        dL_dx_i = (gamma * dy[i] / s
                   - gamma * (x[i] - mu_B) / (m * s**3) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
                   - gamma / (m * s) * Sum(dy[j], (j, 1, m)))
        """}),
    Answer("bias gradient simplified by hand to the number 0", {BIAS: """
        dL_dbias = 0
        """}),
    Answer("bias gradient as SymPy's zero", {BIAS: """
        dL_dbias = sp.S.Zero
        """}),
    Answer("bias gradient summed from the tidy form", {BIAS: """
        dL_dbias = Sum(gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[j] - Sum(dy[i], (i, 1, m))
                       - x_hat[j] * Sum(dy[i] * x_hat[i], (i, 1, m))), (j, 1, m))
        """}),
]
