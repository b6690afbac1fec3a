"""Answers to A4 (dL/dsigma2, dL/dmu, dL/dx_i and the gradient of a bias before batch norm, as SymPy
expressions) beside the reference solution."""
from answers import Answer

SIGMA2, MU, DX, NUMPY, BIAS = "a4-dsigma2", "a4-dmu", "a4-dx", "a4-numpy", "a4-dbias"

# Each test grades its own answer on top of the student's earlier ones (or the references), and the
# NumPy task against the reference backward pass: one mistake costs one task.
ONE_TASK_PER_MISTAKE = True

_NUMPY = '''
def backward_1d(x_values, dy_values, gamma_value, eps_value):
    m_values = x_values.size
    var = x_values.var()
    x_hat_values = (x_values - x_values.mean()) / np.sqrt(var + eps_value)
    {body}
'''

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
    Answer("dL/dmu with 7 times the sigma^2 term and the wrong sign", {MU: """
        dL_dmu = (-gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
                  - 7 * dL_dsigma2 * Sum(-2 * (x[j] - mu_B), (j, 1, m)) / m)
        """}, says="path through sigma^2 is -7 times"),
    Answer("dL/dmu with dsigma^2/dmu of the wrong sign", {MU: """
        dL_dmu = (-gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
                  + dL_dsigma2 * Sum(2 * (x[j] - mu_B), (j, 1, m)) / m)
        """}, says="check its sign"),
    Answer("dL/dmu with dsigma^2/dmu missing its 1/m", {MU: """
        dL_dmu = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m)) + dL_dsigma2 * Sum(-2 * (x[j] - mu_B), (j, 1, m))
        """}, says="is m times the chain rule"),
    Answer("dL_dsigma2's cell raises (a typo); the later answers typed without it", {
        SIGMA2: """
        dL_dsigma2 = -gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, M))
        """,
        MU: """
        dL_dmu = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
        """,
        DX: """
        dL_dx_i = gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[i] - Sum(dy[j], (j, 1, m))
                                                        - x_hat[i] * Sum(dy[j] * x_hat[j], (j, 1, m)))
        """}, says="not defined", loses=("a4-test-dsigma2",)),
    Answer("NumPy backward without the variance term", {NUMPY: _NUMPY.format(body="""
    return gamma_value * (dy_values - dy_values.mean()) / np.sqrt(var + eps_value)""")},
        says="variance term is missing"),
    Answer("NumPy backward without the mean term", {NUMPY: _NUMPY.format(body="""
    return gamma_value / np.sqrt(var + eps_value) * (dy_values - x_hat_values * np.mean(dy_values * x_hat_values))""")},
        says="mean term is missing"),
    Answer("NumPy backward with eps outside the square root", {NUMPY: _NUMPY.format(body="""
    x_hat_values = (x_values - x_values.mean()) / (np.sqrt(var) + eps_value)
    return gamma_value / (m_values * (np.sqrt(var) + eps_value)) * (
        m_values * dy_values - dy_values.sum() - x_hat_values * np.sum(dy_values * x_hat_values))""")},
        says="outside the square root"),
    Answer("NumPy backward with the unbiased variance", {NUMPY: _NUMPY.format(body="""
    var = x_values.var(ddof=1)
    x_hat_values = (x_values - x_values.mean()) / np.sqrt(var + eps_value)
    return gamma_value / (m_values * np.sqrt(var + eps_value)) * (
        m_values * dy_values - dy_values.sum() - x_hat_values * np.sum(dy_values * x_hat_values))""")},
        says="m - 1"),
    Answer("NumPy backward without the 1/m", {NUMPY: _NUMPY.format(body="""
    return gamma_value / np.sqrt(var + eps_value) * (
        m_values * dy_values - dy_values.sum() - x_hat_values * np.sum(dy_values * x_hat_values))""")},
        says="factor 1/m"),
    Answer("NumPy backward that centres x in place", {NUMPY: _NUMPY.format(body="""
    x_values -= x_values.mean()
    x_hat_values = x_values / np.sqrt(var + eps_value)
    return gamma_value / (m_values * np.sqrt(var + eps_value)) * (
        m_values * dy_values - dy_values.sum() - x_hat_values * np.sum(dy_values * x_hat_values))""")},
        says="modified its input x_values in place"),
    Answer("NumPy backward that evaluates a wrong dL_dx_i", {NUMPY: """
        def backward_1d(x_values, dy_values, gamma_value, eps_value):
            return evaluate(gamma * dy[i] / sqrt(sigma2_B + eps), m=x_values.size, x=x_values, dy=dy_values,
                            gamma=gamma_value, eps=eps_value)
        """}, says="only the direct path"),
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
    Answer("dL/dmu with the sigma^2 term multiplied out", {MU: """
        dL_dmu = (-gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
                  - 2 * dL_dsigma2 * (Sum(x[j], (j, 1, m)) / m - mu_B))
        """}),
    Answer("dL/dmu with x_hat in the sigma^2 term", {MU: """
        dL_dmu = (-gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
                  - 2 * dL_dsigma2 * sqrt(sigma2_B + eps) * Sum(x_hat[j], (j, 1, m)) / m)
        """}),
    Answer("dL/dmu written out in x, without shorthands", {MU: """
        xbar = Sum(x[j], (j, 1, m)) / m
        var = Sum((x[j] - xbar)**2, (j, 1, m)) / m
        dL_dmu = (-gamma / sqrt(var + eps) * Sum(dy[j], (j, 1, m))
                  + gamma / 2 * (var + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - xbar), (j, 1, m))
                  * 2 * Sum(x[j] - xbar, (j, 1, m)) / m)
        """}),
    Answer("dL/dmu with the variance written out but mu_B kept", {MU: """
        dL_dmu = (-gamma / sqrt(Sum((x[j] - Sum(x[j], (j, 1, m)) / m)**2, (j, 1, m)) / m + eps) * Sum(dy[j], (j, 1, m))
                  + dL_dsigma2 * Sum(-2 * (x[j] - mu_B), (j, 1, m)) / m)
        """}),
    Answer("dL/dmu with the vanishing term written as zero", {MU: """
        dL_dmu = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m)) + dL_dsigma2 * 0
        """}),
    Answer("NumPy backward staged through the graph, as cs231n does", {NUMPY: """
        def backward_1d(x_values, dy_values, gamma_value, eps_value):
            n = len(x_values)
            mu = np.mean(x_values)
            xc = x_values - mu
            var = np.mean(xc**2)
            dxhat = dy_values * gamma_value
            dvar = np.sum(dxhat * xc) * -0.5 * (var + eps_value)**-1.5
            dmu = -np.sum(dxhat) / np.sqrt(var + eps_value) + dvar * np.mean(-2.0 * xc)
            return dxhat / np.sqrt(var + eps_value) + dvar * 2.0 * xc / n + dmu / n
        """}),
    Answer("NumPy backward that evaluates the student's own dL_dx_i", {NUMPY: """
        def backward_1d(x_values, dy_values, gamma_value, eps_value):
            return evaluate(dL_dx_i, m=x_values.size, x=x_values, dy=dy_values, gamma=gamma_value, eps=eps_value)
        """}),
    Answer("bias gradient summed from the tidy form", {BIAS: """
        dL_dbias = Sum(gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[j] - Sum(dy[i], (i, 1, m))
                       - x_hat[j] * Sum(dy[i] * x_hat[i], (i, 1, m))), (j, 1, m))
        """}),
]
